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

/// The files include_vars loads: `file`, found in the first of `dirs` that has it, or every
/// YAML and JSON file of `dir` (found the same way), sorted by name.
fn var_files(
    file: Option<String>,
    dir: Option<String>,
    dirs: &[std::path::PathBuf],
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
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yml" | "yaml" | "json")
            )
        })
        .collect();
    found.sort();
    Ok(found)
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
    let files = var_files(
        get("file").or_else(|| get("_raw_params")),
        get("dir"),
        &dirs,
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
            Err(e) => return Err(fail(e.to_string())),
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
                Err(e) => return Err(fail(e.to_string())),
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
                    Err(e) => return Err(fail(e.to_string())),
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
                            Err(e) => return Err(fail(e.to_string())),
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
                                .map_err(|e| fail(e.to_string())),
                        }
                    };
                let rname = match render_value(role_name, &item_ctx) {
                    Ok(v) => to_text(&v),
                    Err(e) => return Err(fail(e.to_string())),
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
                    Err(e) => return Err(fail(e.to_string())),
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
        for f in ["b.yml", "a.json", "c.yaml", "notes.txt"] {
            std::fs::write(d.join("role/vars/os").join(f), "{}").unwrap();
        }
        let dirs = vec![d.join("role/vars"), d.join("play/vars")];
        let names = |v: Vec<std::path::PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.strip_prefix(&d).unwrap().display().to_string())
                .collect()
        };
        // The role's own file first, then the play's.
        let got = var_files(Some("main.yml".into()), None, &dirs).unwrap();
        assert_eq!(names(got), ["role/vars/main.yml"]);
        let got = var_files(Some("only.yml".into()), None, &dirs).unwrap();
        assert_eq!(names(got), ["play/vars/only.yml"]);
        let got = var_files(None, Some("os".into()), &dirs).unwrap();
        assert_eq!(
            names(got),
            [
                "role/vars/os/a.json",
                "role/vars/os/b.yml",
                "role/vars/os/c.yaml"
            ]
        );
        for (file, dir, msg) in [
            (Some("nope.yml"), None, "could not find 'nope.yml'"),
            (None, Some("nope"), "could not find directory 'nope'"),
            (None, None, "needs file or dir"),
        ] {
            let e = var_files(file.map(Into::into), dir.map(Into::into), &dirs)
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{e}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
