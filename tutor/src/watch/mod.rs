//! `lesson N`: show the step, watch the engine (every `/events` message and
//! at least once a second), and move on the moment the checks pass. Keys:
//! h hint, c check now, n next, l list, a answer a quiz, q quit. A build
//! that ends is checked at once (its failure said, as for `c`), and a
//! resized terminal gets the step drawn again at its new width.
//!
//! The loop is here; what wakes it (keys, events, signals, a ticker) is in
//! [`input`], the student's place in the lesson in [`state`], and what it
//! prints besides the steps in [`screen`].

mod input;
mod quiz;
mod screen;
mod state;

pub use screen::list;

use crate::engine::{Engine, EngineKind};
use crate::lesson::LoadedLesson;
use crate::render::Style;
use crate::runner;
use bollard::Docker;
use input::{Edit, RawMode, Wake};
use screen::{key_line, out};
use state::{Answering, Session};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Progress(#[from] crate::progress::ProgressError),
    #[error("terminal: {0}")]
    Terminal(nix::Error),
    #[error("demo: {0}")]
    Demo(String),
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

impl Watch<'_> {
    pub async fn run(mut self) -> Result<(), WatchError> {
        let Some(mut session) = Session::open(self.lesson, self.progress_path)? else {
            out(&format!(
                "You finished lesson {} already; `whaletutor reset {}` starts it over.\n",
                self.lesson.number(),
                self.lesson.number()
            ));
            return Ok(());
        };
        let (mut rx, wakers) = input::wakers(&self.docker);

        let raw = RawMode::enter()?;
        self.show(session.index);
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
                let step = session.step();
                out(&format!(
                    "{}\n",
                    self.style
                        .dim("(demo: the solution, typed as you would type it)")
                ));
                tokio::time::sleep(Duration::from_secs(1)).await;
                let style = self.style;
                let mut show = |s: crate::solve::Shown| out(&screen::shown(&s, style));
                if let Err(e) = player.play_shown(step, &mut show).await {
                    out(&format!("{} {e}\n", self.style.bad("demo failed:")));
                }
                session.keep_answers(&player.answers);
            }
            let Some(w) = rx.recv().await else {
                break Ok(());
            };
            if matches!(w, Wake::Quit) {
                break Ok(());
            }
            if matches!(w, Wake::Resize) {
                // Wrapping follows the terminal's new width (plain output,
                // with no width, stays as authored).
                if self.style.width.is_some() {
                    self.style.width = crate::render::terminal_width().or(self.style.width);
                }
                self.redraw(&session);
                continue;
            }
            let explicit = matches!(w, Wake::Key(b'c') | Wake::Built);
            let step = session.step();
            if let (Some(typing), Wake::Key(k)) = (session.answering.as_mut(), &w) {
                match input::edit(&mut typing.text, *k) {
                    Edit::Submit => {
                        out("\n");
                        let q = step.quizzes[typing.quiz].get_ref();
                        let next_quiz = typing.quiz + 1;
                        let input = std::mem::take(&mut typing.text);
                        let given = match quiz::read(q, &input) {
                            quiz::Given::Invalid(why) => {
                                out(&format!("{why}\n{}", quiz::prompt(q, self.style.width)));
                                continue;
                            }
                            quiz::Given::Answer(a) => a,
                        };
                        if crate::checks::quiz_correct(q, &given) {
                            out(&format!(
                                "{}\n",
                                crate::render::inline(&quiz::right(q), self.style)
                            ));
                        } else {
                            typing.tries += 1;
                            if let Some(w) = quiz::wrong(q, &given, typing.tries) {
                                out(&format!(
                                    "{}\n{}",
                                    crate::render::inline(&w, self.style),
                                    quiz::prompt(q, self.style.width)
                                ));
                                session.record_answer(q, &given)?;
                                continue;
                            }
                            out(&format!(
                                "{}\n",
                                crate::render::inline(&quiz::reveal(q), self.style)
                            ));
                        }
                        // Right, or shown after the last try: on to the next
                        // quiz. A shown choice counts as answered; a shown
                        // free answer is for the student to type.
                        if crate::checks::quiz_correct(q, &given) || !q.choices.is_empty() {
                            let kept = if q.choices.is_empty() {
                                &given
                            } else {
                                &q.answer
                            };
                            session.record_answer(q, kept)?;
                        }
                        match step.quizzes.get(next_quiz) {
                            Some(next) => {
                                session.answering = Some(Answering {
                                    quiz: next_quiz,
                                    text: String::new(),
                                    tries: 0,
                                });
                                out(&quiz::prompt(next.get_ref(), self.style.width));
                            }
                            None => session.answering = None,
                        }
                    }
                    Edit::Cancel => {
                        session.answering = None;
                        out("\n(quiz left: press a to answer it, or keep working on the step)\n");
                    }
                    Edit::Echo(s) => out(&s),
                    Edit::Ignore => {}
                }
                continue;
            }
            match w {
                Wake::Quit | Wake::Key(b'q') | Wake::Key(3) | Wake::Key(4) => break Ok(()),
                Wake::Key(b'h') => {
                    match session.next_hint()? {
                        None => out("No hints for this step.\n"),
                        Some(n) => {
                            let h = crate::template::render_for(
                                step.hints[n - 1].get_ref(),
                                self.engine,
                            )
                            .unwrap_or_default();
                            out(&format!(
                                "{} {}",
                                self.style
                                    .strong(&format!("Hint {n}/{}:", step.hints.len())),
                                crate::render::markdown(&h, self.style)
                            ));
                        }
                    }
                    continue;
                }
                Wake::Key(b'l') => {
                    out(&list(self.lessons, &session.progress, self.style));
                    continue;
                }
                Wake::Key(b'a') => {
                    if step.quizzes.is_empty() {
                        out("This step has no quiz.\n");
                    } else {
                        session.answering = Some(Answering {
                            quiz: 0,
                            text: String::new(),
                            tries: 0,
                        });
                        out(&quiz::prompt(step.quizzes[0].get_ref(), self.style.width));
                    }
                    continue;
                }
                Wake::Key(b'n') => {
                    if session.passed || self.force {
                        if self.next(&mut session)? {
                            break Ok(());
                        }
                        session.passed = false;
                        demo_pending = self.demo;
                    } else {
                        out("Not yet: this step's checks do not pass (press c to see why, or use --force).\n");
                    }
                    continue;
                }
                Wake::Key(_) if !explicit => continue,
                _ => {}
            }
            if session.passed {
                continue;
            }
            let answers = session.answers();
            let results = runner::check_step(&self.docker, self.engine, step, &answers).await;
            if runner::engine_gone(&results) && self.engine.kind == EngineKind::Whale {
                // A whale command starts the daemon again; say so either way.
                let back = self.engine.ensure_running().await.is_ok();
                out(&format!(
                    "{}\n",
                    self.style.bad(if back {
                        "The whale daemon had stopped: the tutor started it again."
                    } else {
                        "The whale daemon is not running and did not start: run `whale ps` to see why."
                    })
                ));
                continue;
            }
            if runner::all_pass(&results) {
                out(&format!(
                    "\n{}\n",
                    runner::explain(self.lesson, session.index, self.engine, self.style)
                ));
                if self.next(&mut session)? {
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
        drop(wakers);
        result
    }

    /// Advance; returns true when the lesson is over.
    fn next(&self, session: &mut Session) -> Result<bool, WatchError> {
        if session.advance()? {
            out(&format!(
                "{}\n{}\n",
                self.style.good(&format!(
                    "Lesson {} complete: {}. Well done!",
                    self.lesson.number(),
                    self.lesson.lesson.title
                )),
                where_next(self.lessons, self.lesson, self.style)
            ));
            return Ok(true);
        }
        self.show(session.index);
        Ok(false)
    }

    /// The terminal was resized: clear it and draw the step again (wrapped
    /// to the new width), then the quiz prompt with what was typed so far.
    fn redraw(&self, session: &Session) {
        out("\x1b[H\x1b[2J");
        self.show(session.index);
        if let Some(typing) = &session.answering {
            let q = session.step().quizzes[typing.quiz].get_ref();
            out(&format!(
                "{}{}",
                quiz::prompt(q, self.style.width),
                typing.text
            ));
        }
    }

    fn show(&self, index: usize) {
        let has_quiz = self
            .lesson
            .lesson
            .steps
            .get(index)
            .is_some_and(|s| !s.get_ref().quizzes.is_empty());
        out(&format!(
            "\n{}\n{}\n",
            runner::render_step(self.lesson, index, self.engine, self.style),
            self.style.dim(&match self.style.width {
                // The key line wraps too, on a terminal narrower than it.
                Some(w) if key_line(has_quiz).len() > w =>
                    crate::render::wrap(key_line(has_quiz), w.max(20), ""),
                _ => key_line(has_quiz).to_string(),
            })
        ));
    }
}

/// The line after a finished lesson: the command that starts the next one.
pub fn where_next(lessons: &[LoadedLesson], done: &LoadedLesson, style: Style) -> String {
    match lessons.iter().find(|l| l.number() > done.number()) {
        Some(n) => format!(
            "Next: {} ({})",
            style.code(&format!("whaletutor lesson {}", n.number())),
            n.lesson.title
        ),
        None => "That was the last lesson: the whole course is done.".to_string(),
    }
}
