//! The registry client: whale pulls from and pushes to registries that
//! speak the Docker Registry HTTP API v2 / OCI distribution spec (Debian's
//! `docker-registry`, the CNCF distribution registry, for a class).
//!
//! - `name`: a reference's registry, repository, tag or digest, with
//!   Docker's rules; Docker Hub is refused with what to do instead.
//! - `http`: one request per connection on hyper; `tls`: HTTPS verified
//!   against the system's CA store, or unverified then plain HTTP for
//!   loopback registries and those named by `--insecure-registry`.
//! - `auth`: anonymous, Basic, and Bearer tokens from the challenge's realm.
//! - `client`: one repository's manifests, blobs, uploads and mounts.
//! - `manifest`: Docker v2 schema 2 and OCI manifests and indexes; the
//!   host's platform chosen from a list.
//! - `pull`, `push`: between a registry and the image store, with Docker's
//!   progress lines; `known` remembers which registry blob is which layer,
//!   so a push skips or mounts what the registry already has.
//!
//! Arrows: `api` and `build` call this room; it calls `image` (the store)
//! and nothing above it.

pub mod auth;
pub mod client;
pub mod http;
mod known;
pub mod manifest;
pub mod name;
pub mod progress;
pub mod pull;
pub mod push;
mod tls;

pub use auth::Credentials;
pub use name::RemoteRef;
pub use progress::Progress;

use crate::image::{ImageError, Store};

/// What the daemon was told about registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// `host[:port]`s reached over plain HTTP although not on loopback.
    pub insecure: Vec<String>,
}

impl RegistryConfig {
    /// Loopback registries and those named by `--insecure-registry`
    /// (`host` or `host:port`) may be reached over plain HTTP or TLS
    /// without verification; all others only over verified TLS.
    pub fn is_insecure(&self, registry: &str) -> bool {
        let host = name::host_of(registry);
        name::is_loopback(registry)
            || self
                .insecure
                .iter()
                .any(|i| i == registry || i.as_str() == host)
    }
}

/// Gives the registry room the image store (the daemon holds it).
pub trait HasStore: Send + Sync + 'static {
    fn store(&self) -> &Store;
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("pull access denied for {reference}: the name has no registry, so it means Docker Hub, which whale cannot reach here. Name a registry you can reach (HOST:PORT/NAME[:TAG], e.g. 127.0.0.1:5000/{reference}), or make the image locally: `whale bootstrap busybox` or `whale bootstrap debian` for base images, `whale build`, or `docker save IMAGE | whale load`")]
    NoHub { reference: String },
    #[error("invalid reference format: {reason} (in {reference:?})")]
    BadReference { reference: String, reason: String },
    #[error("registry {registry} is unreachable: {reason}. Check that the registry runs and the address is right")]
    Unreachable { registry: String, reason: String },
    #[error("unauthorized: {registry}: {reason}. Log in first: whale login {registry}")]
    Unauthorized { registry: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadAuth(String),
    #[error("registry protocol error: {0}")]
    Protocol(String),
    #[error(transparent)]
    Store(#[from] ImageError),
    #[error("{0}")]
    Io(String),
}

impl RegistryError {
    /// The HTTP status the daemon answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            RegistryError::NoHub { .. } | RegistryError::NotFound(_) => 404,
            RegistryError::BadReference { .. } | RegistryError::BadAuth(_) => 400,
            RegistryError::Unauthorized { .. } => 401,
            RegistryError::Store(e) => e.status_code(),
            RegistryError::Unreachable { .. }
            | RegistryError::Protocol(_)
            | RegistryError::Io(_) => 500,
        }
    }
}

/// `POST /auth`: check credentials against a registry (`GET /v2/` answered
/// with them).
pub async fn login(
    config: &RegistryConfig,
    server: &str,
    creds: Credentials,
) -> Result<(), RegistryError> {
    let server = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .trim_end_matches("/v2")
        .to_string();
    if server.is_empty() || server.contains('/') {
        return Err(RegistryError::BadReference {
            reference: server,
            reason: "a registry is HOST[:PORT]".into(),
        });
    }
    // Any repository will do for Basic; a token service answers the
    // registry-wide scope Docker asks for at login.
    client::Session::open(config, &server, "whale-login-check", Some(creds), false)
        .await
        .map(|_| ())
}
