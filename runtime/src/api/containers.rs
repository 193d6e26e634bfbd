//! `/containers/...`: the HTTP side of create, start, stop, kill, wait,
//! restart and remove (the life cycle itself is container/'s), and list,
//! prune, top and resize (inspect is inspect.rs).

use super::http::{json, no_content, response, ApiError, ApiResult, Body, Filters, Query};
use super::inspect::{networks, state_enum};
use super::Daemon;
use crate::container::{
    self, Container, ContainerError, ContainerRecord, CreateRequest, RunState, Status, StopOptions,
    WaitCondition,
};
use bollard::models::{
    ContainerConfig, ContainerCreateBody, ContainerCreateResponse, ContainerSummary,
    ContainerSummaryHostConfig, ContainerSummaryNetworkSettings, ContainerSummaryStateEnum,
    ContainerTopResponse, HostConfig,
};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::sync::Arc;

/// For exec.rs and stats.rs, which name them from here.
pub use whale_formats::reference::with_default_tag as normalize_ref;

const MAX_CREATE_BODY: usize = 4 << 20;

// ---------------------------------------------------------------- create

fn split_create_body(body: ContainerCreateBody) -> Result<(ContainerConfig, HostConfig), ApiError> {
    let host_config = body.host_config.clone().unwrap_or_default();
    let mut v = serde_json::to_value(&body)
        .map_err(|e| ApiError::internal(format!("re-encoding the create request: {e}")))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("HostConfig");
        o.remove("NetworkingConfig");
    }
    let cfg: ContainerConfig = serde_json::from_value(v)
        .map_err(|e| ApiError::internal(format!("re-decoding the create request: {e}")))?;
    Ok((cfg, host_config))
}

pub async fn create(d: &Arc<Daemon>, q: &Query, req: Request<Incoming>) -> ApiResult {
    let bytes = http_body_util::Limited::new(req.into_body(), MAX_CREATE_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?
        .to_bytes();
    let body: ContainerCreateBody = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request(
            "config cannot be empty in order to create a container",
        ));
    } else {
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!("invalid JSON in the create request: {e}"))
        })?;
        runtime_into_host_config(&mut value);
        // Honour or refuse: a set field whale would ignore is a 400 naming it.
        container::fields::check_create(&value).map_err(ApiError::bad_request)?;
        container::check_restart_policy_name(value.pointer("/HostConfig/RestartPolicy/Name"))?;
        serde_json::from_value(value).map_err(|e| {
            ApiError::bad_request(format!("invalid JSON in the create request: {e}"))
        })?
    };
    let name = q.get("name").filter(|n| !n.is_empty()).map(String::from);
    let (config, host_config) = split_create_body(body)?;
    let req = CreateRequest {
        name,
        config,
        host_config,
    };
    let c = container::create(d, req).await?;
    let mut warnings = vec![];
    if container::ports::discarded(&c.record.host_config) {
        warnings.push(container::ports::HOST_NETWORK_WARNING.to_string());
    }
    json(
        StatusCode::CREATED,
        &ContainerCreateResponse {
            id: c.id().to_string(),
            warnings,
        },
    )
}

// ---------------------------------------------------------------- life cycle

pub async fn start(d: &Arc<Daemon>, id: &str) -> ApiResult {
    let c = d.containers.get(id)?;
    if container::start(d, &c).await? {
        no_content(StatusCode::NO_CONTENT)
    } else {
        no_content(StatusCode::NOT_MODIFIED)
    }
}

fn stop_options(q: &Query) -> Result<StopOptions, ApiError> {
    Ok(StopOptions {
        signal: q.get("signal").map(String::from),
        timeout: q.int("t")?,
    })
}

pub async fn stop(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    if container::stop(d, &c, &stop_options(q)?).await? {
        no_content(StatusCode::NO_CONTENT)
    } else {
        no_content(StatusCode::NOT_MODIFIED)
    }
}

pub async fn restart(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    container::restart(d, &c, &stop_options(q)?).await?;
    no_content(StatusCode::NO_CONTENT)
}

pub async fn kill(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    container::kill(d, &c, q.get("signal"))
        .await
        .map_err(|e| match e {
            ContainerError::NotRunning(_) => {
                ApiError::conflict(format!("Cannot kill container: {id}: {e}"))
            }
            e => e.into(),
        })?;
    no_content(StatusCode::NO_CONTENT)
}

pub fn wait(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = d.containers.get(id)?;
    let cond = match q.get("condition").unwrap_or("") {
        "" | "not-running" => WaitCondition::NotRunning,
        "next-exit" => WaitCondition::NextExit,
        "removed" => WaitCondition::Removed,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid condition: {other:?}: use not-running, next-exit or removed"
            )))
        }
    };
    let done = container::wait(c, cond);
    let (tx, body) = Body::channel();
    tokio::spawn(async move {
        let st = tokio::select! {
            r = done => match r { Some(s) => s, None => return },
            _ = tx.closed() => return,
        };
        // Only a run that ended abnormally carries an error; a failed start
        // was already reported by /start (the CLI would print it twice).
        let error = if st.error.is_empty() || st.status != Status::Exited {
            serde_json::Value::Null
        } else {
            serde_json::json!({ "Message": st.error })
        };
        let line =
            serde_json::json!({ "StatusCode": st.exit_code, "Error": error }).to_string() + "\n";
        let _ = tx.send(line.into()).await;
    });
    Ok(response(StatusCode::OK, "application/json", body))
}

pub async fn delete(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    if q.bool("link") {
        let (d2, id) = (d.clone(), id.to_string());
        tokio::task::spawn_blocking(move || container::links::remove(&d2.containers, &id))
            .await
            .map_err(|e| ApiError::internal(format!("removing the link: {e}")))??;
        return no_content(StatusCode::NO_CONTENT);
    }
    let c = d.containers.get(id)?;
    container::remove(d, &c, q.bool("force"), q.bool("v")).await?;
    no_content(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- list / prune

fn unix_secs(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

fn summary_state(st: &RunState) -> ContainerSummaryStateEnum {
    if st.removing {
        return ContainerSummaryStateEnum::REMOVING;
    }
    if st.restarting {
        return ContainerSummaryStateEnum::RESTARTING;
    }
    match st.status {
        Status::Created => ContainerSummaryStateEnum::CREATED,
        Status::Running if st.paused => ContainerSummaryStateEnum::PAUSED,
        Status::Running => ContainerSummaryStateEnum::RUNNING,
        Status::Exited => ContainerSummaryStateEnum::EXITED,
    }
}

/// The COMMAND of `ps` as Docker builds it: an argument with a space is
/// wrapped in single quotes (`sh -c 'echo hi; sleep 9'`), nothing else is.
fn command_line(r: &ContainerRecord) -> String {
    if r.args.is_empty() {
        return r.path.clone();
    }
    let args: Vec<String> = r
        .args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect();
    format!("{} {}", r.path, args.join(" "))
}

fn name_matches(name: &str, pattern: &str) -> bool {
    // Docker treats the value as a regexp on "/name"; anchors are what
    // scripts use (`^/web$`), plain substrings are the common case.
    let full = format!("/{name}");
    let (anchored_start, p) = match pattern.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let (anchored_end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    let candidates = [full.as_str(), name];
    candidates
        .iter()
        .any(|n| match (anchored_start, anchored_end) {
            (true, true) => *n == p,
            (true, false) => n.starts_with(p),
            (false, true) => n.ends_with(p),
            (false, false) => n.contains(p),
        })
}

fn matches_filters(
    d: &Daemon,
    c: &Container,
    st: &RunState,
    f: &Filters,
    ancestors: &[String],
) -> bool {
    let any = |k: &str, pred: &dyn Fn(&str) -> bool| {
        f.get(k).is_none_or(|vals| vals.iter().any(|v| pred(v)))
    };
    let r = &c.record;
    let name = c.name();
    let labels = r.config.labels.clone().unwrap_or_default();
    let _ = d;
    any("id", &|v| r.id.starts_with(v))
        && any("name", &|v| name_matches(&name, v))
        && any("status", &|v| {
            v == state_enum(st).to_string() || (v == "removing" && st.removing)
        })
        && any("health", &|v| {
            let h = c.health_status();
            match v {
                "none" => h.is_none(),
                v => h.is_some_and(|h| h.to_string() == v),
            }
        })
        && any("exited", &|v| {
            st.status == Status::Exited && v.parse::<i32>().ok() == Some(st.exit_code)
        })
        && f.get("label").is_none_or(|vals| {
            // Every label filter must hold (Docker ANDs them).
            vals.iter().all(|v| match v.split_once('=') {
                Some((k, val)) => labels.get(k).map(String::as_str) == Some(val),
                None => labels.contains_key(v.as_str()),
            })
        })
        && any("volume", &|v| {
            r.mounts.iter().any(|m| m.source == v || m.destination == v)
        })
        && (f.get("ancestor").is_none()
            || ancestors.iter().any(|a| *a == r.image_id || *a == r.image))
}

pub fn list(d: &Arc<Daemon>, q: &Query) -> ApiResult {
    let f = q.filters()?;
    f.only(&[
        "id", "name", "status", "label", "ancestor", "exited", "health", "volume",
    ])?;
    let limit = q.int("limit")?.filter(|l| *l > 0);
    let all = q.bool("all") || limit.is_some();
    let mut ancestors = Vec::new();
    for a in f.get("ancestor").unwrap_or(&[]) {
        ancestors.push(a.clone());
        if let Ok(img) = d.images.resolve(a) {
            ancestors.push(img.id.clone());
        }
    }
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    let containers = d.containers.list();
    let link_names = container::links::names_by_target(&containers);
    for c in containers.iter() {
        let st = c.state();
        if st.removed || (!all && !st.running() && !st.restarting) {
            continue;
        }
        if !matches_filters(d, c, &st, &f, &ancestors) {
            continue;
        }
        let r = &c.record;
        let hc = c.host_config();
        out.push(ContainerSummary {
            id: Some(r.id.clone()),
            names: Some(
                std::iter::once(format!("/{}", c.name()))
                    .chain(link_names.get(&c.name()).into_iter().flatten().cloned())
                    .collect(),
            ),
            image: Some(r.image.clone()),
            image_id: Some(r.image_id.clone()),
            command: Some(command_line(r)),
            created: Some(unix_secs(&r.created)),
            ports: Some(container::ports::summary(
                &r.config,
                &st.ports,
                st.running(),
            )),
            labels: Some(r.config.labels.clone().unwrap_or_default()),
            state: Some(summary_state(&st)),
            status: Some(container::status_string(&st, c.health_status(), now)),
            host_config: Some(ContainerSummaryHostConfig {
                network_mode: hc.network_mode.clone(),
                annotations: None,
            }),
            network_settings: Some(ContainerSummaryNetworkSettings {
                networks: Some(networks(&hc)),
            }),
            mounts: Some(super::volumes::summary_mounts(d, r)),
            ..Default::default()
        });
        if limit.is_some_and(|l| out.len() as i64 >= l) {
            break;
        }
    }
    json(StatusCode::OK, &out)
}

/// `docker container prune`: remove every container that is not running.
pub async fn prune(d: &Arc<Daemon>, q: &Query) -> ApiResult {
    let f = q.filters()?;
    f.only(&["label", "until"])?;
    let until = f
        .get("until")
        .and_then(|v| v.first())
        .map(|v| super::events::parse_timestamp(v))
        .transpose()?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0i64;
    for c in d.containers.list() {
        let st = c.state();
        if st.running() || st.restarting || st.removing || st.removed {
            continue;
        }
        let created = chrono::DateTime::parse_from_rfc3339(&c.record.created)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(0);
        if until.is_some_and(|u| created > u) {
            continue;
        }
        let labels = c.record.config.labels.clone().unwrap_or_default();
        let labelled = f.get("label").is_none_or(|vals| {
            vals.iter().all(|v| match v.split_once('=') {
                Some((k, val)) => labels.get(k).map(String::as_str) == Some(val),
                None => labels.contains_key(v.as_str()),
            })
        });
        if !labelled {
            continue;
        }
        let _guard = c.op_lock.lock().await;
        if c.state().running() {
            continue;
        }
        // What the container wrote is what removing it gives back.
        let upper = c.paths.upper();
        let bytes = tokio::task::spawn_blocking(move || super::images_io::dir_size(&upper))
            .await
            .unwrap_or(0);
        if container::remove_stopped(d, &c).await.is_ok() {
            deleted.push(c.id().to_string());
            reclaimed += bytes;
        }
    }
    json(
        StatusCode::OK,
        &bollard::models::ContainerPruneResponse {
            containers_deleted: Some(deleted),
            space_reclaimed: Some(reclaimed),
        },
    )
}

// ---------------------------------------------------------------- top / resize

pub(super) fn running_container(d: &Daemon, id: &str) -> Result<Arc<Container>, ApiError> {
    Ok(container::running(&d.containers, id)?)
}

pub async fn top(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = running_container(d, id)?;
    let ps_args = q.get("ps_args").unwrap_or("").trim().to_string();
    let (titles, rows) = tokio::task::spawn_blocking(move || -> Result<_, ContainerError> {
        let pids = container::processes(&c)?;
        if ps_args.is_empty() {
            let titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];
            return Ok((
                titles.iter().map(|s| s.to_string()).collect(),
                crate::container::top::ps_rows(&pids),
            ));
        }
        container::ps(&ps_args, &pids)
    })
    .await
    .map_err(|e| ApiError::internal(format!("listing processes: {e}")))??;
    let body = ContainerTopResponse {
        titles: Some(titles),
        processes: Some(rows),
    };
    json(StatusCode::OK, &body)
}

pub async fn resize(d: &Arc<Daemon>, id: &str, q: &Query) -> ApiResult {
    let c = running_container(d, id)?;
    let h = q.int("h")?.unwrap_or(0);
    let w = q.int("w")?.unwrap_or(0);
    if !(0..=u16::MAX as i64).contains(&h) || !(0..=u16::MAX as i64).contains(&w) {
        return Err(ApiError::bad_request(format!("invalid size {h}x{w}")));
    }
    container::resize(&c, h as u16, w as u16).await?;
    no_content(StatusCode::OK)
}

/// docker-py sends `create_container(runtime=...)` beside the config, where
/// dockerd's decoder drops it; the user asked for a runtime all the same, so
/// whale checks it as `HostConfig.Runtime` (when that is unset).
fn runtime_into_host_config(body: &mut serde_json::Value) {
    let Some(o) = body.as_object_mut() else {
        return;
    };
    let Some(rt) = o.remove("Runtime") else {
        return;
    };
    if container::fields::is_unset(&rt) {
        return;
    }
    let hc = o.entry("HostConfig").or_insert(serde_json::Value::Null);
    if hc.is_null() {
        *hc = serde_json::json!({});
    }
    if let Some(hc) = hc.as_object_mut() {
        if hc.get("Runtime").is_none_or(container::fields::is_unset) {
            hc.insert("Runtime".into(), rt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ps_command_quotes_args_with_spaces_as_docker() {
        let mut r = ContainerRecord {
            id: "a".repeat(64),
            name: "t".into(),
            created: "2026-01-01T00:00:00Z".into(),
            image_id: "sha256:x".into(),
            image: "busybox".into(),
            path: "sh".into(),
            args: vec!["-c".into(), "echo hello from curl; sleep 3600".into()],
            config: ContainerConfig::default(),
            host_config: HostConfig::default(),
            mounts: vec![],
            start_failure: None,
            build_step: false,
            restart_count: 0,
            manually_stopped: false,
        };
        assert_eq!(command_line(&r), "sh -c 'echo hello from curl; sleep 3600'");
        r.args = vec![];
        assert_eq!(command_line(&r), "sh");
        r.args = vec!["1000".into()];
        assert_eq!(command_line(&r), "sh 1000");
    }

    #[test]
    fn names_filter_anchors() {
        assert!(name_matches("web", "web"));
        assert!(name_matches("web1", "eb"));
        assert!(name_matches("web", "^/web$"));
        assert!(name_matches("web", "^web$"));
        assert!(!name_matches("web1", "^/web$"));
    }

    #[test]
    fn image_refs_normalize() {
        assert_eq!(normalize_ref("localhost:5000/x"), "localhost:5000/x:latest");
    }
}
