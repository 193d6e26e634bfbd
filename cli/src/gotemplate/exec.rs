//! Running a parsed template over a [`Value`], with Go's execution errors.

use super::ast::{Arg, Cmd, Node, Operand, Pipe};
use super::builtins;
use super::lexer::line_of;
use super::value::Value;
use super::{Template, TemplateError};

/// Run `tmpl` on `data`: `header` for docker's table-header pass, `strict`
/// for Go's `missingkey=error`.
pub(super) fn run(
    tmpl: &Template,
    data: &Value,
    header: bool,
    strict: bool,
) -> Result<String, TemplateError> {
    let mut exec = Exec {
        tmpl,
        vars: vec![("$".to_string(), data.clone())],
        header,
        strict,
        out: String::new(),
    };
    exec.walk(&tmpl.nodes, data)?;
    Ok(exec.out)
}

/// What a list of nodes asks of the `range` around it.
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

    /// An error at an operand, which Go names by its text.
    fn err_at(&self, op: &Operand, msg: impl std::fmt::Display) -> TemplateError {
        self.err(op.pos, &op.src, msg)
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
                        let at = plain.src();
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
                Err(self.err_at(
                    first,
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
                    return Err(self.err_at(op, format!("undefined variable: {name}")));
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
                        return Err(self.err_at(op, format!("map has no entry for key {field:?}")))
                    }
                    None => Value::Missing,
                },
                Value::Struct(name, _) => match value.get(field) {
                    Some(v) => v.clone(),
                    None => {
                        return Err(
                            self.err_at(op, format!("can't evaluate field {field} in type {name}"))
                        )
                    }
                },
                Value::Null | Value::Missing => {
                    return Err(
                        self.err_at(op, format!("nil pointer evaluating interface {{}}.{field}"))
                    )
                }
                other => {
                    return Err(self.err_at(
                        op,
                        format!("can't evaluate field {field} in type {}", other.type_name()),
                    ))
                }
            };
        }
        Ok(value)
    }

    /// Call a function, naming the operand in its error.
    fn call(&self, name: &str, args: Vec<Value>, op: &Operand) -> Result<Value, TemplateError> {
        builtins::call(name, args, self.header).map_err(|msg| self.err_at(op, msg))
    }
}
