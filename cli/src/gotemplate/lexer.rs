//! Lexing: a template's source into its text and the tokens of each
//! `{{action}}`, with trim markers applied and comments dropped.

use super::TemplateError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// `.Name` (one segment; `.A.B` is two adjacent tokens).
    Field(String),
    Dot,
    /// `$` or `$name`.
    Var(String),
    Ident(String),
    Str(String),
    Char(i64),
    Number(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) pos: usize,
    /// Whitespace came right before it (separates arguments).
    pub(super) spaced: bool,
    pub(super) src: String,
}

#[derive(Debug)]
pub(super) enum Item {
    Text(String),
    Action { tokens: Vec<Token>, pos: usize },
}

pub(super) struct Lexer<'a> {
    pub(super) name: &'a str,
    pub(super) src: &'a str,
}

impl Lexer<'_> {
    pub(super) fn err(&self, pos: usize, msg: impl std::fmt::Display) -> TemplateError {
        TemplateError(format!(
            "template: {}:{}: {msg}",
            self.name,
            line_of(self.src, pos)
        ))
    }

    pub(super) fn lex(&self) -> Result<Vec<Item>, TemplateError> {
        let src = self.src;
        let mut items = Vec::new();
        let mut i = 0;
        let mut trim_next_text = false;
        while i < src.len() {
            let open = src[i..].find("{{").map(|o| i + o);
            let text_end = open.unwrap_or(src.len());
            let mut text = &src[i..text_end];
            if trim_next_text {
                text = text.trim_start_matches(is_go_space);
            }
            let Some(open) = open else {
                if !text.is_empty() {
                    items.push(Item::Text(text.to_string()));
                }
                break;
            };
            let mut p = open + 2;
            let bytes = src.as_bytes();
            if bytes.get(p) == Some(&b'-')
                && bytes.get(p + 1).is_some_and(|b| is_go_space(*b as char))
            {
                text = text.trim_end_matches(is_go_space);
                p += 1;
            }
            if !text.is_empty() {
                items.push(Item::Text(text.to_string()));
            }
            let (tokens, after, trim_right) = self.lex_action(p, open)?;
            if let Some(tokens) = tokens {
                items.push(Item::Action { tokens, pos: open });
            }
            trim_next_text = trim_right;
            i = after;
        }
        Ok(items)
    }

    /// Lex one action from `p` (just after `{{` and a trim marker); returns
    /// its tokens (None for a comment), where text resumes, and whether the
    /// action ended with `-}}`.
    #[allow(clippy::type_complexity)]
    fn lex_action(
        &self,
        mut p: usize,
        open: usize,
    ) -> Result<(Option<Vec<Token>>, usize, bool), TemplateError> {
        let src = self.src;
        let bytes = src.as_bytes();
        let close_at = |p: usize| -> Option<(usize, bool)> {
            if src[p..].starts_with("}}") {
                Some((p + 2, false))
            } else {
                None
            }
        };
        let trim_close_at = |p: usize| -> Option<usize> {
            // ` -}}`: the space is required, as in Go.
            if p > 0 && is_go_space(bytes[p - 1] as char) && src[p..].starts_with("-}}") {
                Some(p + 3)
            } else {
                None
            }
        };
        // Comments: {{/* ... */}}, possibly with trim markers.
        let after_space = skip_space(src, p);
        if src[after_space..].starts_with("/*") {
            let Some(end) = src[after_space + 2..].find("*/") else {
                return Err(self.err(open, "unclosed comment"));
            };
            let q = skip_space(src, after_space + 2 + end + 2);
            if let Some(after) = trim_close_at(q) {
                return Ok((None, after, true));
            }
            if let Some((after, _)) = close_at(q) {
                return Ok((None, after, false));
            }
            return Err(self.err(open, "comment ends before closing delimiter"));
        }
        let mut tokens = Vec::new();
        let mut spaced = true;
        loop {
            if p >= src.len() {
                return Err(self.err(open, "unclosed action"));
            }
            if let Some(after) = trim_close_at(p) {
                return Ok((Some(tokens), after, true));
            }
            if let Some((after, _)) = close_at(p) {
                return Ok((Some(tokens), after, false));
            }
            let c = src[p..].chars().next().unwrap_or(' ');
            if c == '\n' || c == '\r' {
                // Go allows newlines inside actions since 1.16; keep it simple.
                p += 1;
                spaced = true;
                continue;
            }
            if is_go_space(c) {
                p += c.len_utf8();
                spaced = true;
                continue;
            }
            let start = p;
            let tok = match c {
                '|' | '(' | ')' | ',' | '=' => {
                    p += 1;
                    match c {
                        '|' => Tok::Pipe,
                        '(' => Tok::LParen,
                        ')' => Tok::RParen,
                        ',' => Tok::Comma,
                        _ => Tok::Assign,
                    }
                }
                ':' => {
                    if src[p..].starts_with(":=") {
                        p += 2;
                        Tok::Declare
                    } else {
                        return Err(self.err(p, "expected :="));
                    }
                }
                '"' => {
                    let (s, after) = self.lex_quoted(p)?;
                    p = after;
                    Tok::Str(s)
                }
                '`' => {
                    let Some(end) = src[p + 1..].find('`') else {
                        return Err(self.err(p, "unterminated raw quoted string"));
                    };
                    let s = src[p + 1..p + 1 + end].to_string();
                    p = p + 1 + end + 1;
                    Tok::Str(s)
                }
                '\'' => {
                    let rest = &src[p + 1..];
                    let mut chars = rest.chars();
                    let ch = match chars.next() {
                        Some('\\') => match chars.next() {
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some('\\') => '\\',
                            Some('\'') => '\'',
                            _ => return Err(self.err(p, "unterminated character constant")),
                        },
                        Some(ch) => ch,
                        None => return Err(self.err(p, "unterminated character constant")),
                    };
                    if chars.next() != Some('\'') {
                        return Err(self.err(p, "unterminated character constant"));
                    }
                    p = src.len() - chars.as_str().len();
                    Tok::Char(ch as i64)
                }
                '.' => {
                    let next = src[p + 1..].chars().next();
                    if next.is_some_and(|n| n.is_ascii_digit()) {
                        let end = self.number_end(p);
                        let n = src[p..end].to_string();
                        p = end;
                        Tok::Number(n)
                    } else {
                        let end = ident_end(src, p + 1);
                        let name = src[p + 1..end].to_string();
                        p = end;
                        if name.is_empty() {
                            Tok::Dot
                        } else {
                            Tok::Field(name)
                        }
                    }
                }
                '$' => {
                    let end = ident_end(src, p + 1);
                    let name = src[p..end].to_string();
                    p = end;
                    Tok::Var(name)
                }
                c if c.is_ascii_digit() || c == '-' || c == '+' => {
                    let end = self.number_end(p);
                    if end == p + 1 && !c.is_ascii_digit() {
                        return Err(self.err(p, format!("bad character {c:?}")));
                    }
                    let n = src[p..end].to_string();
                    p = end;
                    Tok::Number(n)
                }
                c if c.is_alphabetic() || c == '_' => {
                    let end = ident_end(src, p);
                    let name = src[p..end].to_string();
                    p = end;
                    Tok::Ident(name)
                }
                '}' => {
                    return Err(self.err(p, "unexpected \"}\" in operand"));
                }
                other => return Err(self.err(p, format!("unexpected {other:?} in command"))),
            };
            tokens.push(Token {
                tok,
                pos: start,
                spaced,
                src: src[start..p].to_string(),
            });
            spaced = false;
        }
    }

    fn number_end(&self, p: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut q = p;
        if matches!(bytes.get(q), Some(b'-' | b'+')) {
            q += 1;
        }
        while q < bytes.len() {
            let b = bytes[q];
            let exp_sign = matches!(b, b'-' | b'+') && q > p && matches!(bytes[q - 1], b'e' | b'E');
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || exp_sign {
                q += 1;
            } else {
                break;
            }
        }
        q
    }

    fn lex_quoted(&self, p: usize) -> Result<(String, usize), TemplateError> {
        let mut out = String::new();
        let mut chars = self.src[p + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Ok((out, p + 1 + i + 1)),
                '\n' => break,
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, 'r')) => out.push('\r'),
                    Some((_, '"')) => out.push('"'),
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, '\'')) => out.push('\''),
                    Some((_, '0')) => out.push('\0'),
                    Some((_, other)) => {
                        return Err(self.err(p, format!("unknown escape sequence: \\{other}")))
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(self.err(p, "unterminated quoted string"))
    }
}

/// Where the spaces from `from` end.
fn skip_space(src: &str, from: usize) -> usize {
    src.len() - src[from..].trim_start_matches(is_go_space).len()
}

fn is_go_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn ident_end(src: &str, from: usize) -> usize {
    src[from..]
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map(|(i, _)| from + i)
        .unwrap_or(src.len())
}

pub(super) fn line_of(src: &str, pos: usize) -> usize {
    src[..pos.min(src.len())].matches('\n').count() + 1
}
