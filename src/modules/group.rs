//! `group`: local groups (groupadd/groupmod/groupdel).

use super::args::Presence;
use super::{Args, CmdRef, Command, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step};
use crate::error::Result;
use crate::shlex::quote;

pub struct Group;

impl Module for Group {
    fn name(&self) -> &'static str {
        "group"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "name",
            "state",
            "gid",
            "system",
            "local",
            "non_unique",
            "force",
        ])
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        Ok(Box::new(GroupPlan {
            entry_at: Default::default(),
            name: a.req_str(&["name"])?,
            present: a.choose(&["state"], Presence::Present)? == Presence::Present,
            gid: a.int(&["gid"])?,
            system: a.bool(&["system"], false)?,
            non_unique: a.bool(&["non_unique"], false)?,
        }))
    }
}

struct GroupPlan {
    /// Where a probe's answer is (asked in `ask`).
    entry_at: CmdRef,
    name: String,
    present: bool,
    gid: Option<i64>,
    system: bool,
    non_unique: bool,
}

fn run(argv: Vec<String>) -> Step {
    Step::Run {
        cmd: Command {
            argv: Some(argv),
            ..Default::default()
        },
        ok_rcs: vec![0],
    }
}

impl Planner for GroupPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.entry_at = p.command(format!("getent group {} ; true", quote(&self.name)));
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let line = obs.cmd(self.entry_at)?.stdout.trim().to_string();
        let current_gid: Option<i64> = line.split(':').nth(2).and_then(|g| g.parse().ok());
        let mut plan = Plan::ok().with("name", self.name.as_str());
        if !self.present {
            if !line.is_empty() {
                plan.diffs.push(super::Diff::new(
                    &format!("group {}", self.name),
                    "state: present\n",
                    "state: absent\n",
                ));
                plan.step(run(vec!["groupdel".into(), self.name.clone()]));
            }
            return Ok(plan.with("state", "absent"));
        }
        if line.is_empty() {
            let mut argv = vec!["groupadd".to_string()];
            if let Some(g) = self.gid {
                argv.extend(["-g".into(), g.to_string()]);
                if self.non_unique {
                    argv.push("-o".into());
                }
            }
            if self.system {
                argv.push("-r".into());
            }
            argv.push(self.name.clone());
            plan.diffs.push(super::Diff::new(
                &format!("group {}", self.name),
                "state: absent\n",
                "state: present\n",
            ));
            plan.step(run(argv));
            plan.predictions
                .push(super::Prediction::Group(self.name.clone()));
        } else if let (Some(want), Some(have)) = (self.gid, current_gid)
            && want != have
        {
            let mut argv = vec!["groupmod".to_string(), "-g".into(), want.to_string()];
            if self.non_unique {
                argv.push("-o".into());
            }
            argv.push(self.name.clone());
            plan.diffs.push(super::Diff::new(
                &format!("group {}", self.name),
                format!("gid: {have}\n"),
                format!("gid: {want}\n"),
            ));
            plan.step(run(argv));
        }
        Ok(plan.with("state", "present"))
    }
}
