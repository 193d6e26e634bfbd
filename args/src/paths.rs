//! Root or rootless: which mode the engine runs in, and where its store and
//! socket live by default in each. The one place this rule is written, so
//! that the CLI, the daemon and the tutor (which links this crate, never the
//! engine) agree on where a user's whale is.
//!
//! The mode follows who runs the binary: effective uid 0 is root mode
//! (`/var/lib/whale`, `/run/whale/whale.sock`, as always); anyone else is
//! rootless, like Docker's and Podman's rootless modes:
//!
//! - store: `$XDG_DATA_HOME/whale`, default `~/.local/share/whale`;
//! - socket: `$XDG_RUNTIME_DIR/whale/whale.sock`; without XDG_RUNTIME_DIR
//!   (no systemd login session: ssh with a bare PAM, `su`, a batch job), a
//!   private dir `/tmp/whale-<uid>`, which [`check_private_dir`] refuses to
//!   use unless it is a real dir, owned by the user and closed to others
//!   (anyone may create `/tmp/whale-1000` first, to hand us their socket).

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the engine keeps its store in root mode unless `--root`/`WHALE_ROOT` say otherwise.
pub const DEFAULT_ROOT: &str = "/var/lib/whale";
/// Where the daemon listens in root mode unless `-H`/`WHALE_HOST` say otherwise.
pub const DEFAULT_SOCKET: &str = "/run/whale/whale.sock";

/// Who the engine runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run by root: the engine has the host's privileges.
    Root,
    /// Run by a normal user: the daemon and its containers live in a user
    /// namespace where the user is root (and only there).
    Rootless,
}

impl Mode {
    /// The mode of this process, by its effective uid.
    pub fn current() -> Mode {
        Mode::for_euid(current_euid())
    }

    pub fn for_euid(euid: u32) -> Mode {
        if euid == 0 {
            Mode::Root
        } else {
            Mode::Rootless
        }
    }

    /// How `whale info` names it (Docker's `SecurityOptions` entry is
    /// `name=rootless` in rootless mode).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Root => "root",
            Mode::Rootless => "rootless",
        }
    }
}

/// The default store and socket of one mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub mode: Mode,
    /// The store (`--root`, `WHALE_ROOT` override it).
    pub root: PathBuf,
    /// The daemon's socket (`-H`, `WHALE_HOST` override it).
    pub socket: PathBuf,
    /// The dir holding the socket, which [`check_private_dir`] must accept
    /// before a rootless daemon listens in it or a rootless CLI trusts it.
    /// `None` in root mode (`/run/whale` is root's own).
    pub private_socket_dir: Option<PathBuf>,
}

/// This process's default paths, from its effective uid and environment.
/// Pure: creates and checks nothing (see [`check_private_dir`]).
pub fn default_paths() -> Paths {
    let euid = current_euid();
    paths_for(euid, &|name| std::env::var_os(name), &|| home_of(euid))
}

/// The rule itself, with the environment and the home dir passed in (tests).
pub fn paths_for(
    euid: u32,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    home: &dyn Fn() -> PathBuf,
) -> Paths {
    if Mode::for_euid(euid) == Mode::Root {
        return Paths {
            mode: Mode::Root,
            root: PathBuf::from(DEFAULT_ROOT),
            socket: PathBuf::from(DEFAULT_SOCKET),
            private_socket_dir: None,
        };
    }
    // XDG: a relative value is invalid and must be ignored.
    let absolute = |name: &str| env(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let data = absolute("XDG_DATA_HOME").unwrap_or_else(|| home().join(".local/share"));
    let socket_dir = match absolute("XDG_RUNTIME_DIR") {
        Some(dir) => dir.join("whale"),
        None => PathBuf::from(format!("/tmp/whale-{euid}")),
    };
    Paths {
        mode: Mode::Rootless,
        root: data.join("whale"),
        socket: socket_dir.join("whale.sock"),
        private_socket_dir: Some(socket_dir),
    }
}

/// The root dir from `--root`, else `WHALE_ROOT`, else this mode's default.
pub fn root_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("WHALE_ROOT").map(PathBuf::from))
        .unwrap_or_else(|| default_paths().root)
}

/// The socket from `-H`, else `WHALE_HOST`, else this mode's default, as
/// the user wrote it (`unix:///path` or a path).
pub fn host(flag: Option<&str>) -> String {
    match flag {
        Some(h) => h.to_string(),
        None => match std::env::var("WHALE_HOST") {
            Ok(h) if !h.is_empty() => h,
            _ => format!("unix://{}", default_paths().socket.display()),
        },
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrivateDirError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("refusing {}: {why}; whale keeps its socket there only in a dir of your own that no one else can enter (remove it, or set XDG_RUNTIME_DIR to a private dir)", path.display())]
    Untrusted { path: PathBuf, why: String },
}

/// Before listening on or talking to `socket`: when it lies in this
/// rootless user's default socket dir, that dir must pass
/// [`check_private_dir`] (made if missing). Any other socket is the user's
/// own choice.
pub fn check_socket_dir(socket: &Path) -> Result<(), PrivateDirError> {
    match default_paths().private_socket_dir {
        Some(dir) if socket.parent() == Some(dir.as_path()) => check_private_dir(&dir),
        _ => Ok(()),
    }
}

/// Create `dir` (0700) if it is missing, and accept it only if it is a
/// real directory (not a symlink), owned by this user and closed to
/// everyone else. Anyone can make a dir in /tmp; a socket in someone
/// else's dir could be theirs.
pub fn check_private_dir(dir: &Path) -> Result<(), PrivateDirError> {
    let io_err = |source| PrivateDirError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if let Some(parent) = dir.parent() {
        if !parent.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io_err)?;
        }
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(io_err(e)),
        _ => {}
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io_err)?;
    let untrusted = |why: String| PrivateDirError::Untrusted {
        path: dir.to_path_buf(),
        why,
    };
    if !meta.file_type().is_dir() {
        return Err(untrusted("it is not a directory".into()));
    }
    let euid = current_euid();
    if meta.uid() != euid {
        return Err(untrusted(format!(
            "it is owned by uid {}, not by you (uid {euid})",
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(untrusted(format!(
            "its mode is {mode:04o}, open to other users (0700 wanted)"
        )));
    }
    Ok(())
}

fn current_euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// `$HOME`, else the user's home from /etc/passwd, else `/` (a user with no
/// home at all gets a store they will be told about when it fails).
fn home_of(euid: u32) -> PathBuf {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 5 && f[2].parse() == Ok(euid))
        .map(|f| PathBuf::from(f[5]))
        .unwrap_or_else(|| PathBuf::from("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn root_keeps_the_system_paths_whatever_the_environment() {
        let env = env_of(&[("XDG_RUNTIME_DIR", "/run/user/0"), ("XDG_DATA_HOME", "/x")]);
        let p = paths_for(0, &env, &|| PathBuf::from("/root"));
        assert_eq!(p.mode, Mode::Root);
        assert_eq!(p.root, PathBuf::from("/var/lib/whale"));
        assert_eq!(p.socket, PathBuf::from("/run/whale/whale.sock"));
        assert_eq!(p.private_socket_dir, None);
    }

    #[test]
    fn a_user_gets_the_xdg_dirs() {
        let env = env_of(&[
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
            ("XDG_DATA_HOME", "/home/ann/data"),
        ]);
        let p = paths_for(1000, &env, &|| PathBuf::from("/home/ann"));
        assert_eq!(p.mode, Mode::Rootless);
        assert_eq!(p.root, PathBuf::from("/home/ann/data/whale"));
        assert_eq!(p.socket, PathBuf::from("/run/user/1000/whale/whale.sock"));
    }

    #[test]
    fn a_user_without_xdg_gets_home_and_a_private_tmp_dir() {
        let env = env_of(&[("XDG_DATA_HOME", "relative/is/ignored")]);
        let p = paths_for(1000, &env, &|| PathBuf::from("/home/ann"));
        assert_eq!(p.root, PathBuf::from("/home/ann/.local/share/whale"));
        assert_eq!(p.socket, PathBuf::from("/tmp/whale-1000/whale.sock"));
        assert_eq!(p.private_socket_dir, Some(PathBuf::from("/tmp/whale-1000")));
    }

    #[test]
    fn a_private_dir_is_made_closed_and_an_open_or_foreign_one_refused() {
        let t = tempfile_dir();
        let dir = t.join("sock");
        check_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // Reused as it is.
        check_private_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = check_private_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("0755"), "{err}");
        let link = t.join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let err = check_private_dir(&link).unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");
        std::fs::remove_dir_all(&t).unwrap();
    }

    /// A fresh dir under the system temp dir (this crate has no tempfile).
    fn tempfile_dir() -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("whale-args-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        dir
    }
}
