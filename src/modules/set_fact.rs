//! `set_fact`: set host variables (highest precedence below extra vars) from templated values.

use super::{Args, Fixed, Module, ModuleEnv, Plan, Planner};
use crate::error::{Error, Result};
use crate::vars::{VarMap, is_identifier};

pub struct SetFact;

impl Module for SetFact {
    fn name(&self) -> &'static str {
        "set_fact"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        None
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let mut facts = VarMap::new();
        for (k, v) in a.map() {
            if k == "cacheable" {
                continue;
            }
            if !is_identifier(k) {
                return Err(Error::runtime(format!(
                    "set_fact: '{k}' is not a valid variable name"
                )));
            }
            facts.insert(k.clone(), v.clone());
        }
        if facts.is_empty() {
            return Err(Error::runtime("set_fact: no variables given"));
        }
        let mut plan = Plan::ok();
        // As Ansible: the registered result shows what was set.
        plan.result
            .insert("ansible_facts".into(), crate::vars::map_to_value(&facts));
        plan.facts = Some(facts);
        Ok(Box::new(Fixed(plan)))
    }
}
