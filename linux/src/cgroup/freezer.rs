//! Freezing a container's cgroup (`docker pause`): v1's freezer controller
//! (`freezer.state`: FROZEN/THAWED, passing through FREEZING) or v2's
//! `cgroup.freeze` (done when `cgroup.events` says `frozen 1`).

use super::{read, write_file, Cgroup, CgroupError, Version};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a freeze may take before it is undone and reported (a task
/// stuck in uninterruptible sleep can keep a cgroup FREEZING).
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

impl Cgroup {
    /// Freeze (`true`) or thaw every process of the cgroup, and wait until
    /// the kernel says it is done.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        match self.version {
            Version::V1 => {
                let dir = self
                    .dirs
                    .iter()
                    .find(|(c, _)| c == "freezer")
                    .map(|(_, d)| d.as_path())
                    .ok_or_else(|| CgroupError::MissingFile {
                        controller: "freezer",
                        path: self.root.join("freezer"),
                        file: "freezer.state",
                    })?;
                let want = if frozen { "FROZEN" } else { "THAWED" };
                wait_for(frozen, || {
                    write_file(dir, "freezer.state", want)?;
                    Ok(read(&dir.join("freezer.state"))?.trim() == want)
                })
            }
            Version::V2 => {
                let Some((_, dir)) = self.dirs.first() else {
                    return Ok(());
                };
                if !dir.join("cgroup.freeze").exists() {
                    return Err(CgroupError::MissingFile {
                        controller: "freezer",
                        path: dir.clone(),
                        file: "cgroup.freeze",
                    });
                }
                write_file(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
                wait_for(frozen, || Ok(v2_frozen(dir)? == frozen))
            }
        }
    }
}

impl Cgroup {
    /// Whether the cgroup is frozen now (a daemon re-adopting a paused
    /// container asks).
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self.version {
            Version::V1 => match self.dirs.iter().find(|(c, _)| c == "freezer") {
                Some((_, dir)) => Ok(read(&dir.join("freezer.state"))?.trim() == "FROZEN"),
                None => Ok(false),
            },
            Version::V2 => match self.dirs.first() {
                Some((_, dir)) => v2_frozen(dir),
                None => Ok(false),
            },
        }
    }
}

/// Whether a container's cgroup is frozen (false when it cannot be read).
pub fn container_frozen(cgroup_path: &str) -> bool {
    Cgroup::for_container(cgroup_path)
        .and_then(|cg| cg.is_frozen())
        .unwrap_or(false)
}

/// v2: `frozen 1` in `cgroup.events`.
fn v2_frozen(dir: &Path) -> Result<bool, CgroupError> {
    let text = read(&dir.join("cgroup.events"))?;
    Ok(super::parse_kv(&text).get("frozen").copied() == Some(1))
}

/// Poll `done` (which may also rewrite the request, as v1 wants while it
/// is FREEZING) until it holds or the timeout passes.
fn wait_for(
    freezing: bool,
    mut done: impl FnMut() -> Result<bool, CgroupError>,
) -> Result<(), CgroupError> {
    let start = Instant::now();
    let mut delay = Duration::from_micros(200);
    loop {
        if done()? {
            return Ok(());
        }
        if start.elapsed() > FREEZE_TIMEOUT {
            return Err(CgroupError::Timeout {
                what: if freezing { "freezing" } else { "thawing" },
                secs: FREEZE_TIMEOUT.as_secs(),
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

/// Freeze or thaw a container's cgroup (`cgroup_path` as the spec names it).
pub fn freeze_container(cgroup_path: &str, frozen: bool) -> Result<(), CgroupError> {
    let cg = Cgroup::for_container(cgroup_path)?;
    let res = cg.set_frozen(frozen);
    if res.is_err() && frozen {
        // Never leave a container half frozen.
        let _ = cg.set_frozen(false);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fake_v1, fake_v2};
    use std::fs;

    #[test]
    fn v1_writes_freezer_state() {
        let (t, cg) = fake_v1();
        let state = t.path().join("freezer/whale/abc123/freezer.state");
        fs::write(&state, "THAWED\n").unwrap();
        cg.set_frozen(true).unwrap();
        assert_eq!(fs::read_to_string(&state).unwrap(), "FROZEN");
        assert!(cg.is_frozen().unwrap());
        cg.set_frozen(false).unwrap();
        assert_eq!(fs::read_to_string(&state).unwrap(), "THAWED");
    }

    #[test]
    fn v2_writes_cgroup_freeze_and_waits_for_events() {
        let (t, cg) = fake_v2();
        let dir = t.path().join("system.slice/whaled.service/whale/c1");
        // Without the file the kernel has no freezer here: said so.
        let err = cg.set_frozen(true).unwrap_err().to_string();
        assert!(err.contains("cgroup.freeze"), "{err}");
        fs::write(dir.join("cgroup.freeze"), "0").unwrap();
        fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        cg.set_frozen(true).unwrap();
        assert_eq!(fs::read_to_string(dir.join("cgroup.freeze")).unwrap(), "1");
        fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        cg.set_frozen(false).unwrap();
        assert_eq!(fs::read_to_string(dir.join("cgroup.freeze")).unwrap(), "0");
    }
}
