//! A first pass over a tar from outside, before anything in it is written:
//! it reads the headers as they are (the tar crate's raw mode), so the
//! records that the crate would otherwise read whole into memory (PAX
//! extended headers, GNU long names) are bounded first, and refuses what
//! whale never unpacks:
//!
//! - GNU sparse entries (type `S`): unpacked naively they become fully
//!   allocated files many times the archive's size. Refused as Docker does
//!   ("unhandled tar header type 83"). PAX sparse records (`GNU.sparse.*`)
//!   likewise.
//! - entry types outside POSIX tar (`0`-`7`, `x`, `g`, `L`, `K`);
//! - a PAX `size` record that disagrees with its header's size field (two
//!   readers could then see two different archives);
//! - more entries or more file bytes than the caller's limits.
//!
//! The caller's visitor sees each real entry (name and link with long names
//! and PAX paths applied) and may read its data.

use super::limits::{exceeded, MAX_TAR_META_BYTES};
use super::ImageError;
use std::io::{self, Read};

/// The bounds of one scan, with the names used in refusals.
pub struct ScanLimits {
    /// What is scanned, for messages: "the layer tar", "the image archive".
    pub what: &'static str,
    pub entries: u64,
    pub entries_var: &'static str,
    /// Sum of the sizes of file entries.
    pub bytes: u64,
    pub bytes_var: &'static str,
}

/// One entry as the scan saw it.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// The type flag byte (`b'0'`, `b'5'`, ...).
    pub kind: u8,
    pub path: Vec<u8>,
    pub link: Option<Vec<u8>>,
    pub size: u64,
}

impl Scanned {
    pub fn is_file(&self) -> bool {
        matches!(self.kind, b'0' | b'\0' | b'7')
    }
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }
}

fn bad(msg: String) -> ImageError {
    ImageError::BadInput(msg)
}

fn pax_records(data: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    tar::PaxExtensions::new(data)
        .filter_map(|r| r.ok())
        .map(|r| (r.key_bytes().to_vec(), r.value_bytes().to_vec()))
        .collect()
}

fn strip_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// Scan `r` (see the module doc); the number of entries.
pub fn scan<R: Read>(
    r: R,
    lim: &ScanLimits,
    mut visit: impl FnMut(&Scanned, &mut dyn Read) -> Result<(), ImageError>,
) -> Result<u64, ImageError> {
    let what = lim.what;
    let mut archive = tar::Archive::new(r);
    let mut last = String::from("<start>");
    let tar_err = |after: &str, e: io::Error| {
        bad(format!(
            "{what} is unreadable (after entry {after:?}): {e}; is it a complete tar archive?"
        ))
    };
    let entries = archive.entries().map_err(|e| tar_err(&last, e))?.raw(true);
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| tar_err(&last, e))?;
        let header = entry.header().clone();
        let kind = header.entry_type().as_byte();
        let size = header.entry_size().map_err(|e| tar_err(&last, e))?;
        match kind {
            b'x' | b'g' | b'L' | b'K' => {
                if size > MAX_TAR_META_BYTES {
                    return Err(bad(format!(
                        "{what} has a {} record of {size} bytes after entry {last:?}; whale reads at most {MAX_TAR_META_BYTES}",
                        if matches!(kind, b'x' | b'g') { "PAX header" } else { "GNU long name" }
                    )));
                }
                // Records count toward the byte limit too: highly
                // compressible, they could otherwise stand for any size.
                bytes = bytes.saturating_add(size);
                if bytes > lim.bytes {
                    return Err(exceeded(
                        &format!("the size of {what}'s files and records"),
                        lim.bytes,
                        lim.bytes_var,
                    ));
                }
                let mut data = Vec::with_capacity(size as usize);
                (&mut entry)
                    .take(size)
                    .read_to_end(&mut data)
                    .map_err(|e| tar_err(&last, e))?;
                match kind {
                    b'L' => long_name = Some(strip_nul(data)),
                    b'K' => long_link = Some(strip_nul(data)),
                    _ => {
                        let recs = pax_records(&data);
                        for (k, _) in &recs {
                            if k.starts_with(b"GNU.sparse") {
                                return Err(bad(format!(
                                    "{what} has a sparse file (PAX GNU.sparse records) after entry {last:?}: whale does not unpack sparse files"
                                )));
                            }
                            if kind == b'g' && k.as_slice() == b"size" {
                                return Err(bad(format!(
                                    "{what} has a global PAX size record: refused"
                                )));
                            }
                        }
                        if kind == b'x' {
                            pax = recs;
                        }
                    }
                }
                continue;
            }
            b'S' => {
                return Err(bad(format!(
                    "{what}: unhandled tar header type 83 (a GNU sparse file, after entry {last:?}): whale does not unpack sparse files"
                )))
            }
            b'0' | b'\0' | b'1'..=b'7' => {}
            other => {
                return Err(bad(format!(
                    "{what}: unhandled tar header type {other} (after entry {last:?})"
                )))
            }
        }
        let pax_get = |key: &[u8]| {
            pax.iter()
                .find(|(k, _)| k.as_slice() == key)
                .map(|(_, v)| v.clone())
        };
        if let Some(v) = pax_get(b"size") {
            let ok = std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                == Some(size);
            if !ok {
                return Err(bad(format!(
                    "{what}: the PAX size record of the entry after {last:?} disagrees with its header (refused: readers would disagree on the archive)"
                )));
            }
        }
        let path = long_name
            .take()
            .or_else(|| pax_get(b"path"))
            .unwrap_or_else(|| header.path_bytes().into_owned());
        let link = long_link
            .take()
            .or_else(|| pax_get(b"linkpath"))
            .or_else(|| header.link_name_bytes().map(|l| l.into_owned()));
        pax.clear();
        let scanned = Scanned {
            kind,
            path,
            link,
            size,
        };
        last = scanned.name();
        count += 1;
        if count > lim.entries {
            return Err(exceeded(
                &format!("{what}'s entry count"),
                lim.entries,
                lim.entries_var,
            ));
        }
        if scanned.is_file() {
            bytes = bytes.saturating_add(size);
            if bytes > lim.bytes {
                return Err(exceeded(
                    &format!("the size of {what}'s files"),
                    lim.bytes,
                    lim.bytes_var,
                ));
            }
        }
        visit(&scanned, &mut entry)?;
    }
    if long_name.is_some() || long_link.is_some() || !pax.is_empty() {
        return Err(bad(format!(
            "{what} ends with a long name or PAX record that describes no entry"
        )));
    }
    Ok(count)
}
