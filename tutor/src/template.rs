//! Lesson text and commands are Tera templates; `{{ cli }}` is the engine's
//! command-line client (`whale` or `docker`), so one lesson serves both, and
//! `{{ socket }}` is the path of the engine's API socket (for `curl
//! --unix-socket` and client libraries), and `{{ rootless }}` is true when
//! the engine runs as a normal user, in a user namespace (so a lesson's text
//! can say `{% if rootless %}...{% endif %}` where root and rootless differ:
//! root in the container is the student outside).
//!
//! The socket differs between a student's engine, a private dockerd and
//! verify's sandbox: text for readers (the book) shows the engine's default
//! socket ([`render`]); commands that RUN use the real one ([`render_for`]).
//!
//! `{{ cgroup }}` (`v1`, `hybrid`, `v2`), `{{ cgroup_driver }}` (`cgroupfs`,
//! `systemd`) and `{{ cgroup_group }}` (where a container's group sits) let a
//! lesson print the machine's cgroup paths: the machine's in everything run
//! or shown against an engine, today's default (v2) for readers of the book
//! (see [`crate::cgroup`]).
//!
//! Docker's own `--format` templates (`{{.State.ExitCode}}`, `{{json .Config}}`)
//! are Go templates, which the course must print and run literally. A `{{ }}`
//! whose inside starts with `.` or a Go-template word is passed through
//! untouched, so authors write `inspect -f '{{.State.Pid}}' web` as is.

use crate::cgroup::CgroupVars;
use crate::engine::Engine;

#[derive(Debug, thiserror::Error)]
#[error("template error: {0}")]
pub struct TemplateError(String);

/// The values of the lesson variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vars {
    /// `whale` or `docker`.
    pub cli: String,
    /// The engine's API socket path.
    pub socket: String,
    /// The engine runs rootless (its containers' root is the user).
    pub rootless: bool,
    /// The cgroup layout and driver (lesson 12's paths).
    pub cgroup: CgroupVars,
}

/// The socket an engine listens on when nothing says otherwise.
pub fn default_socket(cli: &str) -> &'static str {
    match cli {
        "docker" => crate::engine::DOCKER_SOCKET,
        _ => crate::engine::WHALE_SOCKET,
    }
}

impl From<&str> for Vars {
    /// The engine's default socket: what a reader of the book has.
    fn from(cli: &str) -> Vars {
        Vars {
            cli: cli.to_string(),
            socket: default_socket(cli).to_string(),
            rootless: false,
            cgroup: CgroupVars::for_reader(cli),
        }
    }
}

impl From<&Engine> for Vars {
    /// The socket this engine really listens on.
    fn from(engine: &Engine) -> Vars {
        Vars {
            cli: engine.cli().to_string(),
            socket: engine.socket.display().to_string(),
            rootless: engine.rootless(),
            cgroup: CgroupVars::for_engine(engine),
        }
    }
}

/// Render `text` with the lesson variables; `socket` is the default socket
/// of `cli` (for text shown to readers).
pub fn render(text: &str, cli: &str) -> Result<String, TemplateError> {
    render_vars(text, &Vars::from(cli))
}

/// Render `text` for commands run against `engine`: `socket` is its real
/// socket (verify's sandbox, `-H`, `DOCKER_HOST`).
pub fn render_for(text: &str, engine: &Engine) -> Result<String, TemplateError> {
    render_vars(text, &Vars::from(engine))
}

/// Render `text` with the given variables.
pub fn render_vars(text: &str, vars: &Vars) -> Result<String, TemplateError> {
    // Plain text is the common case; skip Tera for it (and keep `{` alone).
    if !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
        return Ok(text.to_string());
    }
    let (protected, go) = protect_go_templates(text);
    let mut ctx = tera::Context::new();
    ctx.insert("cli", &vars.cli);
    ctx.insert("socket", &vars.socket);
    ctx.insert("rootless", &vars.rootless);
    ctx.insert("cgroup", vars.cgroup.layout);
    ctx.insert("cgroup_driver", &vars.cgroup.driver);
    ctx.insert("cgroup_group", &vars.cgroup.group);
    let rendered = tera::Tera::one_off(&protected, &ctx, false).map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            let line = s.to_string().replace('\n', " ");
            msg.push_str(": ");
            msg.push_str(line.trim());
            src = s.source();
        }
        TemplateError(msg.split_whitespace().collect::<Vec<_>>().join(" "))
    })?;
    Ok(restore_go_templates(&rendered, &go))
}

/// Words that begin a Go template action but never a Tera expression here.
const GO_WORDS: &[&str] = &[
    "json", "range", "end", "index", "printf", "println", "print", "table", "with", "len", "if",
    "else", "join", "upper", "lower", "title", "split", "truncate", "pad",
];

// Private-use characters: never in lesson text, untouched by Tera.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// Replace each Go template action by a numbered placeholder.
fn protect_go_templates(text: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut saved = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(len) = after.find("}}").map(|e| e + 2) else {
            out.push_str(after);
            return (out, saved);
        };
        let action = &after[..len];
        let inner = action[2..len - 2].trim_start_matches('-').trim();
        let first = inner.split_whitespace().next().unwrap_or("");
        if inner.starts_with('.') || inner.starts_with('$') || GO_WORDS.contains(&first) {
            out.push(OPEN);
            out.push_str(&saved.len().to_string());
            out.push(CLOSE);
            saved.push(action.to_string());
        } else {
            out.push_str(action);
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    (out, saved)
}

fn restore_go_templates(text: &str, saved: &[String]) -> String {
    if saved.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        match after.find(CLOSE) {
            Some(end) => {
                match after[..end]
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| saved.get(i))
                {
                    Some(action) => out.push_str(action),
                    None => out.push_str(&rest[start..start + OPEN.len_utf8() + end + 1]),
                }
                rest = &after[end + CLOSE.len_utf8()..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
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

    #[test]
    fn renders_socket() {
        let t = "curl --unix-socket {{ socket }} http://localhost/_ping";
        assert_eq!(
            render(t, "whale").unwrap(),
            "curl --unix-socket /run/whale/whale.sock http://localhost/_ping"
        );
        assert_eq!(
            render(t, "docker").unwrap(),
            "curl --unix-socket /var/run/docker.sock http://localhost/_ping"
        );
        assert_eq!(
            render_vars(
                t,
                &Vars {
                    socket: "/tmp/d/docker.sock".into(),
                    rootless: false,
                    ..Vars::from("docker")
                }
            )
            .unwrap(),
            "curl --unix-socket /tmp/d/docker.sock http://localhost/_ping"
        );
        let sandbox = Engine {
            kind: crate::engine::EngineKind::Whale,
            socket: "/tmp/whaletutor-verify-x/whale.sock".into(),
            root: None,
        };
        assert_eq!(
            render_for("{{ cli }} -H unix://{{ socket }} ps", &sandbox).unwrap(),
            "whale -H unix:///tmp/whaletutor-verify-x/whale.sock ps"
        );
        // Go templates next to it still pass through.
        assert_eq!(
            render_for("{{ socket }} {{.Id}}", &sandbox).unwrap(),
            "/tmp/whaletutor-verify-x/whale.sock {{.Id}}"
        );
    }

    #[test]
    fn text_adapts_to_a_rootless_engine() {
        let t = "{% if rootless %}root in it is you{% else %}root in it is root{% endif %}";
        let vars = |rootless| Vars {
            rootless,
            ..Vars::from("whale")
        };
        assert_eq!(render_vars(t, &vars(true)).unwrap(), "root in it is you");
        assert_eq!(render_vars(t, &vars(false)).unwrap(), "root in it is root");
        // Readers of the book see the root engine's text.
        assert_eq!(render(t, "whale").unwrap(), "root in it is root");
    }

    #[test]
    fn go_templates_pass_through() {
        let t = "`{{ cli }} inspect -f '{{.State.ExitCode}}' t` and `{{json .Config.Cmd}}`, \
                 `--format '{{range .Mounts}}{{.Source}}{{end}}'`, {{ $x := 1 }}";
        assert_eq!(
            render(t, "docker").unwrap(),
            "`docker inspect -f '{{.State.ExitCode}}' t` and `{{json .Config.Cmd}}`, \
             `--format '{{range .Mounts}}{{.Source}}{{end}}'`, {{ $x := 1 }}"
        );
        // Still an error: an unknown Tera variable is not a Go template.
        assert!(render("{{ clii }} {{.ID}}", "whale").is_err());
        assert_eq!(render("{{ .ID }}", "whale").unwrap(), "{{ .ID }}");
    }
}
