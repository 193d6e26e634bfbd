//! Exit codes as Docker gives them.

use whale_e2e::World;

#[test]
fn the_commands_own_code() {
    let w = World::with_busybox();
    w.whale(&["run", "--rm", "busybox", "true"]).expect_code(0);
    w.whale(&["run", "--rm", "busybox", "sh", "-c", "exit 3"])
        .expect_code(3);
    w.whale(&["run", "--rm", "busybox", "false"]).expect_code(1);
}

#[test]
fn missing_command_is_127() {
    let w = World::with_busybox();
    let out = w
        .whale(&["run", "--rm", "busybox", "nosuchcommand"])
        .expect_code(127);
    assert!(
        out.stderr.contains("nosuchcommand"),
        "the error names the command:\n{out}"
    );
    let out = w
        .whale(&["run", "--rm", "busybox", "/no/such/path"])
        .expect_code(127);
    assert!(out.stderr.contains("/no/such/path"), "{out}");
}

#[test]
fn not_executable_is_126() {
    let w = World::with_busybox();
    let out = w
        .whale(&["run", "--rm", "busybox", "/etc/passwd"])
        .expect_code(126);
    assert!(
        out.stderr.contains("/etc/passwd"),
        "the error names the file:\n{out}"
    );
    w.whale(&["run", "--rm", "busybox", "/etc"])
        .expect_code(126);
}

#[test]
fn missing_image_is_125_with_a_clear_message() {
    let w = World::with_busybox();
    let out = w.whale(&["run", "--rm", "nosuchimage"]).expect_code(125);
    assert!(
        out.stderr.contains("nosuchimage"),
        "the error names the image:\n{out}"
    );
    assert!(out.stdout.is_empty(), "errors go to stderr:\n{out}");
    assert!(
        w.container_ids_on_disk().is_empty(),
        "no container is left for a missing image"
    );
}

#[test]
fn killed_is_128_plus_the_signal() {
    let w = World::with_busybox();
    w.run_d(&["--name", "k9", "busybox", "sleep", "1000"]);
    w.whale_ok(&["kill", "-s", "KILL", "k9"]);
    assert_eq!(w.whale_ok(&["wait", "k9"]).out(), "137");
    assert_eq!(w.inspect_f("{{.State.ExitCode}}", "k9"), "137");
    // A child killed by a signal: the shell reports 128+N, Docker passes it on.
    w.whale(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "sleep 100 & kill -TERM $!; wait $!",
    ])
    .expect_code(143);
}

#[test]
fn run_attached_returns_the_code_of_an_engine_failure_as_125() {
    let w = World::with_busybox();
    let out = w.whale(&["run", "--rm", "--memory", "notasize", "busybox", "true"]);
    assert_eq!(
        out.code(),
        Some(125),
        "a bad flag value is the engine's error:\n{out}"
    );
    assert!(out.stderr.contains("notasize"), "{out}");
}
