//! `docker diff`: what a container changed, read from its overlay upper
//! dir against the image's layers.

use crate::linux::mount::{ENGINE_FILES, KERNEL_MOUNT_POINTS};
use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Docker's change kinds.
pub const MODIFIED: u8 = 0;
pub const ADDED: u8 = 1;
pub const DELETED: u8 = 2;

/// Whether `path` (absolute, inside the container) is one of the engine's
/// own: the files it binds in and the kernel file systems' mount points.
/// Docker keeps them in its init layer, so `docker diff` never shows them.
fn is_engine_path(path: &str) -> bool {
    let rel = path.trim_start_matches('/');
    KERNEL_MOUNT_POINTS.contains(&rel) || ENGINE_FILES.iter().any(|(inside, _)| *inside == rel)
}

fn in_lower(lowers: &[PathBuf], rel: &str) -> bool {
    let rel = rel.trim_start_matches('/');
    lowers
        .iter()
        .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok())
}

/// Walk `upper` and classify every entry: a whiteout (char device 0:0) is a
/// deletion, a path the image had is a modification, anything else an
/// addition. A directory the image had is reported only when something
/// under it is, as Docker does.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> std::io::Result<Vec<(String, u8)>> {
    let mut out: BTreeMap<String, u8> = BTreeMap::new();
    walk(upper, "", lowers, &mut out)?;
    Ok(out.into_iter().collect())
}

/// Returns whether anything under `dir` was reported.
fn walk(
    dir: &Path,
    rel: &str,
    lowers: &[PathBuf],
    out: &mut BTreeMap<String, u8>,
) -> std::io::Result<bool> {
    let mut reported = false;
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.flatten().collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !rel.is_empty() => return Ok(false),
        Err(e) => return Err(e),
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{rel}/{name}");
        if is_engine_path(&path) {
            continue;
        }
        // A running container may delete what we are looking at.
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            out.insert(path, DELETED);
            reported = true;
            continue;
        }
        let existed = in_lower(lowers, &path);
        if ft.is_dir() {
            let below = walk(&entry.path(), &path, lowers, out)?;
            if !existed {
                out.insert(path, ADDED);
                reported = true;
            } else if below {
                out.insert(path, MODIFIED);
                reported = true;
            }
        } else {
            out.insert(path, if existed { MODIFIED } else { ADDED });
            reported = true;
        }
    }
    Ok(reported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_added_modified_and_hides_engine_files() {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path().join("lower");
        let upper = t.path().join("upper");
        for d in ["etc", "bin", "srv/deep"] {
            std::fs::create_dir_all(lower.join(d)).unwrap();
        }
        std::fs::write(lower.join("etc/passwd"), "root").unwrap();
        std::fs::create_dir_all(upper.join("etc/foo")).unwrap();
        std::fs::create_dir_all(upper.join("proc")).unwrap();
        std::fs::create_dir_all(upper.join("srv/deep")).unwrap();
        std::fs::write(upper.join("etc/passwd"), "root\nme").unwrap();
        std::fs::write(upper.join("etc/hostname"), "abc").unwrap();
        std::fs::write(upper.join("newfile"), "x").unwrap();
        let got = changes(&upper, &[lower]).unwrap();
        assert_eq!(
            got,
            [
                ("/etc".to_string(), MODIFIED),
                ("/etc/foo".to_string(), ADDED),
                ("/etc/passwd".to_string(), MODIFIED),
                ("/newfile".to_string(), ADDED),
            ]
        );
    }
}
