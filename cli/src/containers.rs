//! Container verbs: create, run, start, stop, kill, rm, wait, logs,
//! inspect, ps, top.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, KillContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, StartContainerOptions, StopContainerOptions, TopOptions,
    WaitContainerOptions,
};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connect::Client;
use super::gotemplate::Value;
use super::output;
use super::{client, daemon_error, report, CliError, CliResult};
use whale_args::{
    AttachArgs, Cli, ContainerOpts, CreateArgs, InspectArgs, KillArgs, LogsArgs, ObjectType,
    PsArgs, RmArgs, RunArgs, StartArgs, StopArgs, TopArgs, WaitArgs,
};

/// docker's exit code when the engine itself failed.
const ENGINE_FAILED: i32 = 125;

/// The ContainerCreate body docker would send for these flags.
pub fn create_body(
    opts: &ContainerOpts,
    attach: bool,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> ContainerCreateBody {
    let env: Vec<String> = opts
        .env
        .iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e.clone())
            } else {
                // `-e KEY` passes the host's value, and nothing when unset.
                lookup_env(e).map(|v| format!("{e}={v}"))
            }
        })
        .collect();
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
        host_config: Some(HostConfig {
            memory: opts.memory,
            memory_swap: opts.memory_swap,
            nano_cpus: opts.cpus,
            cpu_shares: opts.cpu_shares,
            pids_limit: opts.pids_limit,
            network_mode: Some(opts.network.clone()),
            auto_remove: Some(opts.rm),
            init: opts.init.then_some(true),
            console_size: console_size(opts.tty),
            ..Default::default()
        }),
        ..Default::default()
    }
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
    if image.contains('@') || !output::split_reference(image).1.is_empty() {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

fn is_no_such_image(err: &bollard::errors::Error) -> bool {
    matches!(err, bollard::errors::Error::DockerResponseServerError { status_code: 404, message }
        if message.to_lowercase().contains("image"))
}

fn run_failure(message: impl std::fmt::Display, with_help: bool) {
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
    let body = create_body(opts, attach, &|k| std::env::var(k).ok());
    let options = CreateContainerOptions {
        name: opts.name.clone(),
        platform: String::new(),
    };
    match client.docker.create_container(Some(options), body).await {
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
                    "Error: image '{name}' is not in the local store, and whale has no registry to pull it from.\n\
                     Make it first: 'whale bootstrap busybox' (or 'whale bootstrap debian'), 'whale import', or 'whale build'; \
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

/// Attach, wait and start one container, as `docker run` / `start -a` do.
struct Session<'a> {
    client: &'a Client,
    id: &'a str,
    stdin: bool,
    tty: bool,
    auto_remove: bool,
    /// `--detach-keys` as given, and as bytes.
    detach_keys: (&'a str, Vec<u8>),
    /// Start it (run, start -a) or only attach (attach).
    start: bool,
}

impl Session<'_> {
    /// Returns the container's exit code, or the CLI's own on failure
    /// (messages already printed).
    async fn attach_start_wait(&self, is_run: bool) -> Result<i32, i32> {
        let docker = &self.client.docker;
        let mut query = format!(
            "stream=1&stdout=1&stderr=1&stdin={}",
            if self.stdin { 1 } else { 0 }
        );
        if self.tty {
            query.push_str("&detachKeys=");
            query.push_str(&query_escape(self.detach_keys.0));
        }
        let attach = match self.client.attach_raw(self.id, &query).await {
            Ok(a) => a,
            Err(err) => {
                run_failure(err, false);
                return Err(ENGINE_FAILED);
            }
        };
        // Post /wait before /start, and start only once the daemon accepted
        // it: a quick container must not exit before anyone waits for it.
        let condition = if !self.start {
            // `attach`: it runs already; its exit is the next one or done.
            "not-running"
        } else if self.auto_remove {
            "removed"
        } else {
            "next-exit"
        };
        let accepted = self.client.wait_accepted.notified();
        tokio::pin!(accepted);
        accepted.as_mut().enable();
        let waiter = {
            let docker = docker.clone();
            let id = self.id.to_string();
            tokio::spawn(async move {
                let mut stream = docker.wait_container(
                    &id,
                    Some(WaitContainerOptions {
                        condition: condition.to_string(),
                    }),
                );
                stream.next().await
            })
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), accepted).await;

        let (mut output, input) = tokio::io::split(attach);
        // docker detects the detach keys on its side of a tty session.
        let (detached_tx, mut detached_rx) = tokio::sync::oneshot::channel::<()>();
        let input_task = if self.stdin {
            let scanner = self
                .tty
                .then(|| super::terminal::DetachScanner::new(self.detach_keys.1.clone()));
            Some(tokio::spawn(copy_stdin(input, scanner, detached_tx)))
        } else {
            drop(input);
            drop(detached_tx);
            None
        };

        let started = if self.start {
            docker
                .start_container(self.id, None::<StartContainerOptions>)
                .await
        } else {
            Ok(())
        };
        if let Err(err) = started {
            let err = daemon_error(err);
            if is_run {
                run_failure(&err, true);
            } else {
                report(&err);
            }
            waiter.abort();
            return Err(if is_run {
                start_error_code(&err.to_string())
            } else {
                1
            });
        }

        let signals = if self.tty {
            Some(tokio::spawn(follow_window_size(
                docker.clone(),
                self.id.to_string(),
            )))
        } else {
            Some(tokio::spawn(forward_signals(
                docker.clone(),
                self.id.to_string(),
            )))
        };
        let raw = if self.tty && self.stdin {
            super::terminal::RawMode::enable()
        } else {
            None
        };

        // Copy the container's output until it closes the stream, or the
        // user detaches.
        let detached = relay_output(&mut output, self.tty, &mut detached_rx, self.stdin).await;
        drop(raw);
        if let Some(task) = input_task {
            task.abort();
        }
        if detached {
            // The container goes on running; docker exits 0 at once.
            waiter.abort();
            if let Some(task) = signals {
                task.abort();
            }
            if !self.start {
                // `docker attach` ends with this error; run and start -a exit 0.
                eprintln!("read escape sequence");
                return Err(1);
            }
            return Ok(0);
        }
        let result = waiter.await;
        if let Some(task) = signals {
            task.abort();
        }
        match result {
            Ok(Some(Ok(resp))) => Ok(resp.status_code as i32),
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { error, code }))) => {
                if error.is_empty() {
                    Ok(code as i32)
                } else {
                    eprintln!("whale: {error}");
                    Err(ENGINE_FAILED)
                }
            }
            Ok(Some(Err(err))) => {
                run_failure(daemon_error(err), false);
                Err(ENGINE_FAILED)
            }
            Ok(None) => {
                eprintln!("whale: the daemon closed the wait stream without an exit status");
                Err(ENGINE_FAILED)
            }
            Err(join) => {
                eprintln!("whale: waiting for the container failed: {join}");
                Err(ENGINE_FAILED)
            }
        }
    }
}

/// Percent-encode a query value.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Copy an attach or exec stream to our stdout/stderr (raw with a tty,
/// demultiplexed without) until it ends, or until `detach` fires while
/// `watch_detach`; true when the user detached.
pub(super) async fn relay_output<R: tokio::io::AsyncRead + Unpin>(
    output: &mut R,
    tty: bool,
    detach: &mut tokio::sync::oneshot::Receiver<()>,
    watch_detach: bool,
) -> bool {
    let mut out = std::io::stdout();
    let mut err_out = std::io::stderr();
    let mut demux = super::connect::Demux::default();
    let mut buf = vec![0u8; 32 * 1024];
    let mut detach_open = watch_detach;
    loop {
        let read = tokio::select! {
            read = output.read(&mut buf) => read,
            got = &mut *detach, if detach_open => {
                detach_open = false;
                if got.is_ok() {
                    return true;
                }
                continue;
            }
        };
        let n = match read {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if tty {
            if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                return false;
            }
            continue;
        }
        for (stream, payload) in demux.feed(&buf[..n]) {
            let w: &mut dyn Write = if stream == 2 { &mut err_out } else { &mut out };
            let _ = w.write_all(&payload).and_then(|_| w.flush());
        }
    }
}

/// Our stdin to the container; half-close when it ends so the container
/// sees EOF (`echo 'exit 3' | whale run -i busybox sh`).
pub(super) async fn copy_stdin(
    mut input: impl tokio::io::AsyncWrite + Unpin,
    mut scanner: Option<super::terminal::DetachScanner>,
    detached: tokio::sync::oneshot::Sender<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    // A plain thread: a blocked read of a terminal must not hold up the
    // runtime's shutdown, and dies with the process.
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match std::io::Read::read(&mut stdin, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    while let Some(chunk) = rx.recv().await {
        let (chunk, detach) = match scanner.as_mut() {
            Some(s) => {
                let scan = s.feed(&chunk);
                (scan.pass, scan.detach)
            }
            None => (chunk, false),
        };
        if input.write_all(&chunk).await.is_err() || input.flush().await.is_err() {
            return;
        }
        if detach {
            let _ = detached.send(());
            return;
        }
    }
    let _ = input.shutdown().await;
}

/// Keep the container's pty the size of our terminal (SIGWINCH).
async fn follow_window_size(docker: bollard::Docker, id: String) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut winch) = signal(SignalKind::window_change()) else {
        return;
    };
    while winch.recv().await.is_some() {
        if let Some((h, w)) = super::terminal::size() {
            let _ = docker
                .resize_container_tty(
                    &id,
                    bollard::query_parameters::ResizeContainerTTYOptions {
                        h: i32::from(h),
                        w: i32::from(w),
                    },
                )
                .await;
        }
    }
}

/// docker's sig-proxy: SIGINT/SIGTERM/SIGHUP/SIGQUIT we get go to the container.
async fn forward_signals(docker: bollard::Docker, id: String) {
    use tokio::signal::unix::{signal, SignalKind};
    let kinds = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
    ];
    let mut streams = Vec::new();
    for (kind, name) in kinds {
        if let Ok(s) = signal(kind) {
            streams.push((s, name));
        }
    }
    if streams.is_empty() {
        return;
    }
    loop {
        let futures = streams
            .iter_mut()
            .map(|(s, name)| {
                let name = *name;
                Box::pin(async move {
                    s.recv().await;
                    name
                })
            })
            .collect::<Vec<_>>();
        let (name, _, _) = futures_util::future::select_all(futures).await;
        let _ = docker
            .kill_container(
                &id,
                Some(KillContainerOptions {
                    signal: name.to_string(),
                }),
            )
            .await;
    }
}

/// Run `op` on each name, printing what docker prints; exit 1 if any failed.
async fn each<F, Fut>(names: &[String], mut op: F) -> CliResult
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

pub async fn logs(cli: &Cli, args: &LogsArgs) -> CliResult {
    let client = client(cli).await?;
    let mut stream = client.docker.logs(
        &args.container,
        Some(LogsOptions {
            follow: args.follow,
            stdout: true,
            stderr: true,
            since: 0,
            until: 0,
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
async fn raw_json(client: &Client, path: &str) -> CliResult<Result<Value, (u16, String)>> {
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
