//! `ufw` (community.general.ufw): the firewall through the `ufw` command on the target, as
//! the collection's module drives it.
//!
//! The task runs the module's commands in its order (`state`, `default`, `rule`, `logging`),
//! each built as its `execute()` builds it (the words joined with spaces, then split as
//! `shlex` splits them, `LANG=C`): `ufw -f enable|disable|reload|reset`, `ufw default POLICY
//! [DIRECTION]`, `ufw [route] [delete | insert NUM] RULE [DIRECTION] [on IF] [in on IF] [out
//! on IF] [log] from IP [port P] to IP [port P] [proto P] [app 'NAME'] [comment 'TEXT']` (the
//! comment only from ufw 0.35, by the module's own reading of `ufw --version`, quirks
//! included: its greedy pattern reads `ufw 0.36.2` as 6.2) and `ufw logging LEVEL`.
//!
//! Changed is decided as the module does: in a real run, `ufw status verbose` and the user
//! rules (`grep -h '^### tuple'` over `/lib/ufw`, `/etc/ufw` and `/var/lib/ufw`'s
//! `user.rules`/`user6.rules`) are read before and after, and any difference — or a
//! `reloaded`/`reset` state — is a change; the result has `commands` (every command run, as
//! the module lists them) and `msg` (the final `ufw status verbose`). In check mode nothing is
//! changed: the state and policy are compared with the `status verbose` text (the
//! module's patterns: `" active"`, `Logging: on (level)`, `Default: ... (routed)`, a `disabled`
//! routed policy never a change), and a rule is run with `--dry-run`, its `### tuple` lines
//! compared with the current rules (only the IPv4 or IPv6 lines when an address is one, no
//! change when every output line is a `Skipping` one). The logging level is compared with
//! the status in both modes (an inactive ufw, whose status shows no level, is always a
//! change, as in the module). `insert_relative_to` numbers the rule
//! from `ufw status numbered` as the module does (a number past the last rule drops `insert`).
//!
//! One read-only probe (src/modules/ufw_plan.rs) finds `ufw` and `grep` as Ansible's
//! `get_bin_path` does, reads the status, the rules, the version and the numbered status
//! (computing the insert position), and in check mode runs the `--dry-run`; a real run is one
//! step, a script that runs the commands and reports `commands`/`msg` and whether anything
//! changed.
//!
//! In a chroot (the chroot connection, or `ansible_is_chroot`) the firewall is the build
//! machine's — a chroot shares its network namespace — so the task is reported skipped
//! (`skipped (chroot)`, as the `iptables` module does) without reading or touching anything.
//!
//! Differences: the option checks (choices, exclusions, a `direction` that does not fit
//! `default` or `rule`, `interface_in` with `interface_out` outside a route rule) fail the task
//! before any command runs (the module has run the earlier commands of the task by then); the
//! numbered status is read before the task's `state` command (the module reads it after, which
//! differs when one task enables an inactive firewall and inserts relative to its rules); a
//! failing command's message is trimmed; `msg` and the outputs are read as text lines (control
//! characters other than tab dropped); arguments are not `$VAR`/`~` expanded as Ansible's
//! `run_command` does; a quote that `shlex` cannot split fails the task with a message (the
//! module crashes).

use super::{Args, Fixed, Module, ModuleEnv, Plan, Planner};
use crate::error::Result;

pub struct Ufw;

const OPTIONS: &[&str] = &[
    "state",
    "default",
    "policy",
    "logging",
    "direction",
    "delete",
    "route",
    "insert",
    "insert_relative_to",
    "rule",
    "interface",
    "if",
    "interface_in",
    "if_in",
    "interface_out",
    "if_out",
    "log",
    "from_ip",
    "from",
    "src",
    "from_port",
    "to_ip",
    "dest",
    "to",
    "to_port",
    "port",
    "proto",
    "protocol",
    "name",
    "app",
    "comment",
];

/// The module's parameters after its argument spec (defaults set).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params {
    pub state: Option<String>,
    pub default: Option<String>,
    pub logging: Option<String>,
    pub direction: Option<String>,
    pub delete: bool,
    pub route: bool,
    pub insert: Option<i64>,
    pub insert_relative_to: String,
    pub rule: Option<String>,
    pub interface: Option<String>,
    pub interface_in: Option<String>,
    pub interface_out: Option<String>,
    pub log: bool,
    pub from_ip: Option<String>,
    pub from_port: Option<String>,
    pub to_ip: Option<String>,
    pub to_port: Option<String>,
    pub proto: Option<String>,
    pub name: Option<String>,
    pub comment: Option<String>,
}

/// Python's truthiness of an optional string.
fn truthy(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.is_empty())
}

impl Params {
    pub fn parse(a: &Args) -> Result<Params> {
        let choice = |names: &[&str], choices: &[&str]| a.choice(names, choices, None);
        let p = Params {
            state: choice(&["state"], &["enabled", "disabled", "reloaded", "reset"])?,
            default: choice(&["default", "policy"], &["allow", "deny", "reject"])?,
            logging: choice(
                &["logging"],
                &["full", "high", "low", "medium", "off", "on"],
            )?,
            direction: choice(
                &["direction"],
                &["in", "incoming", "out", "outgoing", "routed"],
            )?,
            delete: a.bool(&["delete"], false)?,
            route: a.bool(&["route"], false)?,
            insert: a.int(&["insert"])?,
            insert_relative_to: a
                .choice(
                    &["insert_relative_to"],
                    &["zero", "first-ipv4", "last-ipv4", "first-ipv6", "last-ipv6"],
                    Some("zero"),
                )?
                .unwrap_or_default(),
            rule: choice(&["rule"], &["allow", "deny", "limit", "reject"])?,
            interface: a.str(&["interface", "if"])?,
            interface_in: a.str(&["interface_in", "if_in"])?,
            interface_out: a.str(&["interface_out", "if_out"])?,
            log: a.bool(&["log"], false)?,
            from_ip: Some(a.str(&["from_ip", "from", "src"])?.unwrap_or("any".into())),
            from_port: a.str(&["from_port"])?,
            to_ip: Some(a.str(&["to_ip", "dest", "to"])?.unwrap_or("any".into())),
            to_port: a.str(&["to_port", "port"])?,
            proto: choice(
                &["proto", "protocol"],
                &[
                    "ah", "any", "esp", "ipv6", "tcp", "udp", "gre", "igmp", "vrrp",
                ],
            )?,
            name: a.str(&["name", "app"])?,
            comment: a.str(&["comment"])?,
        };
        let given = |n: &[&str]| n.iter().any(|k| a.has(k));
        let excl = [
            given(&["name", "app"]),
            given(&["proto", "protocol"]),
            given(&["logging"]),
        ];
        if excl.iter().filter(|b| **b).count() > 1 {
            return Err(err("parameters are mutually exclusive: name|proto|logging"));
        }
        if given(&["direction"]) && given(&["interface_in", "if_in"]) {
            return Err(err(
                "parameters are mutually exclusive: direction|interface_in",
            ));
        }
        if given(&["direction"]) && given(&["interface_out", "if_out"]) {
            return Err(err(
                "parameters are mutually exclusive: direction|interface_out",
            ));
        }
        if !["state", "default", "policy", "rule", "logging"]
            .iter()
            .any(|k| a.has(k))
        {
            return Err(err(
                "one of the following is required: state, default, rule, logging",
            ));
        }
        if given(&["interface", "if"]) && !given(&["direction"]) {
            return Err(err(
                "missing parameter(s) required by 'interface': direction",
            ));
        }
        if truthy(&p.default)
            && !matches!(
                p.direction.as_deref(),
                None | Some("outgoing" | "incoming" | "routed")
            )
        {
            return Err(err(
                "For default, direction must be one of \"outgoing\", \"incoming\" and \"routed\", or direction must not be specified.",
            ));
        }
        if truthy(&p.rule) {
            if !matches!(p.direction.as_deref(), None | Some("in" | "out")) {
                return Err(err(
                    "For rules, direction must be one of \"in\" and \"out\", or direction must not be specified.",
                ));
            }
            if !p.route && truthy(&p.interface_in) && truthy(&p.interface_out) {
                return Err(err(
                    "Only route rules can combine interface_in and interface_out",
                ));
            }
        }
        let every = [
            &p.interface,
            &p.interface_in,
            &p.interface_out,
            &p.from_ip,
            &p.from_port,
            &p.to_ip,
            &p.to_port,
            &p.name,
            &p.comment,
        ];
        if every
            .iter()
            .any(|v| v.as_deref().is_some_and(|s| s.contains('\0')))
        {
            return Err(err(
                "arguments must not contain NUL bytes (ValueError: embedded null byte)",
            ));
        }
        Ok(p)
    }

    /// Whether the rule command needs the insert position read from `ufw status numbered`.
    pub fn relative_insert(&self) -> bool {
        truthy(&self.rule)
            && self.insert.is_some()
            && !self.delete
            && self.insert_relative_to != "zero"
    }
}

fn err(msg: &str) -> crate::error::Error {
    crate::error::Error::runtime(msg.to_string())
}

/// One command of the task: the string the module reports in `commands` and the argv it runs
/// (`shlex.split` of that string), the program being `ufw`'s path (`$ufw` at run time) left
/// out of both.
#[derive(Clone, Debug, PartialEq)]
pub struct UfwCmd {
    /// The words after the program, joined as the module joins them.
    pub text: String,
    pub argv: Vec<String>,
}

impl UfwCmd {
    fn from_parts(parts: &[(bool, String)]) -> std::result::Result<UfwCmd, String> {
        let text = parts
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let argv = crate::shlex::split(&text)
            .map_err(|e| format!("cannot split the ufw command {text:?} as shlex does: {e}"))?;
        Ok(UfwCmd { text, argv })
    }
}

/// `ufw -f enable` and the like for `state`.
pub fn state_cmd(value: &str, check: bool) -> Option<UfwCmd> {
    let verb = match value {
        "enabled" => "enable",
        "disabled" => "disable",
        "reloaded" => "reload",
        "reset" => "reset",
        _ => return None,
    };
    UfwCmd::from_parts(&[
        (check, "--dry-run".into()),
        (true, "-f".into()),
        (true, verb.into()),
    ])
    .ok()
}

/// `ufw default POLICY [DIRECTION]`.
pub fn default_cmd(p: &Params, check: bool) -> std::result::Result<UfwCmd, String> {
    UfwCmd::from_parts(&[
        (check, "--dry-run".into()),
        (true, "default".into()),
        (true, p.default.clone().unwrap_or_default()),
        (
            truthy(&p.direction),
            p.direction.clone().unwrap_or_default(),
        ),
    ])
}

/// `ufw logging LEVEL`.
pub fn logging_cmd(p: &Params, check: bool) -> std::result::Result<UfwCmd, String> {
    UfwCmd::from_parts(&[
        (check, "--dry-run".into()),
        (true, "logging".into()),
        (true, p.logging.clone().unwrap_or_default()),
    ])
}

/// The rule command, as the module builds it. `insert_to` is the position computed from the
/// numbered status (`insert` itself when relative to `zero`); `comment` whether this ufw takes
/// comments ([`comment_supported`]).
pub fn rule_cmd(
    p: &Params,
    check: bool,
    insert_to: Option<i64>,
    comment: bool,
) -> std::result::Result<UfwCmd, String> {
    let opt = |v: &Option<String>, f: &dyn Fn(&str) -> String| {
        (truthy(v), v.as_deref().map(f).unwrap_or_default())
    };
    let mut parts = vec![
        (check, "--dry-run".to_string()),
        (p.route, "route".into()),
        (p.delete, "delete".into()),
    ];
    if p.insert.is_some() && !p.delete {
        let to = if p.insert_relative_to == "zero" {
            p.insert
        } else {
            insert_to
        };
        parts.push((to.is_some(), format!("insert {}", to.unwrap_or(0))));
    }
    parts.push((true, p.rule.clone().unwrap_or_default()));
    parts.push(opt(&p.direction, &|d| d.to_string()));
    parts.push(opt(&p.interface, &|i| format!("on {i}")));
    parts.push(opt(&p.interface_in, &|i| format!("in on {i}")));
    parts.push(opt(&p.interface_out, &|i| format!("out on {i}")));
    parts.push((p.log, "log".into()));
    parts.push(opt(&p.from_ip, &|v| format!("from {v}")));
    parts.push(opt(&p.from_port, &|v| format!("port {v}")));
    parts.push(opt(&p.to_ip, &|v| format!("to {v}")));
    parts.push(opt(&p.to_port, &|v| format!("port {v}")));
    parts.push(opt(&p.proto, &|v| format!("proto {v}")));
    parts.push(opt(&p.name, &|v| format!("app '{v}'")));
    if comment {
        parts.push(opt(&p.comment, &|v| format!("comment '{v}'")));
    }
    UfwCmd::from_parts(&parts)
}

/// The module's `ufw_version()`: `(major, minor, rev)` from the first non-blank line of
/// `ufw --version`, by its pattern `^ufw.+(\d+)\.(\d+)(?:\.(\d+))?.*$` (greedy: `ufw 0.36.2`
/// gives 6.2), or `None` (the module's "Failed to get ufw version.").
pub fn ufw_version(out: &str) -> Option<(u64, u64, u64)> {
    let first = out.split('\n').find(|l| !py_strip(l).is_empty())?;
    // Python's greedy `.+`: the last place where `\d+\.\d+` can start (after at least one
    // character past "ufw"), the first number then one digit long.
    let b = first.as_bytes();
    if !first.starts_with("ufw") {
        return None;
    }
    let mut i = b.len();
    while i > 4 {
        i -= 1;
        if b[i].is_ascii_digit()
            && b.get(i + 1) == Some(&b'.')
            && b.get(i + 2).is_some_and(u8::is_ascii_digit)
        {
            let digits = |from: usize| -> (u64, usize) {
                let end = (from..b.len())
                    .find(|&k| !b[k].is_ascii_digit())
                    .unwrap_or(b.len());
                (first[from..end].parse().unwrap_or(u64::MAX), end)
            };
            let major = u64::from(b[i] - b'0');
            let (minor, end) = digits(i + 2);
            let rev = if b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit)
            {
                digits(end + 1).0
            } else {
                0
            };
            return Some((major, minor, rev));
        }
    }
    None
}

/// Python's `str.strip()` whitespace.
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c))
}

/// "comment is supported only in ufw version after 0.35".
pub fn comment_supported(v: (u64, u64, u64)) -> bool {
    (v.0 == 0 && v.1 >= 35) || v.0 > 0
}

#[path = "ufw_check.rs"]
pub mod check;
#[path = "ufw_plan.rs"]
mod plan;
pub use plan::UfwPlan;

impl Module for Ufw {
    fn name(&self) -> &'static str {
        "ufw"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let p = match Params::parse(&a) {
            Ok(p) => p,
            Err(e) => return Ok(Box::new(Fixed(Plan::fail(format!("ufw: {e}"))))),
        };
        // Words `shlex` cannot split fail here (the comment's only once the version is known).
        if truthy(&p.rule)
            && let Err(e) = rule_cmd(&p, env.check_mode, None, false)
        {
            return Ok(Box::new(Fixed(Plan::fail(format!("ufw: {e}")))));
        }
        if env.is_chroot {
            return Ok(Box::new(Fixed(Plan::skip("skipped (chroot)").with(
                "msg",
                "skipped (chroot): the firewall there is the build machine's, not the root's",
            ))));
        }
        Ok(Box::new(UfwPlan::new(p, env.check_mode)))
    }
}

#[cfg(test)]
#[path = "ufw_tests.rs"]
mod tests;
