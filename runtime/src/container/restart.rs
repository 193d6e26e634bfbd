//! Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`)
//! as Docker's restart manager runs them: after each exit the policy
//! decides, the container shows `Restarting` for a back-off that starts at
//! 100 ms and doubles (up to a minute), reset once a run lasted 10 s; a
//! stop or kill by hand cancels it. On daemon start, `always` containers
//! (and `unless-stopped` ones not stopped by hand) start again.

use super::{Container, ContainerError, Engine, Status};
use bollard::models::{HostConfig, RestartPolicyNameEnum};
use std::sync::Arc;
use std::time::Duration;

/// Docker's restartmanager constants.
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the back-off.
const RESET_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    No,
    Always,
    UnlessStopped,
    /// At most `max` restarts (0: no limit).
    OnFailure {
        max: i64,
    },
}

impl Policy {
    pub fn of(hc: &HostConfig) -> Policy {
        let p = hc.restart_policy.as_ref();
        match p.and_then(|p| p.name) {
            Some(RestartPolicyNameEnum::ALWAYS) => Policy::Always,
            Some(RestartPolicyNameEnum::UNLESS_STOPPED) => Policy::UnlessStopped,
            Some(RestartPolicyNameEnum::ON_FAILURE) => Policy::OnFailure {
                max: p.and_then(|p| p.maximum_retry_count).unwrap_or(0),
            },
            _ => Policy::No,
        }
    }
}

/// Docker's refusal of a policy name it does not know, before the body is
/// decoded (the name is an enum there).
pub fn check_restart_policy_name(name: Option<&serde_json::Value>) -> Result<(), ContainerError> {
    match name.and_then(|n| n.as_str()) {
        None | Some("" | "no" | "always" | "unless-stopped" | "on-failure") => Ok(()),
        Some(other) => Err(ContainerError::Invalid(format!(
            "invalid restart policy '{other}'"
        ))),
    }
}

/// Docker's checks of a restart policy, with its messages (create and
/// update).
pub fn validate(hc: &HostConfig) -> Result<(), ContainerError> {
    let Some(p) = hc.restart_policy.as_ref() else {
        return Ok(());
    };
    let max = p.maximum_retry_count.unwrap_or(0);
    let name = p.name.map(|n| n.to_string()).unwrap_or_default();
    match p.name {
        Some(RestartPolicyNameEnum::ON_FAILURE) if max < 0 => {
            return Err(ContainerError::Invalid(
                "maximum retry count cannot be negative".into(),
            ))
        }
        Some(RestartPolicyNameEnum::ON_FAILURE) => {}
        Some(RestartPolicyNameEnum::EMPTY) | None => {}
        Some(_) if max != 0 => {
            return Err(ContainerError::Invalid(format!(
                "maximum retry count cannot be used with restart policy '{name}'"
            )))
        }
        Some(_) => {}
    }
    if hc.auto_remove == Some(true) && Policy::of(hc) != Policy::No {
        return Err(ContainerError::Invalid(
            "can't create 'AutoRemove' container with restart policy".into(),
        ));
    }
    Ok(())
}

/// The restart manager's decision after a run that lasted `ran` and ended
/// with `exit_code`: the delay before the next start, or `None`. `delay`
/// is the back-off, kept across runs; `restarts` the count so far.
pub fn next_delay(
    policy: Policy,
    exit_code: i32,
    stopped_by_hand: bool,
    ran: Duration,
    restarts: u64,
    delay: &mut Duration,
) -> Option<Duration> {
    if policy == Policy::No || stopped_by_hand {
        return None;
    }
    if ran >= RESET_AFTER {
        *delay = Duration::ZERO;
    }
    *delay = if delay.is_zero() {
        FIRST_DELAY
    } else {
        (*delay * 2).min(MAX_DELAY)
    };
    let restart = match policy {
        Policy::No => false,
        Policy::Always | Policy::UnlessStopped => true,
        Policy::OnFailure { max } => exit_code != 0 && (max == 0 || (restarts as i64) < max),
    };
    restart.then_some(*delay)
}

/// Whether the daemon starts this exited container when it starts.
pub fn on_daemon_start(policy: Policy, stopped_by_hand: bool) -> bool {
    match policy {
        Policy::Always => true,
        Policy::UnlessStopped => !stopped_by_hand,
        Policy::No | Policy::OnFailure { .. } => false,
    }
}

impl Container {
    /// Decide, after a run ended with `exit_code`, whether the policy
    /// restarts it; counts the restart. Blocks on the record's write.
    pub(super) fn restart_decision(&self, exit_code: i32) -> Option<Duration> {
        let st = self.state();
        if st.removing || st.removed {
            return None;
        }
        let ran = st
            .started_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .and_then(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .to_std()
                    .ok()
            })
            .unwrap_or_default();
        let mut backoff = self.restart_delay.lock().unwrap_or_else(|p| p.into_inner());
        let delay = next_delay(
            Policy::of(&self.host_config()),
            exit_code,
            self.manually_stopped(),
            ran,
            self.restart_count(),
            &mut backoff,
        )?;
        drop(backoff);
        if let Err(e) = self.change(|l| l.restart_count += 1) {
            eprintln!("whale daemon: counting a restart of {}: {e}", self.name());
        }
        Some(delay)
    }

    /// A start or a stop by hand: the policy starts afresh (Docker resets
    /// its restart manager and HasBeenManuallyStopped on start).
    pub(super) fn reset_restarts(&self) -> Result<(), ContainerError> {
        *self.restart_delay.lock().unwrap_or_else(|p| p.into_inner()) = Duration::ZERO;
        if self.restart_count() == 0 && !self.manually_stopped() {
            return Ok(());
        }
        self.change(|l| {
            l.restart_count = 0;
            l.manually_stopped = false;
        })
    }

    /// A stop or kill by hand: no policy restarts it until it is started
    /// again (and `unless-stopped` not even when the daemon starts); a
    /// pending restart is cancelled.
    pub(super) fn stopped_by_hand(&self) {
        if !self.manually_stopped() {
            if let Err(e) = self.change(|l| l.manually_stopped = true) {
                eprintln!("whale daemon: recording the stop of {}: {e}", self.name());
            }
        }
        self.end_restarting();
    }
}

/// Start `c` again after `delay`, unless the restart is cancelled first
/// (a stop, a kill, a removal).
pub(super) fn schedule<E: Engine>(e: Arc<E>, c: Arc<Container>, delay: Duration) {
    tokio::spawn(async move {
        let mut rx = c.subscribe();
        let cancelled = rx.wait_for(|s| !s.restarting || s.removing || s.removed);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancelled => return,
        }
        match super::start::start_by_policy(&e, &c).await {
            Ok(_) => {}
            Err(err) => {
                c.end_restarting();
                eprintln!("whale daemon: restarting {}: {err}", c.name());
            }
        }
    });
}

/// On daemon start: the exited containers whose policy says so start again.
pub(super) async fn on_start<E: Engine>(e: &Arc<E>, c: &Arc<Container>) {
    let st = c.state();
    if st.status != Status::Exited || c.record.build_step {
        return;
    }
    if !on_daemon_start(Policy::of(&c.host_config()), c.manually_stopped()) {
        return;
    }
    if let Err(err) = super::start::start_by_policy_on_boot(e, c).await {
        eprintln!("whale daemon: restarting {} on start: {err}", c.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::RestartPolicy;

    fn hc(name: RestartPolicyNameEnum, max: i64) -> HostConfig {
        HostConfig {
            restart_policy: Some(RestartPolicy {
                name: Some(name),
                maximum_retry_count: Some(max),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn backoff_doubles_from_100ms_and_resets_after_10s() {
        let mut d = Duration::ZERO;
        let short = Duration::from_millis(5);
        let mut seen = vec![];
        for n in 0..12 {
            seen.push(next_delay(Policy::Always, 0, false, short, n, &mut d).unwrap());
        }
        assert_eq!(seen[0], Duration::from_millis(100));
        assert_eq!(seen[1], Duration::from_millis(200));
        assert_eq!(seen[2], Duration::from_millis(400));
        assert_eq!(seen[11], MAX_DELAY);
        let after_long = next_delay(Policy::Always, 0, false, RESET_AFTER, 12, &mut d);
        assert_eq!(after_long, Some(FIRST_DELAY));
    }

    #[test]
    fn policies_decide_like_docker() {
        let mut d = Duration::ZERO;
        let z = Duration::ZERO;
        let on_failure = Policy::OnFailure { max: 2 };
        assert!(next_delay(on_failure, 3, false, z, 0, &mut d).is_some());
        assert!(next_delay(on_failure, 3, false, z, 1, &mut d).is_some());
        assert!(next_delay(on_failure, 3, false, z, 2, &mut d).is_none());
        assert!(next_delay(on_failure, 0, false, z, 0, &mut d).is_none());
        let unlimited = Policy::OnFailure { max: 0 };
        assert!(next_delay(unlimited, 1, false, z, 1000, &mut d).is_some());
        assert!(next_delay(Policy::No, 1, false, z, 0, &mut d).is_none());
        assert!(next_delay(Policy::Always, 0, true, z, 0, &mut d).is_none());
        assert!(on_daemon_start(Policy::Always, true));
        assert!(!on_daemon_start(Policy::UnlessStopped, true));
        assert!(on_daemon_start(Policy::UnlessStopped, false));
        assert!(!on_daemon_start(on_failure, false));
    }

    #[test]
    fn validation_uses_dockers_words() {
        use RestartPolicyNameEnum as N;
        let msg = |h: HostConfig| validate(&h).unwrap_err().to_string();
        assert_eq!(
            msg(hc(N::ALWAYS, 3)),
            "maximum retry count cannot be used with restart policy 'always'"
        );
        assert_eq!(
            msg(hc(N::ON_FAILURE, -1)),
            "maximum retry count cannot be negative"
        );
        let mut rm = hc(N::ALWAYS, 0);
        rm.auto_remove = Some(true);
        assert_eq!(
            msg(rm),
            "can't create 'AutoRemove' container with restart policy"
        );
        let mut rm_no = hc(N::NO, 0);
        rm_no.auto_remove = Some(true);
        validate(&rm_no).unwrap();
        let name = serde_json::json!("bogus");
        assert_eq!(
            check_restart_policy_name(Some(&name))
                .unwrap_err()
                .to_string(),
            "invalid restart policy 'bogus'"
        );
        check_restart_policy_name(Some(&serde_json::json!("on-failure"))).unwrap();
        validate(&hc(N::ON_FAILURE, 5)).unwrap();
        assert_eq!(
            Policy::of(&hc(N::ON_FAILURE, 5)),
            Policy::OnFailure { max: 5 }
        );
    }
}
