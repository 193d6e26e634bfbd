//! The shim's single-threaded event loop: one poll(2) over the handshake
//! pipe, the init's pidfd, the container's output, its stdin, the
//! listening socket, every client and every exec. Nothing here blocks on a
//! client: each has its own output queue, and one that falls too far behind
//! is dropped.
//!
//! `relay` moves bytes between a process (the init or an exec) and its
//! clients, `connection` is one client's socket, `requests` answers what
//! clients ask, `lifecycle` releases the init and records its exit,
//! `exec_session` keeps the execs, `detach` finds the detach keys.

mod connection;
mod detach;
mod exec_session;
mod lifecycle;
mod relay;
mod requests;

use super::log::JsonLog;
use super::protocol::Exit;
use super::Shim;
use crate::linux::process::{self, PollFd, PollFlags};
use connection::{Connection, Kind};
use exec_session::ExecSession;
use relay::Relay;
use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// How long to wait for output EOF after a process died, and for clients to
/// take their last bytes, before giving up on them.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

struct Server {
    shim: Shim,
    /// What the daemon wrote on the handshake pipe so far; None once
    /// `start` was read.
    control: Option<Vec<u8>>,
    /// Our stdin, the handshake pipe until `start` (then /dev/null).
    handshake: std::io::Stdin,
    started: bool,
    started_at: String,
    /// The container's init and its stdio.
    container: Relay,
    clients: Vec<Connection>,
    log: JsonLog,
    exit: Option<Exit>,
    /// Running `exec` processes.
    execs: Vec<ExecSession>,
    /// Exit codes of the execs that have ended, by id.
    exec_results: HashMap<String, i32>,
}

/// Whose process a descriptor belongs to.
#[derive(Clone, Copy)]
enum Owner {
    Container,
    Exec(usize),
}

/// What a polled descriptor is.
#[derive(Clone, Copy)]
enum Token {
    Control,
    Listener,
    Pid(Owner),
    Output(Owner, usize),
    Stdin(Owner),
    Client(usize),
    ExecClient(usize),
}

/// The descriptors of one poll(2) round, each with what it is.
#[derive(Default)]
struct PollSet<'a> {
    fds: Vec<PollFd<'a>>,
    tokens: Vec<Token>,
}

impl<'a> PollSet<'a> {
    fn add(&mut self, fd: BorrowedFd<'a>, events: PollFlags, token: Token) {
        self.fds.push(PollFd::new(fd, events));
        self.tokens.push(token);
    }

    /// A process's output streams (when `read_output`) and its stdin while
    /// bytes wait for it.
    fn add_relay(&mut self, relay: &'a Relay, owner: Owner, read_output: bool) {
        for (j, o) in relay.outputs.iter().enumerate() {
            if !o.eof && read_output {
                self.add(o.fd.as_fd(), PollFlags::POLLIN, Token::Output(owner, j));
            }
        }
        if let Some(s) = &relay.stdin {
            if s.has_pending() {
                self.add(s.fd.as_fd(), PollFlags::POLLOUT, Token::Stdin(owner));
            }
        }
    }

    /// Wait; the descriptors that became ready, with their events.
    fn wait(mut self, timeout_ms: i32) -> std::io::Result<Vec<(Token, PollFlags)>> {
        process::poll(&mut self.fds, timeout_ms)?;
        Ok(self
            .fds
            .iter()
            .zip(self.tokens)
            .filter_map(|(fd, token)| {
                let revents = fd.revents().unwrap_or(PollFlags::empty());
                (!revents.is_empty()).then_some((token, revents))
            })
            .collect())
    }
}

pub(crate) fn serve(mut shim: Shim) -> i32 {
    let log_file = if shim.spec.no_log {
        None
    } else {
        super::log::open_private(&shim.spec.log_path)
            .map_err(|e| {
                eprintln!(
                    "whale shim: cannot open the log {}: {e}; output is not logged",
                    shim.spec.log_path.display()
                )
            })
            .ok()
    };
    let container = Relay::new(shim.pid, shim.stdio.take(), shim.spec.open_stdin);
    let mut server = Server {
        shim,
        control: Some(Vec::new()),
        handshake: std::io::stdin(),
        started: false,
        started_at: String::new(),
        container,
        clients: Vec::new(),
        log: JsonLog::new(log_file),
        exit: None,
        execs: Vec::new(),
        exec_results: HashMap::new(),
    };
    server.run()
}

impl Server {
    fn run(&mut self) -> i32 {
        let mut buf = vec![0u8; 64 * 1024];
        let mut finishing = false;
        let mut finish_deadline: Option<Instant> = None;
        let mut waits_answered = false;
        loop {
            if !finishing && self.container.exit_code.is_some() && self.container.drained() {
                self.finish();
                finishing = true;
                finish_deadline = Some(Instant::now() + DRAIN_LIMIT);
                for c in &mut self.clients {
                    if c.is_attach() {
                        c.close_after_flush = true;
                        c.flush();
                    }
                }
            }
            if finishing {
                self.clients.retain(|c| !c.dead);
                let attached = self.clients.iter().any(|c| c.is_attach());
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

            let timeout = self.poll_timeout(finish_deadline);
            let ready = match self.poll_set().wait(timeout) {
                Ok(ready) => ready,
                Err(e) => {
                    eprintln!("whale shim: poll: {e}");
                    return 1;
                }
            };
            if self.container.drain_expired() && self.container.exit_code.is_some() && !finishing {
                // The init is gone but something still holds its output
                // open: stop waiting for it.
                for o in &mut self.container.outputs {
                    o.eof = true;
                }
            }
            for (token, revents) in ready {
                if let Some(code) = self.dispatch(token, revents, &mut buf) {
                    return code;
                }
            }
            self.settle_execs();
            self.clients.retain(|c| !c.dead);
        }
    }

    fn poll_set(&self) -> PollSet<'_> {
        let mut set = PollSet::default();
        if self.control.is_some() {
            set.add(self.handshake.as_fd(), PollFlags::POLLIN, Token::Control);
        }
        if self.container.exit_code.is_none() && self.started {
            let pidfd = self.shim.pidfd.as_fd();
            set.add(pidfd, PollFlags::POLLIN, Token::Pid(Owner::Container));
        }
        set.add(
            self.shim.listener.as_fd(),
            PollFlags::POLLIN,
            Token::Listener,
        );
        set.add_relay(&self.container, Owner::Container, self.started);
        let stdin_full = self.container.stdin_full();
        for (i, c) in self.clients.iter().enumerate() {
            let feeds_stdin = matches!(c.kind, Kind::Attach { stdin: true, .. });
            let events = c.interest(feeds_stdin && stdin_full);
            set.add(c.stream.as_fd(), events, Token::Client(i));
        }
        for (i, x) in self.execs.iter().enumerate() {
            let owner = Owner::Exec(i);
            if x.relay.exit_code.is_none() {
                set.add(x.pidfd.as_fd(), PollFlags::POLLIN, Token::Pid(owner));
            }
            set.add_relay(&x.relay, owner, true);
            if let Some(c) = &x.client {
                let events = c.interest(x.relay.stdin_full());
                set.add(c.stream.as_fd(), events, Token::ExecClient(i));
            }
        }
        set
    }

    /// Until the next drain deadline: the container's, or an exec's.
    fn poll_timeout(&self, finish_deadline: Option<Instant>) -> i32 {
        let mut timeout = match (finish_deadline, self.container.exited_at) {
            (Some(d), _) => remaining_ms(d),
            (None, Some(t)) => remaining_ms(t + DRAIN_LIMIT),
            _ => -1,
        };
        for x in &self.execs {
            if let (Some(t), false) = (x.relay.exited_at, x.done) {
                let ms = remaining_ms(t + DRAIN_LIMIT);
                timeout = if timeout < 0 { ms } else { timeout.min(ms) };
            }
        }
        timeout
    }

    /// Handle one ready descriptor; Some(code) ends the shim.
    fn dispatch(&mut self, token: Token, revents: PollFlags, buf: &mut [u8]) -> Option<i32> {
        match token {
            Token::Control => return self.on_control(),
            Token::Listener => self.accept(),
            Token::Pid(Owner::Container) => self.on_exit(),
            Token::Pid(Owner::Exec(i)) => self.execs[i].on_exit(),
            Token::Output(Owner::Container, j) => {
                let tty = self.container.is_tty();
                let (log, clients) = (&mut self.log, &mut self.clients);
                self.container.read_output(j, buf, |stream, data| {
                    log.write(stream, data);
                    let mut framed = None;
                    for c in clients.iter_mut() {
                        c.deliver(stream, data, tty, &mut framed);
                    }
                });
            }
            Token::Output(Owner::Exec(i), j) => self.execs[i].on_output(j, buf),
            Token::Stdin(Owner::Container) => self.container.flush_stdin(),
            Token::Stdin(Owner::Exec(i)) => self.execs[i].relay.flush_stdin(),
            Token::Client(i) => self.on_client(i, revents, buf),
            Token::ExecClient(i) => self.execs[i].on_client(revents, buf),
        }
        None
    }
}

fn remaining_ms(deadline: Instant) -> i32 {
    // Rounded up: a deadline 0.4 ms away must not become a busy poll(0).
    let left = deadline.saturating_duration_since(Instant::now());
    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
}
