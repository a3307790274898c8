//! `~` and `~user` at the start of a module's path options, expanded as Ansible's `type='path'`
//! options are: by `os.path.expanduser` on the target, as the user the module runs as.
//!
//! `~` (or `~/…`) is that user's `$HOME`, `~name` (or `~name/…`) the home directory of `name`
//! in the target's passwd database. A name the target does not know leaves the path as
//! written, as expanduser does; in a dry run a user an earlier task would create has the home
//! that task would give it. The homes are read in one round trip, only for tasks that have such
//! a path.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::Value;
use minijinja::value::ValueKind;

use super::run_as::RunAs;
use super::task::{TaskRun, read_state};
use crate::error::Result;
use crate::host::primitive::Primitive;
use crate::modules::{Module, Probes};
use crate::template::to_text;
use crate::vars::Context;

/// The user a `~` path names: "" for the running user's own home.
fn user_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('~')?;
    Some(rest.split('/').next().unwrap_or(""))
}

/// The path options of `rendered` that start with `~`, as (option, value).
fn tilde_options(module: &dyn Module, rendered: &Value) -> Vec<(String, String)> {
    if rendered.kind() != ValueKind::Map {
        return Vec::new();
    }
    module
        .path_options()
        .iter()
        .filter_map(|name| {
            let v = rendered.get_attr(name).ok()?;
            let s = v.as_str()?;
            s.starts_with('~')
                .then(|| (name.to_string(), s.to_string()))
        })
        .collect()
}

/// The users whose homes the task's paths need (sorted, each once).
pub(super) fn wanted(module: &dyn Module, rendered: &Value) -> Vec<String> {
    let mut users: Vec<String> = tilde_options(module, rendered)
        .iter()
        .filter_map(|(_, p)| user_of(p).map(str::to_string))
        .collect();
    users.sort();
    users.dedup();
    users
}

/// Read the homes of `users` on the target (one round trip), as the task's user. In check
/// mode, users an earlier task would create (`predicted`) fill what the target lacks.
pub(super) async fn homes(
    tr: TaskRun<'_>,
    ctx: &Arc<Context>,
    run_as: &RunAs,
    users: &[String],
    predicted: &HashMap<String, String>,
) -> Result<HashMap<String, String>> {
    let mut probes = Probes::default();
    let refs: Vec<_> = users
        .iter()
        .map(|u| {
            probes.primitive(if u.is_empty() {
                Primitive::Env("HOME".into())
            } else {
                Primitive::Passwd(u.clone())
            })
        })
        .collect();
    let (observed, _) = read_state(tr, ctx, &probes.into_list(), run_as).await?;
    let mut out = HashMap::new();
    for (user, at) in users.iter().zip(refs) {
        let answer = observed.cmd(at)?;
        let home = if user.is_empty() {
            (answer.rc == 0).then(|| answer.stdout.clone())
        } else {
            // name:x:uid:gid:gecos:home:shell
            answer
                .stdout
                .lines()
                .next()
                .and_then(|l| l.split(':').nth(5))
                .map(str::to_string)
        };
        match home.filter(|h| !h.is_empty()) {
            Some(h) => {
                out.insert(user.clone(), h);
            }
            None => {
                if let Some(h) = predicted.get(user) {
                    out.insert(user.clone(), h.clone());
                }
            }
        }
    }
    Ok(out)
}

/// `path` with its leading `~` or `~user` replaced by the home found for that user (unchanged
/// when none was found).
fn expand_one(path: &str, homes: &HashMap<String, String>) -> String {
    let Some(user) = user_of(path) else {
        return path.to_string();
    };
    match homes.get(user) {
        Some(home) => {
            let rest = &path[1 + user.len()..];
            if rest.is_empty() {
                home.clone()
            } else {
                format!("{}{rest}", home.trim_end_matches('/'))
            }
        }
        None => path.to_string(),
    }
}

/// The rendered arguments with their `~` path options expanded.
pub(super) fn expand(
    module: &dyn Module,
    rendered: &Value,
    homes: &HashMap<String, String>,
) -> Value {
    let tilde = tilde_options(module, rendered);
    if tilde.is_empty() {
        return rendered.clone();
    }
    let pairs: Vec<(String, Value)> = rendered
        .try_iter()
        .into_iter()
        .flatten()
        .filter_map(|k| {
            let key = to_text(&k);
            let v = rendered.get_item(&k).ok()?;
            let v = match tilde.iter().find(|(name, _)| *name == key) {
                Some((_, path)) => Value::from(expand_one(path, homes)),
                None => v,
            };
            Some((key, v))
        })
        .collect();
    Value::from_pairs(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn homes() -> HashMap<String, String> {
        HashMap::from([
            (String::new(), "/home/me".to_string()),
            ("root".to_string(), "/root".to_string()),
            ("slash".to_string(), "/".to_string()),
        ])
    }

    #[test]
    fn expands_like_expanduser() {
        let h = homes();
        assert_eq!(expand_one("~", &h), "/home/me");
        assert_eq!(expand_one("~/.ssh", &h), "/home/me/.ssh");
        assert_eq!(expand_one("~root", &h), "/root");
        assert_eq!(expand_one("~root/.ssh/id", &h), "/root/.ssh/id");
        assert_eq!(expand_one("~slash/x", &h), "/x");
        // Unknown users and paths without a leading ~ stay as written.
        assert_eq!(expand_one("~nobody/x", &h), "~nobody/x");
        assert_eq!(expand_one("/etc/~root", &h), "/etc/~root");
        assert_eq!(user_of("~root/.ssh"), Some("root"));
        assert_eq!(user_of("~/x"), Some(""));
        assert_eq!(user_of("x/~"), None);
    }

    #[test]
    fn only_path_options_are_expanded() {
        let m = crate::modules::lookup("copy").unwrap();
        let args = Value::from_pairs(vec![
            ("dest".to_string(), Value::from("~root/.ssh/id")),
            ("content".to_string(), Value::from("~root")),
        ]);
        assert_eq!(wanted(m, &args), vec!["root".to_string()]);
        let out = expand(m, &args, &homes());
        assert_eq!(
            out.get_attr("dest").unwrap().as_str(),
            Some("/root/.ssh/id")
        );
        assert_eq!(out.get_attr("content").unwrap().as_str(), Some("~root"));
    }
}
