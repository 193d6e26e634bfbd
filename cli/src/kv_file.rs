//! `--env-file` and `--label-file`: docker's KEY=VALUE files (docker/cli's
//! `opts.parseKeyValueFile`). Blank lines and `#` comments are skipped,
//! leading white space is trimmed, the value is kept as written; a line
//! with only `KEY` takes the value from `lookup` (the client's environment
//! for env files) and is left out when there is none.

/// The entries of `text` (the file `name`), in order.
pub fn parse(
    name: &str,
    text: &[u8],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.split(|b| *b == b'\n').enumerate() {
        let raw = if i == 0 {
            raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
        } else {
            raw
        };
        let line = std::str::from_utf8(raw)
            .map_err(|_| format!("{name} contains invalid utf8 bytes at line {}", i + 1))?;
        let line = line.strip_suffix('\r').unwrap_or(line).trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        if key.is_empty() {
            return Err(format!("no variable name on line '{line}' of {name}"));
        }
        if key.contains(char::is_whitespace) {
            return Err(format!(
                "variable '{key}' contains whitespaces (line {} of {name})",
                i + 1
            ));
        }
        match value {
            Some(v) => out.push(format!("{key}={v}")),
            None => {
                if let Some(v) = lookup(key.trim()) {
                    out.push(format!("{}={v}", key.trim()));
                }
            }
        }
    }
    Ok(out)
}

/// Read and parse each file in order (docker puts them before the flags).
pub fn read_all(
    files: &[std::path::PathBuf],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read(f).map_err(|e| format!("open {}: {e}", f.display()))?;
        out.extend(parse(&f.display().to_string(), &text, lookup)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_env_file_format() {
        let text = b"\xEF\xBB\xBF# a comment\n\n  A=1\nB= spaced value \nC\nUNSET\nD=\nE=x=y\r\n";
        let lookup = |k: &str| (k == "C").then(|| "from-host".to_string());
        assert_eq!(
            parse("f", text, &lookup).unwrap(),
            ["A=1", "B= spaced value ", "C=from-host", "D=", "E=x=y"]
        );
        assert!(parse("f", b"=x\n", &lookup)
            .unwrap_err()
            .contains("no variable name"));
        assert!(parse("f", b"A B=x\n", &lookup)
            .unwrap_err()
            .contains("whitespaces"));
        assert!(parse("f", b"A=\xff\n", &lookup)
            .unwrap_err()
            .contains("line 1"));
    }
}
