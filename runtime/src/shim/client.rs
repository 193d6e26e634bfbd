//! The daemon's side of the shim protocol (see protocol.rs). Async, tokio.
//!
//! ```ignore
//! let shim = client::spawn(&container_dir).await?;   // Ready read
//! if let Some(e) = &shim.ready.error { /* exit code: shim.ready.exit_code */ }
//! // connect attach clients to the socket here (client::connect)
//! let started = shim.start().await?;                 // Err(ShimError::Exec) when exec failed
//! let exit = client::wait(&socket).await?;
//! ```

use super::protocol::{Ack, ExecRequest, ExecStarted, Exit, Ready, Request, Started, Status};
use super::state::{RunStatus, RuntimeState};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Environment variable naming the whale binary to run as the shim (tests).
pub const SHIM_BIN_ENV: &str = "WHALE_SHIM_BIN";

#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("cannot run the shim {bin}: {source}")]
    Spawn {
        bin: PathBuf,
        source: std::io::Error,
    },
    #[error("the shim for {dir} exited without answering (see {dir}/shim.log)")]
    NoAnswer { dir: PathBuf },
    #[error("the shim sent an invalid {what} line {line:?}: {source}")]
    Protocol {
        what: &'static str,
        line: String,
        source: serde_json::Error,
    },
    /// The container could not be started; `exit_code` is Docker's (125,
    /// 126 not executable, 127 not found).
    #[error("{message}")]
    Exec { message: String, exit_code: i32 },
    #[error("no shim is listening on {socket}: {source}")]
    NotRunning {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("the shim refused the request: {0}")]
    Refused(String),
    #[error("talking to the shim at {socket}: {source}")]
    Io {
        socket: PathBuf,
        source: std::io::Error,
    },
}

impl ShimError {
    /// The exit code Docker's CLI would report for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ShimError::Exec { exit_code, .. } => *exit_code,
            _ => 125,
        }
    }
}

/// A shim that reported Ready and waits for `start`.
pub struct SpawnedShim {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    dir: PathBuf,
    pub ready: Ready,
}

/// The whale binary the daemon runs its helpers from (`shim`, `copy-in`).
pub(crate) fn shim_bin() -> PathBuf {
    match std::env::var_os(SHIM_BIN_ENV) {
        Some(p) => PathBuf::from(p),
        // /proc/self/exe, not current_exe(): after a rebuild replaces the
        // binary, current_exe() names a "(deleted)" path that cannot be
        // executed, while /proc/self/exe still reaches the daemon's own image.
        None => crate::linux::procfs::self_exe(),
    }
}

async fn read_line<T: serde::de::DeserializeOwned>(
    r: &mut BufReader<ChildStdout>,
    what: &'static str,
    dir: &Path,
) -> Result<T, ShimError> {
    read_json_line(r, what, dir, || ShimError::NoAnswer {
        dir: dir.to_path_buf(),
    })
    .await
}

/// Read one JSON line `what` from the shim at `path`; `eof` is the error
/// when the shim closes without one.
async fn read_json_line<T, R>(
    r: &mut R,
    what: &'static str,
    path: &Path,
    eof: impl FnOnce() -> ShimError,
) -> Result<T, ShimError>
where
    T: serde::de::DeserializeOwned,
    R: tokio::io::AsyncBufRead + Unpin,
{
    let mut line = String::new();
    let n = r
        .read_line(&mut line)
        .await
        .map_err(|source| ShimError::Io {
            socket: path.to_path_buf(),
            source,
        })?;
    if n == 0 {
        return Err(eof());
    }
    serde_json::from_str(line.trim_end()).map_err(|source| ShimError::Protocol {
        what,
        line,
        source,
    })
}

/// Spawn `whale shim <dir>` (spec.json already written) and read its Ready
/// line. A Ready with `error` set is returned as is (the shim has cleaned
/// up and exited); `start` on it returns that error.
pub async fn spawn(container_dir: &Path) -> Result<SpawnedShim, ShimError> {
    let bin = shim_bin();
    let mut child: Child = Command::new(&bin)
        .arg("shim")
        .arg(container_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| ShimError::Spawn {
            bin: bin.clone(),
            source,
        })?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(ShimError::NoAnswer {
            dir: container_dir.to_path_buf(),
        });
    };
    let mut stdout = BufReader::new(stdout);
    let ready = read_line::<Ready>(&mut stdout, "Ready", container_dir).await;
    // The intermediate process exited right after forking the shim: reap
    // it (by now this does not wait).
    let reaped = child.wait().await;
    let ready = match ready {
        Ok(r) => r,
        Err(ShimError::NoAnswer { dir }) => {
            if let Err(source) = reaped {
                return Err(ShimError::Spawn { bin, source });
            }
            return Err(ShimError::NoAnswer { dir });
        }
        Err(e) => return Err(e),
    };
    Ok(SpawnedShim {
        stdin,
        stdout,
        dir: container_dir.to_path_buf(),
        ready,
    })
}

impl SpawnedShim {
    /// Send `start`, read the Started line, drop the pipes.
    pub async fn start(mut self) -> Result<Started, ShimError> {
        if let Some(message) = self.ready.error.take() {
            return Err(ShimError::Exec {
                message,
                exit_code: self.ready.exit_code.unwrap_or(125),
            });
        }
        let io = |dir: &Path| {
            let dir = dir.to_path_buf();
            move |source| ShimError::Io {
                socket: dir,
                source,
            }
        };
        self.stdin
            .write_all(b"start\n")
            .await
            .map_err(io(&self.dir))?;
        self.stdin.flush().await.map_err(io(&self.dir))?;
        let started: Started = read_line(&mut self.stdout, "Started", &self.dir).await?;
        if let Some(message) = started.error {
            return Err(ShimError::Exec {
                message,
                exit_code: started.exit_code.unwrap_or(125),
            });
        }
        Ok(started)
    }
}

/// A Unix socket path must fit in 108 bytes; a longer one is reached
/// through `/proc/self/fd/<dir fd>/<name>` while the returned dir stays open.
pub fn short_socket_path(socket: &Path) -> std::io::Result<(Option<std::fs::File>, PathBuf)> {
    use std::os::fd::AsRawFd;
    if socket.as_os_str().len() < 100 {
        return Ok((None, socket.to_path_buf()));
    }
    let (Some(dir), Some(name)) = (socket.parent(), socket.file_name()) else {
        return Ok((None, socket.to_path_buf()));
    };
    let dir = std::fs::File::open(dir)?;
    let short = crate::linux::procfs::self_fd_path(dir.as_raw_fd()).join(name);
    Ok((Some(dir), short))
}

/// Open a connection and send `req`; the stream is returned for what follows.
pub async fn connect(socket: &Path, req: &Request) -> Result<UnixStream, ShimError> {
    let not_running = |source| ShimError::NotRunning {
        socket: socket.to_path_buf(),
        source,
    };
    let (_dir, path) = short_socket_path(socket).map_err(not_running)?;
    let mut stream = UnixStream::connect(&path)
        .await
        .map_err(|source| ShimError::NotRunning {
            socket: socket.to_path_buf(),
            source,
        })?;
    let mut line = serde_json::to_vec(req).map_err(|e| ShimError::Io {
        socket: socket.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    line.push(b'\n');
    stream
        .write_all(&line)
        .await
        .map_err(|source| ShimError::Io {
            socket: socket.to_path_buf(),
            source,
        })?;
    Ok(stream)
}

async fn request<T: serde::de::DeserializeOwned>(
    socket: &Path,
    req: &Request,
    what: &'static str,
) -> Result<T, ShimError> {
    let stream = connect(socket, req).await?;
    read_json_line(&mut BufReader::new(stream), what, socket, || {
        ShimError::NotRunning {
            socket: socket.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the shim closed the connection without answering",
            ),
        }
    })
    .await
}

fn acked(ack: Ack) -> Result<(), ShimError> {
    if ack.ok {
        Ok(())
    } else {
        Err(ShimError::Refused(
            ack.error.unwrap_or_else(|| "no reason given".into()),
        ))
    }
}

/// Block until the container exits; its exit code and OOM state.
pub async fn wait(socket: &Path) -> Result<Exit, ShimError> {
    request(socket, &Request::Wait, "Exit").await
}

/// Like [`wait`], but a shim that is already gone is not an error when it
/// recorded the exit: the shim writes `state.json` (exited) before it
/// removes its socket, so a NotRunning here means the record is final.
pub async fn wait_or_recorded(socket: &Path, state_path: &Path) -> Result<Exit, ShimError> {
    match wait(socket).await {
        Err(ShimError::NotRunning { socket, source }) => {
            let recorded = std::fs::read(state_path)
                .ok()
                .and_then(|b| serde_json::from_slice::<RuntimeState>(&b).ok())
                .filter(|st| st.status == RunStatus::Exited);
            match recorded {
                Some(st) => Ok(Exit {
                    exit_code: st.exit_code.unwrap_or(125),
                    oom_killed: st.oom_killed,
                    finished_at: st.finished_at.unwrap_or_default(),
                }),
                None => Err(ShimError::NotRunning { socket, source }),
            }
        }
        other => other,
    }
}

/// kill(init, signal).
pub async fn signal(socket: &Path, signal: i32) -> Result<(), ShimError> {
    acked(request(socket, &Request::Signal { signal }, "Ack").await?)
}

/// Set the pty's window size.
pub async fn resize(socket: &Path, rows: u16, cols: u16) -> Result<(), ShimError> {
    acked(request(socket, &Request::Resize { rows, cols }, "Ack").await?)
}

pub async fn status(socket: &Path) -> Result<Status, ShimError> {
    request(socket, &Request::Status, "Status").await
}

/// Start an exec process. On success the stream that follows is its output
/// (raw for a tty, multiplexed otherwise) and takes its input; the exit code
/// comes from [`exec_wait`]. A process that could not be started is
/// `ShimError::Exec` with Docker's code (126, 127, or 125).
pub async fn exec_start(
    socket: &Path,
    req: ExecRequest,
) -> Result<(ExecStarted, UnixStream), ShimError> {
    use tokio::io::AsyncReadExt;
    let mut stream = connect(socket, &Request::Exec(req)).await?;
    // Byte by byte up to the newline: what follows belongs to the stream.
    let mut line = Vec::new();
    loop {
        let mut b = [0u8; 1];
        let n = stream.read(&mut b).await.map_err(|source| ShimError::Io {
            socket: socket.to_path_buf(),
            source,
        })?;
        if n == 0 {
            return Err(ShimError::NotRunning {
                socket: socket.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the shim closed the exec connection without answering",
                ),
            });
        }
        if b[0] == b'\n' {
            break;
        }
        line.push(b[0]);
        if line.len() > 64 * 1024 {
            return Err(ShimError::Refused(
                "the shim's exec answer is too long".into(),
            ));
        }
    }
    let started: ExecStarted =
        serde_json::from_slice(&line).map_err(|source| ShimError::Protocol {
            what: "ExecStarted",
            line: String::from_utf8_lossy(&line).into_owned(),
            source,
        })?;
    if let Some(message) = started.error {
        return Err(ShimError::Exec {
            message,
            exit_code: started.exit_code.unwrap_or(125),
        });
    }
    Ok((started, stream))
}

/// Block until exec `id` has ended; its exit code (128+N for signal N).
pub async fn exec_wait(socket: &Path, id: &str) -> Result<Exit, ShimError> {
    let v: serde_json::Value =
        request(socket, &Request::ExecWait { id: id.to_string() }, "Exit").await?;
    if v.get("ok").is_some() {
        let ack: Ack = serde_json::from_value(v).map_err(|source| ShimError::Protocol {
            what: "Ack",
            line: String::new(),
            source,
        })?;
        acked(ack)?;
        return Err(ShimError::Refused("the shim acknowledged a wait".into()));
    }
    serde_json::from_value(v.clone()).map_err(|source| ShimError::Protocol {
        what: "Exit",
        line: v.to_string(),
        source,
    })
}

/// Set the window size of exec `id`'s pty.
pub async fn exec_resize(socket: &Path, id: &str, rows: u16, cols: u16) -> Result<(), ShimError> {
    let req = Request::ExecResize {
        id: id.to_string(),
        rows,
        cols,
    };
    acked(request(socket, &req, "Ack").await?)
}
