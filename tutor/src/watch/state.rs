//! The student's place in a watched lesson: the step shown, a quiz answer
//! being typed, and the progress file, saved after every change to it.

use super::WatchError;
use crate::lesson::{LoadedLesson, Quiz, Step};
use crate::progress::Progress;
use crate::runner;
use std::collections::HashMap;
use std::path::Path;

/// A quiz answer being typed: which quiz of the step, and the text so far.
pub(super) struct Answering {
    pub quiz: usize,
    pub text: String,
    /// Wrong answers to this quiz so far.
    pub tries: usize,
}

pub(super) struct Session<'a> {
    pub lesson: &'a LoadedLesson,
    path: &'a Path,
    pub progress: Progress,
    /// The step shown.
    pub index: usize,
    /// Whether the shown step's checks passed (`n` may then move on).
    pub passed: bool,
    pub answering: Option<Answering>,
}

impl<'a> Session<'a> {
    /// The lesson at the student's current step, recorded as the last one
    /// opened; `None` when the student finished it already.
    pub fn open(lesson: &'a LoadedLesson, path: &'a Path) -> Result<Option<Self>, WatchError> {
        let mut progress = Progress::load(path)?;
        progress.last = Some(lesson.id().to_string());
        if progress.of(lesson).completed {
            return Ok(None);
        }
        let index = progress.current_step(lesson);
        progress.entry(lesson).step = Some(runner::step(lesson, index).id.get_ref().clone());
        progress.save(path)?;
        Ok(Some(Session {
            lesson,
            path,
            progress,
            index,
            passed: false,
            answering: None,
        }))
    }

    pub fn step(&self) -> &'a Step {
        runner::step(self.lesson, self.index)
    }

    /// The student's quiz answers in this lesson, by quiz id.
    pub fn answers(&self) -> HashMap<String, String> {
        self.progress.of(self.lesson).answers
    }

    /// Keep answers given on the student's behalf (a demo's solve script);
    /// saved with the next change.
    pub fn keep_answers(&mut self, answers: &HashMap<String, String>) {
        let entry = self.progress.entry(self.lesson);
        for (q, a) in answers {
            entry.answers.insert(q.clone(), a.clone());
        }
    }

    /// Record the student's answer to `quiz`.
    pub fn record_answer(&mut self, quiz: &Quiz, given: &str) -> Result<(), WatchError> {
        self.progress
            .entry(self.lesson)
            .answers
            .insert(quiz.id.clone(), given.trim().to_string());
        self.progress.save(self.path)?;
        Ok(())
    }

    /// Show one more hint of the step: its number (from 1), or `None` when
    /// the step has none.
    pub fn next_hint(&mut self) -> Result<Option<usize>, WatchError> {
        let total = self.step().hints.len();
        if total == 0 {
            return Ok(None);
        }
        let e = self.progress.entry(self.lesson);
        let n = (e.hints_shown + 1).min(total);
        e.hints_shown = n;
        self.progress.save(self.path)?;
        Ok(Some(n))
    }

    /// Mark the step done and move to the next; returns true when the
    /// lesson is over.
    pub fn advance(&mut self) -> Result<bool, WatchError> {
        self.progress.advance(self.lesson, self.index);
        self.progress.save(self.path)?;
        if self.index + 1 >= self.lesson.lesson.steps.len() {
            return Ok(true);
        }
        self.index += 1;
        Ok(false)
    }
}
