//! Go's fmt package, as far as templates print with it: `%v` of numbers,
//! `fmt.Sprint` (`print`) and `fmt.Sprintf` (`printf`).

use std::fmt::Write as _;

use super::json::json_string;
use super::value::Value;

/// Go's `%v` for a float64 (`%g` with the shortest digits): exponent form
/// when the decimal exponent is < -4 or >= 6, so 33554432.0 is 3.3554432e+07.
pub(super) fn go_float(f: f64) -> String {
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

/// `1e+21`, `1.5e-07`: Rust's shortest `{:e}` with Go's exponent style.
pub(super) fn go_exp_shortest(f: f64) -> String {
    go_exponent(format!("{f:e}"))
}

/// Go's `%e`: `precision` digits after the point, Go's exponent style.
fn go_exp(f: f64, precision: usize) -> String {
    go_exponent(format!("{f:.precision$e}"))
}

/// Rust's `1.5e-7` as Go writes it, `1.5e-07`: a sign always, two digits
/// at least.
fn go_exponent(rust: String) -> String {
    match rust.split_once('e') {
        Some((mantissa, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => rust,
    }
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
pub(super) fn go_sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&a.to_go_string());
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: %v %s %d %q %t %x %X
/// %f %e %g %c %%, with flags `-`, `0`, `+`, width and precision.
pub(super) fn go_sprintf(format: &str, args: &[Value]) -> String {
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
            ('q', Value::Str(s)) => json_string(s),
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
