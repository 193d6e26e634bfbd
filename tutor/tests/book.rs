//! The book (`book/`) never drifts from the lessons or from the CLI:
//! its generated pages are what `whaletutor book` makes now, its lesson
//! chapters show the steps the tutor shows, every `whale`, `whaletutor` and
//! `docker` command in it parses with the current command lines, and its
//! links resolve (in the markdown, and in the HTML when `mdbook` is here).

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use whaletutor::book;
use whaletutor::lesson::{self, LoadedLesson};
use whaletutor::render::{self, Style};
use whaletutor::runner;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn book_dir() -> PathBuf {
    repo().join("book")
}

fn lessons() -> Vec<LoadedLesson> {
    lesson::load_dir(&repo().join("lessons")).expect("the course's lessons load")
}

/// Every markdown file under `book/src`, as (path relative to src, text).
fn book_pages() -> Vec<(String, String)> {
    let src = book_dir().join("src");
    let mut out = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                let rel = p.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------- up to date

#[test]
fn the_book_is_up_to_date_with_the_lessons_and_the_cli() {
    let pages = book::generate(&lessons()).unwrap();
    let stale = book::stale(&book_dir(), &pages);
    assert!(
        stale.is_empty(),
        "the book is out of date:\n{}\nre-generate it from the repository root with `{}` and commit book/src",
        stale
            .iter()
            .map(|s| format!("  - {s}"))
            .collect::<Vec<_>>()
            .join("\n"),
        book::REGENERATE
    );
    println!("{} generated pages are up to date", pages.len());
}

#[test]
fn editing_a_lesson_without_regenerating_names_the_chapter() {
    // A copy of the lessons with one sentence of lesson 3 changed, compared
    // with the book as committed: exactly the situation of an author who
    // forgot to run the generator.
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(repo().join("lessons")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "toml") {
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
    }
    let three = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("03-"))
        .expect("lesson 3 exists");
    let text = std::fs::read_to_string(&three).unwrap();
    let edited = text.replacen(
        "text = \"\"\"\n",
        "text = \"\"\"\nA sentence the book has not seen.\n",
        1,
    );
    assert_ne!(text, edited, "lesson 3 has a step text to edit");
    std::fs::write(&three, edited).unwrap();

    let edited_lessons = lesson::load_dir(dir.path()).unwrap();
    let pages = book::generate(&edited_lessons).unwrap();
    let stale = book::stale(&book_dir(), &pages);
    let l3 = edited_lessons.iter().find(|l| l.number() == 3).unwrap();
    let chapter = format!("lessons/{}", book::chapter_file(l3));
    assert_eq!(
        stale.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        vec![chapter.as_str()],
        "only lesson 3's chapter is stale: {stale:?}"
    );
    let message = stale[0].to_string();
    assert!(
        message.contains(&format!("book/src/{chapter}")),
        "{message}"
    );
    assert!(message.contains("chapter of lesson 3"), "{message}");
    assert!(
        message.contains("A sentence the book has not seen."),
        "{message}"
    );
    println!("{message}");
}

// ------------------------------------------------------ same steps as the tutor

/// The section of a chapter for step `i` (from its heading to the next
/// step's heading).
fn step_section<'a>(chapter: &'a str, l: &LoadedLesson, i: usize) -> &'a str {
    let total = l.lesson.steps.len();
    let head = format!(
        "## Step {}/{total}: {} {{#step-{}}}\n\n",
        i + 1,
        runner::step(l, i).title,
        runner::step(l, i).id.get_ref()
    );
    let start = chapter
        .find(&head)
        .unwrap_or_else(|| panic!("lesson {}: no heading {head:?}", l.number()))
        + head.len();
    let rest = &chapter[start..];
    let end = rest.find("\n## Step ").map(|e| e + 1).unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn each_chapter_shows_the_steps_whaletutor_lesson_shows() {
    let tera = regex::Regex::new(r"\{\{-?\s*(cli|socket)\b|\{%").unwrap();
    for l in lessons() {
        let chapter = book::chapter(&l).unwrap();
        assert!(
            !tera.is_match(&chapter),
            "unrendered Tera in the chapter of {}",
            l.id()
        );
        for i in 0..l.lesson.steps.len() {
            let section = step_section(&chapter, &l, i);
            // The tutor prints a heading line, a blank line, then the step's
            // text (markdown styled for the terminal) and its quizzes.
            let shown = runner::render_step(&l, i, "whale", Style::plain());
            let (_heading, body) = shown.split_once("\n\n").unwrap();
            // A challenge is marked above its text, in the book and the
            // tutor (in their own words); the book's picture is above it.
            let body = match body.strip_prefix("Challenge:") {
                Some(rest) => rest.split_once("\n\n").unwrap().1,
                None => body,
            };
            let mut section = section;
            if runner::step(&l, i).figure.is_some() {
                assert!(
                    section.starts_with("<img class=\"figure\""),
                    "lesson {}: no picture",
                    l.number()
                );
                section = section.split_once("\n\n").unwrap().1;
            }
            if let Some(rest) = section.strip_prefix("**Challenge:**") {
                section = rest.split_once("\n\n").unwrap().1;
            }
            // The step's text ends where the generated parts begin.
            let text_end = [
                "<details",
                "**What the tutor will look for:**",
                "> **Where Docker differs:**",
                "> **Why it matters:**",
            ]
            .iter()
            .filter_map(|m| section.find(m))
            .min()
            .unwrap_or(section.len());
            let text = &section[..text_end];
            let text_only = text.split("**Quiz:**").next().unwrap();
            let body_text = body
                .split("\nQuiz: ")
                .next()
                .unwrap()
                .split("\nPicture: ")
                .next()
                .unwrap();
            assert_eq!(
                render::markdown(text_only, Style::plain()).trim_end(),
                body_text.trim_end(),
                "lesson {} step {}: the book's text differs from what the tutor shows",
                l.number(),
                i + 1
            );
            let s = runner::step(&l, i);
            for q in &s.quizzes {
                assert!(
                    section.contains(&format!("**Quiz:** {}", q.get_ref().question)),
                    "quiz missing in lesson {}",
                    l.number()
                );
            }
            if !s.checks.is_empty() {
                assert!(section.contains("**What the tutor will look for:**"));
            }
        }
        if l.number() == 3 {
            println!(
                "lesson 3: {} steps, each with the text `whaletutor lesson 3` shows",
                l.lesson.steps.len()
            );
        }
    }
}

/// Every pattern of a check, nested ones too.
fn patterns(check: &lesson::Check, out: &mut Vec<String>) {
    use lesson::Check;
    let mut add = |p: &Option<String>| out.extend(p.iter().cloned());
    match check {
        Check::Container(c) => {
            add(&c.cmd);
            add(&c.pid1);
            add(&c.logs);
        }
        Check::Process(p) => add(&Some(p.command.clone())),
        Check::Exec(e) => add(&e.stdout),
        Check::File(f) => add(&f.contents),
        Check::Host(h) => add(&h.stdout),
        Check::Image(_) | Check::Quiz(_) => {}
        Check::All(g) | Check::Any(g) => g.checks.iter().for_each(|c| patterns(c, out)),
    }
}

#[test]
fn lesson_chapters_carry_pictures_and_no_raw_regex() {
    let mut pictures = 0;
    let mut with_picture = 0;
    let mut said = 0;
    for l in lessons() {
        let chapter = book::chapter(&l).unwrap();
        let here = chapter
            .matches("<img class=\"figure\" src=\"../images/")
            .count();
        pictures += here;
        with_picture += usize::from(here > 0);
        for s in &l.lesson.steps {
            for c in &s.get_ref().checks {
                let mut found = Vec::new();
                patterns(c.get_ref(), &mut found);
                for re in found {
                    // A pattern with regex syntax must not reach the book.
                    if re.chars().any(|ch| "\\^$[](){}|*+?".contains(ch)) {
                        said += 1;
                        assert!(
                            !chapter.contains(&re),
                            "lesson {}: the chapter prints the raw regex {re:?}",
                            l.number()
                        );
                    }
                }
            }
        }
    }
    assert!(
        with_picture >= 4,
        "only {with_picture} lesson chapters carry a picture"
    );
    println!(
        "{pictures} pictures in {with_picture} lesson chapters; {said} regexes in words, none raw"
    );
}

// ------------------------------------------------------------------ commands

/// Docker verbs whale does not have: a `docker` command using one of them is
/// counted as skipped, not checked. Kept honest by a test (none of these is
/// a whale verb).
const DOCKER_ONLY_VERBS: &[&str] = &[
    "search",
    "compose",
    "buildx",
    "builder",
    "swarm",
    "service",
    "stack",
    "node",
    "secret",
    "config",
    "context",
    "plugin",
    "trust",
    "manifest",
    "restart",
    "events",
    "checkpoint",
    "scout",
    "init",
    "debug",
];

/// One command shown in the book.
#[derive(Debug, Clone)]
struct Shown {
    file: String,
    argv: Vec<String>,
    /// In a code span of prose rather than a code block.
    inline: bool,
}

#[derive(Debug, Default)]
struct Report {
    checked: BTreeMap<String, usize>,
    /// Of those checked: code spans naming a verb and flags, without all of
    /// the verb's arguments (their flags are still checked).
    partial: usize,
    skipped: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    fn total(&self) -> usize {
        self.checked.values().sum()
    }
}

/// The simple commands of a shell line: split at `|`, `||`, `&&`, `;`, `&`,
/// with `$(...)` taken out as commands of their own, redirections and
/// comments dropped, quotes removed.
fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = line.chars().collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut cmd: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    let end_word = |cmd: &mut Vec<String>, word: &mut String, in_word: &mut bool| {
        if *in_word {
            cmd.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    i += 1;
                }
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
            }
            '\\' => {
                in_word = true;
                if i + 1 < chars.len() {
                    word.push(chars[i + 1]);
                    i += 1;
                }
            }
            '$' if chars.get(i + 1) == Some(&'(') => {
                let mut depth = 0;
                let mut j = i + 1;
                let mut sq = false;
                while j < chars.len() {
                    match chars[j] {
                        '\'' => sq = !sq,
                        '(' if !sq => depth += 1,
                        ')' if !sq => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let inner: String = chars[i + 2..j.min(chars.len())].iter().collect();
                out.extend(simple_commands(&inner));
                word.push_str("SUBST");
                in_word = true;
                i = j;
            }
            '#' if !in_word => break,
            '|' | '&' | ';' => {
                end_word(&mut cmd, &mut word, &mut in_word);
                if !cmd.is_empty() {
                    out.push(std::mem::take(&mut cmd));
                }
            }
            '>' | '<' => {
                // A redirection: drop an fd number before it, and its target.
                if in_word && word.chars().all(|d| d.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                end_word(&mut cmd, &mut word, &mut in_word);
                while i + 1 < chars.len() && matches!(chars[i + 1], '>' | '<') {
                    i += 1;
                }
                if chars.get(i + 1) == Some(&'&') {
                    i += 1;
                    while i + 1 < chars.len()
                        && (chars[i + 1].is_ascii_digit() || chars[i + 1] == '-')
                    {
                        i += 1;
                    }
                } else {
                    while i + 1 < chars.len() && chars[i + 1] == ' ' {
                        i += 1;
                    }
                    while i + 1 < chars.len()
                        && !chars[i + 1].is_whitespace()
                        && !"|&;".contains(chars[i + 1])
                    {
                        i += 1;
                    }
                }
            }
            c if c.is_whitespace() => end_word(&mut cmd, &mut word, &mut in_word),
            c => {
                word.push(c);
                in_word = true;
            }
        }
        i += 1;
    }
    end_word(&mut cmd, &mut word, &mut in_word);
    if !cmd.is_empty() {
        out.push(cmd);
    }
    out
}

/// Our program's name, when `word` runs one (`./target/release/whaletutor`).
fn program(word: &str) -> Option<&'static str> {
    let base = word.rsplit('/').next().unwrap_or(word);
    ["whale", "whaletutor", "docker"]
        .into_iter()
        .find(|p| *p == base)
}

/// The commands of ours in one line of shell (`inline`: a code span, where
/// a bare program name is a name, not a command).
fn commands_in_line(file: &str, line: &str, inline: bool, out: &mut Vec<Shown>) {
    let line = line.trim().trim_start_matches("$ ");
    for mut argv in simple_commands(line) {
        // `FOO=bar whale ...`, `sudo whale ...`
        while argv.first().is_some_and(|w| {
            w == "sudo" || (w.contains('=') && !w.starts_with('-') && program(w).is_none())
        }) {
            argv.remove(0);
        }
        let Some(first) = argv.first() else { continue };
        if program(first).is_none() || (inline && argv.len() == 1) {
            continue;
        }
        out.push(Shown {
            file: file.to_string(),
            argv,
            inline,
        });
    }
}

/// Every command of ours shown in a markdown page: code spans and the lines
/// of code blocks (except `usage` blocks: synopses like `whale run [OPTIONS]
/// IMAGE`, not commands to type).
fn commands_in_markdown(file: &str, md: &str) -> Vec<Shown> {
    let mut out = Vec::new();
    let mut block: Option<(bool, String)> = None;
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match ev {
            Event::Start(Tag::CodeBlock(kind)) => {
                let skip = matches!(&kind, CodeBlockKind::Fenced(info) if info.split_whitespace().next() == Some("usage"));
                block = Some((skip, String::new()));
            }
            Event::Text(t) => {
                if let Some((_, text)) = block.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((skip, text)) = block.take() {
                    if !skip {
                        for line in text.replace("\\\n", " ").lines() {
                            commands_in_line(file, line, false, &mut out);
                        }
                    }
                }
            }
            Event::Code(c) => commands_in_line(file, &c, true, &mut out),
            _ => {}
        }
    }
    out
}

/// Only subcommand names after the program (`whale stop`, `whale system`):
/// in prose that names a verb, it is not a command line missing arguments.
fn names_a_verb(cmd: &clap::Command, words: &[String]) -> bool {
    match words.split_first() {
        None => true,
        Some((w, rest)) => cmd
            .find_subcommand(w)
            .is_some_and(|sub| names_a_verb(sub, rest)),
    }
}

/// clap takes an unknown flag where a positional argument accepts values
/// starting with `-` (`whale run --bogus busybox`: `--bogus` would be the
/// IMAGE); docker says "unknown flag". The first positional argument of the
/// verb must therefore not start with `-`.
fn flag_taken_as_positional(cmd: &clap::Command, m: &clap::ArgMatches) -> Option<String> {
    if let Some((name, sub_m)) = m.subcommand() {
        let sub = cmd.find_subcommand(name)?;
        return flag_taken_as_positional(sub, sub_m);
    }
    let first = cmd
        .get_positionals()
        .filter(|a| a.is_allow_hyphen_values_set() || a.is_trailing_var_arg_set())
        .find(|a| a.get_index() == Some(1))?;
    let value = m
        .get_raw(first.get_id().as_str())?
        .next()?
        .to_string_lossy()
        .into_owned();
    value.starts_with('-').then(|| {
        format!(
            "unknown flag `{value}` (clap would take it as {})",
            first
                .get_value_names()
                .map(|v| v
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(" "))
                .unwrap_or_default()
        )
    })
}

fn check_commands(shown: &[Shown]) -> Report {
    let whale_verbs: BTreeSet<String> = book::whale_command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let mut report = Report::default();
    for s in shown {
        let prog = program(&s.argv[0]).unwrap();
        let mut argv = s.argv.clone();
        argv[0] = prog.to_string();
        if prog == "docker" {
            // The verb: the first word that is not a global flag.
            let verb = argv[1..].iter().find(|w| !w.starts_with('-'));
            if let Some(v) = verb
                .filter(|v| !whale_verbs.contains(*v) && DOCKER_ONLY_VERBS.contains(&v.as_str()))
            {
                report.skipped.push(format!(
                    "{}: `{}` (whale has no `{v}`)",
                    s.file,
                    s.argv.join(" ")
                ));
                continue;
            }
        }
        let mut cmd = if prog == "whaletutor" {
            book::whaletutor_command()
        } else {
            book::whale_command()
        };
        cmd.build();
        let result = match cmd.clone().try_get_matches_from(&argv) {
            Ok(m) => match flag_taken_as_positional(&cmd, &m) {
                Some(problem) => Err(problem),
                None => Ok(()),
            },
            // `--help` and `--version` are commands that parse.
            Err(e)
                if matches!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                ) =>
            {
                Ok(())
            }
            Err(_) if s.inline && names_a_verb(&cmd, &argv[1..]) => Ok(()),
            // Prose may name a verb with a flag ("remove it with `whale rm
            // -f`"): in a code span, missing arguments are allowed, but every
            // flag and value given must exist (clap reports those first).
            Err(e)
                if s.inline
                    && matches!(
                        e.kind(),
                        clap::error::ErrorKind::MissingRequiredArgument
                            | clap::error::ErrorKind::MissingSubcommand
                            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                    ) =>
            {
                report.partial += 1;
                Ok(())
            }
            Err(e) => Err(e
                .render()
                .to_string()
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()),
        };
        match result {
            Ok(()) => *report.checked.entry(prog.to_string()).or_default() += 1,
            Err(problem) => report.failures.push(format!(
                "{}: `{}` does not parse: {problem}",
                s.file,
                s.argv.join(" "),
            )),
        }
    }
    report
}

#[test]
fn every_command_shown_in_the_book_parses_with_the_current_cli() {
    let mut shown = Vec::new();
    for (file, md) in book_pages() {
        shown.extend(commands_in_markdown(&file, &md));
    }
    let report = check_commands(&shown);
    println!(
        "checked {} commands shown in the book ({}; {} of them in prose without all their arguments); skipped {} docker commands whose verb whale lacks",
        report.total(),
        report
            .checked
            .iter()
            .map(|(p, n)| format!("{p}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        report.partial,
        report.skipped.len()
    );
    for s in &report.skipped {
        println!("  skipped {s}");
    }
    assert!(
        report.failures.is_empty(),
        "{} command(s) in the book do not parse with the current CLI (fix the page, or its lesson and run `{}`):\n{}",
        report.failures.len(),
        book::REGENERATE,
        report.failures.join("\n")
    );
    // Every lesson's chapter shows whale commands, and the introduction
    // shows how to start: the test is not vacuous.
    assert!(report.checked.get("whale").copied().unwrap_or(0) >= lessons().len());
    assert!(report.checked.get("whaletutor").copied().unwrap_or(0) >= 2);
}

#[test]
fn a_made_up_flag_fails_the_command_test() {
    let md = "Remove it with `whale rm --made-up-four`. Run `whale run --made-up-flag busybox true`, then\n\n```sh\nwhale ps --all\nwhaletutor lesson 3 --made-up-too\ndocker stop --made-up-three x\ndocker search busybox\n```\n";
    let report = check_commands(&commands_in_markdown("fake.md", md));
    assert_eq!(report.failures.len(), 4, "{report:?}");
    assert!(report.failures[0].contains("--made-up-four"), "{report:?}");
    assert!(report.failures[1].contains("--made-up-flag"), "{report:?}");
    assert!(report.failures[2].contains("--made-up-too"), "{report:?}");
    assert!(report.failures[3].contains("--made-up-three"), "{report:?}");
    assert_eq!(report.total(), 1, "whale ps --all parses: {report:?}");
    assert_eq!(
        report.skipped.len(),
        1,
        "docker search is skipped: {report:?}"
    );

    // The same in a real chapter: lesson 3 with one flag made up.
    let l3 = lessons().into_iter().find(|l| l.number() == 3).unwrap();
    let chapter = book::chapter(&l3).unwrap();
    let clean = check_commands(&commands_in_markdown("lesson 3", &chapter));
    assert!(clean.failures.is_empty(), "{clean:?}");
    let broken = chapter.replacen("whale stop -t 2 life", "whale stop --grace 2 life", 1);
    assert_ne!(broken, chapter, "lesson 3 shows `whale stop -t 2 life`");
    let report = check_commands(&commands_in_markdown("lesson 3", &broken));
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert!(
        report.failures[0].contains("whale stop --grace 2 life"),
        "{report:?}"
    );
}

#[test]
fn the_shell_splitter_finds_the_commands_inside() {
    let cmds = simple_commands(
        "whale rm -f $(whale ps -aq --filter label=lesson=life) 2>/dev/null && whale inspect -f '{{.State.Pid}}' web | grep 1 # done",
    );
    assert_eq!(
        cmds,
        vec![
            vec!["whale", "ps", "-aq", "--filter", "label=lesson=life"],
            vec!["whale", "rm", "-f", "SUBST"],
            vec!["whale", "inspect", "-f", "{{.State.Pid}}", "web"],
            vec!["grep", "1"],
        ]
    );
    let mut out = Vec::new();
    commands_in_line(
        "x",
        "$ DOCKER_HOST=unix:///x.sock ./target/debug/whaletutor verify 3",
        false,
        &mut out,
    );
    assert_eq!(
        out[0].argv,
        vec!["./target/debug/whaletutor", "verify", "3"]
    );
}

#[test]
fn docker_only_verbs_are_really_missing_from_whale() {
    let whale_verbs: BTreeSet<String> = book::whale_command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for v in DOCKER_ONLY_VERBS {
        assert!(
            !whale_verbs.contains(*v),
            "whale has `{v}` now: remove it from DOCKER_ONLY_VERBS so docker commands using it are checked"
        );
    }
}

// --------------------------------------------------------------------- links

/// mdBook's id for a heading: letters, digits, `_` and `-` kept (lowercase),
/// spaces made `-`, the rest dropped; repeats get `-1`, `-2`, ...
fn heading_ids(md: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut heading: Option<String> = None;
    let html_id = regex::Regex::new(r#"id="([^"]+)""#).unwrap();
    for ev in Parser::new_ext(
        md,
        Options::ENABLE_TABLES | Options::ENABLE_HEADING_ATTRIBUTES,
    ) {
        match ev {
            Event::Start(Tag::Heading { id: Some(id), .. }) => {
                ids.insert(id.to_string());
                heading = None;
            }
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let Some(h) = heading.take() else {
                    continue; // it had an explicit id
                };
                let base = book::anchor(h.trim());
                let n = counts.entry(base.clone()).or_default();
                ids.insert(if *n == 0 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                });
                *n += 1;
            }
            Event::Html(h) | Event::InlineHtml(h) => {
                for cap in html_id.captures_iter(&h) {
                    ids.insert(cap[1].to_string());
                }
            }
            _ => {}
        }
    }
    ids
}

fn is_external(link: &str) -> bool {
    link.contains("://") || link.starts_with("mailto:")
}

#[test]
fn every_link_in_the_book_resolves() {
    let src = book_dir().join("src");
    let pages = book_pages();
    let ids: BTreeMap<String, BTreeSet<String>> = pages
        .iter()
        .map(|(f, md)| (f.clone(), heading_ids(md)))
        .collect();
    let mut broken = Vec::new();
    let mut count = 0;
    let img_src = regex::Regex::new(r#"<img[^>]*\ssrc="([^"]+)""#).unwrap();
    for (file, md) in &pages {
        let mut links = Vec::new();
        for ev in Parser::new_ext(md, Options::ENABLE_TABLES) {
            match ev {
                Event::Start(Tag::Link { dest_url, .. })
                | Event::Start(Tag::Image { dest_url, .. }) => links.push(dest_url.to_string()),
                Event::Html(h) | Event::InlineHtml(h) => {
                    links.extend(img_src.captures_iter(&h).map(|c| c[1].to_string()))
                }
                _ => {}
            }
        }
        let here = Path::new(file).parent().unwrap_or(Path::new(""));
        for link in links {
            if is_external(&link) {
                broken.push(format!(
                    "{file}: {link} points outside the book (it must render offline)"
                ));
                continue;
            }
            count += 1;
            let (path, frag) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                normalize(&here.join(path))
            };
            if !src.join(&target).exists() {
                broken.push(format!("{file}: {link}: no file book/src/{target}"));
                continue;
            }
            if !frag.is_empty() {
                match ids.get(&target) {
                    Some(set) if set.contains(frag) => {}
                    Some(_) => broken.push(format!(
                        "{file}: {link}: no heading with id `{frag}` in {target}"
                    )),
                    None => broken.push(format!(
                        "{file}: {link}: anchor into a file that is not markdown"
                    )),
                }
            }
        }
    }
    // Every page is in the table of contents (mdBook would not render it).
    let summary = &pages.iter().find(|(f, _)| f == "SUMMARY.md").unwrap().1;
    for (file, _) in &pages {
        if file != "SUMMARY.md" && !summary.contains(&format!("]({file})")) {
            broken.push(format!("{file} is not in SUMMARY.md"));
        }
    }
    assert!(
        broken.is_empty(),
        "broken links in the book:\n{}",
        broken.join("\n")
    );
    println!("{count} links in the book resolve");
    assert!(count > 20, "the book links its pages and pictures");
}

/// `a/../b/./c` as `b/c` (no file system access).
fn normalize(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

#[test]
fn the_pictures_are_static_svg_that_render_offline() {
    let dir = book_dir().join("src/images");
    let mut n = 0;
    let href_re = regex::Regex::new(r#"href="([^"]+)""#).unwrap();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "svg") {
            n += 1;
            let svg = std::fs::read_to_string(&p).unwrap();
            let name = p.display();
            assert!(
                svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
                "{name} is not an SVG document"
            );
            assert!(
                svg.contains("viewBox"),
                "{name}: no viewBox, it will not scale"
            );
            for bad in ["<script", "@import", "<foreignObject", "<image"] {
                assert!(!svg.contains(bad), "{name} uses {bad}");
            }
            for href in href_re.captures_iter(&svg) {
                assert!(
                    href[1].starts_with('#'),
                    "{name} links {} (must render offline)",
                    &href[1]
                );
            }
        }
    }
    assert!(n >= 4, "the four pictures are in book/src/images");
}

// ----------------------------------------------------------------- mdbook build

fn mdbook() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("mdbook"))
        .find(|p| p.is_file())
}

#[test]
fn mdbook_builds_the_book_and_its_html_links_resolve() {
    let Some(mdbook) = mdbook() else {
        // CI installs mdbook before the tests (.ci/run): there, a missing
        // mdbook is an error, not a reason to skip.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but `mdbook` is not on PATH: .ci/run installs it with cargo install mdbook --locked"
        );
        println!(
            "skipped: `mdbook` is not on PATH (install it with: cargo install mdbook --locked)"
        );
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(&mdbook)
        .arg("build")
        .arg(book_dir())
        .arg("--dest-dir")
        .arg(out.path())
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "mdbook build book failed:\n{log}");
    assert!(
        !log.contains("WARN") && !log.contains("ERROR"),
        "mdbook build warned:\n{log}"
    );
    let site = out.path();
    for l in lessons() {
        let html = site
            .join("lessons")
            .join(book::chapter_file(&l).replace(".md", ".html"));
        assert!(
            html.is_file(),
            "no page {} for lesson {}",
            html.display(),
            l.number()
        );
    }
    // Every relative href/src in every page resolves, anchors included.
    let attr = regex::Regex::new(r#"(?:href|src)="([^"]*)""#).unwrap();
    let id = regex::Regex::new(r#"\sid="([^"]+)""#).unwrap();
    let mut html_files = Vec::new();
    let mut stack = vec![site.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "html") {
                html_files.push(p);
            }
        }
    }
    let mut ids_of: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut broken = Vec::new();
    let mut count = 0;
    for f in &html_files {
        let text = std::fs::read_to_string(f).unwrap();
        for cap in attr.captures_iter(&text) {
            let link = cap[1].replace("&amp;", "&");
            if link.is_empty()
                || is_external(&link)
                || link.starts_with("javascript:")
                || link.starts_with("data:")
            {
                continue;
            }
            count += 1;
            let link = link.split('?').next().unwrap().to_string();
            let (path, frag) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                f.clone()
            } else if path.starts_with('/') {
                site.join(path.trim_start_matches('/'))
            } else {
                f.parent().unwrap().join(path)
            };
            let target = PathBuf::from("/").join(normalize(&target));
            let target = if target.is_dir() {
                target.join("index.html")
            } else {
                target
            };
            if !target.exists() {
                broken.push(format!(
                    "{}: {link}",
                    f.strip_prefix(site).unwrap().display()
                ));
                continue;
            }
            if !frag.is_empty() && target.extension().is_some_and(|x| x == "html") {
                let ids = ids_of.entry(target.clone()).or_insert_with(|| {
                    id.captures_iter(&std::fs::read_to_string(&target).unwrap())
                        .map(|c| c[1].to_string())
                        .collect()
                });
                if !ids.contains(frag) {
                    broken.push(format!(
                        "{}: {link} (no id `{frag}`)",
                        f.strip_prefix(site).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "broken links in the built book:\n{}",
        broken.join("\n")
    );
    println!(
        "mdbook built {} pages; {count} relative links resolve",
        html_files.len()
    );
}

// ------------------------------------------------------- the one command

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == "book") && from == book_dir() {
            continue; // a built site, if any
        }
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn whaletutor_book_regenerates_and_check_names_what_is_stale() {
    let bin = env!("CARGO_BIN_EXE_whaletutor");
    let tmp = tempfile::tempdir().unwrap();
    let (lessons_copy, book_copy) = (tmp.path().join("lessons"), tmp.path().join("book"));
    copy_dir(&repo().join("lessons"), &lessons_copy);
    copy_dir(&book_dir(), &book_copy);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .arg("--lessons-dir")
            .arg(&lessons_copy)
            .args(args)
            .arg("--out")
            .arg(&book_copy)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, text) = run(&["book", "--check"]);
    assert_eq!(code, Some(0), "{text}");

    // An edited lesson and a chapter left over from a removed lesson.
    let two = lessons_copy.join(
        std::fs::read_dir(&lessons_copy)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .find(|n| n.to_string_lossy().starts_with("02-"))
            .unwrap(),
    );
    let text2 = std::fs::read_to_string(&two).unwrap();
    std::fs::write(&two, text2.replacen("title = \"", "title = \"Renamed: ", 1)).unwrap();
    let gone = book_copy.join("src/lessons/99-gone.md");
    std::fs::write(
        &gone,
        format!(
            "{} from lessons/99-gone.toml. -->\n# Gone\n",
            book::GENERATED_MARK
        ),
    )
    .unwrap();

    let (code, text) = run(&["book", "--check"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("book/src/lessons/02-"),
        "names the chapter: {text}"
    );
    assert!(
        text.contains("book/src/SUMMARY.md"),
        "the title is in the contents too: {text}"
    );
    assert!(
        text.contains("book/src/lessons/99-gone.md"),
        "names the left-over page: {text}"
    );
    assert!(
        text.contains(book::REGENERATE),
        "says how to fix it: {text}"
    );

    let (code, text) = run(&["book"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!gone.exists(), "the left-over page is removed");
    let (code, text) = run(&["book", "--check"]);
    assert_eq!(code, Some(0), "up to date after one command: {text}");
    // Hand-written pages are never touched.
    assert_eq!(
        std::fs::read_to_string(book_copy.join("src/introduction.md")).unwrap(),
        std::fs::read_to_string(book_dir().join("src/introduction.md")).unwrap()
    );
}
