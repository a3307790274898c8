//! `known_hosts` (ansible.builtin): a host's key in a known_hosts file.
//!
//! Ansible asks `ssh-keygen -F HOST` which lines name the host; here the same lookup is done on
//! the controller from the file's content: a line names the host when one of its patterns does
//! (`*`/`?` wildcards, `!` negations, hashed `|1|salt|hmac` names: HMAC-SHA1 of the name keyed
//! with the salt) and its key parses. Then Ansible's decisions follow: the same key (a hashed
//! name counts as the same) changes nothing, another key of the same type is replaced in place
//! of its line (other lines are kept, the file's line endings made `\n`), a new key is
//! appended; `state: absent` with a key drops that line, without a key every line of the host
//! goes through `ssh-keygen -R` (which keeps the old file as `PATH.old`), as Ansible does.

use base64::Engine as _;

use super::args::Presence;
use super::bin_path::BinPath;
use super::content::{WriteSpec, plan_write};
use super::pylines::splitlines_keepends;
use super::{
    Args, CmdRef, Command, Diff, FileKind, FileRef, FileState, Module, ModuleEnv, Observed, Plan,
    Planner, Probes, Step,
};
use crate::error::{Error, Result};

pub struct KnownHosts;

fn err(m: impl std::fmt::Display) -> Error {
    Error::runtime(format!("known_hosts: {m}"))
}

impl Module for KnownHosts {
    fn name(&self) -> &'static str {
        "known_hosts"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["name", "host", "key", "path", "hash_host", "state"])
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let name = a.req_str(&["name", "host"])?;
        let host = name.to_lowercase();
        let given_key = a.str(&["key"])?;
        let present = a.choose(&["state"], Presence::Present)? == Presence::Present;
        let hash_host = a.bool(&["hash_host"], false)?;
        let path = a
            .str(&["path"])?
            .unwrap_or_else(|| "~/.ssh/known_hosts".into());
        let mut key = given_key.clone().filter(|k| !k.is_empty());
        if key.is_none() && present {
            return Err(err("No key specified when adding a host"));
        }
        if let (Some(k), true) = (&key, hash_host) {
            key = Some(hash_key(&host, k, &salt()?)?);
        }
        if let Some(k) = &mut key {
            if !k.ends_with('\n') {
                k.push('\n');
            }
            let comma = crate::pyre::Pattern::plain(r"\S+(\s+)?,(\s+)?").map_err(err)?;
            if comma.is_match(&host).map_err(err)? {
                return Err(err(
                    "Comma separated list of names is not supported. Please pass a single name to lookup in the known_hosts file.",
                ));
            }
            if find(k, &host).0.is_empty() {
                return Err(err(
                    "Host parameter does not match hashed host field in supplied key",
                ));
            }
        }
        let mut result = indexmap::IndexMap::new();
        result.insert("name", minijinja::Value::from(name));
        result.insert(
            "key",
            given_key.map_or(minijinja::Value::from(()), Into::into),
        );
        result.insert("hash_host", hash_host.into());
        result.insert("state", (if present { "present" } else { "absent" }).into());
        Ok(Box::new(KnownHostsPlan {
            bins: BinPath::default(),
            file_at: None,
            home_at: None,
            host,
            key,
            path,
            present,
            result,
        }))
    }
}

/// 20 random bytes (the salt of a hashed name).
fn salt() -> Result<[u8; 20]> {
    use std::io::Read;
    let mut salt = [0u8; 20];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut salt))
        .map_err(|e| err(format!("reading /dev/urandom: {e}")))?;
    Ok(salt)
}

fn hmac_sha1(key: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha1_hmac::Sha1>::new_from_slice(key).map_err(err)?;
    mac.update(msg);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// The key line with its host field replaced by the hashed name (`hash_host_key`).
fn hash_key(host: &str, key: &str, salt: &[u8]) -> Result<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut parts: Vec<&str> = key.split_whitespace().collect();
    let i = usize::from(parts.first().is_some_and(|p| p.starts_with('@')));
    if parts.len() <= i {
        return Err(err("the key has no host field"));
    }
    let hashed = format!(
        "|1|{}|{}",
        b64.encode(salt),
        b64.encode(hmac_sha1(salt, host.as_bytes())?)
    );
    parts[i] = &hashed;
    Ok(parts.join(" "))
}

/// OpenSSH's wildcard match (`*`, `?`), on bytes.
fn wildcard(p: &[u8], n: &[u8]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some(b'*') => (0..=n.len()).any(|i| wildcard(&p[1..], &n[i..])),
        Some(b'?') => !n.is_empty() && wildcard(&p[1..], &n[1..]),
        Some(c) => n.first() == Some(c) && wildcard(&p[1..], &n[1..]),
    }
}

/// Does a line's host field name `host` (`match_maybe_hashed`; a negated match is none)?
fn names_host(field: &str, host: &str) -> bool {
    if let Some(rest) = field.strip_prefix("|1|") {
        let b64 = base64::engine::general_purpose::STANDARD;
        let Some((salt, hash)) = rest.split_once('|') else {
            return false;
        };
        let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
            return false;
        };
        return hmac_sha1(&salt, host.as_bytes()).is_ok_and(|h| h == hash);
    }
    let host = host.to_lowercase();
    let mut hit = false;
    for p in field.split(',') {
        let (neg, p) = match p.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, p),
        };
        if wildcard(p.to_lowercase().as_bytes(), host.as_bytes()) {
            if neg {
                return false;
            }
            hit = true;
        }
    }
    hit
}

/// What `ssh-keygen -F HOST` finds in a file's text (it does not parse the keys): the lines
/// that name the host, with their numbers (from 1), and whether a line named it with nothing
/// after its host field (an invalid line, which ssh-keygen reports).
fn find(text: &str, host: &str) -> (Vec<(usize, String)>, bool) {
    let mut out = Vec::new();
    let mut invalid = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_start_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut rest = line;
        if line.starts_with('@') {
            let marker = line.split([' ', '\t']).next().unwrap_or_default();
            if marker != "@cert-authority" && marker != "@revoked" {
                continue;
            }
            rest = line[marker.len()..].trim_start_matches([' ', '\t']);
        }
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        let (field, after) = rest.split_at(end);
        if !names_host(field, host) {
            continue;
        }
        let after = after.trim_start_matches([' ', '\t']);
        if after.is_empty() || after.starts_with('#') {
            invalid = true;
        } else {
            out.push((i + 1, raw.to_string()));
        }
    }
    (out, invalid)
}

/// `normalize_known_hosts_key`: the marker, host field, type and key of a line.
fn normalize(line: &str) -> Option<(Option<String>, String, String, String)> {
    let k: Vec<&str> = line.split_whitespace().collect();
    if k.first()?.starts_with('@') {
        Some((
            Some(k[0].to_string()),
            k.get(1)?.to_string(),
            k.get(2)?.to_string(),
            k.get(3)?.to_string(),
        ))
    } else {
        Some((
            None,
            k[0].to_string(),
            k.get(1)?.to_string(),
            k.get(2)?.to_string(),
        ))
    }
}

/// What `search_for_host_key` found: the host, a key to replace or add, the line of it.
fn search(
    text: Option<&str>,
    host: &str,
    key: Option<&str>,
) -> Result<(bool, bool, Option<usize>)> {
    let Some(text) = text else {
        return Ok((false, false, None));
    };
    let (found, invalid) = find(text, host);
    if found.is_empty() {
        if invalid {
            return Err(err(format!(
                "ssh-keygen failed: the line naming {host} in the file is invalid"
            )));
        }
        return Ok((false, false, None));
    }
    let Some(key) = key else {
        return Ok((true, false, None));
    };
    let new = normalize(key).ok_or_else(|| err("the key must be '[marker] host type key'"))?;
    for (line, raw) in found {
        let have = normalize(&raw)
            .ok_or_else(|| err(format!("line {line} of the file has no key: {raw}")))?;
        let special = have
            .0
            .as_deref()
            .is_some_and(|m| m.starts_with("@cert-authority") || m.starts_with("@revoke"));
        let mut new = new.clone();
        if !special && new.1.starts_with("|1|") && have.1.starts_with("|1|") {
            new.1 = have.1.clone();
        }
        if new == have {
            return Ok((true, false, Some(line)));
        }
        if !special && new.2 == have.2 {
            return Ok((true, true, Some(line)));
        }
    }
    Ok((true, true, None))
}

struct KnownHostsPlan {
    bins: BinPath,
    file_at: Option<FileRef>,
    /// For a path under `~`: the shell expands it and prints the file (base64).
    home_at: Option<CmdRef>,
    host: String,
    key: Option<String>,
    path: String,
    present: bool,
    result: indexmap::IndexMap<&'static str, minijinja::Value>,
}

/// A `~` or `~user` prefix and the rest of the path, for the shell to expand.
fn tilde(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('~')?;
    let (user, tail) = rest.split_once('/').unwrap_or((rest, ""));
    user.chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        .then_some((&path[..=user.len()], tail))
}

/// The file (`path` absolute) from the tilde probe's output: `PATH`, then `file` and the
/// content in base64, or `missing` / `other`.
fn parse_home(out: &str) -> Result<FileState> {
    let mut lines = out.lines();
    let path = lines.next().unwrap_or_default().to_string();
    if !path.starts_with('/') {
        return Err(err(format!("could not expand the path (got '{path}')")));
    }
    Ok(match lines.next() {
        Some("file") => {
            let b64 = base64::engine::general_purpose::STANDARD;
            let content = b64
                .decode(lines.next().unwrap_or_default().trim())
                .map_err(|e| err(format!("reading {path}: {e}")))?;
            FileState {
                path,
                exists: true,
                kind: Some(FileKind::File),
                size: content.len() as u64,
                sha256: Some(super::content::sha256_hex(&content)),
                content: Some(content),
                ..Default::default()
            }
        }
        Some("other") => FileState {
            path,
            exists: true,
            kind: Some(FileKind::Other),
            ..Default::default()
        },
        _ => FileState::missing(&path),
    })
}

impl Planner for KnownHostsPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.bins = BinPath::ask(p, "ssh-keygen");
        match tilde(&self.path) {
            Some((home, tail)) => {
                let f = if tail.is_empty() {
                    home.to_string()
                } else {
                    format!("{home}/{}", crate::shlex::quote(tail))
                };
                self.home_at = Some(p.command(format!(
                    "f={f}; printf '%s\\n' \"$f\"; if [ -f \"$f\" ]; then echo file; base64 -w0 < \"$f\" || exit 1; echo; elif [ -e \"$f\" ]; then echo other; else echo missing; fi"
                )));
            }
            None => self.file_at = Some(p.read(&self.path)),
        }
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        if let Some(fail) = self.bins.missing(obs)? {
            return Ok(fail);
        }
        let parsed;
        let cur: &FileState = match (self.file_at, self.home_at) {
            (Some(at), _) => obs.file(at)?,
            (None, Some(at)) => {
                let out = obs.cmd(at)?;
                if out.rc != 0 {
                    return Ok(Plan::fail(format!(
                        "reading {}: {}",
                        self.path,
                        out.stderr.trim()
                    )));
                }
                parsed = parse_home(&out.stdout)?;
                &parsed
            }
            (None, None) => return Err(err("internal error: the file was never read")),
        };
        let path = cur.path.clone();
        let mut plan = Plan::ok();
        for (k, v) in &self.result {
            plan.result.insert(k.to_string(), v.clone());
        }
        plan.result.insert("path".into(), path.as_str().into());
        if cur.exists && !cur.is_file() {
            return Ok(Plan::fail(format!("{path} is not a regular file")));
        }
        let text = match (&cur.content, cur.exists) {
            (_, false) => None,
            (None, true) => return Ok(Plan::fail(format!("{path} is too large"))),
            (Some(c), true) => match std::str::from_utf8(c) {
                Ok(t) => Some(t.to_string()),
                Err(_) => return Ok(Plan::fail(format!("{path} is not UTF-8 text"))),
            },
        };
        let key = self.key.as_deref();
        let (found, replace, line) = search(text.as_deref(), &self.host, key)?;
        let remove_line = |lines: &mut Vec<String>| {
            if let Some(n) = line
                && (replace || !self.present)
                && (1..=lines.len()).contains(&n)
            {
                lines.remove(n - 1);
            }
        };
        // The file as Python reads it in text mode (universal newlines), for the diff and the
        // new content.
        let normalized = text
            .as_deref()
            .unwrap_or_default()
            .replace("\r\n", "\n")
            .replace('\r', "\n");
        // The diff, as compute_diff makes it.
        let before = normalized.clone();
        let mut lines: Vec<String> = splitlines_keepends(&before)
            .into_iter()
            .map(String::from)
            .collect();
        remove_line(&mut lines);
        if self.present && (replace || line.is_none()) {
            lines.push(key.unwrap_or_default().to_string());
        }
        let diff = Diff {
            before_header: if text.is_some() {
                path.clone()
            } else {
                "/dev/null".into()
            },
            after_header: path.clone(),
            before,
            after: lines.concat(),
        };
        if !self.present && line.is_none() && key.is_some() {
            return Ok(plan);
        }
        if found && key.is_none() && !self.present {
            plan.step(Step::Run {
                cmd: Command {
                    argv: Some(vec![
                        "ssh-keygen".into(),
                        "-R".into(),
                        self.host.clone(),
                        "-f".into(),
                        path.clone(),
                    ]),
                    ..Default::default()
                },
                ok_rcs: vec![0],
            });
            plan.diffs.push(diff);
            return Ok(plan);
        }
        if replace || found != self.present {
            let mut lines: Vec<String> = normalized
                .split_inclusive('\n')
                .map(str::to_string)
                .collect();
            remove_line(&mut lines);
            if self.present {
                lines.push(key.unwrap_or_default().to_string());
            }
            let spec = WriteSpec {
                path: path.clone(),
                ..Default::default()
            };
            plan_write(&mut plan, cur, lines.concat().into_bytes(), &spec)?;
            plan.result.shift_remove("checksum");
            plan.result.shift_remove("size");
            plan.diffs = vec![diff];
            // Ansible rewrites the file even when its bytes stay the same: a change.
            plan.changed = true;
        }
        Ok(plan)
    }
}

#[cfg(test)]
#[path = "known_hosts_tests.rs"]
mod tests;
