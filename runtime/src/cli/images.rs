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
use super::opts::{BaseImage, BootstrapArgs, Cli, ImagesArgs, ImportArgs, RmiArgs, TagArgs};
use super::output;
use super::{client, report, CliError, CliResult};

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
    let text = output::render_list(
        &format,
        output::IMAGES_TABLE,
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
fn reader_stream(
    mut reader: impl Read + Send + 'static,
    bar: ProgressBar,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    bar.inc(n as u64);
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
        Some(bollard::body_try_stream(reader_stream(reader, bar))),
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
struct Base {
    reference: &'static str,
    cmd: &'static str,
}

fn base(kind: BaseImage) -> Base {
    match kind {
        BaseImage::Busybox => Base {
            reference: "busybox:latest",
            cmd: r#"CMD ["sh"]"#,
        },
        BaseImage::Debian => Base {
            reference: "debian:bookworm",
            cmd: r#"CMD ["bash"]"#,
        },
    }
}

pub async fn bootstrap(cli: &Cli, args: &BootstrapArgs) -> CliResult {
    let base = base(args.image);
    let dir = tempfile_dir()?;
    let tar_path = dir.join("rootfs.tar");
    let kind = args.image;
    let spinner = progress(
        None,
        &format!("Building the {} root filesystem", base.reference),
    );
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let built = {
        let tar_path = tar_path.clone();
        tokio::task::spawn_blocking(move || rootfs_tar(kind, &tar_path))
            .await
            .map_err(|e| CliError::Other(format!("building the root filesystem: {e}")))?
    };
    spinner.finish_and_clear();
    let result = async {
        built?;
        let file = std::fs::File::open(&tar_path)
            .map_err(|e| CliError::Other(format!("cannot read {}: {e}", tar_path.display())))?;
        let len = file.metadata().ok().map(|m| m.len());
        let bar = progress(len, &format!("Importing {}", base.reference));
        let id = upload(
            cli,
            file,
            bar.clone(),
            Some(base.reference),
            vec![base.cmd.to_string()],
            Some(format!("whale bootstrap {}", base.reference)),
        )
        .await;
        bar.finish_and_clear();
        let id = id?;
        println!("{id}");
        eprintln!(
            "{} is ready: whale run --rm {} echo hello",
            base.reference, base.reference
        );
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

/// Write the base image's rootfs tar to `out`.
///
/// MERGE: the image room provides `crate::image::bootstrap`
/// (`busybox_rootfs_tar(&mut impl Write)`, `debian_rootfs_tar(suite, path,
/// progress)`); this is the one place to call it from. Until then this
/// builds the same trees with the host's busybox and mmdebstrap.
fn rootfs_tar(kind: BaseImage, out: &Path) -> CliResult {
    match kind {
        BaseImage::Busybox => {
            let mut file = std::fs::File::create(out)
                .map_err(|e| CliError::Other(format!("cannot create {}: {e}", out.display())))?;
            busybox_tar(&mut file)
        }
        BaseImage::Debian => debian_tar(out),
    }
}

fn find_busybox() -> CliResult<PathBuf> {
    for candidate in ["/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox"] {
        let p = Path::new(candidate);
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
    }
    Err(CliError::Other(
        "no busybox on this machine: install a static one with 'apt-get install busybox-static' and run 'whale bootstrap busybox' again".into(),
    ))
}

fn busybox_tar(out: &mut impl std::io::Write) -> CliResult {
    let busybox = find_busybox()?;
    let bytes = std::fs::read(&busybox)
        .map_err(|e| CliError::Other(format!("cannot read {}: {e}", busybox.display())))?;
    if has_interpreter(&bytes) {
        return Err(CliError::Other(format!(
            "{} is dynamically linked and would not run in an empty image: install 'busybox-static' (apt-get install busybox-static)",
            busybox.display()
        )));
    }
    let listed = std::process::Command::new(&busybox)
        .arg("--list-full")
        .output()
        .map_err(|e| {
            CliError::Other(format!("cannot run {} --list-full: {e}", busybox.display()))
        })?;
    let applets = String::from_utf8_lossy(&listed.stdout).to_string();
    let io = |e: std::io::Error| CliError::Other(format!("writing the busybox rootfs tar: {e}"));
    let mut tar = tar::Builder::new(out);
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let dir = |tar: &mut tar::Builder<_>, path: &str, mode: u32| -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        h.set_mtime(now);
        tar.append_data(&mut h, path, std::io::empty())
    };
    for (d, mode) in [
        ("bin", 0o755),
        ("sbin", 0o755),
        ("usr", 0o755),
        ("usr/bin", 0o755),
        ("usr/sbin", 0o755),
        ("etc", 0o755),
        ("root", 0o700),
        ("home", 0o755),
        ("tmp", 0o1777),
        ("var", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
    ] {
        dir(&mut tar, d, mode).map_err(io)?;
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o755);
    h.set_size(bytes.len() as u64);
    h.set_mtime(now);
    tar.append_data(&mut h, "bin/busybox", bytes.as_slice())
        .map_err(io)?;
    let files: [(&str, &str); 3] = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnobody:x:65534:\n"),
        (
            "etc/hosts",
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        ),
    ];
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(content.len() as u64);
        h.set_mtime(now);
        tar.append_data(&mut h, path, content.as_bytes())
            .map_err(io)?;
    }
    for applet in applets.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let rel = applet.trim_start_matches('/');
        if rel == "bin/busybox"
            || !["bin/", "sbin/", "usr/bin/", "usr/sbin/"]
                .iter()
                .any(|p| rel.starts_with(p))
        {
            continue;
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_mtime(now);
        tar.append_link(&mut h, rel, "/bin/busybox").map_err(io)?;
    }
    tar.finish().map_err(io)?;
    Ok(())
}

/// Does this ELF file ask for a dynamic loader (a PT_INTERP header)?
fn has_interpreter(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 || elf[5] != 1 {
        // Not a 64-bit little-endian ELF: let the container say what is wrong.
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let mut off = [0u8; 8];
    off.copy_from_slice(&elf[0x20..0x28]);
    let phoff = u64::from_le_bytes(off) as usize;
    let (entsize, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let at = phoff.saturating_add(i.saturating_mul(entsize));
        elf.get(at..at + 4)
            .map(|t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) == PT_INTERP)
            .unwrap_or(false)
    })
}

fn debian_tar(out: &Path) -> CliResult {
    let status = std::process::Command::new("mmdebstrap")
        .args(["--variant=minbase", "--mode=root", "--format=tar", "--quiet", "bookworm"])
        .arg(out)
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| {
            CliError::Other(format!(
                "cannot run mmdebstrap ({e}): install it with 'apt-get install mmdebstrap' and run 'whale bootstrap debian' again"
            ))
        })?;
    if !status.success() {
        return Err(CliError::Other(format!(
            "mmdebstrap failed ({status}) making debian:bookworm from this machine's apt sources; its messages are above"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_tar_has_a_shell() {
        if find_busybox().is_err() {
            eprintln!("skipped: no busybox on this machine");
            return;
        }
        let mut buf = Vec::new();
        match busybox_tar(&mut buf) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("skipped: {e}");
                return;
            }
        }
        let mut archive = tar::Archive::new(buf.as_slice());
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            names.push(entry.path().unwrap().to_string_lossy().to_string());
        }
        assert!(names.contains(&"bin/busybox".to_string()));
        assert!(names.contains(&"bin/sh".to_string()), "{names:?}");
        assert!(names.contains(&"tmp".to_string()));
    }

    #[test]
    fn dynamic_binaries_are_told_apart() {
        let sh = std::fs::read("/bin/sh").unwrap();
        assert!(has_interpreter(&sh), "/bin/sh is dynamic on Debian");
        if let Ok(bb) = std::fs::read("/bin/busybox") {
            let out = std::process::Command::new("file")
                .arg("-L")
                .arg("/bin/busybox")
                .output();
            if let Ok(out) = out {
                let text = String::from_utf8_lossy(&out.stdout);
                assert_eq!(has_interpreter(&bb), text.contains("dynamically"), "{text}");
            }
        }
        assert!(!has_interpreter(b"#!/bin/sh\n"));
    }

    #[test]
    fn bases_name_their_cmd() {
        assert_eq!(base(BaseImage::Busybox).reference, "busybox:latest");
        assert_eq!(base(BaseImage::Busybox).cmd, r#"CMD ["sh"]"#);
        assert_eq!(base(BaseImage::Debian).reference, "debian:bookworm");
        assert_eq!(base(BaseImage::Debian).cmd, r#"CMD ["bash"]"#);
    }
}
