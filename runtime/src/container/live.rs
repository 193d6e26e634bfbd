//! What changes in a container's record after create: its name (`rename`),
//! its host config (`update`: limits and the restart policy), how many
//! times its restart policy restarted it, and whether it was stopped by
//! hand (which ends `unless-stopped` for good and any policy until the next
//! start). The record's own `name`/`host_config` are the values at load;
//! the current ones are read here, and every change is written back to
//! `config.json` atomically.

use super::error::io_err;
use super::{Container, ContainerError, ContainerRecord, Store};
use crate::fsutil;
use bollard::models::HostConfig;

/// The mutable part of a record, behind the container's lock.
#[derive(Debug, Clone)]
pub(super) struct Live {
    pub name: String,
    pub host_config: HostConfig,
    pub restart_count: u64,
    pub manually_stopped: bool,
    pub start_failure: Option<super::StartFailure>,
}

impl Live {
    pub(super) fn of(r: &ContainerRecord) -> Live {
        Live {
            name: r.name.clone(),
            host_config: r.host_config.clone(),
            restart_count: r.restart_count,
            manually_stopped: r.manually_stopped,
            start_failure: r.start_failure.clone(),
        }
    }
}

impl Container {
    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        // A poisoned lock only means a request panicked between statements.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current name, without the leading `/`.
    pub fn name(&self) -> String {
        self.live().name.clone()
    }

    /// The current host config (limits and restart policy as last updated).
    pub fn host_config(&self) -> HostConfig {
        self.live().host_config.clone()
    }

    /// `RestartCount` of inspect: restarts by the policy since the last
    /// start by hand.
    pub fn restart_count(&self) -> u64 {
        self.live().restart_count
    }

    pub fn manually_stopped(&self) -> bool {
        self.live().manually_stopped
    }

    pub fn auto_remove(&self) -> bool {
        self.live().host_config.auto_remove == Some(true)
    }

    /// The record as it is now, for `config.json`.
    pub fn current_record(&self) -> ContainerRecord {
        let live = self.live().clone();
        let mut r = self.record.clone();
        r.name = live.name;
        r.host_config = live.host_config;
        r.restart_count = live.restart_count;
        r.manually_stopped = live.manually_stopped;
        r.start_failure = live.start_failure;
        r
    }

    /// Change the live record with `f` and write it (blocking on the disk).
    pub(super) fn change(&self, f: impl FnOnce(&mut Live)) -> Result<(), ContainerError> {
        f(&mut self.live());
        self.persist()
    }

    /// Write the current record to `config.json` (atomically). A removed
    /// container's directory is gone: nothing to keep then.
    pub(super) fn persist(&self) -> Result<(), ContainerError> {
        if !self.paths.dir.exists() {
            return Ok(());
        }
        let path = self.paths.config();
        fsutil::write_json_atomic(&path, &self.current_record())
            .map_err(io_err(format!("writing {}", path.display())))
    }
}

impl Store {
    /// `docker rename`: the new name is reserved under the index lock, so
    /// it can never be handed out twice; the old one is freed.
    pub fn rename(&self, c: &Container, new_name: &str) -> Result<(), ContainerError> {
        if new_name.is_empty() {
            return Err(ContainerError::Invalid(
                "Neither old nor new names may be empty".into(),
            ));
        }
        if !super::names::is_valid_name(new_name) {
            return Err(ContainerError::Invalid(format!(
                "Error when allocating new name: Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let new_name = new_name.trim_start_matches('/').to_string();
        let old = c.name();
        if new_name == old {
            return Err(ContainerError::Invalid(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        {
            let mut idx = self.lock();
            if let Some(id) = idx.names.get(&new_name) {
                let taken = ContainerError::NameInUse {
                    name: new_name,
                    id: id.clone(),
                };
                return Err(ContainerError::RenameConflict(taken.to_string()));
            }
            idx.names.insert(new_name.clone(), c.id().to_string());
            if idx.names.get(&old).map(String::as_str) == Some(c.id()) {
                idx.names.remove(&old);
            }
        }
        c.live().name = new_name.clone();
        if let Err(e) = c.persist() {
            // Put the old name back: the record on disk still says it.
            let mut idx = self.lock();
            idx.names.remove(&new_name);
            idx.names.insert(old.clone(), c.id().to_string());
            c.live().name = old;
            return Err(e);
        }
        Ok(())
    }
}
