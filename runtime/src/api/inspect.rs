//! `GET /containers/{id}/json`: a container in Docker's inspect shape, key
//! by key in Docker's order, with what Docker prints for what is unset
//! (templates such as `{{.HostConfig.Memory}}` rely on it).

use super::http::{json, ApiError, ApiResult};
use super::Daemon;
use crate::container::{RunState, Status, ZERO_TIME};
use bollard::models::{
    ContainerInspectResponse, ContainerState, ContainerStateStatusEnum, DriverData, HostConfig,
};
use hyper::StatusCode;
use std::collections::HashMap;
use std::sync::Arc;

/// A timestamp in whatever type bollard was built with (String, chrono or
/// time), parsed the way bollard itself parses it.
pub fn bollard_date(s: &str) -> Option<bollard::models::BollardDate> {
    serde_json::from_value::<ContainerInspectResponse>(serde_json::json!({ "Created": s }))
        .ok()
        .and_then(|r| r.created)
}

pub(super) fn state_enum(st: &RunState) -> ContainerStateStatusEnum {
    if st.removing {
        return ContainerStateStatusEnum::REMOVING;
    }
    if st.restarting {
        return ContainerStateStatusEnum::RESTARTING;
    }
    match st.status {
        Status::Created => ContainerStateStatusEnum::CREATED,
        Status::Running if st.paused => ContainerStateStatusEnum::PAUSED,
        Status::Running => ContainerStateStatusEnum::RUNNING,
        Status::Exited => ContainerStateStatusEnum::EXITED,
    }
}

/// What Docker prints for a Config key the request left out.
#[derive(Clone, Copy)]
enum Unset {
    /// `omitempty`: the key is left out.
    Omit,
    EmptyString,
    False,
    Null,
    EmptyMap,
}

/// Docker's container Config, key by key in its order, with what it prints
/// when unset. A container created from a sparse JSON body (curl) then
/// inspects as on Docker, and `{{.Config.Tty}}` prints `false`, not
/// `<no value>`.
const CONFIG_KEYS: &[(&str, Unset)] = &[
    ("Hostname", Unset::EmptyString),
    ("Domainname", Unset::EmptyString),
    ("User", Unset::EmptyString),
    ("AttachStdin", Unset::False),
    ("AttachStdout", Unset::False),
    ("AttachStderr", Unset::False),
    ("ExposedPorts", Unset::Omit),
    ("Tty", Unset::False),
    ("OpenStdin", Unset::False),
    ("StdinOnce", Unset::False),
    ("Env", Unset::Null),
    ("Cmd", Unset::Null),
    ("Healthcheck", Unset::Omit),
    ("ArgsEscaped", Unset::Omit),
    ("Image", Unset::EmptyString),
    ("Volumes", Unset::Null),
    ("WorkingDir", Unset::EmptyString),
    ("Entrypoint", Unset::Null),
    ("NetworkDisabled", Unset::Omit),
    ("MacAddress", Unset::Omit),
    ("OnBuild", Unset::Null),
    ("Labels", Unset::EmptyMap),
    ("StopSignal", Unset::Omit),
    ("StopTimeout", Unset::Omit),
    ("Shell", Unset::Omit),
];

fn docker_config_shape(
    cfg: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (k, unset) in CONFIG_KEYS {
        let v = match (cfg.get(*k), unset) {
            (Some(v), _) => v.clone(),
            (None, Unset::Omit) => continue,
            (None, Unset::EmptyString) => serde_json::json!(""),
            (None, Unset::False) => serde_json::json!(false),
            (None, Unset::Null) => serde_json::Value::Null,
            (None, Unset::EmptyMap) => serde_json::json!({}),
        };
        out.insert(k.to_string(), v);
    }
    // Anything newer than this list keeps its value, after Docker's keys.
    for (k, v) in cfg {
        if !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

pub fn inspect(d: &Arc<Daemon>, id: &str) -> ApiResult {
    let c = d.containers.get(id)?;
    let r = &c.record;
    let hc = c.host_config();
    let st = c.state();
    let lower = d
        .images
        .resolve(&r.image_id)
        .and_then(|img| d.images.layer_dirs(&img))
        .map(|dirs| {
            c.paths
                .lower_dirs(dirs)
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap_or_default();
    let p = &c.paths;
    let graph = DriverData {
        name: "overlay2".to_string(),
        data: [
            ("LowerDir", lower),
            ("UpperDir", p.upper().display().to_string()),
            ("WorkDir", p.work().display().to_string()),
            ("MergedDir", p.merged().display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    };
    let body = ContainerInspectResponse {
        id: Some(r.id.clone()),
        created: bollard_date(&r.created),
        path: Some(r.path.clone()),
        args: Some(r.args.clone()),
        state: Some(ContainerState {
            status: Some(state_enum(&st)),
            // Docker counts a container waiting to restart as running.
            running: Some(st.running() || st.restarting),
            paused: Some(st.paused),
            restarting: Some(st.restarting),
            oom_killed: Some(st.oom_killed),
            dead: Some(false),
            pid: Some(st.pid as i64),
            exit_code: Some(st.exit_code as i64),
            error: Some(st.error.clone()),
            started_at: Some(
                st.started_at
                    .clone()
                    .unwrap_or_else(|| ZERO_TIME.to_string()),
            ),
            finished_at: Some(
                st.finished_at
                    .clone()
                    .unwrap_or_else(|| ZERO_TIME.to_string()),
            ),
            health: c.health(),
        }),
        image: Some(r.image_id.clone()),
        resolv_conf_path: Some(String::new()),
        hostname_path: Some(String::new()),
        hosts_path: Some(String::new()),
        log_path: Some(p.log().display().to_string()),
        name: Some(format!("/{}", c.name())),
        restart_count: Some(c.restart_count() as i64),
        driver: Some("overlay2".to_string()),
        platform: Some("linux".to_string()),
        mount_label: Some(String::new()),
        process_label: Some(String::new()),
        app_armor_profile: Some(String::new()),
        exec_ids: None,
        host_config: Some(HostConfig {
            links: hc
                .links
                .as_deref()
                .map(|l| crate::container::links::shown(l, &c.name())),
            ..hc.clone()
        }),
        graph_driver: Some(graph),
        mounts: None,
        config: Some(r.config.clone()),
        // Serialized last, below, with the fields bollard no longer has.
        network_settings: None,
        ..Default::default()
    };
    // serde_json keeps keys in insertion order (preserve_order): bollard's
    // field order, which is Docker's.
    let mut v = serde_json::to_value(&body)
        .map_err(|e| ApiError::internal(format!("encoding the container: {e}")))?;
    if let Some(cfg) = v.get_mut("Config").and_then(|c| c.as_object_mut()) {
        *cfg = docker_config_shape(cfg);
    }
    if let Some(o) = v.as_object_mut() {
        // Docker prints ExecIDs (null when none) just before HostConfig.
        let ids = d.execs.unfinished_of(c.id());
        let ids = if ids.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!(ids)
        };
        let at = o.keys().position(|k| k == "HostConfig").unwrap_or(o.len());
        o.shift_insert(at, "ExecIDs".to_string(), ids);
        let mounts = super::volumes::mount_points(d, r);
        let at = o.keys().position(|k| k == "Config").unwrap_or(o.len());
        o.shift_insert(at, "Mounts".to_string(), serde_json::json!(mounts));
    }
    if let Some(hc) = v.get_mut("HostConfig").and_then(|h| h.as_object_mut()) {
        // Docker prints every field, zero when unset: templates such as
        // `{{.HostConfig.Memory}}` and clients such as docker-py (which
        // reads `LogConfig.Type`) rely on it.
        for (k, val) in crate::container::host_defaults::host_config_defaults() {
            hc.entry(k).or_insert(val);
        }
        // The docker CLI sends `{"Type": ""}` for "the default", which
        // dockerd shows as the driver it used; fields.rs admits no other.
        if let Some(lc) = hc.get_mut("LogConfig").and_then(|l| l.as_object_mut()) {
            if lc
                .get("Type")
                .and_then(|t| t.as_str())
                .unwrap_or("")
                .is_empty()
            {
                lc.insert("Type".into(), serde_json::json!("json-file"));
            }
            if lc.get("Config").is_none_or(|c| c.is_null()) {
                lc.insert("Config".into(), serde_json::json!({}));
            }
        }
    }
    let mut settings = LegacyNetworkSettings::for_host_config(&hc);
    settings.ports =
        crate::container::ports::network_settings_ports(&r.config, &st.ports, st.running());
    let ns = serde_json::to_value(settings)
        .map_err(|e| ApiError::internal(format!("encoding the container: {e}")))?;
    if let Some(o) = v.as_object_mut() {
        // Last, as Docker prints it.
        o.insert("NetworkSettings".to_string(), ns);
    }
    json(StatusCode::OK, &v)
}

/// NetworkSettings in Docker's order, with the pre-1.44 top-level fields
/// that templates still read (`{{.NetworkSettings.IPAddress}}`), empty as
/// for Docker's `none`.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyNetworkSettings {
    bridge: String,
    #[serde(rename = "SandboxID")]
    sandbox_id: String,
    hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    link_local_ipv6_prefix_len: u8,
    ports: bollard::models::PortMap,
    sandbox_key: String,
    #[serde(rename = "EndpointID")]
    endpoint_id: String,
    gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    global_ipv6_prefix_len: u8,
    #[serde(rename = "IPAddress")]
    ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    ipv6_gateway: String,
    mac_address: String,
    networks: HashMap<String, bollard::models::EndpointSettings>,
}

impl LegacyNetworkSettings {
    fn for_host_config(hc: &HostConfig) -> Self {
        LegacyNetworkSettings {
            bridge: String::new(),
            sandbox_id: String::new(),
            hairpin_mode: false,
            link_local_ipv6_address: String::new(),
            link_local_ipv6_prefix_len: 0,
            ports: Default::default(),
            sandbox_key: String::new(),
            endpoint_id: String::new(),
            gateway: String::new(),
            global_ipv6_address: String::new(),
            global_ipv6_prefix_len: 0,
            ip_address: String::new(),
            ip_prefix_len: 0,
            ipv6_gateway: String::new(),
            mac_address: String::new(),
            networks: networks(hc),
        }
    }
}

/// The one network a container is on: the host's, or none (its own
/// namespace with only loopback, which is what Docker calls `none`).
pub(super) fn networks(hc: &HostConfig) -> HashMap<String, bollard::models::EndpointSettings> {
    // On another container's network it has no endpoint of its own
    // (dockerd shows `{}`).
    if hc
        .network_mode
        .as_deref()
        .is_some_and(|m| m.starts_with("container:"))
    {
        return HashMap::new();
    }
    let name = if hc.network_mode.as_deref() == Some("host") {
        "host"
    } else {
        "none"
    };
    let endpoint = bollard::models::EndpointSettings {
        network_id: Some(String::new()),
        endpoint_id: Some(String::new()),
        gateway: Some(String::new()),
        ip_address: Some(String::new()),
        ip_prefix_len: Some(0),
        ipv6_gateway: Some(String::new()),
        global_ipv6_address: Some(String::new()),
        global_ipv6_prefix_len: Some(0),
        mac_address: Some(String::new()),
        ..Default::default()
    };
    HashMap::from([(name.to_string(), endpoint)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_config_inspects_with_docker_keys_in_order() {
        // What `curl -d '{"Image":"busybox","Cmd":["sh"],"Labels":{..}}'` stores.
        let cfg = serde_json::json!({
            "Hostname": "c2946d0c60e9", "Cmd": ["sh"], "Image": "busybox",
            "Labels": {"made-by": "curl"}, "StopSignal": "SIGQUIT"
        });
        let out = docker_config_shape(cfg.as_object().unwrap());
        let keys: Vec<&str> = out.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Hostname",
                "Domainname",
                "User",
                "AttachStdin",
                "AttachStdout",
                "AttachStderr",
                "Tty",
                "OpenStdin",
                "StdinOnce",
                "Env",
                "Cmd",
                "Image",
                "Volumes",
                "WorkingDir",
                "Entrypoint",
                "OnBuild",
                "Labels",
                "StopSignal"
            ]
        );
        assert_eq!(out["Tty"], serde_json::json!(false));
        assert_eq!(out["Labels"], serde_json::json!({"made-by": "curl"}));
        assert_eq!(out["Entrypoint"], serde_json::Value::Null);
    }

    #[test]
    fn bollard_dates_roundtrip() {
        let d = bollard_date("2024-01-02T03:04:05.123456789Z");
        assert!(d.is_some());
    }
}
