//! `docker exec` inside the shim: each exec is a process relayed to the one
//! connection that started it; its exit code is kept for `exec wait`.

use super::connection::{json_line, Connection, Kind};
use super::relay::Relay;
use super::Server;
use crate::linux::process::{self, PollFlags};
use crate::shim::log::now_rfc3339;
use crate::shim::protocol::{ExecRequest, ExecStarted, Exit};
use std::os::fd::OwnedFd;

/// One `exec` process: its stdio and its one client (the Exec connection).
pub(super) struct ExecSession {
    pub id: String,
    pub pidfd: OwnedFd,
    pub relay: Relay,
    /// None once the client detached or went away: output is then dropped.
    pub client: Option<Connection>,
    /// Its exit code is recorded and its client told.
    pub done: bool,
}

impl ExecSession {
    /// The process's pidfd is readable.
    pub(super) fn on_exit(&mut self) {
        if self.relay.reap(&format!(" of exec {}", self.id)) {
            if let Some(c) = &mut self.client {
                c.read_open = false;
            }
        }
    }

    pub(super) fn on_output(&mut self, j: usize, buf: &mut [u8]) {
        let tty = self.relay.is_tty();
        let client = &mut self.client;
        self.relay.read_output(j, buf, |stream, data| {
            if let Some(c) = client {
                c.deliver(stream, data, tty, &mut None);
            }
        });
    }

    pub(super) fn on_client(&mut self, revents: PollFlags, buf: &mut [u8]) {
        let Some(c) = &mut self.client else { return };
        match c.on_ready(revents, buf) {
            None => {}
            // The client's input ended: so does the process's (not a pty's).
            Some(0) => {
                c.read_open = false;
                self.relay.input_ended();
            }
            Some(n) => self.relay.input(c, &buf[..n]),
        }
    }
}

impl Server {
    /// Run an exec process; the connection `i` becomes its stream.
    pub(super) fn start_exec(&mut self, i: usize, req: ExecRequest, rest: Vec<u8>) {
        let refuse = |c: &mut Connection, code: i32, message: String| {
            c.queue_line(&ExecStarted {
                pid: 0,
                error: Some(message),
                exit_code: Some(code),
            });
        };
        if !self.started || self.container.exit_code.is_some() {
            let msg = format!("container {} is not running", self.shim.spec.id);
            refuse(&mut self.clients[i], 125, msg);
            return;
        }
        if self.execs.iter().any(|x| x.id == req.id) || self.exec_results.contains_key(&req.id) {
            let msg = format!("exec {} has already been started", req.id);
            refuse(&mut self.clients[i], 125, msg);
            return;
        }
        let join_files = self.shim.cgroup.join_files();
        let spawned = match crate::shim::exec::spawn(self.shim.pid, &join_files, &req) {
            Ok(s) => s,
            Err(f) => {
                refuse(&mut self.clients[i], f.code, f.message);
                return;
            }
        };
        // The session takes its own descriptor of the connection; the
        // pending client entry is dropped.
        let stream = match self.clients[i].stream.try_clone() {
            Ok(s) => s,
            Err(e) => {
                let _ = process::kill(spawned.pid, libc::SIGKILL);
                let msg = format!("cannot keep the exec connection: {e}");
                refuse(&mut self.clients[i], 125, msg);
                return;
            }
        };
        self.clients[i].dead = true;
        self.clients[i].read_open = false;
        let mut client = Connection::new(stream);
        client.kind = Kind::Attach {
            stdin: req.stdin,
            stdout: req.stdout,
            stderr: req.stderr,
        };
        if let Some(keys) = req.detach_keys.clone().filter(|k| !k.is_empty()) {
            client.detach_keys = keys;
        }
        client.queue(&json_line(&ExecStarted {
            pid: spawned.pid,
            error: None,
            exit_code: None,
        }));
        let mut session = ExecSession {
            id: req.id,
            pidfd: spawned.pidfd,
            relay: Relay::new(spawned.pid, Some(spawned.stdio), req.stdin),
            client: Some(client),
            done: false,
        };
        if !rest.is_empty() {
            if let Some(c) = &mut session.client {
                session.relay.input(c, &rest);
            }
        }
        self.execs.push(session);
    }

    /// Finish execs whose process ended and whose output is drained; drop
    /// the ones whose client is gone too.
    pub(super) fn settle_execs(&mut self) {
        for x in &mut self.execs {
            if x.done || x.relay.exit_code.is_none() {
                continue;
            }
            if !(x.relay.drain_expired() || x.relay.drained()) {
                continue;
            }
            x.done = true;
            let code = x.relay.exit_code.unwrap_or(125);
            self.exec_results.insert(x.id.clone(), code);
            for c in &mut self.clients {
                if c.kind == Kind::ExecWait(x.id.clone()) {
                    c.queue_line(&exec_exit(code));
                }
            }
            if let Some(c) = &mut x.client {
                c.finish();
            }
        }
        for x in &mut self.execs {
            if x.client.as_ref().is_some_and(|c| c.dead) {
                x.client = None;
            }
        }
        self.execs.retain(|x| !(x.done && x.client.is_none()));
    }

    /// The shim is leaving: whoever still waits for an exec gets an answer.
    pub(super) fn answer_exec_waits_at_exit(&mut self) {
        for x in &mut self.execs {
            if x.relay.exit_code.is_none() {
                if let Ok(Some(code)) = process::try_reap(x.relay.pid) {
                    x.relay.exit_code = Some(code);
                }
            }
            self.exec_results
                .entry(x.id.clone())
                .or_insert(x.relay.exit_code.unwrap_or(137));
        }
        for c in &mut self.clients {
            if let Kind::ExecWait(id) = &c.kind {
                let code = self.exec_results.get(id).copied().unwrap_or(137);
                c.queue_line(&exec_exit(code));
            }
        }
    }
}

pub(super) fn exec_exit(code: i32) -> Exit {
    Exit {
        exit_code: code,
        oom_killed: false,
        finished_at: now_rfc3339(),
    }
}
