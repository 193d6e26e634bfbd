//! The generated pages against the book on disk: which are stale, and
//! writing them (deleting generated pages nothing makes any more).

use super::{BookError, Page, GENERATED_DIRS, GENERATED_MARK};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A generated page that differs from the one on disk (or is missing, or is
/// left over from a lesson that no longer exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    pub path: String,
    pub what: String,
    pub problem: String,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "book/src/{} ({}): {}",
            self.path, self.what, self.problem
        )
    }
}

/// Generated files on disk under the generated directories.
fn generated_on_disk(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in GENERATED_DIRS {
        let Ok(entries) = std::fs::read_dir(src.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let is_generated = std::fs::read_to_string(&p)
                .map(|t| t.starts_with(GENERATED_MARK))
                .unwrap_or(false);
            if is_generated {
                out.push(format!("{dir}/{}", e.file_name().to_string_lossy()));
            }
        }
    }
    out.sort();
    out
}

/// Which pages on disk under `book_dir/src` differ from `pages`.
pub fn stale(book_dir: &Path, pages: &[Page]) -> Vec<Stale> {
    let src = book_dir.join("src");
    let mut out = Vec::new();
    let wanted: BTreeSet<&str> = pages.iter().map(|p| p.path.as_str()).collect();
    for p in pages {
        let path = src.join(&p.path);
        match std::fs::read_to_string(&path) {
            Err(_) => out.push(Stale {
                path: p.path.clone(),
                what: p.what.clone(),
                problem: "missing".into(),
            }),
            Ok(old) if old != p.content => out.push(Stale {
                path: p.path.clone(),
                what: p.what.clone(),
                problem: first_difference(&old, &p.content),
            }),
            Ok(_) => {}
        }
    }
    for left in generated_on_disk(&src) {
        if !wanted.contains(left.as_str()) {
            out.push(Stale {
                path: left,
                what: "a generated page nothing generates any more".into(),
                problem: "left over (its lesson was removed or renamed)".into(),
            });
        }
    }
    out
}

fn first_difference(old: &str, new: &str) -> String {
    let (mut o, mut n) = (old.lines(), new.lines());
    let mut line = 1;
    loop {
        match (o.next(), n.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (a, b) => {
                return format!(
                    "out of date from line {line}: the book has {:?}, the generator makes {:?}",
                    a.unwrap_or("(end of file)"),
                    b.unwrap_or("(end of file)")
                )
            }
        }
    }
}

/// Write the pages into `book_dir/src` and delete generated pages nothing
/// makes any more. Returns the files written or removed.
pub fn write(book_dir: &Path, pages: &[Page]) -> Result<Vec<PathBuf>, BookError> {
    if !book_dir.join("book.toml").is_file() {
        return Err(BookError::NotABook(book_dir.to_path_buf()));
    }
    let src = book_dir.join("src");
    let mut changed = Vec::new();
    let wanted: BTreeSet<&str> = pages.iter().map(|p| p.path.as_str()).collect();
    for left in generated_on_disk(&src) {
        if !wanted.contains(left.as_str()) {
            let path = src.join(&left);
            std::fs::remove_file(&path).map_err(|source| BookError::Write {
                path: path.clone(),
                source,
            })?;
            changed.push(path);
        }
    }
    for p in pages {
        let path = src.join(&p.path);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(p.content.as_str()) {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| BookError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, &p.content).map_err(|source| BookError::Write {
            path: path.clone(),
            source,
        })?;
        changed.push(path);
    }
    Ok(changed)
}
