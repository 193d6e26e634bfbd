//! `whale create` and `whale run`: the create body docker would send for
//! the flags, docker's exit codes (125, 126, 127) and run's attach session.

use std::collections::HashMap;
use std::io::IsTerminal;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, StartContainerOptions};

use super::connect::Client;
use super::{client, daemon_error};
use crate::session::Session;
use whale_args::{Cli, ContainerOpts, CreateArgs, RunArgs};

/// docker's exit code when the engine itself failed.
pub(crate) const ENGINE_FAILED: i32 = 125;

/// `-e KEY=value` as given; `-e KEY` passes the host's value, and nothing
/// when it is unset (run and exec alike).
pub(crate) fn env_from_flags(
    flags: &[String],
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    flags
        .iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e.clone())
            } else {
                lookup_env(e).map(|v| format!("{e}={v}"))
            }
        })
        .collect()
}

/// The ContainerCreate body docker would send for these flags.
pub fn create_body(
    opts: &ContainerOpts,
    attach: bool,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> ContainerCreateBody {
    let env = env_from_flags(&opts.env, lookup_env);
    let labels: HashMap<String, String> = opts
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    let entrypoint = opts.entrypoint.as_ref().map(|e| vec![e.clone()]);
    let attach_stdin = attach && opts.interactive;
    let (binds, anonymous) = super::mount_flag::split_volumes(&opts.volume);
    let tmpfs = super::mount_flag::tmpfs_map(&opts.tmpfs);
    ContainerCreateBody {
        hostname: opts.hostname.clone(),
        user: opts.user.clone(),
        attach_stdin: Some(attach_stdin),
        attach_stdout: Some(attach),
        attach_stderr: Some(attach),
        tty: Some(opts.tty),
        open_stdin: Some(opts.interactive),
        stdin_once: Some(attach_stdin),
        env: (!env.is_empty()).then_some(env),
        cmd: (!opts.command().is_empty()).then(|| opts.command().to_vec()),
        image: Some(opts.image().to_string()),
        working_dir: opts.workdir.clone(),
        entrypoint,
        labels: (!labels.is_empty()).then_some(labels),
        stop_signal: opts.stop_signal.clone(),
        healthcheck: super::lifecycle::healthcheck(&opts.policy),
        volumes: (!anonymous.is_empty()).then_some(anonymous),
        host_config: Some(HostConfig {
            memory: opts.memory,
            memory_swap: opts.memory_swap,
            nano_cpus: opts.cpus,
            cpu_shares: opts.cpu_shares,
            pids_limit: opts.pids_limit,
            network_mode: Some(opts.network.clone()),
            extra_hosts: (!opts.add_host.is_empty()).then(|| opts.add_host.clone()),
            auto_remove: Some(opts.rm),
            init: opts.init.then_some(true),
            console_size: console_size(opts.tty),
            binds: (!binds.is_empty()).then_some(binds),
            tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
            readonly_rootfs: opts.read_only.then_some(true),
            cap_add: some_vec(&opts.cap_add),
            cap_drop: some_vec(&opts.cap_drop),
            privileged: opts.privileged.then_some(true),
            pid_mode: opts.pid.clone(),
            ipc_mode: opts.ipc.clone(),
            uts_mode: opts.uts.clone(),
            group_add: some_vec(&opts.group_add),
            links: some_vec(&opts.link),
            volumes_from: some_vec(&opts.volumes_from),
            runtime: opts.runtime.clone(),
            log_config: log_config(opts.log_driver.as_deref(), &opts.log_opt),
            ulimits: (!opts.ulimit.is_empty()).then(|| {
                opts.ulimit
                    .iter()
                    .map(|u| bollard::models::ResourcesUlimits {
                        name: Some(u.name.clone()),
                        soft: Some(u.soft),
                        hard: Some(u.hard),
                    })
                    .collect()
            }),
            devices: (!opts.device.is_empty())
                .then(|| opts.device.iter().map(|d| device_mapping(d)).collect()),
            dns: some_vec(&opts.dns),
            dns_search: some_vec(&opts.dns_search),
            dns_options: some_vec(&opts.dns_option),
            shm_size: opts.shm_size,
            sysctls: (!opts.sysctl.is_empty()).then(|| {
                opts.sysctl
                    .iter()
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (kv.clone(), String::new()),
                    })
                    .collect()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `--log-driver` and `--log-opt KEY=VALUE` as the docker CLI sends them
/// (`Type: ""` for the default); the daemon checks both.
fn log_config(
    driver: Option<&str>,
    opts: &[String],
) -> Option<bollard::models::HostConfigLogConfig> {
    if driver.is_none() && opts.is_empty() {
        return None;
    }
    Some(bollard::models::HostConfigLogConfig {
        typ: Some(driver.unwrap_or("").to_string()),
        config: Some(
            opts.iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv.clone(), String::new()),
                })
                .collect(),
        ),
    })
}

/// `--device HOST[:CONTAINER][:PERMS]` as the docker CLI splits it
/// (parseDevice): a second part made only of r, w, m is the permissions.
fn device_mapping(spec: &str) -> bollard::models::DeviceMapping {
    let parts: Vec<&str> = spec.split(':').collect();
    let is_perms = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let (host, inside, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perms(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p, ..] => (*h, *c, *p),
        [] => (spec, spec, "rwm"),
    };
    bollard::models::DeviceMapping {
        path_on_host: Some(host.to_string()),
        path_in_container: Some(inside.to_string()),
        cgroup_permissions: Some(perms.to_string()),
    }
}

/// A repeated flag as docker sends it: absent when never given.
fn some_vec(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// `[height, width]` of our terminal, sent with `-t` so the container's
/// pty starts at the right size (as docker does).
fn console_size(tty: bool) -> Option<Vec<usize>> {
    if !tty {
        return None;
    }
    let (h, w) = super::terminal::size()?;
    Some(vec![usize::from(h), usize::from(w)])
}

/// docker's rule for the exit code of a failed start.
pub fn start_error_code(message: &str) -> i32 {
    let m = message.trim_start_matches("Error response from daemon: ");
    if m.contains("executable file not found")
        || m.contains("no such file or directory")
        || m.contains("system cannot find the file specified")
    {
        127
    } else if m.contains("permission denied") || m.contains("is a directory") {
        126
    } else {
        ENGINE_FAILED
    }
}

/// `name` -> `name:latest`, as docker names a missing image.
pub fn full_image_name(image: &str) -> String {
    whale_formats::reference::with_default_tag(image)
}

fn is_no_such_image(err: &bollard::errors::Error) -> bool {
    matches!(err, bollard::errors::Error::DockerResponseServerError { status_code: 404, message }
        if message.to_lowercase().contains("image"))
}

pub(crate) fn run_failure(message: impl std::fmt::Display, with_help: bool) {
    eprintln!("whale: {message}");
    if with_help {
        eprintln!("\nRun 'whale run --help' for more information");
    }
}

/// Create the container; on failure print docker's message and return the exit code.
async fn create_container(
    client: &Client,
    opts: &ContainerOpts,
    attach: bool,
) -> Result<String, i32> {
    if let Err(e) = super::lifecycle::check_policy_flags(&opts.policy, opts.rm) {
        run_failure(e, true);
        return Err(ENGINE_FAILED);
    }
    let lookup = |k: &str| std::env::var(k).ok();
    let mut with_files = opts.clone();
    let files = super::kv_file::read_all(&opts.env_file, &lookup)
        .and_then(|env| Ok((env, super::kv_file::read_all(&opts.label_file, &|_| None)?)));
    match files {
        Ok((env, labels)) => {
            with_files.env = env.into_iter().chain(opts.env.iter().cloned()).collect();
            with_files.label = labels
                .into_iter()
                .chain(opts.label.iter().cloned())
                .collect();
        }
        Err(e) => {
            run_failure(e, false);
            return Err(ENGINE_FAILED);
        }
    }
    let opts = &with_files;
    let mut body = create_body(opts, attach, &lookup);
    if let Err(e) = super::lifecycle::apply_restart(
        body.host_config.get_or_insert_with(Default::default),
        &opts.policy.restart,
    ) {
        run_failure(e, true);
        return Err(ENGINE_FAILED);
    }
    if !opts.mount.is_empty() {
        let mounts: Result<Vec<_>, String> = opts
            .mount
            .iter()
            .map(|m| super::mount_flag::parse_mount(m))
            .collect();
        match mounts {
            Ok(m) => body.host_config.get_or_insert_with(Default::default).mounts = Some(m),
            Err(e) => {
                run_failure(e, true);
                return Err(ENGINE_FAILED);
            }
        }
    }
    match super::security_opt::resolve(&opts.security_opt, &|p| std::fs::read(p)) {
        Ok(v) if v.is_empty() => {}
        Ok(v) => {
            body.host_config
                .get_or_insert_with(Default::default)
                .security_opt = Some(v)
        }
        Err(e) => {
            run_failure(e, true);
            return Err(ENGINE_FAILED);
        }
    }
    match super::ports::from_flags(&opts.publish, &opts.expose) {
        Ok((exposed, bindings)) => {
            if !exposed.is_empty() {
                body.exposed_ports = Some(exposed);
            }
            let hc = body.host_config.get_or_insert_with(Default::default);
            hc.port_bindings = Some(bindings);
            hc.publish_all_ports = Some(opts.publish_all);
        }
        Err(e) => {
            run_failure(e, true);
            return Err(ENGINE_FAILED);
        }
    }
    let options = CreateContainerOptions {
        name: opts.name.clone(),
        platform: String::new(),
    };
    let mut created = client
        .docker
        .create_container(Some(options.clone()), body.clone())
        .await;
    if matches!(&created, Err(err) if is_no_such_image(err))
        && super::registry::registry_of(opts.image()) != "docker.io"
    {
        // docker's order: say so, pull (progress on stderr), create again.
        let name = full_image_name(opts.image());
        eprintln!("Unable to find image '{name}' locally");
        if let Err(e) = super::registry::pull_image(client, opts.image(), false, true).await {
            run_failure(format!("Error response from daemon: {e}"), true);
            return Err(ENGINE_FAILED);
        }
        created = client.docker.create_container(Some(options), body).await;
    }
    match created {
        Ok(resp) => {
            for warning in resp.warnings {
                eprintln!("WARNING: {warning}");
            }
            Ok(resp.id)
        }
        Err(err) if is_no_such_image(&err) => {
            let name = full_image_name(opts.image());
            eprintln!("Unable to find image '{name}' locally");
            run_failure(
                format!(
                    "Error: image '{name}' is not in the local store, and its name has no registry whale can pull from (Docker Hub is out of reach here).\n\
                     Make it first: 'whale bootstrap busybox' (or 'whale bootstrap debian'), 'whale import', or 'whale build', or name a registry (HOST:PORT/NAME:TAG); \
                     'whale images' lists the images you have."
                ),
                true,
            );
            Err(ENGINE_FAILED)
        }
        Err(err) => {
            run_failure(daemon_error(err), true);
            Err(ENGINE_FAILED)
        }
    }
}

pub async fn create_verb(cli: &Cli, args: &CreateArgs) -> i32 {
    let client = match client(cli).await {
        Ok(c) => c,
        Err(err) => {
            run_failure(err, false);
            return ENGINE_FAILED;
        }
    };
    match create_container(&client, &args.opts, true).await {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(code) => code,
    }
}

pub async fn run(cli: &Cli, args: &RunArgs) -> i32 {
    let client = match client(cli).await {
        Ok(c) => c,
        Err(err) => {
            run_failure(err, false);
            return ENGINE_FAILED;
        }
    };
    let opts = &args.opts;
    if !args.detach && opts.interactive && opts.tty && !std::io::stdin().is_terminal() {
        // docker's CheckTty: a pty fed from a pipe would echo and mangle it.
        eprintln!("the input device is not a TTY");
        return 1;
    }
    if let Err(err) = super::terminal::parse_detach_keys(&args.detach_keys) {
        run_failure(err, true);
        return ENGINE_FAILED;
    }
    let id = match create_container(&client, opts, !args.detach).await {
        Ok(id) => id,
        Err(code) => return code,
    };
    if args.detach {
        if let Err(err) = client
            .docker
            .start_container(&id, None::<StartContainerOptions>)
            .await
        {
            let err = daemon_error(err);
            run_failure(&err, true);
            return start_error_code(&err.to_string());
        }
        println!("{id}");
        return 0;
    }
    let detach_keys = match super::terminal::parse_detach_keys(&args.detach_keys) {
        Ok(keys) => keys,
        Err(err) => {
            run_failure(err, true);
            return ENGINE_FAILED;
        }
    };
    let session = Session {
        client: &client,
        id: &id,
        stdin: opts.interactive,
        tty: opts.tty,
        auto_remove: opts.rm,
        detach_keys: (&args.detach_keys, detach_keys),
        start: true,
    };
    match session.attach_start_wait(true).await {
        Ok(code) => code,
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> ContainerOpts {
        use clap::Parser;
        let cli = Cli::try_parse_from(["whale", "run"].iter().chain(args.iter())).unwrap();
        match cli.command {
            super::super::Command::Run(r) => r.opts,
            _ => unreachable!(),
        }
    }

    #[test]
    fn start_errors_map_to_docker_codes() {
        assert_eq!(
            start_error_code("Error response from daemon: failed to create shim task: exec: \"nosuch\": executable file not found in $PATH"),
            127
        );
        assert_eq!(
            start_error_code("exec /no/such/path: no such file or directory"),
            127
        );
        assert_eq!(start_error_code("exec /etc/passwd: permission denied"), 126);
        assert_eq!(start_error_code("exec /etc: is a directory"), 126);
        assert_eq!(start_error_code("cgroup: out of memory"), 125);
    }

    #[test]
    fn create_body_follows_docker() {
        let o = opts(&[
            "-i",
            "-e",
            "A=1",
            "-e",
            "FROM_HOST",
            "-e",
            "UNSET_HERE",
            "-l",
            "k=v",
            "-l",
            "flag",
            "-m",
            "32m",
            "--cpus",
            "0.5",
            "--rm",
            "--entrypoint",
            "",
            "busybox",
            "sh",
            "-c",
            "echo",
        ]);
        let lookup = |k: &str| (k == "FROM_HOST").then(|| "h".to_string());
        let body = create_body(&o, true, &lookup);
        assert_eq!(
            body.env,
            Some(vec!["A=1".to_string(), "FROM_HOST=h".to_string()])
        );
        let labels = body.labels.unwrap();
        assert_eq!(labels["k"], "v");
        assert_eq!(labels["flag"], "");
        assert_eq!(
            body.cmd,
            Some(vec!["sh".to_string(), "-c".to_string(), "echo".to_string()])
        );
        assert_eq!(body.entrypoint, Some(vec![String::new()]));
        assert_eq!(body.attach_stdin, Some(true));
        assert_eq!(body.stdin_once, Some(true));
        assert_eq!(body.open_stdin, Some(true));
        let hc = body.host_config.unwrap();
        assert_eq!(hc.memory, Some(33_554_432));
        assert_eq!(hc.nano_cpus, Some(500_000_000));
        assert_eq!(hc.auto_remove, Some(true));
        assert_eq!(hc.network_mode.as_deref(), Some("default"));
    }

    #[test]
    fn detached_runs_attach_nothing() {
        let o = opts(&["-i", "busybox"]);
        let body = create_body(&o, false, &|_| None);
        assert_eq!(body.attach_stdin, Some(false));
        assert_eq!(body.attach_stdout, Some(false));
        assert_eq!(body.stdin_once, Some(false));
        assert_eq!(body.open_stdin, Some(true));
        assert_eq!(body.cmd, None);
        assert_eq!(body.entrypoint, None);
    }

    #[test]
    fn image_names_get_latest() {
        assert_eq!(full_image_name("nosuchimage"), "nosuchimage:latest");
        assert_eq!(full_image_name("debian:bookworm"), "debian:bookworm");
        assert_eq!(full_image_name("host:5000/x"), "host:5000/x:latest");
    }
}
