//! The `whale` verbs, as a client of the daemon's API (bollard).
pub fn main() -> i32 { 0 }
