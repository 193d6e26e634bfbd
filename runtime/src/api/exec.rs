//! `docker exec`: `POST /containers/{id}/exec`, `POST /exec/{id}/start`
//! (hijacked like attach), `POST /exec/{id}/resize`, `GET /exec/{id}/json`.
//!
//! The daemon only keeps the exec's record; the container runs the
//! process (see `container::exec`) and tells its exit.

use super::http::{json, no_content, response, ApiError, ApiResult, Body, Query};
use super::streams::{relay, upgrade_response, RAW_STREAM};
use super::Daemon;
use crate::container::exec::{self as container_exec, ExecRequest, StartFailure};
use crate::container::fields;
use crate::container::Container;
use bollard::models::{ExecConfig, ExecInspectResponse, ExecStartConfig, ProcessConfig};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::UPGRADE;
use hyper::{Request, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use whale_formats::detach_keys::parse_detach_keys;

const MAX_BODY: usize = 1 << 20;
/// Finished execs kept for inspection, at most (Docker drops them with the
/// container; a long-lived daemon must not grow without bound).
const MAX_FINISHED: usize = 1024;

/// Every exec the daemon knows, by id.
#[derive(Default)]
pub struct Execs(Mutex<HashMap<String, Arc<Exec>>>);

impl Execs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Exec>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, id: &str) -> Result<Arc<Exec>, ApiError> {
        self.lock()
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
    }

    /// What Docker's inspect lists as `ExecIDs`: the container's execs
    /// that have not finished (created or running), sorted (Docker's order
    /// is a map's: unspecified).
    pub fn unfinished_of(&self, container_id: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .lock()
            .values()
            .filter(|e| e.container.id() == container_id && e.state().exit_code.is_none())
            .map(|e| e.id.clone())
            .collect();
        ids.sort();
        ids
    }

    fn insert(&self, e: Arc<Exec>) {
        let mut map = self.lock();
        // Execs of removed containers can never be started or resized again.
        map.retain(|_, e| !e.container.state().removed);
        if map.len() >= MAX_FINISHED {
            let done: Vec<String> = map
                .iter()
                .filter(|(_, e)| e.state().exit_code.is_some())
                .map(|(k, _)| k.clone())
                .collect();
            for k in done.iter().take(map.len() / 2) {
                map.remove(k);
            }
        }
        map.insert(e.id.clone(), e);
    }
}

#[derive(Debug, Clone, Default)]
struct ExecState {
    started: bool,
    running: bool,
    pid: i32,
    exit_code: Option<i32>,
}

pub struct Exec {
    id: String,
    container: Arc<Container>,
    config: ExecConfig,
    state: Mutex<ExecState>,
}

impl Exec {
    fn state(&self) -> ExecState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn update(&self, f: impl FnOnce(&mut ExecState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }
    fn tty(&self) -> bool {
        self.config.tty.unwrap_or(false)
    }
}

/// Read a JSON body, refusing (400) any field whale would otherwise ignore
/// (`check`, from container::fields), then decode it.
async fn read_json<T: serde::de::DeserializeOwned + Default>(
    req: Request<Incoming>,
    check: fn(&serde_json::Value) -> Result<(), String>,
    table: &[fields::Field],
) -> Result<T, ApiError> {
    let bytes = http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?
        .to_bytes();
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    let mut value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON in the request body: {e}")))?;
    fields::canonical_keys(&mut value, table);
    check(&value).map_err(ApiError::bad_request)?;
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON in the request body: {e}")))
}

fn not_running(c: &Container) -> ApiError {
    ApiError::conflict(format!("Container {} is not running", c.id()))
}

/// `POST /containers/{id}/exec`.
pub async fn create(d: &Arc<Daemon>, id: &str, req: Request<Incoming>) -> ApiResult {
    let c = d.containers.get(id)?;
    let config: ExecConfig = read_json(req, fields::check_exec, fields::EXEC).await?;
    if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    if let Some(keys) = config.detach_keys.as_deref().filter(|k| !k.is_empty()) {
        if parse_detach_keys(keys).is_none() {
            return Err(ApiError::bad_request(format!(
                "Invalid detach keys ({keys}) provided"
            )));
        }
    }
    let st = c.state();
    if !st.running() {
        return Err(not_running(&c));
    }
    if st.paused {
        return Err(crate::container::ContainerError::PausedExec(id.to_string()).into());
    }
    let exec_id = crate::container::new_id();
    let cmd = config.cmd.clone().unwrap_or_default().join(" ");
    d.execs.insert(Arc::new(Exec {
        id: exec_id.clone(),
        container: c.clone(),
        config,
        state: Mutex::new(ExecState::default()),
    }));
    d.emit_container(
        &c,
        &format!("exec_create: {cmd}"),
        &[("execID", exec_id.clone())],
    );
    json(StatusCode::CREATED, &serde_json::json!({ "Id": exec_id }))
}

/// What the shim runs: the container's environment, user and directory,
/// overridden by the exec's (Docker's rules).
fn exec_request(e: &Exec, console_size: Option<Vec<usize>>) -> ExecRequest {
    let cfg = &e.container.record.config;
    let x = &e.config;
    let hostname = cfg
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| e.container.short_id().to_string());
    let mut env = cfg.env.clone().unwrap_or_default();
    env.extend(x.env.clone().unwrap_or_default());
    let size = console_size
        .or_else(|| x.console_size.clone())
        .and_then(|s| match s.as_slice() {
            [h, w] if *h > 0 && *w > 0 => Some((
                (*h).min(u16::MAX as usize) as u16,
                (*w).min(u16::MAX as usize) as u16,
            )),
            _ => None,
        });
    let pick = |mine: &Option<String>, theirs: &Option<String>| {
        mine.clone()
            .filter(|s| !s.is_empty())
            .or_else(|| theirs.clone())
            .unwrap_or_default()
    };
    ExecRequest {
        id: e.id.clone(),
        args: x.cmd.clone().unwrap_or_default(),
        env: crate::container::container_env(&env, &hostname, e.tty()),
        cwd: pick(&x.working_dir, &cfg.working_dir),
        user: pick(&x.user, &cfg.user),
        tty: e.tty(),
        stdin: x.attach_stdin.unwrap_or(false),
        stdout: x.attach_stdout.unwrap_or(false),
        stderr: x.attach_stderr.unwrap_or(false),
        console_size: size,
        detach_keys: x.detach_keys.as_deref().and_then(parse_detach_keys),
        privileged: x.privileged.unwrap_or(false),
    }
}

/// Follow the exec to its end and record the exit code (before the
/// client's stream is closed: the docker CLI inspects the exec right after).
fn spawn_waiter(d: &Arc<Daemon>, e: &Arc<Exec>) -> tokio::task::JoinHandle<()> {
    let (d, e) = (d.clone(), e.clone());
    tokio::spawn(async move {
        let code = container_exec::wait(&e.container, &e.id).await;
        e.update(|s| {
            s.running = false;
            s.exit_code = Some(code);
        });
        d.emit_container(
            &e.container,
            "exec_die",
            &[("execID", e.id.clone()), ("exitCode", code.to_string())],
        );
    })
}

/// `POST /exec/{id}/start`.
///
/// As dockerd: the hijacked connection's `101` goes out before the process
/// starts, so its first output never shares a read with the response head
/// (docker-py reads the stream from the socket under its buffered reader,
/// and lost output that arrived with the head). A client that asks for no
/// upgrade gets `200` and the output as the body. The stream is framed
/// unless the start body says `Tty: true`, whatever the exec was created
/// with, as dockerd decides.
pub async fn start(d: &Arc<Daemon>, id: &str, mut req: Request<Incoming>) -> ApiResult {
    let e = d.execs.get(id)?;
    let upgrade = req.headers().contains_key(UPGRADE);
    let grace = hijack_grace(&req);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let start: ExecStartConfig =
        read_json(req, fields::check_exec_start, fields::EXEC_START).await?;
    {
        let mut st = e.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.started {
            return Err(ApiError::conflict(format!(
                "Error: Exec command {id} is already running"
            )));
        }
        st.started = true;
    }
    let c = e.container.clone();
    if !c.state().running() {
        e.update(|s| s.exit_code = Some(126));
        return Err(not_running(&c));
    }
    let mut request = exec_request(&e, start.console_size.clone());
    let raw = start.tty.unwrap_or(false);
    // A terminal's output is raw bytes from the shim: framed here when the
    // client asked for frames.
    let frame_tty = e.tty() && !raw;
    if start.detach.unwrap_or(false) {
        // Nobody reads its output: Docker drops it too.
        request.stdin = false;
        request.stdout = false;
        request.stderr = false;
        let (_, stream) = launch(d, &e, request)
            .await
            .map_err(|f| ApiError::internal(f.message))?;
        drop(stream);
        return no_content(StatusCode::OK);
    }
    if !upgrade {
        // No stdin without a hijacked connection.
        request.stdin = false;
        let (tx, body) = Body::channel();
        let (d, e) = (d.clone(), e.clone());
        tokio::spawn(async move {
            let (client, mut out) = match UnixStream::pair() {
                Ok(p) => p,
                Err(_) => return,
            };
            let finished = pipe_exec(&d, &e, request, frame_tty, raw, client, None);
            let forward = async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match out.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            };
            tokio::join!(finished, forward);
        });
        return Ok(response(StatusCode::OK, RAW_STREAM, body));
    }
    let stdin = e.config.attach_stdin.unwrap_or(false);
    let (d, e2) = (d.clone(), e.clone());
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        tokio::time::sleep(grace).await;
        pipe_exec(&d, &e2, request, frame_tty, raw, io, Some(stdin)).await;
    });
    Ok(upgrade_response(raw))
}

/// How long to wait, after the `101` is out, before the process starts.
/// docker-py reads the hijacked stream from the socket beneath the buffered
/// reader that read the response head, so output that arrives together with
/// the head is lost (measured: 2 of 100 `exec_run`s on a loaded machine).
/// dockerd never shows it because its execs take tens of milliseconds to
/// start; whale's take one, so docker-py gets dockerd's pace. No other
/// client pays for it.
pub(super) fn hijack_grace(req: &Request<Incoming>) -> std::time::Duration {
    let docker_py = req
        .headers()
        .get(hyper::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("docker-sdk-python/"));
    std::time::Duration::from_millis(if docker_py { 50 } else { 0 })
}

/// Start the exec and record it running; its stream and exit waiter.
async fn launch(
    d: &Arc<Daemon>,
    e: &Arc<Exec>,
    request: ExecRequest,
) -> Result<(UnixStream, tokio::task::JoinHandle<()>), StartFailure> {
    let cmd = request.args.join(" ");
    match container_exec::start(&e.container, request).await {
        Ok((pid, stream)) => {
            e.update(|s| {
                s.running = true;
                s.pid = pid;
            });
            d.emit_container(
                &e.container,
                &format!("exec_start: {cmd}"),
                &[("execID", e.id.clone())],
            );
            Ok((stream, spawn_waiter(d, e)))
        }
        Err(f) => {
            e.update(|s| s.exit_code = Some(f.exit_code));
            Err(f)
        }
    }
}

/// Start the exec and relay it to `client` until it ends. A failure to
/// start is told on the stream, as Docker does (the exit code is the
/// exec's). `stdin` is whether to take input from the client (None: never).
async fn pipe_exec<C>(
    d: &Arc<Daemon>,
    e: &Arc<Exec>,
    request: ExecRequest,
    frame_tty: bool,
    raw: bool,
    mut client: C,
    stdin: Option<bool>,
) where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (stream, waiter) = match launch(d, e, request).await {
        Ok(started) => started,
        Err(StartFailure { message, .. }) => {
            let text = format!("{message}\r\n");
            let bytes = if raw {
                text.into_bytes()
            } else {
                super::streams::frame(1, text.as_bytes())
            };
            let _ = client.write_all(&bytes).await;
            let _ = client.shutdown().await;
            return;
        }
    };
    let stream = if frame_tty {
        match super::streams::framed_as_stdout(stream) {
            Ok(s) => s,
            Err(_) => return,
        }
    } else {
        stream
    };
    // The exit code is recorded before the client's stream ends (the
    // docker CLI inspects the exec right after); a detached client's
    // stream ends while the process runs: it is not held open until then.
    let recorded = async move {
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), waiter).await;
    };
    relay(client, stream, stdin.unwrap_or(false), recorded).await;
}

/// `POST /exec/{id}/resize?h=&w=`.
pub async fn resize(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let e = d.execs.get(id)?;
    let h = q.int("h")?.unwrap_or(0);
    let w = q.int("w")?.unwrap_or(0);
    if !(0..=u16::MAX as i64).contains(&h) || !(0..=u16::MAX as i64).contains(&w) {
        return Err(ApiError::bad_request(format!("invalid size {h}x{w}")));
    }
    if !e.state().running {
        return Err(ApiError::conflict(format!("Exec {id} is not running")));
    }
    container_exec::resize(&e.container, &e.id, h as u16, w as u16)
        .await
        .map_err(|err| ApiError::internal(format!("resizing the tty of exec {id}: {err}")))?;
    no_content(StatusCode::OK)
}

/// `GET /exec/{id}/json`.
pub fn inspect(d: &Arc<Daemon>, id: &str) -> ApiResult {
    let e = d.execs.get(id)?;
    let st = e.state();
    let x = &e.config;
    let mut args = x.cmd.clone().unwrap_or_default();
    let entrypoint = if args.is_empty() {
        String::new()
    } else {
        args.remove(0)
    };
    let body = ExecInspectResponse {
        can_remove: Some(false),
        detach_keys: Some(x.detach_keys.clone().unwrap_or_default()),
        id: Some(e.id.clone()),
        running: Some(st.running),
        exit_code: st.exit_code.map(i64::from),
        process_config: Some(ProcessConfig {
            privileged: Some(x.privileged.unwrap_or(false)),
            user: Some(x.user.clone().unwrap_or_default()),
            tty: Some(e.tty()),
            entrypoint: Some(entrypoint),
            arguments: Some(args),
        }),
        open_stdin: Some(x.attach_stdin.unwrap_or(false)),
        open_stderr: Some(x.attach_stderr.unwrap_or(false)),
        open_stdout: Some(x.attach_stdout.unwrap_or(false)),
        container_id: Some(e.container.id().to_string()),
        pid: Some(i64::from(st.pid)),
    };
    let mut v = serde_json::to_value(&body)
        .map_err(|err| ApiError::internal(format!("encoding exec {id}: {err}")))?;
    if let Some(o) = v.as_object_mut() {
        // dockerd says `"ExitCode": null` until the process has exited (and
        // docker-py reads the key unconditionally); bollard drops a None.
        o.entry("ExitCode").or_insert(serde_json::Value::Null);
    }
    json(StatusCode::OK, &v)
}
