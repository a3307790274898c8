//! `reboot`: restart a live host and wait until it is back. The module reads the boot id and
//! describes the reboot ([`RebootSpec`]); the engine (`engine/reboot.rs`) runs the command,
//! drops the connection, reconnects until the boot id changed and the test command passes.
//! A chroot is never rebooted (the task is skipped, as prov's other live-only actions), and
//! check mode only reports the change, as Ansible's action does.

use super::{Args, CmdRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::Result;
use crate::shlex::quote;

pub struct Reboot;

/// What the engine needs to reboot the host and see it back.
#[derive(Clone, Debug, PartialEq)]
pub struct RebootSpec {
    /// The boot id before (the output of `boot_time_command`).
    pub boot_id: String,
    pub command: String,
    pub boot_time_command: String,
    pub test_command: String,
    pub reboot_timeout: u64,
    pub connect_timeout: Option<u64>,
    pub post_reboot_delay: u64,
}

const DEFAULT_BOOT_TIME: &str = "cat /proc/sys/kernel/random/boot_id";

impl Module for Reboot {
    fn name(&self) -> &'static str {
        "reboot"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "boot_time_command",
            "connect_timeout",
            "msg",
            "post_reboot_delay",
            "pre_reboot_delay",
            "reboot_command",
            "reboot_timeout",
            "search_paths",
            "test_command",
        ])
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let secs = |k: &str, d: i64| -> Result<u64> { Ok(a.int(&[k])?.unwrap_or(d).max(0) as u64) };
        let msg = a
            .str(&["msg"])?
            .unwrap_or_else(|| "Reboot initiated by Ansible".into());
        let pre = secs("pre_reboot_delay", 0)?;
        // Ansible's Linux command: shutdown with the delay in whole minutes.
        let command = a
            .str(&["reboot_command"])?
            .unwrap_or_else(|| format!("shutdown -r {} {}", pre / 60, quote(&msg)));
        Ok(Box::new(RebootPlan {
            at: CmdRef::default(),
            chroot: env.is_chroot || env.chroot_connection,
            spec: RebootSpec {
                boot_id: String::new(),
                command,
                boot_time_command: a
                    .str(&["boot_time_command"])?
                    .unwrap_or_else(|| DEFAULT_BOOT_TIME.into()),
                test_command: a.str(&["test_command"])?.unwrap_or_else(|| "whoami".into()),
                reboot_timeout: secs("reboot_timeout", 600)?,
                connect_timeout: a.int(&["connect_timeout"])?.map(|v| v.max(1) as u64),
                post_reboot_delay: secs("post_reboot_delay", 0)?,
            },
        }))
    }
}

struct RebootPlan {
    at: CmdRef,
    chroot: bool,
    spec: RebootSpec,
}

impl Planner for RebootPlan {
    fn ask(&mut self, p: &mut Probes) {
        if !self.chroot {
            self.at = p.command(self.spec.boot_time_command.clone());
        }
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        if self.chroot {
            return Ok(Plan::skip("skipped (chroot)").with("rebooted", false));
        }
        let out = obs.cmd(self.at)?;
        if out.rc != 0 {
            return Ok(Plan::fail(format!(
                "reboot: '{}' failed (rc={}): {}",
                self.spec.boot_time_command,
                out.rc,
                out.stderr.trim()
            )));
        }
        let mut spec = self.spec;
        spec.boot_id = out.stdout.trim().to_string();
        let mut plan = Plan::ok().with("rebooted", true).with("elapsed", 0);
        plan.changed = true;
        plan.reboot = Some(spec);
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, cmd, plan_answers};
    use minijinja::Value;

    #[test]
    fn reads_the_boot_id_and_describes_the_reboot() {
        let p = plan_answers(
            &Reboot,
            args("reboot", &[("pre_reboot_delay", Value::from(120))]),
            vec![cmd(0, "abc-123\n")],
        );
        let spec = p.reboot.unwrap();
        assert_eq!(spec.boot_id, "abc-123");
        assert_eq!(spec.command, "shutdown -r 2 'Reboot initiated by Ansible'");
        assert_eq!(
            (spec.reboot_timeout, spec.test_command.as_str()),
            (600, "whoami")
        );
        assert!(p.changed);
        let p = plan_answers(&Reboot, args("reboot", &[]), vec![cmd(1, "")]);
        assert!(p.failed.is_some());
    }
}
