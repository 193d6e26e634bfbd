//! The daemon: a subset of the Docker Engine API on a Unix socket.
//!
//! CONTRACT: `whale daemon` (a cli verb) calls
//! `api::run_daemon(DaemonConfig { root, socket })`, which blocks serving
//! until SIGTERM/SIGINT.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Root dir (`--root`, `WHALE_ROOT`, default /var/lib/whale).
    pub root: PathBuf,
    /// Unix socket path to listen on (`-H unix://PATH` or a plain path).
    pub socket: PathBuf,
}
