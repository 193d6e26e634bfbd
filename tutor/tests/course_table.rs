//! `lessons/README.md` maps every point of the talk to lesson steps; the
//! map must name steps that exist, and every lesson must teach something.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use whaletutor::lesson;

#[test]
fn the_course_table_names_real_steps() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lessons");
    let lessons = lesson::load_dir(&dir).expect("lessons load");
    let steps: BTreeMap<u32, BTreeSet<String>> = lessons
        .iter()
        .map(|l| {
            let ids = l
                .lesson
                .steps
                .iter()
                .map(|s| s.get_ref().id.get_ref().clone())
                .collect();
            (l.number(), ids)
        })
        .collect();
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let mut taught: BTreeSet<u32> = BTreeSet::new();
    let mut rows = 0;
    for line in readme.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() != 3 {
            continue;
        }
        let Ok(n) = cells[1].parse::<u32>() else {
            continue;
        };
        rows += 1;
        let known = steps.get(&n).unwrap_or_else(|| {
            panic!(
                "README row `{}` names lesson {n}, which does not exist",
                cells[0]
            )
        });
        for id in cells[2].split(',').map(str::trim) {
            assert!(
                known.contains(id),
                "README row `{}`: lesson {n} has no step `{id}` (it has {known:?})",
                cells[0]
            );
        }
        taught.insert(n);
    }
    let all: BTreeSet<u32> = steps.keys().copied().collect();
    assert_eq!(taught, all, "every lesson appears in the table");
    println!(
        "{rows} points of the talk map to steps of {} lessons",
        all.len()
    );
}
