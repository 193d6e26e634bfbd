//! The authoring checks behind `lint`: what serde cannot say about a
//! lesson (duplicate ids, bad regexes, broken templates, impossible checks,
//! images without a build context).

mod teaching;

use super::{line_col, load, Check, Diagnostic, Lesson, LessonError, FORMAT_VERSION};
use std::ops::Range;
use std::path::{Path, PathBuf};

struct Sink<'a> {
    file: &'a str,
    source: &'a str,
    out: Vec<Diagnostic>,
}

impl Sink<'_> {
    fn at(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let (line, col) = line_col(self.source, span.start);
        self.out.push(Diagnostic {
            file: self.file.to_string(),
            line,
            col,
            message: message.into(),
        });
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

use crate::requirements::WORDS as REQUIREMENT_WORDS;

/// Images `whale bootstrap` makes; every other required image is built
/// from `lessons/images/<name>/Dockerfile`.
pub const BASE_IMAGES: &[&str] = &["busybox", "debian"];

/// Every authoring error in a parsed lesson; `file` and `source` locate them.
pub(super) fn validate(file: &str, source: &str, lesson: &Lesson) -> Vec<Diagnostic> {
    let mut sink = Sink {
        file,
        source,
        out: Vec::new(),
    };
    validate_into(lesson, &mut sink);
    sink.out
}

fn validate_into(lesson: &Lesson, sink: &mut Sink) {
    if *lesson.format_version.get_ref() != FORMAT_VERSION {
        sink.at(
            &lesson.format_version.span(),
            format!(
                "format_version {} is not supported: this tutor reads format_version = {FORMAT_VERSION}",
                lesson.format_version.get_ref()
            ),
        );
    }
    if !valid_id(lesson.id.get_ref()) {
        sink.at(
            &lesson.id.span(),
            format!(
                "id `{}` is not valid: use lowercase letters, digits and dashes (progress is keyed by it)",
                lesson.id.get_ref()
            ),
        );
    }
    if *lesson.number.get_ref() == 0 {
        sink.at(&lesson.number.span(), "number must be 1 or more");
    }
    for r in &lesson.requires {
        let v = r.get_ref();
        let looks_like_image = v
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:/".contains(&b))
            && !v.is_empty();
        if !REQUIREMENT_WORDS.contains(&v.as_str()) && !looks_like_image {
            sink.at(
                &r.span(),
                format!(
                    "requires entry `{v}` is neither an image name nor one of {}",
                    REQUIREMENT_WORDS.join(", ")
                ),
            );
        }
    }
    for cmd in lesson.setup.iter().chain(lesson.cleanup.iter()) {
        template_ok(cmd.get_ref(), &cmd.span(), sink);
    }
    teaching::lesson_ok(lesson, sink);
    if lesson.steps.is_empty() {
        sink.at(
            &lesson.id.span(),
            "the lesson has no [[step]]: add at least one",
        );
    }
    let mut seen: Vec<&str> = Vec::new();
    for step in &lesson.steps {
        let s = step.get_ref();
        let id = s.id.get_ref().as_str();
        if !valid_id(id) {
            sink.at(
                &s.id.span(),
                format!("step id `{id}` is not valid: use lowercase letters, digits and dashes"),
            );
        }
        if seen.contains(&id) {
            sink.at(
                &s.id.span(),
                format!("step id `{id}` is used twice: step ids must be unique in a lesson"),
            );
        }
        seen.push(id);
        template_ok(s.text.get_ref(), &s.text.span(), sink);
        paste_ok(s.text.get_ref(), &s.text.span(), sink);
        template_ok(s.explain.get_ref(), &s.explain.span(), sink);
        for h in &s.hints {
            template_ok(h.get_ref(), &h.span(), sink);
        }
        teaching::step_ok(s, sink);
        for r in &s.requires {
            if !super::model::STEP_REQUIREMENT_WORDS.contains(&r.get_ref().as_str()) {
                sink.at(
                    &r.span(),
                    format!(
                        "step requires `{}`, which is not one of {}",
                        r.get_ref(),
                        super::model::STEP_REQUIREMENT_WORDS.join(", ")
                    ),
                );
            }
        }
        if s.checks.is_empty() {
            sink.at(
                &step.span(),
                format!("step `{id}` has no [[step.check]]: the tutor cannot tell when it is done"),
            );
        }
        let quiz_ids: Vec<&str> = s.quizzes.iter().map(|q| q.get_ref().id.as_str()).collect();
        for q in &s.quizzes {
            let quiz = q.get_ref();
            if !quiz.choices.is_empty() && !quiz.choices.contains(&quiz.answer) {
                sink.at(
                    &q.span(),
                    format!(
                        "quiz `{}`: answer `{}` is not one of its choices",
                        quiz.id, quiz.answer
                    ),
                );
            }
            // A wrong pick is where a student learns most: each wrong
            // choice says why it is wrong.
            let answer_is_a_choice = quiz.choices.contains(&quiz.answer);
            for wrong in quiz
                .choices
                .iter()
                .filter(|c| answer_is_a_choice && **c != quiz.answer)
            {
                if !quiz.why_not.contains_key(wrong) {
                    sink.at(
                        &q.span(),
                        format!(
                            "quiz `{}`: no why_not for the wrong choice `{wrong}`: say why it is wrong",
                            quiz.id
                        ),
                    );
                }
            }
            for wrong in quiz.why_not.keys() {
                if !quiz.choices.contains(wrong) || *wrong == quiz.answer {
                    sink.at(
                        &q.span(),
                        format!(
                            "quiz `{}`: why_not names `{wrong}`, which is not one of its wrong choices",
                            quiz.id
                        ),
                    );
                }
            }
            if quiz.choices.is_empty() {
                if let Err(e) = regex::Regex::new(&format!("(?i){}", quiz.answer)) {
                    sink.at(
                        &q.span(),
                        format!("quiz `{}`: answer is not a valid regex: {e}", quiz.id),
                    );
                }
            }
        }
        for c in &s.checks {
            check_ok(c.get_ref(), &c.span(), &quiz_ids, sink);
            teaching::patterns_sayable(c.get_ref(), &c.span(), sink);
        }
        if let Some(solve) = &s.solve {
            if solve.get_ref().script.is_empty() {
                sink.at(&solve.span(), "solve script is empty");
            }
            let mut spawned = false;
            for a in &solve.get_ref().script {
                let act = a.get_ref();
                let verbs = act.verbs();
                let span = a.span();
                match verbs.as_slice() {
                    [] => sink.at(
                        &span,
                        "solve action does nothing: give one of run, spawn, expect, send, send_control, write, wait_for, answer",
                    ),
                    [_] => {}
                    many => sink.at(
                        &span,
                        format!("solve action mixes {}: give one verb per action", many.join(" and ")),
                    ),
                }
                for cmd in [&act.run, &act.spawn, &act.send, &act.content]
                    .into_iter()
                    .flatten()
                {
                    template_ok(cmd, &span, sink);
                }
                if act.exit_code.is_some() && act.run.is_none() {
                    sink.at(&span, "exit_code belongs to a `run` action");
                }
                if act.content.is_some() != act.write.is_some() {
                    sink.at(
                        &span,
                        "`write` needs `content` (and `content` needs `write`)",
                    );
                }
                if act.quiz.is_some() != act.answer.is_some() {
                    sink.at(
                        &span,
                        "`answer` needs `quiz` (the quiz id), and `quiz` needs `answer`",
                    );
                }
                if let Some(q) = &act.quiz {
                    if !quiz_ids.contains(&q.as_str()) {
                        sink.at(
                            &span,
                            format!("answer names quiz `{q}`, which this step does not have"),
                        );
                    }
                }
                if let Some(w) = &act.write {
                    if w.starts_with('/') || w.split('/').any(|p| p == "..") {
                        sink.at(
                            &span,
                            format!(
                                "write path `{w}` must stay inside the work dir (relative, no ..)"
                            ),
                        );
                    }
                }
                if let Some(re) = &act.expect {
                    if let Err(e) = regex::Regex::new(re) {
                        sink.at(&span, format!("expect is not a valid regex: {e}"));
                    }
                }
                if let Some(ctl) = &act.send_control {
                    if ctl.is_empty()
                        || !ctl
                            .chars()
                            .all(|c| c.is_ascii_alphabetic() || "[\\]^_".contains(c))
                    {
                        sink.at(&span, format!("send_control `{ctl}` must be letters (\"c\" is Ctrl-C, \"pq\" is Ctrl-P Ctrl-Q)"));
                    }
                }
                if act.spawn.is_some() {
                    spawned = true;
                }
                if (act.expect.is_some() || act.send.is_some() || act.send_control.is_some())
                    && !spawned
                {
                    sink.at(
                        &span,
                        "expect/send/send_control need an earlier `spawn` in the same script",
                    );
                }
                if let Some(c) = &act.wait_for {
                    check_ok(c, &span, &quiz_ids, sink);
                }
            }
        }
    }
}

fn template_ok(text: &str, span: &Range<usize>, sink: &mut Sink) {
    if let Err(e) = crate::template::render(text, "whale") {
        sink.at(span, e.to_string());
    }
}

/// Every command line shown must paste: checked as rendered for whale and
/// for docker (their sockets differ in length), located at the line that
/// holds it in the source.
fn paste_ok(text: &str, span: &Range<usize>, sink: &mut Sink) {
    let mut seen: Vec<usize> = Vec::new();
    for cli in ["whale", "docker"] {
        let Ok(rendered) = crate::template::render(text, cli) else {
            return; // template_ok reports it
        };
        for p in super::paste::problems(&rendered) {
            let at = locate(sink.source, span, &p.line, cli);
            if seen.contains(&at) {
                continue;
            }
            seen.push(at);
            sink.at(&(at..at), format!("{} (as shown for {cli})", p.message));
        }
    }
}

/// Where in the source a rendered code line was written: the first source
/// line within `span` that renders to it, else the span's start.
fn locate(source: &str, span: &Range<usize>, line: &str, cli: &str) -> usize {
    let region = source.get(span.clone()).unwrap_or("");
    let mut offset = span.start;
    for raw in region.split_inclusive('\n') {
        let shown = crate::template::render(raw, cli).unwrap_or_default();
        // TOML's basic strings write a backslash as `\\`.
        if shown.trim().replace("\\\\", "\\") == line.trim() {
            return offset + (raw.len() - raw.trim_start().len());
        }
        offset += raw.len();
    }
    span.start
}

fn regex_ok(field: &str, re: &Option<String>, span: &Range<usize>, sink: &mut Sink) {
    if let Some(re) = re {
        if let Err(e) = regex::Regex::new(re) {
            let first = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string();
            sink.at(
                span,
                format!("{field} `{re}` is not a valid regex: {first}"),
            );
        }
    }
}

fn check_ok(check: &Check, span: &Range<usize>, quiz_ids: &[&str], sink: &mut Sink) {
    if check.failure().trim().is_empty() {
        sink.at(
            span,
            format!(
                "{} check has an empty failure message: tell the student what is wrong",
                check.kind()
            ),
        );
    }
    if let Some(r) = check.passes_before_solve() {
        if r.trim().is_empty() {
            sink.at(span, "passes_before_solve needs a reason");
        }
    }
    match check {
        Check::Container(c) => {
            match (&c.name, &c.label) {
                (None, None) => sink.at(span, "container check needs `name` or `label`"),
                (Some(_), Some(_)) => {
                    sink.at(span, "container check takes `name` or `label`, not both")
                }
                _ => {}
            }
            let asks = [
                c.exists.is_some(),
                c.status.is_some(),
                c.running.is_some(),
                c.exit_code.is_some(),
                c.tty.is_some(),
                c.open_stdin.is_some(),
                c.image.is_some(),
                c.cmd.is_some(),
                c.pid1.is_some(),
                c.oom_killed.is_some(),
                c.logs.is_some(),
            ];
            if !asks.iter().any(|a| *a) {
                sink.at(span, "container check asks nothing: give exists, status, running, exit_code, tty, open_stdin, image, cmd, pid1, oom_killed or logs");
            }
            if c.exists == Some(false) && asks.iter().filter(|a| **a).count() > 1 {
                sink.at(
                    span,
                    "container check with exists = false cannot ask anything else",
                );
            }
            if let Some(s) = &c.status {
                const STATUSES: &[&str] = &[
                    "created",
                    "running",
                    "paused",
                    "restarting",
                    "removing",
                    "exited",
                    "dead",
                ];
                if !STATUSES.contains(&s.as_str()) {
                    sink.at(
                        span,
                        format!(
                            "status `{s}` is not a Docker state: use one of {}",
                            STATUSES.join(", ")
                        ),
                    );
                }
            }
            regex_ok("cmd", &c.cmd, span, sink);
            regex_ok("pid1", &c.pid1, span, sink);
            regex_ok("logs", &c.logs, span, sink);
        }
        Check::Process(p) => {
            regex_ok("command", &Some(p.command.clone()), span, sink);
            if p.pid.is_some() && !p.running {
                sink.at(
                    span,
                    "process check: `pid` makes no sense with running = false",
                );
            }
        }
        Check::Exec(e) => {
            if e.cmd.is_empty() {
                sink.at(span, "exec check needs a non-empty `cmd`");
            }
            if e.stdout.is_none() && e.exit_code.is_none() {
                sink.at(
                    span,
                    "exec check asks nothing: give `stdout` or `exit_code`",
                );
            }
            regex_ok("stdout", &e.stdout, span, sink);
        }
        Check::File(f) => {
            if !f.path.starts_with('/') {
                sink.at(
                    span,
                    format!("file check path `{}` must be absolute", f.path),
                );
            }
            if f.exists.is_none() && f.contents.is_none() {
                sink.at(span, "file check asks nothing: give `exists` or `contents`");
            }
            if f.exists == Some(false) && f.contents.is_some() {
                sink.at(
                    span,
                    "file check cannot ask for contents of a file that must not exist",
                );
            }
            regex_ok("contents", &f.contents, span, sink);
        }
        Check::Image(i) => {
            let asks = [
                i.exists.is_some(),
                i.layers.is_some(),
                i.min_layers.is_some(),
                i.cmd.is_some(),
                i.entrypoint.is_some(),
                i.based_on.is_some(),
                i.shares_layers_with.is_some(),
                i.max_unique_bytes.is_some(),
                i.min_unique_bytes.is_some(),
                i.contains_file.is_some(),
            ];
            if !asks.iter().any(|a| *a) {
                sink.at(span, "image check asks nothing: give exists, layers, min_layers, cmd, entrypoint, based_on, shares_layers_with, max_unique_bytes, min_unique_bytes or contains_file");
            }
            let bounds = i.min_shared_layers.is_some() || i.max_shared_layers.is_some();
            if bounds != i.shares_layers_with.is_some() {
                sink.at(
                    span,
                    "`shares_layers_with` goes with `min_shared_layers` and/or `max_shared_layers`",
                );
            }
            if i.exists == Some(false) && asks.iter().filter(|a| **a).count() > 1 {
                sink.at(
                    span,
                    "image check with exists = false cannot ask anything else",
                );
            }
        }
        Check::Host(h) => {
            template_ok(&h.command, span, sink);
            if h.stdout.is_none() && h.exit_code.is_none() {
                sink.at(
                    span,
                    "host check asks nothing: give `stdout` or `exit_code`",
                );
            }
            regex_ok("stdout", &h.stdout, span, sink);
        }
        Check::Quiz(q) => {
            if !quiz_ids.contains(&q.quiz.as_str()) {
                sink.at(
                    span,
                    format!(
                        "quiz check names quiz `{}`, which this step does not have",
                        q.quiz
                    ),
                );
            }
        }
        Check::All(g) | Check::Any(g) => {
            if g.checks.is_empty() {
                sink.at(
                    span,
                    format!(
                        "`{}` check needs at least one check in `checks`",
                        check.kind()
                    ),
                );
            }
            for c in &g.checks {
                check_ok(c, span, quiz_ids, sink);
            }
        }
    }
}

/// A diagnostic at byte `offset` of a loaded lesson's file.
fn located(l: &super::LoadedLesson, offset: usize, message: String) -> Diagnostic {
    let (line, col) = line_col(&l.source, offset);
    Diagnostic {
        file: l.path.display().to_string(),
        line,
        col,
        message,
    }
}

/// Each step's figure is a file of the book beside the lessons
/// (`../book/src/images/`), when there is such a book.
fn figures_exist(l: &super::LoadedLesson, out: &mut Vec<Diagnostic>) {
    let book = l.path.parent().unwrap_or(Path::new(".")).join("../book");
    if !book.join("book.toml").is_file() {
        return;
    }
    let images = book.join("src/images");
    for s in &l.lesson.steps {
        let Some(f) = &s.get_ref().figure else {
            continue;
        };
        let src = &f.get_ref().src;
        if src.contains('/') || images.join(src).is_file() {
            continue; // a path is refused by validate already
        }
        out.push(located(
            l,
            f.span().start,
            format!(
                "figure `{src}` is not in {}: draw it there (an SVG like the others) or fix the name",
                images.display()
            ),
        ));
    }
}

/// Lint files; returns every diagnostic (empty when all are clean).
pub fn lint_files(paths: &[PathBuf]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut ids: Vec<(String, String)> = Vec::new();
    for p in paths {
        match load(p) {
            Ok(l) => {
                let images = p.parent().unwrap_or(Path::new(".")).join("images");
                for r in &l.lesson.requires {
                    let name = r.get_ref();
                    let base = name.split(':').next().unwrap_or(name);
                    if REQUIREMENT_WORDS.contains(&name.as_str())
                        || BASE_IMAGES.contains(&base)
                        || images.join(name).join("Dockerfile").is_file()
                    {
                        continue;
                    }
                    out.push(located(
                        &l,
                        r.span().start,
                        format!(
                            "requires image `{name}`, which is neither a base image ({}) nor has a build context: add images/{name}/Dockerfile beside the lesson",
                            BASE_IMAGES.join(", "),
                        ),
                    ));
                }
                figures_exist(&l, &mut out);
                let id = l.id().to_string();
                if let Some((_, other)) = ids.iter().find(|(i, _)| *i == id) {
                    out.push(located(
                        &l,
                        l.lesson.id.span().start,
                        format!("lesson id `{id}` is also used by {other}: ids must be unique"),
                    ));
                }
                ids.push((id, p.display().to_string()));
            }
            Err(LessonError::Invalid(d)) => out.extend(d.0),
            // The file is named by the diagnostic already.
            Err(LessonError::Read { source, .. }) => out.push(Diagnostic {
                file: p.display().to_string(),
                line: 1,
                col: 1,
                message: format!("cannot read lesson file: {source}"),
            }),
            Err(e) => out.push(Diagnostic {
                file: p.display().to_string(),
                line: 1,
                col: 1,
                message: e.to_string(),
            }),
        }
    }
    out
}
