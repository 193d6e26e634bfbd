//! `whale build`, `history`, `save`, `load`, `export` and `system df`, with
//! the docker CLI's flags and output.

use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use bollard::query_parameters::{
    BuildImageOptions, DataUsageOptions, ImportImageOptions, TagImageOptions,
};
use futures_util::StreamExt;

use super::gotemplate::Value;
use super::output;
use super::{client, CliError, CliResult};
use whale_args::Cli;
use whale_args::{
    BuildArgs, DfArgs, ExportArgs, HistoryArgs, LoadArgs, SaveArgs, SystemArgs, SystemCommand,
};

fn other(e: impl std::fmt::Display) -> CliError {
    CliError::Other(e.to_string())
}

// ---------------------------------------------------------------- build

use whale_formats::dockerignore::{ignored, parse as parse_dockerignore, IgnoreRule};

/// Tar the context dir, leaving out what `.dockerignore` excludes (the
/// Dockerfile and .dockerignore always go).
fn context_tar(
    dir: &Path,
    dockerfile_rel: &str,
    extra: Option<(&str, &[u8])>,
) -> CliResult<Vec<u8>> {
    let rules = std::fs::read_to_string(dir.join(".dockerignore"))
        .map(|t| parse_dockerignore(&t))
        .unwrap_or_default();
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    fn walk(
        tar: &mut tar::Builder<Vec<u8>>,
        root: &Path,
        rel: &str,
        rules: &[IgnoreRule],
        keep: &str,
    ) -> CliResult {
        let abs = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let mut names: Vec<_> = std::fs::read_dir(&abs)
            .map_err(|e| other(format!("reading the build context {}: {e}", abs.display())))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            let name = n.to_string_lossy().into_owned();
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            // With a Dockerfile from outside, .dockerignore goes at the end,
            // naming it.
            if keep.starts_with(".dockerfile.") && child == ".dockerignore" {
                continue;
            }
            let always = child == keep || child == ".dockerignore";
            if !always && ignored(rules, &child) {
                // A negated rule may re-include something below an ignored dir.
                if !rules.iter().any(|r| r.negate) {
                    continue;
                }
            }
            let p = root.join(&child);
            let m = std::fs::symlink_metadata(&p)
                .map_err(|e| other(format!("reading {}: {e}", p.display())))?;
            if m.is_dir() {
                if always || !ignored(rules, &child) {
                    tar.append_path_with_name(&p, &child).map_err(|e| {
                        other(format!("adding {} to the context: {e}", p.display()))
                    })?;
                }
                walk(tar, root, &child, rules, keep)?;
            } else if (always || !ignored(rules, &child))
                && (m.file_type().is_file() || m.file_type().is_symlink())
            {
                tar.append_path_with_name(&p, &child)
                    .map_err(|e| other(format!("adding {} to the context: {e}", p.display())))?;
            }
        }
        Ok(())
    }
    walk(&mut tar, dir, "", &rules, dockerfile_rel)?;
    if let Some((name, data)) = extra {
        // As docker's CLI writes it (measured, 28.x): appended to the
        // context's .dockerignore, or a new one that also names itself, so
        // the daemon drops both.
        let ignore = match std::fs::read(dir.join(".dockerignore")) {
            Ok(mut text) => {
                text.extend_from_slice(format!("\n{name}\n").as_bytes());
                text
            }
            Err(_) => format!(".dockerignore\n{name}\n").into_bytes(),
        };
        for (n, d) in [(name, data), (".dockerignore", &ignore[..])] {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, n, d)
                .map_err(|e| other(format!("adding {n} to the context: {e}")))?;
        }
    }
    tar.into_inner()
        .map_err(|e| other(format!("writing the build context: {e}")))
}

/// docker's `units.HumanSize`: four significant digits ("2.048kB").
fn human_size4(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    let digits = if size >= 100.0 {
        1
    } else if size >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{size:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", UNITS[unit])
}

/// docker's name for a Dockerfile sent from outside the context: random,
/// and listed in the context's `.dockerignore` so the daemon drops it
/// once read and `COPY .` never puts it in the image.
fn outside_dockerfile_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        h.finish()
    };
    let hex = format!("{:016x}{:016x}", word(), word());
    format!(".dockerfile.{}", &hex[..20])
}

pub async fn build(cli: &Cli, args: &BuildArgs) -> CliResult {
    let dir = &args.context;
    if !dir.is_dir() {
        return Err(CliError::Other(format!(
            "unable to prepare context: path {:?} not found",
            dir.display().to_string()
        )));
    }
    // The Dockerfile: inside the context it is named by its relative path;
    // outside, it travels in the context under a private name.
    let (dockerfile, extra): (String, Option<(String, Vec<u8>)>) = match &args.file {
        None => ("Dockerfile".into(), None),
        Some(f) if f.as_os_str() == "-" => {
            let mut text = Vec::new();
            std::io::stdin()
                .read_to_end(&mut text)
                .map_err(|e| other(format!("reading the Dockerfile from stdin: {e}")))?;
            let name = outside_dockerfile_name();
            (name.clone(), Some((name, text)))
        }
        Some(f) => {
            let abs_ctx = std::fs::canonicalize(dir).map_err(other)?;
            let abs_f = std::fs::canonicalize(f).map_err(|e| {
                other(format!(
                    "unable to prepare context: the Dockerfile {}: {e}",
                    f.display()
                ))
            })?;
            match abs_f.strip_prefix(&abs_ctx) {
                Ok(rel) => (rel.to_string_lossy().into_owned(), None),
                Err(_) => {
                    let text = std::fs::read(&abs_f).map_err(other)?;
                    let name = outside_dockerfile_name();
                    (name.clone(), Some((name, text)))
                }
            }
        }
    };
    let tar = {
        let dir = dir.clone();
        let dockerfile = dockerfile.clone();
        tokio::task::spawn_blocking(move || {
            context_tar(
                &dir,
                &dockerfile,
                extra.as_ref().map(|(n, d)| (n.as_str(), d.as_slice())),
            )
        })
        .await
        .map_err(other)??
    };
    if !args.quiet {
        println!(
            "Sending build context to Docker daemon  {}",
            human_size4(tar.len() as u64)
        );
    }
    let mut build_args = HashMap::new();
    for a in &args.build_args {
        match a.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            None => {
                // docker: `--build-arg KEY` takes the value from the environment.
                if let Ok(v) = std::env::var(a) {
                    build_args.insert(a.clone(), v);
                }
            }
        }
    }
    let mut labels = HashMap::new();
    for l in &args.labels {
        // docker: `--label KEY` is KEY with an empty value.
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let client = client(cli).await?;
    let options = BuildImageOptions {
        dockerfile,
        t: args.tags.first().cloned(),
        q: args.quiet,
        nocache: args.no_cache,
        rm: args.rm,
        forcerm: args.force_rm,
        buildargs: (!build_args.is_empty()).then_some(build_args),
        networkmode: Some(args.network.clone()),
        target: args.target.clone().unwrap_or_default(),
        labels: (!labels.is_empty()).then_some(labels),
        extrahosts: (!args.add_hosts.is_empty()).then(|| args.add_hosts.join(",")),
        cachefrom: (!args.cache_from.is_empty()).then(|| args.cache_from.clone()),
        ..Default::default()
    };
    let mut stream = client
        .docker
        .build_image(options, None, Some(bollard::body_full(tar.into())));
    let mut id = None;
    let mut stdout = std::io::stdout();
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(i) => i,
            // bollard turns the `error` line into this; docker build prints
            // the builder's message bare and exits 1.
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                eprintln!("{error}");
                return Err(CliError::Exit(1));
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(detail) = info.error_detail {
            // docker build prints the builder's error bare and exits 1.
            eprintln!("{}", detail.message.unwrap_or_default());
            return Err(CliError::Exit(1));
        }
        if let Some(s) = info.stream {
            if args.quiet {
                // A quiet build's one stream line is the image id.
                if s.trim().starts_with("sha256:") {
                    id = Some(s.trim().to_string());
                }
            } else {
                let _ = stdout.write_all(s.as_bytes());
                let _ = stdout.flush();
            }
        }
        if let Some(aux) = info.aux {
            if let Some(i) = aux.id {
                id = Some(i);
            }
        }
    }
    let Some(id) = id else {
        return Err(CliError::Other(
            "the daemon ended the build without an image id".into(),
        ));
    };
    for t in args.tags.iter().skip(1) {
        let (repo, tag) = output::split_reference(t);
        client
            .docker
            .tag_image(
                &id,
                Some(TagImageOptions {
                    repo: Some(repo),
                    tag: Some(if tag.is_empty() { "latest".into() } else { tag }),
                }),
            )
            .await?;
        if !args.quiet {
            let name = whale_formats::reference::parse_tag(t)
                .map(|n| n.to_string())
                .unwrap_or_else(|_| t.clone());
            println!("Successfully tagged {name}");
        }
    }
    if let Some(path) = &args.iidfile {
        std::fs::write(path, &id).map_err(|e| {
            other(format!(
                "failed to write the image ID to {}: {e}",
                path.display()
            ))
        })?;
    }
    if args.quiet {
        println!("{id}");
    }
    Ok(())
}

// ---------------------------------------------------------------- history

const HISTORY_TABLE: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

fn history_header() -> Value {
    Value::Map(
        [
            ("ID", "IMAGE"),
            ("CreatedSince", "CREATED"),
            ("CreatedAt", "CREATED AT"),
            ("CreatedBy", "CREATED BY"),
            ("Size", "SIZE"),
            ("Comment", "COMMENT"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), Value::str(*v)))
        .collect(),
    )
}

pub async fn history(cli: &Cli, args: &HistoryArgs) -> CliResult {
    let client = client(cli).await?;
    let items = client.docker.image_history(&args.image).await?;
    let rows: Vec<Value> = items
        .iter()
        .map(|h| {
            let id = if h.id.starts_with("sha256:") && !args.no_trunc {
                output::short_id(&h.id)
            } else {
                h.id.clone()
            };
            let created_by = h.created_by.replace('\t', " ");
            let created_by = if args.no_trunc {
                created_by
            } else {
                output::ellipsis(&created_by, 45)
            };
            let (since, at, size) = if args.human {
                (
                    output::ago(h.created),
                    chrono::DateTime::from_timestamp(h.created, 0)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_default(),
                    whale_formats::humanize::human_size(h.size.max(0) as u64),
                )
            } else {
                (
                    chrono::DateTime::from_timestamp(h.created, 0)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_default(),
                    chrono::DateTime::from_timestamp(h.created, 0)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_default(),
                    h.size.to_string(),
                )
            };
            Value::Map(vec![
                ("ID".into(), Value::str(id)),
                ("CreatedSince".into(), Value::str(since)),
                ("CreatedAt".into(), Value::str(at)),
                ("CreatedBy".into(), Value::str(created_by)),
                ("Size".into(), Value::str(size)),
                ("Comment".into(), Value::str(h.comment.clone())),
            ])
        })
        .collect();
    let format = if args.quiet {
        "{{.ID}}".to_string()
    } else {
        args.format.clone().unwrap_or_default()
    };
    let text = output::render_list(
        &format,
        HISTORY_TABLE,
        &history_header(),
        &rows,
        output::INSPECT_WORDS,
    )?;
    print!("{text}");
    Ok(())
}

// ---------------------------------------------------------------- save / export

/// Where a tar goes: `-o FILE`, or stdout unless it is a terminal.
fn tar_sink(output: &Option<PathBuf>, verb: &str) -> CliResult<Box<dyn Write + Send>> {
    match output {
        Some(p) => Ok(Box::new(std::fs::File::create(p).map_err(|e| {
            other(format!(
                "failed to {verb}: cannot create {}: {e}",
                p.display()
            ))
        })?)),
        None => {
            if std::io::stdout().is_terminal() {
                return Err(CliError::Usage(
                    "Cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
                ));
            }
            Ok(Box::new(std::io::stdout()))
        }
    }
}

async fn drain(
    mut stream: impl futures_util::Stream<Item = Result<bytes::Bytes, bollard::errors::Error>> + Unpin,
    mut out: Box<dyn Write + Send>,
) -> CliResult {
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        out.write_all(&chunk)
            .map_err(|e| other(format!("writing the archive: {e}")))?;
    }
    out.flush()
        .map_err(|e| other(format!("writing the archive: {e}")))
}

pub async fn save(cli: &Cli, args: &SaveArgs) -> CliResult {
    let out = tar_sink(&args.output, "save image")?;
    let client = client(cli).await?;
    let names: Vec<&str> = args.images.iter().map(String::as_str).collect();
    let stream = client.docker.export_images(&names);
    drain(Box::pin(stream), out).await
}

pub async fn export(cli: &Cli, args: &ExportArgs) -> CliResult {
    let out = tar_sink(&args.output, "export container")?;
    let client = client(cli).await?;
    let stream = client.docker.export_container(&args.container);
    drain(Box::pin(stream), out).await
}

// ---------------------------------------------------------------- load

pub async fn load(cli: &Cli, args: &LoadArgs) -> CliResult {
    let reader: Box<dyn Read + Send> = match &args.input {
        Some(p) => Box::new(
            std::fs::File::open(p).map_err(|e| other(format!("open {}: {e}", p.display())))?,
        ),
        None => {
            if std::io::stdin().is_terminal() {
                return Err(CliError::Usage(
                    "requested load from stdin, but stdin is empty".into(),
                ));
            }
            Box::new(std::io::stdin())
        }
    };
    let client = client(cli).await?;
    // Streamed: an image archive can be gigabytes.
    let mut stream = client.docker.import_image(
        ImportImageOptions {
            quiet: args.quiet,
            ..Default::default()
        },
        bollard::body_try_stream(super::images::reader_stream(reader, |_| {})),
        None,
    );
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(i) => i,
            Err(e) => return Err(e.into()),
        };
        if let Some(detail) = info.error_detail {
            return Err(CliError::Daemon(detail.message.unwrap_or_default()));
        }
        if let Some(s) = info.stream {
            print!("{s}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- system df

fn field<'a>(v: &'a serde_json::Value, k: &str) -> &'a serde_json::Value {
    v.get(k).unwrap_or(&serde_json::Value::Null)
}

fn size_of(v: &serde_json::Value, k: &str) -> i64 {
    field(v, k).as_i64().unwrap_or(0)
}

pub async fn system(cli: &Cli, args: &SystemArgs) -> CliResult {
    match &args.command {
        SystemCommand::Df(a) => df(cli, a).await,
        SystemCommand::Prune(a) => super::manage::system_prune(cli, a).await,
    }
}

/// The Images row of `system df`: total bytes, images with containers,
/// reclaimable bytes and their percentage, with Docker's arithmetic.
fn images_summary(images: &[serde_json::Value]) -> (i64, usize, i64, i64) {
    let total: i64 = {
        // Shared bytes count once across images.
        let unique: i64 = images
            .iter()
            .map(|i| size_of(i, "Size") - size_of(i, "SharedSize"))
            .sum();
        let shared_max = images
            .iter()
            .map(|i| size_of(i, "SharedSize"))
            .max()
            .unwrap_or(0);
        unique + shared_max
    };
    let active = images
        .iter()
        .filter(|i| size_of(i, "Containers") > 0)
        .count();
    // Docker counts as used only the unique bytes of images with
    // containers: their shared layers stay "reclaimable".
    let used: i64 = images
        .iter()
        .filter(|i| size_of(i, "Containers") > 0)
        .map(|i| size_of(i, "Size") - size_of(i, "SharedSize"))
        .sum();
    let reclaim = (total - used).max(0);
    let pct = if total > 0 { reclaim * 100 / total } else { 0 };
    (total, active, reclaim, pct)
}

async fn df(cli: &Cli, args: &DfArgs) -> CliResult {
    let client = client(cli).await?;
    let usage = client
        .docker
        .df(Some(DataUsageOptions {
            verbose: true,
            ..Default::default()
        }))
        .await?;
    let images = usage.image_usage.and_then(|u| u.items).unwrap_or_default();
    let containers = usage
        .container_usage
        .and_then(|u| u.items)
        .unwrap_or_default();
    let hs = |n: i64| whale_formats::humanize::human_size(n.max(0) as u64);
    if !args.verbose {
        // The summary prints every size with units.HumanSize (four digits).
        let hs = |n: i64| human_size4(n.max(0) as u64);
        let (total, active, reclaim, pct) = images_summary(&images);
        let c_total: i64 = containers.iter().map(|c| size_of(c, "SizeRw")).sum();
        let c_active = containers
            .iter()
            .filter(|c| field(c, "State").as_str() == Some("running"))
            .count();
        let c_reclaim: i64 = containers
            .iter()
            .filter(|c| field(c, "State").as_str() != Some("running"))
            .map(|c| size_of(c, "SizeRw"))
            .sum();
        let c_pct = if c_total > 0 {
            c_reclaim * 100 / c_total
        } else {
            0
        };
        let mut text = String::from("TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE\n");
        text += &format!(
            "Images\t{}\t{}\t{}\t{} ({pct}%)\n",
            images.len(),
            active,
            hs(total),
            hs(reclaim)
        );
        text += &format!(
            "Containers\t{}\t{}\t{}\t{} ({c_pct}%)\n",
            containers.len(),
            c_active,
            hs(c_total),
            hs(c_reclaim)
        );
        text += "Local Volumes\t0\t0\t0B\t0B\nBuild Cache\t0\t0\t0B\t0B\n";
        print!("{}", super::table::tabwrite(&text));
        return Ok(());
    }
    let mut text = String::from(
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n",
    );
    for i in &images {
        let tags: Vec<String> = field(i, "RepoTags")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let tags = if tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            tags
        };
        for t in tags {
            let (repo, tag) = output::split_reference(&t);
            let (size, shared) = (size_of(i, "Size"), size_of(i, "SharedSize"));
            text += &format!(
                "{repo}\t{tag}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                output::short_id(field(i, "Id").as_str().unwrap_or("")),
                output::ago(size_of(i, "Created")),
                hs(size),
                // Docker prints these two with units.HumanSize (four digits).
                human_size4(shared.max(0) as u64),
                human_size4((size - shared).max(0) as u64),
                size_of(i, "Containers")
            );
        }
    }
    println!("Images space usage:\n");
    print!("{}", super::table::tabwrite(&text));
    let mut ctext =
        String::from("CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n");
    for c in &containers {
        let name = field(c, "Names")
            .as_array()
            .and_then(|a| a.first())
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .trim_start_matches('/')
            .to_string();
        ctext += &format!(
            "{}\t{}\t{}\t0\t{}\t{}\t{}\t{}\n",
            output::short_id(field(c, "Id").as_str().unwrap_or("")),
            field(c, "Image").as_str().unwrap_or(""),
            output::go_quote(&output::ellipsis(
                field(c, "Command").as_str().unwrap_or(""),
                20
            )),
            hs(size_of(c, "SizeRw")),
            output::ago(size_of(c, "Created")),
            field(c, "Status").as_str().unwrap_or(""),
            name
        );
    }
    println!("\nContainers space usage:\n");
    print!("{}", super::table::tabwrite(&ctext));
    println!("\nLocal Volumes space usage:\n");
    print!("{}", super::table::tabwrite("VOLUME NAME\tLINKS\tSIZE\n"));
    println!("\nBuild cache usage: 0B\n");
    print!(
        "{}",
        super::table::tabwrite("CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_images_row_as_docker_20_10_prints_it() {
        // Measured on dockerd 20.10: busybox and an image with one 18-byte
        // layer on it (both with a container), and an unused debian.
        let bb = 1_983_488;
        let images = [
            serde_json::json!({"Size": bb + 18, "SharedSize": bb, "Containers": 1}),
            serde_json::json!({"Size": 159_303_114, "SharedSize": 0, "Containers": 0}),
            serde_json::json!({"Size": bb, "SharedSize": bb, "Containers": 1}),
        ];
        let (total, active, reclaim, pct) = images_summary(&images);
        assert_eq!(active, 2);
        assert_eq!(human_size4(total as u64), "161.3MB");
        assert_eq!(
            format!("{} ({pct}%)", human_size4(reclaim as u64)),
            "161.3MB (99%)"
        );
    }

    #[test]
    fn sizes_like_docker_units() {
        assert_eq!(human_size4(2048), "2.048kB");
        assert_eq!(human_size4(512), "512B");
        assert_eq!(human_size4(10_240), "10.24kB");
        assert_eq!(human_size4(1_500_000), "1.5MB");
    }

    #[test]
    fn context_tar_honours_dockerignore() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("Dockerfile"), "FROM busybox\n").unwrap();
        std::fs::write(d.path().join(".dockerignore"), "secret\nDockerfile\n").unwrap();
        std::fs::write(d.path().join("secret"), "x").unwrap();
        std::fs::write(d.path().join("keep"), "y").unwrap();
        let t = context_tar(d.path(), "Dockerfile", None).unwrap();
        let mut a = tar::Archive::new(&t[..]);
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, [".dockerignore", "Dockerfile", "keep"]);
    }

    #[test]
    fn an_outside_dockerfile_is_named_in_dockerignore() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".dockerignore"), "secret").unwrap();
        std::fs::write(d.path().join("keep"), "y").unwrap();
        let name = outside_dockerfile_name();
        assert!(
            name.starts_with(".dockerfile.") && name.len() == 32,
            "{name}"
        );
        assert_ne!(name, outside_dockerfile_name());
        let t = context_tar(d.path(), &name, Some((&name, b"FROM x\n"))).unwrap();
        let mut a = tar::Archive::new(&t[..]);
        let mut got = Vec::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut e, &mut text).unwrap();
            got.push((e.path().unwrap().display().to_string(), text));
        }
        assert_eq!(got[0].0, "keep");
        assert_eq!(got[1], (name.clone(), "FROM x\n".to_string()));
        assert_eq!(
            got[2],
            (".dockerignore".into(), format!("secret\n{name}\n"))
        );
        // Without one, a new .dockerignore names itself too.
        std::fs::remove_file(d.path().join(".dockerignore")).unwrap();
        let t = context_tar(d.path(), &name, Some((&name, b"FROM x\n"))).unwrap();
        let mut a = tar::Archive::new(&t[..]);
        let mut text = String::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            text.clear();
            std::io::Read::read_to_string(&mut e, &mut text).unwrap();
        }
        assert_eq!(text, format!(".dockerignore\n{name}\n"));
    }
}
