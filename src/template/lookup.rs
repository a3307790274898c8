//! Ansible lookups: `lookup('file', ...)`, `lookup('env', ...)`, `lookup('template', ...)`,
//! `lookup('vars', ...)`, and `query`/`q` (the same, always returning a list).
//!
//! Lookups run on the controller. Relative paths are searched the way Ansible searches them:
//! the current role's `files/` (or `templates/`) directory, the role directory, then the
//! playbook directory's `files/` (or `templates/`) and the playbook directory itself.

use std::path::{Path, PathBuf};

use minijinja::value::{Rest, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State, Value};

use std::sync::Arc;

use super::{is_list, to_text};
use crate::vars::Context;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn var_text(ctx: &Arc<Context>, name: &str) -> Option<String> {
    ctx.get(name)
        .ok()
        .flatten()
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

/// A file's text for the `file` and `template` lookups, decrypted (in memory) if vaulted, as
/// Ansible's lookups read it.
fn read_text_file(path: &std::path::Path) -> Result<String, minijinja::Error> {
    let data =
        std::fs::read(path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    let data = crate::vault::open_file_data(path, data).map_err(|e| err(e.to_string()))?;
    String::from_utf8(data).map_err(|_| err(format!("{}: not UTF-8 text", path.display())))
}

fn find(ctx: &Arc<Context>, name: &str, subdir: &str) -> Result<PathBuf, Error> {
    let dirs = dirs_of(ctx, subdir);
    find_file(name, &dirs).ok_or_else(|| {
        let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        err(format!(
            "could not find '{name}' (searched: {})",
            searched.join(", ")
        ))
    })
}

fn dirs_of(ctx: &Arc<Context>, subdir: &str) -> Vec<PathBuf> {
    let role = var_text(ctx, "role_path");
    let pb = var_text(ctx, "playbook_dir");
    search_paths(role.as_deref(), pb.as_deref(), subdir)
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

/// Run lookup `name` on its terms. `with` is the task's action when the lookup is a loop
/// (`with_<name>`), which is where `first_found` looks (`vars/` for include_vars ...).
pub fn run(
    ctx: &Arc<Context>,
    name: &str,
    terms: Vec<Value>,
    kw: &Option<Value>,
    with: Option<&str>,
) -> Result<Vec<Value>, Error> {
    let name = ["ansible.builtin.", "ansible.legacy.", "community.general."]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name);
    if let Some(items) = super::lookup_data::run(name, &terms, &|k| kwarg(kw, k)) {
        return items;
    }
    match name {
        "first_found" => return first_found(ctx, &terms, kw, with),
        "varnames" => return varnames(ctx, &terms),
        "password" => {
            return terms
                .iter()
                .map(|t| super::password::lookup(&to_text(t), kw, ctx).map(Value::from))
                .collect();
        }
        "file" | "env" | "template" | "vars" | "fileglob" | "pipe" | "lines" => {}
        other => {
            return Err(err(format!(
                "lookup plugin '{other}' is not supported by prov (see the README's list)"
            )));
        }
    }
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
                let path = find(ctx, &term, "files")?;
                let mut text = read_text_file(&path)?;
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
                let path = find(ctx, &term, "templates")?;
                let source = read_text_file(&path)?;
                let text = super::render_file(
                    &source,
                    &path.display().to_string(),
                    ctx,
                    Default::default(),
                )
                .map_err(|e| err(e.to_string()))?;
                out.push(Value::from(text));
            }
            "vars" => match ctx.get(&term).map_err(|e| err(e.message))? {
                Some(v) if !v.is_undefined() => out.push(v),
                _ => match kwarg(kw, "default") {
                    Some(d) => out.push(d),
                    None => return Err(err(format!("lookup('vars'): no variable '{term}'"))),
                },
            },
            "fileglob" => out.extend(fileglob(ctx, &term)),
            "pipe" => out.push(Value::from(shell(&term)?.trim_end().to_string())),
            "lines" => out.extend(shell(&term)?.lines().map(|l| Value::from(l.to_string()))),
            other => {
                return Err(err(format!(
                    "lookup plugin '{other}' is not supported by prov"
                )));
            }
        }
    }
    Ok(out)
}

/// The task's variables a template renders with.
fn context(state: &State) -> Result<Arc<Context>, Error> {
    state
        .lookup("vars")
        .and_then(|v| v.downcast_object::<Context>())
        .ok_or_else(|| err("lookups need the task's variables"))
}

fn lookup(state: &State, name: String, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (terms, kw) = split_kwargs(args.0.into_iter().map(ValueOrKwargs::into_value).collect());
    let values = match run(&context(state)?, &name, terms, &kw, None) {
        Err(_) if ignores_errors(&kw)? => return Ok(Value::from(())),
        r => r?,
    };
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
    match run(&context(state)?, &name, terms, &kw, None) {
        Err(_) if ignores_errors(&kw)? => Ok(Value::from(Vec::<Value>::new())),
        r => Ok(Value::from(r?)),
    }
}

/// `errors='ignore'` (or `'warn'`): a failed lookup gives `None` (`query`: `[]`).
fn ignores_errors(kw: &Option<Value>) -> Result<bool, Error> {
    match kwarg(kw, "errors").map(|v| to_text(&v)).as_deref() {
        None | Some("strict") => Ok(false),
        Some("ignore" | "warn") => Ok(true),
        Some(other) => Err(err(format!(
            "lookup: errors must be strict, warn or ignore, not '{other}'"
        ))),
    }
}

/// `first_found`: the first file of `files` (in each of `paths`) that exists, searched like
/// any lookup's relative file; `skip: true` gives nothing instead of an error. As a loop
/// (`with_first_found`) it looks in `templates/`, `vars/` or `files/` after the task's action,
/// as a lookup in the role and playbook directories themselves.
fn first_found(
    ctx: &Arc<Context>,
    terms: &[Value],
    kw: &Option<Value>,
    with: Option<&str>,
) -> Result<Vec<Value>, Error> {
    let texts = |v: Option<Value>, splitters: &[char]| -> Vec<String> {
        match v {
            None => Vec::new(),
            Some(v) if is_list(&v) => v
                .try_iter()
                .into_iter()
                .flatten()
                .map(|x| to_text(&x))
                .collect(),
            Some(v) if v.is_undefined() || v.is_none() => Vec::new(),
            Some(v) => to_text(&v).split(splitters).map(str::to_string).collect(),
        }
    };
    let mut skip = kwarg(kw, "skip").is_some_and(|v| v.is_true());
    let mut candidates = Vec::new();
    let mut add = |files: Vec<String>, paths: Vec<String>| {
        if paths.is_empty() {
            candidates.extend(files);
        } else {
            for p in &paths {
                candidates.extend(files.iter().map(|f| format!("{p}/{f}")));
            }
        }
    };
    let kw_paths = texts(kwarg(kw, "paths"), &[',', ':', ';']);
    fn walk(v: &Value, out: &mut Vec<Value>) {
        if is_list(v) {
            for x in v.try_iter().into_iter().flatten() {
                walk(&x, out);
            }
        } else if !v.is_undefined() {
            out.push(v.clone());
        }
    }
    let mut flat = Vec::new();
    for t in terms {
        walk(t, &mut flat);
    }
    if flat.is_empty() {
        add(texts(kwarg(kw, "files"), &[',', ';']), kw_paths.clone());
    }
    for term in flat {
        if term.kind() == minijinja::value::ValueKind::Map {
            let get = |k: &str| term.get_attr(k).ok().filter(|v| !v.is_undefined());
            if let Some(s) = get("skip") {
                skip = s.is_true();
            }
            let paths =
                get("paths").map_or_else(|| kw_paths.clone(), |p| texts(Some(p), &[',', ':', ';']));
            add(texts(get("files"), &[',', ';']), paths);
        } else {
            add(vec![to_text(&term)], kw_paths.clone());
        }
    }
    // As a loop, after the action's kind of file; as a lookup, in no subdirectory.
    let subdir = match with {
        Some(action) if action.contains("template") => "templates",
        Some(action) if action.contains("var") => "vars",
        Some(_) => "files",
        None => "",
    };
    let dirs = dirs_of(ctx, subdir);
    for c in &candidates {
        if let Some(found) = find_file(c, &dirs) {
            return Ok(vec![Value::from(found.display().to_string())]);
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err(err(format!(
        "No file was found when using first_found (looked for: {})",
        candidates.join(", ")
    )))
}

/// `varnames`: the names of the variables matching each regular expression (from the start).
fn varnames(ctx: &Arc<Context>, terms: &[Value]) -> Result<Vec<Value>, Error> {
    let names = ctx.names();
    let mut out = Vec::new();
    for t in terms {
        let pattern = to_text(t);
        let re = regex::Regex::new(&format!("^(?:{pattern})")).map_err(|e| {
            err(format!(
                "varnames: invalid regular expression '{pattern}': {e}"
            ))
        })?;
        out.extend(
            names
                .iter()
                .filter(|n| re.is_match(n))
                .map(|n| Value::from(n.as_str())),
        );
    }
    Ok(out)
}

/// `fileglob`: the files (not directories) matching a pattern, relative ones under `files/`.
fn fileglob(ctx: &Arc<Context>, pattern: &str) -> Vec<Value> {
    let (dir, file) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    let dirs: Vec<PathBuf> = if Path::new(pattern).is_absolute() {
        vec![PathBuf::from(if dir.is_empty() { "/" } else { dir })]
    } else {
        dirs_of(ctx, "files")
            .into_iter()
            .map(|d| d.join(dir))
            .collect()
    };
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| crate::inventory::pattern::glob_match(file, n))
            .collect();
        if !names.is_empty() {
            names.sort();
            return names
                .into_iter()
                .map(|n| Value::from(d.join(n).display().to_string()))
                .collect();
        }
    }
    Vec::new()
}

/// `pipe` and `lines`: a command run by `/bin/sh` on the controller; a failure is an error.
fn shell(command: &str) -> Result<String, Error> {
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", command])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| err(format!("lookup_plugin.pipe({command}): {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "lookup_plugin.pipe({command}) returned {}",
            out.status.code().unwrap_or(-1)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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
