//! `/networks`: the two networks whale has, `host` (the host's namespace)
//! and `none` (a namespace with loopback only, which is also what the
//! default mode, `default`/`bridge`, gives here), in Docker's shapes.
//! Creating, removing, connecting and disconnecting are refused: whale
//! makes no bridges (DESIGN.md, Networking).

use super::http::{json, ApiError, ApiResult, Query};
use super::inspect::networks;
use super::Daemon;
use serde_json::{json, Value};
use sha2::Digest as _;
use std::sync::Arc;

/// (name, driver) of each network, as `docker network ls` lists them.
const NETWORKS: &[(&str, &str)] = &[("host", "host"), ("none", "null")];

fn network_id(name: &str) -> String {
    hex::encode(sha2::Sha256::digest(format!("whale network {name}")))
}

/// When the daemon's root was made: the networks exist since then.
fn created(d: &Daemon) -> String {
    let t = std::fs::metadata(&d.root)
        .and_then(|m| m.created().or_else(|_| m.modified()))
        .unwrap_or(std::time::UNIX_EPOCH);
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn resource(d: &Daemon, name: &str, driver: &str, with_containers: bool) -> Value {
    let mut containers = serde_json::Map::new();
    if with_containers {
        for c in d.containers.list() {
            if !c.state().running() || !networks(&c.record.host_config).contains_key(name) {
                continue;
            }
            containers.insert(
                c.id().to_string(),
                json!({"Name": c.record.name, "EndpointID": "", "MacAddress": "",
                       "IPv4Address": "", "IPv6Address": ""}),
            );
        }
    }
    json!({
        "Name": name,
        "Id": network_id(name),
        "Created": created(d),
        "Scope": "local",
        "Driver": driver,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": []},
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": {},
        "Labels": {},
    })
}

fn find(name_or_id: &str) -> Option<(&'static str, &'static str)> {
    NETWORKS.iter().copied().find(|(name, _)| {
        *name == name_or_id || (!name_or_id.is_empty() && network_id(name).starts_with(name_or_id))
    })
}

fn matches(f: &super::http::Filters, name: &str, driver: &str) -> bool {
    let any = |k: &str, ok: &dyn Fn(&str) -> bool| f.get(k).is_none_or(|v| v.iter().any(|x| ok(x)));
    any("name", &|x| name.contains(x))
        && any("id", &|x| network_id(name).starts_with(x))
        && any("driver", &|x| x == driver)
        && any("scope", &|x| x == "local")
        && any("type", &|x| x == "builtin")
        && f.get("label").is_none()
        && f.get("dangling")
            .is_none_or(|v| v.iter().all(|x| x == "false" || x == "0"))
}

pub fn list(d: &Daemon, q: &Query) -> ApiResult {
    let f = q.filters()?;
    f.only(&["name", "id", "driver", "scope", "type", "label", "dangling"])?;
    let out: Vec<Value> = NETWORKS
        .iter()
        .filter(|(name, driver)| matches(&f, name, driver))
        .map(|(name, driver)| resource(d, name, driver, false))
        .collect();
    json(hyper::StatusCode::OK, &out)
}

pub fn inspect(d: &Arc<Daemon>, name: &str) -> ApiResult {
    match find(name) {
        Some((name, driver)) => json(hyper::StatusCode::OK, &resource(d, name, driver, true)),
        None => Err(ApiError::not_found(format!(
            "network {name} not found (whale has host and none; the default mode is loopback only, listed as none)"
        ))),
    }
}

/// `docker network prune`: whale has only the built-in networks, which are
/// never pruned, so there is never anything to delete.
pub fn prune(q: &Query) -> ApiResult {
    q.filters()?.only(&["until", "label", "label!"])?;
    json(hyper::StatusCode::OK, &json!({"NetworksDeleted": []}))
}

pub fn refuse(what: &str) -> ApiResult {
    Err(ApiError::bad_request(format!(
        "network {what} is not supported by whale: it makes no bridges or virtual interfaces; containers use --network none (loopback only, the default) or --network host"
    )))
}
