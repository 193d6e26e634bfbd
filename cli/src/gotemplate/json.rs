//! A [`Value`] as Go's encoding/json writes it: docker's `{{json .}}` and
//! `inspect`'s indented output.

use super::gofmt::go_exp_shortest;
use super::value::Value;

impl Value {
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
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&json_float(*f)),
            Value::Str(s) => out.push_str(&json_string(s)),
            Value::List(items) => write_seq(out, '[', ']', items, |out, item| item.write_json(out)),
            Value::Map(entries) => write_seq(out, '{', '}', entries, write_member),
            Value::Struct(_, entries) => {
                // docker marshals its formatter contexts as a Go map of their
                // argument-less fields: keys sorted, HTML characters escaped;
                // map-valued fields stand for methods that take a key.
                let mut fields: Vec<&(String, Value)> = entries
                    .iter()
                    .filter(|(_, v)| !matches!(v, Value::Map(_)))
                    .collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                // Escaping the whole object escapes each key and value: the
                // punctuation between them has nothing to escape.
                let mut object = String::new();
                write_seq(&mut object, '{', '}', fields, write_member);
                out.push_str(&html_escape(&object));
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
                    out.push_str(&json_string(k));
                    out.push_str(": ");
                    v.write_json_indent(out, prefix, indent, depth + 1);
                }
                newline(out, depth);
                out.push('}');
            }
            other => other.write_json(out),
        }
    }
}

/// `open`, the items separated by commas, `close`: a compact array or object.
fn write_seq<T>(
    out: &mut String,
    open: char,
    close: char,
    items: impl IntoIterator<Item = T>,
    mut write_item: impl FnMut(&mut String, T),
) {
    out.push(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_item(out, item);
    }
    out.push(close);
}

/// `"key":value` in a compact object.
fn write_member(out: &mut String, (key, value): &(String, Value)) {
    out.push_str(&json_string(key));
    out.push(':');
    value.write_json(out);
}

/// A JSON string literal, escaped as encoding/json does (minus its HTML
/// escaping); also Go's `%q` for the strings templates print.
pub(super) fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// encoding/json's default HTML escaping of an encoded JSON text.
fn html_escape(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
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
