//! docker's `--detach-keys` syntax, read by the CLI (to validate the flag)
//! and by the shim (to watch the stream for the sequence).

/// Docker's `--detach-keys` syntax: `ctrl-p,ctrl-q` -> [0x10, 0x11],
/// `a,ctrl-[` -> [b'a', 0x1b]. None when the spec is not valid.
pub fn parse_detach_keys(spec: &str) -> Option<Vec<u8>> {
    let mut keys = Vec::new();
    for key in spec.split(',') {
        let key = key.trim();
        if let Some(rest) = key.strip_prefix("ctrl-") {
            let mut chars = rest.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return None;
            };
            keys.push(match c.to_ascii_lowercase() {
                l @ 'a'..='z' => l as u8 - b'a' + 1,
                '@' => 0,
                '[' => 27,
                '\\' => 28,
                ']' => 29,
                '^' => 30,
                '_' => 31,
                _ => return None,
            });
        } else {
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii() => keys.push(c as u8),
                _ => return None,
            }
        }
    }
    (!keys.is_empty()).then_some(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q"), Some(vec![0x10, 0x11]));
        assert_eq!(
            parse_detach_keys("a,ctrl-[,ctrl-@"),
            Some(vec![b'a', 27, 0])
        );
        for bad in ["", "ctrl-", "ctrl-pq", "ab", "ctrl-1"] {
            assert_eq!(parse_detach_keys(bad), None, "{bad:?}");
        }
    }
}
