//! whaletutor as a normal user, with whale rootless: a user this test
//! creates (with the subordinate ids `useradd` grants on Debian, or none),
//! the binaries and lessons copied where that user can read them, and its
//! own HOME, XDG dirs and TMPDIR in a temp dir. The user, every process it
//! left (its own and those of its subordinate ids) and the dir are removed
//! even when a test fails. Needs root (to create the user); as anyone else
//! each test says it did not run.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TUTOR: &str = env!("CARGO_BIN_EXE_whaletutor");

fn lessons_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lessons")
}

/// A normal user for one test, gone again when dropped.
struct TestUser {
    name: String,
    uid: u32,
    gid: u32,
    /// Its subordinate uid ranges (start, count), for the cleanup.
    subuids: Vec<(u64, u64)>,
    /// bin/ (root's copies), lessons/, home/, run/ (XDG_RUNTIME_DIR), tmp/.
    dir: tempfile::TempDir,
}

fn sh(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

impl TestUser {
    /// Create the user (`with_subids`: Debian's usual 65536 subordinate
    /// uids and gids; else none). None when this test cannot: not root.
    fn create(tag: &str, with_subids: bool) -> Option<TestUser> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("not run: creating a test user needs root");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("whaletutor-rootless-{tag}-"))
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let name = format!("wt{tag}{}", std::process::id() % 100_000);
        let count = if with_subids { "65536" } else { "0" };
        let out = sh(Command::new("useradd")
            .args(["--no-create-home", "--shell", "/bin/sh", "--home-dir"])
            .arg(dir.path().join("home"))
            .args(["-K", &format!("SUB_UID_COUNT={count}")])
            .args(["-K", &format!("SUB_GID_COUNT={count}")])
            .arg(&name));
        assert!(out.status.success(), "useradd {name}: {out:?}");
        let user = nix::unistd::User::from_name(&name).unwrap().unwrap();
        let subuids = std::fs::read_to_string("/etc/subuid")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() == 3 && f[0] == name)
                    .then(|| (f[1].parse().unwrap(), f[2].parse().unwrap()))
            })
            .collect();
        let me = TestUser {
            name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            subuids,
            dir,
        };
        let bin = me.path("bin");
        std::fs::create_dir(&bin).unwrap();
        let whale = whaletutor::engine::whale_bin().expect("whale is built beside the tutor");
        std::fs::copy(&whale, bin.join("whale")).unwrap();
        std::fs::copy(TUTOR, bin.join("whaletutor")).unwrap();
        copy_dir(&lessons_dir(), &me.path("lessons"));
        for own in ["home", "run", "tmp"] {
            let d = me.path(own);
            std::fs::create_dir(&d).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
            nix::unistd::chown(&d, Some(user.uid), Some(user.gid)).unwrap();
        }
        Some(me)
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Run one of the copied binaries as the user, in its own world.
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Output {
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--clear-groups")
            .arg("--")
            .arg(self.path("bin").join(program))
            .args(args)
            .current_dir(self.path("home"))
            .env_clear()
            .env("HOME", self.path("home"))
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("TMPDIR", self.path("tmp"))
            .env(
                "PATH",
                format!(
                    "{}:/usr/sbin:/usr/bin:/sbin:/bin",
                    self.path("bin").display()
                ),
            )
            .env("NO_COLOR", "1")
            .env("WHALETUTOR_LESSONS", self.path("lessons"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("setpriv runs");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let deadline = Instant::now() + timeout;
        // A watchdog: a hung run fails the test instead of hanging it.
        let watchdog = std::thread::spawn(move || {
            while Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
                if nix::sys::signal::kill(pid, None).is_err() {
                    return;
                }
            }
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        });
        let out = child.wait_with_output().unwrap();
        let _ = watchdog.join();
        out
    }

    /// What the user's runs left in its TMPDIR under `prefix`.
    fn leftovers(&self, prefix: &str) -> Vec<String> {
        std::fs::read_dir(self.path("tmp"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(prefix))
            .collect()
    }

    /// Whether a host uid is this user's or one of its subordinate ids.
    fn owns(&self, uid: u32) -> bool {
        uid == self.uid
            || self
                .subuids
                .iter()
                .any(|&(start, count)| (start..start + count).contains(&u64::from(uid)))
    }

    /// The pids of every process the user (or its containers) left.
    fn processes(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if e.metadata().is_ok_and(|m| self.owns(m.uid())) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // Daemons, shims and containers: each by its pid, until none is left.
        for _ in 0..50 {
            let pids = self.processes();
            if pids.is_empty() {
                break;
            }
            for p in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The ranges first (some userdel builds leave them behind).
        for (start, count) in &self.subuids {
            let range = format!("{start}-{}", start + count - 1);
            let _ = sh(Command::new("usermod")
                .args(["--del-subuids", &range, "--del-subgids", &range])
                .arg(&self.name));
        }
        let _ = sh(Command::new("userdel").arg(&self.name));
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// No subordinate ids: `bootstrap debian` says so, and what grants them,
/// before mmdebstrap starts.
#[test]
fn bootstrap_debian_without_subordinate_ids_says_what_grants_them() {
    let Some(user) = TestUser::create("nosub", false) else {
        return;
    };
    let out = user.run("whale", &["bootstrap", "debian"], Duration::from_secs(60));
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("mmdebstrap --mode=unshare"), "{all}");
    assert!(all.contains("/etc/subuid grants"), "{all}");
    assert!(
        all.contains(&format!(
            "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}",
            user.name
        )),
        "{all}"
    );
}

/// `doctor` as a normal user reports what rootless whale needs, and the
/// lessons marked for root or cgroup delegation are named, with why, by
/// `list`, `lesson` and `verify`.
#[test]
fn doctor_and_list_speak_of_rootless() {
    let Some(user) = TestUser::create("doc", true) else {
        return;
    };
    let out = user.run("whaletutor", &["doctor"], Duration::from_secs(60));
    let all = text(&out);
    assert!(all.contains("whale runs rootless"), "{all}");
    assert!(all.contains("/etc/subuid grants"), "{all}");
    assert!(all.contains("/etc/subgid grants"), "{all}");
    assert!(all.contains("newuidmap and newgidmap found"), "{all}");
    assert!(
        all.contains("a normal user may create user namespaces"),
        "{all}"
    );
    assert!(
        all.contains("overlayfs mounts in a user namespace")
            || all.contains("overlayfs does not mount in a user namespace"),
        "{all}"
    );
    assert!(all.contains("delegation"), "{all}");
    assert_eq!(
        user.leftovers("whaletutor-overlay-probe-"),
        Vec::<String>::new()
    );

    let lessons = whaletutor::lesson::load_dir(&lessons_dir()).unwrap();
    let marked: Vec<u32> = lessons
        .iter()
        .filter(|l| whaletutor::requirements::lesson_requires(l, whaletutor::requirements::ROOT))
        .map(|l| l.number())
        .collect();
    let out = user.run("whaletutor", &["list"], Duration::from_secs(30));
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for n in &marked {
        assert!(
            all.contains(&format!("{n:>3}  needs root, and this engine is rootless")),
            "lesson {n} is marked root: {all}"
        );
    }
}

/// The acceptance run: as a normal user with subordinate ids, `verify`
/// (its own rootless sandbox daemon, Debian bootstrapped with mmdebstrap
/// --mode=unshare, whalesay built with apt-get) passes lessons 1-4, and the
/// lessons marked for root or delegation are skipped with their reason;
/// `lesson 13` says why it cannot run and names the next one that can.
#[test]
fn lessons_one_to_four_verify_rootless_and_marked_ones_are_skipped() {
    let Some(user) = TestUser::create("ver", true) else {
        return;
    };
    let out = user.run(
        "whaletutor",
        &["verify", "1", "2", "3", "4", "12", "13"],
        Duration::from_secs(40 * 60),
    );
    let all = text(&out);
    eprintln!("{all}");
    assert!(out.status.success(), "{all}");
    assert!(all.contains("verify: 6 lesson(s) ok"), "{all}");
    let row = |n: &str| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with(n))
            .unwrap_or_default()
            .to_string()
    };
    // The sandbox's store (files of subordinate ids) and the process
    // holding its user namespace went with it.
    assert_eq!(user.leftovers("whaletutor-verify-"), Vec::<String>::new());
    let holders: Vec<i32> = user
        .processes()
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .is_ok_and(|s| s.contains("(whale-userns)") && !s.contains(") Z "))
        })
        .collect();
    assert!(
        holders.is_empty(),
        "user-namespace holders left: {holders:?}"
    );
    for n in ["01 ", "02 ", "03 ", "04 "] {
        assert!(!row(n).contains("skipped"), "{n}: {all}");
    }
    assert!(
        row("13 ").contains("(skipped: needs root, and this engine is rootless"),
        "{all}"
    );
    // 12 runs only where this machine delegates a cgroup v2 to the user.
    let r12 = row("12 ");
    assert!(
        r12.contains("(skipped: needs cgroup limits") || !r12.contains("skipped"),
        "{all}"
    );

    let out = user.run("whaletutor", &["lesson", "13"], Duration::from_secs(120));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("Lesson 13 needs root on the host"), "{all}");
    assert!(all.contains("sudo whaletutor lesson 13"), "{all}");
    assert!(
        all.contains("The next lesson that runs here: `whaletutor lesson 14`"),
        "{all}"
    );
}
