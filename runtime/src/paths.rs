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
//!     init/                       the init layer: empty mount points (/proc,
//!                                 /sys, /dev, /etc/hosts...), lowest of the
//!                                 container's own, above the image's layers
//!     upper/ work/ merged/        overlay dirs (merged is mounted only inside
//!                                 the container's own mount namespace)
//!     shim.sock                   the shim's control/attach socket
//!     shim.log                    the shim's own diagnostics
//!     container.log               json-file log (Docker's json-file lines)
//! ```

use std::path::{Path, PathBuf};

/// The lock the one daemon using `root` holds.
pub fn daemon_lock(root: &Path) -> PathBuf {
    root.join("daemon.lock")
}

/// Claim `root` for this daemon; `WouldBlock` while another daemon holds
/// it. The root is this daemon's for as long as the lock lives.
pub fn lock_root(root: &Path) -> std::io::Result<crate::fsutil::LockFile> {
    crate::fsutil::LockFile::try_lock(&daemon_lock(root))
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
    /// Docker's `<id>-init` layer: the mount points the engine needs, so
    /// that they never land in the upper dir (only the container's own
    /// changes do).
    pub fn init(&self) -> PathBuf {
        self.dir.join("init")
    }
    /// The read-only layers under the upper dir, top first: the init layer
    /// (absent for containers made before it existed), then the image's.
    pub fn lower_dirs(&self, image_layers: Vec<PathBuf>) -> Vec<PathBuf> {
        let init = self.init();
        if !init.is_dir() {
            return image_layers;
        }
        let mut all = Vec::with_capacity(image_layers.len() + 1);
        all.push(init);
        all.extend(image_layers);
        all
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_layer_goes_first_when_present() {
        let root = tempfile::tempdir().unwrap();
        let p = ContainerPaths::new(root.path(), "abc");
        let image = vec![PathBuf::from("/l/top"), PathBuf::from("/l/base")];
        // A container made before init layers existed keeps its layers.
        assert_eq!(p.lower_dirs(image.clone()), image);
        std::fs::create_dir_all(p.init()).unwrap();
        assert_eq!(
            p.lower_dirs(image),
            [p.init(), PathBuf::from("/l/top"), PathBuf::from("/l/base")]
        );
    }
}
