//! Parsing: the lexer's items into the tree of [`Node`]s, with Go's
//! parse errors.

use super::ast::{Arg, Cmd, Node, Operand, Pipe};
use super::builtins::is_function;
use super::lexer::{Item, Lexer, Tok, Token};
use super::value::Value;
use super::TemplateError;

/// Parse a whole template; `name` appears in error messages.
pub(super) fn parse(name: &str, src: &str) -> Result<Vec<Node>, TemplateError> {
    let lexer = Lexer { name, src };
    let items = lexer.lex()?;
    let mut parser = Parser {
        lexer: &lexer,
        items: items.into_iter().peekable(),
        range_depth: 0,
    };
    let (nodes, end) = parser.list()?;
    match end {
        End::Eof => Ok(nodes),
        End::Close => Err(lexer.err(src.len(), "unexpected {{end}}")),
        End::Else | End::ElseChain(_) => Err(lexer.err(src.len(), "unexpected {{else}}")),
    }
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
                // Go reports a chain at its last field.
                if let Some(last) = field_chain(toks, &mut next, &mut fields, &mut src) {
                    op_pos = last;
                }
                Arg::Fields(fields)
            }
            Tok::Var(v) => {
                let mut fields = Vec::new();
                if let Some(last) = field_chain(toks, &mut next, &mut fields, &mut src) {
                    op_pos = last;
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
                // Go reports `(pipeline).A` at its parenthesis.
                field_chain(toks, &mut next, &mut fields, &mut src);
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

/// The fields written right after an operand, `.A.B` with no space before
/// them: their names go to `fields` and their text to `src`, `next` moves
/// past them. Returns where the last one is, if there was one.
fn field_chain(
    toks: &[Token],
    next: &mut usize,
    fields: &mut Vec<String>,
    src: &mut String,
) -> Option<usize> {
    let mut last = None;
    while let Some(Token {
        tok: Tok::Field(f),
        spaced: false,
        src: s,
        pos,
    }) = toks.get(*next)
    {
        fields.push(f.clone());
        src.push_str(s);
        last = Some(*pos);
        *next += 1;
    }
    last
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
