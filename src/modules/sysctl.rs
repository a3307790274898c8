//! `sysctl` (ansible.posix): a kernel parameter in a sysctl file (`sysctl_file`, default
//! `/etc/sysctl.conf`), applied to the running kernel with `reload` (`sysctl -p FILE`) or
//! `sysctl_set` (`sysctl -w`). In a chroot only the file is written; the live part is skipped.

use super::args::Presence;
use super::attrs::AttrSpec;
use super::content::{WriteSpec, plan_write};
use super::lineinfile::split_lines;
use super::{
    Args, CmdRef, Command, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
};
use crate::error::Result;

pub struct Sysctl;

impl Module for Sysctl {
    fn path_options(&self) -> &'static [&'static str] {
        &["sysctl_file"]
    }
    fn name(&self) -> &'static str {
        "sysctl"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "name",
            "key",
            "value",
            "val",
            "state",
            "sysctl_file",
            "reload",
            "sysctl_set",
            "ignoreerrors",
        ])
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let present = a.choose(&["state"], Presence::Present)? == Presence::Present;
        let value = a.str(&["value", "val"])?;
        if present && value.is_none() {
            return Err(crate::error::Error::runtime(
                "sysctl: value is required with state=present",
            ));
        }
        Ok(Box::new(SysctlPlan {
            file_at: Default::default(),
            live_at: Default::default(),
            name: a.req_str(&["name", "key"])?,
            value: value.map(|v| v.trim().to_string()),
            present,
            file: a
                .str(&["sysctl_file"])?
                .unwrap_or_else(|| "/etc/sysctl.conf".into()),
            reload: a.bool(&["reload"], true)?,
            set: a.bool(&["sysctl_set"], false)?,
            ignore: a.bool(&["ignoreerrors"], false)?,
            chroot: env.is_chroot,
        }))
    }
}

struct SysctlPlan {
    /// Where a probe's answer is (asked in `ask`).
    file_at: FileRef,
    live_at: CmdRef,
    name: String,
    value: Option<String>,
    present: bool,
    file: String,
    reload: bool,
    set: bool,
    ignore: bool,
    chroot: bool,
}

/// Values compare with whitespace normalized (`"1  0"` equals `"1 0"`).
fn norm(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The /proc/sys file of a key, as procps maps it: `a.b.c` is `a/b/c`, and a dot within a
/// component is written as a slash (`net.ipv4.conf.eth0/100.rp_filter` is
/// `net/ipv4/conf/eth0.100/rp_filter`); a key whose first separator is a slash is a path already.
fn proc_path(key: &str) -> String {
    let slash_first = key
        .find(['.', '/'])
        .is_some_and(|i| key.as_bytes()[i] == b'/');
    let path: String = if slash_first {
        key.to_string()
    } else {
        key.chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect()
    };
    format!("/proc/sys/{path}")
}

impl Planner for SysctlPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.file_at = p.read(&self.file);
        // The running value, read from /proc/sys without a process.
        self.live_at = p.query(super::query::Query::Lines(proc_path(&self.name)));
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.file_at)?;
        let text = cur.text().unwrap_or_default();
        let mut lines = split_lines(&text);
        let key_of = |l: &str| -> Option<String> {
            let t = l.trim();
            if t.starts_with('#') || t.starts_with(';') {
                return None;
            }
            t.split_once('=').map(|(k, _)| k.trim().replace('/', "."))
        };
        let want_key = self.name.replace('/', ".");
        let mut found = false;
        let mut new_lines = Vec::new();
        for l in lines.drain(..) {
            if key_of(&l).as_deref() == Some(want_key.as_str()) {
                if self.present && !found {
                    let current = l.split_once('=').map(|(_, v)| norm(v)).unwrap_or_default();
                    if current == norm(self.value.as_deref().unwrap_or_default()) {
                        new_lines.push(l.clone());
                    } else {
                        new_lines.push(format!(
                            "{}={}\n",
                            self.name,
                            self.value.clone().unwrap_or_default()
                        ));
                    }
                }
                found = true;
                continue;
            }
            new_lines.push(l);
        }
        if self.present && !found {
            if let Some(last) = new_lines.last_mut()
                && !last.ends_with('\n')
            {
                last.push('\n');
            }
            new_lines.push(format!(
                "{}={}\n",
                self.name,
                self.value.clone().unwrap_or_default()
            ));
        }
        let new = new_lines.concat();
        let mut plan = Plan::ok().with("name", self.name.as_str());
        if cur.exists || self.present {
            let spec = WriteSpec {
                path: self.file.clone(),
                attrs: AttrSpec::default(),
                make_parents: true,
                ..Default::default()
            };
            plan_write(&mut plan, cur, new.into_bytes(), &spec)?;
        }
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        let file_changed = plan.changed;
        let live = obs.cmd(self.live_at)?.stdout.trim().to_string();
        let live_differs =
            self.present && norm(&live) != norm(self.value.as_deref().unwrap_or_default());
        let mut live_steps = Vec::new();
        if self.set && live_differs {
            live_steps.push(vec![
                "sysctl".to_string(),
                "-w".into(),
                format!("{}={}", self.name, self.value.clone().unwrap_or_default()),
            ]);
        } else if self.reload && file_changed {
            let mut argv = vec!["sysctl".to_string()];
            if self.ignore {
                argv.push("-e".into());
            }
            argv.extend(["-p".into(), self.file.clone()]);
            live_steps.push(argv);
        }
        if self.chroot {
            if !live_steps.is_empty() || live_differs {
                plan.result.insert("live".into(), "skipped (chroot)".into());
            }
        } else {
            for argv in live_steps {
                if live_differs {
                    plan.diffs.push(super::Diff::new(
                        &format!("{} (kernel)", self.name),
                        format!("{live}\n"),
                        format!("{}\n", self.value.clone().unwrap_or_default()),
                    ));
                }
                let step = Step::Run {
                    cmd: Command {
                        argv: Some(argv),
                        ..Default::default()
                    },
                    ok_rcs: vec![0],
                };
                if live_differs {
                    plan.step(step);
                } else {
                    plan.steps.push(step);
                }
            }
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, cmd, file, plan_answers_env};
    use crate::modules::{Answer, FileState};
    use minijinja::Value;

    #[test]
    fn keys_map_to_proc_files_like_procps() {
        assert_eq!(
            proc_path("net.ipv4.ip_forward"),
            "/proc/sys/net/ipv4/ip_forward"
        );
        assert_eq!(
            proc_path("net.ipv4.conf.eth0/100.rp_filter"),
            "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"
        );
        assert_eq!(
            proc_path("net/ipv4/ip_forward"),
            "/proc/sys/net/ipv4/ip_forward"
        );
    }

    fn run(content: Option<&str>, live: &str, chroot: bool) -> Plan {
        let mut env = crate::modules::testing::env();
        env.is_chroot = chroot;
        let a = args(
            "sysctl",
            &[
                ("name", Value::from("net.ipv4.ip_forward")),
                ("value", Value::from(1)),
                (
                    "sysctl_file",
                    Value::from("/etc/sysctl.d/99-kubernetes.conf"),
                ),
            ],
        );
        let f = match content {
            Some(c) => Answer::File(file("/etc/sysctl.d/99-kubernetes.conf", 0o644, c)),
            None => Answer::File(FileState::missing("/etc/sysctl.d/99-kubernetes.conf")),
        };
        plan_answers_env(&Sysctl, a, vec![f, cmd(0, live)], &env)
    }

    #[test]
    fn writes_file_and_reloads_live_only() {
        let p = run(None, "0\n", false);
        let Step::Write(w) = &p.steps[0] else {
            panic!()
        };
        assert_eq!(
            String::from_utf8_lossy(&w.content),
            "net.ipv4.ip_forward=1\n"
        );
        assert!(
            matches!(&p.steps[1], Step::Run { cmd, .. } if cmd.argv.as_deref().unwrap()[1] == "-p")
        );
        let p = run(None, "0\n", true);
        assert_eq!(p.steps.len(), 1, "no live reload in a chroot");
        // An equal value written differently is left alone, as in Ansible.
        assert!(!run(Some("net.ipv4.ip_forward = 1\n"), "1\n", false).changed);
        let p = run(Some("net.ipv4.ip_forward=1\n"), "1\n", false);
        assert!(!p.changed);
    }

    #[test]
    fn replaces_existing_setting() {
        let p = run(
            Some("# comment\nnet.ipv4.ip_forward = 0\nvm.swappiness=10\n"),
            "0\n",
            false,
        );
        let Step::Write(w) = &p.steps[0] else {
            panic!()
        };
        assert_eq!(
            String::from_utf8_lossy(&w.content),
            "# comment\nnet.ipv4.ip_forward=1\nvm.swappiness=10\n"
        );
    }
}
