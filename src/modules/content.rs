//! Planning "this file should contain these bytes": shared by copy, template, lineinfile,
//! blockinfile and replace. Compares content (or its sha256 for large files), produces the
//! content diff and the attribute diff, and one [`Step::Write`] (or only a
//! [`Step::SetAttrs`] when just the attributes differ).

use super::attrs::AttrSpec;
use super::{CONTENT_LIMIT, Diff, FileState, Plan, Step, WriteFile};
use crate::error::{Error, Result};

/// How to write.
#[derive(Clone, Debug, Default)]
pub struct WriteSpec {
    pub path: String,
    pub attrs: AttrSpec,
    pub validate: Option<String>,
    pub backup: bool,
    pub follow: bool,
    pub make_parents: bool,
    /// Mode of the source file, for `mode: preserve`.
    pub src_mode: Option<u32>,
}

pub use crate::host::sha256_hex;

/// Check a `validate` command the way Ansible does (it must contain `%s`).
pub fn check_validate(module: &str, validate: &Option<String>) -> Result<()> {
    match validate {
        Some(v) if !v.contains("%s") => Err(Error::runtime(format!(
            "{module}: validate must contain %s: {v}"
        ))),
        _ => Ok(()),
    }
}

/// Text for a diff side: the content if it is small text, else a placeholder.
pub fn diff_text(content: Option<&[u8]>, size: u64) -> String {
    match content {
        Some(c) if size <= CONTENT_LIMIT => match std::str::from_utf8(c) {
            Ok(t) => t.to_string(),
            Err(_) => format!("<binary file, {size} bytes>\n"),
        },
        _ => format!("<file of {size} bytes, not shown>\n"),
    }
}

/// Does the current file already hold exactly `new`?
pub fn same_content(cur: &FileState, new: &[u8]) -> bool {
    if !cur.is_file() {
        return false;
    }
    match (&cur.content, &cur.sha256) {
        (Some(c), _) => c.as_slice() == new,
        (None, Some(sum)) => *sum == sha256_hex(new),
        _ => false,
    }
}

/// Plan writing `new` over `cur`. `cur` is the probed state of `spec.path` (followed).
pub fn plan_write(plan: &mut Plan, cur: &FileState, new: Vec<u8>, spec: &WriteSpec) -> Result<()> {
    plan.result
        .insert("checksum".into(), sha256_hex(&new).into());
    plan.result.insert("size".into(), (new.len() as i64).into());
    if cur.exists && !cur.is_file() {
        return Err(Error::runtime(format!(
            "{} exists and is not a regular file",
            spec.path
        )));
    }
    if !same_content(cur, &new) {
        let before = if cur.exists {
            diff_text(cur.content.as_deref(), cur.size)
        } else {
            String::new()
        };
        let after = diff_text(Some(&new), new.len() as u64);
        plan.diffs.push(Diff {
            before_header: format!("{} (content)", spec.path),
            after_header: format!("{} (content)", spec.path),
            before,
            after,
        });
        let attrs = if cur.exists {
            let (attrs, diff) = spec.attrs.changes(cur, spec.src_mode)?;
            plan.diffs.extend(diff);
            attrs
        } else {
            spec.attrs.for_new(false, spec.src_mode)?
        };
        plan.step(Step::Write(WriteFile {
            path: spec.path.clone(),
            content: new,
            source: None,
            attrs,
            validate: spec.validate.clone(),
            backup: spec.backup && cur.exists,
            follow: spec.follow,
            make_parents: spec.make_parents,
        }));
    } else {
        let (attrs, diff) = spec.attrs.changes(cur, spec.src_mode)?;
        if !attrs.is_empty() {
            plan.diffs.extend(diff);
            plan.step(Step::SetAttrs {
                path: spec.path.clone(),
                attrs,
                recurse: false,
                follow: spec.follow,
            });
        }
    }
    Ok(())
}
