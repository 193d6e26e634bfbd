//! `/_ping`, `/version`, `/info`.

use super::http::{json, response, ApiResult, Body, API_VERSION, MIN_API_VERSION};
use super::Daemon;
use crate::container::host;
use bollard::models::{
    SystemInfo, SystemInfoCgroupVersionEnum, SystemVersion, SystemVersionComponents,
    SystemVersionPlatform,
};
use hyper::header::{HeaderValue, CACHE_CONTROL, PRAGMA};
use hyper::StatusCode;

pub fn ping(head: bool) -> ApiResult {
    let body = if head {
        Body::empty()
    } else {
        Body::full("OK")
    };
    let mut r = response(StatusCode::OK, "text/plain; charset=utf-8", body);
    r.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    r.headers_mut()
        .insert(PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// Go's GOARCH spelling, which clients compare against.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

pub fn version() -> ApiResult {
    let v = env!("CARGO_PKG_VERSION").to_string();
    let body = SystemVersion {
        platform: Some(SystemVersionPlatform {
            name: "whale".to_string(),
        }),
        components: Some(vec![SystemVersionComponents {
            name: "Engine".to_string(),
            version: v.clone(),
            details: Some(
                [
                    ("ApiVersion", API_VERSION),
                    ("MinAPIVersion", MIN_API_VERSION),
                    ("Os", "linux"),
                    ("Arch", go_arch()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ),
        }]),
        version: Some(v),
        api_version: Some(API_VERSION.to_string()),
        min_api_version: Some(MIN_API_VERSION.to_string()),
        git_commit: Some(String::new()),
        go_version: Some(String::new()),
        os: Some("linux".to_string()),
        arch: Some(go_arch().to_string()),
        kernel_version: Some(host::kernel_version()),
        experimental: Some(false),
        build_time: Some(String::new()),
    };
    json(StatusCode::OK, &body)
}

pub fn info(d: &Daemon) -> ApiResult {
    let all = d.containers.list();
    let running = all.iter().filter(|c| c.state().running()).count() as i64;
    let images = d.images.list().map(|l| l.len() as i64).unwrap_or(0);
    // Rootless without a delegated cgroup enforces no limit (and refuses them).
    let limits = crate::rootless::limits_enforced();
    let body = SystemInfo {
        id: Some(String::new()),
        containers: Some(all.len() as i64),
        containers_running: Some(running),
        containers_paused: Some(0),
        containers_stopped: Some(all.len() as i64 - running),
        images: Some(images),
        driver: Some("overlay2".to_string()),
        driver_status: Some(vec![]),
        docker_root_dir: Some(d.root.display().to_string()),
        memory_limit: Some(limits),
        swap_limit: Some(limits),
        cpu_cfs_period: Some(limits),
        cpu_cfs_quota: Some(limits),
        cpu_shares: Some(limits),
        pids_limit: Some(limits),
        oom_kill_disable: Some(false),
        ipv4_forwarding: Some(false),
        debug: Some(false),
        nfd: Some(0),
        n_goroutines: Some(0),
        system_time: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        logging_driver: Some("json-file".to_string()),
        cgroup_driver: Some(bollard::models::SystemInfoCgroupDriverEnum::CGROUPFS),
        cgroup_version: Some(if host::cgroup_version() == 2 {
            SystemInfoCgroupVersionEnum::_2
        } else {
            SystemInfoCgroupVersionEnum::_1
        }),
        n_events_listener: Some(0),
        kernel_version: Some(host::kernel_version()),
        operating_system: Some(host::operating_system()),
        os_version: Some(String::new()),
        os_type: Some("linux".to_string()),
        architecture: Some(std::env::consts::ARCH.to_string()),
        ncpu: Some(host::ncpu() as i64),
        mem_total: Some(host::mem_total() as i64),
        index_server_address: Some(String::new()),
        name: Some(host::hostname()),
        labels: Some(vec![]),
        experimental_build: Some(false),
        server_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        runtimes: None,
        default_runtime: Some("whale".to_string()),
        live_restore_enabled: Some(true),
        isolation: None,
        init_binary: Some(String::new()),
        security_options: Some(security_options()),
        warnings: Some(crate::rootless::warnings()),
        ..Default::default()
    };
    json(StatusCode::OK, &body)
}

/// Docker's security options, and in rootless mode `name=rootless` (as
/// dockerd says it) with the id maps the engine's namespace has.
fn security_options() -> Vec<String> {
    let mut options: Vec<String> = crate::container::security::INFO_SECURITY_OPTIONS
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Some(rootless) = crate::rootless::info_option() {
        options.push(rootless);
    }
    options
}
