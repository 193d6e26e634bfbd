//! The functions a template calls: Go's builtins here, docker's in
//! `docker`. Their errors are the message Go prints after `at <...>: `;
//! `exec` adds the position.

use std::cmp::Ordering;

use super::docker;
use super::gofmt::{go_sprint, go_sprintf};
use super::value::Value;

/// Go's text/template builtins that docker's templates can use.
const GO_FUNCTIONS: &[&str] = &[
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt",
    "ge",
];

/// Whether the parser should accept `name` as a function.
pub(super) fn is_function(name: &str) -> bool {
    GO_FUNCTIONS.contains(&name) || docker::FUNCTIONS.contains(&name)
}

/// Call function `name` on `args` (a piped value comes last). In docker's
/// header pass (`header`), its functions return their argument: a column's
/// title is printed as it is.
pub(super) fn call(name: &str, args: Vec<Value>, header: bool) -> Result<Value, String> {
    if docker::FUNCTIONS.contains(&name) {
        if header {
            return Ok(args.into_iter().next().unwrap_or(Value::Missing));
        }
        return docker::call(name, &args);
    }
    match name {
        "and" | "or" => {
            want_at_least(name, &args, 1)?;
            let want_truth = name == "or";
            for a in &args {
                if a.truthy() == want_truth {
                    return Ok(a.clone());
                }
            }
            Ok(args.last().cloned().unwrap_or(Value::Missing))
        }
        "not" => {
            want(name, &args, 1)?;
            Ok(Value::Bool(!args[0].truthy()))
        }
        "len" => {
            want(name, &args, 1)?;
            match &args[0] {
                Value::Str(s) => Ok(Value::Int(s.len() as i64)),
                Value::List(l) => Ok(Value::Int(l.len() as i64)),
                Value::Map(m) => Ok(Value::Int(m.len() as i64)),
                other => Err(fail(name, format!("len of type {}", other.type_name()))),
            }
        }
        "index" => {
            want_at_least(name, &args, 1)?;
            let mut value = args[0].clone();
            for key in &args[1..] {
                value = match (&value, key) {
                    (Value::List(items), Value::Int(i)) => {
                        items[in_range(*i, items.len())?].clone()
                    }
                    (Value::Str(s), Value::Int(i)) => {
                        Value::Int(i64::from(s.as_bytes()[in_range(*i, s.len())?]))
                    }
                    (Value::Map(_) | Value::Struct(..), Value::Str(k)) => {
                        value.get(k).cloned().unwrap_or(Value::Missing)
                    }
                    (Value::Null | Value::Missing, _) => {
                        return Err(fail(name, "index of untyped nil"))
                    }
                    (v, k) => {
                        return Err(fail(
                            name,
                            format!("cannot index {} with {}", v.type_name(), k.type_name()),
                        ))
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
                return Err(fail(name, "the format must be a string"));
            };
            Ok(Value::Str(go_sprintf(format, &args[1..])))
        }
        "eq" => {
            if args.len() < 2 {
                return Err(fail(name, "missing argument for comparison"));
            }
            for other in &args[1..] {
                if compare(&args[0], other).map_err(|e| fail(name, e))? == Ordering::Equal {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            want(name, &args, 2)?;
            let ord = compare(&args[0], &args[1]).map_err(|e| fail(name, e))?;
            if name != "ne" && !ordered(&args[0]) {
                return Err(fail(name, "invalid type for comparison"));
            }
            Ok(Value::Bool(match name {
                "ne" => ord != Ordering::Equal,
                "lt" => ord == Ordering::Less,
                "le" => ord != Ordering::Greater,
                "gt" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }))
        }
        _ => Err(format!("function {name:?} not defined")),
    }
}

/// Go's error when a function itself fails.
pub(super) fn fail(name: &str, msg: impl std::fmt::Display) -> String {
    format!("error calling {name}: {msg}")
}

/// Exactly `n` arguments, or Go's error.
pub(super) fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// At least `n` arguments, or Go's error.
fn want_at_least(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() < n {
        return Err(format!(
            "wrong number of args for {name}: want at least {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// `index`'s position `i` in something `len` long.
fn in_range(i: i64, len: usize) -> Result<usize, String> {
    usize::try_from(i)
        .ok()
        .filter(|i| *i < len)
        .ok_or_else(|| fail("index", format!("index out of range: {i}")))
}

/// Whether `lt`, `le`, `gt` and `ge` can order values of this type.
fn ordered(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Float(_) | Value::Str(_))
}

/// Go's comparison of basic values; numbers of either kind compare.
fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
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
