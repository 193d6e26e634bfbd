//! What the life cycle needs from the process it runs in (the daemon): the
//! stores, somewhere to publish Docker's events, and the attach clients
//! waiting for a container to start. A trait, so container/ never sees the
//! daemon and the daemon's other concerns stay out of it.

use super::{Container, Store};
use futures_util::future::BoxFuture;

pub trait Engine: Send + Sync + 'static {
    fn containers(&self) -> &Store;

    fn images(&self) -> &crate::image::Store;

    /// Publish a container event (`create`, `start`, `die`, `destroy`...),
    /// with `extra` attributes beside the container's own.
    fn container_event(&self, c: &Container, action: &str, extra: &[(&str, String)]);

    /// Publish a volume event (`create`, `mount`, `unmount`, `destroy`) for
    /// the volume `name`, with `extra` attributes beside its driver.
    fn volume_event(&self, name: &str, action: &str, extra: &[(&str, String)]);

    /// Connect the attach clients that asked before start. Called once the
    /// shim is ready and before init runs, so they miss no output.
    fn connect_waiting<'a>(&'a self, c: &'a Container) -> BoxFuture<'a, ()>;

    /// Let go of the attach clients waiting for container `id` (its start
    /// failed, or it is being removed): their connections close.
    fn drop_waiting(&self, id: &str);
}
