//! One relay for the container's init and for every exec: the shim's ends
//! of a process's stdio (its output streams, its stdin, its pty) and when
//! the process ended. Output goes to whoever the caller names; input comes
//! from attached clients, filtered for the detach keys on a tty.

use super::connection::Connection;
use super::detach::scan_detach;
use super::DRAIN_LIMIT;
use crate::linux::process;
use crate::shim::protocol::Ack;
use crate::shim::Stdio;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

/// Input held for a process that does not read its stdin, at most.
const MAX_STDIN_BUFFER: usize = 1 << 20;

pub(super) struct Output {
    pub fd: OwnedFd,
    /// Docker's stream id: 1 stdout, 2 stderr.
    pub stream: u8,
    pub eof: bool,
}

pub(super) struct StdinSink {
    pub fd: OwnedFd,
    buf: Vec<u8>,
    /// Close once `buf` is written (stdin_once and the client's input ended).
    close_when_drained: bool,
    /// A pty cannot be closed for the reader: stdin just stops being fed.
    is_pty: bool,
}

impl StdinSink {
    fn new(fd: OwnedFd, is_pty: bool) -> StdinSink {
        StdinSink {
            fd,
            buf: Vec::new(),
            close_when_drained: false,
            is_pty,
        }
    }

    /// Bytes wait to be written: poll the descriptor for POLLOUT.
    pub(super) fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }
}

pub(super) struct Relay {
    pub pid: i32,
    pub outputs: Vec<Output>,
    pub stdin: Option<StdinSink>,
    /// The pty master, for resizes; None with pipes.
    pub tty_fd: Option<RawFd>,
    pub exit_code: Option<i32>,
    pub exited_at: Option<Instant>,
}

impl Relay {
    /// The shim's side of process `pid`'s stdio (none: nothing to relay).
    pub(super) fn new(pid: i32, stdio: Option<Stdio>, want_stdin: bool) -> Relay {
        let (outputs, stdin, tty_fd) = match stdio {
            Some(Stdio::Pty { master }) => {
                let tty_fd = master.as_raw_fd();
                let sink = if want_stdin {
                    master.try_clone().ok().map(|fd| StdinSink::new(fd, true))
                } else {
                    None
                };
                let out = Output {
                    fd: master,
                    stream: 1,
                    eof: false,
                };
                (vec![out], sink, Some(tty_fd))
            }
            Some(Stdio::Pipes {
                stdout,
                stderr,
                stdin,
            }) => {
                let outs = vec![
                    Output {
                        fd: stdout,
                        stream: 1,
                        eof: false,
                    },
                    Output {
                        fd: stderr,
                        stream: 2,
                        eof: false,
                    },
                ];
                (outs, stdin.map(|fd| StdinSink::new(fd, false)), None)
            }
            None => (Vec::new(), None, None),
        };
        Relay {
            pid,
            outputs,
            stdin,
            tty_fd,
            exit_code: None,
            exited_at: None,
        }
    }

    pub(super) fn is_tty(&self) -> bool {
        self.tty_fd.is_some()
    }

    /// The process's pidfd is readable: reap it. True when it just ended
    /// (nobody reads its stdin any more).
    pub(super) fn reap(&mut self, what: &str) -> bool {
        match process::try_reap(self.pid) {
            Ok(Some(code)) => {
                self.exit_code = Some(code);
                self.exited_at = Some(Instant::now());
                self.stdin = None;
                true
            }
            Ok(None) => false,
            Err(e) => {
                eprintln!("whale shim: waitpid{what}: {e}");
                self.exit_code = Some(125);
                self.exited_at = Some(Instant::now());
                false
            }
        }
    }

    /// Every output stream reached EOF.
    pub(super) fn drained(&self) -> bool {
        self.outputs.iter().all(|o| o.eof)
    }

    /// The process ended long enough ago to stop waiting for its output.
    pub(super) fn drain_expired(&self) -> bool {
        self.exited_at
            .is_some_and(|t| Instant::now() >= t + DRAIN_LIMIT)
    }

    /// Stop reading clients' input while the process is not reading what
    /// is already held for it.
    pub(super) fn stdin_full(&self) -> bool {
        self.stdin
            .as_ref()
            .is_some_and(|s| s.buf.len() >= MAX_STDIN_BUFFER)
    }

    /// Output `j` is readable: hand what it has to `deliver(stream, bytes)`.
    pub(super) fn read_output(
        &mut self,
        j: usize,
        buf: &mut [u8],
        mut deliver: impl FnMut(u8, &[u8]),
    ) {
        let (fd, stream) = (self.outputs[j].fd.as_raw_fd(), self.outputs[j].stream);
        // A few reads per wakeup, so one noisy stream cannot starve the rest.
        for _ in 0..4 {
            match process::read(fd, buf) {
                Ok(0) => {
                    self.outputs[j].eof = true;
                    return;
                }
                Ok(n) => deliver(stream, &buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EIO: the pty's last slave closed.
                Err(_) => {
                    self.outputs[j].eof = true;
                    return;
                }
            }
        }
    }

    /// Write what is held for stdin, as far as the process takes it.
    pub(super) fn flush_stdin(&mut self) {
        let Some(s) = &mut self.stdin else { return };
        while !s.buf.is_empty() {
            match process::write(s.fd.as_raw_fd(), &s.buf) {
                Ok(n) => {
                    s.buf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // EPIPE: the process closed its stdin.
                    self.stdin = None;
                    return;
                }
            }
        }
        if s.close_when_drained {
            self.stdin = None;
        }
    }

    pub(super) fn feed_stdin(&mut self, data: &[u8]) {
        if let Some(s) = &mut self.stdin {
            if !s.close_when_drained {
                s.buf.extend_from_slice(data);
                self.flush_stdin();
            }
        }
    }

    /// Bytes typed by `client`: on a tty the detach keys end its attach
    /// (Docker's Ctrl-P Ctrl-Q: the process keeps running); the rest goes
    /// to stdin.
    pub(super) fn input(&mut self, client: &mut Connection, data: &[u8]) {
        if !self.is_tty() {
            self.feed_stdin(data);
            return;
        }
        let (data, detach) = scan_detach(&client.detach_keys, &mut client.escape, data);
        if detach {
            client.finish();
        }
        self.feed_stdin(&data);
    }

    /// The client's input ended: so does the process's (not a pty's), once
    /// what is held for it is written.
    pub(super) fn input_ended(&mut self) {
        if let Some(s) = &mut self.stdin {
            if !s.is_pty {
                s.close_when_drained = true;
                if s.buf.is_empty() {
                    self.stdin = None;
                }
            }
        }
    }

    /// Resize the pty; `tty_name` and `no_tty` are what errors say.
    pub(super) fn resize(&self, rows: u16, cols: u16, tty_name: &str, no_tty: String) -> Ack {
        match self.tty_fd {
            Some(fd) => match process::set_winsize(fd, rows, cols) {
                Ok(()) => Ack::ok(),
                Err(e) => Ack::refused(format!("cannot resize {tty_name}: {e}")),
            },
            None => Ack::refused(no_tty),
        }
    }
}
