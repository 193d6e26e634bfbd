//! The real dockerd the tests compare whale with: at `WHALE_TEST_DOCKERD`
//! (a socket path or `unix://` address) or Docker's default socket. Tests
//! that compare SKIP, saying why, when none answers a ping or it has no
//! busybox:latest; CI has none.

use crate::{docker_cli, http_unix, run_command, Out, DEFAULT_TIMEOUT};
use std::path::PathBuf;
use std::process::Command;

/// The socket of the dockerd to compare with, when it answers `/_ping`
/// (a socket file alone proves nothing: a dead dockerd leaves one behind);
/// otherwise why not.
pub fn answering_socket() -> Result<PathBuf, String> {
    let addr =
        std::env::var("WHALE_TEST_DOCKERD").unwrap_or_else(|_| "/var/run/docker.sock".to_string());
    let socket = PathBuf::from(addr.strip_prefix("unix://").unwrap_or(&addr));
    match http_unix(&socket, "GET", "/_ping", None) {
        // Every comparison runs busybox on both engines, and dockerd here can
        // never pull it (no Docker Hub): without it a test would compare a
        // pull error, not the engines.
        Ok(r) if r.status == 200 => {
            match http_unix(&socket, "GET", "/images/busybox:latest/json", None) {
                Ok(r) if r.status == 200 => Ok(socket),
                _ => Err(format!(
                    "dockerd at {} has no busybox:latest \
                     (tutor/scripts/dockerd-for-lessons.sh shows how to import one)",
                    socket.display()
                )),
            }
        }
        Ok(r) => Err(format!(
            "dockerd at {} answered the ping with {}",
            socket.display(),
            r.status
        )),
        Err(e) => Err(format!(
            "no dockerd answers at {} ({e}); set WHALE_TEST_DOCKERD",
            socket.display()
        )),
    }
}

/// [`answering_socket`], printing why the comparison is skipped when none.
pub fn socket_or_skip() -> Option<PathBuf> {
    answering_socket()
        .map_err(|why| eprintln!("SKIPPED the dockerd comparison: {why}"))
        .ok()
}

/// A dockerd that answered `/_ping`.
pub struct Dockerd {
    pub socket: PathBuf,
}

impl Dockerd {
    /// The dockerd to compare with, if one answers and the docker CLI is
    /// installed; otherwise prints why the comparison is skipped.
    pub fn find(test: &str) -> Option<Dockerd> {
        let socket = match answering_socket() {
            Ok(s) => s,
            Err(why) => {
                eprintln!("SKIP {test}: {why}");
                return None;
            }
        };
        if docker_cli().is_none() {
            eprintln!("SKIP {test}: the docker CLI is not installed");
            return None;
        }
        Some(Dockerd { socket })
    }

    /// `docker -H unix://SOCKET ARGS...`.
    pub fn docker(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new(docker_cli().expect("checked in find"));
        cmd.arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT");
        run_command(cmd, None, DEFAULT_TIMEOUT)
    }

    /// An API request to dockerd.
    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> crate::Http {
        http_unix(&self.socket, method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path} to dockerd: {e}"))
    }
}

/// Removes dockerd containers (by name) when dropped, even on failure.
pub struct DockerdCleanup<'a> {
    pub dockerd: &'a Dockerd,
    pub names: Vec<String>,
}

impl Drop for DockerdCleanup<'_> {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self.dockerd.docker(&["rm", "-f", n]);
        }
    }
}
