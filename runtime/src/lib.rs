//! whale: a minimal but real container engine.
//!
//! Rooms (see DESIGN.md): arrows point one way:
//! `cli -> api(client side)`, `api -> container -> image`,
//! `container -> shim -> linux`, `build -> image + container`.

pub mod api;
pub mod build;
pub mod container;
pub mod image;
pub mod paths;
pub mod registry;
pub mod rootless;
pub mod shim;

pub use whale_formats::humanize;
/// The kernel room is its own crate (`whale-linux`), so its arrows are
/// compile-time facts; these names keep `crate::linux::...` paths short.
pub use whale_linux as linux;
pub use whale_linux::fsutil;
