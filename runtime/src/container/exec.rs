//! `docker exec`: processes started in a running container. Its shim runs
//! them (it holds the namespaces through the init) and tells their exit.

use super::Container;
use crate::shim::client::{self, ShimError};
use tokio::net::UnixStream;

pub use crate::shim::protocol::ExecRequest;

/// Exit code of an exec whose container went away under it (its shim
/// left, and the process died with the container): SIGKILL's.
const GONE: i32 = 137;

/// Why an exec did not start, as Docker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFailure {
    /// The exec's exit code: 126 not executable, 127 not found, else 125.
    pub exit_code: i32,
    pub message: String,
}

/// Start `req` in `c`. Returns the process's host PID and its stream: the
/// output (raw for a tty, multiplexed otherwise), which takes the input.
pub async fn start(c: &Container, req: ExecRequest) -> Result<(i32, UnixStream), StartFailure> {
    match client::exec_start(&c.paths.socket(), req).await {
        Ok((started, stream)) => Ok((started.pid, stream)),
        Err(err) => Err(StartFailure {
            exit_code: err.exit_code(),
            message: match err {
                ShimError::Exec { message, .. } => {
                    format!("OCI runtime exec failed: exec failed: {message}: unknown")
                }
                other => other.to_string(),
            },
        }),
    }
}

/// Wait for exec `exec_id` of `c` to end; its exit code.
pub async fn wait(c: &Container, exec_id: &str) -> i32 {
    match client::exec_wait(&c.paths.socket(), exec_id).await {
        Ok(exit) => exit.exit_code,
        Err(_) => GONE,
    }
}

/// Set the window size of exec `exec_id`'s tty.
pub async fn resize(c: &Container, exec_id: &str, rows: u16, cols: u16) -> Result<(), ShimError> {
    client::exec_resize(&c.paths.socket(), exec_id, rows, cols).await
}
