//! `deb822_repository`: an apt source as a deb822 `.sources` file in
//! `/etc/apt/sources.list.d/`, with `Signed-By` and `Architectures`.
//!
//! `signed_by` may be a keyring path, an armored key block (inlined), or a URL: the controller
//! fetches it and writes it next to the source in `/etc/apt/keyrings/` (`.asc` when armored,
//! `.gpg` when binary), as Ansible does.

use super::args::Presence;
use minijinja::Value;

use super::attrs::AttrSpec;
use super::content::{WriteSpec, plan_write};
use super::mode::ModeSpec;
use super::{
    Args, Attrs, Diff, FileRef, Fixed, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
};
use crate::error::{Error, Result};
use crate::template::to_text;

pub struct Deb822Repository;

const OPTIONS: &[&str] = &[
    "name",
    "types",
    "uris",
    "suites",
    "components",
    "architectures",
    "signed_by",
    "enabled",
    "state",
    "mode",
    "trusted",
    "allow_downgrade_to_insecure",
    "allow_insecure",
    "allow_weak",
    "by_hash",
    "check_date",
    "check_valid_until",
    "date_max",
    "inrelease_path",
    "languages",
    "pdiffs",
    "targets",
    "install_python_debian",
];

/// The file name Ansible derives from `name`.
pub fn file_stem(name: &str) -> String {
    name.to_lowercase()
        .replace([' ', '_'], "-")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect()
}

fn words(a: &Args, name: &str) -> Result<Vec<String>> {
    match a.get(&[name]) {
        None => Ok(Vec::new()),
        Some(v) if crate::template::is_list(v) => Ok(v.try_iter()?.map(|x| to_text(&x)).collect()),
        Some(v) => Ok(to_text(v).split_whitespace().map(str::to_string).collect()),
    }
}

fn yes_no(a: &Args, name: &str) -> Result<Option<&'static str>> {
    Ok(a.opt_bool(&[name])?.map(|b| if b { "yes" } else { "no" }))
}

impl Module for Deb822Repository {
    fn name(&self) -> &'static str {
        "deb822_repository"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let name = a.req_str(&["name"])?;
        let stem = file_stem(&name);
        let path = format!("/etc/apt/sources.list.d/{stem}.sources");
        let mode = a.mode(&["mode"])?.unwrap_or(ModeSpec::Octal(0o644));
        if a.choose(&["state"], Presence::Present)? == Presence::Absent {
            return Ok(Box::new(RepoPlan {
                file_at: Default::default(),
                dir_at: Default::default(),
                key_at: Default::default(),
                keyrings_at: Default::default(),
                path,
                content: None,
                key: None,
                mode,
                stem,
            }));
        }
        let types = match words(&a, "types")? {
            t if t.is_empty() => vec!["deb".to_string()],
            t => t,
        };
        let uris = words(&a, "uris")?;
        let suites = words(&a, "suites")?;
        if uris.is_empty() || suites.is_empty() {
            return Err(Error::runtime(
                "deb822_repository: uris and suites are required with state=present",
            ));
        }
        let components = words(&a, "components")?;
        let flat = suites.iter().any(|s| s.ends_with('/'));
        if flat && !components.is_empty() {
            return Err(Error::runtime(
                "deb822_repository: components must be empty when a suite is an exact path (ends with /)",
            ));
        }
        if !flat && components.is_empty() {
            return Err(Error::runtime(
                "deb822_repository: components are required unless the suite is an exact path",
            ));
        }
        let mut key = None;
        let signed_by = match a.str(&["signed_by"])? {
            None => None,
            Some(s) if s.starts_with("http://") || s.starts_with("https://") => {
                let r = env.http.get(&s, true)?;
                if !r.ok() {
                    return Ok(Box::new(Fixed(Plan::fail(format!(
                        "deb822_repository: failed to download the signing key {s}: HTTP Error {}",
                        r.status
                    )))));
                }
                if crate::pgp::to_binary(&r.body)
                    .and_then(|b| crate::pgp::fingerprints(&b))
                    .is_err()
                {
                    return Ok(Box::new(Fixed(Plan::fail(format!(
                        "deb822_repository: {s} is not an OpenPGP key"
                    )))));
                }
                let ext = if crate::pgp::is_armored(&r.body) {
                    "asc"
                } else {
                    "gpg"
                };
                let key_path = format!("/etc/apt/keyrings/{stem}.{ext}");
                key = Some((key_path.clone(), r.body.clone()));
                Some(key_path)
            }
            Some(s) if s.trim_start().starts_with("-----BEGIN PGP") => {
                // Inline key: continuation lines start with a space, empty lines are " .".
                let lines: Vec<String> = s
                    .trim()
                    .lines()
                    .map(|l| {
                        if l.trim().is_empty() {
                            " .".to_string()
                        } else {
                            format!(" {l}")
                        }
                    })
                    .collect();
                Some(format!("\n{}", lines.join("\n")))
            }
            Some(s) => Some(s),
        };
        let mut fields: Vec<(&str, String)> = vec![
            ("X-Repolib-Name", name.clone()),
            ("Types", types.join(" ")),
            ("URIs", uris.join(" ")),
            ("Suites", suites.join(" ")),
        ];
        if !components.is_empty() {
            fields.push(("Components", components.join(" ")));
        }
        let archs = words(&a, "architectures")?;
        if !archs.is_empty() {
            fields.push(("Architectures", archs.join(" ")));
        }
        if let Some(e) = yes_no(&a, "enabled")? {
            fields.push(("Enabled", e.into()));
        }
        for (opt, field) in [
            ("trusted", "Trusted"),
            ("allow_insecure", "Allow-Insecure"),
            ("allow_weak", "Allow-Weak"),
            ("allow_downgrade_to_insecure", "Allow-Downgrade-To-Insecure"),
            ("by_hash", "By-Hash"),
            ("check_date", "Check-Date"),
            ("check_valid_until", "Check-Valid-Until"),
            ("pdiffs", "PDiffs"),
        ] {
            if let Some(v) = yes_no(&a, opt)? {
                fields.push((field, v.into()));
            }
        }
        for (opt, field) in [
            ("date_max", "Date-Max"),
            ("inrelease_path", "InRelease-Path"),
        ] {
            if let Some(v) = a.str(&[opt])? {
                fields.push((field, v));
            }
        }
        for (opt, field) in [("languages", "Languages"), ("targets", "Targets")] {
            let w = words(&a, opt)?;
            if !w.is_empty() {
                fields.push((field, w.join(" ")));
            }
        }
        if let Some(s) = signed_by {
            fields.push(("Signed-By", s));
        }
        let content: String = fields
            .iter()
            .map(|(k, v)| {
                if v.starts_with('\n') {
                    format!("{k}:{v}\n")
                } else {
                    format!("{k}: {v}\n")
                }
            })
            .collect();
        Ok(Box::new(RepoPlan {
            file_at: Default::default(),
            dir_at: Default::default(),
            key_at: Default::default(),
            keyrings_at: Default::default(),
            path,
            content: Some(content),
            key,
            mode,
            stem,
        }))
    }
}

struct RepoPlan {
    /// Where a probe's answer is (asked in `ask`).
    file_at: FileRef,
    dir_at: FileRef,
    key_at: FileRef,
    keyrings_at: FileRef,
    path: String,
    content: Option<String>,
    key: Option<(String, Vec<u8>)>,
    mode: ModeSpec,
    stem: String,
}

impl Planner for RepoPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.file_at = p.read(&self.path);
        self.dir_at = p.stat_follow("/etc/apt/sources.list.d");
        if let Some((k, _)) = &self.key {
            self.key_at = p.read(k);
            self.keyrings_at = p.stat_follow("/etc/apt/keyrings");
        }
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.file_at)?;
        let mut plan = Plan::ok()
            .with("dest", self.path.as_str())
            .with("repo", self.stem.as_str());
        let Some(content) = self.content else {
            if cur.exists {
                plan.diffs
                    .push(Diff::new(&self.path, cur.text().unwrap_or_default(), ""));
                plan.step(Step::Remove {
                    path: self.path.clone(),
                });
            }
            return Ok(plan);
        };
        if let Some((key_path, data)) = &self.key {
            if !obs.file(self.keyrings_at)?.exists {
                plan.step(Step::MakeDir {
                    path: "/etc/apt/keyrings".into(),
                    attrs: Attrs {
                        mode: Some(0o755),
                        ..Default::default()
                    },
                });
            }
            let spec = WriteSpec {
                path: key_path.clone(),
                attrs: AttrSpec {
                    mode: Some(ModeSpec::Octal(0o644)),
                    ..Default::default()
                },
                ..Default::default()
            };
            plan_write(&mut plan, obs.file(self.key_at)?, data.clone(), &spec)?;
            plan.result
                .insert("key_filename".into(), Value::from(key_path.as_str()));
        }
        if !obs.file(self.dir_at)?.exists {
            plan.step(Step::MakeDir {
                path: "/etc/apt/sources.list.d".into(),
                attrs: Attrs {
                    mode: Some(0o755),
                    ..Default::default()
                },
            });
        }
        let spec = WriteSpec {
            path: self.path.clone(),
            attrs: AttrSpec {
                mode: Some(self.mode),
                ..Default::default()
            },
            ..Default::default()
        };
        plan_write(&mut plan, cur, content.into_bytes(), &spec)?;
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, file, plan_with};

    fn a(extra: &[(&str, Value)]) -> Args {
        let mut pairs = vec![
            ("name", Value::from("kubernetes")),
            (
                "uris",
                Value::from("https://pkgs.k8s.io/core:/stable:/v1.32/deb/"),
            ),
            ("suites", Value::from("/")),
            ("architectures", Value::from("amd64")),
            (
                "signed_by",
                Value::from("/etc/apt/keyrings/kubernetes-apt-keyring.gpg"),
            ),
        ];
        pairs.extend(extra.iter().cloned());
        args("deb822_repository", &pairs)
    }

    const EXPECTED: &str = "X-Repolib-Name: kubernetes\nTypes: deb\nURIs: https://pkgs.k8s.io/core:/stable:/v1.32/deb/\nSuites: /\nArchitectures: amd64\nSigned-By: /etc/apt/keyrings/kubernetes-apt-keyring.gpg\n";

    #[test]
    fn writes_a_flat_repo_source() {
        let p = plan_with(&Deb822Repository, a(&[]), &[]);
        let Step::Write(w) = p
            .steps
            .iter()
            .find(|s| matches!(s, Step::Write(_)))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(w.path, "/etc/apt/sources.list.d/kubernetes.sources");
        assert_eq!(String::from_utf8_lossy(&w.content), EXPECTED);
        let d = crate::modules::testing::dir("/etc/apt/sources.list.d", 0o755);
        let p = plan_with(
            &Deb822Repository,
            a(&[]),
            &[
                file(
                    "/etc/apt/sources.list.d/kubernetes.sources",
                    0o644,
                    EXPECTED,
                ),
                d,
            ],
        );
        assert!(!p.changed);
    }

    #[test]
    fn components_rules() {
        let env = crate::modules::testing::env();
        assert!(
            Deb822Repository
                .prepare(a(&[("components", Value::from("main"))]), &env)
                .is_err()
        );
        let mut pairs = vec![
            ("name", Value::from("x")),
            ("uris", Value::from("http://x/")),
            ("suites", Value::from("bookworm")),
        ];
        assert!(
            Deb822Repository
                .prepare(args("deb822_repository", &pairs), &env)
                .is_err()
        );
        pairs.push((
            "components",
            Value::from(vec![Value::from("main"), Value::from("contrib")]),
        ));
        let p = plan_with(&Deb822Repository, args("deb822_repository", &pairs), &[]);
        let Step::Write(w) = p
            .steps
            .iter()
            .find(|s| matches!(s, Step::Write(_)))
            .unwrap()
        else {
            panic!()
        };
        assert!(String::from_utf8_lossy(&w.content).contains("Components: main contrib\n"));
    }
}
