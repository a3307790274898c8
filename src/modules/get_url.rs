//! `get_url`: download a file (by the controller) and put it on the host atomically.
//!
//! `checksum: sha256:<hex>` (or `sha256:<url of a checksums file>`) is verified before
//! anything is written; `force: false` (the default) leaves an existing file alone unless its
//! checksum is known to differ.

use sha2::Digest;

use super::attrs::AttrSpec;
use super::content::{WriteSpec, plan_write, sha256_hex};
use super::{Args, FileRef, Fixed, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};

pub struct GetUrl;

const OPTIONS: &[&str] = super::attrs::with_file_options![
    "url",
    "dest",
    "checksum",
    "force",
    "backup",
    "headers",
    "timeout",
    "validate_certs",
    "url_username",
    "url_password",
    "force_basic_auth",
    "tmp_dest",
    "use_proxy",
    "http_agent",
    "decompress",
];

impl Module for GetUrl {
    fn path_options(&self) -> &'static [&'static str] {
        &["dest"]
    }
    fn name(&self) -> &'static str {
        "get_url"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        super::file::unsupported(
            &a,
            &[
                "attributes",
                "selevel",
                "serole",
                "setype",
                "seuser",
                "url_username",
                "url_password",
            ],
        )?;
        let url = a.req_str(&["url"])?;
        let dest = a.req_str(&["dest"])?;
        let validate_certs = a.bool(&["validate_certs"], true)?;
        let response = env.http.get(&url, validate_certs)?;
        if !response.ok() {
            return Ok(Box::new(Fixed(
                Plan::fail(format!(
                    "Request failed: HTTP Error {} for {url}",
                    response.status
                ))
                .with("status_code", i64::from(response.status)),
            )));
        }
        let data = response.body.clone();
        let expected = match a.str(&["checksum"])? {
            None => None,
            Some(spec) => {
                let (algo, value) = spec.split_once(':').ok_or_else(|| {
                    Error::runtime("get_url: checksum must be <algorithm>:<checksum>")
                })?;
                let value = if value.starts_with("http://") || value.starts_with("https://") {
                    let list = env.http.get(value, validate_certs)?;
                    let name = url.rsplit('/').next().unwrap_or("");
                    let text = String::from_utf8_lossy(&list.body).to_string();
                    text.lines()
                        .filter_map(|l| l.split_once(char::is_whitespace))
                        .find(|(_, f)| {
                            f.trim().trim_start_matches('*').trim_start_matches("./") == name
                        })
                        .map(|(h, _)| h.to_string())
                        .or_else(|| {
                            text.split_whitespace()
                                .next()
                                .filter(|_| text.lines().count() == 1)
                                .map(str::to_string)
                        })
                        .ok_or_else(|| {
                            Error::runtime(format!("get_url: no checksum for {name} in {value}"))
                        })?
                } else {
                    value.to_string()
                };
                Some((algo.to_lowercase(), value.to_lowercase()))
            }
        };
        if let Some((algo, want)) = &expected {
            let got = digest(algo, &data)?;
            if &got != want {
                return Ok(Box::new(Fixed(Plan::fail(format!(
                    "The checksum for {dest} did not match {want}; it was {got}."
                )))));
            }
        }
        Ok(Box::new(GetUrlPlan {
            dest_at: Default::default(),
            inside_at: Default::default(),
            url,
            file_name: response
                .url
                .rsplit('/')
                .next()
                .unwrap_or("download")
                .to_string(),
            spec: WriteSpec {
                path: dest,
                attrs: AttrSpec::from_args(&a)?,
                backup: a.bool(&["backup"], false)?,
                ..Default::default()
            },
            data,
            force: a.bool(&["force"], false)?,
            expected_sha256: match &expected {
                Some((a, v)) if a == "sha256" => Some(v.clone()),
                _ => None,
            },
            status: response.status,
        }))
    }
}

fn digest(algo: &str, data: &[u8]) -> Result<String> {
    Ok(match algo {
        "sha256" => sha256_hex(data),
        "sha512" => format!("{:x}", sha2::Sha512::digest(data)),
        "sha384" => format!("{:x}", sha2::Sha384::digest(data)),
        "sha224" => format!("{:x}", sha2::Sha224::digest(data)),
        "sha1" => {
            use sha1::Digest as _;
            format!("{:x}", sha1::Sha1::digest(data))
        }
        other => {
            return Err(Error::runtime(format!(
                "get_url: checksum algorithm '{other}' is not supported"
            )));
        }
    })
}

struct GetUrlPlan {
    /// Where a probe's answer is (asked in `ask`).
    dest_at: FileRef,
    inside_at: FileRef,
    url: String,
    file_name: String,
    spec: WriteSpec,
    data: Vec<u8>,
    force: bool,
    expected_sha256: Option<String>,
    status: u16,
}

impl Planner for GetUrlPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.dest_at = p.read(&self.spec.path);
        self.inside_at = p.read(&format!(
            "{}/{}",
            self.spec.path.trim_end_matches('/'),
            self.file_name
        ));
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let dest = obs.file(self.dest_at)?;
        let (cur, path) = if dest.is_dir() {
            (
                obs.file(self.inside_at)?,
                format!(
                    "{}/{}",
                    self.spec.path.trim_end_matches('/'),
                    self.file_name
                ),
            )
        } else {
            (dest, self.spec.path.clone())
        };
        let mut plan = Plan::ok()
            .with("url", self.url.as_str())
            .with("dest", path.as_str())
            .with("status_code", i64::from(self.status))
            .with("msg", format!("OK ({} bytes)", self.data.len()));
        let keep = cur.exists
            && !self.force
            && match (&self.expected_sha256, &cur.sha256) {
                (Some(want), Some(have)) => want == have,
                (Some(_), None) => false,
                (None, _) => true,
            };
        let spec = WriteSpec { path, ..self.spec };
        if keep {
            let current = cur.content.clone().unwrap_or_default();
            if cur.content.is_some() {
                plan_write(&mut plan, cur, current, &spec)?;
            }
            return Ok(plan.with("msg", "file already exists"));
        }
        plan_write(&mut plan, cur, self.data, &spec)?;
        Ok(plan)
    }
}
