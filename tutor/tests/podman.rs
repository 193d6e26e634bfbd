//! podman as a third engine: `tutor/scripts/podman-for-lessons.sh` starts
//! Debian's podman (4.3) on a private socket and storage, and `whaletutor
//! verify --engine docker -H unix://SOCKET` proves lessons 1-4 on it. No
//! private-range address may exist on the machine afterwards: podman's
//! default bridge (10.88.0.0/16) must never have been made.
//!
//! SKIPs (printing why) without podman, mmdebstrap, the docker CLI or root.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_whaletutor");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

fn private(a: Ipv4Addr) -> bool {
    a.is_private()
}

/// Every IPv4 address on the machine (`ip -4 -o addr`).
fn host_addresses() -> Vec<Ipv4Addr> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr"])
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.find(|x| *x == "inet")?;
            w.next()?.split('/').next()?.parse().ok()
        })
        .collect()
}

/// Every network link's name and kind (`ip -d -o link`): a bridge, veth or
/// a `cni-podman*`/`podman*` link would be a network podman made.
fn host_links() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-d", "-o", "link"])
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let name = l.split(": ").nth(1)?.split('@').next()?.to_string();
            let kind = ["bridge", "veth"]
                .into_iter()
                .find(|k| l.contains(&format!(" {k} ")))
                .unwrap_or("");
            Some(format!("{name} {kind}").trim().to_string())
        })
        .collect()
}

fn network_links(links: &[String]) -> Vec<&String> {
    links
        .iter()
        .filter(|l| {
            l.ends_with(" bridge")
                || l.ends_with(" veth")
                || l.starts_with("cni-podman")
                || l.starts_with("podman")
        })
        .collect()
}

/// Stops the service and removes its directory however the test ends.
struct Service<'a> {
    script: PathBuf,
    dir: &'a Path,
}

impl Drop for Service<'_> {
    fn drop(&mut self) {
        let _ = Command::new(&self.script)
            .arg("stop")
            .arg(self.dir)
            .status();
    }
}

#[test]
fn lessons_1_to_4_verify_on_podman_without_a_bridge() {
    for tool in ["podman", "mmdebstrap", "docker", "busybox", "curl"] {
        if !on_path(tool) {
            eprintln!("SKIP: `{tool}` is not installed (apt-get install podman mmdebstrap busybox-static curl; the docker CLI)");
            return;
        }
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: podman's service with its own storage needs root");
        return;
    }
    let before: Vec<Ipv4Addr> = host_addresses()
        .into_iter()
        .filter(|a| private(*a))
        .collect();
    let links_before = host_links();
    let dir = tempfile::Builder::new()
        .prefix("whaletutor-podman-")
        .tempdir_in("/tmp")
        .unwrap();
    let script = repo().join("tutor/scripts/podman-for-lessons.sh");
    let service = Service {
        script: script.clone(),
        dir: dir.path(),
    };
    let start = Command::new(&script)
        .arg("start")
        .arg(dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&start.stdout).into_owned();
    assert!(
        start.status.success(),
        "start failed: {said}{}",
        String::from_utf8_lossy(&start.stderr)
    );
    let host = said
        .lines()
        .find_map(|l| l.strip_prefix("DOCKER_HOST="))
        .expect("the script prints DOCKER_HOST=")
        .to_string();
    let out = Command::new(BIN)
        .arg("--lessons-dir")
        .arg(repo().join("lessons"))
        .args([
            "--engine", "docker", "-H", &host, "verify", "1", "2", "3", "4",
        ])
        .env("NO_COLOR", "1")
        .env("DOCKER_HOST", &host)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{table}{}", String::from_utf8_lossy(&out.stderr));
    drop(service);
    let after: Vec<Ipv4Addr> = host_addresses()
        .into_iter()
        .filter(|a| private(*a))
        .collect();
    assert_eq!(
        before, after,
        "a private-range address appeared: podman made a network"
    );
    assert!(
        !after.iter().any(|a| a.octets()[..2] == [10, 88]),
        "{after:?}"
    );
    let links_after = host_links();
    assert_eq!(
        network_links(&links_before),
        network_links(&links_after),
        "podman made a bridge, veth or cni-podman link: {links_after:?}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "verify on podman failed:\n{table}"
    );
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    assert!(
        !mounts.contains(&dir.path().display().to_string()),
        "podman left mounts under {}",
        dir.path().display()
    );
}
