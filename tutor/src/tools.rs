//! The host tools the lessons use, for `doctor`: each missing one is named
//! with the lesson that needs it and the apt line that installs it; and
//! whether `whale` itself is reachable from a new terminal (on PATH), with
//! the exact line that makes it so, and the offer (once, with consent) to
//! make that link.

use crate::engine::{whale_bin, Engine, EngineKind};
use crate::progress::{Progress, ProgressError};
use crate::setup::Finding;
use std::io::{BufRead, IsTerminal, Write};
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

pub(crate) fn find_on_path(tool: &str) -> Option<PathBuf> {
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

/// Where the link to `whale` goes: /usr/local/bin (root's PATH and every
/// user's have it); for a normal user, who runs whale rootless and may not
/// write there, `~/.local/bin` (Debian's `~/.profile` puts it on PATH when
/// it exists); or `$WHALETUTOR_LINK_DIR` (a test's own directory).
pub fn link_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WHALETUTOR_LINK_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) if !nix::unistd::geteuid().is_root() => PathBuf::from(home).join(".local/bin"),
        _ => PathBuf::from("/usr/local/bin"),
    }
}

/// The line that puts `whale` on PATH for every new shell: a link in
/// [`link_dir`] (root's, with sudo; a normal user's own, without).
pub fn whale_path_line(whale: &Path) -> String {
    let dir = link_dir();
    let link = dir.join("whale");
    if nix::unistd::geteuid().is_root() {
        format!("sudo ln -sf {} {}", whale.display(), link.display())
    } else {
        format!(
            "mkdir -p {} && ln -sf {} {}",
            dir.display(),
            whale.display(),
            link.display(),
        )
    }
}

/// Make the link, with the student's consent. Something already at the
/// link's place is left alone (it may be another program called whale).
pub fn link_whale() -> Result<PathBuf, String> {
    let bin = whale_bin().map_err(|e| e.to_string())?;
    let link = link_dir().join("whale");
    if link.symlink_metadata().is_ok() {
        return Err(format!(
            "{} exists already; the tutor does not replace it",
            link.display()
        ));
    }
    if !nix::unistd::geteuid().is_root() {
        // A normal user's ~/.local/bin may not exist yet.
        let dir = link_dir();
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    }
    std::os::unix::fs::symlink(&bin, &link)
        .map_err(|e| format!("cannot link {} to {}: {e}", link.display(), bin.display()))?;
    Ok(link)
}

/// The first screen when `whale` is not on PATH: on a terminal, and only
/// the first time (remembered in the progress file), ask to make the link;
/// else, or when the answer is no, print the lines that do it by hand.
pub fn offer_link(progress_path: &Path, note: &str) -> Result<(), ProgressError> {
    let mut progress = Progress::load(progress_path)?;
    if progress.link_offered || !std::io::stdin().is_terminal() {
        print!("{note}");
        return Ok(());
    }
    progress.link_offered = true;
    progress.save(progress_path)?;
    print!(
        "Your other terminals do not know `whale` yet (command not found).\nThe tutor can link it as {}\nLink it, so that every terminal finds it? (asked once) [y/N] ",
        link_dir().join("whale").display()
    );
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        print!("Not linked. {note}");
        return Ok(());
    }
    match link_whale() {
        Ok(link) => println!(
            "Linked {link}.\n`whale` works in every new terminal (`whaletutor doctor` checks it).",
            link = link.display()
        ),
        Err(e) => print!("Not linked:\n{e}.\n{note}"),
    }
    Ok(())
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
