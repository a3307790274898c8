//! `pam_limits` (community.general): one `domain type item value` line of
//! `/etc/security/limits.conf` (or `dest`).
//!
//! A port of the collection's loop: comment and blank lines are kept as they are; a line of four
//! fields (whitespace collapsed, its `# comment` cut off) for the same domain, type and item is
//! rewritten as `domain<TAB>type<TAB>item<TAB>value[<TAB>#comment]` when its value differs
//! (`use_max`/`use_min` keep the larger/smaller); without such a line one is appended. Ansible's
//! quirks are kept because they decide the bytes written: the comment of the first other line
//! that has one is reused when `comment` is empty (newline included), and every four-field line
//! must hold a valid value or the task fails.

use super::attrs::AttrSpec;
use super::content::{WriteSpec, plan_write};
use super::lineinfile::split_lines;
use super::{Args, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};

pub struct PamLimits;

const ITEMS: &[&str] = &[
    "core",
    "data",
    "fsize",
    "memlock",
    "nofile",
    "rss",
    "stack",
    "cpu",
    "nproc",
    "as",
    "maxlogins",
    "maxsyslogins",
    "priority",
    "locks",
    "sigpending",
    "msgqueue",
    "nice",
    "rtprio",
    "chroot",
];

const UNLIMITED: &[&str] = &["unlimited", "infinity", "-1"];

impl Module for PamLimits {
    fn name(&self) -> &'static str {
        "pam_limits"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "domain",
            "limit_type",
            "limit_item",
            "value",
            "use_max",
            "use_min",
            "backup",
            "dest",
            "comment",
        ])
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let limit_type = a
            .choice(&["limit_type"], &["soft", "hard", "-"], None)?
            .ok_or_else(|| Error::runtime("pam_limits: missing required option 'limit_type'"))?;
        let limit_item = a
            .choice(&["limit_item"], ITEMS, None)?
            .ok_or_else(|| Error::runtime("pam_limits: missing required option 'limit_item'"))?;
        let value = a.req_str(&["value"])?;
        let use_max = a.bool(&["use_max"], false)?;
        let use_min = a.bool(&["use_min"], false)?;
        if use_max && use_min {
            return Err(Error::runtime(
                "pam_limits: Cannot use use_min and use_max at the same time.",
            ));
        }
        check_value(&limit_item, &value, "").map_err(Error::runtime)?;
        Ok(Box::new(PamPlan {
            cur_at: Default::default(),
            dir_at: Default::default(),
            dest: a
                .str(&["dest"])?
                .unwrap_or_else(|| "/etc/security/limits.conf".into()),
            domain: a.req_str(&["domain"])?,
            limit_type,
            limit_item,
            value,
            use_max,
            use_min,
            backup: a.bool(&["backup"], false)?,
            comment: a.str(&["comment"])?.unwrap_or_default(),
        }))
    }
}

/// A limit's value as limits.conf(5) takes it (`_assert_is_valid_value`): for `nice` and
/// `priority` a number from -20 to 19, else a count or one of the words for no limit.
fn check_value(item: &str, value: &str, prefix: &str) -> std::result::Result<(), String> {
    let repr = |s: &str| crate::template::py_repr(&minijinja::Value::from(s));
    if item == "nice" || item == "priority" {
        if !int(value).is_some_and(|n| (-20..=19).contains(&n)) {
            return Err(format!(
                "{prefix} Value of {} for item {} is invalid. Value must be a number in the range -20 to 19 inclusive. Refer to the limits.conf(5) manual pages for more details.",
                repr(value),
                repr(item)
            ));
        }
    } else if !(UNLIMITED.contains(&value)
        || (!value.is_empty() && value.chars().all(|c| c.is_ascii_digit())))
    {
        return Err(format!(
            "{prefix} Value of {} for item {} is invalid. Value must either be 'unlimited', 'infinity' or -1, all of which indicate no limit, or a limit of 0 or larger. Refer to the limits.conf(5) manual pages for more details.",
            repr(value),
            repr(item)
        ));
    }
    Ok(())
}

/// Python's `int()` of a string (surrounding whitespace allowed; up to 38 digits).
fn int(s: &str) -> Option<i128> {
    s.trim_matches(py_space).parse().ok()
}

/// Python's `str.isspace` (what `\s` and `strip()` take): Unicode white space plus the
/// separators `\x1c`..`\x1f`.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

struct PamPlan {
    cur_at: FileRef,
    dir_at: FileRef,
    dest: String,
    domain: String,
    limit_type: String,
    limit_item: String,
    value: String,
    use_max: bool,
    use_min: bool,
    backup: bool,
    comment: String,
}

/// The new file, whether it changed, and the message (the limit's line).
struct Edited {
    text: String,
    changed: bool,
    message: String,
}

impl PamPlan {
    fn limit_line(&self, value: &str, comment: &mut String) -> String {
        if !comment.is_empty() {
            *comment = format!("\t#{comment}");
        }
        format!(
            "{}\t{}\t{}\t{value}{comment}\n",
            self.domain, self.limit_type, self.limit_item
        )
    }

    /// The new value of a matching line holding `actual`.
    fn new_value(&self, actual: &str) -> std::result::Result<String, String> {
        let num = |s: &str| int(s).ok_or_else(|| format!("invalid literal for int(): {s:?}"));
        let actual_unlimited = UNLIMITED.contains(&actual);
        let value_unlimited = UNLIMITED.contains(&self.value.as_str());
        let mut new = self.value.clone();
        if self.use_max {
            new = if actual_unlimited {
                actual.to_string()
            } else if value_unlimited {
                self.value.clone()
            } else {
                num(&self.value)?.max(num(actual)?).to_string()
            };
        }
        if self.use_min {
            new = match (actual_unlimited, value_unlimited) {
                (true, true) => actual.to_string(),
                (true, false) => self.value.clone(),
                (false, true) => actual.to_string(),
                (false, false) => num(&self.value)?.min(num(actual)?).to_string(),
            };
        }
        Ok(new)
    }

    fn edit(&self, text: &str, exists: bool) -> std::result::Result<Edited, String> {
        let mut out = String::new();
        let mut changed = !exists;
        let mut found = false;
        let mut message = String::new();
        let mut comment = self.comment.clone();
        let mut new_value = self.value.clone();
        for line in split_lines(text) {
            if line.starts_with('#') {
                out.push_str(&line);
                continue;
            }
            let collapsed = line
                .split(py_space)
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            if collapsed.is_empty() {
                out.push_str(&line);
                continue;
            }
            let content = collapsed.split('#').next().unwrap_or_default().trim_end();
            let old_comment = line.split_once('#').map(|(_, c)| c).unwrap_or_default();
            if comment.is_empty() {
                comment = old_comment.to_string();
            }
            let fields: Vec<&str> = content.split(' ').collect();
            let [domain, ltype, item, actual] = fields[..] else {
                out.push_str(&line);
                continue;
            };
            check_value(
                item,
                actual,
                &format!("Invalid configuration found in '{}'.", self.dest),
            )?;
            if domain != self.domain || ltype != self.limit_type || item != self.limit_item {
                out.push_str(&line);
                continue;
            }
            found = true;
            if self.value == actual {
                message = line.clone();
                out.push_str(&line);
                continue;
            }
            new_value = self.new_value(actual)?;
            if new_value != actual {
                changed = true;
                let new = self.limit_line(&new_value, &mut comment);
                out.push_str(&new);
                message = new;
            } else {
                message = line.clone();
                out.push_str(&line);
            }
        }
        if !found {
            changed = true;
            let new = self.limit_line(&new_value, &mut comment);
            out.push_str(&new);
            message = new;
        }
        Ok(Edited {
            text: out,
            changed,
            message,
        })
    }
}

impl Planner for PamPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.cur_at = p.read(&self.dest);
        let dir = match self.dest.rsplit_once('/') {
            Some(("", _)) => "/",
            Some((d, _)) => d,
            None => ".",
        };
        self.dir_at = p.stat_follow(dir);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.cur_at)?;
        let dir = obs.file(self.dir_at)?;
        if cur.exists && !cur.is_file() {
            return Ok(Plan::fail(format!("{} is not a regular file", self.dest)));
        }
        if !cur.exists && !dir.is_dir() {
            return Ok(Plan::fail(format!(
                "directory {} is not writable (check presence, access rights, use sudo)",
                dir.path
            )));
        }
        let raw = match (&cur.content, cur.exists) {
            (_, false) => Vec::new(),
            (Some(c), true) => c.clone(),
            (None, true) => return Ok(Plan::fail(format!("{} is too large", self.dest))),
        };
        let Ok(text) = String::from_utf8(raw) else {
            return Ok(Plan::fail(format!("{} is not UTF-8 text", self.dest)));
        };
        let edited = match self.edit(&text, cur.exists) {
            Ok(e) => e,
            Err(m) => return Ok(Plan::fail(m)),
        };
        let mut plan = Plan::ok();
        if edited.changed {
            let spec = WriteSpec {
                path: self.dest.clone(),
                attrs: AttrSpec::default(),
                backup: self.backup,
                ..Default::default()
            };
            plan_write(&mut plan, cur, edited.text.into_bytes(), &spec)?;
        }
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        Ok(plan.with("msg", edited.message))
    }
}

#[cfg(test)]
#[path = "pam_limits_tests.rs"]
mod tests;
