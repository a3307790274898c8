//! `authorized_key` (ansible.posix): SSH public keys in a user's `authorized_keys`.
//!
//! `key` is one or more keys, or a URL (such as `https://github.com/<user>.keys`) fetched by
//! the controller. Lockout protection: a failed download, an empty body, or any line that is
//! not a public key (an HTML error page served with status 200, say) fails the task and the
//! existing file is left untouched. With `manage_dir`, `~/.ssh` is 0700 and the file 0600,
//! both owned by the user. `exclusive` replaces every other key — only when asked.

use super::args::Presence;
use base64::Engine as _;

use super::attrs::AttrSpec;
use super::content::{WriteSpec, plan_write};
use super::mode::ModeSpec;
use super::query::Query;
use super::{Args, Attrs, CmdRef, Fixed, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step};
use crate::error::Result;

pub struct AuthorizedKey;

const OPTIONS: &[&str] = &[
    "user",
    "key",
    "path",
    "manage_dir",
    "state",
    "key_options",
    "exclusive",
    "validate_certs",
    "comment",
    "follow",
];

const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
];

/// One public key line: `[options] type base64 [comment]`.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicKey {
    pub options: Option<String>,
    pub kind: String,
    pub blob: String,
    pub comment: Option<String>,
}

impl PublicKey {
    pub fn line(&self) -> String {
        let mut s = String::new();
        if let Some(o) = &self.options {
            s.push_str(o);
            s.push(' ');
        }
        s.push_str(&self.kind);
        s.push(' ');
        s.push_str(&self.blob);
        if let Some(c) = &self.comment {
            s.push(' ');
            s.push_str(c);
        }
        s
    }
}

/// Split off a leading options field (which may contain quoted spaces).
fn split_options(line: &str) -> (Option<&str>, &str) {
    let first = line.split_whitespace().next().unwrap_or("");
    if KEY_TYPES.contains(&first) {
        return (None, line);
    }
    let mut in_quote = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            c if c.is_whitespace() && !in_quote => {
                return (Some(&line[..i]), line[i..].trim_start());
            }
            _ => {}
        }
    }
    (None, line)
}

/// Parse a public key line; None if it is not one.
pub fn parse_key(line: &str) -> Option<PublicKey> {
    let line = line.trim();
    let (options, rest) = split_options(line);
    let mut words = rest.splitn(3, char::is_whitespace);
    let kind = words.next()?;
    let blob = words.next()?;
    if !KEY_TYPES.contains(&kind) {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .ok()?;
    // The blob starts with the key type as an SSH string.
    let len = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    if bytes.get(4..4 + len)? != kind.as_bytes() {
        return None;
    }
    Some(PublicKey {
        options: options.map(str::to_string),
        kind: kind.to_string(),
        blob: blob.to_string(),
        comment: words
            .next()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty()),
    })
}

fn is_ignorable(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

impl Module for AuthorizedKey {
    fn path_options(&self) -> &'static [&'static str] {
        &["path"]
    }
    fn name(&self) -> &'static str {
        "authorized_key"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let user = a.req_str(&["user"])?;
        let key = a.req_str(&["key"])?;
        let (text, source) = if key.starts_with("http://") || key.starts_with("https://") {
            let r = match env.http.get(&key, a.bool(&["validate_certs"], true)?) {
                Ok(r) => r,
                Err(e) => {
                    return Ok(Box::new(Fixed(Plan::fail(format!(
                        "Error getting key from: {key}: {}",
                        e.message
                    )))));
                }
            };
            if !r.ok() {
                return Ok(Box::new(Fixed(Plan::fail(format!(
                    "Error getting key from: {key}: HTTP Error {}",
                    r.status
                )))));
            }
            (String::from_utf8_lossy(&r.body).into_owned(), key.clone())
        } else {
            (key.clone(), "the key option".to_string())
        };
        let mut keys = Vec::new();
        for line in text.lines().filter(|l| !is_ignorable(l)) {
            match parse_key(line) {
                Some(mut k) => {
                    if let Some(o) = a.str(&["key_options"])? {
                        k.options = Some(o);
                    }
                    if let Some(c) = a.str(&["comment"])? {
                        k.comment = Some(c);
                    }
                    keys.push(k);
                }
                None => {
                    let shown: String = line.chars().take(60).collect();
                    return Ok(Box::new(Fixed(Plan::fail(format!(
                        "refusing to use {source}: '{shown}' is not an SSH public key (the authorized_keys file is left unchanged)"
                    )))));
                }
            }
        }
        // A key URL that answers without a key is an outage or a typo, not a wish to revoke
        // every key (`exclusive`): refused. An empty `key` written in the play is taken as
        // Ansible takes it (no key to add; with `exclusive`, every key removed).
        if keys.is_empty() && source != "the key option" {
            return Ok(Box::new(Fixed(Plan::fail(format!(
                "refusing to use {source}: it contains no SSH public key (the authorized_keys file is left unchanged)"
            )))));
        }
        let predicted_home = env.predicted.users.get(&user).cloned();
        Ok(Box::new(KeyPlan {
            keys_at: Default::default(),
            predicted_home,
            user,
            keys,
            path: a.str(&["path"])?,
            manage_dir: a.bool(&["manage_dir"], true)?,
            present: a.choose(&["state"], Presence::Present)? == Presence::Present,
            exclusive: a.bool(&["exclusive"], false)?,
        }))
    }
}

struct KeyPlan {
    /// Where a probe's answer is (asked in `ask`).
    keys_at: CmdRef,
    user: String,
    keys: Vec<PublicKey>,
    path: Option<String>,
    manage_dir: bool,
    present: bool,
    exclusive: bool,
    /// In a dry run: the home of a user an earlier task would create.
    predicted_home: Option<String>,
}

impl Planner for KeyPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.keys_at = p.query(Query::AuthorizedKeys {
            user: self.user.clone(),
            path: self.path.clone(),
        });
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let mut out = obs.cmd(self.keys_at)?.stdout.clone();
        if out.trim() == "nouser" {
            let Some(home) = &self.predicted_home else {
                return Ok(Plan::fail(format!("Failed to lookup user {}", self.user)));
            };
            // The user does not exist yet; an earlier task of this dry run creates it.
            let p = self
                .path
                .clone()
                .unwrap_or_else(|| format!("{home}/.ssh/authorized_keys"));
            out = format!("uid={u}\ngid={u}\nhome={home}\npath={p}\n", u = self.user);
        }
        let out = &out;
        let (head, content) = match out.split_once("content:\n") {
            Some((h, c)) => (h, Some(c.to_string())),
            None => (out.as_str(), None),
        };
        let field = |k: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or("")
                .to_string()
        };
        let (uid, gid, path) = (field("uid"), field("gid"), field("path"));
        let dir = path
            .rsplit_once('/')
            .map(|(d, _)| {
                if d.is_empty() {
                    "/".to_string()
                } else {
                    d.to_string()
                }
            })
            .unwrap_or_default();
        let mut plan = Plan::ok()
            .with("user", self.user.as_str())
            .with("path", path.as_str());
        // No keys (`key: ""`, a user without keys): as Ansible, nothing is written, not even
        // the directory, unless `exclusive` has existing keys to remove.
        let removes_keys = self.exclusive
            && self.present
            && content
                .as_deref()
                .is_some_and(|c| c.lines().any(|l| parse_key(l).is_some()));
        if self.keys.is_empty() && !removes_keys {
            return Ok(plan.with("keys", minijinja::Value::from(Vec::<String>::new())));
        }
        if self.manage_dir {
            let d = field("dir");
            if d.is_empty() {
                plan.step(Step::MakeDir {
                    path: dir.clone(),
                    attrs: Attrs {
                        mode: Some(0o700),
                        owner: Some(uid.clone()),
                        group: Some(gid.clone()),
                    },
                });
                plan.diffs.push(super::Diff::new(
                    &dir,
                    "state: absent\n",
                    "state: directory\nmode: 0700\n",
                ));
            } else if d != format!("700|{uid}|{gid}") {
                plan.step(Step::SetAttrs {
                    path: dir.clone(),
                    attrs: Attrs {
                        mode: Some(0o700),
                        owner: Some(uid.clone()),
                        group: Some(gid.clone()),
                    },
                    recurse: false,
                    follow: true,
                });
                plan.diffs.push(super::Diff::new(
                    &dir,
                    format!("mode|uid|gid: {d}\n"),
                    format!("mode|uid|gid: 700|{uid}|{gid}\n"),
                ));
            }
        }
        let existing: Vec<String> = content
            .clone()
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        let same = |line: &str, k: &PublicKey| {
            parse_key(line).is_some_and(|p| p.kind == k.kind && p.blob == k.blob)
        };
        let mut lines: Vec<String> = if self.exclusive && self.present {
            let mut v: Vec<String> = existing
                .iter()
                .filter(|l| is_ignorable(l))
                .cloned()
                .collect();
            v.extend(self.keys.iter().map(PublicKey::line));
            v
        } else {
            existing.clone()
        };
        if !self.exclusive || !self.present {
            for k in &self.keys {
                let pos = lines.iter().position(|l| same(l, k));
                match (self.present, pos) {
                    (true, None) => lines.push(k.line()),
                    (true, Some(i)) => {
                        // Keep the user's comment unless a new one is asked for; update options.
                        let cur = parse_key(&lines[i]).unwrap_or_else(|| k.clone());
                        let wanted = PublicKey {
                            comment: k.comment.clone().or(cur.comment.clone()),
                            ..k.clone()
                        };
                        if wanted != cur {
                            lines[i] = wanted.line();
                        }
                    }
                    (false, Some(_)) => lines.retain(|l| !same(l, k)),
                    (false, None) => {}
                }
            }
        }
        let mut new = lines.join("\n");
        if !new.is_empty() {
            new.push('\n');
        }
        let cur_state = super::FileState {
            path: path.clone(),
            exists: content.is_some(),
            kind: content.as_ref().map(|_| super::FileKind::File),
            content: content.clone().map(String::into_bytes),
            ..Default::default()
        };
        let file_attrs = field("file");
        let mut cur_state = cur_state;
        if let Some((m, rest)) = file_attrs.split_once('|') {
            let (u, g) = rest.split_once('|').unwrap_or(("", ""));
            cur_state.mode = u32::from_str_radix(m, 8).unwrap_or(0);
            cur_state.owner = u.to_string();
            cur_state.uid = u.parse().unwrap_or(0);
            cur_state.group = g.to_string();
            cur_state.gid = g.parse().unwrap_or(0);
        }
        let attrs = if self.manage_dir {
            AttrSpec {
                mode: Some(ModeSpec::Octal(0o600)),
                owner: Some(uid.clone()),
                group: Some(gid.clone()),
            }
        } else {
            AttrSpec::default()
        };
        if !self.present && !cur_state.exists {
            return Ok(plan);
        }
        let spec = WriteSpec {
            path: path.clone(),
            attrs,
            follow: false,
            ..Default::default()
        };
        plan_write(&mut plan, &cur_state, new.into_bytes(), &spec)?;
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        plan.result.insert(
            "keys".into(),
            minijinja::Value::from(self.keys.iter().map(PublicKey::line).collect::<Vec<_>>()),
        );
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, cmd, plan_answers};
    use minijinja::Value;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlqGmt3VZdnzxpGg0d+Qt7sHZk0Y3c2lEhF7y9nH1Qz boxp@laptop";
    const K2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOQ3z0Ha8XqPl1uX0s4m3mTtfbUQe7C2vC1nJwzY1k2A";

    fn probe(content: Option<&str>) -> crate::modules::Answer {
        let mut s = "uid=1000\ngid=1000\nhome=/home/boxp\npath=/home/boxp/.ssh/authorized_keys\ndir=700|1000|1000\n".to_string();
        if let Some(c) = content {
            s.push_str("file=600|1000|1000\ncontent:\n");
            s.push_str(c);
        }
        cmd(0, &s)
    }

    #[test]
    fn parses_keys_and_rejects_other_lines() {
        let k = parse_key(K1).unwrap();
        assert_eq!(k.kind, "ssh-ed25519");
        assert_eq!(k.comment.as_deref(), Some("boxp@laptop"));
        let o = parse_key(&format!("no-pty,command=\"echo hi there\" {K2}")).unwrap();
        assert_eq!(
            o.options.as_deref(),
            Some("no-pty,command=\"echo hi there\"")
        );
        assert!(parse_key("<html><body>Not Found</body></html>").is_none());
        assert!(parse_key("ssh-ed25519 notbase64!").is_none());
        assert!(
            parse_key(
                "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIBlqGmt3VZdnzxpGg0d+Qt7sHZk0Y3c2lEhF7y9nH1Qz"
            )
            .is_none(),
            "type must match the blob"
        );
    }

    #[test]
    fn adds_missing_keys_only() {
        let a = args(
            "authorized_key",
            &[
                ("user", Value::from("boxp")),
                ("key", Value::from(format!("{K1}\n{K2}\n"))),
            ],
        );
        let p = plan_answers(
            &AuthorizedKey,
            a.clone(),
            vec![probe(Some(&format!("{K1}\n")))],
        );
        let Step::Write(w) = &p.steps[0] else {
            panic!("{p:?}")
        };
        assert_eq!(String::from_utf8_lossy(&w.content), format!("{K1}\n{K2}\n"));
        let p = plan_answers(
            &AuthorizedKey,
            a,
            vec![probe(Some(&format!("{K1}\n{K2}\n")))],
        );
        assert!(!p.changed);
    }

    /// Ansible: an empty `key` adds nothing and writes nothing (not even `~/.ssh`); with
    /// `exclusive` it removes the keys the file has.
    #[test]
    fn an_empty_key_adds_nothing_and_exclusive_removes_all() {
        let empty = |exclusive: bool| {
            args(
                "authorized_key",
                &[
                    ("user", Value::from("boxp")),
                    ("key", Value::from("")),
                    ("exclusive", Value::from(exclusive)),
                ],
            )
        };
        let no_dir = cmd(
            0,
            "uid=1000\ngid=1000\nhome=/home/boxp\npath=/home/boxp/.ssh/authorized_keys\n",
        );
        for exclusive in [false, true] {
            let p = plan_answers(&AuthorizedKey, empty(exclusive), vec![no_dir.clone()]);
            assert!(
                !p.changed && p.steps.is_empty() && p.failed.is_none(),
                "{p:?}"
            );
        }
        let with_key = probe(Some(&format!("# mine\n{K1}\n")));
        let p = plan_answers(&AuthorizedKey, empty(false), vec![with_key.clone()]);
        assert!(!p.changed, "{p:?}");
        let p = plan_answers(&AuthorizedKey, empty(true), vec![with_key]);
        let Step::Write(w) = &p.steps[0] else {
            panic!("{p:?}")
        };
        assert_eq!(String::from_utf8_lossy(&w.content), "# mine\n");
    }

    #[test]
    fn creates_dir_and_file_with_safe_modes() {
        let a = args(
            "authorized_key",
            &[("user", Value::from("boxp")), ("key", Value::from(K1))],
        );
        let p = plan_answers(
            &AuthorizedKey,
            a,
            vec![cmd(
                0,
                "uid=1000\ngid=1000\nhome=/home/boxp\npath=/home/boxp/.ssh/authorized_keys\n",
            )],
        );
        assert!(matches!(&p.steps[0], Step::MakeDir { attrs, .. } if attrs.mode == Some(0o700)));
        let Step::Write(w) = &p.steps[1] else {
            panic!()
        };
        assert_eq!(w.attrs.mode, Some(0o600));
        assert_eq!(w.attrs.owner.as_deref(), Some("1000"));
    }

    #[test]
    fn exclusive_and_bad_input() {
        let a = args(
            "authorized_key",
            &[
                ("user", Value::from("boxp")),
                ("key", Value::from(K2)),
                ("exclusive", Value::from(true)),
            ],
        );
        let p = plan_answers(
            &AuthorizedKey,
            a,
            vec![probe(Some(&format!("# keep\n{K1}\n")))],
        );
        let Step::Write(w) = &p.steps[0] else {
            panic!()
        };
        assert_eq!(
            String::from_utf8_lossy(&w.content),
            format!("# keep\n{K2}\n")
        );
        let a = args(
            "authorized_key",
            &[
                ("user", Value::from("boxp")),
                ("key", Value::from("<html>oops</html>")),
            ],
        );
        let p = plan_answers(&AuthorizedKey, a, vec![]);
        assert!(p.failed.unwrap().contains("is not an SSH public key"));
    }
}
