//! What the verbs share: showing a step, evaluating its checks, running a
//! lesson's commands against the selected engine, and reset.

use crate::checks::{self, CheckError, Context, Outcome};
use crate::engine::Engine;
use crate::lesson::{Check, LoadedLesson, Step};
use crate::render::{markdown, Style};
use crate::template;
use bollard::query_parameters::{
    ListContainersOptions, RemoveContainerOptions, RemoveImageOptions,
};
use bollard::Docker;
use std::collections::HashMap;
use std::time::Duration;

/// One check's result in a step.
#[derive(Debug)]
pub struct CheckResult {
    pub kind: &'static str,
    pub outcome: Result<Outcome, CheckError>,
}

impl CheckResult {
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Ok(Outcome::Pass))
    }
}

pub fn step(lesson: &LoadedLesson, index: usize) -> &Step {
    lesson.lesson.steps[index].get_ref()
}

/// Every check of a step, in order (all of them, so the student sees each
/// thing still missing).
pub async fn check_step(
    docker: &Docker,
    engine: &Engine,
    step: &Step,
    answers: &HashMap<String, String>,
) -> Vec<CheckResult> {
    let quizzes: Vec<_> = step.quizzes.iter().map(|q| q.get_ref().clone()).collect();
    let ctx = Context {
        docker,
        engine,
        quizzes: &quizzes,
        answers,
    };
    let mut out = Vec::new();
    for c in &step.checks {
        let c = c.get_ref();
        let outcome = match checks::evaluate(c, &ctx).await {
            Err(CheckError::Gone { .. }) => Err(CheckError::Gone {
                engine: engine.kind.name(),
                how: engine.how_to_restart(),
            }),
            o => o,
        };
        out.push(CheckResult {
            kind: c.kind(),
            outcome,
        });
    }
    out
}

/// Whether the engine went away during these checks.
pub fn engine_gone(results: &[CheckResult]) -> bool {
    results
        .iter()
        .any(|r| matches!(r.outcome, Err(CheckError::Gone { .. })))
}

pub fn all_pass(results: &[CheckResult]) -> bool {
    results.iter().all(CheckResult::passed)
}

/// A step as the student sees it.
/// `vars` is a cli name (`"whale"`: default socket) or an `&Engine`.
pub fn render_step(
    lesson: &LoadedLesson,
    index: usize,
    vars: impl Into<template::Vars>,
    style: Style,
) -> String {
    let vars = vars.into();
    let s = step(lesson, index);
    let total = lesson.lesson.steps.len();
    let head = format!(
        "Lesson {} · {} — step {}/{}: {}",
        lesson.number(),
        lesson.lesson.title,
        index + 1,
        total,
        s.title
    );
    let text = template::render_vars(s.text.get_ref(), &vars).unwrap_or_else(|e| e.to_string());
    // On a terminal the title and the quiz wrap like the prose.
    let fit = |text: &str, indent: &str| match style.width {
        Some(w) => crate::render::wrap(text, w.max(20), indent),
        None => text.to_string(),
    };
    let head: Vec<String> = fit(&head, "").lines().map(|l| style.heading(l)).collect();
    let mut out = format!("{}\n\n", head.join("\n"));
    if s.is_challenge() {
        out.push_str(&markdown(CHALLENGE_NOTE, style));
        out.push('\n');
    }
    out.push_str(&markdown(&text, style));
    if s.figure.is_some() {
        out.push_str(&format!(
            "\n{} {}\n",
            style.strong("Picture:"),
            fit(&picture_line(lesson, s), "  ")
        ));
    }
    for q in &s.quizzes {
        let q = q.get_ref();
        out.push_str(&format!(
            "\n{} {}\n",
            style.strong("Quiz:"),
            fit(&q.question, "      ")
        ));
        for (i, c) in q.choices.iter().enumerate() {
            out.push_str(&format!("  {}. {}\n", i + 1, fit(c, "     ")));
        }
    }
    out
}

/// What the tutor says of a challenge step, above its text.
pub const CHALLENGE_NOTE: &str = "**Challenge:** the text gives the goal, not the commands. \
     Try first; `h` gives hints, and the last one shows a way.";

/// Where a step's picture is: the book's chapter and step, and the page
/// of the built book (mdBook's `lessons/NN-id.html#step-id`).
fn picture_line(lesson: &LoadedLesson, s: &Step) -> String {
    let page = crate::book::chapter_file(lesson).replace(".md", ".html");
    format!(
        "in the book, lesson {} \"{}\", step \"{}\" (lessons/{page}#step-{}).",
        lesson.number(),
        lesson.lesson.title,
        s.title,
        s.id.get_ref()
    )
}

/// A result line's text after its 4-column mark: code spans rendered and,
/// on a terminal, wrapped to its width.
fn fit(text: &str, style: Style) -> String {
    let shown = crate::render::inline(text, style);
    match style.width {
        Some(w) => crate::render::wrap(&shown, w.max(20), "    "),
        None => shown,
    }
}

/// The failures of a check run, as the student sees them.
pub fn render_failures(results: &[CheckResult], style: Style, verbose: bool) -> String {
    let mut out = String::new();
    for r in results {
        match &r.outcome {
            Ok(Outcome::Pass) => {
                if verbose {
                    out.push_str(&format!("  {} {}\n", style.good("✓"), r.kind));
                }
            }
            Ok(Outcome::Fail { failure, seen }) => {
                out.push_str(&format!("  {} {}\n", style.bad("✗"), fit(failure, style)));
                if verbose {
                    out.push_str(&format!("    {}\n", style.dim(&format!("seen: {seen}"))));
                }
            }
            Err(e) => out.push_str(&format!(
                "  {} {}\n",
                style.bad("!"),
                fit(&e.to_string(), style)
            )),
        }
    }
    out
}

pub fn explain(
    lesson: &LoadedLesson,
    index: usize,
    vars: impl Into<template::Vars>,
    style: Style,
) -> String {
    let s = step(lesson, index);
    let vars = vars.into();
    let text = template::render_vars(s.explain.get_ref(), &vars).unwrap_or_else(|e| e.to_string());
    // Part of the first paragraph, so it is wrapped with it.
    let mut out = markdown(&format!("**✓ Done.** {}", text.trim_start()), style);
    // Said once the step passes: the student has just seen whale's way.
    if let Some(d) = &s.docker_differs {
        let note = template::render_vars(d.get_ref(), &vars).unwrap_or_else(|e| e.to_string());
        let note = note.trim_start();
        // A note that opens with a list (whale / Docker 20.10 / today's
        // Docker) keeps its first item: the heading gets a line of its own.
        let sep = if note.starts_with("- ") || note.starts_with("* ") {
            "\n\n"
        } else {
            " "
        };
        out.push('\n');
        out.push_str(&markdown(
            &format!("**Where Docker differs:**{sep}{note}"),
            style,
        ));
    }
    out
}

/// Run a shell command against the engine; returns (exit code, output).
pub fn sh(engine: &Engine, cmd: &str, timeout: Duration) -> std::io::Result<(i32, String)> {
    let mut c = std::process::Command::new("sh");
    c.arg("-c").arg(cmd).envs(engine.env());
    if let Some(p) = engine.path_env() {
        c.env("PATH", p);
    }
    c.stdin(std::process::Stdio::null());
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => {
            let out = out?;
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            Ok((out.status.code().unwrap_or(-1), text))
        }
        Err(_) => {
            // The command is ours: end it rather than leave it behind.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("`{cmd}` did not finish in {} s", timeout.as_secs()),
            ))
        }
    }
}

/// What a lesson creates, as named by its checks: containers by name or
/// label, and images it checks that are not among its requirements.
#[derive(Debug, Default, PartialEq)]
pub struct Footprint {
    pub containers: Vec<String>,
    pub labels: Vec<String>,
    pub images: Vec<String>,
}

fn collect(check: &Check, requires: &[String], fp: &mut Footprint) {
    let add = |v: &mut Vec<String>, s: &str| {
        if !v.iter().any(|x| x == s) {
            v.push(s.to_string());
        }
    };
    match check {
        Check::Container(c) => {
            if let Some(n) = &c.name {
                add(&mut fp.containers, n);
            }
            if let Some(l) = &c.label {
                add(&mut fp.labels, l);
            }
        }
        Check::Process(p) => add(&mut fp.containers, &p.container),
        Check::Exec(e) => add(&mut fp.containers, &e.container),
        Check::File(f) => add(&mut fp.containers, &f.container),
        Check::Image(i) => {
            let base = i.name.split(':').next().unwrap_or(&i.name);
            if !requires.iter().any(|r| r == &i.name || r == base) {
                add(&mut fp.images, &i.name);
            }
        }
        Check::Host(_) | Check::Quiz(_) => {}
        Check::All(g) | Check::Any(g) => {
            for c in &g.checks {
                collect(c, requires, fp);
            }
        }
    }
}

pub fn footprint(lesson: &LoadedLesson) -> Footprint {
    let requires: Vec<String> = lesson
        .lesson
        .requires
        .iter()
        .map(|r| r.get_ref().clone())
        .collect();
    let mut fp = Footprint::default();
    for s in &lesson.lesson.steps {
        for c in &s.get_ref().checks {
            collect(c.get_ref(), &requires, &mut fp);
        }
        if let Some(solve) = &s.get_ref().solve {
            for a in &solve.get_ref().script {
                if let Some(c) = &a.get_ref().wait_for {
                    collect(c, &requires, &mut fp);
                }
            }
        }
    }
    fp
}

/// Remove what the lesson created (its containers by name and label, its
/// own images), and nothing else. Returns what was removed.
pub async fn reset(engine: &Engine, docker: &Docker, lesson: &LoadedLesson) -> Vec<String> {
    let fp = footprint(lesson);
    let mut removed = Vec::new();
    let mut ids: Vec<(String, String)> = fp
        .containers
        .iter()
        .map(|n| (n.clone(), n.clone()))
        .collect();
    for l in &fp.labels {
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), vec![l.clone()]);
        if let Ok(list) = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
        {
            for s in list {
                if let Some(id) = s.id {
                    let name = s
                        .names
                        .and_then(|n| n.first().cloned())
                        .unwrap_or_else(|| id.clone());
                    ids.push((id, name.trim_start_matches('/').to_string()));
                }
            }
        }
    }
    for (id, name) in ids {
        let r = docker
            .remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await;
        if r.is_ok() {
            removed.push(format!("container {name}"));
        }
    }
    for i in &fp.images {
        if docker
            .remove_image(
                i,
                Some(RemoveImageOptions {
                    force: true,
                    ..Default::default()
                }),
                None,
            )
            .await
            .is_ok()
        {
            removed.push(format!("image {i}"));
        }
    }
    // The lesson's own cleanup last: whatever it still finds is its own.
    for c in &lesson.lesson.cleanup {
        if let Ok(cmd) = template::render_for(c.get_ref(), engine) {
            let _ = sh(engine, &cmd, Duration::from_secs(30));
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn lesson() -> LoadedLesson {
        let source = r#"format_version = 1
id = "t"
number = 3
title = "T"
summary = "S"
[[step]]
id = "a"
title = "A"
challenge = true
figure = { src = "layer-order.svg", alt = "Layers" }
docker_differs = "On `{{ cli }}` 23 and later, BuildKit prints `CACHED`."
text = "Make the rebuild fast."
hints = ["Think of the cache.", "`{{ cli }} build -t fast .`"]
explain = "Fast."
  [[step.check]]
  kind = "container"
  name = "web"
  running = true
  failure = "f"
"#
        .to_string();
        let lesson = crate::lesson::parse("03-t.toml", &source).unwrap();
        LoadedLesson {
            path: PathBuf::from("lessons/03-t.toml"),
            source,
            lesson,
        }
    }

    #[test]
    fn a_challenge_is_marked_and_its_picture_named() {
        let shown = render_step(&lesson(), 0, "whale", Style::plain());
        let (_, body) = shown.split_once("\n\n").unwrap();
        assert!(
            body.starts_with("Challenge: the text gives the goal"),
            "{shown}"
        );
        assert!(
            shown.contains(
                "Picture: in the book, lesson 3 \"T\", step \"A\" (lessons/03-t.html#step-a)."
            ),
            "{shown}"
        );
    }

    #[test]
    fn where_docker_differs_is_said_once_the_step_passes() {
        let l = lesson();
        let done = explain(&l, 0, "docker", Style::plain());
        assert!(done.starts_with("✓ Done. Fast."), "{done}");
        assert!(
            done.contains(
                "Where Docker differs: On `docker` 23 and later, BuildKit prints `CACHED`."
            ),
            "{done}"
        );
        // Not before: the step's text does not say it.
        assert!(!render_step(&l, 0, "docker", Style::plain()).contains("Where Docker differs"));
    }
}
