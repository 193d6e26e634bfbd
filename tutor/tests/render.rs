//! Snapshots of steps as a student sees them (colour off), with `{{ cli }}`
//! rendered for each engine.

use std::path::PathBuf;
use whaletutor::lesson;
use whaletutor::render::Style;
use whaletutor::runner;

fn lessons() -> Vec<lesson::LoadedLesson> {
    lesson::load_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lessons")).unwrap()
}

fn render_all(l: &lesson::LoadedLesson, cli: &str) -> String {
    let mut out = String::new();
    for i in 0..l.lesson.steps.len() {
        out.push_str(&runner::render_step(l, i, cli, Style::plain()));
        out.push_str("\n---- explain ----\n");
        out.push_str(&runner::explain(l, i, cli, Style::plain()));
        out.push_str("\n========\n");
    }
    out
}

#[test]
fn steps_render_for_whale() {
    for l in lessons() {
        insta::assert_snapshot!(format!("steps_whale_{}", l.id()), render_all(&l, "whale"));
    }
}

#[test]
fn steps_render_for_docker() {
    let all = lessons();
    let l = &all[0];
    let text = render_all(l, "docker");
    assert!(text.contains("docker run -it --name first whalesay"));
    assert!(!text.contains("{{ cli") && !text.contains("{%"));
    insta::assert_snapshot!(format!("steps_docker_{}", l.id()), text);
}

/// `{{ socket }}`: the engine's default socket in text for readers, the
/// real one where the tutor shows a step for an engine on another socket.
#[test]
fn socket_renders_default_or_real() {
    let all = lessons();
    let Some((l, i)) = all.iter().find_map(|l| {
        (0..l.lesson.steps.len())
            .find(|&i| {
                l.lesson.steps[i]
                    .get_ref()
                    .text
                    .get_ref()
                    .contains("{{ socket }}")
            })
            .map(|i| (l, i))
    }) else {
        panic!("no lesson uses {{{{ socket }}}}");
    };
    let whale = runner::render_step(l, i, "whale", Style::plain());
    assert!(whale.contains("/run/whale/whale.sock"), "{whale}");
    let docker = runner::render_step(l, i, "docker", Style::plain());
    assert!(docker.contains("/var/run/docker.sock"), "{docker}");
    let engine = whaletutor::engine::Engine {
        kind: whaletutor::engine::EngineKind::Docker,
        socket: "/var/tmp/private/docker.sock".into(),
        root: None,
    };
    let private = runner::render_step(l, i, &engine, Style::plain());
    assert!(
        private.contains("/var/tmp/private/docker.sock"),
        "{private}"
    );
    assert!(!private.contains("/var/run/docker.sock"), "{private}");
}

#[test]
fn colour_codes_only_when_asked() {
    let all = lessons();
    let plain = runner::render_step(&all[0], 0, "whale", Style::plain());
    assert!(!plain.contains('\u{1b}'));
    let coloured = runner::render_step(
        &all[0],
        0,
        "whale",
        Style {
            color: true,
            width: None,
        },
    );
    assert!(coloured.contains('\u{1b}'));
}
