//! Connections to a running container's streams (`attach`, followed
//! `logs`): its shim holds the init's stdio or pty and relays it.

use super::Container;
use crate::shim::client::{self, ShimError};
use crate::shim::protocol::Request;
use tokio::net::UnixStream;

/// Which streams an attach connection carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// The sequence that detaches a tty stream; None: Ctrl-P Ctrl-Q.
    pub detach_keys: Option<Vec<u8>>,
}

/// Connect to `c`'s streams. The connection carries the output (raw for a
/// tty, multiplexed otherwise) and, with `stdin`, takes the input; the shim
/// ends it when the container exits or the client detaches.
pub async fn attach(c: &Container, a: &Attach) -> Result<UnixStream, ShimError> {
    let req = Request::Attach {
        stdin: a.stdin,
        stdout: a.stdout,
        stderr: a.stderr,
        detach_keys: a.detach_keys.clone(),
    };
    client::connect(&c.paths.socket(), &req).await
}
