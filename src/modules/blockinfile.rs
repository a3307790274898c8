//! `blockinfile`: a block of lines between markers, inserted, updated or removed.
//!
//! Ported from Ansible's algorithm: the block lives between `# BEGIN ANSIBLE MANAGED BLOCK`
//! and `# END ANSIBLE MANAGED BLOCK` (the `marker` with `{mark}` replaced); an existing block is
//! replaced in place, a new one goes after the last `insertafter` match (default `EOF`) or
//! before the last `insertbefore` match (or `BOF`).

use super::args::Presence;

use super::attrs::AttrSpec;
use super::content::{WriteSpec, check_validate, plan_write};
use super::lineinfile::split_lines;
use super::{Args, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};
use crate::pyre::Pattern;

pub struct BlockInFile;

const OPTIONS: &[&str] = super::attrs::with_file_options![
    "path",
    "dest",
    "destfile",
    "name",
    "state",
    "marker",
    "block",
    "content",
    "insertafter",
    "insertbefore",
    "create",
    "backup",
    "validate",
    "marker_begin",
    "marker_end",
    "append_newline",
    "prepend_newline",
];

impl Module for BlockInFile {
    fn path_options(&self) -> &'static [&'static str] {
        &["path", "dest", "destfile", "name"]
    }
    fn name(&self) -> &'static str {
        "blockinfile"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        super::file::unsupported(&a, &["attributes", "selevel", "serole", "setype", "seuser"])?;
        let insertafter = a.str(&["insertafter"])?;
        let insertbefore = a.str(&["insertbefore"])?;
        if insertafter.is_some() && insertbefore.is_some() {
            return Err(Error::runtime(
                "blockinfile: parameters are mutually exclusive: insertbefore|insertafter",
            ));
        }
        let (insertafter, insertbefore) = match (insertafter, insertbefore) {
            (None, None) => (Some("EOF".to_string()), None),
            x => x,
        };
        let pattern = match (&insertafter, &insertbefore) {
            (Some(x), _) if x != "EOF" => Some(x.clone()),
            (_, Some(x)) if x != "BOF" => Some(x.clone()),
            _ => None,
        };
        let insert_re = pattern
            .map(|p| Pattern::plain(&p).map_err(|e| Error::runtime(format!("blockinfile: {e}"))))
            .transpose()?;
        let marker = a
            .str(&["marker"])?
            .unwrap_or_else(|| "# {mark} ANSIBLE MANAGED BLOCK".into());
        let begin = a.str(&["marker_begin"])?.unwrap_or_else(|| "BEGIN".into());
        let end = a.str(&["marker_end"])?.unwrap_or_else(|| "END".into());
        let validate = a.str(&["validate"])?;
        check_validate("blockinfile", &validate)?;
        let create = a.bool(&["create"], false)?;
        Ok(Box::new(BlockPlan {
            cur_at: Default::default(),
            spec: WriteSpec {
                path: a.req_str(&["path", "dest", "destfile", "name"])?,
                attrs: AttrSpec::from_args(&a)?,
                validate,
                backup: a.bool(&["backup"], false)?,
                follow: true,
                make_parents: create,
                src_mode: None,
            },
            present: a.choose(&["state"], Presence::Present)? == Presence::Present,
            block: a.str(&["block", "content"])?.unwrap_or_default(),
            marker0: format!("{}\n", marker.replace("{mark}", &begin)),
            marker1: format!("{}\n", marker.replace("{mark}", &end)),
            insert_re,
            insertafter,
            insertbefore,
            create,
            append_newline: a.bool(&["append_newline"], false)?,
            prepend_newline: a.bool(&["prepend_newline"], false)?,
        }))
    }
}

struct BlockPlan {
    /// Where a probe's answer is (asked in `ask`).
    cur_at: FileRef,
    spec: WriteSpec,
    present: bool,
    block: String,
    marker0: String,
    marker1: String,
    insert_re: Option<Pattern>,
    insertafter: Option<String>,
    insertbefore: Option<String>,
    create: bool,
    append_newline: bool,
    prepend_newline: bool,
}

impl Planner for BlockPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.cur_at = p.read(&self.spec.path);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.cur_at)?;
        let path = &self.spec.path;
        if cur.is_dir() {
            return Ok(Plan::fail(format!("Path {path} is a directory !")).with("rc", 256));
        }
        if !cur.exists && !self.create && self.present {
            return Ok(Plan::fail(format!("Path {path} does not exist !")).with("rc", 257));
        }
        if !cur.exists && !self.present {
            return Ok(Plan::ok().with("msg", format!("File {path} not present")));
        }
        let original = cur.text();
        let mut lines = split_lines(original.as_deref().unwrap_or(""));
        let blocklines: Vec<String> = if self.present && !self.block.is_empty() {
            let mut block = self.block.clone();
            if !block.ends_with('\n') {
                block.push('\n');
            }
            let mut v = vec![self.marker0.clone()];
            v.extend(split_lines(&block));
            v.push(self.marker1.clone());
            v
        } else {
            Vec::new()
        };
        let (mut n0, mut n1) = (None, None);
        for (i, l) in lines.iter().enumerate() {
            if *l == self.marker0 {
                n0 = Some(i);
            }
            if *l == self.marker1 {
                n1 = Some(i);
            }
        }
        let mut at = match (n0, n1) {
            (Some(a), Some(b)) if a < b => {
                lines.drain(a..=b);
                a
            }
            (Some(a), Some(b)) => {
                lines.drain(b..=a);
                b
            }
            _ => {
                if let Some(re) = &self.insert_re {
                    let mut found = None;
                    for (i, l) in lines.iter().enumerate() {
                        if re
                            .is_match(l.strip_suffix('\n').unwrap_or(l))
                            .map_err(|e| Error::runtime(format!("blockinfile: {e}")))?
                        {
                            found = Some(i);
                        }
                    }
                    match found {
                        None => lines.len(),
                        Some(i) if self.insertafter.is_some() => i + 1,
                        Some(i) => i,
                    }
                } else if self.insertbefore.is_some() {
                    0
                } else {
                    lines.len()
                }
            }
        };
        if at > 0 && !lines[at - 1].ends_with('\n') {
            lines[at - 1].push('\n');
        }
        if self.prepend_newline && self.present && at != 0 && lines[at - 1] != "\n" {
            lines.insert(at, "\n".into());
            at += 1;
        }
        let count = blocklines.len();
        lines.splice(at..at, blocklines);
        if self.append_newline && self.present {
            let after = at + count;
            if after < lines.len() && lines[after] != "\n" {
                lines.insert(after, "\n".into());
            }
        }
        let result = lines.concat();
        let msg = if original.as_deref() == Some(result.as_str()) {
            ""
        } else if original.is_none() {
            "File created"
        } else if count == 0 {
            "Block removed"
        } else {
            "Block inserted"
        };
        let mut plan = Plan::ok();
        plan_write(&mut plan, cur, result.into_bytes(), &self.spec)?;
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        Ok(plan.with("msg", msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Step;
    use crate::modules::testing::{args, file, missing, plan_with};
    use minijinja::Value;

    fn run(content: Option<&str>, pairs: &[(&str, &str)]) -> Plan {
        let a = args(
            "blockinfile",
            &pairs
                .iter()
                .map(|(k, v)| (*k, Value::from(*v)))
                .chain([("path", Value::from("/f"))])
                .collect::<Vec<_>>(),
        );
        let st = content
            .map(|c| file("/f", 0o644, c))
            .unwrap_or_else(|| missing("/f"));
        plan_with(&BlockInFile, a, &[st])
    }

    fn written(p: &Plan) -> String {
        match &p.steps[0] {
            Step::Write(w) => String::from_utf8(w.content.clone()).unwrap(),
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn inserts_replaces_and_removes() {
        let p = run(Some("a\n"), &[("block", "x=1\ny=2")]);
        assert_eq!(
            written(&p),
            "a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\ny=2\n# END ANSIBLE MANAGED BLOCK\n"
        );
        assert_eq!(p.result["msg"], Value::from("Block inserted"));
        let existing = "a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\nb\n";
        let p = run(Some(existing), &[("block", "x=2")]);
        assert_eq!(
            written(&p),
            "a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=2\n# END ANSIBLE MANAGED BLOCK\nb\n"
        );
        let p = run(Some(existing), &[("block", "x=1\n")]);
        assert!(!p.changed);
        let p = run(Some(existing), &[("state", "absent")]);
        assert_eq!(written(&p), "a\nb\n");
        assert_eq!(p.result["msg"], Value::from("Block removed"));
    }

    #[test]
    fn insert_positions_and_custom_marker() {
        let p = run(
            Some("a\nb"),
            &[
                ("block", "z"),
                ("insertbefore", "BOF"),
                ("marker", "## {mark} prov"),
            ],
        );
        assert_eq!(written(&p), "## BEGIN prov\nz\n## END prov\na\nb");
        let p = run(
            Some("[s]\nk=v\n[t]\n"),
            &[("block", "z"), ("insertafter", "^\\[s\\]$")],
        );
        assert_eq!(
            written(&p),
            "[s]\n# BEGIN ANSIBLE MANAGED BLOCK\nz\n# END ANSIBLE MANAGED BLOCK\nk=v\n[t]\n"
        );
        let p = run(None, &[("block", "z")]);
        assert_eq!(p.failed.as_deref(), Some("Path /f does not exist !"));
        let p = run(None, &[("block", "z"), ("create", "true")]);
        assert_eq!(p.result["msg"], Value::from("File created"));
    }
}
