//! `/containers/...`: create, start, stop, kill, wait, remove, inspect, list,
//! top, resize, and the monitor task that follows each running container.

use super::glue::{self, shim_client};
use super::http::{json, no_content, response, ApiError, ApiResult, Body, Filters, Query};
use super::Daemon;
use crate::container::{
    self, Container, ContainerRecord, NewContainer, RunState, StartFailure, Status, ZERO_TIME,
};
use crate::image::config::RunConfig;
use crate::shim::spec::{NetworkMode, Resources, ShimSpec};
use bollard::models::{
    ContainerConfig, ContainerCreateBody, ContainerCreateResponse, ContainerInspectResponse,
    ContainerState, ContainerStateStatusEnum, ContainerSummary, ContainerSummaryHostConfig,
    ContainerSummaryNetworkSettings, ContainerSummaryStateEnum, ContainerTopResponse, DriverData,
    HostConfig,
};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const MAX_CREATE_BODY: usize = 4 << 20;
/// Docker's floor for `--memory`.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// How long to wait for a SIGKILLed container before giving up on it.
const KILL_GRACE: Duration = Duration::from_secs(10);

pub fn cgroup_path(id: &str) -> String {
    format!("whale/{id}")
}

// ---------------------------------------------------------------- create

/// Docker's merge of the image config into the container config
/// (daemon/commit.go `merge`): the request wins; an empty Entrypoint in the
/// request takes the image's Cmd only when the request has no Cmd either.
pub fn merge_image_config(mut cfg: ContainerConfig, image: &RunConfig) -> ContainerConfig {
    if cfg.user.as_deref().unwrap_or("").is_empty() && !image.user.is_empty() {
        cfg.user = Some(image.user.clone());
    }
    if let Some(ports) = &image.exposed_ports {
        let mut mine = cfg.exposed_ports.take().unwrap_or_default();
        for p in ports.keys() {
            if !mine.contains(p) {
                mine.push(p.clone());
            }
        }
        cfg.exposed_ports = Some(mine);
    }
    match (&mut cfg.env, &image.env) {
        (None, Some(ie)) => cfg.env = Some(ie.clone()),
        (Some(e), Some(ie)) if e.is_empty() => *e = ie.clone(),
        (Some(e), Some(ie)) => {
            for ienv in ie {
                let key = ienv.split('=').next().unwrap_or("");
                if !e.iter().any(|x| x.split('=').next() == Some(key)) {
                    e.push(ienv.clone());
                }
            }
        }
        _ => {}
    }
    if let Some(il) = &image.labels {
        let labels = cfg.labels.get_or_insert_with(HashMap::new);
        for (k, v) in il {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // `--entrypoint ""` arrives as [""]: it clears the image's entrypoint.
    if cfg
        .entrypoint
        .as_ref()
        .is_some_and(|e| e.len() == 1 && e[0].is_empty())
    {
        cfg.entrypoint = Some(vec![]);
    }
    if cfg.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if cfg.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            cfg.cmd = image.cmd.clone();
        }
        if cfg.entrypoint.is_none() {
            cfg.entrypoint = image.entrypoint.clone();
        }
    }
    if cfg.working_dir.as_deref().unwrap_or("").is_empty() && !image.working_dir.is_empty() {
        cfg.working_dir = Some(image.working_dir.clone());
    }
    if cfg.stop_signal.as_deref().unwrap_or("").is_empty() {
        if let Some(s) = &image.stop_signal {
            cfg.stop_signal = Some(s.clone());
        }
    }
    cfg
}

/// Path and Args as Docker splits Entrypoint + Cmd.
pub fn path_and_args(cfg: &ContainerConfig) -> Result<(String, Vec<String>), ApiError> {
    let mut argv: Vec<String> = cfg.entrypoint.clone().unwrap_or_default();
    argv.extend(cfg.cmd.clone().unwrap_or_default());
    if argv.is_empty() {
        return Err(ApiError::bad_request("No command specified"));
    }
    let path = argv.remove(0);
    Ok((path, argv))
}

fn split_create_body(body: ContainerCreateBody) -> Result<(ContainerConfig, HostConfig), ApiError> {
    let host_config = body.host_config.clone().unwrap_or_default();
    let mut v = serde_json::to_value(&body)
        .map_err(|e| ApiError::internal(format!("re-encoding the create request: {e}")))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("HostConfig");
        o.remove("NetworkingConfig");
    }
    let cfg: ContainerConfig = serde_json::from_value(v)
        .map_err(|e| ApiError::internal(format!("re-decoding the create request: {e}")))?;
    Ok((cfg, host_config))
}

fn validate_host_config(hc: &mut HostConfig) -> Result<(), ApiError> {
    match hc.network_mode.as_deref().unwrap_or("") {
        "" => hc.network_mode = Some("default".to_string()),
        "default" | "bridge" | "none" | "host" => {}
        m if m.starts_with("container:") => {
            return Err(ApiError::bad_request(format!(
                "network mode {m:?} is not supported by whale: use none (the default, loopback only) or host"
            )))
        }
        m => {
            return Err(ApiError::not_found(format!(
                "network {m} not found (whale knows only none, default, bridge and host)"
            )))
        }
    }
    if let Some(m) = hc.memory.filter(|m| *m != 0) {
        if m < MIN_MEMORY {
            return Err(ApiError::bad_request("Minimum memory limit allowed is 6MB"));
        }
        if let Some(s) = hc.memory_swap.filter(|s| *s > 0) {
            if s < m {
                return Err(ApiError::bad_request(
                    "Minimum memoryswap limit should be larger than memory limit, see usage",
                ));
            }
        }
    }
    if hc.nano_cpus.is_some_and(|n| n < 0) {
        return Err(ApiError::bad_request(
            "Range of CPUs is from 0.01 to the number of CPUs available",
        ));
    }
    Ok(())
}

pub async fn create(d: &Arc<Daemon>, q: &Query, req: Request<Incoming>) -> ApiResult {
    let bytes = http_body_util::Limited::new(req.into_body(), MAX_CREATE_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?
        .to_bytes();
    let body: ContainerCreateBody = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request(
            "config cannot be empty in order to create a container",
        ));
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!("invalid JSON in the create request: {e}"))
        })?
    };
    let name = q.get("name").filter(|n| !n.is_empty()).map(String::from);
    if let Some(n) = &name {
        if !container::names::is_valid_name(n) {
            return Err(container::ContainerError::InvalidName(n.clone()).into());
        }
    }
    let image_ref = body
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad_request("Config.Image is empty: say which image to run"))?;
    let image = d.images.resolve(&image_ref).map_err(|e| {
        if glue::image_is_not_found(&e) {
            ApiError::not_found(format!("No such image: {}", normalize_ref(&image_ref)))
        } else {
            ApiError::new(glue::image_status(&e), e.to_string())
        }
    })?;
    let (cfg, mut host_config) = split_create_body(body)?;
    validate_host_config(&mut host_config)?;
    let mut cfg = merge_image_config(cfg, &glue::image_config(&image).config);
    cfg.image = Some(image_ref.clone());
    let (path, args) = path_and_args(&cfg)?;
    let new = NewContainer {
        name,
        image_id: glue::image_id(&image),
        image: image_ref,
        path,
        args,
        config: cfg,
        host_config,
    };
    let d2 = d.clone();
    super::trace(|| "create: image resolved".to_string());
    let c = tokio::task::spawn_blocking(move || d2.containers.create(new))
        .await
        .map_err(|e| ApiError::internal(format!("creating the container: {e}")))??;
    d.emit_container(&c, "create", &[]);
    json(
        StatusCode::CREATED,
        &ContainerCreateResponse {
            id: c.id().to_string(),
            warnings: vec![],
        },
    )
}

pub use whale_formats::reference::with_default_tag as normalize_ref;

// ---------------------------------------------------------------- start

/// Docker's environment: PATH and HOSTNAME defaults, TERM for a tty, the
/// container's Env over them (a bare `KEY` unsets), HOME last if still unset.
pub fn container_env(cfg_env: &[String], hostname: &str, tty: bool) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if tty {
        env.push("TERM=xterm".to_string());
    }
    for e in cfg_env {
        let key = e.split('=').next().unwrap_or("");
        let pos = env.iter().position(|x| x.split('=').next() == Some(key));
        match (e.contains('='), pos) {
            (true, Some(i)) => env[i] = e.clone(),
            (true, None) => env.push(e.clone()),
            (false, Some(i)) => {
                env.remove(i);
            }
            (false, None) => {}
        }
    }
    if !env.iter().any(|x| x.starts_with("HOME=")) {
        env.push("HOME=/root".to_string());
    }
    env
}

pub fn build_spec(c: &Container, lower_dirs: Vec<std::path::PathBuf>) -> ShimSpec {
    let r: &ContainerRecord = &c.record;
    let cfg = &r.config;
    let hc = &r.host_config;
    let hostname = cfg
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| c.short_id().to_string());
    let tty = cfg.tty.unwrap_or(false);
    let mut args = vec![r.path.clone()];
    args.extend(r.args.iter().cloned());
    let console_size = hc.console_size.as_ref().and_then(|s| match s.as_slice() {
        [h, w] if *h > 0 && *w > 0 => Some((
            (*h).min(u16::MAX as usize) as u16,
            (*w).min(u16::MAX as usize) as u16,
        )),
        _ => None,
    });
    ShimSpec {
        id: r.id.clone(),
        env: container_env(cfg.env.as_deref().unwrap_or(&[]), &hostname, tty),
        hostname,
        lower_dirs,
        upper_dir: c.paths.upper(),
        work_dir: c.paths.work(),
        merged_dir: c.paths.merged(),
        args,
        cwd: cfg
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".to_string()),
        user: cfg.user.clone().unwrap_or_default(),
        tty,
        open_stdin: cfg.open_stdin.unwrap_or(false),
        stdin_once: cfg.stdin_once.unwrap_or(false),
        console_size,
        network: if hc.network_mode.as_deref() == Some("host") {
            NetworkMode::Host
        } else {
            NetworkMode::Loopback
        },
        resources: Resources {
            memory: hc.memory.filter(|m| *m > 0),
            memory_swap: hc.memory_swap.filter(|m| *m != 0),
            nano_cpus: hc.nano_cpus.filter(|n| *n > 0),
            cpu_shares: hc.cpu_shares.filter(|n| *n > 0),
            pids_limit: hc.pids_limit.filter(|n| *n > 0),
        },
        cgroup_path: cgroup_path(&r.id),
        log_path: c.paths.log(),
        socket_path: c.paths.socket(),
        state_path: c.paths.state(),
        init: hc.init.unwrap_or(false).then(init_binary),
        // A bad option is a 400 at create; should one get here, Docker's profile applies, never none.
        seccomp: crate::container::security::seccomp_from_security_opts(hc.security_opt.as_deref())
            .unwrap_or_default(),
    }
}

/// The host's static init for `--init`: Docker's own docker-init when
/// installed, else Debian's tini-static (package `tini`). When neither
/// exists the shim reports the first candidate as missing, with what to
/// install.
fn init_binary() -> std::path::PathBuf {
    const CANDIDATES: &[&str] = &[
        "/usr/bin/docker-init",
        "/usr/libexec/docker/docker-init",
        "/usr/bin/tini-static",
        "/usr/local/bin/docker-init",
    ];
    CANDIDATES
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| CANDIDATES[0].into())
}

/// The spec is rewritten on every start and is useless after a crash, so a
/// rename without fsync is enough: the shim never sees a partial file.
fn write_spec(c: &Container, spec: &ShimSpec) -> Result<(), StartFailure> {
    let fail = |e: String| StartFailure {
        exit_code: 125,
        error: format!("writing {}: {e}", c.paths.spec().display()),
    };
    let bytes = serde_json::to_vec(spec).map_err(|e| fail(e.to_string()))?;
    let tmp = c.paths.dir.join(".spec.json.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| fail(e.to_string()))?;
    std::fs::rename(&tmp, c.paths.spec()).map_err(|e| fail(e.to_string()))
}

fn start_error(f: &StartFailure) -> ApiError {
    // The docker CLI turns these into 126/127 by matching the message;
    // Docker answers them with 400, and everything else with 500.
    let status = if matches!(f.exit_code, 126 | 127) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    ApiError::new(status, f.error.clone())
}

pub async fn start(d: &Arc<Daemon>, id: &str) -> ApiResult {
    let c = d.containers.get(id)?;
    let guard = c.op_lock.lock().await;
    let st = c.state();
    if st.removing || st.removed {
        return Err(ApiError::conflict(format!(
            "container is marked for removal and cannot be started: {}",
            c.id()
        )));
    }
    if st.running() {
        return no_content(StatusCode::NOT_MODIFIED);
    }
    match start_locked(d, &c).await {
        Ok(()) => {
            drop(guard);
            no_content(StatusCode::NO_CONTENT)
        }
        Err(failure) => {
            super::streams::drop_pending(d, c.id());
            let d2 = d.clone();
            let c2 = c.clone();
            let f2 = failure.clone();
            let _ =
                tokio::task::spawn_blocking(move || d2.containers.record_start_failure(&c2, f2))
                    .await;
            drop(guard);
            if c.record.host_config.auto_remove == Some(true) {
                let _ = remove_container(d, &c).await;
            }
            Err(start_error(&failure))
        }
    }
}

async fn start_locked(d: &Arc<Daemon>, c: &Arc<Container>) -> Result<(), StartFailure> {
    let engine = |e: String| StartFailure {
        exit_code: 125,
        error: e,
    };
    let image = d.images.resolve(&c.record.image_id).map_err(|e| {
        engine(format!(
            "image {} of container {}: {e}",
            c.record.image, c.record.name
        ))
    })?;
    let lower = d
        .images
        .layer_dirs(&image)
        .map_err(|e| engine(format!("layers of image {}: {e}", c.record.image)))?;
    let spec = build_spec(c, c.paths.lower_dirs(lower));
    write_spec(c, &spec)?;
    super::trace(|| format!("{}: spec written", c.short_id()));
    let shim = shim_client::spawn(&c.paths.dir)
        .await
        .map_err(|e| engine(format!("starting the shim of {}: {e}", c.record.name)))?;
    if let Some(err) = shim.ready.error.clone() {
        return Err(StartFailure {
            exit_code: shim.ready.exit_code.unwrap_or(125),
            error: err,
        });
    }
    let (pid, shim_pid) = (shim.ready.pid, shim.ready.shim_pid);
    super::trace(|| format!("{}: shim ready", c.short_id()));
    // Attach clients that arrived before start get their streams now, before
    // init runs, so no output is lost.
    super::streams::connect_pending(d, c).await;
    super::trace(|| format!("{}: attach connected", c.short_id()));
    // Taken before init is released: a container that is done at once
    // must never look finished before it started.
    let started_at = container::now_rfc3339();
    // Exec failures come back as errors carrying Docker's 126/127.
    let started = shim.start().await.map_err(|e| StartFailure {
        exit_code: e.exit_code(),
        error: e.to_string(),
    })?;
    if let Some(err) = started.error {
        return Err(StartFailure {
            exit_code: started.exit_code.unwrap_or(125),
            error: err,
        });
    }
    super::trace(|| format!("{}: started", c.short_id()));
    c.set_running(pid, shim_pid, started_at);
    spawn_monitor(d.clone(), c.clone());
    d.emit_container(c, "start", &[]);
    Ok(())
}

/// Follow a running container until it exits: update the state, emit `die`,
/// honour AutoRemove.
fn spawn_monitor(d: Arc<Daemon>, c: Arc<Container>) {
    tokio::spawn(async move {
        let (code, oom, finished, error) = wait_exit(&c).await;
        super::trace(|| format!("{}: exited {code}", c.short_id()));
        c.set_exited(code, oom, finished, error);
        if oom {
            d.emit_container(&c, "oom", &[]);
        }
        d.emit_container(&c, "die", &[("exitCode", code.to_string())]);
        if c.record.host_config.auto_remove == Some(true) {
            if let Err(e) = remove_container(&d, &c).await {
                eprintln!(
                    "whale daemon: auto-removing {}: {}",
                    c.record.name, e.message
                );
            }
        }
    });
}

/// containerd's UnknownExitStatus: what Docker reports when the process
/// that could have told us the real code is gone.
const UNKNOWN_EXIT: i32 = 255;
const SHIM_DIED: &str = "shim died";

async fn wait_exit(c: &Container) -> (i32, bool, String, String) {
    let socket = c.paths.socket();
    for _ in 0..3 {
        match shim_client::wait(&socket).await {
            Ok(e) => return (e.exit_code, e.oom_killed, e.finished_at, String::new()),
            Err(_) => {
                // A fast container's shim may have written its state and
                // left before we asked.
                if let Ok(Some(s)) = container::read_state(&c.paths) {
                    if s.status == container::state::RunStatus::Exited {
                        return (
                            s.exit_code.unwrap_or(UNKNOWN_EXIT),
                            s.oom_killed,
                            s.finished_at.unwrap_or_else(container::now_rfc3339),
                            s.error,
                        );
                    }
                }
                match shim_status(&socket).await {
                    // A live shim answers Wait again (at once if the
                    // container exited): ask it again.
                    ShimAnswer::Running(_) | ShimAnswer::Exited | ShimAnswer::Hung => continue,
                    ShimAnswer::Gone => break,
                }
            }
        }
    }
    orphaned_exit(c).await
}

/// The shim is gone without recording an exit: kill whatever is left in
/// the container's cgroup and record Docker's "unknown" exit.
async fn orphaned_exit(c: &Container) -> (i32, bool, String, String) {
    let cg = cgroup_path(c.id());
    let paths = c.paths.clone();
    let _ = tokio::task::spawn_blocking(move || {
        for pid in glue::container_pids(&cg).unwrap_or_default() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if let Ok(Some(prev)) = container::read_state(&paths) {
            let _ = container::write_orphaned_exit(&paths, &prev, UNKNOWN_EXIT, SHIM_DIED);
        }
    })
    .await;
    (
        UNKNOWN_EXIT,
        false,
        container::now_rfc3339(),
        SHIM_DIED.to_string(),
    )
}

enum ShimAnswer {
    /// With the host PID of the container's init.
    Running(i32),
    Exited,
    /// Nobody listens on the socket.
    Gone,
    /// Connected, but no answer in time.
    Hung,
}

/// Ask a shim how its container is, without letting a stuck shim stall the
/// daemon (its start, or a monitor).
async fn shim_status(socket: &std::path::Path) -> ShimAnswer {
    match tokio::time::timeout(Duration::from_secs(2), shim_client::status(socket)).await {
        Ok(Ok(st)) if st.running => ShimAnswer::Running(st.pid),
        Ok(Ok(_)) => ShimAnswer::Exited,
        Ok(Err(_)) => ShimAnswer::Gone,
        Err(_) => ShimAnswer::Hung,
    }
}

/// On daemon start: follow containers whose state says running, settle the
/// ones whose shim is gone, and finish AutoRemove of those that exited while
/// the daemon was away.
pub async fn readopt_all(d: &Arc<Daemon>) {
    // All at once: a hung shim costs its timeout once, not once per container.
    let all = d.containers.list().into_iter().map(|c| readopt(d, c));
    futures_util::future::join_all(all).await;
}

async fn readopt(d: &Arc<Daemon>, c: Arc<Container>) {
    let st = c.state();
    match st.status {
        Status::Running => match shim_status(&c.paths.socket()).await {
            // A hung shim may recover: follow it rather than declare the
            // container dead.
            ShimAnswer::Running(_) | ShimAnswer::Exited | ShimAnswer::Hung => {
                spawn_monitor(d.clone(), c.clone())
            }
            ShimAnswer::Gone => {
                let (code, oom, finished, error) = match container::read_state(&c.paths) {
                    Ok(Some(s)) if s.status == container::state::RunStatus::Exited => (
                        s.exit_code.unwrap_or(UNKNOWN_EXIT),
                        s.oom_killed,
                        s.finished_at.unwrap_or_else(container::now_rfc3339),
                        s.error,
                    ),
                    _ => orphaned_exit(&c).await,
                };
                c.set_exited(code, oom, finished, error);
                if c.record.host_config.auto_remove == Some(true) {
                    let _ = remove_container(d, &c).await;
                }
            }
        },
        // The shim records `running` a few ms after start (it spares
        // short runs an fsync): a daemon killed in that window finds no
        // state, but a socket with a live shim behind it.
        Status::Created if c.paths.socket().exists() => {
            let answer = shim_status(&c.paths.socket()).await;
            if !matches!(answer, ShimAnswer::Gone) {
                let (pid, shim_pid, started) = match container::read_state(&c.paths) {
                    Ok(Some(s)) => (s.pid, s.shim_pid, s.started_at),
                    _ => match answer {
                        ShimAnswer::Running(pid) => (pid, 0, container::now_rfc3339()),
                        _ => (0, 0, container::now_rfc3339()),
                    },
                };
                c.set_running(pid, shim_pid, started);
                spawn_monitor(d.clone(), c.clone());
            }
        }
        Status::Exited if c.record.host_config.auto_remove == Some(true) => {
            let _ = remove_container(d, &c).await;
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- signals

/// Linux signal numbers by name, as Docker's `signal.ParseSignal` accepts
/// them: `9`, `KILL`, `SIGKILL`, any case.
pub fn parse_signal(s: &str) -> Result<i32, ApiError> {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    let bad = || ApiError::bad_request(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(i) = NAMES.iter().position(|n| *n == name) {
        return Ok(i as i32 + 1);
    }
    match name {
        "IOT" => Ok(6),
        "POLL" => Ok(29),
        "CLD" => Ok(17),
        _ => {
            if let Some(off) = name.strip_prefix("RTMIN+") {
                let o: i32 = off.parse().map_err(|_| bad())?;
                if (0..=30).contains(&o) {
                    return Ok(34 + o);
                }
            }
            if let Some(off) = name.strip_prefix("RTMAX-") {
                let o: i32 = off.parse().map_err(|_| bad())?;
                if (0..=30).contains(&o) {
                    return Ok(64 - o);
                }
            }
            Err(bad())
        }
    }
}

async fn wait_not_running(c: &Container, timeout: Option<Duration>) -> bool {
    let mut rx = c.subscribe();
    let fut = rx.wait_for(|s| !s.running());
    match timeout {
        Some(t) => matches!(tokio::time::timeout(t, fut).await, Ok(Ok(_))),
        None => fut.await.is_ok(),
    }
}

async fn send_signal(d: &Daemon, c: &Container, sig: i32) -> Result<(), ApiError> {
    d.emit_container(c, "kill", &[("signal", sig.to_string())]);
    shim_client::signal(&c.paths.socket(), sig)
        .await
        .map_err(|e| ApiError::internal(format!("signalling container {}: {e}", c.record.name)))
}

async fn kill_and_wait(d: &Daemon, c: &Container) -> Result<(), ApiError> {
    // If the shim is already gone the monitor settles the state; wait for it.
    let _ = send_signal(d, c, 9).await;
    if wait_not_running(c, Some(KILL_GRACE)).await {
        Ok(())
    } else {
        Err(ApiError::internal(format!(
            "container {} did not exit {}s after SIGKILL",
            c.record.name,
            KILL_GRACE.as_secs()
        )))
    }
}

pub async fn stop(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    let _guard = c.op_lock.lock().await;
    if !c.state().running() {
        return no_content(StatusCode::NOT_MODIFIED);
    }
    stop_locked(d, &c, q).await?;
    no_content(StatusCode::NO_CONTENT)
}

/// `docker restart`: stop if running (same signal and timeout rules), start.
pub async fn restart(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    {
        let _guard = c.op_lock.lock().await;
        if c.state().running() {
            stop_locked(d, &c, q).await?;
        }
    }
    start(d, c.id()).await?;
    d.emit_container(&c, "restart", &[]);
    no_content(StatusCode::NO_CONTENT)
}

/// SIGTERM (or the stop signal), SIGKILL after the timeout; op_lock held.
async fn stop_locked(d: &Arc<Daemon>, c: &Container, q: &Query) -> Result<(), ApiError> {
    let configured = c
        .record
        .config
        .stop_signal
        .as_deref()
        .filter(|s| !s.is_empty());
    let sig = match q.get("signal").filter(|s| !s.is_empty()).or(configured) {
        Some(s) => parse_signal(s)?,
        None => 15,
    };
    let t = q.int("t")?.or(c.record.config.stop_timeout).unwrap_or(10);
    let sent = send_signal(d, c, sig).await;
    let timeout = (t >= 0).then(|| Duration::from_secs(t as u64));
    if sent.is_err() || !wait_not_running(c, timeout).await {
        kill_and_wait(d, c).await?;
    }
    d.emit_container(c, "stop", &[]);
    Ok(())
}

pub async fn kill(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    let _guard = c.op_lock.lock().await;
    let sig = parse_signal(
        q.get("signal")
            .filter(|s| !s.is_empty())
            .unwrap_or("SIGKILL"),
    )?;
    if !c.state().running() {
        return Err(ApiError::conflict(format!(
            "Cannot kill container: {id}: Container {} is not running",
            c.id()
        )));
    }
    if sig == 9 {
        kill_and_wait(d, &c).await?;
    } else {
        send_signal(d, &c, sig).await?;
    }
    no_content(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- wait / remove

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

pub fn wait(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    let cond = match q.get("condition").unwrap_or("") {
        "" | "not-running" => WaitCondition::NotRunning,
        "next-exit" => WaitCondition::NextExit,
        "removed" => WaitCondition::Removed,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid condition: {other:?}: use not-running, next-exit or removed"
            )))
        }
    };
    let mut rx = c.subscribe();
    let exits_before = rx.borrow().exits;
    let (tx, body) = Body::channel();
    tokio::spawn(async move {
        // `c` keeps the state channel open for as long as we wait.
        let _keep = c;
        let done = async {
            rx.wait_for(|s| match cond {
                WaitCondition::NotRunning => !s.running() || s.removed,
                WaitCondition::NextExit => s.exits > exits_before || s.removed,
                WaitCondition::Removed => s.removed,
            })
            .await
            .map(|s| s.clone())
        };
        let st = tokio::select! {
            r = done => match r { Ok(s) => s, Err(_) => return },
            _ = tx.closed() => return,
        };
        // Only a run that ended abnormally carries an error; a failed start
        // was already reported by /start (the CLI would print it twice).
        let error = if st.error.is_empty() || st.status != Status::Exited {
            serde_json::Value::Null
        } else {
            serde_json::json!({ "Message": st.error })
        };
        let line =
            serde_json::json!({ "StatusCode": st.exit_code, "Error": error }).to_string() + "\n";
        let _ = tx.send(line.into()).await;
    });
    Ok(response(StatusCode::OK, "application/json", body))
}

pub async fn remove_container(d: &Arc<Daemon>, c: &Arc<Container>) -> Result<(), ApiError> {
    if !c.begin_removal() {
        return Err(ApiError::conflict(format!(
            "removal of container {} is already in progress",
            c.record.name
        )));
    }
    super::streams::drop_pending(d, c.id());
    let d2 = d.clone();
    let c2 = c.clone();
    tokio::task::spawn_blocking(move || {
        // A shim removes its cgroup when its container exits; one that died
        // could not.
        if c2.state().error == SHIM_DIED {
            if let Err(e) = glue::remove_container_cgroup(&cgroup_path(c2.id())) {
                eprintln!(
                    "whale daemon: removing the cgroup of {}: {e}",
                    c2.record.name
                );
            }
        }
        let trash = d2.containers.remove(&c2)?;
        if let Some(dir) = trash {
            // The container is gone for every client already; its files
            // (the upper dir can be large) go in the background.
            tokio::task::spawn_blocking(move || container::purge(&dir));
        }
        Ok::<_, container::ContainerError>(())
    })
    .await
    .map_err(|e| ApiError::internal(format!("removing container {}: {e}", c.record.name)))??;
    super::trace(|| format!("{}: removed", c.short_id()));
    d.emit_container(c, "destroy", &[]);
    Ok(())
}

pub async fn delete(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    let _guard = c.op_lock.lock().await;
    if c.state().running() {
        if !q.bool("force") {
            return Err(ApiError::conflict(format!(
                "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                c.id()
            )));
        }
        kill_and_wait(d, &c).await?;
    }
    remove_container(d, &c).await?;
    no_content(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- inspect / list

/// A timestamp in whatever type bollard was built with (String, chrono or
/// time), parsed the way bollard itself parses it.
pub fn bollard_date(s: &str) -> Option<bollard::models::BollardDate> {
    serde_json::from_value::<ContainerInspectResponse>(serde_json::json!({ "Created": s }))
        .ok()
        .and_then(|r| r.created)
}

fn unix_secs(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

fn secs_since(rfc3339: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339?).ok()?;
    Some((now - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0)
}

/// The `Status` column: "Created", "Up 3 seconds", "Exited (0) 5 seconds ago".
pub fn status_string(st: &RunState, now: chrono::DateTime<chrono::Utc>) -> String {
    use crate::humanize::human_duration;
    if st.removing {
        return "Removal In Progress".to_string();
    }
    match st.status {
        Status::Created => "Created".to_string(),
        Status::Running => match secs_since(st.started_at.as_deref(), now) {
            Some(s) => format!("Up {}", human_duration(s)),
            None => "Up".to_string(),
        },
        Status::Exited => match secs_since(st.finished_at.as_deref(), now) {
            Some(s) => format!("Exited ({}) {} ago", st.exit_code, human_duration(s)),
            None => format!("Exited ({})", st.exit_code),
        },
    }
}

fn state_enum(st: &RunState) -> ContainerStateStatusEnum {
    if st.removing {
        return ContainerStateStatusEnum::REMOVING;
    }
    match st.status {
        Status::Created => ContainerStateStatusEnum::CREATED,
        Status::Running => ContainerStateStatusEnum::RUNNING,
        Status::Exited => ContainerStateStatusEnum::EXITED,
    }
}

fn summary_state(st: &RunState) -> ContainerSummaryStateEnum {
    if st.removing {
        return ContainerSummaryStateEnum::REMOVING;
    }
    match st.status {
        Status::Created => ContainerSummaryStateEnum::CREATED,
        Status::Running => ContainerSummaryStateEnum::RUNNING,
        Status::Exited => ContainerSummaryStateEnum::EXITED,
    }
}

/// The COMMAND of `ps` as Docker builds it: an argument with a space is
/// wrapped in single quotes (`sh -c 'echo hi; sleep 9'`), nothing else is.
fn command_line(r: &ContainerRecord) -> String {
    if r.args.is_empty() {
        return r.path.clone();
    }
    let args: Vec<String> = r
        .args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect();
    format!("{} {}", r.path, args.join(" "))
}

/// What Docker prints for a Config key the request left out.
#[derive(Clone, Copy)]
enum Unset {
    /// `omitempty`: the key is left out.
    Omit,
    EmptyString,
    False,
    Null,
    EmptyMap,
}

/// Docker's container Config, key by key in its order, with what it prints
/// when unset. A container created from a sparse JSON body (curl) then
/// inspects as on Docker, and `{{.Config.Tty}}` prints `false`, not
/// `<no value>`.
const CONFIG_KEYS: &[(&str, Unset)] = &[
    ("Hostname", Unset::EmptyString),
    ("Domainname", Unset::EmptyString),
    ("User", Unset::EmptyString),
    ("AttachStdin", Unset::False),
    ("AttachStdout", Unset::False),
    ("AttachStderr", Unset::False),
    ("ExposedPorts", Unset::Omit),
    ("Tty", Unset::False),
    ("OpenStdin", Unset::False),
    ("StdinOnce", Unset::False),
    ("Env", Unset::Null),
    ("Cmd", Unset::Null),
    ("Healthcheck", Unset::Omit),
    ("ArgsEscaped", Unset::Omit),
    ("Image", Unset::EmptyString),
    ("Volumes", Unset::Null),
    ("WorkingDir", Unset::EmptyString),
    ("Entrypoint", Unset::Null),
    ("NetworkDisabled", Unset::Omit),
    ("MacAddress", Unset::Omit),
    ("OnBuild", Unset::Null),
    ("Labels", Unset::EmptyMap),
    ("StopSignal", Unset::Omit),
    ("StopTimeout", Unset::Omit),
    ("Shell", Unset::Omit),
];

fn docker_config_shape(
    cfg: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (k, unset) in CONFIG_KEYS {
        let v = match (cfg.get(*k), unset) {
            (Some(v), _) => v.clone(),
            (None, Unset::Omit) => continue,
            (None, Unset::EmptyString) => serde_json::json!(""),
            (None, Unset::False) => serde_json::json!(false),
            (None, Unset::Null) => serde_json::Value::Null,
            (None, Unset::EmptyMap) => serde_json::json!({}),
        };
        out.insert(k.to_string(), v);
    }
    // Anything newer than this list keeps its value, after Docker's keys.
    for (k, v) in cfg {
        if !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

pub fn inspect(d: &Arc<Daemon>, id: &str) -> ApiResult {
    let c = d.containers.get(id)?;
    let r = &c.record;
    let st = c.state();
    let lower = d
        .images
        .resolve(&r.image_id)
        .and_then(|img| d.images.layer_dirs(&img))
        .map(|dirs| {
            c.paths
                .lower_dirs(dirs)
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap_or_default();
    let p = &c.paths;
    let graph = DriverData {
        name: "overlay2".to_string(),
        data: [
            ("LowerDir", lower),
            ("UpperDir", p.upper().display().to_string()),
            ("WorkDir", p.work().display().to_string()),
            ("MergedDir", p.merged().display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    };
    let body = ContainerInspectResponse {
        id: Some(r.id.clone()),
        created: bollard_date(&r.created),
        path: Some(r.path.clone()),
        args: Some(r.args.clone()),
        state: Some(ContainerState {
            status: Some(state_enum(&st)),
            running: Some(st.running()),
            paused: Some(false),
            restarting: Some(false),
            oom_killed: Some(st.oom_killed),
            dead: Some(false),
            pid: Some(st.pid as i64),
            exit_code: Some(st.exit_code as i64),
            error: Some(st.error.clone()),
            started_at: Some(
                st.started_at
                    .clone()
                    .unwrap_or_else(|| ZERO_TIME.to_string()),
            ),
            finished_at: Some(
                st.finished_at
                    .clone()
                    .unwrap_or_else(|| ZERO_TIME.to_string()),
            ),
            health: None,
        }),
        image: Some(r.image_id.clone()),
        resolv_conf_path: Some(String::new()),
        hostname_path: Some(String::new()),
        hosts_path: Some(String::new()),
        log_path: Some(p.log().display().to_string()),
        name: Some(format!("/{}", r.name)),
        restart_count: Some(0),
        driver: Some("overlay2".to_string()),
        platform: Some("linux".to_string()),
        mount_label: Some(String::new()),
        process_label: Some(String::new()),
        app_armor_profile: Some(String::new()),
        exec_ids: None,
        host_config: Some(r.host_config.clone()),
        graph_driver: Some(graph),
        mounts: Some(vec![]),
        config: Some(r.config.clone()),
        // Serialized last, below, with the fields bollard no longer has.
        network_settings: None,
        ..Default::default()
    };
    // serde_json keeps keys in insertion order (preserve_order): bollard's
    // field order, which is Docker's.
    let mut v = serde_json::to_value(&body)
        .map_err(|e| ApiError::internal(format!("encoding the container: {e}")))?;
    if let Some(cfg) = v.get_mut("Config").and_then(|c| c.as_object_mut()) {
        *cfg = docker_config_shape(cfg);
    }
    if let Some(o) = v.as_object_mut() {
        // Docker prints ExecIDs (null when none) just before HostConfig.
        let ids = d.execs.unfinished_of(c.id());
        let ids = if ids.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!(ids)
        };
        let at = o.keys().position(|k| k == "HostConfig").unwrap_or(o.len());
        o.shift_insert(at, "ExecIDs".to_string(), ids);
    }
    if let Some(hc) = v.get_mut("HostConfig").and_then(|h| h.as_object_mut()) {
        // Docker prints every resource field, zero when unset, and templates
        // such as `{{.HostConfig.Memory}}` rely on it.
        for (k, val) in [
            ("Memory", serde_json::json!(0)),
            ("MemorySwap", serde_json::json!(0)),
            ("MemoryReservation", serde_json::json!(0)),
            ("NanoCpus", serde_json::json!(0)),
            ("CpuShares", serde_json::json!(0)),
            ("CpuPeriod", serde_json::json!(0)),
            ("CpuQuota", serde_json::json!(0)),
            ("PidsLimit", serde_json::Value::Null),
            ("Privileged", serde_json::json!(false)),
            ("ReadonlyRootfs", serde_json::json!(false)),
            ("Binds", serde_json::Value::Null),
            (
                "RestartPolicy",
                serde_json::json!({"Name": "no", "MaximumRetryCount": 0}),
            ),
        ] {
            hc.entry(k).or_insert(val);
        }
    }
    let ns = serde_json::to_value(LegacyNetworkSettings::for_host_config(&r.host_config))
        .map_err(|e| ApiError::internal(format!("encoding the container: {e}")))?;
    if let Some(o) = v.as_object_mut() {
        // Last, as Docker prints it.
        o.insert("NetworkSettings".to_string(), ns);
    }
    json(StatusCode::OK, &v)
}

/// NetworkSettings in Docker's order, with the pre-1.44 top-level fields
/// that templates still read (`{{.NetworkSettings.IPAddress}}`), empty as
/// for Docker's `none`.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyNetworkSettings {
    bridge: String,
    #[serde(rename = "SandboxID")]
    sandbox_id: String,
    hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    link_local_ipv6_prefix_len: u8,
    ports: HashMap<String, serde_json::Value>,
    sandbox_key: String,
    #[serde(rename = "EndpointID")]
    endpoint_id: String,
    gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    global_ipv6_prefix_len: u8,
    #[serde(rename = "IPAddress")]
    ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    ipv6_gateway: String,
    mac_address: String,
    networks: HashMap<String, bollard::models::EndpointSettings>,
}

impl LegacyNetworkSettings {
    fn for_host_config(hc: &HostConfig) -> Self {
        LegacyNetworkSettings {
            bridge: String::new(),
            sandbox_id: String::new(),
            hairpin_mode: false,
            link_local_ipv6_address: String::new(),
            link_local_ipv6_prefix_len: 0,
            ports: HashMap::new(),
            sandbox_key: String::new(),
            endpoint_id: String::new(),
            gateway: String::new(),
            global_ipv6_address: String::new(),
            global_ipv6_prefix_len: 0,
            ip_address: String::new(),
            ip_prefix_len: 0,
            ipv6_gateway: String::new(),
            mac_address: String::new(),
            networks: networks(hc),
        }
    }
}

/// The one network a container is on: the host's, or none (its own
/// namespace with only loopback, which is what Docker calls `none`).
fn networks(hc: &HostConfig) -> HashMap<String, bollard::models::EndpointSettings> {
    let name = if hc.network_mode.as_deref() == Some("host") {
        "host"
    } else {
        "none"
    };
    let endpoint = bollard::models::EndpointSettings {
        network_id: Some(String::new()),
        endpoint_id: Some(String::new()),
        gateway: Some(String::new()),
        ip_address: Some(String::new()),
        ip_prefix_len: Some(0),
        ipv6_gateway: Some(String::new()),
        global_ipv6_address: Some(String::new()),
        global_ipv6_prefix_len: Some(0),
        mac_address: Some(String::new()),
        ..Default::default()
    };
    HashMap::from([(name.to_string(), endpoint)])
}

fn name_matches(name: &str, pattern: &str) -> bool {
    // Docker treats the value as a regexp on "/name"; anchors are what
    // scripts use (`^/web$`), plain substrings are the common case.
    let full = format!("/{name}");
    let (anchored_start, p) = match pattern.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let (anchored_end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    let candidates = [full.as_str(), name];
    candidates
        .iter()
        .any(|n| match (anchored_start, anchored_end) {
            (true, true) => *n == p,
            (true, false) => n.starts_with(p),
            (false, true) => n.ends_with(p),
            (false, false) => n.contains(p),
        })
}

fn matches_filters(
    d: &Daemon,
    c: &Container,
    st: &RunState,
    f: &Filters,
    ancestors: &[String],
) -> bool {
    let any = |k: &str, pred: &dyn Fn(&str) -> bool| {
        f.get(k).is_none_or(|vals| vals.iter().any(|v| pred(v)))
    };
    let r = &c.record;
    let labels = r.config.labels.clone().unwrap_or_default();
    let _ = d;
    any("id", &|v| r.id.starts_with(v))
        && any("name", &|v| name_matches(&r.name, v))
        && any("status", &|v| {
            v == state_enum(st).to_string() || (v == "removing" && st.removing)
        })
        && any("exited", &|v| {
            st.status == Status::Exited && v.parse::<i32>().ok() == Some(st.exit_code)
        })
        && f.get("label").is_none_or(|vals| {
            // Every label filter must hold (Docker ANDs them).
            vals.iter().all(|v| match v.split_once('=') {
                Some((k, val)) => labels.get(k).map(String::as_str) == Some(val),
                None => labels.contains_key(v.as_str()),
            })
        })
        && (f.get("ancestor").is_none()
            || ancestors.iter().any(|a| *a == r.image_id || *a == r.image))
}

pub fn list(d: &Arc<Daemon>, q: &Query) -> ApiResult {
    let f = q.filters()?;
    f.only(&["id", "name", "status", "label", "ancestor", "exited"])?;
    let limit = q.int("limit")?.filter(|l| *l > 0);
    let all = q.bool("all") || limit.is_some();
    let mut ancestors = Vec::new();
    for a in f.get("ancestor").unwrap_or(&[]) {
        ancestors.push(a.clone());
        if let Ok(img) = d.images.resolve(a) {
            ancestors.push(glue::image_id(&img));
        }
    }
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for c in d.containers.list() {
        let st = c.state();
        if st.removed || (!all && !st.running()) {
            continue;
        }
        if !matches_filters(d, &c, &st, &f, &ancestors) {
            continue;
        }
        let r = &c.record;
        out.push(ContainerSummary {
            id: Some(r.id.clone()),
            names: Some(vec![format!("/{}", r.name)]),
            image: Some(r.image.clone()),
            image_id: Some(r.image_id.clone()),
            command: Some(command_line(r)),
            created: Some(unix_secs(&r.created)),
            ports: Some(vec![]),
            labels: Some(r.config.labels.clone().unwrap_or_default()),
            state: Some(summary_state(&st)),
            status: Some(status_string(&st, now)),
            host_config: Some(ContainerSummaryHostConfig {
                network_mode: r.host_config.network_mode.clone(),
                annotations: None,
            }),
            network_settings: Some(ContainerSummaryNetworkSettings {
                networks: Some(networks(&r.host_config)),
            }),
            mounts: Some(vec![]),
            ..Default::default()
        });
        if limit.is_some_and(|l| out.len() as i64 >= l) {
            break;
        }
    }
    json(StatusCode::OK, &out)
}

/// `docker container prune`: remove every container that is not running.
pub async fn prune(d: &Arc<Daemon>, q: &Query) -> ApiResult {
    let f = q.filters()?;
    f.only(&["label", "until"])?;
    let until = f
        .get("until")
        .and_then(|v| v.first())
        .map(|v| super::events::parse_timestamp(v))
        .transpose()?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0i64;
    for c in d.containers.list() {
        let st = c.state();
        if st.running() || st.removing || st.removed {
            continue;
        }
        let created = chrono::DateTime::parse_from_rfc3339(&c.record.created)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(0);
        if until.is_some_and(|u| created > u) {
            continue;
        }
        let labels = c.record.config.labels.clone().unwrap_or_default();
        let labelled = f.get("label").is_none_or(|vals| {
            vals.iter().all(|v| match v.split_once('=') {
                Some((k, val)) => labels.get(k).map(String::as_str) == Some(val),
                None => labels.contains_key(v.as_str()),
            })
        });
        if !labelled {
            continue;
        }
        let _guard = c.op_lock.lock().await;
        if c.state().running() {
            continue;
        }
        // What the container wrote is what removing it gives back.
        let upper = c.paths.upper();
        let bytes = tokio::task::spawn_blocking(move || super::images_io::dir_size(&upper))
            .await
            .unwrap_or(0);
        if remove_container(d, &c).await.is_ok() {
            deleted.push(c.id().to_string());
            reclaimed += bytes;
        }
    }
    json(
        StatusCode::OK,
        &bollard::models::ContainerPruneResponse {
            containers_deleted: Some(deleted),
            space_reclaimed: Some(reclaimed),
        },
    )
}

// ---------------------------------------------------------------- top / resize

fn running_container(d: &Daemon, id: &str) -> Result<Arc<Container>, ApiError> {
    let c = d.containers.get(id)?;
    if !c.state().running() {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            c.id()
        )));
    }
    Ok(c)
}

pub async fn top(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = running_container(d, id)?;
    let cg = cgroup_path(c.id());
    let ps_args = q.get("ps_args").unwrap_or("").trim().to_string();
    let name = c.record.name.clone();
    let (titles, rows) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let mut pids = glue::container_pids(&cg)
            .map_err(|e| ApiError::internal(format!("listing the processes of {name}: {e}")))?;
        pids.sort_unstable();
        if ps_args.is_empty() {
            let titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];
            return Ok((
                titles.iter().map(|s| s.to_string()).collect(),
                super::streams::ps_rows(&pids),
            ));
        }
        // Docker runs the host's ps with the given options and keeps the
        // rows of the container's processes.
        let out = std::process::Command::new("ps")
            .args(ps_args.split_whitespace())
            .output()
            .map_err(|e| ApiError::internal(format!("running ps {ps_args}: {e}")))?;
        if !out.status.success() {
            return Err(ApiError::internal(format!(
                "ps {ps_args} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    })
    .await
    .map_err(|e| ApiError::internal(format!("listing processes: {e}")))??;
    let body = ContainerTopResponse {
        titles: Some(titles),
        processes: Some(rows),
    };
    json(StatusCode::OK, &body)
}

/// Docker's parsing of `ps` output: the header gives the titles, the last
/// column takes the rest of the line, rows are kept when their PID is one
/// of `pids`.
pub fn parse_ps(output: &str, pids: &[i32]) -> Result<(Vec<String>, Vec<Vec<String>>), ApiError> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect();
    let pid_col = titles.iter().position(|t| t == "PID").ok_or_else(|| {
        ApiError::internal("Couldn't find PID field in ps output: give ps options that print PID")
    })?;
    let mut rows = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<i32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|s| s.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        rows.push(row);
    }
    Ok((titles, rows))
}

pub async fn resize(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = running_container(d, id)?;
    let h = q.int("h")?.unwrap_or(0);
    let w = q.int("w")?.unwrap_or(0);
    if !(0..=u16::MAX as i64).contains(&h) || !(0..=u16::MAX as i64).contains(&w) {
        return Err(ApiError::bad_request(format!("invalid size {h}x{w}")));
    }
    shim_client::resize(&c.paths.socket(), h as u16, w as u16)
        .await
        .map_err(|e| ApiError::internal(format!("resizing the tty of {}: {e}", c.record.name)))?;
    no_content(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|x| x.to_string()).collect())
    }

    fn image() -> RunConfig {
        RunConfig {
            cmd: s(&["sh"]),
            entrypoint: None,
            env: s(&["PATH=/img/bin", "A=image"]),
            working_dir: "/srv".into(),
            user: "nobody".into(),
            labels: Some([("l".to_string(), "image".to_string())].into()),
            exposed_ports: None,
            stop_signal: Some("SIGQUIT".into()),
        }
    }

    #[test]
    fn ps_command_quotes_args_with_spaces_as_docker() {
        let mut r = ContainerRecord {
            id: "a".repeat(64),
            name: "t".into(),
            created: "2026-01-01T00:00:00Z".into(),
            image_id: "sha256:x".into(),
            image: "busybox".into(),
            path: "sh".into(),
            args: vec!["-c".into(), "echo hello from curl; sleep 3600".into()],
            config: ContainerConfig::default(),
            host_config: HostConfig::default(),
            start_failure: None,
        };
        assert_eq!(command_line(&r), "sh -c 'echo hello from curl; sleep 3600'");
        r.args = vec![];
        assert_eq!(command_line(&r), "sh");
        r.args = vec!["1000".into()];
        assert_eq!(command_line(&r), "sh 1000");
    }

    #[test]
    fn sparse_config_inspects_with_docker_keys_in_order() {
        // What `curl -d '{"Image":"busybox","Cmd":["sh"],"Labels":{..}}'` stores.
        let cfg = serde_json::json!({
            "Hostname": "c2946d0c60e9", "Cmd": ["sh"], "Image": "busybox",
            "Labels": {"made-by": "curl"}, "StopSignal": "SIGQUIT"
        });
        let out = docker_config_shape(cfg.as_object().unwrap());
        let keys: Vec<&str> = out.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Hostname",
                "Domainname",
                "User",
                "AttachStdin",
                "AttachStdout",
                "AttachStderr",
                "Tty",
                "OpenStdin",
                "StdinOnce",
                "Env",
                "Cmd",
                "Image",
                "Volumes",
                "WorkingDir",
                "Entrypoint",
                "OnBuild",
                "Labels",
                "StopSignal"
            ]
        );
        assert_eq!(out["Tty"], serde_json::json!(false));
        assert_eq!(out["Labels"], serde_json::json!({"made-by": "curl"}));
        assert_eq!(out["Entrypoint"], serde_json::Value::Null);
    }

    #[test]
    fn merge_takes_image_defaults() {
        let m = merge_image_config(ContainerConfig::default(), &image());
        assert_eq!(m.cmd, s(&["sh"]));
        assert_eq!(m.entrypoint, None);
        assert_eq!(m.env, s(&["PATH=/img/bin", "A=image"]));
        assert_eq!(m.working_dir.as_deref(), Some("/srv"));
        assert_eq!(m.user.as_deref(), Some("nobody"));
        assert_eq!(m.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(path_and_args(&m).unwrap(), ("sh".to_string(), vec![]));
    }

    #[test]
    fn merge_request_wins() {
        let req = ContainerConfig {
            cmd: s(&["echo", "hi"]),
            env: s(&["A=mine", "B=1"]),
            user: Some("0".into()),
            ..Default::default()
        };
        let m = merge_image_config(req, &image());
        assert_eq!(m.cmd, s(&["echo", "hi"]));
        assert_eq!(m.env, s(&["A=mine", "B=1", "PATH=/img/bin"]));
        assert_eq!(m.user.as_deref(), Some("0"));
    }

    #[test]
    fn entrypoint_in_request_drops_image_cmd() {
        let mut img = image();
        img.entrypoint = s(&["/entry"]);
        let m = merge_image_config(
            ContainerConfig {
                entrypoint: s(&["/bin/date"]),
                ..Default::default()
            },
            &img,
        );
        assert_eq!(
            (m.entrypoint.clone(), m.cmd.clone()),
            (s(&["/bin/date"]), None)
        );
        assert_eq!(path_and_args(&m).unwrap().0, "/bin/date");
        // Image entrypoint + request cmd.
        let m = merge_image_config(
            ContainerConfig {
                cmd: s(&["-x"]),
                ..Default::default()
            },
            &img,
        );
        assert_eq!(
            path_and_args(&m).unwrap(),
            ("/entry".to_string(), vec!["-x".to_string()])
        );
        // `--entrypoint ""` clears the image's and runs the image's Cmd.
        let m = merge_image_config(
            ContainerConfig {
                entrypoint: s(&[""]),
                ..Default::default()
            },
            &img,
        );
        assert_eq!(path_and_args(&m).unwrap().0, "sh");
    }

    #[test]
    fn no_command_is_an_error() {
        let mut img = image();
        img.cmd = None;
        let m = merge_image_config(ContainerConfig::default(), &img);
        assert_eq!(
            path_and_args(&m).unwrap_err().message,
            "No command specified"
        );
    }

    #[test]
    fn env_defaults() {
        let e = container_env(&["A=1".into(), "PATH=/x".into()], "abc", true);
        assert_eq!(
            e,
            ["PATH=/x", "HOSTNAME=abc", "TERM=xterm", "A=1", "HOME=/root"]
        );
        let e = container_env(&["HOME=/h".into(), "HOSTNAME".into()], "abc", false);
        assert_eq!(e, [format!("PATH={DEFAULT_PATH}"), "HOME=/h".to_string()]);
    }

    #[test]
    fn status_strings_read_like_docker() {
        let now = chrono::Utc::now();
        let ago = |secs: i64| (now - chrono::Duration::seconds(secs)).to_rfc3339();
        let mut st = RunState {
            status: Status::Created,
            pid: 0,
            shim_pid: 0,
            started_at: None,
            finished_at: None,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            exits: 0,
            removed: false,
            removing: false,
        };
        assert_eq!(status_string(&st, now), "Created");
        st.status = Status::Running;
        st.started_at = Some(ago(3));
        assert_eq!(status_string(&st, now), "Up 3 seconds");
        st.status = Status::Exited;
        st.exit_code = 137;
        st.finished_at = Some(ago(5));
        assert_eq!(status_string(&st, now), "Exited (137) 5 seconds ago");
        st.finished_at = Some(ago(2 * 3600));
        assert_eq!(status_string(&st, now), "Exited (137) 2 hours ago");
    }

    #[test]
    fn signals_parse_like_docker() {
        for (s, n) in [
            ("9", 9),
            ("KILL", 9),
            ("SIGKILL", 9),
            ("sigterm", 15),
            ("HUP", 1),
            ("SIGRTMIN+1", 35),
            ("SIGWINCH", 28),
        ] {
            assert_eq!(parse_signal(s).unwrap(), n, "{s}");
        }
        for bad in ["0", "65", "SIGNOPE", "", "RTMIN+99"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ps_output_is_filtered_by_pid() {
        let out = "  PID USER     COMMAND\n    1 root     init\n   42 root     sleep 100\n   43 bob      sh -c x\n";
        let (titles, rows) = parse_ps(out, &[42, 43]).unwrap();
        assert_eq!(titles, ["PID", "USER", "COMMAND"]);
        assert_eq!(
            rows,
            [
                vec!["42", "root", "sleep 100"],
                vec!["43", "bob", "sh -c x"]
            ]
        );
        assert!(parse_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }

    #[test]
    fn names_filter_anchors() {
        assert!(name_matches("web", "web"));
        assert!(name_matches("web1", "eb"));
        assert!(name_matches("web", "^/web$"));
        assert!(name_matches("web", "^web$"));
        assert!(!name_matches("web1", "^/web$"));
    }

    #[test]
    fn image_refs_normalize() {
        assert_eq!(normalize_ref("localhost:5000/x"), "localhost:5000/x:latest");
    }

    #[test]
    fn host_config_validation() {
        let mut hc = HostConfig::default();
        validate_host_config(&mut hc).unwrap();
        assert_eq!(hc.network_mode.as_deref(), Some("default"));
        hc.memory = Some(1024);
        assert_eq!(
            validate_host_config(&mut hc).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        let mut hc = HostConfig {
            network_mode: Some("mynet".into()),
            ..Default::default()
        };
        assert_eq!(
            validate_host_config(&mut hc).unwrap_err().status,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn bollard_dates_roundtrip() {
        let d = bollard_date("2024-01-02T03:04:05.123456789Z");
        assert!(d.is_some());
    }
}
