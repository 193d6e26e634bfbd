//! Processes, descriptors, terminals and signals: nix's safe calls, and
//! libc where nix has none (or none that fits: see `kill` and `try_reap`).

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sched::CloneFlags;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::sys::stat::Mode;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A C string from bytes; an interior NUL is an `InvalidInput` error.
pub fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{:?} contains a NUL byte",
                String::from_utf8_lossy(bytes).replace('\0', "\\0")
            ),
        )
    })
}

/// Run `child` in a new process created with `clone(flags | SIGCHLD)` on its
/// own stack; returns the child's host PID. `child` must not return: it
/// should end in execve or [`exit_now`]; if it returns, the process exits
/// with its value.
pub fn clone_process(flags: libc::c_int, child: impl FnMut() -> isize) -> io::Result<i32> {
    // The child runs on a copy-on-write copy of this buffer; the parent may
    // free its own copy as soon as clone returns.
    let mut stack = vec![0u8; 1 << 20];
    let flags = CloneFlags::from_bits_retain(flags);
    // SAFETY: the calling process is single-threaded (the shim), so the child
    // gets a consistent copy of the whole address space (no CLONE_VM); the
    // stack outlives the call in the parent and is copied for the child.
    let pid = unsafe { nix::sched::clone(Box::new(child), &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(io::Error::from)?;
    Ok(pid.as_raw())
}

pub enum Forked {
    Parent(i32),
    Child,
}

/// fork(2); only for a single-threaded caller.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: the shim calls this before it starts any thread; the child
    // continues with a consistent copy of the process.
    let r = unsafe { libc::fork() };
    match r {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// End the process at once, without running destructors or atexit handlers
/// (in a cloned child they belong to the parent).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

pub fn setsid() -> io::Result<()> {
    nix::unistd::setsid()?;
    Ok(())
}

/// A descriptor that becomes readable when process `pid` exits.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; we own it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Reap `pid` without blocking. `Some(code)` once it has exited, with the
/// shell's convention: the exit code, or 128+N when killed by signal N.
///
/// Not nix's waitpid: it cannot decode a death by a real-time signal
/// (`docker kill -s RTMIN+3`) and would lose the status of a reaped child.
pub fn try_reap(pid: i32) -> io::Result<Option<i32>> {
    let mut status: libc::c_int = 0;
    // SAFETY: status is a valid out-pointer for the duration of the call.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if r == 0 {
        return Ok(None);
    }
    Ok(Some(decode_status(status)))
}

/// Block until `pid` exits; returns the code as [`try_reap`] does.
pub fn reap(pid: i32) -> io::Result<i32> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: status is a valid out-pointer for the duration of the call.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 {
            return Ok(decode_status(status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn decode_status(status: libc::c_int) -> i32 {
    if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}

/// kill(2). Not nix's: its `Signal` has no real-time signals, which
/// `docker kill -s RTMIN+N` sends.
pub fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: no pointers involved.
    check(unsafe { libc::kill(pid, signal) }).map(|_| ())
}

/// A pipe, both ends close-on-exec: (read, write).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Copy `old` onto `new` (which loses close-on-exec).
pub fn dup2(old: RawFd, new: RawFd) -> io::Result<()> {
    nix::unistd::dup2(old, new)?;
    Ok(())
}

/// Mark every descriptor >= `from` close-on-exec, so nothing the shim holds
/// leaks into the container.
pub fn cloexec_from(from: u32) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes descriptor flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            from as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Die quietly on a closed stdout (`whale system df -v | head`), as docker
/// and every Unix filter do, instead of failing on EPIPE in the middle of a
/// print. For CLI verbs only: the daemon must survive a client going away.
pub fn default_sigpipe() {
    // SAFETY: SIG_DFL is a valid disposition for SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Restore what a fresh program expects: default SIGPIPE (Rust ignores it)
/// and an empty signal mask.
pub fn reset_signals() -> io::Result<()> {
    // The same call as the CLI's, here in a child about to exec.
    default_sigpipe();
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    Ok(())
}

pub fn set_umask(mask: u32) -> u32 {
    nix::sys::stat::umask(Mode::from_bits_truncate(mask)).bits()
}

/// execve(2); only returns on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    match nix::unistd::execve(path, argv, envp) {
        Err(e) => e.into(),
        Ok(never) => match never {},
    }
}

pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives across the call.
    check(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) }).map(|_| ())
}

/// Make the terminal `fd` the controlling terminal of the caller's new session.
pub fn set_controlling_tty(fd: RawFd) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    check(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) }).map(|_| ())
}

/// The hostname of the caller's UTS namespace.
pub fn hostname() -> io::Result<String> {
    Ok(nix::unistd::gethostname()?.to_string_lossy().into_owned())
}

/// Docker's `--ulimit` names (go-units) and their resources.
pub const RLIMITS: &[(&str, libc::__rlimit_resource_t)] = &[
    ("core", libc::RLIMIT_CORE),
    ("cpu", libc::RLIMIT_CPU),
    ("data", libc::RLIMIT_DATA),
    ("fsize", libc::RLIMIT_FSIZE),
    ("locks", libc::RLIMIT_LOCKS),
    ("memlock", libc::RLIMIT_MEMLOCK),
    ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE),
    ("nofile", libc::RLIMIT_NOFILE),
    ("nproc", libc::RLIMIT_NPROC),
    ("rss", libc::RLIMIT_RSS),
    ("rtprio", libc::RLIMIT_RTPRIO),
    ("rttime", libc::RLIMIT_RTTIME),
    ("sigpending", libc::RLIMIT_SIGPENDING),
    ("stack", libc::RLIMIT_STACK),
];

/// setrlimit(2) by Docker's name for the resource; a negative limit is
/// unlimited.
pub fn set_rlimit(name: &str, soft: i64, hard: i64) -> io::Result<()> {
    let Some((_, res)) = RLIMITS.iter().find(|(n, _)| *n == name) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown ulimit {name:?}"),
        ));
    };
    let lim = |v: i64| {
        if v < 0 {
            libc::RLIM_INFINITY
        } else {
            v as libc::rlim_t
        }
    };
    let rl = libc::rlimit {
        rlim_cur: lim(soft),
        rlim_max: lim(hard),
    };
    // SAFETY: setrlimit reads an rlimit struct that lives across the call.
    check(unsafe { libc::setrlimit(*res, &rl) }).map(|_| ())
}

pub fn sethostname(name: &str) -> io::Result<()> {
    Ok(nix::unistd::sethostname(name)?)
}

/// Bring `lo` up in the caller's network namespace.
pub fn loopback_up() -> io::Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let s = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: an all-zero ifreq is valid; the name is set below.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, b) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *b as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills req.ifr_ifru.ifru_flags of a valid ifreq.
    check(unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: ifru_flags is the member SIOCGIFFLAGS just set.
    unsafe {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: SIOCSIFFLAGS reads the ifreq.
    check(unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &req) }).map(|_| ())
}

/// unshare(2) with `flags` (CLONE_NEW*).
pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    Ok(nix::sched::unshare(CloneFlags::from_bits_retain(flags))?)
}

pub use nix::poll::{PollFd, PollFlags};

/// poll(2); `timeout_ms` < 0 waits forever. EINTR reads as zero ready.
pub fn poll(fds: &mut [PollFd<'_>], timeout_ms: i32) -> io::Result<usize> {
    let timeout = nix::poll::PollTimeout::try_from(timeout_ms.max(-1))
        .unwrap_or(nix::poll::PollTimeout::NONE);
    match nix::poll::poll(fds, timeout) {
        Ok(n) => Ok(n as usize),
        Err(nix::errno::Errno::EINTR) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// read(2) into `buf`.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    Ok(nix::unistd::read(fd, buf)?)
}

/// write(2) from `buf`. Not nix's: it wants a borrowed descriptor, and
/// making one from a raw number is no safer than this call.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is readable for buf.len() bytes.
    let r = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as usize)
}

/// Write all of `buf` to a blocking descriptor.
pub fn write_all(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match write(fd, buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// shutdown(fd, SHUT_WR): tell a socket peer no more data is coming.
pub fn shutdown_write(fd: RawFd) -> io::Result<()> {
    use nix::sys::socket::{shutdown, Shutdown};
    Ok(shutdown(fd, Shutdown::Write)?)
}

pub fn getpid() -> i32 {
    nix::unistd::getpid().as_raw()
}

/// close(2) a raw descriptor that the caller owns (e.g. the parent's end of
/// a pipe, in a cloned child that shares nothing else with the parent) and
/// never uses again.
pub fn close(fd: RawFd) {
    let _ = nix::unistd::close(fd);
}

/// A connected pair of Unix stream sockets, close-on-exec (to pass a
/// descriptor from the container's init to the shim).
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    Ok(socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?)
}

/// Send descriptor `fd` over the Unix socket `sock` (SCM_RIGHTS).
pub fn send_fd(sock: RawFd, fd: RawFd) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [fd];
    let iov = [std::io::IoSlice::new(b"F")];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None).map_err(io::Error::from)?;
    Ok(())
}

/// Receive one descriptor sent by [`send_fd`]; blocks until it comes.
pub fn recv_fd(sock: RawFd) -> io::Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(io::Error::from)?;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: SCM_RIGHTS just installed this descriptor in our
                // table; nobody else owns it.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "no descriptor received (the container's init died?)",
    ))
}

/// A pty pair from the devpts instance whose `ptmx` is given (the
/// container's own, so the slave is /dev/pts/N inside it): (master, slave,
/// N). The slave comes from TIOCGPTPEER, without a path lookup.
pub fn open_pty_at(
    ptmx: &std::path::Path,
    size: Option<(u16, u16)>,
) -> io::Result<(OwnedFd, OwnedFd, u32)> {
    // std opens close-on-exec.
    let master = OwnedFd::from(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(ptmx)?,
    );
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int that lives across the call.
    check(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })?;
    let mut index: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int into `index`.
    check(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut index) })?;
    // SAFETY: TIOCGPTPEER takes open flags and returns a new descriptor.
    let s = check(unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: we own the new descriptor.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    if let Some((rows, cols)) = size {
        set_winsize(master.as_raw_fd(), rows, cols)?;
    }
    Ok((master, slave, index))
}

/// setns(2): join the namespace `fd` refers to (from `/proc/PID/ns/...`).
/// A PID namespace applies to the caller's later children, not the caller.
///
/// Not nix's: it wants a borrowed descriptor, and making one from a raw
/// number is no safer than this call.
pub fn setns(fd: RawFd, nstype: libc::c_int) -> io::Result<()> {
    // SAFETY: integer arguments only; a bad fd yields EBADF.
    check(unsafe { libc::setns(fd, nstype) }).map(|_| ())
}

/// Close every descriptor >= 3 except those in `keep`: a child forked from
/// the shim that runs on (never execs) must not hold the shim's pipes, its
/// socket or the container's stdio open.
pub fn close_all_except(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<libc::c_uint> = keep.iter().filter(|&&f| f >= 3).map(|&f| f as _).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from: libc::c_uint = 3;
    for k in keep.into_iter().chain([libc::c_uint::MAX]) {
        if k > from {
            // SAFETY: close_range on a range that holds none of the kept
            // descriptors; the caller owns nothing else it still uses.
            let r = unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0 as libc::c_uint) };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        from = k.saturating_add(1);
    }
    Ok(())
}

/// Ask the kernel to send `signal` to this process when its parent dies
/// (the thread that forked it, in a single-threaded parent: the parent).
pub fn die_with_parent(signal: i32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) })
        .map(|_| ())
}

/// The parent's pid (to see whether it died before `die_with_parent`).
pub fn getppid() -> i32 {
    nix::unistd::getppid().as_raw()
}

/// Name this process (`/proc/PID/comm`, what `ps` shows), at most 15 bytes.
pub fn set_name(name: &str) -> io::Result<()> {
    let name = cstring(name.as_bytes())?;
    // SAFETY: PR_SET_NAME reads a NUL-terminated string that outlives the call.
    check(unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0) })
        .map(|_| ())
}
