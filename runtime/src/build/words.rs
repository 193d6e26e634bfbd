//! Dockerfile words: Docker's quoting, escapes and `$VAR` substitution
//! (the shell-like part of the parser, shared by the parser and the
//! builder).

pub(super) fn unquote(s: &str, escape: char) -> Result<String, String> {
    let words = split_words_keep_spaces(s, escape, false)?;
    Ok(words.join(""))
}

/// Split on unquoted whitespace; quotes are removed, the escape char escapes
/// the next char (outside single quotes). `$` references are kept as they
/// are for the builder to substitute.
pub fn split_words(s: &str, escape: char) -> Result<Vec<String>, String> {
    split_words_keep_spaces(s, escape, true)
}

fn split_words_keep_spaces(s: &str, escape: char, split: bool) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if split && c.is_whitespace() {
            if in_word {
                words.push(std::mem::take(&mut cur));
                in_word = false;
            }
            continue;
        }
        in_word = true;
        if c == escape {
            match chars.next() {
                Some(n) => cur.push(n),
                None => cur.push(c),
            }
        } else if c == '\'' {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(n) => cur.push(n),
                    None => return Err(format!("unmatched single quote in {s:?}")),
                }
            }
        } else if c == '"' {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(n) if n == escape => match chars.next() {
                        Some(m) => cur.push(m),
                        None => return Err(format!("unmatched double quote in {s:?}")),
                    },
                    Some(n) => cur.push(n),
                    None => return Err(format!("unmatched double quote in {s:?}")),
                }
            }
        } else {
            cur.push(c);
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Substitute `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` from
/// `lookup`; the escape char keeps a `$` literal. Used for ENV, LABEL,
/// WORKDIR, USER, EXPOSE, ADD/COPY (not RUN/CMD: the shell does those).
pub fn substitute(
    s: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    let mut in_single = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            in_single = !in_single;
            out.push(c);
            continue;
        }
        if c == escape && !in_single {
            if let Some(&n) = chars.peek() {
                if n == '$' {
                    chars.next();
                    // Keep the escape so word splitting later sees `\$`;
                    // it removes the escape and keeps the `$`.
                    out.push(escape);
                    out.push('$');
                    continue;
                }
                out.push(c);
                out.push(n);
                chars.next();
                continue;
            }
            out.push(c);
            continue;
        }
        if c != '$' || in_single {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('{') => {
                chars.next();
                let mut body = String::new();
                let mut closed = false;
                for n in chars.by_ref() {
                    if n == '}' {
                        closed = true;
                        break;
                    }
                    body.push(n);
                }
                if !closed {
                    return Err(format!("missing '}}' in {s:?}"));
                }
                let (name, op) = match body.find(':') {
                    Some(i) => (&body[..i], Some(&body[i + 1..])),
                    None => (body.as_str(), None),
                };
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(format!("bad substitution ${{{body}}} in {s:?}"));
                }
                let val = lookup(name);
                match op {
                    None => out.push_str(&val.unwrap_or_default()),
                    Some(o) if o.starts_with('-') => match val.filter(|v| !v.is_empty()) {
                        Some(v) => out.push_str(&v),
                        None => out.push_str(&o[1..]),
                    },
                    Some(o) if o.starts_with('+') => {
                        if val.is_some_and(|v| !v.is_empty()) {
                            out.push_str(&o[1..]);
                        }
                    }
                    Some(o) => {
                        return Err(format!(
                            "unsupported modifier ({}) in substitution ${{{body}}}",
                            o.chars().next().unwrap_or(' ')
                        ))
                    }
                }
            }
            Some(n) if n.is_alphanumeric() || n == '_' => {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_alphanumeric() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push_str(&lookup(&name).unwrap_or_default());
            }
            _ => out.push('$'),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution() {
        let vars = |n: &str| match n {
            "A" => Some("1".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let s = |t: &str| substitute(t, '\\', &vars).unwrap();
        assert_eq!(s("$A/${A}x"), "1/1x");
        assert_eq!(s("${NOPE:-d} ${A:-d} ${EMPTY:-e}"), "d 1 e");
        assert_eq!(s("${A:+yes}${NOPE:+no}"), "yes");
        assert_eq!(s("'$A'"), "'$A'");
        assert_eq!(s("\\$A"), "\\$A");
        assert_eq!(split_words(&s("\\$A"), '\\').unwrap(), ["$A"]);
        assert_eq!(s("cost $ 5"), "cost $ 5");
        assert_eq!(s("$NOPE-x"), "-x");
        assert!(substitute("${A", '\\', &vars).is_err());
        assert!(substitute("${A?x}", '\\', &vars).is_err());
        assert!(substitute("${A:?x}", '\\', &vars).is_err());
    }
}
