//! Commands a student copies must work when pasted: every line of a code
//! block fits in 80 columns (on whale's and docker's socket paths alike),
//! and a heredoc's terminator stands alone at column 0 (an indented `EOF`
//! never ends the heredoc, so the pasted build fails).

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

/// The widest command line a lesson may show: a standard terminal.
pub const MAX_COMMAND_COLUMNS: usize = 80;

/// One problem in a code block: the line as written and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasteProblem {
    pub line: String,
    pub message: String,
}

/// The lines of every code block in markdown `text`.
pub fn code_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for ev in Parser::new(text) {
        match ev {
            Event::Start(Tag::CodeBlock(_)) => current = Some(String::new()),
            Event::End(TagEnd::CodeBlock) => {
                if let Some(b) = current.take() {
                    blocks.push(b.lines().map(str::to_string).collect());
                }
            }
            Event::Text(t) => {
                if let Some(b) = current.as_mut() {
                    b.push_str(&t);
                }
            }
            _ => {}
        }
    }
    blocks
}

/// The word a heredoc ends with, from `<<'EOF'`, `<<"EOF"`, `<<EOF` or `<<-EOF`.
fn heredoc_word(line: &str) -> Option<(String, bool)> {
    let i = line.find("<<")?;
    let rest = &line[i + 2..];
    if rest.starts_with('<') {
        return None; // a here-string
    }
    let (dash, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    let word: String = rest
        .trim_start_matches(['\'', '"'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some((word, dash))
}

/// Problems of the rendered markdown `text` (templates already expanded).
pub fn problems(text: &str) -> Vec<PasteProblem> {
    let mut out = Vec::new();
    for block in code_blocks(text) {
        let mut open: Option<(String, bool)> = None;
        for line in &block {
            let width = line.chars().count();
            if width > MAX_COMMAND_COLUMNS {
                out.push(PasteProblem {
                    line: line.clone(),
                    message: format!(
                        "this command line is {width} columns wide: at most {MAX_COMMAND_COLUMNS} paste cleanly (a narrower terminal wraps it); break it with ` \\` at the end of a line"
                    ),
                });
            }
            match &open {
                Some((word, dash)) => {
                    let bare = if *dash {
                        line.trim_start_matches('\t')
                    } else {
                        line.as_str()
                    };
                    if bare == word {
                        open = None;
                    } else if line.trim() == word {
                        out.push(PasteProblem {
                            line: line.clone(),
                            message: format!(
                                "the heredoc terminator `{word}` is indented: bash only ends the heredoc at a line that is exactly `{word}`; start it at column 0"
                            ),
                        });
                        open = None;
                    }
                }
                None => open = heredoc_word(line),
            }
        }
        if let Some((word, _)) = open {
            out.push(PasteProblem {
                line: block.last().cloned().unwrap_or_default(),
                message: format!("the heredoc `<<{word}` is never ended: end it with a line `{word}` at column 0"),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_and_indented_terminators_are_found() {
        let long = format!("    echo {}\n", "x".repeat(80));
        let p = problems(&format!("Run:\n\n{long}"));
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("85 columns"), "{p:?}");

        let ok = "Write it:\n\n```sh\ncat > a <<'EOF'\n  body\nEOF\n```\n";
        assert!(problems(ok).is_empty());
        let bad = "Write it:\n\n```sh\ncat > a <<'EOF'\nbody\n  EOF\n```\n";
        let p = problems(bad);
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("indented"), "{p:?}");
        let never = "```sh\ncat > a <<EOF\nbody\n```\n";
        assert!(problems(never)[0].message.contains("never ended"));
        assert!(problems("```sh\ncat <<-EOF\n\tbody\n\tEOF\n```\n").is_empty());
        assert!(problems("```sh\ngrep x <<< \"$v\"\n```\n").is_empty());
    }
}
