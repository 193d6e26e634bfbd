//! `setup` makes what a lesson image's Dockerfile needs first (recursively),
//! against a real whale daemon in a sandbox. Needs root and the `whale`
//! binary (`cargo build --workspace`; WHALE_BIN overrides).

use whaletutor::setup::{self, SetupError};
use whaletutor::verify::Sandbox;

fn write(dir: &std::path::Path, image: &str, dockerfile: &str) {
    let d = dir.join(image);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("Dockerfile"), dockerfile).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bases_are_made_first_recursively() {
    // A cache of our own: busybox is bootstrapped here, not loaded from an
    // archive another run left (the only test in this binary sets it).
    let cache = tempfile::tempdir().unwrap();
    std::env::set_var("WHALETUTOR_CACHE", cache.path());
    let images = tempfile::tempdir().unwrap();
    let dir = images.path();
    write(
        dir,
        "top",
        "FROM mid\nCOPY --from=busybox /bin/busybox /bb\nCMD [\"/bb\", \"true\"]\n",
    );
    write(dir, "mid", "FROM busybox:latest\nRUN echo mid > /mid\n");
    write(dir, "loop-a", "FROM loop-b\n");
    write(dir, "loop-b", "FROM loop-a\n");
    write(dir, "orphan", "FROM mid\nCOPY --from=nosuch /a /a\n");

    let mut sb = Sandbox::whale().await.expect("sandbox daemon");
    let docker = sb.engine.connect().await.unwrap();
    let r = setup::ensure_named(&sb.engine, &docker, &["top".to_string()], dir).await;
    let again = setup::ensure_named(&sb.engine, &docker, &["top".to_string()], dir).await;
    let cycle = setup::ensure_named(&sb.engine, &docker, &["loop-a".to_string()], dir).await;
    let orphan = setup::ensure_named(&sb.engine, &docker, &["orphan".to_string()], dir).await;
    let mid_made = setup::image_present(&docker, "mid:latest").await;
    sb.shutdown().await;

    assert_eq!(r.expect("setup of top"), ["busybox:latest", "mid", "top"]);
    assert!(mid_made);
    assert_eq!(
        again.unwrap(),
        Vec::<String>::new(),
        "present images are kept"
    );
    match cycle {
        Err(SetupError::Cycle(c)) => assert_eq!(c, "loop-a -> loop-b -> loop-a"),
        other => panic!("want a cycle error, got {other:?}"),
    }
    match orphan {
        Err(e @ SetupError::NoContext { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("nosuch") && m.contains("the Dockerfile of orphan needs it"),
                "{m}"
            );
        }
        other => panic!("want a missing-context error, got {other:?}"),
    }
}
