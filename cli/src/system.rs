//! daemon, version, info.

use super::gotemplate::Value;
use super::{client, output, CliError, CliResult};
use whale_args::{Cli, DaemonArgs, InfoArgs, VersionArgs};

/// `whale daemon`: resolve where the daemon keeps its store and listens,
/// and hand both to `serve` (the engine's, injected by the binary: the CLI
/// is a client of the API and does not link the daemon).
pub fn daemon(cli: &Cli, args: &DaemonArgs, serve: crate::ServeDaemon) -> i32 {
    let host = whale_args::host(args.host.as_deref().or(cli.host.as_deref()));
    let socket = match super::connect::parse_host(&host) {
        Ok(s) => s,
        Err(err) => {
            eprintln!("whale daemon: {err}");
            return 1;
        }
    };
    if let Err(err) = whale_args::check_socket_dir(&socket) {
        eprintln!("whale daemon: {err}");
        return 1;
    }
    let root = whale_args::root_dir(args.root.clone().or_else(|| cli.root.clone()));
    serve(root, socket, args.insecure_registries.clone())
}

fn run_template(format: &str, data: &Value) -> CliResult {
    let tmpl = output::parse_template(format)?;
    let text = tmpl.execute(data).map_err(|e| CliError::Template(e.0))?;
    println!("{text}");
    Ok(())
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

pub async fn version(cli: &Cli, args: &VersionArgs) -> CliResult {
    let client_version = env!("CARGO_PKG_VERSION");
    let os_arch = format!("{}/{}", std::env::consts::OS, go_arch());
    let connected = client(cli).await;
    let (api, server) = match &connected {
        Ok(c) => {
            let api = c.docker.client_version().to_string();
            (api, Some(c.docker.version().await))
        }
        Err(_) => (bollard::API_DEFAULT_VERSION.to_string(), None),
    };
    let server = match server {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => return Err(e.into()),
        None => None,
    };
    if let Some(format) = &args.format {
        let client_value = Value::Map(vec![
            ("Version".into(), Value::str(client_version)),
            ("ApiVersion".into(), Value::str(api.clone())),
            ("Os".into(), Value::str(std::env::consts::OS)),
            ("Arch".into(), Value::str(go_arch())),
        ]);
        let server_value = match &server {
            Some(v) => Value::from_serialize(v).map_err(|e| CliError::Other(e.to_string()))?,
            None => Value::Null,
        };
        run_template(
            format,
            &Value::Map(vec![
                ("Client".into(), client_value),
                ("Server".into(), server_value),
            ]),
        )?;
    } else {
        println!("Client:");
        println!(" Version:           {client_version}");
        println!(" API version:       {api}");
        println!(" OS/Arch:           {os_arch}");
        if let Some(v) = &server {
            println!();
            println!(
                "Server: {}",
                v.platform.as_ref().map(|p| p.name.as_str()).unwrap_or("")
            );
            println!(" Engine:");
            println!("  Version:          {}", opt(&v.version));
            println!(
                "  API version:      {} (minimum version {})",
                opt(&v.api_version),
                opt(&v.min_api_version)
            );
            if !opt(&v.go_version).is_empty() {
                println!("  Go version:       {}", opt(&v.go_version));
            }
            if !opt(&v.git_commit).is_empty() {
                println!("  Git commit:       {}", opt(&v.git_commit));
            }
            if !opt(&v.build_time).is_empty() {
                println!("  Built:            {}", opt(&v.build_time));
            }
            println!("  OS/Arch:          {}/{}", opt(&v.os), opt(&v.arch));
            if !opt(&v.kernel_version).is_empty() {
                println!("  Kernel version:   {}", opt(&v.kernel_version));
            }
        }
    }
    match connected {
        Ok(_) => Ok(()),
        Err(err) => Err(err),
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub async fn info(cli: &Cli, args: &InfoArgs) -> CliResult {
    let client = client(cli).await?;
    let info = client.docker.info().await?;
    if let Some(format) = &args.format {
        let value = Value::from_serialize(&info).map_err(|e| CliError::Other(e.to_string()))?;
        return run_template(format, &value);
    }
    let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    println!("Server:");
    println!(" Containers: {}", num(info.containers));
    println!("  Running: {}", num(info.containers_running));
    println!("  Paused: {}", num(info.containers_paused));
    println!("  Stopped: {}", num(info.containers_stopped));
    println!(" Images: {}", num(info.images));
    println!(" Server Version: {}", opt(&info.server_version));
    println!(" Storage Driver: {}", opt(&info.driver));
    println!(" Logging Driver: {}", opt(&info.logging_driver));
    println!(
        " Cgroup Driver: {}",
        info.cgroup_driver
            .map(|d| d.to_string())
            .unwrap_or_default()
    );
    println!(
        " Cgroup Version: {}",
        info.cgroup_version
            .map(|d| d.to_string())
            .unwrap_or_default()
    );
    println!(" Kernel Version: {}", opt(&info.kernel_version));
    println!(" Operating System: {}", opt(&info.operating_system));
    println!(" OSType: {}", opt(&info.os_type));
    println!(" Architecture: {}", opt(&info.architecture));
    println!(" CPUs: {}", num(info.ncpu));
    println!(
        " Total Memory: {}",
        info.mem_total
            .map(|m| whale_formats::humanize::human_binary_size(m.max(0) as u64))
            .unwrap_or_default()
    );
    println!(" Name: {}", opt(&info.name));
    println!(" ID: {}", opt(&info.id));
    println!(" Docker Root Dir: {}", opt(&info.docker_root_dir));
    print_security_options(info.security_options.as_deref().unwrap_or_default());
    for warning in info.warnings.iter().flatten() {
        eprintln!("{warning}");
    }
    Ok(())
}

/// The docker CLI's shape: each `name=X,key=value` option as `X` with its
/// keys below it.
fn print_security_options(options: &[String]) {
    if options.is_empty() {
        return;
    }
    println!(" Security Options:");
    for option in options {
        let mut name = option.as_str();
        let mut keys = Vec::new();
        for pair in option.split(',') {
            match pair.split_once('=') {
                Some(("name", n)) => name = n,
                Some((k, v)) => keys.push((k, v)),
                None => {}
            }
        }
        println!("  {name}");
        for (k, v) in keys {
            let mut key = k.to_string();
            if let Some(first) = key.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            println!("   {key}: {v}");
        }
    }
}
