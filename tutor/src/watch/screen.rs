//! What the watched lesson prints besides the steps themselves: the key
//! line, a demo's actions, and the lesson list.

use crate::engine::Engine;
use crate::lesson::{Action, LoadedLesson};
use crate::progress::Progress;
use crate::render::Style;
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

/// One solve action as a line for the class to read.
pub(super) fn describe_action(a: &Action, engine: &Engine) -> String {
    let r = |s: &str| crate::template::render_for(s, engine).unwrap_or_else(|_| s.to_string());
    if let Some(c) = &a.run {
        format!("$ {}", r(c))
    } else if let Some(c) = &a.spawn {
        format!("$ {}   (in a terminal)", r(c))
    } else if let Some(e) = &a.expect {
        format!("(wait for {e})")
    } else if let Some(t) = &a.send {
        format!("type {:?}", r(t))
    } else if let Some(k) = &a.send_control {
        let keys: Vec<String> = k
            .chars()
            .map(|c| format!("Ctrl-{}", c.to_ascii_uppercase()))
            .collect();
        keys.join(" ")
    } else if let Some(w) = &a.write {
        format!("write {w}")
    } else if let Some(c) = &a.wait_for {
        format!("(wait for a {} check)", c.kind())
    } else if let (Some(ans), Some(q)) = (&a.answer, &a.quiz) {
        format!("answer {q}: {ans}")
    } else {
        String::new()
    }
}

/// The `list` table: number, title, steps done/total.
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
            "{:>3}  {:<wide$} {done}/{total}  {mark}\n",
            l.number(),
            l.lesson.title
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::key_line;

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
    }

    #[test]
    fn the_quiz_key_only_where_there_is_a_quiz() {
        assert!(key_line(true).contains("[a] answer quiz"));
        assert!(!key_line(false).contains("[a]"));
        assert!(key_line(false).contains("[q] quit"));
    }
}
