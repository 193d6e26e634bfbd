//! A registry for the class: `whaletutor class registry start|status|stop`
//! runs Debian's `docker-registry` on 127.0.0.1:<free port> from a temp
//! dir; `class registry push` sends the course images there through one
//! engine; `setup --from-registry` makes them in a fresh one, and a lesson
//! verifies with them. On whale (sandbox daemons, as CI runs them) and on
//! dockerd when one answers (WHALE_TEST_DOCKERD, else the default socket).
//! Needs root, the `whale` binary and `docker-registry` (`.ci/run`
//! installs it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use whaletutor::class::server::RegistryDir;
use whaletutor::engine::{Engine, EngineKind};
use whaletutor::lesson;
use whaletutor::verify::{self, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_whaletutor");

fn course() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lessons")
}

/// A port nobody listens on now (the registry binds it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tutor(engine: Option<&Engine>, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.env("NO_COLOR", "1")
        .env_remove("DOCKER_HOST")
        .env_remove("WHALETUTOR_ENGINE");
    if let Some(e) = engine {
        c.args(["--engine", e.kind.name()])
            .args(["-H", &format!("unix://{}", e.socket.display())]);
        if let Some(r) = &e.root {
            c.env("WHALE_ROOT", r);
        }
    }
    c.args(args).output().expect("run whaletutor")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A class registry of our own, stopped when dropped (also after a
/// failed assertion).
struct ClassRegistry {
    dir: tempfile::TempDir,
    addr: String,
}

impl ClassRegistry {
    fn start() -> ClassRegistry {
        let dir = tempfile::Builder::new()
            .prefix("whaletutor-classreg-")
            .tempdir()
            .unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let out = tutor(
            None,
            &[
                "class",
                "registry",
                "start",
                "--dir",
                &dir.path().display().to_string(),
                "--addr",
                &addr,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        ClassRegistry { dir, addr }
    }

    fn dir(&self) -> String {
        self.dir.path().display().to_string()
    }
}

impl Drop for ClassRegistry {
    fn drop(&mut self) {
        let _ = RegistryDir::new(self.dir.path()).stop();
    }
}

#[test]
fn the_class_registry_starts_answers_and_stops() {
    let reg = ClassRegistry::start();
    let rd = RegistryDir::new(reg.dir.path());
    let pid = rd
        .running_pid()
        .expect("a pid file naming the running registry");
    assert!(rd.config().is_file() && rd.log().is_file() && rd.data().is_dir());

    let st = tutor(None, &["class", "registry", "status", "--dir", &reg.dir()]);
    let s = text(&st);
    assert_eq!(st.status.code(), Some(0), "{s}");
    assert!(
        s.contains(&format!("running: pid {pid}, on {}", reg.addr))
            && s.contains("registry/2.0")
            && s.contains("no images yet"),
        "{s}"
    );

    // The same dir spelled another way is the same registry.
    let other_spelling = format!(
        "{}/../{}/.",
        reg.dir(),
        reg.dir.path().file_name().unwrap().to_string_lossy()
    );
    let st = tutor(
        None,
        &["class", "registry", "status", "--dir", &other_spelling],
    );
    assert_eq!(st.status.code(), Some(0), "{}", text(&st));

    // A second registry from the same dir, a port in use, bad addresses.
    let again = tutor(
        None,
        &[
            "class",
            "registry",
            "start",
            "--dir",
            &reg.dir(),
            "--addr",
            "127.0.0.1:1",
        ],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains(&format!("already runs from {} (pid {pid}", reg.dir())));
    let other = tempfile::tempdir().unwrap();
    let other_dir = other.path().display().to_string();
    let busy = tutor(
        None,
        &[
            "class", "registry", "start", "--dir", &other_dir, "--addr", &reg.addr,
        ],
    );
    assert_eq!(busy.status.code(), Some(2));
    assert!(
        text(&busy).contains(&format!("cannot listen on {}", reg.addr)),
        "{}",
        text(&busy)
    );
    for bad in ["localhost:5000", "127.0.0.1", "127.0.0.1:0"] {
        let o = tutor(
            None,
            &[
                "class", "registry", "start", "--dir", &other_dir, "--addr", bad,
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            text(&o).contains(&format!("--addr {bad}: ")),
            "{}",
            text(&o)
        );
    }
    assert!(RegistryDir::new(other.path()).running_pid().is_none());
    let none = Command::new(BIN)
        .args(["class", "registry", "start", "--dir", &other_dir])
        .env("WHALETUTOR_REGISTRY_BIN", "/nonexistent/docker-registry")
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2), "{}", text(&none));
    assert!(
        text(&none).contains("nor WHALETUTOR_REGISTRY_BIN=/nonexistent/docker-registry")
            && text(&none).contains("sudo apt-get install docker-registry"),
        "{}",
        text(&none)
    );

    let stop = tutor(None, &["class", "registry", "stop", "--dir", &reg.dir()]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop));
    assert!(text(&stop).contains(&format!("stopped (pid {pid})")));
    assert!(
        !rd.pid_file().exists(),
        "the pid file goes with the registry"
    );
    assert!(
        std::net::TcpStream::connect(&reg.addr).is_err(),
        "nothing listens on {} after stop",
        reg.addr
    );
    let st = tutor(None, &["class", "registry", "status", "--dir", &reg.dir()]);
    assert_eq!(st.status.code(), Some(1));
    assert!(text(&st).contains("not running"), "{}", text(&st));
    let stop = tutor(None, &["class", "registry", "stop", "--dir", &reg.dir()]);
    assert_eq!(stop.status.code(), Some(0));
    assert!(text(&stop).contains("no class registry runs"));

    // A pid file naming a live process that is not this registry (a pid
    // recycled since): never signalled.
    std::fs::write(rd.pid_file(), format!("{}\n", std::process::id())).unwrap();
    assert!(rd.running_pid().is_none());
    let stop = tutor(None, &["class", "registry", "stop", "--dir", &reg.dir()]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop));
    assert!(!rd.pid_file().exists(), "a stale pid file is removed");
}

/// A lesson of our own whose image the tutor builds (a layer on busybox),
/// and one requiring an image nobody pushed.
fn fixture_course(dir: &Path, image: &str) {
    let ctx = dir.join("images").join(image);
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox:latest\nCOPY said /said\nCMD [\"cat\", \"/said\"]\n",
    )
    .unwrap();
    std::fs::write(ctx.join("said"), "from the class registry\n").unwrap();
    let lesson = format!(
        r#"
format_version = 1
id = "from-registry"
number = 1
title = "An image from the class registry"
summary = "runs an image setup pulled"
requires = ["{image}"]

[[step]]
id = "run"
title = "Run it"
text = "Run `{{{{ cli }}}} run --name {image}-c {image}`."
explain = "ok"
  [[step.check]]
  kind = "container"
  name = "{image}-c"
  exit_code = 0
  failure = "{image}-c did not run"

  [[step.check]]
  kind = "host"
  command = "{{{{ cli }}}} logs {image}-c"
  stdout = '^from the class registry\s*$'
  failure = "{image}-c did not say it"

  [step.solve]
  script = [ {{ run = "{{{{ cli }}}} run --network none --name {image}-c {image}" }} ]
"#
    );
    std::fs::write(dir.join("01-from-registry.toml"), lesson).unwrap();
    let absent = format!(
        "format_version = 1\nid = \"absent\"\nnumber = 2\ntitle = \"Absent\"\nsummary = \"x\"\nrequires = [\"{image}-absent\"]\n\n[[step]]\nid = \"s\"\ntitle = \"s\"\ntext = \"s\"\nexplain = \"s\"\n  [[step.check]]\n  kind = \"container\"\n  name = \"{image}-absent-c\"\n  exit_code = 0\n  failure = \"no\"\n\n  [step.solve]\n  script = [ {{ run = \"true\" }} ]\n"
    );
    std::fs::write(dir.join("02-absent.toml"), absent).unwrap();
}

/// `setup --from-registry` errors a student can act on, from `engine`
/// (whose store lacks `image-absent`).
fn student_errors(engine: &Engine, lessons: &str, reg: &ClassRegistry, image: &str) {
    let o = tutor(
        Some(engine),
        &[
            "--lessons-dir",
            lessons,
            "setup",
            "--from-registry",
            &reg.addr,
            "2",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!(
            "the class registry {} has no {image}-absent:latest",
            reg.addr
        )) && t.contains("whaletutor class registry push"),
        "{t}"
    );
    let closed = format!("127.0.0.1:{}", free_port());
    let o = tutor(
        Some(engine),
        &[
            "--lessons-dir",
            lessons,
            "setup",
            "--from-registry",
            &closed,
            "1",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!("the class registry {closed} does not answer")),
        "{t}"
    );
    let o = tutor(
        Some(engine),
        &[
            "--lessons-dir",
            lessons,
            "setup",
            "--from-registry",
            "http://x/y",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("--from-registry http://x/y: "),
        "{}",
        text(&o)
    );
}

/// `push` said it pushed `image` with `(uploaded, already there)` layers.
fn assert_pushed(out: &str, image: &str, addr: &str, layers: (usize, usize)) {
    let head = format!("pushed {image}:latest as {addr}/{image}:latest (sha256:");
    let tail = format!(
        ", {} layer(s) uploaded, {} already there)",
        layers.0, layers.1
    );
    assert!(
        out.lines()
            .map(|l| l.trim_start_matches("stdout: "))
            .any(|l| l.starts_with(&head) && l.ends_with(&tail)),
        "want {head}...{tail} in {out}"
    );
}

/// The lesson verifies on `engine`, with what is in its store now.
async fn lesson_verifies(engine: &Engine, lessons: &Path, key: &str) {
    let all = lesson::load_dir(lessons).expect("lessons load");
    let l = lesson::find(&all, key).unwrap();
    let docker = engine.connect().await.unwrap();
    let row = verify::verify_lesson(engine, &docker, l, &lessons.join("images")).await;
    assert!(
        row.ok(),
        "{}",
        verify::render_table(std::slice::from_ref(&row), true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_images_go_through_the_class_registry_on_whale() {
    let reg = ClassRegistry::start();
    let fixtures = tempfile::tempdir().unwrap();
    // A name of our own: dockerd, shared, may pull it below.
    let image = format!("classreg-said-{}", std::process::id());
    let image = image.as_str();
    fixture_course(fixtures.path(), image);
    let lessons = fixtures.path().display().to_string();

    let mut teacher = Sandbox::whale().await.expect("the instructor's whale");
    let mut student = Sandbox::whale().await.expect("a student's whale");
    student_errors(&student.engine, &lessons, &reg, image);

    // The instructor: everything lesson 1 and the course's lesson 6 need,
    // made (bootstrap, build) and pushed.
    let push = tutor(
        Some(&teacher.engine),
        &[
            "--lessons-dir",
            &lessons,
            "class",
            "registry",
            "push",
            "--dir",
            &reg.dir(),
            "1",
        ],
    );
    let course_dir = course().display().to_string();
    let push6 = tutor(
        Some(&teacher.engine),
        &[
            "--lessons-dir",
            &course_dir,
            "class",
            "registry",
            "push",
            "--addr",
            &reg.addr,
            "6",
        ],
    );
    teacher.shutdown().await;
    let t = text(&push);
    assert_eq!(push.status.code(), Some(0), "{t}");
    assert_eq!(push6.status.code(), Some(0), "{}", text(&push6));
    // The fixture's image is busybox's layer and its own; busybox's layer
    // is then already there, and so is everything the second time.
    assert_pushed(&t, image, &reg.addr, (2, 0));
    assert_pushed(&t, "busybox", &reg.addr, (0, 1));
    assert_pushed(&text(&push6), "busybox", &reg.addr, (0, 1));
    let st = tutor(None, &["class", "registry", "status", "--dir", &reg.dir()]);
    assert!(
        text(&st).contains(&format!("2 image(s): busybox:latest, {image}:latest")),
        "{}",
        text(&st)
    );

    // A student: a fresh store, filled from the registry only.
    let sd = student.engine.connect().await.unwrap();
    assert!(!whaletutor::setup::image_present(&sd, "busybox").await);
    for (dir, key) in [(&lessons, "1"), (&course_dir, "6")] {
        let o = tutor(
            Some(&student.engine),
            &[
                "--lessons-dir",
                dir,
                "setup",
                "--from-registry",
                &reg.addr,
                key,
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(text(&o).contains(&format!("ready, from the class registry {}", reg.addr)));
    }
    let listed = student
        .engine
        .whale(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let listed = listed.unwrap_or_default();
    assert!(
        listed.contains(&format!("{image}:latest")) && listed.contains("busybox:latest"),
        "{listed}"
    );
    assert!(
        !listed.contains(&reg.addr),
        "the registry's tag is not left behind: {listed}"
    );
    lesson_verifies(&student.engine, fixtures.path(), "1").await;
    lesson_verifies(&student.engine, &course(), "6").await;
    student.shutdown().await;

    // `verify --from-registry` in its own sandbox, from lesson files
    // alone: without the images' build contexts, a pass means the image
    // came from the registry. An image it lacks fails that lesson, named.
    let bare = tempfile::tempdir().unwrap();
    for f in ["01-from-registry.toml", "02-absent.toml"] {
        std::fs::copy(fixtures.path().join(f), bare.path().join(f)).unwrap();
    }
    let bare_dir = bare.path().display().to_string();
    let whale = Engine {
        kind: EngineKind::Whale,
        socket: PathBuf::from("/nonexistent"),
        root: None,
    };
    let v = tutor(
        Some(&whale),
        &[
            "--lessons-dir",
            &bare_dir,
            "verify",
            "--from-registry",
            &reg.addr,
            "1",
        ],
    );
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(text(&v).contains("verify: 1 lesson(s) ok"), "{}", text(&v));
    let v = tutor(
        Some(&whale),
        &[
            "--lessons-dir",
            &bare_dir,
            "verify",
            "--from-registry",
            &reg.addr,
            "2",
        ],
    );
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(
        text(&v).contains(&format!("has no {image}-absent:latest")),
        "{}",
        text(&v)
    );

    // What whale pushed, Docker pulls and the lesson passes there (when a
    // dockerd answers).
    if let Some(docker_engine) = dockerd().await {
        let _cleanup = DockerLeftovers {
            engine: docker_engine.clone(),
            names: vec![format!("{image}-c"), image.to_string()],
        };
        let o = tutor(
            Some(&docker_engine),
            &[
                "--lessons-dir",
                &lessons,
                "setup",
                "--from-registry",
                &reg.addr,
                "1",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            text(&o).contains(&format!(
                "ready, from the class registry {}: {image}",
                reg.addr
            )),
            "{}",
            text(&o)
        );
        lesson_verifies(&docker_engine, fixtures.path(), "1").await;
    }
}

/// The dockerd to compare with: connect and ping, never only a socket file.
async fn dockerd() -> Option<Engine> {
    let sock =
        std::env::var("WHALE_TEST_DOCKERD").unwrap_or_else(|_| "/var/run/docker.sock".to_string());
    let engine = Engine {
        kind: EngineKind::Docker,
        socket: PathBuf::from(sock.trim_start_matches("unix://")),
        root: None,
    };
    match engine.connect().await {
        Ok(_) => Some(engine),
        Err(e) => {
            eprintln!("SKIP: no dockerd answers ({e})");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_images_go_through_the_class_registry_on_dockerd() {
    let Some(engine) = dockerd().await else {
        return;
    };
    let reg = ClassRegistry::start();
    let fixtures = tempfile::tempdir().unwrap();
    // dockerd is shared: a name of our own, removed after.
    let image = format!("classreg-said-{}", std::process::id());
    fixture_course(fixtures.path(), &image);
    let lessons = fixtures.path().display().to_string();
    let docker = engine.connect().await.unwrap();
    let _cleanup = DockerLeftovers {
        engine: engine.clone(),
        names: vec![format!("{image}-c"), image.clone()],
    };
    {
        student_errors(&engine, &lessons, &reg, &image);
        let push = tutor(
            Some(&engine),
            &[
                "--lessons-dir",
                &lessons,
                "class",
                "registry",
                "push",
                "--dir",
                &reg.dir(),
                "1",
            ],
        );
        let t = text(&push);
        assert_eq!(push.status.code(), Some(0), "{t}");
        assert_pushed(&t, &image, &reg.addr, (2, 0));
        assert_pushed(&t, "busybox", &reg.addr, (0, 1));
        let again = tutor(
            Some(&engine),
            &[
                "--lessons-dir",
                &lessons,
                "class",
                "registry",
                "push",
                "--addr",
                &reg.addr,
                "1",
            ],
        );
        assert_pushed(&text(&again), &image, &reg.addr, (0, 2));
        // Built here, pushed, then gone: only the registry has it.
        let built = docker.inspect_image(&image).await.unwrap().id;
        let rmi = Command::new("docker")
            .args([
                "-H",
                &format!("unix://{}", engine.socket.display()),
                "rmi",
                &image,
            ])
            .output()
            .unwrap();
        assert!(rmi.status.success(), "{}", text(&rmi));
        assert!(!whaletutor::setup::image_present(&docker, &image).await);
        let o = tutor(
            Some(&engine),
            &[
                "--lessons-dir",
                &lessons,
                "setup",
                "--from-registry",
                &reg.addr,
                "1",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let i = docker
            .inspect_image(&image)
            .await
            .expect("pulled and tagged");
        assert_eq!(i.id, built, "the very image that was pushed");
        assert!(
            !i.repo_tags
                .unwrap_or_default()
                .iter()
                .any(|t| t.contains(&reg.addr)),
            "the registry's tag is not left behind"
        );
        lesson_verifies(&engine, fixtures.path(), "1").await;

        // A class taught from Docker, learnt on whale: what dockerd pushed,
        // a fresh whale pulls, and the lesson passes there too.
        let mut student = Sandbox::whale().await.expect("a student's whale");
        let o = tutor(
            Some(&student.engine),
            &[
                "--lessons-dir",
                &lessons,
                "setup",
                "--from-registry",
                &reg.addr,
                "1",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        lesson_verifies(&student.engine, fixtures.path(), "1").await;
        student.shutdown().await;
    }
}

/// What a dockerd test made on the shared dockerd, removed even when it failed.
struct DockerLeftovers {
    engine: Engine,
    names: Vec<String>,
}

impl Drop for DockerLeftovers {
    fn drop(&mut self) {
        let host = format!("unix://{}", self.engine.socket.display());
        for n in &self.names {
            for verb in [["rm", "-f"], ["rmi", "-f"]] {
                let _ = Command::new("docker")
                    .args(["-H", &host, verb[0], verb[1], n])
                    .output();
            }
        }
    }
}

/// The pids whose command line has `needle` as one argument.
fn pids_with_arg(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if cmd.split(|b| *b == 0).any(|a| a == needle.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// A student's whale that is not running yet: `setup --from-registry`
/// starts it told that the (non-loopback, plain HTTP) class registry is
/// insecure. `class.invalid` never resolves (RFC 6761): no packet leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whale_setup_starts_is_told_the_class_registry_speaks_http() {
    let dir = tempfile::Builder::new()
        .prefix("whaletutor-classreg-daemon-")
        .tempdir()
        .unwrap();
    let engine = Engine {
        kind: EngineKind::Whale,
        socket: dir.path().join("whale.sock"),
        root: Some(dir.path().join("root")),
    };
    let lessons = course().display().to_string();
    let o = tutor(
        Some(&engine),
        &[
            "--lessons-dir",
            &lessons,
            "setup",
            "--from-registry",
            "class.invalid:5000",
            "6",
        ],
    );
    let sock = format!("unix://{}", engine.socket.display());
    let daemons = pids_with_arg(&sock);
    let told: Vec<i32> = daemons
        .iter()
        .copied()
        .filter(|p| pids_with_arg("--insecure-registry").contains(p))
        .filter(|p| pids_with_arg("class.invalid:5000").contains(p))
        .collect();
    for p in &daemons {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*p),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    for _ in 0..100 {
        if pids_with_arg(&sock).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    verify::unmount_under(dir.path());
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("the class registry class.invalid:5000 does not answer"),
        "{t}"
    );
    assert_eq!(daemons.len(), 1, "one daemon started: {daemons:?}");
    assert_eq!(
        told, daemons,
        "started with --insecure-registry class.invalid:5000"
    );
}
