//! The tables against Docker's API models (bollard's, generated from
//! Docker's spec), and the walk against bodies real clients send.

use super::*;
use bollard::models::{
    ContainerCreateBody, ContainerUpdateBody, EndpointSettings, ExecConfig, ExecStartConfig,
    HostConfig,
};
use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::json;

/// The JSON keys of a model: serde hands a struct's field list to
/// `deserialize_struct`, so a deserializer that stops there reads it.
fn model_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Grab(std::cell::Cell<Option<&'static [&'static str]>>);
    impl<'de> de::Deserializer<'de> for &Grab {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.set(Some(fields));
            Err(de::Error::custom("fields read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let grab = Grab(std::cell::Cell::new(None));
    let _ = T::deserialize(&grab);
    grab.0
        .get()
        .unwrap_or_else(|| panic!("{} is not a struct", std::any::type_name::<T>()))
}

/// Fields that clients send although Docker's spec has no such field, and
/// that dockerd ignores: docker-py's exec create names the `Container`.
const CLIENT_EXTRAS: &[&str] = &["Container"];

/// Fields of a model missing from a table, and table entries the model
/// does not have (a typo would make an entry that guards nothing).
fn mismatches(model: &[&str], table: &[Field], skip: &[&str]) -> Vec<String> {
    let mut out = vec![];
    for m in model.iter().filter(|m| !skip.contains(m)) {
        if !table.iter().any(|f| f.name == *m) {
            out.push(format!(
                "{m}: in Docker's model, neither honoured nor refused"
            ));
        }
    }
    for f in table {
        if !model.contains(&f.name) && !CLIENT_EXTRAS.contains(&f.name) {
            out.push(format!("{}: in the table, not in Docker's model", f.name));
        }
    }
    out
}

#[test]
fn every_model_field_has_a_status() {
    let mut bad = vec![];
    let create = model_fields::<ContainerCreateBody>();
    assert!(create.contains(&"Cmd") && create.contains(&"HostConfig"));
    bad.extend(mismatches(
        create,
        CONFIG,
        &["HostConfig", "NetworkingConfig"],
    ));
    bad.extend(mismatches(model_fields::<HostConfig>(), HOST_CONFIG, &[]));
    bad.extend(mismatches(
        model_fields::<EndpointSettings>(),
        ENDPOINT,
        &[],
    ));
    bad.extend(mismatches(
        model_fields::<ContainerUpdateBody>(),
        UPDATE,
        &[],
    ));
    bad.extend(mismatches(model_fields::<ExecConfig>(), EXEC, &[]));
    bad.extend(mismatches(
        model_fields::<ExecStartConfig>(),
        EXEC_START,
        &[],
    ));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_walker_catches_a_field_missing_from_a_table() {
    // The check above must be able to fail: a table short of one field.
    let short: Vec<Field> = HOST_CONFIG[1..].to_vec();
    let m = mismatches(model_fields::<HostConfig>(), &short, &[]);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].starts_with(HOST_CONFIG[0].name), "{m:?}");
}

/// A value that is not neutral for most fields of any type.
fn samples() -> Vec<Value> {
    vec![
        json!(true),
        json!(7),
        json!("x"),
        json!(["x"]),
        json!({"x": "y"}),
        json!([{"x": "y"}]),
    ]
}

/// Every refused field, set, is refused with its name in the message; the
/// same value in an honoured field gets past this check.
fn refuses_set_fields(
    table: &[Field],
    wrap: impl Fn(&str, Value) -> Value,
    check: fn(&Value) -> Result<(), String>,
) {
    for f in table {
        let mut refused_once = false;
        for v in samples() {
            let body = wrap(f.name, v.clone());
            let got = check(&body);
            match f.status {
                Status::Refused(why) => {
                    if (f.neutral)(&v) {
                        assert!(got.is_ok(), "{}={v}: neutral but refused: {got:?}", f.name);
                        continue;
                    }
                    let msg = got.expect_err(&format!("{}={v} was accepted", f.name));
                    assert!(msg.contains(f.name), "{msg}");
                    assert!(msg.contains(why), "{msg}");
                    refused_once = true;
                }
                Status::Honoured => {
                    assert!(
                        got.is_ok(),
                        "{}={v} is honoured but refused: {got:?}",
                        f.name
                    )
                }
            }
        }
        if matches!(f.status, Status::Refused(_)) {
            assert!(refused_once, "{}: no sample value was refused", f.name);
        }
    }
}

#[test]
fn set_refused_fields_are_refused_by_name() {
    refuses_set_fields(CONFIG, |k, v| json!({ k: v }), check_create);
    refuses_set_fields(
        HOST_CONFIG,
        |k, v| json!({"Image": "busybox", "HostConfig": { k: v }}),
        check_create,
    );
    refuses_set_fields(
        ENDPOINT,
        |k, v| json!({"NetworkingConfig": {"EndpointsConfig": {"none": { k: v }}}}),
        check_create,
    );
    refuses_set_fields(UPDATE, |k, v| json!({ k: v }), check_update);
    refuses_set_fields(EXEC, |k, v| json!({ k: v }), check_exec);
    refuses_set_fields(EXEC_START, |k, v| json!({ k: v }), check_exec_start);
}

/// What the docker CLI 28 sent on the wire (captured from a fake daemon at
/// API 1.41) for `docker create --network none busybox` and
/// `docker create -it busybox sh`: defaults everywhere, none a request.
const DOCKER_CLI_BODIES: [&str; 2] = [
    r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"none","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{}}}"#,
    r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Tty":true,"OpenStdin":true,"StdinOnce":true,"Env":null,"Cmd":["sh"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}"#,
];

#[test]
fn what_the_docker_cli_sends_by_default_passes() {
    for raw in DOCKER_CLI_BODIES {
        let body: Value = serde_json::from_str(raw).unwrap();
        assert_eq!(check_create(&body), Ok(()), "{raw}");
    }
}

#[test]
fn refusals_name_the_field_the_flag_and_the_way_out() {
    let body = json!({"Image": "busybox", "HostConfig": {"CpuRealtimePeriod": 1000}});
    let msg = check_create(&body).unwrap_err();
    assert!(
        msg.contains("HostConfig.CpuRealtimePeriod (--cpu-rt-period)"),
        "{msg}"
    );
    let body = json!({"HostConfig": {"DeviceRequests": [{"Count": -1}]}});
    let msg = check_create(&body).unwrap_err();
    assert!(msg.contains("--gpus") && msg.contains("GPU"), "{msg}");
}

#[test]
fn unknown_fields_are_refused_only_when_set() {
    assert_eq!(check_create(&json!({"MacAddress": ""})), Ok(()));
    let msg = check_create(&json!({"MacAddress": "02:42:ac:11:00:02"})).unwrap_err();
    assert!(msg.contains("MacAddress"), "{msg}");
    let msg = check_create(&json!({"HostConfig": {"KernelMemory": 1024}})).unwrap_err();
    assert!(msg.contains("HostConfig.KernelMemory"), "{msg}");
}

#[test]
fn neutral_values_of_special_fields() {
    for hc in [
        json!({"RestartPolicy": {"Name": "no"}}),
        json!({"RestartPolicy": {"Name": ""}}),
        json!({"LogConfig": {"Type": "json-file", "Config": {}}}),
        json!({"IpcMode": "private"}),
        json!({"IpcMode": "shareable"}),
        // Checked by create (container/privileges.rs), not here.
        json!({"IpcMode": "host"}),
        json!({"CapDrop": ["ALL"]}),
        json!({"CgroupnsMode": "private"}),
        json!({"UsernsMode": "host"}),
        json!({"MemorySwappiness": -1}),
        json!({"Isolation": "default"}),
    ] {
        assert_eq!(check_create(&json!({ "HostConfig": hc })), Ok(()), "{hc}");
    }
    for hc in [json!({"CgroupnsMode": "host"}), json!({"MaskedPaths": []})] {
        assert!(check_create(&json!({ "HostConfig": hc })).is_err(), "{hc}");
    }
    // Honoured now: restart policies and health checks pass the table
    // (their values are checked by create, with Docker's messages).
    for hc in [
        json!({"RestartPolicy": {"Name": "always"}}),
        json!({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}),
    ] {
        assert_eq!(check_create(&json!({ "HostConfig": hc })), Ok(()), "{hc}");
    }
    for hc in [
        json!({"Test": ["NONE"]}),
        json!({"Test": ["CMD", "true"], "Interval": 1_000_000_000}),
    ] {
        assert_eq!(check_create(&json!({ "Healthcheck": hc })), Ok(()), "{hc}");
    }
}

#[test]
fn a_map_with_a_key_is_set_even_when_the_value_is_empty() {
    // As `docker run -v /data` sends `Volumes: {"/data": {}}` for an
    // anonymous volume: the key is the request.
    let msg = check_create(&json!({"HostConfig": {"StorageOpt": {"size": ""}}})).unwrap_err();
    assert!(msg.contains("StorageOpt"), "{msg}");
    assert_eq!(
        check_create(&json!({"HostConfig": {"StorageOpt": {}}})),
        Ok(())
    );
    let msg = check_create(&json!({"HostConfig": {"Annotations": {"a": ""}}})).unwrap_err();
    assert!(msg.contains("Annotations"), "{msg}");
    assert_eq!(
        check_create(&json!({"Healthcheck": {"Test": null}})),
        Ok(())
    );
}

#[test]
fn endpoints_name_known_networks_only() {
    let body = json!({"NetworkingConfig": {"EndpointsConfig": {"mynet": {}}}});
    assert!(check_create(&body)
        .unwrap_err()
        .contains("network mynet not found"));
    let body = json!({
        "HostConfig": {"NetworkMode": "host"},
        "NetworkingConfig": {"EndpointsConfig": {"host": {"Aliases": null}}}
    });
    assert_eq!(check_create(&body), Ok(()));
}

#[test]
fn keys_match_whatever_their_case_as_dockerd_decodes_them() {
    // docker-py's exec create sends `detachKeys` and the container's id.
    let mut body = json!({"Cmd": ["cat"], "detachKeys": "ctrl-x", "Container": "abc"});
    canonical_keys(&mut body, EXEC);
    assert_eq!(
        body,
        json!({"Cmd": ["cat"], "DetachKeys": "ctrl-x", "Container": "abc"})
    );
    assert_eq!(check_exec(&body), Ok(()));
    // Keys no field matches are left for the check to refuse.
    let mut body = json!({"privilegedd": true});
    canonical_keys(&mut body, EXEC);
    assert!(check_exec(&body).is_err());
}
