//! The container life cycle: create, start, run -d, ps, stop, kill, wait,
//! rm, and surviving the daemon's death.

use std::time::{Duration, Instant};
use whale_e2e::{is_hex, pid_alive, wait_for, World};

#[test]
fn sleeper_survives_kill_9_of_the_daemon() {
    let w = World::with_busybox();
    let id = w.run_d(&["--name", "sleeper", "busybox", "sleep", "1000"]);
    let line = w.ps_line(false, "sleeper").expect("sleeper in `whale ps`");
    assert!(line.contains("Up "), "{line}");
    assert!(line.starts_with(&id[..12]), "CONTAINER ID column: {line}");
    let pid = w.pid_of("sleeper");

    let killed = w.kill_daemon();
    assert!(!w.ping(), "daemon {killed:?} should be dead");
    assert!(
        pid_alive(pid),
        "the container's init {pid} must outlive the daemon"
    );

    // Any whale command brings a daemon back, which re-adopts the container.
    let line = w
        .ps_line(false, "sleeper")
        .expect("sleeper still in `whale ps` after kill -9 of the daemon");
    assert!(line.contains("Up "), "{line}");
    assert!(w.ping(), "the CLI should have started a daemon");
    let again = w.daemon_pids();
    assert!(!again.is_empty() && again.iter().all(|p| !killed.contains(p)));
    assert_eq!(w.pid_of("sleeper"), pid);

    let start = Instant::now();
    w.whale_ok(&["stop", "-t", "1", "sleeper"]);
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "stop -t 1 took {:?}",
        start.elapsed()
    );
    let line = w.ps_line(true, "sleeper").expect("sleeper in `ps -a`");
    assert!(
        line.contains("Exited (137)"),
        "sleep ignores SIGTERM as PID 1, so stop kills it:\n{line}"
    );
    assert!(
        w.ps_line(false, "sleeper").is_none(),
        "an exited container is not in `ps`"
    );
    assert!(!pid_alive(pid));

    w.whale_ok(&["rm", "sleeper"]);
    assert!(w.ps_line(true, "sleeper").is_none());
    w.assert_container_gone(&id);
    w.assert_no_host_mounts();
}

#[test]
fn exit_codes_recorded_while_the_daemon_is_dead() {
    let w = World::with_busybox();
    w.run_d(&["--name", "later", "busybox", "sh", "-c", "sleep 3; exit 7"]);
    let pid = w.pid_of("later");
    w.kill_daemon();
    assert!(
        wait_for(Duration::from_secs(15), || (!pid_alive(pid)).then_some(())).is_some(),
        "the container should have exited by itself"
    );
    // Give the shim a moment to record the status it just reaped.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !w.ping(),
        "no daemon yet: the exit was recorded without one"
    );
    let line = w.ps_line(true, "later").expect("later in ps -a");
    assert!(line.contains("Exited (7)"), "{line}");
    assert_eq!(w.inspect_f("{{.State.ExitCode}}", "later"), "7");
}

#[test]
fn run_without_i_closes_stdin_and_exits_at_once() {
    let w = World::with_busybox();
    let start = Instant::now();
    w.whale_ok(&["run", "--name", "test01", "busybox", "sh"]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "sh without stdin should exit at once"
    );
    let line = w.ps_line(true, "test01").expect("test01 in ps -a");
    assert!(line.contains("Exited (0)"), "{line}");
    assert!(line.contains(" ago"), "{line}");
    assert_eq!(w.inspect_f("{{.State.ExitCode}}", "test01"), "0");
}

#[test]
fn create_start_wait_logs() {
    let w = World::with_busybox();
    let out = w.whale_ok(&[
        "create",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo hello from c1; exit 4",
    ]);
    let id = out.out().to_string();
    assert!(is_hex(&id, 64), "create prints the id:\n{out}");
    let line = w.ps_line(true, "c1").expect("c1 in ps -a");
    assert!(line.contains("Created"), "{line}");
    assert_eq!(w.inspect_f("{{.State.Status}}", "c1"), "created");
    w.whale_ok(&["start", "c1"]);
    let waited = w.whale_ok(&["wait", "c1"]);
    assert_eq!(waited.out(), "4", "{waited}");
    let logs = w.whale_ok(&["logs", "c1"]);
    assert_eq!(logs.out(), "hello from c1", "{logs}");
    assert_eq!(w.inspect_f("{{.State.Status}}", "c1"), "exited");
}

#[test]
fn wait_blocks_until_exit() {
    let w = World::with_busybox();
    w.run_d(&["--name", "w1", "busybox", "sh", "-c", "sleep 2; exit 5"]);
    let start = Instant::now();
    let out = w.whale_ok(&["wait", "w1"]);
    assert_eq!(out.out(), "5", "{out}");
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "wait returned before the exit"
    );
}

#[test]
fn logs_keep_stdout_and_stderr_apart() {
    let w = World::with_busybox();
    w.whale_ok(&[
        "run",
        "--name",
        "logger",
        "busybox",
        "sh",
        "-c",
        "echo out1; echo err1 >&2; echo out2",
    ]);
    let logs = w.whale_ok(&["logs", "logger"]);
    assert_eq!(logs.stdout, "out1\nout2\n", "{logs}");
    assert_eq!(logs.stderr, "err1\n", "{logs}");
    let raw = std::fs::read_to_string(
        w.root()
            .join("containers")
            .join(w.inspect_f("{{.Id}}", "logger"))
            .join("container.log"),
    )
    .unwrap_or_default();
    let first: serde_json::Value =
        serde_json::from_str(raw.lines().next().unwrap_or("")).unwrap_or_default();
    assert_eq!(first["log"], "out1\n", "json-file log line: {raw}");
    assert_eq!(first["stream"], "stdout", "json-file log line: {raw}");
    assert!(first["time"].is_string(), "json-file log line: {raw}");
}

#[test]
fn top_lists_the_container_processes() {
    let w = World::with_busybox();
    w.run_d(&[
        "--name",
        "topper",
        "busybox",
        "sh",
        "-c",
        "sleep 1000 & sleep 999; wait",
    ]);
    let out = wait_for(Duration::from_secs(5), || {
        let out = w.whale_ok(&["top", "topper"]);
        (out.stdout.contains("sleep 1000") && out.stdout.contains("sleep 999")).then_some(out)
    })
    .unwrap_or_else(|| {
        panic!(
            "top never showed both sleeps:\n{}",
            w.whale(&["top", "topper"])
        )
    });
    let header = out.lines()[0].to_string();
    assert!(header.contains("PID") && header.contains("CMD"), "{out}");
    assert_eq!(out.lines().len(), 4, "header + sh + 2 sleeps:\n{out}");
}

#[test]
fn rm_f_kills_a_running_container() {
    let w = World::with_busybox();
    let id = w.run_d(&["--name", "busy", "busybox", "sleep", "1000"]);
    let pid = w.pid_of("busy");
    let refused = w.whale(&["rm", "busy"]);
    assert!(
        !refused.ok(),
        "rm of a running container needs -f:\n{refused}"
    );
    assert!(refused.stderr.contains("running"), "{refused}");
    w.whale_ok(&["rm", "-f", "busy"]);
    assert!(wait_for(Duration::from_secs(3), || (!pid_alive(pid)).then_some(())).is_some());
    assert!(w.ps_line(true, "busy").is_none());
    w.assert_container_gone(&id);
}

#[test]
fn run_rm_removes_the_container() {
    let w = World::with_busybox();
    w.whale_ok(&["run", "--rm", "--name", "gone", "busybox", "true"]);
    assert!(w.ps_line(true, "gone").is_none());
    assert!(
        w.container_ids_on_disk().is_empty(),
        "run --rm left a container dir"
    );
}

#[test]
fn name_conflict_is_a_409() {
    let w = World::with_busybox();
    let id = w.run_d(&["--name", "dup", "busybox", "sleep", "1000"]);
    let out = w.whale(&["run", "--name", "dup", "busybox", "true"]);
    assert_eq!(out.code(), Some(125), "{out}");
    assert!(
        out.stderr.contains("\"/dup\" is already in use") && out.stderr.contains(&id),
        "Docker's message: Conflict. The container name \"/dup\" is already in use by container \"<id>\"...\n{out}"
    );
    let api = w.api(
        "POST",
        "/containers/create?name=dup",
        Some(r#"{"Image":"busybox","Cmd":["true"]}"#),
    );
    assert_eq!(api.status, 409, "{}", api.text());
    assert!(api.json()["message"]
        .as_str()
        .is_some_and(|m| m.contains("already in use")));
}

#[test]
fn ids_work_by_unique_prefix() {
    let w = World::with_busybox();
    let id = w.run_d(&["--name", "pref", "busybox", "sleep", "1000"]);
    assert_eq!(w.inspect_f("{{.Name}}", &id[..6]), "/pref");
    assert_eq!(w.inspect_f("{{.Id}}", &id[..12]), id);
    w.whale_ok(&["kill", &id[..4]]);
    assert_eq!(w.whale_ok(&["wait", &id[..5]]).out(), "137");
    let none = w.whale(&["inspect", "ffffffffffff0000"]);
    assert!(
        !none.ok() && none.stderr.contains("ffffffffffff0000"),
        "{none}"
    );
}

#[test]
fn generated_names_look_like_docker() {
    let w = World::with_busybox();
    w.whale_ok(&["create", "busybox", "true"]);
    let name = w
        .whale_ok(&["ps", "-a", "--format", "{{.Names}}"])
        .out()
        .to_string();
    let parts: Vec<&str> = name.split('_').collect();
    assert!(
        parts.len() == 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase())),
        "random names are adjective_surname, got {name:?}"
    );
}

#[test]
fn kill_delivers_signals() {
    let w = World::with_busybox();
    w.run_d(&[
        "--name",
        "trapper",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 7' USR1; while true; do sleep 0.1; done",
    ]);
    w.wait_for_top("trapper", "sleep 0.1");
    w.whale_ok(&["kill", "-s", "USR1", "trapper"]);
    assert_eq!(w.whale_ok(&["wait", "trapper"]).out(), "7");
    w.run_d(&["--name", "victim", "busybox", "sleep", "1000"]);
    w.whale_ok(&["kill", "victim"]);
    assert_eq!(
        w.whale_ok(&["wait", "victim"]).out(),
        "137",
        "kill sends SIGKILL: 128+9"
    );
    let stopped = w.whale(&["kill", "victim"]);
    assert!(
        !stopped.ok(),
        "kill of an exited container fails:\n{stopped}"
    );
}

#[test]
fn stop_lets_a_trapping_init_exit_cleanly() {
    let w = World::with_busybox();
    w.run_d(&[
        "--name",
        "polite",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 0.1; done",
    ]);
    w.wait_for_top("polite", "sleep 0.1");
    let start = Instant::now();
    w.whale_ok(&["stop", "polite"]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "SIGTERM was handled; stop should not wait 10 s"
    );
    let line = w.ps_line(true, "polite").expect("polite in ps -a");
    assert!(line.contains("Exited (0)"), "{line}");
}

#[test]
fn start_a_stopped_container_again() {
    let w = World::with_busybox();
    w.whale_ok(&["run", "--name", "again", "busybox", "sh", "-c", "echo run"]);
    w.whale_ok(&["start", "again"]);
    assert_eq!(w.whale_ok(&["wait", "again"]).out(), "0");
    let logs = w.whale_ok(&["logs", "again"]);
    assert_eq!(logs.stdout, "run\nrun\n", "logs keep both runs:\n{logs}");
}

#[test]
fn the_cli_starts_the_daemon_when_the_socket_is_absent() {
    let w = World::without_daemon();
    assert!(!w.ping());
    w.whale_ok(&["bootstrap", "busybox"]);
    w.whale_ok(&["run", "--rm", "busybox", "true"]);
    assert!(
        w.ping(),
        "after a whale command, a daemon answers on {}",
        w.socket().display()
    );
    assert_eq!(w.daemon_pids().len(), 1, "exactly one daemon for this root");
}

#[test]
fn a_readopted_container_can_be_waited_on_and_keeps_logging() {
    let w = World::with_busybox();
    w.run_d(&[
        "--name",
        "adopted",
        "busybox",
        "sh",
        "-c",
        "echo before; sleep 3; echo after; exit 9",
    ]);
    w.wait_for_top("adopted", "sleep 3");
    w.kill_daemon();
    // `wait` starts a new daemon, which must re-adopt the container from
    // disk and its shim, then report the real exit code.
    let out = w.whale_ok(&["wait", "adopted"]);
    assert_eq!(out.out(), "9", "{out}");
    let logs = w.whale_ok(&["logs", "adopted"]);
    assert_eq!(logs.stdout, "before\nafter\n", "{logs}");
    let line = w.ps_line(true, "adopted").expect("adopted in ps -a");
    assert!(line.contains("Exited (9)"), "{line}");
}

#[test]
fn container_prune_removes_the_stopped_and_counts_their_bytes() {
    let w = World::with_busybox();
    w.whale_ok(&[
        "run",
        "--name",
        "wrote",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/blob",
        "bs=1000",
        "count=5",
    ]);
    w.whale_ok(&["container", "run", "--name", "quiet", "busybox", "true"]);
    let running = w.run_d(&["--name", "keeper", "busybox", "sleep", "1000"]);
    let wrote = w
        .whale_ok(&["inspect", "-f", "{{.Id}}", "wrote"])
        .out()
        .trim()
        .to_string();

    // Without -f it asks, and "no" keeps everything.
    let asked = w.whale_stdin(&["container", "prune"], "n\n");
    assert!(
        asked
            .out()
            .contains("Are you sure you want to continue? [y/N]"),
        "{}",
        asked.out()
    );
    assert_eq!(w.whale_ok(&["container", "ls", "-aq"]).lines().len(), 3);

    let out = w.whale_ok(&["container", "prune", "-f"]);
    let text = out.out();
    assert!(text.starts_with("Deleted Containers:\n"), "{text}");
    assert!(text.contains(&wrote), "{text}");
    assert!(
        !text.contains(&running),
        "a running container is never pruned: {text}"
    );
    // 5000 bytes of /blob, as docker's units print it.
    assert!(
        text.trim_end().ends_with("Total reclaimed space: 5kB"),
        "{text}"
    );
    let left = w.whale_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.lines(), vec!["keeper"]);
    w.whale_ok(&["rm", "-f", "keeper"]);
}

#[test]
fn init_is_pid_1_forwards_signals_and_passes_the_exit_code() {
    let w = World::with_busybox();
    let ps = w.whale_ok(&["run", "--rm", "--init", "busybox", "ps", "-o", "pid,args"]);
    let lines = ps.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.trim() == "1 /sbin/docker-init -- ps -o pid,args"),
        "docker-init is PID 1: {lines:?}"
    );
    // A shell as PID 1 ignores SIGTERM; behind the init it is an ordinary
    // process and dies of it: 143, not the SIGKILL (137) of a timed-out stop.
    w.run_d(&[
        "--init",
        "--name",
        "behind-init",
        "busybox",
        "sh",
        "-c",
        "sleep 1000",
    ]);
    w.whale_ok(&["stop", "-t", "30", "behind-init"]);
    let code = w.whale_ok(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.HostConfig.Init}}",
        "behind-init",
    ]);
    assert_eq!(code.out().trim(), "143 true");
    w.whale(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"])
        .expect_code(7);
    // The init's mount point lives in the init layer, not in the container's changes.
    w.run_d(&["--init", "--name", "init-diff", "busybox", "sleep", "1000"]);
    let diff = w.whale_ok(&["diff", "init-diff"]);
    assert!(!diff.out().contains("docker-init"), "{}", diff.out());
    w.whale_ok(&["rm", "-f", "behind-init", "init-diff"]);
}

#[test]
fn diff_lists_what_the_container_changed() {
    let w = World::with_busybox();
    w.whale_ok(&[
        "run",
        "--name",
        "changer",
        "busybox",
        "sh",
        "-c",
        "echo x > /new; rm /bin/ls; echo y >> /etc/passwd",
    ]);
    let out = w.whale_ok(&["container", "diff", "changer"]);
    let lines = out.lines();
    for want in ["A /new", "D /bin/ls", "C /etc/passwd"] {
        assert!(lines.contains(&want), "{want} in {lines:?}");
    }
    assert!(
        !out.out().contains("/etc/hosts"),
        "engine files are not changes: {lines:?}"
    );
    w.whale_ok(&["rm", "changer"]);
}

#[test]
fn a_build_killed_with_the_daemon_leaves_nothing_at_the_next_start() {
    let w = World::with_busybox();
    let ctx = w.base().join("killed-build");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN sleep 1000\n").unwrap();
    let mut build = w.whale_command(&["build", "-t", "never", ctx.to_str().unwrap()]);
    build
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut client = build.spawn().unwrap();
    // The RUN step is running: its container exists and its scratch too.
    let id = wait_for(Duration::from_secs(60), || {
        w.container_ids_on_disk().into_iter().next()
    })
    .expect("the RUN container was created");
    wait_for(Duration::from_secs(30), || {
        w.whale(&["top", &id]).ok().then_some(())
    })
    .expect("the RUN step started");
    let scratch = w.root().join("build-tmp");
    assert!(std::fs::read_dir(&scratch).unwrap().count() > 0);

    w.kill_daemon();
    let _ = client.kill();
    let _ = client.wait();
    w.start_daemon();

    assert_eq!(
        w.container_ids_on_disk(),
        Vec::<String>::new(),
        "the RUN container of the killed build is reaped at start"
    );
    assert!(
        !scratch.exists() || std::fs::read_dir(&scratch).unwrap().count() == 0,
        "the killed build's scratch is removed at start"
    );
    assert!(w.whale_ok(&["ps", "-aq"]).out().is_empty());
    assert!(!w.whale(&["image", "inspect", "never"]).ok());
}
