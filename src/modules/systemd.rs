//! `systemd` (also `systemd_service`) and `service`: unit enablement, masking and state.
//!
//! One probe reads `systemctl is-enabled` and `is-active` and whether systemd is running.
//! Enablement and masking work offline (they only manage the `[Install]` symlinks), so they
//! also work in a chroot. Starting, stopping, restarting and reloading need a running service
//! manager: on a chroot target (`ansible_is_chroot`) they are reported as `skipped (chroot)`
//! instead of silently "succeeding" (systemctl prints "Running in chroot, ignoring command"
//! and exits 0).

use super::args::Choice;
use super::args::choice;
use super::query::Query;
use super::{Args, CmdRef, Command, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step};
use crate::error::{Error, Result};

pub struct Systemd;
pub struct Service;

const SYSTEMD_OPTIONS: &[&str] = &[
    "name",
    "service",
    "unit",
    "state",
    "enabled",
    "masked",
    "daemon_reload",
    "daemon-reload",
    "daemon_reexec",
    "daemon-reexec",
    "scope",
    "no_block",
    "force",
];
const SERVICE_OPTIONS: &[&str] = &[
    "name",
    "state",
    "enabled",
    "pattern",
    "sleep",
    "arguments",
    "args",
    "runlevel",
    "use",
];

impl Module for Systemd {
    fn name(&self) -> &'static str {
        "systemd"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["systemd_service"]
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(SYSTEMD_OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let scope = a
            .choice(&["scope"], &["system", "user", "global"], Some("system"))?
            .unwrap_or_default();
        if scope != "system" {
            return Err(Error::runtime(
                "systemd: only scope=system is supported by prov",
            ));
        }
        Ok(Box::new(UnitPlan {
            state_at: Default::default(),
            name: a.str(&["name", "service", "unit"])?,
            state: a.choose_opt(&["state"])?,
            enabled: a.opt_bool(&["enabled"])?,
            masked: a.opt_bool(&["masked"])?,
            daemon_reload: a.bool(&["daemon_reload", "daemon-reload"], false)?,
            daemon_reexec: a.bool(&["daemon_reexec", "daemon-reexec"], false)?,
            no_block: a.bool(&["no_block"], false)?,
            force: a.bool(&["force"], false)?,
            chroot: env.is_chroot,
            packages_pending: !env.predicted.packages.is_empty(),
            predicted_unit: a.str(&["name", "service", "unit"])?.and_then(|n| {
                let u = &env.predicted.units;
                u.get(&n)
                    .or_else(|| u.get(&format!("{n}.service")))
                    .copied()
            }),
        }))
    }
}

impl Module for Service {
    fn name(&self) -> &'static str {
        "service"
    }
    /// Any option parses, as Ansible's `service` action hands them to the service manager's
    /// own module (systemd's `daemon_reload`, `masked`...): a task behind a false `when` never
    /// fails; an option neither module has fails when the task runs.
    fn options(&self) -> Option<&'static [&'static str]> {
        None
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        if let Some(k) = a.map().keys().find(|k| {
            !SERVICE_OPTIONS.contains(&k.as_str()) && !SYSTEMD_OPTIONS.contains(&k.as_str())
        }) {
            return Err(Error::runtime(format!(
                "service: unsupported parameter '{k}' (supported: the service module's options and systemd's)"
            )));
        }
        if let Some(mgr) = env.fact("service_mgr") {
            let mgr = crate::template::to_text(&mgr);
            if mgr != "systemd" && a.str(&["use"])?.as_deref().unwrap_or("auto") == "auto" {
                return Err(Error::runtime(format!(
                    "service: service manager '{mgr}' is not supported by prov (systemd is)"
                )));
            }
        }
        a.req_str(&["name"])?;
        // What Ansible's service action drops on systemd (with a warning), then the rest goes
        // to the systemd module.
        let mut a = a;
        for unused in ["pattern", "runlevel", "sleep", "arguments", "args", "use"] {
            a = a.without(unused);
        }
        Systemd.prepare(a, env)
    }
}

choice! {
    /// `state`: what the unit should be doing.
    enum Activity {
        Started = "started",
        Stopped = "stopped",
        Restarted = "restarted",
        Reloaded = "reloaded",
    }
}

struct UnitPlan {
    /// Where a probe's answer is (asked in `ask`).
    state_at: CmdRef,
    name: Option<String>,
    state: Option<Activity>,
    enabled: Option<bool>,
    masked: Option<bool>,
    daemon_reload: bool,
    daemon_reexec: bool,
    no_block: bool,
    force: bool,
    chroot: bool,
    /// A dry run where an earlier task would install packages (which may bring the unit).
    packages_pending: bool,
    /// A dry run where an earlier task's packages would install this unit: its state then.
    predicted_unit: Option<super::UnitGuess>,
}

fn systemctl(args: &[&str]) -> Step {
    let mut argv = vec!["systemctl".to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    Step::Run {
        cmd: Command {
            argv: Some(argv),
            ..Default::default()
        },
        ok_rcs: vec![0],
    }
}

impl Planner for UnitPlan {
    fn ask(&mut self, p: &mut Probes) {
        // `is-enabled` reads the unit files (as `systemctl enable` writes them); the
        // running state is only asked of a running systemd.
        if let Some(n) = &self.name {
            self.state_at = p.query(Query::UnitState(n.clone()));
        }
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let mut plan = Plan::ok();
        if self.daemon_reexec && !self.chroot {
            plan.steps.push(systemctl(&["daemon-reexec"]));
        }
        if self.daemon_reload && !self.chroot {
            plan.steps.push(systemctl(&["daemon-reload"]));
        }
        let Some(name) = self.name.clone() else {
            if self.state.is_some() || self.enabled.is_some() || self.masked.is_some() {
                return Ok(Plan::fail(
                    "systemd: name is required with state, enabled or masked",
                ));
            }
            return Ok(plan);
        };
        plan.result.insert("name".into(), name.as_str().into());
        let out = &obs.cmd(self.state_at)?.stdout;
        let field = |k: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let mut enabled_rc: i32 = field("enabled_rc").parse().unwrap_or(1);
        let mut unit_file_state = field("enabled");
        let mut active = field("active");
        let mut not_found = unit_file_state.contains("No such file")
            || unit_file_state == "not-found"
            || unit_file_state.is_empty();
        // A unit that packages of this dry run would install: as they would leave it.
        if let (true, Some(guess)) = (not_found, self.predicted_unit) {
            let (rc, state) = match guess {
                super::UnitGuess::Enabled => (0, "enabled"),
                super::UnitGuess::Disabled => (1, "disabled"),
                super::UnitGuess::Static => (0, "static"),
            };
            (enabled_rc, unit_file_state, active) = (rc, state.to_string(), "inactive".into());
            not_found = false;
        }
        let needs_unit = self.enabled.is_some()
            || self.masked == Some(false)
            || (self.state.is_some() && !self.chroot);
        if not_found && needs_unit && self.packages_pending {
            return Ok(Plan::unknown(format!(
                "unit {name} is not installed yet: an earlier task of this dry run installs packages"
            )));
        }
        if not_found && needs_unit {
            return Ok(Plan::fail(format!(
                "Could not find the requested service {name}: host"
            )));
        }
        let is_masked = unit_file_state.starts_with("masked");
        let is_enabled =
            enabled_rc == 0 && unit_file_state != "indirect" && unit_file_state != "alias";
        let mut flags: Vec<&str> = Vec::new();
        if self.no_block {
            flags.push("--no-block");
        }
        if self.force {
            flags.push("--force");
        }
        let cmd = |verb: &str| {
            let mut v = vec![verb];
            v.extend(flags.iter().copied());
            v.push(name.as_str());
            systemctl(&v)
        };
        let mut before = String::new();
        let mut after = String::new();
        if let Some(m) = self.masked
            && m != is_masked
        {
            plan.step(cmd(if m { "mask" } else { "unmask" }));
            before.push_str(&format!("masked: {is_masked}\n"));
            after.push_str(&format!("masked: {m}\n"));
        }
        if let Some(e) = self.enabled {
            if e != is_enabled {
                plan.step(cmd(if e { "enable" } else { "disable" }));
                before.push_str(&format!("enabled: {is_enabled}\n"));
                after.push_str(&format!("enabled: {e}\n"));
            }
            plan.result.insert("enabled".into(), e.into());
        }
        if let Some(state) = self.state {
            if self.chroot {
                plan.result.insert(
                    "state_skipped".into(),
                    format!("{}: skipped (chroot)", state.name()).into(),
                );
                if !plan.changed {
                    plan.skipped = Some("skipped (chroot)".into());
                }
            } else {
                let running = matches!(active.as_str(), "active" | "activating" | "reloading");
                let verb = match state {
                    Activity::Started if !running => Some("start"),
                    Activity::Stopped if running => Some("stop"),
                    Activity::Restarted => Some("restart"),
                    Activity::Reloaded if running => Some("reload"),
                    Activity::Reloaded => Some("start"),
                    _ => None,
                };
                if let Some(v) = verb {
                    plan.step(cmd(v));
                    before.push_str(&format!(
                        "state: {}\n",
                        if running { "started" } else { "stopped" }
                    ));
                    after.push_str(&format!("state: {}\n", state.name()));
                }
                plan.result.insert("state".into(), state.name().into());
            }
        }
        if !before.is_empty() {
            plan.diffs
                .push(super::Diff::new(&format!("{name} (unit)"), before, after));
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, cmd, plan_answers_env};
    use minijinja::Value;

    fn run(pairs: &[(&str, Value)], probe: &str, chroot: bool) -> Plan {
        let mut env = crate::modules::testing::env();
        env.is_chroot = chroot;
        plan_answers_env(&Systemd, args("systemd", pairs), vec![cmd(0, probe)], &env)
    }

    #[test]
    fn enable_only_when_disabled() {
        let a = [
            ("name", Value::from("kubelet")),
            ("enabled", Value::from(true)),
        ];
        let p = run(
            &a,
            "enabled_rc=1\nenabled=disabled\nactive=inactive\nbooted=no\n",
            true,
        );
        assert_eq!(p.steps, [systemctl(&["enable", "kubelet"])]);
        let p = run(
            &a,
            "enabled_rc=0\nenabled=enabled\nactive=inactive\nbooted=no\n",
            true,
        );
        assert!(!p.changed);
    }

    #[test]
    fn restart_is_skipped_in_a_chroot_and_runs_live() {
        let a = [
            ("name", Value::from("ssh")),
            ("state", Value::from("restarted")),
        ];
        let p = run(
            &a,
            "enabled_rc=0\nenabled=enabled\nactive=inactive\nbooted=no\n",
            true,
        );
        assert_eq!(p.skipped.as_deref(), Some("skipped (chroot)"));
        assert!(p.steps.is_empty());
        let p = run(
            &a,
            "enabled_rc=0\nenabled=enabled\nactive=active\nbooted=yes\n",
            false,
        );
        assert_eq!(p.steps, [systemctl(&["restart", "ssh"])]);
        let a = [
            ("name", Value::from("ssh")),
            ("state", Value::from("started")),
        ];
        let p = run(
            &a,
            "enabled_rc=0\nenabled=enabled\nactive=active\nbooted=yes\n",
            false,
        );
        assert!(!p.changed);
    }

    #[test]
    fn missing_unit_fails() {
        let a = [
            ("name", Value::from("nope")),
            ("enabled", Value::from(true)),
        ];
        let p = run(
            &a,
            "enabled_rc=1\nenabled=Failed to get unit file state for nope.service: No such file or directory\nactive=inactive\nbooted=no\n",
            true,
        );
        assert_eq!(
            p.failed.as_deref(),
            Some("Could not find the requested service nope: host")
        );
    }

    /// A dry run whose packages' units are known (their .debs were read) plans against them:
    /// a disabled unit would be enabled, one the package's postinst enables is left alone.
    #[test]
    fn a_unit_that_earlier_packages_install_is_planned_in_a_dry_run() {
        let not_found = "enabled_rc=1\nenabled=not-found\nactive=inactive\nbooted=yes\n";
        let a = [
            ("name", Value::from("crio")),
            ("enabled", Value::from(true)),
        ];
        for (guess, changed) in [
            (crate::modules::UnitGuess::Disabled, true),
            (crate::modules::UnitGuess::Enabled, false),
        ] {
            let mut env = crate::modules::testing::env();
            env.check_mode = true;
            env.predicted.packages = vec!["cri-o".into()];
            env.predicted.units.insert("crio.service".into(), guess);
            let p = plan_answers_env(&Systemd, args("systemd", &a), vec![cmd(0, not_found)], &env);
            assert_eq!(
                (p.changed, p.skipped.is_none()),
                (changed, true),
                "{guess:?}"
            );
        }
    }

    /// A dry run whose earlier task installs packages it could not read cannot know whether
    /// the unit will be there: skipped, marked unknown (the output says `unknown until apply`).
    #[test]
    fn a_unit_that_earlier_packages_install_is_unknown_in_a_dry_run() {
        let mut env = crate::modules::testing::env();
        env.check_mode = true;
        env.predicted.packages = vec!["cri-o".into()];
        let a = [
            ("name", Value::from("crio")),
            ("enabled", Value::from(true)),
        ];
        let p = plan_answers_env(
            &Systemd,
            args("systemd", &a),
            vec![cmd(
                0,
                "enabled_rc=1\nenabled=not-found\nactive=inactive\nbooted=yes\n",
            )],
            &env,
        );
        assert_eq!(
            p.skipped.as_deref(),
            Some(
                "unit crio is not installed yet: an earlier task of this dry run installs packages"
            )
        );
        assert!(p.unknown);
    }
}
