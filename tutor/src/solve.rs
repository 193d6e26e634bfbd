//! Playing a step's solve script: shell commands, a real pseudo-terminal
//! (rexpect) for `-it` steps and detach keys, files in a work dir, waiting
//! for a check. Terminals stay open until the lesson ends, as a student's
//! would.

use crate::checks::{self, Context, Outcome};
use crate::engine::Engine;
use crate::lesson::{Action, Step};
use crate::runner;
use crate::template;
use bollard::Docker;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    #[error("`{cmd}` exited with {got}, expected {want}: {output}")]
    Exit {
        cmd: String,
        got: i32,
        want: i32,
        output: String,
    },
    #[error("`{cmd}` could not run: {source}")]
    Run { cmd: String, source: std::io::Error },
    #[error("spawn `{cmd}` failed: {detail}")]
    Spawn { cmd: String, detail: String },
    #[error("expected `{want}` on the terminal of `{cmd}`: {detail}")]
    Expect {
        cmd: String,
        want: String,
        detail: String,
    },
    #[error("sending to the terminal of `{cmd}` failed: {detail}")]
    Send { cmd: String, detail: String },
    #[error("no terminal is open: spawn one first")]
    NoTerminal,
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("waited {secs} s for a {kind} check: {detail}")]
    WaitFor {
        secs: u64,
        kind: &'static str,
        detail: String,
    },
    #[error("template: {0}")]
    Template(#[from] template::TemplateError),
}

/// Terminals opened by spawn actions, kept until the lesson is over.
#[derive(Default)]
pub struct Terminals {
    open: Vec<(String, rexpect::session::PtySession)>,
}

impl Terminals {
    /// Hang up every terminal (their clients exit; containers stay).
    pub fn close(&mut self) {
        for (_, mut s) in self.open.drain(..) {
            let _ = s.process_mut().exit();
        }
    }
}

impl Drop for Terminals {
    fn drop(&mut self) {
        self.close();
    }
}

/// What playing an action puts on the student's screens, for `--demo`:
/// the commands as typed and what they printed, never a check's regex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// A command line typed at a shell prompt; `terminal` when it opens
    /// a terminal of its own (an `-it` session the next actions type in).
    Command { line: String, terminal: bool },
    /// What a command printed, or what appeared on a terminal.
    Output(String),
    /// Something done without a prompt: keys, a file written, a quiz.
    Note(String),
}

/// A terminal's text as plain lines: escape sequences (colours, cursor
/// moves) and carriage returns dropped.
pub fn plain_terminal_text(raw: &str) -> String {
    static ESC: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let esc = ESC.get_or_init(|| {
        regex::Regex::new(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
            .expect("a valid regex")
    });
    esc.replace_all(raw, "").replace('\r', "")
}

pub struct Player<'a> {
    pub engine: &'a Engine,
    pub docker: &'a Docker,
    pub workdir: &'a Path,
    pub terminals: Terminals,
    pub answers: HashMap<String, String>,
}

impl Player<'_> {
    pub async fn play(&mut self, step: &Step) -> Result<(), SolveError> {
        self.play_shown(step, &mut |_| {}).await
    }

    /// Play the step, telling `show` what each action puts on the screen.
    pub async fn play_shown(
        &mut self,
        step: &Step,
        show: &mut (dyn FnMut(Shown) + Send),
    ) -> Result<(), SolveError> {
        let Some(solve) = &step.solve else {
            return Ok(());
        };
        for a in &solve.get_ref().script {
            self.act(step, a.get_ref(), show).await?;
        }
        Ok(())
    }

    async fn act(
        &mut self,
        step: &Step,
        a: &Action,
        show: &mut (dyn FnMut(Shown) + Send),
    ) -> Result<(), SolveError> {
        let timeout = Duration::from_secs(a.timeout.unwrap_or(10));
        if let Some(cmd) = &a.run {
            let cmd = template::render_for(cmd, self.engine)?;
            show(Shown::Command {
                line: cmd.clone(),
                terminal: false,
            });
            let want = a.exit_code.unwrap_or(0);
            let engine = self.engine.clone();
            let c2 = cmd.clone();
            let workdir = self.workdir.to_path_buf();
            let r = tokio::task::spawn_blocking(move || {
                runner::sh(
                    &engine,
                    &format!("cd '{}' && {c2}", workdir.display()),
                    timeout.max(Duration::from_secs(60)),
                )
            })
            .await
            .map_err(|e| SolveError::Run {
                cmd: cmd.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
            let (got, output) = r.map_err(|source| SolveError::Run {
                cmd: cmd.clone(),
                source,
            })?;
            if !output.is_empty() {
                show(Shown::Output(output.clone()));
            }
            if got != want {
                return Err(SolveError::Exit {
                    cmd,
                    got,
                    want,
                    output: output.trim().to_string(),
                });
            }
        } else if let Some(cmd) = &a.spawn {
            let cmd = template::render_for(cmd, self.engine)?;
            show(Shown::Command {
                line: cmd.clone(),
                terminal: true,
            });
            let mut c = std::process::Command::new("sh");
            // A new pty is 0x0; a student's terminal never is. Full-screen
            // programs (top, nano) behave oddly at 0x0, and docker passes
            // the size on to the container's terminal.
            c.arg("-c")
                .arg(format!("stty rows 24 cols 80 2>/dev/null; {cmd}"))
                .envs(self.engine.env())
                .current_dir(self.workdir);
            if let Some(p) = self.engine.path_env() {
                c.env("PATH", p);
            }
            c.env("TERM", "xterm");
            let s = rexpect::session::spawn_command(c, Some(timeout.as_millis() as u64)).map_err(
                |e| SolveError::Spawn {
                    cmd: cmd.clone(),
                    detail: e.to_string(),
                },
            )?;
            self.terminals.open.push((cmd, s));
        } else if let Some(want) = &a.expect {
            let (cmd, s) = self
                .terminals
                .open
                .last_mut()
                .ok_or(SolveError::NoTerminal)?;
            let (before, matched) = s.exp_regex(want).map_err(|e| SolveError::Expect {
                cmd: cmd.clone(),
                want: want.clone(),
                detail: e.to_string(),
            })?;
            // What the terminal showed up to the awaited text, not the regex.
            let text = plain_terminal_text(&format!("{before}{matched}"));
            if !text.trim().is_empty() {
                show(Shown::Output(text));
            }
        } else if let Some(text) = &a.send {
            let text = template::render_for(text, self.engine)?;
            show(Shown::Note(format!(
                "(types {} in that terminal)",
                text.trim_end_matches(['\r', '\n'])
            )));
            let (cmd, s) = self
                .terminals
                .open
                .last_mut()
                .ok_or(SolveError::NoTerminal)?;
            s.send(&text)
                .and_then(|_| s.flush())
                .map_err(|e| SolveError::Send {
                    cmd: cmd.clone(),
                    detail: e.to_string(),
                })?;
        } else if let Some(keys) = &a.send_control {
            let names: Vec<String> = keys
                .chars()
                .map(|c| format!("Ctrl-{}", c.to_ascii_uppercase()))
                .collect();
            show(Shown::Note(format!(
                "(presses {} in that terminal)",
                names.join(" ")
            )));
            let (cmd, s) = self
                .terminals
                .open
                .last_mut()
                .ok_or(SolveError::NoTerminal)?;
            for k in keys.chars() {
                s.send_control(k).map_err(|e| SolveError::Send {
                    cmd: cmd.clone(),
                    detail: e.to_string(),
                })?;
                // Detach keys are a sequence: let each arrive on its own.
                std::thread::sleep(Duration::from_millis(50));
            }
        } else if let (Some(path), Some(content)) = (&a.write, &a.content) {
            let content = template::render_for(content, self.engine)?;
            show(Shown::Note(format!("(writes {path} with an editor:)")));
            show(Shown::Output(content.clone()));
            let p = self.workdir.join(path);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(|source| SolveError::Write {
                    path: path.clone(),
                    source,
                })?;
            }
            std::fs::write(&p, content).map_err(|source| SolveError::Write {
                path: path.clone(),
                source,
            })?;
        } else if let Some(check) = &a.wait_for {
            let quizzes: Vec<_> = step.quizzes.iter().map(|q| q.get_ref().clone()).collect();
            let ctx = Context {
                docker: self.docker,
                engine: self.engine,
                quizzes: &quizzes,
                answers: &self.answers,
            };
            let deadline = Instant::now() + timeout;
            loop {
                let r = checks::evaluate(check, &ctx).await;
                if matches!(r, Ok(Outcome::Pass)) {
                    break;
                }
                if Instant::now() > deadline {
                    let detail = match r {
                        Ok(Outcome::Fail { failure, seen }) => format!("{failure} ({seen})"),
                        Ok(Outcome::Pass) => String::new(),
                        Err(e) => e.to_string(),
                    };
                    return Err(SolveError::WaitFor {
                        secs: timeout.as_secs(),
                        kind: check.kind(),
                        detail,
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        } else if let (Some(answer), Some(quiz)) = (&a.answer, &a.quiz) {
            show(Shown::Note(format!("(answers the quiz: {answer})")));
            self.answers.insert(quiz.clone(), answer.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;

    #[test]
    fn terminal_text_loses_its_escapes() {
        assert_eq!(
            plain_terminal_text("\x1b[?2004hroot@c0ffee:/# \x1b[01;32muname\x1b[0m -r\r\n6.1.0\r\n\x1b]0;title\x07$ "),
            "root@c0ffee:/# uname -r\n6.1.0\n$ "
        );
    }

    #[tokio::test]
    async fn spawned_terminals_have_a_size() {
        let engine = Engine {
            kind: EngineKind::Docker,
            socket: "/nonexistent.sock".into(),
            root: None,
        };
        // Never contacted (the script has no wait_for), but it must exist.
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("unused.sock");
        std::fs::write(&sock, "").unwrap();
        let docker =
            Docker::connect_with_unix(sock.to_str().unwrap(), 5, bollard::API_DEFAULT_VERSION)
                .expect("a lazy client");
        let mut p = Player {
            engine: &engine,
            docker: &docker,
            workdir: dir.path(),
            terminals: Terminals::default(),
            answers: HashMap::new(),
        };
        let step: Step = toml::from_str(
            r#"
            id = "size"
            title = "t"
            text = "t"
            explain = "e"
            [[check]]
            kind = "host"
            command = "true"
            failure = "f"
            [solve]
            script = [ { spawn = "stty size; cat" }, { expect = '24 80' } ]
            "#,
        )
        .expect("a step");
        let mut shown = Vec::new();
        p.play_shown(&step, &mut |s| shown.push(s))
            .await
            .expect("the terminal is 24x80");
        // The demo shows the command and the terminal's text, not the regex.
        assert_eq!(
            shown[0],
            Shown::Command {
                line: "stty size; cat".into(),
                terminal: true
            }
        );
        assert!(
            matches!(&shown[1], Shown::Output(t) if t.contains("24 80")),
            "{shown:?}"
        );
    }
}
