//! Docker's formats, one home each, shared by the engine and the CLI:
//! image references and their normalisation, sizes and durations as
//! docker prints them, detach-key sequences, `.dockerignore` rules, and the stdout/stderr stream
//! framing of attach, logs and exec.
//!
//! Pure functions on bytes and strings: no I/O beyond the streams handed
//! in, nothing of the engine.

pub mod detach_keys;
pub mod dockerignore;
pub mod humanize;
pub mod reference;
pub mod stdcopy;
pub mod timestamp;
