//! State written under a lock: many clients at once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use whale_e2e::{is_hex, World};

const N: usize = 20;

fn parallel(w: &Arc<World>, args: &'static [&'static str]) -> Vec<whale_e2e::Out> {
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let w = Arc::clone(w);
            std::thread::spawn(move || w.whale_timeout(args, Duration::from_secs(120)))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a runner thread panicked"))
        .collect()
}

/// Every run succeeded, or the failures are listed.
fn assert_all_ok(outs: &[whale_e2e::Out]) {
    let failed: Vec<String> = outs
        .iter()
        .filter(|o| !o.ok())
        .map(|o| o.to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {N} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn twenty_concurrent_run_rm_all_succeed() {
    let w = Arc::new(World::with_busybox());
    let outs = parallel(&w, &["run", "--rm", "busybox", "true"]);
    assert_all_ok(&outs);
    let left = w.whale_ok(&["ps", "-a", "-q"]);
    assert!(
        left.out().is_empty(),
        "--rm containers left behind:\n{left}"
    );
}

#[test]
fn twenty_concurrent_runs_get_distinct_names_and_ids() {
    let w = Arc::new(World::with_busybox());
    let outs = parallel(&w, &["run", "busybox", "true"]);
    assert_all_ok(&outs);
    let out = w.whale_ok(&[
        "ps",
        "-a",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Names}} {{.Status}}",
    ]);
    let lines = out.lines();
    assert_eq!(lines.len(), N, "{out}");
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    for line in &lines {
        let mut it = line.splitn(3, ' ');
        let (id, name, status) = (
            it.next().unwrap_or(""),
            it.next().unwrap_or(""),
            it.next().unwrap_or(""),
        );
        assert!(is_hex(id, 64), "{out}");
        assert!(status.starts_with("Exited (0)"), "{out}");
        ids.insert(id.to_string());
        names.insert(name.to_string());
    }
    assert_eq!(ids.len(), N, "ids must be distinct:\n{out}");
    assert_eq!(names.len(), N, "names must be distinct:\n{out}");
}

#[test]
fn concurrent_creates_with_one_name_one_wins() {
    let w = Arc::new(World::with_busybox());
    let outs = parallel(&w, &["create", "--name", "only", "busybox", "true"]);
    let wins = outs.iter().filter(|o| o.ok()).count();
    assert_eq!(
        wins,
        1,
        "exactly one create may take the name:\n{}",
        outs.iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for o in outs.iter().filter(|o| !o.ok()) {
        assert!(o.stderr.contains("already in use"), "{o}");
    }
}
