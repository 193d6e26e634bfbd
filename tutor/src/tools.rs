//! The host tools the lessons use, for `doctor`: each missing one is named
//! with the lesson that needs it and the apt line that installs it; and
//! whether `whale` itself is reachable from a new terminal (on PATH), with
//! the exact line that makes it so.

use crate::engine::{whale_bin, Engine, EngineKind};
use crate::setup::Finding;
use std::path::{Path, PathBuf};

/// (command, what needs it, Debian package).
const TOOLS: &[(&str, &str, &str)] = &[
    ("curl", "lesson 5 talks to the daemon with it", "curl"),
    ("python3", "lesson 5's client library", "python3"),
    ("strace", "lesson 13 traces a container's process", "strace"),
    (
        "nsenter",
        "lesson 13 enters a container's namespaces",
        "util-linux",
    ),
    ("tini", "lesson 14 runs an init as PID 1", "tini"),
    (
        "tmux",
        "lessons want 2-3 terminals: tmux, or more windows",
        "tmux",
    ),
];

fn find_on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Whether Python's docker SDK imports (Debian 12 refuses `pip install`
/// outside a venv: the package is `python3-docker`).
fn python_docker_sdk() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import docker"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// An editor for the Dockerfiles of lessons 7-11.
fn editor() -> Option<String> {
    for v in ["VISUAL", "EDITOR"] {
        if let Some(e) = std::env::var(v).ok().filter(|e| !e.is_empty()) {
            return Some(e);
        }
    }
    ["nano", "vim", "vi", "emacs"]
        .iter()
        .find(|e| find_on_path(e).is_some())
        .map(|e| e.to_string())
}

/// The line that puts `whale` on PATH for every new shell: a link in
/// /usr/local/bin (root's PATH and every user's have it).
pub fn whale_path_line(whale: &Path) -> String {
    format!("sudo ln -sf {} /usr/local/bin/whale", whale.display())
}

/// For the first screen of a lesson: when `whale` is not on PATH, the
/// line that makes the student's other terminals find it.
pub fn whale_path_note(engine: &Engine) -> Option<String> {
    if engine.kind != EngineKind::Whale || find_on_path("whale").is_some() {
        return None;
    }
    let bin = whale_bin().ok()?;
    let dir = bin.parent()?.display().to_string();
    Some(format!(
        "Your other terminals do not know `whale` yet (command not found).\nRun this once, then `whale` works in every terminal:\n{}\nor, for one terminal only:\nexport PATH={dir}:$PATH\n",
        whale_path_line(&bin)
    ))
}

/// Findings for the tools and for `whale` on PATH.
pub fn findings(engine: &Engine) -> Vec<Finding> {
    let mut f = Vec::new();
    let mut missing_pkgs: Vec<&str> = Vec::new();
    for (tool, why, pkg) in TOOLS {
        let ok = find_on_path(tool).is_some();
        if !ok && !missing_pkgs.contains(pkg) {
            missing_pkgs.push(pkg);
        }
        f.push(Finding {
            item: "tool",
            ok,
            detail: if ok {
                format!("{tool} found ({why})")
            } else {
                format!("{tool} missing ({why}): `sudo apt-get install {pkg}`")
            },
        });
    }
    let sdk = python_docker_sdk();
    f.push(Finding {
        item: "tool",
        ok: sdk,
        detail: if sdk {
            "Python docker SDK found (lesson 5)".into()
        } else {
            "Python docker SDK missing (lesson 5): `sudo apt-get install python3-docker` (Debian 12 refuses `pip install docker`)".into()
        },
    });
    if !sdk {
        missing_pkgs.push("python3-docker");
    }
    let ed = editor();
    f.push(Finding {
        item: "tool",
        ok: ed.is_some(),
        detail: match ed {
            Some(e) => format!("editor: {e} (Dockerfiles in lessons 7-11)"),
            None => "no editor (Dockerfiles in lessons 7-11): `sudo apt-get install nano`".into(),
        },
    });
    if missing_pkgs.len() > 1 {
        f.push(Finding {
            item: "tools",
            ok: false,
            detail: format!(
                "all at once: `sudo apt-get install {}`",
                missing_pkgs.join(" ")
            ),
        });
    }
    if engine.kind == EngineKind::Whale {
        let on_path = find_on_path("whale");
        f.push(match (on_path, whale_bin()) {
            (Some(p), _) => Finding {
                item: "whale",
                ok: true,
                detail: format!("`whale` is on PATH ({}): every terminal can run it", p.display()),
            },
            (None, Ok(bin)) => Finding {
                item: "whale",
                ok: false,
                detail: format!(
                    "`whale` is not on PATH: a new terminal says `command not found`. Run `{}` once",
                    whale_path_line(&bin)
                ),
            },
            (None, Err(e)) => Finding {
                item: "whale",
                ok: false,
                detail: e.to_string(),
            },
        });
    }
    f
}
