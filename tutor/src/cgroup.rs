//! The machine's cgroup layout and the engine's cgroup driver, for the
//! lesson variables `cgroup`, `cgroup_driver` and `cgroup_group`: lesson 12
//! prints the paths and commands of the machine it runs on, not of the one
//! it was written on.
//!
//! The layout is read from the cgroup mount (a v2 root has
//! `cgroup.controllers`; a hybrid v1 machine mounts v2 at `unified/`); the
//! driver from the engine's `GET /info` (`CgroupDriver`), because it is
//! the daemon's setting (`dockerd --exec-opt native.cgroupdriver=...`), not
//! the machine's. whale always manages its groups itself (cgroupfs).

use crate::engine::{Engine, EngineKind};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Where the host mounts its cgroups.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How the machine's cgroups are mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One tree per controller (`memory/`, `cpu/`, `pids/`), nothing else.
    V1,
    /// v1 controllers plus an empty v2 tree at `unified/` (systemd's
    /// "hybrid"): the limits still live in the v1 trees.
    Hybrid,
    /// One tree; a group's files are `memory.max`, `cpu.max`, `pids.max`.
    V2,
}

impl Layout {
    /// Read the layout under `root` (the host's is [`CGROUP_ROOT`]); a
    /// machine where nothing says v2 is v1.
    pub fn read(root: &Path) -> Layout {
        if root.join("cgroup.controllers").is_file() {
            Layout::V2
        } else if root.join("unified/cgroup.controllers").is_file() {
            Layout::Hybrid
        } else {
            Layout::V1
        }
    }

    /// The template value: `v1`, `hybrid` or `v2`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::V1 => "v1",
            Layout::Hybrid => "hybrid",
            Layout::V2 => "v2",
        }
    }
}

/// The cgroup values a lesson renders with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupVars {
    /// `v1`, `hybrid` or `v2`.
    pub layout: &'static str,
    /// `cgroupfs` or `systemd`.
    pub driver: String,
    /// Where a container's group sits in a cgroup tree, as a student reads
    /// it in `/proc/PID/cgroup`: `/docker/<id>`, `/system.slice/docker-<id>.scope`.
    pub group: String,
}

impl CgroupVars {
    /// What a reader of the book has: today's default (cgroup v2; Docker
    /// with the systemd driver, as it picks on a systemd machine with v2).
    pub fn for_reader(cli: &str) -> CgroupVars {
        let kind = match cli {
            "docker" => EngineKind::Docker,
            _ => EngineKind::Whale,
        };
        let driver = match kind {
            EngineKind::Docker => "systemd",
            EngineKind::Whale => "cgroupfs",
        };
        CgroupVars::new(Layout::V2, kind, driver)
    }

    /// The values for `layout` and an engine of `kind` using `driver`.
    pub fn new(layout: Layout, kind: EngineKind, driver: &str) -> CgroupVars {
        let driver = if driver == "systemd" {
            "systemd"
        } else {
            "cgroupfs"
        };
        let group = match (kind, driver) {
            // Under the daemon's own group (see linux/src/cgroup.rs).
            (EngineKind::Whale, _) => "/…/whale/<id>",
            (EngineKind::Docker, "systemd") => "/system.slice/docker-<id>.scope",
            (EngineKind::Docker, _) => "/docker/<id>",
        };
        CgroupVars {
            layout: layout.name(),
            driver: driver.to_string(),
            group: group.to_string(),
        }
    }

    /// The machine's layout and the driver `engine` reports (asked once per
    /// socket; while the engine cannot be asked, the driver it would pick).
    pub fn for_engine(engine: &Engine) -> CgroupVars {
        let layout = Layout::read(Path::new(CGROUP_ROOT));
        let driver = match engine.kind {
            EngineKind::Whale => "cgroupfs".to_string(),
            EngineKind::Docker => docker_driver(&engine.socket)
                .unwrap_or_else(|| default_docker_driver(layout).into()),
        };
        CgroupVars::new(layout, engine.kind, &driver)
    }
}

/// dockerd's own choice when nothing is configured: systemd on a v2
/// machine booted with systemd, cgroupfs otherwise.
fn default_docker_driver(layout: Layout) -> &'static str {
    if layout == Layout::V2 && Path::new("/run/systemd/system").is_dir() {
        "systemd"
    } else {
        "cgroupfs"
    }
}

/// `CgroupDriver` from the daemon's `/info`, cached by socket once known.
fn docker_driver(socket: &Path) -> Option<String> {
    static KNOWN: OnceLock<Mutex<HashMap<std::path::PathBuf, String>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(d) = known.lock().ok()?.get(socket) {
        return Some(d.clone());
    }
    let driver = ask_info(socket)?;
    known
        .lock()
        .ok()?
        .insert(socket.to_path_buf(), driver.clone());
    Some(driver)
}

/// One blocking `GET /info` over the Unix socket (HTTP/1.0: the daemon
/// closes the connection after the answer). Rendering is synchronous and
/// runs before and inside async code, so it cannot borrow bollard's client.
fn ask_info(socket: &Path) -> Option<String> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /info HTTP/1.0\r\nHost: engine\r\n\r\n")
        .ok()?;
    let mut answer = Vec::new();
    s.take(4 << 20).read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8_lossy(&answer);
    let (_, body) = answer.split_once("\r\n\r\n")?;
    let info: serde_json::Value = serde_json::from_str(body).ok()?;
    info.get("CgroupDriver")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_read_from_the_tree() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(Layout::read(d.path()), Layout::V1);
        std::fs::create_dir(d.path().join("unified")).unwrap();
        std::fs::write(d.path().join("unified/cgroup.controllers"), "").unwrap();
        assert_eq!(Layout::read(d.path()), Layout::Hybrid);
        std::fs::write(d.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        assert_eq!(Layout::read(d.path()), Layout::V2);
    }

    #[test]
    fn groups_follow_engine_and_driver() {
        let g = |k, d| CgroupVars::new(Layout::V2, k, d).group;
        assert_eq!(
            g(EngineKind::Docker, "systemd"),
            "/system.slice/docker-<id>.scope"
        );
        assert_eq!(g(EngineKind::Docker, "cgroupfs"), "/docker/<id>");
        assert_eq!(g(EngineKind::Whale, "systemd"), "/…/whale/<id>");
        assert_eq!(
            CgroupVars::new(Layout::V1, EngineKind::Docker, "x").driver,
            "cgroupfs"
        );
    }

    #[test]
    fn an_engine_that_cannot_be_asked_gets_its_default() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(docker_driver(&d.path().join("no.sock")), None);
    }
}
