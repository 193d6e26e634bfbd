//! The house's arrows (docs/ARCHITECTURE.md), checked on the source tree:
//! crates make most of them compile-time facts; what a crate boundary cannot
//! say (api/ is inside the engine crate beside shim/ and linux/; which room
//! may name a host /proc path; how long a file may grow) is checked here.

use std::fs;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runtime/ sits in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A file's code lines without its unit tests (`#[cfg(test)]` and all
/// after it, where the tests module sits at the end by convention) and
/// without comment lines.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = fs::read_to_string(path).unwrap();
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return Vec::new();
    }
    text.lines()
        .enumerate()
        .take_while(|(_, l)| l.trim() != "#[cfg(test)]")
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect()
}

/// `file:line: text` for every code line of `files` containing a needle.
fn offenders(files: &[PathBuf], needles: &[&str]) -> Vec<String> {
    let root = workspace();
    let mut found = Vec::new();
    for f in files {
        for (n, line) in code_lines(f) {
            if needles.iter().any(|needle| line.contains(needle)) {
                let rel = f.strip_prefix(&root).unwrap_or(f);
                found.push(format!("{}:{n}: {}", rel.display(), line.trim()));
            }
        }
    }
    found
}

/// The `[dependencies]` names of a crate's Cargo.toml.
fn dependencies(krate: &str) -> Vec<String> {
    let text = fs::read_to_string(workspace().join(krate).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("");
            deps.push(name.to_string());
        }
    }
    deps
}

#[test]
fn api_translates_http_and_reaches_no_lower_than_container() {
    let api = rust_files(&workspace().join("runtime/src/api"));
    assert!(api.len() > 5, "api/ has its files");
    let bad = offenders(
        &api,
        &[
            "crate::shim",
            "crate::linux",
            "crate::fsutil",
            "whale_linux",
        ],
    );
    assert!(
        bad.is_empty(),
        "api/ must call container/, image/ and build/, not shim/ or linux/:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_room_reaches_up() {
    let src = workspace().join("runtime/src");
    let checks: &[(&str, &[&str])] = &[
        ("container", &["crate::api", "whale_cli"]),
        (
            "image",
            &[
                "crate::api",
                "crate::container",
                "crate::build",
                "whale_cli",
            ],
        ),
        ("build", &["crate::api", "whale_cli"]),
        // The registry client: api and build call it; it reaches the image
        // store and nothing above it.
        (
            "registry",
            &[
                "crate::api",
                "crate::container",
                "crate::build",
                "crate::shim",
                "whale_cli",
            ],
        ),
        (
            "shim",
            &[
                "crate::api",
                "crate::container",
                "crate::build",
                "whale_cli",
            ],
        ),
    ];
    let mut bad = Vec::new();
    for (room, forbidden) in checks {
        bad.extend(offenders(&rust_files(&src.join(room)), forbidden));
    }
    assert!(bad.is_empty(), "arrows pointing up:\n{}", bad.join("\n"));
}

#[test]
fn crates_depend_only_downwards() {
    let engine_crates = ["whale", "whale-cli"];
    for (krate, forbidden) in [
        (
            "linux",
            &["whale", "whale-cli", "whale-args", "whale-formats"][..],
        ),
        (
            "formats",
            &["whale", "whale-cli", "whale-args", "whale-linux"][..],
        ),
        ("args", &["whale", "whale-cli", "whale-linux"][..]),
        ("cli", &["whale"][..]),
        ("tutor", &engine_crates[..]),
    ] {
        let deps = dependencies(krate);
        assert!(!deps.is_empty(), "{krate}/Cargo.toml has dependencies");
        for f in forbidden {
            assert!(
                !deps.iter().any(|d| d == f),
                "{krate} must not depend on {f}: {deps:?}"
            );
        }
    }
}

#[test]
fn host_proc_and_sys_paths_are_read_in_linux_only() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in ["runtime/src", "cli/src", "formats/src", "args/src"] {
        files.extend(rust_files(&root.join(dir)));
    }
    let bad = offenders(&files, &["\"/proc", "\"/sys/fs"]);
    assert!(
        bad.is_empty(),
        "only the kernel room (linux/) names host /proc and /sys/fs paths:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_source_file_is_over_a_thousand_lines() {
    let root = workspace();
    let mut long = Vec::new();
    for dir in [
        "runtime/src",
        "linux/src",
        "cli/src",
        "formats/src",
        "args/src",
        "tutor/src",
    ] {
        for f in rust_files(&root.join(dir)) {
            let n = fs::read_to_string(&f).unwrap().lines().count();
            if n > 1000 {
                long.push(format!("{} ({n} lines)", f.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these into modules whose names say what they hold:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checks_above_can_fail() {
    // A check that cannot fail proves nothing: feed each helper a known hit.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.rs");
    fs::write(
        &f,
        "use crate::shim::x;\n// crate::linux in a comment\nlet p = \"/proc/self\";\n#[cfg(test)]\nmod tests { use crate::linux; }\n",
    )
    .unwrap();
    let files = rust_files(dir.path());
    assert_eq!(offenders(&files, &["crate::shim"]).len(), 1);
    assert_eq!(offenders(&files, &["crate::linux"]).len(), 0);
    assert_eq!(offenders(&files, &["\"/proc"]).len(), 1);
    assert!(dependencies("cli").iter().any(|d| d == "whale-args"));
}
