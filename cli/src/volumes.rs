//! `whale volume create|ls|inspect|rm|prune`, with docker's output.

use std::collections::HashMap;
use std::io::Write;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{PruneVolumesOptions, RemoveVolumeOptions};

use super::gotemplate::Value;
use super::output;
use super::{client, report, CliError, CliResult};
use whale_args::{Cli, VolumeArgs, VolumeCommand};

pub async fn volume(cli: &Cli, args: &VolumeArgs) -> CliResult {
    match &args.command {
        VolumeCommand::Create(a) => {
            let labels = key_values(&a.label);
            let opts = key_values(&a.opt);
            let client = client(cli).await?;
            let v = client
                .docker
                .create_volume(VolumeCreateRequest {
                    name: a.name.clone(),
                    driver: Some(a.driver.clone()),
                    driver_opts: (!opts.is_empty()).then_some(opts),
                    labels: (!labels.is_empty()).then_some(labels),
                    ..Default::default()
                })
                .await?;
            println!("{}", v.name);
            Ok(())
        }
        VolumeCommand::Ls(a) => {
            let filters = filters(&a.filter)?;
            let client = client(cli).await?;
            let path = if filters.is_empty() {
                "/volumes".to_string()
            } else {
                let json = serde_json::to_string(&filters).unwrap_or_default();
                format!("/volumes?filters={}", query_escape(&json))
            };
            let list = match super::containers::raw_json(&client, &path).await? {
                Ok(v) => v,
                Err((_, m)) => return Err(CliError::Daemon(m)),
            };
            let rows: Vec<Value> = match list.get("Volumes") {
                Some(Value::List(vs)) => vs
                    .iter()
                    .map(|v| {
                        let s = |k: &str| match v.get(k) {
                            Some(Value::Str(x)) => x.clone(),
                            _ => String::new(),
                        };
                        Value::Map(
                            [
                                ("Driver".to_string(), Value::Str(s("Driver"))),
                                ("Name".to_string(), Value::Str(s("Name"))),
                                ("Mountpoint".to_string(), Value::Str(s("Mountpoint"))),
                                ("Scope".to_string(), Value::Str(s("Scope"))),
                            ]
                            .into_iter()
                            .collect(),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let format = if a.quiet {
                "{{.Name}}".to_string()
            } else {
                a.format.clone().unwrap_or_default()
            };
            let header = Value::Map(
                [
                    ("Driver", "DRIVER"),
                    ("Name", "VOLUME NAME"),
                    ("Mountpoint", "MOUNTPOINT"),
                    ("Scope", "SCOPE"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::Str(v.to_string())))
                .collect(),
            );
            let text = output::render_list(
                &format,
                "table {{.Driver}}\t{{.Name}}",
                &header,
                &rows,
                output::INSPECT_WORDS,
            )?;
            print!("{text}");
            Ok(())
        }
        VolumeCommand::Inspect(a) => {
            let tmpl = match a.format.as_deref() {
                None | Some("") => None,
                Some("json") => Some(output::parse_template("{{json .}}")?),
                Some(f) => Some(output::parse_template(f)?),
            };
            let client = client(cli).await?;
            let mut found = Vec::new();
            let mut errors = Vec::new();
            for name in &a.names {
                let path = format!("/volumes/{}", query_escape(name));
                match super::containers::raw_json(&client, &path).await? {
                    Ok(v) => found.push(v),
                    Err((_, m)) => errors.push(CliError::Daemon(m)),
                }
            }
            let mut out = String::new();
            match &tmpl {
                Some(t) => {
                    for v in &found {
                        out.push_str(&t.execute_strict(v).map_err(|e| {
                            CliError::Template(format!("template parsing error: {e}"))
                        })?);
                        out.push('\n');
                    }
                }
                None => {
                    out.push_str(&Value::List(found).to_json_indent("", "    "));
                    out.push('\n');
                }
            }
            print!("{out}");
            let _ = std::io::stdout().flush();
            if errors.is_empty() {
                return Ok(());
            }
            errors.iter().for_each(report);
            Err(CliError::Exit(1))
        }
        VolumeCommand::Rm(a) => {
            let client = client(cli).await?;
            let mut failed = false;
            for name in &a.names {
                match client
                    .docker
                    .remove_volume(name, Some(RemoveVolumeOptions { force: a.force }))
                    .await
                {
                    Ok(()) => println!("{name}"),
                    Err(e) => {
                        report(&super::daemon_error(e));
                        failed = true;
                    }
                }
            }
            if failed {
                return Err(CliError::Exit(1));
            }
            Ok(())
        }
        VolumeCommand::Prune(a) => {
            let warning = if a.all {
                "WARNING! This will remove all local volumes not used by at least one container."
            } else {
                "WARNING! This will remove anonymous local volumes not used by at least one container."
            };
            if !a.force && !super::manage::confirm(warning)? {
                return Ok(());
            }
            let mut filters = filters(&a.filter)?;
            if a.all {
                filters.insert("all".into(), vec!["true".into()]);
            }
            let client = client(cli).await?;
            let resp = client
                .docker
                .prune_volumes(Some(PruneVolumesOptions {
                    filters: (!filters.is_empty()).then_some(filters),
                }))
                .await?;
            print!(
                "{}",
                super::manage::prune_report(
                    "Deleted Volumes:",
                    &resp.volumes_deleted.unwrap_or_default(),
                    resp.space_reclaimed.unwrap_or(0)
                )
            );
            Ok(())
        }
    }
}

fn key_values(items: &[String]) -> HashMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn filters(items: &[String]) -> CliResult<HashMap<String, Vec<String>>> {
    let mut out = HashMap::<String, Vec<String>>::new();
    for f in items {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("bad format of filter (expected name=value): {f:?}"))
        })?;
        out.entry(k.to_string()).or_default().push(v.to_string());
    }
    Ok(out)
}

fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
