//! Stop, kill, restart, and waiting for a run to end: Docker's signal
//! names, the stop signal and timeout, SIGKILL as the last word.

use super::error::shim_err;
use super::{Container, ContainerError, Engine, RunState};
use crate::shim::client as shim_client;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long to wait for a SIGKILLed container before giving up on it.
const KILL_GRACE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- signals

/// Linux signal numbers by name, as Docker's `signal.ParseSignal` accepts
/// them: `9`, `KILL`, `SIGKILL`, any case.
pub fn parse_signal(s: &str) -> Result<i32, ContainerError> {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    let bad = || ContainerError::InvalidSignal(s.to_string());
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

/// `docker stop`'s choices; unset, the container's own (StopSignal,
/// StopTimeout), then Docker's SIGTERM and 10 s.
#[derive(Debug, Clone, Default)]
pub struct StopOptions {
    pub signal: Option<String>,
    /// Seconds before SIGKILL; negative waits for ever.
    pub timeout: Option<i64>,
}

async fn wait_not_running(c: &Container, timeout: Option<Duration>) -> bool {
    let mut rx = c.subscribe();
    let fut = rx.wait_for(|s| !s.running());
    match timeout {
        Some(t) => matches!(tokio::time::timeout(t, fut).await, Ok(Ok(_))),
        None => fut.await.is_ok(),
    }
}

async fn send_signal<E: Engine>(e: &E, c: &Container, sig: i32) -> Result<(), ContainerError> {
    e.container_event(c, "kill", &[("signal", sig.to_string())]);
    shim_client::signal(&c.paths.socket(), sig)
        .await
        .map_err(shim_err(format!("signalling container {}", c.name())))
}

/// SIGKILL, and wait for the monitor to see the run end.
pub(super) async fn kill_and_wait<E: Engine>(e: &E, c: &Container) -> Result<(), ContainerError> {
    // If the shim is already gone the monitor settles the state; wait for it.
    let _ = send_signal(e, c, 9).await;
    // A frozen process does not die of SIGKILL (cgroup v1) until thawed.
    if c.state().paused {
        if let Err(err) = super::pause::thaw(c).await {
            eprintln!("whale daemon: thawing {} to kill it: {err}", c.name());
        }
    }
    if wait_not_running(c, Some(KILL_GRACE)).await {
        Ok(())
    } else {
        Err(ContainerError::KillTimeout {
            name: c.name(),
            secs: KILL_GRACE.as_secs(),
        })
    }
}

/// `docker stop`; `Ok(false)` when it was not running (Docker's 304).
pub async fn stop<E: Engine>(
    e: &Arc<E>,
    c: &Container,
    opts: &StopOptions,
) -> Result<bool, ContainerError> {
    let _guard = c.op_lock.lock().await;
    let st = c.state();
    if st.restarting {
        // Between two runs: the stop cancels the pending restart.
        c.stopped_by_hand();
        e.container_event(c, "stop", &[]);
        return Ok(true);
    }
    if !st.running() {
        return Ok(false);
    }
    c.stopped_by_hand();
    stop_locked(e, c, opts).await?;
    Ok(true)
}

/// `docker restart`: stop if running (same signal and timeout rules), start.
pub async fn restart<E: Engine>(
    e: &Arc<E>,
    c: &Arc<Container>,
    opts: &StopOptions,
) -> Result<(), ContainerError> {
    {
        let _guard = c.op_lock.lock().await;
        let st = c.state();
        if st.running() || st.restarting {
            c.stopped_by_hand();
        }
        if st.running() {
            stop_locked(e, c, opts).await?;
        }
    }
    super::start(e, c).await?;
    e.container_event(c, "restart", &[]);
    Ok(())
}

/// SIGTERM (or the stop signal), SIGKILL after the timeout; op_lock held.
async fn stop_locked<E: Engine>(
    e: &Arc<E>,
    c: &Container,
    opts: &StopOptions,
) -> Result<(), ContainerError> {
    let configured = c
        .record
        .config
        .stop_signal
        .as_deref()
        .filter(|s| !s.is_empty());
    let sig = match opts
        .signal
        .as_deref()
        .filter(|s| !s.is_empty())
        .or(configured)
    {
        Some(s) => parse_signal(s)?,
        None => 15,
    };
    let t = opts.timeout.or(c.record.config.stop_timeout).unwrap_or(10);
    let sent = send_signal(&**e, c, sig).await;
    let timeout = (t >= 0).then(|| Duration::from_secs(t as u64));
    if sent.is_err() || !wait_not_running(c, timeout).await {
        kill_and_wait(&**e, c).await?;
    }
    e.container_event(c, "stop", &[]);
    Ok(())
}

/// `docker kill` with `signal` (SIGKILL when unset); SIGKILL waits for the
/// run to end.
pub async fn kill<E: Engine>(
    e: &Arc<E>,
    c: &Container,
    signal: Option<&str>,
) -> Result<(), ContainerError> {
    let _guard = c.op_lock.lock().await;
    let sig = parse_signal(signal.filter(|s| !s.is_empty()).unwrap_or("SIGKILL"))?;
    let st = c.state();
    // Docker: SIGKILL or the stop signal ends the restart policy's hold.
    let stop_sig = match c.record.config.stop_signal.as_deref() {
        Some(s) if !s.is_empty() => parse_signal(s).unwrap_or(15),
        _ => 15,
    };
    let ends_policy = sig == 9 || sig == stop_sig;
    if st.restarting && ends_policy {
        c.stopped_by_hand();
        return Ok(());
    }
    if !st.running() {
        return Err(ContainerError::NotRunning(c.id().to_string()));
    }
    if ends_policy {
        c.stopped_by_hand();
    }
    if sig == 9 {
        kill_and_wait(&**e, c).await
    } else {
        send_signal(&**e, c, sig).await
    }
}

/// What `/wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

/// The state once `cond` holds (a removed container satisfies them all);
/// `None` if the container is dropped first. The run to wait for is fixed
/// now, not when the future is first polled.
pub fn wait(
    c: Arc<Container>,
    cond: WaitCondition,
) -> impl Future<Output = Option<RunState>> + Send + 'static {
    let mut rx = c.subscribe();
    let exits_before = rx.borrow().exits;
    async move {
        // `c` keeps the state channel open for as long as we wait.
        let _keep = c;
        rx.wait_for(|s| match cond {
            WaitCondition::NotRunning => !s.running() || s.removed,
            WaitCondition::NextExit => s.exits > exits_before || s.removed,
            WaitCondition::Removed => s.removed,
        })
        .await
        .map(|s| s.clone())
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
