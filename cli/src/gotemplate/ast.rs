//! The parsed template: nodes, and the pipelines of their actions.

use super::value::Value;

#[derive(Debug, Clone)]
pub(super) enum Arg {
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
pub(super) struct Operand {
    pub(super) arg: Arg,
    pub(super) pos: usize,
    pub(super) src: String,
}

#[derive(Debug, Clone)]
pub(super) struct Cmd {
    pub(super) args: Vec<Operand>,
}

#[derive(Debug, Clone)]
pub(super) struct Pipe {
    pub(super) decl: Vec<String>,
    /// `$x = ...` (assign to an existing variable) rather than `:=`.
    pub(super) assign: bool,
    pub(super) cmds: Vec<Cmd>,
    pub(super) pos: usize,
}

#[derive(Debug, Clone)]
pub(super) enum Node {
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

impl Pipe {
    /// The pipeline as written, for error messages (`at <...>`).
    pub(super) fn src(&self) -> String {
        self.cmds
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
}
