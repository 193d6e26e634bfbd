//! A student's first lesson in a real terminal: tmux at 80 columns, the
//! tutor in one window and a shell in another, the student typing what the
//! screen says. On a fresh store: `whale` is not on the new shell's PATH,
//! so the first screen offers to link it (into a directory of the test's
//! own, on the shells' PATH) and the student says yes; no line the tutor
//! prints is wider than the terminal, also after the window shrinks to 60
//! columns (the step is drawn again); the quiz answered wrong three times
//! shows the answer and why it is right; every step passes by typing what
//! it says; the end says which lesson is next.
//!
//! SKIPs (printing why) without tmux, mmdebstrap (the lesson's image is
//! built on Debian) or root. The tmux server has a private socket (-L) and
//! is killed however the test ends; the whale daemon is a sandbox.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use whaletutor::verify::Sandbox;

const BIN: &str = env!("CARGO_BIN_EXE_whaletutor");
const WIDTH: usize = 80;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// Type `text` and Enter in `window`.
    fn type_line(&self, window: &str, text: &str) {
        self.cmd(&["send-keys", "-t", window, "-l", text]);
        self.cmd(&["send-keys", "-t", window, "Enter"]);
    }
    /// The whole of `window`, wrapped lines joined back (so a line wider
    /// than the terminal shows as one).
    fn screen(&self, window: &str) -> String {
        self.cmd(&["capture-pane", "-p", "-J", "-S", "-", "-t", window])
    }
    fn wait_for(&self, window: &str, what: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen(window);
            if s.contains(what) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "no {what:?} in window {window} after {secs} s:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd(&["kill-server"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lesson_1_at_80_columns_by_typing_what_it_says() {
    for tool in ["tmux", "mmdebstrap"] {
        if !on_path(tool) {
            eprintln!("SKIP: `{tool}` is not installed (apt-get install {tool})");
            return;
        }
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: whale needs root");
        return;
    }
    let mut sb = Sandbox::whale().await.expect("sandbox daemon");
    let engine = sb.engine.clone();
    let progress = sb.path().join("progress.toml");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // Building the lesson's image is not what this test is about.
        let setup = Command::new(BIN)
            .arg("--lessons-dir")
            .arg(repo().join("lessons"))
            .args(["setup", "1"])
            .envs(engine.env())
            .output()
            .unwrap();
        assert!(
            setup.status.success(),
            "{}",
            String::from_utf8_lossy(&setup.stderr)
        );
        let tmux = Tmux {
            socket: format!("whaletutor-test-{}", std::process::id()),
        };
        // A student's shell: no `whale` on PATH (target/ is not on it);
        // the tutor's offered link goes into `links`, first on PATH.
        let links = sb.path().join("links");
        std::fs::create_dir_all(&links).unwrap();
        let path = format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            links.display()
        );
        let mut env: Vec<String> = engine
            .env()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.push(format!("WHALETUTOR_PROGRESS={}", progress.display()));
        env.push(format!("PATH={path}"));
        env.push(format!("WHALETUTOR_LINK_DIR={}", links.display()));
        env.push("TERM=xterm-256color".into());
        let mut args: Vec<String> = vec![
            "new-session".into(),
            "-d".into(),
            "-x".into(),
            WIDTH.to_string(),
            "-y".into(),
            "30".into(),
            "-s".into(),
            "t".into(),
        ];
        for e in &env {
            args.push("-e".into());
            args.push(e.clone());
        }
        args.push(format!(
            "{BIN} --lessons-dir {} lesson 1; sleep 600",
            repo().join("lessons").display()
        ));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        tmux.cmd(&a);
        let offer = tmux.wait_for("t:0", "[y/N]", 60);
        assert!(offer.contains("(asked once)"), "{offer}");
        // The second terminal.
        let mut args: Vec<String> = vec!["new-window".into(), "-t".into(), "t:1".into()];
        for e in &env {
            args.push("-e".into());
            args.push(e.clone());
        }
        args.push("sh".into());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        tmux.cmd(&a);
        // The link directory stands for /usr/local/bin: on the shell's
        // PATH (set again here: a profile may rewrite PATH for new shells).
        tmux.type_line("t:1", &format!("export PATH={}:$PATH", links.display()));
        tmux.type_line("t:1", "whale images || echo no-whale-here");
        tmux.wait_for("t:1", "no-whale-here", 10);
        tmux.type_line("t:0", "y");
        tmux.wait_for("t:0", "step 1/4", 60);
        assert!(
            links.join("whale").exists(),
            "no link in {}",
            links.display()
        );
        tmux.type_line("t:1", "whale images");
        tmux.wait_for("t:1", "whalesay", 10);
        tmux.type_line("t:1", "whale run --name hello whalesay:latest cowsay Hello");
        // The quiz of step 1, in the tutor's window.
        tmux.cmd(&["send-keys", "-t", "t:0", "a"]);
        tmux.wait_for("t:0", "(1-3)", 10);
        tmux.type_line("t:0", "7");
        tmux.wait_for("t:0", "from 1 to 3", 10);
        // Three wrong tries: each explained, the third reveals the answer
        // and why it is right, and the step goes on.
        tmux.type_line("t:0", "1");
        tmux.wait_for("t:0", "2 tries left", 10);
        tmux.type_line("t:0", "3");
        tmux.wait_for("t:0", "1 try left", 10);
        tmux.type_line("t:0", "1");
        tmux.wait_for("t:0", "The answer is 2", 10);
        tmux.wait_for("t:0", "With no tag", 10);
        tmux.wait_for("t:0", "step 2/4", 20);
        // Narrower: the step is drawn again, every visible line fits.
        tmux.cmd(&["resize-window", "-t", "t:0", "-x", "60", "-y", "30"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let visible = tmux.cmd(&["capture-pane", "-p", "-J", "-t", "t:0"]);
            let fits = visible.lines().all(|l| l.chars().count() <= 60);
            if fits && visible.contains("step 2/4") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "after a resize to 60 columns the step was not drawn again to fit:\n{visible}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        tmux.cmd(&[
            "resize-window",
            "-t",
            "t:0",
            "-x",
            &WIDTH.to_string(),
            "-y",
            "30",
        ]);
        tmux.type_line("t:1", "whale run -it --name first whalesay");
        tmux.wait_for("t:0", "step 3/4", 30);
        tmux.type_line("t:1", "id");
        tmux.type_line("t:1", "echo hello > /greeting");
        tmux.type_line("t:1", "cat /greeting");
        tmux.cmd(&["send-keys", "-t", "t:1", "C-p", "C-q"]);
        tmux.wait_for("t:0", "step 4/4", 30);
        tmux.type_line("t:1", "whale run --name second whalesay cat /greeting");
        let end = tmux.wait_for("t:0", "Lesson 1 complete", 30);
        assert!(
            end.contains("Next: `whaletutor lesson 2`")
                || end.contains("Next: whaletutor lesson 2"),
            "{end}"
        );
        for line in end.lines() {
            assert!(
                line.chars().count() <= WIDTH,
                "a line wider than the terminal ({}):\n{line}",
                line.chars().count()
            );
        }
    }));
    sb.shutdown().await;
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    assert!(!mounts.contains(&sb.path().display().to_string()));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
