//! Finding the container's command the way Docker (runc, Go's LookPath)
//! does, and Docker's exit codes for what can go wrong.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// PATH when the container's environment has none (Docker's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    NotFound(String),
    #[error("exec: \"{0}\": stat {0}: no such file or directory")]
    NoSuchFile(String),
    #[error("exec: \"{0}\": permission denied")]
    PermissionDenied(String),
    #[error("exec: \"{cmd}\": {source}")]
    Other { cmd: String, source: io::Error },
    #[error("no command specified")]
    NoCommand,
}

impl ExecError {
    /// Docker's CLI exit code: 127 not found, 126 cannot execute, 125 other.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::NotFound(_) | ExecError::NoSuchFile(_) => 127,
            ExecError::PermissionDenied(_) => 126,
            ExecError::Other { source, .. } => match source.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ENOTDIR) => 127,
                Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::ENOEXEC)
                | Some(libc::EISDIR) => 126,
                _ => 125,
            },
            ExecError::NoCommand => 125,
        }
    }

    /// Classify an execve failure of `cmd`.
    pub fn from_exec(cmd: &str, e: io::Error) -> ExecError {
        match e.raw_os_error() {
            Some(libc::ENOENT) => ExecError::NoSuchFile(cmd.to_string()),
            Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EISDIR) => {
                ExecError::PermissionDenied(cmd.to_string())
            }
            _ => ExecError::Other {
                cmd: cmd.to_string(),
                source: e,
            },
        }
    }
}

/// The value of PATH in a `KEY=value` environment.
pub fn path_from_env(env: &[String]) -> Option<&str> {
    env.iter().rev().find_map(|kv| kv.strip_prefix("PATH="))
}

fn executable(p: &Path) -> Result<(), io::Error> {
    let m = std::fs::metadata(p)?;
    if !m.is_dir() && m.permissions().mode() & 0o111 != 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(libc::EACCES))
    }
}

/// Resolve `cmd` relative to the current root and directory: as a path
/// when it contains '/', else through each entry of `path` (Go's LookPath).
pub fn lookup(cmd: &str, path: Option<&str>) -> Result<PathBuf, ExecError> {
    if cmd.is_empty() {
        return Err(ExecError::NoCommand);
    }
    if cmd.contains('/') {
        return match executable(Path::new(cmd)) {
            Ok(()) => Ok(PathBuf::from(cmd)),
            Err(e) => Err(ExecError::from_exec(cmd, e)),
        };
    }
    for dir in path.unwrap_or(DEFAULT_PATH).split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(cmd);
        if executable(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(ExecError::NotFound(cmd.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn lookup_follows_path_and_skips_non_executables() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        let b = t.path().join("b");
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        fs::write(a.join("tool"), "data").unwrap(); // not executable
        fs::write(b.join("tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(b.join("tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir(a.join("dir")).unwrap();
        let path = format!("{}:{}", a.display(), b.display());
        assert_eq!(lookup("tool", Some(&path)).unwrap(), b.join("tool"));
        let e = lookup("nope", Some(&path)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "exec: \"nope\": executable file not found in $PATH"
        );
        assert_eq!(e.exit_code(), 127);
        assert_eq!(lookup("dir", Some(&path)).unwrap_err().exit_code(), 127);
    }

    #[test]
    fn explicit_paths_map_to_docker_codes() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        fs::write(&data, "x").unwrap();
        let e = lookup(data.to_str().unwrap(), None).unwrap_err();
        assert_eq!(e.exit_code(), 126);
        assert!(e.to_string().contains("permission denied"), "{e}");
        let dir = lookup(t.path().to_str().unwrap(), None).unwrap_err();
        assert_eq!(dir.exit_code(), 126);
        let missing = t.path().join("missing");
        let e = lookup(missing.to_str().unwrap(), None).unwrap_err();
        assert_eq!(e.exit_code(), 127);
        assert!(e.to_string().contains("no such file or directory"), "{e}");
    }

    #[test]
    fn exec_failures_classified() {
        let e = ExecError::from_exec("/x", io::Error::from_raw_os_error(libc::ENOEXEC));
        assert_eq!(e.exit_code(), 126);
        let e = ExecError::from_exec("/x", io::Error::from_raw_os_error(libc::E2BIG));
        assert_eq!(e.exit_code(), 125);
        assert_eq!(ExecError::NoCommand.exit_code(), 125);
        assert_eq!(
            path_from_env(&["A=1".into(), "PATH=/bin".into()]),
            Some("/bin")
        );
    }
}
