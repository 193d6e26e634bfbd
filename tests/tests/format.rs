//! Docker's Go-template `--format` / `-f`, and the `-q` flags.

use whale_e2e::{columns, is_hex, World};

#[test]
fn ps_format_names_and_status() {
    let w = World::with_busybox();
    w.run_d(&["--name", "f1", "busybox", "sleep", "1000"]);
    w.whale_ok(&["run", "--name", "f2", "busybox", "true"]);
    let out = w.whale_ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with("f1 Up "), "{out}");
    let out = w.whale_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    let mut lines = out.lines();
    lines.sort();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[1].starts_with("f2 Exited (0) ") && lines[1].ends_with(" ago"),
        "{out}"
    );
    let out = w.whale_ok(&["ps", "-a", "--format", "{{.ID}}\t{{.Image}}\t{{.Command}}"]);
    for line in out.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        assert!(is_hex(parts[0], 12), "{out}");
        assert_eq!(parts[1], "busybox", "{out}");
        assert!(
            parts[2] == "\"sleep 1000\"" || parts[2] == "\"true\"",
            "COMMAND is quoted like Docker's:\n{out}"
        );
    }
}

#[test]
fn ps_table_format_has_a_header() {
    let w = World::with_busybox();
    w.run_d(&["--name", "tab", "busybox", "sleep", "1000"]);
    let out = w.whale_ok(&["ps", "--format", "table {{.Names}}\t{{.Status}}"]);
    let lines = out.lines();
    assert_eq!(columns(lines[0]), ["NAMES", "STATUS"], "{out}");
    assert!(lines[1].starts_with("tab "), "{out}");
}

#[test]
fn ps_columns_match_docker() {
    let w = World::with_busybox();
    w.run_d(&["--name", "cols", "busybox", "sleep", "1000"]);
    let out = w.whale_ok(&["ps"]);
    let lines = out.lines();
    assert_eq!(
        columns(lines[0]),
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ],
        "{out}"
    );
    let row = columns(lines[1]);
    assert!(is_hex(&row[0], 12), "{out}");
    assert_eq!(row[1], "busybox");
    assert_eq!(row[2], "\"sleep 1000\"");
    assert!(row[3].ends_with(" ago"), "{out}");
    assert!(row[4].starts_with("Up "), "{out}");
    assert_eq!(row.last().map(String::as_str), Some("cols"));
}

#[test]
fn quiet_flags() {
    let w = World::with_busybox();
    let up = w.run_d(&["--name", "q1", "busybox", "sleep", "1000"]);
    let out = w.whale_ok(&["run", "-d", "--name", "q2", "busybox", "true"]);
    let done = out.out().to_string();
    w.whale_ok(&["wait", "q2"]);
    let q = w.whale_ok(&["ps", "-q"]);
    assert_eq!(q.lines(), [&up[..12]], "{q}");
    let qa = w.whale_ok(&["ps", "-a", "-q"]);
    let mut got = qa.lines();
    got.sort();
    let mut want = vec![&up[..12], &done[..12]];
    want.sort();
    assert_eq!(got, want, "{qa}");
    let qa = w.whale_ok(&["ps", "-aq", "--no-trunc"]);
    assert!(qa.lines().iter().all(|l| is_hex(l, 64)), "{qa}");
    let iq = w.whale_ok(&["images", "-q"]);
    assert_eq!(iq.lines().len(), 1);
    assert!(is_hex(iq.out(), 12), "{iq}");
}

#[test]
fn inspect_format() {
    let w = World::with_busybox();
    w.whale(&["run", "--name", "test01", "busybox", "sh", "-c", "exit 2"])
        .expect_code(2);
    assert_eq!(w.inspect_f("{{.State.ExitCode}}", "test01"), "2");
    assert_eq!(
        w.inspect_f("{{.State.Status}} {{.State.Running}}", "test01"),
        "exited false"
    );
    assert_eq!(w.inspect_f("{{.Name}}", "test01"), "/test01");
    assert_eq!(w.inspect_f("{{.Config.Image}}", "test01"), "busybox");
    assert_eq!(
        w.inspect_f("{{json .Config.Cmd}}", "test01"),
        r#"["sh","-c","exit 2"]"#
    );
    // `.Id` is a field of both a container and an image (`.Name` is not).
    let both = w.whale_ok(&["inspect", "--format", "{{.Id}}", "test01", "busybox"]);
    let lines = both.lines();
    assert_eq!(
        lines.len(),
        2,
        "inspect takes containers and images:\n{both}"
    );
    assert!(is_hex(lines[0], 64), "{both}");
    assert!(lines[1].starts_with("sha256:"), "{both}");
    let bad = w.whale(&["inspect", "-f", "{{.State.ExitCode", "test01"]);
    assert!(!bad.ok(), "a malformed template is an error:\n{bad}");
}
