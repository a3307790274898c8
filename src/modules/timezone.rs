//! `timezone` (community.general): the system clock's time zone (`name`) and whether the
//! hardware clock keeps UTC or local time (`hwclock`), as Ansible's module sets them on Debian:
//!
//! - Where `timedatectl` answers (systemd runs the host): the current values from
//!   `timedatectl status`, changed with `timedatectl set-timezone` / `set-local-rtc`.
//! - Otherwise (a chroot — through the chroot connection always —, or no systemd), Ansible's
//!   Debian path: `/etc/timezone` is edited (its first zone line replaced, the others
//!   deleted), `/etc/localtime` linked to the zone file and `dpkg-reconfigure --frontend
//!   noninteractive tzdata` run; the current zone is `/etc/timezone`'s, checked against where
//!   `/etc/localtime` points (or its content). `hwclock` edits `UTC=` in `/etc/default/rcS` and
//!   runs `hwclock --systohc`; in a chroot, whose hardware clock is the build machine's, that
//!   part is skipped and reported so.
//!
//! The diff and `changed` compare the before and planned values of the options given, as
//! Ansible's do; messages are Ansible's. Hosts that are neither (Red Hat's
//! `/etc/sysconfig/clock`, Alpine, BSDs) are refused.

use minijinja::Value;

use super::{
    Args, CmdRef, Command, Diff, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
    WriteFile,
};
use crate::error::{Error, Result};
use crate::pyre::Pattern;

pub struct Timezone;

impl Module for Timezone {
    fn name(&self) -> &'static str {
        "timezone"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["name", "hwclock", "rtc"])
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let name = a.str(&["name"])?;
        let hwclock = a.choice(&["hwclock", "rtc"], &["local", "UTC"], None)?;
        if name.is_none() && hwclock.is_none() {
            return Err(Error::runtime(
                "timezone: one of the following is required: hwclock, name",
            ));
        }
        if let Some(n) = &name
            && (n.is_empty() || n.contains(['\0', '\n']) || n.split('/').any(|s| s == ".."))
        {
            return Err(Error::runtime(format!(
                "timezone: '{n}' is not a time zone name"
            )));
        }
        Ok(Box::new(TzPlan {
            name,
            hwclock,
            chroot: env.chroot_connection,
            tools_at: Default::default(),
            zone_at: Default::default(),
            timezone_at: Default::default(),
            localtime_at: Default::default(),
            rcs_at: Default::default(),
            adjtime_at: Default::default(),
        }))
    }
}

struct TzPlan {
    name: Option<String>,
    hwclock: Option<String>,
    chroot: bool,
    tools_at: CmdRef,
    zone_at: FileRef,
    timezone_at: FileRef,
    localtime_at: FileRef,
    rcs_at: FileRef,
    adjtime_at: FileRef,
}

const TIMEZONE: &str = "/etc/timezone";
const RCS: &str = "/etc/default/rcS";

/// Ansible's `_edit_file`: the lines of `text` matching `re` removed, `value` inserted where
/// the first was (else first); with the message it logs.
fn edit(text: &str, re: &Pattern, value: &str, file: &str) -> Result<(String, String)> {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut matched = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if re.is_match(l).map_err(Error::runtime)? {
            matched.push(i);
        }
    }
    let at = matched.first().copied().unwrap_or(0);
    for i in matched.iter().rev() {
        lines.remove(*i);
    }
    lines.insert(at, value);
    Ok((
        lines.concat(),
        format!(
            "Added 1 line and deleted {} line(s) on {file}",
            matched.len()
        ),
    ))
}

/// The first capture of `re` in `text`.
fn capture(re: &str, text: &str) -> Result<Option<String>> {
    let p = Pattern::new(
        re,
        crate::pyre::Flags {
            multiline: true,
            ..Default::default()
        },
    )
    .map_err(Error::runtime)?;
    Ok(p.captures(text)
        .map_err(Error::runtime)?
        .and_then(|c| c.get(1).map(|m| m.as_str().to_string())))
}

fn boolean(v: &str) -> Result<bool> {
    super::args::parse_bool(&Value::from(v)).ok_or_else(|| {
        Error::runtime(format!(
            "timezone: '{v}' is not a valid boolean (from the host's clock settings)"
        ))
    })
}

/// A tool's path from the probe (`tool=PATH` lines).
fn tool<'a>(out: &'a str, name: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
        .filter(|p| !p.is_empty())
}

fn run(argv: &[&str]) -> Step {
    Step::Run {
        cmd: Command {
            argv: Some(argv.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        },
        ok_rcs: vec![0],
    }
}

impl TzPlan {
    fn zone_file(&self) -> String {
        format!("/usr/share/zoneinfo/{}", self.name.as_deref().unwrap_or(""))
    }

    fn script(&self) -> String {
        let systemd = if self.chroot {
            String::new()
        } else {
            "if command -v timedatectl >/dev/null 2>&1 && s=$(timedatectl 2>/dev/null); then printf 'timedatectl=%s\\n' \"$(command -v timedatectl)\"; timedatectl status 2>/dev/null | sed 's/^/status:/'; fi\n".into()
        };
        format!(
            "export LC_ALL=C\nPATH=$PATH:/sbin:/usr/sbin:/usr/local/sbin\n{systemd}for t in dpkg-reconfigure hwclock ln; do printf '%s=%s\\n' \"$t\" \"$(command -v \"$t\")\"; done\n"
        )
    }

    /// The current zone on a host without timedatectl (Ansible's `NosystemdTimezone.get`).
    fn current_name(&self, planned: &str, obs: &Observed) -> Result<String> {
        let tz = obs.file(self.timezone_at)?;
        let value = match tz.text() {
            None => "n/a".to_string(),
            Some(t) => capture(r"^([^\s]+)", &t)?.unwrap_or_else(|| "n/a".into()),
        };
        if value != planned {
            return Ok(value);
        }
        // Read following the link: a dangling link is still a link.
        let lt = obs.file(self.localtime_at)?;
        if lt.is_link {
            if lt.kind == Some(super::FileKind::Link) {
                return Ok("n/a".into());
            }
            let target = lt.link_target.as_deref().unwrap_or("");
            return Ok(
                match capture(r"(?:/(?:usr/share|etc)/zoneinfo/)(.*)", target)? {
                    Some(linked) if linked != planned => linked,
                    Some(_) => value,
                    None => "n/a".into(),
                },
            );
        }
        let zone = obs.file(self.zone_at)?;
        let same =
            lt.is_file() && zone.is_file() && lt.sha256.is_some() && lt.sha256 == zone.sha256;
        Ok(if same { value } else { "n/a".into() })
    }

    /// The hardware clock's setting without timedatectl: `UTC=` of rcS, then /etc/adjtime.
    fn current_hwclock(&self, planned: &str, obs: &Observed) -> Result<String> {
        let value = match obs.file(self.rcs_at)?.text() {
            None => "n/a".to_string(),
            Some(t) => match capture(r"^UTC\s*=\s*([^\s]+)", &t)? {
                None => "n/a".into(),
                Some(v) if boolean(&v)? => "UTC".into(),
                Some(_) => "local".into(),
            },
        };
        if value != planned {
            return Ok(value);
        }
        Ok(match obs.file(self.adjtime_at)?.text() {
            None => "UTC".into(),
            Some(t) => match capture(r"^(UTC|LOCAL)$", &t)? {
                Some(v) if v != "UTC" => v.to_lowercase(),
                _ => "UTC".into(),
            },
        })
    }
}

/// Ansible's dict diff as its callback prints it (sorted keys, 4-space JSON).
fn dict_text(pairs: &[(&str, String)]) -> String {
    let map: std::collections::BTreeMap<&str, &str> =
        pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    match serde::Serialize::serialize(&map, &mut ser) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned() + "\n",
        Err(_) => String::new(),
    }
}

impl Planner for TzPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.tools_at = p.command(self.script());
        self.zone_at = p.read(&self.zone_file());
        self.timezone_at = p.read(TIMEZONE);
        self.localtime_at = p.read("/etc/localtime");
        self.rcs_at = p.read(RCS);
        self.adjtime_at = p.read("/etc/adjtime");
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = &obs.cmd(self.tools_at)?.stdout;
        let timedatectl = tool(out, "timedatectl");
        let status: String = out
            .lines()
            .filter_map(|l| l.strip_prefix("status:"))
            .map(|l| format!("{l}\n"))
            .collect();
        if let Some(n) = &self.name
            && !obs.file(self.zone_at)?.is_file()
        {
            return Ok(Plan::fail(format!(
                "Error message:\ngiven timezone \"{n}\" is not available"
            )));
        }
        let debian = tool(out, "dpkg-reconfigure");
        if timedatectl.is_none() && debian.is_none() {
            return Ok(Plan::fail(
                "timezone: hosts without timedatectl nor dpkg-reconfigure (Red Hat's /etc/sysconfig/clock, Alpine, BSDs) are not supported natively",
            ));
        }
        let mut plan = Plan::ok();
        let mut msgs: Vec<String> = Vec::new();
        let (mut before, mut after) = (Vec::new(), Vec::new());
        // Ansible's order: hwclock, then name.
        if let Some(planned) = &self.hwclock {
            let current = match timedatectl {
                Some(_) => match capture(r"^\s*RTC in local TZ\s*:\s*([^\s]+)", &status)? {
                    Some(v) if boolean(&v)? => "local".to_string(),
                    Some(_) => "UTC".to_string(),
                    None => {
                        return Err(Error::runtime(
                            "timezone: timedatectl status has no RTC line",
                        ));
                    }
                },
                None => self.current_hwclock(planned, obs)?,
            };
            if &current != planned && self.chroot {
                plan.result
                    .insert("hwclock".into(), "skipped (chroot)".into());
            } else {
                before.push(("hwclock", current.clone()));
                after.push(("hwclock", planned.clone()));
                if &current != planned {
                    if let Some(t) = timedatectl {
                        let yes = if planned == "local" { "yes" } else { "no" };
                        plan.step(run(&[t, "set-local-rtc", yes]));
                        msgs.push(format!("executed `{t} set-local-rtc {yes}`"));
                    } else {
                        let Some(hw) = tool(out, "hwclock") else {
                            return Ok(Plan::fail(
                                "Failed to find required executable \"hwclock\" in paths",
                            ));
                        };
                        let (utc, option) = if planned == "local" {
                            ("no", "--localtime")
                        } else {
                            ("yes", "--utc")
                        };
                        let re = Pattern::plain(r"^UTC\s*=\s*([^\s]+)").map_err(Error::runtime)?;
                        let text = obs.file(self.rcs_at)?.text().unwrap_or_default();
                        let (new, msg) = edit(&text, &re, &format!("UTC={utc}\n"), RCS)?;
                        plan.step(Step::Write(WriteFile {
                            path: RCS.into(),
                            content: new.into_bytes(),
                            ..Default::default()
                        }));
                        msgs.push(msg);
                        plan.step(run(&[hw, "--systohc", option]));
                        msgs.push(format!("executed `{hw} --systohc {option}`"));
                    }
                }
            }
        }
        if let Some(planned) = &self.name {
            let current = match timedatectl {
                Some(_) => {
                    capture(r"^\s*Time ?zone\s*:\s*([^\s]+)", &status)?.ok_or_else(|| {
                        Error::runtime("timezone: timedatectl status has no Time zone line")
                    })?
                }
                None => self.current_name(planned, obs)?,
            };
            before.push(("name", current.clone()));
            after.push(("name", planned.clone()));
            if &current != planned {
                if let Some(t) = timedatectl {
                    plan.step(run(&[t, "set-timezone", planned]));
                    msgs.push(format!("executed `{t} set-timezone {planned}`"));
                } else {
                    let re = Pattern::plain(r"^([^\s]+)").map_err(Error::runtime)?;
                    let text = obs.file(self.timezone_at)?.text().unwrap_or_default();
                    let (new, msg) = edit(&text, &re, &format!("{planned}\n"), TIMEZONE)?;
                    plan.step(Step::Write(WriteFile {
                        path: TIMEZONE.into(),
                        content: new.into_bytes(),
                        ..Default::default()
                    }));
                    msgs.push(msg);
                    plan.step(Step::Link {
                        src: self.zone_file(),
                        path: "/etc/localtime".into(),
                        hard: false,
                    });
                    if let Some(d) = debian {
                        plan.step(run(&[d, "--frontend", "noninteractive", "tzdata"]));
                    }
                }
            }
        }
        if before.is_empty() {
            plan.skipped = Some("skipped (chroot)".into());
            return Ok(plan);
        }
        plan.diffs
            .push(Diff::new("timezone", dict_text(&before), dict_text(&after)));
        if !msgs.is_empty() {
            plan.result.insert("msg".into(), msgs.join("\n").into());
        }
        Ok(plan)
    }
}

#[cfg(test)]
#[path = "timezone_tests.rs"]
mod tests;
