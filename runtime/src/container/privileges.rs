//! The HostConfig options that relax or tune a container's confinement,
//! read the way dockerd reads them: `CapAdd`/`CapDrop` (moby
//! `oci/caps` TweakCapabilities), `Privileged`, `PidMode`/`IpcMode`/`UTSMode`,
//! `GroupAdd`, `Ulimits`, `ExtraHosts`, `Dns*`, `ShmSize` and `Sysctls`.
//! Create validates them (a bad value is a 400 naming it); the shim spec
//! carries the result.

use crate::linux::confine::{Confinement, Device, Shm};
use crate::linux::{caps, process};
use crate::shim::spec::Privileges;
use bollard::models::HostConfig;

/// The capability set `hc` asks for, as dockerd computes it.
fn capability_mask(hc: &HostConfig) -> Result<u64, String> {
    if hc.privileged.unwrap_or(false) {
        return Ok(caps::all_mask());
    }
    let adds = normalize(hc.cap_add.as_deref().unwrap_or_default(), "CapAdd")?;
    let drops = normalize(hc.cap_drop.as_deref().unwrap_or_default(), "CapDrop")?;
    let mask_of = |names: &[String]| {
        names
            .iter()
            .filter_map(|n| caps::cap_number(n))
            .fold(0u64, |m, c| m | (1u64 << c))
    };
    let all = |names: &[String]| names.iter().any(|n| n == "ALL");
    Ok(if all(&adds) {
        // Everything the kernel has, but what is dropped.
        caps::all_mask() & !mask_of(&drops)
    } else if all(&drops) {
        mask_of(&adds)
    } else {
        (caps::default_mask() & !mask_of(&drops)) | mask_of(&adds)
    })
}

/// moby NormalizeLegacyCapabilities: any case, with or without `CAP_`;
/// `ALL` as it is; an unknown name is refused with Docker's message.
fn normalize(names: &[String], field: &str) -> Result<Vec<String>, String> {
    names
        .iter()
        .map(|n| {
            let up = n.to_uppercase();
            if up == "ALL" {
                return Ok(up);
            }
            let full = if up.starts_with("CAP_") {
                up
            } else {
                format!("CAP_{up}")
            };
            match caps::cap_number(&full) {
                Some(_) => Ok(full),
                None => Err(format!("invalid {field}: unknown capability: {full:?}")),
            }
        })
        .collect()
}

/// `--pid`, `--ipc`, `--uts`: whether the host's namespace is shared.
/// Joining another container's is refused, naming the option.
fn host_namespace(value: Option<&str>, flag: &str, private: &[&str]) -> Result<bool, String> {
    let v = value.unwrap_or("");
    match v {
        "host" => Ok(true),
        v if v.is_empty() || private.contains(&v) => Ok(false),
        v if v.starts_with("container:") => Err(format!(
            "{flag} {v:?} is not supported by whale: a container cannot join another's namespace; \
             use the default (its own) or host"
        )),
        v => Err(format!(
            "invalid {} mode: {v}",
            flag.trim_start_matches("--").to_uppercase()
        )),
    }
}

/// Namespaced sysctls, as runc validates them (Docker's `--sysctl` docs):
/// IPC ones unless the IPC namespace is the host's, `net.*` unless the
/// network is, the UTS names unless the UTS namespace is.
fn check_sysctl(key: &str, host_ipc: bool, host_net: bool, host_uts: bool) -> Result<(), String> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    // Dots become path separators under /proc/sys: nothing may climb.
    if key.is_empty()
        || key.contains('/')
        || key.split('.').any(|s| s.is_empty())
        || key.chars().any(char::is_whitespace)
    {
        return Err(format!(
            "invalid --sysctl {key:?}: expected a dotted name such as net.ipv4.ip_forward"
        ));
    }
    let (namespace, host) = if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        ("ipc", host_ipc)
    } else if key.starts_with("net.") {
        ("network", host_net)
    } else if key == "kernel.domainname" || key == "kernel.hostname" {
        ("uts", host_uts)
    } else {
        return Err(format!(
            "sysctl {key:?} is not in a separate kernel namespace: whale (as Docker) sets only \
             namespaced sysctls (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)"
        ));
    };
    if host {
        return Err(format!(
            "sysctl {key:?} not allowed in host {namespace} namespace"
        ));
    }
    Ok(())
}

/// `--add-host name:ip`, checked by create's one reader of it (build's
/// `--add-host` uses it too); `host-gateway` needs a bridge whale never makes.
fn extra_host(entry: &str) -> Result<(String, String), String> {
    super::create::split_extra_host(entry).map_err(|e| e.to_string())
}

/// `--device HOST[:CONTAINER[:PERMS]]`: a host node, shown under /dev.
fn device(m: &bollard::models::DeviceMapping) -> Result<Device, String> {
    let host = m.path_on_host.as_deref().unwrap_or("");
    let inside = m
        .path_in_container
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or(host);
    let perms = m
        .cgroup_permissions
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or("rwm");
    if perms.chars().any(|c| !"rwm".contains(c)) {
        return Err(format!(
            "invalid --device {host}: permissions {perms:?} are not some of r, w and m"
        ));
    }
    if !inside.starts_with("/dev/") || inside.split('/').any(|c| c == "..") {
        return Err(format!(
            "--device {host}:{inside}: whale creates device nodes under /dev only (no ..)"
        ));
    }
    Device::from_host(std::path::Path::new(host), inside, perms).map_err(|e| {
        // Go's wording: "no such file or directory", no errno number.
        let text = e.to_string();
        let text = text.split(" (os error").next().unwrap_or_default();
        let mut chars = text.chars();
        let text = match chars.next() {
            Some(c) => c.to_lowercase().chain(chars).collect(),
            None => String::new(),
        };
        format!("error gathering device information while adding custom device {host:?}: {text}")
    })
}

/// The privileges `hc` asks for; Err names the option and what was wrong.
pub fn resolve(hc: &HostConfig) -> Result<Privileges, String> {
    let privileged = hc.privileged.unwrap_or(false);
    let host_pid = host_namespace(hc.pid_mode.as_deref(), "--pid", &["private"])?;
    let ipc = hc.ipc_mode.as_deref().unwrap_or("");
    let host_ipc = host_namespace(Some(ipc), "--ipc", &["private", "shareable", "none"])?;
    let host_uts = host_namespace(hc.uts_mode.as_deref(), "--uts", &[])?;
    let host_net = hc.network_mode.as_deref() == Some("host");

    let mut ulimits = Vec::new();
    for u in hc.ulimits.as_deref().unwrap_or_default() {
        let name = u.name.clone().unwrap_or_default();
        if !process::RLIMITS.iter().any(|(n, _)| *n == name) {
            return Err(format!("invalid ulimit type: {name:?} (--ulimit)"));
        }
        let (soft, hard) = (u.soft.unwrap_or(0), u.hard.unwrap_or(0));
        if hard >= 0 && (soft < 0 || soft > hard) {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard} (--ulimit {name})"
            ));
        }
        ulimits.push((name, soft, hard));
    }
    let extra_hosts = hc
        .extra_hosts
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|e| extra_host(e))
        .collect::<Result<Vec<_>, _>>()?;
    let dns = hc.dns.clone().unwrap_or_default();
    if let Some(bad) = dns.iter().find(|d| d.parse::<std::net::IpAddr>().is_err()) {
        return Err(format!("{bad} is not an ip address (--dns)"));
    }
    let group_add = hc.group_add.clone().unwrap_or_default();
    if group_add.iter().any(|g| g.is_empty() || g.contains(':')) {
        return Err(format!(
            "invalid --group-add {group_add:?}: each is a group name or a number"
        ));
    }
    let shm = match (ipc, hc.shm_size.unwrap_or(0)) {
        ("host", _) => Shm::Host,
        ("none", _) => Shm::None,
        (_, s) if s < 0 => return Err("SHM size can not be less than 0".to_string()),
        (_, 0) => Shm::default(),
        (_, s) => Shm::Size(s as u64),
    };
    let mut sysctls: Vec<(String, String)> =
        hc.sysctls.clone().unwrap_or_default().into_iter().collect();
    sysctls.sort();
    for (k, _) in &sysctls {
        check_sysctl(k, host_ipc, host_net, host_uts)?;
    }
    Ok(Privileges {
        caps: capability_mask(hc)?,
        host_pid,
        host_ipc,
        host_uts,
        group_add,
        ulimits,
        extra_hosts,
        dns,
        dns_search: hc.dns_search.clone().unwrap_or_default(),
        dns_options: hc.dns_options.clone().unwrap_or_default(),
        confinement: Confinement {
            privileged,
            shm,
            sysctls,
            devices: hc
                .devices
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(device)
                .collect::<Result<_, _>>()?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Option<Vec<String>> {
        Some(x.iter().map(|s| s.to_string()).collect())
    }

    fn caps_of(add: &[&str], drop: &[&str]) -> Result<u64, String> {
        capability_mask(&HostConfig {
            cap_add: v(add),
            cap_drop: v(drop),
            ..Default::default()
        })
    }

    #[test]
    fn capabilities_as_docker_tweaks_them() {
        let def = caps::default_mask();
        assert_eq!(caps_of(&[], &[]), Ok(def));
        assert_eq!(caps_of(&[], &["ALL"]), Ok(0));
        assert_eq!(caps_of(&["sys_admin"], &[]), Ok(def | 1 << 21));
        assert_eq!(caps_of(&["CAP_SYS_ADMIN"], &["all"]), Ok(1 << 21));
        assert_eq!(
            caps_of(&["Net_Admin"], &["chown"]),
            Ok((def | 1 << 12) & !1)
        );
        assert_eq!(
            caps_of(&["ALL"], &["MKNOD"]),
            Ok(caps::all_mask() & !(1 << 27))
        );
        assert_eq!(
            caps_of(&["FOO"], &[]),
            Err("invalid CapAdd: unknown capability: \"CAP_FOO\"".into())
        );
        assert_eq!(
            caps_of(&[], &["cap_bar"]),
            Err("invalid CapDrop: unknown capability: \"CAP_BAR\"".into())
        );
        let p = HostConfig {
            privileged: Some(true),
            cap_drop: v(&["ALL"]),
            ..Default::default()
        };
        assert_eq!(capability_mask(&p), Ok(caps::all_mask()));
    }

    #[test]
    fn namespaces_host_private_or_refused() {
        assert_eq!(host_namespace(None, "--pid", &["private"]), Ok(false));
        assert_eq!(host_namespace(Some("host"), "--pid", &[]), Ok(true));
        let e = host_namespace(Some("container:abc"), "--ipc", &[]).unwrap_err();
        assert!(
            e.contains("--ipc \"container:abc\" is not supported"),
            "{e}"
        );
        assert_eq!(
            host_namespace(Some("weird"), "--uts", &[]),
            Err("invalid UTS mode: weird".into())
        );
    }

    #[test]
    fn sysctls_namespaced_only() {
        assert!(check_sysctl("net.ipv4.ip_forward", false, false, false).is_ok());
        assert!(check_sysctl("kernel.shmmax", false, false, false).is_ok());
        assert!(check_sysctl("fs.mqueue.msg_max", false, false, false).is_ok());
        let e = check_sysctl("net.core.somaxconn", false, true, false).unwrap_err();
        assert!(e.contains("not allowed in host network namespace"), "{e}");
        let e = check_sysctl("kernel.panic", false, false, false).unwrap_err();
        assert!(e.contains("not in a separate kernel namespace"), "{e}");
        for bad in ["net/../../x", "net..x", "", "net.a b"] {
            assert!(check_sysctl(bad, false, false, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn run_options() {
        assert_eq!(
            extra_host("db:127.0.0.2"),
            Ok(("db".into(), "127.0.0.2".into()))
        );
        assert_eq!(extra_host("v6:[::1]"), Ok(("v6".into(), "::1".into())));
        assert!(extra_host("gw:host-gateway")
            .unwrap_err()
            .contains("host-gateway needs a bridge"));
        assert!(extra_host("x:notanip")
            .unwrap_err()
            .contains("not an IP address"));
        let hc = |f: fn(&mut HostConfig)| {
            let mut h = HostConfig::default();
            f(&mut h);
            resolve(&h)
        };
        assert!(hc(|h| h.dns = v(&["nope"])).unwrap_err().contains("--dns"));
        assert!(hc(|h| h.shm_size = Some(-1)).is_err());
        assert_eq!(
            hc(|h| h.shm_size = Some(1 << 20)).unwrap().confinement.shm,
            Shm::Size(1 << 20)
        );
        assert_eq!(
            hc(|h| h.ipc_mode = Some("host".into()))
                .unwrap()
                .confinement
                .shm,
            Shm::Host
        );
        let e = hc(|h| {
            h.ulimits = Some(vec![bollard::models::ResourcesUlimits {
                name: Some("nofile".into()),
                soft: Some(10),
                hard: Some(5),
            }])
        })
        .unwrap_err();
        assert!(e.contains("10 > 5"), "{e}");
        let e = hc(|h| {
            h.ulimits = Some(vec![bollard::models::ResourcesUlimits {
                name: Some("nofiles".into()),
                soft: Some(1),
                hard: Some(1),
            }])
        })
        .unwrap_err();
        assert!(e.contains("invalid ulimit type"), "{e}");
        assert_eq!(resolve(&HostConfig::default()), Ok(Privileges::default()));
        let dev = |host: &str, inside: &str, perms: &str| {
            device(&bollard::models::DeviceMapping {
                path_on_host: Some(host.into()),
                path_in_container: Some(inside.into()),
                cgroup_permissions: Some(perms.into()),
            })
        };
        let null = dev("/dev/null", "", "").unwrap();
        assert_eq!(null.cgroup_rule(), "c 1:3 rwm");
        assert_eq!(null.path, "/dev/null");
        assert_eq!(
            dev("/dev/null", "/dev/x/y", "r").unwrap().cgroup_rule(),
            "c 1:3 r"
        );
        assert!(dev("/dev/null", "/etc/x", "")
            .unwrap_err()
            .contains("under /dev only"));
        assert!(dev("/dev/null", "/dev/../x", "").is_err());
        assert!(dev("/dev/null", "", "rwx")
            .unwrap_err()
            .contains("permissions"));
        let e = dev("/dev/nope", "", "").unwrap_err();
        assert!(e.starts_with("error gathering device information"), "{e}");
        assert!(dev("/etc/hostname", "", "").is_err());
    }
}
