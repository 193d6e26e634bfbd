//! The lesson file's TOML model: what a lesson, a step, a check and a solve
//! action may say. Unknown keys are rejected by serde
//! (`deny_unknown_fields`); everything else is checked by [`super::lint`].

use serde::Deserialize;
use serde_spanned::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub format_version: Spanned<u32>,
    pub id: Spanned<String>,
    pub number: Spanned<u32>,
    pub title: String,
    pub summary: String,
    #[serde(default)]
    pub requires: Vec<Spanned<String>>,
    #[serde(default)]
    pub setup: Vec<Spanned<String>>,
    #[serde(default)]
    pub cleanup: Vec<Spanned<String>>,
    /// Minutes a student needs for the lesson (shown in the book's chapter
    /// head and by `whaletutor list`).
    #[serde(default)]
    pub minutes: Option<Spanned<u32>>,
    /// What the student should know or have first, in free text
    /// (`["lesson 6", "an editor"]`).
    #[serde(default)]
    pub prerequisites: Vec<Spanned<String>>,
    #[serde(rename = "step", default)]
    pub steps: Vec<Spanned<Step>>,
}

impl Lesson {
    /// The prerequisites as written, trimmed.
    pub fn prerequisite_list(&self) -> Vec<&str> {
        self.prerequisites
            .iter()
            .map(|p| p.get_ref().trim())
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: Spanned<String>,
    pub title: String,
    pub text: Spanned<String>,
    #[serde(default)]
    pub hints: Vec<Spanned<String>>,
    pub explain: Spanned<String>,
    #[serde(rename = "check", default)]
    pub checks: Vec<Spanned<Check>>,
    #[serde(default)]
    pub solve: Option<Spanned<Solve>>,
    #[serde(rename = "quiz", default)]
    pub quizzes: Vec<Spanned<Quiz>>,
    /// The text gives the goal only: the commands are in the last hint.
    #[serde(default)]
    pub challenge: Option<Spanned<bool>>,
    /// A picture shown above the step's text in the book.
    #[serde(default)]
    pub figure: Option<Spanned<Figure>>,
    /// Where whale, Docker 20.10 and today's Docker differ for this step
    /// (markdown, a template): a box in the book, said by the tutor once
    /// the step passes.
    #[serde(default)]
    pub docker_differs: Option<Spanned<String>>,
    /// What the engine must offer for this step (words of
    /// [`STEP_REQUIREMENT_WORDS`]): verify skips the step, saying why, on
    /// an engine that lacks it.
    #[serde(default)]
    pub requires: Vec<Spanned<String>>,
}

/// The words a step's `requires` may hold. `published-ports`: `-p` must
/// reach a server in the container from the host, which Docker does only
/// through its bridge network (a dockerd started with `--bridge=none`, as
/// the course's private one is, accepts `-p` and publishes nothing).
pub const STEP_REQUIREMENT_WORDS: &[&str] = &["published-ports"];

impl Step {
    /// Whether the step is a challenge (`challenge = true`).
    pub fn is_challenge(&self) -> bool {
        self.challenge.as_ref().is_some_and(|c| *c.get_ref())
    }
}

/// A step's picture: a file in `book/src/images/` and its words for
/// readers who cannot see it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    /// The file's name in `book/src/images/` (`layer-order.svg`).
    pub src: String,
    /// What the picture shows, in words.
    pub alt: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quiz {
    pub id: String,
    pub question: String,
    /// Multiple choice when present; otherwise a free answer.
    #[serde(default)]
    pub choices: Vec<String>,
    /// The expected answer: a choice's text, or for a free answer a regex
    /// (case-insensitive) the answer must match.
    pub answer: String,
    /// Why the right answer is right: said when the student answers right
    /// and when the tutor reveals the answer.
    #[serde(default)]
    pub why: Option<String>,
    /// Why a wrong choice is wrong, by the choice's text: said when the
    /// student picks it.
    #[serde(default)]
    pub why_not: std::collections::HashMap<String, String>,
}

/// The header every check shares, borrowed from whichever check it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckHeader<'a> {
    /// What the student is told when the check fails (a template).
    pub failure: &'a str,
    /// Why this check may already pass before its step is solved.
    pub passes_before_solve: Option<&'a str>,
    /// What the check looks for, in the author's plain words (the book
    /// prints it instead of words made from the check's fields).
    pub describe: Option<&'a str>,
}

/// Declares one kind of check with the header every check shares
/// (`failure`, `passes_before_solve`, `describe`), written once here. The header's
/// fields are declared in each struct rather than as a `#[serde(flatten)]`
/// struct because serde cannot combine flatten with `deny_unknown_fields`
/// and still list the expected keys, which lint's unknown-key errors show.
macro_rules! check_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($fields:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// What the student is told when the check fails (a template).
            pub failure: String,
            /// Why this check may already pass before its step is solved.
            #[serde(default)]
            pub passes_before_solve: Option<String>,
            /// What the check looks for, in plain words, for the book.
            #[serde(default)]
            pub describe: Option<String>,
            $($fields)*
        }

        impl $name {
            pub fn header(&self) -> CheckHeader<'_> {
                CheckHeader {
                    failure: &self.failure,
                    passes_before_solve: self.passes_before_solve.as_deref(),
                    describe: self.describe.as_deref(),
                }
            }
        }
    };
}

/// A typed check. Each reads engine or host state and never changes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Check {
    Container(ContainerCheck),
    Process(ProcessCheck),
    Exec(ExecCheck),
    File(FileCheck),
    Image(ImageCheck),
    Host(HostCheck),
    Quiz(QuizCheck),
    All(GroupCheck),
    Any(GroupCheck),
}

check_struct! {
    /// Which containers a check looks at: one by name, or every one with a label.
    pub struct ContainerCheck {
        #[serde(default)]
        pub name: Option<String>,
        /// `key=value` (or `key`): passes when any labelled container matches.
        #[serde(default)]
        pub label: Option<String>,
        #[serde(default)]
        pub exists: Option<bool>,
        /// Docker's State.Status: created, running, paused, restarting, exited, dead.
        #[serde(default)]
        pub status: Option<String>,
        #[serde(default)]
        pub running: Option<bool>,
        #[serde(default)]
        pub exit_code: Option<i64>,
        #[serde(default)]
        pub tty: Option<bool>,
        #[serde(default)]
        pub open_stdin: Option<bool>,
        /// The image the container was created from, as typed (`busybox`
        /// matches `busybox:latest`).
        #[serde(default)]
        pub image: Option<String>,
        /// Regex over the container's command (Path + Args joined by spaces).
        #[serde(default)]
        pub cmd: Option<String>,
        /// Regex over the command line of the container's PID 1.
        #[serde(default)]
        pub pid1: Option<String>,
        #[serde(default)]
        pub oom_killed: Option<bool>,
        /// Regex over the container's output so far (its logs).
        #[serde(default)]
        pub logs: Option<String>,
    }
}

check_struct! {
    pub struct ProcessCheck {
        pub container: String,
        /// Regex over a process's command line.
        pub command: String,
        /// Whether such a process must be running (default) or absent.
        #[serde(default = "yes")]
        pub running: bool,
        /// Its PID inside the container's PID namespace.
        #[serde(default)]
        pub pid: Option<u32>,
    }
}

check_struct! {
    pub struct ExecCheck {
        pub container: String,
        pub cmd: Vec<String>,
        /// Regex the command's stdout must match.
        #[serde(default)]
        pub stdout: Option<String>,
        #[serde(default)]
        pub exit_code: Option<i64>,
    }
}

check_struct! {
    pub struct FileCheck {
        pub container: String,
        pub path: String,
        #[serde(default)]
        pub exists: Option<bool>,
        /// Regex over the file's contents.
        #[serde(default)]
        pub contents: Option<String>,
    }
}

check_struct! {
    pub struct ImageCheck {
        pub name: String,
        #[serde(default)]
        pub exists: Option<bool>,
        #[serde(default)]
        pub layers: Option<usize>,
        #[serde(default)]
        pub min_layers: Option<usize>,
        #[serde(default)]
        pub cmd: Option<Vec<String>>,
        #[serde(default)]
        pub entrypoint: Option<Vec<String>>,
        /// Image whose layers are a prefix of this one's.
        #[serde(default)]
        pub based_on: Option<String>,
        #[serde(default)]
        pub shares_layers_with: Option<String>,
        #[serde(default)]
        pub min_shared_layers: Option<usize>,
        /// At most this many shared: the image was rebuilt from some step on.
        #[serde(default)]
        pub max_shared_layers: Option<usize>,
        #[serde(default)]
        pub max_unique_bytes: Option<u64>,
        /// At least this many bytes no other image shares (a layer stored twice
        /// shows up here: lesson 10's wrong layer order).
        #[serde(default)]
        pub min_unique_bytes: Option<u64>,
        /// A path in the image's file system (as a container of it sees it).
        #[serde(default)]
        pub contains_file: Option<String>,
    }
}

check_struct! {
    pub struct HostCheck {
        /// Run with `sh -c`; rendered as a template.
        pub command: String,
        #[serde(default)]
        pub stdout: Option<String>,
        #[serde(default)]
        pub exit_code: Option<i64>,
    }
}

check_struct! {
    pub struct QuizCheck {
        /// The id of a `[[step.quiz]]` in the same step.
        pub quiz: String,
    }
}

check_struct! {
    pub struct GroupCheck {
        pub checks: Vec<Check>,
    }
}

fn yes() -> bool {
    true
}

impl Check {
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Container(_) => "container",
            Check::Process(_) => "process",
            Check::Exec(_) => "exec",
            Check::File(_) => "file",
            Check::Image(_) => "image",
            Check::Host(_) => "host",
            Check::Quiz(_) => "quiz",
            Check::All(_) => "all",
            Check::Any(_) => "any",
        }
    }

    /// The shared header, from whichever kind of check this is.
    pub fn header(&self) -> CheckHeader<'_> {
        match self {
            Check::Container(c) => c.header(),
            Check::Process(c) => c.header(),
            Check::Exec(c) => c.header(),
            Check::File(c) => c.header(),
            Check::Image(c) => c.header(),
            Check::Host(c) => c.header(),
            Check::Quiz(c) => c.header(),
            Check::All(c) | Check::Any(c) => c.header(),
        }
    }

    pub fn failure(&self) -> &str {
        self.header().failure
    }

    pub fn passes_before_solve(&self) -> Option<&str> {
        self.header().passes_before_solve
    }

    pub fn describe(&self) -> Option<&str> {
        self.header().describe
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Solve {
    pub script: Vec<Spanned<Action>>,
}

/// One solve action: exactly one of the verb fields is set.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// A shell command run to completion (`sh -c`).
    #[serde(default)]
    pub run: Option<String>,
    /// Expected exit code of `run` (default 0).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Start a command on a pseudo-terminal; later expect/send talk to it.
    #[serde(default)]
    pub spawn: Option<String>,
    /// Wait for this regex on the spawned terminal.
    #[serde(default)]
    pub expect: Option<String>,
    #[serde(default)]
    pub send: Option<String>,
    /// Control characters to send, one letter each: "pq" is Ctrl-P Ctrl-Q.
    #[serde(default)]
    pub send_control: Option<String>,
    /// A file path (relative to the work dir) to write `content` into.
    #[serde(default)]
    pub write: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    /// Wait until this check passes.
    #[serde(default)]
    pub wait_for: Option<Check>,
    /// Record this answer for a quiz of the step (`quiz` names it).
    #[serde(default)]
    pub answer: Option<String>,
    #[serde(default)]
    pub quiz: Option<String>,
    /// Seconds for expect / wait_for / run (default 10).
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl Action {
    pub(super) fn verbs(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.run.is_some() {
            v.push("run");
        }
        if self.spawn.is_some() {
            v.push("spawn");
        }
        if self.expect.is_some() {
            v.push("expect");
        }
        if self.send.is_some() {
            v.push("send");
        }
        if self.send_control.is_some() {
            v.push("send_control");
        }
        if self.write.is_some() {
            v.push("write");
        }
        if self.wait_for.is_some() {
            v.push("wait_for");
        }
        if self.answer.is_some() {
            v.push("answer");
        }
        v
    }
}
