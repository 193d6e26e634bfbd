//! Where things live on disk and where the daemon listens.
//!
//! ```text
//! <root>/                         default /var/lib/whale (--root, WHALE_ROOT)
//!   daemon.lock                   flock held by the one daemon using this root
//!   image/                        owned by image::Store (see image/mod.rs)
//!   volumes/<name>/               owned by container::volumes (`_data`, volume.json)
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
//!
//! The root is the engine's alone (0700, like Docker's data dirs): image
//! layers and upper dirs hold setuid files, configs hold `-e PASSWORD=`,
//! logs hold whatever containers print. No other host user may search it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The mode of the root dir and of the stores right below it.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// Create `root` if need be and close it, with the stores below it and the
/// daemon's log, to other users: a root made by an older whale (0755) is
/// closed on the daemon's next start.
pub fn close_root(root: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    let private = std::fs::Permissions::from_mode(PRIVATE_DIR_MODE);
    std::fs::set_permissions(root, private.clone())?;
    for dir in ["containers", "image", "volumes"] {
        match std::fs::set_permissions(root.join(dir), private.clone()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    match std::fs::set_permissions(
        root.join("daemon.log"),
        std::fs::Permissions::from_mode(0o600),
    ) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

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
    /// (absent for containers made before it existed), then the image's,
    /// each layer once. Layers are stored by content, so an image whose two
    /// steps changed the same thing (two RUN steps that change nothing give
    /// the same empty layer) names one dir twice, and overlayfs refuses
    /// overlapping lower dirs (ELOOP). Docker keys layers by chain, so it
    /// never meets this. Keeping only the topmost copy changes nothing in the
    /// merged view: whatever the lower copy adds or removes, the upper one
    /// does again above everything between them.
    pub fn lower_dirs(&self, image_layers: Vec<PathBuf>) -> Vec<PathBuf> {
        let init = self.init();
        let mut all: Vec<PathBuf> = Vec::with_capacity(image_layers.len() + 1);
        if init.is_dir() {
            all.push(init);
        }
        for layer in image_layers {
            if !all.contains(&layer) {
                all.push(layer);
            }
        }
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
    fn the_root_is_closed_even_when_an_older_whale_made_it() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        for d in ["containers", "image"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
            std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(root.join("daemon.log"), "").unwrap();
        close_root(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("containers")), 0o700);
        assert_eq!(mode(&root.join("image")), 0o700);
        assert_eq!(mode(&root.join("daemon.log")), 0o600);
        let fresh = t.path().join("a/b");
        close_root(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
    }

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

    #[test]
    fn a_layer_named_twice_is_mounted_once_at_its_topmost_place() {
        let root = tempfile::tempdir().unwrap();
        let p = ContainerPaths::new(root.path(), "abc");
        let l = |s: &str| PathBuf::from(s);
        let image = vec![l("/l/empty"), l("/l/mid"), l("/l/empty"), l("/l/base")];
        assert_eq!(
            p.lower_dirs(image),
            [l("/l/empty"), l("/l/mid"), l("/l/base")]
        );
    }
}
