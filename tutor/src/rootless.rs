//! Whether this machine lets a normal user run whale rootless, for
//! `doctor` and for the lessons that need cgroup limits: unprivileged user
//! namespaces, subordinate ids (`/etc/subuid`, `/etc/subgid`), Debian's
//! `uidmap` helpers, overlayfs inside a user namespace, and a cgroup v2
//! subtree delegated to the user.
//!
//! Like the rest of `doctor`, this reads the host on purpose: it says
//! whether whale can run here before any engine exists to ask. The probes
//! that need a user namespace run util-linux's `unshare` in a child process,
//! so the tutor itself never changes namespaces.

use crate::setup::Finding;
use std::path::Path;
use std::process::{Command, Stdio};
use whale_args::subids;

/// The controllers a container's limits are written with.
const LIMIT_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

/// Where cgroup v2 is mounted when it is the only hierarchy.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The user's name and id, as the subordinate id files name owners.
fn user() -> (String, u32) {
    let uid = nix::unistd::getuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    (name, uid.as_raw())
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The kernel switches that forbid unprivileged user namespaces, as
/// (file, value that forbids, what to do).
const USERNS_SWITCHES: [(&str, &str, &str); 3] = [
    (
        "/proc/sys/user/max_user_namespaces",
        "0",
        "`sudo sysctl user.max_user_namespaces=15000`",
    ),
    (
        // Debian's and older Ubuntu kernels.
        "/proc/sys/kernel/unprivileged_userns_clone",
        "0",
        "`sudo sysctl kernel.unprivileged_userns_clone=1`",
    ),
    (
        // Ubuntu 24.04's AppArmor restriction.
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
        "1",
        "`sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`",
    ),
];

/// Run `sh -c script` in a new user namespace (the user as root in it)
/// and a new mount namespace; stderr when it fails.
fn in_user_namespace(script: &str) -> Result<(), String> {
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run util-linux's unshare: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Unprivileged user namespaces: the kernel switches, then a real one.
pub fn user_namespaces() -> Result<String, String> {
    for (file, forbids, fix) in USERNS_SWITCHES {
        if read_trimmed(file).as_deref() == Some(forbids) {
            return Err(format!(
                "unprivileged user namespaces are off ({file} is {forbids}): an administrator enables them with {fix}"
            ));
        }
    }
    in_user_namespace("true")
        .map(|()| "a normal user may create user namespaces".to_string())
        .map_err(|e| {
            format!(
                "creating a user namespace failed ({e}): whale cannot run rootless on this kernel"
            )
        })
}

/// The subordinate ranges `file` grants this user, said for `doctor`.
fn subordinate(file: &'static str) -> Finding {
    let (name, uid) = user();
    let item = if file == subids::SUBUID_FILE {
        "subuid"
    } else {
        "subgid"
    };
    match subids::ranges_from(Path::new(file), &name, uid) {
        Ok(r) if !r.is_empty() => Finding {
            item,
            ok: true,
            detail: format!(
                "{file} grants {name} {} ids ({})",
                subids::total(&r),
                r.iter()
                    .map(|r| format!("{}-{}", r.start, r.start + r.count - 1))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        Ok(_) => Finding {
            item,
            ok: false,
            detail: format!(
                "{file} grants {name} no range: whale then maps only your own id (root in a container is you, and no other user exists there: apt-get, useradd and `whale bootstrap debian` need the range). An administrator grants it: `{}`",
                subids::grant_line(&name)
            ),
        },
        Err(e) => Finding {
            item,
            ok: false,
            detail: format!("cannot read {file}: {e}"),
        },
    }
}

/// Whether /etc/subuid and /etc/subgid both grant this user a range; else
/// why not, with the line an administrator runs.
pub fn subordinate_ids() -> Result<(), String> {
    let (name, uid) = user();
    for file in [subids::SUBUID_FILE, subids::SUBGID_FILE] {
        let ranges = subids::ranges_from(Path::new(file), &name, uid)
            .map_err(|e| format!("{file} cannot be read ({e})"))?;
        if ranges.is_empty() {
            return Err(format!(
                "{file} grants {name} no subordinate ids, which the course's images need (Debian's apt and its users live on them). An administrator grants them: `{}`",
                subids::grant_line(&name)
            ));
        }
    }
    Ok(())
}

/// `newuidmap`/`newgidmap` (Debian's `uidmap`): only they may write a map
/// with the subordinate ranges.
fn uidmap_helpers() -> Finding {
    let missing: Vec<&str> = ["newuidmap", "newgidmap"]
        .into_iter()
        .filter(|h| crate::tools::find_on_path(h).is_none())
        .collect();
    Finding {
        item: "uidmap",
        ok: missing.is_empty(),
        detail: if missing.is_empty() {
            "newuidmap and newgidmap found (they write the subordinate ids into whale's user namespace)".into()
        } else {
            format!(
                "{} missing: `sudo apt-get install uidmap` (without it whale maps only your own id)",
                missing.join(" and ")
            )
        },
    }
}

/// Mount an overlay in a user namespace of our own, in a temp dir: what
/// rootless whale does for every container (Linux 5.11 and newer).
pub fn overlay_in_user_namespace() -> Result<(), String> {
    let dir = tempfile::Builder::new()
        .prefix("whaletutor-overlay-probe-")
        .tempdir()
        .map_err(|e| format!("cannot make a temp dir: {e}"))?;
    for d in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir(dir.path().join(d))
            .map_err(|e| format!("cannot make the probe's {d} dir: {e}"))?;
    }
    let p = dir.path().display();
    // As rootless whale mounts it (userxattr: overlayfs keeps its own
    // attributes in user.overlay.*). The mount lives and dies with the
    // namespace: nothing to unmount.
    let mounted = in_user_namespace(&format!(
        "mount -t overlay overlay -o lowerdir={p}/lower,upperdir={p}/upper,workdir={p}/work,userxattr {p}/merged && touch {p}/merged/probe"
    ));
    // overlayfs leaves work/work with mode 000, which the temp dir's
    // removal could not list: open it to its owner first.
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(
        dir.path().join("work/work"),
        std::fs::Permissions::from_mode(0o700),
    );
    mounted
}

fn kernel_release() -> String {
    read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into())
}

/// The controllers of `dir` that limits need and it lacks.
fn missing_controllers(dir: &Path) -> Vec<&'static str> {
    let offered = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    LIMIT_CONTROLLERS
        .into_iter()
        .filter(|c| !offered.split_whitespace().any(|o| o == *c))
        .collect()
}

fn writable(p: &Path) -> bool {
    nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// The cgroup v2 directory delegated to this user that a whale daemon
/// started from here would make its containers' cgroups in: this process's
/// own cgroup (a daemon inherits it), writable and offering the memory, cpu
/// and pids controllers, as rootless whale requires. Else why not (a
/// sentence fragment), and where a delegated one exists elsewhere (the
/// user's systemd manager, while this shell is in a login session's scope),
/// how to start inside it.
pub fn cgroup_delegation() -> Result<String, String> {
    let root = Path::new(CGROUP_ROOT);
    if !root.join("cgroup.controllers").is_file() {
        return Err(if root.join("unified").is_dir() {
            "cgroup v1 (hybrid: the controllers are v1, which never delegates to a user)".into()
        } else {
            "cgroup v1 (which never delegates to a user)".into()
        });
    }
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        })
        .ok_or_else(|| "cgroup v2, but /proc/self/cgroup names no cgroup".to_string())?;
    let dir = root.join(own.trim_start_matches('/'));
    if writable(&dir) && writable(&dir.join("cgroup.subtree_control")) {
        let missing = missing_controllers(&dir);
        return if missing.is_empty() {
            Ok(dir.display().to_string())
        } else {
            Err(format!(
                "a cgroup v2 directory delegated to you ({}) without the {} controller(s)",
                dir.display(),
                missing.join(", ")
            ))
        };
    }
    let uid = nix::unistd::geteuid().as_raw();
    let manager = root.join(format!("user.slice/user-{uid}.slice/user@{uid}.service"));
    if writable(&manager) && missing_controllers(&manager).is_empty() {
        return Err(format!(
            "a cgroup v2 subtree delegated to you at {}, but this shell runs in {}, outside it (start inside it: `systemd-run --user --scope -p Delegate=yes whaletutor ...`)",
            manager.display(),
            dir.display()
        ));
    }
    Err(format!(
        "cgroup v2, but your cgroup ({}) is not delegated to you",
        dir.display()
    ))
}

/// `doctor`'s rootless lines, for a normal user: can whale run here
/// without root, and what is missing.
pub fn findings() -> Vec<Finding> {
    let mut f = Vec::new();
    let userns = user_namespaces();
    let userns_ok = userns.is_ok();
    f.push(Finding {
        item: "userns",
        ok: userns_ok,
        detail: userns.unwrap_or_else(|e| e),
    });
    f.push(subordinate(subids::SUBUID_FILE));
    f.push(subordinate(subids::SUBGID_FILE));
    f.push(uidmap_helpers());
    let overlay = if userns_ok {
        overlay_in_user_namespace().map_err(|e| {
            format!(
                "overlayfs does not mount in a user namespace ({e}): rootless whale needs Linux 5.11 or newer (this is {})",
                kernel_release()
            )
        })
    } else {
        Err("not probed: no user namespace".into())
    };
    f.push(Finding {
        item: "userns overlay",
        ok: overlay.is_ok(),
        detail: overlay
            .map(|()| {
                "overlayfs mounts in a user namespace (the containers' root file systems)".into()
            })
            .unwrap_or_else(|e| e),
    });
    let cg = cgroup_delegation();
    f.push(Finding {
        item: "delegation",
        ok: cg.is_ok(),
        detail: match cg {
            Ok(dir) => format!("cgroup v2 delegated to you at {dir} (memory, cpu, pids): limits work rootless"),
            Err(why) => format!(
                "{why}: rootless whale refuses --memory, --cpus and --pids-limit, and lessons marked cgroup-delegation are skipped; root, or cgroup v2 with systemd's user@.service delegation, enables them"
            ),
        },
    });
    f
}

/// Remove a rootless whale store the tutor made (verify's sandbox) and end
/// the process that holds its user namespace. Its layers hold files of the
/// user's subordinate ids, which the user may remove only from inside that
/// namespace (as its root); the holder (`whale-userns`, its pid in
/// `<root>/userns.pid`) outlives the daemon on purpose, so it is ended here
/// with the store. Best effort: what is left is said on stderr.
pub fn remove_store(root: &Path) {
    let holder = std::fs::read_to_string(root.join("userns.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "whale-userns")
        });
    let Some(pid) = holder else {
        return;
    };
    let removed = Command::new("nsenter")
        .arg(format!("--target={pid}"))
        .args(["--user", "--", "rm", "-rf", "--one-file-system"])
        .arg(root)
        .stdin(Stdio::null())
        .output();
    match removed {
        Ok(out) if out.status.success() => {}
        Ok(out) => eprintln!(
            "whaletutor: could not remove {} from its user namespace: {}",
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => eprintln!(
            "whaletutor: cannot run util-linux's nsenter to remove {}: {e}",
            root.display()
        ),
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}
