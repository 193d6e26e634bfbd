//! `lesson N`: show the step, watch the engine (every `/events` message and
//! at least once a second), and move on the moment the checks pass. Keys:
//! h hint, c check now, n next, l list, a answer a quiz, q quit.

use crate::engine::Engine;
use crate::lesson::LoadedLesson;
use crate::progress::Progress;
use crate::render::Style;
use crate::runner;
use bollard::Docker;
use futures_util::StreamExt;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Progress(#[from] crate::progress::ProgressError),
    #[error("terminal: {0}")]
    Terminal(nix::Error),
    #[error("demo: {0}")]
    Demo(String),
}

/// Keys without Enter, no echo; restored when dropped (also on panic).
struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    fn enter() -> Result<RawMode, WatchError> {
        use nix::sys::termios::{
            tcgetattr, tcsetattr, LocalFlags, SetArg, SpecialCharacterIndices,
        };
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(RawMode { saved: None });
        }
        let saved = tcgetattr(stdin.as_fd()).map_err(WatchError::Terminal)?;
        let mut raw = saved.clone();
        // Output processing stays on so "\n" still returns the carriage;
        // ISIG is off so Ctrl-C arrives as a key and we restore the terminal.
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).map_err(WatchError::Terminal)?;
        Ok(RawMode { saved: Some(saved) })
    }

    fn restore(&self) {
        if let Some(s) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                s,
            );
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.restore();
    }
}

enum Wake {
    Key(u8),
    Quit,
    Event,
    Tick,
}

pub struct Watch<'a> {
    pub engine: &'a Engine,
    pub docker: Docker,
    pub lessons: &'a [LoadedLesson],
    pub lesson: &'a LoadedLesson,
    pub progress_path: &'a Path,
    pub force: bool,
    /// Play each step's solve script, for showing a class.
    pub demo: bool,
    pub style: Style,
}

fn out(s: &str) {
    let mut o = std::io::stdout();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

impl Watch<'_> {
    pub async fn run(self) -> Result<(), WatchError> {
        let mut progress = Progress::load(self.progress_path)?;
        progress.last = Some(self.lesson.id().to_string());
        if progress.of(self.lesson).completed {
            out(&format!(
                "You finished lesson {} already; `whaletutor reset {}` starts it over.\n",
                self.lesson.number(),
                self.lesson.number()
            ));
            return Ok(());
        }
        let mut index = progress.current_step(self.lesson);
        progress.entry(self.lesson).step =
            Some(runner::step(self.lesson, index).id.get_ref().clone());
        progress.save(self.progress_path)?;

        let (tx, mut rx) = mpsc::channel::<Wake>(64);
        // Keys: a blocking reader thread; it ends with the process.
        let ktx = tx.clone();
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut b = [0u8; 1];
            while let Ok(1) = stdin.read(&mut b) {
                if ktx.blocking_send(Wake::Key(b[0])).is_err() {
                    break;
                }
            }
        });
        // Engine events: any of them may change what the checks see.
        let etx = tx.clone();
        let docker = self.docker.clone();
        let events = tokio::spawn(async move {
            loop {
                let mut s = docker.events(None);
                while let Some(e) = s.next().await {
                    if e.is_err() || etx.send(Wake::Event).await.is_err() {
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        // A terminal closed or a kill: leave like `q`, restoring the terminal.
        let stx = tx.clone();
        let signals = tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            let _ = stx.send(Wake::Quit).await;
        });
        let ttx = tx.clone();
        let ticker = tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_millis(500));
            loop {
                t.tick().await;
                if ttx.send(Wake::Tick).await.is_err() {
                    break;
                }
            }
        });
        drop(tx);

        let raw = RawMode::enter()?;
        self.show(index, &progress);
        let mut passed = false;
        let mut answering: Option<(usize, String)> = None;
        let workdir = tempfile::tempdir().map_err(|e| WatchError::Demo(e.to_string()))?;
        let mut player = crate::solve::Player {
            engine: self.engine,
            docker: &self.docker,
            workdir: workdir.path(),
            terminals: Default::default(),
            answers: Default::default(),
        };
        let mut demo_pending = self.demo;
        let result = loop {
            if demo_pending {
                demo_pending = false;
                let step = runner::step(self.lesson, index);
                out(&format!(
                    "{}\n",
                    self.style.dim("(demo: playing the solution)")
                ));
                for a in step.solve.iter().flat_map(|s| s.get_ref().script.iter()) {
                    out(&format!(
                        "  {}\n",
                        self.style.code(&describe_action(a.get_ref(), self.engine))
                    ));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Err(e) = player.play(step).await {
                    out(&format!("{} {e}\n", self.style.bad("demo failed:")));
                }
                for (q, a) in &player.answers {
                    progress
                        .entry(self.lesson)
                        .answers
                        .insert(q.clone(), a.clone());
                }
            }
            let Some(w) = rx.recv().await else {
                break Ok(());
            };
            if matches!(w, Wake::Quit) {
                break Ok(());
            }
            let explicit = matches!(w, Wake::Key(b'c'));
            if let (Some((qi, buf)), Wake::Key(k)) = (answering.as_mut(), &w) {
                let step = runner::step(self.lesson, index);
                match *k {
                    b'\r' | b'\n' => {
                        out("\n");
                        let q = step.quizzes[*qi].get_ref();
                        let ok = crate::checks::quiz_correct(q, buf);
                        out(if ok { "Right.\n" } else { "Not quite.\n" });
                        progress
                            .entry(self.lesson)
                            .answers
                            .insert(q.id.clone(), buf.trim().to_string());
                        progress.save(self.progress_path)?;
                        *qi += 1;
                        buf.clear();
                        if let Some(next) = step.quizzes.get(*qi) {
                            out(&format!("{} ", next.get_ref().question));
                        } else {
                            answering = None;
                        }
                    }
                    3 | 27 => {
                        answering = None;
                        out("\n");
                    }
                    127 | 8 if buf.pop().is_some() => out("\u{8} \u{8}"),
                    127 | 8 => {}
                    k if k >= 32 => {
                        buf.push(k as char);
                        out(&(k as char).to_string());
                    }
                    _ => {}
                }
                continue;
            }
            match w {
                Wake::Quit | Wake::Key(b'q') | Wake::Key(3) | Wake::Key(4) => break Ok(()),
                Wake::Key(b'h') => {
                    let step = runner::step(self.lesson, index);
                    let e = progress.entry(self.lesson);
                    if step.hints.is_empty() {
                        out("No hints for this step.\n");
                    } else {
                        let n = (e.hints_shown + 1).min(step.hints.len());
                        e.hints_shown = n;
                        let h =
                            crate::template::render_for(step.hints[n - 1].get_ref(), self.engine)
                                .unwrap_or_default();
                        out(&format!(
                            "{} {}",
                            self.style
                                .strong(&format!("Hint {n}/{}:", step.hints.len())),
                            crate::render::markdown(&h, self.style)
                        ));
                        progress.save(self.progress_path)?;
                    }
                    continue;
                }
                Wake::Key(b'l') => {
                    out(&list(self.lessons, &progress, self.style));
                    continue;
                }
                Wake::Key(b'a') => {
                    let step = runner::step(self.lesson, index);
                    if step.quizzes.is_empty() {
                        out("This step has no quiz.\n");
                    } else {
                        answering = Some((0, String::new()));
                        out(&format!("{} ", step.quizzes[0].get_ref().question));
                    }
                    continue;
                }
                Wake::Key(b'n') => {
                    if passed || self.force {
                        if self.next(&mut index, &mut progress)? {
                            break Ok(());
                        }
                        passed = false;
                        demo_pending = self.demo;
                    } else {
                        out("Not yet: this step's checks do not pass (press c to see why, or use --force).\n");
                    }
                    continue;
                }
                Wake::Key(_) if !explicit => continue,
                _ => {}
            }
            if passed {
                continue;
            }
            let answers = progress.of(self.lesson).answers;
            let step = runner::step(self.lesson, index);
            let results = runner::check_step(&self.docker, self.engine, step, &answers).await;
            if runner::all_pass(&results) {
                out(&format!(
                    "\n{}\n",
                    runner::explain(self.lesson, index, self.engine, self.style)
                ));
                if self.next(&mut index, &mut progress)? {
                    break Ok(());
                }
                demo_pending = self.demo;
            } else if explicit {
                out(&format!(
                    "{}\n{}",
                    self.style.strong("Not yet:"),
                    runner::render_failures(&results, self.style, false)
                ));
            }
        };
        drop(raw);
        player.terminals.close();
        events.abort();
        ticker.abort();
        signals.abort();
        result
    }

    /// Advance; returns true when the lesson is over.
    fn next(&self, index: &mut usize, progress: &mut Progress) -> Result<bool, WatchError> {
        progress.advance(self.lesson, *index);
        progress.save(self.progress_path)?;
        if *index + 1 >= self.lesson.lesson.steps.len() {
            out(&format!(
                "{}\n",
                self.style.good(&format!(
                    "Lesson {} complete: {}. Well done!",
                    self.lesson.number(),
                    self.lesson.lesson.title
                ))
            ));
            return Ok(true);
        }
        *index += 1;
        self.show(*index, progress);
        Ok(false)
    }

    fn show(&self, index: usize, _progress: &Progress) {
        let has_quiz = self
            .lesson
            .lesson
            .steps
            .get(index)
            .is_some_and(|s| !s.get_ref().quizzes.is_empty());
        out(&format!(
            "\n{}\n{}\n",
            runner::render_step(self.lesson, index, self.engine, self.style),
            self.style.dim(key_line(has_quiz))
        ));
    }
}

/// The keys a step offers: `a` only where there is a quiz to answer.
fn key_line(has_quiz: bool) -> &'static str {
    if has_quiz {
        "[h] hint  [c] check now  [n] next  [l] lessons  [a] answer quiz  [q] quit"
    } else {
        "[h] hint  [c] check now  [n] next  [l] lessons  [q] quit"
    }
}

/// One solve action as a line for the class to read.
fn describe_action(a: &crate::lesson::Action, engine: &Engine) -> String {
    let r = |s: &str| crate::template::render_for(s, engine).unwrap_or_else(|_| s.to_string());
    if let Some(c) = &a.run {
        format!("$ {}", r(c))
    } else if let Some(c) = &a.spawn {
        format!("$ {}   (in a terminal)", r(c))
    } else if let Some(e) = &a.expect {
        format!("(wait for {e})")
    } else if let Some(t) = &a.send {
        format!("type {:?}", r(t))
    } else if let Some(k) = &a.send_control {
        let keys: Vec<String> = k
            .chars()
            .map(|c| format!("Ctrl-{}", c.to_ascii_uppercase()))
            .collect();
        keys.join(" ")
    } else if let Some(w) = &a.write {
        format!("write {w}")
    } else if let Some(c) = &a.wait_for {
        format!("(wait for a {} check)", c.kind())
    } else if let (Some(ans), Some(q)) = (&a.answer, &a.quiz) {
        format!("answer {q}: {ans}")
    } else {
        String::new()
    }
}

/// The `list` table: number, title, steps done/total.
pub fn list(lessons: &[LoadedLesson], progress: &Progress, style: Style) -> String {
    let mut s = String::new();
    for l in lessons {
        let p = progress.of(l);
        let done = progress.done_count(l);
        let total = l.lesson.steps.len();
        let mark = if p.completed {
            style.good("done")
        } else if done > 0 || p.step.is_some() {
            "....".to_string()
        } else {
            "    ".to_string()
        };
        s.push_str(&format!(
            "{:>3}  {:<32} {done}/{total}  {mark}\n",
            l.number(),
            l.lesson.title
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::key_line;

    #[test]
    fn the_quiz_key_only_where_there_is_a_quiz() {
        assert!(key_line(true).contains("[a] answer quiz"));
        assert!(!key_line(false).contains("[a]"));
        assert!(key_line(false).contains("[q] quit"));
    }
}
