//! Seccomp: every container and every exec runs under Docker's default
//! profile, shown by a probe inside busybox: a static C program (built
//! here with `cc -static`) that makes the calls the profile denies and
//! prints each errno. With `--security-opt seccomp=unconfined` the same
//! calls are not denied, so the EPERMs come from the filter.

use std::collections::BTreeMap;
use std::process::Command;
use whale_e2e::World;

const PROBE_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long r) {
    if (r < 0) printf("%s=E%d\n", name, errno); else printf("%s=OK\n", name);
    fflush(stdout);
}

int main(void) {
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Seccomp:", 8) == 0) printf("seccomp=%d\n", atoi(line + 8));
    if (f) fclose(f);

    char buf[256];
    report("keyctl_read", syscall(SYS_keyctl, KEYCTL_READ, KEY_SPEC_USER_KEYRING, buf, sizeof buf));
    long key = syscall(SYS_add_key, "user", "whale-seccomp-probe", "x", 1, KEY_SPEC_USER_KEYRING);
    report("add_key", key);
    /* Unconfined, the key really lands in the host root's user keyring: take it out. */
    if (key > 0) syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);

    struct perf_event_attr pe;
    memset(&pe, 0, sizeof pe);
    pe.type = PERF_TYPE_SOFTWARE;
    pe.size = sizeof pe;
    pe.config = PERF_COUNT_SW_TASK_CLOCK;
    pe.disabled = 1;
    pe.exclude_kernel = 1;
    pe.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
    report("perf_event_open", fd);
    if (fd >= 0) close(fd);

    long old = personality(0xffffffff);
    report("personality", personality(ADDR_NO_RANDOMIZE));
    if (old >= 0) personality(old);

    /* Last, in a child: a user namespace, and a tmpfs mounted in it. */
    pid_t pid = fork();
    if (pid == 0) {
        report("unshare_user", unshare(CLONE_NEWUSER | CLONE_NEWNS));
        report("mount_tmpfs", mount("none", "/tmp", "tmpfs", 0, NULL));
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    return 0;
}
"#;

/// Build the probe and an image `probe` holding it at /probe.
fn probe_image(w: &World) {
    let ctx = w.base().join("probe-ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let src = ctx.join("probe.c");
    std::fs::write(&src, PROBE_C).unwrap();
    let out = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(ctx.join("probe"))
        .arg(&src)
        .output()
        .unwrap_or_else(|e| {
            panic!("the seccomp probe needs a C compiler: cannot run `cc` ({e}); install gcc and libc6-dev (Debian: apt-get install gcc libc6-dev)")
        });
    assert!(
        out.status.success(),
        "cc -static probe.c failed (needs gcc and libc6-dev):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&src).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nCOPY probe /probe\n").unwrap();
    w.whale_ok(&["build", "-q", "-t", "probe", ctx.to_str().unwrap()]);
}

fn results(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const DENIED: &[&str] = &[
    "keyctl_read",
    "add_key",
    "perf_event_open",
    "personality",
    "unshare_user",
];

#[track_caller]
fn assert_confined(text: &str, what: &str) {
    let r = results(text);
    assert_eq!(
        r.get("seccomp").map(String::as_str),
        Some("2"),
        "{what}: Seccomp is not 2 (filter mode):\n{text}"
    );
    for call in DENIED {
        assert_eq!(
            r.get(*call).map(String::as_str),
            Some("E1"),
            "{what}: {call} is not denied with EPERM:\n{text}"
        );
    }
}

#[test]
fn the_default_profile_denies_what_docker_denies_in_run_and_exec() {
    let w = World::with_busybox();
    probe_image(&w);

    let out = w.whale_ok(&["run", "--rm", "probe", "/probe"]);
    assert_confined(&out.stdout, "whale run");

    w.run_d(&["--name", "probed", "probe", "sleep", "1000"]);
    let out = w.whale_ok(&["exec", "probed", "/probe"]);
    assert_confined(&out.stdout, "whale exec");
    // The ordinary work of a shell still works under the filter.
    let out = w.whale_ok(&[
        "exec",
        "probed",
        "sh",
        "-c",
        "echo hi > /tmp/x && cat /tmp/x && ps >/dev/null && echo ok",
    ]);
    assert_eq!(out.lines(), ["hi", "ok"], "{out}");
    w.whale_ok(&["rm", "-f", "probed"]);
}

#[test]
fn unconfined_lets_the_same_calls_through() {
    let w = World::with_busybox();
    probe_image(&w);
    let out = w.whale_ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "probe",
        "/probe",
    ]);
    let r = results(&out.stdout);
    assert_eq!(r.get("seccomp").map(String::as_str), Some("0"), "{out}");
    for call in DENIED.iter().chain(&["mount_tmpfs"]) {
        assert_eq!(
            r.get(*call).map(String::as_str),
            Some("OK"),
            "unconfined {call}:\n{out}"
        );
    }
}

#[test]
fn a_custom_profile_is_read_by_the_client_and_applied() {
    let w = World::with_busybox();
    probe_image(&w);
    let profile = w.base().join("profile.json");
    std::fs::write(
        &profile,
        r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    { "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22 },
    { "names": ["add_key"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
      "args": [ { "index": 3, "value": 1, "op": "SCMP_CMP_EQ" } ] },
    { "names": ["add_key"], "action": "SCMP_ACT_ERRNO", "errnoRet": 14,
      "args": [ { "index": 3, "value": 2, "op": "SCMP_CMP_GE" } ] }
  ]
}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = w.whale_ok(&["run", "--rm", "--security-opt", &opt, "probe", "/probe"]);
    let r = results(&out.stdout);
    assert_eq!(r.get("seccomp").map(String::as_str), Some("2"), "{out}");
    assert_eq!(
        r.get("personality").map(String::as_str),
        Some("E22"),
        "{out}"
    );
    // The probe's add_key has a 1-byte payload (argument 3): the EQ 1
    // rule matches, not the GE 2 one.
    assert_eq!(r.get("add_key").map(String::as_str), Some("E13"), "{out}");
    assert_eq!(
        r.get("keyctl_read").map(String::as_str),
        Some("OK"),
        "{out}"
    );

    let missing = w.whale(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=/nonexistent.json",
        "probe",
        "/probe",
    ]);
    assert_eq!(missing.code(), Some(125), "{missing}");
    assert!(
        missing
            .stderr
            .contains("opening seccomp profile (/nonexistent.json) failed"),
        "{missing}"
    );
}
