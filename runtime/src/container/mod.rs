//! Container records, the state machine, names and on-disk state (daemon side).

pub mod state;
