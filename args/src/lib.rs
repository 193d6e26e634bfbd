//! whale's command line: every verb's flags in docker's shape, their
//! defaults, and the parsing rules clap alone does not express.
//!
//! A crate of its own so that the tutor (whose book documents and tests
//! these commands) can read the definition without linking the engine, and
//! so that the definition cannot reach into the engine either.

mod build;
mod commands;
pub mod lifecycle;
mod manage;
pub mod paths;
pub mod subids;
pub mod units;

use clap::Parser;

pub use build::*;
pub use commands::*;
pub use manage::*;
pub use paths::{
    check_socket_dir, default_paths, host, root_dir, Mode, Paths, DEFAULT_ROOT, DEFAULT_SOCKET,
};

/// docker's default detach keys (`--detach-keys`).
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Parse a command line as `whale` does. On top of clap: `run`/`create`
/// take IMAGE and the command in one list that accepts leading dashes (so
/// `run busybox ls -l` keeps `-l`), and clap would then take an unknown
/// flag before IMAGE (`run --bogus busybox`) for the image; docker says
/// "unknown flag", and so do we.
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut cli = Cli::try_parse_from(args)?;
    cli.command = classic(cli.command);
    let (verb, opts) = match &cli.command {
        Command::Run(r) => ("run", &r.opts),
        Command::Create(c) => ("create", &c.opts),
        _ => return Ok(cli),
    };
    match opts.args.first() {
        Some(first) if first.starts_with('-') => {
            use clap::CommandFactory;
            Err(Cli::command().error(
                clap::error::ErrorKind::UnknownArgument,
                format!("unknown flag: {first}\nSee 'whale {verb} --help'."),
            ))
        }
        _ => Ok(cli),
    }
}
