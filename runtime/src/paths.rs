//! Where things live on disk and where the daemon listens.
//!
//! ```text
//! <root>/                         default /var/lib/whale (--root, WHALE_ROOT)
//!   daemon.lock                   flock held by the one daemon using this root
//!   image/                        owned by image::Store (see image/mod.rs)
//!   containers/<64hex id>/        owned by container::Store
//!     config.json                 the daemon's record (ContainerRecord)
//!     state.json                  runtime state, written by the shim (RuntimeState)
//!     spec.json                   what the shim must run (shim::spec::ShimSpec)
//!     upper/ work/ merged/        overlay dirs (merged is mounted only inside
//!                                 the container's own mount namespace)
//!     shim.sock                   the shim's control/attach socket
//!     shim.log                    the shim's own diagnostics
//!     container.log               json-file log (Docker's json-file lines)
//! ```

use std::path::PathBuf;

pub const DEFAULT_ROOT: &str = "/var/lib/whale";
pub const DEFAULT_SOCKET: &str = "/run/whale/whale.sock";

/// The root dir from `--root`, else `WHALE_ROOT`, else the default.
pub fn root_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("WHALE_ROOT").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT))
}

/// Per-container file layout. All paths derive from the container dir so a
/// record never stores absolute paths that could go stale if the root moves.
#[derive(Debug, Clone)]
pub struct ContainerPaths {
    pub dir: PathBuf,
}

impl ContainerPaths {
    pub fn new(root: &std::path::Path, id: &str) -> Self {
        ContainerPaths {
            dir: root.join("containers").join(id),
        }
    }
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn spec(&self) -> PathBuf {
        self.dir.join("spec.json")
    }
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }
    pub fn socket(&self) -> PathBuf {
        self.dir.join("shim.sock")
    }
    pub fn shim_log(&self) -> PathBuf {
        self.dir.join("shim.log")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("container.log")
    }
}
