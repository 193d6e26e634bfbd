//! `docker import --change` and `docker commit --change` lines: the Dockerfile instructions that only
//! touch the image config (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL,
//! EXPOSE, STOPSIGNAL). Variables (`$VAR`) are not substituted.

use super::config::RunConfig;
use super::ImageError;
use std::collections::BTreeMap;

fn bad(line: &str, why: impl std::fmt::Display) -> ImageError {
    ImageError::BadInput(format!("invalid change {line:?}: {why}"))
}

/// Apply `changes` in order to `config`.
pub fn apply_changes(config: &mut RunConfig, changes: &[String]) -> Result<(), ImageError> {
    let mut cmd_set = false;
    for line in changes {
        apply_one(config, line, &mut cmd_set)?;
    }
    Ok(())
}

fn apply_one(config: &mut RunConfig, line: &str, cmd_set: &mut bool) -> Result<(), ImageError> {
    let trimmed = line.trim();
    let (instr, rest) = match trimmed.split_once(char::is_whitespace) {
        Some((i, r)) => (i, r.trim()),
        None => (trimmed, ""),
    };
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.cmd = Some(command_form(line, rest)?);
            *cmd_set = true;
        }
        "ENTRYPOINT" => {
            config.entrypoint = Some(command_form(line, rest)?);
            // Dockerfile semantics: a new ENTRYPOINT drops an inherited CMD
            // unless a CMD was given in this same set of changes.
            if !*cmd_set {
                config.cmd = None;
            }
        }
        "ENV" => {
            for (k, v) in pairs(line, rest)? {
                let env = config.env.get_or_insert_with(Vec::new);
                let prefix = format!("{k}=");
                env.retain(|e| !e.starts_with(&prefix) && e != &k);
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            for (k, v) in pairs(line, rest)? {
                config.labels.get_or_insert_with(BTreeMap::new).insert(k, v);
            }
        }
        "WORKDIR" => {
            let dir = words(line, rest)?.join(" ");
            if dir.is_empty() {
                return Err(bad(line, "WORKDIR needs a path"));
            }
            let base = if config.working_dir.is_empty() { "/" } else { &config.working_dir };
            config.working_dir = clean_abs(&if dir.starts_with('/') { dir } else { format!("{base}/{dir}") });
        }
        "USER" => {
            if rest.is_empty() || rest.contains(char::is_whitespace) {
                return Err(bad(line, "USER takes one argument: user[:group]"));
            }
            config.user = rest.to_string();
        }
        "EXPOSE" => {
            let ports = words(line, rest)?;
            if ports.is_empty() {
                return Err(bad(line, "EXPOSE needs at least one port"));
            }
            for p in ports {
                for spec in expand_port(&p).map_err(|e| bad(line, e))? {
                    config
                        .exposed_ports
                        .get_or_insert_with(BTreeMap::new)
                        .insert(spec, serde_json::json!({}));
                }
            }
        }
        "STOPSIGNAL" => {
            if rest.is_empty() || rest.contains(char::is_whitespace) {
                return Err(bad(line, "STOPSIGNAL takes one signal name or number"));
            }
            config.stop_signal = Some(rest.to_string());
        }
        "VOLUME" => {
            // JSON array or space-separated paths, as the Dockerfile's VOLUME.
            let paths = match serde_json::from_str::<Vec<String>>(rest) {
                Ok(v) if rest.starts_with('[') => v,
                _ => words(line, rest)?,
            };
            if paths.is_empty() || paths.iter().any(|p| p.is_empty()) {
                return Err(bad(line, "VOLUME needs at least one path"));
            }
            for p in paths {
                config
                    .volumes
                    .get_or_insert_with(BTreeMap::new)
                    .insert(p, serde_json::json!({}));
            }
        }
        "ONBUILD" => {
            let trigger = rest.trim();
            let first = trigger.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            if first.is_empty() {
                return Err(bad(line, "ONBUILD needs an instruction"));
            }
            if matches!(first.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(bad(line, format!("{first} isn't allowed as an ONBUILD trigger")));
            }
            config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(trigger.to_string());
        }
        "" => return Err(bad(line, "empty change")),
        other => {
            return Err(bad(
                line,
                format!("whale does not apply {other} changes; use CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL, VOLUME or ONBUILD"),
            ))
        }
    }
    Ok(())
}

/// JSON exec form `["a","b"]`, else shell form run by `/bin/sh -c`.
pub fn command_form(line: &str, rest: &str) -> Result<Vec<String>, ImageError> {
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return Ok(v);
        }
    }
    if rest.is_empty() {
        return Err(bad(line, "needs a command (JSON array or shell form)"));
    }
    Ok(vec!["/bin/sh".into(), "-c".into(), rest.into()])
}

/// `k=v k2="v 2"`, or the legacy `KEY value with spaces`.
fn pairs(line: &str, rest: &str) -> Result<Vec<(String, String)>, ImageError> {
    let toks = words(line, rest)?;
    let Some(first) = toks.first() else {
        return Err(bad(line, "needs key=value"));
    };
    if !first.contains('=') {
        // Legacy form: first word is the key, the rest of the line the value.
        let value = rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..].trim();
        if value.is_empty() {
            return Err(bad(line, "needs key=value or `KEY value`"));
        }
        let value = words(line, value)?.join(" ");
        return Ok(vec![(first.clone(), value)]);
    }
    toks.into_iter()
        .map(|t| match t.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(bad(line, format!("{t:?} is not key=value"))),
        })
        .collect()
}

/// Split on whitespace honouring "double", 'single' quotes and backslashes.
fn words(line: &str, s: &str) -> Result<Vec<String>, ImageError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                in_word = true;
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => cur.push('\\'),
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(bad(line, "unterminated quote"));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn expand_port(p: &str) -> Result<Vec<String>, String> {
    let (range, proto) = match p.split_once('/') {
        Some((r, proto)) => (r, proto.to_ascii_lowercase()),
        None => (p, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "protocol {proto:?} in {p:?} must be tcp, udp or sctp"
        ));
    }
    let port = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("{s:?} in {p:?} is not a port number (1-65535)"))
    };
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(range)?, port(range)?),
    };
    if lo == 0 || hi < lo {
        return Err(format!("{p:?} is not a valid port or range"));
    }
    Ok((lo..=hi).map(|n| format!("{n}/{proto}")).collect())
}

/// Lexically clean an absolute path (`/a/./b/../c` -> `/a/c`).
fn clean_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(lines: &[&str]) -> RunConfig {
        let mut c = RunConfig::default();
        let lines: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        apply_changes(&mut c, &lines).unwrap();
        c
    }

    #[test]
    fn cmd_and_entrypoint_forms() {
        let c = apply(&[r#"CMD ["sh"]"#]);
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        let c = apply(&["CMD echo hi there"]);
        assert_eq!(
            c.cmd,
            Some(vec!["/bin/sh".into(), "-c".into(), "echo hi there".into()])
        );
        let c = apply(&[r#"ENTRYPOINT ["/bin/app", "-v"]"#, r#"CMD ["x"]"#]);
        assert_eq!(c.entrypoint, Some(vec!["/bin/app".into(), "-v".into()]));
        assert_eq!(c.cmd, Some(vec!["x".into()]));
        let mut base = RunConfig {
            cmd: Some(vec!["old".into()]),
            ..Default::default()
        };
        apply_changes(&mut base, &["ENTRYPOINT top".to_string()]).unwrap();
        assert_eq!(base.cmd, None);
    }

    #[test]
    fn env_label_expose_workdir_user() {
        let c = apply(&[
            "ENV A=1 B=\"two words\"",
            "ENV PATH /usr/bin:/bin",
            "env A=3",
            "LABEL maintainer=\"me <me@x>\" v=1",
            "EXPOSE 80 53/udp 8000-8001",
            "WORKDIR /srv",
            "WORKDIR app/../data",
            "USER nobody:nogroup",
            "STOPSIGNAL SIGQUIT",
        ]);
        assert_eq!(
            c.env,
            Some(vec![
                "B=two words".into(),
                "PATH=/usr/bin:/bin".into(),
                "A=3".into()
            ])
        );
        let labels = c.labels.unwrap();
        assert_eq!(labels["maintainer"], "me <me@x>");
        assert_eq!(labels["v"], "1");
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
        assert_eq!(c.working_dir, "/srv/data");
        assert_eq!(c.user, "nobody:nogroup");
        assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
    }

    #[test]
    fn bad_changes_are_refused() {
        for bad in [
            "RUN apt-get update",
            "ENV",
            "EXPOSE http",
            "EXPOSE 0",
            "USER",
            "CMD",
            "ENV A=\"x",
            "FROM busybox",
        ] {
            let mut c = RunConfig::default();
            let r = apply_changes(&mut c, &[bad.to_string()]);
            assert!(
                matches!(r, Err(ImageError::BadInput(_))),
                "{bad:?} accepted"
            );
        }
    }
}
