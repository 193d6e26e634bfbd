//! The monitor that follows each run until it exits, and re-adoption of
//! runs after a daemon restart. The shim knows how a run ended; when the
//! shim is gone without saying, the run ends as containerd's "unknown
//! exit", which is what Docker reports too.

use super::error::io_err;
use super::{now_rfc3339, read_state, trace, Container, ContainerError, Engine, Status};
use crate::fsutil;
use crate::paths::ContainerPaths;
use crate::shim::client as shim_client;
use crate::shim::state::{RunStatus, RuntimeState};
use std::sync::Arc;
use std::time::Duration;

/// containerd's UnknownExitStatus: what Docker reports when the process
/// that could have told us the real code is gone.
const UNKNOWN_EXIT: i32 = 255;
/// The Error of a run whose shim died: removal cleans up after it.
pub(super) const SHIM_DIED: &str = "shim died";

/// How a run ended.
struct RunExit {
    code: i32,
    oom_killed: bool,
    finished_at: String,
    error: String,
}

impl RunExit {
    /// What the shim recorded, if it recorded the end of the run.
    fn recorded(paths: &ContainerPaths) -> Option<RunExit> {
        match read_state(paths) {
            Ok(Some(s)) if s.status == RunStatus::Exited => Some(RunExit {
                code: s.exit_code.unwrap_or(UNKNOWN_EXIT),
                oom_killed: s.oom_killed,
                finished_at: s.finished_at.unwrap_or_else(now_rfc3339),
                error: s.error,
            }),
            _ => None,
        }
    }

    fn settle(self, c: &Container, restarting: bool) {
        c.set_exited(
            self.code,
            self.oom_killed,
            self.finished_at,
            self.error,
            restarting,
        );
    }
}

/// Follow a running container until it exits: update the state, emit `die`,
/// honour the restart policy, then AutoRemove.
pub(super) fn spawn_monitor<E: Engine>(e: Arc<E>, c: Arc<Container>) {
    tokio::spawn(async move {
        let exit = wait_exit(&c).await;
        let (code, oom) = (exit.code, exit.oom_killed);
        trace(|| format!("{}: exited {code}", c.short_id()));
        let c2 = c.clone();
        let restart = tokio::task::spawn_blocking(move || c2.restart_decision(code))
            .await
            .unwrap_or(None);
        // One state change: a watcher never sees it exited for good first.
        exit.settle(&c, restart.is_some());
        if oom {
            e.container_event(&c, "oom", &[]);
        }
        e.container_event(&c, "die", &[("exitCode", code.to_string())]);
        super::volumes::mount_events(&*e, &c, false);
        if let Some(delay) = restart {
            super::restart::schedule(e.clone(), c.clone(), delay);
            return;
        }
        if c.auto_remove() {
            if let Err(err) = super::remove_stopped(&e, &c).await {
                eprintln!("whale daemon: auto-removing {}: {err}", c.name());
            }
        }
    });
}

async fn wait_exit(c: &Container) -> RunExit {
    let socket = c.paths.socket();
    for _ in 0..3 {
        match shim_client::wait(&socket).await {
            Ok(e) => {
                return RunExit {
                    code: e.exit_code,
                    oom_killed: e.oom_killed,
                    finished_at: e.finished_at,
                    error: String::new(),
                }
            }
            Err(_) => {
                // A fast container's shim may have written its state and
                // left before we asked.
                if let Some(exit) = RunExit::recorded(&c.paths) {
                    return exit;
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
async fn orphaned_exit(c: &Container) -> RunExit {
    let cg = super::cgroup_path(c.id());
    let paths = c.paths.clone();
    let _ = tokio::task::spawn_blocking(move || {
        for pid in crate::linux::cgroup::container_pids(&cg).unwrap_or_default() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if let Ok(Some(prev)) = read_state(&paths) {
            let _ = write_orphaned_exit(&paths, &prev, UNKNOWN_EXIT, SHIM_DIED);
        }
    })
    .await;
    RunExit {
        code: UNKNOWN_EXIT,
        oom_killed: false,
        finished_at: now_rfc3339(),
        error: SHIM_DIED.to_string(),
    }
}

/// Record that a run ended without its shim saying so (the shim died):
/// written by the daemon because no shim is left to own the file.
fn write_orphaned_exit(
    paths: &ContainerPaths,
    previous: &RuntimeState,
    exit_code: i32,
    error: &str,
) -> Result<(), ContainerError> {
    let st = RuntimeState {
        status: RunStatus::Exited,
        pid: 0,
        shim_pid: previous.shim_pid,
        started_at: previous.started_at.clone(),
        finished_at: Some(now_rfc3339()),
        exit_code: Some(exit_code),
        oom_killed: false,
        error: error.to_string(),
        ports: Vec::new(),
    };
    fsutil::write_json_atomic(&paths.state(), &st)
        .map_err(io_err(format!("writing {}", paths.state().display())))
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
pub async fn readopt_all<E: Engine>(e: &Arc<E>) {
    let all = e.containers().list();
    // All at once: a hung shim costs its timeout once, not once per container.
    futures_util::future::join_all(all.iter().cloned().map(|c| readopt(e, c))).await;
    // Then the restart policies: `always` (and `unless-stopped` unless
    // stopped by hand) come back with the daemon.
    futures_util::future::join_all(all.iter().map(|c| super::restart::on_start(e, c))).await;
    // A build's RUN containers died with the build that would have removed
    // them: once followed again (so a kill is seen to end), reap them.
    for c in all.into_iter().filter(|c| c.record.build_step) {
        if let Err(err) = super::remove(e, &c, true, false).await {
            eprintln!(
                "whale daemon: reaping build container {}: {err}",
                c.short_id()
            );
        }
    }
}

async fn readopt<E: Engine>(e: &Arc<E>, c: Arc<Container>) {
    let st = c.state();
    match st.status {
        Status::Running => match shim_status(&c.paths.socket()).await {
            // A hung shim may recover: follow it rather than declare the
            // container dead.
            ShimAnswer::Running(_) | ShimAnswer::Exited | ShimAnswer::Hung => {
                // A container paused before the daemon went away still is.
                let cg = super::cgroup_path(c.id());
                let frozen = tokio::task::spawn_blocking(move || {
                    crate::linux::cgroup::container_frozen(&cg)
                })
                .await
                .unwrap_or(false);
                if frozen {
                    c.set_paused(true);
                }
                spawn_monitor(e.clone(), c.clone());
                super::health::spawn(e.clone(), c.clone());
            }
            ShimAnswer::Gone => {
                let exit = match RunExit::recorded(&c.paths) {
                    Some(exit) => exit,
                    None => orphaned_exit(&c).await,
                };
                exit.settle(&c, false);
                if c.auto_remove() {
                    let _ = super::remove_stopped(e, &c).await;
                }
            }
        },
        // The shim records `running` a few ms after start (it spares
        // short runs an fsync): a daemon killed in that window finds no
        // state, but a socket with a live shim behind it.
        Status::Created if c.paths.socket().exists() => {
            let answer = shim_status(&c.paths.socket()).await;
            if !matches!(answer, ShimAnswer::Gone) {
                let (pid, shim_pid, started, ports) = match read_state(&c.paths) {
                    Ok(Some(s)) => (s.pid, s.shim_pid, s.started_at, s.ports),
                    _ => match answer {
                        ShimAnswer::Running(pid) => (pid, 0, now_rfc3339(), Vec::new()),
                        _ => (0, 0, now_rfc3339(), Vec::new()),
                    },
                };
                c.set_running(pid, shim_pid, started, ports);
                spawn_monitor(e.clone(), c.clone());
            }
        }
        Status::Exited if c.auto_remove() => {
            let _ = super::remove_stopped(e, &c).await;
        }
        _ => {}
    }
}
