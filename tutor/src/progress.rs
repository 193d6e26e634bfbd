//! Where each student is: per lesson id, the current step id (never an
//! index, so editing a lesson does not shift anyone), the steps done, how
//! many hints were shown, and quiz answers. Stored in
//! `$XDG_STATE_HOME/whaletutor/progress.toml`, written atomically.

use crate::lesson::LoadedLesson;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("cannot read progress file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("progress file {path} is damaged ({source}); move it away to start over")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("cannot write progress file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot find a place for the progress file: set XDG_STATE_HOME or HOME")]
    NoHome,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LessonProgress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(default)]
    pub done: Vec<String>,
    #[serde(default)]
    pub hints_shown: usize,
    #[serde(default)]
    pub completed: bool,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub answers: HashMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    /// The lesson last worked on: the default for `check` and `hint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    #[serde(default)]
    pub lesson: BTreeMap<String, LessonProgress>,
    /// The tutor offered to link `whale` into a directory on PATH (it asks
    /// once, whatever the answer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub link_offered: bool,
}

/// `$WHALETUTOR_PROGRESS`, else `$XDG_STATE_HOME/whaletutor/progress.toml`,
/// else `~/.local/state/whaletutor/progress.toml`. Progress is kept per
/// engine: whale's in `progress.toml`, another engine's in
/// `progress-<engine>.toml` next to it, so doing (or resetting) a lesson on
/// docker leaves whale's progress alone.
pub fn default_path(engine: &str) -> Result<PathBuf, ProgressError> {
    if let Some(p) = std::env::var_os("WHALETUTOR_PROGRESS").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME").ok_or(ProgressError::NoHome)?)
            .join(".local/state"),
    };
    let file = if engine == "whale" {
        "progress.toml".to_string()
    } else {
        format!("progress-{engine}.toml")
    };
    Ok(base.join("whaletutor").join(file))
}

impl Progress {
    pub fn load(path: &Path) -> Result<Progress, ProgressError> {
        match std::fs::read_to_string(path) {
            Ok(s) => toml::from_str(&s).map_err(|source| ProgressError::Parse {
                path: path.to_path_buf(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
            Err(source) => Err(ProgressError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Write to a temp file in the same directory, fsync, rename.
    pub fn save(&self, path: &Path) -> Result<(), ProgressError> {
        let werr = |source| ProgressError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(werr)?;
        let text = toml::to_string_pretty(self)
            .map_err(|e| werr(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(werr)?;
        tmp.write_all(text.as_bytes()).map_err(werr)?;
        tmp.as_file().sync_all().map_err(werr)?;
        tmp.persist(path).map_err(|e| werr(e.error))?;
        Ok(())
    }

    pub fn of(&self, lesson: &LoadedLesson) -> LessonProgress {
        self.lesson.get(lesson.id()).cloned().unwrap_or_default()
    }

    pub fn entry(&mut self, lesson: &LoadedLesson) -> &mut LessonProgress {
        self.lesson.entry(lesson.id().to_string()).or_default()
    }

    /// Index of the step the student is on; a step id that no longer exists
    /// falls back to the first step not done.
    pub fn current_step(&self, lesson: &LoadedLesson) -> usize {
        let p = self.of(lesson);
        if let Some(i) = p.step.as_deref().and_then(|s| lesson.step_index(s)) {
            return i;
        }
        lesson
            .lesson
            .steps
            .iter()
            .position(|s| !p.done.contains(s.get_ref().id.get_ref()))
            .unwrap_or(0)
    }

    /// Steps of `lesson` done, counting only steps that still exist.
    pub fn done_count(&self, lesson: &LoadedLesson) -> usize {
        let p = self.of(lesson);
        lesson
            .lesson
            .steps
            .iter()
            .filter(|s| p.done.contains(s.get_ref().id.get_ref()))
            .count()
    }

    /// Bare `lesson`: the lesson last worked on, or when that one is
    /// complete the first lesson after it that is not (then the first
    /// unfinished one before it; then the last one).
    pub fn resume<'a>(&self, lessons: &'a [LoadedLesson]) -> Option<&'a LoadedLesson> {
        let last = self
            .last
            .as_deref()
            .and_then(|k| crate::lesson::find(lessons, k).ok());
        if let Some(l) = last.filter(|l| !self.of(l).completed) {
            return Some(l);
        }
        let after = last.map_or(0, |l| l.number());
        lessons
            .iter()
            .filter(|l| !self.of(l).completed)
            .min_by_key(|l| (l.number() <= after, l.number()))
            .or(last)
            .or(lessons.first())
    }

    /// Mark the step at `index` done and move to the next one.
    pub fn advance(&mut self, lesson: &LoadedLesson, index: usize) {
        let steps = &lesson.lesson.steps;
        let id = steps[index].get_ref().id.get_ref().clone();
        let next = steps
            .get(index + 1)
            .map(|s| s.get_ref().id.get_ref().clone());
        let e = self.entry(lesson);
        if !e.done.contains(&id) {
            e.done.push(id);
        }
        e.hints_shown = 0;
        match next {
            Some(n) => e.step = Some(n),
            None => e.completed = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/progress.toml");
        assert_eq!(Progress::load(&path).unwrap(), Progress::default());
        let mut p = Progress::default();
        p.lesson.insert(
            "first-container".into(),
            LessonProgress {
                step: Some("shell".into()),
                done: vec!["images".into()],
                hints_shown: 2,
                ..Default::default()
            },
        );
        p.save(&path).unwrap();
        assert_eq!(Progress::load(&path).unwrap(), p);
        std::fs::write(&path, "lesson = 3").unwrap();
        assert!(matches!(
            Progress::load(&path),
            Err(ProgressError::Parse { .. })
        ));
    }
}
