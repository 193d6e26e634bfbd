//! `docker rename` and `docker update`: changes to a container's record
//! after create, applied live (the cgroup of a running container) and
//! written to its record.

use super::error::task_err;
use super::{Container, ContainerError, Engine};
use bollard::models::{ContainerUpdateBody, HostConfig};
use std::sync::Arc;

/// `docker rename`: event `rename` with the old name.
pub async fn rename<E: Engine>(
    e: &Arc<E>,
    c: &Arc<Container>,
    new_name: &str,
) -> Result<(), ContainerError> {
    let old = c.name();
    let (e2, c2, n) = (e.clone(), c.clone(), new_name.to_string());
    tokio::task::spawn_blocking(move || e2.containers().rename(&c2, &n))
        .await
        .map_err(task_err("renaming the container"))??;
    e.container_event(c, "rename", &[("oldName", format!("/{old}"))]);
    Ok(())
}

/// The host config after `u`: zeros leave a field as it was (Docker's rule).
fn merged(hc: &HostConfig, u: &ContainerUpdateBody) -> HostConfig {
    let mut out = hc.clone();
    let set = |v: Option<i64>| v.filter(|n| *n != 0);
    if let Some(m) = set(u.memory) {
        out.memory = Some(m);
    }
    if let Some(s) = set(u.memory_swap) {
        out.memory_swap = Some(s);
    }
    if let Some(n) = set(u.nano_cpus) {
        out.nano_cpus = Some(n);
    }
    if let Some(s) = set(u.cpu_shares) {
        out.cpu_shares = Some(s);
    }
    if let Some(p) = u.pids_limit {
        out.pids_limit = Some(p);
    }
    if let Some(p) = u.restart_policy.as_ref().filter(|p| {
        p.name
            .is_some_and(|n| n != bollard::models::RestartPolicyNameEnum::EMPTY)
    }) {
        out.restart_policy = Some(p.clone());
    }
    out
}

/// `docker update`: the limits and the restart policy, applied to the
/// cgroup at once when the container runs, and kept in its record.
pub async fn update<E: Engine>(
    _e: &Arc<E>,
    c: &Arc<Container>,
    body: ContainerUpdateBody,
) -> Result<(), ContainerError> {
    let _guard = c.op_lock.lock().await;
    let old = c.host_config();
    let new = merged(&old, &body);
    if body.restart_policy.is_some() && new.restart_policy != old.restart_policy && c.auto_remove()
    {
        return Err(ContainerError::Invalid(
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
                .into(),
        ));
    }
    super::restart::validate(&new)?;
    super::create::validate_limits(&new)?;
    let res = crate::linux::cgroup::Resources {
        memory: set_if_changed(body.memory, new.memory),
        memory_swap: new.memory_swap.filter(|s| *s != 0),
        nano_cpus: set_if_changed(body.nano_cpus, new.nano_cpus),
        cpu_shares: set_if_changed(body.cpu_shares, new.cpu_shares),
        pids_limit: body.pids_limit.and(new.pids_limit),
        // Device rules are set at start; an update touches limits only.
        ..Default::default()
    };
    let running = c.state().running();
    let c2 = c.clone();
    tokio::task::spawn_blocking(move || {
        if running {
            crate::linux::cgroup::update_container_limits(&super::cgroup_path(c2.id()), &res)
                .map_err(|e| {
                    ContainerError::Internal(format!("Cannot update container {}: {e}", c2.id()))
                })?;
        }
        c2.change(|l| l.host_config = new)
    })
    .await
    .map_err(task_err("updating the container"))?
}

/// A limit to write now: only those the update set.
fn set_if_changed(asked: Option<i64>, now: Option<i64>) -> Option<i64> {
    asked.filter(|n| *n != 0).and(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_what_the_update_leaves_at_zero() {
        let hc = HostConfig {
            memory: Some(64 << 20),
            cpu_shares: Some(100),
            ..Default::default()
        };
        let u = ContainerUpdateBody {
            memory: Some(0),
            cpu_shares: Some(512),
            pids_limit: Some(50),
            ..Default::default()
        };
        let m = merged(&hc, &u);
        assert_eq!(
            (m.memory, m.cpu_shares, m.pids_limit),
            (Some(64 << 20), Some(512), Some(50))
        );
    }
}
