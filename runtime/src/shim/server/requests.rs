//! The clients of the container's socket: accepting them, reading their
//! request line, and answering it (attach, wait, signal, resize, status,
//! exec, exec wait, exec resize).

use super::connection::{Connection, Kind};
use super::exec_session::exec_exit;
use super::Server;
use crate::linux::process::{self, PollFlags};
use crate::shim::protocol::{Ack, Request, Status};
use std::io;

/// A request line longer than this is not a request.
const MAX_REQUEST: usize = 64 * 1024;

impl Server {
    /// Accept every pending connection and read what each has already sent:
    /// an attach made before `start` must be in place before the first byte
    /// of output.
    pub(super) fn accept(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            match self.shim.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    self.clients.push(Connection::new(stream));
                    let i = self.clients.len() - 1;
                    self.on_client(i, PollFlags::POLLIN, &mut buf);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    pub(super) fn on_client(&mut self, i: usize, revents: PollFlags, buf: &mut [u8]) {
        let Some(n) = self.clients[i].on_ready(revents, buf) else {
            return;
        };
        if n == 0 {
            self.client_input_ended(i);
            return;
        }
        match self.clients[i].kind {
            Kind::Pending => {
                self.clients[i].inbuf.extend_from_slice(&buf[..n]);
                self.try_request(i);
            }
            Kind::Attach { stdin: true, .. } => {
                self.container.input(&mut self.clients[i], &buf[..n]);
            }
            // Anything else a client sends after its request is ignored.
            _ => {}
        }
    }

    fn client_input_ended(&mut self, i: usize) {
        let c = &mut self.clients[i];
        c.read_open = false;
        match c.kind {
            Kind::Pending => c.dead = true,
            Kind::Attach { stdin: true, .. } if self.shim.spec.stdin_once => {
                self.container.input_ended();
            }
            _ => {}
        }
    }

    fn try_request(&mut self, i: usize) {
        let c = &mut self.clients[i];
        let Some(nl) = c.inbuf.iter().position(|b| *b == b'\n') else {
            if c.inbuf.len() > MAX_REQUEST {
                c.queue_line(&Ack::refused("request line too long"));
            }
            return;
        };
        let rest = c.inbuf.split_off(nl + 1);
        let line = std::mem::take(&mut c.inbuf);
        match serde_json::from_slice(&line) {
            Ok(req) => self.handle(i, req, rest),
            Err(e) => c.queue_line(&Ack::refused(format!(
                "invalid request {:?}: {e}",
                String::from_utf8_lossy(&line).trim_end()
            ))),
        }
    }

    /// Answer request `req` of client `i`; `rest` is what it sent after
    /// the request line.
    fn handle(&mut self, i: usize, req: Request, rest: Vec<u8>) {
        match req {
            Request::Attach {
                stdin,
                stdout,
                stderr,
                detach_keys,
            } => {
                let stdin = stdin && self.shim.spec.open_stdin;
                let exited = self.exit.is_some();
                let c = &mut self.clients[i];
                c.kind = Kind::Attach {
                    stdin,
                    stdout,
                    stderr,
                };
                if let Some(keys) = detach_keys.filter(|k| !k.is_empty()) {
                    c.detach_keys = keys;
                }
                if exited {
                    // Nothing more will come: close at once.
                    c.close_after_flush = true;
                    c.read_open = false;
                    c.flush();
                } else if !rest.is_empty() && stdin {
                    // Typed before the request was read, so in the same
                    // read: scanned for the detach keys all the same (a
                    // loaded machine coalesces them; docker-py's detach
                    // tests lost the keys that way).
                    self.container.input(c, &rest);
                }
            }
            Request::Wait => match &self.exit {
                Some(exit) => {
                    let exit = exit.clone();
                    self.clients[i].queue_line(&exit);
                }
                None => self.clients[i].kind = Kind::Wait,
            },
            Request::Signal { signal } => {
                let ack = if self.container.exit_code.is_some() {
                    Ack::refused("the container is not running")
                } else {
                    match process::kill(self.shim.pid, signal) {
                        Ok(()) => Ack::ok(),
                        Err(e) => Ack::refused(format!("cannot send signal {signal}: {e}")),
                    }
                };
                self.clients[i].queue_line(&ack);
            }
            Request::Resize { rows, cols } => {
                let no_tty = "the container has no tty to resize".to_string();
                let ack = self.container.resize(rows, cols, "the tty", no_tty);
                self.clients[i].queue_line(&ack);
            }
            Request::Status => {
                let attached = self.clients.iter().filter(|c| c.is_attach()).count() as u32;
                let running = self.started && self.container.exit_code.is_none();
                let status = Status {
                    pid: if self.container.exit_code.is_none() {
                        self.shim.pid
                    } else {
                        0
                    },
                    running,
                    attached,
                };
                self.clients[i].queue_line(&status);
            }
            Request::Exec(req) => self.start_exec(i, req, rest),
            Request::ExecWait { id } => {
                if let Some(code) = self.exec_results.get(&id) {
                    let exit = exec_exit(*code);
                    self.clients[i].queue_line(&exit);
                } else if self.execs.iter().any(|x| x.id == id) {
                    self.clients[i].kind = Kind::ExecWait(id);
                } else {
                    let ack = Ack::refused(format!("no exec {id} in this container"));
                    self.clients[i].queue_line(&ack);
                }
            }
            Request::ExecResize { id, rows, cols } => {
                let ack = match self.execs.iter().find(|x| x.id == id) {
                    Some(x) => {
                        let no_tty = format!("exec {id} has no tty to resize");
                        x.relay.resize(rows, cols, "the exec's tty", no_tty)
                    }
                    None => Ack::refused(format!("no running exec {id} in this container")),
                };
                self.clients[i].queue_line(&ack);
            }
        }
    }
}
