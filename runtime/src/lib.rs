//! whale: a minimal but real container engine.
//!
//! Rooms (see DESIGN.md): arrows point one way:
//! `cli -> api(client side)`, `api -> container -> image`,
//! `container -> shim -> linux`, `build -> image + container`.

pub mod api;
pub mod build;
pub mod cli;
pub mod container;
pub mod fsutil;
pub mod humanize;
pub mod image;
pub mod linux;
pub mod paths;
pub mod shim;
