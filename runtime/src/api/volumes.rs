//! `/volumes/...`: create, list, inspect, remove and prune, in Docker's
//! JSON shapes, with the `local` driver only; and the `Mounts` a container
//! shows in inspect and `ps`.

use super::http::{json, no_content, ApiError, ApiResult, Query};
use super::Daemon;
use crate::container::mounts::Kind;
use crate::container::volumes::{Volume, VolumeError};
use crate::container::ContainerRecord;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const MAX_BODY: usize = 1 << 20;

impl From<VolumeError> for ApiError {
    fn from(e: VolumeError) -> ApiError {
        let status = match &e {
            VolumeError::NotFound(_) => StatusCode::NOT_FOUND,
            VolumeError::InUse { .. } => StatusCode::CONFLICT,
            VolumeError::InvalidName(_) | VolumeError::Invalid(_) => StatusCode::BAD_REQUEST,
            VolumeError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// A volume as `volume inspect` shows it.
fn volume_json(v: &Volume) -> Value {
    let labels = if v.meta.anonymous && v.meta.labels.is_empty() {
        Value::Null
    } else {
        json!(v.meta.labels)
    };
    json!({
        "CreatedAt": v.meta.created_at,
        "Driver": "local",
        "Labels": labels,
        "Mountpoint": v.mountpoint.display().to_string(),
        "Name": v.name,
        "Options": if v.meta.anonymous { Value::Null } else { json!({}) },
        "Scope": "local",
    })
}

/// A container's mounts in Docker's `MountPoint` shape (tmpfs from
/// `--tmpfs` are not among them, as in Docker).
pub fn mount_points(d: &Daemon, r: &ContainerRecord) -> Vec<Value> {
    r.mounts
        .iter()
        .filter(|m| !m.hidden)
        .map(|m| match m.kind {
            Kind::Bind => json!({
                "Type": "bind",
                "Source": m.source,
                "Destination": m.destination,
                "Mode": m.mode,
                "RW": m.rw,
                "Propagation": m.propagation,
            }),
            Kind::Volume => json!({
                "Type": "volume",
                "Name": m.source,
                "Source": d.containers.volumes().data_dir(&m.source).display().to_string(),
                "Destination": m.destination,
                "Driver": "local",
                "Mode": m.mode,
                "RW": m.rw,
                "Propagation": m.propagation,
            }),
            Kind::Tmpfs => json!({
                "Type": "tmpfs",
                "Source": "",
                "Destination": m.destination,
                "Mode": m.mode,
                "RW": m.rw,
                "Propagation": m.propagation,
            }),
        })
        .collect()
}

/// The same, typed for `ContainerSummary` (`ps`).
pub fn summary_mounts(d: &Daemon, r: &ContainerRecord) -> Vec<bollard::models::MountPoint> {
    mount_points(d, r)
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

fn labels_match(v: &Volume, filters: Option<&[String]>) -> bool {
    filters.is_none_or(|vals| {
        vals.iter().all(|f| match f.split_once('=') {
            Some((k, val)) => v.meta.labels.get(k).map(String::as_str) == Some(val),
            None => v.meta.labels.contains_key(f.as_str()),
        })
    })
}

fn parse_bool_filter(key: &str, vals: &[String]) -> Result<bool, ApiError> {
    match vals.first().map(String::as_str) {
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid filter '{key}={other}': use true or false"
        ))),
        None => Ok(true),
    }
}

pub fn list(d: &Arc<Daemon>, q: &Query) -> ApiResult {
    let f = q.filters()?;
    f.only(&["dangling", "name", "label", "driver"])?;
    let dangling = f
        .get("dangling")
        .map(|v| parse_bool_filter("dangling", v))
        .transpose()?;
    let mut out = Vec::new();
    for v in d.containers.volumes().list() {
        let used = !d.containers.volume_users(&v.name).is_empty();
        if dangling.is_some_and(|want| want == used)
            || !f
                .get("name")
                .is_none_or(|ns| ns.iter().any(|n| v.name.contains(n.as_str())))
            || !f
                .get("driver")
                .is_none_or(|ds| ds.iter().any(|x| x == "local"))
            || !labels_match(&v, f.get("label"))
        {
            continue;
        }
        out.push(volume_json(&v));
    }
    json(
        StatusCode::OK,
        &json!({"Volumes": out, "Warnings": Value::Null}),
    )
}

/// `system df`'s volumes: each as inspect shows it with its `UsageData`
/// (bytes and how many containers use it), and the newer `VolumeUsage`
/// summary (unused volumes' bytes are reclaimable).
pub fn disk_usage(d: &Daemon) -> (Vec<Value>, Value) {
    let (mut active, mut total, mut reclaimable) = (0, 0u64, 0u64);
    let items: Vec<Value> = d
        .containers
        .volumes()
        .list()
        .iter()
        .map(|v| {
            let refs = d.containers.volume_users(&v.name).len();
            let size = dir_size(&v.mountpoint);
            total += size;
            if refs > 0 {
                active += 1;
            } else {
                reclaimable += size;
            }
            let mut j = volume_json(v);
            j["UsageData"] = json!({"RefCount": refs, "Size": size});
            j
        })
        .collect();
    let usage = json!({
        "ActiveCount": active,
        "TotalCount": items.len(),
        "TotalSize": total,
        "Reclaimable": reclaimable,
        "Items": items,
    });
    (items, usage)
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    driver_opts: Option<HashMap<String, String>>,
    labels: Option<HashMap<String, String>>,
    cluster_volume_spec: Option<Value>,
}

pub async fn create(d: &Arc<Daemon>, req: Request<Incoming>) -> ApiResult {
    let bytes = http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?
        .to_bytes();
    let body: CreateBody = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        CreateBody::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!("invalid JSON in the volume request: {e}"))
        })?
    };
    if !matches!(body.driver.as_str(), "" | "local") {
        return Err(ApiError::bad_request(format!(
            "volume driver {:?} is not supported by whale: it has the local driver only",
            body.driver
        )));
    }
    if body.driver_opts.as_ref().is_some_and(|o| !o.is_empty()) {
        return Err(ApiError::bad_request(
            "whale's local volume driver takes no options (--opt): it keeps a plain directory under its root",
        ));
    }
    if body
        .cluster_volume_spec
        .as_ref()
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApiError::bad_request(
            "whale has no cluster volumes (ClusterVolumeSpec)",
        ));
    }
    let volumes = d.containers.volumes();
    let labels = body.labels.unwrap_or_default();
    let (v, _) = if body.name.is_empty() {
        // No name: anonymous, as dockerd since 23 labels it, so `volume
        // prune` (anonymous volumes only since API 1.42) removes it.
        volumes.create(None, labels)?
    } else {
        volumes.create(Some(&body.name), labels)?
    };
    d.emit_volume("create", &v.name, &[]);
    json(StatusCode::CREATED, &volume_json(&v))
}

pub fn inspect(d: &Arc<Daemon>, name: &str) -> ApiResult {
    let v = d.containers.volumes().get(name)?;
    json(StatusCode::OK, &volume_json(&v))
}

pub async fn delete(d: &Arc<Daemon>, name: &str, q: &Query) -> ApiResult {
    let d2 = d.clone();
    let name2 = name.to_string();
    let force = q.bool("force");
    let r = tokio::task::spawn_blocking(move || {
        let users = d2.containers.volume_users(&name2);
        d2.containers.volumes().remove(&name2, users)
    })
    .await
    .map_err(|e| ApiError::internal(format!("removing volume {name}: {e}")))?;
    match r {
        Ok(()) => d.emit_volume("destroy", name, &[]),
        // `--force` forgives a volume that is not there, as Docker.
        Err(VolumeError::NotFound(_)) if force => {}
        Err(e) => return Err(e.into()),
    }
    no_content(StatusCode::NO_CONTENT)
}

fn dir_size(p: &std::path::Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !m.is_dir() {
        return m.len();
    }
    std::fs::read_dir(p)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| dir_size(&e.path()))
        .sum()
}

/// `docker volume prune`: unused anonymous volumes, or with the filter
/// `all=true` every unused volume (Docker since API 1.42).
pub async fn prune(d: &Arc<Daemon>, q: &Query) -> ApiResult {
    let f = q.filters()?;
    f.only(&["label", "all"])?;
    let all = f
        .get("all")
        .map(|v| parse_bool_filter("all", v))
        .transpose()?
        .unwrap_or(false);
    let labels = f.get("label").map(<[String]>::to_vec);
    let d2 = d.clone();
    let (deleted, reclaimed) = tokio::task::spawn_blocking(move || {
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for v in d2.containers.volumes().list() {
            if !(all || v.meta.anonymous) || !labels_match(&v, labels.as_deref()) {
                continue;
            }
            let size = dir_size(&v.mountpoint);
            let users = d2.containers.volume_users(&v.name);
            if d2.containers.volumes().remove(&v.name, users).is_ok() {
                deleted.push(v.name.clone());
                reclaimed += size;
            }
        }
        (deleted, reclaimed)
    })
    .await
    .map_err(|e| ApiError::internal(format!("pruning volumes: {e}")))?;
    for name in &deleted {
        d.emit_volume("destroy", name, &[]);
    }
    json(
        StatusCode::OK,
        &json!({"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}),
    )
}
