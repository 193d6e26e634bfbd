//! A container's file system as it sees it, without entering it: read
//! (`docker cp` out of it, `docker export`, through the `whale copy-out`
//! helper) and written (`docker cp` into it, through `whale copy-in`).
//!
//! Both helpers change their root to the container's (its running root,
//! or its overlay mounted privately while it is stopped) and resolve
//! paths there, so nothing a process in the container does, not even
//! swapping a directory for a symlink to `/` while we read, can lead them
//! to the host's files (see `linux::copy_out` and `linux::copy_in`).

use super::mounts::Kind;
use super::volumes::Volumes;
use super::Container;
use crate::linux::container_root::Target;
use crate::linux::copy_in::{self, CopyIn as CopyInSpec};
use crate::linux::copy_out::{self, CopyOut as CopyOutSpec, Head, PathStat};
use crate::linux::user_mounts::{MountSource, UserMount};
use bytes::Bytes;
use std::io;
use std::path::PathBuf;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// Go's `os.FileMode` bits of an `st_mode`, which Docker's path stat carries.
fn go_mode(mode: u32) -> u32 {
    let mut out = mode & 0o777;
    if mode & 0o4000 != 0 {
        out |= 1 << 23;
    }
    if mode & 0o2000 != 0 {
        out |= 1 << 22;
    }
    if mode & 0o1000 != 0 {
        out |= 1 << 20;
    }
    out |= match mode & libc::S_IFMT {
        libc::S_IFDIR => 1 << 31,
        libc::S_IFLNK => 1 << 27,
        libc::S_IFBLK => 1 << 26,
        libc::S_IFCHR => (1 << 26) | (1 << 21),
        libc::S_IFIFO => 1 << 25,
        libc::S_IFSOCK => 1 << 24,
        _ => 0,
    };
    out
}

/// Docker's `X-Docker-Container-Path-Stat` JSON.
pub fn path_stat_json(st: &PathStat) -> serde_json::Value {
    let mtime = chrono::DateTime::from_timestamp(st.mtime, st.mtime_nsec as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default();
    serde_json::json!({
        "name": st.name,
        "size": st.size,
        "mode": go_mode(st.mode),
        "mtime": mtime,
        "linkTarget": st.link_target,
    })
}

// ---------------------------------------------------------------- copy-out

/// What to read out of a container.
#[derive(Debug, Clone)]
pub enum CopyWhat {
    /// The stat of `path` (Docker's rules: a trailing `/` or `/.` follows
    /// a final symlink), and its tar when `tar`.
    Path { path: String, tar: bool },
    /// Its whole root file system, without the mounts over it.
    Export,
}

/// Where the copy reads.
#[derive(Debug, Clone)]
pub enum ContainerRoot {
    /// The container runs: its init's root.
    Running { pid: i32 },
    /// It does not: its overlay over `image_layers` (the image store's
    /// dirs, top-most first), mounted privately for the copy, with its
    /// binds and volumes (see [`ContainerRoot::stopped`]).
    Stopped {
        image_layers: Vec<PathBuf>,
        mounts: Vec<UserMount>,
    },
}

impl ContainerRoot {
    /// A stopped container's root, with its binds and volumes over it as
    /// when it runs (its tmpfs mounts hold nothing while it is stopped; no
    /// copy-up: that is the start's to do).
    pub fn stopped(c: &Container, image_layers: Vec<PathBuf>, volumes: &Volumes) -> ContainerRoot {
        let mounts = c
            .record
            .mounts
            .iter()
            .filter(|m| m.kind != Kind::Tmpfs)
            .map(|m| {
                let mut um = m.to_user_mount(volumes);
                if let MountSource::Bind { copy_up, .. } = &mut um.source {
                    *copy_up = false;
                }
                um
            })
            .collect();
        ContainerRoot::Stopped {
            image_layers,
            mounts,
        }
    }

    /// What a copy helper enters; `binds` are the engine files to show over
    /// a stopped container's root (none when writing into it, or exporting).
    fn target(self, c: &Container, with_engine_files: bool) -> Target {
        match self {
            ContainerRoot::Running { pid } => Target::Running { pid },
            ContainerRoot::Stopped {
                image_layers,
                mounts,
            } => Target::Stopped {
                mounts,
                lower_dirs: c.paths.lower_dirs(image_layers),
                upper_dir: c.paths.upper(),
                work_dir: c.paths.work(),
                merged_dir: c.paths.merged(),
                binds: if with_engine_files {
                    crate::linux::mount::ENGINE_FILES
                        .iter()
                        .map(|(inside, file)| (c.paths.dir.join(file), inside.to_string()))
                        .collect()
                } else {
                    Vec::new()
                },
            },
        }
    }
}

/// Why a copy out of a container failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyOutError {
    #[error("copy-out spec: {0}")]
    Spec(serde_json::Error),
    #[error("cannot start whale copy-out: {0}")]
    Spawn(io::Error),
    #[error("reading from whale copy-out: {0}")]
    Read(io::Error),
    #[error("the file is not there")]
    NotFound,
    /// The helper's words.
    #[error("{0}")]
    Failed(String),
}

/// A running `whale copy-out`: [`CopyOut::head`] first, then the tar in
/// pieces from [`CopyOut::next_chunk`], then [`CopyOut::finish`].
///
/// Like `CopyIn`, the caller must keep a stopped container from starting
/// or being removed until it is finished (its overlay is mounted by the
/// helper, and only one mount may use its work dir).
pub struct CopyOut {
    child: tokio::process::Child,
    stdout: tokio::io::BufReader<tokio::process::ChildStdout>,
}

impl CopyOut {
    /// Start reading `what` of `c`.
    pub fn spawn(
        c: &Container,
        what: CopyWhat,
        from: ContainerRoot,
    ) -> Result<CopyOut, CopyOutError> {
        let export = matches!(what, CopyWhat::Export);
        let what = match what {
            CopyWhat::Path { path, tar } => copy_out::What::Path { path, tar },
            CopyWhat::Export => copy_out::What::Export,
        };
        // Docker's export leaves the engine's files out; cp shows them as
        // the running container has them.
        let target = from.target(c, !export);
        let spec =
            serde_json::to_string(&CopyOutSpec { what, target }).map_err(CopyOutError::Spec)?;
        let mut child = tokio::process::Command::new(crate::shim::client::shim_bin())
            .arg("copy-out")
            .arg(spec)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(CopyOutError::Spawn)?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| CopyOutError::Spawn(io::Error::other("no stdout")))?;
        Ok(CopyOut {
            child,
            stdout: tokio::io::BufReader::with_capacity(256 * 1024, stdout),
        })
    }

    /// The stat of what is copied (the root's for an export).
    pub async fn head(&mut self) -> Result<PathStat, CopyOutError> {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .await
            .map_err(CopyOutError::Read)?;
        if line.is_empty() {
            let out = self.stderr().await;
            return Err(CopyOutError::Failed(if out.is_empty() {
                "whale copy-out ended without a word".to_string()
            } else {
                out
            }));
        }
        match serde_json::from_str::<Head>(&line) {
            Ok(Head::Stat(st)) => Ok(st),
            Ok(Head::NotFound) => Err(CopyOutError::NotFound),
            Ok(Head::Failed(why)) => Err(CopyOutError::Failed(why)),
            Err(e) => Err(CopyOutError::Failed(format!(
                "whale copy-out said {line:?}: {e}"
            ))),
        }
    }

    /// The next piece of the tar; `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, CopyOutError> {
        let mut buf = vec![0u8; 256 * 1024];
        let n = self
            .stdout
            .read(&mut buf)
            .await
            .map_err(CopyOutError::Read)?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some(Bytes::from(buf)))
    }

    async fn stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut s).await;
        }
        s.trim().to_string()
    }

    /// Wait for the helper: an error when the tar did not end well.
    pub async fn finish(mut self) -> Result<(), CopyOutError> {
        let why = self.stderr().await;
        let status = self.child.wait().await.map_err(CopyOutError::Read)?;
        if status.success() {
            Ok(())
        } else {
            Err(CopyOutError::Failed(if why.is_empty() {
                format!("whale copy-out: {status}")
            } else {
                why
            }))
        }
    }
}

// ---------------------------------------------------------------- copy-in

/// Why a copy into a container failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyInError {
    #[error("copy-in spec: {0}")]
    Spec(serde_json::Error),
    #[error("cannot start whale copy-in: {0}")]
    Spawn(io::Error),
    #[error("waiting for whale copy-in: {0}")]
    Wait(io::Error),
    #[error("the destination directory does not exist")]
    NoDestination,
    /// The helper's words.
    #[error("{0}")]
    NotADirectory(String),
    #[error("{0}")]
    Failed(String),
}

/// A running `whale copy-in`: feed it the tar, then [`CopyIn::finish`].
///
/// It runs in a process of its own because it changes its root (see
/// `linux::copy_in`); the caller must keep the container from starting,
/// stopping or being removed until it is finished: a stopped container's
/// overlay is mounted by the helper, and only one mount may use its work dir.
pub struct CopyIn {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    write_failed: bool,
}

impl CopyIn {
    /// Start unpacking into the directory `dest` (absolute, as the
    /// container sees it) of `c`.
    pub fn spawn(c: &Container, dest: &str, into: ContainerRoot) -> Result<CopyIn, CopyInError> {
        let target = into.target(c, false);
        let spec = serde_json::to_string(&CopyInSpec {
            dest: dest.to_string(),
            target,
        })
        .map_err(CopyInError::Spec)?;
        let mut child = tokio::process::Command::new(crate::shim::client::shim_bin())
            .arg("copy-in")
            .arg(spec)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(CopyInError::Spawn)?;
        let stdin = child.stdin.take();
        Ok(CopyIn {
            child,
            write_failed: stdin.is_none(),
            stdin,
        })
    }

    /// Feed the next piece of the tar. False once the helper stopped
    /// reading (it failed; [`CopyIn::finish`] says why): send no more.
    pub async fn write(&mut self, data: &[u8]) -> bool {
        let Some(stdin) = self.stdin.as_mut() else {
            return false;
        };
        if stdin.write_all(data).await.is_err() {
            self.write_failed = true;
            self.stdin = None;
        }
        !self.write_failed
    }

    /// End the tar and wait for the helper's verdict.
    pub async fn finish(mut self) -> Result<(), CopyInError> {
        drop(self.stdin.take());
        let out = self
            .child
            .wait_with_output()
            .await
            .map_err(CopyInError::Wait)?;
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        match out.status.code() {
            Some(0) if !self.write_failed => Ok(()),
            Some(copy_in::EXIT_NO_DEST) => Err(CopyInError::NoDestination),
            Some(copy_in::EXIT_NOT_DIR) => Err(CopyInError::NotADirectory(why)),
            _ => Err(CopyInError::Failed(if why.is_empty() {
                "the archive ended early".to_string()
            } else {
                why
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes_carry_the_type_and_special_bits() {
        assert_eq!(go_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(go_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(go_mode(libc::S_IFREG | 0o4755), (1 << 23) | 0o755);
        let st = PathStat {
            name: "sh".into(),
            size: 12,
            mode: libc::S_IFLNK | 0o777,
            mtime: 0,
            mtime_nsec: 0,
            link_target: "/bin/busybox".into(),
        };
        let j = path_stat_json(&st);
        assert_eq!(j["linkTarget"], "/bin/busybox");
        assert_eq!(j["name"], "sh");
        assert_eq!(j["mtime"], "1970-01-01T00:00:00Z");
    }
}
