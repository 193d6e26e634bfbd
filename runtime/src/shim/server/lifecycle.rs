//! The container's life as the shim sees it: the daemon's `start` releases
//! the init, its exit is reaped, and once its output is drained the exit
//! status is recorded in `state.json`.

use super::Server;
use crate::linux::process;
use crate::shim::log::now_rfc3339;
use crate::shim::protocol::{Exit, Started};
use crate::shim::state::{RunStatus, RuntimeState};
use crate::shim::{read_report, send_line, trace};
use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

impl Server {
    /// The daemon's handshake pipe: `start\n` releases the init.
    pub(super) fn on_control(&mut self) -> Option<i32> {
        let mut chunk = [0u8; 64];
        let n = match process::read(0, &mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return None,
            Err(_) => 0,
        };
        let buf = self.control.get_or_insert_with(Vec::new);
        buf.extend_from_slice(&chunk[..n]);
        if n == 0 || buf.len() > 64 {
            eprintln!(
                "whale shim: the daemon went away before `start`; removing the container's init"
            );
            return Some(self.abort());
        }
        if !buf.contains(&b'\n') {
            return None;
        }
        if buf.as_slice() != b"start\n" {
            eprintln!(
                "whale shim: expected `start` from the daemon, got {:?}",
                String::from_utf8_lossy(buf)
            );
            return Some(self.abort());
        }
        self.control = None;
        self.accept();
        // Taken before init is released: a command that ends at once must
        // never look finished before it started.
        self.started_at = now_rfc3339();
        if let Err(e) = process::write_all(self.shim.go.as_raw_fd(), b"g") {
            let _ = send_line(&Started {
                error: Some(format!("cannot release the container's init: {e}")),
                exit_code: Some(125),
            });
            return Some(self.abort());
        }
        // EOF (close-on-exec) means execve succeeded.
        if let Some((code, message)) = read_report(self.shim.report.as_raw_fd()) {
            let _ = send_line(&Started {
                error: Some(message),
                exit_code: Some(code),
            });
            return Some(self.abort());
        }
        trace("started");
        self.started = true;
        let _ = send_line(&Started {
            error: None,
            exit_code: None,
        });
        // From here on the shim speaks only on its socket.
        if let Ok(null) = fs::File::open("/dev/null") {
            let _ = process::dup2(null.as_raw_fd(), 0);
        }
        let _ = process::dup2(2, 1);
        // Right after Started (the daemon is not kept waiting for it).
        self.write_state(RunStatus::Running, None);
        None
    }

    /// Give up before the container ran: kill and reap the init, clean up.
    fn abort(&mut self) -> i32 {
        self.stop_proxy();
        let _ = process::kill(self.shim.pid, libc::SIGKILL);
        let _ = process::reap(self.shim.pid);
        if let Err(e) = self.shim.cgroup.remove() {
            eprintln!("whale shim: cannot remove the cgroup: {e}");
        }
        let _ = fs::remove_file(&self.shim.spec.socket_path);
        0
    }

    /// The init's pidfd is readable.
    pub(super) fn on_exit(&mut self) {
        if self.container.reap("") {
            // The ports close with the container, before its exit is told.
            self.stop_proxy();
            for c in &mut self.clients {
                if c.is_attach() {
                    c.read_open = false;
                }
            }
        }
    }

    /// The container has exited and its output is drained: record it.
    pub(super) fn finish(&mut self) {
        trace("exited, output drained");
        self.log.flush();
        let oom_killed = self.shim.cgroup.oom_killed();
        if let Err(e) = self.shim.cgroup.remove() {
            eprintln!("whale shim: cannot remove the cgroup: {e}");
        }
        let exit = Exit {
            exit_code: self.container.exit_code.unwrap_or(125),
            oom_killed,
            finished_at: now_rfc3339(),
        };
        self.exit = Some(exit.clone());
        self.write_state(RunStatus::Exited, Some(&exit));
        trace("state written");
        // No new clients from here: whoever got an Exit finds the socket gone.
        let _ = fs::remove_file(&self.shim.spec.socket_path);
    }

    fn stop_proxy(&mut self) {
        if let Some(p) = self.shim.proxy.take() {
            p.stop();
        }
    }

    fn write_state(&self, status: RunStatus, exit: Option<&Exit>) {
        let state = RuntimeState {
            status,
            pid: if exit.is_some() { 0 } else { self.shim.pid },
            shim_pid: self.shim.shim_pid,
            started_at: self.started_at.clone(),
            finished_at: exit.map(|e| e.finished_at.clone()),
            exit_code: exit.map(|e| e.exit_code),
            oom_killed: exit.is_some_and(|e| e.oom_killed),
            error: String::new(),
            ports: if exit.is_some() {
                Vec::new()
            } else {
                self.shim.ports.clone()
            },
        };
        let result = write_state_file(&self.shim.spec.state_path, &state);
        if let Err(e) = result {
            eprintln!(
                "whale shim: cannot write {}: {e}",
                self.shim.spec.state_path.display()
            );
        }
    }
}

/// The state is rewritten on every change and worthless after a power cut
/// (after a reboot no container runs, and the daemon treats a `running`
/// record whose shim is gone as exited): atomic, without fsync.
fn write_state_file(path: &Path, state: &RuntimeState) -> io::Result<()> {
    crate::fsutil::replace_json(path, state)
}
