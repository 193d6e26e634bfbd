//! `--volumes-from CONTAINER[:ro|:rw]` (`HostConfig.VolumesFrom`): the new
//! container mounts what the other one mounts, its binds and volumes (not
//! its tmpfs), at the same places, as the other has them; `:ro` makes them
//! read-only (`:rw`, the default, cannot make a read-only one writable). The container's own binds
//! and mounts win where both name a destination, as in dockerd.

use super::mounts::{Kind, MountPoint};
use super::{ContainerError, Store};
use bollard::models::HostConfig;

/// The mounts taken from the containers `hc.volumes_from` names.
pub fn inherited(hc: &HostConfig, store: &Store) -> Result<Vec<MountPoint>, ContainerError> {
    let mut out: Vec<MountPoint> = Vec::new();
    for spec in hc.volumes_from.iter().flatten() {
        let (name, mode) = match spec.rsplit_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (spec.as_str(), None),
        };
        let rw = match mode {
            None => None,
            Some("rw") => Some(true),
            Some("ro") => Some(false),
            // dockerd's words.
            Some(m) => return Err(ContainerError::Invalid(format!("invalid mode: {m}"))),
        };
        // dockerd answers 400 here, not 404 (which a client would take for
        // a missing image and try to pull).
        let other = store
            .get(name)
            .map_err(|e| ContainerError::Invalid(e.to_string()))?;
        for m in other.record.mounts.iter().filter(|m| m.kind != Kind::Tmpfs) {
            if out.iter().any(|o| o.destination == m.destination) {
                continue;
            }
            let mut m = m.clone();
            // The other container's: never removed with this one, never
            // filled again from this one's image.
            m.anonymous = false;
            m.copy_up = false;
            // `:rw` cannot make a read-only mount writable (dockerd:
            // `RW: m.RW && ReadWrite(mode)`).
            if let Some(rw) = rw {
                m.rw = m.rw && rw;
                m.mode = String::new();
            }
            out.push(m);
        }
    }
    Ok(out)
}
