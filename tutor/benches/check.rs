//! How long a full `check` of a step takes on whale (the acceptance asks
//! for < 50 ms). Runs lesson 1 in a sandbox daemon, solving each step, and
//! times every step's checks over many rounds: `cargo bench -p whaletutor`.
//! `WHALETUTOR_BENCH_LESSONS=6,11` times only those lessons.

use std::path::PathBuf;
use std::time::{Duration, Instant};
use whaletutor::lesson;
use whaletutor::runner;
use whaletutor::solve::{Player, Terminals};
use whaletutor::verify::Sandbox;

const ROUNDS: usize = 50;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lessons");
        let mut lessons = lesson::load_dir(&dir).expect("lessons");
        if let Ok(only) = std::env::var("WHALETUTOR_BENCH_LESSONS") {
            let want: Vec<u32> = only
                .split(',')
                .map(|n| {
                    n.trim()
                        .parse()
                        .expect("WHALETUTOR_BENCH_LESSONS: numbers, e.g. 6,11")
                })
                .collect();
            lessons.retain(|l| want.contains(&l.number()));
        }
        let mut sb = Sandbox::whale().await.expect("sandbox");
        let engine = sb.engine.clone();
        let docker = engine.connect().await.expect("connect");
        println!(
            "{:<22} {:>8} {:>8} {:>8}",
            "lesson/step", "median", "p95", "max"
        );
        for l in &lessons {
            whaletutor::setup::ensure_images(&engine, &docker, &[l], &dir.join("images"))
                .await
                .expect("images");
            let work = tempfile::tempdir().expect("workdir");
            let mut player = Player {
                engine: &engine,
                docker: &docker,
                workdir: work.path(),
                terminals: Terminals::default(),
                answers: Default::default(),
            };
            for s in &l.lesson.steps {
                let step = s.get_ref();
                player.play(step).await.expect("solve");
                tokio::time::sleep(Duration::from_millis(200)).await;
                let mut times = Vec::with_capacity(ROUNDS);
                for _ in 0..ROUNDS {
                    let t = Instant::now();
                    let r = runner::check_step(&docker, &engine, step, &player.answers).await;
                    times.push(t.elapsed());
                    assert!(
                        runner::all_pass(&r),
                        "step {} does not pass",
                        step.id.get_ref()
                    );
                }
                times.sort();
                println!(
                    "{:<22} {:>6.1}ms {:>6.1}ms {:>6.1}ms",
                    format!("{}/{}", l.number(), step.id.get_ref()),
                    times[ROUNDS / 2].as_secs_f64() * 1e3,
                    times[ROUNDS * 95 / 100].as_secs_f64() * 1e3,
                    times[ROUNDS - 1].as_secs_f64() * 1e3
                );
            }
            player.terminals.close();
            runner::reset(&engine, &docker, l).await;
        }
        sb.shutdown().await;
    });
}
