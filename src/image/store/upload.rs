//! `prov image upload DIR/NODE.img.xz s3://BUCKET/PREFIX/`: publish an image with its
//! `.sha256` sidecar and `NODE.manifest.json` as one build (see [`super::layout`]).
//!
//! A multipart upload: one thread reads the file in order, hashing the whole of it (sha256,
//! compared with the sidecar before the upload is completed) and each part (CRC32C); up to
//! `--parallel` parts are sent at once, each streamed from the file (memory stays a few MiB
//! whatever the size) with its CRC32C, so the server rejects a part corrupted on the way. A
//! part is retried with backoff (the SDK's retries are off for parts: one retry loop, whose
//! failed attempts are taken back off the progress bar). A failure or a signal aborts the
//! multipart upload; a killed prov leaves one behind, which the next upload of the node aborts
//! ([`abort_unfinished`]), as `prune` does for any older than an hour. After completing, a
//! HEAD request confirms the size and metadata; the sidecars go up last.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::Value;
use sha2::Digest;
use tokio::task::JoinSet;

use super::layout::{self, BuildDir};
use super::{Store, transfer};
use crate::cli::{Format, ImageUploadArgs};
use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};

/// What an upload published.
#[derive(Clone, Debug, Serialize)]
pub struct Uploaded {
    /// `s3://BUCKET/PREFIX/NODE/BUILD-ID/NODE.img.xz`.
    pub url: String,
    pub key: String,
    pub node: String,
    pub build_id: String,
    pub size: u64,
    pub sha256: String,
}

/// What the manifest says about a build (what goes into the object metadata).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    pub node: String,
    pub build_date: i64,
    pub arch: Option<String>,
    pub git_commit: Option<String>,
    pub kubernetes_version: Option<String>,
    pub crio_version: Option<String>,
    pub prov_version: Option<String>,
}

/// The image and its two companions on disk.
pub struct LocalImage {
    pub path: PathBuf,
    pub node: String,
    /// `img.xz` or `img.zst`.
    pub ext: String,
    pub size: u64,
    /// The sidecar's hash (lowercase hex) and its text.
    pub sha256: String,
    pub sidecar: String,
    pub manifest: String,
    pub facts: Facts,
}

/// A string field of the manifest, if present and plain ASCII (metadata is sent as headers).
fn text_field(doc: &Value, path: &[&str]) -> Option<String> {
    let mut v = doc;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b)))
        .map(str::to_string)
}

/// The manifest's facts: `build_date` (ISO 8601) or `source_date_epoch` is required; the rest
/// is optional (a missing field is left out of the metadata).
pub fn facts(doc: &Value, path: &Path) -> Result<Facts> {
    let node = text_field(doc, &["node"])
        .ok_or_else(|| Error::runtime(format!("{}: the manifest names no node", path.display())))?;
    let build_date = text_field(doc, &["build_date"])
        .and_then(|d| crate::utc::parse_iso(&d))
        .or_else(|| doc.get("source_date_epoch").and_then(Value::as_i64))
        .ok_or_else(|| {
            Error::runtime(format!(
                "{}: the manifest has no build_date (ISO 8601) or source_date_epoch",
                path.display()
            ))
        })?;
    let first = |paths: &[&[&str]]| paths.iter().find_map(|p| text_field(doc, p));
    Ok(Facts {
        node,
        build_date,
        arch: first(&[&["arch"]]),
        git_commit: first(&[&["git_commit"]]),
        kubernetes_version: first(&[
            &["kubernetes_version"],
            &["kubernetes", "kubelet"],
            &["kubernetes"],
        ]),
        crio_version: first(&[&["crio_version"], &["crio"]]),
        prov_version: first(&[&["prov_version"]]),
    })
}

/// The object metadata of an image (names without `x-amz-meta-`).
pub fn metadata(f: &Facts, sha256: &str) -> HashMap<String, String> {
    let mut m = HashMap::from([
        ("build-date".to_string(), crate::utc::iso(f.build_date)),
        ("node".to_string(), f.node.clone()),
        ("sha256".to_string(), sha256.to_string()),
    ]);
    for (k, v) in [
        ("git-commit", &f.git_commit),
        ("arch", &f.arch),
        ("kubernetes-version", &f.kubernetes_version),
        ("crio-version", &f.crio_version),
        ("prov-version", &f.prov_version),
    ] {
        if let Some(v) = v {
            m.insert(k.to_string(), v.clone());
        }
    }
    m
}

/// The hash in a sha256sum line for `name` (`<hex>  <name>`, or `<hex> *<name>`).
pub fn parse_sidecar(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (hex, file) = l.trim().split_once(char::is_whitespace)?;
        let file = file.trim_start().trim_start_matches('*');
        let valid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        (valid && file == name).then(|| hex.to_ascii_lowercase())
    })
}

fn read(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::usage(format!(
            "{}: {what} is missing (it is written beside the image)",
            path.display()
        )),
        _ => Error::io(path, e),
    })
}

/// Read `DIR/NODE.img.xz`, `DIR/NODE.img.xz.sha256` and `DIR/NODE.manifest.json`.
pub fn read_local(image: &Path) -> Result<LocalImage> {
    let name = image
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::usage(format!("{}: not an image file name", image.display())))?;
    let (node, ext) = layout::IMAGE_EXTENSIONS
        .iter()
        .find_map(|ext| Some((name.strip_suffix(&format!(".{ext}"))?, *ext)))
        .filter(|(node, _)| !node.is_empty())
        .ok_or_else(|| {
            Error::usage(format!(
                "{}: expected a compressed image, NODE.img.xz or NODE.img.zst",
                image.display()
            ))
        })?;
    let meta = std::fs::metadata(image).map_err(|e| Error::io(image, e))?;
    if !meta.is_file() || meta.len() == 0 {
        return Err(Error::usage(format!(
            "{}: not an image (empty or not a file)",
            image.display()
        )));
    }
    let dir = image.parent().unwrap_or(Path::new("."));
    let sidecar_path = dir.join(format!("{name}.sha256"));
    let sidecar = read(&sidecar_path, "the image's sha256 sidecar")?;
    let sha256 = parse_sidecar(&sidecar, name).ok_or_else(|| {
        Error::usage(format!(
            "{}: no sha256sum line for {name}",
            sidecar_path.display()
        ))
    })?;
    let manifest_path = dir.join(format!("{node}.manifest.json"));
    let manifest = read(&manifest_path, "the build manifest")?;
    let doc: Value = serde_json::from_str(&manifest)
        .map_err(|e| Error::usage(format!("{}: not JSON: {e}", manifest_path.display())))?;
    let facts = facts(&doc, &manifest_path)?;
    if facts.node != node {
        return Err(Error::usage(format!(
            "{}: the manifest is for node {}, the image for {node}",
            manifest_path.display(),
            facts.node
        )));
    }
    Ok(LocalImage {
        path: image.to_path_buf(),
        node: node.to_string(),
        ext: ext.to_string(),
        size: meta.len(),
        sha256,
        sidecar,
        manifest,
        facts,
    })
}

/// The part size for `size` bytes: `mib` MiB (5 to 512), raised when S3's 10,000 parts would
/// not be enough.
pub fn part_size(mib: u64, size: u64) -> Result<u64> {
    if !(5..=512).contains(&mib) {
        return Err(Error::usage(format!(
            "--part-size {mib}: must be 5 to 512 (MiB)"
        )));
    }
    const MIB: u64 = 1 << 20;
    let least = size.div_ceil(10_000).div_ceil(MIB) * MIB;
    Ok((mib * MIB).max(least))
}

/// One part, read and hashed, ready to send.
#[derive(Clone, Debug)]
struct PartPlan {
    number: i32,
    offset: u64,
    len: u64,
    /// Base64 of the big-endian CRC32C, as S3 wants it.
    crc32c: String,
}

/// Read the file in order: plan each part (with its CRC32C) for the senders and return the
/// sha256 of the whole file. Stops quietly when the receiver is gone (the upload failed).
fn plan_parts(
    path: &Path,
    part_size: u64,
    tx: tokio::sync::mpsc::Sender<PartPlan>,
) -> Result<Option<String>> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut whole = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let (mut offset, mut number) = (0u64, 1i32);
    loop {
        let mut crc = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
        let mut len = 0u64;
        while len < part_size {
            let want = (part_size - len).min(buf.len() as u64) as usize;
            let n = file
                .read(&mut buf[..want])
                .map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            whole.update(&buf[..n]);
            crc.update(&buf[..n]);
            len += n as u64;
        }
        if len == 0 {
            break;
        }
        let crc32c = (crc.finalize() as u32).to_be_bytes();
        let plan = PartPlan {
            number,
            offset,
            len,
            crc32c: base64::engine::general_purpose::STANDARD.encode(crc32c),
        };
        if tx.blocking_send(plan).is_err() {
            return Ok(None);
        }
        offset += len;
        number += 1;
    }
    Ok(Some(format!("{:x}", whole.finalize())))
}

/// What every part's sender needs.
struct PartCtx {
    store: Store,
    key: String,
    upload_id: String,
    path: PathBuf,
    bar: ProgressBar,
    quiet: bool,
    total_parts: u64,
}

/// Attempts per part (the SDK's own retries are off for parts).
const PART_ATTEMPTS: u32 = 5;

/// One attempt at a part: streamed from the file with its CRC32C (the server checks it).
async fn try_part(ctx: &PartCtx, plan: &PartPlan, sent: &transfer::Sent) -> Result<CompletedPart> {
    let body = ByteStream::read_from()
        .path(&ctx.path)
        .offset(plan.offset)
        .length(Length::Exact(plan.len))
        .buffer_size(256 << 10)
        .build()
        .await
        .map_err(|e| Error::runtime(format!("{}: {e}", ctx.path.display())))?;
    let body = ByteStream::new(transfer::counting(body.into_inner(), &ctx.bar, sent));
    // A part may take its size at 128 KiB/s on top of the request time limit.
    let limit = ctx.store.timeout + Duration::from_secs(plan.len / (128 << 10));
    let what = format!("uploading part {} of {}", plan.number, ctx.total_parts);
    let out = ctx
        .store
        .client
        .upload_part()
        .bucket(&ctx.store.loc.bucket)
        .key(&ctx.key)
        .upload_id(&ctx.upload_id)
        .part_number(plan.number)
        .content_length(plan.len as i64)
        .checksum_crc32_c(&plan.crc32c)
        .body(body)
        .customize()
        .config_override(
            aws_sdk_s3::config::Builder::new()
                .retry_config(RetryConfig::disabled())
                .timeout_config(super::timeouts(limit)),
        )
        .send()
        .await
        .map_err(|e| ctx.store.error(&what, e))?;
    if let Some(c) = out.checksum_crc32_c()
        && c != plan.crc32c
    {
        return Err(Error::runtime(format!(
            "{what}: the server stored CRC32C {c}, prov sent {}",
            plan.crc32c
        )));
    }
    let etag = out
        .e_tag()
        .ok_or_else(|| Error::runtime(format!("{what}: the server returned no ETag")))?;
    Ok(CompletedPart::builder()
        .part_number(plan.number)
        .e_tag(etag)
        .checksum_crc32_c(&plan.crc32c)
        .build())
}

/// Worth another attempt: a transport failure or a rejected request, not refused
/// credentials, a vanished upload or a signal.
fn retryable(e: &Error) -> bool {
    matches!(e.kind, ErrorKind::Runtime | ErrorKind::Unreachable)
}

/// A part with retries (backoff 0.5, 1, 2, 4 s).
async fn send_part(ctx: Arc<PartCtx>, plan: PartPlan) -> Result<CompletedPart> {
    let mut attempt = 1;
    loop {
        let sent = transfer::Sent::default();
        match try_part(&ctx, &plan, &sent).await {
            Ok(part) => return Ok(part),
            Err(e) => {
                ctx.bar.dec(sent.get());
                if attempt >= PART_ATTEMPTS || !retryable(&e) {
                    return Err(e);
                }
                if !ctx.quiet {
                    ctx.bar.suspend(|| {
                        eprintln!(
                            "[prov image] {}; retrying (attempt {} of {PART_ATTEMPTS})",
                            e.message,
                            attempt + 1
                        )
                    });
                }
                tokio::time::sleep(Duration::from_millis(500 << (attempt - 1))).await;
                attempt += 1;
            }
        }
    }
}

/// A finished sender's part, or the first failure.
fn joined(
    r: std::result::Result<Result<CompletedPart>, tokio::task::JoinError>,
) -> Result<CompletedPart> {
    r.map_err(|e| Error::runtime(format!("a part upload stopped: {e}")))?
}

/// Send every part (at most `parallel` at once) and check the file against its sidecar.
async fn send_parts(
    ctx: Arc<PartCtx>,
    local: &LocalImage,
    part_size: u64,
    parallel: usize,
) -> Result<Vec<CompletedPart>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<PartPlan>(parallel);
    let path = local.path.clone();
    let reader = tokio::task::spawn_blocking(move || plan_parts(&path, part_size, tx));
    let mut tasks = JoinSet::new();
    let mut done = Vec::new();
    let mut planning = true;
    while planning || !tasks.is_empty() {
        tokio::select! {
            plan = rx.recv(), if planning && tasks.len() < parallel => match plan {
                Some(plan) => {
                    tasks.spawn(send_part(ctx.clone(), plan));
                }
                None => planning = false,
            },
            Some(r) = tasks.join_next(), if !tasks.is_empty() => done.push(joined(r)?),
        }
    }
    let sha256 = reader
        .await
        .map_err(|e| Error::runtime(format!("reading the image stopped: {e}")))??
        .ok_or_else(|| Error::runtime("reading the image stopped early"))?;
    if sha256 != local.sha256 {
        return Err(Error::runtime(format!(
            "{}: its sha256 is {sha256}, its sidecar says {}; not publishing it",
            local.path.display(),
            local.sha256
        )));
    }
    done.sort_by_key(|p| p.part_number());
    Ok(done)
}

/// Abort unfinished multipart uploads of images under the location (prov's layout only):
/// of `node` (all of that node's), or of every node when they started more than `stale`
/// ago. Returns their keys; with `check`, aborts nothing.
pub async fn abort_unfinished(
    store: &Store,
    node: Option<&str>,
    stale: Option<Duration>,
    check: bool,
) -> Result<Vec<String>> {
    let prefix = match node {
        Some(n) => layout::node_prefix(&store.loc.prefix, n),
        None if store.loc.prefix.is_empty() => String::new(),
        None => format!("{}/", store.loc.prefix),
    };
    let what = format!(
        "listing unfinished uploads under {}",
        store.loc.url(&prefix)
    );
    let before = stale.map(|s| crate::utc::now() - s.as_secs() as i64);
    let mut found = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let page = store
            .client
            .list_multipart_uploads()
            .bucket(&store.loc.bucket)
            .prefix(&prefix)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .map_err(|e| store.error(&what, e))?;
        for u in page.uploads() {
            let (Some(key), Some(id)) = (u.key(), u.upload_id()) else {
                continue;
            };
            let ours = layout::parse_key(&store.loc.prefix, key).is_some_and(|(b, file)| {
                layout::image_extension(&b.node, &file).is_some()
                    && node.is_none_or(|n| n == b.node)
            });
            let old = match (before, u.initiated()) {
                (Some(limit), Some(t)) => t.secs() < limit,
                (Some(_), None) => false,
                (None, _) => true,
            };
            if ours && old {
                found.push((key.to_string(), id.to_string()));
            }
        }
        key_marker = page.next_key_marker().map(str::to_string);
        id_marker = page.next_upload_id_marker().map(str::to_string);
        if page.is_truncated() != Some(true) || key_marker.is_none() {
            break;
        }
    }
    if !check {
        for (key, id) in &found {
            abort(store, key, id).await?;
        }
    }
    Ok(found.into_iter().map(|(k, _)| k).collect())
}

async fn abort(store: &Store, key: &str, upload_id: &str) -> Result<()> {
    let what = format!("aborting the unfinished upload of {}", store.loc.url(key));
    match store
        .client
        .abort_multipart_upload()
        .bucket(&store.loc.bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match store.error(&what, e) {
            // Already gone.
            e if e.kind == ErrorKind::NotFound => Ok(()),
            e => Err(e),
        },
    }
}

/// Upload a small object (a sidecar).
async fn put_small(store: &Store, key: &str, body: &str, content_type: &str) -> Result<()> {
    store
        .client
        .put_object()
        .bucket(&store.loc.bucket)
        .key(key)
        .content_type(content_type)
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .map_err(|e| store.error(&format!("uploading {}", store.loc.url(key)), e))?;
    Ok(())
}

/// The image as S3 has it now: the size and metadata must be what was sent.
async fn confirm(
    store: &Store,
    key: &str,
    local: &LocalImage,
    meta: &HashMap<String, String>,
) -> Result<()> {
    let url = store.loc.url(key);
    let head = store
        .client
        .head_object()
        .bucket(&store.loc.bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| store.error(&format!("checking {url}"), e))?;
    let size = head.content_length().unwrap_or(-1);
    if size != local.size as i64 {
        return Err(Error::runtime(format!(
            "{url}: S3 has {size} bytes, the image is {}",
            local.size
        )));
    }
    let stored = head.metadata().cloned().unwrap_or_default();
    for (k, v) in meta {
        if stored.get(k) != Some(v) {
            return Err(Error::runtime(format!(
                "{url}: metadata {k} is {:?} on S3, prov sent {v:?}",
                stored.get(k)
            )));
        }
    }
    Ok(())
}

fn content_type(ext: &str) -> &'static str {
    if ext.ends_with("zst") {
        "application/zstd"
    } else {
        "application/x-xz"
    }
}

/// The multipart upload itself, between create and complete.
async fn multipart(
    store: &Store,
    key: &str,
    upload_id: &str,
    local: &LocalImage,
    args: &ImageUploadArgs,
    bar: &ProgressBar,
) -> Result<usize> {
    let part_size = part_size(args.part_size_mib, local.size)?;
    let ctx = Arc::new(PartCtx {
        store: store.clone(),
        key: key.to_string(),
        upload_id: upload_id.to_string(),
        path: local.path.clone(),
        bar: bar.clone(),
        quiet: args.s3.format == Format::Json,
        total_parts: local.size.div_ceil(part_size),
    });
    let parts = send_parts(ctx, local, part_size, args.parallel.max(1)).await?;
    let count = parts.len();
    store
        .client
        .complete_multipart_upload()
        .bucket(&store.loc.bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| store.error(&format!("completing {}", store.loc.url(key)), e))?;
    Ok(count)
}

/// `prov image upload` (also called in-process by other commands): publish the image, its
/// sha256 sidecar and manifest as one build. A signal through `cancel` (or any failure)
/// aborts the multipart upload.
pub async fn upload(args: &ImageUploadArgs, cancel: Arc<Cancel>) -> Result<Uploaded> {
    let local = read_local(&args.image)?;
    part_size(args.part_size_mib, local.size)?;
    let quiet = args.s3.format == Format::Json;
    let store = super::connect(&args.s3).await?;
    store.check_bucket().await?;
    for key in abort_unfinished(&store, Some(&local.node), None, false).await? {
        if !quiet {
            eprintln!(
                "[prov image] aborted an unfinished upload of {}",
                store.loc.url(&key)
            );
        }
    }
    let build = BuildDir {
        node: local.node.clone(),
        build_id: layout::build_id(local.facts.build_date, local.facts.git_commit.as_deref()),
    };
    let key = build.key(&store.loc.prefix, &local.ext);
    let url = store.loc.url(&key);
    let meta = metadata(&local.facts, &local.sha256);
    let created = store
        .client
        .create_multipart_upload()
        .bucket(&store.loc.bucket)
        .key(&key)
        .content_type(content_type(&local.ext))
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .set_metadata(Some(meta.clone()))
        .send()
        .await
        .map_err(|e| store.error(&format!("starting the upload of {url}"), e))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| Error::runtime(format!("starting the upload of {url}: no upload id")))?
        .to_string();
    if !quiet {
        eprintln!(
            "[prov image] uploading {} ({}) to {url}",
            local.path.display(),
            transfer::human_size(local.size)
        );
    }
    let started = Instant::now();
    let bar = transfer::bar(&format!("{}.{}", local.node, local.ext), local.size, quiet);
    let result = tokio::select! {
        r = multipart(&store, &key, &upload_id, &local, args, &bar) => r,
        _ = cancel.cancelled() => Err(Error::new(ErrorKind::Interrupted, "interrupted")),
    };
    bar.finish_and_clear();
    let parts = match result {
        Ok(n) => n,
        Err(e) => {
            return Err(match abort(&store, &key, &upload_id).await {
                Ok(()) => e,
                Err(a) => e.context(format!(
                    "{} (the next upload of {} aborts it)",
                    a.message, local.node
                )),
            });
        }
    };
    confirm(&store, &key, &local, &meta).await?;
    let sidecar_key = build.key(&store.loc.prefix, &format!("{}.sha256", local.ext));
    put_small(&store, &sidecar_key, &local.sidecar, "text/plain").await?;
    let manifest_key = build.key(&store.loc.prefix, "manifest.json");
    put_small(&store, &manifest_key, &local.manifest, "application/json").await?;
    if !quiet {
        eprintln!(
            "[prov image] uploaded {} in {parts} parts in {:.1} s",
            transfer::human_size(local.size),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(Uploaded {
        url,
        key,
        node: local.node,
        build_id: build.build_id,
        size: local.size,
        sha256: local.sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_and_part_sizes() {
        let hex = "a".repeat(64);
        assert_eq!(
            parse_sidecar(&format!("{hex}  g.img.xz\n"), "g.img.xz"),
            Some(hex.clone())
        );
        assert_eq!(
            parse_sidecar(&format!("{hex} *g.img.xz"), "g.img.xz"),
            Some(hex.clone())
        );
        assert_eq!(
            parse_sidecar(&format!("{hex}  other.img.xz"), "g.img.xz"),
            None
        );
        assert_eq!(parse_sidecar("abc  g.img.xz", "g.img.xz"), None);
        assert_eq!(part_size(16, 100).unwrap(), 16 << 20);
        // 10,000 parts of 5 MiB are not enough for 100 GiB.
        assert!(part_size(5, 100 << 30).unwrap() * 10_000 >= 100 << 30);
        assert!(part_size(4, 100).is_err());
        assert!(part_size(513, 100).is_err());
    }

    #[test]
    fn manifest_facts_become_metadata() {
        let doc = serde_json::json!({
            "node": "golyat-1", "arch": "amd64", "source_date_epoch": 1_796_581_800,
            "kubernetes": {"kubelet": "1.32.0-1.1"}, "crio": "1.32.1-1.1",
            "git_commit": null, "prov_version": "0.1.0"
        });
        let f = facts(&doc, Path::new("m.json")).unwrap();
        assert_eq!(f.build_date, 1_796_581_800);
        assert_eq!(f.kubernetes_version.as_deref(), Some("1.32.0-1.1"));
        let m = metadata(&f, "ff");
        assert_eq!(m["build-date"], "2026-12-06T18:30:00Z");
        assert_eq!(m["crio-version"], "1.32.1-1.1");
        assert!(!m.contains_key("git-commit"));
        let doc = serde_json::json!({"node": "n", "build_date": "2026-12-06T18:30:00Z"});
        assert_eq!(
            facts(&doc, Path::new("m")).unwrap().build_date,
            1_796_581_800
        );
        assert!(facts(&serde_json::json!({"node": "n"}), Path::new("m")).is_err());
    }
}
