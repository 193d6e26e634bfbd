//! The daemon's side of the shim protocol (see protocol.rs). Async, tokio.
//! CONTRACT (implemented by the shim room):
//!
//! ```ignore
//! pub struct SpawnedShim { /* child pipes */ pub ready: Ready }
//! /// Spawn `whale shim <dir>` (spec.json already written) and read its Ready line.
//! pub async fn spawn(container_dir: &Path) -> Result<SpawnedShim, ShimError>;
//! impl SpawnedShim {
//!     /// Send `start`, read the Started line, drop the pipes.
//!     pub async fn start(self) -> Result<Started, ShimError>;
//! }
//! /// Open a connection and send `req`; the stream is returned for what follows.
//! pub async fn connect(socket: &Path, req: &Request) -> Result<tokio::net::UnixStream, ShimError>;
//! pub async fn wait(socket: &Path) -> Result<Exit, ShimError>;
//! pub async fn signal(socket: &Path, signal: i32) -> Result<(), ShimError>;
//! pub async fn resize(socket: &Path, rows: u16, cols: u16) -> Result<(), ShimError>;
//! pub async fn status(socket: &Path) -> Result<Status, ShimError>;
//! ```
