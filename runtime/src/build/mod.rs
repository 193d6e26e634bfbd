//! Dockerfile parser and builder with a layer cache (its own issue).
