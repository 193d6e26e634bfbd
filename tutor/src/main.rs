//! `whaletutor`: the command-line front of the tutor.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use whaletutor::lesson;

#[derive(Parser)]
#[command(
    name = "whaletutor",
    version,
    about = "Hands-on Docker lessons, checked against a live engine"
)]
struct Cli {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Check lesson files for authoring errors (file:line:col).
    Lint {
        /// Lesson files; default: every lesson in the lesson directory.
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.verb {
        Verb::Lint { files } => {
            let files = if files.is_empty() {
                match std::fs::read_dir("lessons") {
                    Ok(rd) => {
                        let mut v: Vec<PathBuf> = rd
                            .filter_map(|e| e.ok().map(|e| e.path()))
                            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                            .collect();
                        v.sort();
                        v
                    }
                    Err(e) => {
                        eprintln!("whaletutor: cannot list lessons/: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                files
            };
            let diags = lesson::lint_files(&files);
            for d in &diags {
                println!("{d}");
            }
            if diags.is_empty() {
                println!("{} lesson file(s) ok", files.len());
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
