//! Markdown building blocks shared by the chapters and the reference pages.

/// Text safe inside `[...]` of a markdown link.
pub(super) fn link_text(s: &str) -> String {
    s.replace('[', "\\[").replace(']', "\\]")
}

/// Markdown inline code for any text (backticks inside get a longer fence).
pub fn code(s: &str) -> String {
    let s = s.replace('\n', " ");
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    if longest > 0 || s.starts_with(' ') || s.ends_with(' ') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// mdBook's id for a heading made of plain words.
pub fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// Escape prose from help text for markdown: `<` would open an HTML tag.
pub(super) fn escape_text(s: &str) -> String {
    s.replace('<', "&lt;")
}

/// Text for a table cell: one line, `|` escaped, `<` kept from opening HTML.
pub(super) fn cell(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    // Inside code spans `\|` still works in GFM tables; `<` is literal there.
    let mut out = String::new();
    let mut in_code = false;
    for c in s.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '|' => out.push_str("\\|"),
            '<' if !in_code => out.push_str("&lt;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_code_survives_backticks() {
        assert_eq!(code("ps"), "`ps`");
        assert_eq!(code("a`b"), "`` a`b ``");
    }

    #[test]
    fn anchors_like_mdbook() {
        assert_eq!(anchor("whale system df"), "whale-system-df");
    }

    #[test]
    fn cells_escape_pipes_and_tags() {
        assert_eq!(cell("a | b <x>"), "a \\| b &lt;x>");
        assert_eq!(cell("`<a|b>`"), "`<a\\|b>`");
    }
}
