//! `docker pause` / `unpause`: the container's cgroup frozen and thawed
//! (v1 freezer or v2 cgroup.freeze), with Docker's refusals and events.

use super::error::task_err;
use super::{Container, ContainerError, Engine};
use std::sync::Arc;

async fn set_frozen(c: &Container, frozen: bool) -> Result<(), ContainerError> {
    let cg = super::cgroup_path(c.id());
    let name = c.name();
    tokio::task::spawn_blocking(move || crate::linux::cgroup::freeze_container(&cg, frozen))
        .await
        .map_err(task_err("freezing the container's cgroup"))?
        .map_err(|e| {
            ContainerError::Internal(format!(
                "{} container {name}: {e}",
                if frozen { "pausing" } else { "unpausing" }
            ))
        })
}

/// `docker pause`.
pub async fn pause<E: Engine>(e: &Arc<E>, c: &Container) -> Result<(), ContainerError> {
    let _guard = c.op_lock.lock().await;
    let st = c.state();
    if !st.running() {
        return Err(ContainerError::NotRunning(c.id().to_string()));
    }
    if st.paused {
        return Err(ContainerError::AlreadyPaused(c.id().to_string()));
    }
    set_frozen(c, true).await?;
    c.set_paused(true);
    e.container_event(c, "pause", &[]);
    Ok(())
}

/// `docker unpause`.
pub async fn unpause<E: Engine>(e: &Arc<E>, c: &Container) -> Result<(), ContainerError> {
    let _guard = c.op_lock.lock().await;
    let st = c.state();
    if !st.running() || !st.paused {
        return Err(ContainerError::NotPaused(c.id().to_string()));
    }
    set_frozen(c, false).await?;
    c.set_paused(false);
    e.container_event(c, "unpause", &[]);
    Ok(())
}

/// Thaw without the lock (the caller holds it) and without an event: a
/// paused container being killed.
pub(super) async fn thaw(c: &Container) -> Result<(), ContainerError> {
    set_frozen(c, false).await?;
    c.set_paused(false);
    Ok(())
}
