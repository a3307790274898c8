//! `modprobe` (community.general): load or unload a kernel module now, and make it persist
//! across boots (`persistent: present` writes `/etc/modules-load.d/<name>.conf`, `params`
//! go to `/etc/modprobe.d/<name>.conf`).
//!
//! A chroot has no kernel of its own: there only the persistent files are written and the
//! live part is reported as skipped.

use super::args::Presence;
use super::attrs::AttrSpec;
use super::content::{WriteSpec, plan_write};
use super::{
    Args, CmdRef, Command, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
};
use crate::error::Result;
use crate::shlex::quote;

pub struct Modprobe;

impl Module for Modprobe {
    fn name(&self) -> &'static str {
        "modprobe"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["name", "state", "params", "persistent"])
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        Ok(Box::new(ModPlan {
            loaded_at: Default::default(),
            load_at: Default::default(),
            options_at: Default::default(),
            name: a.req_str(&["name"])?,
            present: a.choose(&["state"], Presence::Present)? == Presence::Present,
            params: a.str(&["params"])?.unwrap_or_default(),
            persistent: a
                .choice(
                    &["persistent"],
                    &["disabled", "present", "absent"],
                    Some("disabled"),
                )?
                .unwrap_or_default(),
            chroot: env.is_chroot,
        }))
    }
}

struct ModPlan {
    /// Where a probe's answer is (asked in `ask`).
    loaded_at: CmdRef,
    load_at: FileRef,
    options_at: FileRef,
    name: String,
    present: bool,
    params: String,
    persistent: String,
    chroot: bool,
}

impl ModPlan {
    fn load_file(&self) -> String {
        format!("/etc/modules-load.d/{}.conf", self.name)
    }
    fn options_file(&self) -> String {
        format!("/etc/modprobe.d/{}.conf", self.name)
    }
}

impl Planner for ModPlan {
    fn ask(&mut self, p: &mut Probes) {
        // Module names use - and _ interchangeably; /sys/module uses _.
        let sys = self.name.replace('-', "_");
        self.loaded_at = p.command(format!(
            "[ -d /sys/module/{} ] && echo loaded || echo absent",
            quote(&sys)
        ));
        self.load_at = p.read(&self.load_file());
        self.options_at = p.read(&self.options_file());
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let loaded = obs.cmd(self.loaded_at)?.stdout.trim() == "loaded";
        let mut plan = Plan::ok().with("name", self.name.as_str());
        match self.persistent.as_str() {
            "present" => {
                let spec = WriteSpec {
                    path: self.load_file(),
                    attrs: AttrSpec::default(),
                    make_parents: true,
                    ..Default::default()
                };
                plan_write(
                    &mut plan,
                    obs.file(self.load_at)?,
                    format!("{}\n", self.name).into_bytes(),
                    &spec,
                )?;
                if !self.params.is_empty() {
                    let spec = WriteSpec {
                        path: self.options_file(),
                        make_parents: true,
                        ..Default::default()
                    };
                    plan_write(
                        &mut plan,
                        obs.file(self.options_at)?,
                        format!("options {} {}\n", self.name, self.params).into_bytes(),
                        &spec,
                    )?;
                }
            }
            "absent" => {
                for (at, path) in [
                    (self.load_at, self.load_file()),
                    (self.options_at, self.options_file()),
                ] {
                    if obs.file(at)?.exists {
                        plan.diffs.push(super::Diff::new(
                            &path,
                            obs.file(at)?.text().unwrap_or_default(),
                            "",
                        ));
                        plan.step(Step::Remove { path });
                    }
                }
            }
            _ => {}
        }
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        let live = if self.present && !loaded {
            let mut argv = vec!["modprobe".to_string(), self.name.clone()];
            argv.extend(self.params.split_whitespace().map(str::to_string));
            Some(argv)
        } else if !self.present && loaded {
            Some(vec!["modprobe".to_string(), "-r".into(), self.name.clone()])
        } else {
            None
        };
        if let Some(argv) = live {
            if self.chroot {
                plan.result.insert("live".into(), "skipped (chroot)".into());
                if !plan.changed {
                    plan.skipped = Some("skipped (chroot)".into());
                }
            } else {
                plan.diffs.push(super::Diff::new(
                    &format!("{} (kernel)", self.name),
                    format!("loaded: {loaded}\n"),
                    format!("loaded: {}\n", self.present),
                ));
                plan.step(Step::Run {
                    cmd: Command {
                        argv: Some(argv),
                        ..Default::default()
                    },
                    ok_rcs: vec![0],
                });
            }
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Answer;
    use crate::modules::testing::{args, cmd, file, plan_answers_env};
    use minijinja::Value;

    fn run(chroot: bool, loaded: bool, persisted: bool) -> Plan {
        let mut env = crate::modules::testing::env();
        env.is_chroot = chroot;
        let a = args(
            "modprobe",
            &[
                ("name", Value::from("br_netfilter")),
                ("persistent", Value::from("present")),
            ],
        );
        let f = if persisted {
            Answer::File(file(
                "/etc/modules-load.d/br_netfilter.conf",
                0o644,
                "br_netfilter\n",
            ))
        } else {
            Answer::File(crate::modules::FileState::missing(
                "/etc/modules-load.d/br_netfilter.conf",
            ))
        };
        plan_answers_env(
            &Modprobe,
            a,
            vec![cmd(0, if loaded { "loaded\n" } else { "absent\n" }), f],
            &env,
        )
    }

    #[test]
    fn live_and_persistent() {
        let p = run(false, false, false);
        assert_eq!(p.steps.len(), 2);
        assert!(
            matches!(&p.steps[1], Step::Run { cmd, .. } if cmd.argv.as_deref() == Some(&["modprobe".to_string(), "br_netfilter".to_string()][..]))
        );
        assert!(!run(false, true, true).changed);
    }

    #[test]
    fn chroot_only_persists() {
        let p = run(true, false, false);
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.result["live"], Value::from("skipped (chroot)"));
        let p = run(true, false, true);
        assert_eq!(p.skipped.as_deref(), Some("skipped (chroot)"));
    }
}
