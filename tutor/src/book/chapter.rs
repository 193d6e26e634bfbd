//! A lesson as a chapter: its steps as the tutor shows them for whale, a
//! note where Docker differs, and the table of contents and lesson index
//! that link the chapters.

use super::checks::describe_checks;
use super::markdown::{cell, link_text};
use super::{header, BookError};
use crate::lesson::{LoadedLesson, Quiz, Step};
use crate::template;

pub(super) fn source_name(l: &LoadedLesson) -> String {
    l.path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| l.path.display().to_string())
}

/// The file name of a lesson's chapter (under `book/src/lessons`).
pub fn chapter_file(l: &LoadedLesson) -> String {
    format!("{:02}-{}.md", l.number(), l.id())
}

pub(super) fn summary(lessons: &[&LoadedLesson]) -> String {
    let mut out = header("the lessons and tutor/src/book/");
    out.push_str("# Summary\n\n[Introduction](introduction.md)\n\n# The course\n\n");
    out.push_str("- [The lessons](lessons/index.md)\n");
    for l in lessons {
        out.push_str(&format!(
            "  - [{}. {}](lessons/{})\n",
            l.number(),
            link_text(&l.lesson.title),
            chapter_file(l)
        ));
    }
    out.push_str(
        "\n# Under the hood\n\n- [How whale works inside](inside.md)\n\n\
         # Reference\n\n- [whale commands](reference/whale.md)\n\
         - [whaletutor commands](reference/whaletutor.md)\n\n\
         # For instructors\n\n- [Writing lessons](authoring.md)\n\
         - [Serving the images to a class](classroom.md)\n",
    );
    out
}

pub(super) fn lessons_index(lessons: &[&LoadedLesson]) -> String {
    let mut out = header("the lessons in lessons/*.toml");
    out.push_str("# The lessons\n\n");
    out.push_str(
        "Each lesson is a chapter here and a session in the tutor: read the \
         chapter, or let the tutor walk you through it and check each step on \
         the live engine with `whaletutor lesson N`.\n\n",
    );
    out.push_str("| Lesson | What you do | In the tutor |\n| --- | --- | --- |\n");
    for l in lessons {
        out.push_str(&format!(
            "| [{}. {}]({}) | {} | `whaletutor lesson {}` |\n",
            l.number(),
            link_text(&cell(&l.lesson.title)),
            chapter_file(l),
            cell(l.lesson.summary.trim()),
            l.number()
        ));
    }
    out
}

/// A value that cannot occur in lesson text: rendering with it shows which
/// parts of a text come from `{{ cli }}` and which from conditions on it.
const CLI_PROBE: &str = "\u{E010}cli\u{E011}";

pub(super) fn render(l: &LoadedLesson, s: &str, cli: &str) -> Result<String, BookError> {
    template::render(s, cli).map_err(|source| BookError::Template {
        lesson: l.id().to_string(),
        source,
    })
}

/// What `s` says on Docker beyond "docker" instead of "whale" (a condition
/// on `cli`, or another default socket): the paragraphs that differ, or the
/// whole text when its shape differs; `None` when nothing differs.
fn docker_variant(l: &LoadedLesson, s: &str) -> Result<Option<String>, BookError> {
    let docker = render(l, s, "docker")?;
    let same = render(l, s, CLI_PROBE)?.replace(CLI_PROBE, "docker");
    if docker == same {
        return Ok(None);
    }
    let paragraphs = |t: &str| -> Vec<String> {
        t.split("\n\n")
            .map(|p| p.trim_end().to_string())
            .filter(|p| !p.trim().is_empty())
            .collect()
    };
    let (d, w) = (paragraphs(&docker), paragraphs(&same));
    if d.len() != w.len() {
        return Ok(Some(docker.trim().to_string()));
    }
    let differing: Vec<String> = d
        .into_iter()
        .zip(w)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a)
        .collect();
    Ok(Some(differing.join("\n\n")))
}

/// "Time: about 20 minutes · Before you start: lesson 6, an editor", or
/// `None` when the lesson says neither.
pub fn time_and_prerequisites(l: &LoadedLesson) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(m) = &l.lesson.minutes {
        parts.push(format!("**Time:** about {} minutes", m.get_ref()));
    }
    let before = l.lesson.prerequisite_list();
    if !before.is_empty() {
        parts.push(format!("**Before you start:** {}", before.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// One lesson as a markdown chapter.
pub fn chapter(l: &LoadedLesson) -> Result<String, BookError> {
    let mut out = header(&format!("lessons/{}", source_name(l)));
    out.push_str(&format!("# Lesson {}: {}\n\n", l.number(), l.lesson.title));
    out.push_str(&format!("*{}*\n\n", l.lesson.summary.trim()));
    if let Some(head) = time_and_prerequisites(l) {
        out.push_str(&head);
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "In the tutor: `whaletutor lesson {}` shows these steps one at a time \
         and moves on when the engine shows you did them (`h` for a hint).\n\n",
        l.number()
    ));
    let images: Vec<&str> = l
        .lesson
        .requires
        .iter()
        .map(|r| r.get_ref().as_str())
        .filter(|r| !crate::requirements::is_word(r))
        .collect();
    if !images.is_empty() {
        let list: Vec<String> = images.iter().map(|i| format!("`{i}`")).collect();
        out.push_str(&format!(
            "Images it needs: {} (made by the tutor when the lesson starts, \
             or beforehand with `whaletutor setup {}`).\n\n",
            list.join(", "),
            l.number()
        ));
    }
    let words: Vec<&str> = l
        .lesson
        .requires
        .iter()
        .map(|r| r.get_ref().as_str())
        .collect();
    if words.contains(&"network") {
        out.push_str("This lesson needs the network (it downloads packages).\n\n");
    }
    if words.contains(&"whale-only") {
        out.push_str("> **whale only:** this lesson looks at whale's insides; it does not run on Docker.\n\n");
    } else if words.contains(&"docker-only") {
        out.push_str(
            "> **Docker only:** this lesson needs a real Docker engine (`--engine docker`).\n\n",
        );
    } else {
        out.push_str(
            "> **On Docker:** the commands are shown for `whale`. With Docker, type \
             `docker` where it says `whale`: the verbs and flags are the same \
             (`whaletutor --engine docker lesson N` checks your work on Docker). \
             Where Docker differs, a note says so.\n\n",
        );
    }
    if !l.lesson.setup.is_empty() {
        out.push_str("Before the first step the tutor runs:\n\n");
        for c in &l.lesson.setup {
            out.push_str(&format!(
                "    {}\n",
                render(l, c.get_ref(), "whale")?.trim()
            ));
        }
        out.push('\n');
    }
    let total = l.lesson.steps.len();
    for (i, s) in l.lesson.steps.iter().enumerate() {
        out.push_str(&step(l, s.get_ref(), i, total)?);
    }
    Ok(out)
}

fn step(l: &LoadedLesson, s: &Step, i: usize, total: usize) -> Result<String, BookError> {
    // A stable anchor from the step's id: links survive renumbering.
    let mut out = format!(
        "## Step {}/{}: {} {{#step-{}}}\n\n",
        i + 1,
        total,
        s.title,
        s.id.get_ref()
    );
    if let Some(f) = &s.figure {
        let f = f.get_ref();
        // As the written pages show theirs: drawn size, shrunk on a phone.
        out.push_str(&format!(
            "<img class=\"figure\" src=\"../images/{}\" alt=\"{}\">\n\n",
            f.src,
            attribute(f.alt.trim())
        ));
    }
    if s.is_challenge() {
        out.push_str(CHALLENGE_NOTE);
        out.push_str("\n\n");
    }
    // The text exactly as `whaletutor lesson` shows it (before the terminal's
    // markdown styling): tests compare the two.
    out.push_str(&trim_block(&render(l, s.text.get_ref(), "whale")?));
    out.push_str("\n\n");
    for q in &s.quizzes {
        out.push_str(&quiz(q.get_ref()));
    }
    let mut docker = Vec::new();
    // Keep leading spaces: an indented line is a code block.
    let block = |t: String| trim_block(&t);
    if let Some(t) = docker_variant(l, s.text.get_ref())? {
        docker.push(block(t));
    }
    for h in &s.hints {
        if let Some(t) = docker_variant(l, h.get_ref())? {
            docker.push(format!("Hint: {}", t.trim()));
        }
    }
    if let Some(t) = docker_variant(l, s.explain.get_ref())? {
        docker.push(block(t));
    }
    if !docker.is_empty() {
        out.push_str("<details class=\"on-docker\"><summary>On Docker</summary>\n\n");
        for d in docker {
            out.push_str(&d);
            out.push_str("\n\n");
        }
        out.push_str("</details>\n\n");
    }
    if let Some(d) = &s.docker_differs {
        out.push_str(&quote(
            "Where Docker differs:",
            &trim_block(&render(l, d.get_ref(), "whale")?),
        ));
    }
    if !s.checks.is_empty() {
        out.push_str("**What the tutor will look for:**\n\n");
        out.push_str(&describe_checks(l, &s.checks, &s.quizzes)?);
        out.push('\n');
    }
    if !s.hints.is_empty() {
        out.push_str("<details><summary>Hints</summary>\n\n");
        for (n, h) in s.hints.iter().enumerate() {
            out.push_str(&format!(
                "{}. {}\n",
                n + 1,
                one_item(&render(l, h.get_ref(), "whale")?)
            ));
        }
        out.push_str("\n</details>\n\n");
    }
    let explain = trim_block(&render(l, s.explain.get_ref(), "whale")?);
    out.push_str(&quote("Why it matters:", &explain));
    Ok(out)
}

/// What a challenge step's head says, in the book and in the tutor.
pub const CHALLENGE_NOTE: &str =
    "**Challenge:** the text gives the goal, not the commands. Try first; the hints nudge, and the last one shows a way.";

/// A quiz: its question and choices, then the answer with why, and why
/// each other choice is wrong, folded away.
fn quiz(q: &Quiz) -> String {
    let mut out = format!("**Quiz:** {}\n\n", q.question);
    for (n, c) in q.choices.iter().enumerate() {
        out.push_str(&format!("{}. {c}\n", n + 1));
    }
    if !q.choices.is_empty() {
        out.push('\n');
    }
    out.push_str("<details class=\"quiz-answer\"><summary>Answer</summary>\n\n");
    let answer = match q.choices.iter().position(|c| *c == q.answer) {
        Some(i) => format!("{}. {}", i + 1, q.answer),
        None => match super::pattern_words(&q.answer) {
            Some(w) => format!("an answer that {w}"),
            None => "your own words".to_string(),
        },
    };
    out.push_str(&format!("**{answer}**"));
    match &q.why {
        Some(w) => out.push_str(&format!(": {}\n\n", w.trim())),
        None => out.push_str("\n\n"),
    }
    let mut listed = false;
    for c in q.choices.iter().filter(|c| **c != q.answer) {
        if let Some(w) = q.why_not.get(c) {
            out.push_str(&format!("- Not \"{c}\": {}\n", w.trim()));
            listed = true;
        }
    }
    if listed {
        out.push('\n');
    }
    out.push_str("</details>\n\n");
    out
}

/// Text safe inside a double-quoted HTML attribute.
fn attribute(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('\n', " ")
}

/// A blockquote with a bold label: "> **Why it matters:** ...". The label
/// shares the first line unless that line is markdown of its own (an
/// indented code block, a list).
fn quote(label: &str, body: &str) -> String {
    let plain_start = body
        .lines()
        .next()
        .is_some_and(|f| !f.starts_with(char::is_whitespace) && !f.starts_with(['-', '*', '+']));
    let mut out = if plain_start {
        format!("> **{label}** ")
    } else {
        format!("> **{label}**\n>\n")
    };
    for (n, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            out.push_str(">\n");
        } else if n == 0 && plain_start {
            out.push_str(&format!("{line}\n"));
        } else {
            out.push_str(&format!("> {line}\n"));
        }
    }
    out.push('\n');
    out
}

/// A block of markdown without its leading blank lines and trailing space,
/// keeping the indentation of its first line (an indented code block).
fn trim_block(s: &str) -> String {
    let start = s
        .lines()
        .take_while(|l| l.trim().is_empty())
        .map(|l| l.len() + 1)
        .sum::<usize>()
        .min(s.len());
    s[start..].trim_end().to_string()
}

/// Text for one numbered list item: continuation lines indented under it.
fn one_item(s: &str) -> String {
    s.trim().lines().collect::<Vec<_>>().join("\n   ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn lesson(text: &str) -> LoadedLesson {
        let source = format!(
            "format_version = 1\nid = \"t\"\nnumber = 7\ntitle = \"T\"\nsummary = \"S\"\n\
             [[step]]\nid = \"a\"\ntitle = \"A\"\ntext = '''{text}'''\nexplain = \"E\"\n\
             [[step.check]]\nkind = \"container\"\nname = \"web\"\nrunning = true\nfailure = \"f\"\n"
        );
        let lesson = crate::lesson::parse("07-t.toml", &source).unwrap();
        LoadedLesson {
            path: PathBuf::from("lessons/07-t.toml"),
            source,
            lesson,
        }
    }

    #[test]
    fn a_docker_note_only_where_docker_differs() {
        let plain = chapter(&lesson("Type `{{ cli }} ps`.")).unwrap();
        assert!(plain.contains("Type `whale ps`."), "{plain}");
        assert!(!plain.contains("<details class=\"on-docker\">"), "{plain}");
        assert!(
            plain.contains("- the container `web` is running"),
            "{plain}"
        );

        let differs = chapter(&lesson(
            "Type `{{ cli }} build .`{% if cli == \"docker\" %} (add `--network host` without a bridge){% endif %}.",
        ))
        .unwrap();
        assert!(differs.contains("Type `whale build .`."), "{differs}");
        assert!(
            differs.contains("<details class=\"on-docker\"><summary>On Docker</summary>"),
            "{differs}"
        );
        assert!(
            differs.contains("Type `docker build .` (add `--network host` without a bridge)."),
            "{differs}"
        );
    }

    fn with_extras() -> LoadedLesson {
        let source = r#"format_version = 1
id = "t"
number = 7
minutes = 20
prerequisites = ["lesson 6", "an editor"]
title = "T"
summary = "S"
[[step]]
id = "a"
title = "A"
challenge = true
figure = { src = "layer-order.svg", alt = 'Two "orders" of layers' }
docker_differs = "BuildKit prints `CACHED`."
text = "Make `{{ cli }} build` fast."
hints = ["Think of the cache.", "`{{ cli }} build -t fast .`"]
explain = "E"
  [[step.quiz]]
  id = "q"
  question = "Who is PID 1?"
  choices = ["sh", "init"]
  answer = "sh"
  why = "The command you ran is PID 1."
  why_not = { init = "No init runs unless you ask for one." }
  [[step.check]]
  kind = "container"
  name = "web"
  logs = '(?m)^real\s+\d+m'
  failure = "f"
  [[step.check]]
  kind = "host"
  command = "true"
  stdout = '^[1-9][0-9]{7,8}$'
  describe = "a CPU limit below one CPU"
  failure = "f"
"#
        .to_string();
        let lesson = crate::lesson::parse("07-t.toml", &source).unwrap();
        LoadedLesson {
            path: PathBuf::from("lessons/07-t.toml"),
            source,
            lesson,
        }
    }

    #[test]
    fn the_teaching_extras_are_in_the_chapter() {
        let c = chapter(&with_extras()).unwrap();
        for want in [
            "**Time:** about 20 minutes · **Before you start:** lesson 6, an editor",
            "{#step-a}\n\n<img class=\"figure\" src=\"../images/layer-order.svg\" alt=\"Two &quot;orders&quot; of layers\">\n\n**Challenge:**",
            "> **Where Docker differs:** BuildKit prints `CACHED`.",
            "**1. sh**: The command you ran is PID 1.",
            "- Not \"init\": No init runs unless you ask for one.",
            "- the container `web` has printed a line that starts with `real <number>m`",
            "- a CPU limit below one CPU\n",
        ] {
            assert!(c.contains(want), "{want:?} not in:\n{c}");
        }
        assert!(!c.contains("[1-9]"), "a raw regex in the chapter:\n{c}");
    }

    #[test]
    fn a_text_that_starts_with_a_code_block_keeps_it() {
        let c = chapter(&lesson("\n    {{ cli }} ps\n\nThen look.")).unwrap();
        assert!(
            c.contains(": A {#step-a}\n\n    whale ps\n\nThen look.\n"),
            "{c}"
        );
    }
}
