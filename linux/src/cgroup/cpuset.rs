//! cpusets: `--cpuset-cpus` and `--cpuset-mems`, checked against what the
//! host offers, and a v1 cpuset cgroup seeded from its parent.
//!
//! A new v1 cpuset cgroup starts with empty `cpuset.cpus` and
//! `cpuset.mems`, and the kernel refuses a task in it (ENOSPC) until both
//! are set: every directory from the hierarchy's mount down to the
//! container's is seeded from its parent before anything joins, as runc
//! does. On v2 a child inherits its parent's effective sets, so only the
//! asked-for values are written.

use super::{read, write_file, CgroupError};
use std::collections::BTreeSet;
use std::path::Path;

/// The two lists a cpuset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cpus,
    Mems,
}

impl Kind {
    /// The v1 file (`cpuset.cpus`); v2 writes the same names.
    pub fn file(self) -> &'static str {
        match self {
            Kind::Cpus => "cpuset.cpus",
            Kind::Mems => "cpuset.mems",
        }
    }

    /// What the hierarchy's root offers (v1 `cpuset.effective_cpus`, v2
    /// `cpuset.cpus.effective`).
    fn effective(self, v2: bool) -> &'static str {
        match (self, v2) {
            (Kind::Cpus, false) => "cpuset.effective_cpus",
            (Kind::Mems, false) => "cpuset.effective_mems",
            (Kind::Cpus, true) => "cpuset.cpus.effective",
            (Kind::Mems, true) => "cpuset.mems.effective",
        }
    }

    /// The kernel's own list when no cpuset file can be read.
    fn sysfs(self) -> &'static str {
        match self {
            Kind::Cpus => "/sys/devices/system/cpu/online",
            Kind::Mems => "/sys/devices/system/node/online",
        }
    }
}

/// A list as the kernel and Docker write it (`0-3,8,10-11`), as a set.
/// Docker's `parsers.ParseUintList`: no empty pieces, no reversed ranges.
pub fn parse_list(s: &str) -> Result<BTreeSet<u32>, String> {
    let bad = || format!("invalid format: {s}");
    let mut set = BTreeSet::new();
    let s = s.trim();
    if s.is_empty() {
        return Ok(set);
    }
    for piece in s.split(',') {
        match piece.split_once('-') {
            None => {
                set.insert(piece.parse::<u32>().map_err(|_| bad())?);
            }
            Some((a, b)) => {
                let a = a.parse::<u32>().map_err(|_| bad())?;
                let b = b.parse::<u32>().map_err(|_| bad())?;
                if b < a || b - a > 65_536 {
                    return Err(bad());
                }
                set.extend(a..=b);
            }
        }
    }
    Ok(set)
}

/// The host's list for `kind`, as the kernel prints it: the cpuset
/// hierarchy's root when mounted (`root` is the cgroup mount root), else
/// the online CPUs or memory nodes, else "0".
pub fn host_list(root: &Path, kind: Kind) -> String {
    let v2 = root.join("cgroup.controllers").exists();
    let dir = if v2 {
        root.to_path_buf()
    } else {
        root.join("cpuset")
    };
    std::fs::read_to_string(dir.join(kind.effective(v2)))
        .or_else(|_| std::fs::read_to_string(dir.join(kind.file())))
        .or_else(|_| std::fs::read_to_string(kind.sysfs()))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "0".to_string())
}

/// `requested` within `available`, or Docker's message: "Invalid value ..."
/// for a list that does not parse, "Requested CPUs are not available ..."
/// for one the host does not have.
pub fn check(kind: Kind, requested: &str, available: &str) -> Result<(), String> {
    let what = match kind {
        Kind::Cpus => "cpuset cpus",
        Kind::Mems => "cpuset mems",
    };
    let want =
        parse_list(requested).map_err(|e| format!("Invalid value {requested} for {what}: {e}"))?;
    let have = parse_list(available).unwrap_or_default();
    if want.is_subset(&have) {
        return Ok(());
    }
    Err(match kind {
        Kind::Cpus => {
            format!("Requested CPUs are not available - requested {requested}, available: {available}")
        }
        Kind::Mems => format!(
            "Requested memory nodes are not available - requested {requested}, available: {available}"
        ),
    })
}

/// Seed every directory between `mount` (excluded) and `dir` whose cpus or
/// mems are empty with its parent's (v1). A parent without the file is not
/// a cpuset (a fake tree in tests): nothing to copy then.
pub(super) fn seed_v1(mount: &Path, dir: &Path) -> Result<(), CgroupError> {
    let Ok(rel) = dir.strip_prefix(mount) else {
        return Ok(());
    };
    let mut parent = mount.to_path_buf();
    for part in rel.components() {
        let child = parent.join(part);
        for kind in [Kind::Cpus, Kind::Mems] {
            let file = kind.file();
            let Ok(from) = std::fs::read_to_string(parent.join(file)) else {
                continue;
            };
            let now = read(&child.join(file))?;
            if now.trim().is_empty() && !from.trim().is_empty() {
                write_file(&child, file, from.trim())?;
            }
        }
        parent = child;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_as_docker_parses_them() {
        let set = |v: &[u32]| v.iter().copied().collect::<BTreeSet<u32>>();
        assert_eq!(parse_list("0-2,5").unwrap(), set(&[0, 1, 2, 5]));
        assert_eq!(parse_list("1").unwrap(), set(&[1]));
        assert_eq!(parse_list("").unwrap(), set(&[]));
        for bad in ["a", "1,", "3-1", "1--2", "-1", "0-"] {
            assert_eq!(
                parse_list(bad).unwrap_err(),
                format!("invalid format: {bad}")
            );
        }
    }

    #[test]
    fn requests_are_checked_against_the_host() {
        assert!(check(Kind::Cpus, "0,1", "0-1").is_ok());
        assert_eq!(
            check(Kind::Cpus, "0-3", "0-1").unwrap_err(),
            "Requested CPUs are not available - requested 0-3, available: 0-1"
        );
        assert_eq!(
            check(Kind::Mems, "x", "0").unwrap_err(),
            "Invalid value x for cpuset mems: invalid format: x"
        );
    }

    #[test]
    fn a_new_v1_cpuset_is_seeded_from_its_parents() {
        let t = tempfile::tempdir().unwrap();
        let mount = t.path().join("cpuset");
        let leaf = mount.join("own/whale/abc");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(mount.join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(mount.join("cpuset.mems"), "0\n").unwrap();
        // The daemon's own cgroup already set, whale's two new dirs empty.
        for (dir, cpus) in [("own", "1"), ("own/whale", ""), ("own/whale/abc", "")] {
            std::fs::write(mount.join(dir).join("cpuset.cpus"), cpus).unwrap();
            std::fs::write(mount.join(dir).join("cpuset.mems"), "").unwrap();
        }
        seed_v1(&mount, &leaf).unwrap();
        let read = |p: &str| std::fs::read_to_string(mount.join(p)).unwrap();
        assert_eq!(read("own/cpuset.cpus"), "1", "a set value is kept");
        assert_eq!(read("own/whale/cpuset.cpus"), "1");
        assert_eq!(read("own/whale/abc/cpuset.cpus"), "1");
        assert_eq!(read("own/whale/abc/cpuset.mems"), "0");
    }

    /// A v1 tree with the cpuset hierarchy beside memory, as a host mounts it.
    #[test]
    fn v1_container_gets_seeded_cpuset_and_its_limits() {
        use crate::cgroup::{Cgroup, Resources, Version, V1_CONTROLLERS};
        let t = tempfile::tempdir().unwrap();
        for c in V1_CONTROLLERS {
            std::fs::create_dir_all(t.path().join(c)).unwrap();
        }
        let cs = t.path().join("cpuset");
        std::fs::write(cs.join("cpuset.cpus"), "0-3\n").unwrap();
        std::fs::write(cs.join("cpuset.mems"), "0\n").unwrap();
        let own = "7:cpuset:/\n4:memory:/\n";
        let cg = Cgroup::resolve(Version::V1, t.path(), own, "whale/c1").unwrap();
        assert!(cg.dirs.iter().any(|(c, _)| c == "cpuset"), "{:?}", cg.dirs);
        // The kernel makes these files, empty, in every new cpuset dir.
        for d in ["whale", "whale/c1"] {
            std::fs::create_dir_all(cs.join(d)).unwrap();
            std::fs::write(cs.join(d).join("cpuset.cpus"), "").unwrap();
            std::fs::write(cs.join(d).join("cpuset.mems"), "").unwrap();
        }
        cg.create().unwrap();
        let read = |p: &str| std::fs::read_to_string(t.path().join(p)).unwrap();
        assert_eq!(read("cpuset/whale/c1/cpuset.cpus"), "0-3");
        cg.apply(&Resources {
            memory_swappiness: Some(40),
            cpuset_cpus: Some("1".into()),
            cpuset_mems: Some("0".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(read("memory/whale/c1/memory.swappiness"), "40");
        assert_eq!(read("cpuset/whale/c1/cpuset.cpus"), "1");
        assert_eq!(read("cpuset/whale/c1/cpuset.mems"), "0");
    }

    #[test]
    fn v2_writes_cpusets_and_never_drops_a_swappiness() {
        use crate::cgroup::Resources;
        let (t, cg) = crate::cgroup::tests::fake_v2();
        let dir = t.path().join("system.slice/whaled.service/whale/c1");
        let res = Resources {
            cpuset_cpus: Some("0-1".into()),
            ..Default::default()
        };
        // Without the controller enabled the files are missing: named.
        let err = cg.apply(&res).unwrap_err().to_string();
        assert!(
            err.contains("cpuset") && err.contains("cpuset.cpus"),
            "{err}"
        );
        std::fs::write(dir.join("cpuset.cpus"), "").unwrap();
        cg.apply(&res).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("cpuset.cpus")).unwrap(),
            "0-1"
        );
        // The root offered cpuset: it is enabled on the way down.
        let ctl = std::fs::read_to_string(t.path().join("cgroup.subtree_control")).unwrap();
        assert!(ctl.contains("+cpuset"), "{ctl}");
        let err = cg
            .apply(&Resources {
                memory_swappiness: Some(10),
                ..Default::default()
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains("memory.swappiness"), "{err}");
    }
}
