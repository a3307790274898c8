//! The `iptables` planner: the read-only probe and the module's `main()` decision.

use crate::modules::keyed_output::KeyedOutput;
use std::cmp::Ordering;

use super::{
    CmdRef, Command, Observed, Params, Plan, Planner, Probes, Result, Step, WAIT_SECONDS_SUPPORT,
    WAIT_SUPPORT, loose_cmp, push_arguments, quote, truthy,
};
use crate::vars::VarMap;

/// What the task does (decided from the options alone, as the module's `main()` does).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Flush,
    Policy,
    /// `state: absent` without rule options: the chain.
    ChainAbsent,
    /// `state: present` without rule options: the chain.
    ChainPresent,
    Rule,
}

/// The probe's shell function after [`crate::modules::bin_path::FIND_BIN_SH`] (`find_bin NAME`,
/// Ansible's `get_bin_path`): `run KEY LINES CMD...` prints `KEY.rc=`, the command's stdout
/// lines (all, or the first with LINES=1) as `KEY.out=` and its stderr lines as `KEY.err=`.
const PRELUDE: &str = r#"run() {
    k=$1 n=$2
    shift 2
    { { { "$@" </dev/null; echo "$k.rc=$?" >&3; } 2>&1 1>&4 | awk -v k="$k.err=" '{ print k $0 }' >&3; } 4>&1 | awk -v k="$k.out=" -v n="$n" 'n == "" || NR == n { print k $0 }' >&3; } 3>&1
}
"#;

pub struct IptPlan {
    p: Params,
    mode: Mode,
    /// The module's result fields (`rule` as reported, before `-j LOG` is added).
    result: VarMap,
    /// `log_prefix`/`log_level` with a jump other than LOG: the module's failure.
    log_error: bool,
    /// The parameters the commands are built from (`jump: LOG` added for logging options).
    cmd_params: Params,
    at: CmdRef,
}

/// `ipv4`/`ipv6` and the program of each (both for `ip_version: both`).
fn versions(ip_version: &str) -> &'static [(&'static str, &'static str)] {
    match ip_version {
        "ipv6" => &[("6", "ip6tables")],
        "both" => &[("4", "iptables"), ("6", "ip6tables")],
        _ => &[("4", "iptables")],
    }
}

fn run_step(bin: &str, args: Vec<String>) -> Step {
    let mut argv = vec![bin.to_string()];
    argv.extend(args);
    Step::Run {
        cmd: Command {
            argv: Some(argv),
            ..Default::default()
        },
        ok_rcs: vec![0],
    }
}

impl IptPlan {
    pub fn new(p: Params, rule_empty: bool, result: VarMap) -> IptPlan {
        let mode = if p.flush {
            Mode::Flush
        } else if p.policy.is_some() {
            Mode::Policy
        } else if rule_empty && p.state == "absent" {
            Mode::ChainAbsent
        } else if rule_empty && p.state == "present" {
            Mode::ChainPresent
        } else {
            Mode::Rule
        };
        let logging = truthy(&p.log_prefix) || truthy(&p.log_level);
        let mut cmd_params = p.clone();
        let mut log_error = false;
        if logging {
            match p.jump.as_deref() {
                None => cmd_params.jump = Some("LOG".into()),
                Some("LOG") => {}
                Some(_) => log_error = true,
            }
        }
        IptPlan {
            p,
            mode,
            result,
            log_error,
            cmd_params,
            at: CmdRef::default(),
        }
    }

    /// The read-only question's arguments (after the program), with or without `-w`.
    fn question(&self, wait: bool) -> std::result::Result<Option<Vec<String>>, String> {
        let mut p = self.cmd_params.clone();
        if !wait {
            p.wait = None;
        }
        Ok(match self.mode {
            Mode::Flush => None,
            Mode::Rule => Some(push_arguments(&p, "-C", true)?),
            _ => {
                let mut cmd = push_arguments(&p, "-L", false)?;
                if p.numeric {
                    cmd.push("--numeric".into());
                }
                Some(cmd)
            }
        })
    }

    /// The probe script.
    pub fn script(&self) -> String {
        let mut s = format!(
            "export LC_ALL=C\n{}{PRELUDE}",
            crate::modules::bin_path::FIND_BIN_SH
        );
        let waits: &[bool] = if truthy(&self.p.wait) {
            &[true, false]
        } else {
            &[false]
        };
        for (k, name) in versions(&self.p.ip_version) {
            s.push_str(&format!(
                "if b=$(find_bin {name}); then\n    printf '{k}.bin=%s\\n' \"$b\"\n    run {k}.ver '' \"$b\" --version\n"
            ));
            for &w in waits {
                if let Ok(Some(args)) = self.question(w) {
                    let quoted: Vec<String> = args.iter().map(|a| quote(a)).collect();
                    s.push_str(&format!(
                        "    run {k}.{} 1 \"$b\" {}\n",
                        if w { "w" } else { "n" },
                        quoted.join(" ")
                    ));
                }
            }
            s.push_str("fi\n");
        }
        s
    }
}

/// `re.search(r'\(policy ([A-Z]+)\)', header)`.
fn policy_of(header: &str) -> Option<&str> {
    let mut rest = header;
    while let Some(i) = rest.find("(policy ") {
        let after = &rest[i + "(policy ".len()..];
        let n = after.bytes().take_while(u8::is_ascii_uppercase).count();
        if n > 0 && after[n..].starts_with(')') {
            return Some(&after[..n]);
        }
        rest = &rest[i + 1..];
    }
    None
}

impl IptPlan {
    /// The module's `main()` loop over the programs, from the probe's answers.
    fn decide(&self, a: &KeyedOutput) -> std::result::Result<Plan, String> {
        let mut plan = Plan {
            result: self.result.clone(),
            ..Plan::ok()
        };
        let vs = versions(&self.p.ip_version);
        let mut bins = Vec::new();
        for (k, name) in vs {
            match a.one(&format!("{k}.bin")) {
                Some(b) => bins.push(b.to_string()),
                None => {
                    return Err(format!(
                        "Failed to find required executable \"{name}\" in paths: {}",
                        a.one("paths").unwrap_or_default()
                    ));
                }
            }
        }
        let mut wait = truthy(&self.p.wait);
        for ((k, _), bin) in vs.iter().zip(&bins) {
            if self.log_error {
                return Err("Logging options can only be used with the LOG jump target.".into());
            }
            let (rc, out, err) = a.run(&format!("{k}.ver"))?;
            if rc != 0 {
                return Err(err.trim_end().to_string());
            }
            let version = out
                .split('v')
                .nth(1)
                .ok_or_else(|| {
                    format!("cannot read the version in {out:?} (IndexError in Ansible's module)")
                })?
                .trim_end_matches('\n')
                .to_string();
            if loose_cmp(&version, WAIT_SUPPORT)? != Ordering::Less {
                if loose_cmp(&version, WAIT_SECONDS_SUPPORT)? == Ordering::Less {
                    wait = false;
                }
            } else {
                wait = false;
            }
            let mut p = self.cmd_params.clone();
            if !wait {
                p.wait = None;
            }
            let asked = || a.run(&format!("{k}.{}", if wait { "w" } else { "n" }));
            match self.mode {
                Mode::Flush => plan.step(run_step(bin, push_arguments(&p, "-F", false)?)),
                Mode::Policy => {
                    let (rc, out, err) = asked()?;
                    if rc != 0 {
                        return Err(err.trim_end().to_string());
                    }
                    let header = out.split('\n').next().unwrap_or_default();
                    let current = policy_of(header)
                        .ok_or_else(|| "Can't detect current policy".to_string())?;
                    let want = p.policy.clone().unwrap_or_default();
                    if current != want {
                        let mut cmd = push_arguments(&p, "-P", false)?;
                        cmd.push(want);
                        plan.step(run_step(bin, cmd));
                    }
                }
                Mode::ChainAbsent | Mode::ChainPresent => {
                    let present = asked()?.0 == 0;
                    let absent = self.mode == Mode::ChainAbsent;
                    if present == absent {
                        plan.changed = true;
                        if self.p.chain_management {
                            let action = if absent { "-X" } else { "-N" };
                            plan.step(run_step(bin, push_arguments(&p, action, false)?));
                        }
                    }
                }
                Mode::Rule => {
                    let present = asked()?.0 == 0;
                    let should = self.p.state == "present";
                    if present != should {
                        let action = match (should, self.p.action.as_str()) {
                            (false, _) => "-D",
                            (true, "insert") => "-I",
                            (true, _) => "-A",
                        };
                        plan.step(run_step(bin, push_arguments(&p, action, true)?));
                    }
                }
            }
        }
        Ok(plan)
    }
}

impl Planner for IptPlan {
    fn ask(&mut self, probes: &mut Probes) {
        self.at = probes.command(self.script());
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let answers = KeyedOutput::parse(&obs.cmd(self.at)?.stdout);
        Ok(match self.decide(&answers) {
            Ok(plan) => plan,
            Err(msg) => Plan::fail(msg),
        })
    }
}
