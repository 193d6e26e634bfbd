//! `--network container:NAME`: a container that joins another one's network
//! namespace, as dockerd does it. whale gives every container a namespace
//! of its own (loopback only), so joining one is honoured: the shim enters
//! the other container's namespace instead of making a new one. As in
//! dockerd, the joined container lends its hostname too, the options that
//! would configure a network of its own (hostname, DNS, extra hosts,
//! published ports, links) conflict, and the other container must be
//! running when this one starts.

use super::{Container, ContainerError, StartFailure, Store};
use crate::shim::spec::NetworkMode;
use bollard::models::{ContainerConfig, HostConfig};

/// The container a `container:NAME` network mode names, if it is one.
pub fn joined(hc: &HostConfig) -> Option<&str> {
    hc.network_mode.as_deref()?.strip_prefix("container:")
}

/// Check a create request's `container:NAME` mode with dockerd's messages,
/// store the other container by id (when it exists: dockerd accepts a name
/// it does not know yet, and fails the start) and take its hostname.
pub fn validate_create(
    cfg: &mut ContainerConfig,
    hc: &mut HostConfig,
    store: &Store,
) -> Result<(), ContainerError> {
    let Some(name) = joined(hc).map(str::to_string) else {
        return Ok(());
    };
    let conflict = |what: &str| {
        Err(ContainerError::Invalid(format!(
            "conflicting options: {what}"
        )))
    };
    if name.is_empty() {
        return Err(ContainerError::Invalid(
            "Invalid network mode: invalid container format container:<name|id>".into(),
        ));
    }
    if cfg.hostname.as_deref().is_some_and(|h| !h.is_empty()) {
        return conflict("hostname and the network mode");
    }
    if hc.links.as_ref().is_some_and(|l| !l.is_empty()) {
        return conflict(
            "container type network can't be used with links. This would result in undefined behavior",
        );
    }
    if [&hc.dns, &hc.dns_search, &hc.dns_options]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()))
    {
        return conflict("dns and the network mode");
    }
    if hc.extra_hosts.as_ref().is_some_and(|v| !v.is_empty()) {
        return conflict("custom host-to-IP mapping and the network mode");
    }
    if hc.port_bindings.as_ref().is_some_and(|p| !p.is_empty())
        || hc.publish_all_ports.unwrap_or(false)
    {
        return conflict("port publishing and the container type network mode");
    }
    if let Ok(other) = store.get(&name) {
        hc.network_mode = Some(format!("container:{}", other.id()));
        cfg.hostname = Some(hostname_of(&other));
    }
    Ok(())
}

fn hostname_of(c: &Container) -> String {
    c.record
        .config
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| c.short_id().to_string())
}

/// Before a start: the container whose network `hc` joins must be there
/// and running (dockerd's 404 and 409).
pub fn check_joinable(hc: &HostConfig, store: &Store) -> Result<(), ContainerError> {
    let Some(name) = joined(hc) else {
        return Ok(());
    };
    let other = store.get(name)?;
    if !other.state().running() {
        return Err(ContainerError::JoinNotRunning(other.id().to_string()));
    }
    Ok(())
}

/// The network the shim gives `c` when it starts (checked by
/// [`check_joinable`] first; the other container may still stop between).
pub fn at_start(
    c: &Container,
    hc: &HostConfig,
    store: &Store,
) -> Result<NetworkMode, StartFailure> {
    if hc.network_mode.as_deref() == Some("host") {
        return Ok(NetworkMode::Host);
    }
    let Some(name) = joined(hc) else {
        return Ok(NetworkMode::Loopback);
    };
    let fail = |error: String| StartFailure {
        exit_code: 125,
        error,
    };
    let other = store.get(name).map_err(|e| fail(e.to_string()))?;
    if other.id() == c.id() {
        return Err(fail("cannot join own network".into()));
    }
    let st = other.state();
    if !st.running() || st.pid <= 0 {
        return Err(fail(format!(
            "cannot join network of a non running container: {}",
            other.id()
        )));
    }
    Ok(NetworkMode::Join { pid: st.pid })
}
