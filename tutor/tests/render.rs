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

#[test]
fn colour_codes_only_when_asked() {
    let all = lessons();
    let plain = runner::render_step(&all[0], 0, "whale", Style::plain());
    assert!(!plain.contains('\u{1b}'));
    let coloured = runner::render_step(&all[0], 0, "whale", Style { color: true });
    assert!(coloured.contains('\u{1b}'));
}

#[test]
fn book_chapters() {
    for l in lessons() {
        let md = whaletutor::book::chapter(&l, "docker").unwrap();
        assert!(
            !md.contains("{{ cli") && !md.contains("{%"),
            "unrendered Tera in {}",
            l.id()
        );
        insta::assert_snapshot!(format!("book_{}", l.id()), md);
    }
}
