//! `wait_for` (ansible.builtin.wait_for): wait on the target for a TCP port to accept (or
//! refuse) connections, for a file to appear (or go), for a regular expression to show up in
//! a file or in what a port sends, or for a port's connections to drain — or just sleep.
//!
//! The waiting is one read-only probe: a bash loop run on the target (bash for `/dev/tcp` and
//! its clock), with Ansible's order of things — `delay` counted in `timeout`, a check, then
//! `sleep` seconds, until `timeout`; the port is tried with `connect_timeout` (at most the time
//! left; a connection read for `search_regex` is bounded by the time left only); `drained` counts the connections in `connection_states` on the port from
//! `/proc/net/tcp` and `/proc/net/tcp6`, names resolved on the target as Ansible's
//! `getaddrinfo` would (`getent ahosts`), `exclude_hosts` being the peers that do not count.
//! `search_regex` is matched on the target with `grep -P` (PCRE, bytes, `(?m)` as Ansible's
//! `re.MULTILINE`); a file's `match_groups`/`match_groupdict` are then taken with Python's
//! semantics ([`crate::pyre`]) from the content sent back. The loop watches the processes
//! that started it and ends as soon as one of them is gone (prov interrupted or killed, the
//! connection lost), so nothing waits on after prov; a connection attempt it started ends
//! within `connect_timeout`.
//!
//! Results and messages are Ansible's (`elapsed`, `state`, `port`, `path`, `search_regex`,
//! `match_groups`, `match_groupdict`; "Timeout when waiting for 127.0.0.1:8000"), with what
//! Ansible's `add_path_info` adds for a path that exists (`uid`, `gid`, `owner`, `group`,
//! `mode`, `size`, and `state` then being the file's kind). Ansible's
//! module does not support check mode: in `--check` the task is skipped as Ansible skips it.

use minijinja::Value;

use super::{Args, CmdRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};
use crate::pyre::{Flags, Pattern};
use crate::shlex::quote;

pub struct WaitFor;

const OPTIONS: &[&str] = &[
    "host",
    "timeout",
    "connect_timeout",
    "delay",
    "port",
    "active_connection_states",
    "path",
    "search_regex",
    "state",
    "exclude_hosts",
    "sleep",
    "msg",
];

/// The states of `active_connection_states` and their code in `/proc/net/tcp`.
const CONNECTION_STATES: &[(&str, &str)] = &[
    ("ESTABLISHED", "01"),
    ("SYN_SENT", "02"),
    ("SYN_RECV", "03"),
    ("FIN_WAIT1", "04"),
    ("FIN_WAIT2", "05"),
    ("TIME_WAIT", "06"),
];

const DEFAULT_STATES: &[&str] = &[
    "ESTABLISHED",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "SYN_RECV",
    "SYN_SENT",
    "TIME_WAIT",
];

/// The most of a file sent back to take a match's groups from.
const CONTENT_LIMIT: u64 = 1 << 20;

/// Seconds options are kept below this, so the loop's microseconds fit in 64 bits.
const MAX_SECONDS: i64 = 1 << 33;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Spec {
    pub host: String,
    pub timeout: i64,
    pub connect_timeout: i64,
    pub delay: i64,
    pub port: Option<i64>,
    pub path: Option<String>,
    pub search_regex: Option<String>,
    pub state: String,
    pub exclude_hosts: Option<Vec<String>>,
    pub sleep: i64,
    pub msg: Option<String>,
    /// `/proc/net/tcp` codes of `active_connection_states`.
    pub states: Vec<&'static str>,
}

impl Module for WaitFor {
    fn name(&self) -> &'static str {
        "wait_for"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn path_options(&self) -> &'static [&'static str] {
        &["path"]
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let parsed = parse(&a)?;
        if env.check_mode {
            return Ok(Box::new(super::Fixed(Plan::unknown(
                "remote module (wait_for) does not support check mode",
            ))));
        }
        let (spec, invalid) = match parsed {
            Ok(spec) => (Some(spec), None),
            Err(msg) => (None, Some(msg)),
        };
        Ok(Box::new(WaitPlan {
            spec,
            invalid,
            out_at: CmdRef::default(),
        }))
    }
}

fn seconds(a: &Args, name: &str, default: i64) -> Result<i64> {
    let v = a.int(&[name])?.unwrap_or(default);
    if v.abs() >= MAX_SECONDS {
        return Err(Error::runtime(format!(
            "wait_for: {name} {v} is out of range"
        )));
    }
    Ok(v)
}

/// The options, typed. `Err` (the inner one) is a failure Ansible's module reports itself
/// (with `elapsed: 0`), after check mode would have skipped it.
pub(crate) fn parse(a: &Args) -> Result<std::result::Result<Spec, String>> {
    let state = a
        .choice(
            &["state"],
            &["absent", "drained", "present", "started", "stopped"],
            Some("started"),
        )?
        .unwrap_or_default();
    let strings = [
        ("host", a.str(&["host"])?),
        ("path", a.str(&["path"])?),
        ("search_regex", a.str(&["search_regex"])?),
        ("msg", a.str(&["msg"])?),
    ];
    for (name, v) in &strings {
        if v.as_deref().is_some_and(|s| s.contains('\0')) {
            return Err(Error::runtime(format!(
                "wait_for: option '{name}' contains a NUL byte"
            )));
        }
    }
    let [host, path, search_regex, msg] = strings.map(|(_, v)| v);
    let exclude_hosts = if a.has("exclude_hosts") {
        let list = a.list(&["exclude_hosts"])?;
        if list.iter().any(|h| h.contains('\0')) {
            return Err(Error::runtime(
                "wait_for: option 'exclude_hosts' contains a NUL byte",
            ));
        }
        Some(list)
    } else {
        None
    };
    let named_states = if a.has("active_connection_states") {
        a.list(&["active_connection_states"])?
    } else {
        DEFAULT_STATES.iter().map(|s| s.to_string()).collect()
    };
    let sleep = seconds(a, "sleep", 1)?;
    let delay = seconds(a, "delay", 0)?;
    for (name, v) in [("sleep", sleep), ("delay", delay)] {
        if v < 0 {
            // Python's time.sleep() refuses them.
            return Err(Error::runtime(format!(
                "wait_for: {name} must not be negative"
            )));
        }
    }
    let spec = Spec {
        host: host.unwrap_or_else(|| "127.0.0.1".into()),
        timeout: seconds(a, "timeout", 300)?,
        connect_timeout: seconds(a, "connect_timeout", 5)?,
        delay,
        // Port 0 is no port to Ansible (`if port:`).
        port: a.int(&["port"])?.filter(|p| *p != 0),
        path: path.filter(|p| !p.is_empty()),
        search_regex,
        state,
        exclude_hosts,
        sleep,
        msg,
        states: Vec::new(),
    };
    if let Some(re) = &spec.search_regex
        && let Err(e) = Pattern::new(re, multiline())
    {
        return Ok(Err(format!("Invalid regular expression: {e}")));
    }
    if spec.port.is_some() && spec.path.is_some() {
        return Ok(Err(
            "port and path parameter can not both be passed to wait_for".into(),
        ));
    }
    if spec.path.is_some() && spec.state == "stopped" {
        return Ok(Err(
            "state=stopped should only be used for checking a port in the wait_for module".into(),
        ));
    }
    if spec.path.is_some() && spec.state == "drained" {
        return Ok(Err(
            "state=drained should only be used for checking a port in the wait_for module".into(),
        ));
    }
    if spec.exclude_hosts.is_some() && spec.state != "drained" {
        return Ok(Err("exclude_hosts should only be with state=drained".into()));
    }
    let mut states = Vec::new();
    for s in &named_states {
        match CONNECTION_STATES.iter().find(|(n, _)| n == s) {
            Some((_, id)) => states.push(*id),
            None => {
                return Ok(Err(format!(
                    "unknown active_connection_state ({s}) defined"
                )));
            }
        }
    }
    Ok(Ok(Spec { states, ..spec }))
}

fn multiline() -> Flags {
    Flags {
        multiline: true,
        ..Default::default()
    }
}

/// What the loop does.
fn mode(spec: &Spec) -> &'static str {
    match spec.state.as_str() {
        "drained" => "drained",
        _ if spec.port.is_none() && spec.path.is_none() => "sleep",
        "absent" | "stopped" => "gone",
        _ => "up",
    }
}

/// The loop, for bash. The variables it reads are set above it by [`script`].
const LOOP: &str = r#"export LC_ALL=C
now() { if [ -n "${EPOCHREALTIME:-}" ]; then T=${EPOCHREALTIME/[.,]/}; else T=$(date +%s%6N); fi; }
# The processes that started this loop: when one of them is gone, so is whoever waits.
anc=; q=$PPID
while [ "${q:-0}" -gt 1 ] 2>/dev/null; do
    anc="$anc $q"; l=
    IFS= read -r l 2>/dev/null < "/proc/$q/stat" || break
    set -- ${l##*) }; q=${2:-0}
done
alive() { local q l; for q in $anc; do l=; IFS= read -r l 2>/dev/null < "/proc/$q/stat" || return 1; l=${l##*) }; [ "${l%% *}" != Z ] || return 1; done; }
now; start=$T; end=$((start + timeout * 1000000))
finish() { now; printf '%s %d\n' "$1" $(( (T - start) / 1000000 )); }
gone() { finish gone; exit 0; }
pause() {
    local u d f; now; u=$((T + $1 * 1000000))
    while alive || gone; now; [ "$T" -lt "$u" ]; do
        d=$((u - T)); [ "$d" -gt 1000000 ] && d=1000000
        printf -v f '%d.%06d' $((d / 1000000)) $((d % 1000000)); sleep "$f"
    done
}
conn() { [ "$1" -gt 0 ] || return 1; timeout "$1" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; }
banner() {
    local d f; now; d=$((end - T)); [ "$d" -gt 0 ] || return 1
    printf -v f '%d.%06d' $((d / 1000000)) $((d % 1000000))
    timeout "$f" bash -c "$(declare -f alive); anc='$anc'"'
        exec 3<>"/dev/tcp/$0/$1" || exit 3
        d=
        while alive; do
            c=; IFS= read -r -d "" -n 1024 -t 0.2 c <&3; rc=$?
            if [ -n "$c" ]; then d=$d$c; printf "%s" "$d" | grep -Pzq -- "$2" && exit 0; fi
            [ "$rc" -eq 1 ] && exit 1
        done
        exit 1' "$host" "$port" "$re" 2>/dev/null
}
hex4() { local IFS=.; set -- $1; printf '%02X%02X%02X%02X' "$4" "$3" "$2" "$1"; }
hex6() {
    local a=${1%%\%*} g=() L=() R=() x p1 p2 p3 p4 i w h=
    case $a in *.*)
        x=${a##*:}; a=${a%:*}:; IFS=. read -r p1 p2 p3 p4 <<< "$x"
        printf -v a '%s%x:%x' "$a" $((p1 * 256 + p2)) $((p3 * 256 + p4)) ;;
    esac
    case $a in
    *::*) IFS=: read -ra L <<< "${a%%::*}"; IFS=: read -ra R <<< "${a#*::}"
        g=("${L[@]}"); for ((i = ${#L[@]} + ${#R[@]}; i < 8; i++)); do g+=(0); done; g+=("${R[@]}") ;;
    *) IFS=: read -ra g <<< "$a" ;;
    esac
    for i in 0 2 4 6; do
        printf -v w '%04X%04X' "0x${g[i]:-0}" "0x${g[i+1]:-0}"
        h=$h${w:6:2}${w:4:2}${w:2:2}${w:0:2}
    done
    printf '%s' "$h"
}
# FAMILY/HEX of each address a name resolves to (an IPv4 one also as IPv4-mapped IPv6).
addrs() {
    local a _
    getent ahosts "$1" 2>/dev/null | while read -r a _; do printf '%s\n' "$a"; done | sort -u | while read -r a; do
        case $a in
        *:*) printf '6/%s\n' "$(hex6 "$a")" ;;
        *) printf '4/%s\n6/0000000000000000FFFF0000%s\n' "$(hex4 "$a")" "$(hex4 "$a")" ;;
        esac
    done
}
active() {
    local files=() f
    for f in "$net/tcp" "$net/tcp6"; do [ -f "$f" ] && files+=("$f"); done
    [ ${#files[@]} -gt 0 ] || { echo 0; return; }
    awk -v port="$hexport" -v states=" $states " -v ips=" $ips " -v ex=" $ex " '
        $2 == "local_address" { next }
        {
            fam = (FILENAME ~ /6$/) ? 6 : 4
            if (index(states, " " $4 " ") == 0) next
            split($2, l, ":"); if (l[2] != port) next
            split($3, r, ":"); if (index(ex, " " fam "/" r[1] " ")) next
            any = (fam == 4) ? "00000000" : "00000000000000000000000000000000"
            if (index(ips, " " fam "/" l[1] " ") || index(ips, " " fam "/" any " ") ||
                (fam == 6 && substr(l[1], 1, 24) == "0000000000000000FFFF0000" &&
                 index(ips, " 6/0000000000000000FFFF000000000000 ")))
                n++
        }
        END { print n + 0 }' "${files[@]}" 2>/dev/null
}
# Ansible's add_path_info: what a result's existing path is.
info() {
    local u g m z st o gr
    [ -e "$path" ] || { echo N; return; }
    read -r u g m z o gr < <(stat -c '%u %g %a %s %U %G' -- "$path" 2>/dev/null)
    if [ -L "$path" ]; then st=link; elif [ -d "$path" ]; then st=directory
    elif [ "$(stat -L -c %h -- "$path" 2>/dev/null)" -gt 1 ] 2>/dev/null; then st=hard; else st=file; fi
    [ "$o" = UNKNOWN ] && o=$u; [ "$gr" = UNKNOWN ] && gr=$g
    printf 'P %s %s %s %s %s %s %s\n' "$u" "$g" "$m" "$z" "$st" "$o" "$gr"
}
if [ -n "$re" ] && ! printf 'x' | grep -Pq x 2>/dev/null; then finish nogrep; exit 0; fi
if [ "$mode" = drained ]; then
    ips=$(addrs "$host"); [ -n "$ips" ] || { finish noaddr; printf '%s' "$host"; exit 0; }
    ips=$(printf '%s ' $ips); ex=
    for x in "${exclude[@]}"; do ex="$ex $(addrs "$x")"; done
    ex=$(printf '%s ' $ex)
fi
[ "$delay" -gt 0 ] && pause "$delay"
case $mode in
sleep) pause "$timeout"; finish ok ;;
gone)
    while now; [ "$T" -lt "$end" ]; do
        alive || gone
        if [ -n "$path" ]; then [ -e "$path" ] || { finish ok; info; exit 0; }
        else conn "$ct" || { finish ok; exit 0; }
        fi
        pause "$slp"
    done
    finish timeout ;;
up)
    while now; [ "$T" -lt "$end" ]; do
        alive || gone
        if [ -n "$path" ]; then
            if [ -e "$path" ]; then
                [ -z "$re" ] && { finish ok; info; exit 0; }
                if grep -Pzq -- "$re" "$path" 2>/dev/null; then finish ok; info; head -c "$limit" -- "$path"; exit 0; fi
            else
                e=$(stat -L -- "$path" 2>&1 >/dev/null)
                case $e in *"No such file or directory"*) ;; *) finish staterr; printf '%s' "${e##*: }"; exit 0 ;; esac
            fi
        else
            now; c=$(( (end - T + 999999) / 1000000 )); [ "$ct" -lt "$c" ] && c=$ct
            if [ -z "$re" ]; then conn "$c" && { finish ok; exit 0; }
            else banner && { finish ok; exit 0; }
            fi
        fi
        pause "$slp"
    done
    finish timeout ;;
drained)
    while now; [ "$T" -lt "$end" ]; do
        alive || gone
        [ "$(active)" = 0 ] && { finish ok; exit 0; }
        pause "$slp"
    done
    finish timeout ;;
esac
"#;

/// A Python pattern for `grep -P` (PCRE): `re.MULTILINE` as Ansible compiles it, `\Z` as PCRE
/// spells it.
pub(crate) fn pcre(pattern: &str) -> String {
    format!("(?m){}", crate::pyre::python_regex(pattern))
}

/// The bash script that waits, reading `net` for `/proc/net`.
pub(crate) fn script(spec: &Spec, net: &str) -> String {
    let port = spec.port.map(|p| p.to_string()).unwrap_or_default();
    let hexport = match spec.port {
        Some(p @ 0..=65535) => format!("{p:04X}"),
        _ => "none".into(),
    };
    let exclude: Vec<String> = spec
        .exclude_hosts
        .iter()
        .flatten()
        .map(|h| quote(h))
        .collect();
    let mut s = String::new();
    for (k, v) in [
        ("mode", mode(spec).to_string()),
        ("host", spec.host.clone()),
        ("port", port),
        ("hexport", hexport),
        ("path", spec.path.clone().unwrap_or_default()),
        (
            "re",
            spec.search_regex.as_deref().map(pcre).unwrap_or_default(),
        ),
        ("timeout", spec.timeout.to_string()),
        ("ct", spec.connect_timeout.to_string()),
        ("delay", spec.delay.to_string()),
        ("slp", spec.sleep.to_string()),
        ("states", spec.states.join(" ")),
        ("net", net.to_string()),
        ("limit", CONTENT_LIMIT.to_string()),
    ] {
        s.push_str(&format!("{k}={}\n", quote(&v)));
    }
    s.push_str(&format!("exclude=({})\n", exclude.join(" ")));
    s.push_str(LOOP);
    s
}

struct WaitPlan {
    spec: Option<Spec>,
    invalid: Option<String>,
    out_at: CmdRef,
}

impl Planner for WaitPlan {
    fn ask(&mut self, p: &mut Probes) {
        if let Some(spec) = &self.spec {
            self.out_at = p.command(format!(
                "command -v bash >/dev/null 2>&1 || {{ echo 'nobash 0'; exit 0; }}\nexec bash -c {}",
                quote(&script(spec, "/proc/net"))
            ));
        }
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let Some(spec) = self.spec else {
            let msg = self.invalid.unwrap_or_default();
            return Ok(Plan::fail(msg).with("elapsed", 0));
        };
        let out = obs.cmd(self.out_at)?;
        decide(&spec, &out.stdout, &out.stderr)
    }
}

/// The task's result from the loop's output: `STATUS ELAPSED`, then what the status needs.
pub(crate) fn decide(spec: &Spec, stdout: &str, stderr: &str) -> Result<Plan> {
    let (head, rest) = stdout.split_once('\n').unwrap_or((stdout, ""));
    let mut words = head.split_whitespace();
    let status = words.next().unwrap_or("");
    let elapsed: i64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    let target = match (spec.port, &spec.path) {
        (Some(port), _) => format!("{}:{port}", spec.host),
        (None, Some(path)) => path.clone(),
        (None, None) => String::new(),
    };
    let failure = |default: String| -> Result<Plan> {
        Ok(Plan::fail(spec.msg.clone().unwrap_or(default)).with("elapsed", elapsed))
    };
    match status {
        "ok" => {}
        "timeout" => {
            let re = spec.search_regex.as_deref();
            return failure(match (spec.state.as_str(), spec.port, re) {
                ("drained", ..) => format!("Timeout when waiting for {target} to drain"),
                ("absent" | "stopped", Some(_), _) => {
                    format!("Timeout when waiting for {target} to stop.")
                }
                ("absent" | "stopped", None, _) => {
                    format!("Timeout when waiting for {target} to be absent.")
                }
                (_, _, Some(re)) => {
                    format!("Timeout when waiting for search string {re} in {target}")
                }
                (_, Some(_), None) => format!("Timeout when waiting for {target}"),
                (_, None, None) => format!("Timeout when waiting for file {target}"),
            });
        }
        "staterr" => {
            return failure(format!("Failed to stat {target}, {}", rest.trim_end()));
        }
        "nobash" => {
            return Ok(Plan::fail(
                "wait_for: prov needs bash on the target to wait (it has none)",
            ));
        }
        "nogrep" => {
            return Ok(Plan::fail(
                "wait_for: search_regex needs grep with -P (PCRE) on the target",
            ));
        }
        "noaddr" => {
            return Ok(Plan::fail(format!(
                "wait_for: cannot resolve {} on the target",
                rest.trim_end()
            )));
        }
        "gone" => return Ok(Plan::fail("wait_for: interrupted")),
        _ => {
            let detail = if stderr.trim().is_empty() {
                stdout.trim()
            } else {
                stderr.trim()
            };
            return Ok(Plan::fail(format!(
                "wait_for: the wait on the target ended unexpectedly: {detail}"
            )));
        }
    }
    let (info, content) = match &spec.path {
        Some(_) => rest.split_once('\n').unwrap_or((rest, "")),
        None => ("", rest),
    };
    let (groups, groupdict) = match (&spec.search_regex, &spec.path) {
        (Some(re), Some(_)) => match_groups(re, content)?,
        _ => (Vec::new(), Value::from_pairs(Vec::<(String, Value)>::new())),
    };
    let opt = |v: Option<String>| v.map(Value::from).unwrap_or(Value::from(()));
    let mut plan = Plan::ok()
        .with("state", spec.state.as_str())
        .with(
            "port",
            spec.port.map(Value::from).unwrap_or(Value::from(())),
        )
        .with("search_regex", opt(spec.search_regex.clone()))
        .with("match_groups", Value::from(groups))
        .with("match_groupdict", groupdict)
        .with("path", opt(spec.path.clone()))
        .with("elapsed", elapsed);
    path_info(&mut plan, info);
    Ok(plan)
}

/// Ansible's `add_path_info` for a result whose path exists, from the loop's
/// `P UID GID MODE SIZE STATE OWNER GROUP` line (`state` becomes the file's kind).
fn path_info(plan: &mut Plan, line: &str) {
    let f: Vec<&str> = line.split(' ').collect();
    let ["P", uid, gid, mode, size, state, owner, group] = f[..] else {
        return;
    };
    let (Ok(uid), Ok(gid), Ok(mode), Ok(size)) = (
        uid.parse::<u32>(),
        gid.parse::<u32>(),
        u32::from_str_radix(mode, 8),
        size.parse::<u64>(),
    ) else {
        return;
    };
    for (k, v) in [
        ("uid", Value::from(uid)),
        ("gid", Value::from(gid)),
        ("owner", Value::from(owner)),
        ("group", Value::from(group)),
        ("mode", Value::from(format!("0{mode:03o}"))),
        ("state", Value::from(state)),
        ("size", Value::from(size)),
    ] {
        plan.result.insert(k.into(), v);
    }
}

/// Python's `search.groups()` and `search.groupdict()` of the first match in `content`.
pub(crate) fn match_groups(re: &str, content: &str) -> Result<(Vec<Value>, Value)> {
    let pattern = Pattern::new(re, multiline()).map_err(Error::runtime)?;
    let mut groups = Vec::new();
    let mut dict = Vec::new();
    if let Some(caps) = pattern.captures(content).map_err(Error::runtime)? {
        let value = |i: usize| {
            caps.get(i)
                .map(|m| Value::from(m.as_str()))
                .unwrap_or(Value::from(()))
        };
        for i in 1..caps.len() {
            groups.push(value(i));
        }
        for (i, name) in pattern.names().enumerate() {
            if let Some(name) = name {
                dict.push((name.to_string(), value(i)));
            }
        }
    }
    Ok((groups, Value::from_pairs(dict)))
}

#[cfg(test)]
#[path = "wait_for_tests.rs"]
mod tests;
