//! Test harness: see tests/tests/*.rs
