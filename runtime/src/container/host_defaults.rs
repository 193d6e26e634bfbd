//! What dockerd shows in `inspect`'s HostConfig for what a client left
//! unset. Clients read these keys without checking for them (docker-py's
//! `containers.run()` reads `HostConfig.LogConfig.Type`), so inspect must be
//! as complete as dockerd's, and say what whale actually does: the values
//! below are whale's behaviour, which is Docker's default.

use serde_json::{json, Value};
use whale_linux::mount::{MASKED_PATHS, READONLY_PATHS};

/// `(key, value)` in dockerd 20.10's order, for the keys a record lacks.
pub fn host_config_defaults() -> Vec<(&'static str, Value)> {
    let abs = |paths: &[&str]| -> Value {
        Value::Array(paths.iter().map(|p| json!(format!("/{p}"))).collect())
    };
    vec![
        ("Binds", Value::Null),
        ("ContainerIDFile", json!("")),
        // The only driver whale has (fields.rs refuses any other).
        ("LogConfig", json!({"Type": "json-file", "Config": {}})),
        ("NetworkMode", json!("default")),
        ("PortBindings", Value::Null),
        (
            "RestartPolicy",
            json!({"Name": "no", "MaximumRetryCount": 0}),
        ),
        ("AutoRemove", json!(false)),
        ("VolumeDriver", json!("")),
        ("VolumesFrom", Value::Null),
        ("CapAdd", Value::Null),
        ("CapDrop", Value::Null),
        // whale gives every container its own cgroup namespace.
        ("CgroupnsMode", json!("private")),
        ("Dns", Value::Null),
        ("DnsOptions", Value::Null),
        ("DnsSearch", Value::Null),
        ("ExtraHosts", Value::Null),
        ("GroupAdd", Value::Null),
        ("IpcMode", json!("private")),
        ("Cgroup", json!("")),
        ("Links", Value::Null),
        ("OomScoreAdj", json!(0)),
        ("PidMode", json!("")),
        ("Privileged", json!(false)),
        ("PublishAllPorts", json!(false)),
        ("ReadonlyRootfs", json!(false)),
        ("SecurityOpt", Value::Null),
        ("UTSMode", json!("")),
        ("UsernsMode", json!("")),
        // /dev/shm is a 64 MiB tmpfs (linux::mount).
        ("ShmSize", json!(67_108_864)),
        ("Runtime", json!("whale")),
        ("ConsoleSize", json!([0, 0])),
        ("Isolation", json!("")),
        ("CpuShares", json!(0)),
        ("Memory", json!(0)),
        ("NanoCpus", json!(0)),
        ("CgroupParent", json!("")),
        ("BlkioWeight", json!(0)),
        ("BlkioWeightDevice", Value::Null),
        ("BlkioDeviceReadBps", Value::Null),
        ("BlkioDeviceWriteBps", Value::Null),
        ("BlkioDeviceReadIOps", Value::Null),
        ("BlkioDeviceWriteIOps", Value::Null),
        ("CpuPeriod", json!(0)),
        ("CpuQuota", json!(0)),
        ("CpuRealtimePeriod", json!(0)),
        ("CpuRealtimeRuntime", json!(0)),
        ("CpusetCpus", json!("")),
        ("CpusetMems", json!("")),
        ("Devices", Value::Null),
        ("DeviceCgroupRules", Value::Null),
        ("DeviceRequests", Value::Null),
        ("KernelMemory", json!(0)),
        ("KernelMemoryTCP", json!(0)),
        ("MemoryReservation", json!(0)),
        ("MemorySwap", json!(0)),
        ("MemorySwappiness", Value::Null),
        ("OomKillDisable", json!(false)),
        ("PidsLimit", Value::Null),
        ("Ulimits", Value::Null),
        ("CpuCount", json!(0)),
        ("CpuPercent", json!(0)),
        ("IOMaximumIOps", json!(0)),
        ("IOMaximumBandwidth", json!(0)),
        ("MaskedPaths", abs(MASKED_PATHS)),
        ("ReadonlyPaths", abs(READONLY_PATHS)),
    ]
}
