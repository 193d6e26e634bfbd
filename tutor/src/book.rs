//! `book`: lessons rendered as mdBook chapters, so the book prints exactly
//! the commands the tutor checks.

use crate::lesson::LoadedLesson;
use crate::template;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("lesson {lesson}: {source}")]
    Template {
        lesson: String,
        source: template::TemplateError,
    },
}

/// The file name of a lesson's chapter.
pub fn chapter_file(l: &LoadedLesson) -> String {
    format!("lesson-{:02}-{}.md", l.number(), l.id())
}

/// One lesson as a markdown chapter.
pub fn chapter(l: &LoadedLesson, cli: &str) -> Result<String, BookError> {
    let r = |s: &str| {
        template::render(s, cli).map_err(|source| BookError::Template {
            lesson: l.id().to_string(),
            source,
        })
    };
    let mut out = format!(
        "# Lesson {}: {}\n\n*{}*\n\nIn the tutor: `whaletutor lesson {}`\n\n",
        l.number(),
        l.lesson.title,
        l.lesson.summary.trim(),
        l.number()
    );
    for (i, s) in l.lesson.steps.iter().enumerate() {
        let s = s.get_ref();
        out.push_str(&format!("## {}. {}\n\n", i + 1, s.title));
        out.push_str(r(s.text.get_ref())?.trim());
        out.push_str("\n\n");
        for q in &s.quizzes {
            let q = q.get_ref();
            out.push_str(&format!("**Quiz:** {}\n\n", q.question));
            for c in &q.choices {
                out.push_str(&format!("- {c}\n"));
            }
            if !q.choices.is_empty() {
                out.push('\n');
            }
        }
        if !s.hints.is_empty() {
            out.push_str("<details><summary>Hints</summary>\n\n");
            for h in &s.hints {
                out.push_str(&format!("- {}\n", r(h.get_ref())?.trim()));
            }
            out.push_str("\n</details>\n\n");
        }
        let explain = r(s.explain.get_ref())?;
        for line in explain.trim().lines() {
            out.push_str(&format!("> {line}\n"));
        }
        out.push('\n');
    }
    Ok(out)
}

/// Write every chapter and a `lessons.md` index into `dir`.
pub fn write(lessons: &[LoadedLesson], dir: &Path, cli: &str) -> Result<Vec<PathBuf>, BookError> {
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BookError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(werr(dir))?;
    let mut written = Vec::new();
    let mut index = String::from("# Lessons\n\n");
    for l in lessons {
        let name = chapter_file(l);
        let path = dir.join(&name);
        std::fs::write(&path, chapter(l, cli)?).map_err(werr(&path))?;
        index.push_str(&format!(
            "- [Lesson {}: {}](./{name})\n",
            l.number(),
            l.lesson.title
        ));
        written.push(path);
    }
    let path = dir.join("lessons.md");
    std::fs::write(&path, index).map_err(werr(&path))?;
    written.push(path);
    Ok(written)
}
