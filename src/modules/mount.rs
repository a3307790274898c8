//! `mount` (ansible.posix): filesystem entries in fstab (`present`/`absent`) and, on a live
//! host, mounting and unmounting (`mounted`, `unmounted`, `remounted`). In a chroot the fstab
//! is edited and the live part is skipped.

use super::args::Choice;
use super::args::choice;
use super::attrs::AttrSpec;
use super::content::{WriteSpec, plan_write};
use super::{
    Args, CmdRef, Command, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
};
use crate::error::{Error, Result};
use crate::shlex::quote;

pub struct Mount;

impl Module for Mount {
    fn path_options(&self) -> &'static [&'static str] {
        &["path", "name"]
    }
    fn name(&self) -> &'static str {
        "mount"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "path", "name", "src", "fstype", "opts", "dump", "passno", "state", "fstab", "boot",
            "backup",
        ])
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let state: Mounting = a
            .choose_opt(&["state"])?
            .ok_or_else(|| Error::runtime("mount: state is required"))?;
        if state == Mounting::Ephemeral {
            return Err(Error::runtime(
                "mount: state=ephemeral is not supported by prov",
            ));
        }
        let needs_entry = matches!(state, Mounting::Present | Mounting::Mounted);
        let src = a.str(&["src"])?;
        let fstype = a.str(&["fstype"])?;
        if needs_entry && (src.is_none() || fstype.is_none()) {
            return Err(Error::runtime(format!(
                "mount: src and fstype are required with state={}",
                state.name()
            )));
        }
        let mut opts = a.str(&["opts"])?.unwrap_or_else(|| "defaults".into());
        if a.opt_bool(&["boot"])? == Some(false) && !opts.split(',').any(|o| o == "noauto") {
            opts.push_str(",noauto");
        }
        Ok(Box::new(MountPlan {
            fstab_at: Default::default(),
            mounted_at: Default::default(),
            path: a
                .req_str(&["path", "name"])?
                .trim_end_matches('/')
                .to_string(),
            src,
            fstype,
            opts,
            dump: a.str(&["dump"])?.unwrap_or_else(|| "0".into()),
            passno: a.str(&["passno"])?.unwrap_or_else(|| "0".into()),
            state,
            fstab: a.str(&["fstab"])?.unwrap_or_else(|| "/etc/fstab".into()),
            backup: a.bool(&["backup"], false)?,
            chroot: env.is_chroot,
        }))
    }
}

choice! {
    /// `state`: the mount and its fstab entry.
    enum Mounting {
        Mounted = "mounted",
        Unmounted = "unmounted",
        Present = "present",
        Absent = "absent",
        Remounted = "remounted",
        AbsentFromFstab = "absent_from_fstab",
        Ephemeral = "ephemeral",
    }
}

struct MountPlan {
    /// Where a probe's answer is (asked in `ask`).
    fstab_at: FileRef,
    mounted_at: CmdRef,
    path: String,
    src: Option<String>,
    fstype: Option<String>,
    opts: String,
    dump: String,
    passno: String,
    state: Mounting,
    fstab: String,
    backup: bool,
    chroot: bool,
}

fn run(argv: Vec<String>) -> Step {
    Step::Run {
        cmd: Command {
            argv: Some(argv),
            ..Default::default()
        },
        ok_rcs: vec![0],
    }
}

impl Planner for MountPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.fstab_at = p.read(&self.fstab);
        self.mounted_at = p.command(format!(
            "awk -v p={} '$2 == p {{ print \"mounted\"; exit }}' /proc/mounts 2>/dev/null; true",
            quote(&self.path)
        ));
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.fstab_at)?;
        let text = cur.text().unwrap_or_default();
        let mounted = obs.cmd(self.mounted_at)?.stdout.trim() == "mounted";
        let entry = format!(
            "{} {} {} {} {} {}",
            self.src.clone().unwrap_or_default(),
            self.path,
            self.fstype.clone().unwrap_or_default(),
            self.opts,
            self.dump,
            self.passno
        );
        let is_ours = |l: &str| fstab_entry_matches(l, &self.path, self.src.as_deref());
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let want_entry = matches!(self.state, Mounting::Present | Mounting::Mounted);
        let drop_entry = matches!(self.state, Mounting::Absent | Mounting::AbsentFromFstab);
        if want_entry {
            let mut found = false;
            for line in lines.iter_mut().filter(|l| is_ours(l)) {
                found = true;
                if line.split_whitespace().ne(entry.split_whitespace()) {
                    line.clone_from(&entry);
                }
            }
            if !found {
                lines.push(entry.clone());
            }
        } else if drop_entry {
            lines.retain(|l| !is_ours(l));
        }
        let mut new = lines.join("\n");
        if !new.is_empty() {
            new.push('\n');
        }
        let mut plan = Plan::ok()
            .with("name", self.path.as_str())
            .with("fstab", self.fstab.as_str());
        if want_entry || (drop_entry && cur.exists) {
            let spec = WriteSpec {
                path: self.fstab.clone(),
                attrs: AttrSpec::default(),
                backup: self.backup,
                ..Default::default()
            };
            plan_write(&mut plan, cur, new.into_bytes(), &spec)?;
        }
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        let fstab_changed = plan.changed;
        let live: Option<Vec<String>> = match self.state {
            Mounting::Mounted if !mounted => Some(vec!["mount".into(), self.path.clone()]),
            Mounting::Mounted if fstab_changed => Some(vec![
                "mount".into(),
                "-o".into(),
                format!("remount,{}", self.opts),
                self.path.clone(),
            ]),
            Mounting::Unmounted | Mounting::Absent if mounted => {
                Some(vec!["umount".into(), self.path.clone()])
            }
            Mounting::Remounted => Some(vec![
                "mount".into(),
                "-o".into(),
                "remount".into(),
                self.path.clone(),
            ]),
            _ => None,
        };
        if let Some(argv) = live {
            if self.chroot {
                plan.result.insert("live".into(), "skipped (chroot)".into());
                if !plan.changed {
                    plan.skipped = Some("skipped (chroot)".into());
                }
            } else {
                if self.state == Mounting::Mounted && !mounted {
                    plan.steps
                        .push(run(vec!["mkdir".into(), "-p".into(), self.path.clone()]));
                }
                plan.diffs.push(super::Diff::new(
                    &format!("{} (mount)", self.path),
                    format!("mounted: {mounted}\n"),
                    format!(
                        "mounted: {}\n",
                        !matches!(self.state, Mounting::Unmounted | Mounting::Absent)
                    ),
                ));
                plan.step(run(argv));
            }
        }
        Ok(plan)
    }
}

/// Is this fstab line the entry for `path`, as Ansible's mount module decides: a line of
/// four to six fields (comments after `#` ignored) whose mount point is `path`; for swap
/// (mount point `none`, type `swap`) the source must match too when one is given, so one swap
/// entry never replaces another.
fn fstab_entry_matches(line: &str, path: &str, src: Option<&str>) -> bool {
    let fields: Vec<&str> = line
        .split('#')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    if !(4..=6).contains(&fields.len()) {
        return false;
    }
    let point = fields[1].trim_end_matches('/');
    let point = if point.is_empty() { "/" } else { point };
    if point != path {
        return false;
    }
    let other_swap =
        fields[1] == "none" && fields[2] == "swap" && src.is_some_and(|s| s != fields[0]);
    !other_swap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Answer;
    use crate::modules::testing::{args, cmd, file, plan_answers};
    use minijinja::Value;

    #[test]
    fn fstab_entries() {
        let a = args(
            "mount",
            &[
                ("path", Value::from("/data")),
                ("src", Value::from("UUID=abc")),
                ("fstype", Value::from("ext4")),
                ("state", Value::from("present")),
            ],
        );
        let p = plan_answers(
            &Mount,
            a.clone(),
            vec![
                Answer::File(file("/etc/fstab", 0o644, "UUID=x / ext4 defaults 0 1\n")),
                cmd(0, ""),
            ],
        );
        let Step::Write(w) = &p.steps[0] else {
            panic!()
        };
        assert_eq!(
            String::from_utf8_lossy(&w.content),
            "UUID=x / ext4 defaults 0 1\nUUID=abc /data ext4 defaults 0 0\n"
        );
        let p = plan_answers(
            &Mount,
            a,
            vec![
                Answer::File(file(
                    "/etc/fstab",
                    0o644,
                    "UUID=abc   /data  ext4 defaults 0 0\n",
                )),
                cmd(0, ""),
            ],
        );
        assert!(!p.changed);
        let a = args(
            "mount",
            &[
                ("path", Value::from("/data")),
                ("state", Value::from("absent")),
            ],
        );
        let p = plan_answers(
            &Mount,
            a,
            vec![
                Answer::File(file(
                    "/etc/fstab",
                    0o644,
                    "UUID=abc /data ext4 defaults 0 0\n# /data old\n",
                )),
                cmd(0, ""),
            ],
        );
        let Step::Write(w) = &p.steps[0] else {
            panic!()
        };
        assert_eq!(String::from_utf8_lossy(&w.content), "# /data old\n");
    }

    /// Ansible matches swap entries (mount point `none`) by their source: adding a second swap
    /// file keeps the first, removing one keeps the other.
    #[test]
    fn swap_entries_are_told_apart_by_source() {
        let fstab = "UUID=x / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n";
        let swap = |src: &str, state: &str| {
            args(
                "mount",
                &[
                    ("path", Value::from("none")),
                    ("src", Value::from(src)),
                    ("fstype", Value::from("swap")),
                    ("opts", Value::from("sw")),
                    ("state", Value::from(state)),
                ],
            )
        };
        let answers = || vec![Answer::File(file("/etc/fstab", 0o644, fstab)), cmd(0, "")];
        let written = |p: &Plan| match &p.steps[0] {
            Step::Write(w) => String::from_utf8_lossy(&w.content).into_owned(),
            other => panic!("{other:?}"),
        };
        let p = plan_answers(&Mount, swap("/swap2", "present"), answers());
        assert_eq!(written(&p), format!("{fstab}/swap2 none swap sw 0 0\n"));
        let p = plan_answers(&Mount, swap("/swapfile", "present"), answers());
        assert!(!p.changed);
        let p = plan_answers(&Mount, swap("/swap2", "absent"), answers());
        assert!(!p.changed, "{:?}", p.steps);
        let p = plan_answers(&Mount, swap("/swapfile", "absent"), answers());
        assert_eq!(written(&p), "UUID=x / ext4 defaults 0 1\n");
        assert!(fstab_entry_matches(
            "/a /data ext4 defaults # note",
            "/data",
            None
        ));
        assert!(!fstab_entry_matches("/a /data", "/data", None));
        assert!(fstab_entry_matches("UUID=x / ext4 defaults 0 1", "/", None));
    }
}
