//! Go's `text/template`, the subset docker's `--format` uses, over JSON-like
//! data: `{{.Field.Sub}}`, variables, pipelines, `if/else if/else`,
//! `range`, `with`, comments, `{{-`/`-}}` trim markers, Go's builtin
//! functions (`and or not len index print printf println eq ne lt le gt ge`)
//! and docker's (`json join split title lower upper truncate pad`).
//!
//! Errors read like Go's (`template: :1: unexpected "}" in operand`,
//! `template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in
//! type ...`), which is what docker prints after `template parsing error: `.

use std::fmt::Write as _;

/// Data a template runs on. Maps keep their order (the order of the daemon's
/// JSON), as Go's structs do when they are printed as JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// JSON null (Go's nil).
    Null,
    /// A key that is not there (Go prints `<no value>`).
    Missing,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    /// A JSON object: unknown keys read as `<no value>`.
    Map(Vec<(String, Value)>),
    /// A Go struct (docker's formatter contexts): unknown fields are errors.
    Struct(String, Vec<(String, Value)>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// Any serde value, keeping the field order of its serialization.
    pub fn from_serialize<T: serde::Serialize>(value: &T) -> Result<Value, serde_json::Error> {
        let bytes = serde_json::to_vec(value)?;
        serde_json::from_slice(&bytes)
    }

    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) | Value::Struct(_, entries) => {
                entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    fn type_name(&self) -> String {
        match self {
            Value::Null | Value::Missing => "interface {}".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Struct(name, _) => name.clone(),
        }
    }

    /// Go's `truth`: the zero value of a type is false.
    fn truthy(&self) -> bool {
        match self {
            Value::Null | Value::Missing => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Struct(..) => true,
        }
    }

    /// Compact JSON, fields in order, no HTML escaping (docker's `json`).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Value::Null | Value::Missing => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&json_float(*f)),
            Value::Str(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
            Value::Struct(_, entries) => {
                // docker marshals its formatter contexts as a Go map of their
                // argument-less fields: keys sorted, HTML characters escaped;
                // map-valued fields stand for methods that take a key.
                let mut fields: Vec<&(String, Value)> = entries
                    .iter()
                    .filter(|(_, v)| !matches!(v, Value::Map(_)))
                    .collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                out.push('{');
                for (i, (k, v)) in fields.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&html_escape(
                        &serde_json::Value::String(k.clone()).to_string(),
                    ));
                    out.push(':');
                    let mut inner = String::new();
                    v.write_json(&mut inner);
                    out.push_str(&html_escape(&inner));
                }
                out.push('}');
            }
        }
    }

    /// JSON indented like Go's `json.MarshalIndent(v, prefix, indent)`.
    pub fn to_json_indent(&self, prefix: &str, indent: &str) -> String {
        let mut out = String::new();
        self.write_json_indent(&mut out, prefix, indent, 0);
        out
    }

    fn write_json_indent(&self, out: &mut String, prefix: &str, indent: &str, depth: usize) {
        let newline = |out: &mut String, depth: usize| {
            out.push('\n');
            out.push_str(prefix);
            for _ in 0..depth {
                out.push_str(indent);
            }
        };
        match self {
            Value::List(items) if !items.is_empty() => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    item.write_json_indent(out, prefix, indent, depth + 1);
                }
                newline(out, depth);
                out.push(']');
            }
            Value::Map(entries) | Value::Struct(_, entries) if !entries.is_empty() => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push_str(": ");
                    v.write_json_indent(out, prefix, indent, depth + 1);
                }
                newline(out, depth);
                out.push('}');
            }
            other => other.write_json(out),
        }
    }

    /// How Go's fmt prints the value with `%v` (what `{{.X}}` shows).
    pub fn to_go_string(&self) -> String {
        match self {
            Value::Null => "<nil>".into(),
            Value::Missing => "<no value>".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => go_float(*f),
            Value::Str(s) => s.clone(),
            Value::List(items) => {
                let parts: Vec<String> = items.iter().map(Value::to_go_string).collect();
                format!("[{}]", parts.join(" "))
            }
            Value::Map(entries) => {
                let mut sorted: Vec<&(String, Value)> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                let parts: Vec<String> = sorted
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", v.to_go_string()))
                    .collect();
                format!("map[{}]", parts.join(" "))
            }
            Value::Struct(_, entries) => {
                let parts: Vec<String> = entries.iter().map(|(_, v)| v.to_go_string()).collect();
                format!("{{{}}}", parts.join(" "))
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                serde::Deserialize::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
                Ok(Value::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
                Ok(Value::Int(i))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
                Ok(i64::try_from(u)
                    .map(Value::Int)
                    .unwrap_or(Value::Float(u as f64)))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
                Ok(Value::Float(f))
            }
            fn visit_str<E>(self, s: &str) -> Result<Value, E> {
                Ok(Value::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Value, E> {
                Ok(Value::Str(s))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(Value::List(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                let mut entries: Vec<(String, Value)> = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Value>()? {
                    entries.push((k, v));
                }
                Ok(Value::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// encoding/json's default HTML escaping of an encoded JSON text.
fn html_escape(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Go's `%v` for a float64 (`%g` with the shortest digits): exponent form
/// when the decimal exponent is < -4 or >= 6, so 33554432.0 is 3.3554432e+07.
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return "0".into();
    }
    let exp = f.abs().log10().floor() as i32;
    if !(-4..6).contains(&exp) {
        return go_exp_shortest(f);
    }
    format!("{f}")
}

/// encoding/json's float: shortest digits, exponent only outside [1e-6, 1e21).
fn json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        format!("{f}")
    } else {
        go_exp_shortest(f)
    }
}

/// `1e+21`, `1.5e-07`: Rust's shortest `{:e}` with Go's exponent style.
fn go_exp_shortest(f: f64) -> String {
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((mantissa, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// A parse or execution error, worded like Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

// ---------------------------------------------------------------- lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
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
struct Token {
    tok: Tok,
    pos: usize,
    /// Whitespace came right before it (separates arguments).
    spaced: bool,
    src: String,
}

#[derive(Debug)]
enum Item {
    Text(String),
    Action { tokens: Vec<Token>, pos: usize },
}

struct Lexer<'a> {
    name: &'a str,
    src: &'a str,
}

impl Lexer<'_> {
    fn err(&self, pos: usize, msg: impl std::fmt::Display) -> TemplateError {
        TemplateError(format!(
            "template: {}:{}: {msg}",
            self.name,
            line_of(self.src, pos)
        ))
    }

    fn lex(&self) -> Result<Vec<Item>, TemplateError> {
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
        let after_space = p + src[p..].len() - src[p..].trim_start_matches(is_go_space).len();
        if src[after_space..].starts_with("/*") {
            let Some(end) = src[after_space + 2..].find("*/") else {
                return Err(self.err(open, "unclosed comment"));
            };
            let mut q = after_space + 2 + end + 2;
            let q_space = q + src[q..].len() - src[q..].trim_start_matches(is_go_space).len();
            if let Some(after) = trim_close_at(q_space) {
                return Ok((None, after, true));
            }
            q = q_space;
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
                '|' => {
                    p += 1;
                    Tok::Pipe
                }
                '(' => {
                    p += 1;
                    Tok::LParen
                }
                ')' => {
                    p += 1;
                    Tok::RParen
                }
                ',' => {
                    p += 1;
                    Tok::Comma
                }
                ':' => {
                    if src[p..].starts_with(":=") {
                        p += 2;
                        Tok::Declare
                    } else {
                        return Err(self.err(p, "expected :="));
                    }
                }
                '=' => {
                    p += 1;
                    Tok::Assign
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

fn line_of(src: &str, pos: usize) -> usize {
    src[..pos.min(src.len())].matches('\n').count() + 1
}

// ---------------------------------------------------------------- parsing

#[derive(Debug, Clone)]
enum Arg {
    Dot,
    /// `.A.B`: fields of dot.
    Fields(Vec<String>),
    /// `$x.A`: a variable and fields of it.
    Var(String, Vec<String>),
    Func(String),
    Lit(Value),
    /// `(pipeline).A`
    Sub(Box<Pipe>, Vec<String>),
}

#[derive(Debug, Clone)]
struct Operand {
    arg: Arg,
    pos: usize,
    src: String,
}

#[derive(Debug, Clone)]
struct Cmd {
    args: Vec<Operand>,
}

#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    /// `$x = ...` (assign to an existing variable) rather than `:=`.
    assign: bool,
    cmds: Vec<Cmd>,
    pos: usize,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    If {
        pipe: Pipe,
        then: Vec<Node>,
        els: Vec<Node>,
    },
    With {
        pipe: Pipe,
        then: Vec<Node>,
        els: Vec<Node>,
    },
    Range {
        pipe: Pipe,
        then: Vec<Node>,
        els: Vec<Node>,
    },
    Break,
    Continue,
}

/// How a list of nodes ended.
enum End {
    Eof,
    Close,
    Else,
    /// `{{else if ...}}` / `{{else with ...}}`: the chained node, which
    /// already consumed the shared `{{end}}`.
    ElseChain(Node),
}

struct Parser<'a> {
    lexer: &'a Lexer<'a>,
    items: std::iter::Peekable<std::vec::IntoIter<Item>>,
    range_depth: usize,
}

impl Parser<'_> {
    fn list(&mut self) -> Result<(Vec<Node>, End), TemplateError> {
        let mut nodes = Vec::new();
        while let Some(item) = self.items.next() {
            match item {
                Item::Text(t) => nodes.push(Node::Text(t)),
                Item::Action { tokens, pos } => {
                    let keyword = match tokens.first().map(|t| &t.tok) {
                        Some(Tok::Ident(k)) => k.as_str(),
                        _ => "",
                    };
                    match keyword {
                        "end" => {
                            self.no_args(&tokens, "end", pos)?;
                            return Ok((nodes, End::Close));
                        }
                        "else" => {
                            if tokens.len() == 1 {
                                return Ok((nodes, End::Else));
                            }
                            match tokens.get(1).map(|t| &t.tok) {
                                Some(Tok::Ident(k)) if k == "if" || k == "with" => {
                                    let kind = k.clone();
                                    let node = self.control(&kind, &tokens[2..], pos)?;
                                    return Ok((nodes, End::ElseChain(node)));
                                }
                                _ => return Err(self.lexer.err(pos, "unexpected token in else")),
                            }
                        }
                        "if" | "with" | "range" => {
                            let kind = keyword.to_string();
                            nodes.push(self.control(&kind, &tokens[1..], pos)?);
                        }
                        "break" | "continue" => {
                            if self.range_depth == 0 {
                                return Err(self
                                    .lexer
                                    .err(pos, format!("{{{{{keyword}}}}} outside {{{{range}}}}")));
                            }
                            self.no_args(&tokens, keyword, pos)?;
                            nodes.push(if keyword == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        "define" | "template" | "block" => {
                            return Err(self.lexer.err(
                                pos,
                                format!("{{{{{keyword}}}}} is not supported in --format templates"),
                            ))
                        }
                        _ => {
                            if tokens.is_empty() {
                                return Err(self.lexer.err(pos, "missing value for command"));
                            }
                            nodes.push(Node::Action(self.pipeline(&tokens, pos, false)?));
                        }
                    }
                }
            }
        }
        Ok((nodes, End::Eof))
    }

    fn no_args(&self, tokens: &[Token], what: &str, pos: usize) -> Result<(), TemplateError> {
        if tokens.len() > 1 {
            return Err(self.lexer.err(
                pos,
                format!("unexpected {} in {what}", describe(&tokens[1])),
            ));
        }
        Ok(())
    }

    /// `if`/`with`/`range` after its keyword: pipeline, body, optional else, end.
    fn control(&mut self, kind: &str, tokens: &[Token], pos: usize) -> Result<Node, TemplateError> {
        if tokens.is_empty() {
            return Err(self.lexer.err(pos, format!("missing value for {kind}")));
        }
        let pipe = self.pipeline(tokens, pos, kind == "range")?;
        if kind == "range" {
            self.range_depth += 1;
        }
        let (then, end) = self.list()?;
        if kind == "range" {
            self.range_depth -= 1;
        }
        let els = match end {
            End::Eof => return Err(self.lexer.err(self.lexer.src.len(), "unexpected EOF")),
            End::Close => Vec::new(),
            End::ElseChain(node) => {
                if kind == "range" {
                    return Err(self.lexer.err(pos, "unexpected else-if in range"));
                }
                vec![node]
            }
            End::Else => {
                let (els, end) = self.list()?;
                match end {
                    End::Close => els,
                    End::Eof => return Err(self.lexer.err(self.lexer.src.len(), "unexpected EOF")),
                    _ => return Err(self.lexer.err(pos, "expected end; found {{else}}")),
                }
            }
        };
        Ok(match kind {
            "if" => Node::If { pipe, then, els },
            "with" => Node::With { pipe, then, els },
            _ => Node::Range { pipe, then, els },
        })
    }

    fn pipeline(
        &self,
        tokens: &[Token],
        pos: usize,
        in_range: bool,
    ) -> Result<Pipe, TemplateError> {
        let mut decl = Vec::new();
        let mut assign = false;
        let mut rest = tokens;
        // `$x :=`, `$i, $e :=` (range only), `$x =`.
        let decl_end = tokens
            .iter()
            .position(|t| matches!(t.tok, Tok::Declare | Tok::Assign));
        if let Some(end) = decl_end {
            let names = &tokens[..end];
            let mut ok = !names.is_empty();
            for (i, t) in names.iter().enumerate() {
                match (&t.tok, i % 2) {
                    (Tok::Var(v), 0) => decl.push(v.clone()),
                    (Tok::Comma, 1) => {}
                    _ => ok = false,
                }
            }
            if ok && names.len() % 2 == 1 {
                if decl.len() > 2 || (decl.len() == 2 && !in_range) {
                    return Err(self.lexer.err(pos, "too many declarations"));
                }
                assign = tokens[end].tok == Tok::Assign;
                rest = &tokens[end + 1..];
            } else {
                decl.clear();
            }
        }
        let mut cmds = Vec::new();
        let mut i = 0;
        loop {
            let (cmd, next) = self.command(rest, i, pos)?;
            cmds.push(cmd);
            i = next;
            if i >= rest.len() {
                break;
            }
            match rest[i].tok {
                Tok::Pipe => i += 1,
                _ => {
                    return Err(self.lexer.err(
                        rest[i].pos,
                        format!("unexpected {} in operand", describe(&rest[i])),
                    ))
                }
            }
        }
        Ok(Pipe {
            decl,
            assign,
            cmds,
            pos,
        })
    }

    /// One command: operands up to `|`, `)` or the end.
    fn command(
        &self,
        toks: &[Token],
        mut i: usize,
        pos: usize,
    ) -> Result<(Cmd, usize), TemplateError> {
        let mut args = Vec::new();
        while i < toks.len() {
            match toks[i].tok {
                Tok::Pipe | Tok::RParen => break,
                _ => {}
            }
            if !args.is_empty() && !toks[i].spaced && !matches!(toks[i].tok, Tok::LParen) {
                return Err(self.lexer.err(
                    toks[i].pos,
                    format!("unexpected {} in operand", describe(&toks[i])),
                ));
            }
            let (operand, next) = self.operand(toks, i, pos)?;
            args.push(operand);
            i = next;
        }
        if args.is_empty() {
            let at = toks.get(i).map(|t| t.pos).unwrap_or(pos);
            return Err(self.lexer.err(at, "missing value for command"));
        }
        Ok((Cmd { args }, i))
    }

    fn operand(
        &self,
        toks: &[Token],
        i: usize,
        pos: usize,
    ) -> Result<(Operand, usize), TemplateError> {
        let t = &toks[i];
        let mut next = i + 1;
        let mut src = t.src.clone();
        let mut op_pos = t.pos;
        let arg = match &t.tok {
            Tok::Dot => Arg::Dot,
            Tok::Field(f) => {
                let mut fields = vec![f.clone()];
                while let Some(Token {
                    tok: Tok::Field(f),
                    spaced: false,
                    src: s,
                    pos: p,
                }) = toks.get(next)
                {
                    fields.push(f.clone());
                    src.push_str(s);
                    // Go reports a chain at its last field.
                    op_pos = *p;
                    next += 1;
                }
                Arg::Fields(fields)
            }
            Tok::Var(v) => {
                let mut fields = Vec::new();
                while let Some(Token {
                    tok: Tok::Field(f),
                    spaced: false,
                    src: s,
                    pos: p,
                }) = toks.get(next)
                {
                    fields.push(f.clone());
                    src.push_str(s);
                    op_pos = *p;
                    next += 1;
                }
                Arg::Var(v.clone(), fields)
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Arg::Lit(Value::Bool(true)),
                "false" => Arg::Lit(Value::Bool(false)),
                "nil" => Arg::Lit(Value::Null),
                _ => {
                    if !is_function(name) {
                        return Err(self
                            .lexer
                            .err(t.pos, format!("function {name:?} not defined")));
                    }
                    Arg::Func(name.clone())
                }
            },
            Tok::Str(s) => Arg::Lit(Value::Str(s.clone())),
            Tok::Char(c) => Arg::Lit(Value::Int(*c)),
            Tok::Number(n) => Arg::Lit(
                parse_number(n)
                    .ok_or_else(|| self.lexer.err(t.pos, format!("bad number syntax: {n:?}")))?,
            ),
            Tok::LParen => {
                // Find the matching parenthesis.
                let mut depth = 0;
                let mut close = None;
                for (j, tok) in toks.iter().enumerate().skip(i) {
                    match tok.tok {
                        Tok::LParen => depth += 1,
                        Tok::RParen => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let Some(close) = close else {
                    return Err(self.lexer.err(t.pos, "unclosed left paren"));
                };
                let inner = &toks[i + 1..close];
                if inner.is_empty() {
                    return Err(self
                        .lexer
                        .err(t.pos, "missing value for parenthesized pipeline"));
                }
                let pipe = self.pipeline(inner, t.pos, false)?;
                src = toks[i..=close]
                    .iter()
                    .map(|t| t.src.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                next = close + 1;
                let mut fields = Vec::new();
                while let Some(Token {
                    tok: Tok::Field(f),
                    spaced: false,
                    src: s,
                    ..
                }) = toks.get(next)
                {
                    fields.push(f.clone());
                    src.push_str(s);
                    next += 1;
                }
                Arg::Sub(Box::new(pipe), fields)
            }
            Tok::RParen => return Err(self.lexer.err(t.pos, "unexpected right paren")),
            _ => {
                return Err(self.lexer.err(
                    t.pos.max(pos),
                    format!("unexpected {} in operand", describe(t)),
                ))
            }
        };
        Ok((
            Operand {
                arg,
                pos: op_pos,
                src,
            },
            next,
        ))
    }
}

fn describe(t: &Token) -> String {
    match &t.tok {
        Tok::Pipe => "\"|\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        _ => format!("<{}>", t.src),
    }
}

fn parse_number(text: &str) -> Option<Value> {
    let clean = text.replace('_', "");
    let (neg, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let int = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(bin) = digits.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else {
        digits.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Some(Value::Int(if neg { -i } else { i }));
    }
    digits
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| Value::Float(if neg { -f } else { f }))
}

const FUNCTIONS: &[&str] = &[
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt",
    "ge", "json", "join", "split", "title", "lower", "upper", "truncate", "pad",
];

fn is_function(name: &str) -> bool {
    FUNCTIONS.contains(&name)
}

// ---------------------------------------------------------------- running

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    src: String,
    nodes: Vec<Node>,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a> {
    tmpl: &'a Template,
    vars: Vec<(String, Value)>,
    /// docker's header pass: its functions return their argument unchanged.
    header: bool,
    /// Go's `missingkey=error` (docker inspect): an absent map key fails.
    strict: bool,
    out: String,
}

impl Template {
    /// Parse `src`; `name` appears in error messages (docker uses "").
    pub fn parse(name: &str, src: &str) -> Result<Template, TemplateError> {
        let lexer = Lexer { name, src };
        let items = lexer.lex()?;
        let mut parser = Parser {
            lexer: &lexer,
            items: items.into_iter().peekable(),
            range_depth: 0,
        };
        let (nodes, end) = parser.list()?;
        match end {
            End::Eof => {}
            End::Close => return Err(lexer.err(src.len(), "unexpected {{end}}")),
            End::Else | End::ElseChain(_) => {
                return Err(lexer.err(src.len(), "unexpected {{else}}"))
            }
        }
        Ok(Template {
            name: name.to_string(),
            src: src.to_string(),
            nodes,
        })
    }

    /// Run the template on `data`.
    pub fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        self.run(data, false, false)
    }

    /// Run it with Go's `missingkey=error`, as `docker inspect` does on the
    /// daemon's JSON: `{{.Nope}}` fails instead of printing `<no value>`.
    pub fn execute_strict(&self, data: &Value) -> Result<String, TemplateError> {
        self.run(data, false, true)
    }

    /// Run it as docker does for a `table` header: `data` maps field names to
    /// column titles, and docker's functions pass their argument through.
    pub fn execute_header(&self, data: &Value) -> Result<String, TemplateError> {
        self.run(data, true, false)
    }

    fn run(&self, data: &Value, header: bool, strict: bool) -> Result<String, TemplateError> {
        let mut exec = Exec {
            tmpl: self,
            vars: vec![("$".to_string(), data.clone())],
            header,
            strict,
            out: String::new(),
        };
        exec.walk(&self.nodes, data)?;
        Ok(exec.out)
    }
}

impl Exec<'_> {
    fn err(&self, operand_pos: usize, at: &str, msg: impl std::fmt::Display) -> TemplateError {
        let src = &self.tmpl.src;
        let pos = operand_pos.min(src.len());
        let line_start = src[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0);
        TemplateError(format!(
            "template: {}:{}:{}: executing {:?} at <{}>: {msg}",
            self.tmpl.name,
            line_of(src, pos),
            pos - line_start,
            self.tmpl.name,
            at
        ))
    }

    fn walk(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
        for node in nodes {
            match self.node(node, dot)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn node(&mut self, node: &Node, dot: &Value) -> Result<Flow, TemplateError> {
        match node {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(pipe) => {
                let value = self.pipe(pipe, dot)?;
                if pipe.decl.is_empty() {
                    self.out.push_str(&value.to_go_string());
                }
            }
            Node::If { pipe, then, els } | Node::With { pipe, then, els } => {
                let depth = self.vars.len();
                let value = self.pipe(pipe, dot)?;
                let flow = if value.truthy() {
                    let inner = if matches!(node, Node::With { .. }) {
                        value
                    } else {
                        dot.clone()
                    };
                    self.walk(then, &inner)?
                } else {
                    self.walk(els, dot)?
                };
                self.vars.truncate(depth);
                return Ok(flow);
            }
            Node::Range { pipe, then, els } => {
                let depth = self.vars.len();
                let mut plain = pipe.clone();
                plain.decl.clear();
                let value = self.pipe(&plain, dot)?;
                let pairs: Vec<(Value, Value)> = match value {
                    Value::List(items) => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (Value::Int(i as i64), v))
                        .collect(),
                    Value::Map(entries) => {
                        let mut entries = entries;
                        entries.sort_by(|a, b| a.0.cmp(&b.0));
                        entries
                            .into_iter()
                            .map(|(k, v)| (Value::Str(k), v))
                            .collect()
                    }
                    Value::Int(n) => (0..n.max(0))
                        .map(|i| (Value::Int(i), Value::Int(i)))
                        .collect(),
                    Value::Null | Value::Missing => Vec::new(),
                    other => {
                        let at = pipe_src(&plain);
                        return Err(self.err(
                            pipe.pos,
                            &at,
                            format!("range can't iterate over {}", other.to_go_string()),
                        ));
                    }
                };
                if pairs.is_empty() {
                    let flow = self.walk(els, dot)?;
                    self.vars.truncate(depth);
                    return Ok(flow);
                }
                for (key, elem) in pairs {
                    match pipe.decl.as_slice() {
                        [] => {}
                        [v] => self.vars.push((v.clone(), elem.clone())),
                        [k, v, ..] => {
                            self.vars.push((k.clone(), key));
                            self.vars.push((v.clone(), elem.clone()));
                        }
                    }
                    let flow = self.walk(then, &elem)?;
                    self.vars.truncate(depth);
                    if let Flow::Break = flow {
                        break;
                    }
                }
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn pipe(&mut self, pipe: &Pipe, dot: &Value) -> Result<Value, TemplateError> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(cmd, dot, value)?);
        }
        let value = value.unwrap_or(Value::Missing);
        if pipe.assign {
            for name in &pipe.decl {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value.clone(),
                    None => {
                        return Err(self.err(pipe.pos, name, format!("undefined variable: {name}")))
                    }
                }
            }
        } else {
            for name in &pipe.decl {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn command(
        &mut self,
        cmd: &Cmd,
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        let first = &cmd.args[0];
        let mut args = Vec::new();
        for a in &cmd.args[1..] {
            args.push(self.arg(a, dot)?);
        }
        if let Some(p) = piped {
            args.push(p);
        }
        match &first.arg {
            Arg::Func(name) => self.call(name, args, first),
            _ => {
                let value = self.arg(first, dot)?;
                if args.is_empty() {
                    return Ok(value);
                }
                // docker's `.Label "key"` methods: a map field given a key.
                if let (Value::Map(_), [Value::Str(key)]) = (&value, args.as_slice()) {
                    return Ok(value.get(key).cloned().unwrap_or(Value::Missing));
                }
                Err(self.err(
                    first.pos,
                    &first.src,
                    format!("can't give argument to non-function {}", first.src),
                ))
            }
        }
    }

    fn arg(&mut self, op: &Operand, dot: &Value) -> Result<Value, TemplateError> {
        match &op.arg {
            Arg::Dot => Ok(dot.clone()),
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Fields(fields) => self.fields(dot.clone(), fields, op),
            Arg::Var(name, fields) => {
                let Some((_, value)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    return Err(self.err(op.pos, &op.src, format!("undefined variable: {name}")));
                };
                let value = value.clone();
                self.fields(value, fields, op)
            }
            Arg::Func(name) => self.call(name, Vec::new(), op),
            Arg::Sub(pipe, fields) => {
                let value = self.pipe(pipe, dot)?;
                self.fields(value, fields, op)
            }
        }
    }

    fn fields(
        &self,
        mut value: Value,
        fields: &[String],
        op: &Operand,
    ) -> Result<Value, TemplateError> {
        for field in fields {
            value = match &value {
                Value::Map(_) => match value.get(field) {
                    Some(v) => v.clone(),
                    None if self.strict => {
                        return Err(self.err(
                            op.pos,
                            &op.src,
                            format!("map has no entry for key {field:?}"),
                        ))
                    }
                    None => Value::Missing,
                },
                Value::Struct(name, _) => match value.get(field) {
                    Some(v) => v.clone(),
                    None => {
                        return Err(self.err(
                            op.pos,
                            &op.src,
                            format!("can't evaluate field {field} in type {name}"),
                        ))
                    }
                },
                Value::Null | Value::Missing => {
                    return Err(self.err(
                        op.pos,
                        &op.src,
                        format!("nil pointer evaluating interface {{}}.{field}"),
                    ))
                }
                other => {
                    return Err(self.err(
                        op.pos,
                        &op.src,
                        format!("can't evaluate field {field} in type {}", other.type_name()),
                    ))
                }
            };
        }
        Ok(value)
    }

    fn call(&mut self, name: &str, args: Vec<Value>, op: &Operand) -> Result<Value, TemplateError> {
        let fail = |msg: String| self.err(op.pos, &op.src, format!("error calling {name}: {msg}"));
        let want = |n: usize| -> Result<(), TemplateError> {
            if args.len() != n {
                return Err(self.err(
                    op.pos,
                    &op.src,
                    format!(
                        "wrong number of args for {name}: want {n} got {}",
                        args.len()
                    ),
                ));
            }
            Ok(())
        };
        let docker_fn = matches!(
            name,
            "json" | "join" | "split" | "title" | "lower" | "upper" | "truncate" | "pad"
        );
        if self.header && docker_fn {
            // docker's HeaderFunctions: the column title passes through.
            return Ok(args.into_iter().next().unwrap_or(Value::Missing));
        }
        match name {
            "and" | "or" => {
                if args.is_empty() {
                    return Err(self.err(
                        op.pos,
                        &op.src,
                        format!("wrong number of args for {name}: want at least 1 got 0"),
                    ));
                }
                let want_truth = name == "or";
                for a in &args {
                    if a.truthy() == want_truth {
                        return Ok(a.clone());
                    }
                }
                Ok(args.last().cloned().unwrap_or(Value::Missing))
            }
            "not" => {
                want(1)?;
                Ok(Value::Bool(!args[0].truthy()))
            }
            "len" => {
                want(1)?;
                match &args[0] {
                    Value::Str(s) => Ok(Value::Int(s.len() as i64)),
                    Value::List(l) => Ok(Value::Int(l.len() as i64)),
                    Value::Map(m) => Ok(Value::Int(m.len() as i64)),
                    other => Err(fail(format!("len of type {}", other.type_name()))),
                }
            }
            "index" => {
                if args.is_empty() {
                    return Err(self.err(
                        op.pos,
                        &op.src,
                        "wrong number of args for index: want at least 1 got 0",
                    ));
                }
                let mut value = args[0].clone();
                for key in &args[1..] {
                    value = match (&value, key) {
                        (Value::List(items), Value::Int(i)) => {
                            let idx = usize::try_from(*i).ok().filter(|i| *i < items.len());
                            match idx {
                                Some(i) => items[i].clone(),
                                None => return Err(fail(format!("index out of range: {i}"))),
                            }
                        }
                        (Value::Str(s), Value::Int(i)) => {
                            let idx = usize::try_from(*i).ok().filter(|i| *i < s.len());
                            match idx {
                                Some(i) => Value::Int(i64::from(s.as_bytes()[i])),
                                None => return Err(fail(format!("index out of range: {i}"))),
                            }
                        }
                        (Value::Map(_) | Value::Struct(..), Value::Str(k)) => {
                            value.get(k).cloned().unwrap_or(Value::Missing)
                        }
                        (Value::Null | Value::Missing, _) => {
                            return Err(fail("index of untyped nil".into()))
                        }
                        (v, k) => {
                            return Err(fail(format!(
                                "cannot index {} with {}",
                                v.type_name(),
                                k.type_name()
                            )))
                        }
                    };
                }
                Ok(value)
            }
            "print" => Ok(Value::Str(go_sprint(&args))),
            "println" => {
                let parts: Vec<String> = args.iter().map(Value::to_go_string).collect();
                Ok(Value::Str(format!("{}\n", parts.join(" "))))
            }
            "printf" => {
                let Some(Value::Str(format)) = args.first() else {
                    return Err(fail("the format must be a string".into()));
                };
                Ok(Value::Str(go_sprintf(format, &args[1..])))
            }
            "eq" => {
                if args.len() < 2 {
                    return Err(fail("missing argument for comparison".into()));
                }
                for other in &args[1..] {
                    if compare(&args[0], other).map_err(fail)? == std::cmp::Ordering::Equal {
                        return Ok(Value::Bool(true));
                    }
                }
                Ok(Value::Bool(false))
            }
            "ne" | "lt" | "le" | "gt" | "ge" => {
                want(2)?;
                let ord = compare(&args[0], &args[1]).map_err(fail)?;
                if name != "ne" && !ordered(&args[0]) {
                    return Err(fail("invalid type for comparison".to_string()));
                }
                use std::cmp::Ordering::*;
                Ok(Value::Bool(match name {
                    "ne" => ord != Equal,
                    "lt" => ord == Less,
                    "le" => ord != Greater,
                    "gt" => ord == Greater,
                    _ => ord != Less,
                }))
            }
            "json" => {
                want(1)?;
                Ok(Value::Str(args[0].to_json()))
            }
            "join" => {
                want(2)?;
                let Value::Str(sep) = &args[1] else {
                    return Err(fail("the separator must be a string".into()));
                };
                match &args[0] {
                    Value::List(items) => {
                        let parts: Vec<String> = items.iter().map(Value::to_go_string).collect();
                        Ok(Value::Str(parts.join(sep)))
                    }
                    Value::Null | Value::Missing => Ok(Value::Str(String::new())),
                    other => Err(fail(format!("cannot join {}", other.type_name()))),
                }
            }
            "split" => {
                want(2)?;
                match (&args[0], &args[1]) {
                    (Value::Str(s), Value::Str(sep)) => {
                        let parts: Vec<Value> = if sep.is_empty() {
                            s.chars().map(|c| Value::Str(c.to_string())).collect()
                        } else {
                            s.split(sep.as_str()).map(Value::str).collect()
                        };
                        Ok(Value::List(parts))
                    }
                    _ => Err(fail("split takes two strings".into())),
                }
            }
            "title" | "lower" | "upper" => {
                want(1)?;
                let s = args[0].to_go_string();
                Ok(Value::Str(match name {
                    "lower" => s.to_lowercase(),
                    "upper" => s.to_uppercase(),
                    _ => go_title(&s),
                }))
            }
            "truncate" => {
                want(2)?;
                let Value::Int(n) = args[1] else {
                    return Err(fail("the length must be an integer".into()));
                };
                let s = args[0].to_go_string();
                let n = usize::try_from(n).unwrap_or(0);
                Ok(Value::Str(s.chars().take(n).collect()))
            }
            "pad" => {
                want(3)?;
                let (Value::Int(before), Value::Int(after)) = (&args[1], &args[2]) else {
                    return Err(fail("the paddings must be integers".into()));
                };
                let s = args[0].to_go_string();
                if s.is_empty() {
                    return Ok(Value::Str(s));
                }
                let before = " ".repeat(usize::try_from(*before).unwrap_or(0));
                let after = " ".repeat(usize::try_from(*after).unwrap_or(0));
                Ok(Value::Str(format!("{before}{s}{after}")))
            }
            _ => Err(self.err(op.pos, &op.src, format!("function {name:?} not defined"))),
        }
    }
}

fn pipe_src(pipe: &Pipe) -> String {
    pipe.cmds
        .iter()
        .map(|c| {
            c.args
                .iter()
                .map(|a| a.src.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn ordered(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Float(_) | Value::Str(_))
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y).ok_or_else(|| "NaN".into()),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)).ok_or_else(|| "NaN".into()),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).ok_or_else(|| "NaN".into()),
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        (Value::Null | Value::Missing, Value::Null | Value::Missing) => Ok(Ordering::Equal),
        _ => Err("incompatible types for comparison".into()),
    }
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn go_sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&a.to_go_string());
    }
    out
}

/// `strings.Title`: upper-case the first letter of each word.
fn go_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_word_start = true;
    for c in s.chars() {
        if at_word_start && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: %v %s %d %q %t %x %X
/// %f %e %g %c %%, with flags `-`, `0`, `+`, width and precision.
fn go_sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut minus = false;
        let mut zero = false;
        let mut plus = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => minus = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next_arg += 1;
        let body = match (verb, arg) {
            ('d', Value::Int(i)) => {
                if plus && *i >= 0 {
                    format!("+{i}")
                } else {
                    i.to_string()
                }
            }
            ('d', Value::Float(f)) if f.fract() == 0.0 => format!("{f:.0}"),
            ('x', Value::Int(i)) => format!("{i:x}"),
            ('X', Value::Int(i)) => format!("{i:X}"),
            ('x', Value::Str(s)) => hex::encode(s.as_bytes()),
            ('X', Value::Str(s)) => hex::encode_upper(s.as_bytes()),
            ('c', Value::Int(i)) => u32::try_from(*i)
                .ok()
                .and_then(char::from_u32)
                .map(String::from)
                .unwrap_or_else(|| "\u{fffd}".into()),
            ('f' | 'F', Value::Float(f)) => format!("{:.*}", precision.unwrap_or(6), f),
            ('f' | 'F', Value::Int(i)) => format!("{:.*}", precision.unwrap_or(6), *i as f64),
            ('e', Value::Float(f)) => go_exp(*f, precision.unwrap_or(6)),
            ('e', Value::Int(i)) => go_exp(*i as f64, precision.unwrap_or(6)),
            ('g', Value::Float(f)) => go_float(*f),
            ('g', Value::Int(i)) => go_float(*i as f64),
            ('t', Value::Bool(b)) => b.to_string(),
            ('q', Value::Str(s)) => serde_json::Value::String(s.clone()).to_string(),
            ('q', Value::Int(i)) => format!(
                "'{}'",
                u32::try_from(*i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{fffd}')
            ),
            ('s' | 'v', v) => {
                let s = v.to_go_string();
                match precision {
                    Some(p) if verb == 's' => s.chars().take(p).collect(),
                    _ => s,
                }
            }
            (verb, v) => format!("%!{verb}({}={})", v.type_name(), v.to_go_string()),
        };
        let width: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len >= width {
            out.push_str(&body);
        } else if minus {
            out.push_str(&body);
            out.extend(std::iter::repeat_n(' ', width - len));
        } else if zero && matches!(arg, Value::Int(_) | Value::Float(_)) {
            let (sign, digits) = match body.strip_prefix('-') {
                Some(d) => ("-", d.to_string()),
                None => ("", body.clone()),
            };
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', width - len));
            out.push_str(&digits);
        } else {
            out.extend(std::iter::repeat_n(' ', width - len));
            out.push_str(&body);
        }
    }
    if next_arg < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), a.to_go_string()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn go_exp(f: f64, precision: usize) -> String {
    let s = format!("{f:.precision$e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Value {
        serde_json::from_str(
            r#"{
                "Id": "0123456789abcdef",
                "Name": "/test01",
                "State": {"Status": "exited", "ExitCode": 3, "OOMKilled": false, "Pid": 0},
                "Config": {"Cmd": ["sh", "-c", "exit 3"], "Env": ["A=1", "PATH=/bin"],
                           "Labels": {"b": "2", "a": "1"}, "Tty": false, "Entrypoint": null},
                "HostConfig": {"Memory": 33554432, "NanoCpus": 1500000000},
                "Ratio": 0.5,
                "Mounts": []
            }"#,
        )
        .unwrap()
    }

    fn render(tmpl: &str) -> String {
        Template::parse("", tmpl)
            .unwrap_or_else(|e| panic!("parse {tmpl:?}: {e}"))
            .execute(&data())
            .unwrap_or_else(|e| panic!("exec {tmpl:?}: {e}"))
    }

    fn exec_err(tmpl: &str) -> String {
        Template::parse("", tmpl)
            .unwrap()
            .execute(&data())
            .unwrap_err()
            .0
    }

    fn parse_err(tmpl: &str) -> String {
        Template::parse("", tmpl).unwrap_err().0
    }

    #[test]
    fn fields_and_nested_fields() {
        assert_eq!(render("{{.Name}}"), "/test01");
        assert_eq!(render("{{.State.ExitCode}}"), "3");
        assert_eq!(render("{{.State.OOMKilled}}"), "false");
        assert_eq!(render("{{.HostConfig.Memory}}"), "33554432");
        assert_eq!(render("{{.Ratio}}"), "0.5");
        assert_eq!(
            render("x={{.State.Status}} y={{.Config.Tty}}"),
            "x=exited y=false"
        );
    }

    #[test]
    fn printing_like_go() {
        assert_eq!(render("{{.Config.Cmd}}"), "[sh -c exit 3]");
        assert_eq!(render("{{.Config.Labels}}"), "map[a:1 b:2]");
        assert_eq!(render("{{.Config.Entrypoint}}"), "<nil>");
        assert_eq!(render("{{.Nope}}"), "<no value>");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(33554432.0), "3.3554432e+07");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(2.5), "2.5");
        assert_eq!(go_float(1e-7), "1e-07");
    }

    #[test]
    fn json_keeps_field_order() {
        assert_eq!(
            render("{{json .State}}"),
            r#"{"Status":"exited","ExitCode":3,"OOMKilled":false,"Pid":0}"#
        );
        assert_eq!(render("{{.Config.Cmd | json}}"), r#"["sh","-c","exit 3"]"#);
        assert_eq!(render("{{json .Config.Entrypoint}}"), "null");
        assert!(render("{{json .}}").starts_with(r#"{"Id":"0123456789abcdef","Name":"/test01""#));
        let v: Value = serde_json::from_str(r#"{"a":[1,{"b":"<x>"}],"c":{}}"#).unwrap();
        assert_eq!(v.to_json(), r#"{"a":[1,{"b":"<x>"}],"c":{}}"#);
    }

    #[test]
    fn indented_json_like_go() {
        let v: Value = serde_json::from_str(r#"[{"a":1,"b":[],"c":{"d":[true]}}]"#).unwrap();
        assert_eq!(
            v.to_json_indent("", "    "),
            "[\n    {\n        \"a\": 1,\n        \"b\": [],\n        \"c\": {\n            \"d\": [\n                true\n            ]\n        }\n    }\n]"
        );
    }

    #[test]
    fn range_over_lists_and_maps() {
        assert_eq!(
            render("{{range .Config.Env}}[{{.}}]{{end}}"),
            "[A=1][PATH=/bin]"
        );
        assert_eq!(
            render("{{range $i, $e := .Config.Cmd}}{{$i}}:{{$e}} {{end}}"),
            "0:sh 1:-c 2:exit 3 "
        );
        assert_eq!(
            render("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}"),
            "a=1;b=2;"
        );
        assert_eq!(render("{{range .Mounts}}x{{else}}none{{end}}"), "none");
        assert_eq!(render("{{range .Config.Entrypoint}}x{{end}}"), "");
        assert_eq!(
            render("{{range .Config.Cmd}}{{if eq . \"-c\"}}{{break}}{{end}}{{.}}{{end}}"),
            "sh"
        );
        assert_eq!(
            render("{{range .Config.Cmd}}{{if eq . \"-c\"}}{{continue}}{{end}}{{.}},{{end}}"),
            "sh,exit 3,"
        );
    }

    #[test]
    fn conditionals() {
        assert_eq!(
            render("{{if .State.OOMKilled}}oom{{else}}fine{{end}}"),
            "fine"
        );
        assert_eq!(
            render("{{if eq .State.ExitCode 0}}ok{{else if eq .State.ExitCode 3}}three{{else}}other{{end}}"),
            "three"
        );
        assert_eq!(render("{{if and .Name .State.ExitCode}}y{{end}}"), "y");
        assert_eq!(render("{{if or .State.Pid .Mounts}}y{{else}}n{{end}}"), "n");
        assert_eq!(render("{{if not .Config.Tty}}no tty{{end}}"), "no tty");
        assert_eq!(render("{{with .State}}{{.Status}}{{end}}"), "exited");
        assert_eq!(render("{{with .Mounts}}x{{else}}empty{{end}}"), "empty");
        assert_eq!(render("{{if gt .State.ExitCode 2}}big{{end}}"), "big");
        assert_eq!(render("{{if lt .Ratio 1}}small{{end}}"), "small");
        assert_eq!(
            render("{{if ne .State.Status \"running\"}}down{{end}}"),
            "down"
        );
    }

    #[test]
    fn functions() {
        assert_eq!(render("{{index .Config.Labels \"a\"}}"), "1");
        assert_eq!(render("{{index .Config.Cmd 2}}"), "exit 3");
        assert_eq!(render("{{len .Config.Env}}"), "2");
        assert_eq!(render("{{len .Name}}"), "7");
        assert_eq!(render("{{join .Config.Cmd \" \"}}"), "sh -c exit 3");
        assert_eq!(render("{{upper .State.Status}}"), "EXITED");
        assert_eq!(render("{{lower \"ABC\"}}"), "abc");
        assert_eq!(render("{{title \"hello big world\"}}"), "Hello Big World");
        assert_eq!(render("{{println .Name}}"), "/test01\n");
        assert_eq!(render("{{println .Name .State.ExitCode}}"), "/test01 3\n");
        assert_eq!(render("{{print 1 2 \"a\" 3}}"), "1 2a3");
        assert_eq!(
            render("{{printf \"%s=%d\" .Name .State.ExitCode}}"),
            "/test01=3"
        );
        assert_eq!(render("{{printf \"%-8s|\" .State.Status}}"), "exited  |");
        assert_eq!(
            render("{{printf \"%5d|%05d|%.2f|%q|%v|%t\" 42 42 .Ratio \"x\" .Config.Cmd true}}"),
            "   42|00042|0.50|\"x\"|[sh -c exit 3]|true"
        );
        assert_eq!(render("{{printf \"%d%%\" 5}}"), "5%");
        assert_eq!(render("{{printf \"%s\"}}"), "%!s(MISSING)");
        assert_eq!(render("{{truncate .Id 12}}"), "0123456789ab");
        assert_eq!(render("{{pad .State.Status 1 2}}|"), " exited  |");
        assert_eq!(render("{{split \"a,b,c\" \",\"}}"), "[a b c]");
        assert_eq!(render("{{index (split \"a,b,c\" \",\") 1}}"), "b");
    }

    #[test]
    fn pipelines_and_parens() {
        assert_eq!(render("{{.State.Status | upper}}"), "EXITED");
        assert_eq!(render("{{.Name | printf \"<%s>\" | upper}}"), "</TEST01>");
        // Go passes the piped value as the LAST argument.
        assert_eq!(render("{{\"+\" | join .Config.Cmd}}"), "sh+-c+exit 3");
        assert_eq!(render("{{(index .Config.Cmd 0) | upper}}"), "SH");
        assert_eq!(render("{{(.State).Status}}"), "exited");
    }

    #[test]
    fn variables() {
        assert_eq!(render("{{$n := .Name}}{{$n}}{{$n}}"), "/test01/test01");
        assert_eq!(
            render("{{range .Config.Env}}{{$.Name}}{{end}}"),
            "/test01/test01"
        );
        assert_eq!(render("{{$x := 1}}{{$x = 2}}{{$x}}"), "2");
    }

    #[test]
    fn trim_markers_and_comments() {
        assert_eq!(render("a  {{- .State.Status -}}  b"), "aexitedb");
        assert_eq!(render("a {{- /* note */ -}} b"), "ab");
        assert_eq!(render("a{{/* note */}}b"), "ab");
        assert_eq!(
            render("{{range .Config.Env -}}\n  {{.}}\n{{- end}}"),
            "A=1PATH=/bin"
        );
        assert_eq!(render("{{-3}}"), "-3");
    }

    #[test]
    fn literals() {
        assert_eq!(render("{{\"a\\tb\"}}"), "a\tb");
        assert_eq!(render("{{`raw\\t`}}"), "raw\\t");
        assert_eq!(
            render("{{0x10}} {{1.5}} {{'a'}} {{true}}"),
            "16 1.5 97 true"
        );
    }

    #[test]
    fn struct_data_rejects_unknown_fields() {
        let data = Value::Struct(
            "*formatter.ContainerContext".into(),
            vec![
                ("Names".into(), Value::str("web")),
                (
                    "Labels".into(),
                    Value::Map(vec![("k".into(), Value::str("v"))]),
                ),
            ],
        );
        let t = Template::parse("", "{{.Names}} {{.Labels.k}} {{.Labels \"k\"}}").unwrap();
        assert_eq!(t.execute(&data).unwrap(), "web v v");
        let err = Template::parse("", "{{.Foo}}")
            .unwrap()
            .execute(&data)
            .unwrap_err();
        assert_eq!(
            err.0,
            "template: :1:2: executing \"\" at <.Foo>: can't evaluate field Foo in type *formatter.ContainerContext"
        );
    }

    #[test]
    fn strict_maps_fail_on_missing_keys() {
        let t = Template::parse("", "{{.State.Nope}}").unwrap();
        assert_eq!(
            t.execute_strict(&data()).unwrap_err().0,
            "template: :1:8: executing \"\" at <.State.Nope>: map has no entry for key \"Nope\""
        );
        let t = Template::parse("", "{{.State.ExitCode}} {{index .Config.Labels \"zz\"}}").unwrap();
        assert_eq!(t.execute_strict(&data()).unwrap(), "3 <no value>");
    }

    #[test]
    fn header_pass_keeps_titles() {
        let header = Value::Map(vec![
            ("Names".into(), Value::str("NAMES")),
            ("ID".into(), Value::str("CONTAINER ID")),
        ]);
        let t = Template::parse("", "{{.ID}}\t{{upper .Names}}\t{{json .ID}}").unwrap();
        assert_eq!(
            t.execute_header(&header).unwrap(),
            "CONTAINER ID\tNAMES\tCONTAINER ID"
        );
    }

    #[test]
    fn exec_errors_name_the_position() {
        assert_eq!(
            exec_err("ab\n {{.State.Pid.X}}"),
            "template: :2:13: executing \"\" at <.State.Pid.X>: can't evaluate field X in type int"
        );
        assert!(exec_err("{{.Nope.X}}").contains("nil pointer evaluating interface {}.X"));
        assert!(exec_err("{{index .Config.Cmd 9}}")
            .contains("error calling index: index out of range: 9"));
        assert!(exec_err("{{len 3}}").contains("error calling len: len of type int"));
        assert!(exec_err("{{.Name 1}}").contains("can't give argument to non-function .Name"));
        assert!(exec_err("{{not 1 2}}").contains("wrong number of args for not: want 1 got 2"));
        assert!(exec_err("{{eq .Name 1}}").contains("incompatible types for comparison"));
        assert!(exec_err("{{range .Name}}{{end}}").contains("range can't iterate over /test01"));
    }

    #[test]
    fn parse_errors_read_like_go() {
        assert_eq!(
            parse_err("{{.Name}"),
            "template: :1: unexpected \"}\" in operand"
        );
        assert_eq!(
            parse_err("{{foo .Name}}"),
            "template: :1: function \"foo\" not defined"
        );
        assert_eq!(parse_err("{{.Name"), "template: :1: unclosed action");
        assert_eq!(parse_err("{{if .Name}}x"), "template: :1: unexpected EOF");
        assert_eq!(parse_err("x{{end}}"), "template: :1: unexpected {{end}}");
        assert_eq!(parse_err("{{}}"), "template: :1: missing value for command");
        assert_eq!(
            parse_err("a\n{{\"x}}"),
            "template: :2: unterminated quoted string"
        );
        assert!(parse_err("{{define \"x\"}}{{end}}").contains("not supported"));
        assert!(parse_err("{{break}}").contains("outside {{range}}"));
        assert!(parse_err("{{(.Name}}").contains("unclosed left paren"));
        assert!(parse_err("{{/* x }}").contains("unclosed comment"));
    }

    #[test]
    fn serde_values_keep_order() {
        #[derive(serde::Serialize)]
        struct S {
            zeta: u32,
            alpha: Option<String>,
            big: u64,
        }
        let v = Value::from_serialize(&S {
            zeta: 1,
            alpha: None,
            big: u64::MAX,
        })
        .unwrap();
        assert_eq!(
            v.to_json(),
            r#"{"zeta":1,"alpha":null,"big":18446744073709552000}"#
        );
        assert_eq!(Value::Float(1e21).to_json(), "1e+21");
        assert_eq!(Value::Float(0.25).to_json(), "0.25");
    }
}
