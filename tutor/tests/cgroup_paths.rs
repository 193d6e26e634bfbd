//! Lesson 12 prints the cgroup paths and commands of the machine it runs
//! on: rendered against fake cgroup trees (v2, hybrid, v1) and both Docker
//! drivers, each shows only its own layout's files.

use std::path::{Path, PathBuf};
use whaletutor::cgroup::{CgroupVars, Layout};
use whaletutor::engine::EngineKind;
use whaletutor::lesson;
use whaletutor::render::Style;
use whaletutor::runner;
use whaletutor::template::Vars;

fn cgroups_lesson() -> lesson::LoadedLesson {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lessons");
    lesson::load_dir(&dir)
        .unwrap()
        .into_iter()
        .find(|l| l.id() == "cgroups")
        .expect("lesson 12 (id cgroups) is in lessons/")
}

/// Every step's text, hints and explain of lesson 12,
/// rendered as the tutor would on a machine whose cgroup mount is `root`.
fn render_on(root: &Path, kind: EngineKind, driver: &str) -> String {
    let l = cgroups_lesson();
    let vars = Vars {
        cgroup: CgroupVars::new(Layout::read(root), kind, driver),
        ..Vars::from(kind.name())
    };
    let mut out = String::new();
    for (i, s) in l.lesson.steps.iter().enumerate() {
        out.push_str(&runner::render_step(&l, i, vars.clone(), Style::plain()));
        out.push_str(&runner::explain(&l, i, vars.clone(), Style::plain()));
        let s = s.get_ref();
        for h in &s.hints {
            out.push_str(&whaletutor::template::render_vars(h.get_ref(), &vars).unwrap());
            out.push('\n');
        }
    }
    // Prose is wrapped to the terminal: compare words, not line breaks.
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fake_tree(files: &[&str]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for f in files {
        let p = d.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "cpu memory pids\n").unwrap();
    }
    d
}

#[test]
fn lesson_12_on_a_v2_tree_shows_v2_files_and_the_systemd_scope() {
    let v2 = fake_tree(&["cgroup.controllers"]);
    let text = render_on(v2.path(), EngineKind::Docker, "systemd");
    assert!(text.contains("commands below are for cgroup v2:"), "{text}");
    assert!(text.contains("docker exec capped cat /sys/fs/cgroup/memory.max"));
    assert!(text.contains("cat /sys/fs/cgroup$G/memory.max /sys/fs/cgroup$G/cpu.max"));
    assert!(text.contains("`/system.slice/docker-<id>.scope`"));
    // No v1 file in anything the student is told to type on this machine.
    for v1 in [
        "memory.limit_in_bytes",
        "cpu.cfs_quota_us",
        "/sys/fs/cgroup/memory/",
    ] {
        assert!(
            !text.contains(&format!("docker exec capped cat /sys/fs/cgroup/{v1}"))
                && !text.contains(&format!("cat /sys/fs/cgroup/memory$G/{v1}")),
            "a v1 path ({v1}) on a v2 machine:\n{text}"
        );
    }
    assert!(!text.contains("{%") && !text.contains("{{ c"), "{text}");
}

#[test]
fn lesson_12_on_v1_and_hybrid_trees_shows_v1_files() {
    let v1 = fake_tree(&["memory/memory.limit_in_bytes"]);
    let hybrid = fake_tree(&["unified/cgroup.controllers", "memory/memory.limit_in_bytes"]);
    for (tree, name) in [(&v1, "v1"), (&hybrid, "hybrid")] {
        let text = render_on(tree.path(), EngineKind::Docker, "cgroupfs");
        assert!(
            text.contains(&format!("commands below are for cgroup {name}")),
            "{text}"
        );
        assert!(text.contains("docker exec capped cat /sys/fs/cgroup/memory/memory.limit_in_bytes"));
        assert!(text.contains("cat /sys/fs/cgroup/memory$G/memory.limit_in_bytes"));
        assert!(text.contains("`/docker/<id>`"));
        assert!(
            !text.contains("capped cat /sys/fs/cgroup/memory.max"),
            "{text}"
        );
        assert_eq!(text.contains("/sys/fs/cgroup/unified"), name == "hybrid");
    }
    let whale = render_on(v1.path(), EngineKind::Whale, "cgroupfs");
    assert!(whale.contains("whale exec capped cat /sys/fs/cgroup/memory/memory.limit_in_bytes"));
    assert!(whale.contains("`/…/whale/<id>`"));
}
