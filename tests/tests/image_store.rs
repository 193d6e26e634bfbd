//! The image store as users meet it: layers written once (no tar blob, the
//! tar replayed on `save` with the same ids), `docker load` of whale's
//! `save`, and the deepest image the store takes runs.

use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;
use std::time::Duration;
use whale_e2e::dockerd::Dockerd;
use whale_e2e::World;

fn inspect_id_and_layers(w: &World, image: &str) -> (String, serde_json::Value) {
    let v = w.inspect(image);
    (
        v["Id"].as_str().unwrap().to_string(),
        v["RootFS"]["Layers"].clone(),
    )
}

/// `name -> sha256 of its bytes` of every file of a docker-archive.
fn archive_files(path: &Path) -> std::collections::BTreeMap<String, String> {
    let mut a = tar::Archive::new(fs::File::open(path).unwrap());
    let mut out = std::collections::BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = e.path().unwrap().display().to_string();
        let mut h = Sha256::new();
        std::io::copy(&mut e, &mut h).unwrap();
        out.insert(name, hex::encode(h.finalize()));
    }
    out
}

/// A build (a RUN with a whiteout, a COPY) and a commit give images whose
/// layers exist only unpacked; `save` replays their tars, a fresh store
/// `load`s them to the same ids, and its `save` gives the same layers.
#[test]
fn save_load_of_built_and_committed_images_keeps_ids_and_bytes() {
    let w = World::with_busybox();
    let ctx = w.base().join("ctx");
    fs::create_dir(&ctx).unwrap();
    fs::write(ctx.join("f"), "copied\n").unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox:latest\nRUN echo hi > /hi && mkdir /d && ln -s /hi /d/link && rm /bin/sync\nCOPY f /f\n",
    )
    .unwrap();
    let ctx_s = ctx.display().to_string();
    w.whale_ok(&["build", "-q", "--network", "none", "-t", "st:built", &ctx_s]);
    w.whale_ok(&[
        "run",
        "--name",
        "committer",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo x > /x; rm /bin/true",
    ]);
    w.whale_ok(&["commit", "committer", "st:committed"]);
    w.whale_ok(&["rm", "committer"]);
    let blobs = w.root().join("image/blobs/sha256");
    assert_eq!(
        fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0),
        0,
        "a layer was written twice (a blob in {})",
        blobs.display()
    );

    let images = ["st:built", "st:committed", "busybox:latest"];
    let before: Vec<_> = images
        .iter()
        .map(|i| inspect_id_and_layers(&w, i))
        .collect();
    let a = w.base().join("a.tar");
    let a_s = a.display().to_string();
    let mut save = vec!["save", "-o", &a_s];
    save.extend(images);
    w.whale_ok(&save);

    let w2 = World::new();
    w2.whale_ok(&["load", "-i", &a_s]);
    let after: Vec<_> = images
        .iter()
        .map(|i| inspect_id_and_layers(&w2, i))
        .collect();
    assert_eq!(before, after, "ids and layers after save | load");
    let out = w2.whale_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "st:built",
        "cat",
        "/hi",
        "/f",
        "/d/link",
    ]);
    assert_eq!(out.out(), "hi\ncopied\nhi");
    let out = w2.whale(&[
        "run",
        "--rm",
        "--network",
        "none",
        "st:built",
        "ls",
        "/bin/sync",
    ]);
    assert!(!out.ok(), "the whiteout of /bin/sync was lost: {out:?}");

    let b = w2.base().join("b.tar");
    let b_s = b.display().to_string();
    let mut save = vec!["save", "-o", &b_s];
    save.extend(images);
    w2.whale_ok(&save);
    let (fa, fb) = (archive_files(&a), archive_files(&b));
    let layers = |f: &std::collections::BTreeMap<String, String>| {
        f.iter()
            .filter(|(k, _)| k.ends_with("layer.tar"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        layers(&fa),
        layers(&fb),
        "layer tars differ after a round trip"
    );
    assert!(layers(&fa).len() >= 3);
    // Each layer's tar is its diff_id.
    for (_, hash) in layers(&fa) {
        assert!(
            after.iter().any(|(_, l)| l.to_string().contains(&hash)),
            "layer sha256:{hash} is no diff_id of the images"
        );
    }
}

/// `docker load` (dockerd 20.10) of whale's `save` of a built image gives
/// Docker the same image id.
#[test]
fn docker_loads_whales_save_to_the_same_id() {
    let Some(d) = Dockerd::find("docker_loads_whales_save_to_the_same_id") else {
        return;
    };
    let w = World::with_busybox();
    let ctx = w.base().join("ctx");
    fs::create_dir(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox:latest\nRUN echo store > /store && rm /bin/sync\n",
    )
    .unwrap();
    let tag = "whale-store-e2e:saved";
    w.whale_ok(&[
        "build",
        "-q",
        "--network",
        "none",
        "-t",
        tag,
        &ctx.display().to_string(),
    ]);
    let id = w.inspect(tag)["Id"].as_str().unwrap().to_string();
    let a = w.base().join("a.tar");
    w.whale_ok(&["save", "-o", &a.display().to_string(), tag]);
    struct Rmi<'a>(&'a Dockerd, &'a str);
    impl Drop for Rmi<'_> {
        fn drop(&mut self) {
            let _ = self.0.docker(&["rmi", "-f", self.1]);
        }
    }
    let _rmi = Rmi(&d, tag);
    let out = d.docker(&["load", "-i", &a.display().to_string()]);
    assert!(out.ok(), "docker load of whale's save: {out:?}");
    let docker_id = d.docker(&["inspect", "-f", "{{.Id}}", tag]).success();
    assert_eq!(docker_id.out().trim(), id);
    let out = d
        .docker(&["run", "--rm", "--network", "none", tag, "cat", "/store"])
        .success();
    assert_eq!(out.out(), "store");
}

/// A docker-archive of busybox's layer and `extra` one-file layers on top.
fn deep_archive(w: &World, dir: &Path, extra: usize, tag: &str) -> std::path::PathBuf {
    let bb = dir.join("bb.tar");
    w.whale_ok(&["save", "-o", &bb.display().to_string(), "busybox:latest"]);
    let mut a = tar::Archive::new(fs::File::open(&bb).unwrap());
    let mut files = std::collections::HashMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut v).unwrap();
        files.insert(name, v);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let base_layer = manifest[0]["Layers"][0].as_str().unwrap().to_string();
    let mut config: serde_json::Value =
        serde_json::from_slice(&files[manifest[0]["Config"].as_str().unwrap()]).unwrap();
    let out_path = dir.join(format!("deep-{extra}.tar"));
    let mut out = tar::Builder::new(fs::File::create(&out_path).unwrap());
    let mut put = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        out.append_data(&mut h, name, data).unwrap();
    };
    put(&base_layer, &files[&base_layer]);
    let mut layer_names = vec![base_layer];
    let mut diff_ids = vec![config["rootfs"]["diff_ids"][0].clone()];
    let history = config["history"][0].clone();
    let mut histories = vec![history.clone()];
    for i in 1..=extra {
        let mut b = tar::Builder::new(Vec::new());
        let data = format!("{i}\n");
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, format!("l{i}"), data.as_bytes())
            .unwrap();
        let layer = b.into_inner().unwrap();
        diff_ids.push(format!("sha256:{}", hex::encode(Sha256::digest(&layer))).into());
        let name = format!("l{i}/layer.tar");
        put(&name, &layer);
        layer_names.push(name);
        histories.push(history.clone());
    }
    config["rootfs"]["diff_ids"] = diff_ids.into();
    config["history"] = histories.into();
    let cfg = serde_json::to_vec(&config).unwrap();
    let cfg_name = format!("{}.json", hex::encode(Sha256::digest(&cfg)));
    put(&cfg_name, &cfg);
    let m = serde_json::json!([{"Config": cfg_name, "RepoTags": [tag], "Layers": layer_names}]);
    put("manifest.json", m.to_string().as_bytes());
    out.into_inner().unwrap();
    out_path
}

/// The kernel stacks at most 500 overlay lowers and a container adds its
/// init layer: an image of 499 layers loads and runs, one of 500 is
/// refused at load naming the limit (before any layer is unpacked).
#[test]
fn the_deepest_image_runs_and_one_layer_more_is_refused() {
    let w = World::with_busybox();
    let dir = w.base().join("deep");
    fs::create_dir(&dir).unwrap();
    let ok = deep_archive(&w, &dir, 498, "deep:499");
    w.whale_timeout(
        &["load", "-i", &ok.display().to_string()],
        Duration::from_secs(300),
    )
    .success();
    assert_eq!(
        w.inspect("deep:499")["RootFS"]["Layers"]
            .as_array()
            .unwrap()
            .len(),
        499
    );
    let out = w.whale_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "deep:499",
        "cat",
        "/l1",
        "/l498",
    ]);
    assert_eq!(out.out(), "1\n498");

    let deeper = deep_archive(&w, &dir, 499, "deep:500");
    let out = w.whale(&["load", "-i", &deeper.display().to_string()]);
    assert!(!out.ok(), "a 500-layer image was loaded: {out:?}");
    assert!(
        out.stderr.contains("500 layers") && out.stderr.contains("limit is 499"),
        "the refusal should name the limit: {out:?}"
    );
    assert!(w.whale(&["inspect", "deep:500"]).code() != Some(0));
}
