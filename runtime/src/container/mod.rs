//! The container life cycle (daemon side): records, the state machine,
//! names, and create / start / stop / kill / restart / remove, the monitor
//! that follows each run, and re-adoption after a daemon restart.
//!
//! The daemon owns `config.json` (a [`ContainerRecord`], written once at
//! create, atomically); the shim owns `state.json` ([`RuntimeState`], read
//! here through the shim's own type).
//! The [`Store`] keeps every container in memory so requests never scan
//! directories; names are reserved under the index lock so concurrent creates
//! can never hand out the same name twice.
//!
//! What the life cycle needs from the daemon it runs in (the stores, events,
//! waiting attach clients) is the [`Engine`] trait: nothing here knows api/.

pub mod archive;
mod cgroup_options;
pub mod changes;
mod commit;
mod create;
mod engine;
mod error;
pub mod exec;
pub mod fields;
pub mod health;
pub mod host;
pub mod host_defaults;
mod init_layer;
pub mod links;
mod live;
pub mod log_config;
pub mod logs;
mod monitor;
pub mod mounts;
pub mod names;
mod network;
mod pause;
pub mod ports;
mod privileges;
mod remove;
mod restart;
pub use restart::check_restart_policy_name;
mod running;
pub mod security;
mod spec;
mod start;
pub mod stats;
mod status;
mod stop;
pub mod streams;
pub mod top;
mod update;
pub mod volumes;
mod volumes_from;

pub use commit::{commit, CommitOptions};
pub use create::{
    create, create_record, merge_image_config, parse_extra_host, path_and_args,
    validate_host_config, CreateRequest,
};
pub use engine::Engine;
pub use error::ContainerError;
pub use init_layer::strip_mount_stubs;
pub use monitor::readopt_all;
pub use mounts::MountPoint;
pub use pause::{pause, unpause};
pub use remove::{remove, remove_stopped};
pub use running::{parse_ps, processes, ps, resize, running};
pub use spec::{build_spec, cgroup_path, container_env, DEFAULT_PATH};
pub use start::{start, start_attached, AttachedRun};
pub use status::status_string;
pub use stop::{kill, parse_signal, restart, stop, wait, StopOptions, WaitCondition};
pub use update::{rename, update};

use crate::fsutil;
use crate::paths::ContainerPaths;
use crate::shim::state::{RunStatus, RuntimeState};
use bollard::models::{ContainerConfig, HostConfig};
use error::io_err;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// Timing traces on stderr when `WHALE_DAEMON_TRACE` is set (performance
/// work): one timeline for the daemon's requests and the runs they start.
pub fn trace(what: impl FnOnce() -> String) {
    static ON: std::sync::OnceLock<Option<std::time::Instant>> = std::sync::OnceLock::new();
    if let Some(t0) =
        ON.get_or_init(|| std::env::var_os("WHALE_DAEMON_TRACE").map(|_| std::time::Instant::now()))
    {
        eprintln!(
            "[{:>10.3}ms] {}",
            t0.elapsed().as_secs_f64() * 1000.0,
            what()
        );
    }
}

/// Docker's zero time, shown as StartedAt/FinishedAt of a container that never ran.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Why the last `start` failed, kept so `inspect` shows ExitCode/Error as Docker does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartFailure {
    pub exit_code: i32,
    pub error: String,
}

/// `config.json`: everything the daemon decided at create time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// RFC 3339 with nanoseconds, UTC.
    pub created: String,
    /// `sha256:<hex>` of the image config.
    pub image_id: String,
    /// The image reference as the client gave it (`busybox`, `busybox:latest`, an id).
    pub image: String,
    /// argv[0] and the rest, after merging the image's Entrypoint/Cmd.
    pub path: String,
    pub args: Vec<String>,
    /// The merged config (image defaults + request), as `inspect` shows it.
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// The container's binds, volumes and tmpfs mounts, resolved at create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MountPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_failure: Option<StartFailure>,
    /// A RUN container of a build that removes its intermediates: no
    /// client will ever remove it if the daemon dies mid-build, so the
    /// next daemon start reaps it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub build_step: bool,
    /// Restarts by the restart policy since the last start by hand.
    #[serde(default)]
    pub restart_count: u64,
    /// Stopped (or killed) by hand: Docker's HasBeenManuallyStopped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manually_stopped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
        }
    }
}

/// The in-memory state of a container, published through a watch channel so
/// waiters (`/wait`, `stop`, `logs -f`) are woken instead of polling.
#[derive(Debug, Clone, PartialEq)]
pub struct RunState {
    pub status: Status,
    pub pid: i32,
    pub shim_pid: i32,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: i32,
    pub oom_killed: bool,
    pub error: String,
    /// How many runs have ended since the daemon loaded this container.
    pub exits: u64,
    /// Set once the container is gone (`/wait?condition=removed`).
    pub removed: bool,
    /// Set while a removal is in progress so nobody starts it meanwhile.
    pub removing: bool,
    /// Exited, and the restart policy will start it again after a delay
    /// (Docker shows it as running and restarting meanwhile).
    pub restarting: bool,
    /// Running, with its cgroup frozen.
    pub paused: bool,
    /// The published ports of the current run, as bound.
    pub ports: Vec<crate::shim::spec::PortBinding>,
}

impl RunState {
    fn created() -> Self {
        RunState {
            status: Status::Created,
            pid: 0,
            shim_pid: 0,
            started_at: None,
            finished_at: None,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            exits: 0,
            removed: false,
            removing: false,
            restarting: false,
            paused: false,
            ports: Vec::new(),
        }
    }

    fn from_disk(state: Option<RuntimeState>, failure: Option<&StartFailure>) -> Self {
        let mut rs = RunState::created();
        match state {
            Some(s) => {
                rs.status = match s.status {
                    RunStatus::Running => Status::Running,
                    RunStatus::Exited => Status::Exited,
                };
                rs.pid = if rs.status == Status::Running {
                    s.pid
                } else {
                    0
                };
                rs.shim_pid = s.shim_pid;
                rs.started_at = Some(s.started_at);
                rs.finished_at = s.finished_at;
                rs.exit_code = s.exit_code.unwrap_or(0);
                rs.oom_killed = s.oom_killed;
                rs.error = s.error;
                if rs.status == Status::Running {
                    rs.ports = s.ports;
                }
            }
            None => {
                if let Some(f) = failure {
                    rs.exit_code = f.exit_code;
                    rs.error = f.error.clone();
                }
            }
        }
        rs
    }

    pub fn running(&self) -> bool {
        self.status == Status::Running
    }
}

pub struct Container {
    /// As created (or loaded); the parts that change later (name, host
    /// config, restart count) are read through [`live`].
    pub record: ContainerRecord,
    pub paths: ContainerPaths,
    state: watch::Sender<RunState>,
    /// Serialises start/stop/kill/remove of one container.
    pub op_lock: tokio::sync::Mutex<()>,
    live: Mutex<live::Live>,
    /// The restart policy's back-off (Docker's restart manager).
    restart_delay: Mutex<std::time::Duration>,
    /// `State.Health` while a health check is configured.
    health: Mutex<Option<bollard::models::Health>>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container")
            .field("id", &self.record.id)
            .field("name", &self.name())
            .finish()
    }
}

impl Container {
    fn new(record: ContainerRecord, paths: ContainerPaths, state: RunState) -> Self {
        Container {
            live: Mutex::new(live::Live::of(&record)),
            record,
            paths,
            state: watch::Sender::new(state),
            op_lock: tokio::sync::Mutex::new(()),
            restart_delay: Mutex::new(std::time::Duration::ZERO),
            health: Mutex::new(None),
        }
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    pub fn short_id(&self) -> &str {
        &self.record.id[..12.min(self.record.id.len())]
    }

    pub fn state(&self) -> RunState {
        self.state.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<RunState> {
        self.state.subscribe()
    }

    pub fn set_running(
        &self,
        pid: i32,
        shim_pid: i32,
        started_at: String,
        ports: Vec<crate::shim::spec::PortBinding>,
    ) {
        self.state.send_modify(|s| {
            s.ports = ports;
            s.status = Status::Running;
            s.pid = pid;
            s.shim_pid = shim_pid;
            s.started_at = Some(started_at);
            s.finished_at = None;
            s.exit_code = 0;
            s.oom_killed = false;
            s.error.clear();
            s.restarting = false;
            s.paused = false;
        });
    }

    pub fn set_exited(
        &self,
        exit_code: i32,
        oom_killed: bool,
        finished_at: String,
        error: String,
        restarting: bool,
    ) {
        self.state.send_modify(|s| {
            s.status = Status::Exited;
            s.restarting = restarting;
            s.paused = false;
            s.pid = 0;
            s.ports.clear();
            s.exit_code = exit_code;
            s.oom_killed = oom_killed;
            s.finished_at = Some(finished_at);
            s.error = error;
            s.exits += 1;
        });
    }

    /// A failed start leaves the status as it was (Docker keeps `created`)
    /// but records the exit code the CLI will report.
    pub fn set_start_failed(&self, failure: &StartFailure) {
        self.state.send_modify(|s| {
            s.exit_code = failure.exit_code;
            s.error = failure.error.clone();
        });
    }

    /// Claim the container for removal; false if someone else already did.
    pub fn begin_removal(&self) -> bool {
        let mut claimed = false;
        self.state.send_if_modified(|s| {
            if s.removing || s.removed {
                return false;
            }
            s.removing = true;
            claimed = true;
            true
        });
        claimed
    }

    /// The restart policy gave up (a start failed) or was cancelled by hand.
    pub(crate) fn end_restarting(&self) -> bool {
        self.state
            .send_if_modified(|s| std::mem::take(&mut s.restarting))
    }

    pub(crate) fn set_paused(&self, paused: bool) {
        self.state.send_modify(|s| s.paused = paused);
    }

    pub fn abort_removal(&self) {
        self.state.send_modify(|s| s.removing = false);
    }

    fn set_removed(&self) {
        self.state.send_modify(|s| {
            s.removed = true;
            s.removing = false;
        });
    }
}

/// Removed containers' dirs are renamed to `.removing-<id>` before deletion.
const TRASH_PREFIX: &str = ".removing-";

/// Delete a directory left by [`Store::remove`].
pub fn purge(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != io::ErrorKind::NotFound {
            eprintln!("whale daemon: deleting {}: {e}", dir.display());
        }
    }
}

/// A fresh 64-hex id whose 12-char short form is not all digits (Docker
/// regenerates those so a short id can never be mistaken for a number).
pub fn new_id() -> String {
    let mut rng = rand::thread_rng();
    loop {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let id = hex::encode(bytes);
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[derive(Default)]
struct Index {
    by_id: HashMap<String, Arc<Container>>,
    /// name -> id; holds reservations too (id not yet in `by_id`).
    names: HashMap<String, String>,
}

/// What a caller gives to create a container; the store adds id, name, created.
pub struct NewContainer {
    /// See `ContainerRecord::build_step`.
    pub build_step: bool,
    pub name: Option<String>,
    pub image_id: String,
    pub image: String,
    pub path: String,
    pub args: Vec<String>,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// Resolved from Binds, Mounts, Tmpfs and Volumes by create.
    pub mounts: Vec<MountPoint>,
}

pub struct Store {
    root: PathBuf,
    index: Mutex<Index>,
    volumes: volumes::Volumes,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

impl Store {
    /// Load every container record under `<root>/containers`. Records that
    /// cannot be read are skipped with a warning on stderr, never fatal: one
    /// bad directory must not keep the daemon from serving the others.
    pub fn open(root: &Path) -> Result<Store, ContainerError> {
        let dir = root.join("containers");
        std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let mut index = Index::default();
        let entries =
            std::fs::read_dir(&dir).map_err(io_err(format!("reading {}", dir.display())))?;
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if id.starts_with(TRASH_PREFIX) {
                // A removal whose deletion was cut short by a crash.
                purge(&entry.path());
                continue;
            }
            let paths = ContainerPaths::new(root, &id);
            match load_one(&paths) {
                Ok(Some(c)) => {
                    index.names.insert(c.record.name.clone(), id.clone());
                    index.by_id.insert(id, Arc::new(c));
                }
                Ok(None) => {}
                Err(e) => eprintln!("whale daemon: skipping container {id}: {e}"),
            }
        }
        let volumes =
            volumes::Volumes::open(root).map_err(|e| ContainerError::Internal(e.to_string()))?;
        Ok(Store {
            root: root.to_path_buf(),
            index: Mutex::new(index),
            volumes,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // A poisoned index only means another request panicked mid-update;
        // the maps themselves are always consistent between statements.
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn volumes(&self) -> &volumes::Volumes {
        &self.volumes
    }

    /// The ids of the containers that mount volume `name`.
    pub fn volume_users(&self, name: &str) -> Vec<String> {
        self.list()
            .iter()
            .filter(|c| {
                c.record
                    .mounts
                    .iter()
                    .any(|m| m.volume_name() == Some(name))
            })
            .map(|c| c.id().to_string())
            .collect()
    }

    /// Create the record on disk. The name is reserved before anything is
    /// written, so concurrent creates never collide.
    pub fn create(&self, new: NewContainer) -> Result<Arc<Container>, ContainerError> {
        let (id, name) = {
            let mut idx = self.lock();
            let name = match new.name.as_deref().filter(|n| !n.is_empty()) {
                Some(n) => {
                    if !names::is_valid_name(n) {
                        return Err(ContainerError::InvalidName(n.to_string()));
                    }
                    let n = n.trim_start_matches('/').to_string();
                    if let Some(id) = idx.names.get(&n) {
                        return Err(ContainerError::NameInUse {
                            name: n,
                            id: id.clone(),
                        });
                    }
                    n
                }
                None => {
                    let mut retry = 0;
                    loop {
                        let n = names::random_name(retry);
                        if !idx.names.contains_key(&n) {
                            break n;
                        }
                        retry += 1;
                    }
                }
            };
            let id = loop {
                let id = new_id();
                if !idx.by_id.contains_key(&id) {
                    break id;
                }
            };
            idx.names.insert(name.clone(), id.clone());
            (id, name)
        };
        let mut config = new.config;
        if config.hostname.as_deref().unwrap_or("").is_empty() {
            // Docker fixes the hostname at create time: the short id.
            config.hostname = Some(id[..12].to_string());
        }
        let record = ContainerRecord {
            restart_count: 0,
            manually_stopped: false,
            id: id.clone(),
            name: name.clone(),
            created: now_rfc3339(),
            image_id: new.image_id,
            image: new.image,
            path: new.path,
            args: new.args,
            config,
            host_config: new.host_config,
            mounts: new.mounts,
            start_failure: None,
            build_step: new.build_step,
        };
        let paths = ContainerPaths::new(&self.root, &id);
        // A `--rm` container is gone after one run, and after a crash Docker
        // would remove it anyway: its record needs no fsync (the rename
        // still guarantees a whole file or none for readers).
        let durable = record.host_config.auto_remove != Some(true);
        if let Err(e) = write_new_record(&paths, &record, durable) {
            let _ = std::fs::remove_dir_all(&paths.dir);
            self.lock().names.remove(&name);
            return Err(e);
        }
        let c = Arc::new(Container::new(record, paths, RunState::created()));
        self.lock().by_id.insert(id, c.clone());
        Ok(c)
    }

    /// Docker's lookup order: full id, then name (with or without `/`), then
    /// a unique id prefix.
    pub fn get(&self, reference: &str) -> Result<Arc<Container>, ContainerError> {
        let idx = self.lock();
        if let Some(c) = idx.by_id.get(reference) {
            return Ok(c.clone());
        }
        let name = reference.strip_prefix('/').unwrap_or(reference);
        if let Some(c) = idx.names.get(name).and_then(|id| idx.by_id.get(id)) {
            return Ok(c.clone());
        }
        if reference.is_empty() {
            return Err(ContainerError::NotFound(reference.to_string()));
        }
        let mut found: Option<&Arc<Container>> = None;
        for (id, c) in &idx.by_id {
            if id.starts_with(reference) {
                if found.is_some() {
                    return Err(ContainerError::Ambiguous(reference.to_string()));
                }
                found = Some(c);
            }
        }
        found
            .cloned()
            .ok_or_else(|| ContainerError::NotFound(reference.to_string()))
    }

    /// Every container, newest first (the order of `docker ps`).
    pub fn list(&self) -> Vec<Arc<Container>> {
        let mut all: Vec<_> = self.lock().by_id.values().cloned().collect();
        all.sort_by(|a, b| b.record.created.cmp(&a.record.created));
        all
    }

    /// Persist a start failure in the record (the only time config.json is
    /// rewritten), and forget the failed run's state.json if the shim left one.
    pub fn record_start_failure(
        &self,
        c: &Container,
        failure: StartFailure,
    ) -> Result<(), ContainerError> {
        c.set_start_failed(&failure);
        let _ = std::fs::remove_file(c.paths.state());
        c.change(|l| l.start_failure = Some(failure))
    }

    /// Forget the container: its directory is renamed out of the way
    /// (atomic and instant) and the caller deletes the returned path with
    /// [`purge`], off the request's critical path. The caller has made sure
    /// the container is not running.
    pub fn remove(&self, c: &Container) -> Result<Option<PathBuf>, ContainerError> {
        let trash = self
            .root
            .join("containers")
            .join(format!("{TRASH_PREFIX}{}", c.id()));
        let trash = match std::fs::rename(&c.paths.dir, &trash) {
            Ok(()) => Some(trash),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                c.abort_removal();
                return Err(ContainerError::Io {
                    context: format!("removing {}", c.paths.dir.display()),
                    source: e,
                });
            }
        };
        {
            let mut idx = self.lock();
            idx.by_id.remove(c.id());
            let name = c.name();
            if idx.names.get(&name).map(String::as_str) == Some(c.id()) {
                idx.names.remove(&name);
            }
        }
        c.set_removed();
        Ok(trash)
    }

    /// Whether any container was created from `image_id` (blocks `rmi`).
    pub fn uses_image(&self, image_id: &str) -> bool {
        self.lock()
            .by_id
            .values()
            .any(|c| c.record.image_id == image_id)
    }
}

fn write_new_record(
    paths: &ContainerPaths,
    record: &ContainerRecord,
    durable: bool,
) -> Result<(), ContainerError> {
    for d in [paths.upper(), paths.work(), paths.merged()] {
        std::fs::create_dir_all(&d).map_err(io_err(format!("creating {}", d.display())))?;
    }
    init_layer::make(&paths.init(), record.host_config.init.unwrap_or(false))
        .map_err(io_err(format!("creating {}", paths.init().display())))?;
    let path = paths.config();
    let werr = io_err(format!("writing {}", path.display()));
    if durable {
        fsutil::write_json_atomic(&path, record).map_err(werr)
    } else {
        fsutil::replace_json(&path, record).map_err(werr)
    }
}

fn load_one(paths: &ContainerPaths) -> Result<Option<Container>, ContainerError> {
    let bytes = match std::fs::read(paths.config()) {
        Ok(b) => b,
        // A directory without a record is a create that crashed before its
        // atomic write; nothing refers to it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(format!("reading {}", paths.config().display()))(e)),
    };
    let record: ContainerRecord =
        serde_json::from_slice(&bytes).map_err(|e| ContainerError::Io {
            context: format!("parsing {}", paths.config().display()),
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        })?;
    let state = read_state(paths)?;
    let rs = RunState::from_disk(state, record.start_failure.as_ref());
    Ok(Some(Container::new(record, paths.clone(), rs)))
}

/// The shim's `state.json`, if any.
pub fn read_state(paths: &ContainerPaths) -> Result<Option<RuntimeState>, ContainerError> {
    match std::fs::read(paths.state()) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| ContainerError::Io {
                context: format!("parsing {}", paths.state().display()),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(format!("reading {}", paths.state().display()))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: Option<&str>) -> NewContainer {
        NewContainer {
            build_step: false,
            name: name.map(String::from),
            image_id: "sha256:abc".into(),
            image: "busybox".into(),
            path: "true".into(),
            args: vec![],
            config: ContainerConfig::default(),
            host_config: HostConfig::default(),
            mounts: Vec::new(),
        }
    }

    #[test]
    fn ids_are_64_hex_and_short_ids_never_numeric() {
        for _ in 0..500 {
            let id = new_id();
            assert_eq!(id.len(), 64);
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(!id[..12].bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn names_conflict_and_lookup_by_name_id_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store.create(new(Some("web"))).unwrap();
        let err = store.create(new(Some("/web"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Conflict. The container name \"/web\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.", a.id())
        );
        assert!(matches!(
            store.create(new(Some("-x"))),
            Err(ContainerError::InvalidName(_))
        ));
        assert_eq!(store.get("web").unwrap().id(), a.id());
        assert_eq!(store.get("/web").unwrap().id(), a.id());
        assert_eq!(store.get(a.id()).unwrap().id(), a.id());
        assert_eq!(store.get(&a.id()[..5]).unwrap().id(), a.id());
        assert!(matches!(
            store.get("nosuch"),
            Err(ContainerError::NotFound(_))
        ));
        assert!(matches!(store.get(""), Err(ContainerError::NotFound(_))));
    }

    #[test]
    fn ambiguous_prefix_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // With 17 containers, two must share a first hex digit.
        let all: Vec<_> = (0..17).map(|_| store.create(new(None)).unwrap()).collect();
        let mut firsts: Vec<_> = all.iter().map(|c| &c.id()[..1]).collect();
        firsts.sort();
        let dup = firsts.windows(2).find(|w| w[0] == w[1]).unwrap()[0];
        assert!(matches!(store.get(dup), Err(ContainerError::Ambiguous(_))));
        let names: std::collections::HashSet<_> = all.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), 17);
    }

    #[test]
    fn records_survive_reopen_and_removal_frees_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store.create(new(Some("keep"))).unwrap();
        let b = store.create(new(Some("gone"))).unwrap();
        assert!(b.begin_removal());
        assert!(!b.begin_removal());
        let trash = store.remove(&b).unwrap().unwrap();
        assert!(b.state().removed);
        assert!(!b.paths.dir.exists());
        // A crash before the purge: the next open finishes the job.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert!(!trash.exists());
        assert_eq!(store.get("keep").unwrap().id(), a.id());
        assert!(store.get("gone").is_err());
        assert_eq!(store.list().len(), 1);
        store.create(new(Some("gone"))).unwrap();
    }

    #[test]
    fn concurrent_creates_get_distinct_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let s = store.clone();
                std::thread::spawn(move || s.create(new(None)).unwrap().name())
            })
            .collect();
        let names: std::collections::HashSet<_> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(names.len(), 20);
    }

    #[test]
    fn state_from_disk() {
        let rs = RunState::from_disk(
            None,
            Some(&StartFailure {
                exit_code: 127,
                error: "not found".into(),
            }),
        );
        assert_eq!((rs.status, rs.exit_code), (Status::Created, 127));
        let rs = RunState::from_disk(
            Some(RuntimeState {
                status: RunStatus::Exited,
                pid: 55,
                shim_pid: 54,
                started_at: "t0".into(),
                finished_at: Some("t1".into()),
                exit_code: Some(3),
                oom_killed: true,
                error: String::new(),
                ports: vec![crate::shim::spec::PortBinding {
                    container_port: 80,
                    host_ip: "127.0.0.1".into(),
                    host_port: 8080,
                    udp: false,
                }],
            }),
            None,
        );
        assert_eq!(
            (rs.status, rs.exit_code, rs.pid, rs.oom_killed),
            (Status::Exited, 3, 0, true)
        );
        assert!(rs.ports.is_empty(), "an exited run publishes nothing");
    }
}
