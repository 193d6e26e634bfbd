//! Image verbs: bootstrap, images, rmi, tag, import.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use bollard::query_parameters::{
    CreateImageOptions, ListImagesOptions, RemoveImageOptions, TagImageOptions,
};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::gotemplate::Value;
use super::output;
use super::{client, report, CliError, CliResult};
use crate::bootstrap;
use whale_args::{
    BaseImage, BootstrapArgs, Cli, CommitArgs, ImagesArgs, ImportArgs, RmiArgs, TagArgs,
};

pub async fn images(cli: &Cli, args: &ImagesArgs) -> CliResult {
    let mut filters = HashMap::new();
    if let Some(reference) = &args.reference {
        filters.insert("reference".to_string(), vec![reference.clone()]);
    }
    let client = client(cli).await?;
    let list = client
        .docker
        .list_images(Some(ListImagesOptions {
            all: args.all,
            filters: (!filters.is_empty()).then_some(filters),
            ..Default::default()
        }))
        .await?;
    let rows: Vec<Value> = list
        .iter()
        .flat_map(|img| output::image_rows(img, !args.no_trunc))
        .collect();
    let format = if args.quiet {
        "{{.ID}}".to_string()
    } else {
        args.format.clone().unwrap_or_default()
    };
    let table = if args.digests {
        output::IMAGES_DIGESTS_TABLE
    } else {
        output::IMAGES_TABLE
    };
    let text = output::render_list(
        &format,
        table,
        &output::images_header(),
        &rows,
        output::INSPECT_WORDS,
    )?;
    print!("{text}");
    Ok(())
}

pub async fn rmi(cli: &Cli, args: &RmiArgs) -> CliResult {
    let client = client(cli).await?;
    let mut failed = false;
    for name in &args.images {
        let result = client
            .docker
            .remove_image(
                name,
                Some(RemoveImageOptions {
                    force: args.force,
                    noprune: false,
                    platforms: None,
                }),
                None,
            )
            .await;
        match result {
            Ok(items) => {
                for item in items {
                    if let Some(u) = item.untagged {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = item.deleted {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(err) => {
                failed = true;
                report(&err.into());
            }
        }
    }
    if failed {
        Err(CliError::Exit(1))
    } else {
        Ok(())
    }
}

pub async fn tag(cli: &Cli, args: &TagArgs) -> CliResult {
    let (repo, tag) = output::split_reference(&args.target);
    if repo.is_empty() {
        return Err(CliError::Usage(format!(
            "invalid reference format: {:?} (use NAME[:TAG])",
            args.target
        )));
    }
    let client = client(cli).await?;
    client
        .docker
        .tag_image(
            &args.source,
            Some(TagImageOptions {
                repo: Some(repo),
                tag: Some(if tag.is_empty() { "latest".into() } else { tag }),
            }),
        )
        .await?;
    Ok(())
}

/// `docker commit`: prints the new image's id, as docker does.
pub async fn commit(cli: &Cli, args: &CommitArgs) -> CliResult {
    let (repo, tag) = match &args.reference {
        Some(r) => {
            let (repo, tag) = output::split_reference(r);
            if repo.is_empty() {
                return Err(CliError::Usage(format!(
                    "invalid reference format: {r:?} (use NAME[:TAG])"
                )));
            }
            (
                Some(repo),
                Some(if tag.is_empty() { "latest".into() } else { tag }),
            )
        }
        None => (None, None),
    };
    let client = client(cli).await?;
    let id = client
        .docker
        .commit_container(
            bollard::query_parameters::CommitContainerOptions {
                container: Some(args.container.clone()),
                repo,
                tag,
                comment: args.message.clone(),
                author: args.author.clone(),
                pause: args.pause,
                changes: (!args.change.is_empty()).then(|| args.change.join("\n")),
            },
            bollard::models::ContainerConfig::default(),
        )
        .await?;
    println!("{}", id.id);
    Ok(())
}

/// A progress bar on stderr (drawn only on a terminal, and not with NO_COLOR
/// as a hint that the output is read by a program).
fn progress(len: Option<u64>, message: &str) -> ProgressBar {
    let bar = match len {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if std::env::var_os("NO_COLOR").is_some() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_message(message.to_string());
    bar
}

/// Stream a reader to the daemon as a request body, feeding `bar`.
/// A blocking reader as a request body stream, read on its own thread;
/// `on_read` sees each chunk's size (a progress bar, or nothing).
pub(crate) fn reader_stream(
    mut reader: impl Read + Send + 'static,
    mut on_read: impl FnMut(usize) + Send + 'static,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    on_read(n);
                    if tx
                        .blocking_send(Ok(bytes::Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// POST /images/create?fromSrc=- with `body`; returns the image id the daemon reports.
async fn upload(
    cli: &Cli,
    reader: impl Read + Send + 'static,
    bar: ProgressBar,
    reference: Option<&str>,
    changes: Vec<String>,
    message: Option<String>,
) -> CliResult<String> {
    let (repo, tag) = match reference {
        Some(r) => {
            let (repo, tag) = output::split_reference(r);
            (
                Some(repo),
                Some(if tag.is_empty() {
                    "latest".to_string()
                } else {
                    tag
                }),
            )
        }
        None => (None, None),
    };
    let client = client(cli).await?;
    let mut stream = client.docker.create_image(
        Some(CreateImageOptions {
            from_src: Some("-".into()),
            repo,
            tag,
            message,
            changes,
            ..Default::default()
        }),
        Some(bollard::body_try_stream(reader_stream(reader, move |n| {
            bar.inc(n as u64)
        }))),
        None,
    );
    let mut last = String::new();
    while let Some(info) = stream.next().await {
        let info = info?;
        if let Some(status) = info.status {
            last = status;
        }
    }
    Ok(last)
}

pub async fn import(cli: &Cli, args: &ImportArgs) -> CliResult {
    let (reader, len): (Box<dyn Read + Send>, Option<u64>) = if args.file == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let path = Path::new(&args.file);
        let file = std::fs::File::open(path).map_err(|e| {
            CliError::Other(format!(
                "cannot open {}: {e} (give a rootfs tar file, or - for stdin)",
                path.display()
            ))
        })?;
        let len = file.metadata().ok().map(|m| m.len());
        (Box::new(file), len)
    };
    let bar = progress(len, "Importing");
    let id = upload(
        cli,
        reader,
        bar.clone(),
        args.reference.as_deref(),
        args.change.clone(),
        args.message.clone(),
    )
    .await;
    bar.finish_and_clear();
    println!("{}", id?);
    Ok(())
}

/// What `whale bootstrap` makes and how it is configured.
fn room_kind(kind: BaseImage) -> bootstrap::BaseImage {
    match kind {
        BaseImage::Busybox => bootstrap::BaseImage::Busybox,
        BaseImage::Debian => bootstrap::BaseImage::Debian,
    }
}

/// The suite `whale bootstrap debian` makes (the course's `debian:bookworm`).
const DEBIAN_SUITE: &str = "bookworm";

pub async fn bootstrap(cli: &Cli, args: &BootstrapArgs) -> CliResult {
    let reference = bootstrap::default_reference(room_kind(args.image), DEBIAN_SUITE);
    let changes = bootstrap::changes_for(room_kind(args.image));
    let dir = tempfile_dir()?;
    let tar_path = dir.join("rootfs.tar");
    let kind = args.image;
    let spinner = progress(None, &format!("Building the {reference} root filesystem"));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let built = {
        let tar_path = tar_path.clone();
        let spinner = spinner.clone();
        tokio::task::spawn_blocking(move || rootfs_tar(kind, &tar_path, &spinner))
            .await
            .map_err(|e| CliError::Other(format!("building the root filesystem: {e}")))?
    };
    spinner.finish_and_clear();
    let result = async {
        built?;
        let file = std::fs::File::open(&tar_path)
            .map_err(|e| CliError::Other(format!("cannot read {}: {e}", tar_path.display())))?;
        let len = file.metadata().ok().map(|m| m.len());
        let bar = progress(len, &format!("Importing {reference}"));
        let id = upload(
            cli,
            file,
            bar.clone(),
            Some(reference.as_str()),
            changes,
            Some(format!("whale bootstrap {reference}")),
        )
        .await;
        bar.finish_and_clear();
        let id = id?;
        println!("{id}");
        eprintln!("{reference} is ready: whale run --rm {reference} echo hello");
        Ok(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempfile_dir() -> CliResult<PathBuf> {
    let parent = std::env::temp_dir();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = parent.join(format!("whale-bootstrap-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir)
        .map_err(|e| CliError::Other(format!("cannot create a temp dir {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Write the base image's rootfs tar to `out` with the image room's
/// bootstrap, installing Debian's busybox-static (or mmdebstrap) first when
/// it is missing and apt can fetch it.
fn rootfs_tar(kind: BaseImage, out: &Path, spinner: &ProgressBar) -> CliResult {
    let err = |e: bootstrap::BootstrapError| CliError::Other(e.to_string());
    match kind {
        BaseImage::Busybox => {
            if let Err(bootstrap::BootstrapError::BusyboxMissing) = bootstrap::find_static_busybox()
            {
                spinner.set_message("Installing busybox-static with apt-get");
                bootstrap::try_install_busybox_static(|line| spinner.set_message(line.to_string()))
                    .map_err(err)?;
            }
            let file = std::fs::File::create(out)
                .map_err(|e| CliError::Other(format!("cannot create {}: {e}", out.display())))?;
            let mut writer = std::io::BufWriter::new(file);
            bootstrap::busybox_rootfs_tar(&mut writer).map_err(err)?;
            std::io::Write::flush(&mut writer)
                .map_err(|e| CliError::Other(format!("cannot write {}: {e}", out.display())))
        }
        BaseImage::Debian => {
            let make = || {
                bootstrap::debian_rootfs_tar(DEBIAN_SUITE, out, |line| {
                    spinner.set_message(format!("mmdebstrap: {line}"))
                })
            };
            match make() {
                Err(bootstrap::BootstrapError::MmdebstrapMissing) => {
                    spinner.set_message("Installing mmdebstrap with apt-get");
                    bootstrap::try_install_mmdebstrap(|line| spinner.set_message(line.to_string()))
                        .map_err(err)?;
                    make().map_err(err)
                }
                other => other.map_err(err),
            }
        }
    }
}
