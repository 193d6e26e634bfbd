//! Go's `text/template`, the subset docker's `--format` uses, over JSON-like
//! data: `{{.Field.Sub}}`, variables, pipelines, `if/else if/else`,
//! `range`, `with`, comments, `{{-`/`-}}` trim markers, Go's builtin
//! functions (`and or not len index print printf println eq ne lt le gt ge`)
//! and docker's (`json join split title lower upper truncate pad`).
//!
//! Errors read like Go's (`template: :1: unexpected "}" in operand`,
//! `template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in
//! type ...`), which is what docker prints after `template parsing error: `.
//!
//! Hand-written rather than the `gtmpl` crate: gtmpl loses the order of
//! JSON objects, has no `break`/`continue`/`missingkey=error`, prints
//! lists in Rust's debug form and words its errors without Go's positions
//! (docs/gotemplate.md has the evaluation).
//!
//! The rooms, in the order a template goes through them:
//! - `lexer`: the source into text and the tokens of each `{{action}}`;
//! - `ast` and `parser`: the tokens into a tree of nodes and pipelines;
//! - `exec`: walking the tree over a [`Value`];
//! - `builtins` (Go's functions) and `docker` (docker's template functions);
//! - `value` (the data, printed as Go's `%v`), `json` (as encoding/json)
//!   and `gofmt` (Go's number formats, `fmt.Sprint`/`Sprintf`).

mod ast;
mod builtins;
mod docker;
mod exec;
mod gofmt;
mod json;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;
mod value;

pub use value::Value;

/// A parse or execution error, worded like Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    src: String,
    nodes: Vec<ast::Node>,
}

impl Template {
    /// Parse `src`; `name` appears in error messages (docker uses "").
    pub fn parse(name: &str, src: &str) -> Result<Template, TemplateError> {
        Ok(Template {
            name: name.to_string(),
            src: src.to_string(),
            nodes: parser::parse(name, src)?,
        })
    }

    /// Run the template on `data`.
    pub fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        exec::run(self, data, false, false)
    }

    /// Run it with Go's `missingkey=error`, as `docker inspect` does on the
    /// daemon's JSON: `{{.Nope}}` fails instead of printing `<no value>`.
    pub fn execute_strict(&self, data: &Value) -> Result<String, TemplateError> {
        exec::run(self, data, false, true)
    }

    /// Run it as docker does for a `table` header: `data` maps field names to
    /// column titles, and docker's functions pass their argument through.
    pub fn execute_header(&self, data: &Value) -> Result<String, TemplateError> {
        exec::run(self, data, true, false)
    }
}
