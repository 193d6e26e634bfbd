//! The init layer: the empty mount points a container's own layers start
//! with (Docker's `-init` layer), lowest of its own, above the image's.

use std::io;
use std::path::Path;

use crate::linux::mount::{ENGINE_FILES, KERNEL_MOUNT_POINTS};

/// Mount points the shim needs, as Docker's init layer has them: the
/// directories it mounts /proc, /sys and /dev on, `etc` for the files it
/// bind-mounts, and those files (the kernel room names them all).
fn init_dirs() -> impl Iterator<Item = &'static str> {
    KERNEL_MOUNT_POINTS.iter().copied().chain(["etc"])
}

fn init_files() -> impl Iterator<Item = &'static str> {
    ENGINE_FILES.iter().map(|(inside, _)| *inside)
}

pub(super) fn make(dir: &Path, init: bool) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true).mode(0o755);
    // An empty file to mount on; an existing one is kept as it is.
    let touch = |rel: &str, mode: u32| {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(mode)
            .open(dir.join(rel))
            .map(drop)
    };
    b.create(dir)?;
    for d in init_dirs() {
        b.create(dir.join(d))?;
    }
    for f in init_files() {
        touch(f, 0o644)?;
    }
    if init {
        // `--init` binds the host's docker-init here.
        b.create(dir.join("sbin"))?;
        touch(crate::shim::INIT_TARGET, 0o755)?;
    }
    Ok(())
}

/// Take the shim's mount points back out of a run's upper dir: they are not
/// the run's changes (Docker keeps them in an init layer that is never
/// committed). Only what is exactly a stub goes: the empty files under the
/// bind-mounted /etc files, and the empty directories made when the image
/// lacked them (an `etc/` that only held stubs was made for them).
pub fn strip_mount_stubs(upper: &Path) {
    for f in init_files() {
        let p = upper.join(f);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file() && m.len() == 0) {
            let _ = std::fs::remove_file(&p);
        }
    }
    // After the files, so an `etc/` emptied of its stubs goes too; rmdir
    // removes neither a directory with anything in it nor a symlink.
    for d in init_dirs() {
        let _ = std::fs::remove_dir(upper.join(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stubs_go_and_changes_stay() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path();
        make(upper, false).unwrap();
        strip_mount_stubs(upper);
        assert_eq!(std::fs::read_dir(upper).unwrap().count(), 0);
        make(upper, false).unwrap();
        std::fs::write(upper.join("etc/hosts"), "127.0.0.1 x\n").unwrap();
        std::fs::write(upper.join("dev/null2"), "").unwrap();
        strip_mount_stubs(upper);
        let mut left: Vec<_> = std::fs::read_dir(upper)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["dev", "etc"]);
        assert!(upper.join("etc/hosts").exists());
        assert!(!upper.join("etc/hostname").exists());
    }
}
