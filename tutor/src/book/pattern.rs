//! A check's regex in plain words, read from its structure: `'^yes'` is
//! "starts with `yes`", `'real\s+\d+m'` is "contains `real <number>m`",
//! `'(?m)^nsenter$'` is "has a line that is exactly `nsenter`".
//!
//! Only shapes that read honestly are put into words: literal text, the
//! usual classes (a digit, a number, a word, spaces), anchors, and a few
//! alternatives of literal text. Anything else is `None`, and lint asks
//! the author for the check's `describe` instead, so the book never
//! prints a raw regex.

use regex_syntax::ast::{
    self, AssertionKind, Ast, ClassPerlKind, ClassSet, ClassSetItem, Flag, FlagsItemKind,
    RepetitionKind, RepetitionRange,
};

/// At most this many alternatives are spelled out ("`a`, `b` or `c`").
const MAX_ALTERNATIVES: usize = 4;

/// What text a pattern accepts, as the end of a sentence about that text:
/// "contains `hello`", "starts with `yes`", "is exactly `0`"; `None` when
/// its structure says nothing a reader could follow.
pub fn pattern_words(re: &str) -> Option<String> {
    let ast = ast::parse::Parser::new().parse(re).ok()?;
    let mut flags = Flags::default();
    let top: Vec<&Ast> = match &ast {
        Ast::Concat(c) => c.asts.iter().collect(),
        one => vec![one],
    };
    // Leading flag groups, `(?m)`, `(?i)`, say how to read the rest.
    let mut rest: &[&Ast] = &top;
    while let Some((Ast::Flags(f), tail)) = rest.split_first() {
        flags.set(&f.flags)?;
        rest = tail;
    }
    let mut start = false;
    let mut end = false;
    if let Some((Ast::Assertion(a), tail)) = rest.split_first() {
        if matches!(a.kind, AssertionKind::StartLine | AssertionKind::StartText) {
            start = true;
            rest = tail;
        }
    }
    if let Some((Ast::Assertion(a), init)) = rest.split_last() {
        if matches!(a.kind, AssertionKind::EndLine | AssertionKind::EndText) {
            end = true;
            rest = init;
        }
    }
    let alternatives = sequence(rest, start, end)?;
    let shown: Vec<String> = alternatives.iter().map(|t| t.shown()).collect();
    if shown.iter().any(|s| s.is_empty()) {
        return None;
    }
    let lines = alternatives.len() == 1 && alternatives[0].text.contains('\n');
    let what = if lines {
        // `^mnt own\npid own\n$`: the lines one by one.
        let ls: Vec<String> = alternatives[0]
            .text
            .split('\n')
            .filter(|l| !l.is_empty())
            .map(crate::book::code)
            .collect();
        match ls.as_slice() {
            [one] => format!("the line {one}"),
            _ => format!("the lines {} (in this order)", join_or(&ls, "and")),
        }
    } else {
        let cs: Vec<String> = shown.iter().map(|s| crate::book::code(s)).collect();
        join_or(&cs, "or")
    };
    let anchored = match (start, end, flags.multi_line) {
        (false, false, _) => format!("contains {what}"),
        (true, true, true) => format!("has a line that is exactly {what}"),
        (true, false, true) => format!("has a line that starts with {what}"),
        (false, true, true) => format!("has a line that ends with {what}"),
        (true, true, false) => format!("is exactly {what}"),
        (true, false, false) => format!("starts with {what}"),
        (false, true, false) => format!("ends with {what}"),
    };
    Some(if flags.case_insensitive {
        format!("{anchored}, in any case")
    } else {
        anchored
    })
}

#[derive(Default)]
struct Flags {
    multi_line: bool,
    case_insensitive: bool,
}

impl Flags {
    /// Read `(?mi)`; a flag that changes the meaning in ways not said here
    /// (`s`, `x`, `U`, negation) makes the pattern unsayable.
    fn set(&mut self, f: &ast::Flags) -> Option<()> {
        for item in &f.items {
            match item.kind {
                FlagsItemKind::Flag(Flag::MultiLine) => self.multi_line = true,
                FlagsItemKind::Flag(Flag::CaseInsensitive) => self.case_insensitive = true,
                _ => return None,
            }
        }
        Some(())
    }
}

/// One way the text may read: literal characters and `<placeholders>`.
#[derive(Clone, Debug, Default)]
struct Template {
    text: String,
}

impl Template {
    fn shown(&self) -> String {
        // A digit from 1 to 9 and then any digits: a number above 0.
        self.text
            .trim_matches(' ')
            .replace("<digit 1-9><number>", "<number above 0>")
    }
}

/// One piece of a concatenation in words.
enum Piece {
    Text(String),
    /// Spaces between words (`\s+`), or none (`\s*` at an end, `\r?`).
    Space,
    Nothing,
    Choice(Vec<String>),
}

/// The templates a concatenation reads as (more than one when it holds an
/// alternation of literal text).
fn sequence(items: &[&Ast], start: bool, end: bool) -> Option<Vec<Template>> {
    let mut out = vec![Template::default()];
    let n = items.len();
    for (i, item) in items.iter().enumerate() {
        let at_edge = (i == 0 && start) || (i + 1 == n && end);
        match piece(item, at_edge)? {
            Piece::Text(t) => out.iter_mut().for_each(|o| o.text.push_str(&t)),
            Piece::Space => out.iter_mut().for_each(|o| {
                if !o.text.ends_with(' ') {
                    o.text.push(' ')
                }
            }),
            Piece::Nothing => {}
            Piece::Choice(cs) => {
                if out.len() * cs.len() > MAX_ALTERNATIVES {
                    return None;
                }
                out = out
                    .iter()
                    .flat_map(|o| {
                        cs.iter().map(move |c| Template {
                            text: format!("{}{c}", o.text),
                        })
                    })
                    .collect();
            }
        }
    }
    Some(out)
}

fn piece(ast: &Ast, at_edge: bool) -> Option<Piece> {
    Some(match ast {
        Ast::Literal(l) => Piece::Text(l.c.to_string()),
        // `\b` only keeps a word whole: the words around it say enough.
        Ast::Assertion(a) if a.kind == AssertionKind::WordBoundary => Piece::Nothing,
        Ast::Dot(_) => Piece::Text("<any character>".into()),
        Ast::ClassPerl(c) if c.kind == ClassPerlKind::Space && !c.negated => Piece::Space,
        Ast::ClassPerl(c) => Piece::Text(perl(c.kind.clone(), c.negated, false)?.into()),
        Ast::ClassBracketed(c) => Piece::Text(bracketed(c, false)?.into()),
        Ast::Repetition(r) => repetition(r, at_edge)?,
        Ast::Group(g) => group(&g.ast)?,
        Ast::Alternation(a) => Piece::Choice(literal_alternatives(&a.asts)?),
        Ast::Concat(c) => {
            // A nested concatenation of plain text only.
            let mut t = String::new();
            for a in &c.asts {
                match a {
                    Ast::Literal(l) => t.push(l.c),
                    _ => return None,
                }
            }
            Piece::Text(t)
        }
        _ => return None,
    })
}

fn group(inner: &Ast) -> Option<Piece> {
    match inner {
        Ast::Alternation(a) => Some(Piece::Choice(literal_alternatives(&a.asts)?)),
        Ast::Literal(l) => Some(Piece::Text(l.c.to_string())),
        Ast::Concat(_) => match piece(inner, false)? {
            Piece::Text(t) => Some(Piece::Text(t)),
            _ => None,
        },
        _ => None,
    }
}

/// `Terminated|Killed`: each branch plain text.
fn literal_alternatives(branches: &[Ast]) -> Option<Vec<String>> {
    if branches.len() > MAX_ALTERNATIVES {
        return None;
    }
    branches
        .iter()
        .map(|b| match b {
            Ast::Literal(l) => Some(l.c.to_string()),
            Ast::Concat(c) => c
                .asts
                .iter()
                .map(|a| match a {
                    Ast::Literal(l) => Some(l.c),
                    _ => None,
                })
                .collect(),
            _ => None,
        })
        .collect()
}

fn repetition(r: &ast::Repetition, at_edge: bool) -> Option<Piece> {
    let many = matches!(
        r.op.kind,
        RepetitionKind::OneOrMore | RepetitionKind::ZeroOrMore
    );
    let optional = matches!(
        r.op.kind,
        RepetitionKind::ZeroOrMore | RepetitionKind::ZeroOrOne
    );
    Some(match r.ast.as_ref() {
        // `\r?` before a line's end: a carriage return a terminal may add.
        Ast::Literal(l) if l.c == '\r' && r.op.kind == RepetitionKind::ZeroOrOne => Piece::Nothing,
        Ast::ClassPerl(c) if c.kind == ClassPerlKind::Space && !c.negated => {
            if optional && at_edge {
                Piece::Nothing
            } else if optional {
                return None;
            } else {
                Piece::Space
            }
        }
        Ast::Dot(_) if many => Piece::Text("…".into()),
        Ast::ClassPerl(c) if many => Piece::Text(perl(c.kind.clone(), c.negated, true)?.into()),
        Ast::ClassBracketed(c) if many => Piece::Text(bracketed(c, true)?.into()),
        Ast::ClassPerl(_) | Ast::ClassBracketed(_) => {
            let RepetitionKind::Range(RepetitionRange::Exactly(k)) = r.op.kind else {
                return None;
            };
            let one = match r.ast.as_ref() {
                Ast::ClassPerl(c) => perl(c.kind.clone(), c.negated, false)?,
                Ast::ClassBracketed(c) => bracketed(c, false)?,
                _ => return None,
            };
            let unit = one.trim_start_matches('<').trim_end_matches('>');
            Piece::Text(format!("<{k} {unit}s>"))
        }
        _ => return None,
    })
}

/// `\d`, `\s`, `\w` and their negations, one character or (`many`) a run.
fn perl(kind: ClassPerlKind, negated: bool, many: bool) -> Option<&'static str> {
    Some(match (kind, negated, many) {
        (ClassPerlKind::Digit, false, false) => "<digit>",
        (ClassPerlKind::Digit, false, true) => "<number>",
        (ClassPerlKind::Word, false, _) => "<word>",
        // A run of anything but spaces: one word of any characters.
        (ClassPerlKind::Space, true, true) => "…",
        _ => return None,
    })
}

/// The bracketed classes a lesson's output is made of: digits (`[0-9]`,
/// `[1-9]`), a number with a point (`[0-9.]`), hex digits (`[0-9a-f]`).
fn bracketed(c: &ast::ClassBracketed, many: bool) -> Option<&'static str> {
    if c.negated {
        return None;
    }
    let mut ranges: Vec<(char, char)> = Vec::new();
    let mut push = |item: &ClassSetItem| -> Option<()> {
        match item {
            ClassSetItem::Range(r) => ranges.push((r.start.c, r.end.c)),
            ClassSetItem::Literal(l) => ranges.push((l.c, l.c)),
            ClassSetItem::Perl(p) if p.kind == ClassPerlKind::Digit && !p.negated => {
                ranges.push(('0', '9'))
            }
            _ => return None,
        }
        Some(())
    };
    match &c.kind {
        ClassSet::Item(ClassSetItem::Union(u)) => {
            for item in &u.items {
                push(item)?;
            }
        }
        ClassSet::Item(item) => push(item)?,
        ClassSet::BinaryOp(_) => return None,
    }
    ranges.sort();
    let digits = |lo: char| ranges == [(lo, '9')];
    Some(match many {
        false if digits('0') => "<digit>",
        false if digits('1') => "<digit 1-9>",
        false if ranges == [('0', '9'), ('a', 'f')] => "<hex digit>",
        true if digits('0') || digits('1') => "<number>",
        true if ranges == [('.', '.'), ('0', '9')] => "<number>",
        true if ranges == [('0', '9'), ('a', 'f')] => "<hex number>",
        _ => return None,
    })
}

/// "`a`", "`a` or `b`", "`a`, `b` or `c`".
fn join_or(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {word} {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::pattern_words as w;

    #[test]
    fn plain_text_and_anchors() {
        assert_eq!(w("hello from curl").unwrap(), "contains `hello from curl`");
        assert_eq!(w("^yes").unwrap(), "starts with `yes`");
        assert_eq!(w("^0\\s*$").unwrap(), "is exactly `0`");
        assert_eq!(w("uid=0\\(root\\)").unwrap(), "contains `uid=0(root)`");
        assert_eq!(
            w("(?m)^nsenter$").unwrap(),
            "has a line that is exactly `nsenter`"
        );
        assert_eq!(
            w("^33554432\\s+50\\s*$").unwrap(),
            "is exactly `33554432 50`"
        );
        assert_eq!(w("^50000\\b").unwrap(), "starts with `50000`");
    }

    #[test]
    fn classes_read_as_placeholders() {
        assert_eq!(w("real\\s+\\d+m").unwrap(), "contains `real <number>m`");
        assert_eq!(w("/dev/pts/\\d+").unwrap(), "contains `/dev/pts/<number>`");
        assert_eq!(
            w("(?m)^[0-9a-f]{12}\\r?$").unwrap(),
            "has a line that is exactly `<12 hex digits>`"
        );
        assert_eq!(
            w("(?m)^n=2000 time=\\S+ s GFLOPS=[0-9.]+ residual=\\S+ PASSED$").unwrap(),
            "has a line that is exactly `n=2000 time=… s GFLOPS=<number> residual=… PASSED`"
        );
        assert_eq!(
            w("(?m)^overlay\\s+.*\\s/\\r?$").unwrap(),
            "has a line that is exactly `overlay … /`"
        );
        assert_eq!(w("^[1-9]").unwrap(), "starts with `<digit 1-9>`");
        assert_eq!(
            w("^[1-9][0-9]*\\s*$").unwrap(),
            "is exactly `<number above 0>`"
        );
        assert_eq!(w("^hello\\n$").unwrap(), "is exactly the line `hello`");
    }

    #[test]
    fn alternatives_and_lines() {
        assert_eq!(
            w("\\b(Terminated|Killed)\\b").unwrap(),
            "contains `Terminated` or `Killed`"
        );
        assert_eq!(
            w("^mnt own\\npid own\\n$").unwrap(),
            "is exactly the lines `mnt own` and `pid own` (in this order)"
        );
        assert_eq!(w("(?i)hello").unwrap(), "contains `hello`, in any case");
    }

    #[test]
    fn what_cannot_be_said_is_refused() {
        for re in [
            "^([1-9]|[1-9][0-9]|[1-4][0-9][0-9]|500)\\s*$",
            "^[1-9][0-9]{7,8}\\s*$",
            "a|b(c|d)",
            "(?s)a.b",
            "[^x]+",
            "^\\s*$",
        ] {
            assert_eq!(w(re), None, "{re}");
        }
    }
}
