//! Non-interactive stdio: -i pipes stdin in; without -i stdin is closed.

use whale_e2e::World;

#[test]
fn stdin_is_piped_with_i() {
    let w = World::with_busybox();
    let out = w
        .whale_stdin(&["run", "-i", "busybox", "sh"], "echo hi; exit 3")
        .expect_code(3);
    assert_eq!(out.stdout, "hi\n", "{out}");
    let out = w
        .whale_stdin(&["run", "--rm", "-i", "busybox", "sh"], "echo hi; exit 3")
        .expect_code(3);
    assert_eq!(out.stdout, "hi\n", "{out}");
}

#[test]
fn without_i_stdin_is_closed() {
    let w = World::with_busybox();
    let out = w
        .whale_stdin(&["run", "--rm", "busybox", "cat"], "should not arrive\n")
        .success();
    assert_eq!(out.stdout, "", "{out}");
}

#[test]
fn a_megabyte_round_trip() {
    let w = World::with_busybox();
    let input: String = (0..16384).map(|i| format!("{:063}\n", i)).collect();
    assert_eq!(input.len(), 1 << 20);
    let out = w
        .whale_stdin(&["run", "--rm", "-i", "busybox", "wc", "-c"], &input)
        .success();
    assert_eq!(out.out(), "1048576", "{}", out.stderr);
    let out = w
        .whale_stdin(&["run", "--rm", "-i", "busybox", "cat"], &input)
        .success();
    assert!(
        out.stdout == input,
        "cat returned {} bytes, not the 1 MiB sent",
        out.stdout.len()
    );
}

#[test]
fn stdout_and_stderr_stay_apart() {
    let w = World::with_busybox();
    let out = w.whale_ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(out.stdout, "out\n", "{out}");
    assert_eq!(out.stderr, "err\n", "{out}");
}

#[test]
fn environment_and_workdir() {
    let w = World::with_busybox();
    let out = w.whale_ok(&[
        "run",
        "--rm",
        "-e",
        "GREETING=hello",
        "-w",
        "/tmp/here",
        "busybox",
        "sh",
        "-c",
        "echo $GREETING; pwd; echo $PATH",
    ]);
    let lines = out.lines();
    assert_eq!(lines[0], "hello", "{out}");
    assert_eq!(lines[1], "/tmp/here", "{out}");
    assert!(lines[2].contains("/bin"), "{out}");
}
