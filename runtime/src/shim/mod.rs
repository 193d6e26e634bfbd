//! The per-container monitor: `whale shim <container dir>`, re-executed from
//! the whale binary and single-threaded (never forked from the
//! multi-threaded daemon). It starts the container's init, holds its stdio
//! (pipes or pty), writes the json-file log, serves attach/wait/signal on its
//! socket, records the exit status in `state.json`, and outlives the daemon.
//!
//! `spec.rs` is what to run, `protocol.rs` how the daemon talks to a shim,
//! `client.rs` the daemon's side of that protocol.

pub mod client;
pub mod protocol;
pub mod spec;

/// Entry point of `whale shim <container dir>`; returns the process exit code.
pub fn main(_args: Vec<std::ffi::OsString>) -> i32 {
    eprintln!("whale shim: not implemented yet");
    125
}
