//! `.dockerignore`: Docker's rules for what a build context leaves out.
//! The CLI applies them when it sends a context; the daemon applies them
//! to the Dockerfile and `.dockerignore` themselves, which the CLI always
//! sends and the daemon then drops when they are ignored.

/// One `.dockerignore` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct IgnoreRule {
    pub pattern: Vec<String>,
    pub negate: bool,
}

pub fn parse(text: &str) -> Vec<IgnoreRule> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (negate, p) = match l.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, l),
            };
            let pattern = p
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .map(String::from)
                .collect();
            IgnoreRule { pattern, negate }
        })
        .filter(|r| !r.pattern.is_empty())
        .collect()
}

fn glob_component(p: &[u8], n: &[u8]) -> bool {
    match (p.first(), n.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_component(&p[1..], n) || (!n.is_empty() && glob_component(p, &n[1..]))
        }
        (Some(b'?'), Some(_)) => glob_component(&p[1..], &n[1..]),
        (Some(a), Some(b)) if a == b => glob_component(&p[1..], &n[1..]),
        _ => false,
    }
}

/// Does `pattern` match `path` or one of its parent dirs (`**` spans dirs)?
fn pattern_matches(pattern: &[String], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, _) => true, // a matched parent excludes everything below it
        (Some(p), _) if p == "**" => {
            pattern_matches(&pattern[1..], path)
                || (!path.is_empty() && pattern_matches(pattern, &path[1..]))
        }
        (Some(p), Some(n)) => {
            glob_component(p.as_bytes(), n.as_bytes()) && pattern_matches(&pattern[1..], &path[1..])
        }
        (Some(_), None) => false,
    }
}

pub fn ignored(rules: &[IgnoreRule], rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    let mut out = false;
    for r in rules {
        if pattern_matches(&r.pattern, &parts) {
            out = !r.negate;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_rules() {
        let rules = parse("# c\n*.log\nbuild/\n!build/keep\n**/tmp\n\n");
        assert!(ignored(&rules, "a.log"));
        assert!(!ignored(&rules, "sub/a.log"));
        assert!(ignored(&rules, "build"));
        assert!(ignored(&rules, "build/x"));
        assert!(!ignored(&rules, "build/keep"));
        assert!(ignored(&rules, "x/y/tmp"));
        assert!(ignored(&rules, "tmp/z"));
        assert!(!ignored(&rules, "src/main.rs"));
    }
}
