//! What the life cycle refuses or fails at. The messages are Docker's where
//! Docker has one (scripts and the tutor match them); api/ gives each
//! variant Docker's status code.

use super::StartFailure;
use crate::image::ImageError;
use crate::shim::client::ShimError;
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("No such container: {0}")]
    NotFound(String),
    #[error("multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: String },
    /// `rename` to a name in use (Docker's 409, its wording).
    #[error("Error when allocating new name: {0}")]
    RenameConflict(String),
    #[error("Container {0} is paused, unpause the container before exec")]
    PausedExec(String),
    #[error("Container {0} is already paused")]
    AlreadyPaused(String),
    #[error("Container {0} is not paused")]
    NotPaused(String),
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    /// A config whale refuses (Docker answers 400), with why.
    #[error("{0}")]
    Invalid(String),
    #[error("network {0} not found (whale knows only none, default, bridge and host)")]
    NoSuchNetwork(String),
    /// The image to create from, with its implied tag.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("{0}")]
    Image(ImageError),
    #[error("Invalid signal: {0}")]
    InvalidSignal(String),
    #[error("Container {0} is not running")]
    NotRunning(String),
    /// `--network container:ID` whose container is not running.
    #[error("cannot join network of a non running container: {0}")]
    JoinNotRunning(String),
    #[error("container {0} is already running")]
    AlreadyRunning(String),
    #[error("container is marked for removal and cannot be started: {0}")]
    MarkedForRemoval(String),
    #[error("removal of container {0} is already in progress")]
    RemovalInProgress(String),
    #[error("You cannot remove a restarting container {0}. Stop the container before attempting removal or force remove")]
    RemoveRestarting(String),
    #[error("You cannot remove a running container {0}. Stop the container before attempting removal or force remove")]
    RemoveRunning(String),
    /// Init never ran; the record keeps the exit code the CLI reports.
    #[error("{}", .0.error)]
    StartFailed(StartFailure),
    /// The run ended but nothing recorded how (its shim died).
    #[error("the shim of container {0} went away without an exit status")]
    ShimDied(String),
    /// The run ended unrecorded because the store's disk is full: said as
    /// such, naming the store, rather than as a dead shim.
    #[error("no space left on device: the store {} is full; remove images or containers you no longer need (whale rmi, whale container prune) or give it more room", .store.display())]
    NoSpace { store: std::path::PathBuf },
    #[error("{context}: {source}")]
    Shim {
        context: String,
        #[source]
        source: ShimError,
    },
    #[error("container {name} did not exit {secs}s after SIGKILL")]
    KillTimeout { name: String, secs: u64 },
    /// The engine itself failed (a task died, a host tool failed).
    #[error("{0}")]
    Internal(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

pub(super) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ContainerError {
    let context = context.into();
    move |source| ContainerError::Io { context, source }
}

pub(super) fn shim_err(context: impl Into<String>) -> impl FnOnce(ShimError) -> ContainerError {
    let context = context.into();
    move |source| ContainerError::Shim { context, source }
}

/// A blocking task that panicked or was cancelled, doing `what`.
pub(super) fn task_err(
    what: impl std::fmt::Display,
) -> impl FnOnce(tokio::task::JoinError) -> ContainerError {
    move |e| ContainerError::Internal(format!("{what}: {e}"))
}
