//! Reaching the daemon: host parsing, the bollard client over a Unix socket,
//! and starting `whale daemon` in the background when nobody answers.
//!
//! The client uses bollard with a small transport of our own (one HTTP/1
//! connection per request, like bollard's own Unix transport) for one
//! reason: `docker run` must know that the daemon has *accepted* its
//! `/wait` request before it starts the container (the docker CLI posts
//! `/wait` synchronously and reads the body in the background). bollard's
//! stream hides that moment; the transport signals it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::{BollardRequest, Docker};
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

/// A request that waits on the daemon (stop -t, wait, attach) may take as
/// long as the container runs: bollard's per-request timeout only bounds the
/// wait for response headers, and the docker CLI has none at all.
const REQUEST_TIMEOUT_SECS: u64 = 365 * 24 * 3600;

/// How long we give a daemon we started to answer `/_ping`.
const DAEMON_START_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid host {host:?}: {reason} (use unix:///path/to/socket or a plain socket path)")]
    BadHost { host: String, reason: String },
    #[error("Cannot connect to the whale daemon at unix://{}: {reason}. Is the daemon running? (start it with 'whale daemon', or let whale start it: use a socket path other than docker's)", socket.display())]
    Unreachable { socket: PathBuf, reason: String },
    #[error("the whale daemon started for unix://{} exited at once ({status}); its log {} ends with:\n{tail}", socket.display(), log.display())]
    DaemonExited {
        socket: PathBuf,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("started the whale daemon for unix://{} but it did not answer within {}s; see its log: {}", socket.display(), DAEMON_START_TIMEOUT.as_secs(), log.display())]
    StartTimeout { socket: PathBuf, log: PathBuf },
    #[error("could not start the whale daemon ({what}): {source}; its log would be {}", log.display())]
    Spawn {
        what: String,
        log: PathBuf,
        source: io::Error,
    },
}

/// Where the CLI talks to: `-H unix:///path`, `-H /path`, WHALE_HOST, or the default.
pub fn parse_host(host: &str) -> Result<PathBuf, ConnectError> {
    let bad = |reason: &str| ConnectError::BadHost {
        host: host.to_string(),
        reason: reason.to_string(),
    };
    let path = if let Some(rest) = host.strip_prefix("unix://") {
        rest
    } else if host.contains("://") {
        return Err(bad("only unix:// sockets are supported"));
    } else {
        host
    };
    if path.is_empty() {
        return Err(bad("the socket path is empty"));
    }
    if !path.starts_with('/') {
        // A relative socket path would change meaning with the working
        // directory; make it absolute now, as the daemon will see it.
        let cwd = std::env::current_dir().map_err(|e| bad(&format!("no current dir: {e}")))?;
        return Ok(cwd.join(path));
    }
    Ok(PathBuf::from(path))
}

/// A connected client plus the signal that a `/wait` request was accepted.
#[derive(Clone)]
pub struct Client {
    pub docker: Docker,
    pub socket: PathBuf,
    /// Notified each time the daemon answered the headers of a `/wait`.
    pub wait_accepted: Arc<Notify>,
}

/// The bollard client over our transport. Does not touch the socket yet.
fn client_for(socket: &Path) -> Result<Client, ConnectError> {
    let wait_accepted = Arc::new(Notify::new());
    let notify = wait_accepted.clone();
    let path = socket.to_path_buf();
    let transport = move |req: BollardRequest| {
        let path = path.clone();
        let notify = notify.clone();
        async move {
            let is_wait = req.uri().path().ends_with("/wait");
            let result = send_over_unix(&path, req).await;
            if is_wait {
                notify.notify_one();
            }
            result
        }
    };
    let docker = Docker::connect_with_custom_transport(
        transport,
        Some("http://localhost"),
        REQUEST_TIMEOUT_SECS,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| ConnectError::Unreachable {
        socket: socket.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(Client {
        docker,
        socket: socket.to_path_buf(),
        wait_accepted,
    })
}

async fn send_over_unix(
    path: &Path,
    req: BollardRequest,
) -> Result<hyper::Response<hyper::body::Incoming>, bollard::errors::Error> {
    let stream = tokio::net::UnixStream::connect(path).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    // The connection task drives the socket (and the upgraded stream of an
    // attach) for as long as the response or the upgrade is alive.
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut req = req;
    if !req.headers().contains_key(hyper::header::HOST) {
        req.headers_mut().insert(
            hyper::header::HOST,
            hyper::header::HeaderValue::from_static("localhost"),
        );
    }
    Ok(sender.send_request(req).await.map_err(io::Error::other)?)
}

impl Client {
    /// GET an API path and return its status and raw body. `docker inspect`
    /// prints the daemon's own JSON (its key order, its nulls); bollard's
    /// typed models would re-order and drop fields, so inspect reads it here.
    pub async fn get_raw(&self, path: &str) -> Result<(u16, bytes::Bytes), bollard::errors::Error> {
        use http_body_util::BodyExt;
        let uri = format!("http://localhost/v{}{path}", self.docker.client_version());
        let req = hyper::Request::get(uri)
            .body(http_body_util::Either::Left(http_body_util::Full::new(
                bytes::Bytes::new(),
            )))
            .map_err(io::Error::other)?;
        let resp = send_over_unix(&self.socket, req).await?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        Ok((status, body))
    }

    /// POST to an API path with these headers and an empty body; the
    /// response is returned as it streams (`/images/create`, `/push`: their
    /// JSON lines carry the layer `id` that bollard's push model drops).
    pub async fn post_streaming(
        &self,
        path_and_query: &str,
        headers: &[(&str, String)],
    ) -> Result<hyper::Response<hyper::body::Incoming>, bollard::errors::Error> {
        let uri = format!(
            "http://localhost/v{}{path_and_query}",
            self.docker.client_version()
        );
        let mut b = hyper::Request::post(uri);
        for (k, v) in headers {
            b = b.header(*k, v.as_str());
        }
        let req = b
            .body(http_body_util::Either::Left(http_body_util::Full::new(
                bytes::Bytes::new(),
            )))
            .map_err(io::Error::other)?;
        send_over_unix(&self.socket, req).await
    }

    /// POST a JSON body to an API path (`/auth`, which bollard lacks) and
    /// return the status and raw answer.
    pub async fn post_json_raw(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(u16, bytes::Bytes), bollard::errors::Error> {
        use http_body_util::BodyExt;
        let uri = format!("http://localhost/v{}{path}", self.docker.client_version());
        let req = hyper::Request::post(uri)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(http_body_util::Either::Left(http_body_util::Full::new(
                bytes::Bytes::from(body.to_string()),
            )))
            .map_err(io::Error::other)?;
        let resp = send_over_unix(&self.socket, req).await?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        Ok((status, body))
    }

    /// `POST /containers/{id}/attach` upgraded to a raw stream, as the docker
    /// CLI hijacks it. We read the bytes ourselves: a tty stream is raw (any
    /// byte may come first), which bollard's frame sniffing can mistake for
    /// a multiplexed header.
    pub async fn attach_raw(&self, id: &str, query: &str) -> Result<RawStream, AttachError> {
        let uri = format!(
            "http://localhost/v{}/containers/{id}/attach?{query}",
            self.docker.client_version()
        );
        let req = hyper::Request::post(uri)
            .header(hyper::header::CONNECTION, "Upgrade")
            .header(hyper::header::UPGRADE, "tcp")
            .body(http_body_util::Either::Left(http_body_util::Full::new(
                bytes::Bytes::new(),
            )))
            .map_err(|e| AttachError::Io(io::Error::other(e)))?;
        let resp = send_over_unix(&self.socket, req)
            .await
            .map_err(|e| AttachError::Io(io::Error::other(e)))?;
        let status = resp.status();
        if !status.is_success() && status != hyper::StatusCode::SWITCHING_PROTOCOLS {
            use http_body_util::BodyExt;
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            #[derive(serde::Deserialize)]
            struct Message {
                message: String,
            }
            let message = serde_json::from_slice::<Message>(&body)
                .map(|m| m.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_string());
            return Err(AttachError::Daemon(message));
        }
        let upgraded = hyper::upgrade::on(resp)
            .await
            .map_err(|e| AttachError::Io(io::Error::other(e)))?;
        Ok(TokioIo::new(upgraded))
    }
}

/// The hijacked attach connection: read the container's output, write its stdin.
pub type RawStream = TokioIo<hyper::upgrade::Upgraded>;

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("Error response from daemon: {0}")]
    Daemon(String),
    #[error("attaching to the container: {0}")]
    Io(io::Error),
}

pub use whale_formats::stdcopy::Demux;

/// Is this error "nobody is listening there"?
fn is_unreachable(err: &bollard::errors::Error) -> bool {
    match err {
        bollard::errors::Error::IOError { err } => matches!(
            err.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
        ),
        _ => false,
    }
}

/// A daemon we may start ourselves: any socket except another engine's.
pub fn may_autostart(socket: &Path) -> bool {
    socket.file_name().and_then(|n| n.to_str()) != Some("docker.sock")
}

/// Connect, negotiate the API version, and start the daemon when the socket
/// is absent or refuses connections (and it is one we may start).
pub async fn connect(socket: &Path, root: &Path) -> Result<Client, ConnectError> {
    let client = client_for(socket)?;
    match negotiate(&client).await {
        Ok(client) => Ok(client),
        Err(err) if is_unreachable(&err) && may_autostart(socket) => {
            start_daemon(socket, root).await?;
            negotiate(&client_for(socket)?)
                .await
                .map_err(|e| ConnectError::Unreachable {
                    socket: socket.to_path_buf(),
                    reason: e.to_string(),
                })
        }
        Err(err) => Err(ConnectError::Unreachable {
            socket: socket.to_path_buf(),
            reason: err.to_string(),
        }),
    }
}

/// `/version` tells the daemon's API version; we speak the lower of the two
/// (the docker CLI does the same with the ping's API-Version header).
async fn negotiate(client: &Client) -> Result<Client, bollard::errors::Error> {
    let docker = client.docker.clone().negotiate_version().await?;
    Ok(Client {
        docker,
        socket: client.socket.clone(),
        wait_accepted: client.wait_accepted.clone(),
    })
}

/// Start `whale daemon --root R -H SOCK` detached from us, then wait for
/// `/_ping`. Several CLIs may race here (20 parallel `whale run`): a lock
/// file next to the daemon's log serialises the starters, and whoever gets
/// it second finds the daemon already answering.
async fn start_daemon(socket: &Path, root: &Path) -> Result<(), ConnectError> {
    let log = root.join("daemon.log");
    let spawn_err = |what: &str, source: io::Error| ConnectError::Spawn {
        what: what.to_string(),
        log: log.clone(),
        source,
    };
    std::fs::create_dir_all(root).map_err(|e| spawn_err("creating the root dir", e))?;
    let lock_path = root.join("daemon.start.lock");
    let _lock = {
        let lock_path = lock_path.clone();
        tokio::task::spawn_blocking(move || whale_linux::fsutil::LockFile::lock(&lock_path))
            .await
            .map_err(|e| spawn_err("waiting for the start lock", io::Error::other(e)))?
            .map_err(|e| spawn_err("taking the start lock", e))?
    };
    if ping(socket).await {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| spawn_err("finding our own binary", e))?;
    // The daemon's words are for the engine's user alone (so is its root).
    let log_file = std::os::unix::fs::OpenOptionsExt::mode(
        std::fs::OpenOptions::new().create(true).append(true),
        0o600,
    )
    .open(&log)
    .map_err(|e| spawn_err("opening the log", e))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| spawn_err("opening the log", e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("daemon")
        .arg("--root")
        .arg(root)
        .arg("-H")
        .arg(socket)
        // Not our working directory: the daemon must not pin it.
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: a Ctrl-C in our terminal must not reach it.
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| spawn_err("spawning", e))?;
    let deadline = Instant::now() + DAEMON_START_TIMEOUT;
    let mut delay = Duration::from_millis(2);
    loop {
        if ping(socket).await {
            // Reap it if it ever exits while we still run; once we exit the
            // daemon is re-parented to init, which reaps it.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(ConnectError::DaemonExited {
                socket: socket.to_path_buf(),
                status: status.to_string(),
                tail: log_tail(&log, 5),
                log,
            });
        }
        if Instant::now() >= deadline {
            return Err(ConnectError::StartTimeout {
                socket: socket.to_path_buf(),
                log,
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

/// The last `n` lines of a log, indented, for an error message.
fn log_tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn ping(socket: &Path) -> bool {
    match client_for(socket) {
        Ok(client) => client.docker.ping().await.is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_like_docker() {
        assert_eq!(
            parse_host("unix:///run/whale/whale.sock").unwrap(),
            PathBuf::from("/run/whale/whale.sock")
        );
        assert_eq!(
            parse_host("/tmp/x.sock").unwrap(),
            PathBuf::from("/tmp/x.sock")
        );
        let rel = parse_host("x.sock").unwrap();
        assert!(rel.is_absolute() && rel.ends_with("x.sock"));
        assert!(matches!(
            parse_host("tcp://127.0.0.1:2375"),
            Err(ConnectError::BadHost { .. })
        ));
        assert!(matches!(
            parse_host("unix://"),
            Err(ConnectError::BadHost { .. })
        ));
    }

    #[test]
    fn never_autostarts_on_dockers_socket() {
        assert!(!may_autostart(Path::new("/var/run/docker.sock")));
        assert!(may_autostart(Path::new("/run/whale/whale.sock")));
    }

    #[test]
    fn absent_socket_is_unreachable() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("none.sock");
        rt.block_on(async {
            let client = client_for(&sock).unwrap();
            let err = client.docker.ping().await.unwrap_err();
            assert!(is_unreachable(&err), "{err:?}");
        });
    }
}
