//! The per-container monitor: `whale shim <container dir>`, re-executed from
//! the whale binary and single-threaded (never forked from the
//! multi-threaded daemon). It starts the container's init, holds its stdio
//! (pipes or pty), writes the json-file log, serves attach/wait/signal on its
//! socket, records the exit status in `state.json`, and outlives the daemon.
//!
//! `spec.rs` is what to run, `protocol.rs` how the daemon talks to a shim,
//! `client.rs` the daemon's side of that protocol, `state.rs` the
//! `state.json` the shim records each run in.

pub mod client;
mod exec;
mod init;
mod log;
mod ports;
pub mod protocol;
mod seccomp;
mod server;
pub mod spec;
pub mod state;

use crate::linux::{cgroup::Cgroup, process};
use protocol::Ready;
use spec::{NetworkMode, Privileges, ShimSpec};
use std::fs::{self, File};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

/// With `WHALE_SHIM_TRACE` set, phases of the start path are timed into
/// shim.log (microseconds since the shim started).
pub(crate) fn trace(label: &str) {
    use std::sync::OnceLock;
    static START: OnceLock<Option<std::time::Instant>> = OnceLock::new();
    let start = START
        .get_or_init(|| std::env::var_os("WHALE_SHIM_TRACE").map(|_| std::time::Instant::now()));
    if let Some(t) = start {
        let line = format!("trace {:>6}us {label}\n", t.elapsed().as_micros());
        let _ = process::write_all(2, line.as_bytes());
    }
}

/// Errors of the shim before its container runs: Docker's exit code + why.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ShimFailure {
    pub exit_code: i32,
    pub message: String,
}

fn failure(exit_code: i32, message: impl std::fmt::Display) -> ShimFailure {
    ShimFailure {
        exit_code,
        message: message.to_string(),
    }
}

/// Entry point of `whale shim <container dir>`; returns the process exit code.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    trace("main");
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: whale shim <container dir> (spawned by the whale daemon)");
        return 2;
    };
    // The intermediate process exits at once (the daemon reaps it); the
    // grandchild, re-parented away from the daemon, is the shim.
    match process::fork() {
        Ok(process::Forked::Parent(_)) => return 0,
        Ok(process::Forked::Child) => {}
        Err(e) => {
            send_ready_error(&failure(125, format!("shim: cannot fork: {e}")));
            return 125;
        }
    }
    let _ = process::setsid();
    let shim_log = dir.join("shim.log");
    if let Ok(f) = log::open_private(&shim_log) {
        let _ = process::dup2(f.as_raw_fd(), 2);
    }
    match Shim::prepare(&dir) {
        Ok(shim) => shim.run(),
        Err(f) => {
            eprintln!("whale shim: {}", f.message);
            send_ready_error(&f);
            0
        }
    }
}

fn send_line<T: serde::Serialize>(value: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    line.push(b'\n');
    process::write_all(1, &line)
}

fn send_ready_error(f: &ShimFailure) {
    let _ = send_line(&Ready {
        pid: 0,
        shim_pid: process::getpid(),
        error: Some(f.message.clone()),
        exit_code: Some(f.exit_code),
        ports: Vec::new(),
    });
}

/// The shim's ends of the container's stdio.
pub(crate) enum Stdio {
    Pipes {
        stdout: OwnedFd,
        stderr: OwnedFd,
        /// Write end of the container's stdin (`open_stdin` only).
        stdin: Option<OwnedFd>,
    },
    Pty {
        master: OwnedFd,
    },
}

/// A prepared container: init created and waiting before execve.
pub(crate) struct Shim {
    pub spec: ShimSpec,
    pub pid: i32,
    pub shim_pid: i32,
    pub pidfd: OwnedFd,
    pub listener: UnixListener,
    pub stdio: Option<Stdio>,
    pub cgroup: Cgroup,
    pub go: OwnedFd,
    pub report: OwnedFd,
    /// The container's mount namespace, held open so the init's exit does
    /// not wait for the overlay's unmount (which syncs the upper fs, ~20 ms
    /// on ext4): the namespace dies when the shim closes this, last.
    pub mnt_ns: Option<fs::File>,
    /// The published ports' proxy, while the container runs.
    pub proxy: Option<ports::Proxy>,
    /// The published ports as bound.
    pub ports: Vec<spec::PortBinding>,
}

fn read_spec(dir: &Path) -> Result<ShimSpec, ShimFailure> {
    let path = dir.join("spec.json");
    let bytes = fs::read(&path)
        .map_err(|e| failure(125, format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| failure(125, format!("invalid shim spec {}: {e}", path.display())))
}

/// Where `--init`'s binary appears in the container, as with Docker.
pub const INIT_TARGET: &str = "sbin/docker-init";

/// /etc/hostname, /etc/hosts and /etc/resolv.conf of the container, kept in
/// its dir and bind-mounted in, as Docker does.
fn write_etc_files(
    dir: &Path,
    hostname: &str,
    privs: &Privileges,
) -> Result<Vec<(PathBuf, &'static str)>, ShimFailure> {
    let w = |name: &str, content: &[u8]| -> Result<PathBuf, ShimFailure> {
        let p = dir.join(name);
        // Rewriting an unchanged file would cost a flush on ext4 (truncate
        // and rewrite triggers auto_da_alloc); a restart keeps them.
        if fs::read(&p).is_ok_and(|old| old == content) {
            return Ok(p);
        }
        fs::write(&p, content)
            .map_err(|e| failure(125, format!("cannot write {}: {e}", p.display())))?;
        Ok(p)
    };
    // `--add-host` lines come after the defaults and before the
    // container's own name, where Docker writes them.
    let extra: String = privs
        .extra_hosts
        .iter()
        .map(|(name, ip)| format!("{ip}\t{name}\n"))
        .collect();
    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n{extra}127.0.0.1\t{hostname}\n"
    );
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = resolv_conf(&host_resolv, privs).into_bytes();
    let hostname = format!("{hostname}\n");
    let mut files = Vec::new();
    for &(inside, name) in crate::linux::mount::ENGINE_FILES {
        let content: &[u8] = match name {
            "hostname" => hostname.as_bytes(),
            "hosts" => hosts.as_bytes(),
            "resolv.conf" => &resolv,
            other => return Err(failure(125, format!("no content for /{inside} ({other})"))),
        };
        files.push((w(name, content)?, inside));
    }
    Ok(files)
}

/// The container's resolv.conf: the host's, with its nameservers, search
/// domains and options each replaced when `--dns`, `--dns-search` or
/// `--dns-option` gives them, in the order dockerd 20.10 writes them.
fn resolv_conf(host: &str, privs: &Privileges) -> String {
    if privs.dns.is_empty() && privs.dns_search.is_empty() && privs.dns_options.is_empty() {
        return host.to_string();
    }
    let from_host = |key: &str| -> Vec<String> {
        host.lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(key)).then(|| w.map(str::to_string).collect::<Vec<_>>())
            })
            .flatten()
            .collect()
    };
    let pick = |mine: &[String], key: &str| {
        if mine.is_empty() {
            from_host(key)
        } else {
            mine.to_vec()
        }
    };
    let mut out = String::new();
    let search = pick(&privs.dns_search, "search");
    // `--dns-search .` means "no search domains".
    if !search.is_empty() && search.join(" ").trim() != "." {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for ns in pick(&privs.dns, "nameserver") {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    let options = pick(&privs.dns_options, "options");
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// The container's privileges, kept for its exec processes (the shim
/// serves one container).
static PRIVILEGES: std::sync::OnceLock<Privileges> = std::sync::OnceLock::new();

pub(crate) fn privileges() -> Privileges {
    PRIVILEGES.get().cloned().unwrap_or_default()
}

impl Shim {
    fn prepare(dir: &Path) -> Result<Shim, ShimFailure> {
        trace("shim forked");
        let spec = read_spec(dir)?;
        if spec.args.is_empty() {
            return Err(failure(125, "no command specified"));
        }
        let _ = PRIVILEGES.set(spec.privileges.clone());
        seccomp::load(&spec)?;
        let cgroup = Cgroup::for_container(&spec.cgroup_path).map_err(|e| failure(125, e))?;
        let undo_cgroup = |f: ShimFailure| {
            let _ = cgroup.remove();
            f
        };
        cgroup.create().map_err(|e| undo_cgroup(failure(125, e)))?;
        cgroup
            .apply(&spec.resources)
            .map_err(|e| undo_cgroup(failure(125, e)))?;
        trace("cgroup ready");
        let socket = spec.socket_path.clone();
        match Shim::start_init(spec, dir, cgroup.clone()) {
            Ok(s) => Ok(s),
            Err(f) => {
                // Whatever step failed, leave no socket behind (a stale one
                // would make the daemon think a shim is listening).
                if fs::symlink_metadata(&socket)
                    .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
                {
                    let _ = fs::remove_file(&socket);
                }
                Err(undo_cgroup(f))
            }
        }
    }

    fn start_init(spec: ShimSpec, dir: &Path, cgroup: Cgroup) -> Result<Shim, ShimFailure> {
        let mut binds = write_etc_files(dir, &spec.hostname, &spec.privileges)?;
        let mut args = spec.args.clone();
        if let Some(init) = &spec.init {
            if !init.is_file() {
                return Err(failure(
                    125,
                    format!(
                        "--init needs a static init binary on the host at {} (Debian: apt-get install tini)",
                        init.display()
                    ),
                ));
            }
            binds.push((init.clone(), INIT_TARGET));
            args.splice(0..0, [format!("/{INIT_TARGET}"), "--".to_string()]);
        }
        let io_fail = |what: &str| {
            let what = what.to_string();
            move |e: std::io::Error| failure(125, format!("{what}: {e}"))
        };

        let _ = fs::remove_file(&spec.socket_path);
        let listener = client::short_socket_path(&spec.socket_path)
            .and_then(|(_dir, path)| UnixListener::bind(path))
            .map_err(|e| {
                failure(
                    125,
                    format!("cannot listen on {}: {e}", spec.socket_path.display()),
                )
            })?;
        listener.set_nonblocking(true).map_err(io_fail("socket"))?;
        let remove_socket = |f: ShimFailure| {
            let _ = fs::remove_file(&spec.socket_path);
            f
        };

        // (shim's side, the child's stdio, the child's end of the pty socket)
        let mut keep_for_child: Vec<OwnedFd> = Vec::new();
        let (stdio, child_stdio, pty_socket) =
            plan_stdio(spec.tty, spec.open_stdin, &mut keep_for_child)
                .map_err(|(what, e)| io_fail(what)(e))?;
        let (report_r, report_w) = process::pipe().map_err(io_fail("pipe"))?;
        let (go_r, go_w) = process::pipe().map_err(io_fail("pipe"))?;

        let mut parent_fds: Vec<RawFd> =
            vec![report_r.as_raw_fd(), go_w.as_raw_fd(), listener.as_raw_fd()];
        match &stdio {
            Some(Stdio::Pipes {
                stdout,
                stderr,
                stdin,
            }) => {
                parent_fds.push(stdout.as_raw_fd());
                parent_fds.push(stderr.as_raw_fd());
                if let Some(w) = stdin {
                    parent_fds.push(w.as_raw_fd());
                }
            }
            Some(Stdio::Pty { master }) => parent_fds.push(master.as_raw_fd()),
            None => {}
        }
        if let Some((ours, _)) = &pty_socket {
            parent_fds.push(ours.as_raw_fd());
        }

        if let NetworkMode::Join { pid } = spec.network {
            // The shim enters the other container's network namespace, so
            // the init it clones is born in it (the shim serves its clients
            // on a socket path, which works from any network namespace).
            join_network(pid).map_err(|e| {
                remove_socket(failure(
                    125,
                    format!("cannot join the network of process {pid}: {e}"),
                ))
            })?;
        }
        let cfg = init::InitConfig {
            join_files: cgroup.join_files(),
            lower_dirs: spec.lower_dirs.clone(),
            upper_dir: spec.upper_dir.clone(),
            work_dir: spec.work_dir.clone(),
            merged_dir: spec.merged_dir.clone(),
            binds,
            mounts: spec.mounts.clone(),
            readonly_rootfs: spec.readonly_rootfs,
            cgroups: match cgroup.version {
                _ if cgroup.is_none() => crate::linux::mount::CgroupView::None,
                crate::linux::cgroup::Version::V1 => {
                    crate::linux::mount::CgroupView::V1(cgroup.v1_hierarchies())
                }
                crate::linux::cgroup::Version::V2 => crate::linux::mount::CgroupView::V2,
            },
            hostname: spec.hostname.clone(),
            new_netns: spec.network == NetworkMode::Loopback,
            privileges: spec.privileges.clone(),
            stdio: child_stdio,
            pty_socket: pty_socket.as_ref().map(|(_, theirs)| *theirs),
            console_size: spec.console_size,
            report_fd: report_w.as_raw_fd(),
            go_fd: go_r.as_raw_fd(),
            parent_fds,
            args,
            env: spec.env.clone(),
            cwd: spec.cwd.clone(),
            user: spec.user.clone(),
        };
        let p = &spec.privileges;
        let mut flags = libc::CLONE_NEWNS;
        for (host, flag) in [
            (p.host_pid, libc::CLONE_NEWPID),
            (p.host_uts, libc::CLONE_NEWUTS),
            (p.host_ipc, libc::CLONE_NEWIPC),
            (spec.network != NetworkMode::Loopback, libc::CLONE_NEWNET),
        ] {
            if !host {
                flags |= flag;
            }
        }
        trace("clone");
        let pid = process::clone_process(flags, || init::run(&cfg)).map_err(|e| {
            remove_socket(failure(
                125,
                format!("cannot create the container's namespaces: {e}"),
            ))
        })?;
        drop(keep_for_child);
        drop(report_w);
        drop(go_r);

        let pidfd = match process::pidfd_open(pid) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = process::kill(pid, libc::SIGKILL);
                let _ = process::reap(pid);
                return Err(remove_socket(failure(125, format!("pidfd_open: {e}"))));
            }
        };
        trace("cloned");
        let mnt_ns = fs::File::open(crate::linux::procfs::ns_path(pid, "mnt")).ok();
        // The init reports once: ready, or why it cannot run the command.
        let report = read_report(report_r.as_raw_fd());
        // With a tty, the master was sent before the init reported ready.
        let stdio = match (stdio, &pty_socket, &report) {
            (Some(s), _, _) => Some(s),
            (None, Some((ours, _)), Some((0, _))) => match process::recv_fd(ours.as_raw_fd())
                .and_then(|m| process::set_nonblocking(m.as_raw_fd()).map(|()| m))
            {
                Ok(master) => Some(Stdio::Pty { master }),
                Err(e) => {
                    let _ = process::kill(pid, libc::SIGKILL);
                    let _ = process::reap(pid);
                    return Err(remove_socket(failure(
                        125,
                        format!("cannot receive the container's pty: {e}"),
                    )));
                }
            },
            _ => None,
        };
        drop(pty_socket);
        match report {
            Some((0, _)) => {}
            other => {
                let status = process::reap(pid).unwrap_or(125);
                let f = match other {
                    Some((code, message)) => failure(code, message),
                    None => failure(
                        125,
                        format!("the container's init died while setting up (status {status})"),
                    ),
                };
                return Err(remove_socket(f));
            }
        }
        // Bound before Ready, so a port in use fails the start.
        let wanted = if spec.network != NetworkMode::Loopback {
            &[][..]
        } else {
            &spec.ports[..]
        };
        let (proxy, ports) = match ports::start(wanted, pid) {
            Ok(p) => p,
            Err(f) => {
                let _ = process::kill(pid, libc::SIGKILL);
                let _ = process::reap(pid);
                return Err(remove_socket(f));
            }
        };
        Ok(Shim {
            spec,
            pid,
            shim_pid: process::getpid(),
            pidfd,
            listener,
            stdio,
            cgroup,
            go: go_w,
            report: report_r,
            mnt_ns,
            proxy,
            ports,
        })
    }

    fn run(self) -> i32 {
        trace("init ready");
        if let Err(e) = send_line(&Ready {
            pid: self.pid,
            shim_pid: self.shim_pid,
            error: None,
            exit_code: None,
            ports: self.ports.clone(),
        }) {
            eprintln!("whale shim: cannot send Ready to the daemon: {e}; stopping the container");
            if let Some(p) = self.proxy {
                p.stop();
            }
            let _ = process::kill(self.pid, libc::SIGKILL);
            let _ = process::reap(self.pid);
            let _ = self.cgroup.remove();
            let _ = fs::remove_file(&self.spec.socket_path);
            return 1;
        }
        server::serve(self)
    }
}

/// Read one report line from the init (blocking); None on EOF without one.
pub(crate) fn read_report(fd: RawFd) -> Option<(i32, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        match process::read(fd, &mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.contains(&b'\n') {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let line = String::from_utf8_lossy(&buf);
    init::decode_report(line.lines().next()?)
}

/// The shim's ends of a process's stdio, the fds the child gets as 0, 1 and
/// 2 (-1 for a tty, whose slave the child opens itself), and for a tty the
/// socket on which the child passes back the pty master. The child's ends
/// are pushed on `keep_for_child`, to be dropped once it has forked.
/// Shared by the container's init and by exec sessions.
#[allow(clippy::type_complexity)]
pub(crate) fn plan_stdio(
    tty: bool,
    open_stdin: bool,
    keep_for_child: &mut Vec<OwnedFd>,
) -> Result<(Option<Stdio>, [RawFd; 3], Option<(OwnedFd, RawFd)>), (&'static str, std::io::Error)> {
    if tty {
        let (ours, theirs) = process::socketpair().map_err(|e| ("socketpair", e))?;
        let t = theirs.as_raw_fd();
        keep_for_child.push(theirs);
        return Ok((None, [-1; 3], Some((ours, t))));
    }
    let pipe = || process::pipe().map_err(|e| ("pipe", e));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    process::set_nonblocking(out_r.as_raw_fd()).map_err(|e| ("pipe", e))?;
    process::set_nonblocking(err_r.as_raw_fd()).map_err(|e| ("pipe", e))?;
    let (stdin_w, stdin_child): (Option<OwnedFd>, OwnedFd) = if open_stdin {
        let (r, w) = pipe()?;
        process::set_nonblocking(w.as_raw_fd()).map_err(|e| ("pipe", e))?;
        (Some(w), r)
    } else {
        let null = File::open("/dev/null").map_err(|e| ("/dev/null", e))?;
        (None, OwnedFd::from(null))
    };
    let fds = [
        stdin_child.as_raw_fd(),
        out_w.as_raw_fd(),
        err_w.as_raw_fd(),
    ];
    keep_for_child.extend([stdin_child, out_w, err_w]);
    Ok((
        Some(Stdio::Pipes {
            stdout: out_r,
            stderr: err_r,
            stdin: stdin_w,
        }),
        fds,
        None,
    ))
}

/// Enter the network namespace of `pid`, refusing the host's own (a pid
/// reused by a host process after the other container ended).
fn join_network(pid: i32) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let theirs = crate::linux::procfs::ns_path(pid, "net");
    let ours = crate::linux::procfs::ns_path(process::getpid(), "net");
    let id = |p: &std::path::Path| fs::metadata(p).map(|m| (m.dev(), m.ino()));
    if id(&theirs)? == id(&ours)? {
        return Err(std::io::Error::other(
            "it shares the host's network: it is no longer the container's",
        ));
    }
    let ns = fs::File::open(&theirs)?;
    process::setns(ns.as_raw_fd(), libc::CLONE_NEWNET)
}
