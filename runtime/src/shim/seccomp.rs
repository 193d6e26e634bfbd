//! The container's seccomp filter in the shim: compiled once from the
//! spec when the shim starts, installed by the init and by every exec
//! process as their last step before execve (after no_new_privs), as runc
//! does. Exec processes run under the container's filter, as in Docker.
//!
//! A shim serves one container and is single-threaded, so the filter is
//! kept in a process-wide cell: the init and the exec processes are
//! clones of the shim and find it there. Installing without a loaded
//! filter fails (closed), it never runs a command unconfined by accident.

use super::spec::ShimSpec;
use crate::linux::seccomp;
use std::sync::OnceLock;

/// None: `seccomp=unconfined`.
static FILTER: OnceLock<Option<seccomp::Filter>> = OnceLock::new();

/// Compile the spec's filter for the container's capability set (Docker's
/// profile allows some calls only with some capabilities). A profile that does not compile fails the start (125).
pub(crate) fn load(spec: &ShimSpec) -> Result<(), super::ShimFailure> {
    let filter = spec
        .seccomp
        .filter(spec.privileges.caps)
        .map_err(|e| super::failure(125, e))?;
    let _ = FILTER.set(filter);
    Ok(())
}

/// Install the loaded filter on the calling process; Err is the message
/// to report (exit code 125).
pub(crate) fn install() -> Result<(), String> {
    match FILTER.get() {
        None => Err("seccomp: no filter was loaded for this container".to_string()),
        Some(None) => Ok(()),
        Some(Some(f)) => f.install().map_err(|e| e.to_string()),
    }
}
