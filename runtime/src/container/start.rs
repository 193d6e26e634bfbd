//! Start: one path for `docker start` and the builder's RUN steps. The shim
//! is spawned, attach clients connect while init waits, init is released,
//! and a monitor follows the run ([`super::monitor`]).

use super::error::shim_err;
use super::monitor::{spawn_monitor, SHIM_DIED};
use super::stop::{wait, WaitCondition};
use super::{now_rfc3339, trace, Container, ContainerError, Engine, RunState, StartFailure};
use crate::shim::client as shim_client;
use crate::shim::protocol::Request as ShimRequest;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use whale_formats::stdcopy;

/// Start a created or exited container; `Ok(false)` when it was running
/// already (Docker's 304).
pub async fn start<E: Engine>(e: &Arc<E>, c: &Arc<Container>) -> Result<bool, ContainerError> {
    Ok(matches!(
        start_with(e, c, false, By::Hand).await?,
        Outcome::Started(_)
    ))
}

/// The restart policy's start after its back-off; nothing if a stop by
/// hand cancelled it meanwhile.
pub(super) async fn start_by_policy<E: Engine>(
    e: &Arc<E>,
    c: &Arc<Container>,
) -> Result<(), ContainerError> {
    start_with(e, c, false, By::Policy).await.map(|_| ())
}

/// The daemon's start of a container its policy brings back.
pub(super) async fn start_by_policy_on_boot<E: Engine>(
    e: &Arc<E>,
    c: &Arc<Container>,
) -> Result<(), ContainerError> {
    start_with(e, c, false, By::DaemonStart).await.map(|_| ())
}

/// Who starts the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    /// A client (`start`, `restart`, a build step): the restart policy
    /// starts afresh.
    Hand,
    /// The restart policy, after an exit.
    Policy,
    /// The daemon, on its own start.
    DaemonStart,
}

/// A run started with its output attached before init ran: nothing it
/// writes is lost, however short it is.
pub struct AttachedRun {
    output: UnixStream,
    exit: BoxFuture<'static, Option<RunState>>,
    name: String,
    /// The container's dir, in the store: where to look when the run ends
    /// unrecorded.
    dir: std::path::PathBuf,
}

impl AttachedRun {
    /// What the container writes next (the shim's stream framing taken
    /// off), and whether it came on stderr; `None` once it closed its
    /// output.
    pub async fn next_output(&mut self) -> Option<(Vec<u8>, bool)> {
        let mut header = [0u8; stdcopy::HEADER_LEN];
        self.output.read_exact(&mut header).await.ok()?;
        let mut payload = vec![0u8; stdcopy::payload_len(&header)];
        self.output.read_exact(&mut payload).await.ok()?;
        // stdcopy's first header byte names the stream: 2 is stderr.
        Some((payload, header[0] == 2))
    }

    /// Wait for the run to end: its exit code.
    pub async fn exit_code(self) -> Result<i32, ContainerError> {
        match self.exit.await {
            Some(st) if st.error != SHIM_DIED => Ok(st.exit_code),
            _ => Err(unrecorded_end(
                self.name,
                &self.dir,
                crate::linux::fs::available_bytes(&self.dir),
            )),
        }
    }
}

/// Below this, a shim that died mid-run is taken to have found the disk
/// full (its log and state writes fail first).
const NEARLY_FULL: u64 = 1 << 20;

/// Why a run ended with nothing recorded: a full disk (named), else a dead
/// shim.
fn unrecorded_end(
    name: String,
    dir: &std::path::Path,
    available: std::io::Result<u64>,
) -> ContainerError {
    match available {
        Ok(n) if n < NEARLY_FULL => ContainerError::NoSpace {
            // <root>/containers/<id>: name the store's root.
            store: dir.ancestors().nth(2).unwrap_or(dir).to_path_buf(),
        },
        _ => ContainerError::ShimDied(name),
    }
}

/// Start with stdout and stderr attached (the builder's RUN steps).
pub async fn start_attached<E: Engine>(
    e: &Arc<E>,
    c: &Arc<Container>,
) -> Result<AttachedRun, ContainerError> {
    // Taken before the run starts, so even an instant exit is seen.
    let exit = Box::pin(wait(c.clone(), WaitCondition::NextExit));
    match start_with(e, c, true, By::Hand).await? {
        Outcome::Started(Some(output)) => Ok(AttachedRun {
            output,
            exit,
            name: c.name(),
            dir: c.paths.dir.clone(),
        }),
        _ => Err(ContainerError::AlreadyRunning(c.id().to_string())),
    }
}

enum Outcome {
    WasRunning,
    /// With the output stream, if asked for.
    Started(Option<UnixStream>),
}

async fn start_with<E: Engine>(
    e: &Arc<E>,
    c: &Arc<Container>,
    attach_output: bool,
    by: By,
) -> Result<Outcome, ContainerError> {
    let guard = c.op_lock.lock().await;
    let st = c.state();
    if st.removing || st.removed {
        return Err(ContainerError::MarkedForRemoval(c.id().to_string()));
    }
    if st.running() || (by == By::Policy && !st.restarting) {
        return Ok(Outcome::WasRunning);
    }
    super::network::check_joinable(&c.host_config(), e.containers())?;
    if by == By::Hand {
        let c2 = c.clone();
        tokio::task::spawn_blocking(move || c2.reset_restarts())
            .await
            .map_err(super::error::task_err("resetting the restart policy"))??;
    }
    match start_locked(e, c, attach_output).await {
        Ok(output) => Ok(Outcome::Started(output)),
        Err(failure) => {
            e.drop_waiting(c.id());
            let e2 = e.clone();
            let c2 = c.clone();
            let f2 = failure.clone();
            let _ =
                tokio::task::spawn_blocking(move || e2.containers().record_start_failure(&c2, f2))
                    .await;
            drop(guard);
            if c.auto_remove() {
                let _ = super::remove_stopped(e, c).await;
            }
            Err(ContainerError::StartFailed(failure))
        }
    }
}

async fn start_locked<E: Engine>(
    e: &Arc<E>,
    c: &Arc<Container>,
    attach_output: bool,
) -> Result<Option<UnixStream>, StartFailure> {
    let engine = |e: String| StartFailure {
        exit_code: 125,
        error: e,
    };
    let image = e.images().resolve(&c.record.image_id).map_err(|e| {
        engine(format!(
            "image {} of container {}: {e}",
            c.record.image,
            c.name()
        ))
    })?;
    let lower = e
        .images()
        .layer_dirs(&image)
        .map_err(|e| engine(format!("layers of image {}: {e}", c.record.image)))?;
    let network = super::network::at_start(c, &c.host_config(), e.containers())?;
    let spec = super::build_spec(
        c,
        c.paths.lower_dirs(lower),
        e.containers().volumes(),
        network,
    )?;
    super::spec::write_spec(c, &spec)?;
    trace(|| format!("{}: spec written", c.short_id()));
    let shim = shim_client::spawn(&c.paths.dir)
        .await
        .map_err(|e| engine(format!("starting the shim of {}: {e}", c.name())))?;
    if let Some(err) = shim.ready.error.clone() {
        return Err(StartFailure {
            exit_code: shim.ready.exit_code.unwrap_or(125),
            error: err,
        });
    }
    let (pid, shim_pid) = (shim.ready.pid, shim.ready.shim_pid);
    let ports = shim.ready.ports.clone();
    trace(|| format!("{}: shim ready", c.short_id()));
    // Attach clients that arrived before start get their streams now, before
    // init runs, so no output is lost.
    e.connect_waiting(c).await;
    let output = if attach_output {
        let request = ShimRequest::Attach {
            stdin: false,
            stdout: true,
            stderr: true,
            detach_keys: None,
        };
        let stream = shim_client::connect(&c.paths.socket(), &request)
            .await
            .map_err(shim_err(format!("attaching to {}", c.name())))
            .map_err(|e| engine(e.to_string()))?;
        Some(stream)
    } else {
        None
    };
    trace(|| format!("{}: attach connected", c.short_id()));
    // Taken before init is released: a container that is done at once
    // must never look finished before it started.
    let started_at = now_rfc3339();
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
    trace(|| format!("{}: started", c.short_id()));
    c.set_running(pid, shim_pid, started_at, ports);
    spawn_monitor(e.clone(), c.clone());
    super::health::spawn(e.clone(), c.clone());
    super::volumes::mount_events(&**e, c, true);
    e.container_event(c, "start", &[]);
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_store_is_named_not_blamed_on_the_shim() {
        let dir = std::path::Path::new("/var/lib/whale/containers/abc");
        let full = unrecorded_end("n".into(), dir, Ok(4096)).to_string();
        assert!(
            full.starts_with("no space left on device: the store /var/lib/whale is full"),
            "{full}"
        );
        assert!(matches!(
            unrecorded_end("n".into(), dir, Ok(10 << 30)),
            ContainerError::ShimDied(_)
        ));
        assert!(matches!(
            unrecorded_end("n".into(), dir, Err(std::io::ErrorKind::NotFound.into())),
            ContainerError::ShimDied(_)
        ));
    }
}
