//! `whale network`: `ls` and `inspect` of the networks whale has (host and
//! none), `prune` (never anything to remove); create, rm, connect and
//! disconnect go to the daemon, which refuses them with its reason.

use super::gotemplate::Value;
use super::output;
use super::{client, report, CliError, CliResult};
use whale_args::{Cli, NetworkArgs, NetworkCommand, NetworkInspectArgs, NetworkLsArgs};

const NETWORK_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

fn header() -> Value {
    Value::Struct(
        "networkContext".into(),
        [
            ("ID", "NETWORK ID"),
            ("Name", "NAME"),
            ("Driver", "DRIVER"),
            ("Scope", "SCOPE"),
            ("IPv6", "IPV6"),
            ("Internal", "INTERNAL"),
            ("CreatedAt", "CREATED AT"),
            ("Labels", "LABELS"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), Value::str(*v)))
        .collect(),
    )
}

fn row(n: &bollard::models::Network, trunc: bool) -> Value {
    let id = n.id.clone().unwrap_or_default();
    let labels = n
        .labels
        .as_ref()
        .map(|l| {
            let mut v: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
            v.sort();
            v.join(",")
        })
        .unwrap_or_default();
    Value::Struct(
        "networkContext".into(),
        vec![
            (
                "ID".into(),
                Value::str(if trunc { output::short_id(&id) } else { id }),
            ),
            (
                "Name".into(),
                Value::str(n.name.clone().unwrap_or_default()),
            ),
            (
                "Driver".into(),
                Value::str(n.driver.clone().unwrap_or_default()),
            ),
            (
                "Scope".into(),
                Value::str(n.scope.clone().unwrap_or_default()),
            ),
            (
                "IPv6".into(),
                Value::str(n.enable_ipv6.unwrap_or(false).to_string()),
            ),
            (
                "Internal".into(),
                Value::str(n.internal.unwrap_or(false).to_string()),
            ),
            (
                "CreatedAt".into(),
                Value::str(n.created.clone().unwrap_or_default()),
            ),
            ("Labels".into(), Value::str(labels)),
        ],
    )
}

async fn ls(cli: &Cli, args: &NetworkLsArgs) -> CliResult {
    let filters = super::containers::parse_filters(&args.filter)?;
    let client = client(cli).await?;
    let mut nets = client
        .docker
        .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
            filters: (!filters.is_empty()).then_some(filters),
        }))
        .await?;
    nets.sort_by(|a, b| a.name.cmp(&b.name));
    let rows: Vec<Value> = nets.iter().map(|n| row(n, !args.no_trunc)).collect();
    let format = if args.quiet {
        "{{.ID}}".to_string()
    } else {
        args.format.clone().unwrap_or_default()
    };
    let text = output::render_list(&format, NETWORK_TABLE, &header(), &rows, output::PS_WORDS)?;
    print!("{text}");
    Ok(())
}

async fn inspect(cli: &Cli, args: &NetworkInspectArgs) -> CliResult {
    let tmpl = match args.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(output::parse_template("{{json .}}")?),
        Some(f) => Some(output::parse_template(f)?),
    };
    let client = client(cli).await?;
    let (mut found, mut failed) = (Vec::new(), false);
    for name in &args.networks {
        match client.docker.inspect_network(name, None).await {
            Ok(n) => found.push(
                Value::from_serialize(&n)
                    .map_err(|e| CliError::Other(format!("network {name}: {e}")))?,
            ),
            Err(e) => {
                report(&CliError::from(e));
                failed = true;
            }
        }
    }
    match &tmpl {
        Some(t) => {
            for v in &found {
                let text = t
                    .execute_strict(v)
                    .map_err(|e| CliError::Template(format!("template parsing error: {e}")))?;
                println!("{text}");
            }
        }
        None => println!("{}", Value::List(found).to_json_indent("", "    ")),
    }
    if failed {
        return Err(CliError::Exit(1));
    }
    Ok(())
}

pub async fn network(cli: &Cli, args: &NetworkArgs) -> CliResult {
    match &args.command {
        NetworkCommand::Ls(a) => ls(cli, a).await,
        NetworkCommand::Inspect(a) => inspect(cli, a).await,
        NetworkCommand::Prune(a) => {
            let filters = super::containers::parse_filters(&a.filter)?;
            let client = client(cli).await?;
            client
                .docker
                .prune_networks(Some(bollard::query_parameters::PruneNetworksOptions {
                    filters: (!filters.is_empty()).then_some(filters),
                }))
                .await?;
            Ok(())
        }
        NetworkCommand::Create(a) => {
            let client = client(cli).await?;
            let name = a.args.last().cloned().unwrap_or_default();
            client
                .docker
                .create_network(bollard::models::NetworkCreateRequest {
                    name,
                    ..Default::default()
                })
                .await?;
            Ok(())
        }
        NetworkCommand::Rm(a) => {
            let client = client(cli).await?;
            for n in &a.args {
                client.docker.remove_network(n).await?;
            }
            Ok(())
        }
        NetworkCommand::Connect(a) | NetworkCommand::Disconnect(a) => {
            let (net, container) = match &a.args[..] {
                [.., net, container] => (net.clone(), container.clone()),
                _ => {
                    return Err(CliError::Usage(
                        "give a NETWORK and a CONTAINER (whale refuses both verbs: containers use --network none or host)".into(),
                    ))
                }
            };
            let client = client(cli).await?;
            if matches!(args.command, NetworkCommand::Connect(_)) {
                let req = bollard::models::NetworkConnectRequest {
                    container,
                    ..Default::default()
                };
                client.docker.connect_network(&net, req).await?;
            } else {
                let req = bollard::models::NetworkDisconnectRequest {
                    container,
                    ..Default::default()
                };
                client.docker.disconnect_network(&net, req).await?;
            }
            Ok(())
        }
    }
}
