//! "At least as safe as Docker", end to end: a daemon in a temp root, a
//! busybox container, and the two ways a host user could get at what is
//! not theirs: `docker cp` out of a container that races the copy with a
//! symlink to the host, and the store's files read or run by another user.

#[path = "daemon_common/mod.rs"]
mod common;

use common::Daemon;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const CHILD: &str = "safety_daemon_child";

#[test]
fn safety_daemon_child() {
    common::child_main();
}

use common::{text, whale};

fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Removes the container, and anything else, even when an assertion fails.
struct Cleanup<'a>(&'a Daemon, &'a str, Option<PathBuf>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = whale(self.0, &["rm", "-f", self.1]);
        if let Some(p) = &self.2 {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// One raw HTTP GET over the socket: (status, the whole response).
fn raw_get(sock: &Path, path: &str) -> (u16, Vec<u8>) {
    let mut s = std::os::unix::net::UnixStream::connect(sock).expect("connecting to the daemon");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: whale\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let status = text(&out)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, out)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Swaps two paths for ever with renameat2(RENAME_EXCHANGE), which
/// busybox has no applet for.
const SWAPPER_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    for (;;) syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], 2 /* RENAME_EXCHANGE */);
}
"#;

fn build_swapper(dir: &Path) -> PathBuf {
    let src = dir.join("swapper.c");
    let bin = dir.join("swapper");
    std::fs::write(&src, SWAPPER_C).unwrap();
    let out = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs a C compiler (`cc`) with static libc to build its symlink swapper: {e}; install gcc and libc6-dev")
        });
    assert!(
        out.status.success(),
        "cc -static swapper.c (needs gcc and libc6-dev): {}",
        text(&out.stderr)
    );
    bin
}

/// A container swaps `/swap` (a directory holding `secret`) and `/link` (a
/// symlink to a host directory holding another `secret`) as fast as it can
/// while we copy `/swap/secret` out of it: the host's file must never come
/// out (Docker: never; whale before resolving inside the container: about
/// one copy in twelve). Export reads the same tree and must not either.
#[test]
fn cp_out_cannot_be_raced_onto_host_files() {
    let d = Daemon::start(CHILD);
    let swapper = build_swapper(d.dir.path());
    ok(whale(&d, &["bootstrap", "busybox"]), "bootstrap");
    let tag = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let canary_dir = PathBuf::from(format!("/tmp/whale-canary-{tag}"));
    let canary = format!("HOST-CANARY-{tag}");
    std::fs::create_dir_all(&canary_dir).unwrap();
    std::fs::write(canary_dir.join("secret"), &canary).unwrap();
    let name = "racer";
    let _cleanup = Cleanup(&d, name, Some(canary_dir.clone()));
    let script = format!(
        "mkdir -p /swap && echo inside-container > /swap/secret && ln -s {} /link && exec /swapper /swap /link",
        canary_dir.display()
    );
    ok(
        whale(
            &d,
            &[
                "create",
                "--name",
                name,
                "--network",
                "none",
                "busybox",
                "sh",
                "-c",
                &script,
            ],
        ),
        "create",
    );
    ok(
        whale(
            &d,
            &["cp", swapper.to_str().unwrap(), &format!("{name}:/swapper")],
        ),
        "cp the swapper in",
    );
    ok(whale(&d, &["start", name]), "start");
    // Wait for the swapping to begin.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let o = whale(&d, &["exec", name, "ls", "-d", "/link"]);
        if o.status.success() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the swapper never started: {}",
            text(&o.stderr)
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let (mut leaked, mut inside, mut absent) = (0, 0, 0);
    for _ in 0..200 {
        let (status, resp) = raw_get(
            &d.sock,
            &format!("/v1.43/containers/{name}/archive?path=/swap/secret"),
        );
        if contains(&resp, &canary) {
            leaked += 1;
        } else if status == 200 && contains(&resp, "inside-container") {
            inside += 1;
        } else {
            absent += 1;
        }
    }
    let mut export_leaked = 0;
    for _ in 0..10 {
        let (status, resp) = raw_get(&d.sock, &format!("/v1.43/containers/{name}/export"));
        assert_eq!(
            status,
            200,
            "export: {}",
            text(&resp[..resp.len().min(300)])
        );
        if contains(&resp, &canary) {
            export_leaked += 1;
        }
    }
    eprintln!(
        "cp /swap/secret x200: {leaked} host canary, {inside} the container's file, {absent} not found/other; export x10: {export_leaked} host canary"
    );
    assert_eq!(
        leaked, 0,
        "docker cp read the host's file through the container's symlink"
    );
    assert_eq!(export_leaked, 0, "export read the host's file");
    assert!(inside > 0, "no copy read the container's own /swap/secret");
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// `cmd` run as the unprivileged host user `nobody`. Through a shell:
/// setpriv itself still holds root's capabilities when it execs, so its
/// own exec would get past any directory mode.
fn as_nobody(cmd: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--",
            "/bin/sh",
            "-c",
            "exec \"$@\"",
            "sh",
        ])
        .args(cmd)
        .output()
        .expect("running setpriv (util-linux)")
}

/// Another host user can neither search the store, nor read a container's
/// config (its `-e PASSWORD=`) or log, nor run a setuid-root file that a
/// container planted in its upper dir.
#[test]
fn the_store_is_closed_to_other_users() {
    let mut d = Daemon::start(CHILD);
    // The temp dir is 0700 itself; make it as open as /var/lib is.
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    ok(whale(&d, &["bootstrap", "busybox"]), "bootstrap");
    // It exits at once: nothing to clean up but the temp root.
    let name = "planter";
    ok(
        whale(
            &d,
            &[
                "run",
                "--name",
                name,
                "--network",
                "none",
                "-e",
                "PASSWORD=hunter2",
                "busybox",
                "sh",
                "-c",
                "cp /bin/busybox /busybox-suid && chmod 4755 /busybox-suid && echo logged-secret",
            ],
        ),
        "run",
    );
    let id = d.get(&format!("/containers/{name}/json")).json()["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(id.len(), 64, "container id");
    let dir = d.root.join("containers").join(&id);
    let planted = dir.join("upper/busybox-suid");
    assert_eq!(
        mode(&planted) & 0o4000,
        0o4000,
        "the container planted a setuid file"
    );
    assert!(std::fs::read_to_string(dir.join("config.json"))
        .unwrap()
        .contains("hunter2"));

    assert_eq!(mode(&d.root), 0o700, "the root dir");
    for f in ["config.json", "container.log", "shim.log"] {
        let p = dir.join(f);
        assert_eq!(mode(&p) & 0o077, 0, "{} is {:o}", p.display(), mode(&p));
    }

    let check_closed = |d: &Daemon| {
        let o = as_nobody(&["ls", d.root.join("containers").to_str().unwrap()]);
        assert!(
            !o.status.success(),
            "nobody listed the containers: {}",
            text(&o.stdout)
        );
        assert!(
            text(&o.stderr).contains("Permission denied"),
            "{}",
            text(&o.stderr)
        );
        let o = as_nobody(&[planted.to_str().unwrap(), "id", "-u"]);
        assert!(
            !o.status.success(),
            "nobody ran the container's setuid file: {}",
            text(&o.stdout)
        );
        assert!(
            text(&o.stderr).contains("Permission denied"),
            "{}",
            text(&o.stderr)
        );
        for f in ["config.json", "container.log"] {
            let o = as_nobody(&["cat", dir.join(f).to_str().unwrap()]);
            assert!(!o.status.success(), "nobody read {f}: {}", text(&o.stdout));
        }
    };
    check_closed(&d);

    // A store made by an older whale (0755) is closed on the next start.
    d.stop();
    for p in [
        d.root.clone(),
        d.root.join("containers"),
        d.root.join("image"),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let o = as_nobody(&["ls", d.root.join("containers").to_str().unwrap()]);
    assert!(
        o.status.success(),
        "the test's open store: {}",
        text(&o.stderr)
    );
    d.restart(CHILD);
    assert_eq!(mode(&d.root), 0o700);
    assert_eq!(mode(&d.root.join("containers")), 0o700);
    assert_eq!(mode(&d.root.join("image")), 0o700);
    check_closed(&d);
    ok(whale(&d, &["rm", name]), "rm");
}
