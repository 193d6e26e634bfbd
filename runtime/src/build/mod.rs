//! Dockerfile parser and builder with a layer cache.

pub mod dockerfile;
