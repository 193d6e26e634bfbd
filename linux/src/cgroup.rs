//! Cgroups v1 (one hierarchy per controller, this machine's hybrid layout)
//! and v2 (one unified hierarchy), detected at run time.
//!
//! Every function below the two daemon entry points takes the mount root
//! (normally `/sys/fs/cgroup`) and the text of `/proc/self/cgroup` as
//! parameters, so both versions are unit-tested against fake trees.
//!
//! A container's cgroup is `<own cgroup of the caller>/<spec.cgroup_path>`,
//! per controller on v1. The shim is spawned by the daemon and inherits its
//! cgroups, so the daemon and the shim resolve the same directories.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub mod cpuset;
pub mod delegation;
mod freezer;
mod stats;
pub use freezer::{container_frozen, freeze_container};
pub use stats::{container_stats, parse_kv, Stats};

/// Where the kernel's cgroup filesystems are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// v1 controllers a container joins. A new `cpuset` cgroup starts with
/// empty cpus/mems: `create` seeds it from its parents (`cpuset::seed_v1`).
pub const V1_CONTROLLERS: &[&str] = &[
    "memory", "cpu", "cpuacct", "pids", "freezer", "devices", "cpuset",
];

/// Docker's default device rules (v1 devices cgroup): any node may be
/// created, only these may be opened. Without them CAP_MKNOD would let the
/// container read the host's disks.
pub const DEVICE_RULES: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

/// cgroup2's statfs magic (linux/magic.h).
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// CFS period Docker uses for `--cpus`.
const CPU_PERIOD_US: i64 = 100_000;

/// Cgroup limits, in Docker's units (HostConfig).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resources {
    /// Bytes; `--memory`.
    pub memory: Option<i64>,
    /// Bytes of memory+swap; -1 unlimited; `None` = Docker's default (2x memory).
    pub memory_swap: Option<i64>,
    /// CPUs x 1e9; `--cpus`.
    pub nano_cpus: Option<i64>,
    /// Relative weight; `--cpu-shares`.
    pub cpu_shares: Option<i64>,
    /// `--pids-limit`; <= 0 means unlimited.
    pub pids_limit: Option<i64>,
    /// `--privileged`: every device may be opened (Docker's `a *:* rwm`).
    #[serde(default)]
    pub all_devices: bool,
    /// `--device` and `--device-cgroup-rule` rules ("c 10:229 rwm") beside
    /// Docker's defaults.
    #[serde(default)]
    pub device_rules: Vec<String>,
    /// `--memory-swappiness` 0..=100 (v1 only: v2 has no such knob).
    #[serde(default)]
    pub memory_swappiness: Option<i64>,
    /// `--cpuset-cpus`, as Docker writes it ("0-2,4").
    #[serde(default)]
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`.
    #[serde(default)]
    pub cpuset_mems: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },
    #[error("cannot create cgroup {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("cgroup path {0:?} is invalid: it must be relative and must not contain `..`")]
    BadPath(String),
    #[error(
        "no {controller:?} entry in /proc/self/cgroup; is the {controller} controller mounted \
         under {root}?"
    )]
    NoController { controller: String, root: PathBuf },
    #[error("{what} the cgroup did not finish within {secs}s (a process stuck in the kernel?)")]
    Timeout { what: &'static str, secs: u64 },
    #[error(
        "the {controller} controller is not available in {path} (file {file} missing); \
         enable it in the parent's cgroup.subtree_control"
    )]
    MissingFile {
        controller: &'static str,
        path: PathBuf,
        file: &'static str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// v2 when the root is a cgroup2 mount, else v1 (legacy or hybrid).
pub fn detect_version(root: &Path) -> io::Result<Version> {
    Ok(if super::statfs_type(root)? == CGROUP2_SUPER_MAGIC {
        Version::V2
    } else {
        Version::V1
    })
}

/// The host's cgroup version, as the engine uses it (v1 when the root
/// cannot even be inspected: there are no cgroups to speak of then).
pub fn host_version() -> Version {
    detect_version(Path::new(CGROUP_ROOT)).unwrap_or(Version::V1)
}

/// One container's cgroup: a directory per v1 controller, or one on v2.
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub version: Version,
    /// The mount root the dirs were resolved under.
    pub root: PathBuf,
    /// (controller, directory); on v2 a single entry with controller "".
    pub dirs: Vec<(String, PathBuf)>,
}

fn check_relative(rel: &str) -> Result<&str, CgroupError> {
    let trimmed = rel.trim_matches('/');
    if trimmed.is_empty() || trimmed.split('/').any(|c| c == ".." || c == ".") {
        return Err(CgroupError::BadPath(rel.to_string()));
    }
    Ok(trimmed)
}

/// The caller's own path in `controller`'s hierarchy ("" = the v2 line).
fn own_path<'a>(proc_self_cgroup: &'a str, controller: &str) -> Option<&'a str> {
    proc_self_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let id = parts.next()?;
        let ctrls = parts.next()?;
        let path = parts.next()?;
        if controller.is_empty() {
            (id == "0" && ctrls.is_empty()).then_some(path)
        } else {
            ctrls.split(',').any(|c| c == controller).then_some(path)
        }
    })
}

impl Cgroup {
    /// Resolve `rel` under the caller's own cgroup(s).
    pub fn resolve(
        version: Version,
        root: &Path,
        proc_self_cgroup: &str,
        rel: &str,
    ) -> Result<Cgroup, CgroupError> {
        let rel = check_relative(rel)?;
        let controllers: &[&str] = match version {
            Version::V1 => V1_CONTROLLERS,
            Version::V2 => &[""],
        };
        let mut dirs: Vec<(String, PathBuf)> = Vec::new();
        let mut mounts_seen: Vec<String> = Vec::new();
        for &c in controllers {
            // Only memory is required on v1 (limits, OOM); a machine without
            // e.g. freezer mounted still runs containers.
            let Some(own) = own_path(proc_self_cgroup, c) else {
                if c.is_empty() || c == "memory" {
                    return Err(CgroupError::NoController {
                        controller: if c.is_empty() { "unified" } else { c }.to_string(),
                        root: root.to_path_buf(),
                    });
                }
                continue;
            };
            let mount = if c.is_empty() {
                root.to_path_buf()
            } else {
                root.join(c)
            };
            // Co-mounted controllers (`cpu -> cpu,cpuacct`) share one directory.
            let canon = hierarchy_name(root, c);
            if mounts_seen.contains(&canon) {
                continue;
            }
            mounts_seen.push(canon);
            dirs.push((
                c.to_string(),
                mount.join(own.trim_start_matches('/')).join(rel),
            ));
        }
        Ok(Cgroup {
            version,
            root: root.to_path_buf(),
            dirs,
        })
    }

    /// Resolve against the real kernel: detect the version, read our own cgroups.
    /// A rootless engine without a delegated subtree gets a cgroup with no
    /// dirs ([`Cgroup::is_none`]): nothing is created, joined or written
    /// (limits were refused at create, see [`delegation`]).
    pub fn for_container(rel: &str) -> Result<Cgroup, CgroupError> {
        let root = Path::new(CGROUP_ROOT);
        let version = detect_version(root).map_err(|source| CgroupError::Read {
            path: root.to_path_buf(),
            source,
        })?;
        if delegation::cgroups_unavailable().is_some() {
            check_relative(rel)?;
            return Ok(Cgroup {
                version,
                root: root.to_path_buf(),
                dirs: Vec::new(),
            });
        }
        // Rootless and delegated: under the delegated dir, not under the
        // leaf the daemon and its shims sit in.
        if let Some(base) = delegation::rootless_base() {
            if let Ok(rel_base) = base.strip_prefix(root) {
                let own = format!("0::/{}\n", rel_base.display());
                return Cgroup::resolve(version, root, &own, rel);
            }
        }
        let own = read("/proc/self/cgroup".as_ref())?;
        Cgroup::resolve(version, root, &own, rel)
    }

    /// No cgroup at all (rootless without delegation).
    pub fn is_none(&self) -> bool {
        self.dirs.is_empty()
    }

    /// The v1 hierarchies joined, by the name of their mount dir, which is
    /// also their mount option (`memory`, or `cpu,cpuacct` when co-mounted).
    pub fn v1_hierarchies(&self) -> Vec<String> {
        if self.version != Version::V1 {
            return Vec::new();
        }
        self.dirs
            .iter()
            .map(|(c, _)| hierarchy_name(&self.root, c))
            .collect()
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(c, _)| c == controller || self.version == Version::V2)
            .map(|(_, d)| d.as_path())
    }

    /// Create the directories (and, on v2, enable the controllers on the way
    /// down, best effort: the daemon's own cgroup may hold processes).
    pub fn create(&self) -> Result<(), CgroupError> {
        for (controller, dir) in &self.dirs {
            if self.version == Version::V2 {
                enable_v2_controllers(dir);
            }
            fs::create_dir_all(dir).map_err(|source| CgroupError::Create {
                path: dir.clone(),
                source,
            })?;
            if controller == "cpuset" {
                cpuset::seed_v1(&self.root.join(controller), dir)?;
            }
        }
        Ok(())
    }

    /// Write the limits of `res`. Only files for limits that are set are touched.
    pub fn apply(&self, res: &Resources) -> Result<(), CgroupError> {
        match self.version {
            Version::V1 => self.apply_v1(res),
            Version::V2 => self.apply_v2(res),
        }
    }

    /// Change the limits of a live cgroup (`docker update`): the limits of
    /// `res` that are set, never the device rules.
    pub fn update_limits(&self, res: &Resources) -> Result<(), CgroupError> {
        match self.version {
            Version::V1 => self.apply_v1_limits(res),
            Version::V2 => self.apply_v2(res),
        }
    }

    fn apply_v1_limits(&self, res: &Resources) -> Result<(), CgroupError> {
        if let (Some(mem), Some(dir)) = (res.memory.filter(|m| *m > 0), self.dir("memory")) {
            let memsw = dir.join("memory.memsw.limit_in_bytes");
            if memsw.exists() {
                let value = match res.memory_swap {
                    None | Some(0) => mem.saturating_mul(2),
                    Some(v) if v < 0 => -1,
                    Some(v) => v,
                };
                // memory <= memory+swap at every step: which file goes
                // first depends on whether the limits grow or shrink.
                if write_file(dir, "memory.limit_in_bytes", &mem.to_string()).is_err() {
                    write_file(dir, "memory.memsw.limit_in_bytes", &value.to_string())?;
                    write_file(dir, "memory.limit_in_bytes", &mem.to_string())?;
                }
                write_file(dir, "memory.memsw.limit_in_bytes", &value.to_string())?;
            } else {
                write_file(dir, "memory.limit_in_bytes", &mem.to_string())?;
            }
        }
        if let Some(dir) = self.dir("cpu") {
            if let Some(nano) = res.nano_cpus.filter(|n| *n > 0) {
                write_file(dir, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                write_file(dir, "cpu.cfs_quota_us", &cfs_quota(nano).to_string())?;
            }
            if let Some(shares) = res.cpu_shares.filter(|s| *s > 0) {
                write_file(dir, "cpu.shares", &shares.to_string())?;
            }
        }
        if let (Some(limit), Some(dir)) = (res.pids_limit, self.dir("pids")) {
            write_file(dir, "pids.max", &pids_value(limit))?;
        }
        if let (Some(v), Some(dir)) = (res.memory_swappiness, self.dir("memory")) {
            write_file(dir, "memory.swappiness", &v.to_string())?;
        }
        for (kind, value) in [
            (cpuset::Kind::Cpus, &res.cpuset_cpus),
            (cpuset::Kind::Mems, &res.cpuset_mems),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                let dir = self
                    .dir("cpuset")
                    .ok_or_else(|| CgroupError::NoController {
                        controller: "cpuset".into(),
                        root: self.root.clone(),
                    })?;
                write_file(dir, kind.file(), v)?;
            }
        }
        Ok(())
    }

    fn apply_v1(&self, res: &Resources) -> Result<(), CgroupError> {
        self.apply_v1_limits(res)?;
        if let (true, Some(dir)) = (res.all_devices, self.dir("devices")) {
            write_file(dir, "devices.allow", "a")?;
        } else if let Some(dir) = self.dir("devices") {
            write_file(dir, "devices.deny", "a")?;
            // One rule per write(2), on one open file.
            let path = dir.join("devices.allow");
            let mut f = fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|source| CgroupError::Write {
                    path: path.clone(),
                    value: DEVICE_RULES[0].to_string(),
                    source,
                })?;
            let extra = res.device_rules.iter().map(String::as_str);
            for rule in DEVICE_RULES.iter().copied().chain(extra) {
                std::io::Write::write_all(&mut f, rule.as_bytes()).map_err(|source| {
                    CgroupError::Write {
                        path: path.clone(),
                        value: rule.to_string(),
                        source,
                    }
                })?;
            }
        }
        Ok(())
    }

    fn apply_v2(&self, res: &Resources) -> Result<(), CgroupError> {
        let Some((_, dir)) = self.dirs.first() else {
            return Ok(());
        };
        let need = |file: &'static str, controller: &'static str| {
            if dir.join(file).exists() {
                Ok(())
            } else {
                Err(CgroupError::MissingFile {
                    controller,
                    path: dir.clone(),
                    file,
                })
            }
        };
        if let Some(mem) = res.memory.filter(|m| *m > 0) {
            need("memory.max", "memory")?;
            write_file(dir, "memory.max", &mem.to_string())?;
            if dir.join("memory.swap.max").exists() {
                // v2 limits swap alone; Docker's MemorySwap is memory+swap.
                let swap = match res.memory_swap {
                    None | Some(0) => mem.to_string(),
                    Some(v) if v < 0 => "max".to_string(),
                    Some(v) => (v - mem).max(0).to_string(),
                };
                write_file(dir, "memory.swap.max", &swap)?;
            }
        }
        if let Some(nano) = res.nano_cpus.filter(|n| *n > 0) {
            need("cpu.max", "cpu")?;
            write_file(
                dir,
                "cpu.max",
                &format!("{} {}", cfs_quota(nano), CPU_PERIOD_US),
            )?;
        }
        if let Some(shares) = res.cpu_shares.filter(|s| *s > 0) {
            need("cpu.weight", "cpu")?;
            write_file(dir, "cpu.weight", &shares_to_weight(shares).to_string())?;
        }
        if let Some(limit) = res.pids_limit {
            need("pids.max", "pids")?;
            write_file(dir, "pids.max", &pids_value(limit))?;
        }
        for (kind, value) in [
            (cpuset::Kind::Cpus, &res.cpuset_cpus),
            (cpuset::Kind::Mems, &res.cpuset_mems),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                need(kind.file(), "cpuset")?;
                write_file(dir, kind.file(), v)?;
            }
        }
        if res.memory_swappiness.is_some() {
            // Refused at create (container/create.rs); a record from
            // elsewhere must not start with its setting dropped.
            return Err(CgroupError::MissingFile {
                controller: "memory",
                path: dir.clone(),
                file: "memory.swappiness",
            });
        }
        Ok(())
    }

    /// Files the container's init writes "0" to, to move itself in.
    ///
    /// On v1 this is `tasks`, not `cgroup.procs`: moving the single thread
    /// `current` skips the global threadgroup rwsem, whose write side waits
    /// for an RCU grace period (~5 ms per container on this machine). The
    /// init is single-threaded, so the whole process moves. On v2 threads
    /// may not leave their domain, so `cgroup.procs` it is.
    pub fn join_files(&self) -> Vec<PathBuf> {
        let file = match self.version {
            Version::V1 => "tasks",
            Version::V2 => "cgroup.procs",
        };
        self.dirs.iter().map(|(_, d)| d.join(file)).collect()
    }

    /// Whether the kernel's OOM killer killed something in this cgroup.
    pub fn oom_killed(&self) -> bool {
        let (dir, file) = match self.version {
            Version::V1 => match self.dir("memory") {
                Some(d) => (d, "memory.oom_control"),
                None => return false,
            },
            Version::V2 => match self.dirs.first() {
                Some((_, d)) => (d.as_path(), "memory.events"),
                None => return false,
            },
        };
        fs::read_to_string(dir.join(file))
            .map(|text| parse_oom_kill(&text) > 0)
            .unwrap_or(false)
    }

    /// Host PIDs of every process in the cgroup, sorted.
    pub fn pids(&self) -> io::Result<Vec<i32>> {
        let dir = match self.version {
            Version::V1 => self.dir("pids").or_else(|| self.dir("memory")),
            Version::V2 => self.dirs.first().map(|(_, d)| d.as_path()),
        };
        let Some(dir) = dir else {
            return Ok(Vec::new());
        };
        let text = fs::read_to_string(dir.join("cgroup.procs"))?;
        let mut pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// Remove the directories. Processes still inside (a shim that died, the
    /// last children of an init being torn down) are killed first; rmdir is
    /// retried briefly while the kernel finishes them. Missing dirs are fine.
    pub fn remove(&self) -> io::Result<()> {
        let mut first_err = None;
        for (_, dir) in &self.dirs {
            if let Err(e) = remove_dir_killing(dir) {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn remove_dir_killing(dir: &Path) -> io::Result<()> {
    let mut delay_us = 200;
    for attempt in 0..40 {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 39 => {
                if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
                    for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                        let _ = super::process::kill(pid, libc::SIGKILL);
                    }
                }
                std::thread::sleep(std::time::Duration::from_micros(delay_us));
                delay_us = (delay_us * 2).min(50_000);
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::EBUSY))
}

/// Enable, in every ancestor between the unified root and `dir`, the
/// controllers that ancestor offers. Errors are ignored: a cgroup holding
/// processes cannot delegate (the "no internal processes" rule), and then
/// `apply` reports the missing files clearly.
fn enable_v2_controllers(dir: &Path) {
    let ancestors: Vec<&Path> = dir.ancestors().skip(1).collect();
    for parent in ancestors.into_iter().rev() {
        let Ok(offered) = fs::read_to_string(parent.join("cgroup.controllers")) else {
            continue;
        };
        let wanted: Vec<String> = offered
            .split_whitespace()
            .filter(|c| matches!(*c, "cpu" | "cpuset" | "memory" | "pids"))
            .map(|c| format!("+{c}"))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let ctl = parent.join("cgroup.subtree_control");
        let current = fs::read_to_string(&ctl).unwrap_or_default();
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|w| !current.split_whitespace().any(|c| c == &w[1..]))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let line = missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let _ = fs::write(&ctl, line);
        if !dir.starts_with(parent) || parent == dir {
            break;
        }
    }
}

/// The name of the hierarchy mounted for `controller` under `root`: the
/// controller itself, or the target of its alias link (`cpu -> cpu,cpuacct`).
/// One readlink, not a full canonicalize: this is on every container start.
fn hierarchy_name(root: &Path, controller: &str) -> String {
    match fs::read_link(root.join(controller)) {
        Ok(target) => target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| controller.to_string()),
        Err(_) => controller.to_string(),
    }
}

fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn write_file(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    fs::write(&path, value).map_err(|source| CgroupError::Write {
        path,
        value: value.to_string(),
        source,
    })
}

/// CFS quota in µs for `nano_cpus` over Docker's 100 ms period.
pub fn cfs_quota(nano_cpus: i64) -> i64 {
    (nano_cpus.saturating_mul(CPU_PERIOD_US) / 1_000_000_000).max(1000)
}

/// runc's conversion of v1 cpu.shares [2, 262144] to v2 cpu.weight [1, 10000].
pub fn shares_to_weight(shares: i64) -> u64 {
    let shares = shares.clamp(2, 262_144) as u64;
    1 + ((shares - 2) * 9999) / 262_142
}

fn pids_value(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_string()
    }
}

/// The `oom_kill N` counter of memory.oom_control (v1) or memory.events (v2).
pub fn parse_oom_kill(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// `docker update` of a running container's limits.
pub fn update_container_limits(cgroup_path: &str, res: &Resources) -> Result<(), CgroupError> {
    Cgroup::for_container(cgroup_path)?.update_limits(res)
}

/// Host PIDs of the processes in a container's cgroup (for `top`).
/// `cgroup_path` is the spec's `cgroup_path`, relative to the caller's own
/// cgroup (the daemon and its shims share it).
pub fn container_pids(cgroup_path: &str) -> io::Result<Vec<i32>> {
    let cg = Cgroup::for_container(cgroup_path).map_err(io::Error::other)?;
    cg.pids()
}

/// Kill what is left in a container's cgroup and remove it. For the daemon,
/// when a shim died without cleaning up. Succeeds when nothing is there.
pub fn remove_container_cgroup(cgroup_path: &str) -> io::Result<()> {
    let cg = Cgroup::for_container(cgroup_path).map_err(io::Error::other)?;
    cg.remove()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const V1_SELF: &str = "9:name=systemd:/\n8:pids:/user.slice\n6:freezer:/\n\
        5:devices:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n";

    pub(super) fn fake_v1() -> (tempfile::TempDir, Cgroup) {
        let t = tempfile::tempdir().unwrap();
        for c in V1_CONTROLLERS {
            fs::create_dir_all(t.path().join(c)).unwrap();
        }
        let cg = Cgroup::resolve(Version::V1, t.path(), V1_SELF, "whale/abc123").unwrap();
        cg.create().unwrap();
        // The kernel creates these in every new v1 cgroup.
        let mem = t.path().join("memory/process_api/abc/whale/abc123");
        let dev = t.path().join("devices/whale/abc123");
        fs::write(dev.join("devices.allow"), "").unwrap();
        for f in [
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.oom_control",
            "cgroup.procs",
        ] {
            fs::write(mem.join(f), "").unwrap();
        }
        (t, cg)
    }

    #[test]
    fn v1_paths_follow_each_controllers_own_cgroup() {
        let (t, cg) = fake_v1();
        let dir = |c: &str| cg.dir(c).unwrap().to_path_buf();
        assert_eq!(
            dir("memory"),
            t.path().join("memory/process_api/abc/whale/abc123")
        );
        assert_eq!(dir("pids"), t.path().join("pids/user.slice/whale/abc123"));
        assert_eq!(dir("cpu"), t.path().join("cpu/whale/abc123"));
        assert!(dir("freezer").is_dir());
        assert_eq!(cg.join_files()[0].file_name().unwrap(), "tasks");
    }

    #[test]
    fn v1_co_mounted_controllers_share_a_dir() {
        let t = tempfile::tempdir().unwrap();
        for c in ["memory", "cpu,cpuacct", "pids"] {
            fs::create_dir_all(t.path().join(c)).unwrap();
        }
        std::os::unix::fs::symlink("cpu,cpuacct", t.path().join("cpu")).unwrap();
        std::os::unix::fs::symlink("cpu,cpuacct", t.path().join("cpuacct")).unwrap();
        let own = "4:memory:/\n3:cpu,cpuacct:/\n2:pids:/\n";
        let cg = Cgroup::resolve(Version::V1, t.path(), own, "whale/x").unwrap();
        let names: Vec<&str> = cg.dirs.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, vec!["memory", "cpu", "pids"]);
        assert_eq!(cg.v1_hierarchies(), vec!["memory", "cpu,cpuacct", "pids"]);
    }

    #[test]
    fn v1_limits_written_in_docker_units() {
        let (t, cg) = fake_v1();
        cg.apply(&Resources {
            memory: Some(32 << 20),
            memory_swap: None,
            nano_cpus: Some(1_500_000_000),
            cpu_shares: Some(512),
            pids_limit: Some(20),
            all_devices: false,
            ..Default::default()
        })
        .unwrap();
        let r = |p: &str| fs::read_to_string(t.path().join(p)).unwrap();
        let mem = "memory/process_api/abc/whale/abc123";
        assert_eq!(r(&format!("{mem}/memory.limit_in_bytes")), "33554432");
        assert_eq!(r(&format!("{mem}/memory.memsw.limit_in_bytes")), "67108864");
        assert_eq!(r("cpu/whale/abc123/cpu.cfs_quota_us"), "150000");
        assert_eq!(r("cpu/whale/abc123/cpu.cfs_period_us"), "100000");
        assert_eq!(r("cpu/whale/abc123/cpu.shares"), "512");
        assert_eq!(r("pids/user.slice/whale/abc123/pids.max"), "20");
        assert_eq!(r("devices/whale/abc123/devices.deny"), "a");
        let allow = r("devices/whale/abc123/devices.allow");
        assert!(allow.starts_with("c *:* mb *:* mc 1:3 rwm"), "{allow}");
        assert!(allow.ends_with("c 10:200 rwm"), "{allow}");
    }

    #[test]
    fn v1_privileged_allows_every_device() {
        let (t, cg) = fake_v1();
        cg.apply(&Resources {
            all_devices: true,
            ..Default::default()
        })
        .unwrap();
        let dir = t.path().join("devices/whale/abc123");
        assert_eq!(fs::read_to_string(dir.join("devices.allow")).unwrap(), "a");
        assert!(!dir.join("devices.deny").exists());
    }

    #[test]
    fn v1_swap_unlimited_and_no_memsw_file() {
        let (t, cg) = fake_v1();
        let mem = t.path().join("memory/process_api/abc/whale/abc123");
        cg.apply(&Resources {
            memory: Some(1000),
            memory_swap: Some(-1),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            fs::read_to_string(mem.join("memory.memsw.limit_in_bytes")).unwrap(),
            "-1"
        );
        // Without swap accounting the kernel has no memsw file: do not create one.
        fs::remove_file(mem.join("memory.memsw.limit_in_bytes")).unwrap();
        cg.apply(&Resources {
            memory: Some(1000),
            ..Default::default()
        })
        .unwrap();
        assert!(!mem.join("memory.memsw.limit_in_bytes").exists());
        // Unset limits touch nothing.
        assert!(!t
            .path()
            .join("pids/user.slice/whale/abc123/pids.max")
            .exists());
    }

    #[test]
    fn v1_oom_and_pids() {
        let (t, cg) = fake_v1();
        let mem = t.path().join("memory/process_api/abc/whale/abc123");
        fs::write(
            mem.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        )
        .unwrap();
        assert!(!cg.oom_killed());
        fs::write(
            mem.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        assert!(cg.oom_killed());
        fs::write(
            t.path().join("pids/user.slice/whale/abc123/cgroup.procs"),
            "42\n7\n",
        )
        .unwrap();
        assert_eq!(cg.pids().unwrap(), vec![7, 42]);
    }

    #[test]
    fn remove_deletes_every_controller_dir() {
        let (t, cg) = fake_v1();
        // A real cgroupfs lets rmdir succeed with its files present; a fake
        // tree cannot, so empty it the way the kernel would look.
        for (_, d) in &cg.dirs {
            for e in fs::read_dir(d).unwrap() {
                fs::remove_file(e.unwrap().path()).unwrap();
            }
        }
        cg.remove().unwrap();
        for (_, d) in &cg.dirs {
            assert!(!d.exists(), "{} left", d.display());
        }
        assert!(t.path().join("pids/user.slice/whale").is_dir());
        cg.remove().unwrap(); // idempotent
    }

    pub(super) fn fake_v2() -> (tempfile::TempDir, Cgroup) {
        let t = tempfile::tempdir().unwrap();
        fs::write(
            t.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        fs::write(t.path().join("cgroup.subtree_control"), "").unwrap();
        let own = t.path().join("system.slice/whaled.service");
        fs::create_dir_all(&own).unwrap();
        fs::write(own.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        fs::write(own.join("cgroup.subtree_control"), "").unwrap();
        let cg = Cgroup::resolve(
            Version::V2,
            t.path(),
            "0::/system.slice/whaled.service\n",
            "whale/c1",
        )
        .unwrap();
        cg.create().unwrap();
        let dir = own.join("whale/c1");
        for f in [
            "memory.max",
            "memory.swap.max",
            "cpu.max",
            "cpu.weight",
            "pids.max",
        ] {
            fs::write(dir.join(f), "").unwrap();
        }
        (t, cg)
    }

    #[test]
    fn v2_single_dir_limits_and_controllers_enabled() {
        let (t, cg) = fake_v2();
        let dir = t.path().join("system.slice/whaled.service/whale/c1");
        assert_eq!(cg.dirs.len(), 1);
        assert_eq!(cg.dirs[0].1, dir);
        assert_eq!(cg.join_files(), vec![dir.join("cgroup.procs")]);
        assert_eq!(
            fs::read_to_string(t.path().join("cgroup.subtree_control")).unwrap(),
            "+cpuset +cpu +memory +pids"
        );
        assert_eq!(
            fs::read_to_string(
                t.path()
                    .join("system.slice/whaled.service/cgroup.subtree_control")
            )
            .unwrap(),
            "+cpu +memory +pids"
        );
        cg.apply(&Resources {
            memory: Some(64 << 20),
            memory_swap: None,
            nano_cpus: Some(500_000_000),
            cpu_shares: Some(1024),
            pids_limit: Some(-1),
            all_devices: false,
            ..Default::default()
        })
        .unwrap();
        let r = |f: &str| fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(r("memory.max"), "67108864");
        assert_eq!(r("memory.swap.max"), "67108864");
        assert_eq!(r("cpu.max"), "50000 100000");
        assert_eq!(r("cpu.weight"), "39");
        assert_eq!(r("pids.max"), "max");
        cg.apply(&Resources {
            memory: Some(100),
            memory_swap: Some(300),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r("memory.swap.max"), "200");
    }

    #[test]
    fn v2_missing_controller_is_a_clear_error() {
        let (t, cg) = fake_v2();
        fs::remove_file(
            t.path()
                .join("system.slice/whaled.service/whale/c1/pids.max"),
        )
        .unwrap();
        let err = cg
            .apply(&Resources {
                pids_limit: Some(5),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.to_string().contains("pids controller"), "{err}");
    }

    #[test]
    fn v2_oom_from_memory_events() {
        let (t, cg) = fake_v2();
        let ev = t
            .path()
            .join("system.slice/whaled.service/whale/c1/memory.events");
        fs::write(&ev, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n").unwrap();
        assert!(!cg.oom_killed());
        fs::write(&ev, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n").unwrap();
        assert!(cg.oom_killed());
    }

    #[test]
    fn bad_paths_and_conversions() {
        assert!(Cgroup::resolve(Version::V2, Path::new("/x"), "0::/\n", "../etc").is_err());
        assert!(Cgroup::resolve(Version::V2, Path::new("/x"), "0::/\n", "").is_err());
        assert!(matches!(
            Cgroup::resolve(Version::V1, Path::new("/x"), "0::/\n", "whale/a"),
            Err(CgroupError::NoController { .. })
        ));
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(cfs_quota(1_000_000_000), 100_000);
        assert_eq!(parse_oom_kill("oom 3\noom_kill 12\n"), 12);
    }
}
