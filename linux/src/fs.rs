//! File system calls the image store makes on layer contents that std
//! has no word for: times set on a link itself, overlay whiteouts, and
//! whether ownership can be kept as the archive says.

use std::io;
use std::path::Path;

use nix::sys::stat::{Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;

/// Set the access and modification times of `path` to `secs` after the
/// epoch, on a symlink itself rather than its target (a layer's link may
/// point anywhere, even outside it).
pub fn set_mtime_nofollow(path: &Path, secs: i64) -> io::Result<()> {
    let t = TimeSpec::new(secs, 0);
    nix::sys::stat::utimensat(None, path, &t, &t, UtimensatFlags::NoFollowSymlink)
        .map_err(io::Error::from)
}

/// An overlayfs whiteout: a character device with device number 0:0.
/// Needs CAP_MKNOD.
pub fn make_whiteout(path: &Path) -> io::Result<()> {
    nix::sys::stat::mknod(path, SFlag::S_IFCHR, Mode::empty(), 0).map_err(io::Error::from)
}

/// Whether the effective uid is root with other ids to give: only then may
/// extracted files keep the owners their archive names. Rootless with a
/// single-id map, root is the only id there is (a chown to any other
/// fails), so files stay root's as for a normal user.
pub fn euid_is_root() -> bool {
    nix::unistd::geteuid().is_root() && !super::userns::current_map().is_single()
}

/// Bytes an unprivileged writer could still use on the file system holding
/// `path` (statvfs: available blocks times the fragment size).
pub fn available_bytes(path: &Path) -> io::Result<u64> {
    let st = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    #[test]
    fn mtime_of_a_link_not_its_target() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("target");
        std::fs::write(&target, "x").unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        set_mtime_nofollow(&link, 1_500_000_000).unwrap();
        assert_eq!(
            std::fs::symlink_metadata(&link).unwrap().mtime(),
            1_500_000_000
        );
        assert_ne!(std::fs::metadata(&target).unwrap().mtime(), 1_500_000_000);
    }

    #[test]
    fn whiteout_is_char_0_0_when_permitted() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("gone");
        match make_whiteout(&p) {
            Ok(()) => {
                let m = std::fs::symlink_metadata(&p).unwrap();
                assert!(m.file_type().is_char_device());
                assert_eq!(m.rdev(), 0);
            }
            // Without CAP_MKNOD the kernel refuses; that is all there is to see.
            Err(e) => assert!(!euid_is_root(), "{e}"),
        }
    }
}
