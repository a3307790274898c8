//! `setup`: gather facts (also what `gather_facts` runs). One probe asks for them (the facts
//! script, or the prober's native answer); the facts land in `ansible_facts` and as
//! `ansible_<name>` variables.

use minijinja::Value;

use super::query::Query;
use super::{Args, CmdRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};
use crate::inventory::pattern::glob_match;
use crate::modules::facts::{Subsets, parse};

pub struct Setup;

impl Module for Setup {
    fn name(&self) -> &'static str {
        "setup"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["gather_facts"]
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["gather_subset", "filter", "gather_timeout", "fact_path"])
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let subsets = Subsets::parse(&a.list(&["gather_subset"])?)
            .map_err(|m| Error::runtime(format!("setup: {m}")))?;
        Ok(Box::new(SetupPlan {
            facts_at: Default::default(),
            facts: Query::Facts {
                subsets,
                chroot: env.chroot_connection,
            },
            filter: a.list(&["filter"])?,
        }))
    }
}

struct SetupPlan {
    /// Where a probe's answer is (asked in `ask`).
    facts_at: CmdRef,
    facts: Query,
    filter: Vec<String>,
}

impl Planner for SetupPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.facts_at = p.query(self.facts.clone());
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = obs.cmd(self.facts_at)?;
        let mut facts = parse(&out.stdout);
        if !self.filter.is_empty() {
            facts.retain(|k, _| {
                self.filter
                    .iter()
                    .any(|f| glob_match(f, &format!("ansible_{k}")) || glob_match(f, k))
            });
        }
        Ok(Plan::ok().with("ansible_facts", Value::from_pairs(facts)))
    }
}
