//! Markdown to the terminal: headings, emphasis, code spans and blocks
//! highlighted, lists; colour only when wanted (a tty and no NO_COLOR).

use owo_colors::OwoColorize;
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use std::io::IsTerminal;

/// Colour on stdout is wanted: it is a terminal and NO_COLOR is unset.
pub fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Wrap prose to this many columns (the terminal's width); `None`
    /// keeps the authored line breaks (files, snapshots).
    pub width: Option<usize>,
}

/// The width of the terminal on stdout, when it is one.
pub fn terminal_width() -> Option<usize> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we own.
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

impl Style {
    pub fn detect() -> Style {
        Style {
            color: color_wanted(),
            width: terminal_width(),
        }
    }
    pub fn plain() -> Style {
        Style {
            color: false,
            width: None,
        }
    }
    pub fn heading(&self, s: &str) -> String {
        if self.color {
            s.bold().underline().to_string()
        } else {
            s.to_string()
        }
    }
    pub fn code(&self, s: &str) -> String {
        if self.color {
            s.cyan().bold().to_string()
        } else {
            format!("`{s}`")
        }
    }
    pub fn block(&self, s: &str) -> String {
        if self.color {
            s.cyan().to_string()
        } else {
            s.to_string()
        }
    }
    pub fn good(&self, s: &str) -> String {
        if self.color {
            s.green().bold().to_string()
        } else {
            s.to_string()
        }
    }
    pub fn bad(&self, s: &str) -> String {
        if self.color {
            s.red().bold().to_string()
        } else {
            s.to_string()
        }
    }
    pub fn dim(&self, s: &str) -> String {
        if self.color {
            s.dimmed().to_string()
        } else {
            s.to_string()
        }
    }
    pub fn strong(&self, s: &str) -> String {
        if self.color {
            s.bold().to_string()
        } else {
            s.to_string()
        }
    }
    pub fn em(&self, s: &str) -> String {
        if self.color {
            s.italic().to_string()
        } else {
            s.to_string()
        }
    }
}

/// Columns `s` takes on a terminal: escape sequences take none.
pub fn visible_width(s: &str) -> usize {
    let mut n = 0;
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\u{1b}') => esc = true,
            (true, c) if c.is_ascii_alphabetic() => esc = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// Re-flow `text` (its line breaks are only the author's) into lines of at
/// most `width` columns, for a line that already holds `indent`'s width of
/// lead; lines after the first start with `indent`. A word longer than a
/// line stands alone.
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let start = visible_width(indent);
    let mut col = start;
    let mut empty = true;
    for word in text.split_whitespace() {
        let w = visible_width(word);
        if !empty && col + 1 + w > width {
            out.push('\n');
            out.push_str(indent);
            col = start;
            empty = true;
        }
        if !empty {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
        empty = false;
    }
    out
}

/// One line of markdown (a failure, a quiz's reply): code spans rendered,
/// no trailing newline.
pub fn inline(text: &str, style: Style) -> String {
    markdown(text, style).trim_end().to_string()
}

/// Render markdown (already template-rendered) for the terminal.
pub fn markdown(text: &str, style: Style) -> String {
    let mut out = String::new();
    let mut strong = 0usize;
    let mut em = 0usize;
    let mut list_depth = 0usize;
    let mut in_heading = false;
    let mut heading = String::new();
    let mut in_block = false;
    let mut block = String::new();
    // Where the paragraph or list item being rendered starts in `out`.
    let mut para_start = 0usize;
    let reflow = |out: &mut String, start: usize, list_depth: usize| {
        let Some(width) = style.width else { return };
        let para = out.split_off(start);
        let lead: String = para.chars().take_while(|c| *c == ' ').collect();
        let (lead, body) = match para.trim_start().strip_prefix("• ") {
            Some(rest) if list_depth > 0 => (format!("{lead}• "), rest.to_string()),
            _ => (lead, para.trim_start().to_string()),
        };
        let indent = " ".repeat(visible_width(&lead));
        out.push_str(&lead);
        out.push_str(&wrap(&body, width.max(20), &indent));
    };
    let push_text = |out: &mut String, t: &str, strong: usize, em: usize| {
        if strong > 0 {
            out.push_str(&style.strong(t));
        } else if em > 0 {
            out.push_str(&style.em(t));
        } else {
            out.push_str(t);
        }
    };
    for ev in Parser::new(text) {
        match ev {
            Event::Start(Tag::Heading { .. }) => {
                in_heading = true;
                heading.clear();
            }
            Event::End(TagEnd::Heading(_)) => {
                in_heading = false;
                out.push_str(&style.heading(&heading));
                out.push_str("\n\n");
            }
            Event::Start(Tag::Paragraph) if list_depth == 0 || out.ends_with('\n') => {
                para_start = out.len();
            }
            Event::End(TagEnd::Paragraph) => {
                reflow(&mut out, para_start, list_depth);
                out.push_str(if list_depth > 0 { "\n" } else { "\n\n" });
            }
            Event::Start(Tag::Strong) => strong += 1,
            Event::End(TagEnd::Strong) => strong = strong.saturating_sub(1),
            Event::Start(Tag::Emphasis) => em += 1,
            Event::End(TagEnd::Emphasis) => em = em.saturating_sub(1),
            Event::Start(Tag::CodeBlock(_)) => {
                in_block = true;
                block.clear();
            }
            Event::End(TagEnd::CodeBlock) => {
                in_block = false;
                // At column 0: what the student copies must paste as it
                // is (an indented heredoc terminator never ends it).
                for line in block.trim_end_matches('\n').lines() {
                    out.push_str(&style.block(line));
                    out.push('\n');
                }
                out.push('\n');
            }
            Event::Start(Tag::List(_)) => {
                if list_depth > 0 && !out.ends_with('\n') {
                    out.push('\n');
                }
                list_depth += 1;
            }
            Event::End(TagEnd::List(_)) => {
                list_depth = list_depth.saturating_sub(1);
                if list_depth == 0 {
                    out.push('\n');
                }
            }
            Event::Start(Tag::Item) => {
                para_start = out.len();
                out.push_str(&"  ".repeat(list_depth.saturating_sub(1)));
                out.push_str("  • ");
            }
            Event::End(TagEnd::Item) if !out.ends_with('\n') => {
                reflow(&mut out, para_start, list_depth);
                out.push('\n');
            }
            Event::Code(c) => {
                if in_heading {
                    heading.push_str(&c);
                } else {
                    out.push_str(&style.code(&c));
                }
            }
            Event::Text(t) => {
                if in_block {
                    block.push_str(&t);
                } else if in_heading {
                    heading.push_str(&t);
                } else {
                    push_text(&mut out, &t, strong, em);
                }
            }
            Event::SoftBreak => out.push(if style.width.is_some() { ' ' } else { '\n' }),
            Event::HardBreak => out.push('\n'),
            Event::Rule => out.push_str("────────\n\n"),
            _ => {}
        }
    }
    let trimmed = out.trim_end().to_string();
    trimmed + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_is_reflowed_to_the_terminal_and_code_is_not() {
        let style = Style {
            color: true,
            width: Some(30),
        };
        let long = "A container is a process of the host with a private view of `the system`, nothing more.";
        let text = format!("{long}\n\n    echo {}\n\n* {long}\n", "y".repeat(40));
        let r = markdown(&text, style);
        for line in r.lines() {
            let w = visible_width(line);
            assert!(w <= 30 || line.contains("yyyy"), "{w}: {line:?}\n{r}");
        }
        assert!(r.contains(&format!("echo {}", "y".repeat(40))), "{r}");
        assert!(
            r.lines().any(|l| l.starts_with("    ") && !l.contains('•')),
            "{r}"
        );
    }

    #[test]
    fn plain_rendering_keeps_code_marked() {
        let r = markdown(
            "# Title\n\nRun `whale ps` now.\n\n    whale run -it busybox sh\n\n* one\n* two\n",
            Style::plain(),
        );
        assert_eq!(
            r,
            "Title\n\nRun `whale ps` now.\n\nwhale run -it busybox sh\n\n  • one\n  • two\n"
        );
    }
}
