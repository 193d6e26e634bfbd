//! The shim's single-threaded event loop: one poll(2) over the handshake
//! pipe, the init's pidfd, the container's output, its stdin, the
//! listening socket and every client. Nothing here blocks on a client: each
//! has its own output queue, and one that falls too far behind is dropped.

use super::log::{now_rfc3339, JsonLog};
use super::protocol::{Ack, ExecRequest, ExecStarted, Exit, Request, Started, Status};
use super::state::{RunStatus, RuntimeState};
use super::{read_report, send_line, Shim, Stdio};
use crate::linux::process;
use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// An attach client this far behind is disconnected rather than waited for.
const MAX_PENDING: usize = 8 << 20;
/// How long to wait for output EOF after the init died, and for clients to
/// take their last bytes, before giving up on them.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);
/// Input held for a container that does not read its stdin, at most.
const MAX_STDIN_BUFFER: usize = 1 << 20;
/// A request line longer than this is not a request.
const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// Request line not complete yet.
    Pending,
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

struct Client {
    stream: UnixStream,
    kind: Kind,
    inbuf: Vec<u8>,
    /// Bytes queued for the client; `out[sent..]` is still to be written.
    out: Vec<u8>,
    sent: usize,
    read_open: bool,
    close_after_flush: bool,
    dead: bool,
    /// How many bytes of the detach sequence were just typed (held back).
    escape: usize,
    /// The detach sequence of this (tty) client.
    detach_keys: Vec<u8>,
}

impl Client {
    fn new(stream: UnixStream) -> Client {
        Client {
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

    /// Stop reading, send what is queued, then close (detach, exit).
    fn finish(&mut self) {
        self.read_open = false;
        self.close_after_flush = true;
        self.flush();
    }

    fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    fn queue(&mut self, bytes: &[u8]) {
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

    fn queue_line<T: serde::Serialize>(&mut self, value: &T) {
        let mut line = serde_json::to_vec(value).unwrap_or_default();
        line.push(b'\n');
        self.close_after_flush = true;
        self.kind = Kind::Reply;
        self.queue(&line);
    }

    fn flush(&mut self) {
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
}

struct Output {
    fd: OwnedFd,
    /// Docker's stream id: 1 stdout, 2 stderr.
    stream: u8,
    eof: bool,
}

struct StdinSink {
    fd: OwnedFd,
    buf: Vec<u8>,
    /// Close once `buf` is written (stdin_once and the client's input ended).
    close_when_drained: bool,
    /// A pty cannot be closed for the reader: stdin just stops being fed.
    is_pty: bool,
}

struct Server {
    shim: Shim,
    control: Option<Vec<u8>>,
    started: bool,
    started_at: String,
    outputs: Vec<Output>,
    stdin: Option<StdinSink>,
    tty_fd: Option<RawFd>,
    clients: Vec<Client>,
    log: JsonLog,
    exit_code: Option<i32>,
    exit: Option<Exit>,
    exited_at: Option<Instant>,
    /// Running `exec` processes.
    execs: Vec<ExecSession>,
    /// Exit codes of the execs that have ended, by id.
    exec_results: HashMap<String, i32>,
}

/// One `exec` process: its stdio and its one client (the Exec connection).
struct ExecSession {
    id: String,
    pid: i32,
    pidfd: OwnedFd,
    tty_fd: Option<RawFd>,
    outputs: Vec<Output>,
    stdin: Option<StdinSink>,
    /// None once the client detached or went away: output is then dropped.
    client: Option<Client>,
    stdout: bool,
    stderr: bool,
    exit_code: Option<i32>,
    exited_at: Option<Instant>,
    done: bool,
}

enum Token {
    Control,
    Pid,
    Listener,
    Output(usize),
    Stdin,
    Client(usize),
    ExecPid(usize),
    ExecOutput(usize, usize),
    ExecStdin(usize),
    ExecClient(usize),
}

pub(crate) fn serve(shim: Shim) -> i32 {
    let log_file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&shim.spec.log_path)
        .map_err(|e| {
            eprintln!(
                "whale shim: cannot open the log {}: {e}; output is not logged",
                shim.spec.log_path.display()
            )
        })
        .ok();
    let mut shim = shim;
    let (outputs, stdin, tty_fd) = match shim.stdio.take() {
        Some(stdio) => split_stdio(stdio, shim.spec.open_stdin),
        None => (Vec::new(), None, None),
    };
    let mut server = Server {
        shim,
        control: Some(Vec::new()),
        started: false,
        started_at: String::new(),
        outputs,
        stdin,
        tty_fd,
        clients: Vec::new(),
        log: JsonLog::new(log_file),
        exit_code: None,
        exit: None,
        exited_at: None,
        execs: Vec::new(),
        exec_results: HashMap::new(),
    };
    server.run()
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

impl Server {
    fn run(&mut self) -> i32 {
        let mut buf = vec![0u8; 64 * 1024];
        let mut finishing = false;
        let mut finish_deadline: Option<Instant> = None;
        let mut waits_answered = false;
        loop {
            if !finishing && self.exit_code.is_some() && self.outputs.iter().all(|o| o.eof) {
                self.finish();
                finishing = true;
                finish_deadline = Some(Instant::now() + DRAIN_LIMIT);
                for c in &mut self.clients {
                    if matches!(c.kind, Kind::Attach { .. }) {
                        c.close_after_flush = true;
                        c.flush();
                    }
                }
            }
            if finishing {
                self.clients.retain(|c| !c.dead);
                let attached = self
                    .clients
                    .iter()
                    .any(|c| matches!(c.kind, Kind::Attach { .. }));
                let late = finish_deadline.is_some_and(|d| Instant::now() >= d);
                if !waits_answered && (!attached || late) {
                    waits_answered = true;
                    let exit = self.exit.clone();
                    for c in &mut self.clients {
                        if let (Kind::Wait, Some(exit)) = (&c.kind, &exit) {
                            c.queue_line(exit);
                        }
                    }
                    self.clients.retain(|c| !c.dead);
                }
                if waits_answered && ((self.clients.is_empty() && self.execs.is_empty()) || late) {
                    self.answer_exec_waits_at_exit();
                    // Last: the namespace (and the overlay) go away now.
                    drop(self.shim.mnt_ns.take());
                    return 0;
                }
            }

            let mut fds: Vec<libc::pollfd> = Vec::new();
            let mut tokens: Vec<Token> = Vec::new();
            if self.control.is_some() {
                fds.push(pollfd(0, libc::POLLIN));
                tokens.push(Token::Control);
            }
            if self.exit_code.is_none() && self.started {
                fds.push(pollfd(self.shim.pidfd.as_raw_fd(), libc::POLLIN));
                tokens.push(Token::Pid);
            }
            fds.push(pollfd(self.shim.listener.as_raw_fd(), libc::POLLIN));
            tokens.push(Token::Listener);
            for (i, o) in self.outputs.iter().enumerate() {
                if !o.eof && self.started {
                    fds.push(pollfd(o.fd.as_raw_fd(), libc::POLLIN));
                    tokens.push(Token::Output(i));
                }
            }
            if let Some(s) = &self.stdin {
                if !s.buf.is_empty() {
                    fds.push(pollfd(s.fd.as_raw_fd(), libc::POLLOUT));
                    tokens.push(Token::Stdin);
                }
            }
            // Stop reading stdin clients while the container is not
            // reading what we already hold for it.
            let stdin_full = self
                .stdin
                .as_ref()
                .is_some_and(|s| s.buf.len() >= MAX_STDIN_BUFFER);
            for (i, c) in self.clients.iter().enumerate() {
                let mut ev: libc::c_short = 0;
                let feeds_stdin = matches!(c.kind, Kind::Attach { stdin: true, .. });
                if c.read_open && !(feeds_stdin && stdin_full) {
                    ev |= libc::POLLIN;
                }
                if c.pending() > 0 {
                    ev |= libc::POLLOUT;
                }
                fds.push(pollfd(c.stream.as_raw_fd(), ev));
                tokens.push(Token::Client(i));
            }
            for (i, x) in self.execs.iter().enumerate() {
                if x.exit_code.is_none() {
                    fds.push(pollfd(x.pidfd.as_raw_fd(), libc::POLLIN));
                    tokens.push(Token::ExecPid(i));
                }
                for (j, o) in x.outputs.iter().enumerate() {
                    if !o.eof {
                        fds.push(pollfd(o.fd.as_raw_fd(), libc::POLLIN));
                        tokens.push(Token::ExecOutput(i, j));
                    }
                }
                if let Some(s) = &x.stdin {
                    if !s.buf.is_empty() {
                        fds.push(pollfd(s.fd.as_raw_fd(), libc::POLLOUT));
                        tokens.push(Token::ExecStdin(i));
                    }
                }
                if let Some(c) = &x.client {
                    let full = x
                        .stdin
                        .as_ref()
                        .is_some_and(|s| s.buf.len() >= MAX_STDIN_BUFFER);
                    let mut ev: libc::c_short = 0;
                    if c.read_open && !full {
                        ev |= libc::POLLIN;
                    }
                    if c.pending() > 0 {
                        ev |= libc::POLLOUT;
                    }
                    fds.push(pollfd(c.stream.as_raw_fd(), ev));
                    tokens.push(Token::ExecClient(i));
                }
            }
            let mut timeout = match (finish_deadline, self.exited_at) {
                (Some(d), _) => remaining_ms(d),
                (None, Some(t)) => remaining_ms(t + DRAIN_LIMIT),
                _ => -1,
            };
            for x in &self.execs {
                if let (Some(t), false) = (x.exited_at, x.done) {
                    let ms = remaining_ms(t + DRAIN_LIMIT);
                    timeout = if timeout < 0 { ms } else { timeout.min(ms) };
                }
            }
            if let Err(e) = process::poll(&mut fds, timeout) {
                eprintln!("whale shim: poll: {e}");
                return 1;
            }
            let drain_over = self
                .exited_at
                .is_some_and(|t| Instant::now() >= t + DRAIN_LIMIT);
            if drain_over && self.exit_code.is_some() && !finishing {
                // The init is gone but something still holds its output
                // open: stop waiting for it.
                for o in &mut self.outputs {
                    o.eof = true;
                }
            }
            for (pfd, token) in fds.iter().zip(tokens) {
                if pfd.revents == 0 {
                    continue;
                }
                match token {
                    Token::Control => {
                        if let Some(code) = self.on_control() {
                            return code;
                        }
                    }
                    Token::Pid => self.on_exit(),
                    Token::Listener => self.accept(),
                    Token::Output(i) => self.on_output(i, &mut buf),
                    Token::Stdin => self.flush_stdin(),
                    Token::Client(i) => self.on_client(i, pfd.revents, &mut buf),
                    Token::ExecPid(i) => self.execs[i].on_exit(),
                    Token::ExecOutput(i, j) => self.execs[i].on_output(j, &mut buf),
                    Token::ExecStdin(i) => self.execs[i].flush_stdin(),
                    Token::ExecClient(i) => self.execs[i].on_client(pfd.revents, &mut buf),
                }
            }
            self.settle_execs();
            self.clients.retain(|c| !c.dead);
            if let Some(s) = &self.stdin {
                if s.buf.is_empty() && s.close_when_drained {
                    self.stdin = None;
                }
            }
        }
    }

    /// The daemon's handshake pipe: `start\n` releases the init.
    fn on_control(&mut self) -> Option<i32> {
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
        super::trace("started");
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
        let _ = process::kill(self.shim.pid, libc::SIGKILL);
        let _ = process::reap(self.shim.pid);
        if let Err(e) = self.shim.cgroup.remove() {
            eprintln!("whale shim: cannot remove the cgroup: {e}");
        }
        let _ = fs::remove_file(&self.shim.spec.socket_path);
        0
    }

    fn on_exit(&mut self) {
        match process::try_reap(self.shim.pid) {
            Ok(Some(code)) => {
                self.exit_code = Some(code);
                self.exited_at = Some(Instant::now());
                // Nobody reads the container's stdin any more.
                self.stdin = None;
                for c in &mut self.clients {
                    if matches!(c.kind, Kind::Attach { .. }) {
                        c.read_open = false;
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("whale shim: waitpid: {e}");
                self.exit_code = Some(125);
                self.exited_at = Some(Instant::now());
            }
        }
    }

    /// The container has exited and its output is drained: record it.
    fn finish(&mut self) {
        super::trace("exited, output drained");
        self.log.flush();
        let oom_killed = self.shim.cgroup.oom_killed();
        if let Err(e) = self.shim.cgroup.remove() {
            eprintln!("whale shim: cannot remove the cgroup: {e}");
        }
        let exit = Exit {
            exit_code: self.exit_code.unwrap_or(125),
            oom_killed,
            finished_at: now_rfc3339(),
        };
        self.exit = Some(exit.clone());
        self.write_state(RunStatus::Exited, Some(&exit));
        super::trace("state written");
        // No new clients from here: whoever got an Exit finds the socket gone.
        let _ = fs::remove_file(&self.shim.spec.socket_path);
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
        };
        let result = write_state_file(&self.shim.spec.state_path, &state);
        if let Err(e) = result {
            eprintln!(
                "whale shim: cannot write {}: {e}",
                self.shim.spec.state_path.display()
            );
        }
    }

    /// Accept every pending connection and read what each has already sent:
    /// an attach made before `start` must be in place before the first byte
    /// of output.
    fn accept(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            match self.shim.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    self.clients.push(Client::new(stream));
                    let i = self.clients.len() - 1;
                    self.on_client(i, libc::POLLIN, &mut buf);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    fn on_output(&mut self, i: usize, buf: &mut [u8]) {
        let (fd, stream) = (self.outputs[i].fd.as_raw_fd(), self.outputs[i].stream);
        // A few reads per wakeup, so one noisy stream cannot starve the rest.
        for _ in 0..4 {
            match process::read(fd, buf) {
                Ok(0) => {
                    self.outputs[i].eof = true;
                    return;
                }
                Ok(n) => self.broadcast(stream, &buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EIO: the pty's last slave closed.
                Err(_) => {
                    self.outputs[i].eof = true;
                    return;
                }
            }
        }
    }

    fn broadcast(&mut self, stream: u8, data: &[u8]) {
        self.log.write(stream, data);
        let tty = self.tty_fd.is_some();
        let mut framed: Option<Vec<u8>> = None;
        for c in &mut self.clients {
            let Kind::Attach { stdout, stderr, .. } = c.kind else {
                continue;
            };
            // A client that detached gets nothing more: it closes once
            // what it was sent is written.
            if c.close_after_flush {
                continue;
            }
            if (stream == 1 && !stdout) || (stream == 2 && !stderr) {
                continue;
            }
            if tty {
                c.queue(data);
            } else {
                let f = framed.get_or_insert_with(|| frame(stream, data));
                c.queue(f);
            }
        }
    }

    fn flush_stdin(&mut self) {
        let Some(s) = &mut self.stdin else { return };
        while !s.buf.is_empty() {
            match process::write(s.fd.as_raw_fd(), &s.buf) {
                Ok(n) => {
                    s.buf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // EPIPE: the container closed its stdin.
                    self.stdin = None;
                    return;
                }
            }
        }
    }

    fn feed_stdin(&mut self, data: &[u8]) {
        if let Some(s) = &mut self.stdin {
            if !s.close_when_drained {
                s.buf.extend_from_slice(data);
                self.flush_stdin();
            }
        }
    }

    fn on_client(&mut self, i: usize, revents: libc::c_short, buf: &mut [u8]) {
        if revents & libc::POLLOUT != 0 {
            self.clients[i].flush();
        }
        if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0
            || !self.clients[i].read_open
        {
            return;
        }
        let n = match self.clients[i].stream.read(buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return
            }
            Err(_) => {
                self.clients[i].dead = true;
                return;
            }
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
                let data = if self.tty_fd.is_some() {
                    let c = &mut self.clients[i];
                    let (data, detach) = scan_detach(&c.detach_keys, &mut c.escape, &buf[..n]);
                    if detach {
                        // Docker's Ctrl-P Ctrl-Q: this client leaves, the
                        // container keeps running.
                        c.finish();
                    }
                    data
                } else {
                    buf[..n].to_vec()
                };
                self.feed_stdin(&data);
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
                if let Some(s) = &mut self.stdin {
                    if !s.is_pty {
                        s.close_when_drained = true;
                    }
                }
            }
            _ => {}
        }
    }

    fn try_request(&mut self, i: usize) {
        let Some(nl) = self.clients[i].inbuf.iter().position(|b| *b == b'\n') else {
            if self.clients[i].inbuf.len() > MAX_REQUEST {
                self.clients[i].queue_line(&Ack {
                    ok: false,
                    error: Some("request line too long".into()),
                });
            }
            return;
        };
        let rest = self.clients[i].inbuf.split_off(nl + 1);
        let line = std::mem::take(&mut self.clients[i].inbuf);
        let req: Request = match serde_json::from_slice(&line) {
            Ok(r) => r,
            Err(e) => {
                self.clients[i].queue_line(&Ack {
                    ok: false,
                    error: Some(format!(
                        "invalid request {:?}: {e}",
                        String::from_utf8_lossy(&line).trim_end()
                    )),
                });
                return;
            }
        };
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
                    self.feed_stdin(&rest);
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
                let ack = if self.exit_code.is_some() {
                    Ack {
                        ok: false,
                        error: Some("the container is not running".into()),
                    }
                } else {
                    match process::kill(self.shim.pid, signal) {
                        Ok(()) => Ack {
                            ok: true,
                            error: None,
                        },
                        Err(e) => Ack {
                            ok: false,
                            error: Some(format!("cannot send signal {signal}: {e}")),
                        },
                    }
                };
                self.clients[i].queue_line(&ack);
            }
            Request::Resize { rows, cols } => {
                let ack = match self.tty_fd {
                    Some(fd) => match process::set_winsize(fd, rows, cols) {
                        Ok(()) => Ack {
                            ok: true,
                            error: None,
                        },
                        Err(e) => Ack {
                            ok: false,
                            error: Some(format!("cannot resize the tty: {e}")),
                        },
                    },
                    None => Ack {
                        ok: false,
                        error: Some("the container has no tty to resize".into()),
                    },
                };
                self.clients[i].queue_line(&ack);
            }
            Request::Status => {
                let attached = self
                    .clients
                    .iter()
                    .filter(|c| matches!(c.kind, Kind::Attach { .. }))
                    .count() as u32;
                let running = self.started && self.exit_code.is_none();
                let status = Status {
                    pid: if self.exit_code.is_none() {
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
                    self.clients[i].queue_line(&Ack {
                        ok: false,
                        error: Some(format!("no exec {id} in this container")),
                    });
                }
            }
            Request::ExecResize { id, rows, cols } => {
                let ack = match self.execs.iter().find(|x| x.id == id) {
                    Some(ExecSession {
                        tty_fd: Some(fd), ..
                    }) => match process::set_winsize(*fd, rows, cols) {
                        Ok(()) => Ack {
                            ok: true,
                            error: None,
                        },
                        Err(e) => Ack {
                            ok: false,
                            error: Some(format!("cannot resize the exec's tty: {e}")),
                        },
                    },
                    Some(_) => Ack {
                        ok: false,
                        error: Some(format!("exec {id} has no tty to resize")),
                    },
                    None => Ack {
                        ok: false,
                        error: Some(format!("no running exec {id} in this container")),
                    },
                };
                self.clients[i].queue_line(&ack);
            }
        }
    }

    /// Run an exec process; the connection `i` becomes its stream.
    fn start_exec(&mut self, i: usize, req: ExecRequest, rest: Vec<u8>) {
        let refuse = |c: &mut Client, code: i32, message: String| {
            c.queue_line(&ExecStarted {
                pid: 0,
                error: Some(message),
                exit_code: Some(code),
            });
        };
        if !self.started || self.exit_code.is_some() {
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
        let spawned = match super::exec::spawn(self.shim.pid, &join_files, &req) {
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
        let mut client = Client::new(stream);
        client.kind = Kind::Attach {
            stdin: req.stdin,
            stdout: req.stdout,
            stderr: req.stderr,
        };
        if let Some(keys) = req.detach_keys.clone().filter(|k| !k.is_empty()) {
            client.detach_keys = keys;
        }
        let mut line = serde_json::to_vec(&ExecStarted {
            pid: spawned.pid,
            error: None,
            exit_code: None,
        })
        .unwrap_or_default();
        line.push(b'\n');
        client.queue(&line);
        let (outputs, stdin, tty_fd) = split_stdio(spawned.stdio, req.stdin);
        let mut session = ExecSession {
            id: req.id,
            pid: spawned.pid,
            pidfd: spawned.pidfd,
            tty_fd,
            outputs,
            stdin,
            client: Some(client),
            stdout: req.stdout,
            stderr: req.stderr,
            exit_code: None,
            exited_at: None,
            done: false,
        };
        if !rest.is_empty() {
            session.input(&rest);
        }
        self.execs.push(session);
    }

    /// Finish execs whose process ended and whose output is drained; drop
    /// the ones whose client is gone too.
    fn settle_execs(&mut self) {
        for x in &mut self.execs {
            if x.done || x.exit_code.is_none() {
                continue;
            }
            let late = x
                .exited_at
                .is_some_and(|t| Instant::now() >= t + DRAIN_LIMIT);
            if !(late || x.outputs.iter().all(|o| o.eof)) {
                continue;
            }
            x.done = true;
            let code = x.exit_code.unwrap_or(125);
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
    fn answer_exec_waits_at_exit(&mut self) {
        for x in &mut self.execs {
            if x.exit_code.is_none() {
                if let Ok(Some(code)) = process::try_reap(x.pid) {
                    x.exit_code = Some(code);
                }
            }
            self.exec_results
                .entry(x.id.clone())
                .or_insert(x.exit_code.unwrap_or(137));
        }
        for c in &mut self.clients {
            if let Kind::ExecWait(id) = &c.kind {
                let code = self.exec_results.get(id).copied().unwrap_or(137);
                c.queue_line(&exec_exit(code));
            }
        }
    }
}

fn exec_exit(code: i32) -> Exit {
    Exit {
        exit_code: code,
        oom_killed: false,
        finished_at: now_rfc3339(),
    }
}

/// The shim's side of a process's stdio as outputs, a stdin sink, the pty.
fn split_stdio(stdio: Stdio, want_stdin: bool) -> (Vec<Output>, Option<StdinSink>, Option<RawFd>) {
    match stdio {
        Stdio::Pty { master } => {
            let tty_fd = master.as_raw_fd();
            let sink = if want_stdin {
                master.try_clone().ok().map(|fd| StdinSink {
                    fd,
                    buf: Vec::new(),
                    close_when_drained: false,
                    is_pty: true,
                })
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
        Stdio::Pipes {
            stdout,
            stderr,
            stdin,
        } => {
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
            let sink = stdin.map(|fd| StdinSink {
                fd,
                buf: Vec::new(),
                close_when_drained: false,
                is_pty: false,
            });
            (outs, sink, None)
        }
    }
}

impl ExecSession {
    fn on_exit(&mut self) {
        match process::try_reap(self.pid) {
            Ok(Some(code)) => {
                self.exit_code = Some(code);
                self.exited_at = Some(Instant::now());
                self.stdin = None;
                if let Some(c) = &mut self.client {
                    c.read_open = false;
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("whale shim: waitpid of exec {}: {e}", self.id);
                self.exit_code = Some(125);
                self.exited_at = Some(Instant::now());
            }
        }
    }

    fn on_output(&mut self, j: usize, buf: &mut [u8]) {
        let (fd, stream) = (self.outputs[j].fd.as_raw_fd(), self.outputs[j].stream);
        for _ in 0..4 {
            match process::read(fd, buf) {
                Ok(0) => {
                    self.outputs[j].eof = true;
                    return;
                }
                Ok(n) => {
                    let wanted = (stream == 1 && self.stdout) || (stream == 2 && self.stderr);
                    let open = self.client.as_ref().is_some_and(|c| !c.close_after_flush);
                    if let (Some(c), true, true) = (&mut self.client, wanted, open) {
                        if self.tty_fd.is_some() {
                            c.queue(&buf[..n]);
                        } else {
                            c.queue(&frame(stream, &buf[..n]));
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.outputs[j].eof = true;
                    return;
                }
            }
        }
    }

    fn flush_stdin(&mut self) {
        let Some(s) = &mut self.stdin else { return };
        while !s.buf.is_empty() {
            match process::write(s.fd.as_raw_fd(), &s.buf) {
                Ok(n) => {
                    s.buf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.stdin = None;
                    return;
                }
            }
        }
        if s.close_when_drained {
            self.stdin = None;
        }
    }

    /// Bytes from the client: detach keys on a tty, the rest to stdin.
    fn input(&mut self, data: &[u8]) {
        let Some(c) = &mut self.client else { return };
        let data = if self.tty_fd.is_some() {
            let (data, detach) = scan_detach(&c.detach_keys, &mut c.escape, data);
            if detach {
                c.finish();
            }
            data
        } else {
            data.to_vec()
        };
        if let Some(s) = &mut self.stdin {
            if !s.close_when_drained {
                s.buf.extend_from_slice(&data);
                self.flush_stdin();
            }
        }
    }

    fn on_client(&mut self, revents: libc::c_short, buf: &mut [u8]) {
        let Some(c) = &mut self.client else { return };
        if revents & libc::POLLOUT != 0 {
            c.flush();
        }
        if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 || !c.read_open {
            return;
        }
        let n = match c.stream.read(buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return
            }
            Err(_) => {
                c.dead = true;
                return;
            }
        };
        if n == 0 {
            // The client's input ended: so does the process's (not a pty's).
            c.read_open = false;
            if let Some(s) = &mut self.stdin {
                if !s.is_pty {
                    s.close_when_drained = true;
                    if s.buf.is_empty() {
                        self.stdin = None;
                    }
                }
            }
            return;
        }
        let data = buf[..n].to_vec();
        self.input(&data);
    }
}

/// Write the state atomically (temp file + rename: readers never see half a
/// file) but without fsync. On this machine the two fsyncs of
/// `fsutil::write_json_atomic` cost 8 to 30 ms (a journal commit), more than
/// the whole container run. Losing the newest record to a power cut is
/// harmless: after a reboot no container runs, and the daemon treats a
/// `running` record whose shim is gone as exited.
fn write_state_file(path: &std::path::Path, state: &RuntimeState) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", process::getpid()));
    fs::write(&tmp, &bytes)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Docker's default detach keys, ctrl-p ctrl-q (tty attaches only, as Docker).
pub(crate) const DETACH_KEYS: &[u8] = &[0x10, 0x11];

/// Filter a tty client's input for the detach sequence. `held` carries how
/// many sequence bytes ended the previous chunk. Returns the bytes to pass
/// to the container and whether the sequence was completed.
pub(crate) fn scan_detach(keys: &[u8], held: &mut usize, input: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(input.len());
    if keys.is_empty() {
        return (input.to_vec(), false);
    }
    for &b in input {
        if b == keys[*held] {
            *held += 1;
            if *held == keys.len() {
                *held = 0;
                return (out, true);
            }
            continue;
        }
        // A false start: the held bytes were ordinary input after all.
        out.extend_from_slice(&keys[..*held]);
        *held = 0;
        if b == keys[0] {
            *held = 1;
            if keys.len() == 1 {
                *held = 0;
                return (out, true);
            }
        } else {
            out.push(b);
        }
    }
    (out, false)
}

use whale_formats::stdcopy::frame;

fn remaining_ms(deadline: Instant) -> i32 {
    // Rounded up: a deadline 0.4 ms away must not become a busy poll(0).
    let left = deadline.saturating_duration_since(Instant::now());
    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_sequence_is_found_across_chunks_and_false_starts_pass() {
        let k = DETACH_KEYS;
        let mut held = 0;
        assert_eq!(
            scan_detach(k, &mut held, b"ls\n"),
            (b"ls\n".to_vec(), false)
        );
        assert_eq!(scan_detach(k, &mut held, b"a\x10"), (b"a".to_vec(), false));
        assert_eq!(held, 1);
        assert_eq!(scan_detach(k, &mut held, b"\x11rest"), (Vec::new(), true));
        let mut held = 0;
        assert_eq!(
            scan_detach(k, &mut held, b"\x10x\x10\x10\x11"),
            (b"\x10x\x10".to_vec(), true)
        );
        // `--detach-keys ctrl-a`: one key is enough; Ctrl-P passes.
        let mut held = 0;
        assert_eq!(
            scan_detach(&[1], &mut held, b"\x10\x11x\x01y"),
            (b"\x10\x11x".to_vec(), true)
        );
    }
}
