//! The published builds: `prov image list`, `fetch`, `mark-good` and `prune`.
//!
//! A build is a directory of [`super::layout`] that holds an image; its date is the image's
//! `build-date` metadata (the build id's date when that is missing). The known-good mark is
//! the object tag `known-good=true` on the image (S3 object tagging; SeaweedFS has it too).
//! `fetch` streams the image to a temporary name beside the target while hashing it, and
//! renames it only when the sha256 equals the sidecar's. `prune` never deletes the newest
//! known-good build of a node, and with `--check` deletes nothing.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::types::{Tag, Tagging};
use serde::Serialize;
use sha2::Digest;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;

use super::layout::{self, BuildDir};
use super::upload::{abort_unfinished, parse_sidecar};
use super::{Store, transfer};
use crate::cli::{Format, ImageFetchArgs, ImageListArgs, ImageMarkGoodArgs, ImagePruneArgs};
use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};

/// The tag that marks a build known-good.
pub const KNOWN_GOOD: &str = "known-good";

/// Unfinished uploads older than this are a killed prov's; `prune` aborts them.
const STALE_UPLOAD: std::time::Duration = std::time::Duration::from_secs(3600);

/// A published build.
#[derive(Clone, Debug, Serialize)]
pub struct Build {
    pub node: String,
    pub build_id: String,
    /// ISO 8601, UTC.
    pub build_date: String,
    #[serde(skip)]
    pub date: i64,
    /// The full commit from the metadata, else the build id's 12 digits (or `nogit`).
    pub commit: String,
    pub size: u64,
    pub sha256: Option<String>,
    pub known_good: bool,
    /// The image's `s3://` URL.
    pub url: String,
    pub metadata: BTreeMap<String, String>,
    #[serde(skip)]
    pub dir: BuildDir,
    #[serde(skip)]
    pub image_key: String,
}

/// Every object under the location (or one node's part of it), grouped by build directory.
async fn scan(store: &Store, node: Option<&str>) -> Result<BTreeMap<BuildDir, Vec<(String, u64)>>> {
    let prefix = match node {
        Some(n) => layout::node_prefix(&store.loc.prefix, n),
        None => layout::join(&store.loc.prefix, ""),
    };
    let mut dirs: BTreeMap<BuildDir, Vec<(String, u64)>> = BTreeMap::new();
    for (key, size) in store.list_keys(&prefix).await? {
        if let Some((dir, _)) = layout::parse_key(&store.loc.prefix, &key) {
            dirs.entry(dir).or_default().push((key, size));
        }
    }
    Ok(dirs)
}

/// The image object of a build directory, if it has one.
fn image_of(store: &Store, dir: &BuildDir, keys: &[(String, u64)]) -> Option<(String, u64)> {
    keys.iter()
        .find(|(k, _)| {
            layout::parse_key(&store.loc.prefix, k)
                .is_some_and(|(_, file)| layout::image_extension(&dir.node, &file).is_some())
        })
        .cloned()
}

/// Is the object tagged known-good?
async fn known_good(store: &Store, key: &str) -> Result<bool> {
    let tags = store
        .client
        .get_object_tagging()
        .bucket(&store.loc.bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| store.error(&format!("reading the tags of {}", store.loc.url(key)), e))?;
    Ok(tags
        .tag_set()
        .iter()
        .any(|t| t.key() == KNOWN_GOOD && t.value() == "true"))
}

/// A build's details: metadata (HEAD) and mark (tags).
async fn describe(store: Store, dir: BuildDir, key: String, size: u64) -> Result<Build> {
    let url = store.loc.url(&key);
    let head = store
        .client
        .head_object()
        .bucket(&store.loc.bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| store.error(&format!("reading {url}"), e))?;
    let metadata: BTreeMap<String, String> = head
        .metadata()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let date = metadata
        .get("build-date")
        .and_then(|d| crate::utc::parse_iso(d))
        .unwrap_or_else(|| dir.date());
    Ok(Build {
        node: dir.node.clone(),
        build_id: dir.build_id.clone(),
        build_date: crate::utc::iso(date),
        date,
        commit: metadata
            .get("git-commit")
            .cloned()
            .unwrap_or_else(|| dir.commit().to_string()),
        size,
        sha256: metadata.get("sha256").cloned(),
        known_good: known_good(&store, &key).await?,
        url,
        metadata,
        dir,
        image_key: key,
    })
}

/// The builds (directories with an image), oldest first per node; 8 requests at a time.
async fn builds(
    store: &Store,
    dirs: &BTreeMap<BuildDir, Vec<(String, u64)>>,
) -> Result<Vec<Build>> {
    let limit = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = JoinSet::new();
    for (dir, keys) in dirs {
        let Some((key, size)) = image_of(store, dir, keys) else {
            continue;
        };
        let (store, dir, limit) = (store.clone(), dir.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            describe(store, dir, key, size).await
        });
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        out.push(r.map_err(|e| Error::runtime(format!("reading a build stopped: {e}")))??);
    }
    out.sort_by(|a, b| (&a.node, a.date, &a.build_id).cmp(&(&b.node, b.date, &b.build_id)));
    Ok(out)
}

/// Does the build come from `commit` (a prefix of at least 7 hex digits)?
fn from_commit(b: &Build, commit: &str) -> bool {
    let c = commit.to_ascii_lowercase();
    let full = b.commit.to_ascii_lowercase();
    full.starts_with(&c) || (c.len() > full.len() && full.len() == 12 && c.starts_with(&full))
}

/// The build a fetch or mark-good means: the node's latest, of a commit, or known-good.
pub fn select<'a>(
    builds: &'a [Build],
    node: &str,
    commit: Option<&str>,
    latest_good: bool,
) -> Option<&'a Build> {
    builds
        .iter()
        .filter(|b| b.node == node)
        .filter(|b| commit.is_none_or(|c| from_commit(b, c)))
        .filter(|b| !latest_good || b.known_good)
        .max_by(|a, b| (a.date, &a.build_id).cmp(&(b.date, &b.build_id)))
}

fn check_commit(commit: Option<&str>) -> Result<()> {
    match commit {
        Some(c) if c.len() < 7 || !c.bytes().all(|b| b.is_ascii_hexdigit()) => Err(Error::usage(
            format!("--commit {c}: expected at least 7 hex digits of a git commit"),
        )),
        _ => Ok(()),
    }
}

/// Connect, check the bucket, and find the build that `node`/`commit`/`latest_good` mean.
async fn find(store: &Store, node: &str, commit: Option<&str>, latest_good: bool) -> Result<Build> {
    check_commit(commit)?;
    store.check_bucket().await?;
    let all = builds(store, &scan(store, Some(node)).await?).await?;
    select(&all, node, commit, latest_good)
        .cloned()
        .ok_or_else(|| {
            let which = match (commit, latest_good) {
                (Some(c), _) => format!(" of commit {c}"),
                (None, true) => " marked known-good".to_string(),
                (None, false) => String::new(),
            };
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "no build of {node}{which} under {}",
                    store.loc.url(&layout::join(&store.loc.prefix, ""))
                ),
            )
        })
}

/// `prov image list`: the table (or JSON) on stdout.
pub async fn list(args: &ImageListArgs) -> Result<()> {
    let store = super::connect(&args.s3).await?;
    store.check_bucket().await?;
    let all = builds(&store, &scan(&store, args.node.as_deref()).await?).await?;
    if args.s3.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
        return Ok(());
    }
    print!("{}", table(&all));
    Ok(())
}

/// The text table of builds.
pub fn table(builds: &[Build]) -> String {
    let mut rows = vec![[
        "NODE".to_string(),
        "BUILD DATE".into(),
        "COMMIT".into(),
        "SIZE".into(),
        "SHA256".into(),
        "KNOWN-GOOD".into(),
    ]];
    for b in builds {
        rows.push([
            b.node.clone(),
            b.build_date.clone(),
            b.commit.chars().take(12).collect(),
            transfer::human_size(b.size),
            b.sha256
                .as_deref()
                .map_or("-".into(), |s| s.chars().take(12).collect()),
            if b.known_good {
                "yes".into()
            } else {
                String::new()
            },
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_string() + "\n"
        })
        .collect()
}

/// Write `text` to `path` through a temporary name.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.partial",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Stream an object into `partial`, returning its sha256.
async fn download(
    store: &Store,
    key: &str,
    partial: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<String> {
    let url = store.loc.url(key);
    let out = store
        .client
        .get_object()
        .bucket(&store.loc.bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| store.error(&format!("downloading {url}"), e))?;
    let mut body = out.body;
    let mut file = tokio::fs::File::create(partial)
        .await
        .map_err(|e| Error::io(partial, e))?;
    let mut hash = sha2::Sha256::new();
    loop {
        let chunk = tokio::time::timeout(store.timeout, body.next())
            .await
            .map_err(|_| {
                Error::unreachable(format!(
                    "downloading {url}: no data for {} s",
                    store.timeout.as_secs()
                ))
            })?;
        let Some(chunk) = chunk else { break };
        let chunk = chunk.map_err(|e| Error::unreachable(format!("downloading {url}: {e}")))?;
        hash.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::io(partial, e))?;
        bar.inc(chunk.len() as u64);
    }
    file.sync_all().await.map_err(|e| Error::io(partial, e))?;
    Ok(format!("{:x}", hash.finalize()))
}

/// The sha256 a build's sidecar gives for its image.
async fn expected_sha256(store: &Store, build: &Build, image_name: &str) -> Result<String> {
    let key = format!("{}.sha256", build.image_key);
    let text = store.get_text(&key).await.map_err(|e| {
        let msg = format!(
            "{}: the build has no readable sha256 sidecar ({}); not fetching it",
            build.url, e.message
        );
        Error::new(e.kind, msg)
    })?;
    let hex = parse_sidecar(&text, image_name).ok_or_else(|| {
        Error::runtime(format!(
            "{}: no sha256sum line for {image_name}",
            store.loc.url(&key)
        ))
    })?;
    if let Some(meta) = &build.sha256
        && meta != &hex
    {
        return Err(Error::runtime(format!(
            "{}: the sha256 metadata ({meta}) and the sidecar ({hex}) disagree; not fetching it",
            build.url
        )));
    }
    Ok(hex)
}

/// `prov image fetch`: download, verify, rename; returns the image's path. A mismatch (or a
/// signal) leaves no file behind.
pub async fn fetch(args: &ImageFetchArgs, cancel: Arc<Cancel>) -> Result<PathBuf> {
    let store = super::connect(&args.s3).await?;
    let build = find(&store, &args.node, args.commit.as_deref(), args.latest_good).await?;
    let image_name = build
        .image_key
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let expected = expected_sha256(&store, &build, &image_name).await?;
    std::fs::create_dir_all(&args.output).map_err(|e| Error::io(&args.output, e))?;
    let target = args.output.join(&image_name);
    let partial = args.output.join(format!(".{image_name}.partial"));
    let quiet = args.s3.format == Format::Json;
    if !quiet {
        eprintln!(
            "[prov image] fetching {} ({}, built {})",
            build.url,
            transfer::human_size(build.size),
            build.build_date
        );
    }
    let bar = transfer::bar(&image_name, build.size, quiet);
    let got = tokio::select! {
        r = download(&store, &build.image_key, &partial, &bar) => r,
        _ = cancel.cancelled() => Err(Error::new(ErrorKind::Interrupted, "interrupted")),
    };
    bar.finish_and_clear();
    let got = got.and_then(|sha| {
        if sha == expected {
            Ok(())
        } else {
            Err(Error::runtime(format!(
                "{}: the download's sha256 is {sha}, the sidecar says {expected}; the object is corrupt, nothing was written",
                build.url
            )))
        }
    });
    if let Err(e) = got {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, &target).map_err(|e| Error::io(&target, e))?;
    write_atomic(
        &args.output.join(format!("{image_name}.sha256")),
        &format!("{expected}  {image_name}\n"),
    )?;
    let manifest_key = build.dir.key(&store.loc.prefix, "manifest.json");
    match store.get_text(&manifest_key).await {
        Ok(text) => write_atomic(
            &args.output.join(format!("{}.manifest.json", build.node)),
            &text,
        )?,
        Err(e) if e.kind == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(target)
}

/// `prov image mark-good` (also for other commands in-process): tag the build's image
/// `known-good=true` (other tags kept); returns its URL.
pub async fn mark_good(args: &ImageMarkGoodArgs) -> Result<String> {
    let store = super::connect(&args.s3).await?;
    let build = match &args.build {
        Some(id) => {
            store.check_bucket().await?;
            let all = builds(&store, &scan(&store, Some(&args.node)).await?).await?;
            all.into_iter()
                .find(|b| b.node == args.node && &b.build_id == id)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!("no build {id} of {} under {}", args.node, args.s3.url),
                    )
                })?
        }
        None => find(&store, &args.node, args.commit.as_deref(), false).await?,
    };
    let what = format!("tagging {}", build.url);
    let current = store
        .client
        .get_object_tagging()
        .bucket(&store.loc.bucket)
        .key(&build.image_key)
        .send()
        .await
        .map_err(|e| store.error(&what, e))?;
    let mut tags: Vec<Tag> = current
        .tag_set()
        .iter()
        .filter(|t| t.key() != KNOWN_GOOD)
        .cloned()
        .collect();
    tags.push(
        Tag::builder()
            .key(KNOWN_GOOD)
            .value("true")
            .build()
            .map_err(|e| Error::runtime(format!("{what}: {e}")))?,
    );
    let tagging = Tagging::builder()
        .set_tag_set(Some(tags))
        .build()
        .map_err(|e| Error::runtime(format!("{what}: {e}")))?;
    store
        .client
        .put_object_tagging()
        .bucket(&store.loc.bucket)
        .key(&build.image_key)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| store.error(&what, e))?;
    Ok(build.url)
}

/// What prune decided.
#[derive(Debug, Default, Serialize)]
pub struct Pruned {
    pub check: bool,
    /// Build directories (`s3://.../NODE/BUILD-ID/`) deleted, or to delete with `--check`.
    pub deleted: Vec<String>,
    /// Old builds kept because they are their node's newest known-good.
    pub kept_known_good: Vec<String>,
    /// Unfinished uploads aborted (older than an hour).
    pub aborted: Vec<String>,
}

/// The build directories to delete: older than `limit` (build date, or the id's date for a
/// directory without an image), except each node's newest known-good build. Returns them and
/// the protected old ones.
pub fn plan_prune(
    dirs: &BTreeMap<BuildDir, Vec<(String, u64)>>,
    builds: &[Build],
    limit: i64,
) -> (Vec<BuildDir>, Vec<BuildDir>) {
    let mut newest_good: HashMap<&str, &Build> = HashMap::new();
    for b in builds.iter().filter(|b| b.known_good) {
        let e = newest_good.entry(b.node.as_str()).or_insert(b);
        if (b.date, &b.build_id) > (e.date, &e.build_id) {
            *e = b;
        }
    }
    let dates: HashMap<&BuildDir, i64> = builds.iter().map(|b| (&b.dir, b.date)).collect();
    let (mut delete, mut kept) = (Vec::new(), Vec::new());
    for dir in dirs.keys() {
        let date = dates.get(dir).copied().unwrap_or_else(|| dir.date());
        if date >= limit {
            continue;
        }
        if newest_good
            .get(dir.node.as_str())
            .is_some_and(|g| &g.dir == dir)
        {
            kept.push(dir.clone());
        } else {
            delete.push(dir.clone());
        }
    }
    (delete, kept)
}

async fn delete_dir(store: &Store, keys: &[(String, u64)]) -> Result<()> {
    for (key, _) in keys {
        store
            .client
            .delete_object()
            .bucket(&store.loc.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| store.error(&format!("deleting {}", store.loc.url(key)), e))?;
    }
    Ok(())
}

/// `prov image prune`.
pub async fn prune(args: &ImagePruneArgs) -> Result<Pruned> {
    let age = layout::parse_age(&args.older_than)?;
    let store = super::connect(&args.s3).await?;
    store.check_bucket().await?;
    let node = args.node.as_deref();
    let dirs = scan(&store, node).await?;
    let all = builds(&store, &dirs).await?;
    let limit = crate::utc::now() - age.as_secs() as i64;
    let (delete, kept) = plan_prune(&dirs, &all, limit);
    let dir_url = |d: &BuildDir| store.loc.url(&d.dir_key(&store.loc.prefix));
    let mut out = Pruned {
        check: args.check,
        kept_known_good: kept.iter().map(dir_url).collect(),
        aborted: abort_unfinished(&store, node, Some(STALE_UPLOAD), args.check)
            .await?
            .iter()
            .map(|k| store.loc.url(k))
            .collect(),
        ..Pruned::default()
    };
    for dir in &delete {
        if !args.check {
            delete_dir(&store, &dirs[dir]).await?;
        }
        out.deleted.push(dir_url(dir));
    }
    Ok(out)
}

/// Prune's report as text.
pub fn prune_report(p: &Pruned) -> String {
    let verb = if p.check { "would delete" } else { "deleted" };
    let mut s = String::new();
    for d in &p.deleted {
        s.push_str(&format!("{verb} {d}\n"));
    }
    for d in &p.kept_known_good {
        s.push_str(&format!("kept {d} (its node's newest known-good build)\n"));
    }
    for d in &p.aborted {
        let v = if p.check { "would abort" } else { "aborted" };
        s.push_str(&format!("{v} the unfinished upload of {d}\n"));
    }
    s.push_str(&format!("{} build(s) {verb}\n", p.deleted.len()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(node: &str, date: i64, good: bool) -> Build {
        let dir = BuildDir {
            node: node.into(),
            build_id: layout::build_id(date, None),
        };
        Build {
            node: node.into(),
            build_id: dir.build_id.clone(),
            build_date: crate::utc::iso(date),
            date,
            commit: "0123456789abcdef".into(),
            size: 1,
            sha256: None,
            known_good: good,
            url: String::new(),
            metadata: BTreeMap::new(),
            image_key: dir.key("p", "img.xz"),
            dir,
        }
    }

    #[test]
    fn prune_keeps_the_newest_known_good_build_of_each_node() {
        let day = 86_400;
        let builds = vec![
            build("a", 10 * day, true),
            build("a", 20 * day, true),
            build("a", 30 * day, false),
            build("b", 5 * day, true),
            build("b", 100 * day, false),
        ];
        let mut dirs: BTreeMap<BuildDir, Vec<(String, u64)>> =
            builds.iter().map(|b| (b.dir.clone(), vec![])).collect();
        // A directory without an image, old by its id.
        let orphan = BuildDir {
            node: "a".into(),
            build_id: layout::build_id(day, None),
        };
        dirs.insert(orphan.clone(), vec![]);
        let (delete, kept) = plan_prune(&dirs, &builds, 50 * day);
        let ids = |v: &[BuildDir]| {
            v.iter()
                .map(|d| (d.node.clone(), d.date() / day))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&delete),
            vec![("a".into(), 1), ("a".into(), 10), ("a".into(), 30)]
        );
        assert_eq!(ids(&kept), vec![("a".into(), 20), ("b".into(), 5)]);
        assert!(select(&builds, "a", None, true).is_some_and(|b| b.date == 20 * day));
        assert!(select(&builds, "a", None, false).is_some_and(|b| b.date == 30 * day));
        assert!(select(&builds, "a", Some("0123456"), false).is_some());
        assert!(select(&builds, "a", Some("fedcba9"), false).is_none());
        assert!(select(&builds, "c", None, false).is_none());
    }

    #[test]
    fn the_table_lines_up() {
        let t = table(&[build("golyat-1", 0, true)]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("NODE      BUILD DATE"));
        assert!(lines[1].starts_with("golyat-1  1970-01-01T00:00:00Z  0123456789ab  1 B"));
        assert!(lines[1].ends_with("yes"));
    }
}
