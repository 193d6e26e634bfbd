//! Remove: `docker rm` (with `--force`), and the removal of containers that
//! are done (AutoRemove, prune, the builder's intermediate containers).

use super::error::task_err;
use super::monitor::SHIM_DIED;
use super::stop::kill_and_wait;
use super::{purge, trace, Container, ContainerError, Engine};
use std::sync::Arc;

/// `docker rm`: a running container only with `force` (SIGKILL first);
/// with `volumes` (`rm -v`), its anonymous volumes go too.
pub async fn remove<E: Engine>(
    e: &Arc<E>,
    c: &Arc<Container>,
    force: bool,
    volumes: bool,
) -> Result<(), ContainerError> {
    let _guard = c.op_lock.lock().await;
    let st = c.state();
    if st.restarting {
        if !force {
            return Err(ContainerError::RemoveRestarting(c.id().to_string()));
        }
        c.stopped_by_hand();
    }
    if st.running() {
        if !force {
            return Err(ContainerError::RemoveRunning(c.id().to_string()));
        }
        kill_and_wait(&**e, c).await?;
    }
    remove_stopped(e, c).await?;
    if volumes {
        remove_anonymous_volumes(&**e, c);
    }
    Ok(())
}

/// Remove the anonymous volumes of a removed container that no other
/// container mounts (Docker keeps one still in use, silently).
fn remove_anonymous_volumes<E: Engine>(e: &E, c: &Container) {
    for m in c.record.mounts.iter().filter(|m| m.anonymous) {
        let Some(name) = m.volume_name() else {
            continue;
        };
        let users = e.containers().volume_users(name);
        match e.containers().volumes().remove(name, users) {
            Ok(()) => e.volume_event(name, "destroy", &[]),
            Err(super::volumes::VolumeError::InUse { .. }) => {}
            Err(err) => eprintln!("whale daemon: removing volume {name}: {err}"),
        }
    }
}

/// Remove a container the caller knows is not running.
pub async fn remove_stopped<E: Engine>(
    e: &Arc<E>,
    c: &Arc<Container>,
) -> Result<(), ContainerError> {
    if !c.begin_removal() {
        return Err(ContainerError::RemovalInProgress(c.name()));
    }
    e.drop_waiting(c.id());
    let e2 = e.clone();
    let c2 = c.clone();
    tokio::task::spawn_blocking(move || {
        // A shim removes its cgroup when its container exits; one that died
        // could not.
        if c2.state().error == SHIM_DIED {
            let cg = super::cgroup_path(c2.id());
            if let Err(err) = crate::linux::cgroup::remove_container_cgroup(&cg) {
                eprintln!("whale daemon: removing the cgroup of {}: {err}", c2.name());
            }
        }
        let trash = e2.containers().remove(&c2)?;
        if let Some(dir) = trash {
            // The container is gone for every client already; its files
            // (the upper dir can be large) go in the background.
            tokio::task::spawn_blocking(move || purge(&dir));
        }
        Ok::<_, ContainerError>(())
    })
    .await
    .map_err(task_err(format!("removing container {}", c.name())))??;
    trace(|| format!("{}: removed", c.short_id()));
    // `--rm` takes the container's anonymous volumes with it, as Docker.
    if c.record.host_config.auto_remove == Some(true) {
        remove_anonymous_volumes(&**e, c);
    }
    e.container_event(c, "destroy", &[]);
    Ok(())
}
