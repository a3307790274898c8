//! `getent` (ansible.builtin.getent): look entries up in a name service database and set the
//! fact `getent_<database>` (a dict of each entry's first field to the list of its other
//! fields), as Ansible's module does: it runs `getent DATABASE [KEY] [-s SERVICE]` on the host
//! (a read-only probe) and splits each output line on `split` (`:` for passwd, shadow, group
//! and gshadow, white space otherwise). A key found on several lines maps to the list of them.
//! Never changes anything; runs in check mode.

use indexmap::IndexMap;
use minijinja::Value;

use super::pylines::splitlines;
use super::{Args, CmdRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};
use crate::host::primitive::{Primitive, Run};

pub struct Getent;

impl Module for Getent {
    fn name(&self) -> &'static str {
        "getent"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["database", "key", "service", "split", "fail_key"])
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let database = a.req_str(&["database"])?;
        let split = a.str(&["split"])?;
        if split.as_deref() == Some("") {
            return Err(Error::runtime("getent: option 'split' must not be empty"));
        }
        let key = a.str(&["key"])?;
        let service = a.str(&["service"])?;
        for (name, v) in [
            ("database", Some(&database)),
            ("key", key.as_ref()),
            ("service", service.as_ref()),
        ] {
            if v.is_some_and(|s| s.contains('\0')) {
                return Err(Error::runtime(format!(
                    "getent: option '{name}' contains a NUL byte"
                )));
            }
        }
        Ok(Box::new(GetentPlan {
            out_at: Default::default(),
            key,
            service,
            fail_key: a.bool(&["fail_key"], true)?,
            split: split.or_else(|| {
                ["passwd", "shadow", "group", "gshadow"]
                    .contains(&database.as_str())
                    .then(|| ":".to_string())
            }),
            database,
        }))
    }
}

struct GetentPlan {
    out_at: CmdRef,
    database: String,
    key: Option<String>,
    service: Option<String>,
    /// `None`: runs of white space, as Python's `str.split()`.
    split: Option<String>,
    fail_key: bool,
}

impl GetentPlan {
    fn argv(&self) -> Vec<&str> {
        let mut argv = vec!["getent", self.database.as_str()];
        argv.extend(self.key.as_deref());
        if let Some(s) = &self.service {
            argv.extend(["-s", s.as_str()]);
        }
        argv
    }
}

/// The entries of getent's output: first field to the other fields, or to the list of them
/// when the first field repeats (Ansible's `seen` counting).
pub(crate) fn entries(out: &str, split: Option<&str>) -> Result<IndexMap<String, Value>> {
    let mut tree: IndexMap<String, Value> = IndexMap::new();
    let mut seen: IndexMap<String, Vec<Value>> = IndexMap::new();
    for line in splitlines(out) {
        let record: Vec<&str> = match split {
            Some(sep) => line.split(sep).collect(),
            None => line.split_whitespace().collect(),
        };
        let Some((first, rest)) = record.split_first() else {
            return Err(Error::runtime(format!(
                "getent: cannot split an empty line of getent's output: {line:?}"
            )));
        };
        let fields = Value::from(rest.iter().map(|s| Value::from(*s)).collect::<Vec<_>>());
        let all = seen.entry(first.to_string()).or_default();
        all.push(fields);
        tree.insert(
            first.to_string(),
            if all.len() == 1 {
                all[0].clone()
            } else {
                Value::from(all.clone())
            },
        );
    }
    Ok(tree)
}

impl Planner for GetentPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.out_at = p.primitive(Primitive::Run(Run::new(&self.argv())));
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = obs.cmd(self.out_at)?;
        let tree = format!("getent_{}", self.database);
        let facts = |entries: IndexMap<String, Value>| {
            Value::from_pairs([(tree.as_str(), Value::from_pairs(entries))])
        };
        let msg = match out.rc {
            0 => {
                let mut plan = Plan::ok().with(
                    "ansible_facts",
                    facts(entries(&out.stdout, self.split.as_deref())?),
                );
                plan.plain_facts = vec![tree.clone()];
                return Ok(plan);
            }
            1 => "Missing arguments, or database unknown.",
            2 => {
                let msg = "One or more supplied key could not be found in the database.";
                if !self.fail_key {
                    let mut e = IndexMap::new();
                    if let Some(k) = &self.key {
                        e.insert(k.clone(), Value::from(()));
                    }
                    let mut plan = Plan::ok().with("ansible_facts", facts(e)).with("msg", msg);
                    plan.plain_facts = vec![tree.clone()];
                    return Ok(plan);
                }
                msg
            }
            3 => "Enumeration not supported on this database.",
            127 => "Failed to find required executable \"getent\" in paths",
            _ => "Unexpected failure!",
        };
        Ok(Plan::fail(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, cmd, plan_answers, probes_of};
    use crate::modules::{Answer, Probe};

    fn run(pairs: &[(&str, Value)], answer: Answer) -> Plan {
        plan_answers(&Getent, args("getent", pairs), vec![answer])
    }

    #[test]
    fn passwd_entries_become_the_fact() {
        let p = run(
            &[("database", "passwd".into()), ("key", "root".into())],
            cmd(0, "root:x:0:0:root:/root:/bin/bash\n"),
        );
        assert!(!p.changed);
        assert_eq!(p.plain_facts, vec!["getent_passwd".to_string()]);
        let f = p.result["ansible_facts"].get_attr("getent_passwd").unwrap();
        assert_eq!(
            f.get_attr("root").unwrap().to_string(),
            "['x', '0', '0', 'root', '/root', '/bin/bash']"
        );
    }

    #[test]
    fn the_command_is_ansibles() {
        let a = args(
            "getent",
            &[
                ("database", "hosts".into()),
                ("key", "a b".into()),
                ("service", "files".into()),
            ],
        );
        let probes = probes_of(&Getent, a);
        assert!(
            matches!(&probes[0], Probe::Primitive(Primitive::Run(r)) if r.argv == ["getent", "hosts", "a b", "-s", "files"]),
            "{probes:?}"
        );
    }

    #[test]
    fn other_databases_split_on_white_space_and_repeats_become_lists() {
        let p = run(
            &[("database", "hosts".into())],
            cmd(
                0,
                "127.0.0.1       localhost\n::1  localhost ip6-localhost\n10.0.0.1 gw\n",
            ),
        );
        let f = p.result["ansible_facts"].get_attr("getent_hosts").unwrap();
        assert_eq!(
            f.get_attr("127.0.0.1").unwrap().to_string(),
            "['localhost']"
        );
        assert_eq!(
            f.get_attr("::1").unwrap().to_string(),
            "['localhost', 'ip6-localhost']"
        );
        let p = run(
            &[("database", "services".into()), ("split", "/".into())],
            cmd(0, "a/1\na/2\na/3\nb/4\n"),
        );
        let f = p.result["ansible_facts"]
            .get_attr("getent_services")
            .unwrap();
        assert_eq!(
            f.get_attr("a").unwrap().to_string(),
            "[['1'], ['2'], ['3']]"
        );
        assert_eq!(f.get_attr("b").unwrap().to_string(), "['4']");
    }

    #[test]
    fn missing_keys_fail_unless_told_not_to() {
        let p = run(
            &[("database", "passwd".into()), ("key", "nobody2".into())],
            cmd(2, ""),
        );
        assert_eq!(
            p.failed.as_deref(),
            Some("One or more supplied key could not be found in the database.")
        );
        let p = run(
            &[
                ("database", "passwd".into()),
                ("key", "nobody2".into()),
                ("fail_key", "no".into()),
            ],
            cmd(2, ""),
        );
        assert!(p.failed.is_none());
        let f = p.result["ansible_facts"].get_attr("getent_passwd").unwrap();
        assert!(f.get_attr("nobody2").unwrap().is_none());
        let p = run(&[("database", "nosuchdb".into())], cmd(1, ""));
        assert_eq!(
            p.failed.as_deref(),
            Some("Missing arguments, or database unknown.")
        );
        let p = run(&[("database", "passwd".into())], cmd(127, ""));
        assert!(p.failed.unwrap().contains("getent"));
    }

    #[test]
    fn hostile_input_is_an_error() {
        let env = crate::modules::testing::env();
        let a = args(
            "getent",
            &[("database", "passwd".into()), ("split", "".into())],
        );
        assert!(Getent.prepare(a, &env).is_err());
        let a = args("getent", &[("database", "pass\0wd".into())]);
        assert!(Getent.prepare(a, &env).is_err());
        assert!(entries("a\n\nb\n", None).is_err());
        assert_eq!(entries("é:\u{85}x:y", Some(":")).unwrap().len(), 2);
    }
}
