//! One binary, five roles: the `whale` CLI, the daemon (`whale daemon`),
//! the per-container shim (`whale shim <dir>`, hidden, spawned by the
//! daemon), `whale copy-in` and `whale copy-out` (hidden, the daemon's
//! helpers for PUT and GET archive and export).

fn main() {
    let mut args = std::env::args_os();
    let _argv0 = args.next();
    let role = args.next();
    if role.as_deref() == Some(std::ffi::OsStr::new("shim")) {
        // The shim must stay single-threaded: dispatch before anything
        // (clap, tokio) gets a chance to start threads.
        std::process::exit(whale::shim::main(args.collect()));
    }
    if role.as_deref() == Some(std::ffi::OsStr::new("copy-in")) {
        // Single-threaded too: it unshares its mount namespace and chroots.
        std::process::exit(whale::linux::copy_in::main(args.collect()));
    }
    if role.as_deref() == Some(std::ffi::OsStr::new("copy-out")) {
        // Single-threaded too, for the same reasons (and setns).
        std::process::exit(whale::linux::copy_out::main(args.collect()));
    }
    std::process::exit(whale_cli::main(serve_daemon));
}

/// `whale daemon`: the engine's API server, run in this process.
fn serve_daemon(
    root: std::path::PathBuf,
    socket: std::path::PathBuf,
    insecure_registries: Vec<String>,
) -> i32 {
    // Still single-threaded here: joining a user namespace requires it.
    if let Err(err) = whale::rootless::enter_if_unprivileged(&root) {
        eprintln!("whale daemon: {err:#}");
        return 1;
    }
    whale::linux::memory::tune_for_daemon();
    // What a big build, load or log needed goes back to the system soon
    // after, whichever thread freed it (see linux::memory).
    std::thread::spawn(|| loop {
        std::thread::sleep(std::time::Duration::from_secs(5));
        whale::linux::memory::release_free_memory();
    });
    match whale::api::run_daemon(whale::api::DaemonConfig {
        root,
        socket,
        insecure_registries,
    }) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("whale daemon: {err:#}");
            1
        }
    }
}
