//! `alternatives` (community.general): a choice of dpkg's alternatives system.
//!
//! Ansible reads `update-alternatives --display NAME`; that report is made from two things this
//! module reads directly: the administrative file `/var/lib/dpkg/alternatives/NAME` (mode,
//! master link, followers and their links, each choice's priority and follower paths) and
//! the `/etc/alternatives/NAME` link (the current choice). Ansible's decisions follow, each
//! change made with `update-alternatives` as Ansible runs it: `--install` when the path is not
//! a choice yet or its priority or followers (`subcommands`) differ, `--set` for
//! `state: selected` when it is not the current choice, `--auto` for `state: auto` in manual
//! mode, `--remove` for `state: absent`. Only dpkg's update-alternatives is supported (no
//! `family`, which is the Red Hat implementation's).

use super::bin_path::BinPath;
use super::{
    Args, Command, Diff, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
};
use crate::error::{Error, Result};
use crate::template::to_text;

pub struct Alternatives;

const ADMIN_DIR: &str = "/var/lib/dpkg/alternatives";
const ALT_DIR: &str = "/etc/alternatives";
fn err(m: impl std::fmt::Display) -> Error {
    Error::runtime(format!("alternatives: {m}"))
}

super::args::choice! {
    /// `state`: `selected` (the default) installs and selects the choice.
    enum State {
        Present = "present",
        Selected = "selected",
        Auto = "auto",
        Absent = "absent",
    }
}

/// A follower (Ansible's subcommand): its name, this choice's path for it, and its link.
#[derive(Clone, Debug, PartialEq)]
struct Follower {
    name: String,
    path: String,
    link: String,
}

impl Module for Alternatives {
    fn name(&self) -> &'static str {
        "alternatives"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "name",
            "path",
            "family",
            "link",
            "priority",
            "state",
            "subcommands",
            "slaves",
        ])
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        if a.has("family") {
            return Err(err(
                "option 'family' is not supported by prov (dpkg's update-alternatives has no families)",
            ));
        }
        let name = a.req_str(&["name"])?;
        if name.is_empty() || name.contains('/') {
            return Err(err(format!("invalid alternative name '{name}'")));
        }
        let path = a
            .str(&["path"])?
            .ok_or_else(|| err("one of the following is required: path, family"))?;
        let state = a.choose(&["state"], State::Selected)?;
        let subcommands = match a.get(&["subcommands", "slaves"]) {
            None => None,
            Some(v) => {
                let mut out = Vec::new();
                for item in v
                    .try_iter()
                    .map_err(|_| err("subcommands must be a list"))?
                {
                    let field = |k: &str| {
                        item.get_attr(k)
                            .ok()
                            .filter(|v| !v.is_none() && !v.is_undefined())
                            .map(|v| to_text(&v))
                            .ok_or_else(|| err(format!("each of subcommands needs '{k}'")))
                    };
                    out.push(Follower {
                        name: field("name")?,
                        path: field("path")?,
                        link: field("link")?,
                    });
                }
                Some(out)
            }
        };
        Ok(Box::new(AltPlan {
            bins: BinPath::default(),
            admin_at: Default::default(),
            dpkg_at: Default::default(),
            current_at: Default::default(),
            path_at: Default::default(),
            name,
            path,
            link: a.str(&["link"])?,
            priority: a.int(&["priority"])?,
            state,
            subcommands,
        }))
    }
}

struct AltPlan {
    bins: BinPath,
    admin_at: FileRef,
    dpkg_at: FileRef,
    current_at: FileRef,
    path_at: FileRef,
    name: String,
    path: String,
    link: Option<String>,
    priority: Option<i64>,
    state: State,
    subcommands: Option<Vec<Follower>>,
}

/// One choice of an alternative.
#[derive(Clone, Debug, PartialEq)]
struct Choice {
    path: String,
    priority: i64,
    followers: Vec<Follower>,
}

/// What `--display` reports of an alternative (as Ansible's regexes read it).
#[derive(Debug, Default, PartialEq)]
struct Current {
    mode: Option<String>,
    link: Option<String>,
    choices: Vec<Choice>,
}

/// The administrative file: status, master link, followers (name, link) up to an empty line,
/// then each choice: its path, its priority, a path (or an empty line) per follower.
fn parse_admin(name: &str, text: &str) -> std::result::Result<Current, String> {
    let mut lines = text.split('\n');
    let mut next = |what: &str| {
        lines
            .next()
            .map(str::to_string)
            .ok_or_else(|| format!("{ADMIN_DIR}/{name} is corrupt: no {what}"))
    };
    let mode = next("status")?;
    if mode != "auto" && mode != "manual" {
        return Err(format!(
            "{ADMIN_DIR}/{name} is corrupt: bad status '{mode}'"
        ));
    }
    let master = next("master link")?;
    let mut followers: Vec<(String, String)> = Vec::new();
    loop {
        let f = next("follower")?;
        if f.is_empty() {
            break;
        }
        let link = next("follower link")?;
        followers.push((f, link));
    }
    let mut choices = Vec::new();
    loop {
        let path = next("end of choices")?;
        if path.is_empty() {
            break;
        }
        let prio = next("priority")?;
        let priority: i64 = prio
            .parse()
            .map_err(|_| format!("{ADMIN_DIR}/{name} is corrupt: bad priority '{prio}'"))?;
        let mut fl = Vec::new();
        for (fname, flink) in &followers {
            let p = next("follower path")?;
            if !p.is_empty() {
                fl.push(Follower {
                    name: fname.clone(),
                    path: p,
                    link: flink.clone(),
                });
            }
        }
        // Ansible's pattern reads `priority (\d+)`: a negative priority hides the choice.
        if priority >= 0 {
            choices.push(Choice {
                path,
                priority,
                followers: fl,
            });
        }
    }
    // `link \w+ is (.*)`: the master link is read only for names of word characters.
    let word = name.chars().all(|c| c.is_alphanumeric() || c == '_');
    Ok(Current {
        mode: Some(mode),
        link: word.then_some(master),
        choices,
    })
}

fn same_followers(a: &[Follower], b: &[Follower]) -> bool {
    a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

fn describe(fields: &[(&str, String)]) -> String {
    fields.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

impl Planner for AltPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.bins = BinPath::ask(p, "update-alternatives");
        self.dpkg_at = p.stat_follow("/var/lib/dpkg");
        self.admin_at = p.read(&format!("{ADMIN_DIR}/{}", self.name));
        self.current_at = p.stat(&format!("{ALT_DIR}/{}", self.name));
        self.path_at = p.stat_follow(&self.path);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        if let Some(fail) = self.bins.missing(obs)? {
            return Ok(fail);
        }
        if !obs.file(self.dpkg_at)?.is_dir() {
            return Ok(Plan::fail(
                "only dpkg's update-alternatives is supported by prov (no /var/lib/dpkg)",
            ));
        }
        let admin = obs.file(self.admin_at)?;
        let current = match (&admin.content, admin.is_file()) {
            (Some(c), true) => {
                let Ok(text) = std::str::from_utf8(c) else {
                    return Ok(Plan::fail(format!("{} is not UTF-8 text", admin.path)));
                };
                match parse_admin(&self.name, text) {
                    Ok(c) => c,
                    Err(m) => return Ok(Plan::fail(m)),
                }
            }
            _ => Current::default(),
        };
        let link_state = obs.file(self.current_at)?;
        let current_path = (current.mode.is_some() && link_state.is_link)
            .then(|| link_state.link_target.clone())
            .flatten();
        let choice = current.choices.iter().find(|c| c.path == self.path);
        let mut before = Vec::new();
        match choice {
            Some(c) => {
                before.push(("state", "present".to_string()));
                before.push(("path", self.path.clone()));
                before.push(("priority", c.priority.to_string()));
                before.push(("link", current.link.clone().unwrap_or_default()));
                if current.mode.as_deref() == Some("manual")
                    && current_path.as_deref() != Some(self.path.as_str())
                {
                    before[0].1 = "selected".into();
                }
            }
            None => before.push(("state", "absent".to_string())),
        }
        let mut after: Vec<(&str, String)> = Vec::new();
        let mut messages = Vec::new();
        let mut argvs: Vec<Vec<String>> = Vec::new();
        let ua = |args: &[&str]| -> Vec<String> {
            std::iter::once("update-alternatives")
                .chain(args.iter().copied())
                .map(str::to_string)
                .collect()
        };
        if self.state == State::Absent {
            if choice.is_some() {
                argvs.push(ua(&["--remove", &self.name, &self.path]));
                messages.push(format!(
                    "Remove alternative '{}' from '{}'.",
                    self.path, self.name
                ));
                after.push(("state", "absent".into()));
            }
        } else {
            let reinstall = match choice {
                None => true,
                Some(c) => {
                    self.priority.is_some_and(|p| p != c.priority)
                        || self
                            .subcommands
                            .as_ref()
                            .is_some_and(|s| !same_followers(&c.followers, s))
                }
            };
            if reinstall {
                if !obs.file(self.path_at)?.exists {
                    return Ok(Plan::fail(format!(
                        "Specified path {} does not exist",
                        self.path
                    )));
                }
                let Some(link) = self.link.clone().or(current.link.clone()) else {
                    return Ok(Plan::fail(
                        "Needed to install the alternative, but unable to do so as we are missing the link",
                    ));
                };
                let priority = self
                    .priority
                    .or(choice.map(|c| c.priority))
                    .unwrap_or(50)
                    .to_string();
                let mut argv = ua(&["--install", &link, &self.name, &self.path, &priority]);
                if let Some(subs) = &self.subcommands {
                    for s in subs {
                        argv.extend(["--slave".into(), s.link.clone(), s.name.clone()]);
                        argv.push(s.path.clone());
                    }
                }
                argvs.push(argv);
                messages.push(format!(
                    "Install alternative '{}' for '{}'.",
                    self.path, self.name
                ));
                after.push(("state", "present".into()));
                after.push(("path", self.path.clone()));
                after.push(("priority", priority));
                after.push(("link", link));
            }
            if self.state == State::Selected && current_path.as_deref() != Some(&self.path) {
                argvs.push(ua(&["--set", &self.name, &self.path]));
                messages.push(format!(
                    "Set alternative '{}' for '{}'.",
                    self.path, self.name
                ));
                match after.first_mut() {
                    Some(s) => s.1 = "selected".into(),
                    None => after.push(("state", "selected".into())),
                }
            }
            if self.state == State::Auto && current.mode.as_deref() == Some("manual") {
                argvs.push(ua(&["--auto", &self.name]));
                messages.push(format!("Set alternative to auto for '{}'.", self.name));
                match after.first_mut() {
                    Some(s) => s.1 = "present".into(),
                    None => after.push(("state", "present".into())),
                }
            }
        }
        let mut plan = Plan::ok().with("msg", messages.join(" "));
        if !argvs.is_empty() {
            plan.diffs.push(Diff::new(
                &format!("alternative {}", self.name),
                describe(&before),
                describe(&after),
            ));
        }
        for argv in argvs {
            plan.step(Step::Run {
                cmd: Command {
                    argv: Some(argv),
                    env: vec![("LC_ALL".into(), "C".into())],
                    ..Default::default()
                },
                ok_rcs: vec![0],
            });
        }
        Ok(plan)
    }
}

#[cfg(test)]
#[path = "alternatives_tests.rs"]
mod tests;
