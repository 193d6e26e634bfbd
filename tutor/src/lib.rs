//! whaletutor: hands-on Docker lessons checked against a live engine.
//!
//! The tutor talks to engines only over the Docker Engine API (bollard), so
//! every lesson runs on whale or on real Docker.

pub mod base_cache;
pub mod book;
pub mod cgroup;
pub mod checks;
pub mod class;
pub mod cli;
pub mod engine;
pub mod lesson;
pub mod progress;
pub mod render;
pub mod requirements;
pub mod rootless;
pub mod runner;
pub mod setup;
pub mod solve;
pub mod template;
pub mod tools;
pub mod verify;
pub mod watch;
