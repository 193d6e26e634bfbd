//! Terminals, attach, detach and exec, driven through a real pty (rexpect):
//! a host shell runs `whale` as a user would, and the test reads what the
//! terminal shows. Each test has its own World (root dir and daemon),
//! cleaned up on drop, also when the test fails.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rexpect::session::{spawn_command, PtySession};
use whale_e2e::{wait_for, whale_bin, World};

const PROMPT: &str = "HOST$ ";
const CONTAINER_PROMPT: &str = "/ # ";

/// An interactive `sh` on a fresh pty, with this world's whale on PATH.
struct Host {
    s: PtySession,
    tty: PathBuf,
}

impl Host {
    #[track_caller]
    fn new(w: &World) -> Host {
        let bin_dir = whale_bin().parent().expect("whale has a dir").to_path_buf();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-i")
            .env("PS1", PROMPT)
            .env("PATH", path)
            .env("TERM", "xterm")
            .env("WHALE_ROOT", w.root())
            .env("WHALE_HOST", w.host())
            .env("DOCKER_HOST", w.host())
            .env("NO_COLOR", "1")
            .env_remove("ENV");
        let s = spawn_command(cmd, Some(30_000)).expect("spawn sh on a pty");
        let mut h = Host {
            s,
            tty: PathBuf::new(),
        };
        h.exp(PROMPT);
        // Once the shell prompts, its stdin is the pty's slave.
        h.tty = std::fs::read_link(format!("/proc/{}/fd/0", h.s.process().child_pid))
            .expect("the host shell's tty");
        // A known, ordinary terminal to start from (rexpect turns echo off),
        // with a size, as a terminal emulator would have.
        h.line("stty sane rows 40 cols 120");
        h.exp(PROMPT);
        h
    }

    fn line(&mut self, l: &str) {
        self.s.send_line(l).expect("write to the pty");
    }

    fn ctrl(&mut self, c: char) {
        self.s.send_control(c).expect("write to the pty");
    }

    #[track_caller]
    fn exp(&mut self, needle: &str) -> String {
        match self.s.exp_string(needle) {
            Ok(before) => before,
            Err(e) => panic!("expected {needle:?} on the terminal: {e}"),
        }
    }

    #[track_caller]
    fn exp_re(&mut self, re: &str) -> String {
        match self.s.exp_regex(re) {
            Ok((_, matched)) => matched,
            Err(e) => panic!("expected /{re}/ on the terminal: {e}"),
        }
    }

    /// Run a host command (at the host prompt) and return its exit status.
    #[track_caller]
    fn status(&mut self) -> i32 {
        self.line("echo status=$?");
        let m = self.exp_re(r"status=\d+");
        self.exp(PROMPT);
        m.trim_start_matches("status=").parse().expect("a number")
    }

    /// The host terminal is back to normal: canonical mode, echo, signals.
    #[track_caller]
    fn assert_cooked(&mut self) {
        // The markers are made by tr, so the echoed command cannot match.
        self.line("echo \"@@ $(stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo|isig|icrnl|opost)$' | tr '\\n' ' ')@@\" | tr @ '#'");
        let m = self.exp_re("##[^#]*##");
        let modes: Vec<&str> = m.trim_matches('#').split_whitespace().collect();
        for mode in ["icanon", "echo", "isig", "icrnl", "opost"] {
            assert!(
                modes.contains(&mode),
                "the host terminal should be back in cooked mode ({mode} set), stty shows: {m:?}"
            );
        }
        self.exp(PROMPT);
    }

    /// Resize the host terminal as a terminal emulator does (SIGWINCH to
    /// the foreground job).
    #[track_caller]
    fn resize(&self, rows: u16, cols: u16) {
        let st = Command::new("stty")
            .arg("-F")
            .arg(&self.tty)
            .args(["rows", &rows.to_string(), "cols", &cols.to_string()])
            .status()
            .expect("run stty");
        assert!(st.success(), "stty -F {} failed", self.tty.display());
    }

    /// Start `whale run -it ... sh` (or any line) and wait for ash's prompt.
    #[track_caller]
    fn enter(&mut self, cmdline: &str) {
        self.line(cmdline);
        self.exp(CONTAINER_PROMPT);
    }

    fn detach(&mut self) {
        self.ctrl('p');
        self.ctrl('q');
    }

    /// In the container's shell: `echo MARK=<expr>` and the value printed.
    #[track_caller]
    fn eval(&mut self, mark: &str, expr: &str) -> String {
        self.line(&format!("echo {mark}={expr}"));
        let m = self.exp_re(&format!(r"{mark}=[^\r\n$]+\r?\n"));
        m.trim_start_matches(&format!("{mark}="))
            .trim_end()
            .to_string()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // An interactive shell ignores rexpect's SIGTERM (it would wait out
        // its kill timeout): end it at once. Whatever still runs on the pty
        // gets SIGHUP; the World cleans up containers.
        let pid = nix::unistd::Pid::from_raw(self.s.process().child_pid.as_raw());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
}

fn world() -> World {
    World::with_busybox()
}

#[test]
fn run_it_detach_attach_exit_start_ai() {
    let w = world();
    let mut h = Host::new(&w);
    h.enter("whale run -it --name first busybox sh");
    assert_eq!(h.eval("pid", "$$"), "1", "the shell should be PID 1");
    assert_eq!(h.eval("tty", "$(tty)"), "/dev/pts/0");
    h.line("touch /made-before");
    h.exp(CONTAINER_PROMPT);

    // Ctrl-P Ctrl-Q: back to the host, status 0, container still Up.
    h.detach();
    h.exp(PROMPT);
    assert_eq!(h.status(), 0, "`whale run -it` exits 0 on detach");
    h.assert_cooked();
    let line = w.ps_line(false, "first").expect("first in `whale ps`");
    assert!(line.contains(" Up "), "{line}");

    // Attach gives the prompt back.
    h.line("whale attach first");
    h.line("");
    h.exp(CONTAINER_PROMPT);
    assert_eq!(h.eval("again", "$$"), "1");

    // A lone Ctrl-P followed by another key is passed through.
    h.line("cat -v");
    std::thread::sleep(Duration::from_millis(300));
    h.ctrl('p');
    h.line("x");
    h.exp("^Px");
    h.ctrl('d');
    h.exp(CONTAINER_PROMPT);

    // exit 4 ends it; the attach returns its code.
    h.line("exit 4");
    h.exp(PROMPT);
    assert_eq!(h.status(), 4, "`whale attach` returns the container's code");
    h.assert_cooked();
    let line = w.ps_line(true, "first").expect("first in `whale ps -a`");
    assert!(line.contains("Exited (4)"), "{line}");

    // start -ai: a prompt again, same filesystem.
    h.enter("whale start -ai first");
    assert_eq!(
        h.eval("found", "$(ls /made-before)"),
        "/made-before",
        "the file made before the restart is still there"
    );
    // Detach from `attach`: docker's message and code 1.
    h.detach();
    h.exp(PROMPT);
    assert_eq!(h.status(), 0, "`whale start -ai` exits 0 on detach");
    h.line("whale attach first");
    h.line("");
    h.exp(CONTAINER_PROMPT);
    h.detach();
    h.exp("read escape sequence");
    h.exp(PROMPT);
    assert_eq!(h.status(), 1, "`whale attach` exits 1 on detach, as docker");
    h.assert_cooked();

    // Logs of a tty container show what the terminal showed.
    let logs = w.whale_ok(&["logs", "first"]);
    assert!(logs.stdout.contains("found=/made-before"), "{logs}");
    assert!(logs.stdout.contains("again=1"), "{logs}");
    w.whale_ok(&["rm", "-f", "first"]);
}

#[test]
fn exec_it_is_a_second_shell_in_the_same_pid_namespace() {
    let w = world();
    w.run_d(&["-it", "--name", "first", "busybox", "sh"]);
    let mut h = Host::new(&w);
    h.enter("whale exec -it first sh");
    h.line("ps -o pid,comm; echo ps-$((1))-done");
    let table = h.exp("ps-1-done\r\n");
    let shells: Vec<&str> = table
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("sh"))
        .collect();
    assert!(
        shells
            .iter()
            .any(|l| l.split_whitespace().next() == Some("1")),
        "the container's shell is PID 1:\n{table}"
    );
    assert!(shells.len() >= 2, "ps should show both shells:\n{table}");
    let me = h.eval("mypid", "$$");
    assert_ne!(me, "1", "the exec'd shell is not PID 1");
    assert_eq!(h.eval("tty", "$(tty)"), "/dev/pts/1", "its own pty");
    // Resizing the client terminal resizes the exec's pty.
    h.resize(33, 101);
    let size = wait_for(Duration::from_secs(5), || {
        let s = h.eval("size", "$(stty size)");
        (s == "33 101").then_some(s)
    });
    assert_eq!(
        size.as_deref(),
        Some("33 101"),
        "exec's pty follows SIGWINCH"
    );
    h.line("exit 3");
    h.exp(PROMPT);
    assert_eq!(h.status(), 3, "whale exec returns the command's code");
    h.assert_cooked();
    // The container is untouched.
    assert!(w.ps_line(false, "first").is_some());
    w.whale_ok(&["rm", "-f", "first"]);
}

#[test]
fn exec_without_a_tty() {
    let w = world();
    w.run_d(&["--name", "cc", "busybox", "sleep", "1000"]);
    let out = w.whale(&["exec", "cc", "sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert_eq!(out.code(), Some(7), "{out}");
    assert_eq!(out.stdout, "out\n", "{out}");
    assert_eq!(out.stderr, "err\n", "{out}");
    let out = w.whale_stdin(&["exec", "-i", "cc", "sh"], "echo from-stdin; exit 2");
    assert_eq!(out.code(), Some(2), "{out}");
    assert_eq!(out.stdout, "from-stdin\n", "{out}");
    let out = w.whale_ok(&[
        "exec",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "cc",
        "sh",
        "-c",
        "echo $A $PWD $(id -u)",
    ]);
    assert_eq!(out.stdout, "1 /tmp 65534\n", "{out}");
    let out = w.whale(&["exec", "cc", "nosuchcommand"]);
    assert_eq!(out.code(), Some(127), "{out}");
    assert!(out.stdout.contains("executable file not found"), "{out}");
    // The exec's processes join the container's cgroup and namespaces.
    let out = w.whale_ok(&[
        "exec",
        "cc",
        "sh",
        "-c",
        "echo $$; hostname; cat /proc/1/cmdline",
    ]);
    let lines = out.lines();
    assert_ne!(lines[0], "1");
    let id = w.inspect_f("{{.Id}}", "cc");
    assert_eq!(lines[1], &id[..12], "the container's hostname: {out}");
    assert!(lines[2].starts_with("sleep"), "{out}");
    // The API: create, start detached, inspect.
    let created = w.api(
        "POST",
        &format!("/containers/{id}/exec"),
        Some(r#"{"Cmd":["sh","-c","exit 5"]}"#),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let exec_id = created.json()["Id"].as_str().expect("Id").to_string();
    let started = w.api(
        "POST",
        &format!("/exec/{exec_id}/start"),
        Some(r#"{"Detach":true}"#),
    );
    assert!(started.status < 300, "{}", started.text());
    let info = wait_for(Duration::from_secs(10), || {
        let v = w.api("GET", &format!("/exec/{exec_id}/json"), None).json();
        (v["Running"] == false && v["ExitCode"].is_number()).then_some(v)
    })
    .expect("the exec ends");
    assert_eq!(info["ExitCode"], 5, "{info}");
    assert_eq!(info["ContainerID"], id.as_str(), "{info}");
    assert_eq!(info["ProcessConfig"]["entrypoint"], "sh", "{info}");
    assert!(info["Pid"].as_i64().unwrap_or(0) > 1, "{info}");
    let again = w.api("POST", &format!("/exec/{exec_id}/start"), Some("{}"));
    assert_eq!(again.status, 409, "{}", again.text());
    let none = w.api("GET", "/exec/nosuch/json", None);
    assert_eq!(none.status, 404);
    w.whale_ok(&["stop", "-t", "0", "cc"]);
    let late = w.api(
        "POST",
        &format!("/containers/{id}/exec"),
        Some(r#"{"Cmd":["true"]}"#),
    );
    assert_eq!(
        late.status,
        409,
        "exec in a stopped container: {}",
        late.text()
    );
    w.whale_ok(&["rm", "cc"]);
}

#[test]
fn i_and_t_make_the_difference() {
    let w = world();
    let mut h = Host::new(&w);
    // No -i: sh reads EOF and exits 0 at once.
    h.line("whale run --name test01 busybox sh");
    h.exp(PROMPT);
    assert_eq!(h.status(), 0);
    // -i: commands on stdin, no prompt.
    h.line("whale run -i --name test02 busybox sh");
    h.line("echo answer-$((6*7))");
    h.exp("answer-42");
    h.ctrl('d');
    h.exp(PROMPT);
    assert_eq!(h.status(), 0);
    let logs = w.whale_ok(&["logs", "test02"]);
    assert!(!logs.stdout.contains("/ #"), "no prompt without -t: {logs}");
    // -it: a prompt.
    h.enter("whale run -it --name test03 busybox sh");
    h.line("exit");
    h.exp(PROMPT);
    assert_eq!(h.status(), 0);
    h.assert_cooked();
    w.whale_ok(&["rm", "test01", "test02", "test03"]);
}

#[test]
fn kill_9_from_the_host_restores_the_terminal() {
    let w = world();
    let mut h = Host::new(&w);
    h.enter("whale run -it --name victim busybox sh");
    h.line("sleep 1000");
    let pid = w.pid_of("victim");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9 the container's init");
    h.exp(PROMPT);
    assert_eq!(h.status(), 137);
    h.assert_cooked();
    let line = w.ps_line(true, "victim").expect("victim in ps -a");
    assert!(line.contains("Exited (137)"), "{line}");
}

#[test]
fn resizing_the_client_resizes_the_container_tty() {
    let w = world();
    let mut h = Host::new(&w);
    h.enter("whale run -it --name rs busybox sh");
    assert_eq!(h.eval("size", "$(stty size)"), "40 120", "initial size");
    h.resize(25, 90);
    let size = wait_for(Duration::from_secs(5), || {
        let s = h.eval("size", "$(stty size)");
        (s == "25 90").then_some(s)
    });
    assert_eq!(size.as_deref(), Some("25 90"), "the pty follows SIGWINCH");
    h.line("exit");
    h.exp(PROMPT);
    h.assert_cooked();
}

#[test]
fn several_clients_get_the_output() {
    let w = world();
    w.run_d(&["-it", "--name", "multi", "busybox", "sh"]);
    let mut a = Host::new(&w);
    let mut b = Host::new(&w);
    for h in [&mut a, &mut b] {
        h.line("whale attach multi");
        h.line("");
        h.exp(CONTAINER_PROMPT);
    }
    a.line("echo seen-$((40+2))");
    a.exp("seen-42");
    b.exp("seen-42");
    for h in [&mut a, &mut b] {
        h.detach();
        h.exp("read escape sequence");
        h.exp(PROMPT);
        h.assert_cooked();
    }
    assert!(w.ps_line(false, "multi").is_some(), "still running");
}

#[test]
fn detach_keys_can_be_changed() {
    let w = world();
    let mut h = Host::new(&w);
    h.enter("whale run -it --detach-keys ctrl-a --name dk busybox sh");
    // Ctrl-P Ctrl-Q are ordinary keys now (-ixon: the tty keeps Ctrl-Q
    // for flow control otherwise).
    h.line("stty -ixon");
    h.exp(CONTAINER_PROMPT);
    h.line("cat -v");
    // Keys typed ahead are judged by the line discipline of that moment.
    std::thread::sleep(Duration::from_millis(300));
    h.ctrl('p');
    h.ctrl('q');
    h.line("");
    h.exp("^P^Q");
    h.ctrl('d');
    h.exp(CONTAINER_PROMPT);
    h.ctrl('a');
    h.exp(PROMPT);
    assert_eq!(h.status(), 0);
    // A two-key sequence given to attach.
    h.line("whale attach --detach-keys ctrl-x,x dk");
    h.line("");
    h.exp(CONTAINER_PROMPT);
    h.ctrl('x');
    h.s.send("x").expect("write");
    h.s.flush().expect("flush");
    h.exp("read escape sequence");
    h.exp(PROMPT);
    h.assert_cooked();
    assert!(w.ps_line(false, "dk").is_some(), "still running");
}

#[test]
fn the_stock_docker_cli_runs_detaches_attaches_and_execs() {
    if whale_e2e::docker_cli().is_none() {
        eprintln!("no docker CLI installed: skipping");
        return;
    }
    let w = world();
    let mut h = Host::new(&w);
    h.enter("docker run -it --name dk busybox sh");
    assert_eq!(h.eval("pid", "$$"), "1");
    assert_eq!(h.eval("tty", "$(tty)"), "/dev/pts/0");
    h.detach();
    h.exp(PROMPT);
    assert_eq!(h.status(), 0, "docker run -it exits 0 on detach");
    h.assert_cooked();
    assert!(w.ps_line(false, "dk").is_some());

    h.enter("docker exec -it dk sh");
    assert_ne!(h.eval("pid", "$$"), "1");
    h.line("exit 6");
    h.exp(PROMPT);
    assert_eq!(h.status(), 6, "docker exec returns the command's code");

    h.line("docker attach dk");
    h.line("");
    h.exp(CONTAINER_PROMPT);
    h.line("exit 5");
    h.exp(PROMPT);
    assert_eq!(h.status(), 5);
    h.assert_cooked();
}

#[test]
fn a_signal_to_the_client_restores_the_terminal() {
    let w = world();
    w.run_d(&["-it", "--name", "sig", "busybox", "sh"]);
    let mut h = Host::new(&w);
    h.line("whale attach sig");
    h.line("");
    h.exp(CONTAINER_PROMPT);
    // The attach client is the host shell's only child.
    let shell = h.s.process().child_pid.as_raw();
    let client = wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<i32>().ok())
    })
    .expect("the whale attach process");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(client),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM the client");
    h.exp(PROMPT);
    assert_eq!(h.status(), 143, "killed by SIGTERM, as a shell reports it");
    h.assert_cooked();
    assert!(w.ps_line(false, "sig").is_some(), "the container runs on");
}
