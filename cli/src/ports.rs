//! Published ports on the client side, as the docker CLI has them: `-p`
//! and `--expose` turned into `PortBindings` and `ExposedPorts` (the CLI,
//! not the daemon, parses them), the PORTS column of `ps`, and `whale port`.

use bollard::models::{PortBinding, PortMap, PortSummary};
use std::collections::HashMap;

use super::{client, CliError, CliResult};
use whale_args::{Cli, PortArgs};

/// `8080/tcp` -> ("8080", "tcp"); the protocol defaults to tcp.
fn split_proto(spec: &str) -> (&str, &str) {
    match spec.split_once('/') {
        Some((p, proto)) => (p, proto),
        None => (spec, "tcp"),
    }
}

/// A port or a range `a-b`, as inclusive bounds.
fn parse_range(s: &str, whole: &str) -> Result<(u16, u16), String> {
    let bad = || {
        format!("invalid port {s:?} in {whole:?}: give a number from 1 to 65535, or a range a-b")
    };
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// docker's `-p` grammar: `[IP:][HOSTPORT:]CPORT[/PROTO]`, IPv6 addresses
/// in brackets, container port ranges mapped one to one onto host ranges.
/// Adds to the exposed ports and the bindings.
pub fn add_publish(
    spec: &str,
    exposed: &mut Vec<String>,
    bindings: &mut PortMap,
) -> Result<(), String> {
    let (rest, proto) = split_proto(spec);
    // The container port is after the last colon; the host port before it;
    // whatever precedes is the IP (brackets off).
    let (front, cport) = match rest.rsplit_once(':') {
        Some((f, c)) => (Some(f), c),
        None => (None, rest),
    };
    let (ip, hport) = match front {
        None => ("", ""),
        Some(f) => match f.rsplit_once(':') {
            Some((ip, h)) => (ip.trim_start_matches('[').trim_end_matches(']'), h),
            None => ("", f),
        },
    };
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address {ip:?} in {spec:?}"));
    }
    let (c0, c1) = parse_range(cport, spec)?;
    let host = if hport.is_empty() {
        None
    } else {
        Some(parse_range(hport, spec)?)
    };
    for (i, c) in (c0..=c1).enumerate() {
        let key = format!("{c}/{proto}");
        let host_port = match host {
            None => String::new(),
            // One host port per container port, as docker maps ranges.
            Some((h0, h1)) if h1 - h0 == c1 - c0 => (h0 + i as u16).to_string(),
            Some((h0, h1)) if c0 == c1 => format!("{h0}-{h1}"),
            Some(_) => {
                return Err(format!(
                    "invalid ranges in {spec:?}: the host range and the container range must be the same size"
                ))
            }
        };
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(ip.to_string()),
                host_port: Some(host_port),
            });
    }
    Ok(())
}

/// `--expose PORT[/PROTO]` or a range.
pub fn add_expose(spec: &str, exposed: &mut Vec<String>) -> Result<(), String> {
    let (ports, proto) = split_proto(spec);
    let (a, b) = parse_range(ports, spec)?;
    for p in a..=b {
        let key = format!("{p}/{proto}");
        if !exposed.contains(&key) {
            exposed.push(key);
        }
    }
    Ok(())
}

/// The ExposedPorts and PortBindings for `-p`, `--expose`.
pub fn from_flags(publish: &[String], expose: &[String]) -> Result<(Vec<String>, PortMap), String> {
    let mut exposed = Vec::new();
    let mut bindings = PortMap::new();
    for e in expose {
        add_expose(e, &mut exposed)?;
    }
    for p in publish {
        add_publish(p, &mut exposed, &mut bindings)?;
    }
    Ok((exposed, bindings))
}

/// `IP:PORT`, with IPv6 in brackets (Go's net.JoinHostPort).
fn join_host_port(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn type_of(p: &PortSummary) -> String {
    p.typ.map(|t| t.to_string()).unwrap_or_default()
}

/// The PORTS column of `ps`: docker's `DisplayablePorts`, which folds runs
/// of consecutive ports into ranges and lists mappings to another host
/// port after them.
pub fn displayable(ports: &[PortSummary]) -> String {
    let mut ports = ports.to_vec();
    ports.sort_by(|a, b| {
        (
            a.private_port,
            a.ip.as_deref().unwrap_or(""),
            a.public_port,
            type_of(a),
        )
            .cmp(&(
                b.private_port,
                b.ip.as_deref().unwrap_or(""),
                b.public_port,
                type_of(b),
            ))
    });
    let mut groups: HashMap<String, (u16, u16)> = HashMap::new();
    let mut keys: Vec<String> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    for p in &ports {
        let current = p.private_port;
        let ip = p.ip.as_deref().unwrap_or("");
        let mut key = type_of(p);
        if !ip.is_empty() {
            let public = p.public_port.unwrap_or(0);
            if public != current {
                host_mappings.push(format!(
                    "{}->{}/{}",
                    join_host_port(ip, public),
                    current,
                    type_of(p)
                ));
                continue;
            }
            key = format!("{ip}/{key}");
        }
        match groups.get_mut(&key) {
            None => {
                groups.insert(key.clone(), (current, current));
                keys.push(key);
            }
            Some(g) if current == g.1 + 1 => g.1 = current,
            Some(g) => {
                result.push(form_group(&key, *g));
                *g = (current, current);
            }
        }
    }
    for key in &keys {
        result.push(form_group(key, groups[key]));
    }
    result.extend(host_mappings);
    result.join(", ")
}

fn form_group(key: &str, (first, last): (u16, u16)) -> String {
    let (ip, typ) = match key.rsplit_once('/') {
        Some((ip, t)) => (ip, t),
        None => ("", key),
    };
    let mut group = first.to_string();
    if first != last {
        group = format!("{group}-{last}");
    }
    if !ip.is_empty() {
        group = format!("{ip}:{group}->{group}");
    }
    format!("{group}/{typ}")
}

/// `whale port CONTAINER [PORT[/PROTO]]`: docker's lines
/// `8080/tcp -> 127.0.0.1:18080`, or only the addresses for one port.
pub async fn port(cli: &Cli, args: &PortArgs) -> CliResult {
    let client = client(cli).await?;
    let c = client
        .docker
        .inspect_container(
            &args.container,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await?;
    let ports = c.network_settings.and_then(|n| n.ports).unwrap_or_default();
    let lines = port_lines(&ports, args.port.as_deref(), &args.container)?;
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

fn port_lines(
    ports: &PortMap,
    wanted: Option<&str>,
    container: &str,
) -> Result<Vec<String>, CliError> {
    let mut keys: Vec<&String> = ports.keys().collect();
    keys.sort_by_key(|k| {
        let (p, proto) = split_proto(k);
        (p.parse::<u16>().unwrap_or(0), proto.to_string())
    });
    let mut out = Vec::new();
    if let Some(w) = wanted {
        let (p, proto) = split_proto(w);
        let key = format!("{p}/{proto}");
        if let Some(Some(list)) = ports.get(&key) {
            for b in list {
                out.push(host_addr(b));
            }
            return Ok(out);
        }
        return Err(CliError::Other(format!(
            "No public port '{key}' published for {container}"
        )));
    }
    for k in keys {
        for b in ports[k].iter().flatten() {
            out.push(format!("{k} -> {}", host_addr(b)));
        }
    }
    Ok(out)
}

fn host_addr(b: &PortBinding) -> String {
    let ip = b.host_ip.as_deref().unwrap_or("");
    let port = b.host_port.as_deref().unwrap_or("");
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::PortSummaryTypeEnum;

    fn binding(map: &PortMap, key: &str) -> Vec<(String, String)> {
        map[key]
            .iter()
            .flatten()
            .map(|b| (b.host_ip.clone().unwrap(), b.host_port.clone().unwrap()))
            .collect()
    }

    #[test]
    fn publish_flags_as_docker_parses_them() {
        let (exposed, map) = from_flags(
            &[
                "127.0.0.1:18080:8080".into(),
                "9000".into(),
                "127.0.0.1::7000".into(),
                "[::1]:5000:5000/tcp".into(),
                "6000-6001:7100-7101".into(),
            ],
            &["3000".into()],
        )
        .unwrap();
        assert_eq!(exposed[0], "3000/tcp");
        assert_eq!(
            binding(&map, "8080/tcp"),
            [("127.0.0.1".into(), "18080".into())]
        );
        assert_eq!(binding(&map, "9000/tcp"), [(String::new(), String::new())]);
        assert_eq!(
            binding(&map, "7000/tcp"),
            [("127.0.0.1".into(), String::new())]
        );
        assert_eq!(binding(&map, "5000/tcp"), [("::1".into(), "5000".into())]);
        assert_eq!(binding(&map, "7101/tcp"), [(String::new(), "6001".into())]);
        assert!(exposed.contains(&"8080/tcp".to_string()));
        for bad in ["x", "1.2.3:80:80", "0", "80-70", "1-3:5-6"] {
            assert!(from_flags(&[bad.into()], &[]).is_err(), "{bad}");
        }
    }

    fn summary(ip: Option<&str>, private: u16, public: Option<u16>) -> PortSummary {
        PortSummary {
            ip: ip.map(String::from),
            private_port: private,
            public_port: public,
            typ: Some(PortSummaryTypeEnum::TCP),
        }
    }

    #[test]
    fn ps_column_as_docker_shows_it() {
        assert_eq!(
            displayable(&[
                summary(Some("0.0.0.0"), 9000, Some(39401)),
                summary(Some("127.0.0.1"), 8080, Some(33275)),
            ]),
            "127.0.0.1:33275->8080/tcp, 0.0.0.0:39401->9000/tcp"
        );
        assert_eq!(
            displayable(&[
                summary(None, 80, None),
                summary(None, 81, None),
                summary(Some("0.0.0.0"), 443, Some(443)),
            ]),
            "80-81/tcp, 0.0.0.0:443->443/tcp"
        );
        assert_eq!(displayable(&[]), "");
    }

    #[test]
    fn port_lines_as_docker_prints_them() {
        let mut map = PortMap::new();
        map.insert(
            "8080/tcp".into(),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some("18080".into()),
            }]),
        );
        map.insert("80/tcp".into(), None);
        assert_eq!(
            port_lines(&map, None, "c").unwrap(),
            ["8080/tcp -> 127.0.0.1:18080"]
        );
        assert_eq!(
            port_lines(&map, Some("8080"), "c").unwrap(),
            ["127.0.0.1:18080"]
        );
        let err = port_lines(&map, Some("80"), "c").unwrap_err().to_string();
        assert!(
            err.contains("No public port '80/tcp' published for c"),
            "{err}"
        );
    }
}
