//! `replace`: substitute every match of a (multi-line) regular expression in a file, optionally
//! only in the section `after`/`before` other patterns, as Ansible's module does.

use super::attrs::AttrSpec;
use super::content::{WriteSpec, check_validate, plan_write};
use super::{Args, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};
use crate::pyre::{Flags, Pattern};

pub struct Replace;

const OPTIONS: &[&str] = super::attrs::with_file_options![
    "path", "dest", "destfile", "name", "regexp", "replace", "after", "before", "backup",
    "validate", "encoding",
];

impl Module for Replace {
    fn path_options(&self) -> &'static [&'static str] {
        &["path", "dest", "destfile", "name"]
    }
    fn name(&self) -> &'static str {
        "replace"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        super::file::unsupported(&a, &["attributes", "selevel", "serole", "setype", "seuser"])?;
        let validate = a.str(&["validate"])?;
        check_validate("replace", &validate)?;
        Ok(Box::new(ReplacePlan {
            cur_at: Default::default(),
            spec: WriteSpec {
                path: a.req_str(&["path", "dest", "destfile", "name"])?,
                attrs: AttrSpec::from_args(&a)?,
                validate,
                backup: a.bool(&["backup"], false)?,
                follow: true,
                make_parents: false,
                src_mode: None,
            },
            regexp: a.req_str(&["regexp"])?,
            replace: a.str(&["replace"])?.unwrap_or_default(),
            after: a.str(&["after"])?,
            before: a.str(&["before"])?,
        }))
    }
}

struct ReplacePlan {
    /// Where a probe's answer is (asked in `ask`).
    cur_at: FileRef,
    spec: WriteSpec,
    regexp: String,
    replace: String,
    after: Option<String>,
    before: Option<String>,
}

impl Planner for ReplacePlan {
    fn ask(&mut self, p: &mut Probes) {
        self.cur_at = p.read(&self.spec.path);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.cur_at)?;
        if !cur.exists {
            return Ok(
                Plan::fail(format!("Path {} does not exist !", self.spec.path)).with("rc", 257),
            );
        }
        let Some(contents) = cur.text() else {
            return Ok(Plan::fail(format!(
                "{} is too large for replace",
                self.spec.path
            )));
        };
        let pattern = match (&self.after, &self.before) {
            (Some(a), Some(b)) => Some(format!("{a}(?P<subsection>.*?){b}")),
            (Some(a), None) => Some(format!("{a}(?P<subsection>.*)")),
            (None, Some(b)) => Some(format!("(?P<subsection>.*){b}")),
            (None, None) => None,
        };
        let (section, range) = match &pattern {
            Some(p) => {
                let flags = Flags {
                    dotall: true,
                    ..Flags::default()
                };
                let re =
                    Pattern::new(p, flags).map_err(|e| Error::runtime(format!("replace: {e}")))?;
                let caps = re
                    .captures(&contents)
                    .map_err(|e| Error::runtime(format!("replace: {e}")))?;
                match caps.as_ref().and_then(|c| c.name("subsection")) {
                    Some(m) => (m.as_str().to_string(), Some((m.start(), m.end()))),
                    None => {
                        return Ok(Plan::fail(format!(
                            "Pattern for before/after params did not match the given file: {p}"
                        )));
                    }
                }
            }
            None => (contents.clone(), None),
        };
        let flags = Flags {
            multiline: true,
            ..Flags::default()
        };
        let fail = |e: String| Error::runtime(format!("replace: {e}"));
        let re = Pattern::new(&self.regexp, flags).map_err(fail)?;
        let count = re.count(&section).map_err(fail)?;
        let replaced = re.replace(&section, &self.replace, 0).map_err(fail)?;
        let mut plan = Plan::ok();
        let new = if count > 0 && replaced != section {
            plan.result
                .insert("msg".into(), format!("{count} replacements made").into());
            match range {
                Some((s, e)) => format!("{}{replaced}{}", &contents[..s], &contents[e..]),
                None => replaced,
            }
        } else {
            plan.result.insert("msg".into(), "".into());
            contents.clone()
        };
        plan_write(&mut plan, cur, new.into_bytes(), &self.spec)?;
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Step;
    use crate::modules::testing::{args, file, plan_with};
    use minijinja::Value;

    fn run(content: &str, pairs: &[(&str, &str)]) -> Plan {
        let a = args(
            "replace",
            &pairs
                .iter()
                .map(|(k, v)| (*k, Value::from(*v)))
                .chain([("path", Value::from("/f"))])
                .collect::<Vec<_>>(),
        );
        plan_with(&Replace, a, &[file("/f", 0o644, content)])
    }

    #[test]
    fn replaces_multiline_with_python_groups() {
        let p = run(
            "# swap\n/swap.img none swap sw 0 0\nUUID=x / ext4\n",
            &[("regexp", r"^([^#].*\sswap\s.*)$"), ("replace", r"# \1")],
        );
        let Step::Write(w) = &p.steps[0] else {
            panic!()
        };
        assert_eq!(
            String::from_utf8_lossy(&w.content),
            "# swap\n# /swap.img none swap sw 0 0\nUUID=x / ext4\n"
        );
        assert_eq!(p.result["msg"], Value::from("1 replacements made"));
        let p = run(
            "# /swap.img none swap sw 0 0\n",
            &[("regexp", r"^([^#].*\sswap\s.*)$"), ("replace", r"# \1")],
        );
        assert!(!p.changed);
    }

    #[test]
    fn after_and_before_limit_the_section() {
        let p = run(
            "a=1\n[x]\na=1\n[y]\na=1\n",
            &[
                ("regexp", "a=1"),
                ("replace", "a=2"),
                ("after", r"\[x\]"),
                ("before", r"\[y\]"),
            ],
        );
        let Step::Write(w) = &p.steps[0] else {
            panic!()
        };
        assert_eq!(
            String::from_utf8_lossy(&w.content),
            "a=1\n[x]\na=2\n[y]\na=1\n"
        );
    }
}
