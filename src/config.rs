//! Settings from `ansible.cfg` and `ANSIBLE_*`/`PROV_*` environment variables, so that users'
//! Ansible habits carry over: a project's `ansible.cfg` names its inventory and roles path.
//!
//! The file is found as Ansible finds it: `$ANSIBLE_CONFIG` (or `$PROV_CONFIG`), `./ansible.cfg`,
//! `~/.ansible.cfg`, `/etc/ansible/ansible.cfg`. Relative paths in it are relative to the file.
//! Environment variables override the file; command-line options override both.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Span};

#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The file that was read, if any.
    pub path: Option<PathBuf>,
    pub inventory: Vec<String>,
    pub forks: Option<usize>,
    pub remote_user: Option<String>,
    pub roles_path: Vec<PathBuf>,
    pub host_key_checking: Option<bool>,
    pub private_key_file: Option<PathBuf>,
    pub timeout: Option<u64>,
    pub become_: Option<bool>,
    pub become_user: Option<String>,
    pub become_method: Option<String>,
    /// `gathering = explicit` turns off implicit fact gathering.
    pub gathering_explicit: bool,
    /// `allow_broken_conditionals`: conditions may give non-booleans (pre-2.19 rule).
    pub allow_broken_conditionals: Option<bool>,
    /// `vault_password_file`: one more vault password file, after the command line's.
    pub vault_password_file: Option<PathBuf>,
    /// `vault_identity_list`: vault identities tried before the command line's.
    pub vault_identity_list: Vec<String>,
}

/// An ansible.cfg or environment boolean (an empty value is unset, not false).
fn truthy(v: &str) -> Option<bool> {
    if v.trim().is_empty() {
        return None;
    }
    crate::template::filters::parse_bool(&minijinja::Value::from(v))
}

/// Look up an environment variable under its `ANSIBLE_` or `PROV_` name.
fn env(name: &str) -> Option<String> {
    std::env::var(format!("PROV_{name}"))
        .or_else(|_| std::env::var(format!("ANSIBLE_{name}")))
        .ok()
        .filter(|v| !v.is_empty())
}

fn split_paths(value: &str, base: &Path) -> Vec<PathBuf> {
    value
        .split([':', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = expand_home(p);
            if p.is_absolute() { p } else { base.join(p) }
        })
        .collect()
}

/// A comma-separated list (Ansible's `type: list` settings).
fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(p),
    }
}

impl Config {
    /// ansible.cfg's host_key_checking as a mode: True is strict, False is off.
    pub fn host_key_default(&self) -> Option<crate::transport::ssh::config::HostKeyMode> {
        use crate::transport::ssh::config::HostKeyMode;
        self.host_key_checking.map(|on| {
            if on {
                HostKeyMode::Strict
            } else {
                HostKeyMode::Off
            }
        })
    }

    /// The inventory sources: those given with `-i`, else the configuration's.
    pub fn inventory_sources(&self, given: &[String]) -> Vec<String> {
        if given.is_empty() {
            self.inventory.clone()
        } else {
            given.to_vec()
        }
    }

    /// Find and read the configuration.
    pub fn load() -> Result<Config> {
        let candidates: Vec<PathBuf> = [
            env("CONFIG").map(PathBuf::from),
            Some(PathBuf::from("ansible.cfg")),
            std::env::var("HOME")
                .ok()
                .map(|h| Path::new(&h).join(".ansible.cfg")),
            Some(PathBuf::from("/etc/ansible/ansible.cfg")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut cfg = match candidates.into_iter().find(|p| p.is_file()) {
            Some(p) => Config::read(&p)?,
            None => Config::default(),
        };
        cfg.apply_env();
        Ok(cfg)
    }

    /// Parse one ansible.cfg file.
    pub fn read(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::usage(format!("cannot read: {e}")).at(Span::file(path)))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        let mut cfg = Config {
            path: Some(path.to_path_buf()),
            ..Default::default()
        };
        let mut section = String::new();
        let file = std::sync::Arc::new(path.to_path_buf());
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.trim().to_string();
                continue;
            }
            let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) else {
                // An unreadable ansible.cfg is an options error in Ansible (exit 5).
                return Err(Error::usage(format!("expected key = value, got '{line}'"))
                    .at(Span::new(file.clone(), i as u32 + 1, 1)));
            };
            let (k, v) = (k.trim(), v.split(" ;").next().unwrap_or(v).trim());
            match (section.as_str(), k) {
                ("defaults", "inventory" | "hostfile") => {
                    cfg.inventory = v
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(|p| {
                            let pb = expand_home(p);
                            if pb.is_absolute() { pb } else { base.join(pb) }
                                .display()
                                .to_string()
                        })
                        .collect();
                }
                ("defaults", "forks") => cfg.forks = v.parse().ok(),
                ("defaults", "remote_user") => cfg.remote_user = Some(v.to_string()),
                ("defaults", "roles_path") => cfg.roles_path = split_paths(v, &base),
                ("defaults", "host_key_checking") => cfg.host_key_checking = truthy(v),
                ("defaults", "private_key_file") => cfg.private_key_file = Some(expand_home(v)),
                ("defaults", "timeout") => cfg.timeout = v.parse().ok(),
                ("defaults", "gathering") => cfg.gathering_explicit = v == "explicit",
                ("defaults", "allow_broken_conditionals") => {
                    cfg.allow_broken_conditionals = truthy(v)
                }
                ("defaults", "vault_password_file") => {
                    cfg.vault_password_file = Some(base.join(expand_home(v)))
                }
                ("defaults", "vault_identity_list") => cfg.vault_identity_list = split_list(v),
                ("privilege_escalation", "become") => cfg.become_ = truthy(v),
                ("privilege_escalation", "become_user") => cfg.become_user = Some(v.to_string()),
                ("privilege_escalation", "become_method") => {
                    cfg.become_method = Some(v.to_string())
                }
                _ => {}
            }
        }
        Ok(cfg)
    }

    fn apply_env(&mut self) {
        if let Some(v) = env("INVENTORY") {
            self.inventory = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = env("FORKS") {
            self.forks = v.parse().ok().or(self.forks);
        }
        if let Some(v) = env("REMOTE_USER") {
            self.remote_user = Some(v);
        }
        if let Some(v) = env("ROLES_PATH") {
            self.roles_path = split_paths(&v, Path::new("."));
        }
        if let Some(v) = env("HOST_KEY_CHECKING") {
            self.host_key_checking = truthy(&v);
        }
        if let Some(v) = env("PRIVATE_KEY_FILE") {
            self.private_key_file = Some(expand_home(&v));
        }
        if let Some(v) = env("TIMEOUT") {
            self.timeout = v.parse().ok().or(self.timeout);
        }
        if let Some(v) = env("BECOME") {
            self.become_ = truthy(&v);
        }
        if let Some(v) = env("BECOME_USER") {
            self.become_user = Some(v);
        }
        if let Some(v) = env("GATHERING") {
            self.gathering_explicit = v == "explicit";
        }
        if let Some(v) = env("ALLOW_BROKEN_CONDITIONALS") {
            self.allow_broken_conditionals = truthy(&v);
        }
        if let Some(v) = env("VAULT_PASSWORD_FILE") {
            self.vault_password_file = Some(expand_home(&v));
        }
        if let Some(v) = env("VAULT_IDENTITY_LIST") {
            self.vault_identity_list = split_list(&v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_defaults_relative_to_the_file() {
        let dir = std::env::temp_dir().join(format!("prov-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("ansible.cfg");
        std::fs::write(&p, "[defaults]\ninventory = inventory/production/hosts.yml\nforks=7\nroles_path = roles:/opt/roles\nhost_key_checking = False\nremote_user = boxp\nvault_password_file = vp\nvault_identity_list = a@x, b@prompt\n[privilege_escalation]\nbecome = true\n").unwrap();
        let c = Config::read(&p).unwrap();
        assert_eq!(
            c.inventory,
            [dir.join("inventory/production/hosts.yml")
                .display()
                .to_string()]
        );
        assert_eq!(c.forks, Some(7));
        assert_eq!(
            c.roles_path,
            [dir.join("roles"), PathBuf::from("/opt/roles")]
        );
        assert_eq!(c.host_key_checking, Some(false));
        assert_eq!(c.remote_user.as_deref(), Some("boxp"));
        assert_eq!(c.become_, Some(true));
        assert_eq!(c.vault_password_file, Some(dir.join("vp")));
        assert_eq!(c.vault_identity_list, ["a@x", "b@prompt"]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
