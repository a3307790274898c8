//! `apt_repository`: a one-line apt source (`deb [signed-by=...] URL suite components`) in
//! `/etc/apt/sources.list.d/<filename>.list`, refreshing the package lists when it changes
//! (`update_cache`, default yes, as in Ansible).

use super::args::Presence;
use super::attrs::AttrSpec;
use super::content::{WriteSpec, plan_write};
use super::mode::ModeSpec;
use super::{Args, Command, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step};
use crate::error::{Error, Result};

pub struct AptRepository;

const OPTIONS: &[&str] = &[
    "repo",
    "state",
    "filename",
    "mode",
    "update_cache",
    "update-cache",
    "update_cache_retries",
    "update_cache_retry_max_delay",
    "validate_certs",
    "codename",
    "install_python_apt",
];

/// Ansible's default file name for a repo line: host and path, dots and slashes as `_`.
pub fn default_filename(repo: &str) -> String {
    let url = repo
        .split_whitespace()
        .find(|w| w.contains("://"))
        .unwrap_or("repo");
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.trim_end_matches('/').replace(['/', '.', ':'], "_")
}

fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Module for AptRepository {
    fn name(&self) -> &'static str {
        "apt_repository"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let repo = normalize(&a.req_str(&["repo"])?);
        if repo.starts_with("ppa:") {
            return Err(Error::runtime(
                "apt_repository: PPAs are not supported by prov",
            ));
        }
        if !(repo.starts_with("deb ") || repo.starts_with("deb-src ")) {
            return Err(Error::runtime(format!(
                "apt_repository: invalid repository line '{repo}'"
            )));
        }
        let filename = a
            .str(&["filename"])?
            .unwrap_or_else(|| default_filename(&repo));
        Ok(Box::new(RepoLinePlan {
            cur_at: Default::default(),
            path: format!("/etc/apt/sources.list.d/{filename}.list"),
            repo,
            present: a.choose(&["state"], Presence::Present)? == Presence::Present,
            mode: a.mode(&["mode"])?.unwrap_or(ModeSpec::Octal(0o644)),
            update_cache: a.bool(&["update_cache", "update-cache"], true)?,
        }))
    }
}

struct RepoLinePlan {
    /// Where a probe's answer is (asked in `ask`).
    cur_at: FileRef,
    path: String,
    repo: String,
    present: bool,
    mode: ModeSpec,
    update_cache: bool,
}

impl Planner for RepoLinePlan {
    fn ask(&mut self, p: &mut Probes) {
        self.cur_at = p.read(&self.path);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.cur_at)?;
        let text = cur.text().unwrap_or_default();
        let has = text.lines().any(|l| normalize(l) == self.repo);
        let mut plan = Plan::ok()
            .with("repo", self.repo.as_str())
            .with("sources_list", self.path.as_str());
        let new = if self.present {
            if has {
                text.clone()
            } else {
                let mut t = text.clone();
                if !t.is_empty() && !t.ends_with('\n') {
                    t.push('\n');
                }
                format!("{t}{}\n", self.repo)
            }
        } else {
            text.lines()
                .filter(|l| normalize(l) != self.repo)
                .map(|l| format!("{l}\n"))
                .collect()
        };
        if !cur.exists && !self.present {
            return Ok(plan);
        }
        if !self.present && new.is_empty() && cur.exists {
            plan.step(Step::Remove {
                path: self.path.clone(),
            });
        } else {
            let spec = WriteSpec {
                path: self.path.clone(),
                attrs: AttrSpec {
                    mode: Some(self.mode),
                    ..Default::default()
                },
                ..Default::default()
            };
            plan_write(&mut plan, cur, new.into_bytes(), &spec)?;
        }
        if plan.changed && self.update_cache {
            plan.steps.push(Step::Run {
                cmd: Command {
                    argv: Some(vec!["apt-get".into(), "update".into(), "-q".into()]),
                    ..Default::default()
                },
                ok_rcs: vec![0],
            });
        }
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, file, plan_with};
    use minijinja::Value;

    #[test]
    fn adds_once_and_updates_the_cache() {
        let line = "deb [signed-by=/etc/apt/keyrings/k.gpg] https://pkgs.k8s.io/core:/stable:/v1.32/deb/ /";
        assert_eq!(
            default_filename(line),
            "pkgs_k8s_io_core__stable__v1_32_deb"
        );
        let a = args(
            "apt_repository",
            &[
                ("repo", Value::from(line)),
                ("filename", Value::from("kubernetes")),
            ],
        );
        let p = plan_with(&AptRepository, a.clone(), &[]);
        assert!(p.changed);
        assert!(matches!(p.steps.last(), Some(Step::Run { .. })));
        let p = plan_with(
            &AptRepository,
            a,
            &[file(
                "/etc/apt/sources.list.d/kubernetes.list",
                0o644,
                &format!("{line}\n"),
            )],
        );
        assert!(!p.changed);
    }
}
