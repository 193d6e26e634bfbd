//! docker's list formatting: the `ps` and `images` contexts (the fields a
//! `--format` template sees), `table`/`json`/custom formats, and tables.

use bollard::models::{ContainerSummary, ImageSummary};

use super::gotemplate::{Template, Value};
use super::table::tabwrite;
use super::{CliError, CliResult};

pub const PS_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
pub const IMAGES_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/// `docker images --digests`.
pub const IMAGES_DIGESTS_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/// Parse a template the way docker's inspect does.
pub fn parse_template(text: &str) -> CliResult<Template> {
    Template::parse("", text)
        .map_err(|e| CliError::Template(format!("template parsing error: {e}")))
}

/// How docker words template errors for one verb.
#[derive(Debug, Clone, Copy)]
pub struct ErrorWords {
    pub parse: &'static str,
    pub exec: &'static str,
}

/// `docker ps`.
pub const PS_WORDS: ErrorWords = ErrorWords {
    parse: "failed to parse template: ",
    exec: "failed to execute template: ",
};

/// `docker images`, `docker inspect`.
pub const INSPECT_WORDS: ErrorWords = ErrorWords {
    parse: "template parsing error: ",
    exec: "template parsing error: ",
};

/// Render `rows` with a docker `--format` (`table ...`, `json`, or a template).
/// `default_table` is used for "" and a bare "table".
pub fn render_list(
    format: &str,
    default_table: &str,
    header: &Value,
    rows: &[Value],
    words: ErrorWords,
) -> CliResult<String> {
    let mut format = if format.is_empty() {
        default_table
    } else {
        format
    };
    if format.trim() == "table" {
        format = default_table;
    }
    let (is_table, body) = if format == "json" {
        (false, "{{json .}}".to_string())
    } else if let Some(rest) = format.strip_prefix("table") {
        (true, rest.to_string())
    } else {
        (false, format.to_string())
    };
    // docker: trim spaces, then turn the two-character escapes into characters.
    let body = body
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    let tmpl = Template::parse("", &body)
        .map_err(|e| CliError::Template(format!("{}{e}", words.parse)))?;
    let exec_err =
        |e: super::gotemplate::TemplateError| CliError::Template(format!("{}{e}", words.exec));
    let mut out = String::new();
    if is_table {
        out.push_str(&tmpl.execute_header(header).map_err(exec_err)?);
        out.push('\n');
    }
    for row in rows {
        out.push_str(&tmpl.execute(row).map_err(exec_err)?);
        out.push('\n');
    }
    Ok(if is_table { tabwrite(&out) } else { out })
}

/// `stringid.TruncateID`: drop the algorithm, keep 12 characters.
pub fn short_id(id: &str) -> String {
    let id = id.split_once(':').map(|(_, h)| h).unwrap_or(id);
    id.chars().take(12).collect()
}

/// docker's `Ellipsis`: at most `max` characters, the last one `…`.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Go's `strconv.Quote` (close enough: JSON escaping of the same characters).
pub fn go_quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Go's `time.Time.String()` for a Unix time, in UTC.
pub fn go_time(unix: i64) -> String {
    match chrono::DateTime::from_timestamp(unix, 0) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string(),
        None => unix.to_string(),
    }
}

pub fn ago(unix: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    format!(
        "{} ago",
        whale_formats::humanize::human_duration((now - unix) as f64)
    )
}

/// A header row: column key to its title.
pub(super) fn map_of(pairs: &[(&str, &str)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::str(*v)))
            .collect(),
    )
}

pub fn ps_header() -> Value {
    map_of(&[
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("Status", "STATUS"),
        ("Size", "SIZE"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
        ("Label", "LABEL"),
        ("Mounts", "MOUNTS"),
        ("Networks", "NETWORKS"),
        ("State", "STATE"),
        ("LocalVolumes", "LOCAL VOLUMES"),
    ])
}

fn sorted_labels(
    labels: Option<&std::collections::HashMap<String, String>>,
) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = labels
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    pairs.sort();
    pairs
}

/// docker's `ContainerContext` for one container.
pub fn ps_row(c: &ContainerSummary, trunc: bool) -> Value {
    let id = c.id.clone().unwrap_or_default();
    let id = if trunc { short_id(&id) } else { id };
    let mut image = c.image.clone().unwrap_or_default();
    if image.is_empty() {
        image = "<no image>".into();
    } else if trunc && image.starts_with("sha256:") {
        image = short_id(&image);
    }
    let command = c.command.clone().unwrap_or_default();
    let command = go_quote(&if trunc {
        ellipsis(&command, 20)
    } else {
        command
    });
    let created = c.created.unwrap_or(0);
    let names: Vec<String> = c
        .names
        .iter()
        .flatten()
        .map(|n| n.trim_start_matches('/').to_string())
        // Legacy links look like /other/name; docker shows them only untruncated.
        .filter(|n| !trunc || !n.contains('/'))
        .collect();
    let labels = sorted_labels(c.labels.as_ref());
    let labels_text = labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let size_rw = c.size_rw.unwrap_or(0).max(0) as u64;
    let size_root = c.size_root_fs.unwrap_or(0).max(0) as u64;
    let size = if size_root > 0 {
        format!(
            "{} (virtual {})",
            whale_formats::humanize::human_size(size_rw),
            whale_formats::humanize::human_size(size_root)
        )
    } else {
        whale_formats::humanize::human_size(size_rw)
    };
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .flatten()
        .map(|m| m.name.clone().or(m.source.clone()).unwrap_or_default())
        .collect();
    let mut networks: Vec<String> = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| n.keys().cloned().collect())
        .unwrap_or_default();
    networks.sort();
    let state = c.state.map(|s| s.to_string()).unwrap_or_default();
    let label_map = Value::Map(
        labels
            .into_iter()
            .map(|(k, v)| (k, Value::Str(v)))
            .collect(),
    );
    Value::Struct(
        "*formatter.ContainerContext".into(),
        vec![
            ("ID".into(), Value::Str(id)),
            ("Image".into(), Value::Str(image)),
            ("Command".into(), Value::Str(command)),
            ("CreatedAt".into(), Value::Str(go_time(created))),
            ("RunningFor".into(), Value::Str(ago(created))),
            (
                "Ports".into(),
                Value::Str(crate::ports::displayable(
                    c.ports.as_deref().unwrap_or_default(),
                )),
            ),
            (
                "Status".into(),
                Value::Str(c.status.clone().unwrap_or_default()),
            ),
            ("Size".into(), Value::Str(size)),
            ("Names".into(), Value::Str(names.join(","))),
            ("Labels".into(), Value::Str(labels_text)),
            ("Label".into(), label_map),
            ("Mounts".into(), Value::Str(mounts.join(","))),
            ("Networks".into(), Value::Str(networks.join(","))),
            ("State".into(), Value::Str(state)),
            ("LocalVolumes".into(), Value::Str("0".into())),
        ],
    )
}

pub fn images_header() -> Value {
    map_of(&[
        ("ID", "IMAGE ID"),
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Digest", "DIGEST"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("Size", "SIZE"),
        ("Containers", "CONTAINERS"),
        ("VirtualSize", "VIRTUAL SIZE"),
        ("SharedSize", "SHARED SIZE"),
        ("UniqueSize", "UNIQUE SIZE"),
    ])
}

/// Split `name:tag` at the tag's colon (not a registry port's).
pub fn split_reference(reference: &str) -> (String, String) {
    let slash = reference.rfind('/').map(|i| i + 1).unwrap_or(0);
    match reference[slash..].rfind(':') {
        Some(i) => (
            reference[..slash + i].to_string(),
            reference[slash + i + 1..].to_string(),
        ),
        None => (reference.to_string(), String::new()),
    }
}

/// docker's `ImageContext` rows: one per repo:tag (or one `<none>` row).
pub fn image_rows(img: &ImageSummary, trunc: bool) -> Vec<Value> {
    let id = if trunc {
        short_id(&img.id)
    } else {
        img.id.clone()
    };
    let mut tags: Vec<(String, String)> = img
        .repo_tags
        .iter()
        .filter(|t| t.as_str() != "<none>:<none>")
        .map(|t| split_reference(t))
        .collect();
    // An image pulled by digest only: one row per digest, tag <none>.
    if tags.is_empty() {
        for d in &img.repo_digests {
            if let Some((repo, _)) = d.split_once('@') {
                tags.push((repo.to_string(), "<none>".into()));
            }
        }
    }
    if tags.is_empty() {
        tags.push(("<none>".into(), "<none>".into()));
    }
    // A row's digest is the RepoDigest of its repository (docker's rule).
    let digest_of = |repo: &str| {
        img.repo_digests
            .iter()
            .find_map(|d| d.strip_prefix(&format!("{repo}@")).map(str::to_string))
            .unwrap_or_else(|| "<none>".to_string())
    };
    let size = whale_formats::humanize::human_size(img.size.max(0) as u64);
    let containers = if img.containers < 0 {
        "N/A".to_string()
    } else {
        img.containers.to_string()
    };
    let shared = if img.shared_size < 0 {
        "N/A".to_string()
    } else {
        whale_formats::humanize::human_size(img.shared_size as u64)
    };
    let unique = if img.shared_size < 0 {
        "N/A".to_string()
    } else {
        whale_formats::humanize::human_size((img.size - img.shared_size).max(0) as u64)
    };
    tags.into_iter()
        .map(|(repo, tag)| {
            let digest = digest_of(&repo);
            Value::Struct(
                "*formatter.imageContext".into(),
                vec![
                    ("ID".into(), Value::Str(id.clone())),
                    ("Repository".into(), Value::Str(repo)),
                    ("Tag".into(), Value::Str(tag)),
                    ("Digest".into(), Value::Str(digest)),
                    ("CreatedSince".into(), Value::Str(ago(img.created))),
                    ("CreatedAt".into(), Value::Str(go_time(img.created))),
                    ("Size".into(), Value::Str(size.clone())),
                    ("Containers".into(), Value::Str(containers.clone())),
                    ("VirtualSize".into(), Value::Str(size.clone())),
                    ("SharedSize".into(), Value::Str(shared.clone())),
                    ("UniqueSize".into(), Value::Str(unique.clone())),
                ],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(command: &str) -> ContainerSummary {
        ContainerSummary {
            id: Some("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into()),
            names: Some(vec!["/sleeper".into()]),
            image: Some("busybox".into()),
            command: Some(command.into()),
            created: Some(chrono::Utc::now().timestamp() - 5),
            status: Some("Up 4 seconds".into()),
            ..Default::default()
        }
    }

    #[test]
    fn ps_table_like_docker() {
        let rows = vec![ps_row(&container("sleep 1000"), true)];
        let out = render_list("", PS_TABLE, &ps_header(), &rows, PS_WORDS).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "CONTAINER ID   IMAGE     COMMAND        CREATED         STATUS         PORTS     NAMES"
        );
        assert_eq!(
            lines[1],
            "0123456789ab   busybox   \"sleep 1000\"   5 seconds ago   Up 4 seconds             sleeper"
        );
    }

    #[test]
    fn long_commands_are_cut_with_an_ellipsis() {
        let row = ps_row(&container("sh -c 'x=a; while true; do x=$x$x; done'"), true);
        let out = render_list("{{.Command}}", PS_TABLE, &ps_header(), &[row], PS_WORDS).unwrap();
        assert_eq!(out, "\"sh -c 'x=a; while t…\"\n");
        let row = ps_row(
            &container("sh -c 'x=a; while true; do x=$x$x; done'"),
            false,
        );
        let out = render_list(
            "{{.Command}} {{.ID}}",
            PS_TABLE,
            &ps_header(),
            &[row],
            PS_WORDS,
        )
        .unwrap();
        assert!(
            out.starts_with("\"sh -c 'x=a; while true; do x=$x$x; done'\" 0123456789abcdef0123")
        );
    }

    #[test]
    fn custom_table_and_escapes() {
        let rows = vec![ps_row(&container("true"), true)];
        let out = render_list(
            "table {{.ID}}\\t{{.Names}}",
            PS_TABLE,
            &ps_header(),
            &rows,
            PS_WORDS,
        )
        .unwrap();
        assert_eq!(out, "CONTAINER ID   NAMES\n0123456789ab   sleeper\n");
        let out = render_list(
            "{{.Names}}\\t{{.Status}}",
            PS_TABLE,
            &ps_header(),
            &rows,
            PS_WORDS,
        )
        .unwrap();
        assert_eq!(out, "sleeper\tUp 4 seconds\n");
        let out = render_list("table", PS_TABLE, &ps_header(), &[], PS_WORDS).unwrap();
        assert!(out.starts_with("CONTAINER ID   IMAGE"));
    }

    #[test]
    fn json_format_is_one_object_per_line() {
        let rows = vec![ps_row(&container("true"), true)];
        let out = render_list("json", PS_TABLE, &ps_header(), &rows, PS_WORDS).unwrap();
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["Names"], "sleeper");
        assert_eq!(v["ID"], "0123456789ab");
        assert!(
            out.starts_with("{\"Command\":\"\\\"true\\\"\",\"CreatedAt\":"),
            "sorted like docker: {out}"
        );
        assert!(!out.contains("\"Label\""), "{out}");
        let img = ImageSummary {
            id: "sha256:ab".into(),
            ..Default::default()
        };
        let out = render_list(
            "json",
            IMAGES_TABLE,
            &images_header(),
            &image_rows(&img, true),
            INSPECT_WORDS,
        )
        .unwrap();
        assert!(out.contains("\"Digest\":\"\\u003cnone\\u003e\""), "{out}");
    }

    #[test]
    fn template_errors_are_reported_like_docker() {
        let rows = vec![ps_row(&container("true"), true)];
        let err = render_list("{{.Nope}}", PS_TABLE, &ps_header(), &rows, PS_WORDS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to execute template: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext"
        );
        let err = render_list("{{.Names", PS_TABLE, &ps_header(), &rows, PS_WORDS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to parse template: template: :1: unclosed action"
        );
    }

    #[test]
    fn images_rows() {
        let img = ImageSummary {
            id: "sha256:25236cdfdc3a38215490b12ff5c9ec456b2d2319cfccddc02e21c147930ec7a2".into(),
            repo_tags: vec!["busybox:latest".into(), "localhost:5000/x:v1".into()],
            created: chrono::Utc::now().timestamp() - 7200,
            size: 1_982_000,
            containers: -1,
            shared_size: -1,
            ..Default::default()
        };
        let rows = image_rows(&img, true);
        let out = render_list("", IMAGES_TABLE, &images_header(), &rows, INSPECT_WORDS).unwrap();
        assert_eq!(
            out,
            "REPOSITORY         TAG       IMAGE ID       CREATED       SIZE\n\
             busybox            latest    25236cdfdc3a   2 hours ago   1.98MB\n\
             localhost:5000/x   v1        25236cdfdc3a   2 hours ago   1.98MB\n"
        );
        let none = ImageSummary {
            repo_tags: vec![],
            ..img
        };
        let rows = image_rows(&none, false);
        let out = render_list(
            "{{.Repository}}:{{.Tag}} {{.ID}}",
            IMAGES_TABLE,
            &images_header(),
            &rows,
            INSPECT_WORDS,
        )
        .unwrap();
        assert!(out.starts_with("<none>:<none> sha256:25236cdf"), "{out}");
    }

    #[test]
    fn references_split_at_the_tag() {
        assert_eq!(split_reference("busybox"), ("busybox".into(), "".into()));
        assert_eq!(split_reference("busybox:1"), ("busybox".into(), "1".into()));
        assert_eq!(
            split_reference("host:5000/a/b"),
            ("host:5000/a/b".into(), "".into())
        );
        assert_eq!(
            split_reference("host:5000/a:t"),
            ("host:5000/a".into(), "t".into())
        );
    }
}
