//! whaletutor: hands-on Docker lessons checked against a live engine.
//!
//! The tutor talks to engines only over the Docker Engine API (bollard), so
//! every lesson runs on whale or on real Docker.

pub mod lesson;
pub mod template;
