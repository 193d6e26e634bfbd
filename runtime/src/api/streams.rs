//! Byte streams: `attach` (hijacked connection relayed to the container's
//! streams) and `logs` (the json-file log, then live output).

use super::http::{response, ApiError, ApiResult, Body, Query};
use super::Daemon;
use crate::container::streams::{self as container_streams, Attach};
use crate::container::Container;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, UPGRADE};
use hyper::{Request, StatusCode};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

pub(super) const RAW_STREAM: &str = "application/vnd.docker.raw-stream";
const MULTIPLEXED_STREAM: &str = "application/vnd.docker.multiplexed-stream";

/// An attach client waiting for its container to start.
pub struct PendingAttach {
    request: Attach,
    tx: oneshot::Sender<UnixStream>,
}

/// Called by start after the shim is ready and before it runs init.
pub async fn connect_pending(d: &Daemon, c: &Container) {
    let pending = {
        let mut map = d.pending_attach.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(c.id()).unwrap_or_default()
    };
    for p in pending {
        if p.tx.is_closed() {
            continue;
        }
        match container_streams::attach(c, &p.request).await {
            Ok(s) => {
                let _ = p.tx.send(s);
            }
            Err(e) => eprintln!("whale daemon: attaching to {}: {e}", c.name()),
        }
    }
}

/// Forget waiting attach clients (start failed, container removed): their
/// connections close.
pub fn drop_pending(d: &Daemon, id: &str) {
    let mut map = d.pending_attach.lock().unwrap_or_else(|p| p.into_inner());
    map.remove(id);
}

/// `POST /containers/{id}/attach`. `logs=1` sends what the container has
/// logged first; `stream=0` ends there, at once (dockerd's answer; a running
/// container is not waited for). A client that asks for no upgrade gets a
/// `200` whose body is the stream, without input.
pub async fn attach(d: &Arc<Daemon>, id: &str, q: &Query, mut req: Request<Incoming>) -> ApiResult {
    let c = d.containers.get(id)?;
    let (stdin, stdout, stderr) = (q.bool("stdin"), q.bool("stdout"), q.bool("stderr"));
    let (logs, stream) = (q.bool("logs"), q.bool("stream"));
    let upgrade = req.headers().contains_key(UPGRADE);
    let grace = super::exec::hijack_grace(&req);
    let tty = c.record.config.tty.unwrap_or(false);
    let request = Attach {
        stdin: stdin && upgrade,
        stdout,
        stderr,
        detach_keys: q
            .get("detachKeys")
            .and_then(whale_formats::detach_keys::parse_detach_keys),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (tx, rx) = oneshot::channel::<UnixStream>();
    if stream {
        // Start holds this lock while it connects pending clients, so a
        // client is either registered before start or sees it running.
        let _guard = c.op_lock.lock().await;
        let st = c.state();
        if st.removed || st.removing {
            return Err(ApiError::conflict(format!(
                "container {} is being removed, cannot attach",
                c.id()
            )));
        }
        if st.running() {
            let (c, request) = (c.clone(), request.clone());
            tokio::spawn(async move {
                if let Ok(s) = container_streams::attach(&c, &request).await {
                    let _ = tx.send(s);
                }
            });
        } else {
            let mut map = d.pending_attach.lock().unwrap_or_else(|p| p.into_inner());
            let waiting = map.entry(c.id().to_string()).or_default();
            // Clients that hung up while waiting leave nothing behind.
            waiting.retain(|p| !p.tx.is_closed());
            waiting.push(PendingAttach { request, tx });
        }
    } else {
        drop(tx);
    }
    d.emit_container(&c, "attach", &[]);
    let logged = if logs {
        logged_output(&c, stdout, stderr, tty).await
    } else {
        Vec::new()
    };
    if !upgrade {
        let (btx, body) = Body::channel();
        tokio::spawn(async move {
            if !logged.is_empty() && btx.send(Bytes::from(logged)).await.is_err() {
                return;
            }
            let Ok(mut shim) = rx.await else {
                return;
            };
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                tokio::select! {
                    n = shim.read(&mut buf) => match n {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if btx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                                return;
                            }
                        }
                    },
                    _ = btx.closed() => return,
                }
            }
        });
        return Ok(response(StatusCode::OK, RAW_STREAM, body));
    }
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut io = hyper_util::rt::TokioIo::new(upgraded);
        if !logged.is_empty() {
            tokio::time::sleep(grace).await;
        }
        if !logged.is_empty() && io.write_all(&logged).await.is_err() {
            return;
        }
        let Ok(shim) = rx.await else {
            let _ = io.shutdown().await;
            return;
        };
        relay(io, shim, stdin, std::future::ready(())).await;
    });
    Ok(upgrade_response(tty))
}

/// Everything the container has logged on the chosen streams, framed as
/// its attach stream is.
async fn logged_output(c: &Container, stdout: bool, stderr: bool, tty: bool) -> Vec<u8> {
    let opts = LogOptions {
        stdout,
        stderr,
        tail: None,
        since_nanos: None,
        until_nanos: None,
        timestamps: false,
        tty,
    };
    let mut log = LogReader::new(c.paths.log());
    let mut out = Vec::new();
    loop {
        let chunk = log.next_lines().await;
        if chunk.is_empty() {
            return out;
        }
        out.extend(render(&chunk, &opts));
    }
}

/// `101 Switching Protocols` to a hijacked stream of the container's (or
/// an exec's) output: raw with a tty, multiplexed without.
pub(super) fn upgrade_response(tty: bool) -> hyper::Response<Body> {
    let mut r = response(
        StatusCode::SWITCHING_PROTOCOLS,
        if tty { RAW_STREAM } else { MULTIPLEXED_STREAM },
        Body::empty(),
    );
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    r.headers_mut()
        .insert(UPGRADE, HeaderValue::from_static("tcp"));
    r
}

/// A terminal's raw output as stdout frames, for a client that asked for a
/// multiplexed stream (dockerd frames by what the start asks, not by how
/// the process was created). Input passes through unchanged.
pub(super) fn framed_as_stdout(shim: UnixStream) -> std::io::Result<UnixStream> {
    let (ours, theirs) = UnixStream::pair()?;
    let (mut sr, mut sw) = shim.into_split();
    let (mut or, mut ow) = ours.into_split();
    tokio::spawn(async move {
        let out = async move {
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n) = sr.read(&mut buf).await {
                if n == 0 || ow.write_all(&frame(1, &buf[..n])).await.is_err() {
                    break;
                }
            }
            let _ = ow.shutdown().await;
        };
        let input = async move {
            let _ = pump(&mut or, &mut sw).await;
            let _ = sw.shutdown().await;
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = out => {}
            _ = input => {}
        }
    });
    Ok(theirs)
}

/// Copy both ways until the shim closes the stream (the process exited or
/// the client detached); then, once `before_close` is done, close the
/// client's side. The client's EOF on stdin becomes a half-close towards
/// the shim, which closes the process's stdin when `stdin_once` is set.
pub(super) async fn relay<C>(
    client: C,
    shim: UnixStream,
    stdin: bool,
    before_close: impl std::future::Future<Output = ()>,
) where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = shim.into_split();
    let to_shim = async move {
        if stdin {
            let _ = pump(&mut cr, &mut sw).await;
            let _ = sw.shutdown().await;
        }
        // Keep the write half (and so the connection) open until the shim ends it.
        std::future::pending::<()>().await;
    };
    let from_shim = async move {
        let _ = pump(&mut sr, &mut cw).await;
        before_close.await;
        let _ = cw.shutdown().await;
    };
    tokio::select! {
        _ = from_shim => {}
        _ = to_shim => {}
    }
}

/// Copy until EOF, writing each read at once (interactive streams) with a
/// buffer large enough for bulk output (tokio's `copy` uses 8 KiB).
async fn pump<R, W>(r: &mut R, w: &mut W) -> std::io::Result<u64>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        w.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

// ---------------------------------------------------------------- logs

use crate::container::logs::{render, LogOptions, LogReader, Tail};
pub use whale_formats::stdcopy::frame;

pub fn logs(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    let (stdout, stderr) = (q.bool("stdout"), q.bool("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    if crate::container::log_config::keeps_no_log(&c.record.host_config) {
        // dockerd's answer for a driver it cannot read back.
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "configured logging driver does not support reading",
        ));
    }
    let follow = q.bool("follow");
    let timestamps = q.bool("timestamps");
    let tail = match q.get("tail").unwrap_or("all") {
        "all" | "" => None,
        n => Some(n.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!("invalid tail {n:?}: use a number or \"all\""))
        })?),
    };
    let time_arg = |k: &str| -> Result<Option<i64>, ApiError> {
        match q.get(k).filter(|s| !s.is_empty() && *s != "0") {
            None => Ok(None),
            Some(s) => super::events::parse_timestamp(s).map(Some),
        }
    };
    let since = time_arg("since")?;
    let until = time_arg("until")?;
    let tty = c.record.config.tty.unwrap_or(false);
    let (tx, body) = Body::channel();
    let opts = LogOptions {
        stdout,
        stderr,
        tail,
        since_nanos: since,
        until_nanos: until,
        timestamps,
        tty,
    };
    tokio::spawn(async move {
        // Following: the shim's attach stream tells us when output happened
        // (the shim logs complete lines before it relays them), and the
        // file, read on from where we were, gives the lines with their
        // timestamps, each exactly once. Connect before the first read so
        // nothing written in between goes unnoticed.
        let mut live = if follow && c.state().running() {
            let streams = Attach {
                stdout,
                stderr,
                ..Attach::default()
            };
            container_streams::attach(&c, &streams).await.ok()
        } else {
            None
        };
        // What is already in the log, a chunk at a time (or only its last
        // lines, for `tail`), so a big log never sits whole in memory.
        let mut log = LogReader::new(c.paths.log());
        if let Some(n) = opts.tail {
            log.seek_tail(n, &opts).await;
        }
        let mut tail = opts.tail.map(Tail::new);
        loop {
            let chunk = log.next_lines().await;
            if chunk.is_empty() {
                break;
            }
            match tail.as_mut() {
                Some(t) => t.feed(&chunk, &opts),
                None => {
                    let out = render(&chunk, &opts);
                    if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
                        return;
                    }
                }
            }
        }
        if let Some(t) = tail {
            let out = t.render(&opts);
            if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
                return;
            }
        }
        let Some(live) = live.as_mut() else {
            return;
        };
        let later = LogOptions { tail: None, ..opts };
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let ended = tokio::select! {
                n = live.read(&mut buf) => matches!(n, Ok(0) | Err(_)),
                _ = tx.closed() => return,
            };
            loop {
                let chunk = log.next_lines().await;
                if chunk.is_empty() {
                    break;
                }
                let out = render(&chunk, &later);
                if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
                    return;
                }
            }
            if ended {
                // dockerd ends a follow once the container is stopped (its
                // state written under the container's lock), so `logs -f c;
                // rm c` never meets a running container: the output ends a
                // moment before the monitor records the exit, so wait for it.
                tokio::select! {
                    _ = crate::container::wait(c.clone(), crate::container::WaitCondition::NotRunning) => {}
                    _ = tx.closed() => {}
                }
                return;
            }
        }
    });
    Ok(response(
        StatusCode::OK,
        if tty { RAW_STREAM } else { MULTIPLEXED_STREAM },
        body,
    ))
}
