//! Honour or refuse: every field a client may send in a create, update or
//! exec body, and whether whale carries it out.
//!
//! The daemon used to decode bodies into bollard's models and read only the
//! fields it knew, so `--read-only` or `--cap-drop ALL` were stored, shown by
//! `inspect` and silently ignored. Now each body is walked as raw JSON before
//! it is decoded: a field that is set (anything but its neutral value) must
//! be one whale honours, or the request is refused with a 400 that names the
//! field, the docker flag behind it and what whale offers instead. A field
//! whale has never heard of is refused too when it is set, so a newer
//! client's option cannot slip through unnoticed. `tests::every_model_field_has_a_status`
//! walks bollard's models (Docker's API spec) and fails on any field missing
//! from these tables.

use serde_json::Value;

/// What whale does with one field when a client sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Carried out (or, for client-side fields, left to the client as
    /// dockerd does).
    Honoured,
    /// Refused with this reason when set to anything but its neutral value.
    Refused(&'static str),
}

/// One field of a request body.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Its key in Docker's JSON.
    pub name: &'static str,
    /// The docker CLI flag that sets it, or "" for API-only fields.
    pub flag: &'static str,
    pub status: Status,
    /// Whether a value means "not asked for" (clients send defaults).
    neutral: fn(&Value) -> bool,
}

const fn honoured(name: &'static str, flag: &'static str) -> Field {
    Field {
        name,
        flag,
        status: Status::Honoured,
        neutral: is_unset,
    }
}

const fn refused(name: &'static str, flag: &'static str, why: &'static str) -> Field {
    Field {
        name,
        flag,
        status: Status::Refused(why),
        neutral: is_unset,
    }
}

const fn refused_unless(
    name: &'static str,
    flag: &'static str,
    why: &'static str,
    neutral: fn(&Value) -> bool,
) -> Field {
    Field {
        name,
        flag,
        status: Status::Refused(why),
        neutral,
    }
}

/// null, false, 0, "", [] and {}: what clients send for an option the user
/// did not give. A map with a key is set even when the key's value is empty:
/// `Volumes: {"/data": {}}` asks for an anonymous volume.
pub fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn unset_or_str(v: &Value, ok: &[&str]) -> bool {
    is_unset(v) || v.as_str().is_some_and(|s| ok.contains(&s))
}

/// `[]` means "mask nothing" to dockerd, so only null is neutral.
fn null_only(v: &Value) -> bool {
    v.is_null()
}

fn swappiness_unset(v: &Value) -> bool {
    is_unset(v) || v.as_i64() == Some(-1)
}

fn cgroupns_unset(v: &Value) -> bool {
    // whale always gives a container its own cgroup namespace.
    unset_or_str(v, &["private"])
}

fn userns_unset(v: &Value) -> bool {
    // whale maps no user namespace: root inside is root outside, as
    // dockerd without userns-remap.
    unset_or_str(v, &["host"])
}

fn isolation_unset(v: &Value) -> bool {
    unset_or_str(v, &["default"])
}

const NO_BLKIO: &str =
    "whale sets no block-I/O limits; it limits --memory, --cpus, --cpu-shares and --pids-limit";
const NO_RT: &str = "whale sets no real-time CPU budget; use --cpus or --cpu-shares";
const WINDOWS: &str = "it is a Windows-only option in Docker too";
const NO_DEVICES: &str =
    "whale allows Docker's default device nodes, those given with --device, or all with --privileged";

/// The create body's own fields (the container's `Config`).
pub const CONFIG: &[Field] = &[
    honoured("Hostname", "--hostname"),
    refused(
        "Domainname",
        "--domainname",
        "whale sets the container's hostname only (--hostname)",
    ),
    honoured("User", "--user"),
    honoured("AttachStdin", "--attach"),
    honoured("AttachStdout", "--attach"),
    honoured("AttachStderr", "--attach"),
    // Metadata, as in Docker: inspect shows them.
    honoured("ExposedPorts", "--expose"),
    honoured("Tty", "--tty"),
    honoured("OpenStdin", "--interactive"),
    honoured("StdinOnce", ""),
    honoured("Env", "--env"),
    honoured("Cmd", ""),
    // Run as execs on schedule (container/health.rs).
    honoured("Healthcheck", "--health-cmd"),
    // Windows-only in dockerd: it changes nothing on Linux there either.
    honoured("ArgsEscaped", ""),
    honoured("Image", ""),
    // Anonymous volumes (container/mounts.rs).
    honoured("Volumes", "--volume"),
    honoured("WorkingDir", "--workdir"),
    honoured("Entrypoint", "--entrypoint"),
    // Every whale container without host networking is loopback-only.
    honoured("NetworkDisabled", ""),
    // Stored in the container's config and carried by commit, as dockerd.
    honoured("OnBuild", ""),
    honoured("Labels", "--label"),
    honoured("StopSignal", "--stop-signal"),
    honoured("StopTimeout", "--stop-timeout"),
    honoured("Shell", ""),
];

/// `HostConfig` of a create body.
pub const HOST_CONFIG: &[Field] = &[
    honoured("CpuShares", "--cpu-shares"),
    honoured("Memory", "--memory"),
    refused(
        "CgroupParent",
        "--cgroup-parent",
        "whale places every container's cgroup under its own parent",
    ),
    refused("BlkioWeight", "--blkio-weight", NO_BLKIO),
    refused("BlkioWeightDevice", "--blkio-weight-device", NO_BLKIO),
    refused("BlkioDeviceReadBps", "--device-read-bps", NO_BLKIO),
    refused("BlkioDeviceWriteBps", "--device-write-bps", NO_BLKIO),
    refused("BlkioDeviceReadIOps", "--device-read-iops", NO_BLKIO),
    refused("BlkioDeviceWriteIOps", "--device-write-iops", NO_BLKIO),
    refused(
        "CpuPeriod",
        "--cpu-period",
        "use --cpus, which whale turns into a CFS quota itself",
    ),
    refused(
        "CpuQuota",
        "--cpu-quota",
        "use --cpus, which whale turns into a CFS quota itself",
    ),
    refused("CpuRealtimePeriod", "--cpu-rt-period", NO_RT),
    refused("CpuRealtimeRuntime", "--cpu-rt-runtime", NO_RT),
    // The cpuset cgroup, checked against the host (container/cgroup_options.rs).
    honoured("CpusetCpus", "--cpuset-cpus"),
    honoured("CpusetMems", "--cpuset-mems"),
    // Host nodes under /dev, allowed in the devices cgroup (privileges.rs).
    honoured("Devices", "--device"),
    // The v1 devices cgroup; refused on v2 by container/cgroup_options.rs.
    honoured("DeviceCgroupRules", "--device-cgroup-rule"),
    refused(
        "DeviceRequests",
        "--gpus",
        "whale has no GPU support (nor other device requests); --privileged gives a container the host's device nodes",
    ),
    refused(
        "MemoryReservation",
        "--memory-reservation",
        "use --memory, a hard limit",
    ),
    honoured("MemorySwap", "--memory-swap"),
    // v1's memory.swappiness; refused on v2 by container/cgroup_options.rs.
    honoured("MemorySwappiness", "--memory-swappiness"),
    honoured("NanoCpus", "--cpus"),
    refused(
        "OomKillDisable",
        "--oom-kill-disable",
        "a container over its --memory limit is killed by the kernel, always",
    ),
    honoured("Init", "--init"),
    honoured("PidsLimit", "--pids-limit"),
    // Checked by create (container/privileges.rs), set by the init.
    honoured("Ulimits", "--ulimit"),
    refused("CpuCount", "--cpu-count", WINDOWS),
    refused("CpuPercent", "--cpu-percent", WINDOWS),
    refused("IOMaximumIOps", "--io-maxiops", WINDOWS),
    refused("IOMaximumBandwidth", "--io-maxbandwidth", WINDOWS),
    // Binds and named or anonymous volumes; what whale cannot do (other
    // propagation, SELinux labels) is refused by container/mounts.rs.
    honoured("Binds", "--volume"),
    // The CLI writes that file; dockerd ignores the field too.
    honoured("ContainerIDFile", "--cidfile"),
    // json-file (max-file only) and none; the rest refused by
    // container/log_config.rs, naming the driver or option.
    honoured("LogConfig", "--log-driver/--log-opt"),
    // Checked by create: none, default, bridge (as default), host and
    // container:NAME (container/network.rs).
    honoured("NetworkMode", "--network"),
    // Served by the shim's user-space proxy (tcp and udp; sctp is refused by create).
    honoured("PortBindings", "--publish"),
    // Docker's restart manager (container/restart.rs).
    honoured("RestartPolicy", "--restart"),
    honoured("AutoRemove", "--rm"),
    refused_unless(
        "VolumeDriver",
        "--volume-driver",
        "whale has the local volume driver only",
        |v| unset_or_str(v, &["local"]),
    ),
    // The other containers' binds and volumes (container/volumes_from.rs).
    honoured("VolumesFrom", "--volumes-from"),
    // type bind, volume and tmpfs; the rest refused by container/mounts.rs.
    honoured("Mounts", "--mount"),
    honoured("ConsoleSize", ""),
    refused(
        "Annotations",
        "--annotation",
        "whale passes no annotations to a runtime",
    ),
    // container/privileges.rs: Docker's capability arithmetic.
    honoured("CapAdd", "--cap-add"),
    honoured("CapDrop", "--cap-drop"),
    refused_unless(
        "CgroupnsMode",
        "--cgroupns",
        "every whale container has its own cgroup namespace (private)",
        cgroupns_unset,
    ),
    // Written into the container's resolv.conf and hosts by the shim.
    honoured("Dns", "--dns"),
    honoured("DnsOptions", "--dns-option"),
    honoured("DnsSearch", "--dns-search"),
    // host-gateway is refused by create: there is no bridge.
    honoured("ExtraHosts", "--add-host"),
    honoured("GroupAdd", "--group-add"),
    // private, shareable, none and host; container:<id> refused by create.
    honoured("IpcMode", "--ipc"),
    refused(
        "Cgroup",
        "",
        "whale places every container in its own cgroup",
    ),
    // Recorded as dockerd does without a bridge; checked by
    // container/links.rs, which refuses them on the default network.
    honoured("Links", "--link"),
    refused(
        "OomScoreAdj",
        "--oom-score-adj",
        "whale leaves the OOM score as the kernel sets it",
    ),
    // private and host; container:<id> refused by create.
    honoured("PidMode", "--pid"),
    honoured("Privileged", "--privileged"),
    honoured("PublishAllPorts", "--publish-all"),
    honoured("ReadonlyRootfs", "--read-only"),
    // Validated by create: seccomp profiles and no-new-privileges are
    // honoured, anything else refused there, naming it.
    honoured("SecurityOpt", "--security-opt"),
    refused(
        "StorageOpt",
        "--storage-opt",
        "whale's overlay store has no per-container options",
    ),
    honoured("Tmpfs", "--tmpfs"),
    honoured("UTSMode", "--uts"),
    refused_unless(
        "UsernsMode",
        "--userns",
        "whale maps no user namespace (host only)",
        userns_unset,
    ),
    honoured("ShmSize", "--shm-size"),
    // Namespaced ones only, checked by create as runc checks them.
    honoured("Sysctls", "--sysctl"),
    // whale's own runtime, or runc (Docker's default, which whale's shim
    // stands in for); others refused by create.
    honoured("Runtime", "--runtime"),
    refused_unless("Isolation", "--isolation", WINDOWS, isolation_unset),
    refused_unless(
        "MaskedPaths",
        "",
        "whale masks Docker's default paths",
        null_only,
    ),
    refused_unless(
        "ReadonlyPaths",
        "",
        "whale makes Docker's default paths read-only",
        null_only,
    ),
];

const NO_ENDPOINTS: &str =
    "whale has no bridge networks: a container is loopback-only (none) or on the host's network";

/// One endpoint of `NetworkingConfig.EndpointsConfig`.
pub const ENDPOINT: &[Field] = &[
    refused("IPAMConfig", "--ip", NO_ENDPOINTS),
    refused("Links", "--link", NO_ENDPOINTS),
    refused("MacAddress", "--mac-address", NO_ENDPOINTS),
    refused("Aliases", "--network-alias", NO_ENDPOINTS),
    refused("DriverOpts", "--network", NO_ENDPOINTS),
    refused("GwPriority", "--network", NO_ENDPOINTS),
    refused("NetworkID", "", NO_ENDPOINTS),
    refused("EndpointID", "", NO_ENDPOINTS),
    refused("Gateway", "", NO_ENDPOINTS),
    refused("IPAddress", "--ip", NO_ENDPOINTS),
    refused("IPPrefixLen", "", NO_ENDPOINTS),
    refused("IPv6Gateway", "", NO_ENDPOINTS),
    refused("GlobalIPv6Address", "--ip6", NO_ENDPOINTS),
    refused("GlobalIPv6PrefixLen", "", NO_ENDPOINTS),
    refused("DNSNames", "", NO_ENDPOINTS),
];

/// The body of `POST /containers/{id}/update`.
pub const UPDATE: &[Field] = &[
    honoured("CpuShares", "--cpu-shares"),
    honoured("Memory", "--memory"),
    honoured("MemorySwap", "--memory-swap"),
    honoured("NanoCpus", "--cpus"),
    honoured("PidsLimit", "--pids-limit"),
    refused(
        "CgroupParent",
        "",
        "a running container's cgroup cannot move",
    ),
    refused("BlkioWeight", "--blkio-weight", NO_BLKIO),
    refused("BlkioWeightDevice", "", NO_BLKIO),
    refused("BlkioDeviceReadBps", "", NO_BLKIO),
    refused("BlkioDeviceWriteBps", "", NO_BLKIO),
    refused("BlkioDeviceReadIOps", "", NO_BLKIO),
    refused("BlkioDeviceWriteIOps", "", NO_BLKIO),
    refused("CpuPeriod", "--cpu-period", "use --cpus"),
    refused("CpuQuota", "--cpu-quota", "use --cpus"),
    refused("CpuRealtimePeriod", "--cpu-rt-period", NO_RT),
    refused("CpuRealtimeRuntime", "--cpu-rt-runtime", NO_RT),
    refused(
        "CpusetCpus",
        "--cpuset-cpus",
        "whale does not pin containers to CPUs; use --cpus",
    ),
    refused(
        "CpusetMems",
        "--cpuset-mems",
        "whale does not pin containers to memory nodes",
    ),
    refused("Devices", "", NO_DEVICES),
    refused("DeviceCgroupRules", "", NO_DEVICES),
    refused("DeviceRequests", "", "whale has no device-request support"),
    refused(
        "MemoryReservation",
        "--memory-reservation",
        "use --memory, a hard limit",
    ),
    refused_unless(
        "MemorySwappiness",
        "",
        "whale leaves the kernel's swappiness as it is",
        swappiness_unset,
    ),
    refused(
        "OomKillDisable",
        "",
        "a container over its --memory limit is killed by the kernel, always",
    ),
    refused("Init", "", "--init is chosen when a container is created"),
    refused(
        "Ulimits",
        "",
        "a container's ulimits are set when it is created (--ulimit), never changed",
    ),
    refused("CpuCount", "", WINDOWS),
    refused("CpuPercent", "", WINDOWS),
    refused("IOMaximumIOps", "", WINDOWS),
    refused("IOMaximumBandwidth", "", WINDOWS),
    // Docker's restart manager (container/restart.rs).
    honoured("RestartPolicy", "--restart"),
];

/// The body of `POST /containers/{id}/exec`.
pub const EXEC: &[Field] = &[
    honoured("AttachStdin", "--interactive"),
    honoured("AttachStdout", ""),
    honoured("AttachStderr", ""),
    honoured("ConsoleSize", ""),
    // The shim scans an exec client's input for them.
    honoured("DetachKeys", "--detach-keys"),
    honoured("Tty", "--tty"),
    honoured("Env", "--env"),
    honoured("Cmd", ""),
    // Every capability (shim/exec.rs); the container's seccomp filter,
    // masks and devices still hold, as with dockerd.
    honoured("Privileged", "--privileged"),
    honoured("User", "--user"),
    honoured("WorkingDir", "--workdir"),
    // Not in Docker's spec, but docker-py sends the container's id here and
    // dockerd ignores it: the URL names the container.
    honoured("Container", ""),
];

/// The body of `POST /exec/{id}/start`.
pub const EXEC_START: &[Field] = &[
    honoured("Detach", "--detach"),
    honoured("Tty", "--tty"),
    honoured("ConsoleSize", ""),
];

/// Networks a container may name in `NetworkingConfig.EndpointsConfig`.
const KNOWN_NETWORKS: &[&str] = &["default", "bridge", "none", "host"];

/// Why whale will not take a body: the field, as a path in the body, with
/// its flag and what to do instead.
pub fn refusal(path: &str, field: Option<&Field>) -> String {
    match field {
        Some(f) => {
            let why = match f.status {
                Status::Refused(why) => why,
                Status::Honoured => "",
            };
            let flag = if f.flag.is_empty() {
                String::new()
            } else {
                format!(" ({})", f.flag)
            };
            format!("whale does not support {path}{flag}: {why}")
        }
        None => format!(
            "whale does not know the field {path}: leave it out (whale refuses options it would otherwise ignore)"
        ),
    }
}

/// Walk one JSON object against a table; `prefix` names where it sits.
/// `skip` lists keys checked elsewhere.
fn walk(body: &Value, table: &[Field], prefix: &str, skip: &[&str]) -> Result<(), String> {
    let Some(obj) = body.as_object() else {
        return Ok(());
    };
    for (key, value) in obj {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let path = format!("{prefix}{key}");
        match table.iter().find(|f| f.name == key) {
            Some(f) => {
                if matches!(f.status, Status::Refused(_)) && !(f.neutral)(value) {
                    return Err(refusal(&path, Some(f)));
                }
            }
            None if is_unset(value) => {}
            None => return Err(refusal(&path, None)),
        }
    }
    Ok(())
}

/// A create body (`POST /containers/create`), before it is decoded.
pub fn check_create(body: &Value) -> Result<(), String> {
    walk(body, CONFIG, "", &["HostConfig", "NetworkingConfig"])?;
    if let Some(hc) = body.get("HostConfig") {
        walk(hc, HOST_CONFIG, "HostConfig.", &[])?;
    }
    let network_mode = body
        .pointer("/HostConfig/NetworkMode")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(nc) = body.get("NetworkingConfig") {
        walk(
            nc,
            &[honoured("EndpointsConfig", "--network")],
            "NetworkingConfig.",
            &["EndpointsConfig"],
        )?;
        if let Some(eps) = nc.get("EndpointsConfig").and_then(Value::as_object) {
            for (net, settings) in eps {
                if !KNOWN_NETWORKS.contains(&net.as_str()) && net != network_mode {
                    return Err(format!(
                        "network {net} not found (whale knows only none, default, bridge and host)"
                    ));
                }
                walk(
                    settings,
                    ENDPOINT,
                    &format!("NetworkingConfig.EndpointsConfig.{net}."),
                    &[],
                )?;
            }
        }
    }
    Ok(())
}

/// An update body (`POST /containers/{id}/update`).
pub fn check_update(body: &Value) -> Result<(), String> {
    walk(body, UPDATE, "", &[])
}

/// An exec create body (`POST /containers/{id}/exec`).
pub fn check_exec(body: &Value) -> Result<(), String> {
    walk(body, EXEC, "", &[])
}

/// An exec start body (`POST /exec/{id}/start`).
pub fn check_exec_start(body: &Value) -> Result<(), String> {
    walk(body, EXEC_START, "", &[])
}

/// dockerd decodes bodies with Go's JSON, which matches keys whatever their
/// case (docker-py sends exec's `detachKeys`); serde matches them exactly.
/// The top-level keys of `body` that match a field of `table` but for case
/// take the table's spelling, so they are checked and decoded as dockerd
/// would.
pub fn canonical_keys(body: &mut Value, table: &[Field]) {
    let Some(o) = body.as_object_mut() else {
        return;
    };
    let renames: Vec<(String, &'static str)> = o
        .keys()
        .filter_map(|k| {
            table
                .iter()
                .find(|f| f.name != k && f.name.eq_ignore_ascii_case(k))
                .map(|f| (k.clone(), f.name))
        })
        .collect();
    for (from, to) in renames {
        if let Some(v) = o.remove(&from) {
            o.entry(to.to_string()).or_insert(v);
        }
    }
}

#[cfg(test)]
mod tests;
