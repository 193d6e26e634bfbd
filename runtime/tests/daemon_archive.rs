//! `GET|HEAD /containers/{id}/archive` end to end: a daemon in a temp root,
//! busybox bootstrapped with the CLI, a container that changed its
//! filesystem, read back once it stopped (and with the stock docker CLI
//! when it is installed).

#[path = "daemon_common/mod.rs"]
mod common;

use common::Daemon;
use std::io::Read;
use std::process::{Command, Stdio};

const CHILD: &str = "archive_daemon_child";

#[test]
fn archive_daemon_child() {
    common::child_main();
}

use common::{text, whale};

/// Removes the container even when an assertion fails.
struct Cleanup<'a>(&'a Daemon, &'a str);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = whale(self.0, &["rm", "-f", self.1]);
    }
}

/// The archive as raw bytes (status, stat header, body).
fn archive(d: &Daemon, name: &str, path: &str) -> (u16, Option<String>, Vec<u8>) {
    let out_file = d.dir.path().join("archive.out");
    let hdr_file = d.dir.path().join("archive.hdr");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30", "--unix-socket"])
        .arg(&d.sock)
        .arg("-D")
        .arg(&hdr_file)
        .arg("-o")
        .arg(&out_file)
        .args(["-w", "%{http_code}"])
        .arg(format!(
            "http://localhost/v1.43/containers/{name}/archive?path={path}"
        ))
        .output()
        .expect("running curl");
    let status: u16 = text(&out.stdout).trim().parse().unwrap_or(0);
    let headers = std::fs::read_to_string(&hdr_file).unwrap_or_default();
    let stat = headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("x-docker-container-path-stat")
            .then(|| v.trim().to_string())
    });
    (status, stat, std::fs::read(&out_file).unwrap_or_default())
}

fn entries(tar_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(tar_bytes);
    a.entries()
        .expect("a tar")
        .map(|e| {
            let mut e = e.expect("a tar entry");
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

#[test]
fn archive_reads_a_stopped_containers_files_through_the_layers() {
    let d = Daemon::start(CHILD);
    let out = whale(&d, &["bootstrap", "busybox"]);
    assert!(out.status.success(), "bootstrap: {}", text(&out.stderr));
    let name = "arch1";
    let _cleanup = Cleanup(&d, name);
    let out = whale(
        &d,
        &[
            "run",
            "--name",
            name,
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "echo hello-archive > /tmp/x && rm /etc/group",
        ],
    );
    assert!(out.status.success(), "run: {}", text(&out.stderr));

    let (status, stat, body) = archive(&d, name, "/tmp/x");
    assert_eq!(status, 200, "{}", text(&body));
    let e = entries(&body);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "x");
    assert_eq!(text(&e[0].1), "hello-archive\n");
    let stat = stat.expect("X-Docker-Container-Path-Stat header");
    let decoded = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(stat.as_bytes())?;
            c.wait_with_output()
        })
        .expect("base64 -d");
    let stat: serde_json::Value = serde_json::from_slice(&decoded.stdout).expect("stat JSON");
    assert_eq!(stat["name"], "x");
    assert_eq!(stat["size"], 14);
    assert_eq!(stat["mode"], 0o644);

    let (status, _, body) = archive(&d, name, "/etc/group");
    assert_eq!(status, 404, "{}", text(&body));
    let msg: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        msg["message"],
        format!("Could not find the file /etc/group in container {name}")
    );

    let (status, _, body) = archive(&d, name, "/bin");
    assert_eq!(status, 200);
    let names: Vec<String> = entries(&body).into_iter().map(|e| e.0).collect();
    assert!(names.iter().any(|n| n == "bin/sh"), "{names:?}");
    assert_eq!(names.first().map(String::as_str), Some("bin"));

    // The engine's bind-mounted files read as the container sees them.
    let (status, _, body) = archive(&d, name, "/etc/hostname");
    assert_eq!(status, 200);
    let e = entries(&body);
    let id = d.get(&format!("/containers/{name}/json")).json()["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(text(&e[0].1), format!("{}\n", &id[..12]), "{e:?}");

    // HEAD: the stat alone.
    let r = common::curl(
        &d.sock,
        "HEAD",
        &format!("/containers/{name}/archive?path=/etc/passwd"),
        None,
        &[],
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.header("x-docker-container-path-stat").is_some(), "{r:?}");

    // The stock docker CLI, when installed, reads it the same way.
    let docker = Command::new("docker")
        .env("DOCKER_HOST", format!("unix://{}", d.sock.display()))
        .args(["cp", &format!("{name}:/tmp/x"), "-"])
        .output();
    if let Ok(o) = docker {
        assert!(o.status.success(), "docker cp: {}", text(&o.stderr));
        let e = entries(&o.stdout);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(text(&e[0].1), "hello-archive\n");
    }
}
