//! Rootless cgroups: a normal user may limit containers only inside a
//! cgroup v2 subtree delegated to them (systemd's `user@UID.service` with
//! `Delegate=yes`: the user's own cgroup dir is theirs to write, and its
//! `cgroup.controllers` offers memory, cpu and pids). Anywhere else the
//! kernel gives a user no cgroup to write, and every limit is refused at
//! create with [`Missing`]'s reason, never accepted and ignored.

use std::path::{Path, PathBuf};

use super::{own_path, Version};

/// The controllers a delegated subtree must offer for `--memory`, `--cpus`
/// and `--pids-limit`.
pub const NEEDED: &[&str] = &["memory", "cpu", "pids"];

/// Why a rootless engine has no cgroups of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why}")]
pub struct Missing {
    pub why: String,
}

/// What would enable limits, said after every refusal.
pub const HOW_TO_DELEGATE: &str = "rootless limits need a cgroup v2 host (systemd.unified_cgroup_hierarchy=1) \
and a delegated user cgroup: run the daemon inside the user's systemd manager (user@UID.service, \
Delegate=yes, with memory cpu pids in its cgroup.controllers), e.g. `systemd-run --user --scope -p Delegate=yes whale daemon`";

/// Where the caller may create cgroups: its own v2 cgroup dir, if it is
/// delegated. `root` is the cgroup mount, `proc_self_cgroup` the caller's
/// `/proc/self/cgroup`, `writable` the access check (faked in tests).
pub fn delegated_dir(
    version: Version,
    root: &Path,
    proc_self_cgroup: &str,
    writable: &dyn Fn(&Path) -> bool,
) -> Result<PathBuf, Missing> {
    let missing = |why: String| Err(Missing { why });
    if version != Version::V2 {
        return missing(
            "this host runs cgroup v1, where the kernel delegates no cgroup to a normal user"
                .into(),
        );
    }
    let Some(own) = own_path(proc_self_cgroup, "") else {
        return missing("/proc/self/cgroup names no cgroup v2 path".into());
    };
    let dir = root.join(own.trim_start_matches('/'));
    if !writable(&dir) || !writable(&dir.join("cgroup.subtree_control")) {
        return missing(format!(
            "your cgroup {} is not delegated to you (not writable)",
            dir.display()
        ));
    }
    let offered = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let absent: Vec<&str> = NEEDED
        .iter()
        .copied()
        .filter(|c| !offered.split_whitespace().any(|o| o == *c))
        .collect();
    if !absent.is_empty() {
        return missing(format!(
            "your delegated cgroup {} lacks the {} controller(s) (its cgroup.controllers: {:?})",
            dir.display(),
            absent.join(", "),
            offered.trim()
        ));
    }
    Ok(dir)
}

/// Set by a rootless daemon for its shims: the delegated dir it found (the
/// daemon itself has moved into [`DAEMON_LEAF`] below it by then).
pub const BASE_ENV: &str = "WHALE_ROOTLESS_CGROUP";

/// The leaf a rootless daemon moves into: cgroup v2 gives controllers to
/// the children of a cgroup only while it holds no process itself.
pub const DAEMON_LEAF: &str = "whale-daemon";

/// Move `pid` (the daemon) out of the delegated dir `base` into its leaf,
/// and enable the controllers containers need for `base`'s children.
pub fn settle_daemon(base: &Path, pid: i32) -> std::io::Result<()> {
    let leaf = base.join(DAEMON_LEAF);
    std::fs::create_dir_all(&leaf)?;
    std::fs::write(leaf.join("cgroup.procs"), pid.to_string())?;
    let wanted: Vec<String> = NEEDED.iter().map(|c| format!("+{c}")).collect();
    std::fs::write(base.join("cgroup.subtree_control"), wanted.join(" "))
}

/// The delegated dir containers are made under, rootless with delegation.
pub fn rootless_base() -> Option<PathBuf> {
    if !crate::userns::in_rootless_namespace() {
        return None;
    }
    current().ok()
}

/// The real check for this process (read once: it does not change while
/// the daemon runs). A shim checks the dir its daemon found ([`BASE_ENV`]).
pub fn current() -> Result<PathBuf, Missing> {
    static CHECKED: std::sync::OnceLock<Result<PathBuf, Missing>> = std::sync::OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let root = Path::new(super::CGROUP_ROOT);
            let own = match std::env::var_os(BASE_ENV).map(PathBuf::from) {
                Some(base) => match base.strip_prefix(root) {
                    Ok(rel) => format!("0::/{}\n", rel.display()),
                    Err(_) => String::new(),
                },
                None => std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default(),
            };
            let writable =
                |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok();
            delegated_dir(super::host_version(), root, &own, &writable)
        })
        .clone()
}

/// Does this engine run without cgroups (rootless, nothing delegated)?
pub fn cgroups_unavailable() -> Option<Missing> {
    if !crate::userns::in_rootless_namespace() {
        return None;
    }
    current().err()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const SELF: &str = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/whale.scope\n";

    fn fake_tree(controllers: &str) -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let own = t
            .path()
            .join("user.slice/user-1000.slice/user@1000.service/app.slice/whale.scope");
        fs::create_dir_all(&own).unwrap();
        fs::write(own.join("cgroup.controllers"), controllers).unwrap();
        fs::write(own.join("cgroup.subtree_control"), "").unwrap();
        (t, own)
    }

    #[test]
    fn a_delegated_v2_cgroup_with_the_controllers_is_used() {
        let (t, own) = fake_tree("cpuset cpu io memory pids\n");
        let yes = |_: &Path| true;
        assert_eq!(delegated_dir(Version::V2, t.path(), SELF, &yes), Ok(own));
    }

    #[test]
    fn v1_a_closed_cgroup_or_missing_controllers_are_refused_with_the_reason() {
        let (t, own) = fake_tree("cpu io\n");
        let yes = |_: &Path| true;
        let no = |_: &Path| false;
        let why = |r: Result<PathBuf, Missing>| r.unwrap_err().why;
        assert!(why(delegated_dir(Version::V1, t.path(), SELF, &yes)).contains("cgroup v1"));
        assert!(why(delegated_dir(Version::V2, t.path(), SELF, &no)).contains("not delegated"));
        let lacks = why(delegated_dir(Version::V2, t.path(), SELF, &yes));
        assert!(lacks.contains("memory, pids"), "{lacks}");
        // Only the subtree_control file closed: still not delegated.
        let ctl_closed = |p: &Path| p == own;
        assert!(
            why(delegated_dir(Version::V2, t.path(), SELF, &ctl_closed)).contains("not delegated")
        );
    }

    #[test]
    fn in_a_delegated_tree_the_container_cgroup_is_made_and_its_limits_written() {
        let (t, own) = fake_tree("cpu memory pids\n");
        let yes = |_: &Path| true;
        let base = delegated_dir(Version::V2, t.path(), SELF, &yes).unwrap();
        // The daemon leaves the delegated dir for a leaf, so that the
        // dir's children may have controllers.
        settle_daemon(&base, 4242).unwrap();
        assert_eq!(
            fs::read_to_string(own.join(DAEMON_LEAF).join("cgroup.procs")).unwrap(),
            "4242"
        );
        assert_eq!(
            fs::read_to_string(own.join("cgroup.subtree_control")).unwrap(),
            "+memory +cpu +pids"
        );
        fs::write(own.join("cgroup.subtree_control"), "").unwrap();
        let cg = super::super::Cgroup::resolve(Version::V2, t.path(), SELF, "whale/c1").unwrap();
        cg.create().unwrap();
        let dir = own.join("whale/c1");
        assert_eq!(cg.dirs[0].1, dir);
        // The controllers were enabled on the way down, inside the delegated dir.
        assert_eq!(
            fs::read_to_string(own.join("cgroup.subtree_control")).unwrap(),
            "+cpu +memory +pids"
        );
        for f in [
            "memory.max",
            "memory.swap.max",
            "cpu.max",
            "cpu.weight",
            "pids.max",
        ] {
            fs::write(dir.join(f), "").unwrap();
        }
        cg.apply(&super::super::Resources {
            memory: Some(32 << 20),
            pids_limit: Some(20),
            nano_cpus: Some(500_000_000),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("memory.max")).unwrap(),
            "33554432"
        );
        assert_eq!(fs::read_to_string(dir.join("pids.max")).unwrap(), "20");
        assert_eq!(
            fs::read_to_string(dir.join("cpu.max")).unwrap(),
            "50000 100000"
        );
    }
}
