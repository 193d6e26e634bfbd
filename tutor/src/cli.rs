//! The `whaletutor` command line. It lives in the library so the book can
//! print a reference generated from it and check the commands it shows.

use crate::engine::EngineKind;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "whaletutor",
    version,
    about = "Hands-on Docker lessons, checked against a live engine"
)]
pub struct Cli {
    /// The engine to teach with [default: docker when DOCKER_HOST is set, else whale].
    #[arg(long, global = true, value_enum, env = "WHALETUTOR_ENGINE")]
    pub engine: Option<EngineKind>,
    /// The engine's API socket (unix:///path); default: WHALE_HOST or
    /// /run/whale/whale.sock for whale (a normal user's: $XDG_RUNTIME_DIR/whale/whale.sock),
    /// DOCKER_HOST or /var/run/docker.sock for docker.
    #[arg(short = 'H', long = "host", global = true)]
    pub host: Option<String>,
    /// Directory of lesson files.
    #[arg(long = "lessons-dir", global = true, env = "WHALETUTOR_LESSONS")]
    pub lessons_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Subcommand)]
pub enum Verb {
    /// The lessons: steps done, the time each takes and what it needs first.
    List,
    /// Work through a lesson: the tutor watches the engine and moves on when you did it.
    Lesson {
        /// Lesson number or id (default: where you stopped).
        lesson: Option<String>,
        /// Allow `n` to skip a step whose checks do not pass.
        #[arg(long)]
        force: bool,
        /// Play each step's solution (for showing a class).
        #[arg(long)]
        demo: bool,
    },
    /// Check the current step once; exit 0 when it passes.
    Check {
        /// Lesson number or id (default: the one last worked on).
        lesson: Option<String>,
        /// Show what every check saw.
        #[arg(short, long)]
        verbose: bool,
    },
    /// The next hint of the current step.
    Hint {
        /// Lesson number or id (default: the one last worked on).
        lesson: Option<String>,
    },
    /// Where you are in every lesson.
    Progress,
    /// Remove what a lesson created (its containers and images) and its progress.
    Reset {
        /// Lesson number or id (default: the one last worked on).
        lesson: Option<String>,
        /// Reset every lesson.
        #[arg(long)]
        all: bool,
    },
    /// Prove lessons: every check fails before its solve and passes after.
    Verify {
        /// Lesson numbers or ids (default: all of them).
        #[arg(value_name = "LESSON")]
        which: Vec<String>,
        /// Take each lesson's images from a class registry (as
        /// `setup --from-registry`), not made in the sandbox.
        #[arg(long = "from-registry", value_name = "HOST:PORT")]
        from_registry: Option<String>,
    },
    /// Check lesson files for authoring errors (file:line:col).
    Lint {
        /// Lesson files (default: every .toml in the lessons directory).
        files: Vec<PathBuf>,
    },
    /// Is this machine ready? Each item with what to do.
    Doctor,
    /// Re-generate the book's lesson chapters and command reference (book/src).
    Book {
        /// The book's directory, with book.toml [default: ./book, else the book of this source tree].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write nothing: exit 1 and name every page that is out of date.
        #[arg(long)]
        check: bool,
    },
    /// Bootstrap base images and build the images lessons require.
    Setup {
        /// Lesson numbers or ids (default: all of them).
        #[arg(value_name = "LESSON")]
        which: Vec<String>,
        /// Pull the images from a class registry instead of making them
        /// (the instructor's `whaletutor class registry`).
        #[arg(long = "from-registry", value_name = "HOST:PORT")]
        from_registry: Option<String>,
    },
    /// The instructor's tools for a class.
    Class {
        #[command(subcommand)]
        what: ClassVerb,
    },
}

#[derive(Subcommand)]
pub enum ClassVerb {
    /// A registry that serves the course's images to the class's machines
    /// (Debian's docker-registry).
    Registry {
        #[command(subcommand)]
        action: RegistryVerb,
    },
}

#[derive(Subcommand)]
pub enum RegistryVerb {
    /// Start the registry, detached, its images, config, pid file and log in DIR.
    Start {
        /// Directory for the registry's images, config, pid file and log.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Address to listen on; another machine can reach it only if you say so
        /// (e.g. 0.0.0.0:5000).
        #[arg(long, value_name = "IP:PORT", default_value = crate::class::server::DEFAULT_ADDR)]
        addr: String,
        /// Then push every course image to it (as `class registry push`).
        #[arg(long)]
        push: bool,
    },
    /// Stop the registry of DIR (its images stay in DIR).
    Stop {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Whether the registry of DIR runs and answers, and the images it holds.
    Status {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Push every course image (what `setup` makes) to the registry, through the engine.
    Push {
        /// Lesson numbers or ids whose images to push (default: all of them).
        #[arg(value_name = "LESSON")]
        which: Vec<String>,
        /// The registry's directory (its address is read from there).
        #[arg(long, value_name = "DIR", conflicts_with = "addr")]
        dir: Option<PathBuf>,
        /// The registry's address [default: 127.0.0.1:5000].
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<String>,
    },
}
