//! The shim's single-threaded event loop: one poll(2) over the handshake
//! pipe, the init's pidfd, the container's output, its stdin, the
//! listening socket and every client. Nothing here blocks on a client: each
//! has its own output queue, and one that falls too far behind is dropped.

use super::log::{now_rfc3339, JsonLog};
use super::protocol::{Ack, Exit, Request, Started, Status};
use super::{read_report, send_line, Shim, Stdio};
use crate::container::state::{RunStatus, RuntimeState};
use crate::linux::process;
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
}

impl Client {
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
}

enum Token {
    Control,
    Pid,
    Listener,
    Output(usize),
    Stdin,
    Client(usize),
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
        Some(Stdio::Pty { master }) => {
            let tty_fd = master.as_raw_fd();
            let sink = if shim.spec.open_stdin {
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
            let sink = stdin.map(|fd| StdinSink {
                fd,
                buf: Vec::new(),
                close_when_drained: false,
                is_pty: false,
            });
            (outs, sink, None)
        }
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
                if waits_answered && (self.clients.is_empty() || late) {
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
            let timeout = match (finish_deadline, self.exited_at) {
                (Some(d), _) => remaining_ms(d),
                (None, Some(t)) => remaining_ms(t + DRAIN_LIMIT),
                _ => -1,
            };
            if let Err(e) = process::poll(&mut fds, timeout) {
                eprintln!("whale shim: poll: {e}");
                return 1;
            }
            if timeout == 0 && self.exit_code.is_some() && !finishing {
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
                }
            }
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
        self.started_at = now_rfc3339();
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
                    self.clients.push(Client {
                        stream,
                        kind: Kind::Pending,
                        inbuf: Vec::new(),
                        out: Vec::new(),
                        sent: 0,
                        read_open: true,
                        close_after_flush: false,
                        dead: false,
                        escape: 0,
                    });
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
                    let (data, detach) = scan_detach(&mut self.clients[i].escape, &buf[..n]);
                    if detach {
                        // Docker's Ctrl-P Ctrl-Q: this client leaves, the
                        // container keeps running.
                        let c = &mut self.clients[i];
                        c.read_open = false;
                        c.close_after_flush = true;
                        c.flush();
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
            } => {
                let stdin = stdin && self.shim.spec.open_stdin;
                let exited = self.exit.is_some();
                let c = &mut self.clients[i];
                c.kind = Kind::Attach {
                    stdin,
                    stdout,
                    stderr,
                };
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
        }
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
pub(crate) fn scan_detach(held: &mut usize, input: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(input.len());
    for &b in input {
        if b == DETACH_KEYS[*held] {
            *held += 1;
            if *held == DETACH_KEYS.len() {
                *held = 0;
                return (out, true);
            }
            continue;
        }
        // A false start: the held bytes were ordinary input after all.
        out.extend_from_slice(&DETACH_KEYS[..*held]);
        *held = 0;
        if b == DETACH_KEYS[0] {
            *held = 1;
        } else {
            out.push(b);
        }
    }
    (out, false)
}

/// Docker's multiplexed stream frame: type, three zero bytes, BE length.
pub(crate) fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + data.len());
    f.push(stream);
    f.extend_from_slice(&[0, 0, 0]);
    f.extend_from_slice(&(data.len() as u32).to_be_bytes());
    f.extend_from_slice(data);
    f
}

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
        let mut held = 0;
        assert_eq!(scan_detach(&mut held, b"ls\n"), (b"ls\n".to_vec(), false));
        assert_eq!(scan_detach(&mut held, b"a\x10"), (b"a".to_vec(), false));
        assert_eq!(held, 1);
        assert_eq!(scan_detach(&mut held, b"\x11rest"), (Vec::new(), true));
        let mut held = 0;
        assert_eq!(
            scan_detach(&mut held, b"\x10x\x10\x10\x11"),
            (b"\x10x\x10".to_vec(), true)
        );
    }

    #[test]
    fn frames_have_dockers_header() {
        let f = frame(2, b"hello");
        assert_eq!(&f[..8], &[2, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&f[8..], b"hello");
    }
}
