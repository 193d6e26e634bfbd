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
}

impl Style {
    pub fn detect() -> Style {
        Style {
            color: color_wanted(),
        }
    }
    pub fn plain() -> Style {
        Style { color: false }
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
            Event::Start(Tag::Paragraph) => {}
            Event::End(TagEnd::Paragraph) => {
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
                out.push_str(&"  ".repeat(list_depth.saturating_sub(1)));
                out.push_str("  • ");
            }
            Event::End(TagEnd::Item) if !out.ends_with('\n') => out.push('\n'),
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
            Event::SoftBreak => out.push('\n'),
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
