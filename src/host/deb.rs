//! Read a Debian package (`.deb`) without installing it: its control fields, its maintainer
//! scripts and conffiles, and the listing of its data archive (paths, kinds, modes, owners,
//! link targets, and the content of small files). A dry run uses it to know what the packages
//! an earlier task would install put on the host.
//!
//! A `.deb` is an `ar` archive of `debian-binary`, `control.tar[.xz|.zst]` and
//! `data.tar[.xz|.zst]`; the tars are ustar with GNU long names or pax headers. Every size and
//! offset is checked and the decompressed size is capped: a corrupt or hostile package is an
//! error, never a panic or an unbounded allocation. gzip members (old packages) are refused
//! with an error (no inflate decoder is built in).

use std::io::Read;

use crate::error::{Error, Result};

/// Decompressed size allowed for one tar member (a bomb is an error beyond it).
const MAX_TAR: u64 = 1 << 30;
/// Files up to this size keep their content in the listing.
pub const MAX_CONTENT: u64 = 1 << 20;

/// What a data archive entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    /// A symbolic link to this target.
    Link(String),
    /// A hard link to this (absolute) path of the same package.
    HardLink(String),
    /// Device, fifo or anything else dpkg would create.
    Other,
}

/// One entry of the data archive, with an absolute path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub size: u64,
    /// A regular file's content, when it is at most [`MAX_CONTENT`].
    pub content: Option<Vec<u8>>,
}

/// A package read from its `.deb`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Package {
    /// The `control` file's fields, in order (continuation lines joined with `\n`).
    pub control: Vec<(String, String)>,
    /// Absolute paths of the conffiles.
    pub conffiles: Vec<String>,
    /// The `postinst` script, if any.
    pub postinst: Option<String>,
    pub files: Vec<Entry>,
}

impl Package {
    /// A control field (`Package`, `Version`...).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.control
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::runtime(format!("not a readable .deb: {msg}"))
}

/// Read a whole `.deb`.
pub fn read(deb: &[u8]) -> Result<Package> {
    let members = ar_members(deb)?;
    let find = |prefix: &str| {
        members
            .iter()
            .find(|(n, _)| n.starts_with(prefix))
            .ok_or_else(|| bad(format!("no {prefix} member")))
    };
    let (_, version) = find("debian-binary")?;
    if !version.starts_with(b"2.") {
        return Err(bad("unsupported format version"));
    }
    let (cname, cdata) = find("control.tar")?;
    let control = tar_entries(&decompress(cname, cdata)?)?;
    let (dname, ddata) = find("data.tar")?;
    let files = tar_entries(&decompress(dname, ddata)?)?;
    let text = |name: &str| {
        control
            .iter()
            .find(|e| e.path == format!("/{name}"))
            .and_then(|e| e.content.as_ref())
            .map(|c| String::from_utf8_lossy(c).into_owned())
    };
    let control_text = text("control").ok_or_else(|| bad("no control file"))?;
    Ok(Package {
        control: control_fields(&control_text),
        conffiles: text("conffiles")
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('/'))
            .map(str::to_string)
            .collect(),
        postinst: text("postinst"),
        files,
    })
}

fn control_fields(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// The members of an `ar` archive: (name, data).
fn ar_members(data: &[u8]) -> Result<Vec<(String, &[u8])>> {
    let mut rest = data
        .strip_prefix(b"!<arch>\n")
        .ok_or_else(|| bad("no ar magic"))?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 60 {
            return Err(bad("truncated ar header"));
        }
        let (head, body) = rest.split_at(60);
        if &head[58..60] != b"`\n" {
            return Err(bad("corrupt ar header"));
        }
        let name = String::from_utf8_lossy(&head[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_string();
        let size: usize = std::str::from_utf8(&head[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| bad("corrupt ar member size"))?;
        if size > body.len() {
            return Err(bad(format!("ar member {name} is truncated")));
        }
        out.push((name, &body[..size]));
        let next = (size + (size & 1)).min(body.len());
        rest = &body[next..];
    }
    Ok(out)
}

fn decompress(name: &str, data: &[u8]) -> Result<Vec<u8>> {
    let reader: Box<dyn Read + '_> = match name.rsplit_once('.').map(|(_, e)| e) {
        Some("tar") => Box::new(data),
        Some("xz") => Box::new(liblzma::read::XzDecoder::new(data)),
        Some("zst") => Box::new(
            zstd::stream::read::Decoder::with_buffer(data)
                .map_err(|e| bad(format!("{name}: {e}")))?,
        ),
        _ => return Err(bad(format!("member {name}: unsupported compression"))),
    };
    let mut out = Vec::new();
    reader
        .take(MAX_TAR + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("{name}: {e}")))?;
    if out.len() as u64 > MAX_TAR {
        return Err(bad(format!("{name} is larger than {MAX_TAR} bytes")));
    }
    Ok(out)
}

/// A NUL-terminated header field.
fn field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// An octal number field (or GNU base-256 for large values).
fn number(b: &[u8]) -> Result<u64> {
    if b.first().is_some_and(|c| c & 0x80 != 0) {
        let mut v: u64 = 0;
        for (i, &c) in b.iter().enumerate() {
            let c = if i == 0 { c & 0x7f } else { c };
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(c as u64))
                .ok_or_else(|| bad("tar number overflows"))?;
        }
        return Ok(v);
    }
    let s = field(b);
    let s = s.trim_matches([' ', '\0']);
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| bad(format!("bad tar number {s:?}")))
}

/// An archive path made absolute and normalised (`./usr/bin/x` → `/usr/bin/x`).
fn absolute(p: &str) -> Result<String> {
    let mut parts = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(bad(format!("path {p:?} leaves the root"))),
            c => parts.push(c),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// The entries of a tar archive (paths absolute, `/` itself left out).
fn tar_entries(data: &[u8]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut long_name: Option<String> = None;
    let mut long_link: Option<String> = None;
    while at + 512 <= data.len() {
        let h = &data[at..at + 512];
        if h.iter().all(|&c| c == 0) {
            return Ok(out);
        }
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    c as u64
                }
            })
            .sum();
        if number(&h[148..156])? != sum {
            return Err(bad("tar header checksum mismatch"));
        }
        let size = number(&h[124..136])?;
        let start = at + 512;
        let len = usize::try_from(size).map_err(|_| bad("tar entry too large"))?;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| bad("tar entry is truncated"))?;
        let body = &data[start..end];
        at = start + len.div_ceil(512) * 512;
        let kind = h[156];
        match kind {
            b'L' => {
                long_name = Some(field(body));
                continue;
            }
            b'K' => {
                long_link = Some(field(body));
                continue;
            }
            b'x' => {
                for (k, v) in pax(body)? {
                    match k.as_str() {
                        "path" => long_name = Some(v),
                        "linkpath" => long_link = Some(v),
                        _ => {}
                    }
                }
                continue;
            }
            b'g' => continue,
            _ => {}
        }
        let name = long_name.take().unwrap_or_else(|| {
            let prefix = field(&h[345..500]);
            let name = field(&h[..100]);
            if &h[257..262] == b"ustar" && !prefix.is_empty() {
                format!("{prefix}/{name}")
            } else {
                name
            }
        });
        let link = long_link.take().unwrap_or_else(|| field(&h[157..257]));
        let path = absolute(&name)?;
        if path == "/" {
            continue;
        }
        let kind = match kind {
            b'0' | 0 | b'7' => EntryKind::File,
            b'5' => EntryKind::Directory,
            b'2' => EntryKind::Link(link),
            b'1' => EntryKind::HardLink(absolute(&link)?),
            _ => EntryKind::Other,
        };
        let id = |name: &[u8], num: &[u8]| -> Result<String> {
            let n = field(name);
            if !n.is_empty() {
                return Ok(n);
            }
            Ok(match number(num)? {
                0 => "root".into(),
                n => n.to_string(),
            })
        };
        out.push(Entry {
            content: (kind == EntryKind::File && size <= MAX_CONTENT).then(|| body.to_vec()),
            path,
            kind,
            mode: (number(&h[100..108])? & 0o7777) as u32,
            owner: id(&h[265..297], &h[108..116])?,
            group: id(&h[297..329], &h[116..124])?,
            size,
        });
    }
    if at == data.len() && !out.is_empty() {
        return Ok(out);
    }
    Err(bad("tar archive is truncated"))
}

/// A pax extended header's `LEN key=value\n` records.
fn pax(body: &[u8]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() && rest[0] != 0 {
        let sp = rest
            .iter()
            .position(|&c| c == b' ')
            .ok_or_else(|| bad("corrupt pax record"))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&l| l > sp + 1 && l <= rest.len())
            .ok_or_else(|| bad("corrupt pax record length"))?;
        let rec = String::from_utf8_lossy(&rest[sp + 1..len]);
        let rec = rec.trim_end_matches('\n');
        if let Some((k, v)) = rec.split_once('=') {
            out.push((k.to_string(), v.to_string()));
        }
        rest = &rest[len..];
    }
    Ok(out)
}

#[cfg(test)]
#[path = "deb_tests.rs"]
mod tests;
