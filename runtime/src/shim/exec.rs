//! `docker exec`: a second process in a running container.
//!
//! The shim forks a helper which joins the container's cgroup and its
//! namespaces (ipc, uts, net, cgroup, pid, mnt: the init's, through
//! `/proc/<init>/ns/*`), opens the pty in the container's own devpts when
//! asked, and clones the process with CLONE_PARENT: the process is then the
//! shim's child (reaped through a pidfd like the init) and, being created
//! after the PID namespace was joined, a member of it. The helper exits at
//! once. The process itself does what the init does before execve: session,
//! stdio, user, capabilities, no_new_privs, working directory, PATH lookup.

use super::init::encode_report;
use super::protocol::ExecRequest;
use super::Stdio;
use crate::linux::{caps, exec, process, procfs, user};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// A failure to start the process: Docker's code and why.
#[derive(Debug)]
pub(crate) struct ExecFailure {
    pub code: i32,
    pub message: String,
}

fn fail(code: i32, message: impl std::fmt::Display) -> ExecFailure {
    ExecFailure {
        code,
        message: message.to_string(),
    }
}

/// A started exec process.
pub(crate) struct Spawned {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub stdio: Stdio,
}

/// Namespaces to join, in order: the mount namespace last, because the
/// `/proc` paths were opened in the shim's own.
const NAMESPACES: &[(&str, libc::c_int)] = &[
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("pid", libc::CLONE_NEWPID),
    ("mnt", libc::CLONE_NEWNS),
];

/// Start `req` in the container whose init is `init_pid`. Blocks until the
/// process has exec'd (or failed to): a few milliseconds.
pub(crate) fn spawn(
    init_pid: i32,
    join_files: &[PathBuf],
    req: &ExecRequest,
) -> Result<Spawned, ExecFailure> {
    let io_fail = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| fail(125, format!("{what}: {e}"))
    };
    if req.args.is_empty() {
        return Err(fail(125, "No exec command specified"));
    }
    let mut ns = Vec::new();
    for (name, kind) in NAMESPACES {
        let path = procfs::ns_path(init_pid, name);
        let f = File::open(&path).map_err(|e| {
            fail(
                125,
                format!(
                    "cannot open the container's namespace {}: {e}",
                    path.display()
                ),
            )
        })?;
        // A namespace the container shares with the host (`--network
        // host`) is joined all the same: it is the same one.
        ns.push((OwnedFd::from(f), *kind));
    }

    // The shim's ends, the child's ends (dropped here after the fork).
    let mut child_side: Vec<OwnedFd> = Vec::new();
    let (stdio, child_stdio, pty_socket) = super::plan_stdio(req.tty, req.stdin, &mut child_side)
        .map_err(|(what, e)| io_fail(what)(e))?;
    let (report_r, report_w) = process::pipe().map_err(io_fail("pipe"))?;
    let (pid_r, pid_w) = process::pipe().map_err(io_fail("pipe"))?;

    let helper = HelperConfig {
        ns: ns.iter().map(|(fd, k)| (fd.as_raw_fd(), *k)).collect(),
        join_files,
        stdio: child_stdio,
        pty_socket: pty_socket.as_ref().map(|(_, t)| *t),
        console_size: req.console_size,
        report_fd: report_w.as_raw_fd(),
        pid_fd: pid_w.as_raw_fd(),
        req,
    };
    let helper_pid = match process::fork().map_err(io_fail("fork"))? {
        process::Forked::Child => helper_main(&helper),
        process::Forked::Parent(pid) => pid,
    };
    drop(child_side);
    drop(report_w);
    drop(pid_w);
    drop(ns);

    // The helper writes the process's pid once it is cloned; EOF first
    // means the helper failed (and reported why).
    let mut buf = [0u8; 4];
    let pid = match read_exact(pid_r.as_raw_fd(), &mut buf) {
        true => i32::from_ne_bytes(buf),
        false => 0,
    };
    let master = match (&pty_socket, pid) {
        (Some((ours, _)), p) if p > 0 => Some(process::recv_fd(ours.as_raw_fd())),
        _ => None,
    };
    drop(pty_socket);
    let _ = process::reap(helper_pid);
    // EOF (close-on-exec) means execve succeeded; a line means why not.
    let report = super::read_report(report_r.as_raw_fd());
    if pid <= 0 {
        let (code, message) = report.unwrap_or((
            125,
            "the exec helper died before starting the process".to_string(),
        ));
        return Err(fail(code, message));
    }
    if let Some((code, message)) = report {
        let _ = process::reap(pid);
        return Err(fail(code, message));
    }
    let pidfd = match process::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = process::kill(pid, libc::SIGKILL);
            let _ = process::reap(pid);
            return Err(fail(125, format!("pidfd_open: {e}")));
        }
    };
    let stdio = match (stdio, master) {
        (Some(s), _) => s,
        (None, Some(Ok(master))) => {
            if let Err(e) = process::set_nonblocking(master.as_raw_fd()) {
                let _ = process::kill(pid, libc::SIGKILL);
                let _ = process::reap(pid);
                return Err(fail(125, format!("pty: {e}")));
            }
            Stdio::Pty { master }
        }
        (None, other) => {
            let _ = process::kill(pid, libc::SIGKILL);
            let _ = process::reap(pid);
            let why = match other {
                Some(Err(e)) => e.to_string(),
                _ => "no pty".to_string(),
            };
            return Err(fail(125, format!("cannot receive the exec's pty: {why}")));
        }
    };
    Ok(Spawned { pid, pidfd, stdio })
}

fn read_exact(fd: RawFd, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        match process::read(fd, &mut buf[got..]) {
            Ok(0) => return false,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

struct HelperConfig<'a> {
    ns: Vec<(RawFd, libc::c_int)>,
    join_files: &'a [PathBuf],
    stdio: [RawFd; 3],
    pty_socket: Option<RawFd>,
    console_size: Option<(u16, u16)>,
    report_fd: RawFd,
    pid_fd: RawFd,
    req: &'a ExecRequest,
}

/// The forked helper: never returns to the shim's code.
fn helper_main(h: &HelperConfig) -> ! {
    let report = |f: ExecFailure| -> ! {
        let _ = process::write_all(h.report_fd, &encode_report(f.code, &f.message));
        process::exit_now(f.code)
    };
    for f in h.join_files {
        if let Err(e) = std::fs::write(f, "0") {
            report(fail(
                125,
                format!("cannot join cgroup {}: {e}", f.display()),
            ));
        }
    }
    for (fd, kind) in &h.ns {
        if let Err(e) = process::setns(*fd, *kind) {
            report(fail(
                125,
                format!("cannot join the container's namespaces: {e}"),
            ));
        }
    }
    // Now in the container's mount namespace, at its root.
    let slave = match h.pty_socket {
        Some(sock) => {
            match process::open_pty_at(std::path::Path::new("/dev/pts/ptmx"), h.console_size) {
                Ok((master, slave, _)) => {
                    if let Err(e) = process::send_fd(sock, master.as_raw_fd()) {
                        report(fail(125, format!("cannot pass the pty to the shim: {e}")));
                    }
                    Some(slave)
                }
                Err(e) => report(fail(
                    125,
                    format!("cannot open a pty in the container: {e}"),
                )),
            }
        }
        None => None,
    };
    let stdio = match &slave {
        Some(s) => [s.as_raw_fd(); 3],
        None => h.stdio,
    };
    let tty = slave.is_some();
    let mut body = || -> isize { process_main(h, stdio, tty) };
    match process::clone_process(libc::CLONE_PARENT, &mut body) {
        Ok(pid) => {
            let _ = process::write_all(h.pid_fd, &pid.to_ne_bytes());
            process::exit_now(0)
        }
        Err(e) => report(fail(125, format!("cannot create the exec process: {e}"))),
    }
}

struct Prepared {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

/// The exec process, from clone to execve.
fn process_main(h: &HelperConfig, stdio: [RawFd; 3], tty: bool) -> ! {
    match prepare(h, stdio, tty).and_then(|p| {
        super::seccomp::install()
            .map(|()| p)
            .map_err(|m| fail(125, m))
    }) {
        Ok(p) => {
            let err = process::execve(&p.path, &p.argv, &p.envp);
            let e = exec::ExecError::from_exec(&h.req.args[0], err);
            let code = e.exit_code();
            let _ = process::write_all(h.report_fd, &encode_report(code, &e.to_string()));
            process::exit_now(code)
        }
        Err(f) => {
            let _ = process::write_all(h.report_fd, &encode_report(f.code, &f.message));
            process::exit_now(f.code)
        }
    }
}

fn cstrings(items: &[String]) -> Result<Vec<CString>, ExecFailure> {
    items
        .iter()
        .map(|s| process::cstring(s.as_bytes()).map_err(|e| fail(125, e)))
        .collect()
}

fn prepare(h: &HelperConfig, stdio: [RawFd; 3], tty: bool) -> Result<Prepared, ExecFailure> {
    let req = h.req;
    process::setsid().map_err(|e| fail(125, format!("setsid: {e}")))?;
    for (i, fd) in stdio.iter().enumerate() {
        process::dup2(*fd, i as RawFd)
            .map_err(|e| fail(125, format!("cannot set up stdio: {e}")))?;
    }
    if tty {
        process::set_controlling_tty(0)
            .map_err(|e| fail(125, format!("cannot set the controlling terminal: {e}")))?;
    }
    process::reset_signals().map_err(|e| fail(125, e))?;
    // Everything the shim had open (other containers' clients, pipes) stays
    // out of the container; the report pipe closes on execve.
    process::cloexec_from(3).map_err(|e| fail(125, format!("close_range: {e}")))?;

    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let mut who = user::resolve(&req.user, &passwd, &group).map_err(|e| fail(125, e))?;
    // An exec gets its container's capabilities and extra groups, as in Docker.
    let privs = super::privileges();
    let extra = user::resolve_groups(&privs.group_add, &group).map_err(|e| fail(125, e))?;
    user::add_groups(&mut who, &extra);
    let cwd = if req.cwd.is_empty() {
        "/"
    } else {
        req.cwd.as_str()
    };

    let caps = if req.privileged {
        caps::all_mask()
    } else {
        privs.caps
    };
    caps::limit_bounding_set(caps)
        .map_err(|e| fail(125, format!("cannot drop capabilities: {e}")))?;
    caps::keep_caps(true).map_err(|e| fail(125, format!("PR_SET_KEEPCAPS: {e}")))?;
    user::switch_to(&who)
        .map_err(|e| fail(125, format!("cannot switch to user {:?}: {e}", req.user)))?;
    caps::set_capabilities(caps).map_err(|e| fail(125, format!("cannot set capabilities: {e}")))?;
    caps::set_no_new_privs().map_err(|e| fail(125, format!("cannot set no_new_privs: {e}")))?;
    // Docker: "OCI runtime exec failed: ... chdir to cwd ... no such file".
    std::env::set_current_dir(cwd).map_err(|e| {
        fail(
            126,
            format!("chdir to cwd ({cwd:?}) set in config.json failed: {e}"),
        )
    })?;

    let path = exec::lookup(&req.args[0], exec::path_from_env(&req.env))
        .map_err(|e| fail(e.exit_code(), e))?;
    process::set_umask(0o022);
    let mut env = req.env.clone();
    if !env.iter().any(|kv| kv.starts_with("HOME=")) {
        env.push(format!("HOME={}", who.home));
    }
    Ok(Prepared {
        path: process::cstring(path.as_os_str().as_encoded_bytes()).map_err(|e| fail(125, e))?,
        argv: cstrings(&req.args)?,
        envp: cstrings(&env)?,
    })
}
