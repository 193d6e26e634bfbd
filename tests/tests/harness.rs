//! The harness itself: a world is torn down completely even when the engine
//! leaves mounts, cgroups and processes behind. No engine needed.

use std::process::{Command, Stdio};
use whale_e2e::{cgroup_dirs_named, pid_alive, World};

#[test]
fn teardown_removes_mounts_cgroups_and_processes() {
    let w = World::without_daemon();
    let base = w.base().to_path_buf();
    let id = format!(
        "{:064x}",
        std::process::id() as u128 * 0x9e37_79b9_7f4a_7c15 + 0xabc
    );
    let dir = w.root().join("containers").join(&id);
    std::fs::create_dir_all(dir.join("merged")).expect("mkdir");
    // A mount left in the host's namespace.
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "whale-e2e-selftest"])
        .arg(dir.join("merged"))
        .status()
        .expect("mount");
    assert!(st.success());
    assert!(!w.host_mounts().is_empty());
    // A process in a cgroup named after the id (joined before it can fork),
    // and one that has the root in its environment, as a shim would.
    let cg = std::path::Path::new("/sys/fs/cgroup/pids").join(&id);
    let have_cgroup = std::fs::create_dir(&cg).is_ok();
    let mut in_cgroup = Command::new("sleep")
        .arg("1000")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    if have_cgroup {
        std::fs::write(cg.join("cgroup.procs"), in_cgroup.id().to_string()).expect("join cgroup");
    }
    let mut with_env = Command::new("sleep")
        .arg("1000")
        .env("WHALE_ROOT", w.root())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    let pids = [in_cgroup.id() as i32, with_env.id() as i32];
    let problems = w.destroy();
    let _ = in_cgroup.wait();
    let _ = with_env.wait();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("mounts in the host namespace")),
        "the leaked mount is reported: {problems:?}"
    );
    for pid in pids {
        assert!(!pid_alive(pid), "process {pid} was killed");
    }
    assert!(
        cgroup_dirs_named(std::slice::from_ref(&id)).is_empty(),
        "the cgroup was removed"
    );
    assert!(!base.exists(), "{} was removed", base.display());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    assert!(!mounts.contains(base.to_str().unwrap_or("?")));
    if !have_cgroup {
        eprintln!("note: no v1 pids hierarchy: the cgroup part was not exercised");
    }
}

#[test]
fn a_clean_world_reports_nothing() {
    let w = World::without_daemon();
    let base = w.base().to_path_buf();
    assert!(base.join("r").is_dir());
    assert!(w.destroy().is_empty());
    assert!(!base.exists());
}
