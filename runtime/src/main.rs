//! One binary, three roles: the `whale` CLI, the daemon (`whale daemon`) and
//! the per-container shim (`whale shim <dir>`, hidden, spawned by the daemon).

fn main() {
    let mut args = std::env::args_os();
    let _argv0 = args.next();
    if args.next().as_deref() == Some(std::ffi::OsStr::new("shim")) {
        // The shim must stay single-threaded: dispatch before anything
        // (clap, tokio) gets a chance to start threads.
        std::process::exit(whale::shim::main(args.collect()));
    }
    std::process::exit(whale::cli::main());
}
