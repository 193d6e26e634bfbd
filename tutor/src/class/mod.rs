//! The instructor's side: a registry for the class (`whaletutor class
//! registry start|stop|status|push`) and the student's
//! `setup --from-registry`. The registry is Debian's `docker-registry`
//! run as a detached process (`server`); images go to and from it through
//! the engine's own pull and push (`images`); the tutor itself only asks
//! the registry whether it answers and what it holds (`http`).

pub mod command;
pub mod http;
pub mod images;
pub mod server;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ClassError {
    #[error("cannot find Debian's docker-registry ({}{}): install it with `sudo apt-get install docker-registry` (WHALETUTOR_REGISTRY_BIN names another one)", server::REGISTRY_BIN, std::env::var("WHALETUTOR_REGISTRY_BIN").map(|b| format!(", nor WHALETUTOR_REGISTRY_BIN={b}")).unwrap_or_default())]
    NoRegistryBinary,
    #[error("--addr {addr}: {reason}; give IP:PORT, e.g. 127.0.0.1:5000 (this machine only) or 0.0.0.0:5000 (every interface, for a class)")]
    BadAddr { addr: String, reason: String },
    #[error("cannot listen on {addr}: {detail}; choose another port with --addr (is a registry already running there? `whaletutor class registry status --dir DIR`)")]
    CannotBind { addr: String, detail: String },
    #[error("a class registry already runs from {} (pid {pid}, on {addr}): `whaletutor class registry stop --dir {}` first", dir.display(), dir.display())]
    AlreadyRunning {
        dir: PathBuf,
        pid: i32,
        addr: String,
    },
    #[error("the class registry did not start: {detail} (its log: {})", log.display())]
    StartFailed { detail: String, log: PathBuf },
    #[error("the class registry (pid {pid}) did not stop, even after SIGKILL")]
    StopFailed { pid: i32 },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the class registry {registry} does not answer ({detail}). Is it running? On the instructor's machine: `whaletutor class registry status --dir DIR`; check the address and that port is open between the machines")]
    Unreachable { registry: String, detail: String },
    #[error("the class registry {registry} has no {image}: on the instructor's machine run `whaletutor class registry push --addr {registry}` (it pushes every course image), then run this again")]
    NotInRegistry { registry: String, image: String },
    #[error("pushing {image} to {registry} failed: {detail}")]
    Push {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("pulling {image} from the class registry {registry} failed: {detail}")]
    Pull {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("--from-registry {registry}: {reason}; give HOST:PORT, e.g. 192.0.2.10:5000 (the address the instructor gave)")]
    BadRegistry { registry: String, reason: String },
    #[error(transparent)]
    Setup(#[from] crate::setup::SetupError),
}
