//! The lesson file: loading and locating lessons, and the errors that name
//! file:line:col. The TOML model is in [`model`], the authoring checks
//! behind `lint` in [`lint`].
//!
//! Every error carries a byte span so it can be reported as file:line:col;
//! unknown keys are rejected by serde (`deny_unknown_fields`), the rest
//! (duplicate ids, bad regexes, broken templates, impossible checks) by
//! [`lint::validate`].

mod lint;
mod model;
pub mod paste;

pub use lint::{lint_files, BASE_IMAGES};
pub use model::*;

use std::path::{Path, PathBuf};

/// The one format this tutor reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    #[error("cannot read lesson file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("no lesson matches `{0}`: run `whaletutor list` to see the lessons")]
    NotFound(String),
    #[error("cannot list lesson directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One authoring error located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

#[derive(Debug, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A parsed lesson with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedLesson {
    pub path: PathBuf,
    pub source: String,
    pub lesson: Lesson,
}

impl LoadedLesson {
    pub fn id(&self) -> &str {
        self.lesson.id.get_ref()
    }
    pub fn number(&self) -> u32 {
        *self.lesson.number.get_ref()
    }
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.lesson
            .steps
            .iter()
            .position(|s| s.get_ref().id.get_ref() == id)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let mut line = 1;
    let mut line_start = 0;
    for (i, b) in source.bytes().enumerate() {
        if i >= offset {
            break;
        }
        if b == b'\n' {
            line += 1;
            line_start = i + 1;
        }
    }
    let col = source
        .get(line_start..offset)
        .map(|s| s.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// Parse and validate a lesson's source; `file` names it in messages.
pub fn parse(file: &str, source: &str) -> Result<Lesson, Diagnostics> {
    let lesson: Lesson = match toml::from_str(source) {
        Ok(l) => l,
        Err(e) => {
            let (line, col) = e
                .span()
                .map(|s| line_col(source, s.start))
                .unwrap_or((1, 1));
            let message = e.message().trim().replace('\n', " ");
            return Err(Diagnostics(vec![Diagnostic {
                file: file.to_string(),
                line,
                col,
                message,
            }]));
        }
    };
    let out = lint::validate(file, source, &lesson);
    if out.is_empty() {
        Ok(lesson)
    } else {
        Err(Diagnostics(out))
    }
}

pub fn load(path: &Path) -> Result<LoadedLesson, LessonError> {
    let source = std::fs::read_to_string(path).map_err(|source| LessonError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let lesson = parse(&path.display().to_string(), &source).map_err(LessonError::Invalid)?;
    if let Some(n) = filename_number(path) {
        if n != *lesson.number.get_ref() {
            let (line, col) = line_col(&source, lesson.number.span().start);
            return Err(LessonError::Invalid(Diagnostics(vec![Diagnostic {
                file: path.display().to_string(),
                line,
                col,
                message: format!(
                    "number = {} but the file name says {n}: rename the file or fix the number",
                    lesson.number.get_ref()
                ),
            }])));
        }
    }
    Ok(LoadedLesson {
        path: path.to_path_buf(),
        source,
        lesson,
    })
}

fn filename_number(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let digits: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    digits.parse().ok()
}

/// Every `*.toml` in `dir`, sorted by number.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedLesson>, LessonError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LessonError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        out.push(load(&p)?);
    }
    out.sort_by_key(|l| l.number());
    Ok(out)
}

/// Find a lesson by number or id.
pub fn find<'a>(lessons: &'a [LoadedLesson], key: &str) -> Result<&'a LoadedLesson, LessonError> {
    if let Ok(n) = key.parse::<u32>() {
        if let Some(l) = lessons.iter().find(|l| l.number() == n) {
            return Ok(l);
        }
    }
    lessons
        .iter()
        .find(|l| l.id() == key)
        .ok_or_else(|| LessonError::NotFound(key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let s = "ab\ncd\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 4), (2, 2));
        assert_eq!(line_col(s, 99), (3, 1));
    }
}
