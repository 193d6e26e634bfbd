//! What the watched lesson prints besides the steps themselves: the key
//! line, a demo's commands and their output, and the lesson list.

use crate::lesson::LoadedLesson;
use crate::progress::Progress;
use crate::render::Style;
use crate::solve::Shown;
use std::io::Write;

/// Print now: the terminal is raw, so nothing waits for a newline.
pub(super) fn out(s: &str) {
    let mut o = std::io::stdout();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// The keys a step offers: `a` only where there is a quiz to answer.
pub(super) fn key_line(has_quiz: bool) -> &'static str {
    if has_quiz {
        "[h] hint  [c] check now  [n] next  [l] lessons  [a] answer quiz  [q] quit"
    } else {
        "[h] hint  [c] check now  [n] next  [l] lessons  [q] quit"
    }
}

/// One thing a demo did, as the student would see it: `$ command` at a
/// prompt, then what it printed; keys and files as a dim note.
pub(super) fn shown(s: &Shown, style: Style) -> String {
    match s {
        Shown::Command {
            line,
            terminal: false,
        } => format!("{}\n", style.block(&format!("$ {line}"))),
        Shown::Command {
            line,
            terminal: true,
        } => format!(
            "{} {}\n",
            style.block(&format!("$ {line}")),
            style.dim("(in a second terminal)")
        ),
        Shown::Output(text) if text.ends_with('\n') => text.clone(),
        Shown::Output(text) => format!("{text}\n"),
        Shown::Note(n) => format!("{}\n", style.dim(n)),
    }
}

/// "  ~20 min  needs: lesson 6, an editor", or nothing when the lesson
/// says neither.
fn time_and_prerequisites(l: &LoadedLesson) -> String {
    let mut out = String::new();
    if let Some(m) = &l.lesson.minutes {
        out.push_str(&format!("  ~{} min", m.get_ref()));
    }
    let before = l.lesson.prerequisite_list();
    if !before.is_empty() {
        out.push_str(&format!("  needs: {}", before.join(", ")));
    }
    out
}

/// The `list` table: number, title, steps done/total, time and what to
/// know first.
pub fn list(lessons: &[LoadedLesson], progress: &Progress, style: Style) -> String {
    let mut s = String::new();
    // As wide as the longest title, so the counts line up.
    let wide = lessons
        .iter()
        .map(|l| l.lesson.title.chars().count())
        .max()
        .unwrap_or(0);
    for l in lessons {
        let p = progress.of(l);
        let done = progress.done_count(l);
        let total = l.lesson.steps.len();
        let mark = if p.completed {
            style.good("done")
        } else if done > 0 || p.step.is_some() {
            "....".to_string()
        } else {
            "    ".to_string()
        };
        s.push_str(&format!(
            "{:>3}  {:<wide$} {done}/{total}  {mark}{}\n",
            l.number(),
            l.lesson.title,
            time_and_prerequisites(l)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::key_line;

    #[test]
    fn a_demo_shows_commands_and_output() {
        let plain = crate::render::Style::plain();
        let cmd = super::Shown::Command {
            line: "whale ps".into(),
            terminal: false,
        };
        assert_eq!(super::shown(&cmd, plain), "$ whale ps\n");
        let out = super::Shown::Output("CONTAINER ID   IMAGE".into());
        assert_eq!(super::shown(&out, plain), "CONTAINER ID   IMAGE\n");
    }

    #[test]
    fn the_list_lines_up_whatever_the_titles() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lessons");
        let lessons = crate::lesson::load_dir(&dir).unwrap();
        let table = super::list(
            &lessons,
            &crate::progress::Progress::default(),
            crate::render::Style::plain(),
        );
        let cols: Vec<usize> = table
            .lines()
            .map(|l| l.find(" 0/").expect("a count"))
            .collect();
        assert!(cols.windows(2).all(|w| w[0] == w[1]), "{table}");
        // Each lesson's time and what it needs, from its header.
        for l in &lessons {
            if let Some(m) = &l.lesson.minutes {
                let line = table.lines().find(|t| t.contains(&l.lesson.title)).unwrap();
                assert!(line.contains(&format!("~{} min", m.get_ref())), "{line}");
            }
        }
    }

    #[test]
    fn the_quiz_key_only_where_there_is_a_quiz() {
        assert!(key_line(true).contains("[a] answer quiz"));
        assert!(!key_line(false).contains("[a]"));
        assert!(key_line(false).contains("[q] quit"));
    }
}
