//! Ansible lookups: `lookup('file', ...)`, `lookup('env', ...)`, `lookup('template', ...)`,
//! `lookup('vars', ...)`, and `query`/`q` (the same, always returning a list).
//!
//! Lookups run on the controller. Relative paths are searched the way Ansible searches them:
//! the current role's `files/` (or `templates/`) directory, the role directory, then the
//! playbook directory's `files/` (or `templates/`) and the playbook directory itself.

use std::path::{Path, PathBuf};

use minijinja::value::{Rest, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State, Value};

use super::to_text;
use crate::vars::Context;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn var_text(state: &State, name: &str) -> Option<String> {
    state
        .lookup(name)
        .filter(|v| !v.is_undefined() && !v.is_none())
        .map(|v| to_text(&v))
}

/// Where a relative file of kind `subdir` ("files" or "templates") is looked for.
pub fn search_paths(
    role_path: Option<&str>,
    playbook_dir: Option<&str>,
    subdir: &str,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(r) = role_path {
        out.push(Path::new(r).join(subdir));
        out.push(PathBuf::from(r));
    }
    if let Some(p) = playbook_dir {
        out.push(Path::new(p).join(subdir));
        out.push(PathBuf::from(p));
    }
    out
}

/// Find a controller-side file by Ansible's search rules.
pub fn find_file(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    dirs.iter().map(|d| d.join(p)).find(|c| c.exists())
}

fn find(state: &State, name: &str, subdir: &str) -> Result<PathBuf, Error> {
    let role = var_text(state, "role_path");
    let pb = var_text(state, "playbook_dir");
    let dirs = search_paths(role.as_deref(), pb.as_deref(), subdir);
    find_file(name, &dirs).ok_or_else(|| {
        let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        err(format!(
            "could not find '{name}' (searched: {})",
            searched.join(", ")
        ))
    })
}

fn split_kwargs(args: Vec<Value>) -> (Vec<Value>, Option<Value>) {
    let mut pos = args;
    let kw = match pos.last() {
        Some(v) if v.is_kwargs() => pos.pop(),
        _ => None,
    };
    (pos, kw)
}

fn kwarg(kw: &Option<Value>, name: &str) -> Option<Value> {
    kw.as_ref()?
        .get_attr(name)
        .ok()
        .filter(|v| !v.is_undefined())
}

fn run_lookup(
    state: &State,
    name: &str,
    terms: Vec<Value>,
    kw: &Option<Value>,
) -> Result<Vec<Value>, Error> {
    let mut flat = Vec::new();
    for t in terms {
        if super::is_list(&t) {
            flat.extend(t.try_iter()?);
        } else {
            flat.push(t);
        }
    }
    let mut out = Vec::new();
    for term in flat {
        let term = to_text(&term);
        match name {
            "file" => {
                let path = find(state, &term, "files")?;
                let mut text = std::fs::read_to_string(&path)
                    .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
                if kwarg(kw, "rstrip").is_none_or(|v| v.is_true()) {
                    text = text.trim_end().to_string();
                }
                if kwarg(kw, "lstrip").is_some_and(|v| v.is_true()) {
                    text = text.trim_start().to_string();
                }
                out.push(Value::from(text));
            }
            "env" => {
                let default = kwarg(kw, "default")
                    .map(|v| to_text(&v))
                    .unwrap_or_default();
                out.push(Value::from(std::env::var(&term).unwrap_or(default)));
            }
            "template" => {
                let path = find(state, &term, "templates")?;
                let source = std::fs::read_to_string(&path)
                    .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
                let ctx = state
                    .lookup("vars")
                    .and_then(|v| v.downcast_object::<Context>())
                    .ok_or_else(|| err("lookup('template') needs task variables"))?;
                let text = super::render_file(
                    &source,
                    &path.display().to_string(),
                    &ctx,
                    Default::default(),
                )
                .map_err(|e| err(e.message))?;
                out.push(Value::from(text));
            }
            "vars" => match state.lookup(&term) {
                Some(v) if !v.is_undefined() => out.push(v),
                _ => match kwarg(kw, "default") {
                    Some(d) => out.push(d),
                    None => return Err(err(format!("lookup('vars'): no variable '{term}'"))),
                },
            },
            other => {
                return Err(err(format!(
                    "lookup plugin '{other}' is not supported by prov (file, env, template and vars are)"
                )));
            }
        }
    }
    Ok(out)
}

fn lookup(state: &State, name: String, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (terms, kw) = split_kwargs(args.0.into_iter().map(ValueOrKwargs::into_value).collect());
    let values = run_lookup(state, &name, terms, &kw)?;
    if kwarg(&kw, "wantlist").is_some_and(|v| v.is_true()) {
        return Ok(Value::from(values));
    }
    Ok(match values.len() {
        1 => values.into_iter().next().unwrap_or_default(),
        _ => Value::from(values.iter().map(to_text).collect::<Vec<_>>().join(",")),
    })
}

fn query(state: &State, name: String, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (terms, kw) = split_kwargs(args.0.into_iter().map(ValueOrKwargs::into_value).collect());
    Ok(Value::from(run_lookup(state, &name, terms, &kw)?))
}

pub fn register(env: &mut Environment<'static>) {
    env.add_function("lookup", lookup);
    env.add_function("query", query);
    env.add_function("q", query);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::{Context, Layer, VarMap};

    #[test]
    fn file_and_template_lookups_search_role_then_playbook() {
        let dir = std::env::temp_dir().join(format!("prov-lookup-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("role/files")).unwrap();
        std::fs::create_dir_all(dir.join("pb/templates")).unwrap();
        std::fs::write(dir.join("role/files/key.pub"), "ssh-ed25519 AAAA test\n\n").unwrap();
        std::fs::write(dir.join("pb/templates/t.j2"), "name={{ who }}\n").unwrap();
        let mut vars = VarMap::new();
        vars.insert(
            "role_path".into(),
            Value::from(dir.join("role").display().to_string()),
        );
        vars.insert(
            "playbook_dir".into(),
            Value::from(dir.join("pb").display().to_string()),
        );
        vars.insert("who".into(), Value::from("boxp"));
        let ctx = Context::new(vec![Layer::raw("t", vars)]);
        let r = |s: &str| crate::template::render_text(s, &ctx).unwrap();
        assert_eq!(
            r("{{ lookup('file', 'key.pub') }}"),
            "ssh-ed25519 AAAA test"
        );
        assert_eq!(r("{{ lookup('template', 't.j2') }}"), "name=boxp\n");
        assert_eq!(
            r("{{ lookup('env', 'PROV_SURELY_UNSET_VAR', default='dflt') }}"),
            "dflt"
        );
        assert_eq!(r("{{ query('vars', 'who') }}"), "['boxp']");
        let err =
            crate::template::render_text("{{ lookup('file', 'nope.txt') }}", &ctx).unwrap_err();
        assert!(
            err.message.contains("could not find 'nope.txt'"),
            "{}",
            err.message
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
