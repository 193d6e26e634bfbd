//! The wire protocol between the daemon and a shim.
//!
//! ## Spawn handshake (stdin/stdout pipes of `whale shim <dir>`)
//! 1. The daemon spawns `whale shim <container dir>` with piped stdin/stdout.
//!    The shim double-forks (so it is re-parented away from the daemon and
//!    outlives it), calls setsid, creates its socket, the cgroup, and the
//!    container's init, which prepares the rootfs and resolves the command,
//!    then blocks before execve.
//! 2. The shim writes ONE line of JSON on stdout: a [`Ready`].
//!    If preparation failed, `Ready.error` says why (with `exit_code` 125,
//!    126 or 127 as Docker would), and the shim has already cleaned up and exits.
//! 3. The daemon connects any pending attach clients to the socket, then
//!    writes the line `start\n` on the shim's stdin.
//! 4. The shim releases init to execve and writes ONE more line: a
//!    [`Started`] (error set if execve itself failed). Then it closes both
//!    pipes; from here on it speaks only on its socket.
//!
//! ## Socket requests (`<dir>/shim.sock`)
//! Each connection starts with one line of JSON, a [`Request`].
//! - `Attach`: the connection becomes the stream. Output goes to the client as
//!   raw bytes for a tty, else in Docker's multiplexed framing (8-byte header:
//!   stream type 1/2, three zero bytes, big-endian u32 length). Bytes from
//!   the client go to the container's stdin (if requested and open). When the
//!   client half-closes and `stdin_once` is set, the container's stdin is
//!   closed. When the container exits, the shim flushes and closes the stream.
//! - `Wait`: the shim answers one line [`Exit`] when the container has exited
//!   (at once if it already has).
//! - `Signal`: kill(init, signal); answers one line [`Ack`].
//! - `Resize`: set the pty window size; answers [`Ack`].
//! - `Status`: answers one line [`Status`] at once.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ready {
    /// Host PID of the container's init (0 on error).
    pub pid: i32,
    /// Host PID of the long-lived shim.
    pub shim_pid: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Docker's CLI exit code for the error: 125 engine, 126 not executable, 127 not found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Started {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    Wait,
    Signal {
        signal: i32,
    },
    Resize {
        rows: u16,
        cols: u16,
    },
    Status,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    /// The command's code, or 128+N when killed by signal N.
    pub exit_code: i32,
    pub oom_killed: bool,
    /// RFC 3339 with nanoseconds, UTC.
    pub finished_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ack {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub pid: i32,
    pub running: bool,
    /// Number of attach streams currently connected.
    pub attached: u32,
}
