//! Lesson text and commands are Tera templates; `{{ cli }}` is the engine's
//! command-line client (`whale` or `docker`), so one lesson serves both.

#[derive(Debug, thiserror::Error)]
#[error("template error: {0}")]
pub struct TemplateError(String);

/// Render `text` with the lesson variables.
pub fn render(text: &str, cli: &str) -> Result<String, TemplateError> {
    // Plain text is the common case; skip Tera for it (and keep `{` alone).
    if !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
        return Ok(text.to_string());
    }
    let mut ctx = tera::Context::new();
    ctx.insert("cli", cli);
    tera::Tera::one_off(text, &ctx, false).map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            let line = s.to_string().replace('\n', " ");
            msg.push_str(": ");
            msg.push_str(line.trim());
            src = s.source();
        }
        TemplateError(msg.split_whitespace().collect::<Vec<_>>().join(" "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cli() {
        assert_eq!(render("`{{ cli }} ps`", "docker").unwrap(), "`docker ps`");
        assert_eq!(render("no vars", "whale").unwrap(), "no vars");
        assert!(render("{{ nope }}", "whale").is_err());
        assert!(render("{{ cli ", "whale").is_err());
    }
}
