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
//! - `Exec`: run another process in the container's namespaces and cgroup
//!   (as `docker exec`). The shim answers one line [`ExecStarted`]; when it
//!   started, the connection then becomes that process's stream, exactly as
//!   an `Attach` stream (raw for a tty, else multiplexed; the detach keys
//!   leave it running). Its exit code is told by `ExecWait`.
//! - `ExecWait`: answers one line [`Exit`] when exec `id` has ended and its
//!   output is drained (at once if it already has); `Ack` with an error for
//!   an id the shim does not know.
//! - `ExecResize`: set the window size of exec `id`'s pty; answers [`Ack`].
//!
//! Fields added after the first version are optional (`serde(default)`), so
//! a daemon and a shim of different builds still understand each other.

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
    /// The published ports as bound (ephemeral host ports filled in).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<super::spec::PortBinding>,
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
        /// Detach sequence for a tty stream (`detachKeys`); None: Ctrl-P Ctrl-Q.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detach_keys: Option<Vec<u8>>,
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
    Exec(ExecRequest),
    ExecWait {
        id: String,
    },
    ExecResize {
        id: String,
        rows: u16,
        cols: u16,
    },
}

/// A process to run in the running container (`docker exec`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The daemon's exec id: names the process in `ExecWait`/`ExecResize`.
    pub id: String,
    pub args: Vec<String>,
    /// The whole `KEY=value` environment (the daemon merges the container's).
    pub env: Vec<String>,
    /// Working directory inside the container ("" is the container's root).
    pub cwd: String,
    /// Docker's `User`, resolved against the container's /etc/passwd.
    pub user: String,
    pub tty: bool,
    /// Feed the process's stdin from the connection (else /dev/null).
    pub stdin: bool,
    #[serde(default)]
    pub stdout: bool,
    #[serde(default)]
    pub stderr: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<(u16, u16)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detach_keys: Option<Vec<u8>>,
    /// `exec --privileged`: every capability, as dockerd gives it (the
    /// container's seccomp filter, masks and devices still hold).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
}

/// The first line of an `Exec` connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecStarted {
    /// Host PID of the process (0 on error).
    pub pid: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Docker's code for the error: 126 not executable, 127 not found, else 125.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

pub use whale_formats::detach_keys::parse_detach_keys;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_attach_lines_still_parse() {
        let r: Request =
            serde_json::from_str(r#"{"op":"attach","stdin":true,"stdout":true,"stderr":false}"#)
                .unwrap();
        assert!(matches!(
            r,
            Request::Attach {
                detach_keys: None,
                ..
            }
        ));
        let line = serde_json::to_string(&Request::ExecWait { id: "x".into() }).unwrap();
        assert_eq!(line, r#"{"op":"execwait","id":"x"}"#);
    }
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

impl Ack {
    pub fn ok() -> Ack {
        Ack {
            ok: true,
            error: None,
        }
    }

    pub fn refused(error: impl Into<String>) -> Ack {
        Ack {
            ok: false,
            error: Some(error.into()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub pid: i32,
    pub running: bool,
    /// Number of attach streams currently connected.
    pub attached: u32,
}
