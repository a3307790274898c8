//! `ini_file` (community.general): one option (or a section) of an INI file.
//!
//! A line-for-line port of the collection's `do_ini`, so files come out byte for byte as
//! Ansible writes them: the file is read as UTF-8 with its BOM dropped and `\r\n`/`\r` read as
//! `\n` (Python's universal newlines); a missing final newline is added (and counts as a
//! change); the lines before the first section form a fake section (used when `section` is
//! null); a missing option goes after the section's last line that is neither blank nor a
//! comment; a missing section is appended at the end. Commented-out options (`# opt = x`) are
//! reused unless `modify_inactive_option: false`. When nothing changes the file is left as it
//! is, line endings included.

use super::args::Presence;
use super::attrs::AttrSpec;
use super::content::{WriteSpec, plan_write};
use super::lineinfile::split_lines;
use super::{Args, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};
use crate::pyre::Pattern;
use crate::template::to_text;

pub struct IniFile;

const OPTIONS: &[&str] = super::attrs::with_file_options![
    "path",
    "dest",
    "section",
    "section_has_values",
    "option",
    "value",
    "values",
    "backup",
    "state",
    "exclusive",
    "no_extra_spaces",
    "ignore_spaces",
    "allow_no_value",
    "modify_inactive_option",
    "create",
    "follow",
];

/// The name of the section that stands for the lines before the first section header (the
/// collection uses a commit hash, so that no real section can match it).
const FAKE: &str = "ad01e11446efb704fcdbdb21f2c43757423d91c5";

fn err(m: impl std::fmt::Display) -> Error {
    Error::runtime(format!("ini_file: {m}"))
}

impl Module for IniFile {
    fn name(&self) -> &'static str {
        "ini_file"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        super::file::unsupported(&a, &["attributes", "selevel", "serole", "setype", "seuser"])?;
        let path = a.req_str(&["path", "dest"])?;
        let present = a.choose(&["state"], Presence::Present)? == Presence::Present;
        let value = a.str(&["value"])?;
        if value.is_some() && a.has("values") {
            return Err(err("parameters are mutually exclusive: value|values"));
        }
        let allow_no_value = a.bool(&["allow_no_value"], false)?;
        let values = match value {
            Some(v) => vec![v],
            None => a.list(&["values"])?,
        };
        if present && !allow_no_value && values.is_empty() {
            return Err(err(
                "Parameter 'value(s)' must be defined if state=present and allow_no_value=False.",
            ));
        }
        let create = a.bool(&["create"], true)?;
        Ok(Box::new(IniPlan {
            cur_at: Default::default(),
            spec: WriteSpec {
                path,
                attrs: AttrSpec::from_args(&a)?,
                backup: a.bool(&["backup"], false)?,
                follow: a.bool(&["follow"], false)?,
                make_parents: create,
                ..Default::default()
            },
            create,
            edit: Edit {
                section: a.str(&["section"])?,
                has_values: conditions(&a)?,
                option: a.str(&["option"])?,
                values,
                present,
                exclusive: a.bool(&["exclusive"], true)?,
                no_extra_spaces: a.bool(&["no_extra_spaces"], false)?,
                ignore_spaces: a.bool(&["ignore_spaces"], false)?,
                allow_no_value,
                modify_inactive: a.bool(&["modify_inactive_option"], true)?,
            },
        }))
    }
}

/// `section_has_values`: a list of `{option, value | values}`.
fn conditions(a: &Args) -> Result<Vec<Cond>> {
    let Some(list) = a.get(&["section_has_values"]) else {
        return Ok(Vec::new());
    };
    let bad = || err("section_has_values must be a list of {option, value or values} mappings");
    let mut out = Vec::new();
    for item in list.try_iter().map_err(|_| bad())? {
        let field = |k: &str| {
            item.get_attr(k)
                .ok()
                .filter(|v| !v.is_none() && !v.is_undefined())
        };
        if item.kind() != minijinja::value::ValueKind::Map {
            return Err(bad());
        }
        for key in item.try_iter().map_err(|_| bad())? {
            let key = to_text(&key);
            if !["option", "value", "values"].contains(&key.as_str()) {
                return Err(err(format!(
                    "section_has_values: unsupported parameter '{key}' (option, value, values)"
                )));
            }
        }
        let option = field("option")
            .map(|v| to_text(&v))
            .ok_or_else(|| err("section_has_values: option is required"))?;
        let values = match (field("value"), field("values")) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "section_has_values: parameters are mutually exclusive: value|values",
                ));
            }
            (Some(v), None) => vec![to_text(&v)],
            (None, Some(vs)) if vs.kind() == minijinja::value::ValueKind::String => to_text(&vs)
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            (None, Some(vs)) => vs
                .try_iter()
                .map_err(|_| bad())?
                .map(|v| to_text(&v))
                .collect(),
            (None, None) => Vec::new(),
        };
        out.push(Cond { option, values });
    }
    Ok(out)
}

/// One `section_has_values` condition: the section has `option`, with one of `values` (any
/// value when empty).
#[derive(Clone, Debug)]
struct Cond {
    option: String,
    values: Vec<String>,
}

/// What to do to the lines (the parameters of the collection's `do_ini`).
#[derive(Clone, Debug)]
struct Edit {
    section: Option<String>,
    has_values: Vec<Cond>,
    option: Option<String>,
    values: Vec<String>,
    present: bool,
    exclusive: bool,
    no_extra_spaces: bool,
    ignore_spaces: bool,
    allow_no_value: bool,
    modify_inactive: bool,
}

struct IniPlan {
    cur_at: FileRef,
    spec: WriteSpec,
    create: bool,
    edit: Edit,
}

/// The groups of the collection's option patterns that it reads: the comment character
/// (group 2) and the value (group 8).
struct OptMatch {
    comment: String,
    value: String,
}

/// `match_opt` (`active: false`: commented-out options too) and `match_active_opt`, with
/// Python's `re.match` semantics (`$` also matches before the line's final newline).
fn match_option(option: &str, line: &str, active: bool) -> Result<Option<OptMatch>> {
    let option = regex::escape(option);
    let pattern = if active {
        format!(r"^()()( |\t)*({option})( |\t)*(=|$)( |\t)*(.*)")
    } else {
        format!(r"^( |\t)*([#;]?)( |\t)*({option})( |\t)*(=|$)( |\t)*(.*)")
    };
    let re = Pattern::plain(&pattern).map_err(err)?;
    let body = line.strip_suffix('\n').unwrap_or(line);
    let caps = re.captures(body).map_err(err)?;
    Ok(caps.map(|c| {
        let group = |i| c.get(i).map_or("", |m| m.as_str()).to_string();
        OptMatch {
            comment: group(2),
            value: group(8),
        }
    }))
}

/// A blank line or a comment (`^[ \t]*([#;].*)?$`).
fn blank_or_comment(line: &str) -> bool {
    let body = line.strip_suffix('\n').unwrap_or(line);
    let t = body.trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#') || t.starts_with(';')
}

/// The file as Python reads it with `encoding="utf-8-sig"` in text mode: BOM dropped,
/// universal newlines. Bytes that are not UTF-8 are an error, as they are for Ansible.
fn read_lines(raw: &[u8]) -> std::result::Result<Vec<String>, String> {
    let text = std::str::from_utf8(raw).map_err(|e| {
        format!(
            "the file is not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    Ok(split_lines(&text))
}

/// The result of an edit: the new lines, whether they changed, and the message.
#[derive(Debug, PartialEq)]
struct Edited {
    lines: Vec<String>,
    changed: bool,
    msg: &'static str,
}

/// The working state of one edit (the locals of `do_ini` that its helpers change).
struct Work<'e> {
    e: &'e Edit,
    section_lines: Vec<String>,
    changed_lines: Vec<bool>,
    changed: bool,
    msg: &'static str,
}

impl Work<'_> {
    fn option(&self) -> Result<&str> {
        self.e.option.as_deref().ok_or_else(|| {
            err("option is required when value(s) are given for a section that exists")
        })
    }

    /// `match_function`: commented-out options too unless `modify_inactive_option: false`.
    fn matches(&self, line: &str) -> Result<Option<OptMatch>> {
        match_option(self.option()?, line, !self.e.modify_inactive)
    }

    fn assignment(&self, option: &str, value: &str) -> String {
        if self.e.no_extra_spaces {
            format!("{option}={value}\n")
        } else {
            format!("{option} = {value}\n")
        }
    }

    /// `update_section_line`.
    fn update(&mut self, index: usize, newline: String) -> Result<()> {
        let option = self.option()?.to_string();
        let mut option_changed = None;
        if self.e.ignore_spaces {
            let old = match_option(&option, &self.section_lines[index], false)?
                .ok_or_else(|| err("internal error: a matched option no longer matches"))?;
            if old.comment.is_empty() {
                let new = match_option(&option, &newline, false)?
                    .ok_or_else(|| err("internal error: a new option line does not match"))?;
                option_changed = Some(old.value != new.value);
            }
        }
        let option_changed = option_changed.unwrap_or(self.section_lines[index] != newline);
        if option_changed {
            self.section_lines[index] = newline;
            self.changed = true;
            self.msg = "option changed";
        }
        self.changed_lines[index] = true;
        Ok(())
    }
}

impl Edit {
    fn section_has_values(&self, lines: &[String]) -> Result<bool> {
        for cond in &self.has_values {
            let mut found = false;
            for line in lines {
                if let Some(m) = match_option(&cond.option, line, false)?
                    && (cond.values.is_empty() || cond.values.contains(&m.value))
                {
                    found = true;
                    break;
                }
            }
            if !found {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// `do_ini` on the file's lines.
    fn apply(&self, mut ini_lines: Vec<String>) -> Result<Edited> {
        let mut values: Vec<String> = Vec::new();
        for v in &self.values {
            if !values.contains(v) {
                values.push(v.clone());
            }
        }
        let mut changed = false;
        if ini_lines.is_empty() {
            ini_lines.push("\n".into());
        }
        if let Some(last) = ini_lines.last_mut()
            && !last.ends_with('\n')
        {
            last.push('\n');
            changed = true;
        }
        ini_lines.insert(0, format!("[{FAKE}]"));
        ini_lines.push("[".into());
        let section = match self.section.as_deref() {
            Some(s) if !s.is_empty() => s,
            _ => FAKE,
        };
        let section_re = Pattern::plain(&format!(r"^\[\s*{}\s*\]", regex::escape(section.trim())))
            .map_err(err)?;
        let mut within = false;
        let (mut start, mut end) = (0, 0);
        for (index, line) in ini_lines.iter().enumerate() {
            if within && line.starts_with('[') {
                if self.section_has_values(&ini_lines[start..index])? {
                    end = index;
                    break;
                }
                within = false;
                start = 0;
                end = 0;
            }
            if section_re.is_match(line).map_err(err)? {
                within = true;
                start = index;
            }
        }
        let after = ini_lines.split_off(end);
        let section_lines = ini_lines.split_off(start);
        let before = ini_lines;
        let mut w = Work {
            e: self,
            changed_lines: vec![false; section_lines.len()],
            section_lines,
            changed,
            msg: "OK",
        };
        let option = self.option.as_deref().filter(|o| !o.is_empty());
        let mut no_value_present = false;

        if self.present
            && let Some(option) = option
        {
            for index in 0..w.section_lines.len() {
                let Some(m) = w.matches(&w.section_lines[index])? else {
                    continue;
                };
                if !values.is_empty() && values.contains(&m.value) {
                    let newline = if m.value.is_empty() && self.allow_no_value {
                        no_value_present = true;
                        format!("{option}\n")
                    } else {
                        w.assignment(option, &m.value)
                    };
                    w.update(index, newline)?;
                    if let Some(i) = values.iter().position(|v| *v == m.value) {
                        values.remove(i);
                    }
                } else if values.is_empty() && self.allow_no_value {
                    w.update(index, format!("{option}\n"))?;
                    no_value_present = true;
                    break;
                }
            }
        }

        if self.present && self.exclusive && !self.allow_no_value {
            if !values.is_empty() {
                for index in 0..w.section_lines.len() {
                    if !w.changed_lines[index] && w.matches(&w.section_lines[index])?.is_some() {
                        let newline = w.assignment(w.option()?, &values.remove(0));
                        w.update(index, newline)?;
                        if values.is_empty() {
                            break;
                        }
                    }
                }
            }
            for index in (1..w.section_lines.len()).rev() {
                if !w.changed_lines[index] && w.matches(&w.section_lines[index])?.is_some() {
                    w.section_lines.remove(index);
                    w.changed_lines.remove(index);
                    w.changed = true;
                    w.msg = "option changed";
                }
            }
        }

        if self.present {
            for index in (1..=w.section_lines.len()).rev() {
                if blank_or_comment(&w.section_lines[index - 1]) {
                    continue;
                }
                if let Some(option) = option {
                    if !values.is_empty() {
                        for v in values.iter().rev() {
                            let line = w.assignment(option, v);
                            w.section_lines.insert(index, line);
                        }
                        w.msg = "option added";
                        w.changed = true;
                    } else if self.allow_no_value && !no_value_present {
                        w.section_lines.insert(index, format!("{option}\n"));
                        w.msg = "option added";
                        w.changed = true;
                    }
                }
                break;
            }
        } else if let Some(option) = option {
            let keep = |line: &String| -> Result<bool> {
                Ok(match match_option(option, line, true)? {
                    None => true,
                    Some(m) => !(self.exclusive || values.contains(&m.value)),
                })
            };
            if self.exclusive || !values.is_empty() {
                let mut kept = Vec::new();
                for line in &w.section_lines {
                    if keep(line)? {
                        kept.push(line.clone());
                    }
                }
                if kept != w.section_lines {
                    w.section_lines = kept;
                    w.changed = true;
                    w.msg = "option changed";
                }
            }
        } else if !w.section_lines.is_empty() {
            w.section_lines.clear();
            w.msg = "section removed";
            w.changed = true;
        }

        let mut lines = before;
        lines.append(&mut w.section_lines);
        lines.extend(after);
        lines.remove(0);
        lines.pop();
        let (mut changed, mut msg) = (w.changed, w.msg);

        if !within && self.present {
            lines.push(format!("[{section}]\n"));
            msg = "section and option added";
            let assignment = |o: &str, v: &str| w.assignment(o, v);
            for cond in &self.has_values {
                if Some(cond.option.as_str()) != self.option.as_deref() {
                    if !cond.values.is_empty() {
                        for v in &cond.values {
                            lines.push(assignment(&cond.option, v));
                        }
                    } else if self.allow_no_value {
                        lines.push(format!("{}\n", cond.option));
                    }
                } else if !self.exclusive {
                    for v in &cond.values {
                        if !values.contains(v) {
                            values.push(v.clone());
                        }
                    }
                }
            }
            match option {
                Some(option) if !values.is_empty() => {
                    for v in &values {
                        lines.push(assignment(option, v));
                    }
                }
                Some(option) if self.allow_no_value => lines.push(format!("{option}\n")),
                _ => msg = "only section added",
            }
            changed = true;
        }
        Ok(Edited {
            lines,
            changed,
            msg,
        })
    }
}

impl Planner for IniPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.cur_at = p.read(&self.spec.path);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.cur_at)?;
        let path = self.spec.path.clone();
        if cur.exists && !cur.is_file() {
            return Ok(Plan::fail(format!(
                "{path} exists and is not a regular file"
            )));
        }
        if !cur.exists && !self.create {
            return Ok(Plan::fail(format!("Destination {path} does not exist!")).with("rc", 257));
        }
        let raw = match (&cur.content, cur.exists) {
            (_, false) => Vec::new(),
            (Some(c), true) => c.clone(),
            (None, true) => {
                return Ok(Plan::fail(format!("{path} is too large for ini_file")));
            }
        };
        let lines = match read_lines(&raw) {
            Ok(l) => l,
            Err(m) => return Ok(Plan::fail(format!("{path}: {m}"))),
        };
        let edited = self.edit.apply(lines)?;
        let mut plan = Plan::ok();
        if edited.changed {
            plan_write(
                &mut plan,
                cur,
                edited.lines.concat().into_bytes(),
                &self.spec,
            )?;
        } else if cur.exists {
            plan_write(&mut plan, cur, raw, &self.spec)?;
        }
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        Ok(plan.with("msg", edited.msg).with("path", path))
    }
}

#[cfg(test)]
#[path = "ini_file_tests.rs"]
mod tests;
