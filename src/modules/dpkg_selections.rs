//! `dpkg_selections`: a package's dpkg selection (`hold`, `install`, `deinstall`, `purge`) —
//! what `apt-mark hold` sets.

use super::query::Query;
use super::{Args, CmdRef, Command, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step};
use crate::error::Result;
use crate::shlex::quote;

pub struct DpkgSelections;

impl Module for DpkgSelections {
    fn name(&self) -> &'static str {
        "dpkg_selections"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["name", "selection"])
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let name = a.req_str(&["name"])?;
        Ok(Box::new(SelectionPlan {
            selections_at: Default::default(),
            predicted_install: env.predicted.packages.contains(&name),
            name,
            selection: a
                .choice(
                    &["selection"],
                    &["install", "hold", "deinstall", "purge"],
                    None,
                )?
                .unwrap_or_default(),
        }))
    }
}

struct SelectionPlan {
    /// Where a probe's answer is (asked in `ask`).
    selections_at: CmdRef,
    name: String,
    selection: String,
    /// A dry run where an earlier task would install the package (dpkg then selects `install`).
    predicted_install: bool,
}

impl Planner for SelectionPlan {
    fn ask(&mut self, p: &mut Probes) {
        // Every selection (`'*'` includes packages that are not installed), not just this
        // package's: the probe is then the same for all items of a loop, run once for all.
        self.selections_at = p.query(Query::Selections(vec![self.name.clone()]));
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = &obs.cmd(self.selections_at)?.stdout;
        let current = out
            .lines()
            .find_map(|l| {
                let mut w = l.split_whitespace();
                let n = w.next()?;
                (n == self.name || n.split(':').next() == Some(self.name.as_str()))
                    .then(|| w.next().unwrap_or("").to_string())
            })
            .unwrap_or_else(|| {
                if self.predicted_install {
                    "install".into()
                } else {
                    "not present".into()
                }
            });
        let mut plan = Plan::ok()
            .with("name", self.name.as_str())
            .with("before", current.as_str())
            .with("after", self.selection.as_str());
        if current != self.selection {
            plan.diffs.push(super::Diff::new(
                &format!("{} (dpkg selection)", self.name),
                format!("{current}\n"),
                format!("{}\n", self.selection),
            ));
            plan.step(Step::Run {
                cmd: Command {
                    shell: Some(format!(
                        "echo {} | dpkg --set-selections",
                        quote(&format!("{} {}", self.name, self.selection))
                    )),
                    ..Default::default()
                },
                ok_rcs: vec![0],
            });
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, cmd, plan_answers};
    use minijinja::Value;

    #[test]
    fn holds_once() {
        let a = args(
            "dpkg_selections",
            &[
                ("name", Value::from("kubelet")),
                ("selection", Value::from("hold")),
            ],
        );
        let p = plan_answers(
            &DpkgSelections,
            a.clone(),
            vec![cmd(0, "kubelet\t\t\t\t\tinstall\n")],
        );
        assert!(p.changed);
        let p = plan_answers(
            &DpkgSelections,
            a.clone(),
            vec![cmd(0, "kubelet\t\t\t\t\thold\n")],
        );
        assert!(!p.changed);
        // A dry run where an earlier task installs it: dpkg would have selected `install`.
        let mut env = crate::modules::testing::env();
        env.check_mode = true;
        env.predicted.packages = vec!["kubelet".into()];
        let p =
            crate::modules::testing::plan_answers_env(&DpkgSelections, a, vec![cmd(0, "")], &env);
        assert_eq!(p.diffs[0].before, "install\n");
    }
}
