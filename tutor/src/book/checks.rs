//! A step's checks in words: what the tutor will look for.
//!
//! Each check struct is destructured in full (no `..`), so a field added to
//! a check does not compile until the book says what it asks. The header's
//! `describe`, when the author gives it, is printed instead of all of it;
//! `failure` and `passes_before_solve` are left unsaid: they are what the
//! student is told, not what is looked for.

use super::chapter::render;
use super::markdown::code;
use super::pattern::pattern_words;
use super::BookError;
use crate::lesson::{
    Check, ContainerCheck, ExecCheck, FileCheck, GroupCheck, HostCheck, ImageCheck, LoadedLesson,
    ProcessCheck, Quiz, QuizCheck,
};
use serde_spanned::Spanned;

/// The checks of a step as a markdown list (nested for `all`/`any`).
pub(super) fn describe_checks(
    l: &LoadedLesson,
    checks: &[Spanned<Check>],
    quizzes: &[Spanned<Quiz>],
) -> Result<String, BookError> {
    let mut out = String::new();
    for c in checks {
        out.push_str(&describe_item(l, c.get_ref(), quizzes, 0)?);
    }
    Ok(out)
}

fn describe_item(
    l: &LoadedLesson,
    check: &Check,
    quizzes: &[Spanned<Quiz>],
    depth: usize,
) -> Result<String, BookError> {
    let pad = "  ".repeat(depth);
    // The author's words win: they say what a pattern means.
    if let Some(d) = check.describe() {
        return Ok(format!("{pad}- {}\n", render(l, d, "whale")?.trim()));
    }
    let said = match check {
        Check::All(g) | Check::Any(g) => {
            let GroupCheck {
                failure: _,
                passes_before_solve: _,
                describe: _,
                checks,
            } = g;
            let head = if matches!(check, Check::All(_)) {
                "all of these at once:"
            } else {
                "at least one of these:"
            };
            let mut out = format!("{pad}- {head}\n");
            for inner in checks {
                out.push_str(&describe_item(l, inner, quizzes, depth + 1)?);
            }
            return Ok(out);
        }
        Check::Container(c) => container(l, c)?,
        Check::Process(p) => process(l, p)?,
        Check::Exec(e) => exec(l, e)?,
        Check::File(f) => file(l, f)?,
        Check::Image(i) => image(i),
        Check::Host(h) => host(l, h)?,
        Check::Quiz(q) => quiz(q, quizzes),
    };
    Ok(format!("{pad}- {said}\n"))
}

/// What a pattern accepts, in words ("contains `hello`"); the book never
/// prints the regex itself.
fn said(l: &LoadedLesson, re: &str) -> Result<String, BookError> {
    pattern_words(re).ok_or_else(|| BookError::Unsayable {
        lesson: l.id().to_string(),
        pattern: re.to_string(),
    })
}

/// What was printed, in words: "a line that is exactly `x`" or "output
/// that contains `x`".
fn printed(l: &LoadedLesson, re: &str) -> Result<String, BookError> {
    let words = said(l, re)?;
    Ok(match words.strip_prefix("has ") {
        Some(line) if line.starts_with("a line") => line.to_string(),
        _ => format!("output that {words}"),
    })
}

/// A list of words as the lesson file writes it: `["a", "b"]`.
fn word_list(words: &[String]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A subject and what is asked of it, as one sentence.
fn sentence(subject: String, parts: &[String]) -> String {
    if parts.is_empty() {
        subject
    } else {
        format!("{subject} {}", join_and(parts))
    }
}

fn container(l: &LoadedLesson, c: &ContainerCheck) -> Result<String, BookError> {
    let ContainerCheck {
        failure: _,
        passes_before_solve: _,
        describe: _,
        name,
        label,
        exists,
        status,
        running,
        exit_code,
        tty,
        open_stdin,
        image,
        cmd,
        pid1,
        oom_killed,
        logs,
    } = c;
    let subject = match (name, label) {
        (Some(name), _) => format!("the container {}", code(name)),
        (None, Some(lab)) => format!("a container labelled {}", code(lab)),
        (None, None) => "a container".into(),
    };
    if *exists == Some(false) {
        return Ok(match (name, label) {
            (None, Some(lab)) => format!("no container labelled {} exists", code(lab)),
            _ => format!("{subject} does not exist (any more)"),
        });
    }
    let mut parts = Vec::new();
    if let Some(st) = status {
        parts.push(format!("is {}", code(st)));
    }
    match running {
        Some(true) => parts.push("is running".into()),
        Some(false) => parts.push("is not running".into()),
        None => {}
    }
    if let Some(e) = exit_code {
        parts.push(format!("exited with code {e}"));
    }
    match tty {
        Some(true) => parts.push("has a terminal (`-t`)".into()),
        Some(false) => parts.push("has no terminal (no `-t`)".into()),
        None => {}
    }
    match open_stdin {
        Some(true) => parts.push("keeps its input open (`-i`)".into()),
        Some(false) => parts.push("does not keep its input open (no `-i`)".into()),
        None => {}
    }
    if let Some(i) = image {
        parts.push(format!("was made from the image {}", code(i)));
    }
    if let Some(re) = cmd {
        parts.push(format!("runs a command that {}", said(l, re)?));
    }
    if let Some(re) = pid1 {
        parts.push(format!("has a PID 1 whose command line {}", said(l, re)?));
    }
    match oom_killed {
        Some(true) => parts.push("was killed for using too much memory (OOM)".into()),
        Some(false) => parts.push("was not killed for lack of memory".into()),
        None => {}
    }
    if let Some(re) = logs {
        parts.push(format!("has printed {}", printed(l, re)?));
    }
    if parts.is_empty() {
        parts.push("exists".into());
    }
    Ok(sentence(subject, &parts))
}

fn process(l: &LoadedLesson, p: &ProcessCheck) -> Result<String, BookError> {
    let ProcessCheck {
        failure: _,
        passes_before_solve: _,
        describe: _,
        container,
        command,
        running,
        pid,
    } = p;
    let container = code(container);
    let command = said(l, command)?;
    if !running {
        return Ok(format!(
            "no process in the container {container} has a command line that {command}"
        ));
    }
    let subject =
        format!("a process whose command line {command} runs in the container {container}");
    let parts: Vec<String> = pid.iter().map(|p| format!("as PID {p}")).collect();
    Ok(sentence(subject, &parts))
}

fn exec(l: &LoadedLesson, e: &ExecCheck) -> Result<String, BookError> {
    let ExecCheck {
        failure: _,
        passes_before_solve: _,
        describe: _,
        container,
        cmd,
        stdout,
        exit_code,
    } = e;
    let words: Vec<String> = cmd
        .iter()
        .map(|w| {
            if w.is_empty() || w.contains(char::is_whitespace) {
                format!("'{w}'")
            } else {
                w.clone()
            }
        })
        .collect();
    let subject = format!(
        "running {} in the container {}",
        code(&words.join(" ")),
        code(container)
    );
    let mut parts = Vec::new();
    if let Some(re) = stdout {
        parts.push(format!("prints {}", printed(l, re)?));
    }
    if let Some(x) = exit_code {
        parts.push(format!("exits with code {x}"));
    }
    Ok(sentence(subject, &parts))
}

fn file(l: &LoadedLesson, f: &FileCheck) -> Result<String, BookError> {
    let FileCheck {
        failure: _,
        passes_before_solve: _,
        describe: _,
        container,
        path,
        exists,
        contents,
    } = f;
    let subject = format!(
        "the file {} in the container {}",
        code(path),
        code(container)
    );
    if *exists == Some(false) {
        return Ok(format!("{subject} does not exist"));
    }
    let part = match contents {
        Some(re) => format!("holds text that {}", said(l, re)?),
        None => "exists".into(),
    };
    Ok(sentence(subject, &[part]))
}

fn image(i: &ImageCheck) -> String {
    let ImageCheck {
        failure: _,
        passes_before_solve: _,
        describe: _,
        name,
        exists,
        layers,
        min_layers,
        cmd,
        entrypoint,
        based_on,
        shares_layers_with,
        min_shared_layers,
        max_shared_layers,
        max_unique_bytes,
        min_unique_bytes,
        contains_file,
    } = i;
    let subject = format!("the image {}", code(name));
    if *exists == Some(false) {
        return format!("{subject} does not exist");
    }
    let count = |k: usize| format!("{k} layer{}", plural(k));
    let mut parts = Vec::new();
    if let Some(k) = layers {
        parts.push(format!("has exactly {}", count(*k)));
    }
    if let Some(k) = min_layers {
        parts.push(format!("has at least {}", count(*k)));
    }
    if let Some(c) = cmd {
        parts.push(format!("has the command (CMD) {}", code(&word_list(c))));
    }
    if let Some(c) = entrypoint {
        parts.push(format!("has the ENTRYPOINT {}", code(&word_list(c))));
    }
    if let Some(base) = based_on {
        parts.push(format!(
            "is built on {} (its layers come first)",
            code(base)
        ));
    }
    if let Some(other) = shares_layers_with {
        let other = code(other);
        parts.push(match (min_shared_layers, max_shared_layers) {
            (Some(lo), Some(hi)) if lo == hi => {
                format!("shares exactly {} with {other}", count(*hi))
            }
            (Some(lo), Some(hi)) => format!("shares between {lo} and {} with {other}", count(*hi)),
            (None, Some(hi)) => format!("shares at most {} with {other}", count(*hi)),
            (lo, None) => format!("shares at least {} with {other}", count(lo.unwrap_or(1))),
        });
    }
    if let Some(x) = max_unique_bytes {
        parts.push(format!("adds at most {x} bytes of its own"));
    }
    if let Some(x) = min_unique_bytes {
        parts.push(format!("has at least {x} bytes no other image shares"));
    }
    if let Some(p) = contains_file {
        parts.push(format!("contains the file {}", code(p)));
    }
    if parts.is_empty() {
        parts.push("exists".into());
    }
    sentence(subject, &parts)
}

fn host(l: &LoadedLesson, h: &HostCheck) -> Result<String, BookError> {
    let HostCheck {
        failure: _,
        passes_before_solve: _,
        describe: _,
        command,
        stdout,
        exit_code,
    } = h;
    let cmd = render(l, command, "whale")?;
    let subject = format!("on the host, {}", code(cmd.trim()));
    let mut parts = Vec::new();
    if let Some(re) = stdout {
        parts.push(format!("prints {}", printed(l, re)?));
    }
    if let Some(x) = exit_code {
        parts.push(format!("exits with code {x}"));
    }
    if parts.is_empty() {
        parts.push("succeeds".into());
    }
    Ok(sentence(subject, &parts))
}

fn quiz(q: &QuizCheck, quizzes: &[Spanned<Quiz>]) -> String {
    let QuizCheck {
        failure: _,
        passes_before_solve: _,
        describe: _,
        quiz: id,
    } = q;
    match quizzes.iter().find(|q| q.get_ref().id == *id) {
        Some(q) => format!(
            "the right answer to the quiz \"{}\"",
            q.get_ref().question.trim()
        ),
        None => format!("the right answer to the quiz {}", code(id)),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    }
}
