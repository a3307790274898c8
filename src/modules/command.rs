//! `command` and `shell`: run a command on the host.
//!
//! `command` runs an argv without a shell (free-form text is split like a shell would, but no
//! expansion happens); `shell` runs the text with `/bin/sh -c` (or `executable`). `creates` and
//! `removes` make the task idempotent: they are probed first and decide whether it runs. A
//! command's effect cannot be predicted, so in check mode it is skipped unless `creates` or
//! `removes` decide (Ansible's rule), and it always reports changed when it runs unless
//! `changed_when` says otherwise.

use super::{
    Args, CmdRef, Command, FreeForm, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
};
use crate::error::{Error, Result};
use crate::template::to_text;

pub struct CommandModule;
pub struct ShellModule;

const OPTIONS: &[&str] = &[
    "_raw_params",
    "cmd",
    "argv",
    "chdir",
    "creates",
    "removes",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
    "executable",
    "warn",
    "expand_argument_vars",
    "_uses_shell",
];

impl Module for CommandModule {
    fn path_options(&self) -> &'static [&'static str] {
        &["chdir", "creates", "removes"]
    }
    fn name(&self) -> &'static str {
        "command"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn free_form(&self) -> FreeForm {
        FreeForm::Command
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        prepare(a, env, false)
    }
}

impl Module for ShellModule {
    fn path_options(&self) -> &'static [&'static str] {
        &["chdir", "creates", "removes"]
    }
    fn name(&self) -> &'static str {
        "shell"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn free_form(&self) -> FreeForm {
        FreeForm::Command
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        prepare(a, env, true)
    }
}

fn prepare(a: Args, env: &ModuleEnv, shell: bool) -> Result<Box<dyn Planner>> {
    let raw = a.str(&["_raw_params", "cmd"])?;
    let argv = match a.get(&["argv"]) {
        Some(v) if crate::template::is_list(v) => {
            Some(v.try_iter()?.map(|x| to_text(&x)).collect::<Vec<_>>())
        }
        Some(_) => return Err(Error::runtime(format!("{}: argv must be a list", a.module))),
        None => None,
    };
    let mut cmd = Command {
        chdir: a.str(&["chdir"])?,
        env: env.environment.clone(),
        ..Default::default()
    };
    let display;
    match (raw, argv) {
        (Some(_), Some(_)) => {
            return Err(Error::runtime(format!(
                "{}: only one of cmd/free form or argv can be given",
                a.module
            )));
        }
        (None, None) => return Err(Error::runtime(format!("{}: no command given", a.module))),
        (Some(text), None) if shell => {
            display = text.clone();
            cmd.shell = Some(text);
            cmd.executable = a.str(&["executable"])?;
        }
        (Some(text), None) => {
            display = text.clone();
            let words =
                crate::shlex::split(&text).map_err(|e| Error::runtime(format!("command: {e}")))?;
            if words.is_empty() {
                return Err(Error::runtime("command: no command given"));
            }
            cmd.argv = Some(words);
        }
        (None, Some(v)) => {
            if shell {
                return Err(Error::runtime("shell: argv is not supported, use cmd"));
            }
            display = crate::shlex::join(&v);
            cmd.argv = Some(v);
        }
    }
    if let Some(stdin) = a.str(&["stdin"])? {
        let mut data = stdin.into_bytes();
        if a.bool(&["stdin_add_newline"], true)? {
            data.push(b'\n');
        }
        cmd.stdin = Some(data);
    }
    Ok(Box::new(CommandPlan {
        creates_at: Default::default(),
        removes_at: Default::default(),
        cmd,
        display,
        creates: a.str(&["creates"])?,
        removes: a.str(&["removes"])?,
    }))
}

struct CommandPlan {
    /// Where a probe's answer is (asked in `ask`).
    creates_at: CmdRef,
    removes_at: CmdRef,
    cmd: Command,
    display: String,
    creates: Option<String>,
    removes: Option<String>,
}

/// A probe answering whether a path (or glob) exists, relative to `chdir`.
fn exists_probe(path: &str, chdir: &Option<String>) -> String {
    let cd = chdir
        .as_ref()
        .map(|d| format!("cd {} 2>/dev/null; ", crate::shlex::quote(d)))
        .unwrap_or_default();
    // Unquoted on purpose: `creates` accepts globs, as in Ansible.
    let glob = path.replace(['\'', '"', '`', '$', ';', '&', '|', '(', ')', '<', '>'], "");
    format!(
        "{cd}for p in {glob}; do [ -e \"$p\" ] || [ -L \"$p\" ] && {{ echo yes; exit 0; }}; done; echo no"
    )
}

impl Planner for CommandPlan {
    fn ask(&mut self, p: &mut Probes) {
        if let Some(c) = &self.creates {
            self.creates_at = p.command(exists_probe(c, &self.cmd.chdir));
        }
        if let Some(r) = &self.removes {
            self.removes_at = p.command(exists_probe(r, &self.cmd.chdir));
        }
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let base = Plan::ok().with("cmd", self.display.as_str());
        if let Some(c) = &self.creates
            && obs.cmd(self.creates_at)?.stdout.trim() == "yes"
        {
            return Ok(base
                .with("msg", format!("Did not run command since '{c}' exists"))
                .with("rc", 0)
                .with("stdout", format!("skipped, since {c} exists")));
        }
        if let Some(r) = &self.removes
            && obs.cmd(self.removes_at)?.stdout.trim() != "yes"
        {
            return Ok(base
                .with(
                    "msg",
                    format!("Did not run command since '{r}' does not exist"),
                )
                .with("rc", 0)
                .with("stdout", format!("skipped, since {r} does not exist")));
        }
        let mut plan = base;
        plan.runs_command = self.creates.is_none() && self.removes.is_none();
        plan.step(Step::Run {
            cmd: self.cmd,
            ok_rcs: vec![0],
        });
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, cmd, plan_answers};
    use minijinja::Value;

    #[test]
    fn free_form_is_split_without_a_shell() {
        let p = plan_answers(
            &CommandModule,
            args(
                "command",
                &[("_raw_params", Value::from("echo 'a b' $HOME"))],
            ),
            vec![],
        );
        let Step::Run { cmd, .. } = &p.steps[0] else {
            panic!()
        };
        assert_eq!(cmd.argv.as_deref().unwrap(), ["echo", "a b", "$HOME"]);
        assert!(p.changed && p.runs_command);
        let p = plan_answers(
            &ShellModule,
            args(
                "shell",
                &[("_raw_params", Value::from("echo $HOME | wc -c"))],
            ),
            vec![],
        );
        let Step::Run { cmd, .. } = &p.steps[0] else {
            panic!()
        };
        assert_eq!(cmd.shell.as_deref(), Some("echo $HOME | wc -c"));
    }

    #[test]
    fn creates_and_removes_decide() {
        let a = args(
            "command",
            &[
                ("_raw_params", Value::from("touch /x")),
                ("creates", Value::from("/x")),
            ],
        );
        let p = plan_answers(&CommandModule, a.clone(), vec![cmd(0, "yes\n")]);
        assert!(!p.changed && p.steps.is_empty());
        let p = plan_answers(&CommandModule, a, vec![cmd(0, "no\n")]);
        assert!(p.changed && !p.runs_command);
        let a = args(
            "command",
            &[
                ("_raw_params", Value::from("rm /x")),
                ("removes", Value::from("/x")),
            ],
        );
        let p = plan_answers(&CommandModule, a, vec![cmd(0, "no\n")]);
        assert!(!p.changed);
    }
}
