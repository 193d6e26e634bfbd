//! docker's template functions (its `templates.basicFunctions`).

use super::builtins::{fail, want};
use super::value::Value;

/// Their names; `builtins::call` sends these here.
pub(super) const FUNCTIONS: &[&str] = &[
    "json", "join", "split", "title", "lower", "upper", "truncate", "pad",
];

/// Call docker's function `name` on `args`.
pub(super) fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    match name {
        "json" => {
            want(name, args, 1)?;
            Ok(Value::Str(args[0].to_json()))
        }
        "join" => {
            want(name, args, 2)?;
            let Value::Str(sep) = &args[1] else {
                return Err(fail(name, "the separator must be a string"));
            };
            match &args[0] {
                Value::List(items) => {
                    let parts: Vec<String> = items.iter().map(Value::to_go_string).collect();
                    Ok(Value::Str(parts.join(sep)))
                }
                Value::Null | Value::Missing => Ok(Value::Str(String::new())),
                other => Err(fail(name, format!("cannot join {}", other.type_name()))),
            }
        }
        "split" => {
            want(name, args, 2)?;
            match (&args[0], &args[1]) {
                (Value::Str(s), Value::Str(sep)) => {
                    let parts: Vec<Value> = if sep.is_empty() {
                        s.chars().map(|c| Value::Str(c.to_string())).collect()
                    } else {
                        s.split(sep.as_str()).map(Value::str).collect()
                    };
                    Ok(Value::List(parts))
                }
                _ => Err(fail(name, "split takes two strings")),
            }
        }
        "title" | "lower" | "upper" => {
            want(name, args, 1)?;
            let s = args[0].to_go_string();
            Ok(Value::Str(match name {
                "lower" => s.to_lowercase(),
                "upper" => s.to_uppercase(),
                _ => go_title(&s),
            }))
        }
        "truncate" => {
            want(name, args, 2)?;
            let Value::Int(n) = args[1] else {
                return Err(fail(name, "the length must be an integer"));
            };
            let s = args[0].to_go_string();
            let n = usize::try_from(n).unwrap_or(0);
            Ok(Value::Str(s.chars().take(n).collect()))
        }
        "pad" => {
            want(name, args, 3)?;
            let (Value::Int(before), Value::Int(after)) = (&args[1], &args[2]) else {
                return Err(fail(name, "the paddings must be integers"));
            };
            let s = args[0].to_go_string();
            if s.is_empty() {
                return Ok(Value::Str(s));
            }
            let before = " ".repeat(usize::try_from(*before).unwrap_or(0));
            let after = " ".repeat(usize::try_from(*after).unwrap_or(0));
            Ok(Value::Str(format!("{before}{s}{after}")))
        }
        _ => Err(format!("function {name:?} not defined")),
    }
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
