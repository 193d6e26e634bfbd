//! `state.json`: the runtime state of a container, written atomically by its
//! shim (running, then exited). No file means the container was created and
//! never started.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Exited,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeState {
    pub status: RunStatus,
    /// Host PID of the container's init (0 once exited).
    pub pid: i32,
    /// Host PID of the shim that owns this run.
    pub shim_pid: i32,
    /// RFC 3339 with nanoseconds, UTC.
    pub started_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub oom_killed: bool,
    /// Why the run ended abnormally (shim died, exec failed), Docker's State.Error.
    #[serde(default)]
    pub error: String,
    /// The published ports while running, as bound (empty once exited).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<super::spec::PortBinding>,
}
