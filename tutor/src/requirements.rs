//! What a lesson needs besides its images: the words of its `requires`
//! line, and whether the engine at hand can give it.
//!
//! A rootless engine (whale run by a normal user, or Docker's rootless
//! mode) runs its containers in the user's own user namespace: it cannot do
//! what only the host's root may, and it sets cgroup limits only where the
//! system delegated a cgroup v2 subtree to the user. A lesson whose steps
//! need either says so (`"root"`, `"cgroup-delegation"`), and the tutor says
//! why it cannot run it there and what would enable it, instead of letting
//! the student fail at a check they could never pass.

use crate::engine::{Engine, EngineKind};
use crate::lesson::LoadedLesson;
use bollard::models::SystemInfo;
use bollard::Docker;

/// The lesson downloads packages.
pub const NETWORK: &str = "network";
/// The lesson runs only on a real Docker engine.
pub const DOCKER_ONLY: &str = "docker-only";
/// The lesson looks at whale's insides.
pub const WHALE_ONLY: &str = "whale-only";
/// A step does what only the host's root may (a rootless engine cannot).
pub const ROOT: &str = "root";
/// A step sets memory, CPU or process limits: as root, or rootless with a
/// delegated cgroup v2 subtree.
pub const CGROUP_DELEGATION: &str = "cgroup-delegation";

/// Every word `requires` may hold besides image names.
pub const WORDS: &[&str] = &[NETWORK, DOCKER_ONLY, WHALE_ONLY, ROOT, CGROUP_DELEGATION];

/// Whether a `requires` entry is one of [`WORDS`] (else it names an image).
pub fn is_word(entry: &str) -> bool {
    WORDS.contains(&entry)
}

/// Whether `lesson` lists `word` in its `requires`.
pub fn lesson_requires(lesson: &LoadedLesson, word: &str) -> bool {
    lesson.lesson.requires.iter().any(|r| r.get_ref() == word)
}

/// What the engine can do, for the lessons that need more than containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineCaps {
    /// The engine's containers live in a normal user's user namespace.
    pub rootless: bool,
    /// The engine writes memory, CPU and process limits.
    pub cgroup_limits: bool,
}

impl EngineCaps {
    /// What the engine's `/info` says, the way `docker info` reads it:
    /// `name=rootless` among the security options; `MemoryLimit`,
    /// `CpuCfsQuota` and `PidsLimit` false where limits cannot be set.
    pub fn from_info(info: &SystemInfo) -> EngineCaps {
        let rootless = info.security_options.iter().flatten().any(|o| {
            o.split(',')
                .any(|kv| kv.trim() == "name=rootless" || kv.trim() == "rootless")
        });
        let cgroup_limits = info.memory_limit.unwrap_or(true)
            && info.cpu_cfs_quota.unwrap_or(true)
            && info.pids_limit.unwrap_or(true);
        EngineCaps {
            rootless,
            cgroup_limits,
        }
    }

    /// Ask the engine. A whale the tutor reaches as a normal user is that
    /// user's own, rootless whale (it picks its mode by who runs it), and
    /// it runs on this machine: its limits need a cgroup v2 subtree
    /// delegated to this user, which [`crate::rootless::cgroup_delegation`]
    /// reads here, whatever an older daemon's `/info` claims.
    pub async fn of(engine: &Engine, docker: &Docker) -> EngineCaps {
        let mut caps = match docker.info().await {
            Ok(info) => EngineCaps::from_info(&info),
            Err(_) => EngineCaps {
                rootless: false,
                cgroup_limits: true,
            },
        };
        if engine.kind == EngineKind::Whale && engine.rootless() {
            caps.rootless = true;
            caps.cgroup_limits &= crate::rootless::cgroup_delegation().is_ok();
        }
        caps
    }

    /// Without asking an engine (`list` before any daemon runs): whale's
    /// mode follows who runs it; of a docker engine nothing is known.
    pub fn guess(engine: &Engine) -> EngineCaps {
        if engine.kind == EngineKind::Whale && engine.rootless() {
            EngineCaps {
                rootless: true,
                cgroup_limits: crate::rootless::cgroup_delegation().is_ok(),
            }
        } else {
            EngineCaps {
                rootless: false,
                cgroup_limits: true,
            }
        }
    }
}

/// Why `lesson` cannot run on an engine with `caps` (`cli` names it): the
/// short reason (for `list` and `verify`'s table) and the full message, with
/// what would enable the lesson. `None` when it can run.
pub fn blocker(lesson: &LoadedLesson, caps: EngineCaps, cli: &str) -> Option<Blocker> {
    let n = lesson.number();
    if !caps.rootless && lesson_requires(lesson, ROOT) && !nix::unistd::geteuid().is_root() {
        // A root engine (a docker group member's dockerd) does not make
        // the student root on the host, where these steps run.
        return Some(Blocker {
            short: "needs root on the host, and you are not root".into(),
            message: format!(
                "Lesson {n} needs root on the host: some of its steps do there what only \
                 root may (make namespaces and cgroups by hand, enter a container's \
                 namespaces). To take it, run the tutor as root: `sudo whaletutor lesson {n}`."
            ),
        });
    }
    if caps.rootless && lesson_requires(lesson, ROOT) {
        return Some(Blocker {
            short: "needs root, and this engine is rootless; as root it runs".into(),
            message: format!(
                "Lesson {n} needs root on the host, and {cli} runs rootless here: its \
                 containers live in a user namespace of your own, where their root is you. \
                 Some of the lesson's steps do on the host what only its root may: make \
                 namespaces and cgroups by hand, enter a container's namespaces without its \
                 user namespace (`nsenter` without `-U`), or expect a container in the host's \
                 user namespace. To take it, run the tutor as root, with \
                 root's own engine: `sudo whaletutor lesson {n}`; or read the lesson in the book \
                 (`whaletutor book`, book/src). Every lesson not marked so runs rootless."
            ),
        });
    }
    if !caps.cgroup_limits && lesson_requires(lesson, CGROUP_DELEGATION) {
        let host = match crate::rootless::cgroup_delegation() {
            Err(why) => why,
            Ok(dir) => format!("a delegated cgroup at {} that the engine did not use", dir),
        };
        return Some(Blocker {
            short: "needs cgroup limits, and no cgroup v2 is delegated to you; as root it runs"
                .into(),
            message: format!(
                "Lesson {n} sets memory, CPU and process limits (cgroups), and {cli} runs \
                 rootless here: a normal user may write limits only in a cgroup v2 subtree the \
                 system delegates to them, and this machine has {host}. The engine refuses \
                 `--memory`, `--cpus` and `--pids-limit` rather than ignore them. To take it: run \
                 the tutor as root (`sudo whaletutor lesson {n}`), or ask an administrator for \
                 cgroup v2 with delegation (boot with `systemd.unified_cgroup_hierarchy=1`, and a \
                 drop-in /etc/systemd/system/user@.service.d/delegate.conf with \
                 `[Service]` `Delegate=cpu cpuset io memory pids`, then log in again). \
                 `whaletutor doctor` says what this machine has."
            ),
        });
    }
    None
}

/// Below `list`'s table: the lessons this engine cannot run, each with why
/// (empty when it runs them all).
pub fn list_notes(lessons: &[LoadedLesson], caps: EngineCaps, cli: &str) -> String {
    let blocked: Vec<String> = lessons
        .iter()
        .filter_map(|l| blocker(l, caps, cli).map(|b| format!("{:>3}  {}\n", l.number(), b.short)))
        .collect();
    if blocked.is_empty() {
        return String::new();
    }
    format!(
        "\nNot on this engine ({cli}; `whaletutor lesson N` says why, and what would enable them):\n{}",
        blocked.concat()
    )
}

/// Why a lesson cannot run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// A few words, for a table.
    pub short: String,
    /// What and why, and what would enable it.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_says_rootless_and_limits() {
        let root = SystemInfo {
            security_options: Some(vec!["name=seccomp,profile=default".into()]),
            memory_limit: Some(true),
            cpu_cfs_quota: Some(true),
            pids_limit: Some(true),
            ..Default::default()
        };
        assert_eq!(
            EngineCaps::from_info(&root),
            EngineCaps {
                rootless: false,
                cgroup_limits: true
            }
        );
        // dockerd-rootless on cgroup v2 without delegation says this.
        let rootless = SystemInfo {
            security_options: Some(vec![
                "name=seccomp,profile=default".into(),
                "name=rootless".into(),
                "name=cgroupns".into(),
            ]),
            memory_limit: Some(false),
            cpu_cfs_quota: Some(true),
            pids_limit: Some(false),
            ..Default::default()
        };
        assert_eq!(
            EngineCaps::from_info(&rootless),
            EngineCaps {
                rootless: true,
                cgroup_limits: false
            }
        );
    }

    #[test]
    fn words_are_not_images() {
        for w in WORDS {
            assert!(is_word(w));
        }
        assert!(!is_word("busybox"));
        assert!(!is_word("debian:bookworm"));
    }
}
