//! The Dockerfile parser: parser directives (`# escape=`), comments, line
//! continuations, and the instructions whale builds (FROM, RUN, CMD,
//! ENTRYPOINT, ENV, WORKDIR, ADD, COPY, USER, LABEL, EXPOSE, ARG, VOLUME,
//! SHELL, HEALTHCHECK, ONBUILD, STOPSIGNAL and MAINTAINER). Variables are
//! substituted by the builder, not here: their values depend on the build's
//! state.

use std::fmt;

use super::words::unquote;
pub use super::words::{split_words, substitute};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// A command as written: `RUN echo hi` (shell) or `RUN ["echo", "hi"]` (exec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandForm {
    Shell(String),
    Exec(Vec<String>),
}

impl CommandForm {
    /// The argv Docker runs: the shell form goes through `/bin/sh -c`.
    pub fn argv(&self) -> Vec<String> {
        match self {
            CommandForm::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
            CommandForm::Exec(v) => v.clone(),
        }
    }
}

/// One `SRC... DEST` instruction (ADD or COPY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    pub sources: Vec<String>,
    pub dest: String,
    /// `--chown=UID[:GID]`.
    pub chown: Option<String>,
    /// `COPY --from=IMAGE`: the sources are paths in that image, not in
    /// the context.
    pub from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    From {
        image: String,
        alias: Option<String>,
    },
    Run(CommandForm),
    Cmd(CommandForm),
    Entrypoint(CommandForm),
    /// Key/value pairs, values still unsubstituted.
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Arg {
        name: String,
        default: Option<String>,
    },
    Copy(CopySpec),
    Add(CopySpec),
    StopSignal(String),
    Maintainer(String),
    /// The arguments as written: a JSON array, or words (substituted and
    /// unquoted by the builder).
    Volume(String),
    /// `SHELL ["executable", "params"...]`.
    Shell(Vec<String>),
    /// `HEALTHCHECK NONE` is `None`.
    Healthcheck(Option<Healthcheck>),
    /// `ONBUILD INSTRUCTION`: the trigger's text, run in child builds.
    Onbuild(String),
}

/// `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D]
/// [--retries=N] CMD ...`, durations in nanoseconds (0: unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD-SHELL", "cmd"]` for the shell form, `["CMD", args...]` for
    /// the exec form, as Docker stores them.
    pub test: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub retries: i64,
}

impl Kind {
    pub fn keyword(&self) -> &'static str {
        match self {
            Kind::From { .. } => "FROM",
            Kind::Run(_) => "RUN",
            Kind::Cmd(_) => "CMD",
            Kind::Entrypoint(_) => "ENTRYPOINT",
            Kind::Env(_) => "ENV",
            Kind::Label(_) => "LABEL",
            Kind::Workdir(_) => "WORKDIR",
            Kind::User(_) => "USER",
            Kind::Expose(_) => "EXPOSE",
            Kind::Arg { .. } => "ARG",
            Kind::Copy(_) => "COPY",
            Kind::Add(_) => "ADD",
            Kind::StopSignal(_) => "STOPSIGNAL",
            Kind::Maintainer(_) => "MAINTAINER",
            Kind::Volume(_) => "VOLUME",
            Kind::Shell(_) => "SHELL",
            Kind::Healthcheck(_) => "HEALTHCHECK",
            Kind::Onbuild(_) => "ONBUILD",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line of the instruction's first line.
    pub line: usize,
    /// The instruction as Docker prints it in `Step N/M : ...`: continuation
    /// lines joined, the escape and newline removed.
    pub original: String,
    pub kind: Kind,
}

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub escape: char,
    pub instructions: Vec<Instruction>,
}

/// Parse a Dockerfile; `file` names it in errors (`Dockerfile:3: ...`).
pub fn parse(file: &str, text: &str) -> Result<Dockerfile, ParseError> {
    let err = |line: usize, message: String| ParseError {
        file: file.to_string(),
        line,
        message,
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut escape = '\\';
    let mut i = 0;
    // Parser directives: only at the very top, before any blank line,
    // comment that is not a directive, or instruction.
    let mut seen_directives: Vec<String> = Vec::new();
    while i < lines.len() {
        let Some((key, value)) = directive(lines[i]) else {
            break;
        };
        if seen_directives.contains(&key) {
            return Err(err(
                i + 1,
                format!("only one {key} parser directive can be used"),
            ));
        }
        if key == "escape" {
            escape = match value.as_str() {
                "\\" => '\\',
                "`" => '`',
                other => {
                    return Err(err(
                        i + 1,
                        format!("invalid escape token {other:?}: it must be ` or \\"),
                    ))
                }
            };
        }
        seen_directives.push(key);
        i += 1;
    }

    let mut instructions = Vec::new();
    while i < lines.len() {
        let start = i;
        let first = lines[i];
        i += 1;
        let trimmed = first.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // Join continuation lines; comment lines and empty lines inside a
        // continued instruction are dropped, as Docker does.
        let mut joined = String::new();
        let mut current = trim_trailing_ws(first).to_string();
        while let Some(head) = current.strip_suffix(escape) {
            joined.push_str(head);
            // Find the next line that is not a comment or blank.
            let mut next = None;
            while i < lines.len() {
                let l = lines[i];
                i += 1;
                let t = l.trim_start();
                if t.starts_with('#') || t.is_empty() {
                    continue;
                }
                next = Some(l);
                break;
            }
            match next {
                Some(l) => current = trim_trailing_ws(l).to_string(),
                None => {
                    current = String::new();
                    break;
                }
            }
        }
        joined.push_str(&current);
        let original = joined.trim().to_string();
        let kind = parse_instruction(&original, escape).map_err(|m| err(start + 1, m))?;
        instructions.push(Instruction {
            line: start + 1,
            original,
            kind,
        });
    }
    match instructions.first() {
        None => Err(err(
            lines.len().max(1),
            "the Dockerfile has no instructions: it needs at least a FROM".into(),
        )),
        Some(first) if !matches!(first.kind, Kind::From { .. } | Kind::Arg { .. }) => Err(err(
            first.line,
            format!(
                "the first instruction must be FROM (or ARG before FROM), not {}",
                first.kind.keyword()
            ),
        )),
        Some(_) => Ok(Dockerfile {
            escape,
            instructions,
        }),
    }
}

/// An ONBUILD trigger as an instruction of the child build.
pub fn parse_trigger(text: &str, escape: char) -> Result<Instruction, String> {
    Ok(Instruction {
        line: 0,
        original: text.to_string(),
        kind: parse_instruction(text, escape)?,
    })
}

fn trim_trailing_ws(s: &str) -> &str {
    s.trim_end_matches([' ', '\t', '\r'])
}

/// `# key=value` at the top of the file, for the directives Docker knows.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix('#')?;
    let (k, v) = rest.split_once('=')?;
    let key = k.trim().to_ascii_lowercase();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    if !matches!(key.as_str(), "escape" | "syntax" | "check") {
        return None;
    }
    Some((key, v.trim().to_string()))
}

fn parse_instruction(original: &str, escape: char) -> Result<Kind, String> {
    let (kw, rest) = match original.split_once(|c: char| c.is_whitespace()) {
        Some((k, r)) => (k, r.trim_start()),
        None => (original, ""),
    };
    let keyword = kw.to_ascii_uppercase();
    let need_args = |what: &str| -> Result<(), String> {
        if rest.is_empty() {
            Err(format!("{keyword} requires {what}"))
        } else {
            Ok(())
        }
    };
    Ok(match keyword.as_str() {
        "FROM" => {
            need_args("exactly one argument (an image), or IMAGE AS NAME")?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            if words.first().is_some_and(|w| w.starts_with("--")) {
                return Err(format!("FROM flag {} is not supported by whale", words[0]));
            }
            match words.as_slice() {
                [image] => Kind::From {
                    image: image.to_string(),
                    alias: None,
                },
                [image, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => Kind::From {
                    image: image.to_string(),
                    alias: Some(name.to_ascii_lowercase()),
                },
                _ => {
                    return Err(format!(
                        "FROM requires either one argument, or three: FROM <source> [AS <name>]; got {rest:?}"
                    ))
                }
            }
        }
        "RUN" => {
            need_args("at least one argument")?;
            Kind::Run(command_form(rest))
        }
        "CMD" => Kind::Cmd(command_form(rest)),
        "ENTRYPOINT" => Kind::Entrypoint(command_form(rest)),
        "ENV" => {
            need_args("at least one argument")?;
            Kind::Env(key_values("ENV", rest, escape)?)
        }
        "LABEL" => {
            need_args("at least one argument")?;
            Kind::Label(key_values("LABEL", rest, escape)?)
        }
        "WORKDIR" => {
            need_args("exactly one argument")?;
            Kind::Workdir(rest.to_string())
        }
        "USER" => {
            need_args("exactly one argument")?;
            Kind::User(rest.to_string())
        }
        "EXPOSE" => {
            need_args("at least one argument")?;
            Kind::Expose(rest.split_whitespace().map(String::from).collect())
        }
        "STOPSIGNAL" => {
            need_args("exactly one argument")?;
            Kind::StopSignal(rest.to_string())
        }
        "MAINTAINER" => {
            need_args("exactly one argument")?;
            Kind::Maintainer(rest.to_string())
        }
        "ARG" => {
            need_args("exactly one argument")?;
            let words = split_words(rest, escape)?;
            if words.len() != 1 {
                return Err(format!(
                    "ARG requires exactly one argument (NAME or NAME=default); got {rest:?}"
                ));
            }
            match words[0].split_once('=') {
                Some((n, v)) => Kind::Arg {
                    name: n.to_string(),
                    default: Some(v.to_string()),
                },
                None => Kind::Arg {
                    name: words[0].clone(),
                    default: None,
                },
            }
        }
        "COPY" | "ADD" => {
            need_args("at least two arguments: a source and a destination")?;
            let spec = copy_spec(&keyword, rest, escape)?;
            if keyword == "COPY" {
                Kind::Copy(spec)
            } else {
                Kind::Add(spec)
            }
        }
        "VOLUME" => {
            need_args("at least one argument")?;
            Kind::Volume(rest.to_string())
        }
        "SHELL" => match serde_json::from_str::<Vec<String>>(rest) {
            Ok(v) if !v.is_empty() => Kind::Shell(v),
            _ => {
                return Err(format!(
                    "SHELL requires the arguments to be in JSON form, like SHELL [\"/bin/sh\", \"-c\"]; got {rest:?}"
                ))
            }
        },
        "HEALTHCHECK" => Kind::Healthcheck(healthcheck(rest)?),
        "ONBUILD" => {
            need_args("at least one argument: the instruction to run in child builds")?;
            let trigger = rest.split_whitespace().next().unwrap_or("");
            match trigger.to_ascii_uppercase().as_str() {
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into())
                }
                "FROM" | "MAINTAINER" => {
                    return Err(format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        trigger.to_ascii_uppercase()
                    ))
                }
                _ => {}
            }
            // Checked now, so a bad trigger fails here and not in a child.
            parse_instruction(rest, escape)?;
            Kind::Onbuild(rest.to_string())
        }
        _ => return Err(format!("unknown instruction: {kw}")),
    })
}

/// `HEALTHCHECK`'s flags and command, with Docker's checks.
fn healthcheck(rest: &str) -> Result<Option<Healthcheck>, String> {
    let mut rest = rest.trim_start();
    let mut hc = Healthcheck {
        test: Vec::new(),
        interval: 0,
        timeout: 0,
        start_period: 0,
        retries: 0,
    };
    let mut flags = Vec::new();
    while let Some(flag) = rest.strip_prefix("--") {
        let (word, after) = match flag.split_once(char::is_whitespace) {
            Some((w, a)) => (w, a.trim_start()),
            None => (flag, ""),
        };
        let Some((name, value)) = word.split_once('=') else {
            return Err(format!(
                "HEALTHCHECK flag --{word} needs a value: write --{word}=VALUE"
            ));
        };
        let dur = |v: &str| -> Result<i64, String> {
            let ns = parse_go_duration(v).ok_or_else(|| {
                format!("HEALTHCHECK --{name}={v}: not a duration (like 30s, 1m30s, 500ms)")
            })?;
            if ns != 0 && ns < 1_000_000 {
                return Err(format!("HEALTHCHECK --{name}={v} cannot be less than 1ms"));
            }
            Ok(ns)
        };
        match name {
            "interval" => hc.interval = dur(value)?,
            "timeout" => hc.timeout = dur(value)?,
            "start-period" => hc.start_period = dur(value)?,
            "retries" => {
                hc.retries = value.parse::<i64>().map_err(|_| {
                    format!("HEALTHCHECK --retries={value}: not a whole number")
                })?;
                if hc.retries < 0 {
                    return Err("HEALTHCHECK --retries cannot be negative".into());
                }
            }
            _ => {
                return Err(format!(
                    "unknown flag for HEALTHCHECK: --{name} (whale knows --interval, --timeout, --start-period, --retries)"
                ))
            }
        }
        flags.push(name.to_string());
        rest = after;
    }
    let (kw, cmd) = match rest.split_once(char::is_whitespace) {
        Some((k, c)) => (k, c.trim_start()),
        None => (rest, ""),
    };
    match kw.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !cmd.is_empty() || !flags.is_empty() {
                return Err("HEALTHCHECK NONE takes no arguments".into());
            }
            Ok(None)
        }
        "CMD" => {
            if cmd.is_empty() {
                return Err("Missing command after HEALTHCHECK CMD".into());
            }
            hc.test = match command_form(cmd) {
                CommandForm::Exec(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
                CommandForm::Shell(s) => vec!["CMD-SHELL".to_string(), s],
            };
            Ok(Some(hc))
        }
        "" => Err("HEALTHCHECK requires CMD COMMAND or NONE".into()),
        other => Err(format!(
            "Unknown type {other:?} in HEALTHCHECK (try CMD or NONE)"
        )),
    }
}

// Go's `time.ParseDuration` has one home, with `logs --since` and the
// `until` filters.
use whale_formats::timestamp::parse_go_duration;

/// Exec form when the arguments are a JSON array of strings, else shell form.
fn command_form(rest: &str) -> CommandForm {
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return CommandForm::Exec(v);
        }
    }
    CommandForm::Shell(rest.to_string())
}

fn copy_spec(keyword: &str, rest: &str, escape: char) -> Result<CopySpec, String> {
    let mut rest = rest;
    let mut chown = None;
    let mut from = None;
    while let Some(flag) = rest.strip_prefix("--") {
        let (word, after) = match flag.split_once(char::is_whitespace) {
            Some((w, a)) => (w, a.trim_start()),
            None => (flag, ""),
        };
        let (name, value) = word.split_once('=').unwrap_or((word, ""));
        match name {
            "chown" if !value.is_empty() => chown = Some(value.to_string()),
            "from" if keyword != "COPY" => {
                return Err(format!(
                    "{keyword} has no --from flag; use COPY --from=IMAGE"
                ))
            }
            "from" if !value.is_empty() => from = Some(value.to_string()),
            _ => return Err(format!("unknown flag for {keyword}: --{word}")),
        }
        rest = after;
    }
    let words = if rest.starts_with('[') {
        serde_json::from_str::<Vec<String>>(rest)
            .map_err(|e| format!("{keyword} in JSON form must be an array of strings: {e}"))?
    } else {
        split_words(rest, escape)?
    };
    if words.len() < 2 {
        return Err(format!(
            "{keyword} requires at least two arguments (a source and a destination), got {rest:?}"
        ));
    }
    let mut sources = words;
    let dest = sources.pop().unwrap_or_default();
    Ok(CopySpec {
        sources,
        dest,
        chown,
        from,
    })
}

/// `k=v k2="v 2"`, or the legacy `KEY value with spaces` (one pair).
fn key_values(keyword: &str, rest: &str, escape: char) -> Result<Vec<(String, String)>, String> {
    let first_word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if !rest[..first_word_end].contains('=') {
        // Legacy form: the first word is the key, the rest the value.
        let key = &rest[..first_word_end];
        let value = rest[first_word_end..].trim();
        if keyword == "LABEL" || value.is_empty() {
            return Err(format!(
                "{keyword} needs KEY=VALUE pairs (or `{keyword} KEY VALUE`); {key:?} has no value"
            ));
        }
        return Ok(vec![(key.to_string(), unquote(value, escape)?)]);
    }
    let mut out = Vec::new();
    for w in split_words(rest, escape)? {
        match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
            _ => {
                return Err(format!(
                    "{keyword} names must be followed by =VALUE: {w:?} has no '='"
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Kind> {
        parse("Dockerfile", text)
            .unwrap()
            .instructions
            .into_iter()
            .map(|i| i.kind)
            .collect()
    }

    fn err(text: &str) -> String {
        parse("Dockerfile", text).unwrap_err().to_string()
    }

    #[test]
    fn the_course_dockerfile() {
        let df = parse(
            "Dockerfile",
            "FROM debian:bookworm\nRUN apt-get update\nRUN apt-get install -y ipython3\nCMD ipython3\n",
        )
        .unwrap();
        assert_eq!(df.instructions.len(), 4);
        assert_eq!(
            df.instructions[2].original,
            "RUN apt-get install -y ipython3"
        );
        assert_eq!(df.instructions[2].line, 3);
        assert_eq!(
            df.instructions[0].kind,
            Kind::From {
                image: "debian:bookworm".into(),
                alias: None
            }
        );
        assert_eq!(
            df.instructions[3].kind,
            Kind::Cmd(CommandForm::Shell("ipython3".into()))
        );
    }

    #[test]
    fn exec_and_shell_forms() {
        let k = kinds("FROM a\nRUN [\"echo\", \"hi there\"]\nRUN [not json\nENTRYPOINT [\"/bin/sh\"]\nCMD []\n");
        assert_eq!(
            k[1],
            Kind::Run(CommandForm::Exec(vec!["echo".into(), "hi there".into()]))
        );
        assert_eq!(k[2], Kind::Run(CommandForm::Shell("[not json".into())));
        assert_eq!(
            k[3],
            Kind::Entrypoint(CommandForm::Exec(vec!["/bin/sh".into()]))
        );
        assert_eq!(k[4], Kind::Cmd(CommandForm::Exec(vec![])));
        assert_eq!(
            CommandForm::Shell("a b".into()).argv(),
            ["/bin/sh", "-c", "a b"]
        );
    }

    #[test]
    fn comments_blank_lines_and_continuations() {
        let df = parse(
            "Dockerfile",
            "# a comment\n\nfrom busybox\n  # indented comment\nRUN echo a && \\\n# inside\n\n    echo b\nRUN echo c \\   \n  d\n",
        )
        .unwrap();
        let i = &df.instructions;
        assert_eq!(i.len(), 3);
        assert_eq!(i[0].original, "from busybox");
        assert_eq!(i[1].original, "RUN echo a &&     echo b");
        assert_eq!(i[1].line, 5);
        assert_eq!(i[2].original, "RUN echo c   d");
        assert_eq!(i[2].line, 9);
    }

    #[test]
    fn a_comment_after_a_command_is_part_of_it() {
        let k = kinds("FROM a\nRUN git pull myrepo #31-01-2017\n");
        assert_eq!(
            k[1],
            Kind::Run(CommandForm::Shell("git pull myrepo #31-01-2017".into()))
        );
    }

    #[test]
    fn escape_directive() {
        let df = parse(
            "Dockerfile",
            "# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo x\nCOPY a` b c:\\dest\\\n",
        )
        .unwrap();
        assert_eq!(df.escape, '`');
        assert_eq!(df.instructions[1].original, "RUN dir c:\\   && echo x");
        assert_eq!(
            df.instructions[2].kind,
            Kind::Copy(CopySpec {
                sources: vec!["a b".into()],
                dest: "c:\\dest\\".into(),
                chown: None,
                from: None
            })
        );
        // A directive after anything else is a plain comment.
        let df = parse("Dockerfile", "FROM a\n# escape=`\nRUN x \\\n y\n").unwrap();
        assert_eq!(df.escape, '\\');
        assert_eq!(df.instructions[1].original, "RUN x  y");
        assert!(err("# escape=x\nFROM a\n").contains("Dockerfile:1: invalid escape token"));
        assert!(err("# escape=`\n# escape=\\\nFROM a\n").contains("Dockerfile:2: only one escape"));
    }

    #[test]
    fn env_and_label_forms() {
        let k = kinds("FROM a\nENV A=1 B=\"two words\" C=three\\ words\nENV LEGACY some value here\nLABEL \"com.example.v\"=\"1.0\" x='y z'\n");
        assert_eq!(
            k[1],
            Kind::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "three words".into())
            ])
        );
        assert_eq!(
            k[2],
            Kind::Env(vec![("LEGACY".into(), "some value here".into())])
        );
        assert_eq!(
            k[3],
            Kind::Label(vec![
                ("com.example.v".into(), "1.0".into()),
                ("x".into(), "y z".into())
            ])
        );
        assert!(err("FROM a\nENV A=1 B\n")
            .contains("Dockerfile:2: ENV names must be followed by =VALUE"));
        assert!(err("FROM a\nENV ONLYKEY\n").contains("Dockerfile:2:"));
        assert!(err("FROM a\nENV A=\"open\n").contains("unmatched double quote"));
    }

    #[test]
    fn copy_add_arg_expose_user_workdir() {
        let k = kinds("ARG BASE=busybox\nFROM $BASE AS build\nCOPY --chown=1:2 a b /dst/\nADD [\"x y\", \"/z\"]\nARG V\nEXPOSE 80 443/udp\nUSER nobody\nWORKDIR /app\nSTOPSIGNAL SIGINT\n");
        assert_eq!(
            k[0],
            Kind::Arg {
                name: "BASE".into(),
                default: Some("busybox".into())
            }
        );
        assert_eq!(
            k[1],
            Kind::From {
                image: "$BASE".into(),
                alias: Some("build".into())
            }
        );
        assert_eq!(
            k[2],
            Kind::Copy(CopySpec {
                sources: vec!["a".into(), "b".into()],
                dest: "/dst/".into(),
                chown: Some("1:2".into()),
                from: None
            })
        );
        assert_eq!(
            k[3],
            Kind::Add(CopySpec {
                sources: vec!["x y".into()],
                dest: "/z".into(),
                chown: None,
                from: None
            })
        );
        assert_eq!(
            k[4],
            Kind::Arg {
                name: "V".into(),
                default: None
            }
        );
        assert_eq!(k[5], Kind::Expose(vec!["80".into(), "443/udp".into()]));
        assert_eq!(k[6], Kind::User("nobody".into()));
        assert_eq!(k[7], Kind::Workdir("/app".into()));
        assert_eq!(k[8], Kind::StopSignal("SIGINT".into()));
    }

    #[test]
    fn copy_from_an_image() {
        let k = kinds(
            "FROM debian\nCOPY --from=busybox:latest --chown=0:0 /bin/busybox /usr/local/bin/\n",
        );
        assert_eq!(
            k[1],
            Kind::Copy(CopySpec {
                sources: vec!["/bin/busybox".into()],
                dest: "/usr/local/bin/".into(),
                chown: Some("0:0".into()),
                from: Some("busybox:latest".into())
            })
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            err("FROM a\n\nFOO bar\n"),
            "Dockerfile:3: unknown instruction: FOO"
        );
        assert!(err("RUN x\n").starts_with("Dockerfile:1: the first instruction must be FROM"));
        assert!(err("# only a comment\n").contains("no instructions"));
        assert!(err("FROM a\nCOPY onlyone\n").contains("Dockerfile:2: COPY requires at least two"));
        assert!(err("FROM a\nADD --from=x a b\n").contains("ADD has no --from"));
        assert!(err("FROM a\nCOPY --from= a b\n").contains("unknown flag"));
        assert!(err("FROM a b\n").contains("Dockerfile:1: FROM requires"));
        assert!(err("FROM a\nRUN\n").contains("Dockerfile:2: RUN requires"));
        assert!(err("FROM a\nARG a b\n").contains("ARG requires exactly one"));
        assert!(err("FROM a\nHEALTHCHECK NONE x\n").contains("takes no arguments"));
        assert!(err("FROM a\nHEALTHCHECK --retries=-1 CMD x\n").contains("negative"));
        assert!(err("FROM a\nHEALTHCHECK --interval=1us CMD x\n").contains("less than 1ms"));
        assert!(err("FROM a\nHEALTHCHECK --bogus=1 CMD x\n").contains("--bogus"));
        assert!(err("FROM a\nHEALTHCHECK CMD\n").contains("Missing command"));
        assert!(err("FROM a\nSHELL /bin/sh -c\n").contains("JSON form"));
        assert!(err("FROM a\nONBUILD ONBUILD RUN x\n").contains("Chaining"));
        assert!(err("FROM a\nONBUILD FROM x\n").contains("isn't allowed"));
        assert!(err("FROM a\nONBUILD BOGUS x\n").contains("unknown instruction"));
        let e = parse("sub/Dockerfile.dev", "FROM a\nBAD\n").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("sub/Dockerfile.dev", 2));
    }

    #[test]
    fn volume_shell_healthcheck_onbuild() {
        let k = kinds("FROM a\nVOLUME /data [\"/logs\"]\nSHELL [\"/bin/sh\", \"-ec\"]\nHEALTHCHECK --interval=5s --timeout=1m30s --retries=4 CMD wget -q x || exit 1\nHEALTHCHECK CMD [\"true\", \"a\"]\nhealthcheck none\nONBUILD RUN echo hi\n");
        assert_eq!(k[1], Kind::Volume("/data [\"/logs\"]".into()));
        assert_eq!(k[2], Kind::Shell(vec!["/bin/sh".into(), "-ec".into()]));
        assert_eq!(
            k[3],
            Kind::Healthcheck(Some(Healthcheck {
                test: vec!["CMD-SHELL".into(), "wget -q x || exit 1".into()],
                interval: 5_000_000_000,
                timeout: 90_000_000_000,
                start_period: 0,
                retries: 4
            }))
        );
        match &k[4] {
            Kind::Healthcheck(Some(h)) => assert_eq!(h.test, ["CMD", "true", "a"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(k[5], Kind::Healthcheck(None));
        assert_eq!(k[6], Kind::Onbuild("RUN echo hi".into()));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("1h0m0s"), Some(3_600_000_000_000));
        assert_eq!(parse_go_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("s"), None);
    }

    #[test]
    fn continuation_at_end_of_file() {
        let df = parse("Dockerfile", "FROM a\nRUN echo \\\n").unwrap();
        assert_eq!(df.instructions[1].original, "RUN echo");
    }
}
