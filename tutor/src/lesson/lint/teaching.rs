//! The rules that keep a lesson teaching rather than dictating: a
//! challenge step leaves the commands to the student (and to its last
//! hint), every quiz choice is explained, no hint gives a quiz away, and
//! the book's extras (time, prerequisites, figure, "where Docker differs")
//! are well formed.

use super::{template_ok, Sink};
use crate::lesson::{Check, Lesson, Quiz, Step};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use serde_spanned::Spanned;
use std::ops::Range;

/// More than a day's course is a typo, not a lesson.
const MAX_MINUTES: u32 = 480;

/// Picture formats mdBook shows as they are, in light and dark themes.
const FIGURE_KINDS: &[&str] = &["svg", "png"];

pub(super) fn lesson_ok(lesson: &Lesson, sink: &mut Sink) {
    if let Some(m) = &lesson.minutes {
        if *m.get_ref() == 0 || *m.get_ref() > MAX_MINUTES {
            sink.at(
                &m.span(),
                format!(
                    "minutes = {}: give the time a student needs, from 1 to {MAX_MINUTES}",
                    m.get_ref()
                ),
            );
        }
    }
    for p in &lesson.prerequisites {
        if p.get_ref().trim().is_empty() {
            sink.at(
                &p.span(),
                "an empty prerequisite: name what the student needs first (\"lesson 6\", \"an editor\")",
            );
        }
    }
}

pub(super) fn step_ok(step: &Step, sink: &mut Sink) {
    let id = step.id.get_ref();
    if step.is_challenge() {
        challenge_ok(step, sink);
    }
    if let Some(f) = &step.figure {
        let fig = f.get_ref();
        let plain_name = !fig.src.is_empty()
            && !fig.src.contains('/')
            && !fig.src.contains('\\')
            && !fig.src.starts_with('.');
        let kind_ok = fig
            .src
            .rsplit_once('.')
            .is_some_and(|(_, ext)| FIGURE_KINDS.contains(&ext));
        if !plain_name || !kind_ok {
            sink.at(
                &f.span(),
                format!(
                    "figure src `{}` must be the name of a {} file in book/src/images/ (no directory)",
                    fig.src,
                    FIGURE_KINDS.join(" or ")
                ),
            );
        }
        if fig.alt.trim().is_empty() {
            sink.at(
                &f.span(),
                "figure needs `alt`: say in words what the picture shows (for readers who cannot see it)",
            );
        }
    }
    if let Some(d) = &step.docker_differs {
        if d.get_ref().trim().is_empty() {
            sink.at(
                &d.span(),
                format!("step `{id}`: docker_differs is empty: say where Docker differs, or leave it out"),
            );
        }
        template_ok(d.get_ref(), &d.span(), sink);
    }
    for q in &step.quizzes {
        quiz_explained(q, sink);
        for h in &step.hints {
            if let Some(given) = hint_gives_away(q.get_ref(), h.get_ref()) {
                sink.at(
                    &h.span(),
                    format!(
                        "this hint gives away the answer of quiz `{}` ({given}): nudge towards it instead",
                        q.get_ref().id
                    ),
                );
            }
        }
    }
}

/// The book says what a check looks for in words, never as a regex: each
/// pattern of a check (and of the checks inside an `all`/`any`) must be
/// one the book can put in words, unless the check (or its group) has
/// `describe`.
pub(super) fn patterns_sayable(check: &Check, span: &Range<usize>, sink: &mut Sink) {
    if let Some(d) = check.describe().filter(|d| !d.trim().is_empty()) {
        // The book renders it: `{{ cli }}` is `whale` there.
        template_ok(d, span, sink);
        return;
    }
    if check.describe().is_some() {
        sink.at(span, format!("{} check: `describe` is empty", check.kind()));
    }
    let patterns: Vec<(&str, &Option<String>)> = match check {
        Check::Container(c) => vec![("cmd", &c.cmd), ("pid1", &c.pid1), ("logs", &c.logs)],
        Check::Process(p) => {
            if crate::book::pattern_words(&p.command).is_none() {
                unsayable("command", &p.command, span, sink);
            }
            Vec::new()
        }
        Check::Exec(e) => vec![("stdout", &e.stdout)],
        Check::File(f) => vec![("contents", &f.contents)],
        Check::Host(h) => {
            if let Some(why) = shell_without_words(&h.command) {
                sink.at(
                    span,
                    format!(
                        "host check: its command {why}, which the book would print as it is: add `describe = \"...\"` to the check (what it looks for, as a student would say it)"
                    ),
                );
            }
            vec![("stdout", &h.stdout)]
        }
        Check::Image(_) | Check::Quiz(_) => Vec::new(),
        Check::All(g) | Check::Any(g) => {
            for c in &g.checks {
                patterns_sayable(c, span, sink);
            }
            Vec::new()
        }
    };
    for (field, re) in patterns {
        if let Some(re) = re {
            if crate::book::pattern_words(re).is_none() {
                unsayable(field, re, span, sink);
            }
        }
    }
}

/// Why the book cannot print a host check's command in place of words: a
/// regex in it (grep without -F, awk or sed patterns, `=~`); `None` when
/// it holds none. (A long command is shown as it is: it is shell, not a
/// pattern.)
fn shell_without_words(command: &str) -> Option<String> {
    let shown = crate::template::render(command, "whale").ok()?;
    for segment in shown.split(['|', ';', '&']) {
        let words: Vec<&str> = segment.split_whitespace().collect();
        let Some(tool) = words
            .iter()
            .position(|w| matches!(tool_name(w), "grep" | "egrep" | "awk" | "sed"))
        else {
            if segment.contains("=~") {
                return Some("matches a regex (`=~`)".into());
            }
            continue;
        };
        let name = tool_name(words[tool]);
        let args = &words[tool + 1..];
        let fixed = args
            .iter()
            .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('F'));
        let pattern = match name {
            "grep" => !fixed,
            "egrep" => true,
            // awk -F: '$2=="memory"' compares; '/^Uid:/' is a regex.
            _ => args.iter().any(|a| a.contains('/') && a.starts_with('\'')),
        };
        if pattern {
            return Some(format!("holds a regex (`{name}`)"));
        }
    }
    None
}

/// The program a shell word starts, past a command substitution
/// (`t=$(grep` is `grep`).
fn tool_name(word: &str) -> &str {
    word.rsplit("$(").next().unwrap_or(word)
}

fn unsayable(field: &str, re: &str, span: &Range<usize>, sink: &mut Sink) {
    // A broken regex is reported by its own rule.
    if regex::Regex::new(re).is_err() {
        return;
    }
    sink.at(
        span,
        format!(
            "{field} `{re}` cannot be put in plain words for the book: add `describe = \"...\"` to the check (what it looks for, as a student would say it)"
        ),
    );
}

/// A challenge states the goal; the commands are the last hint's.
fn challenge_ok(step: &Step, sink: &mut Sink) {
    let id = step.id.get_ref();
    for cli in ["whale", "docker"] {
        let Ok(text) = crate::template::render(step.text.get_ref(), cli) else {
            return; // template_ok reports it
        };
        if let Some(line) = command_lines(&text, cli).into_iter().next() {
            let at = super::locate(sink.source, &step.text.span(), &line, cli);
            sink.at(
                &(at..at),
                format!(
                    "challenge step `{id}`: its text shows the command `{line}`: give the goal only, and the commands in the last hint"
                ),
            );
            break;
        }
    }
    // The last hint is where a stuck student finds a way: it shows it.
    if let Some(last) = step.hints.last().filter(|_| step.hints.len() >= 2) {
        // A hint that does not render is reported by template_ok.
        let shown = crate::template::render(last.get_ref(), "whale");
        if shown.is_ok_and(|t| !has_code(&t)) {
            sink.at(
                &last.span(),
                format!(
                    "challenge step `{id}`: its last hint shows no command or code: give the way there (the commands, or the file to write)"
                ),
            );
        }
    }
    if step.hints.len() < 2 {
        let at = step
            .challenge
            .as_ref()
            .map(|c| c.span())
            .unwrap_or_else(|| step.id.span());
        sink.at(
            &at,
            format!(
                "challenge step `{id}` has {} hint(s): it needs at least 2 (nudges first, the commands in the last)",
                step.hints.len()
            ),
        );
    }
}

/// The command lines for `cli` in markdown: every line of a code block that
/// runs `cli`, and every code span of more than two words that runs it
/// (`whale build -t x .`, `echo x | whale load`). A bare `whale stop` names
/// a verb and is not a command to copy.
fn command_lines(markdown: &str, cli: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for ev in Parser::new(markdown) {
        match ev {
            Event::Start(Tag::CodeBlock(_)) => block = Some(String::new()),
            Event::End(TagEnd::CodeBlock) => {
                for line in block.take().unwrap_or_default().lines() {
                    if runs(line, cli) {
                        out.push(line.trim().to_string());
                    }
                }
            }
            Event::Text(t) => {
                if let Some(b) = block.as_mut() {
                    b.push_str(&t);
                }
            }
            Event::Code(c) if runs(&c, cli) && c.split_whitespace().count() > 2 => {
                out.push(c.trim().to_string())
            }
            _ => {}
        }
    }
    out
}

/// Whether markdown holds a code span or block.
fn has_code(markdown: &str) -> bool {
    Parser::new(markdown).any(|ev| matches!(ev, Event::Code(_) | Event::Start(Tag::CodeBlock(_))))
}

/// Whether one of the shell commands in `line` runs `cli`.
fn runs(line: &str, cli: &str) -> bool {
    line.split(['|', ';', '&', '(']).any(|cmd| {
        let mut words = cmd
            .split_whitespace()
            .skip_while(|w| matches!(*w, "$" | "#" | "sudo" | "time"));
        words.next() == Some(cli)
    })
}

/// Every choice explained: the right one by `why`, each wrong one by
/// `why_not` (that rule is in the main lint); a free answer by `why`.
fn quiz_explained(q: &Spanned<Quiz>, sink: &mut Sink) {
    let quiz = q.get_ref();
    match &quiz.why {
        None => sink.at(
            &q.span(),
            format!(
                "quiz `{}` has no `why`: say why the right answer is right (shown when answered and when revealed)",
                quiz.id
            ),
        ),
        Some(w) if w.trim().is_empty() => sink.at(
            &q.span(),
            format!("quiz `{}`: `why` is empty", quiz.id),
        ),
        Some(_) => {}
    }
}

/// What of `quiz`'s answer a hint says, if it says it: a choice's text as
/// whole words (any case) while not every other choice is named too, or
/// for a free answer text its pattern accepts. Only the hint's prose and
/// its one-word code spans count: a command the hint shows
/// (`whale build -t ipythonnano2 .`) names things, it does not answer.
fn hint_gives_away(quiz: &Quiz, hint: &str) -> Option<String> {
    let rendered = crate::template::render(hint, "whale").unwrap_or_else(|_| hint.to_string());
    let said = prose(&rendered);
    if quiz.choices.is_empty() {
        let re = regex::Regex::new(&format!("(?i){}", quiz.answer)).ok()?;
        return re
            .find(&said)
            .map(|m| format!("it says `{}`, which the answer pattern accepts", m.as_str()));
    }
    let names = |choice: &str| {
        let words = regex::escape(choice.trim());
        regex::Regex::new(&format!(r"(?i)(^|\W){words}($|\W)")).is_ok_and(|re| re.is_match(&said))
    };
    let others_named = quiz
        .choices
        .iter()
        .filter(|c| **c != quiz.answer)
        .all(|c| names(c));
    (names(&quiz.answer) && !others_named).then(|| format!("it says `{}`", quiz.answer.trim()))
}

/// The words a markdown text says: its prose and its code spans of one
/// word, without commands (code spans with spaces, code blocks).
fn prose(markdown: &str) -> String {
    let mut out = String::new();
    let mut in_block = false;
    for ev in Parser::new(markdown) {
        match ev {
            Event::Start(Tag::CodeBlock(_)) => in_block = true,
            Event::End(TagEnd::CodeBlock) => in_block = false,
            Event::Text(t) if !in_block => out.push_str(&t),
            Event::Code(c) if !c.trim().contains(char::is_whitespace) => out.push_str(&c),
            Event::Code(_) => out.push_str(" … "),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(src: &str) -> Vec<String> {
        match crate::lesson::parse("t.toml", src) {
            Ok(_) => Vec::new(),
            Err(d) => d.0.into_iter().map(|d| d.message).collect(),
        }
    }

    const HEAD: &str =
        "format_version = 1\nid = \"t\"\nnumber = 1\ntitle = \"T\"\nsummary = \"S\"\n";
    const CHECK: &str =
        "[[step.check]]\nkind = \"container\"\nname = \"web\"\nrunning = true\nfailure = \"f\"\n";

    fn step(extra: &str, text: &str, hints: &[&str]) -> String {
        let hints: Vec<String> = hints.iter().map(|h| format!("{h:?}")).collect();
        format!(
            "{HEAD}[[step]]\nid = \"a\"\ntitle = \"A\"\n{extra}\ntext = '''{text}'''\nhints = [{}]\nexplain = \"E\"\n{CHECK}",
            hints.join(", ")
        )
    }

    #[test]
    fn a_challenge_text_holding_the_command_is_refused() {
        let given = step(
            "challenge = true",
            "Make it fast:\n\n    {{ cli }} build -t fast .\n",
            &["Think of the cache.", "`{{ cli }} build -t fast .`"],
        );
        let d = lint(&given);
        assert!(
            d.iter().any(|m| m.contains(
                "challenge step `a`: its text shows the command `whale build -t fast .`"
            )),
            "{d:?}"
        );
        let inline = step(
            "challenge = true",
            "Make it fast (`{{ cli }} build -t fast .`).",
            &["Think of the cache.", "`{{ cli }} build -t fast .`"],
        );
        assert!(lint(&inline)
            .iter()
            .any(|m| m.contains("its text shows the command")));
        // The goal alone, naming a verb, is a challenge.
        let goal = step(
            "challenge = true",
            "Make `{{ cli }} build` of `app.c` take seconds.",
            &["Think of the cache.", "`{{ cli }} build -t fast .`"],
        );
        assert_eq!(lint(&goal), Vec::<String>::new());
        // Not a challenge: the text may show commands.
        let plain = step("", "Type:\n\n    {{ cli }} build -t fast .\n", &[]);
        assert_eq!(lint(&plain), Vec::<String>::new());
    }

    #[test]
    fn command_lines_are_code_that_runs_the_cli() {
        let md = "Make `whale stop` fast; `whale ps -a` shows it.\n\n    FROM busybox\n    $ sudo whale build .\n\nSee `echo x | whale load`.";
        assert_eq!(
            command_lines(md, "whale"),
            ["whale ps -a", "$ sudo whale build .", "echo x | whale load"]
        );
        assert!(command_lines(md, "docker").is_empty());
    }

    #[test]
    fn a_challenge_needs_two_hints_and_the_last_shows_a_way() {
        let d = lint(&step(
            "challenge = true",
            "Make it fast.",
            &["`{{ cli }} build .`"],
        ));
        assert!(
            d.iter()
                .any(|m| m.contains("has 1 hint(s): it needs at least 2")),
            "{d:?}"
        );
        let d = lint(&step(
            "challenge = true",
            "Make it fast.",
            &["Think of the cache.", "Put what changes last."],
        ));
        assert!(
            d.iter()
                .any(|m| m.contains("its last hint shows no command or code")),
            "{d:?}"
        );
    }

    fn quiz_step(quiz: &str, hints: &[&str]) -> String {
        format!(
            "{}  [[step.quiz]]\n  id = \"q\"\n  question = \"Who is PID 1?\"\n{quiz}\n",
            step("", "Look.", hints)
        )
    }

    const QUIZ: &str = "  choices = [\"sh\", \"init\"]\n  answer = \"sh\"\n  why = \"The command you ran is PID 1.\"\n  why_not = { init = \"No init runs unless you ask.\" }";

    #[test]
    fn a_host_command_with_a_regex_needs_words() {
        let said = |c: &str| shell_without_words(c);
        assert_eq!(
            said("{{ cli }} inspect -f '{{.HostConfig.Init}}' tidy"),
            None
        );
        assert_eq!(said("cat /proc/1/status | grep -Fx 'a'"), None);
        assert_eq!(
            said("awk -F: '$2==\"memory\" {print $3}' /proc/1/cgroup"),
            None
        );
        assert!(said("ps -eo args | grep -cE '^(whale|docker) attach'")
            .unwrap()
            .contains("holds a regex (`grep`)"));
        assert!(said("awk '/^Uid:/ {print $2}' /proc/1/status")
            .unwrap()
            .contains("(`awk`)"));
        assert!(said("t=$(grep x f)").is_some());
    }

    #[test]
    fn every_choice_is_explained() {
        assert_eq!(lint(&quiz_step(QUIZ, &[])), Vec::<String>::new());
        let no_why = QUIZ.replace("  why = \"The command you ran is PID 1.\"\n", "");
        let d = lint(&quiz_step(&no_why, &[]));
        assert!(
            d.iter().any(|m| m.contains("quiz `q` has no `why`")),
            "{d:?}"
        );
        let no_why_not = QUIZ.replace(
            "  why_not = { init = \"No init runs unless you ask.\" }",
            "",
        );
        let d = lint(&quiz_step(&no_why_not, &[]));
        assert!(
            d.iter()
                .any(|m| m.contains("no why_not for the wrong choice `init`")),
            "{d:?}"
        );
    }

    #[test]
    fn a_hint_that_says_the_answer_is_refused() {
        let d = lint(&quiz_step(QUIZ, &["Run `ps`: it is `sh`."]));
        assert!(
            d.iter()
                .any(|m| m.contains("gives away the answer of quiz `q` (it says `sh`)")),
            "{d:?}"
        );
        assert!(lint(&quiz_step(QUIZ, &["The answer is `sh`."]))
            .iter()
            .any(|m| m.contains("gives away")));
        // A word that only contains the answer gives nothing away, nor a
        // command that names it, nor a hint that names every choice.
        for fine in [
            "Run `ps` and show it.",
            "Type `{{ cli }} run --name sh busybox`.",
            "Is it sh or init?",
        ] {
            assert_eq!(
                lint(&quiz_step(QUIZ, &[fine])),
                Vec::<String>::new(),
                "{fine}"
            );
        }
        let free = "  answer = \"137\"\n  why = \"128 + 9: killed by SIGKILL.\"";
        let d = lint(&quiz_step(free, &["It is 137."]));
        assert!(d.iter().any(|m| m.contains("gives away")), "{d:?}");
    }

    #[test]
    fn figure_time_and_docker_notes_are_well_formed() {
        let bad = step(
            "figure = { src = \"../x.gif\", alt = \" \" }\ndocker_differs = \"\"",
            "Look.",
            &[],
        )
        .replace(
            "summary = \"S\"\n",
            "summary = \"S\"\nminutes = 0\nprerequisites = [\"\"]\n",
        );
        let d = lint(&bad);
        for want in [
            "figure src `../x.gif` must be the name of a svg or png file",
            "figure needs `alt`",
            "docker_differs is empty",
            "minutes = 0",
            "an empty prerequisite",
        ] {
            assert!(d.iter().any(|m| m.contains(want)), "{want}: {d:?}");
        }
        let good = step(
            "figure = { src = \"layers.svg\", alt = \"Layers\" }\ndocker_differs = \"BuildKit prints `CACHED`.\"",
            "Look.",
            &[],
        )
        .replace("summary = \"S\"\n", "summary = \"S\"\nminutes = 20\nprerequisites = [\"lesson 6\"]\n");
        assert_eq!(lint(&good), Vec::<String>::new());
    }
}
