//! `apt`: Debian packages — install (optionally at an exact version), remove, upgrade —
//! with one `apt-get` call per task, not per package.
//!
//! One probe reads the package database (`dpkg-query`), the candidates (`apt-cache policy`) and
//! the age of the package lists; the plan installs only what is missing or at another
//! version. `update_cache` refreshes the lists only when they are older than
//! `cache_valid_time`, so a re-run does not download indexes needlessly. Commands run with
//! `DEBIAN_FRONTEND=noninteractive`, keep existing config files, and wait for the dpkg lock
//! (`lock_timeout`, default 60 s) instead of failing while another apt runs. In a dry run the
//! packages it would install are fetched, not installed, so later tasks see their files and
//! units (`apt_predict.rs`).

use std::cmp::Ordering;

use minijinja::Value;

use super::args::choice;
use super::query::{Policy, Query};
use super::{Args, CmdRef, Command, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step};
use crate::error::{Error, Result};
use crate::host::dpkg::compare_deb_versions;
use crate::shlex::quote;

pub struct Apt;

pub(super) const OPTIONS: &[&str] = &[
    "name",
    "pkg",
    "package",
    "state",
    "update_cache",
    "update-cache",
    "cache_valid_time",
    "install_recommends",
    "install-recommends",
    "allow_downgrade",
    "allow-downgrade",
    "allow_downgrades",
    "allow-downgrades",
    "allow_change_held_packages",
    "allow_unauthenticated",
    "allow-unauthenticated",
    "purge",
    "autoremove",
    "autoclean",
    "clean",
    "force",
    "force_apt_get",
    "dpkg_options",
    "default_release",
    "default-release",
    "upgrade",
    "only_upgrade",
    "lock_timeout",
    "policy_rc_d",
    "deb",
    "fail_on_autoremove",
    "update_cache_retries",
    "update_cache_retry_max_delay",
];

#[derive(Clone, Debug, PartialEq)]
struct Pkg {
    name: String,
    version: Option<String>,
}

impl Pkg {
    /// As apt-get takes it: `name` or `name=version`.
    fn spec(&self) -> String {
        match &self.version {
            Some(v) => format!("{}={v}", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Installed {
    version: String,
    /// dpkg's wanted state is `hold`.
    held: bool,
}

choice! {
    /// `state`: what the packages should be.
    enum AptState {
        Present = "present",
        Absent = "absent",
        Latest = "latest",
        /// `fixed` (apt-get -f): as present here.
        Fixed = "fixed",
        BuildDep = "build-dep",
    }
}

struct AptPlan {
    /// Where a probe's answer is (asked in `ask`).
    lists_at: CmdRef,
    packages_at: CmdRef,
    /// Which of the named packages apt marked automatically installed.
    auto_at: Option<CmdRef>,
    upgrade_at: Option<CmdRef>,
    pkgs: Vec<Pkg>,
    state: AptState,
    update_cache: bool,
    cache_valid_time: Option<u64>,
    install_recommends: Option<bool>,
    allow_downgrade: bool,
    allow_change_held: bool,
    allow_unauthenticated: bool,
    purge: bool,
    autoremove: bool,
    dpkg_options: Vec<String>,
    lock_timeout: u64,
    default_release: Option<String>,
    upgrade: Option<String>,
    only_upgrade: bool,
    clean: bool,
    env: Vec<(String, String)>,
    /// A dry run where an earlier task would have changed the apt sources.
    predicted_sources: bool,
    /// In a dry run: the predicted apt sources and keyrings to fetch the packages with
    /// ([`super::apt_predict`]), and where the fetched packages are.
    dry_run: Option<Vec<(String, Vec<u8>)>>,
    fetch_at: Option<CmdRef>,
}

impl Module for Apt {
    fn path_options(&self) -> &'static [&'static str] {
        &["deb"]
    }
    fn name(&self) -> &'static str {
        "apt"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        if a.has("deb") {
            return Err(Error::runtime(
                "apt: deb is not supported by prov (use a repository)",
            ));
        }
        let pkgs: Vec<Pkg> = a
            .list(&["name", "pkg", "package"])?
            .into_iter()
            .map(|spec| match spec.split_once('=') {
                Some((n, v)) => Pkg {
                    name: n.trim().to_string(),
                    version: Some(v.trim().to_string()),
                },
                None => Pkg {
                    name: spec.trim().to_string(),
                    version: None,
                },
            })
            .collect();
        let state = a.choose(&["state"], AptState::Present)?;
        if state == AptState::BuildDep {
            return Err(Error::runtime(
                "apt: state=build-dep is not supported by prov",
            ));
        }
        let upgrade = a
            .str(&["upgrade"])?
            .filter(|u| !matches!(u.as_str(), "no" | "false" | "False"));
        if pkgs.is_empty()
            && upgrade.is_none()
            && !a.bool(&["update_cache", "update-cache"], false)?
            && !a.bool(&["autoremove"], false)?
            && !a.bool(&["clean"], false)?
        {
            return Err(Error::runtime(
                "apt: one of name, upgrade, update_cache, autoremove or clean is required",
            ));
        }
        let dpkg_options = a
            .str(&["dpkg_options"])?
            .unwrap_or_else(|| "force-confdef,force-confold".into())
            .split(',')
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty())
            .collect();
        let mut env_vars = vec![
            ("DEBIAN_FRONTEND".to_string(), "noninteractive".to_string()),
            ("NEEDRESTART_MODE".into(), "a".into()),
        ];
        env_vars.extend(env.environment.iter().cloned());
        Ok(Box::new(AptPlan {
            lists_at: Default::default(),
            packages_at: Default::default(),
            auto_at: None,
            upgrade_at: Default::default(),
            pkgs,
            state,
            update_cache: a.bool(&["update_cache", "update-cache"], false)?,
            cache_valid_time: a.int(&["cache_valid_time"])?.map(|v| v.max(0) as u64),
            install_recommends: a.opt_bool(&["install_recommends", "install-recommends"])?,
            allow_downgrade: a.bool(
                &[
                    "allow_downgrade",
                    "allow-downgrade",
                    "allow_downgrades",
                    "allow-downgrades",
                ],
                false,
            )?,
            allow_change_held: a.bool(&["allow_change_held_packages"], false)?,
            allow_unauthenticated: a
                .bool(&["allow_unauthenticated", "allow-unauthenticated"], false)?,
            purge: a.bool(&["purge"], false)?,
            autoremove: a.bool(&["autoremove"], false)?,
            dpkg_options,
            lock_timeout: a.int(&["lock_timeout"])?.unwrap_or(60).max(0) as u64,
            default_release: a.str(&["default_release", "default-release"])?,
            upgrade,
            only_upgrade: a.bool(&["only_upgrade"], false)?,
            clean: a.bool(&["clean"], false)?,
            env: env_vars,
            predicted_sources: env
                .predicted
                .paths
                .iter()
                .any(|p| p.starts_with("/etc/apt/sources.list")),
            dry_run: env.check_mode.then(|| env.predicted.apt_files.clone()),
            fetch_at: None,
        }))
    }
}

/// What apt offers of one package.
#[derive(Debug, PartialEq)]
struct Candidates {
    /// As apt-cache names it (`name` or `name:arch`).
    name: String,
    /// The version apt would install (`None`: `(none)`).
    candidate: Option<String>,
    /// Every version in the version table, as listed.
    versions: Vec<String>,
}

/// Parse `apt-cache policy` output: candidate and available versions per package.
/// A virtual package apt knows providers of (the `@@virtual` lines of the query).
#[derive(Debug, PartialEq)]
struct Virtual {
    name: String,
    providers: Vec<String>,
    /// It has one provider, and that is installed.
    sole_installed: bool,
}

/// `name TAB provider,provider TAB installed|` lines.
/// apt's own record of its last successful refresh (Ubuntu's update-notifier sets it).
const UPDATE_STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";
/// The package lists, whose directory's time stands for the last refresh elsewhere.
const LISTS: &str = "/var/lib/apt/lists";
/// The update script's exit code for "refreshed, nothing changed".
const UNCHANGED_RC: i32 = 3;

fn parse_virtuals(text: &str) -> Vec<Virtual> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let name = f.next()?.to_string();
            let providers = f.next()?.split(',').map(str::to_string).collect();
            Some(Virtual {
                name,
                providers,
                sole_installed: f.next() == Some("installed"),
            })
        })
        .collect()
}

fn parse_policy(text: &str) -> Vec<Candidates> {
    let mut out: Vec<Candidates> = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            out.push(Candidates {
                name: line.trim_end_matches(':').to_string(),
                candidate: None,
                versions: Vec::new(),
            });
            in_table = false;
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        let t = line.trim();
        if let Some(c) = t.strip_prefix("Candidate:") {
            let c = c.trim();
            cur.candidate = (c != "(none)").then(|| c.to_string());
        } else if t.starts_with("Version table:") {
            in_table = true;
        } else if in_table && line.starts_with("     ") && !line.starts_with("        ") {
            let v = t
                .trim_start_matches("*** ")
                .split_whitespace()
                .next()
                .unwrap_or("");
            if !v.is_empty() {
                cur.versions.push(v.to_string());
            }
        }
    }
    out
}

impl AptPlan {
    /// What dpkg says of the packages, and apt's candidates (`apt-cache policy`, after a
    /// `@@policy` line) only when something is to be installed or upgraded: apt-cache builds
    /// its caches in memory (probes must not write), which is the dearest part of a probe.
    fn packages_probe(&self) -> Query {
        let names = self.pkgs.iter().map(|p| p.name.clone()).collect();
        if self.state == AptState::Absent {
            return Query::Packages {
                names,
                policy: None,
            };
        }
        // Without a candidate to compare, apt must be asked: `latest`, or a version pattern.
        let always = self.state == AptState::Latest
            || self.pkgs.iter().any(|p| {
                p.version
                    .as_deref()
                    .is_some_and(|v| v.contains(['*', '?', '[']))
            });
        let wanted = self.pkgs.iter().map(Pkg::spec).collect();
        Query::Packages {
            names,
            policy: Some(Policy { always, wanted }),
        }
    }

    /// A shell snippet running an apt command, retrying while another process holds the lock.
    fn with_lock_wait(&self, cmd: &str) -> String {
        format!(
            "i=0\nwhile :; do\n  out=$({cmd} 2>&1); rc=$?\n  if [ $rc -ne 0 ] && printf '%s' \"$out\" | grep -qE 'Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock'; then\n    i=$((i+1)); if [ $i -lt {} ]; then sleep 1; continue; fi\n  fi\n  break\ndone\nprintf '%s\\n' \"$out\"\nexit $rc\n",
            self.lock_timeout.max(1)
        )
    }

    fn run(&self, script: String) -> Step {
        Step::Run {
            cmd: Command {
                shell: Some(script),
                env: self.env.clone(),
                ..Default::default()
            },
            ok_rcs: vec![0],
        }
    }

    fn common_flags(&self) -> String {
        let mut f = vec![
            "-y".to_string(),
            "-q".to_string(),
            format!("-o DPkg::Lock::Timeout={}", self.lock_timeout),
        ];
        for o in &self.dpkg_options {
            f.push(format!("-o Dpkg::Options::=--{o}"));
        }
        if let Some(r) = &self.default_release {
            f.push(format!("-t {}", quote(r)));
        }
        f.join(" ")
    }
}

impl Planner for AptPlan {
    fn ask(&mut self, p: &mut Probes) {
        // The lists' age (the last successful update, else the lists directory) and whether
        // a source is newer than that.
        self.lists_at = p.query(Query::AptListsAge);
        if !self.pkgs.is_empty() {
            self.packages_at = p.query(self.packages_probe());
            if matches!(
                self.state,
                AptState::Present | AptState::Latest | AptState::Fixed
            ) {
                let names = self.pkgs.iter().map(|p| p.name.clone()).collect();
                self.auto_at = Some(p.query(Query::AutoInstalled(names)));
                if let Some(files) = &self.dry_run {
                    let specs: Vec<String> = self.pkgs.iter().map(Pkg::spec).collect();
                    self.fetch_at =
                        Some(p.command(super::apt_predict::fetch_script(&specs, files)));
                }
            }
        }
        if let Some(u) = &self.upgrade {
            let verb = if matches!(u.as_str(), "dist" | "full") {
                "dist-upgrade"
            } else {
                "upgrade"
            };
            self.upgrade_at = Some(p.command(format!(
                "apt-get -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -s -q {verb} 2>/dev/null | grep -c '^Inst ' ; true"
            )));
        }
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cache = &obs.cmd(self.lists_at)?.stdout;
        let age: Option<u64> = cache
            .lines()
            .find_map(|l| l.strip_prefix("cache_age="))
            .and_then(|v| v.trim().parse().ok());
        // A source added or changed since the last refresh makes the lists stale too.
        let sources_newer =
            cache.lines().any(|l| l.trim() == "sources_newer=1") || self.predicted_sources;
        let needs_update = self.update_cache
            && (sources_newer
                || match (self.cache_valid_time, age) {
                    (Some(valid), Some(age)) => age > valid,
                    _ => true,
                });
        let mut plan = Plan::ok();
        let mut installed = std::collections::HashMap::new();
        let mut policy = Vec::new();
        let mut virtuals = Vec::new();
        if !self.pkgs.is_empty() {
            let out = &obs.cmd(self.packages_at)?.stdout;
            let (dpkg, apt) = match out.split_once("@@policy\n") {
                Some((d, a)) => (d, a),
                None => (out.as_str(), ""),
            };
            for line in dpkg.lines() {
                let f: Vec<&str> = line.split('\t').collect();
                // db:Status-Abbrev: wanted state (i/h/r/p) then current state (i = installed).
                if f.len() >= 4 && f[2].chars().nth(1) == Some('i') {
                    let name = f[0].split(':').next().unwrap_or(f[0]).to_string();
                    installed.insert(
                        name,
                        Installed {
                            version: f[1].to_string(),
                            held: f[2].starts_with('h'),
                        },
                    );
                }
            }
            let (apt, virt) = apt.split_once("@@virtual\n").unwrap_or((apt, ""));
            policy = parse_policy(apt);
            virtuals = parse_virtuals(virt);
        }
        let known = |name: &str| {
            policy
                .iter()
                .find(|c| c.name == name || c.name.split(':').next() == Some(name))
        };
        let mut install: Vec<String> = Vec::new();
        let mut remove: Vec<String> = Vec::new();
        let mut before = String::new();
        let mut after = String::new();
        let mut need_held_change = Vec::new();
        let virtual_of = |name: &str| virtuals.iter().find(|v: &&Virtual| v.name == name);
        for p in &self.pkgs {
            let cur = installed.get(&p.name);
            // As Ansible: a virtual package whose only provider is installed is installed;
            // one with providers otherwise is left to apt-get to choose.
            let virt = virtual_of(&p.name);
            if cur.is_none() && virt.is_some_and(|v| v.sole_installed) && p.version.is_none() {
                continue;
            }
            if cur.is_none()
                && virt.is_some()
                && p.version.is_none()
                && self.state != AptState::Absent
            {
                if !self.only_upgrade {
                    install.push(p.name.clone());
                    after.push_str(&format!(
                        "{} (virtual: {})\n",
                        p.name,
                        virt.map(|v| v.providers.join(", ")).unwrap_or_default()
                    ));
                }
                continue;
            }
            match self.state {
                AptState::Absent => {
                    if let Some(c) = cur {
                        remove.push(p.name.clone());
                        before.push_str(&format!("{} {}\n", p.name, c.version));
                    }
                }
                AptState::Latest => {
                    if p.version.is_some() {
                        return Ok(Plan::fail(format!(
                            "apt: version specification not allowed with state=latest: {}",
                            p.name
                        )));
                    }
                    let candidate = known(&p.name).and_then(|c| c.candidate.clone());
                    match (cur, candidate) {
                        (None, cand) => {
                            if self.only_upgrade {
                                continue;
                            }
                            if cand.is_none() && !needs_update {
                                return Ok(Plan::fail(format!(
                                    "No package matching '{}' is available",
                                    p.name
                                )));
                            }
                            install.push(p.name.clone());
                            after.push_str(&format!(
                                "{} {}\n",
                                p.name,
                                cand.unwrap_or_else(|| "(latest)".into())
                            ));
                        }
                        (Some(c), Some(cand))
                            if compare_deb_versions(&cand, &c.version) == Ordering::Greater =>
                        {
                            install.push(p.name.clone());
                            before.push_str(&format!("{} {}\n", p.name, c.version));
                            after.push_str(&format!("{} {cand}\n", p.name));
                            if c.held {
                                need_held_change.push(p.name.clone());
                            }
                        }
                        _ => {}
                    }
                }
                AptState::Present | AptState::Fixed | AptState::BuildDep => {
                    match (&p.version, cur) {
                        (None, Some(_)) => {}
                        (Some(v), Some(c)) if c.version == *v => {}
                        (v, c) => {
                            if self.only_upgrade && c.is_none() {
                                continue;
                            }
                            let pkg_known = known(&p.name);
                            if !needs_update {
                                match (pkg_known, v) {
                                    (None, _)
                                    | (
                                        Some(Candidates {
                                            candidate: None, ..
                                        }),
                                        None,
                                    ) => {
                                        return Ok(Plan::fail(format!(
                                            "No package matching '{}' is available",
                                            p.name
                                        )));
                                    }
                                    (Some(Candidates { versions, .. }), Some(v))
                                        if !versions.contains(v) =>
                                    {
                                        return Ok(Plan::fail(format!(
                                            "No package matching '{}={v}' is available (available: {})",
                                            p.name,
                                            versions.join(", ")
                                        )));
                                    }
                                    _ => {}
                                }
                            }
                            if let (Some(v), Some(c)) = (v, c) {
                                if compare_deb_versions(v, &c.version) == Ordering::Less
                                    && !self.allow_downgrade
                                {
                                    return Ok(Plan::fail(format!(
                                        "apt: {} is installed at {} and {v} would be a downgrade; set allow_downgrade",
                                        p.name, c.version
                                    )));
                                }
                                if c.held {
                                    need_held_change.push(p.name.clone());
                                }
                                before.push_str(&format!("{} {}\n", p.name, c.version));
                            }
                            install.push(match v {
                                Some(v) => format!("{}={v}", p.name),
                                None => p.name.clone(),
                            });
                            let shown = v
                                .clone()
                                .or_else(|| pkg_known.and_then(|k| k.candidate.clone()))
                                .unwrap_or_else(|| "(candidate)".into());
                            after.push_str(&format!("{} {shown}\n", p.name));
                        }
                    }
                }
            }
        }
        if !need_held_change.is_empty() && !self.allow_change_held {
            return Ok(Plan::fail(format!(
                "apt: held packages would change: {} (set allow_change_held_packages)",
                need_held_change.join(", ")
            )));
        }
        let only_cache =
            self.pkgs.is_empty() && self.upgrade.is_none() && !self.autoremove && !self.clean;
        if needs_update {
            // As Ansible: the refresh changed something when the time of the last update
            // (apt's update-success-stamp where it has one, else the lists directory) moved.
            // The lists directory is then touched: its time is that of this refresh, for the
            // next `cache_valid_time` (no file of prov's is left behind).
            let script = format!(
                "since() {{ if [ -e {UPDATE_STAMP} ]; then stat -c %y {UPDATE_STAMP}; elif [ -d {LISTS} ]; then stat -c %y {LISTS}; fi; }}\nbefore=$(since)\n{}\n",
                self.with_lock_wait("apt-get update -q").replace(
                    "exit $rc\n",
                    &format!("[ $rc -eq 0 ] || exit $rc\nafter=$(since)\ntouch {LISTS} 2>/dev/null\n[ \"$after\" = \"$before\" ] && exit {UNCHANGED_RC}\nexit 0\n")
                )
            );
            let mut step = self.run(script);
            if let Step::Run { cmd, .. } = &mut step {
                cmd.unchanged_rc = Some(UNCHANGED_RC);
            }
            if only_cache {
                plan.step(step);
            } else {
                plan.steps.push(step);
            }
            plan.result
                .insert("cache_updated".into(), Value::from(true));
        } else {
            plan.result
                .insert("cache_updated".into(), Value::from(false));
        }
        if !install.is_empty() {
            let mut flags = self.common_flags();
            match self.install_recommends {
                Some(false) => flags.push_str(" --no-install-recommends"),
                Some(true) => flags.push_str(" --install-recommends"),
                None => {}
            }
            if self.allow_downgrade {
                flags.push_str(" --allow-downgrades");
            }
            if self.allow_change_held {
                flags.push_str(" --allow-change-held-packages");
            }
            if self.allow_unauthenticated {
                flags.push_str(" --allow-unauthenticated");
            }
            if self.only_upgrade {
                flags.push_str(" --only-upgrade");
            }
            let pkgs = install
                .iter()
                .map(|p| quote(p))
                .collect::<Vec<_>>()
                .join(" ");
            plan.step(self.run(self.with_lock_wait(&format!("apt-get install {flags} {pkgs}"))));
            let names = install
                .iter()
                .map(|p| p.split('=').next().unwrap_or(p).to_string())
                .collect();
            plan.predictions.push(super::Prediction::Packages(names));
            if let Some(at) = self.fetch_at {
                let (predictions, _versions) =
                    super::apt_predict::read_fetched(&obs.cmd(at)?.stdout);
                plan.predictions.extend(predictions);
            }
        }
        // As Ansible: the named packages end up marked manually installed (apt-get install
        // does that for those it installs; the others already there are marked here). Like
        // Ansible, marking is not reported as a change (and a dry run does not do it).
        if let Some(at) = self.auto_at {
            let auto = obs.cmd(at)?.stdout.clone();
            let manual: Vec<&str> = auto
                .lines()
                .filter(|n| {
                    installed.contains_key(*n)
                        && !install.iter().any(|i| i.split('=').next() == Some(*n))
                })
                .collect();
            if !manual.is_empty() {
                let names: Vec<String> = manual.iter().map(|n| quote(n)).collect();
                plan.steps.push(
                    self.run(self.with_lock_wait(&format!("apt-mark manual {}", names.join(" ")))),
                );
            }
        }
        if !remove.is_empty() {
            let verb = if self.purge { "purge" } else { "remove" };
            let pkgs = remove
                .iter()
                .map(|p| quote(p))
                .collect::<Vec<_>>()
                .join(" ");
            plan.step(self.run(
                self.with_lock_wait(&format!("apt-get {verb} {} {pkgs}", self.common_flags())),
            ));
        }
        if let Some(u) = &self.upgrade {
            let count: u64 = match self.upgrade_at {
                Some(at) => obs.cmd(at)?.stdout.trim().parse().unwrap_or(0),
                None => 0,
            };
            if count > 0 || needs_update {
                let verb = if matches!(u.as_str(), "dist" | "full") {
                    "dist-upgrade"
                } else {
                    "upgrade"
                };
                let s = self
                    .run(self.with_lock_wait(&format!("apt-get {verb} {}", self.common_flags())));
                if count > 0 {
                    plan.step(s);
                    after.push_str(&format!("{count} packages upgraded\n"));
                } else {
                    plan.steps.push(s);
                }
            }
        }
        if self.autoremove {
            plan.steps.push(
                self.run(
                    self.with_lock_wait(&format!("apt-get autoremove {}", self.common_flags())),
                ),
            );
        }
        if self.clean {
            plan.steps
                .push(self.run(self.with_lock_wait("apt-get clean")));
        }
        if !before.is_empty() || !after.is_empty() {
            plan.diffs.push(super::Diff {
                before_header: "packages (before)".into(),
                after_header: "packages (after)".into(),
                before,
                after,
            });
        }
        Ok(plan)
    }
}

#[cfg(test)]
#[path = "apt_tests.rs"]
mod tests;
