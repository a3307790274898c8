//! `iptables` (ansible.builtin.iptables): one rule, a chain's policy, a flush, or a
//! user-defined chain, in the running kernel's tables (nothing is saved), as Ansible's module
//! does it.
//!
//! The rule's arguments are built exactly as the module's `construct_rule`/`push_arguments`
//! build them (its quirks included: `--icmp-type --icmpv6-type` as one argument for
//! `ip_version: both`, `uid_owner: match` adding a bare `--uid-owner`, `-j LOG` added to the
//! commands but not to the reported `rule` when only `log_prefix`/`log_level` are given), and
//! the option checks are its argument spec's (choices, `flush`/`policy` and the two DSCP options
//! mutually exclusive, `jump` required by the DSCP options, `gateway` by `jump: TEE`, `chain`
//! unless `flush`). Input on which Ansible's module crashes (an empty option that is read as
//! `value[0]`, `match_set` without `match_set_flags`, `tcp_flags` without `flags` or
//! `flags_set`) fails the task with a message saying so.
//!
//! One read-only probe per task finds `iptables`/`ip6tables` as Ansible's `get_bin_path` does
//! (`PATH`, then `/sbin`, `/usr/sbin`, `/usr/local/sbin`), reads `--version` (`wait` is passed
//! as `-w SECONDS` only from iptables 1.6.0, compared as Ansible's `LooseVersion`), and runs
//! the module's own read-only question: `-C` for a rule, `-L CHAIN` (with `--numeric` when
//! asked) for a policy (`(policy X)` of its first line) or a chain's existence. The plan is
//! the module's decision; its steps are the modifying command (`-A`, `-I [rule_num]`, `-D`,
//! `-F`, `-P`, `-N`, `-X`), which check mode reports (changed) without running. As in Ansible,
//! a chain without rule options is reported changed when it is missing (present) or there
//! (absent) even when `chain_management` is off, and then nothing is run; `flush` is always a
//! change. The result has Ansible's keys: `chain`, `chain_management`, `flush`, `ip_version`,
//! `rule`, `state`, `table`, `wait`.
//!
//! In a chroot (the chroot connection, or `ansible_is_chroot`) the firewall is the build
//! machine's — a chroot shares its network namespace — so the task is reported skipped
//! (`skipped (chroot)`, as `modprobe` reports its live part) without reading or touching it.
//! That is what the chroot guard's `iptables` stand-in (src/transport/guard.rs) makes of the
//! modifying commands (refused, exit 0) when a shell or Ansible's own module runs them there.
//!
//! Differences: with `ip_version: both`, a failure on the IPv6 side fails the task before the
//! IPv4 command runs (Ansible has already changed the IPv4 table by then); a failing command
//! reports `non-zero return code` with its stderr in `stderr` (Ansible: stderr as `msg`); and
//! arguments are passed as given, without the `$VAR`/`~` expansion Ansible's `run_command`
//! applies to every argument on the target.

use std::cmp::Ordering;

use minijinja::Value;
use minijinja::value::ValueKind;

use super::{
    Args, CmdRef, Command, Fixed, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
};
use crate::error::Result;
use crate::shlex::quote;

pub struct Iptables;

const OPTIONS: &[&str] = &[
    "table",
    "state",
    "action",
    "ip_version",
    "chain",
    "rule_num",
    "protocol",
    "wait",
    "source",
    "to_source",
    "destination",
    "to_destination",
    "match",
    "tcp_flags",
    "jump",
    "gateway",
    "log_prefix",
    "log_level",
    "goto",
    "in_interface",
    "out_interface",
    "fragment",
    "set_counters",
    "source_port",
    "destination_port",
    "destination_ports",
    "to_ports",
    "set_dscp_mark",
    "set_dscp_mark_class",
    "comment",
    "ctstate",
    "src_range",
    "dst_range",
    "match_set",
    "match_set_flags",
    "limit",
    "limit_burst",
    "uid_owner",
    "gid_owner",
    "reject_with",
    "icmp_type",
    "syn",
    "flush",
    "policy",
    "chain_management",
    "numeric",
];

/// Ansible's `IPTABLES_WAIT_SUPPORT_ADDED` and `IPTABLES_WAIT_WITH_SECONDS_SUPPORT_ADDED`.
const WAIT_SUPPORT: &str = "1.4.20";
const WAIT_SECONDS_SUPPORT: &str = "1.6.0";

/// `tcp_flags`'s two sub-options (absent ones are `None`, as Ansible fills them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TcpFlags {
    pub flags: Option<Vec<String>>,
    pub flags_set: Option<Vec<String>>,
}

/// The module's parameters after Ansible's argument spec (types converted, defaults set).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params {
    pub table: String,
    pub state: String,
    pub action: String,
    pub ip_version: String,
    pub chain: Option<String>,
    pub rule_num: Option<String>,
    pub protocol: Option<String>,
    pub wait: Option<String>,
    pub source: Option<String>,
    pub to_source: Option<String>,
    pub destination: Option<String>,
    pub to_destination: Option<String>,
    pub matches: Vec<String>,
    pub tcp_flags: Option<TcpFlags>,
    pub jump: Option<String>,
    pub gateway: Option<String>,
    pub log_prefix: Option<String>,
    pub log_level: Option<String>,
    pub goto: Option<String>,
    pub in_interface: Option<String>,
    pub out_interface: Option<String>,
    pub fragment: Option<String>,
    pub set_counters: Option<String>,
    pub source_port: Option<String>,
    pub destination_port: Option<String>,
    pub destination_ports: Vec<String>,
    pub to_ports: Option<String>,
    pub set_dscp_mark: Option<String>,
    pub set_dscp_mark_class: Option<String>,
    pub comment: Option<String>,
    pub ctstate: Vec<String>,
    pub src_range: Option<String>,
    pub dst_range: Option<String>,
    pub match_set: Option<String>,
    pub match_set_flags: Option<String>,
    pub limit: Option<String>,
    pub limit_burst: Option<String>,
    pub uid_owner: Option<String>,
    pub gid_owner: Option<String>,
    pub reject_with: Option<String>,
    pub icmp_type: Option<String>,
    pub syn: String,
    pub flush: bool,
    pub policy: Option<String>,
    pub chain_management: bool,
    pub numeric: bool,
}

/// Python's `str()` of a scalar option value.
fn py_str(v: &Value) -> Option<String> {
    match v.kind() {
        ValueKind::String => Some(v.as_str().unwrap_or_default().to_string()),
        ValueKind::Number | ValueKind::Bool | ValueKind::None => Some(crate::template::py_repr(v)),
        _ => None,
    }
}

/// Ansible's `type='str'`.
fn opt_str(a: &Args, name: &str) -> std::result::Result<Option<String>, String> {
    match a.get(&[name]) {
        None => Ok(None),
        Some(v) => py_str(v).map(Some).ok_or_else(|| {
            format!(
                "argument '{name}' is of type {} and we were unable to convert to str",
                kind_name(v)
            )
        }),
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Map => "dict",
        ValueKind::Seq | ValueKind::Iterable => "list",
        _ => "object",
    }
}

/// Ansible's `type='list', elements='str'` of one value: a string is split on every comma
/// (nothing trimmed), a number or boolean is a one-item list.
fn to_list(name: &str, v: &Value) -> std::result::Result<Vec<String>, String> {
    match v.kind() {
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = Vec::new();
            for item in v.try_iter().map_err(|e| e.to_string())? {
                out.push(py_str(&item).ok_or_else(|| {
                    format!("Elements value for option '{name}' is of type {} and we were unable to convert to str", kind_name(&item))
                })?);
            }
            Ok(out)
        }
        ValueKind::String => Ok(v
            .as_str()
            .unwrap_or_default()
            .split(',')
            .map(str::to_string)
            .collect()),
        ValueKind::Number | ValueKind::Bool => Ok(vec![crate::template::py_repr(v)]),
        _ => Err(format!(
            "argument '{name}' is of type {} and we were unable to convert to list",
            kind_name(v)
        )),
    }
}

fn opt_list(a: &Args, name: &str) -> std::result::Result<Vec<String>, String> {
    a.get(&[name]).map_or(Ok(Vec::new()), |v| to_list(name, v))
}

fn choice(
    a: &Args,
    name: &str,
    choices: &[&str],
    default: Option<&str>,
) -> std::result::Result<Option<String>, String> {
    match opt_str(a, name)? {
        None => Ok(default.map(str::to_string)),
        Some(s) if choices.contains(&s.as_str()) => Ok(Some(s)),
        Some(s) => Err(format!(
            "value of {name} must be one of: {}, got: {s}",
            choices.join(", ")
        )),
    }
}

fn boolean(a: &Args, name: &str) -> std::result::Result<bool, String> {
    a.bool(&[name], false).map_err(|e| e.to_string())
}

impl Params {
    /// Validate and convert a task's arguments as the module's argument spec does.
    pub fn parse(a: &Args) -> std::result::Result<Params, String> {
        let present = |n: &str| a.map().contains_key(n);
        for pair in [
            ["set_dscp_mark", "set_dscp_mark_class"],
            ["flush", "policy"],
        ] {
            if pair.iter().all(|n| present(n)) {
                return Err(format!(
                    "parameters are mutually exclusive: {}",
                    pair.join("|")
                ));
            }
        }
        let tcp_flags = match a.get(&["tcp_flags"]) {
            None => None,
            Some(v) if v.kind() == ValueKind::Map => {
                let mut tf = TcpFlags::default();
                for key in v.try_iter().map_err(|e| e.to_string())? {
                    let k = crate::template::to_text(&key);
                    let item = v.get_item(&key).map_err(|e| e.to_string())?;
                    let list = if item.is_none() {
                        None
                    } else {
                        Some(to_list(&k, &item)?)
                    };
                    match k.as_str() {
                        "flags" => tf.flags = list,
                        "flags_set" => tf.flags_set = list,
                        _ => {
                            return Err(format!(
                                "Unsupported parameters for (iptables) module: {k} found in tcp_flags. Supported parameters include: flags, flags_set."
                            ));
                        }
                    }
                }
                Some(tf)
            }
            Some(v) => {
                return Err(format!(
                    "argument 'tcp_flags' is of type {} and we were unable to convert to dict",
                    kind_name(v)
                ));
            }
        };
        let p = Params {
            table: choice(
                a,
                "table",
                &["filter", "nat", "mangle", "raw", "security"],
                Some("filter"),
            )?
            .unwrap_or_default(),
            state: choice(a, "state", &["absent", "present"], Some("present"))?.unwrap_or_default(),
            action: choice(a, "action", &["append", "insert"], Some("append"))?.unwrap_or_default(),
            ip_version: choice(a, "ip_version", &["ipv4", "ipv6", "both"], Some("ipv4"))?
                .unwrap_or_default(),
            chain: opt_str(a, "chain")?,
            rule_num: opt_str(a, "rule_num")?,
            protocol: opt_str(a, "protocol")?,
            wait: opt_str(a, "wait")?,
            source: opt_str(a, "source")?,
            to_source: opt_str(a, "to_source")?,
            destination: opt_str(a, "destination")?,
            to_destination: opt_str(a, "to_destination")?,
            matches: opt_list(a, "match")?,
            tcp_flags,
            jump: opt_str(a, "jump")?,
            gateway: opt_str(a, "gateway")?,
            log_prefix: opt_str(a, "log_prefix")?,
            log_level: choice(
                a,
                "log_level",
                &[
                    "0", "1", "2", "3", "4", "5", "6", "7", "emerg", "alert", "crit", "error",
                    "warning", "notice", "info", "debug",
                ],
                None,
            )?,
            goto: opt_str(a, "goto")?,
            in_interface: opt_str(a, "in_interface")?,
            out_interface: opt_str(a, "out_interface")?,
            fragment: opt_str(a, "fragment")?,
            set_counters: opt_str(a, "set_counters")?,
            source_port: opt_str(a, "source_port")?,
            destination_port: opt_str(a, "destination_port")?,
            destination_ports: opt_list(a, "destination_ports")?,
            to_ports: opt_str(a, "to_ports")?,
            set_dscp_mark: opt_str(a, "set_dscp_mark")?,
            set_dscp_mark_class: opt_str(a, "set_dscp_mark_class")?,
            comment: opt_str(a, "comment")?,
            ctstate: opt_list(a, "ctstate")?,
            src_range: opt_str(a, "src_range")?,
            dst_range: opt_str(a, "dst_range")?,
            match_set: opt_str(a, "match_set")?,
            match_set_flags: choice(
                a,
                "match_set_flags",
                &["src", "dst", "src,dst", "dst,src", "src,src", "dst,dst"],
                None,
            )?,
            limit: opt_str(a, "limit")?,
            limit_burst: opt_str(a, "limit_burst")?,
            uid_owner: opt_str(a, "uid_owner")?,
            gid_owner: opt_str(a, "gid_owner")?,
            reject_with: opt_str(a, "reject_with")?,
            icmp_type: opt_str(a, "icmp_type")?,
            syn: choice(a, "syn", &["ignore", "match", "negate"], Some("ignore"))?
                .unwrap_or_default(),
            flush: boolean(a, "flush")?,
            policy: choice(a, "policy", &["ACCEPT", "DROP", "QUEUE", "RETURN"], None)?,
            chain_management: boolean(a, "chain_management")?,
            numeric: boolean(a, "numeric")?,
        };
        for (key, value) in [
            ("set_dscp_mark", &p.set_dscp_mark),
            ("set_dscp_mark_class", &p.set_dscp_mark_class),
        ] {
            if value.is_some() && p.jump.is_none() {
                return Err(format!("missing parameter(s) required by '{key}': jump"));
            }
        }
        if let Some(j @ ("TEE" | "tee")) = p.jump.as_deref()
            && !present("gateway")
        {
            return Err(format!(
                "jump is {j} but all of the following are missing: gateway"
            ));
        }
        if !p.flush && !present("chain") {
            return Err("flush is False but all of the following are missing: chain".into());
        }
        Ok(p)
    }
}

/// Python's truthiness of an optional string.
fn truthy(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.is_empty())
}

/// `append_param`: `FLAG VALUE`, or `! FLAG VALUE` for a value starting with `!`.
fn append_param(rule: &mut Vec<String>, param: &Option<String>, flag: &str) -> RuleResult {
    if let Some(p) = param {
        if p.is_empty() {
            return Err(format!(
                "an empty value for {flag} (Ansible's module fails on it: IndexError: string index out of range)"
            ));
        }
        match p.strip_prefix('!') {
            Some(rest) => rule.extend(["!".to_string(), flag.to_string(), rest.to_string()]),
            None => rule.extend([flag.to_string(), p.clone()]),
        }
    }
    Ok(())
}

type RuleResult = std::result::Result<(), String>;

/// `append_match_flag`: a bare FLAG for `match`, `! FLAG` for `negate` when negatable.
fn append_match_flag(rule: &mut Vec<String>, param: Option<&str>, flag: &str, negatable: bool) {
    match param {
        Some("match") => rule.push(flag.to_string()),
        Some("negate") if negatable => rule.extend(["!".to_string(), flag.to_string()]),
        _ => {}
    }
}

fn append_csv(rule: &mut Vec<String>, param: &[String], flag: &str) {
    if !param.is_empty() {
        rule.extend([flag.to_string(), param.join(",")]);
    }
}

fn append_match(rule: &mut Vec<String>, param: bool, m: &str) {
    if param {
        rule.extend(["-m".to_string(), m.to_string()]);
    }
}

fn append_jump(rule: &mut Vec<String>, param: bool, jump: &str) {
    if param {
        rule.extend(["-j".to_string(), jump.to_string()]);
    }
}

/// `append_match_flag(rule, 'match', params['match_set_flags'], False)`: the flags as an
/// argument of their own; without them Ansible's module fails joining `None`.
fn append_set_flags(rule: &mut Vec<String>, flags: &Option<String>) -> RuleResult {
    match flags {
        Some(f) => {
            rule.push(f.clone());
            Ok(())
        }
        None => Err(
            "match_set needs match_set_flags (Ansible's module fails without them: TypeError: expected str instance, NoneType found)"
                .into(),
        ),
    }
}

/// Ansible's `construct_rule`: the rule's arguments.
pub fn construct_rule(p: &Params) -> std::result::Result<Vec<String>, String> {
    let mut rule = Vec::new();
    let r = &mut rule;
    append_param(r, &p.protocol, "-p")?;
    append_param(r, &p.source, "-s")?;
    append_param(r, &p.destination, "-d")?;
    for m in &p.matches {
        append_param(r, &Some(m.clone()), "-m")?;
    }
    if let Some(tf) = &p.tcp_flags {
        match (&tf.flags, &tf.flags_set) {
            (Some(f), Some(s)) => r.extend(["--tcp-flags".into(), f.join(","), s.join(",")]),
            _ => {
                return Err(
                    "tcp_flags needs both flags and flags_set (Ansible's module fails without them: TypeError: can only join an iterable)"
                        .into(),
                );
            }
        }
    }
    append_param(r, &p.jump, "-j")?;
    if truthy(&p.jump) && p.jump.as_deref().unwrap_or_default().to_lowercase() == "tee" {
        append_param(r, &p.gateway, "--gateway")?;
    }
    append_param(r, &p.log_prefix, "--log-prefix")?;
    append_param(r, &p.log_level, "--log-level")?;
    append_param(r, &p.to_destination, "--to-destination")?;
    append_match(r, !p.destination_ports.is_empty(), "multiport");
    append_csv(r, &p.destination_ports, "--dports");
    append_param(r, &p.to_source, "--to-source")?;
    append_param(r, &p.goto, "-g")?;
    append_param(r, &p.in_interface, "-i")?;
    append_param(r, &p.out_interface, "-o")?;
    append_param(r, &p.fragment, "-f")?;
    append_param(r, &p.set_counters, "-c")?;
    append_param(r, &p.source_port, "--source-port")?;
    append_param(r, &p.destination_port, "--destination-port")?;
    append_param(r, &p.to_ports, "--to-ports")?;
    let jump_is_dscp = p.jump.as_deref().unwrap_or_default().to_lowercase() == "dscp";
    append_param(r, &p.set_dscp_mark, "--set-dscp")?;
    if truthy(&p.set_dscp_mark) && !jump_is_dscp {
        append_jump(r, true, "DSCP");
    }
    append_param(r, &p.set_dscp_mark_class, "--set-dscp-class")?;
    if truthy(&p.set_dscp_mark_class) && !jump_is_dscp {
        append_jump(r, true, "DSCP");
    }
    append_match_flag(r, Some(p.syn.as_str()), "--syn", true);
    let has = |m: &str| p.matches.iter().any(|x| x == m);
    if has("conntrack") {
        append_csv(r, &p.ctstate, "--ctstate");
    } else if has("state") {
        append_csv(r, &p.ctstate, "--state");
    } else if !p.ctstate.is_empty() {
        append_match(r, true, "conntrack");
        append_csv(r, &p.ctstate, "--ctstate");
    }
    if has("iprange") {
        append_param(r, &p.src_range, "--src-range")?;
        append_param(r, &p.dst_range, "--dst-range")?;
    } else if truthy(&p.src_range) || truthy(&p.dst_range) {
        append_match(r, true, "iprange");
        append_param(r, &p.src_range, "--src-range")?;
        append_param(r, &p.dst_range, "--dst-range")?;
    }
    if has("set") {
        append_param(r, &p.match_set, "--match-set")?;
        append_set_flags(r, &p.match_set_flags)?;
    } else if truthy(&p.match_set) {
        append_match(r, true, "set");
        append_param(r, &p.match_set, "--match-set")?;
        append_set_flags(r, &p.match_set_flags)?;
    }
    append_match(r, truthy(&p.limit) || truthy(&p.limit_burst), "limit");
    append_param(r, &p.limit, "--limit")?;
    append_param(r, &p.limit_burst, "--limit-burst")?;
    append_match(r, truthy(&p.uid_owner), "owner");
    append_match_flag(r, p.uid_owner.as_deref(), "--uid-owner", true);
    append_param(r, &p.uid_owner, "--uid-owner")?;
    append_match(r, truthy(&p.gid_owner), "owner");
    append_match_flag(r, p.gid_owner.as_deref(), "--gid-owner", true);
    append_param(r, &p.gid_owner, "--gid-owner")?;
    if p.jump.is_none() {
        append_jump(r, truthy(&p.reject_with), "REJECT");
        append_jump(r, truthy(&p.set_dscp_mark_class), "DSCP");
        append_jump(r, truthy(&p.set_dscp_mark), "DSCP");
    }
    append_param(r, &p.reject_with, "--reject-with")?;
    let icmp_flag = match p.ip_version.as_str() {
        "ipv6" => "--icmpv6-type",
        "both" => "--icmp-type --icmpv6-type",
        _ => "--icmp-type",
    };
    append_param(r, &p.icmp_type, icmp_flag)?;
    append_match(r, truthy(&p.comment), "comment");
    append_param(r, &p.comment, "--comment")?;
    Ok(rule)
}

/// Ansible's `push_arguments` without the program: `-t TABLE ACTION CHAIN [RULE_NUM] [-w
/// WAIT] [RULE...]` (a missing chain is left out, as `run_command` drops `None`).
pub fn push_arguments(
    p: &Params,
    action: &str,
    make_rule: bool,
) -> std::result::Result<Vec<String>, String> {
    let mut cmd = vec!["-t".to_string(), p.table.clone(), action.to_string()];
    cmd.extend(p.chain.clone());
    if action == "-I" && truthy(&p.rule_num) {
        cmd.extend(p.rule_num.clone());
    }
    if truthy(&p.wait) {
        cmd.extend(["-w".to_string(), p.wait.clone().unwrap_or_default()]);
    }
    if make_rule {
        cmd.extend(construct_rule(p)?);
    }
    Ok(cmd)
}

/// One part of Python's `LooseVersion`: a number or a run of other text.
#[derive(Clone, Debug, PartialEq)]
enum Part {
    Num(u128),
    Text(String),
}

/// `LooseVersion(v).version`: digit runs, lowercase-letter runs and the text between them,
/// dots dropped.
fn loose_parts(v: &str) -> Vec<Part> {
    #[derive(PartialEq, Clone, Copy)]
    enum K {
        Digit,
        Lower,
        Dot,
        Other,
    }
    let kind = |c: char| {
        if c.is_ascii_digit() {
            K::Digit
        } else if c.is_ascii_lowercase() {
            K::Lower
        } else if c == '.' {
            K::Dot
        } else {
            K::Other
        }
    };
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut cur_kind = K::Other;
    let flush = |cur: &mut String, k: K, parts: &mut Vec<Part>| {
        if !cur.is_empty() {
            parts.push(match k {
                K::Digit => cur
                    .parse()
                    .map(Part::Num)
                    .unwrap_or_else(|_| Part::Text(cur.clone())),
                _ => Part::Text(cur.clone()),
            });
            cur.clear();
        }
    };
    for c in v.chars() {
        let k = kind(c);
        if k == K::Dot {
            flush(&mut cur, cur_kind, &mut parts);
            continue;
        }
        if k != cur_kind {
            flush(&mut cur, cur_kind, &mut parts);
            cur_kind = k;
        }
        cur.push(c);
    }
    flush(&mut cur, cur_kind, &mut parts);
    parts
}

/// `LooseVersion(a)` compared with `LooseVersion(b)`; Python refuses to order a number and
/// a text part (TypeError).
fn loose_cmp(a: &str, b: &str) -> std::result::Result<Ordering, String> {
    let (pa, pb) = (loose_parts(a), loose_parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x, y) {
            (Part::Num(x), Part::Num(y)) => x.cmp(y),
            (Part::Text(x), Part::Text(y)) => x.cmp(y),
            _ => {
                return Err(format!(
                    "cannot compare iptables version {a:?} with {b:?} (TypeError in Ansible's LooseVersion)"
                ));
            }
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(pa.len().cmp(&pb.len()))
}

#[path = "iptables_plan.rs"]
mod plan;
pub use plan::IptPlan;

impl Module for Iptables {
    fn name(&self) -> &'static str {
        "iptables"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let p = match Params::parse(&a) {
            Ok(p) => p,
            Err(msg) => return Ok(Box::new(Fixed(Plan::fail(format!("iptables: {msg}"))))),
        };
        let rule = match construct_rule(&p) {
            Ok(r) => r.join(" "),
            Err(msg) => return Ok(Box::new(Fixed(Plan::fail(format!("iptables: {msg}"))))),
        };
        let mut every = vec![
            p.chain.clone(),
            p.rule_num.clone(),
            p.wait.clone(),
            p.policy.clone(),
        ];
        every.push(Some(rule.clone()));
        if every.iter().flatten().any(|s| s.contains('\0')) {
            return Ok(Box::new(Fixed(Plan::fail(
                "iptables: arguments must not contain NUL bytes (ValueError: embedded null byte)",
            ))));
        }
        let mut result = Plan::ok()
            .with(
                "chain",
                p.chain.clone().map_or(Value::from(()), Value::from),
            )
            .with("chain_management", p.chain_management)
            .with("flush", p.flush)
            .with("ip_version", p.ip_version.as_str())
            .with("rule", rule.as_str())
            .with("state", p.state.as_str())
            .with("table", p.table.as_str())
            .with("wait", p.wait.clone().map_or(Value::from(()), Value::from));
        if env.is_chroot {
            result.skipped = Some("skipped (chroot)".into());
            result.result.insert(
                "msg".into(),
                Value::from(
                    "skipped (chroot): the firewall there is the build machine's, not the root's",
                ),
            );
            return Ok(Box::new(Fixed(result)));
        }
        Ok(Box::new(IptPlan::new(p, rule.is_empty(), result.result)))
    }
}

#[cfg(test)]
#[path = "iptables_tests.rs"]
mod tests;
