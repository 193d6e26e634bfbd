//! `lint` over the corpus of broken lessons: every file is reported with
//! file:line:col and the expected message, and nothing panics.

use std::path::PathBuf;
use whaletutor::lesson;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/lessons")
}

const EXPECTED: &[(&str, &str)] = &[
    (
        "host-command-regex",
        "11:3: host check: its command holds a regex (`grep`)",
    ),
    ("quiz-without-why", "11:3: quiz `q` has no `why`"),
    (
        "pattern-without-words",
        "11:3: stdout `^([1-9]|[1-9][0-9])\\s*$` cannot be put in plain words for the book",
    ),
    (
        "hint-gives-quiz-away",
        "10:10: this hint gives away the answer of quiz `q` (it says `sh`)",
    ),
    (
        "challenge-shows-command",
        "13:5: challenge step `s1`: its text shows the command `whale build -t fast .`",
    ),
    (
        "action-two-verbs",
        "17:14: solve action mixes run and spawn",
    ),
    ("asks-nothing", "11:3: container check asks nothing"),
    (
        "bad-format-version",
        "1:18: format_version 7 is not supported",
    ),
    ("bad-id", "2:6: id `Broken Lesson` is not valid"),
    ("bad-regex", "11:3: logs `hello(` is not a valid regex"),
    ("bad-requires", "6:13: requires entry `Busy Box!`"),
    (
        "bad-step-requires",
        "12:13: step requires `bridge`, which is not one of published-ports",
    ),
    ("bad-status", "11:3: status `up` is not a Docker state"),
    ("bad-template", "9:8: template error"),
    ("duplicate-key", "3:1: duplicate key `id`"),
    ("duplicate-step-id", "17:6: step id `s1` is used twice"),
    ("empty-any", "11:3: `any` check needs at least one check"),
    (
        "empty-failure",
        "11:3: container check has an empty failure message",
    ),
    ("empty", "1:1: missing field `format_version`"),
    (
        "expect-without-spawn",
        "17:14: expect/send/send_control need an earlier `spawn`",
    ),
    ("missing-failure", "11:3: missing field `failure`"),
    ("missing-id", "1:1: missing field `id`"),
    (
        "missing-image-context",
        "6:24: requires image `whalesay`, which is neither a base image",
    ),
    (
        "name-and-label",
        "11:3: container check takes `name` or `label`, not both",
    ),
    ("nested-check-unknown-field", "11:3: unknown field `colour`"),
    ("no-checks", "6:1: step `s1` has no [[step.check]]"),
    ("no-steps", "2:6: the lesson has no [[step]]"),
    ("not-utf8", "1:1: cannot read lesson file"),
    (
        "quiz-answer-not-choice",
        "11:3: quiz `q`: answer `bash` is not one of its choices",
    ),
    (
        "quiz-without-why-not",
        "11:3: quiz `q`: no why_not for the wrong choice `init`",
    ),
    (
        "quiz-check-unknown-quiz",
        "11:3: quiz check names quiz `nope`",
    ),
    (
        "relative-file-path",
        "11:3: file check path `etc/passwd` must be absolute",
    ),
    (
        "steps-not-array",
        "6:8: invalid type: string \"one\", expected a sequence",
    ),
    ("syntax-error", "12:20: invalid basic string"),
    ("undefined-variable", "9:8: template error"),
    ("unknown-action-key", "17:16: unknown field `shell`"),
    ("unknown-check-field", "11:3: unknown field `runing`"),
    ("unknown-check-kind", "12:10: unknown variant `volume`"),
    ("unknown-step-key", "11:1: unknown field `hint`"),
    ("unknown-top-key", "6:1: unknown field `colour`"),
    (
        "write-escapes",
        "17:14: write path `../Dockerfile` must stay inside the work dir",
    ),
    (
        "wrong-type",
        "11:3: invalid type: string \"yes\", expected a boolean",
    ),
];

#[test]
fn every_broken_lesson_is_reported_with_its_position() {
    let dir = fixtures();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus has {} files", files.len());
    let mut report = String::new();
    for f in &files {
        let stem = f
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        let diags = lesson::lint_files(std::slice::from_ref(f));
        assert!(!diags.is_empty(), "{stem}: lint found nothing");
        let expected = EXPECTED
            .iter()
            .find(|(n, _)| *n == stem)
            .unwrap_or_else(|| panic!("{stem}: no expected message in the table"))
            .1;
        let lines: Vec<String> = diags
            .iter()
            .map(|d| format!("{}:{}: {}", d.line, d.col, d.message))
            .collect();
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "{stem}: expected `{expected}`, got {lines:?}"
        );
        for d in &diags {
            assert!(d.file.ends_with(&format!("{stem}.toml")));
            assert!(d.line >= 1 && d.col >= 1);
        }
        for l in lines {
            report.push_str(&format!("{stem}.toml:{l}\n"));
        }
    }
    insta::assert_snapshot!("lint_corpus", report);
}

#[test]
fn the_course_lessons_are_clean() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lessons");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("lessons dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let diags = lesson::lint_files(&files);
    assert!(diags.is_empty(), "{diags:?}");
}
