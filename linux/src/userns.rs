//! Rootless mode's user namespace: a normal user's daemon, its shims and
//! its containers live in one user namespace (with a mount namespace of its
//! own) where the user's id is root and the user's subordinate ids
//! (/etc/subuid, /etc/subgid, mapped by the setuid `newuidmap` and
//! `newgidmap` of Debian's `uidmap`) are 1, 2, ... Everything that needs
//! privilege (overlay, namespaces, pivot_root, seccomp) then happens in it,
//! as Podman's and Docker's rootless modes do.
//!
//! The namespaces are held by a small process, the holder (`whale-userns`,
//! its pid in `<root>/userns.pid`): it outlives the daemon, as the shims do,
//! so a restarted daemon joins the very namespaces its running containers
//! live in (a new user namespace could not signal their non-root processes,
//! nor enter their mount namespaces).

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::process;

/// The holder's name (`/proc/PID/comm`): how a pid file's pid is known to
/// be ours still.
pub const HOLDER_NAME: &str = "whale-userns";

/// One line of a uid_map or gid_map: `count` ids from `outside` (the parent
/// namespace) appear as `inside`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The ids a rootless daemon's namespace maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMap {
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

impl IdMap {
    /// The user's id as 0 and, when granted, the subordinate range as 1...
    pub fn for_user(
        uid: u32,
        gid: u32,
        subuid: Option<(u32, u32)>,
        subgid: Option<(u32, u32)>,
    ) -> IdMap {
        let own = |id| IdRange {
            inside: 0,
            outside: id,
            count: 1,
        };
        match (subuid, subgid) {
            (Some((us, uc)), Some((gs, gc))) => IdMap {
                uids: vec![
                    own(uid),
                    IdRange {
                        inside: 1,
                        outside: us,
                        count: uc,
                    },
                ],
                gids: vec![
                    own(gid),
                    IdRange {
                        inside: 1,
                        outside: gs,
                        count: gc,
                    },
                ],
            },
            // Both or neither: a uid range without gids (or the reverse)
            // would still leave every file of a non-root group unmappable.
            _ => IdMap {
                uids: vec![own(uid)],
                gids: vec![own(gid)],
            },
        }
    }

    /// Only the user's own id: no other user or group exists inside.
    pub fn is_single(&self) -> bool {
        self.uids.iter().map(|r| r.count as u64).sum::<u64>() <= 1
    }

    /// `0:1000:1,1:100000:65536` (Docker shows its map in this shape).
    pub fn describe(ranges: &[IdRange]) -> String {
        ranges
            .iter()
            .map(|r| format!("{}:{}:{}", r.inside, r.outside, r.count))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What a rootless user may not do without subordinate ids, said once in
/// the daemon's log and in `whale info`.
pub const SINGLE_ID_NOTE: &str = "no subordinate ids are granted to this user (/etc/subuid, /etc/subgid): \
containers run with a single-id map, where only root (you) exists; images whose files belong to other \
users, setuid programs, `apt-get` (it drops to the _apt user) and `--user` other than 0 fail. \
Ask an administrator for a range (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER).";

/// The first range of `/etc/subuid` or `/etc/subgid` (`text`) granted to
/// the user, by name or by numeric id (shadow-utils accepts both).
pub fn parse_subid(text: &str, name: &str, id: u32) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let line = line.trim();
        if line.starts_with('#') {
            return None;
        }
        let mut f = line.split(':');
        let who = f.next()?;
        let start: u32 = f.next()?.trim().parse().ok()?;
        let count: u32 = f.next()?.trim().parse().ok()?;
        let ours = who == name || who.parse::<u32>() == Ok(id);
        (ours && count > 0).then_some((start, count))
    })
}

/// Parse `/proc/PID/uid_map` (`inside outside count` per line).
pub fn parse_id_map(text: &str) -> Vec<IdRange> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace().map(|n| n.parse::<u32>());
            Some(IdRange {
                inside: w.next()?.ok()?,
                outside: w.next()?.ok()?,
                count: w.next()?.ok()?,
            })
        })
        .collect()
}

/// The initial namespace's map: every id is itself.
fn is_initial(map: &[IdRange]) -> bool {
    map == [IdRange {
        inside: 0,
        outside: 0,
        count: u32::MAX,
    }]
}

/// This process's uid and gid maps (read once: a process never changes
/// its user namespace after the daemon's start).
pub fn current_map() -> &'static IdMap {
    static MAP: OnceLock<IdMap> = OnceLock::new();
    MAP.get_or_init(|| IdMap {
        uids: parse_id_map(&fs::read_to_string("/proc/self/uid_map").unwrap_or_default()),
        gids: parse_id_map(&fs::read_to_string("/proc/self/gid_map").unwrap_or_default()),
    })
}

/// Is this process in a rootless namespace (any but the host's initial
/// one)? Root mode runs in the initial namespace and changes nothing.
pub fn in_rootless_namespace() -> bool {
    let map = current_map();
    !map.uids.is_empty() && !is_initial(&map.uids)
}

/// Does the kernel refuse setgroups(2) in this namespace (a single-id map
/// written without newgidmap)?
pub fn setgroups_denied() -> bool {
    fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

/// The xattr namespace overlayfs keeps its own attributes in: `trusted.`
/// needs CAP_SYS_ADMIN in the host's namespace, so overlay mounted in a
/// user namespace is told `userxattr` and uses `user.overlay.*`.
pub fn overlay_xattr_prefix() -> &'static str {
    if in_rootless_namespace() {
        "user.overlay."
    } else {
        "trusted.overlay."
    }
}

/// The xattr marking an opaque directory in an overlay layer.
pub fn opaque_xattr() -> &'static str {
    if in_rootless_namespace() {
        "user.overlay.opaque"
    } else {
        "trusted.overlay.opaque"
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    // Not a `source`: the message already says it, once.
    #[error("{what}: {error}")]
    Io { what: String, error: io::Error },
    #[error("cannot create a user namespace: {0}; rootless whale needs unprivileged user namespaces (sysctl user.max_user_namespaces > 0, and kernel.unprivileged_userns_clone=1 where that exists)")]
    Unshare(io::Error),
    #[error("{tool} failed ({detail}); subordinate ids are granted in /etc/subuid and /etc/subgid, and {tool} comes from Debian's uidmap (apt-get install uidmap)")]
    MapTool { tool: &'static str, detail: String },
    #[error("the user-namespace holder (pid {pid}) did not come up: {detail}")]
    Holder { pid: i32, detail: String },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> UsernsError {
    let what = what.into();
    move |error| UsernsError::Io { what, error }
}

/// What [`enter`] did.
#[derive(Debug)]
pub struct Entered {
    pub holder_pid: i32,
    /// A holder made now (false: an existing one joined).
    pub created: bool,
    pub map: IdMap,
}

/// Enter the rootless user namespace kept for the store at `root`: join
/// its holder if one is alive, or make one. The caller must be
/// single-threaded (setns into a user namespace requires it) and not root.
/// Afterwards the caller is uid 0 with every capability in the namespace,
/// in its mount namespace.
pub fn enter(root: &Path) -> Result<Entered, UsernsError> {
    let pid_file = root.join("userns.pid");
    let lock_path = root.join("userns.lock");
    // Two daemons starting on one root must not make two holders.
    let _lock = crate::fsutil::LockFile::lock(&lock_path)
        .map_err(io_err(format!("locking {}", lock_path.display())))?;
    let uid = nix::unistd::getuid().as_raw();
    let (holder_pid, created, map) = match live_holder(&pid_file, uid) {
        Some(pid) => {
            let map = IdMap {
                uids: parse_id_map(
                    &fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap_or_default(),
                ),
                gids: parse_id_map(
                    &fs::read_to_string(format!("/proc/{pid}/gid_map")).unwrap_or_default(),
                ),
            };
            (pid, false, map)
        }
        None => {
            let map = wanted_map(uid);
            let pid = spawn_holder(&map, &pid_file)?;
            crate::fsutil::write_atomic(&pid_file, format!("{pid}\n").as_bytes())
                .map_err(io_err(format!("writing {}", pid_file.display())))?;
            (pid, true, map)
        }
    };
    join(holder_pid)?;
    Ok(Entered {
        holder_pid,
        created,
        map,
    })
}

/// The map this user is granted: subordinate ranges from /etc/subuid and
/// /etc/subgid, else the single id.
fn wanted_map(uid: u32) -> IdMap {
    let gid = nix::unistd::getgid().as_raw();
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_default();
    let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
    // /etc/subgid is keyed by the user (shadow-utils), as is /etc/subuid.
    let subgid = parse_subid(&read("/etc/subgid"), &name, uid)
        .or_else(|| parse_subid(&read("/etc/subgid"), &group, gid));
    IdMap::for_user(
        uid,
        gid,
        parse_subid(&read("/etc/subuid"), &name, uid),
        subgid,
    )
}

/// The pid in `pid_file` if it is still our holder: alive, named
/// [`HOLDER_NAME`], run by this user, in a user namespace of its own.
fn live_holder(pid_file: &Path, uid: u32) -> Option<i32> {
    let pid: i32 = fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    if comm.trim_end() != HOLDER_NAME {
        return None;
    }
    if crate::procfs::pid_uid(pid)? != uid {
        return None;
    }
    // A holder that just died (a zombie) still has its name, not its namespaces.
    fs::File::open(crate::procfs::ns_path(pid, "mnt")).ok()?;
    let ns_id = |p: PathBuf| fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let theirs = ns_id(crate::procfs::ns_path(pid, "user"))?;
    (Some(theirs) != ns_id(PathBuf::from("/proc/self/ns/user"))).then_some(pid)
}

/// Fork the holder: it unshares a user and a mount namespace, waits until
/// we have written its maps, and then only sleeps, in a session of its own,
/// as long as `pid_file` names it.
fn spawn_holder(map: &IdMap, pid_file: &Path) -> Result<i32, UsernsError> {
    let (ready_r, ready_w) = process::pipe().map_err(io_err("pipe"))?;
    let (go_r, go_w) = process::pipe().map_err(io_err("pipe"))?;
    let pid = match process::fork().map_err(io_err("fork"))? {
        process::Forked::Child => {
            drop(ready_r);
            drop(go_w);
            holder_main(ready_w.as_raw_fd(), go_r.as_raw_fd(), pid_file)
        }
        process::Forked::Parent(pid) => pid,
    };
    drop(ready_w);
    drop(go_r);
    let fail = |detail: String| {
        let _ = process::kill(pid, libc::SIGKILL);
        let _ = process::reap(pid);
        detail
    };
    let mut buf = [0u8; 512];
    let n = process::read(ready_r.as_raw_fd(), &mut buf).unwrap_or(0);
    match buf.first() {
        Some(b'U') if n == 1 => {}
        _ => {
            let why = String::from_utf8_lossy(&buf[..n])
                .trim_start_matches('E')
                .to_string();
            let why = fail(if why.is_empty() {
                "it exited".into()
            } else {
                why
            });
            return Err(UsernsError::Unshare(io::Error::other(why)));
        }
    }
    if let Err(e) = write_maps(pid, map) {
        fail(String::new());
        return Err(e);
    }
    process::write_all(go_w.as_raw_fd(), b"G").map_err(|e| UsernsError::Holder {
        pid,
        detail: fail(e.to_string()),
    })?;
    // The holder answers once it has set itself up in its mapped namespace.
    let n = process::read(ready_r.as_raw_fd(), &mut buf).unwrap_or(0);
    if buf[..n] != *b"R" {
        return Err(UsernsError::Holder {
            pid,
            detail: fail(String::from_utf8_lossy(&buf[..n]).into_owned()),
        });
    }
    Ok(pid)
}

/// How often the holder looks whether its store still names it.
const HOLDER_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// The holder's life, in the forked child: never returns. It ends when
/// `pid_file` no longer names it (the store was removed, as a test's or a
/// tutor sandbox's is, or another holder took over), so removed stores
/// leave no process behind.
fn holder_main(ready: i32, go: i32, pid_file: &Path) -> ! {
    let _ = process::setsid();
    if let Err(e) = process::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) {
        let _ = process::write_all(ready, format!("E{e}").as_bytes());
        process::exit_now(1);
    }
    let _ = process::write_all(ready, b"U");
    let mut b = [0u8; 1];
    if !matches!(process::read(go, &mut b), Ok(1)) {
        process::exit_now(1);
    }
    // Mapped now: mounts made in this namespace (the copy-in helpers',
    // never the containers', which have their own) stay in it.
    if let Err(e) = crate::mount::make_mounts_private() {
        let _ = process::write_all(ready, format!("{e}").as_bytes());
        process::exit_now(1);
    }
    let _ = process::set_name(HOLDER_NAME);
    let _ = process::write_all(ready, b"R");
    // Nothing of the daemon's (its log, sockets, the start lock) stays open.
    let _ = process::close_all_except(&[]);
    if let Ok(null) = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            let _ = process::dup2(null.as_raw_fd(), fd);
        }
    }
    let _ = std::env::set_current_dir("/");
    let me = process::getpid().to_string();
    // The daemon writes the pid file once we said ready: give it time.
    std::thread::sleep(HOLDER_CHECK);
    loop {
        let named = fs::read_to_string(pid_file).is_ok_and(|p| p.trim() == me);
        if !named {
            process::exit_now(0);
        }
        std::thread::sleep(HOLDER_CHECK);
    }
}

/// Write `pid`'s maps: through newuidmap/newgidmap for subordinate ranges
/// (setuid helpers that check /etc/subuid), directly for the single id (a
/// user may map their own id into a namespace they own, once setgroups is
/// denied).
fn write_maps(pid: i32, map: &IdMap) -> Result<(), UsernsError> {
    if map.is_single() {
        let write = |file: &str, text: String| {
            let path = format!("/proc/{pid}/{file}");
            fs::write(&path, text).map_err(io_err(format!("writing {path}")))
        };
        let line = |r: &[IdRange]| format!("{} {} {}\n", r[0].inside, r[0].outside, r[0].count);
        write("uid_map", line(&map.uids))?;
        write("setgroups", "deny\n".into())?;
        return write("gid_map", line(&map.gids));
    }
    for (tool, ranges) in [("newuidmap", &map.uids), ("newgidmap", &map.gids)] {
        let mut cmd = std::process::Command::new(tool);
        cmd.arg(pid.to_string());
        for r in ranges {
            cmd.args([r.inside, r.outside, r.count].map(|n| n.to_string()));
        }
        let out = cmd.output().map_err(|e| UsernsError::MapTool {
            tool,
            detail: e.to_string(),
        })?;
        if !out.status.success() {
            return Err(UsernsError::MapTool {
                tool,
                detail: format!(
                    "{}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
    }
    Ok(())
}

/// Join the holder's user and mount namespaces, and become root in them.
fn join(pid: i32) -> Result<(), UsernsError> {
    let open = |name: &str| {
        let p = crate::procfs::ns_path(pid, name);
        fs::File::open(&p).map_err(io_err(format!("opening {}", p.display())))
    };
    let user = open("user")?;
    let mnt = open("mnt")?;
    process::setns(user.as_raw_fd(), libc::CLONE_NEWUSER)
        .map_err(io_err(format!("joining the user namespace of pid {pid}")))?;
    process::setns(mnt.as_raw_fd(), libc::CLONE_NEWNS)
        .map_err(io_err(format!("joining the mount namespace of pid {pid}")))?;
    // The user's own id is 0 in here; the ids switch to it explicitly so
    // files we create are root's inside (the user's outside) whatever the
    // saved ids were. Supplementary groups from outside mean nothing here.
    let _ = nix::unistd::setgroups(&[]);
    let (g, u) = (nix::unistd::Gid::from_raw(0), nix::unistd::Uid::from_raw(0));
    nix::unistd::setresgid(g, g, g)
        .map_err(|e| io_err("becoming gid 0 in the user namespace")(e.into()))?;
    nix::unistd::setresuid(u, u, u)
        .map_err(|e| io_err("becoming uid 0 in the user namespace")(e.into()))?;
    std::env::set_current_dir("/").map_err(io_err("entering /"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_by_name_or_id_first_grant_wins() {
        let text = "# comment\nbob:200000:65536\nann:100000:65536\n1001:300000:10\nann:500000:1\n";
        assert_eq!(parse_subid(text, "ann", 1000), Some((100000, 65536)));
        assert_eq!(parse_subid(text, "carl", 1001), Some((300000, 10)));
        assert_eq!(parse_subid(text, "dora", 1002), None);
        assert_eq!(parse_subid("ann:1:0\n", "ann", 1000), None);
        assert_eq!(parse_subid("ann:x:5\n", "ann", 1000), None);
    }

    #[test]
    fn the_map_puts_the_user_at_zero_and_the_range_after() {
        let m = IdMap::for_user(1000, 1000, Some((100000, 65536)), Some((200000, 65536)));
        assert!(!m.is_single());
        assert_eq!(IdMap::describe(&m.uids), "0:1000:1,1:100000:65536");
        assert_eq!(IdMap::describe(&m.gids), "0:1000:1,1:200000:65536");
        let single = IdMap::for_user(1000, 1000, Some((100000, 65536)), None);
        assert!(single.is_single());
        assert_eq!(IdMap::describe(&single.gids), "0:1000:1");
    }

    #[test]
    fn proc_maps_parse_and_the_initial_one_is_known() {
        let m = parse_id_map("         0          0 4294967295\n");
        assert!(is_initial(&m));
        let m = parse_id_map("0 1000 1\n1 100000 65536\n");
        assert!(!is_initial(&m));
        assert_eq!(m[1].outside, 100000);
    }
}
