//! The `whale` verbs, as a client of the daemon's API (bollard), with the
//! docker CLI's flags, output and exit codes.

pub mod bootstrap;
mod build;
pub mod connect;
mod containers;
mod copy;
mod exec;
pub mod gotemplate;
mod images;
mod kv_file;
mod lifecycle;
mod manage;
mod mount_flag;
mod networks;
mod output;
mod ports;
mod registry;
mod run;
mod security_opt;
mod session;
mod stats;
mod system;
pub mod table;
pub mod terminal;
mod volumes;

use std::path::PathBuf;

pub use whale_args::{try_parse_from, Cli, Command};

/// What went wrong in a verb, and how docker would report it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The daemon answered with an error: `Error response from daemon: ...`.
    #[error("Error response from daemon: {0}")]
    Daemon(String),
    /// No daemon to talk to.
    #[error(transparent)]
    Connect(#[from] connect::ConnectError),
    /// A `--format` template that does not parse or execute.
    #[error("{0}")]
    Template(String),
    /// Bad input on the command line that clap could not catch.
    #[error("{0}")]
    Usage(String),
    /// Anything else, printed as `Error: ...`.
    #[error("Error: {0}")]
    Other(String),
    /// Errors already printed; exit with this code.
    #[error("")]
    Exit(i32),
}

impl CliError {
    /// The exit code docker uses for this kind of failure in an ordinary verb.
    fn exit_code(&self) -> i32 {
        match self {
            CliError::Exit(code) => *code,
            CliError::Usage(_) => 125,
            _ => 1,
        }
    }
}

impl From<bollard::errors::Error> for CliError {
    fn from(err: bollard::errors::Error) -> Self {
        daemon_error(err)
    }
}

/// docker's wording for an API failure.
pub(crate) fn daemon_error(err: bollard::errors::Error) -> CliError {
    use bollard::errors::Error as E;
    match err {
        E::DockerResponseServerError { message, .. } => CliError::Daemon(message),
        E::DockerStreamError { error } => CliError::Daemon(error),
        E::DockerContainerWaitError { error, code } => {
            CliError::Other(format!("container wait failed ({code}): {error}"))
        }
        E::IOError { err } => CliError::Other(format!("talking to the daemon: {err}")),
        E::JsonDataError { message, .. } => CliError::Other(format!(
            "the daemon's answer does not have Docker's shape: {message}"
        )),
        other => CliError::Other(other.to_string()),
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// Serves the daemon in this process:
/// `(root dir, socket path, insecure registries) -> exit code`.
/// The engine's, handed in by the binary, so this crate never links it.
pub type ServeDaemon = fn(PathBuf, PathBuf, Vec<String>) -> i32;

/// Entry point of the `whale` binary (everything but the shim), with the
/// engine's daemon for `whale daemon`.
pub fn main(serve: ServeDaemon) -> i32 {
    let cli = match try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            let code = match err.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                // docker exits 125 when its flags do not parse.
                _ => 125,
            };
            let _ = err.print();
            return code;
        }
    };
    run(cli, serve)
}

/// Run one parsed command line; returns the exit code.
pub fn run(cli: Cli, serve: ServeDaemon) -> i32 {
    if let Command::Daemon(args) = &cli.command {
        return system::daemon(&cli, args, serve);
    }
    whale_linux::process::default_sigpipe();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("whale: cannot start the async runtime: {err}");
            return 125;
        }
    };
    let code = runtime.block_on(dispatch(&cli));
    // A thread may still be blocked reading our stdin for `-i`; we are done.
    runtime.shutdown_background();
    code
}

async fn dispatch(cli: &Cli) -> i32 {
    let result = match &cli.command {
        // `run` and `create` have docker's own exit-code rules (125 ...).
        Command::Run(args) => return run::run(cli, args).await,
        Command::Create(args) => return run::create_verb(cli, args).await,
        other => dispatch_plain(cli, other).await,
    };
    match result {
        Ok(()) => 0,
        Err(err) => {
            report(&err);
            err.exit_code()
        }
    }
}

async fn dispatch_plain(cli: &Cli, command: &Command) -> CliResult {
    match command {
        Command::Bootstrap(args) => images::bootstrap(cli, args).await,
        Command::Images(args) => images::images(cli, args).await,
        Command::Rmi(args) => images::rmi(cli, args).await,
        Command::Tag(args) => images::tag(cli, args).await,
        Command::Import(args) => images::import(cli, args).await,
        Command::Pull(args) => registry::pull(cli, args).await,
        Command::Push(args) => registry::push(cli, args).await,
        Command::Login(args) => registry::login(cli, args).await,
        Command::Logout(args) => registry::logout(args),
        Command::Commit(args) => images::commit(cli, args).await,
        Command::Start(args) => containers::start(cli, args).await,
        Command::Attach(args) => containers::attach(cli, args).await,
        Command::Exec(args) => exec::exec(cli, args).await,
        Command::Stop(args) => containers::stop(cli, args).await,
        Command::Kill(args) => containers::kill(cli, args).await,
        Command::Rm(args) => containers::rm(cli, args).await,
        Command::Wait(args) => containers::wait(cli, args).await,
        Command::Logs(args) => containers::logs(cli, args).await,
        Command::Inspect(args) => containers::inspect(cli, args).await,
        Command::Ps(args) => containers::ps(cli, args).await,
        Command::Top(args) => containers::top(cli, args).await,
        Command::Port(args) => ports::port(cli, args).await,
        Command::Diff(args) => containers::diff(cli, args).await,
        Command::Cp(args) => copy::cp(cli, args).await,
        Command::Stats(args) => stats::stats(cli, args).await,
        Command::Pause(args) => lifecycle::pause(cli, args).await,
        Command::Unpause(args) => lifecycle::unpause(cli, args).await,
        Command::Rename(args) => lifecycle::rename(cli, args).await,
        Command::Update(args) => lifecycle::update(cli, args).await,
        Command::Version(args) => system::version(cli, args).await,
        Command::Info(args) => system::info(cli, args).await,
        Command::Build(args) => build::build(cli, args).await,
        Command::History(args) => build::history(cli, args).await,
        Command::Save(args) => build::save(cli, args).await,
        Command::Load(args) => build::load(cli, args).await,
        Command::Export(args) => build::export(cli, args).await,
        Command::System(args) => build::system(cli, args).await,
        Command::Volume(args) => volumes::volume(cli, args).await,
        Command::Container(whale_args::ContainerArgs {
            command: whale_args::ContainerCommand::Prune(args),
        }) => manage::container_prune(cli, args).await,
        Command::Image(whale_args::ImageArgs {
            command: whale_args::ImageCommand::Prune(args),
        }) => manage::image_prune(cli, args).await,
        Command::Network(args) => networks::network(cli, args).await,
        Command::Daemon(_)
        | Command::Run(_)
        | Command::Create(_)
        | Command::Container(_)
        | Command::Image(_) => Err(CliError::Other("internal: verb dispatched twice".into())),
    }
}

/// Print an error the way the docker CLI does (nothing for `Exit`).
pub(crate) fn report(err: &CliError) {
    match err {
        CliError::Exit(_) => {}
        other => eprintln!("{other}"),
    }
}

/// The socket and root the CLI uses.
pub(crate) fn socket_and_root(cli: &Cli) -> CliResult<(PathBuf, PathBuf)> {
    let socket = connect::parse_host(&whale_args::host(cli.host.as_deref()))?;
    whale_args::check_socket_dir(&socket).map_err(|e| CliError::Other(e.to_string()))?;
    let root = whale_args::root_dir(cli.root.clone());
    Ok((socket, root))
}

/// Connect to the daemon named on the command line (starting it if needed).
pub(crate) async fn client(cli: &Cli) -> CliResult<connect::Client> {
    let (socket, root) = socket_and_root(cli)?;
    if cli.debug {
        eprintln!(
            "whale: connecting to unix://{} (root {})",
            socket.display(),
            root.display()
        );
    }
    Ok(connect::connect(&socket, &root).await?)
}
