//! Small filesystem helpers shared by every room that keeps state on disk.

use nix::fcntl::{Flock, FlockArg};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` so that a crash leaves either the old file or the
/// new one, never a half-written one: write a temp file beside it, fsync,
/// rename over, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_via_temp(path, bytes, true)
}

/// Serialize `value` as pretty JSON and write it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    write_via_temp(path, &to_json(value)?, true)
}

/// Like `write_atomic`, readers never see half a file, but without the two
/// fsyncs (8 to 30 ms each here, a journal commit): for records that are
/// rewritten often and worthless after a power cut (a container's runtime
/// state and shim spec, records of build steps).
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_via_temp(path, bytes, false)
}

/// Serialize `value` as pretty JSON and `replace_file` it.
pub fn replace_json<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    write_via_temp(path, &to_json(value)?, false)
}

fn to_json<T: serde::Serialize>(value: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(io::Error::other)
}

/// The one temp-file-and-rename. The temp name is unique per process and
/// call, so two threads writing the same record never share a temp file;
/// files are made 0600: the store's records (configs with `-e PASSWORD=`)
/// are nobody else's business.
fn write_via_temp(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp: PathBuf = dir.join(format!(".{name}.tmp.{}.{unique}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            if durable {
                f.sync_all()?;
            }
            Ok(())
        })
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if durable {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// An exclusive advisory lock (flock) held for as long as the value lives.
#[derive(Debug)]
pub struct LockFile {
    _file: Flock<File>,
}

impl LockFile {
    /// Block until the lock at `path` is ours.
    pub fn lock(path: &Path) -> io::Result<LockFile> {
        Self::acquire(path, FlockArg::LockExclusive)
    }

    /// Take the lock or fail at once with `WouldBlock` if someone holds it.
    pub fn try_lock(path: &Path) -> io::Result<LockFile> {
        Self::acquire(path, FlockArg::LockExclusiveNonblock)
    }

    fn acquire(path: &Path, op: FlockArg) -> io::Result<LockFile> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        let file = Flock::lock(file, op).map_err(|(_, errno)| io::Error::from(errno))?;
        Ok(LockFile { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"first version, long").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temp file left behind");
    }

    #[test]
    fn try_lock_fails_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let held = LockFile::lock(&p).unwrap();
        let err = LockFile::try_lock(&p).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(held);
        LockFile::try_lock(&p).unwrap();
    }
}
