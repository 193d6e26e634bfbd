//! One client of the shim's socket: what it asked for, what it sent, and
//! the bytes queued for it. Writes never block: a client that falls too far
//! behind is dropped.

use super::detach::DETACH_KEYS;
use crate::linux::process::PollFlags;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use whale_formats::stdcopy::frame;

/// A client this far behind is disconnected rather than waited for.
const MAX_PENDING: usize = 8 << 20;

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Request line not complete yet.
    Pending,
    /// A stream of a process: the container's (attach) or an exec's.
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    Wait,
    /// Waits for exec `id` to end.
    ExecWait(String),
    /// Answer queued; close once written.
    Reply,
}

pub(super) struct Connection {
    pub stream: UnixStream,
    pub kind: Kind,
    pub inbuf: Vec<u8>,
    /// Bytes queued for the client; `out[sent..]` is still to be written.
    out: Vec<u8>,
    sent: usize,
    pub read_open: bool,
    pub close_after_flush: bool,
    pub dead: bool,
    /// How many bytes of the detach sequence were just typed (held back).
    pub escape: usize,
    /// The detach sequence of this (tty) client.
    pub detach_keys: Vec<u8>,
}

impl Connection {
    pub(super) fn new(stream: UnixStream) -> Connection {
        Connection {
            stream,
            kind: Kind::Pending,
            inbuf: Vec::new(),
            out: Vec::new(),
            sent: 0,
            read_open: true,
            close_after_flush: false,
            dead: false,
            escape: 0,
            detach_keys: DETACH_KEYS.to_vec(),
        }
    }

    pub(super) fn is_attach(&self) -> bool {
        matches!(self.kind, Kind::Attach { .. })
    }

    /// Stop reading, send what is queued, then close (detach, exit).
    pub(super) fn finish(&mut self) {
        self.read_open = false;
        self.close_after_flush = true;
        self.flush();
    }

    pub(super) fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    /// What to poll for; `input_blocked` while the process does not read
    /// what this client already sent.
    pub(super) fn interest(&self, input_blocked: bool) -> PollFlags {
        let mut ev = PollFlags::empty();
        if self.read_open && !input_blocked {
            ev |= PollFlags::POLLIN;
        }
        if self.pending() > 0 {
            ev |= PollFlags::POLLOUT;
        }
        ev
    }

    pub(super) fn queue(&mut self, bytes: &[u8]) {
        // Compact now and then rather than shifting on every partial write.
        if self.sent > 0 && self.sent * 2 >= self.out.len() {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        self.out.extend_from_slice(bytes);
        self.flush();
        if self.pending() > MAX_PENDING {
            eprintln!(
                "whale shim: an attach client fell {MAX_PENDING} bytes behind; disconnecting it"
            );
            self.dead = true;
        }
    }

    /// Queue one JSON line, the client's answer: it closes once written.
    pub(super) fn queue_line<T: serde::Serialize>(&mut self, value: &T) {
        self.close_after_flush = true;
        self.kind = Kind::Reply;
        self.queue(&json_line(value));
    }

    /// Queue a chunk of a process's `stream` (1 stdout, 2 stderr) if this
    /// client attached to it: raw on a tty, else in Docker's framing
    /// (`framed` keeps the frame for the next client of the same chunk).
    pub(super) fn deliver(
        &mut self,
        stream: u8,
        data: &[u8],
        tty: bool,
        framed: &mut Option<Vec<u8>>,
    ) {
        let Kind::Attach { stdout, stderr, .. } = self.kind else {
            return;
        };
        // A client that detached gets nothing more: it closes once what it
        // was sent is written.
        if self.close_after_flush {
            return;
        }
        if (stream == 1 && !stdout) || (stream == 2 && !stderr) {
            return;
        }
        if tty {
            self.queue(data);
        } else {
            let f = framed.get_or_insert_with(|| frame(stream, data));
            self.queue(f);
        }
    }

    pub(super) fn flush(&mut self) {
        while self.pending() > 0 && !self.dead {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => self.dead = true,
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.dead = true,
            }
        }
        if self.pending() == 0 {
            self.out.clear();
            self.sent = 0;
            if self.close_after_flush {
                self.dead = true;
            }
        }
    }

    /// After poll: write what is queued, then read what the client sent
    /// into `buf`. None when there is nothing to read (or the client is
    /// gone), Some(0) at the end of its input.
    pub(super) fn on_ready(&mut self, revents: PollFlags, buf: &mut [u8]) -> Option<usize> {
        if revents.contains(PollFlags::POLLOUT) {
            self.flush();
        }
        let readable = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
        if !revents.intersects(readable) || !self.read_open {
            return None;
        }
        match self.stream.read(buf) {
            Ok(n) => Some(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                None
            }
            Err(_) => {
                self.dead = true;
                None
            }
        }
    }
}

/// `value` as one line of JSON.
pub(super) fn json_line<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    line
}
