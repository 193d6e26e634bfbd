//! Base images are bootstrapped once per machine: the first sandbox keeps
//! `busybox` as an archive in the cache, the next sandbox (a fresh store,
//! as each `verify` makes) loads it instead of bootstrapping, and gets the
//! same image ID. Needs root and the `whale` binary (WHALE_BIN overrides).

use whaletutor::base_cache;
use whaletutor::setup;
use whaletutor::verify::Sandbox;

async fn image_id(docker: &bollard::Docker, name: &str) -> String {
    docker
        .inspect_image(name)
        .await
        .expect("the image is there")
        .id
        .expect("an ID")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sandbox_loads_the_base_image_instead_of_bootstrapping() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: whale needs root");
        return;
    }
    // The only test in this binary: the variable is ours.
    let cache = tempfile::tempdir().unwrap();
    std::env::set_var("WHALETUTOR_CACHE", cache.path());
    let images = tempfile::tempdir().unwrap();
    let want = ["busybox".to_string()];

    let mut first = Sandbox::whale().await.expect("sandbox daemon");
    let d1 = first.engine.connect().await.unwrap();
    let made1 = setup::ensure_named(&first.engine, &d1, &want, images.path()).await;
    let id1 = image_id(&d1, "busybox").await;
    first.shutdown().await;
    let archive = base_cache::archive(cache.path(), "busybox");
    assert!(archive.is_file(), "no archive at {}", archive.display());

    let mut second = Sandbox::whale().await.expect("sandbox daemon");
    let d2 = second.engine.connect().await.unwrap();
    let made2 = setup::ensure_named(&second.engine, &d2, &want, images.path()).await;
    let id2 = image_id(&d2, "busybox").await;
    let runs = second.engine.whale(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "echo",
        "loaded",
    ]);
    second.shutdown().await;

    assert_eq!(made1.expect("first setup"), ["busybox"]);
    assert_eq!(made2.expect("second setup"), ["busybox (from the cache)"]);
    assert_eq!(id1, id2, "the loaded image is the bootstrapped one");
    assert_eq!(
        runs.expect("a container of the loaded image runs").trim(),
        "loaded"
    );
}
