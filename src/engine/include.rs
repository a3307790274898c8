//! Dynamic includes and variables: `include_tasks`/`include_role` resolved per host (conditions,
//! loop, file, recursion bound) and `include_vars`.

use std::sync::Arc;

use minijinja::Value;

use super::loops::*;
use super::outcome::*;
use super::task::*;
use super::{PlayCtx, Shared};
use crate::error::{Error, Result};
use crate::playbook::{Action, Task};
use crate::report::{HostOutcome, Status};
use crate::template::{eval_condition, render_value, to_text};
use crate::vars::{Context, Layer, VarMap};

/// include_vars' options for a directory (Ansible's names and defaults).
#[derive(Default)]
struct DirOptions {
    /// How many directories of the sorted walk are read (0: all). Ansible counts the
    /// directories it walks, not their depth.
    depth: usize,
    /// Only files whose name this Python regex finds something in.
    files_matching: Option<crate::pyre::Pattern>,
    /// Names (regexes anchored at the end) of files to skip.
    ignore_files: Vec<String>,
    /// Extensions of variable files; another one fails unless `ignore_unknown_extensions`.
    extensions: Vec<String>,
    ignore_unknown_extensions: bool,
    /// The role's `vars/main.yml`, never included again.
    role_main: Option<std::path::PathBuf>,
}

/// The files include_vars loads: `file`, found in the first of `dirs` that has it, or the
/// files of `dir` (found the same way) as Ansible walks it: directories in sorted order, each
/// one's files sorted by name.
fn var_files(
    file: Option<String>,
    dir: Option<String>,
    dirs: &[std::path::PathBuf],
    opts: &DirOptions,
) -> Result<Vec<std::path::PathBuf>> {
    if let Some(f) = file {
        let p = crate::template::lookup::find_file(&f, dirs)
            .ok_or_else(|| Error::runtime(format!("include_vars: could not find '{f}'")))?;
        return Ok(vec![p]);
    }
    let Some(d) = dir else {
        return Err(Error::runtime("include_vars needs file or dir"));
    };
    let dir = crate::template::lookup::find_file(&d, dirs)
        .ok_or_else(|| Error::runtime(format!("include_vars: could not find directory '{d}'")))?;
    let mut walked: Vec<(std::path::PathBuf, Vec<String>)> = Vec::new();
    walk(&dir, &mut walked)?;
    walked.sort_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    if opts.depth > 0 {
        walked.truncate(opts.depth);
    }
    let mut found = Vec::new();
    for (root, mut names) in walked {
        names.sort();
        for name in names {
            let path = root.join(&name);
            if opts.role_main.as_deref() == Some(path.as_path()) {
                continue;
            }
            if let Some(m) = &opts.files_matching
                && !m.is_match(&name).map_err(Error::runtime)?
            {
                continue;
            }
            let ignored = opts.ignore_files.iter().any(|pat| {
                crate::pyre::Pattern::plain(&format!("{pat}$"))
                    .and_then(|p| p.is_match(&name))
                    .unwrap_or(false)
            });
            if ignored {
                continue;
            }
            let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
            if !opts.extensions.iter().any(|e| e == ext) {
                if opts.ignore_unknown_extensions {
                    continue;
                }
                return Err(Error::runtime(format!(
                    "include_vars: {} does not have a valid extension: {}",
                    path.display(),
                    opts.extensions.join(", ")
                )));
            }
            found.push(path);
        }
    }
    Ok(found)
}

/// Every directory under `dir` (itself included, links followed) with its files' names.
fn walk(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, Vec<String>)>) -> Result<()> {
    let mut files = Vec::new();
    let mut subdirs = Vec::new();
    for e in std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
    {
        let p = e.path();
        if p.is_dir() {
            subdirs.push(p);
        } else {
            files.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.push((dir.to_path_buf(), files));
    if out.len() > 10_000 {
        return Err(Error::runtime(format!(
            "include_vars: more than 10000 directories under {} (a link loop?)",
            dir.display()
        )));
    }
    for d in subdirs {
        walk(&d, out)?;
    }
    Ok(())
}

/// include_vars: load variables files into the host's include_vars level.
pub(super) fn include_vars(
    t: &Task,
    pc: &PlayCtx,
    args: &Value,
    ctx: &Arc<Context>,
) -> Result<ItemRun> {
    let a = render_value(args, ctx)?;
    let get = |k: &str| {
        a.get_attr(k)
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_none())
            .map(|v| to_text(&v))
    };
    let mut dirs = vec![];
    if let Some(r) = &t.role {
        dirs.push(r.path.join("vars"));
    }
    if let Some(d) = t.file.parent() {
        dirs.push(d.join("vars"));
        dirs.push(d.to_path_buf());
    }
    dirs.push(pc.play.dir.join("vars"));
    dirs.push(pc.play.dir.clone());
    let list = |k: &str| -> Vec<String> {
        match a.get_attr(k) {
            Ok(v) if crate::template::is_list(&v) => v
                .try_iter()
                .into_iter()
                .flatten()
                .map(|x| to_text(&x))
                .collect(),
            Ok(v) if !v.is_undefined() && !v.is_none() => {
                to_text(&v).split_whitespace().map(str::to_string).collect()
            }
            _ => Vec::new(),
        }
    };
    let extensions = list("extensions");
    let opts = DirOptions {
        depth: match get("depth") {
            Some(d) => d.trim().parse().map_err(|_| {
                Error::runtime(format!("include_vars: depth must be a number, not '{d}'"))
            })?,
            None => 0,
        },
        files_matching: get("files_matching")
            .map(|m| crate::pyre::Pattern::plain(&m).map_err(Error::runtime))
            .transpose()?,
        ignore_files: list("ignore_files"),
        extensions: if extensions.is_empty() {
            vec!["yaml".into(), "yml".into(), "json".into()]
        } else {
            extensions
        },
        ignore_unknown_extensions: a
            .get_attr("ignore_unknown_extensions")
            .is_ok_and(|v| crate::template::filters::to_bool(&v)),
        role_main: t.role.as_ref().map(|r| r.path.join("vars/main.yml")),
    };
    let files = var_files(
        get("file").or_else(|| get("_raw_params")),
        get("dir"),
        &dirs,
        &opts,
    )?;
    let mut vars = VarMap::new();
    for f in &files {
        vars.extend(crate::vars::load_var_file(f)?);
    }
    let vars = match get("name") {
        Some(n) => VarMap::from_iter([(n, crate::vars::map_to_value(&vars))]),
        None => vars,
    };
    let mut run = ItemRun {
        status: Some(Status::Ok),
        ..Default::default()
    };
    run.result.insert(
        "ansible_included_var_files".into(),
        Value::from(
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>(),
        ),
    );
    run.included_vars = Some(vars);
    Ok(run)
}

/// What a dynamic include brings for one host: tasks and the variables they see.
pub struct Included {
    pub label: String,
    pub tasks: Arc<Vec<Arc<Task>>>,
    pub layers: Vec<Layer>,
    pub role_handlers: Option<Vec<Arc<Task>>>,
    key: String,
}

impl Included {
    pub fn same_as(&self, other: &Included) -> bool {
        self.key == other.key
    }
}

/// How deeply dynamic includes may nest. Ansible has no limit (a file that includes itself
/// without end runs until Python's recursion limit); a chain this deep is always that mistake.
pub const MAX_INCLUDE_DEPTH: usize = 64;

/// Evaluate an include_tasks/include_role for one host (conditions, loop, file).
pub async fn resolve_include(
    s: &Shared,
    pc: &PlayCtx,
    t: &Task,
    h: usize,
    extra: &[Layer],
) -> std::result::Result<Vec<Included>, Box<HostOutcome>> {
    let name = s.host_name(h);
    let ctx = s.context(pc, h, Some(t), extra);
    let hide = no_log(t, &ctx);
    let fail = |msg: String| {
        let mut host = s.hosts[h].lock().unwrap();
        host.failed = true;
        host.stats.failed += 1;
        let mut out = super::failed_outcome(&name, msg);
        out.no_log = hide;
        Box::new(out)
    };
    // A templating error also says where (see [`super::origin`]).
    let fail_on = |e: crate::error::Error| {
        let mut out = fail(e.to_string());
        out.origin = super::origin::Failure::of(&e).map(|o| o.locate(t));
        out
    };
    // Every include level adds one "include loop" layer (see below).
    let depth = extra.iter().filter(|l| l.name == "include loop").count();
    if depth >= MAX_INCLUDE_DEPTH {
        return Err(fail(format!(
            "{}: includes nested more than {MAX_INCLUDE_DEPTH} levels deep (a file that includes itself with no condition that ends the recursion?)",
            t.span
        )));
    }
    let items: Vec<Option<Value>> = match &t.loop_ {
        None => vec![None],
        Some(l) => match loop_items(t, l, &ctx) {
            Ok(v) => v.into_iter().map(Some).collect(),
            Err(e) => return Err(fail_on(e)),
        },
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let mut layer = VarMap::new();
        if let Some(item) = &item {
            layer.insert(t.loop_control.loop_var.clone(), item.clone());
            if let Some(iv) = &t.loop_control.index_var {
                layer.insert(iv.clone(), Value::from(i as i64));
            }
        }
        let item_ctx = ctx.with(Layer::fixed("loop", Arc::new(layer.clone())));
        let mut go = true;
        for c in &t.d.when {
            match eval_condition(c, &item_ctx) {
                Ok(v) => go &= v,
                Err(e) => return Err(fail_on(e)),
            }
        }
        if !go {
            continue;
        }
        let mut layers = vec![Layer::fixed("include loop", Arc::new(layer.clone()))];
        // The include's own vars apply to the included tasks.
        for v in &t.d.vars {
            layers.push(Layer::raw_shared("include vars", v.clone()));
        }
        let inherit = crate::playbook::Directives {
            when: Vec::new(),
            tags: Vec::new(),
            vars: Vec::new(),
            ..t.d.clone()
        };
        match &t.action {
            Action::IncludeTasks { file, apply } => {
                let fname = match render_value(file, &item_ctx) {
                    Ok(v) => to_text(&v),
                    Err(e) => return Err(fail_on(e)),
                };
                let Some(path) = crate::playbook::parse::resolve_task_file(
                    &fname,
                    &t.file,
                    t.role.as_deref(),
                    &pc.play.dir,
                ) else {
                    return Err(fail(format!(
                        "{}: could not find included tasks file '{fname}'",
                        t.span
                    )));
                };
                let mut inherit = inherit.clone();
                if let Some(a) = apply {
                    inherit.tags.extend(
                        crate::vars::value_to_map(a)
                            .get("tags")
                            .map(|v| {
                                to_text(v)
                                    .split(',')
                                    .map(|x| x.trim().to_string())
                                    .collect::<Vec<_>>()
                            })
                            .unwrap_or_default(),
                    );
                }
                let cached = s.includes.lock().unwrap().get(&path).cloned();
                let tasks = match cached {
                    Some(t) => t,
                    None => {
                        let mut pctx = crate::playbook::parse::ParseCtx::new(
                            &pc.play.dir,
                            &s.opts.roles_path,
                            &crate::modules::CATALOG,
                        );
                        match crate::playbook::parse::load_task_file(
                            &path,
                            &inherit,
                            t.role.as_ref(),
                            &mut pctx,
                            false,
                        ) {
                            Ok(list) => {
                                let list = Arc::new(list);
                                s.includes
                                    .lock()
                                    .unwrap()
                                    .insert(path.clone(), list.clone());
                                list
                            }
                            Err(e) => return Err(fail_on(e)),
                        }
                    }
                };
                out.push(Included {
                    label: path.display().to_string(),
                    tasks,
                    layers,
                    role_handlers: None,
                    key: format!("{}#{i}", path.display()),
                });
            }
            Action::IncludeRole {
                name: role_name,
                tasks_from,
                vars_from,
                defaults_from,
                ..
            } => {
                let text =
                    |v: &Option<Value>| -> std::result::Result<Option<String>, Box<HostOutcome>> {
                        match v {
                            None => Ok(None),
                            Some(v) => render_value(v, &item_ctx)
                                .map(|x| Some(to_text(&x)))
                                .map_err(&fail_on),
                        }
                    };
                let rname = match render_value(role_name, &item_ctx) {
                    Ok(v) => to_text(&v),
                    Err(e) => return Err(fail_on(e)),
                };
                let entry = crate::playbook::role::RoleEntry {
                    tasks_from: text(tasks_from)?,
                    vars_from: text(vars_from)?,
                    defaults_from: text(defaults_from)?,
                    ..Default::default()
                };
                let mut pctx = crate::playbook::parse::ParseCtx::new(
                    &pc.play.dir,
                    &s.opts.roles_path,
                    &crate::modules::CATALOG,
                );
                let role = match crate::playbook::role::load_role(
                    &rname, &t.span, &entry, &inherit, &mut pctx,
                ) {
                    Ok(r) => r,
                    Err(e) => return Err(fail_on(e)),
                };
                let (tasks, handlers, _) = crate::playbook::role::tasks_with_deps(&role);
                out.push(Included {
                    label: format!("role {rname}"),
                    tasks: Arc::new(tasks),
                    layers,
                    role_handlers: Some(handlers),
                    key: format!("role:{rname}:{:?}#{i}", entry.tasks_from),
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_vars_finds_a_file_or_a_directory_s_files() {
        let d = std::env::temp_dir().join(format!("prov-include-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("role/vars/os")).unwrap();
        std::fs::create_dir_all(d.join("play/vars")).unwrap();
        for f in [
            "role/vars/main.yml",
            "play/vars/main.yml",
            "play/vars/only.yml",
        ] {
            std::fs::write(d.join(f), "x: 1\n").unwrap();
        }
        for f in ["b.yml", "a.json", "c.yaml"] {
            std::fs::write(d.join("role/vars/os").join(f), "{}").unwrap();
        }
        std::fs::create_dir_all(d.join("role/vars/os/deeper")).unwrap();
        std::fs::write(d.join("role/vars/os/deeper/z.yml"), "{}").unwrap();
        let dirs = vec![d.join("role/vars"), d.join("play/vars")];
        let names = |v: Vec<std::path::PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.strip_prefix(&d).unwrap().display().to_string())
                .collect()
        };
        // The role's own file first, then the play's.
        let plain = DirOptions {
            extensions: vec!["yaml".into(), "yml".into(), "json".into()],
            ..Default::default()
        };
        let got = var_files(Some("main.yml".into()), None, &dirs, &plain).unwrap();
        assert_eq!(names(got), ["role/vars/main.yml"]);
        let got = var_files(Some("only.yml".into()), None, &dirs, &plain).unwrap();
        assert_eq!(names(got), ["play/vars/only.yml"]);
        // Ansible's walk: this directory's files sorted, then the subdirectories'.
        let got = var_files(None, Some("os".into()), &dirs, &plain).unwrap();
        assert_eq!(
            names(got),
            [
                "role/vars/os/a.json",
                "role/vars/os/b.yml",
                "role/vars/os/c.yaml",
                "role/vars/os/deeper/z.yml"
            ]
        );
        let opts = DirOptions {
            depth: 1,
            files_matching: Some(crate::pyre::Pattern::plain("^[ab]").unwrap()),
            ignore_files: vec!["json".into()],
            extensions: plain.extensions.clone(),
            ..Default::default()
        };
        let got = var_files(None, Some("os".into()), &dirs, &opts).unwrap();
        assert_eq!(names(got), ["role/vars/os/b.yml"]);
        // A file of another kind fails, unless unknown extensions are ignored.
        std::fs::write(d.join("role/vars/os/b-notes.txt"), "x").unwrap();
        let e = var_files(None, Some("os".into()), &dirs, &opts).unwrap_err();
        assert!(
            e.to_string().contains("does not have a valid extension"),
            "{e}"
        );
        let opts = DirOptions {
            ignore_unknown_extensions: true,
            ..opts
        };
        assert_eq!(
            var_files(None, Some("os".into()), &dirs, &opts)
                .unwrap()
                .len(),
            1
        );
        for (file, dir, msg) in [
            (Some("nope.yml"), None, "could not find 'nope.yml'"),
            (None, Some("nope"), "could not find directory 'nope'"),
            (None, None, "needs file or dir"),
        ] {
            let e = var_files(file.map(Into::into), dir.map(Into::into), &dirs, &plain)
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{e}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
