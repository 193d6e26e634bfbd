//! Lesson 16 builds a memory cgroup by hand: its text and its last hint
//! must name the paths of the machine the tutor runs on (cgroup v1, the
//! hybrid layout, v2), never the other layout's.

use std::path::PathBuf;
use whaletutor::cgroup::{CgroupVars, Layout};
use whaletutor::engine::EngineKind;
use whaletutor::lesson;
use whaletutor::template::{render_vars, Vars};

fn cgroup_step() -> lesson::Step {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lessons");
    let l = lesson::load(&dir.join("16-container-by-hand.toml")).expect("lesson 16 loads");
    l.lesson
        .steps
        .iter()
        .map(|s| s.get_ref().clone())
        .find(|s| s.id.get_ref() == "cgroup")
        .expect("lesson 16 has a step `cgroup`")
}

/// The step's text and last hint (the commands) on a machine of `layout`.
fn rendered(layout: Layout) -> (String, String) {
    let vars = Vars {
        cgroup: CgroupVars::new(layout, EngineKind::Whale, "cgroupfs"),
        ..Vars::from("whale")
    };
    let step = cgroup_step();
    let text = render_vars(step.text.get_ref(), &vars).expect("text renders");
    let hint =
        render_vars(step.hints.last().expect("hints").get_ref(), &vars).expect("hint renders");
    (text, hint)
}

#[test]
fn v1_and_hybrid_machines_get_the_memory_tree() {
    for layout in [Layout::V1, Layout::Hybrid] {
        let (text, hint) = rendered(layout);
        assert!(
            text.contains("This machine has **cgroup v1**"),
            "{layout:?}: {text}"
        );
        assert!(
            hint.contains("echo 32M > /sys/fs/cgroup/memory/byhand/memory.limit_in_bytes"),
            "{layout:?}: {hint}"
        );
        assert!(
            hint.contains("> /sys/fs/cgroup/memory/byhand/cgroup.procs"),
            "{layout:?}: {hint}"
        );
        assert!(!hint.contains("memory.max"), "{layout:?}: {hint}");
    }
}

#[test]
fn a_v2_machine_and_the_book_get_one_tree() {
    let (text, hint) = rendered(Layout::V2);
    assert!(text.contains("With **cgroup v2**"), "{text}");
    assert!(!text.contains("This machine has"), "{text}");
    for want in [
        "mkdir /sys/fs/cgroup/byhand",
        "echo 32M > /sys/fs/cgroup/byhand/memory.max",
        "echo 0 > /sys/fs/cgroup/byhand/memory.swap.max",
        "> /sys/fs/cgroup/byhand/cgroup.procs",
    ] {
        assert!(hint.contains(want), "no `{want}` in: {hint}");
    }
    assert!(!hint.contains("limit_in_bytes"), "{hint}");
    // A reader of the book is shown today's default.
    let reader = render_vars(cgroup_step().text.get_ref(), &Vars::from("whale")).unwrap();
    assert_eq!(reader, text);
}
