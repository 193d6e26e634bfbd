//! Container verbs other than create and run: start, attach, stop, kill,
//! rm, wait, logs, inspect, ps, diff, top.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use bollard::query_parameters::{
    InspectContainerOptions, KillContainerOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, StartContainerOptions, StopContainerOptions, TopOptions,
    WaitContainerOptions,
};
use futures_util::StreamExt;

use super::connect::Client;
use super::gotemplate::Value;
use super::output;
use super::{client, daemon_error, report, CliError, CliResult};
use crate::session::Session;
use whale_args::{
    AttachArgs, Cli, InspectArgs, KillArgs, LogsArgs, ObjectType, PsArgs, RmArgs, StartArgs,
    StopArgs, TopArgs, WaitArgs,
};

/// Run `op` on each name, printing what docker prints; exit 1 if any failed.
pub(crate) async fn each<F, Fut>(names: &[String], mut op: F) -> CliResult
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = CliResult<Option<String>>>,
{
    let mut failed = false;
    for name in names {
        match op(name.clone()).await {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {}
            Err(err) => {
                failed = true;
                report(&err);
            }
        }
    }
    if failed {
        Err(CliError::Exit(1))
    } else {
        Ok(())
    }
}

pub async fn start(cli: &Cli, args: &StartArgs) -> CliResult {
    let client = client(cli).await?;
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            return Err(CliError::Other(
                "you cannot start and attach multiple containers at once".into(),
            ));
        }
        let id = &args.containers[0];
        let info = client
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await?;
        let config = info.config.unwrap_or_default();
        let auto_remove = info
            .host_config
            .and_then(|h| h.auto_remove)
            .unwrap_or(false);
        let full_id = info.id.unwrap_or_else(|| id.clone());
        let keys = super::terminal::parse_detach_keys(&args.detach_keys)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let session = Session {
            client: &client,
            id: &full_id,
            stdin: args.interactive && config.open_stdin.unwrap_or(false),
            tty: config.tty.unwrap_or(false),
            auto_remove,
            detach_keys: (&args.detach_keys, keys),
            start: true,
        };
        return match session.attach_start_wait(false).await {
            Ok(0) => Ok(()),
            Ok(code) | Err(code) => Err(CliError::Exit(code)),
        };
    }
    let docker = &client.docker;
    each(&args.containers, |name| async move {
        docker
            .start_container(&name, None::<StartContainerOptions>)
            .await?;
        Ok(Some(name))
    })
    .await
}

pub async fn attach(cli: &Cli, args: &AttachArgs) -> CliResult {
    let client = client(cli).await?;
    let info = client
        .docker
        .inspect_container(&args.container, None::<InspectContainerOptions>)
        .await?;
    let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    if !running {
        return Err(CliError::Other(
            "You cannot attach to a stopped container, start it first".into(),
        ));
    }
    let config = info.config.unwrap_or_default();
    let keys = super::terminal::parse_detach_keys(&args.detach_keys)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let tty = config.tty.unwrap_or(false);
    let stdin = !args.no_stdin && config.open_stdin.unwrap_or(false);
    if stdin && tty && !std::io::stdin().is_terminal() {
        return Err(CliError::Other("the input device is not a TTY".into()));
    }
    let full_id = info.id.unwrap_or_else(|| args.container.clone());
    let session = Session {
        client: &client,
        id: &full_id,
        stdin,
        tty,
        auto_remove: false,
        detach_keys: (&args.detach_keys, keys),
        start: false,
    };
    match session.attach_start_wait(false).await {
        Ok(0) => Ok(()),
        Ok(code) | Err(code) => Err(CliError::Exit(code)),
    }
}

pub async fn stop(cli: &Cli, args: &StopArgs) -> CliResult {
    let client = client(cli).await?;
    let docker = &client.docker;
    each(&args.containers, |name| async move {
        docker
            .stop_container(
                &name,
                Some(StopContainerOptions {
                    t: Some(args.time),
                    signal: args.signal.clone(),
                }),
            )
            .await?;
        Ok(Some(name))
    })
    .await
}

pub async fn kill(cli: &Cli, args: &KillArgs) -> CliResult {
    let client = client(cli).await?;
    let docker = &client.docker;
    each(&args.containers, |name| async move {
        docker
            .kill_container(
                &name,
                Some(KillContainerOptions {
                    signal: args.signal.clone(),
                }),
            )
            .await?;
        Ok(Some(name))
    })
    .await
}

pub async fn rm(cli: &Cli, args: &RmArgs) -> CliResult {
    let client = client(cli).await?;
    let docker = &client.docker;
    each(&args.containers, |name| async move {
        docker
            .remove_container(
                &name,
                Some(RemoveContainerOptions {
                    force: args.force,
                    v: args.volumes,
                    link: false,
                }),
            )
            .await?;
        Ok(Some(name))
    })
    .await
}

pub async fn wait(cli: &Cli, args: &WaitArgs) -> CliResult {
    let client = client(cli).await?;
    let docker = &client.docker;
    each(&args.containers, |name| async move {
        let mut stream = docker.wait_container(
            &name,
            Some(WaitContainerOptions {
                condition: "not-running".into(),
            }),
        );
        match stream.next().await {
            Some(Ok(resp)) => Ok(Some(resp.status_code.to_string())),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { error, code }))
                if error.is_empty() =>
            {
                Ok(Some(code.to_string()))
            }
            Some(Err(err)) => Err(daemon_error(err)),
            None => Err(CliError::Other(format!(
                "the daemon closed the wait stream for {name} without an exit status"
            ))),
        }
    })
    .await
}

/// A `--since`/`--until` value as unix seconds for the API (bollard sends
/// whole seconds: `since` rounds down and `until` up, so a line docker
/// would show is never left out).
fn log_time(flag: &str, value: Option<&str>, round_up: bool) -> Result<i32, CliError> {
    let Some(v) = value else { return Ok(0) };
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let nanos = whale_formats::timestamp::parse_timestamp(v, now)
        .map_err(|e| CliError::Usage(format!("--{flag}: {e}")))?;
    let secs = if round_up {
        nanos.div_euclid(1_000_000_000) + i64::from(nanos.rem_euclid(1_000_000_000) != 0)
    } else {
        nanos.div_euclid(1_000_000_000)
    };
    i32::try_from(secs.max(0))
        .map_err(|_| CliError::Usage(format!("--{flag}: {v:?} is out of range")))
}

pub async fn logs(cli: &Cli, args: &LogsArgs) -> CliResult {
    let since = log_time("since", args.since.as_deref(), false)?;
    let until = log_time("until", args.until.as_deref(), true)?;
    let client = client(cli).await?;
    let mut stream = client.docker.logs(
        &args.container,
        Some(LogsOptions {
            follow: args.follow,
            stdout: true,
            stderr: true,
            since,
            until,
            timestamps: args.timestamps,
            tail: args.tail.clone(),
        }),
    );
    let mut out = std::io::stdout();
    let mut err_out = std::io::stderr();
    while let Some(chunk) = stream.next().await {
        match chunk? {
            bollard::container::LogOutput::StdErr { message } => {
                let _ = err_out.write_all(&message);
                let _ = err_out.flush();
            }
            bollard::container::LogOutput::StdOut { message }
            | bollard::container::LogOutput::Console { message } => {
                if out.write_all(&message).and_then(|_| out.flush()).is_err() {
                    break;
                }
            }
            bollard::container::LogOutput::StdIn { .. } => {}
        }
    }
    Ok(())
}

/// One object for `inspect`, as the daemon described it (its raw JSON).
async fn inspect_one(client: &Client, name: &str, kind: Option<ObjectType>) -> CliResult<Value> {
    let encoded = url_path_segment(name);
    if kind != Some(ObjectType::Image) {
        match raw_json(client, &format!("/containers/{encoded}/json")).await? {
            Ok(v) => return Ok(v),
            // Without --type, docker goes on to images and names neither.
            Err((404, _)) if kind.is_none() => {}
            Err((_, message)) => return Err(CliError::Daemon(message)),
        }
    }
    match raw_json(client, &format!("/images/{encoded}/json")).await? {
        Ok(v) => Ok(v),
        Err((404, _)) if kind.is_none() => Err(CliError::Other(format!("No such object: {name}"))),
        Err((_, message)) => Err(CliError::Daemon(message)),
    }
}

/// GET a JSON object: Ok(Ok(value)), or Ok(Err((status, daemon's message))).
pub(crate) async fn raw_json(
    client: &Client,
    path: &str,
) -> CliResult<Result<Value, (u16, String)>> {
    let (status, body) = client.get_raw(path).await.map_err(daemon_error)?;
    if (200..300).contains(&status) {
        let value: Value = serde_json::from_slice(&body).map_err(|e| {
            CliError::Other(format!(
                "the daemon's answer to GET {path} is not JSON: {e}"
            ))
        })?;
        return Ok(Ok(value));
    }
    #[derive(serde::Deserialize)]
    struct Message {
        message: String,
    }
    let message = serde_json::from_slice::<Message>(&body)
        .map(|m| m.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_string());
    Ok(Err((status, message)))
}

/// Percent-encode a name or reference for one URL path segment.
fn url_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn inspect(cli: &Cli, args: &InspectArgs) -> CliResult {
    let tmpl = match args.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(output::parse_template("{{json .}}")?),
        Some(f) => Some(output::parse_template(f)?),
    };
    let client = client(cli).await?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in &args.names {
        match inspect_one(&client, name, args.kind).await {
            Ok(v) => found.push(v),
            Err(err) => errors.push(err),
        }
    }
    let mut out = String::new();
    match &tmpl {
        Some(t) => {
            for v in &found {
                out.push_str(
                    &t.execute_strict(v)
                        .map_err(|e| CliError::Template(format!("template parsing error: {e}")))?,
                );
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
    for err in &errors {
        report(err);
    }
    Err(CliError::Exit(1))
}

/// `-f key=value` flags as the API's filter map.
pub fn parse_filters(filters: &[String]) -> CliResult<HashMap<String, Vec<String>>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for f in filters {
        let Some((k, v)) = f.split_once('=') else {
            return Err(CliError::Usage(format!(
                "invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
            )));
        };
        map.entry(k.trim().to_lowercase())
            .or_default()
            .push(v.to_string());
    }
    Ok(map)
}

pub async fn ps(cli: &Cli, args: &PsArgs) -> CliResult {
    let filters = parse_filters(&args.filter)?;
    let mut limit = args.last.filter(|n| *n > 0);
    if args.latest && limit.is_none() {
        limit = Some(1);
    }
    let client = client(cli).await?;
    let containers = client
        .docker
        .list_containers(Some(ListContainersOptions {
            all: args.all,
            limit,
            size: args.size,
            filters: (!filters.is_empty()).then_some(filters),
        }))
        .await?;
    let format = if args.quiet {
        "{{.ID}}".to_string()
    } else {
        match args.format.as_deref() {
            Some(f) if !f.is_empty() => f.to_string(),
            _ if args.size => format!("{}\t{{{{.Size}}}}", output::PS_TABLE),
            _ => output::PS_TABLE.to_string(),
        }
    };
    let rows: Vec<Value> = containers
        .iter()
        .map(|c| output::ps_row(c, !args.no_trunc))
        .collect();
    let text = output::render_list(
        &format,
        output::PS_TABLE,
        &output::ps_header(),
        &rows,
        output::PS_WORDS,
    )?;
    print!("{text}");
    Ok(())
}

/// `whale diff`: what the container changed, as docker prints it
/// (`A` added, `C` changed, `D` deleted), from `GET /containers/{id}/changes`.
pub async fn diff(cli: &Cli, args: &whale_args::DiffArgs) -> CliResult {
    let client = client(cli).await?;
    let changes = client
        .docker
        .container_changes(&args.container)
        .await?
        .unwrap_or_default();
    let mut text = String::new();
    for c in changes {
        let kind = match c.kind {
            bollard::models::ChangeType::_0 => 'C',
            bollard::models::ChangeType::_1 => 'A',
            bollard::models::ChangeType::_2 => 'D',
        };
        text.push_str(&format!("{kind} {}\n", c.path));
    }
    print!("{text}");
    Ok(())
}

pub async fn top(cli: &Cli, args: &TopArgs) -> CliResult {
    let client = client(cli).await?;
    let ps_args = if args.ps_args.is_empty() {
        String::new()
    } else {
        args.ps_args.join(" ")
    };
    let top = client
        .docker
        .top_processes(&args.container, Some(TopOptions { ps_args }))
        .await?;
    let mut text = String::new();
    text.push_str(&top.titles.unwrap_or_default().join("\t"));
    text.push('\n');
    for row in top.processes.unwrap_or_default() {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    print!("{}", super::table::tabwrite_with(&text, 20, 3));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names_are_encoded_for_paths() {
        assert_eq!(url_path_segment("busybox:latest"), "busybox:latest");
        assert_eq!(url_path_segment("host:5000/a b"), "host:5000/a%20b");
    }

    #[test]
    fn filters_parse() {
        let f =
            parse_filters(&["name=web".into(), "status=exited".into(), "name=db".into()]).unwrap();
        assert_eq!(f["name"], vec!["web", "db"]);
        assert!(parse_filters(&["oops".into()]).is_err());
    }
}
