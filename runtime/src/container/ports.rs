//! Published ports: `HostConfig.PortBindings` and `PublishAllPorts` checked
//! at create, turned into the shim's bindings at start (the shim's proxy
//! serves them, see `shim/ports.rs`), and shown as Docker shows them
//! (inspect's `NetworkSettings.Ports`, the `Ports` of `ps`).

use super::ContainerError;
use crate::shim::spec::PortBinding;
use bollard::models::{ContainerConfig, HostConfig, PortMap, PortSummary, PortSummaryTypeEnum};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Docker's warning (create's `Warnings`) for ports with `--network host`.
pub const HOST_NETWORK_WARNING: &str = "Published ports are discarded when using host network mode";

/// Where a port with no host IP listens: Docker's default, IPv4.
const ANY_IPV4: &str = "0.0.0.0";

/// A container port and whether it is udp: `8080/tcp` (or `8080`) ->
/// (8080, false), `53/udp` -> (53, true); sctp is refused: the proxy
/// carries tcp and udp.
fn port_of(key: &str, what: &str) -> Result<(u16, bool), ContainerError> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
        ContainerError::Invalid(format!(
            "invalid port {key:?} in {what}: give a port number from 1 to 65535, with /tcp or /udp"
        ))
    })?;
    match proto {
        "tcp" | "" => Ok((port, false)),
        "udp" => Ok((port, true)),
        "sctp" => Err(ContainerError::Invalid(format!(
            "whale does not publish sctp ports ({key} in {what}): its port proxy carries tcp and udp; use --network host for sctp"
        ))),
        other => Err(ContainerError::Invalid(format!(
            "invalid protocol {other:?} in port {key:?} of {what}: use tcp or udp"
        ))),
    }
}

/// A binding's host IP: "" is Docker's default; `[::1]` is taken as `::1`.
fn host_ip_of(ip: Option<&str>, key: &str) -> Result<String, ContainerError> {
    let ip = ip
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    if ip.is_empty() {
        return Ok(ANY_IPV4.to_string());
    }
    ip.parse::<IpAddr>()
        .map(|a| a.to_string())
        .map_err(|_| {
            ContainerError::Invalid(format!(
                "invalid host IP {ip:?} for port {key} in HostConfig.PortBindings: give an IPv4 or IPv6 address, e.g. 127.0.0.1"
            ))
        })
}

/// A binding's host port: "" or "0" asks for an ephemeral one (0).
fn host_port_of(port: Option<&str>, key: &str) -> Result<u16, ContainerError> {
    let port = port.unwrap_or("");
    if port.is_empty() {
        return Ok(0);
    }
    // `-p 8000-8000:80` arrives as a one-port range.
    let single = match port.split_once('-') {
        Some((a, b)) if a == b => a,
        Some(_) => {
            return Err(ContainerError::Invalid(format!(
                "whale does not publish to a host port range ({port} for {key}): name one host port, or none for an ephemeral one"
            )))
        }
        None => port,
    };
    single.parse().map_err(|_| {
        ContainerError::Invalid(format!(
            "invalid host port {port:?} for {key} in HostConfig.PortBindings: give a port number from 0 to 65535"
        ))
    })
}

/// The ports to publish, as the shim should bind them: every binding of
/// `PortBindings`, and with `PublishAllPorts` an ephemeral one for each
/// exposed port that has none. In a stable order (by container port).
pub fn requested(
    cfg: &ContainerConfig,
    hc: &HostConfig,
) -> Result<Vec<PortBinding>, ContainerError> {
    let mut out = Vec::new();
    let mut bound: Vec<(u16, bool)> = Vec::new();
    let sorted: BTreeMap<_, _> = hc.port_bindings.iter().flatten().collect();
    for (key, list) in sorted {
        let (container_port, udp) = port_of(key, "HostConfig.PortBindings")?;
        for b in list.iter().flatten() {
            out.push(PortBinding {
                container_port,
                host_ip: host_ip_of(b.host_ip.as_deref(), key)?,
                host_port: host_port_of(b.host_port.as_deref(), key)?,
                udp,
            });
        }
        bound.push((container_port, udp));
    }
    if hc.publish_all_ports == Some(true) {
        let mut exposed = Vec::new();
        for key in cfg.exposed_ports.iter().flatten() {
            exposed.push(port_of(key, "the exposed ports (-P)")?);
        }
        exposed.sort_unstable();
        exposed.dedup();
        for (p, udp) in exposed.into_iter().filter(|p| !bound.contains(p)) {
            out.push(PortBinding {
                container_port: p,
                host_ip: ANY_IPV4.to_string(),
                host_port: 0,
                udp,
            });
        }
    }
    out.sort_by_key(|b| (b.container_port, b.udp));
    Ok(out)
}

/// Check the ports of a create request (a 400 for what whale cannot do).
/// dockerd takes ports with `--network none` and publishes nothing; whale
/// says so instead (its default network is loopback-only too, and publishes).
pub fn validate(cfg: &ContainerConfig, hc: &HostConfig) -> Result<(), ContainerError> {
    let ports = requested(cfg, hc)?;
    if hc.network_mode.as_deref() == Some("none") && !ports.is_empty() {
        return Err(ContainerError::Invalid(
            "ports are not published with --network none (dockerd discards them): leave out --network none; whale's default network is loopback-only too, and publishes them".into(),
        ));
    }
    if crate::rootless::active() {
        let first_free = crate::rootless::unprivileged_port_start();
        refuse_privileged_ports(&ports, first_free)?;
    }
    Ok(())
}

/// Rootless, the proxy listens as the user on the host's network, where
/// ports below `net.ipv4.ip_unprivileged_port_start` (1024 by default)
/// need privilege the user has not: refused at create, with the reason.
fn refuse_privileged_ports(ports: &[PortBinding], first_free: u16) -> Result<(), ContainerError> {
    match ports
        .iter()
        .find(|b| b.host_port != 0 && b.host_port < first_free)
    {
        Some(b) => Err(ContainerError::Invalid(format!(
            "cannot publish host port {}: whale runs rootless, and ports below {first_free} \
             (net.ipv4.ip_unprivileged_port_start) need root on the host; publish a port of \
             {first_free} or above (-p {}:{}), or lower that sysctl as root",
            b.host_port,
            first_free.max(8080),
            b.container_port
        ))),
        None => Ok(()),
    }
}

/// Whether ports were asked for but the host's network makes them moot.
pub fn discarded(hc: &HostConfig) -> bool {
    hc.network_mode.as_deref() == Some("host")
        && (hc.publish_all_ports == Some(true)
            || hc.port_bindings.iter().flatten().any(|(_, l)| l.is_some()))
}

/// Every port the container shows, with whether it is udp: exposed or
/// published (Docker lists both).
fn shown_ports(cfg: &ContainerConfig, bound: &[PortBinding]) -> Vec<(u16, bool)> {
    let mut ports: Vec<(u16, bool)> = cfg
        .exposed_ports
        .iter()
        .flatten()
        .filter_map(|k| {
            let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
            let udp = match proto {
                "tcp" => false,
                "udp" => true,
                _ => return None,
            };
            p.parse().ok().map(|p| (p, udp))
        })
        .chain(bound.iter().map(|b| (b.container_port, b.udp)))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// inspect's `NetworkSettings.Ports` of a running container: each exposed
/// port with its bindings, or null when it is not published. `{}` when
/// not running, as Docker shows.
pub fn network_settings_ports(
    cfg: &ContainerConfig,
    bound: &[PortBinding],
    running: bool,
) -> PortMap {
    if !running {
        return PortMap::new();
    }
    shown_ports(cfg, bound)
        .into_iter()
        .map(|(p, udp)| {
            let list: Vec<_> = bound
                .iter()
                .filter(|b| (b.container_port, b.udp) == (p, udp))
                .map(|b| bollard::models::PortBinding {
                    host_ip: Some(b.host_ip.clone()),
                    host_port: Some(b.host_port.to_string()),
                })
                .collect();
            let proto = if udp { "udp" } else { "tcp" };
            (format!("{p}/{proto}"), (!list.is_empty()).then_some(list))
        })
        .collect()
}

/// The `Ports` of a container in `GET /containers/json`.
pub fn summary(cfg: &ContainerConfig, bound: &[PortBinding], running: bool) -> Vec<PortSummary> {
    if !running {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (p, udp) in shown_ports(cfg, bound) {
        let typ = Some(if udp {
            PortSummaryTypeEnum::UDP
        } else {
            PortSummaryTypeEnum::TCP
        });
        let mine: Vec<_> = bound
            .iter()
            .filter(|b| (b.container_port, b.udp) == (p, udp))
            .collect();
        if mine.is_empty() {
            out.push(PortSummary {
                ip: None,
                private_port: p,
                public_port: None,
                typ,
            });
        }
        for b in mine {
            out.push(PortSummary {
                ip: Some(b.host_ip.clone()),
                private_port: p,
                public_port: Some(b.host_port),
                typ,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::PortBinding as Wire;

    fn hc(bindings: &[(&str, &str, &str)], all: bool) -> HostConfig {
        let mut map = PortMap::new();
        for (k, ip, port) in bindings {
            map.entry(k.to_string())
                .or_insert_with(|| Some(vec![]))
                .as_mut()
                .unwrap()
                .push(Wire {
                    host_ip: Some(ip.to_string()),
                    host_port: Some(port.to_string()),
                });
        }
        HostConfig {
            port_bindings: Some(map),
            publish_all_ports: Some(all),
            ..Default::default()
        }
    }

    fn exposed(ports: &[&str]) -> ContainerConfig {
        ContainerConfig {
            exposed_ports: Some(ports.iter().map(|p| p.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn rootless_refuses_host_ports_below_the_unprivileged_start() {
        let low = requested(&exposed(&[]), &hc(&[("80/tcp", "", "80")], false)).unwrap();
        let err = refuse_privileged_ports(&low, 1024).unwrap_err().to_string();
        assert!(
            err.contains("host port 80") && err.contains("below 1024"),
            "{err}"
        );
        let high = requested(&exposed(&[]), &hc(&[("80/tcp", "", "18080")], false)).unwrap();
        assert!(refuse_privileged_ports(&high, 1024).is_ok());
        // A random host port (0) is the kernel's pick, always unprivileged.
        let random = requested(&exposed(&[]), &hc(&[("80/tcp", "", "")], false)).unwrap();
        assert!(refuse_privileged_ports(&random, 1024).is_ok());
        // The sysctl lowered by the administrator: allowed.
        assert!(refuse_privileged_ports(&low, 80).is_ok());
    }

    #[test]
    fn bindings_take_docker_defaults() {
        let r = requested(
            &exposed(&[]),
            &hc(
                &[("8080/tcp", "127.0.0.1", "18080"), ("80/tcp", "", "")],
                false,
            ),
        )
        .unwrap();
        assert_eq!(
            r,
            vec![
                PortBinding {
                    container_port: 80,
                    host_ip: "0.0.0.0".into(),
                    host_port: 0,
                    udp: false,
                },
                PortBinding {
                    container_port: 8080,
                    host_ip: "127.0.0.1".into(),
                    host_port: 18080,
                    udp: false,
                },
            ]
        );
    }

    #[test]
    fn publish_all_adds_the_exposed_ports_without_a_binding() {
        let r = requested(
            &exposed(&["80/tcp", "8080/tcp"]),
            &hc(&[("8080/tcp", "127.0.0.1", "18080")], true),
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].container_port, r[0].host_port), (80, 0));
        assert_eq!(r[1].host_port, 18080);
        assert!(requested(&exposed(&["80/tcp"]), &hc(&[], false))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn what_the_proxy_cannot_carry_is_refused_by_name() {
        for (b, needle) in [
            (("53/sctp", "", "53"), "sctp"),
            (
                ("80/tcp", "localhost", "80"),
                "invalid host IP \"localhost\"",
            ),
            (("80/tcp", "", "8000-8010"), "host port range"),
            (("80/tcp", "", "99999"), "invalid host port"),
            (("0/tcp", "", "80"), "invalid port"),
        ] {
            let err = validate(&exposed(&[]), &hc(&[b], false))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{b:?}: {err}");
        }
        let err = validate(&exposed(&["53/sctp"]), &hc(&[], true))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sctp"), "{err}");
    }

    #[test]
    fn udp_ports_are_published_and_shown_beside_tcp() {
        let r = requested(
            &exposed(&[]),
            &hc(
                &[("53/udp", "127.0.0.1", "5353"), ("53/tcp", "", "")],
                false,
            ),
        )
        .unwrap();
        assert_eq!(
            r.iter()
                .map(|b| (b.container_port, b.proto(), b.host_port))
                .collect::<Vec<_>>(),
            [(53, "tcp", 0), (53, "udp", 5353)]
        );
        let map = network_settings_ports(&exposed(&[]), &r, true);
        let udp = map.get("53/udp").unwrap().as_ref().unwrap();
        assert_eq!(udp[0].host_port.as_deref(), Some("5353"));
        assert!(map.contains_key("53/tcp"));
        let s = summary(&exposed(&[]), &r, true);
        assert_eq!(s[1].typ, Some(PortSummaryTypeEnum::UDP));
    }

    #[test]
    fn shown_as_docker_shows_them() {
        let bound = [PortBinding {
            container_port: 8080,
            host_ip: "127.0.0.1".into(),
            host_port: 18080,
            udp: false,
        }];
        let cfg = exposed(&["80/tcp", "8080/tcp"]);
        let map = network_settings_ports(&cfg, &bound, true);
        assert_eq!(map.get("80/tcp"), Some(&None));
        let b = map.get("8080/tcp").unwrap().as_ref().unwrap();
        assert_eq!(b[0].host_port.as_deref(), Some("18080"));
        assert!(network_settings_ports(&cfg, &bound, false).is_empty());
        let s = summary(&cfg, &bound, true);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].private_port, s[0].public_port), (80, None));
        assert_eq!(s[1].public_port, Some(18080));
    }

    #[test]
    fn network_none_refuses_ports() {
        let mut h = hc(&[("80/tcp", "", "8080")], false);
        h.network_mode = Some("none".into());
        let err = validate(&exposed(&[]), &h).unwrap_err().to_string();
        assert!(err.contains("--network none"), "{err}");
        h.port_bindings = None;
        assert!(validate(&exposed(&["80/tcp"]), &h).is_ok());
    }

    #[test]
    fn host_network_discards_with_a_warning() {
        let mut h = hc(&[("80/tcp", "", "8080")], false);
        assert!(!discarded(&h));
        h.network_mode = Some("host".into());
        assert!(discarded(&h));
    }
}
