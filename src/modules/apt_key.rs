//! `apt_key`: a repository signing key in a keyring file of its own — without apt-key.
//!
//! apt-key is gone from current Debian and Ubuntu; the modern way is a keyring per repository
//! in `/etc/apt/keyrings/` referenced by `Signed-By`. prov keeps Ansible's module interface but
//! does that: the key is fetched by the controller (`url`) or given (`data`), de-armored in
//! Rust, checked against `id` (a fingerprint or key id) when given, and written to `keyring`
//! as a binary keyring (`*.gpg`, mode 0644). A key that does not match `id` fails the task and
//! writes nothing.

use super::args::Presence;
use super::attrs::AttrSpec;
use super::content::{WriteSpec, plan_write};
use super::mode::ModeSpec;
use super::{Args, FileRef, Fixed, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step};
use crate::error::{Error, Result};
use crate::pgp;

pub struct AptKey;

const OPTIONS: &[&str] = &[
    "id",
    "url",
    "data",
    "file",
    "keyring",
    "keyserver",
    "state",
    "validate_certs",
];

impl Module for AptKey {
    fn path_options(&self) -> &'static [&'static str] {
        &["file", "keyring"]
    }
    fn name(&self) -> &'static str {
        "apt_key"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        if a.has("keyserver") {
            return Err(Error::runtime(
                "apt_key: keyserver is not supported by prov (give url or data)",
            ));
        }
        let keyring = a.str(&["keyring"])?.ok_or_else(|| {
            Error::runtime("apt_key: prov writes one keyring per repository: set keyring (e.g. /etc/apt/keyrings/NAME.gpg) and reference it with Signed-By")
        })?;
        let id = a.str(&["id"])?;
        let present = a.choose(&["state"], Presence::Present)? == Presence::Present;
        if !present {
            return Ok(Box::new(KeyPlan {
                keyring_at: Default::default(),
                dir_at: Default::default(),
                keyring,
                key: None,
                id,
            }));
        }
        let raw: Vec<u8> = if let Some(url) = a.str(&["url"])? {
            let r = env.http.get(&url, a.bool(&["validate_certs"], true)?)?;
            if !r.ok() {
                return Ok(Box::new(Fixed(Plan::fail(format!(
                    "Failed to download key at {url}: HTTP Error {}",
                    r.status
                )))));
            }
            r.body.clone()
        } else if let Some(data) = a.str(&["data"])? {
            data.into_bytes()
        } else if a.has("file") {
            return Err(Error::runtime(
                "apt_key: file is not supported by prov (give url or data)",
            ));
        } else {
            return Err(Error::runtime("apt_key: one of url or data is required"));
        };
        let binary = match pgp::to_binary(&raw) {
            Ok(b) => b,
            Err(e) => {
                return Ok(Box::new(Fixed(Plan::fail(format!(
                    "apt_key: invalid key data: {e}"
                )))));
            }
        };
        let fingerprints = match pgp::fingerprints(&binary) {
            Ok(f) => f,
            Err(e) => {
                return Ok(Box::new(Fixed(Plan::fail(format!(
                    "apt_key: invalid key data: {e}"
                )))));
            }
        };
        if let Some(id) = &id
            && !pgp::id_matches(id, &fingerprints)
        {
            return Ok(Box::new(Fixed(Plan::fail(format!(
                "apt_key: key fingerprint mismatch: expected {id}, got {}",
                fingerprints.join(", ")
            )))));
        }
        Ok(Box::new(KeyPlan {
            keyring_at: Default::default(),
            dir_at: Default::default(),
            keyring,
            key: Some((binary, fingerprints)),
            id,
        }))
    }
}

struct KeyPlan {
    /// Where a probe's answer is (asked in `ask`).
    keyring_at: FileRef,
    dir_at: FileRef,
    keyring: String,
    key: Option<(Vec<u8>, Vec<String>)>,
    id: Option<String>,
}

impl Planner for KeyPlan {
    fn ask(&mut self, p: &mut Probes) {
        let dir = self
            .keyring
            .rsplit_once('/')
            .map(|(d, _)| if d.is_empty() { "/" } else { d })
            .unwrap_or(".")
            .to_string();
        self.keyring_at = p.read(&self.keyring);
        self.dir_at = p.stat_follow(&dir);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.keyring_at)?;
        let dir = obs.file(self.dir_at)?;
        let mut plan = Plan::ok().with("keyring", self.keyring.as_str());
        match self.key {
            Some((binary, fps)) => {
                plan.result
                    .insert("fingerprints".into(), minijinja::Value::from(fps));
                if !dir.exists {
                    plan.step(Step::MakeDir {
                        path: dir.path.clone(),
                        attrs: super::Attrs {
                            mode: Some(0o755),
                            ..Default::default()
                        },
                    });
                }
                let spec = WriteSpec {
                    path: self.keyring.clone(),
                    attrs: AttrSpec {
                        mode: Some(ModeSpec::Octal(0o644)),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                plan_write(&mut plan, cur, binary, &spec)?;
                plan.result.shift_remove("checksum");
            }
            None => {
                if cur.exists {
                    let holds = match (&self.id, &cur.content) {
                        (Some(id), Some(c)) => pgp::fingerprints(c)
                            .map(|f| pgp::id_matches(id, &f))
                            .unwrap_or(false),
                        (None, _) => true,
                        _ => false,
                    };
                    if holds {
                        plan.diffs.push(super::Diff::new(
                            &self.keyring,
                            "state: present\n",
                            "state: absent\n",
                        ));
                        plan.step(Step::Remove {
                            path: self.keyring.clone(),
                        });
                    }
                }
            }
        }
        Ok(plan)
    }
}
