//! `hostname` (ansible.builtin.hostname): the host's name, as Ansible's module sets it on
//! Debian-like hosts:
//!
//! - Where systemd runs the host (`systemctl` and a canary such as `/run/systemd/system/`),
//!   or with `use: systemd` / `use: debian`: the systemd strategy — the permanent name from
//!   `hostnamectl --static status`, the live one from `hostnamectl --transient status`, set
//!   with `hostnamectl --pretty --static set-hostname` and `--transient set-hostname`.
//! - Otherwise on Debian and Ubuntu (their `ID`/`ID_LIKE`): the file strategy — the name is
//!   `/etc/hostname`'s (stripped), written as `NAME\n`; there is no live part.
//!
//! Through the chroot connection the root has no systemd and its kernel is the build
//! machine's: only `/etc/hostname` is written, and with `use: systemd` the live part is
//! reported skipped (as `modprobe` does). The result has `name`, the facts `hostname`,
//! `nodename`, `fqdn` and `domain` (the fqdn as Python's `socket.getfqdn()` finds it on the
//! host), and Ansible's `hostname = NAME` diff. Other strategies are refused.

use minijinja::Value;

use super::{
    Args, CmdRef, Command, Diff, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
    WriteFile,
};
use crate::error::{Error, Result};

pub struct Hostname;

const STRATEGIES: &[&str] = &[
    "alpine", "debian", "freebsd", "generic", "macos", "macosx", "darwin", "openbsd", "openrc",
    "redhat", "sles", "solaris", "systemd",
];

impl Module for Hostname {
    fn name(&self) -> &'static str {
        "hostname"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["name", "use"])
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let name = a.req_str(&["name"])?;
        if name.contains(['\0', '\n', '\r']) {
            return Err(Error::runtime(
                "hostname: name must not contain NUL bytes or line breaks",
            ));
        }
        let strategy = a.choice(&["use"], STRATEGIES, None)?;
        if let Some(s) = &strategy
            && !["systemd", "debian"].contains(&s.as_str())
        {
            return Err(Error::runtime(format!(
                "hostname: use: {s} is not supported natively (systemd and debian are)"
            )));
        }
        Ok(Box::new(HostPlan {
            name,
            systemd: strategy.is_some(),
            chroot: env.chroot_connection,
            out_at: Default::default(),
            file_at: Default::default(),
        }))
    }
}

struct HostPlan {
    name: String,
    /// `use: systemd` (or debian, which Ansible maps to it).
    systemd: bool,
    chroot: bool,
    out_at: CmdRef,
    file_at: FileRef,
}

/// `KEY=VALUE` lines of the probe (the first of each key).
fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

/// Python's `socket.getfqdn()`, run on the host: the lookup of the kernel's name gives
/// `canonical aliases...`; the first with a dot, else the canonical name (the plain name when
/// nothing answers).
const FQDN: &str = "h=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)\na=$(getent ahosts \"$h\" 2>/dev/null | head -n 1 | cut -d ' ' -f 1)\nset -- $( [ -n \"$a\" ] && getent hosts \"$a\" 2>/dev/null | head -n 1 | cut -d ' ' -f 2- )\nf=$h\nif [ $# -gt 0 ]; then f=$1; for n in \"$@\"; do case \"$n\" in *.*) f=$n; break ;; esac; done; fi\nprintf 'fqdn=%s\\n' \"$f\"\n";

impl HostPlan {
    fn script(&self) -> String {
        let mut s = String::from("export LC_ALL=C\nPATH=$PATH:/sbin:/usr/sbin:/usr/local/sbin\n");
        s.push_str(FQDN);
        s.push_str(
            ". /etc/os-release 2>/dev/null; printf 'os=%s %s\\n' \"${ID:-}\" \"${ID_LIKE:-}\"\n",
        );
        if !self.chroot {
            s.push_str("command -v systemctl >/dev/null 2>&1 && { [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] || [ -e /dev/.systemd/ ]; } && printf 'managed=1\\n'\nh=$(command -v hostnamectl) && printf 'hostnamectl=%s\\n' \"$h\" && for k in static transient; do o=$(hostnamectl --$k status 2>&1); printf '%s_rc=%d\\n' $k $?; printf '%s\\n' \"$o\" | head -n 1 | sed \"s/^/$k=/\"; done\n");
        }
        s
    }
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

impl Planner for HostPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.out_at = p.command(self.script());
        self.file_at = p.read("/etc/hostname");
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = &obs.cmd(self.out_at)?.stdout;
        let name = self.name.as_str();
        let managed = field(out, "managed").is_some();
        let systemd = !self.chroot && (self.systemd || managed);
        let debian = field(out, "os").is_some_and(|os| {
            os.split_whitespace()
                .any(|w| w == "debian" || w == "ubuntu")
        });
        if !systemd && !self.systemd && !debian {
            return Ok(Plan::fail(
                "hostname: only Debian-like hosts (file strategy) and systemd hosts are supported natively",
            ));
        }
        let mut plan = Plan::ok();
        let (current, permanent) = if systemd {
            let Some(ctl) = field(out, "hostnamectl") else {
                return Ok(Plan::fail(
                    "Failed to find required executable \"hostnamectl\" in paths",
                ));
            };
            let mut got = Vec::new();
            for k in ["transient", "static"] {
                let rc = field(out, &format!("{k}_rc")).unwrap_or("1");
                let text = field(out, k).unwrap_or("").trim().to_string();
                if rc != "0" {
                    return Ok(Plan::fail(format!(
                        "Command failed rc={rc}, out=, err={text}"
                    )));
                }
                got.push(text);
            }
            if name.len() > 64 && (got[0] != name || got[1] != name) {
                return Ok(Plan::fail(
                    "name cannot be longer than 64 characters on systemd servers, try a shorter name",
                ));
            }
            // Permanent first, as Ansible's systemd strategy does.
            if got[1] != name {
                plan.step(run(&[ctl, "--pretty", "--static", "set-hostname", name]));
            }
            if got[0] != name {
                plan.step(run(&[ctl, "--transient", "set-hostname", name]));
            }
            (got[0].clone(), got[1].clone())
        } else {
            let f = obs.file(self.file_at)?;
            let permanent = if f.is_file() {
                f.text().unwrap_or_default().trim().to_string()
            } else {
                String::new()
            };
            if permanent != name {
                plan.step(Step::Write(WriteFile {
                    path: "/etc/hostname".into(),
                    content: format!("{name}\n").into_bytes(),
                    ..Default::default()
                }));
            }
            if self.systemd {
                plan.result.insert("live".into(), "skipped (chroot)".into());
            }
            // The file strategy's live name is the permanent one.
            (permanent.clone(), permanent)
        };
        let before = if name != current { current } else { permanent };
        if plan.changed {
            plan.diffs.push(Diff::new(
                "hostname",
                format!("hostname = {before}\n"),
                format!("hostname = {name}\n"),
            ));
        }
        let fqdn = field(out, "fqdn").unwrap_or("").to_string();
        let domain = fqdn.split('.').skip(1).collect::<Vec<_>>().join(".");
        let facts = Value::from_pairs([
            (
                "hostname",
                Value::from(name.split('.').next().unwrap_or("")),
            ),
            ("nodename", Value::from(name)),
            ("fqdn", Value::from(fqdn)),
            ("domain", Value::from(domain)),
        ]);
        Ok(plan.with("name", name).with("ansible_facts", facts))
    }
}

#[cfg(test)]
#[path = "hostname_tests.rs"]
mod tests;
