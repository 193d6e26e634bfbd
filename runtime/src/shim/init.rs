//! The container's init, between clone and execve: it joins the cgroup,
//! builds the rootfs, pivots, switches user, drops capabilities, resolves
//! the command, reports to the shim, and execs when told to.
//!
//! It runs in a cloned child of the single-threaded shim. Nothing here may
//! return to the shim's code: every path ends in execve or `exit_now`.

use crate::linux::{caps, exec, mount, process, user};
use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;

/// What the shim prepared for its init (built before clone).
pub(crate) struct InitConfig {
    pub join_files: Vec<PathBuf>,
    pub lower_dirs: Vec<PathBuf>,
    pub upper_dir: PathBuf,
    pub work_dir: PathBuf,
    pub merged_dir: PathBuf,
    pub binds: Vec<(PathBuf, &'static str)>,
    pub mounts: Vec<crate::linux::user_mounts::UserMount>,
    pub readonly_rootfs: bool,
    pub cgroups: mount::CgroupView,
    pub hostname: String,
    pub new_netns: bool,
    pub privileges: super::spec::Privileges,
    /// Descriptors to become 0, 1, 2 (pipes, /dev/null); ignored with a tty.
    pub stdio: [RawFd; 3],
    /// With a tty: our end of the socket the pty master goes back on. The
    /// pty comes from the container's own devpts (so `tty` says /dev/pts/0
    /// as in Docker); its slave becomes 0, 1, 2 and the controlling tty.
    pub pty_socket: Option<RawFd>,
    pub console_size: Option<(u16, u16)>,
    /// Our end of the report pipe (close-on-exec: EOF tells the shim execve worked).
    pub report_fd: RawFd,
    /// Our end of the go pipe: one byte means "exec now", EOF means "give up".
    pub go_fd: RawFd,
    /// The shim's ends of our pipes: closed first, so EOFs mean what they should.
    pub parent_fds: Vec<RawFd>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: String,
}

/// A failure before execve: Docker's exit code and the message.
pub(crate) struct InitFailure {
    pub code: i32,
    pub message: String,
}

fn fail(code: i32, message: impl std::fmt::Display) -> InitFailure {
    InitFailure {
        code,
        message: message.to_string(),
    }
}

/// One report line: "<code> <message>\n"; code 0 means ready.
pub(crate) fn encode_report(code: i32, message: &str) -> Vec<u8> {
    format!("{code} {}\n", message.replace('\n', " ")).into_bytes()
}

/// Parse a report line written by [`encode_report`].
pub(crate) fn decode_report(line: &str) -> Option<(i32, String)> {
    let (code, msg) = line.trim_end_matches('\n').split_once(' ')?;
    Some((code.parse().ok()?, msg.to_string()))
}

struct Prepared {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

/// The body of the cloned child.
pub(crate) fn run(cfg: &InitConfig) -> ! {
    for fd in &cfg.parent_fds {
        process::close(*fd);
    }
    let prepared = match prepare(cfg) {
        Ok(p) => p,
        Err(f) => {
            let _ = process::write_all(cfg.report_fd, &encode_report(f.code, &f.message));
            process::exit_now(f.code);
        }
    };
    if process::write_all(cfg.report_fd, &encode_report(0, "ready")).is_err() {
        process::exit_now(125);
    }
    let mut go = [0u8; 1];
    loop {
        match process::read(cfg.go_fd, &mut go) {
            Ok(1) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // The shim is gone or gave up: never run the command.
            _ => process::exit_now(125),
        }
    }
    if let Err(m) = super::seccomp::install() {
        let _ = process::write_all(cfg.report_fd, &encode_report(125, &m));
        process::exit_now(125);
    }
    let err = process::execve(&prepared.path, &prepared.argv, &prepared.envp);
    let e = exec::ExecError::from_exec(&cfg.args[0], err);
    let code = e.exit_code();
    let _ = process::write_all(cfg.report_fd, &encode_report(code, &e.to_string()));
    process::exit_now(code)
}

fn cstrings(items: &[String]) -> Result<Vec<CString>, InitFailure> {
    items
        .iter()
        .map(|s| process::cstring(s.as_bytes()).map_err(|e| fail(125, e)))
        .collect()
}

fn prepare(cfg: &InitConfig) -> Result<Prepared, InitFailure> {
    super::trace("init: start");
    // Writing "0" moves the writer itself.
    for f in &cfg.join_files {
        std::fs::write(f, "0")
            .map_err(|e| fail(125, format!("cannot join cgroup {}: {e}", f.display())))?;
    }
    process::unshare(libc::CLONE_NEWCGROUP)
        .map_err(|e| fail(125, format!("cannot create the cgroup namespace: {e}")))?;

    super::trace("init: joined cgroup");
    mount::make_mounts_private().map_err(|e| fail(125, e))?;
    let rootfs = mount::Rootfs {
        lower_dirs: &cfg.lower_dirs,
        upper_dir: &cfg.upper_dir,
        work_dir: &cfg.work_dir,
        merged_dir: &cfg.merged_dir,
        binds: &cfg.binds,
        mounts: &cfg.mounts,
        cgroups: cfg.cgroups.clone(),
        confinement: cfg.privileges.confinement.clone(),
    };
    mount::mount_overlay(&rootfs).map_err(|e| fail(125, e))?;
    super::trace("init: overlay mounted");
    mount::mount_kernel_filesystems(&rootfs).map_err(|e| fail(125, e))?;
    super::trace("init: rootfs built");
    mount::pivot_root(&cfg.merged_dir).map_err(|e| fail(125, e))?;
    super::trace("init: pivoted");

    // `--uts host`: the host's name is the host's to set, never ours.
    if !cfg.privileges.host_uts {
        process::sethostname(&cfg.hostname)
            .map_err(|e| fail(125, format!("cannot set hostname {:?}: {e}", cfg.hostname)))?;
    }
    if cfg.new_netns {
        process::loopback_up().map_err(|e| fail(125, format!("cannot bring lo up: {e}")))?;
    }

    super::trace("init: network");
    process::setsid().map_err(|e| fail(125, format!("setsid: {e}")))?;
    let pty_slave = match cfg.pty_socket {
        Some(sock) => {
            let (master, slave, index) =
                process::open_pty_at(std::path::Path::new("/dev/pts/ptmx"), cfg.console_size)
                    .map_err(|e| fail(125, format!("cannot open a pty in the container: {e}")))?;
            mount::bind_console(index).map_err(|e| fail(125, e))?;
            process::send_fd(sock, master.as_raw_fd())
                .map_err(|e| fail(125, format!("cannot pass the pty to the shim: {e}")))?;
            Some(slave)
        }
        None => None,
    };
    let stdio = match &pty_slave {
        Some(s) => [s.as_raw_fd(); 3],
        None => cfg.stdio,
    };
    for (i, fd) in stdio.iter().enumerate() {
        process::dup2(*fd, i as RawFd)
            .map_err(|e| fail(125, format!("cannot set up stdio: {e}")))?;
    }
    if pty_slave.is_some() {
        process::set_controlling_tty(0)
            .map_err(|e| fail(125, format!("cannot set the controlling terminal: {e}")))?;
    }
    drop(pty_slave);
    process::reset_signals().map_err(|e| fail(125, e))?;
    process::cloexec_from(3).map_err(|e| fail(125, format!("close_range: {e}")))?;

    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let mut who = user::resolve(&cfg.user, &passwd, &group).map_err(|e| fail(125, e))?;
    let extra =
        user::resolve_groups(&cfg.privileges.group_add, &group).map_err(|e| fail(125, e))?;
    user::add_groups(&mut who, &extra);
    // Before the capabilities go: raising a hard limit needs CAP_SYS_RESOURCE.
    for (name, soft, hard) in &cfg.privileges.ulimits {
        process::set_rlimit(name, *soft, *hard).map_err(|e| {
            fail(
                125,
                format!("cannot set --ulimit {name}={soft}:{hard}: {e}"),
            )
        })?;
    }

    let cwd = if cfg.cwd.is_empty() {
        "/"
    } else {
        cfg.cwd.as_str()
    };
    if !std::path::Path::new(cwd).is_dir() {
        std::fs::create_dir_all(cwd)
            .map_err(|e| fail(125, format!("cannot create working directory {cwd}: {e}")))?;
    }
    if cfg.readonly_rootfs {
        crate::linux::user_mounts::readonly_root().map_err(|e| fail(125, e))?;
    }

    let caps = cfg.privileges.caps;
    caps::limit_bounding_set(caps)
        .map_err(|e| fail(125, format!("cannot drop capabilities: {e}")))?;
    caps::keep_caps(true).map_err(|e| fail(125, format!("PR_SET_KEEPCAPS: {e}")))?;
    user::switch_to(&who).map_err(|e| {
        let why = if crate::linux::userns::current_map().is_single() {
            format!(" ({})", crate::linux::userns::SINGLE_ID_NOTE)
        } else {
            String::new()
        };
        fail(
            125,
            format!("cannot switch to user {:?}: {e}{why}", cfg.user),
        )
    })?;
    caps::set_capabilities(caps).map_err(|e| fail(125, format!("cannot set capabilities: {e}")))?;
    caps::set_no_new_privs().map_err(|e| fail(125, format!("cannot set no_new_privs: {e}")))?;

    std::env::set_current_dir(cwd)
        .map_err(|e| fail(125, format!("cannot enter working directory {cwd}: {e}")))?;

    let Some(cmd) = cfg.args.first() else {
        return Err(fail(125, exec::ExecError::NoCommand));
    };
    let path =
        exec::lookup(cmd, exec::path_from_env(&cfg.env)).map_err(|e| fail(e.exit_code(), e))?;
    process::set_umask(0o022);

    let mut env = cfg.env.clone();
    if !env.iter().any(|kv| kv.starts_with("HOME=")) {
        env.push(format!("HOME={}", who.home));
    }
    Ok(Prepared {
        path: process::cstring(path.as_os_str().as_encoded_bytes()).map_err(|e| fail(125, e))?,
        argv: cstrings(&cfg.args)?,
        envp: cstrings(&env)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_round_trip() {
        let line = encode_report(127, "exec: \"x\": executable file not found in $PATH\nmore");
        let text = String::from_utf8(line).unwrap();
        assert_eq!(text.matches('\n').count(), 1);
        let (code, msg) = decode_report(&text).unwrap();
        assert_eq!(code, 127);
        assert!(msg.starts_with("exec: \"x\""));
        assert_eq!(decode_report("0 ready\n"), Some((0, "ready".into())));
        assert_eq!(decode_report("garbage"), None);
    }
}
