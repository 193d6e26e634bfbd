//! The cgroup options whose support depends on the host's cgroups:
//! `MemorySwappiness`, `CpusetCpus`/`CpusetMems` and `DeviceCgroupRules`
//! (docker-py's create tests send them). On cgroup v1 they are carried out,
//! seen from inside the container (Cpus_allowed_list, a device node the
//! rule lets it open) and from the host (the cgroup files); on v2 the two
//! v2 cannot carry out are refused, naming why. Bad values are refused at
//! create with dockerd's messages. When a dockerd answers, the same probe
//! runs there and must print the same.

use std::time::Duration;
use whale_e2e::dockerd::{Dockerd, DockerdCleanup};
use whale_e2e::{cgroup_dirs_of, http_unix, wait_for, World};

/// What the probe prints: the CPUs it may run on, and what opening a
/// node of major 42 (set aside for demos: no driver has it) gives: "No such device or
/// address" when the devices cgroup lets it through, "Operation not
/// permitted" when it does not.
const PROBE: &str = "grep Cpus_allowed_list /proc/self/status; \
    mknod /l c 42 42 && cat /l; echo probed; exec sleep 1000";

fn v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

fn create(w: &World, name: &str, host_config: serde_json::Value) -> whale_e2e::Http {
    let body = serde_json::json!({
        "Image": "busybox",
        "Cmd": ["sh", "-c", PROBE],
        "HostConfig": host_config,
    });
    http_unix(
        w.socket(),
        "POST",
        &format!("/containers/create?name={name}"),
        Some(&body.to_string()),
    )
    .expect("the daemon answers")
}

/// Start `name` and wait until the probe has printed.
fn probe_output(w: &World, name: &str) -> String {
    w.whale_ok(&["start", name]);
    wait_for(Duration::from_secs(20), || {
        let out = w.whale(&["logs", name]);
        let all = format!("{}{}", out.stdout, out.stderr);
        all.contains("probed").then_some(all)
    })
    .unwrap_or_else(|| panic!("the probe never finished: {:?}", w.whale(&["logs", name])))
}

fn cgroup_file(pid: i32, controller: &str, file: &str) -> String {
    let (_, dir) = cgroup_dirs_of(pid)
        .into_iter()
        .find(|(c, _)| c.split(',').any(|c| c == controller))
        .unwrap_or_else(|| panic!("pid {pid} has no {controller} cgroup"));
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

#[test]
fn swappiness_cpusets_and_device_rules_are_carried_out_on_v1() {
    if v2() {
        eprintln!("SKIP: this host has cgroup v2 (the refusals are tested below)");
        return;
    }
    let w = World::with_busybox();
    let asked = serde_json::json!({
        "NetworkMode": "none",
        "MemorySwappiness": 40,
        "CpusetCpus": "0",
        "CpusetMems": "0",
        "DeviceCgroupRules": ["c 42:42 rwm"],
    });
    let r = create(&w, "asked", asked);
    assert_eq!(r.status, 201, "{}", r.text());
    let out = probe_output(&w, "asked");
    assert!(out.contains("Cpus_allowed_list:\t0\n"), "{out}");
    assert!(out.contains("No such device or address"), "{out}");
    let pid = w.pid_of("asked");
    assert_eq!(cgroup_file(pid, "memory", "memory.swappiness"), "40");
    assert_eq!(cgroup_file(pid, "cpuset", "cpuset.cpus"), "0");
    assert_eq!(cgroup_file(pid, "cpuset", "cpuset.mems"), "0");
    let hc = &w.inspect("asked")["HostConfig"];
    assert_eq!(hc["MemorySwappiness"], 40, "{hc}");
    assert_eq!(hc["CpusetCpus"], "0", "{hc}");
    assert_eq!(hc["DeviceCgroupRules"][0], "c 42:42 rwm", "{hc}");

    // Without the rule the devices cgroup refuses the node: the rule is
    // what opened it, not a lax default.
    let r = create(&w, "plain", serde_json::json!({"NetworkMode": "none"}));
    assert_eq!(r.status, 201, "{}", r.text());
    let plain = probe_output(&w, "plain");
    assert!(plain.contains("Operation not permitted"), "{plain}");
    // An unpinned container may run on every CPU the host offers.
    let all = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    assert!(
        plain.contains(&format!("Cpus_allowed_list:\t{}", all.trim())),
        "{plain}"
    );
    w.whale_ok(&["rm", "-f", "asked", "plain"]);

    let Some(d) = Dockerd::find("swappiness_cpusets_and_device_rules_are_carried_out_on_v1") else {
        return;
    };
    let name = format!("parity2-cgopts-{}", std::process::id());
    let _clean = DockerdCleanup {
        dockerd: &d,
        names: vec![name.clone()],
    };
    d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "--memory-swappiness",
        "40",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--device-cgroup-rule",
        "c 42:42 rwm",
        "busybox",
        "sh",
        "-c",
        PROBE,
    ])
    .success();
    let theirs = wait_for(Duration::from_secs(20), || {
        let o = d.docker(&["logs", &name]);
        let all = format!("{}{}", o.stdout, o.stderr);
        all.contains("probed").then_some(all)
    })
    .expect("dockerd's probe finished");
    assert_eq!(out, theirs, "whale and dockerd differ");
}

#[test]
fn bad_values_are_refused_with_dockerds_messages() {
    let w = World::with_busybox();
    let all = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    for (hc, says) in [
        (
            serde_json::json!({"MemorySwappiness": 101}),
            "Invalid value: 101, valid memory swappiness range is 0-100".to_string(),
        ),
        (
            serde_json::json!({"CpusetCpus": "0-"}),
            "Invalid value 0- for cpuset cpus: invalid format: 0-".to_string(),
        ),
        (
            serde_json::json!({"CpusetCpus": "0-4095"}),
            format!(
                "Requested CPUs are not available - requested 0-4095, available: {}",
                all.trim()
            ),
        ),
        (
            serde_json::json!({"DeviceCgroupRules": ["c 7 rwm"]}),
            "invalid device cgroup rule format: 'c 7 rwm'".to_string(),
        ),
    ] {
        let r = create(&w, "bad", hc.clone());
        assert_eq!(r.status, 400, "{hc}: {}", r.text());
        assert!(r.text().contains(&says), "{hc}: {}", r.text());
    }
    if v2() {
        for (hc, says) in [
            (serde_json::json!({"MemorySwappiness": 40}), "cgroup v2"),
            (
                serde_json::json!({"DeviceCgroupRules": ["c 7:128 rwm"]}),
                "eBPF",
            ),
        ] {
            let r = create(&w, "v2", hc.clone());
            assert_eq!(r.status, 400, "{hc}: {}", r.text());
            assert!(r.text().contains(says), "{hc}: {}", r.text());
        }
    }
    assert!(
        w.container_ids_on_disk().is_empty(),
        "a refused create left a record"
    );
}
