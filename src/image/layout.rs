//! Where published images live in a bucket (`prov image upload`, `list`, `fetch`, `prune`),
//! and the UTC times in their names and in build manifests.
//!
//! `PREFIX/<node>/<build-id>/` holds one build: `<node>.img.xz` (or `.img.zst`), its
//! `<node>.img.xz.sha256` (sha256sum format) and `<node>.manifest.json`. The build id is
//! `<build date, compact UTC>-<git commit, first 12 hex digits, or "nogit">`, e.g.
//! `20261206T183000Z-0123456789ab`: ids sort by date, and a key alone says which node, when
//! and from what. Dates are plain UTC seconds; the calendar arithmetic is Howard Hinnant's.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::utc::{compact, parse_compact};

/// The compressed image formats prov publishes.
pub const IMAGE_EXTENSIONS: [&str; 2] = ["img.xz", "img.zst"];

/// One build's place: node and build id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BuildDir {
    pub node: String,
    pub build_id: String,
}

impl BuildDir {
    /// The directory key under `prefix` (with its trailing slash).
    pub fn dir_key(&self, prefix: &str) -> String {
        join(prefix, &format!("{}/{}/", self.node, self.build_id))
    }

    /// A file of the build: `<node>.<suffix>`.
    pub fn key(&self, prefix: &str, suffix: &str) -> String {
        format!("{}{}.{suffix}", self.dir_key(prefix), self.node)
    }

    /// The build date (from the id).
    pub fn date(&self) -> i64 {
        parse_build_id(&self.build_id).map_or(0, |(d, _)| d)
    }

    /// The commit part of the id (`nogit` when the build had none).
    pub fn commit(&self) -> &str {
        self.build_id.split_once('-').map_or("", |(_, c)| c)
    }
}

/// `prefix/rest`, or `rest` when the prefix is empty.
pub fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{prefix}/{rest}")
    }
}

/// The key prefix of one node's builds (with its trailing slash).
pub fn node_prefix(prefix: &str, node: &str) -> String {
    join(prefix, &format!("{node}/"))
}

/// The build id of an image built at `date` from `commit`.
pub fn build_id(date: i64, commit: Option<&str>) -> String {
    let commit = match commit {
        Some(c) if c.len() >= 12 && c.bytes().all(|b| b.is_ascii_hexdigit()) => {
            c[..12].to_ascii_lowercase()
        }
        _ => "nogit".to_string(),
    };
    format!("{}-{commit}", compact(date))
}

/// The date and commit of a build id, if it is one.
pub fn parse_build_id(id: &str) -> Option<(i64, String)> {
    let (date, commit) = id.split_once('-')?;
    let valid_commit = commit == "nogit"
        || (commit.len() == 12
            && commit
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    valid_commit.then_some(())?;
    Some((parse_compact(date)?, commit.to_string()))
}

/// A key under `prefix` that is a file of a build prov published: its build and file name.
pub fn parse_key(prefix: &str, key: &str) -> Option<(BuildDir, String)> {
    let rest = if prefix.is_empty() {
        key
    } else {
        key.strip_prefix(prefix)?.strip_prefix('/')?
    };
    let mut parts = rest.split('/');
    let (node, id, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || node.is_empty() || file.is_empty() {
        return None;
    }
    parse_build_id(id)?;
    Some((
        BuildDir {
            node: node.to_string(),
            build_id: id.to_string(),
        },
        file.to_string(),
    ))
}

/// Is `file` the image of `node` (`<node>.img.xz` or `.img.zst`)? Returns its extension.
pub fn image_extension<'a>(node: &str, file: &'a str) -> Option<&'a str> {
    let ext = file.strip_prefix(node)?.strip_prefix('.')?;
    IMAGE_EXTENSIONS.contains(&ext).then_some(ext)
}

/// `90d`, `12h`, `30m`, `45s`, `2w`.
pub fn parse_age(s: &str) -> Result<Duration> {
    let s = s.trim();
    let bad = || {
        Error::usage(format!(
            "--older-than {s}: expected a number with d, h, m, s or w (e.g. 90d)"
        ))
    };
    let unit = s.chars().last().ok_or_else(bad)?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let secs = match unit {
        'w' => 7 * 86_400,
        'd' => 86_400,
        'h' => 3600,
        'm' => 60,
        's' => 1,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_ids_and_keys() {
        let id = build_id(1_796_581_800, Some("0123456789ABCDEF0123"));
        assert_eq!(id, "20261206T183000Z-0123456789ab");
        assert_eq!(build_id(0, None), "19700101T000000Z-nogit");
        assert_eq!(build_id(0, Some("dirty")), "19700101T000000Z-nogit");
        assert_eq!(
            parse_build_id(&id),
            Some((1_796_581_800, "0123456789ab".into()))
        );
        assert_eq!(parse_build_id("20261206T183000Z-xyz"), None);
        let b = BuildDir {
            node: "golyat-1".into(),
            build_id: id.clone(),
        };
        let key = b.key("images/workers", "img.xz");
        assert_eq!(
            key,
            "images/workers/golyat-1/20261206T183000Z-0123456789ab/golyat-1.img.xz"
        );
        assert_eq!(
            parse_key("images/workers", &key),
            Some((b.clone(), "golyat-1.img.xz".into()))
        );
        assert_eq!(
            b.key("", "manifest.json"),
            format!("golyat-1/{id}/golyat-1.manifest.json")
        );
        assert_eq!(parse_key("images", &key), None);
        assert_eq!(
            parse_key("images/workers", "images/workers/golyat-1/latest/x"),
            None
        );
        assert_eq!(
            image_extension("golyat-1", "golyat-1.img.zst"),
            Some("img.zst")
        );
        assert_eq!(image_extension("golyat-1", "golyat-1.img.xz.sha256"), None);
        assert_eq!(b.commit(), "0123456789ab");
        assert_eq!(b.date(), 1_796_581_800);
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("90d").unwrap(), Duration::from_secs(90 * 86_400));
        assert_eq!(parse_age("2w").unwrap(), Duration::from_secs(14 * 86_400));
        assert_eq!(parse_age("30m").unwrap(), Duration::from_secs(1800));
        assert!(parse_age("90").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("-1d").is_err());
    }
}
