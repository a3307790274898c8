//! `service_facts` (ansible.builtin.service_facts): the fact `services`, a dict of service
//! name to `{name, state, status, source}`, gathered as Ansible's module gathers it on a
//! Debian-like host, by one read-only probe:
//!
//! - SysV (`source: sysv`): when `service` is installed and neither `chkconfig` nor `rc-status`
//!   is, `service --status-all`'s `[ + ] name` (running) and `[ - ] name` (stopped) lines.
//! - systemd (`source: systemd`), when `systemctl` is installed and systemd runs the host (its
//!   canaries `/run/systemd/system/`, `/dev/.run/systemd/`, `/dev/.systemd/`, or PID 1's
//!   `comm`): `systemctl list-units --type service --all --plain` (state running or stopped,
//!   status the active state or a bad one: not-found, masked, failed), completed by
//!   `systemctl list-unit-files --type service` (the unit file state; units not loaded get
//!   their `ActiveState` from `systemctl show`).
//!
//! Through the chroot connection systemd never runs the root (its `/run` and `/proc` are
//! prov's), so there, as in Ansible's chroot runs, only the SysV part answers. Hosts with
//! `chkconfig`, `initctl` or OpenRC (Ansible's Red Hat, upstart and OpenRC paths) are refused.
//! No services at all skips the task with Ansible's message.

use indexmap::IndexMap;
use minijinja::Value;

use super::{Args, CmdRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};

pub struct ServiceFacts;

impl Module for ServiceFacts {
    fn name(&self) -> &'static str {
        "service_facts"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&[])
    }
    fn prepare(&self, _a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        Ok(Box::new(FactsPlan {
            out_at: Default::default(),
            chroot: env.chroot_connection,
        }))
    }
}

struct FactsPlan {
    out_at: CmdRef,
    chroot: bool,
}

/// The probe: sections `@@tools` (the tools found), `@@sysv` (service --status-all, then
/// `@@sysvrc RC INITD`), `@@units`, `@@files` and `@@show NAME` (systemctl's answers).
fn script(chroot: bool) -> String {
    let systemd = if chroot {
        "false"
    } else {
        "{ [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] || [ -e /dev/.systemd/ ] || [ \"$(head -n 1 /proc/1/comm 2>/dev/null)\" = systemd ]; }"
    };
    format!(
        r#"export LC_ALL=C LANG=C
PATH=$PATH:/sbin:/usr/sbin:/usr/local/sbin:/usr/bin:/usr/local/bin
has() {{ command -v "$1" >/dev/null 2>&1; }}
printf '@@tools\n'
for t in service chkconfig initctl rc-status rc-update systemctl; do has "$t" && printf '%s\n' "$t"; done
if has service && ! has chkconfig && ! has rc-status; then
 printf '@@sysv\n'
 service --status-all 2>/dev/null </dev/null
 rc=$?
 [ -e /etc/init.d ] && i=1 || i=0
 printf '\n@@sysvrc %d %d\n' "$rc" "$i"
fi
if has systemctl && {systemd}; then
 printf '@@units\n'
 u=$(systemctl list-units --no-pager --type service --all --plain 2>/dev/null) && printf '%s\n' "$u"
 printf '@@unitsrc %d\n' $?
 printf '@@files\n'
 f=$(systemctl list-unit-files --no-pager --type service --all 2>/dev/null) && printf '%s\n' "$f"
 printf '@@filesrc %d\n' $?
 names=" $(printf '%s\n' "$u" | awk '/\.service/ {{ print $1 }}' | tr '\n' ' ') "
 for n in $(printf '%s\n' "$f" | awk '/\.service/ {{ print $1 }}'); do
  case "$names" in *" $n "*) ;; *) printf '@@show %s\n' "$n"; systemctl show "$n" --property=ActiveState 2>/dev/null; printf '\n' ;; esac
 done
fi
"#
    )
}

/// The probe's sections, by header line, in order.
fn sections(out: &str) -> Vec<(&str, String)> {
    let mut v: Vec<(&str, String)> = Vec::new();
    for line in out.split('\n') {
        if let Some(h) = line.strip_prefix("@@") {
            v.push((h, String::new()));
        } else if let Some((_, body)) = v.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    v
}

fn service(name: &str, state: &str, status: Option<&str>, source: &str) -> IndexMap<String, Value> {
    let mut m = IndexMap::new();
    m.insert("name".into(), Value::from(name));
    m.insert("state".into(), Value::from(state));
    if let Some(s) = status {
        m.insert("status".into(), Value::from(s));
    }
    m.insert("source".into(), Value::from(source));
    m
}

const BAD_STATES: [&str; 3] = ["not-found", "masked", "failed"];

/// Ansible's `_list_sysvinit`: `[ + ] name` and `[ - ] name` lines.
fn sysv(out: &str, services: &mut IndexMap<String, IndexMap<String, Value>>) {
    for line in out.lines() {
        let Some(rest) = line.trim_start().strip_prefix("[ ") else {
            continue;
        };
        let state = match rest.chars().next() {
            Some('+') => "running",
            Some('-') => "stopped",
            _ => continue,
        };
        let Some(after) = rest[1..].strip_prefix(" ]") else {
            continue;
        };
        let name = after.trim_start();
        if name.is_empty() || !after.starts_with(char::is_whitespace) {
            continue;
        }
        services.insert(name.to_string(), service(name, state, None, "sysv"));
    }
}

/// Ansible's `_list_from_units`.
fn units(out: &str, services: &mut IndexMap<String, IndexMap<String, Value>>) -> Result<()> {
    for line in out.split('\n').filter(|l| l.contains(".service")) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 {
            return Err(Error::runtime(format!(
                "service_facts: unexpected line from systemctl list-units: {line}"
            )));
        }
        let head = &fields[..fields.len() - 1];
        let status = BAD_STATES
            .iter()
            .find(|b| head.contains(b))
            .copied()
            .unwrap_or(fields[2]);
        let state = if fields[3] == "running" {
            "running"
        } else {
            "stopped"
        };
        services.insert(
            fields[0].to_string(),
            service(fields[0], state, Some(status), "systemd"),
        );
    }
    Ok(())
}

/// Ansible's `_list_from_unit_files`, with the `ActiveState`s the probe asked.
fn unit_files(
    out: &str,
    shown: &IndexMap<&str, String>,
    services: &mut IndexMap<String, IndexMap<String, Value>>,
) -> Result<()> {
    for line in out.split('\n').filter(|l| l.contains(".service")) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, status, ..] = fields[..] else {
            return Err(Error::runtime(format!(
                "Malformed output discovered from systemd list-unit-files: {line}"
            )));
        };
        match services.get_mut(name) {
            None => {
                let state = shown
                    .get(name)
                    .map(|s| s.trim_end().replace("ActiveState=", ""))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "unknown".into());
                services.insert(name.into(), service(name, &state, Some(status), "systemd"));
            }
            Some(s) => {
                let bad = s
                    .get("status")
                    .and_then(|v| v.as_str().map(|v| BAD_STATES.contains(&v)))
                    .unwrap_or(false);
                if !bad {
                    s.insert("status".into(), Value::from(status));
                }
            }
        }
    }
    Ok(())
}

impl Planner for FactsPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.out_at = p.command(script(self.chroot));
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = &obs.cmd(self.out_at)?.stdout;
        let secs = sections(out);
        let body = |h: &str| secs.iter().find(|(n, _)| *n == h).map(|(_, b)| b.as_str());
        let tools: Vec<&str> = body("tools").unwrap_or("").lines().collect();
        for t in ["chkconfig", "initctl", "rc-status"] {
            if tools.contains(&t) {
                return Ok(Plan::fail(format!(
                    "service_facts: hosts with {t} (Ansible's Red Hat, upstart and OpenRC paths) are not supported natively"
                )));
            }
        }
        let mut services = IndexMap::new();
        let mut warnings: Vec<Value> = Vec::new();
        if let Some(listing) = body("sysv") {
            let rc = secs
                .iter()
                .find_map(|(h, _)| h.strip_prefix("sysvrc "))
                .unwrap_or("0 1");
            match rc.split_once(' ') {
                Some(("4", "0")) => {}
                Some((code, _)) => {
                    if code != "0" {
                        warnings.push(format!("Unable to query 'service' tool ({code}): ").into());
                    }
                    sysv(listing, &mut services);
                }
                None => sysv(listing, &mut services),
            }
        }
        if let Some(listing) = body("units") {
            units(listing, &mut services)?;
            let shown: IndexMap<&str, String> = secs
                .iter()
                .filter_map(|(h, b)| h.strip_prefix("show ").map(|n| (n, b.clone())))
                .collect();
            unit_files(body("files").unwrap_or(""), &shown, &mut services)?;
        }
        if services.is_empty() {
            return Ok(Plan::skip(
                "Failed to find any services. This can be due to privileges or some other configuration issue.",
            ));
        }
        let all: Vec<(String, Value)> = services
            .into_iter()
            .map(|(k, v)| (k, Value::from_pairs(v.into_iter().collect::<Vec<_>>())))
            .collect();
        let mut plan = Plan::ok().with(
            "ansible_facts",
            Value::from_pairs([("services", Value::from_pairs(all))]),
        );
        if !warnings.is_empty() {
            plan.result.insert("warnings".into(), Value::from(warnings));
        }
        plan.plain_facts = vec!["services".into()];
        Ok(plan)
    }
}

#[cfg(test)]
#[path = "service_facts_tests.rs"]
mod tests;
