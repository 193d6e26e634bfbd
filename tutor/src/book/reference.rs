//! The command reference pages, walked from the clap definitions.

use super::header;
use super::markdown::{anchor, cell, code, escape_text};

pub(super) const WHALE_INTRO: &str = "\
`whale` mirrors the `docker` command: the same verbs, the same flag names and \
short flags, the same output. Docker has many more flags; the ones below are \
those whale implements. Every verb also prints its own help: `whale run --help`.";

pub(super) const WHALETUTOR_INTRO: &str = "\
`whaletutor` walks you through the lessons and checks your work on the live \
engine; instructors use `lint` and `verify` to prove lessons. The options \
`--engine`, `-H` and `--lessons-dir` work with every verb.";

/// A command reference page walked from a clap definition.
pub fn reference(cmd: clap::Command, source: &str, intro: &str) -> String {
    let mut cmd = cmd;
    cmd.build();
    let name = cmd.get_name().to_string();
    let mut out = header(source);
    out.push_str(&format!("# {name} commands\n\n{intro}\n\n"));
    let subs: Vec<&clap::Command> = shown_subcommands(&cmd).collect();
    out.push_str("| Command | What it does |\n| --- | --- |\n");
    for s in &subs {
        let full = format!("{name} {}", s.get_name());
        out.push_str(&format!(
            "| [{}](#{}) | {} |\n",
            code(&full),
            anchor(&full),
            cell(&about(s))
        ));
    }
    out.push('\n');
    out.push_str(&format!("## {name}\n\n"));
    out.push_str(&about_long(&cmd));
    out.push_str(&usage_block(&mut cmd.clone()));
    out.push_str(&args_table(&cmd, true));
    for s in subs {
        out.push_str(&subcommand(s, &name));
    }
    out
}

fn subcommand(s: &clap::Command, parent: &str) -> String {
    let full = format!("{parent} {}", s.get_name());
    let mut out = format!("## {full}\n\n");
    out.push_str(&about_long(s));
    out.push_str(&usage_block(&mut s.clone()));
    out.push_str(&args_table(s, false));
    for sub in shown_subcommands(s) {
        out.push_str(&subcommand(sub, &full));
    }
    out
}

/// The subcommands a reader types: not hidden ones, nor clap's own `help`
/// (the same as `--help`).
fn shown_subcommands(c: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    c.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

fn about(c: &clap::Command) -> String {
    c.get_about().map(|a| a.to_string()).unwrap_or_default()
}

fn about_long(c: &clap::Command) -> String {
    let text = c
        .get_long_about()
        .or(c.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut out = if text.trim().is_empty() {
        String::new()
    } else {
        format!("{}\n\n", escape_text(text.trim()))
    };
    if let Some(after) = c.get_after_long_help().or(c.get_after_help()) {
        out.push_str(&format!("{}\n\n", escape_text(after.to_string().trim())));
    }
    out
}

/// A usage synopsis: in a `usage` block, which the command test skips (it is
/// a pattern like `whale run [OPTIONS] IMAGE`, not a command to type).
fn usage_block(c: &mut clap::Command) -> String {
    let usage = c.render_usage().to_string();
    let usage = usage.trim().trim_start_matches("Usage:").trim();
    format!("```usage\n{usage}\n```\n\n")
}

fn args_table(c: &clap::Command, root: bool) -> String {
    let args: Vec<&clap::Arg> = c
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        // Global options are listed once, on the root command.
        .filter(|a| root || !a.is_global_set())
        .collect();
    if args.is_empty() {
        return String::new();
    }
    let mut out = String::from("| Argument or option | Meaning |\n| --- | --- |\n");
    for a in args {
        out.push_str(&format!("| {} | {} |\n", arg_name(a), cell(&arg_help(a))));
    }
    out.push('\n');
    out
}

fn value_names(a: &clap::Arg) -> String {
    match a.get_value_names() {
        Some(v) if !v.is_empty() => v
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        _ => a.get_id().as_str().to_uppercase(),
    }
}

fn takes_value(a: &clap::Arg) -> bool {
    a.get_num_args().is_some_and(|n| n.takes_values())
}

fn arg_name(a: &clap::Arg) -> String {
    if a.is_positional() {
        let v = value_names(a);
        let many = a.get_num_args().is_some_and(|n| n.max_values() > 1);
        let dots = if many && !v.ends_with("...]") && !v.ends_with("...") {
            "..."
        } else {
            ""
        };
        let shown = if a.is_required_set() {
            format!("{v}{dots}")
        } else {
            format!("[{v}{dots}]")
        };
        return code(&shown);
    }
    let mut names = Vec::new();
    if let Some(s) = a.get_short() {
        names.push(format!("-{s}"));
    }
    if let Some(l) = a.get_long() {
        names.push(format!("--{l}"));
    }
    for al in a.get_visible_aliases().unwrap_or_default() {
        names.push(format!("--{al}"));
    }
    let value = if takes_value(a) {
        format!(" {}", value_names(a))
    } else {
        String::new()
    };
    names
        .iter()
        .map(|n| code(&format!("{n}{value}")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn arg_help(a: &clap::Arg) -> String {
    let mut out = a
        .get_long_help()
        .or(a.get_help())
        .map(|h| {
            h.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let mut extra = Vec::new();
    let possible: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|p| !p.is_hide_set())
        .map(|p| match p.get_help() {
            Some(h) => format!("{}: {h}", code(p.get_name())),
            None => code(p.get_name()),
        })
        .collect();
    if !possible.is_empty() && takes_value(a) {
        extra.push(format!("Values: {}.", possible.join("; ")));
    }
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() && takes_value(a) && !a.is_positional() {
        extra.push(format!("Default: {}.", code(&defaults.join(" "))));
    }
    if let Some(e) = a.get_env() {
        extra.push(format!(
            "Environment variable: {}.",
            code(&e.to_string_lossy())
        ));
    }
    if a.is_required_set() && a.is_positional() {
        extra.push("Required.".into());
    }
    if matches!(a.get_action(), clap::ArgAction::Append) && !a.is_positional() {
        extra.push("May be repeated.".into());
    }
    if !out.is_empty() && !out.ends_with('.') && !extra.is_empty() {
        out.push('.');
    }
    for e in extra {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&e);
    }
    out
}
