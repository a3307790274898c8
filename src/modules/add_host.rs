//! `add_host`: add a host (and its groups and variables) to the run's inventory, for later
//! plays' host patterns, `groups`, `hostvars` and `delegate_to`. As Ansible's action it runs
//! once per task, not per host (a loop adds one host per item), reads nothing of any target,
//! and is changed when the inventory changed. The module only describes the host; the engine
//! adds it ([`Plan::add_host`]).

use minijinja::Value;

use super::{Args, Fixed, Module, ModuleEnv, Plan, Planner};
use crate::error::{Error, Result};
use crate::vars::VarMap;

pub struct AddHost;

/// A host to add, with the groups it joins and its host variables.
#[derive(Clone, Debug, PartialEq)]
pub struct NewHost {
    pub name: String,
    pub groups: Vec<String>,
    pub vars: VarMap,
}

/// Options that are not host variables (Ansible's `special_args`: `host` and `group` are).
const SPECIAL: &[&str] = &["name", "hostname", "groupname", "groups"];

impl Module for AddHost {
    fn name(&self) -> &'static str {
        "add_host"
    }
    /// Every other option is a variable of the new host.
    fn options(&self) -> Option<&'static [&'static str]> {
        None
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let given = a
            .str(&["name", "hostname", "host"])?
            .ok_or_else(|| Error::runtime("name, host or hostname needs to be provided"))?;
        let (name, port) = split_port(&given);
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::runtime(format!(
                "add_host: '{given}' is not a host name"
            )));
        }
        let mut groups: Vec<String> = Vec::new();
        match a.get(&["groupname", "groups", "group"]) {
            None => {}
            Some(v) if v.as_str().is_some() => {
                for g in v.as_str().unwrap_or_default().split(',') {
                    push_group(&mut groups, g.trim());
                }
            }
            Some(v) if v.kind() == minijinja::value::ValueKind::Seq => {
                for g in v.try_iter().into_iter().flatten() {
                    push_group(&mut groups, crate::template::to_text(&g).trim());
                }
            }
            Some(v) if v.is_none() => {}
            Some(_) => return Err(Error::runtime("Groups must be specified as a list.")),
        }
        let mut vars = VarMap::new();
        for (k, v) in a.map() {
            if !SPECIAL.contains(&k.as_str()) {
                vars.insert(k.clone(), v.clone());
            }
        }
        if let Some(p) = port {
            vars.insert("ansible_ssh_port".into(), Value::from(p));
        }
        let host_vars: Vec<(String, Value)> =
            vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut plan = Plan::ok().with(
            "add_host",
            Value::from_pairs(vec![
                ("host_name".to_string(), Value::from(name)),
                (
                    "groups".to_string(),
                    Value::from(
                        groups
                            .iter()
                            .map(|g| Value::from(g.as_str()))
                            .collect::<Vec<_>>(),
                    ),
                ),
                ("host_vars".to_string(), Value::from_pairs(host_vars)),
            ]),
        );
        plan.add_host = Some(NewHost {
            name: name.to_string(),
            groups,
            vars,
        });
        Ok(Box::new(Fixed(plan)))
    }
}

fn push_group(groups: &mut Vec<String>, g: &str) {
    if !g.is_empty() && !groups.iter().any(|x| x == g) {
        groups.push(g.to_string());
    }
}

/// `host:port` and `[v6]:port` (Ansible's parse_address); an IPv6 address without brackets
/// has no port.
fn split_port(given: &str) -> (&str, Option<u16>) {
    if let Some(rest) = given.strip_prefix('[')
        && let Some((host, tail)) = rest.split_once(']')
    {
        return (host, tail.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match given.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host, Some(p)),
            Err(_) => (given, None),
        },
        _ => (given, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, plan_answers};

    fn new_host(pairs: &[(&str, Value)]) -> NewHost {
        plan_answers(&AddHost, args("add_host", pairs), vec![])
            .add_host
            .unwrap()
    }

    #[test]
    fn names_groups_and_variables_as_ansible_does() {
        let h = new_host(&[
            ("name", Value::from("db1:2222")),
            ("groups", Value::from("db, prod,db")),
            ("role", Value::from("primary")),
        ]);
        assert_eq!(h.name, "db1");
        assert_eq!(h.groups, vec!["db", "prod"]);
        assert_eq!(h.vars.get("role"), Some(&Value::from("primary")));
        assert_eq!(h.vars.get("ansible_ssh_port"), Some(&Value::from(2222)));
        let h = new_host(&[
            ("hostname", Value::from("[fe80::1]:22")),
            ("group", Value::from(vec!["a"])),
        ]);
        assert_eq!(
            (h.name.as_str(), h.groups.clone()),
            ("fe80::1", vec!["a".to_string()])
        );
        // `group` is not one of Ansible's special arguments: it is also a host variable.
        assert!(h.vars.contains_key("group"));
        assert_eq!(
            new_host(&[("host", Value::from("fe80::2"))]).name,
            "fe80::2"
        );
    }

    #[test]
    fn a_missing_or_odd_name_is_an_error() {
        let p = |pairs: &[(&str, Value)]| {
            AddHost.prepare(args("add_host", pairs), &crate::modules::testing::env())
        };
        assert!(p(&[("groups", Value::from("x"))]).is_err());
        assert!(p(&[("name", Value::from("a b"))]).is_err());
        assert!(p(&[("name", Value::from("a")), ("groups", Value::from(3))]).is_err());
    }
}
