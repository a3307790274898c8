//! The `ufw` planner: the read-only probe, the check-mode decision and the script a real run
//! executes.

use crate::modules::keyed_output::KeyedOutput;

use super::check;
use super::{
    Params, UfwCmd, comment_supported, default_cmd, logging_cmd, rule_cmd, state_cmd, ufw_version,
};
use crate::error::Result;
use crate::modules::{CmdRef, Command, Observed, Plan, Planner, Probes, Step};
use crate::shlex::quote;
use minijinja::Value;

/// The apply script's exit code for "ran, changed nothing".
pub const UNCHANGED_RC: i32 = 97;

/// The files the module greps for `### tuple` lines.
const RULE_FILES: &str = "/lib/ufw/user.rules /lib/ufw/user6.rules /etc/ufw/user.rules /etc/ufw/user6.rules /var/lib/ufw/user.rules /var/lib/ufw/user6.rules";

/// After [`crate::modules::bin_path::FIND_BIN_SH`] (`find_bin NAME`, Ansible's `get_bin_path`):
/// `run KEY CMD...` prints `KEY.rc=`, the command's stdout lines as `KEY.out=` and its stderr
/// lines as `KEY.err=`.
const PRELUDE: &str = r#"t=$(mktemp -d) || exit 1
trap 'rm -rf "$t"' EXIT
run() {
    k=$1
    shift
    "$@" >"$t/o" 2>"$t/e" </dev/null
    echo "$k.rc=$?"
    awk -v k="$k.out=" '{ print k $0 }' "$t/o"
    awk -v k="$k.err=" '{ print k $0 }' "$t/e"
}
"#;

/// The module's `insert_relative_to` arithmetic over `ufw status numbered` (stdin), given
/// `rel` and `ins`: prints the position, or nothing when it is past the last rule.
pub const INSERT_AWK: &str = r#"match($0, /^\[ *[0-9]+\] /) {
    s = substr($0, 2, RLENGTH - 3); gsub(/ /, "", s); n = s + 0
    if (!seen || n > last) last = n
    seen = 1
    if (index($0, "(v6)") > 0) has6 = 1
    else { if (!has4 || n > max4) max4 = n; has4 = 1 }
}
END {
    if (!seen) last = 0
    if (rel == "first-ipv4") r = 1
    else if (rel == "last-ipv4") r = has4 ? max4 : 1
    else if (rel == "first-ipv6") r = has4 ? max4 + 1 : 1
    else r = has6 ? last : last + 1
    t = ins + r
    if (t <= last) printf "%d\n", t
}"#;

pub struct UfwPlan {
    p: Params,
    check: bool,
    at: CmdRef,
}

fn quoted(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// The module's failure: `msg=err or out` with the commands run so far.
fn failure(err: &str, out: &str, cmds: &[String]) -> Plan {
    let msg = if err.is_empty() { out } else { err };
    let cmds: Vec<Value> = cmds.iter().map(|c| Value::from(c.as_str())).collect();
    Plan::fail(msg.trim_end().to_string()).with("commands", cmds)
}

impl UfwPlan {
    pub fn new(p: Params, check: bool) -> UfwPlan {
        UfwPlan {
            p,
            check,
            at: CmdRef::default(),
        }
    }

    fn has_rule(&self) -> bool {
        self.p.rule.as_deref().is_some_and(|s| !s.is_empty())
    }

    /// The probe script.
    pub fn script(&self) -> std::result::Result<String, String> {
        let mut s = format!(
            "export LC_ALL=C LANG=C\n{}{PRELUDE}",
            crate::modules::bin_path::FIND_BIN_SH
        );
        s.push_str("u=$(find_bin ufw) || { echo nobin=ufw; exit 0; }\n");
        s.push_str("g=$(find_bin grep) || { echo nobin=grep; exit 0; }\n");
        s.push_str("printf 'ufw=%s\\ngrep=%s\\n' \"$u\" \"$g\"\n");
        s.push_str("run pre \"$u\" status verbose\n");
        s.push_str(&format!("run rules \"$g\" -h '^### tuple' {RULE_FILES}\n"));
        if !self.has_rule() {
            return Ok(s);
        }
        s.push_str("run ver \"$u\" --version\n");
        s.push_str("ins=\n");
        if self.p.relative_insert() {
            s.push_str(&format!(
                "ins=$(\"$u\" status numbered </dev/null 2>/dev/null | awk -v rel={} -v ins={} '{INSERT_AWK}')\nprintf 'insert=%s\\n' \"$ins\"\n",
                quote(&self.p.insert_relative_to),
                self.p.insert.unwrap_or(0),
            ));
        }
        if self.check {
            let comment = self.p.comment.as_deref().is_some_and(|c| !c.is_empty());
            let variants: &[(&str, bool)] = if comment {
                &[("dryc", true), ("dryn", false)]
            } else {
                &[("dryn", false)]
            };
            for (key, c) in variants {
                let cmd = rule_cmd(&self.p, true, None, *c)?;
                s.push_str(&format!("run {key} \"$u\" {}\n", self.with_insert(&cmd)));
            }
        }
        Ok(s)
    }

    /// The rule's quoted words with `insert $ins` (the probe's variable) where the module puts
    /// it, for a relative insert; `cmd` was built without one.
    fn with_insert(&self, cmd: &UfwCmd) -> String {
        if !self.p.relative_insert() {
            return quoted(&cmd.argv);
        }
        let prefix = [self.check, self.p.route, self.p.delete]
            .iter()
            .filter(|b| **b)
            .count();
        let (a, b) = cmd.argv.split_at(prefix.min(cmd.argv.len()));
        format!("{} ${{ins:+insert $ins}} {}", quoted(a), quoted(b))
    }

    pub(crate) fn decide(&self, out: &str) -> std::result::Result<Plan, String> {
        let ans = KeyedOutput::parse(out);
        if let Some(name) = ans.one("nobin") {
            return Ok(Plan::fail(format!(
                "Failed to find required executable \"{name}\" in paths: {}",
                ans.one("paths").unwrap_or("")
            )));
        }
        let ufw = ans.one("ufw").ok_or("ufw: the probe did not report ufw")?;
        let grep = ans
            .one("grep")
            .ok_or("ufw: the probe did not report grep")?;
        let mut cmds = vec![format!("{ufw} status verbose")];
        let (rc, pre_state, err) = ans.run("pre")?;
        if rc != 0 {
            return Ok(failure(&err, &pre_state, &cmds));
        }
        let grep_text = format!("{grep} -h '^### tuple' {RULE_FILES}");
        cmds.push(grep_text.clone());
        let (_, pre_rules, _) = ans.run("rules")?;
        let mut changed = false;
        // (display text, argv after the program) of each command of a real run.
        let mut run: Vec<(String, Vec<String>)> = Vec::new();
        let p = &self.p;
        let push = |c: UfwCmd, run: &mut Vec<(String, Vec<String>)>| {
            run.push((format!("{ufw} {}", c.text), c.argv));
        };
        if let Some(state) = p.state.as_deref().filter(|s| !s.is_empty()) {
            if self.check {
                changed |= check::state_changed(state, &pre_state);
            } else {
                changed |= matches!(state, "reloaded" | "reset");
                push(state_cmd(state, false).ok_or("ufw: bad state")?, &mut run);
            }
        }
        if let Some(default) = p.default.as_deref().filter(|s| !s.is_empty()) {
            if self.check {
                changed |= check::default_changed(default, p.direction.as_deref(), &pre_state);
            } else {
                push(default_cmd(p, false)?, &mut run);
            }
        }
        if self.has_rule() {
            cmds.push(format!("{ufw} --version"));
            run.push((format!("{ufw} --version"), vec!["--version".into()]));
            let (rc, ver, err) = ans.run("ver")?;
            if rc != 0 {
                return Ok(failure(&err, &ver, &cmds));
            }
            let Some(version) = ufw_version(&ver) else {
                return Ok(Plan::fail("Failed to get ufw version.")
                    .with("rc", 0)
                    .with("out", ver.as_str()));
            };
            let comment = comment_supported(version);
            let insert_to = if p.relative_insert() {
                ans.one("insert")
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse::<i64>())
                    .transpose()
                    .map_err(|e| format!("ufw: bad insert position: {e}"))?
            } else {
                p.insert
            };
            let cmd = rule_cmd(p, self.check, insert_to, comment)?;
            if self.check {
                cmds.push(format!("{ufw} {}", cmd.text));
                let key = if comment && p.comment.as_deref().is_some_and(|c| !c.is_empty()) {
                    "dryc"
                } else {
                    "dryn"
                };
                let (rc, dry, err) = ans.run(key)?;
                if rc != 0 {
                    return Ok(failure(&err, &dry, &cmds));
                }
                let ip = |v: &Option<String>| v.clone().unwrap_or_default();
                changed |= check::rule_changed(&dry, &pre_rules, &ip(&p.from_ip), &ip(&p.to_ip));
            } else {
                push(cmd, &mut run);
            }
        }
        if let Some(level) = p.logging.as_deref().filter(|s| !s.is_empty()) {
            // The module compares the level with the status in a real run too.
            changed |= check::logging_changed(level, &pre_state);
            if !self.check {
                push(logging_cmd(p, false)?, &mut run);
            }
        }
        if self.check {
            let list: Vec<Value> = cmds.iter().map(|c| Value::from(c.as_str())).collect();
            let mut plan = Plan::ok().with("commands", list);
            plan.changed = changed;
            return Ok(plan);
        }
        let mut plan = Plan::ok();
        plan.step(Step::Run {
            cmd: Command {
                shell: Some(apply_script(ufw, grep, &grep_text, &run, changed)),
                unchanged_rc: Some(UNCHANGED_RC),
                result_lines: true,
                ..Default::default()
            },
            ok_rcs: vec![0],
        });
        Ok(plan)
    }
}

/// The real run: the module's `execute()` of each command (its text added to `commands`, a
/// failure ending the task with its stderr or stdout), the status and rules compared.
pub fn apply_script(
    ufw: &str,
    grep: &str,
    grep_text: &str,
    run: &[(String, Vec<String>)],
    forced: bool,
) -> String {
    let mut s = String::from(
        r#"export LANG=C
set -f
t=$(mktemp -d) || exit 1
trap 'rm -rf "$t"' EXIT
cmds=''
js() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' | tr -d '\000-\010\013-\037' | awk '{ printf "%s%s", (NR > 1 ? "\\n" : ""), $0 }'; }
ex() {
    ig=$1 c=$2
    shift 2
    cmds="$cmds${cmds:+,}\"$(printf '%s' "$c" | js)\""
    "$@" >"$t/out" 2>"$t/err" </dev/null
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$ig" = 0 ]; then
        printf 'commands=[%s]\n' "$cmds"
        if [ -s "$t/err" ]; then cat "$t/err" >&2; else cat "$t/out" >&2; fi
        exit 1
    fi
    return 0
}
"#,
    );
    let (u, g) = (quote(ufw), quote(grep));
    let status = quote(&format!("{ufw} status verbose"));
    let grep_run = format!(
        "ex 1 {} {g} -h '^### tuple' {RULE_FILES}\n",
        quote(grep_text)
    );
    s.push_str(&format!("changed={}\n", u8::from(forced)));
    s.push_str(&format!(
        "ex 0 {status} {u} status verbose\ncp \"$t/out\" \"$t/pre\"\n"
    ));
    s.push_str(&grep_run);
    s.push_str("cp \"$t/out\" \"$t/rules\"\n");
    for (text, argv) in run {
        s.push_str(&format!("ex 0 {} {u} {}\n", quote(text), quoted(argv)));
    }
    s.push_str(&format!(
        "ex 0 {status} {u} status verbose\ncp \"$t/out\" \"$t/post\"\n"
    ));
    s.push_str("if [ \"$changed\" = 0 ]; then\n    ");
    s.push_str(&grep_run);
    s.push_str(
        r#"    cmp -s "$t/pre" "$t/post" && cmp -s "$t/rules" "$t/out" || changed=1
fi
printf 'commands=[%s]\n' "$cmds"
printf 'msg="%s"\n' "$(js < "$t/post" | sed 's/\(\\n\|\\t\| \)*$//')"
[ "$changed" = 1 ] || exit 97
"#,
    );
    s
}

impl Planner for UfwPlan {
    fn ask(&mut self, probes: &mut Probes) {
        // A rule whose words cannot be split fails in `plan` (nothing is asked).
        if let Ok(script) = self.script() {
            self.at = probes.command(script);
        }
    }
    fn plan(self: Box<Self>, observed: &Observed) -> Result<Plan> {
        if let Err(e) = self.script() {
            return Ok(Plan::fail(format!("ufw: {e}")));
        }
        let out = observed.cmd(self.at)?;
        Ok(self.decide(&out.stdout).unwrap_or_else(Plan::fail))
    }
}
