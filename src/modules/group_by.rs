//! `group_by`: put the host into a group made from its variables (`key: os_{{ ansible_distribution }}`)
//! for the rest of the run: later plays' host patterns, `groups` and `group_names` see it. The
//! module only names the group; the engine changes the run's inventory ([`Plan::group`]).

use super::{Args, Fixed, Module, ModuleEnv, Plan, Planner};
use crate::error::{Error, Result};
use minijinja::Value;

pub struct GroupBy;

/// A group to put the host in, with the groups it becomes a child of.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupMembership {
    pub group: String,
    pub parents: Vec<String>,
}

impl Module for GroupBy {
    fn name(&self) -> &'static str {
        "group_by"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["key", "parents"])
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        // As Ansible's action: spaces become dashes.
        let group = a.req_str(&["key"])?.replace(' ', "-");
        if group.is_empty() {
            return Err(Error::runtime("group_by: the key is empty"));
        }
        let parents: Vec<String> = match a.get(&["parents"]) {
            None => vec!["all".into()],
            Some(_) => a
                .list(&["parents"])?
                .into_iter()
                .map(|p| p.replace(' ', "-"))
                .collect(),
        };
        let mut plan = Plan::ok().with("add_group", group.as_str()).with(
            "parent_groups",
            Value::from(
                parents
                    .iter()
                    .map(|p| Value::from(p.as_str()))
                    .collect::<Vec<_>>(),
            ),
        );
        plan.group = Some(GroupMembership { group, parents });
        Ok(Box::new(Fixed(plan)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, plan_answers};

    #[test]
    fn names_the_group_and_its_parents() {
        let p = plan_answers(
            &GroupBy,
            args("group_by", &[("key", Value::from("os Debian 12"))]),
            vec![],
        );
        assert_eq!(
            p.group,
            Some(GroupMembership {
                group: "os-Debian-12".into(),
                parents: vec!["all".into()]
            })
        );
        assert!(!p.changed);
        let p = plan_answers(
            &GroupBy,
            args(
                "group_by",
                &[
                    ("key", Value::from("web")),
                    ("parents", Value::from(vec!["frontends", "prod"])),
                ],
            ),
            vec![],
        );
        assert_eq!(p.group.unwrap().parents, ["frontends", "prod"]);
    }
}
