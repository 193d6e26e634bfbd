//! The lesson file: its TOML model and the authoring checks behind `lint`.
//!
//! Every error carries a byte span so it can be reported as file:line:col;
//! unknown keys are rejected by serde (`deny_unknown_fields`), the rest
//! (duplicate ids, bad regexes, broken templates, impossible checks) by
//! [`validate`].

use serde::Deserialize;
use serde_spanned::Spanned;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The one format this tutor reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    #[error("cannot read lesson file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("no lesson matches `{0}`: run `whaletutor list` to see the lessons")]
    NotFound(String),
    #[error("cannot list lesson directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One authoring error located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

#[derive(Debug, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub format_version: Spanned<u32>,
    pub id: Spanned<String>,
    pub number: Spanned<u32>,
    pub title: String,
    pub summary: String,
    #[serde(default)]
    pub requires: Vec<Spanned<String>>,
    #[serde(default)]
    pub setup: Vec<Spanned<String>>,
    #[serde(default)]
    pub cleanup: Vec<Spanned<String>>,
    #[serde(rename = "step", default)]
    pub steps: Vec<Spanned<Step>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: Spanned<String>,
    pub title: String,
    pub text: Spanned<String>,
    #[serde(default)]
    pub hints: Vec<Spanned<String>>,
    pub explain: Spanned<String>,
    #[serde(rename = "check", default)]
    pub checks: Vec<Spanned<Check>>,
    #[serde(default)]
    pub solve: Option<Spanned<Solve>>,
    #[serde(rename = "quiz", default)]
    pub quizzes: Vec<Spanned<Quiz>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quiz {
    pub id: String,
    pub question: String,
    /// Multiple choice when present; otherwise a free answer.
    #[serde(default)]
    pub choices: Vec<String>,
    /// The expected answer: a choice's text, or for a free answer a regex
    /// (case-insensitive) the answer must match.
    pub answer: String,
}

/// A typed check. Each reads engine or host state and never changes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Check {
    Container(ContainerCheck),
    Process(ProcessCheck),
    Exec(ExecCheck),
    File(FileCheck),
    Image(ImageCheck),
    Host(HostCheck),
    Quiz(QuizCheck),
    All(GroupCheck),
    Any(GroupCheck),
}

/// Which containers a check looks at: one by name, or every one with a label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerCheck {
    pub failure: String,
    /// Why this check may already pass before its step is solved.
    #[serde(default)]
    pub passes_before_solve: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// `key=value` (or `key`): passes when any labelled container matches.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub exists: Option<bool>,
    /// Docker's State.Status: created, running, paused, restarting, exited, dead.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub running: Option<bool>,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub tty: Option<bool>,
    #[serde(default)]
    pub open_stdin: Option<bool>,
    /// The image the container was created from, as typed (`busybox`
    /// matches `busybox:latest`).
    #[serde(default)]
    pub image: Option<String>,
    /// Regex over the container's command (Path + Args joined by spaces).
    #[serde(default)]
    pub cmd: Option<String>,
    /// Regex over the command line of the container's PID 1.
    #[serde(default)]
    pub pid1: Option<String>,
    #[serde(default)]
    pub oom_killed: Option<bool>,
    /// Regex over the container's output so far (its logs).
    #[serde(default)]
    pub logs: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessCheck {
    pub failure: String,
    #[serde(default)]
    pub passes_before_solve: Option<String>,
    pub container: String,
    /// Regex over a process's command line.
    pub command: String,
    /// Whether such a process must be running (default) or absent.
    #[serde(default = "yes")]
    pub running: bool,
    /// Its PID inside the container's PID namespace.
    #[serde(default)]
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecCheck {
    pub failure: String,
    #[serde(default)]
    pub passes_before_solve: Option<String>,
    pub container: String,
    pub cmd: Vec<String>,
    /// Regex the command's stdout must match.
    #[serde(default)]
    pub stdout: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCheck {
    pub failure: String,
    #[serde(default)]
    pub passes_before_solve: Option<String>,
    pub container: String,
    pub path: String,
    #[serde(default)]
    pub exists: Option<bool>,
    /// Regex over the file's contents.
    #[serde(default)]
    pub contents: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageCheck {
    pub failure: String,
    #[serde(default)]
    pub passes_before_solve: Option<String>,
    pub name: String,
    #[serde(default)]
    pub exists: Option<bool>,
    #[serde(default)]
    pub layers: Option<usize>,
    #[serde(default)]
    pub min_layers: Option<usize>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Image whose layers are a prefix of this one's.
    #[serde(default)]
    pub based_on: Option<String>,
    #[serde(default)]
    pub shares_layers_with: Option<String>,
    #[serde(default)]
    pub min_shared_layers: Option<usize>,
    /// At most this many shared: the image was rebuilt from some step on.
    #[serde(default)]
    pub max_shared_layers: Option<usize>,
    #[serde(default)]
    pub max_unique_bytes: Option<u64>,
    /// At least this many bytes no other image shares (a layer stored twice
    /// shows up here: lesson 10's wrong layer order).
    #[serde(default)]
    pub min_unique_bytes: Option<u64>,
    /// A path that some layer of the image contains.
    #[serde(default)]
    pub contains_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCheck {
    pub failure: String,
    #[serde(default)]
    pub passes_before_solve: Option<String>,
    /// Run with `sh -c`; rendered as a template.
    pub command: String,
    #[serde(default)]
    pub stdout: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuizCheck {
    pub failure: String,
    #[serde(default)]
    pub passes_before_solve: Option<String>,
    /// The id of a `[[step.quiz]]` in the same step.
    pub quiz: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupCheck {
    pub failure: String,
    #[serde(default)]
    pub passes_before_solve: Option<String>,
    pub checks: Vec<Check>,
}

fn yes() -> bool {
    true
}

impl Check {
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Container(_) => "container",
            Check::Process(_) => "process",
            Check::Exec(_) => "exec",
            Check::File(_) => "file",
            Check::Image(_) => "image",
            Check::Host(_) => "host",
            Check::Quiz(_) => "quiz",
            Check::All(_) => "all",
            Check::Any(_) => "any",
        }
    }

    pub fn failure(&self) -> &str {
        match self {
            Check::Container(c) => &c.failure,
            Check::Process(c) => &c.failure,
            Check::Exec(c) => &c.failure,
            Check::File(c) => &c.failure,
            Check::Image(c) => &c.failure,
            Check::Host(c) => &c.failure,
            Check::Quiz(c) => &c.failure,
            Check::All(c) | Check::Any(c) => &c.failure,
        }
    }

    pub fn passes_before_solve(&self) -> Option<&str> {
        match self {
            Check::Container(c) => c.passes_before_solve.as_deref(),
            Check::Process(c) => c.passes_before_solve.as_deref(),
            Check::Exec(c) => c.passes_before_solve.as_deref(),
            Check::File(c) => c.passes_before_solve.as_deref(),
            Check::Image(c) => c.passes_before_solve.as_deref(),
            Check::Host(c) => c.passes_before_solve.as_deref(),
            Check::Quiz(c) => c.passes_before_solve.as_deref(),
            Check::All(c) | Check::Any(c) => c.passes_before_solve.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Solve {
    pub script: Vec<Spanned<Action>>,
}

/// One solve action: exactly one of the verb fields is set.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// A shell command run to completion (`sh -c`).
    #[serde(default)]
    pub run: Option<String>,
    /// Expected exit code of `run` (default 0).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Start a command on a pseudo-terminal; later expect/send talk to it.
    #[serde(default)]
    pub spawn: Option<String>,
    /// Wait for this regex on the spawned terminal.
    #[serde(default)]
    pub expect: Option<String>,
    #[serde(default)]
    pub send: Option<String>,
    /// Control characters to send, one letter each: "pq" is Ctrl-P Ctrl-Q.
    #[serde(default)]
    pub send_control: Option<String>,
    /// A file path (relative to the work dir) to write `content` into.
    #[serde(default)]
    pub write: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    /// Wait until this check passes.
    #[serde(default)]
    pub wait_for: Option<Check>,
    /// Record this answer for a quiz of the step (`quiz` names it).
    #[serde(default)]
    pub answer: Option<String>,
    #[serde(default)]
    pub quiz: Option<String>,
    /// Seconds for expect / wait_for / run (default 10).
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl Action {
    fn verbs(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.run.is_some() {
            v.push("run");
        }
        if self.spawn.is_some() {
            v.push("spawn");
        }
        if self.expect.is_some() {
            v.push("expect");
        }
        if self.send.is_some() {
            v.push("send");
        }
        if self.send_control.is_some() {
            v.push("send_control");
        }
        if self.write.is_some() {
            v.push("write");
        }
        if self.wait_for.is_some() {
            v.push("wait_for");
        }
        if self.answer.is_some() {
            v.push("answer");
        }
        v
    }
}

/// A parsed lesson with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedLesson {
    pub path: PathBuf,
    pub source: String,
    pub lesson: Lesson,
}

impl LoadedLesson {
    pub fn id(&self) -> &str {
        self.lesson.id.get_ref()
    }
    pub fn number(&self) -> u32 {
        *self.lesson.number.get_ref()
    }
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.lesson
            .steps
            .iter()
            .position(|s| s.get_ref().id.get_ref() == id)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let mut line = 1;
    let mut line_start = 0;
    for (i, b) in source.bytes().enumerate() {
        if i >= offset {
            break;
        }
        if b == b'\n' {
            line += 1;
            line_start = i + 1;
        }
    }
    let col = source
        .get(line_start..offset)
        .map(|s| s.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

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

/// Parse and validate a lesson's source; `file` names it in messages.
pub fn parse(file: &str, source: &str) -> Result<Lesson, Diagnostics> {
    let lesson: Lesson = match toml::from_str(source) {
        Ok(l) => l,
        Err(e) => {
            let (line, col) = e
                .span()
                .map(|s| line_col(source, s.start))
                .unwrap_or((1, 1));
            let message = e.message().trim().replace('\n', " ");
            return Err(Diagnostics(vec![Diagnostic {
                file: file.to_string(),
                line,
                col,
                message,
            }]));
        }
    };
    let mut sink = Sink {
        file,
        source,
        out: Vec::new(),
    };
    validate(&lesson, &mut sink);
    if sink.out.is_empty() {
        Ok(lesson)
    } else {
        Err(Diagnostics(sink.out))
    }
}

pub fn load(path: &Path) -> Result<LoadedLesson, LessonError> {
    let source = std::fs::read_to_string(path).map_err(|source| LessonError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let lesson = parse(&path.display().to_string(), &source).map_err(LessonError::Invalid)?;
    if let Some(n) = filename_number(path) {
        if n != *lesson.number.get_ref() {
            let (line, col) = line_col(&source, lesson.number.span().start);
            return Err(LessonError::Invalid(Diagnostics(vec![Diagnostic {
                file: path.display().to_string(),
                line,
                col,
                message: format!(
                    "number = {} but the file name says {n}: rename the file or fix the number",
                    lesson.number.get_ref()
                ),
            }])));
        }
    }
    Ok(LoadedLesson {
        path: path.to_path_buf(),
        source,
        lesson,
    })
}

fn filename_number(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let digits: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    digits.parse().ok()
}

/// Every `*.toml` in `dir`, sorted by number.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedLesson>, LessonError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LessonError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        out.push(load(&p)?);
    }
    out.sort_by_key(|l| l.number());
    Ok(out)
}

/// Find a lesson by number or id.
pub fn find<'a>(lessons: &'a [LoadedLesson], key: &str) -> Result<&'a LoadedLesson, LessonError> {
    if let Ok(n) = key.parse::<u32>() {
        if let Some(l) = lessons.iter().find(|l| l.number() == n) {
            return Ok(l);
        }
    }
    lessons
        .iter()
        .find(|l| l.id() == key)
        .ok_or_else(|| LessonError::NotFound(key.to_string()))
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

const REQUIREMENT_WORDS: &[&str] = &["network", "docker-only", "whale-only"];

/// Images `whale bootstrap` makes; every other required image is built
/// from `lessons/images/<name>/Dockerfile`.
pub const BASE_IMAGES: &[&str] = &["busybox", "debian"];

fn validate(lesson: &Lesson, sink: &mut Sink) {
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
        template_ok(s.explain.get_ref(), &s.explain.span(), sink);
        for h in &s.hints {
            template_ok(h.get_ref(), &h.span(), sink);
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
                    let (line, col) = line_col(&l.source, r.span().start);
                    out.push(Diagnostic {
                        file: p.display().to_string(),
                        line,
                        col,
                        message: format!(
                            "requires image `{name}`, which is neither a base image ({}) nor has a build context: add images/{name}/Dockerfile beside the lesson",
                            BASE_IMAGES.join(", "),
                        ),
                    });
                }
                let id = l.id().to_string();
                if let Some((_, other)) = ids.iter().find(|(i, _)| *i == id) {
                    let (line, col) = line_col(&l.source, l.lesson.id.span().start);
                    out.push(Diagnostic {
                        file: p.display().to_string(),
                        line,
                        col,
                        message: format!(
                            "lesson id `{id}` is also used by {other}: ids must be unique"
                        ),
                    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let s = "ab\ncd\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 4), (2, 2));
        assert_eq!(line_col(s, 99), (3, 1));
    }
}
