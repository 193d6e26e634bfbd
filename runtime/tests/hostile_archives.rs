//! `whale load` against a corpus of hostile docker-archives, generated here
//! (byte by byte, bypassing the tar crate's own checks, so each stays a few
//! KB on disk: the sparse file and the 20,000-tag manifest included).
//!
//! Each case is loaded into a store under `<tmp>/root/image` with canary
//! dirs beside it (`<tmp>/canary`, `<tmp>/root/canary`). Every case must
//! return (no panic) a clear error naming what was wrong - or load, where
//! the archive is legitimate - and afterwards: nothing written outside the
//! store (canaries empty, no new names in the parent dirs, the absolute
//! targets absent), no temps or scratch left in the store, and for a
//! refusal, no image, tag or layer added. After the corpus a normal load
//! still works. The last test runs a few of them through a daemon's
//! `POST /images/load` and checks the daemon answers after them, and that
//! scratch left by a killed load is removed when the daemon starts.

#[path = "daemon_common/mod.rs"]
mod common;

use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use whale::image::archive;
use whale::image::{Limits, Store};

// ------------------------------------------------------------ tar by hand

/// A tar written header by header: names, types and sizes as given.
#[derive(Default, Clone)]
struct T(Vec<u8>);

fn header(name: &[u8], kind: u8, size: u64, link: &[u8]) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    {
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name);
        old.linkname[..link.len()].copy_from_slice(link);
    }
    h.set_mode(if kind == b'5' { 0o755 } else { 0o644 });
    h.set_size(size);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_cksum();
    h
}

impl T {
    fn push(mut self, h: &tar::Header, data: &[u8]) -> Self {
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(vec![0u8; pad]);
        self
    }
    fn raw(self, name: &str, kind: u8, data: &[u8], link: &str) -> Self {
        let h = header(name.as_bytes(), kind, data.len() as u64, link.as_bytes());
        self.push(&h, data)
    }
    fn file(self, name: &str, data: &[u8]) -> Self {
        self.raw(name, b'0', data, "")
    }
    fn dir(self, name: &str) -> Self {
        self.raw(name, b'5', b"", "")
    }
    fn sym(self, name: &str, target: &str) -> Self {
        self.raw(name, b'2', b"", target)
    }
    fn hard(self, name: &str, target: &str) -> Self {
        self.raw(name, b'1', b"", target)
    }
    fn node(self, name: &str, kind: u8) -> Self {
        self.raw(name, kind, b"", "")
    }
    /// A PAX extended header (records `key=value`) for the next entry.
    fn pax(self, recs: &[(&str, &[u8])]) -> Self {
        let mut data = Vec::new();
        for (k, v) in recs {
            let body = 1 + k.len() + 1 + v.len() + 1;
            let mut len = body + body.to_string().len();
            if len.to_string().len() + body != len {
                len = body + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        self.raw("././@PaxHeader", b'x', &data, "")
    }
    /// A GNU long name record for the next entry.
    fn long_name(self, name: &str) -> Self {
        let mut d = name.as_bytes().to_vec();
        d.push(0);
        self.raw("././@LongLink", b'L', &d, "")
    }
    fn bytes(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0u8; 1024]);
        self.0
    }
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    files
        .iter()
        .fold(T::default(), |t, (n, d)| t.file(n, d))
        .bytes()
}

fn config(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// A docker-archive: the layers as `l<i>/layer.tar`, `config.json`, and
/// `manifest.json` naming them with `tags`.
fn archive_of(layers: &[Vec<u8>], tags: &[&str]) -> Vec<u8> {
    let diffs: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    let mut t = T::default();
    for (i, l) in layers.iter().enumerate() {
        t = t.dir(&format!("l{i}/")).file(&format!("l{i}/layer.tar"), l);
    }
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("l{i}/layer.tar"))
        .collect();
    t.file("config.json", &config(&diffs))
        .file(
            "manifest.json",
            &serde_json::to_vec(
                &json!([{"Config": "config.json", "RepoTags": tags, "Layers": names}]),
            )
            .unwrap(),
        )
        .bytes()
}

/// An archive around one layer tar.
fn with_layer(l: Vec<u8>) -> Vec<u8> {
    archive_of(&[l], &["hostile:layer"])
}

/// `entries` then a manifest naming one config and layer.
fn with_manifest(t: T, config: &str, layers: &[&str], tags: &[&str]) -> Vec<u8> {
    t.file(
        "manifest.json",
        &serde_json::to_vec(&json!([{"Config": config, "RepoTags": tags, "Layers": layers}]))
            .unwrap(),
    )
    .bytes()
}

/// A GNU sparse entry: `stored` bytes of data standing for a file of
/// `real` bytes, mostly hole.
fn sparse_entry(t: T, name: &str, real: u64) -> T {
    let data = vec![b'x'; 512];
    let mut h = header(name.as_bytes(), b'S', 512, b"");
    {
        let g = h.as_gnu_mut().unwrap();
        g.set_real_size(real);
        g.sparse[0].set_offset(real - 512);
        g.sparse[0].set_length(512);
    }
    h.set_cksum();
    t.push(&h, &data)
}

// ------------------------------------------------------------ the world

struct World {
    dir: tempfile::TempDir,
    n: usize,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        for d in ["root/image", "root/canary", "canary", "input"] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        World { dir, n: 0 }
    }
    fn store(&self, limits: Limits) -> Store {
        Store::open_with_limits(&self.dir.path().join("root/image"), limits).unwrap()
    }
    fn image_root(&self) -> PathBuf {
        self.dir.path().join("root/image")
    }
    fn load(&mut self, store: &Store, bytes: &[u8]) -> Result<Vec<archive::Loaded>, String> {
        self.n += 1;
        let p = self.dir.path().join("input").join(format!("a{}", self.n));
        fs::write(&p, bytes).unwrap();
        let scratch = store.scratch("load").unwrap();
        let r = archive::load(store, &p, scratch.path()).map_err(|e| e.to_string());
        drop(scratch);
        fs::remove_file(&p).unwrap();
        r
    }
    /// What the store holds: (tags, image ids, layer dirs).
    fn contents(&self, store: &Store) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
        let imgs = store.list().unwrap();
        let tags = imgs.iter().flat_map(|i| i.repo_tags.clone()).collect();
        let ids = imgs.iter().map(|i| i.id.clone()).collect();
        let layers = names(&self.image_root().join("layers"));
        (tags, ids, layers)
    }
    /// Nothing outside the store, no temps inside it.
    fn clean(&self) -> Result<(), String> {
        let top = self.dir.path();
        let expect = |dir: &Path, want: &[&str]| -> Result<(), String> {
            let got = names(dir);
            let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
            if got != want {
                return Err(format!(
                    "{} holds {got:?}, expected {want:?}",
                    dir.display()
                ));
            }
            Ok(())
        };
        expect(top, &["canary", "input", "root"])?;
        expect(&top.join("root"), &["canary", "image"])?;
        expect(&top.join("canary"), &[])?;
        expect(&top.join("root/canary"), &[])?;
        expect(&top.join("input"), &[])?;
        let img = self.image_root();
        for (d, bad) in [("blobs", "tmp-"), ("layers", "tmp-")] {
            if let Some(n) = names(&img.join(d)).into_iter().find(|n| n.starts_with(bad)) {
                return Err(format!("temp left in {d}: {n}"));
            }
        }
        let tmp = names(&img.join("tmp"));
        if !tmp.is_empty() {
            return Err(format!("scratch left: {tmp:?}"));
        }
        for p in ["/tmp/whale-hostile-evil", "/whale-hostile-evil"] {
            if Path::new(p).exists() {
                return Err(format!("{p} was written"));
            }
        }
        Ok(())
    }
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

enum Expect {
    /// Refused with a message containing this.
    Refused(&'static str),
    /// Loads, with these tags.
    Loads(&'static [&'static str]),
}
use Expect::{Loads, Refused};

fn run_case(
    w: &mut World,
    store: &Store,
    name: &str,
    bytes: &[u8],
    expect: &Expect,
) -> Result<(), String> {
    let before = w.contents(store);
    let started = Instant::now();
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.load(store, bytes)))
        .map_err(|_| format!("{name}: PANICKED"))?;
    if started.elapsed() > Duration::from_secs(60) {
        return Err(format!("{name}: took {:?}", started.elapsed()));
    }
    match (expect, got) {
        (Refused(want), Err(msg)) => {
            if !msg.contains(want) {
                return Err(format!("{name}: refused, but {msg:?} lacks {want:?}"));
            }
            let after = w.contents(store);
            if after != before {
                return Err(format!(
                    "{name}: refused but the store changed: {before:?} -> {after:?}"
                ));
            }
        }
        (Refused(want), Ok(l)) => {
            return Err(format!(
                "{name}: loaded {} image(s), expected a refusal with {want:?}",
                l.len()
            ))
        }
        (Loads(tags), Ok(l)) => {
            let got: Vec<String> = l.iter().flat_map(|x| x.tags.clone()).collect();
            if got != *tags {
                return Err(format!("{name}: loaded tags {got:?}, expected {tags:?}"));
            }
        }
        (Loads(_), Err(msg)) => return Err(format!("{name}: expected to load, got {msg:?}")),
    }
    w.clean().map_err(|e| format!("{name}: {e}"))
}

fn good() -> Vec<u8> {
    archive_of(
        &[
            layer(&[("etc/hostname", b"ok\n")]),
            layer(&[("bin/sh", b"#!")]),
        ],
        &["good:1"],
    )
}

/// The corpus: (name, archive, expectation).
fn corpus() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let l0 = layer(&[("f", b"data")]);
    let d0 = sha(&l0);
    let cfg0 = config(std::slice::from_ref(&d0));
    let base = || T::default().file("c.json", &cfg0).file("l/layer.tar", &l0);
    let m = |t: T| with_manifest(t, "c.json", &["l/layer.tar"], &["hostile:ok"]);
    let twenty_k: Vec<String> = (0..20_000).map(|i| format!("t/many:{i}")).collect();
    let twenty_k_refs: Vec<&str> = twenty_k.iter().map(String::as_str).collect();
    let huge = vec![b' '; 9 << 20];
    let mut big_cfg = cfg0.clone();
    big_cfg.pop();
    big_cfg.extend_from_slice(br#","pad":""#);
    big_cfg.extend(vec![b'a'; 9 << 20]);
    big_cfg.extend_from_slice(br#""}"#);
    let mut c: Vec<(&'static str, Vec<u8>, Expect)> = vec![
        // The outer archive: names.
        (
            "outer ../",
            m(base().file("../whale-hostile-evil", b"x")),
            Refused("`..`"),
        ),
        (
            "outer a/../../",
            m(base().file("a/../../whale-hostile-evil", b"x")),
            Refused("`..`"),
        ),
        (
            "outer absolute",
            m(base().file("/tmp/whale-hostile-evil", b"x")),
            Refused("absolute"),
        ),
        (
            "outer symlink to / then a layer through it",
            with_manifest(base().sym("root", "/"), "c.json", &["root/etc/passwd"], &[]),
            Refused("absolute"),
        ),
        (
            "outer symlink to .. then a layer through it",
            with_manifest(
                base().sym("up", ".."),
                "c.json",
                &["up/whale-hostile-evil"],
                &[],
            ),
            Refused("out of the archive"),
        ),
        (
            "outer symlink loop",
            with_manifest(base().sym("a", "b").sym("b", "a"), "c.json", &["a"], &[]),
            Refused("too many symlinks"),
        ),
        (
            "outer hard link",
            m(base().hard("h", "l/layer.tar")),
            Refused("hard link"),
        ),
        (
            "outer char device",
            m(base().node("dev", b'3')),
            Refused("device node"),
        ),
        (
            "outer block device",
            m(base().node("blk", b'4')),
            Refused("device node"),
        ),
        ("outer fifo", m(base().node("fifo", b'6')), Refused("fifo")),
        (
            "outer unknown type Z",
            m(base().node("z", b'Z')),
            Refused("unhandled tar header type 90"),
        ),
        (
            "outer GNU sparse entry",
            m(sparse_entry(base(), "s", 3 << 30)),
            Refused("unhandled tar header type 83"),
        ),
        (
            "outer duplicate manifest.json",
            m(base().file("manifest.json", b"[]")),
            Refused("two entries"),
        ),
        (
            "outer duplicate layer",
            m(base().file("l/layer.tar", &l0)),
            Refused("two entries"),
        ),
        (
            "outer huge PAX record",
            m(base().push(&header(b"././@PaxHeader", b'x', 2 << 20, b""), b"")),
            Refused("PAX header record of 2097152 bytes"),
        ),
        (
            "outer PAX size disagrees",
            m(base().pax(&[("size", b"0")]).file("x", b"12345")),
            Refused("PAX size"),
        ),
        (
            "outer long name with ..",
            m(base().long_name("../../whale-hostile-evil").file("x", b"1")),
            Refused("`..`"),
        ),
        (
            "outer 1 MiB long name (gzip)",
            gz(&m(base()
                .long_name(&"n".repeat((1 << 20) - 16))
                .file("x", b"1"))),
            Refused("entry name of"),
        ),
        // The outer archive: framing.
        ("empty archive", Vec::new(), Refused("empty")),
        (
            "garbage",
            (0..4096u32).map(|i| (i * 7 % 251) as u8).collect(),
            Refused("unreadable"),
        ),
        (
            "truncated tar",
            {
                let a = good();
                a[..a.len() / 2].to_vec()
            },
            Refused(""),
        ),
        (
            "truncated gzip",
            {
                let a = gz(&good());
                a[..a.len() / 2].to_vec()
            },
            Refused(""),
        ),
        (
            "garbage after a gzip magic",
            {
                let mut a = vec![0x1f, 0x8b, 8, 0];
                a.extend([0x55u8; 600]);
                a
            },
            Refused("unreadable"),
        ),
        ("xz archive", b"\xfd7zXZ\0rest".to_vec(), Refused("xz")),
        // The manifest.
        ("no manifest", base().bytes(), Refused("no manifest.json")),
        (
            "manifest not JSON",
            base().file("manifest.json", b"[{").bytes(),
            Refused("manifest.json is invalid"),
        ),
        (
            "manifest wrong shape",
            base().file("manifest.json", b"{\"a\":1}").bytes(),
            Refused("manifest.json is invalid"),
        ),
        (
            "manifest empty",
            base().file("manifest.json", b"[]").bytes(),
            Refused("lists no image"),
        ),
        (
            "manifest names a missing config",
            with_manifest(base(), "nope.json", &["l/layer.tar"], &[]),
            Refused("lacks \"nope.json\""),
        ),
        (
            "manifest names a missing layer",
            with_manifest(base(), "c.json", &["l/nope.tar"], &[]),
            Refused("lacks \"l/nope.tar\""),
        ),
        (
            "manifest config ../",
            with_manifest(base(), "../c.json", &["l/layer.tar"], &[]),
            Refused("`..`"),
        ),
        (
            "manifest layer absolute",
            with_manifest(base(), "c.json", &["/etc/passwd"], &[]),
            Refused("absolute"),
        ),
        (
            "manifest names a directory as layer",
            with_manifest(base().dir("d/"), "c.json", &["d"], &[]),
            Refused("not a file"),
        ),
        (
            "giant manifest (gzip)",
            gz(&base().file("manifest.json", &huge).bytes()),
            Refused("WHALE_MAX_MANIFEST_BYTES"),
        ),
        (
            "20,000 tags",
            with_manifest(base(), "c.json", &["l/layer.tar"], &twenty_k_refs),
            Refused("WHALE_MAX_LOAD_TAGS"),
        ),
        (
            "invalid tag (upper case)",
            with_manifest(base(), "c.json", &["l/layer.tar"], &["Bad:Tag"]),
            Refused("invalid tag"),
        ),
        (
            "invalid tag (digest)",
            with_manifest(base(), "c.json", &["l/layer.tar"], &["a@sha256:00"]),
            Refused("invalid tag"),
        ),
        (
            "second image's tag invalid: nothing loads",
            base()
                .file(
                    "manifest.json",
                    &serde_json::to_vec(&json!([
            {"Config": "c.json", "RepoTags": ["fine:1"], "Layers": ["l/layer.tar"]},
            {"Config": "c.json", "RepoTags": ["no spaces"], "Layers": ["l/layer.tar"]}]))
                    .unwrap(),
                )
                .bytes(),
            Refused("invalid tag"),
        ),
        // Configs.
        (
            "giant config (gzip)",
            gz(&with_manifest(
                T::default()
                    .file("c.json", &big_cfg)
                    .file("l/layer.tar", &l0),
                "c.json",
                &["l/layer.tar"],
                &[],
            )),
            Refused("WHALE_MAX_CONFIG_BYTES"),
        ),
        (
            "config not JSON",
            with_manifest(
                T::default()
                    .file("c.json", b"{nope")
                    .file("l/layer.tar", &l0),
                "c.json",
                &["l/layer.tar"],
                &[],
            ),
            Refused("invalid"),
        ),
        (
            "config rootfs not layers",
            with_manifest(
                T::default()
                    .file("c.json", br#"{"rootfs":{"type":"x","diff_ids":[]}}"#)
                    .file("l/layer.tar", &l0),
                "c.json",
                &["l/layer.tar"],
                &[],
            ),
            Refused("only \"layers\""),
        ),
        (
            "config with more diff_ids than layers",
            with_manifest(
                T::default()
                    .file("c.json", &config(&[d0.clone(), d0.clone()]))
                    .file("l/layer.tar", &l0),
                "c.json",
                &["l/layer.tar"],
                &[],
            ),
            Refused("lists 2 layers"),
        ),
        (
            "config diff_id not hex",
            with_manifest(
                T::default()
                    .file("c.json", &config(&["sha256:zz".into()]))
                    .file("l/layer.tar", &l0),
                "c.json",
                &["l/layer.tar"],
                &[],
            ),
            Refused("not a sha256"),
        ),
        (
            "layer sha256 differs from diff_ids",
            with_manifest(
                T::default()
                    .file("c.json", &config(&[sha(b"other")]))
                    .file("l/layer.tar", &l0),
                "c.json",
                &["l/layer.tar"],
                &[],
            ),
            Refused("the archive is damaged"),
        ),
        // Layers.
        (
            "layer GNU sparse file (3 GB from 2 KB)",
            with_layer(sparse_entry(T::default(), "big", 3 << 30).bytes()),
            Refused("unhandled tar header type 83"),
        ),
        (
            "layer PAX GNU.sparse records",
            with_layer(
                T::default()
                    .pax(&[("GNU.sparse.major", b"1")])
                    .file("s", b"x")
                    .bytes(),
            ),
            Refused("sparse"),
        ),
        (
            "layer ../",
            with_layer(layer(&[("../whale-hostile-evil", b"x")])),
            Refused("`..`"),
        ),
        (
            "layer a/../../",
            with_layer(layer(&[("a/../../whale-hostile-evil", b"x")])),
            Refused("`..`"),
        ),
        (
            "layer symlink to / then a file through it",
            with_layer(
                T::default()
                    .sym("r", "/")
                    .file("r/tmp/whale-hostile-evil", b"x")
                    .bytes(),
            ),
            Refused("symlink \"r\""),
        ),
        (
            "layer symlink to .. then a file through it",
            with_layer(
                T::default()
                    .sym("up", "..")
                    .file("up/whale-hostile-evil", b"x")
                    .bytes(),
            ),
            Refused("symlink \"up\""),
        ),
        (
            "layer hard link outside",
            with_layer(T::default().hard("h", "../../canary/x").bytes()),
            Refused("`..`"),
        ),
        (
            "layer hard link to a later path",
            with_layer(T::default().hard("h", "later").file("later", b"x").bytes()),
            Refused("not in this layer"),
        ),
        (
            "layer hard link through a symlink",
            with_layer(T::default().sym("s", "/etc").hard("h", "s/passwd").bytes()),
            Refused("symlink \"s\""),
        ),
        (
            "layer char device",
            with_layer(T::default().node("dev/mem", b'3').bytes()),
            Refused("device nodes"),
        ),
        (
            "layer block device",
            with_layer(T::default().node("dev/sda", b'4').bytes()),
            Refused("device nodes"),
        ),
        (
            "layer fifo",
            with_layer(T::default().node("p", b'6').bytes()),
            Refused("fifos"),
        ),
        (
            "layer unknown type",
            with_layer(T::default().node("q", b'V').bytes()),
            Refused("unhandled tar header type 86"),
        ),
        (
            "layer huge long name record",
            with_layer(
                T::default()
                    .push(&header(b"././@LongLink", b'L', 5 << 20, b""), b"")
                    .bytes(),
            ),
            Refused("GNU long name record of 5242880 bytes"),
        ),
        (
            "layer long name with ..",
            with_layer(
                T::default()
                    .long_name("a/../../../whale-hostile-evil")
                    .file("x", b"1")
                    .bytes(),
            ),
            Refused("`..`"),
        ),
        (
            "layer PAX path with ..",
            with_layer(
                T::default()
                    .pax(&[("path", b"../../whale-hostile-evil")])
                    .file("x", b"1")
                    .bytes(),
            ),
            Refused("`..`"),
        ),
        (
            "layer truncated",
            with_layer({
                let l = layer(&[("f", &[7u8; 4000])]);
                l[..1500].to_vec()
            }),
            Refused(""),
        ),
        ("layer garbage", with_layer(vec![0x42; 3000]), Refused("")),
        (
            "layer gzip truncated",
            with_layer({
                let g = gz(&layer(&[("f", &[1u8; 9000])]));
                g[..g.len() / 2].to_vec()
            }),
            Refused(""),
        ),
        // Legitimate odd archives: they load.
        (
            "layer hard link to a path overwritten later",
            with_layer(
                T::default()
                    .file("a", b"orig")
                    .hard("h", "a")
                    .sym("a", "/etc/passwd")
                    .file("a", b"new")
                    .bytes(),
            ),
            Loads(&["hostile:layer"]),
        ),
        (
            "layer duplicate entries (later wins)",
            with_layer(layer(&[("f", b"1"), ("f", b"2")])),
            Loads(&["hostile:layer"]),
        ),
        (
            "layer absolute names (stripped, as Docker does)",
            with_layer(layer(&[("/whale-hostile-evil", b"x")])),
            Loads(&["hostile:layer"]),
        ),
        (
            "layer whiteout and opaque dir",
            with_layer(
                T::default()
                    .dir("d/")
                    .file("d/.wh..wh..opq", b"")
                    .file(".wh.gone", b"")
                    .bytes(),
            ),
            Loads(&["hostile:layer"]),
        ),
        (
            "layer long names (GNU and PAX)",
            with_layer(
                T::default()
                    .long_name(&"n".repeat(200))
                    .file("x", b"1")
                    .pax(&[("path", "p/".repeat(150).as_bytes())])
                    .file("y", b"2")
                    .bytes(),
            ),
            Loads(&["hostile:layer"]),
        ),
        (
            "gzip layer whose diff_id is the compressed digest",
            with_layer(gz(&layer(&[("z", b"zz")]))),
            Refused("the archive is damaged"),
        ),
        (
            "gzip layer with the right diff_id",
            {
                let l = layer(&[("zz", b"zz")]);
                with_manifest(
                    T::default()
                        .file("c.json", &config(&[sha(&l)]))
                        .file("l/layer.tar", &gz(&l)),
                    "c.json",
                    &["l/layer.tar"],
                    &["gzlayer:1"],
                )
            },
            Loads(&["gzlayer:1"]),
        ),
        (
            "legacy symlinked duplicate layer",
            {
                let t = T::default()
                    .file("c.json", &config(&[d0.clone(), d0.clone()]))
                    .dir("a/")
                    .file("a/layer.tar", &l0)
                    .dir("b/")
                    .sym("b/layer.tar", "../a/layer.tar");
                with_manifest(
                    t,
                    "c.json",
                    &["a/layer.tar", "b/layer.tar"],
                    &["legacy:dup"],
                )
            },
            Loads(&["legacy:dup"]),
        ),
        (
            "gzip archive",
            gz(&archive_of(&[layer(&[("g", b"g")])], &["gz:1"])),
            Loads(&["gz:1"]),
        ),
    ];
    c.push((
        "no tags",
        archive_of(&[layer(&[("n", b"n")])], &[]),
        Loads(&[]),
    ));
    c
}

#[test]
fn the_hostile_corpus_is_refused_and_leaves_nothing_behind() {
    let mut w = World::new();
    let store = w.store(Limits::default());
    let corpus = corpus();
    assert!(corpus.len() >= 40, "only {} cases", corpus.len());
    let mut failures = Vec::new();
    for (name, bytes, expect) in &corpus {
        if let Err(e) = run_case(&mut w, &store, name, bytes, expect) {
            failures.push(e);
        }
    }
    // The store still works: a normal load, then a lookup.
    if let Err(e) = run_case(
        &mut w,
        &store,
        "a normal load afterwards",
        &good(),
        &Loads(&["good:1"]),
    ) {
        failures.push(e);
    }
    assert!(store.resolve("good:1").is_ok());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        corpus.len() + 1,
        failures.join("\n")
    );
}

#[test]
fn limits_on_bytes_and_entries_hold() {
    let mut w = World::new();
    let small = Limits {
        layer_bytes: 64 << 10,
        layer_entries: 20,
        load_bytes: 256 << 10,
        archive_entries: 12,
        ..Limits::default()
    };
    let store = w.store(small);
    let zeros = vec![0u8; 200 << 10];
    let many: Vec<(String, Vec<u8>)> = (0..30).map(|i| (format!("f{i}"), vec![])).collect();
    let many_refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "gzip bomb layer over the per-layer limit",
            gz(&with_layer(gz(&layer(&[("z", &zeros)])))),
            Refused("WHALE_MAX_LAYER_BYTES"),
        ),
        (
            "layer over the entry limit",
            with_layer(layer(&many_refs)),
            Refused("WHALE_MAX_LAYER_ENTRIES"),
        ),
        (
            "archive over the entry limit",
            many.iter()
                .fold(T::default(), |t, (n, _)| t.dir(&format!("{n}/")))
                .bytes(),
            Refused("WHALE_MAX_ARCHIVE_ENTRIES"),
        ),
        (
            "archive over the byte limit",
            gz(&archive_of(
                &[
                    layer(&[("a", &zeros[..50 << 10])]),
                    layer(&[("b", &zeros[..51 << 10])]),
                    layer(&[("c", &zeros[..52 << 10])]),
                    layer(&[("d", &zeros[..53 << 10])]),
                    layer(&[("e", &zeros[..54 << 10])]),
                ],
                &["big:1"],
            )),
            Refused("WHALE_MAX_LOAD_BYTES"),
        ),
    ];
    let mut failures = Vec::new();
    for (name, bytes, expect) in &cases {
        if let Err(e) = run_case(&mut w, &store, name, bytes, expect) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn twenty_thousand_tags_load_in_bounded_time_when_allowed() {
    let mut w = World::new();
    let store = w.store(Limits {
        load_tags: 50_000,
        ..Limits::default()
    });
    let tags: Vec<String> = (0..20_000).map(|i| format!("many/tags:{i}")).collect();
    let refs: Vec<&str> = tags.iter().map(String::as_str).collect();
    let a = archive_of(&[layer(&[("f", b"x")])], &refs);
    let started = Instant::now();
    let loaded = w.load(&store, &a).unwrap();
    let took = started.elapsed();
    assert_eq!(loaded[0].tags.len(), 20_000);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_eq!(
        store.resolve("many/tags:19999").unwrap().repo_tags.len(),
        20_000
    );
    w.clean().unwrap();
}

// ------------------------------------------------------------ the daemon

const CHILD: &str = "hostile_daemon_child";

#[test]
fn hostile_daemon_child() {
    common::child_main();
}

fn post_load(d: &common::Daemon, bytes: &[u8]) -> common::Resp {
    let p = d.dir.path().join("upload");
    fs::write(&p, bytes).unwrap();
    let arg = format!("@{}", p.display());
    let r = common::curl(
        &d.sock,
        "POST",
        "/images/load?quiet=1",
        None,
        &[
            "-H",
            "Content-Type: application/x-tar",
            "--data-binary",
            &arg,
        ],
    );
    fs::remove_file(&p).unwrap();
    r
}

#[test]
fn the_daemon_refuses_hostile_loads_and_keeps_answering() {
    let mut d = common::Daemon::start(CHILD);
    let corpus = corpus();
    for (name, bytes, expect) in &corpus {
        let wanted = [
            "outer GNU sparse entry",
            "layer GNU sparse file (3 GB from 2 KB)",
            "20,000 tags",
            "giant config (gzip)",
            "outer ../",
            "truncated gzip",
            "layer symlink to / then a file through it",
        ];
        if !wanted.contains(name) {
            continue;
        }
        let r = post_load(&d, bytes);
        let Refused(want) = expect else {
            unreachable!()
        };
        // As dockerd: the upload is taken (200), and the refusal is the
        // JSON stream's error message.
        assert_eq!(r.status, 200, "{name}: {r:?}");
        let line: serde_json::Value = serde_json::from_str(r.body.trim())
            .unwrap_or_else(|e| panic!("{name}: one JSON message, not {:?}: {e}", r.body));
        let error = line["error"].as_str().unwrap_or_default();
        assert!(error.contains(want), "{name}: {:?}", r.body);
        assert_eq!(line["errorDetail"]["message"].as_str(), Some(error));
        assert_eq!(d.get("/_ping").status, 200, "{name}");
    }
    assert_eq!(d.get("/images/json").json(), json!([]));
    let r = post_load(&d, &good());
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("Loaded image: good:1"), "{}", r.body);
    assert!(names(&d.root.join("image/tmp")).is_empty());

    // Scratch of a killed load (a dead pid) and of an older daemon's spool
    // go when the daemon starts again.
    d.stop();
    let dead = 3_999_999;
    assert!(!Path::new(&format!("/proc/{dead}")).exists());
    let left = d
        .root
        .join(format!("image/tmp/load-{dead}-00000000deadbeef"));
    fs::create_dir_all(&left).unwrap();
    fs::write(left.join("archive"), b"half").unwrap();
    let legacy = d.root.join("build-tmp/load-0123456789abcdef/unpacked");
    fs::create_dir_all(&legacy).unwrap();
    d.restart(CHILD);
    assert!(
        !left.exists(),
        "scratch of a dead load survived the restart"
    );
    assert!(
        !legacy.parent().unwrap().exists(),
        "the old spool survived the restart"
    );
    assert_eq!(
        d.get("/images/json").json()[0]["RepoTags"],
        json!(["good:1"])
    );
}
