//! Roles: finding them, loading their files, and ordering them with their dependencies.
//!
//! A role directory has `tasks/`, `handlers/`, `defaults/`, `vars/`, `templates/`, `files/` and
//! `meta/` (dependencies). Roles are searched in the playbook's `roles/`, the configured
//! `roles_path`, the project root's `roles/` (next to the playbook's directory), and the
//! playbook directory itself. Dependencies run before the role; a role with the same
//! parameters runs once per play unless it allows duplicates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::keywords::ROLE_ENTRY;
use super::parse::{ParseCtx, apply_directive, load_task_file, vars_map};
use super::{Directives, Role, RoleInfo};
use crate::error::{Error, Result, Span};
use crate::vars::VarMap;
use crate::yaml::{Node, Yaml};

/// How a role is used: parameters, entry vars and alternative file names.
#[derive(Clone, Debug, Default)]
pub struct RoleEntry {
    pub params: VarMap,
    pub vars: VarMap,
    pub tasks_from: Option<String>,
    pub vars_from: Option<String>,
    pub defaults_from: Option<String>,
    pub handlers_from: Option<String>,
}

/// The roles of a `roles:` section, flattened in execution order.
pub struct RoleRef {
    pub roles: Vec<Arc<Role>>,
}

/// Directories searched for a role named `name`.
pub fn role_dirs(ctx: &ParseCtx) -> Vec<PathBuf> {
    let mut dirs = vec![ctx.playbook_dir.join("roles")];
    dirs.extend(ctx.roles_path.iter().cloned());
    if let Some(parent) = ctx.playbook_dir.parent() {
        dirs.push(parent.join("roles"));
    }
    dirs.push(ctx.playbook_dir.clone());
    dirs
}

pub fn find_role(name: &str, span: &Span, ctx: &ParseCtx) -> Result<PathBuf> {
    if name.contains('/') {
        let p = if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            ctx.playbook_dir.join(name)
        };
        if p.is_dir() {
            return Ok(p);
        }
    }
    let dirs = role_dirs(ctx);
    for d in &dirs {
        let c = d.join(name);
        if c.is_dir() {
            return Ok(c);
        }
    }
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(Error::missing(
        span.clone(),
        format!(
            "role '{name}' not found (searched: {})",
            searched.join(", ")
        ),
    ))
}

/// `dir/name.yml`, `dir/name.yaml`, `dir/name`, or every YAML file in `dir/name/`.
fn role_file(dir: &Path, name: &str) -> Vec<PathBuf> {
    for ext in [".yml", ".yaml", ".json", ""] {
        let p = dir.join(format!("{name}{ext}"));
        if p.is_file() {
            return vec![p];
        }
    }
    let d = dir.join(name);
    if d.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
            })
            .collect();
        files.sort();
        return files;
    }
    Vec::new()
}

fn role_vars(dir: &Path, name: &str) -> Result<VarMap> {
    let mut out = VarMap::new();
    for f in role_file(dir, name) {
        out.extend(crate::vars::load_var_file(&f)?);
    }
    Ok(out)
}

/// Load a role (and its dependencies, in [`Role::deps`] order) for use with `entry`.
pub fn load_role(
    name: &str,
    span: &Span,
    entry: &RoleEntry,
    parent: &Directives,
    ctx: &mut ParseCtx,
) -> Result<Arc<Role>> {
    load_role_depth(name, span, entry, parent, ctx, 0)
}

fn load_role_depth(
    name: &str,
    span: &Span,
    entry: &RoleEntry,
    parent: &Directives,
    ctx: &mut ParseCtx,
    depth: usize,
) -> Result<Arc<Role>> {
    if depth > 20 {
        return Err(Error::parse(
            span.clone(),
            format!("role dependencies nested too deeply at '{name}'"),
        ));
    }
    if name.split('.').count() >= 3 {
        return Err(Error::parse(
            span.clone(),
            format!("collection role '{name}' is not supported (put the role in roles/)"),
        ));
    }
    let path = find_role(name, span, ctx)?;
    let short = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(name)
        .to_string();
    let defaults = role_vars(
        &path.join("defaults"),
        entry.defaults_from.as_deref().unwrap_or("main"),
    )?;
    let mut vars = role_vars(
        &path.join("vars"),
        entry.vars_from.as_deref().unwrap_or("main"),
    )?;
    vars.extend(entry.params.clone());
    vars.extend(entry.vars.clone());
    let key = format!(
        "{}|{}",
        path.display(),
        serde_json::to_string(&crate::vars::map_to_value(&entry.params)).unwrap_or_default()
    );
    let info = Arc::new(RoleInfo {
        name: short,
        path: path.clone(),
        defaults: Arc::new(defaults),
        vars: Arc::new(vars),
        key,
    });
    // Dependencies from meta/main.yml.
    let mut deps = Vec::new();
    let mut allow_duplicates = false;
    if let Some(meta) = role_file(&path.join("meta"), "main").first() {
        let node = crate::yaml::load_file(meta)?;
        if let Some(a) = node.get("allow_duplicates") {
            allow_duplicates = matches!(a.value, Yaml::Bool(true));
        }
        if let Some(list) = node.get("dependencies")
            && !list.is_null()
        {
            for dep in list.expect_seq("dependencies")? {
                let (dname, dentry, dd) = parse_entry(dep, parent)?;
                deps.push(load_role_depth(
                    &dname,
                    &dep.span,
                    &dentry,
                    &dd,
                    ctx,
                    depth + 1,
                )?);
            }
        }
    }
    let tasks_file = role_file(
        &path.join("tasks"),
        entry.tasks_from.as_deref().unwrap_or("main"),
    );
    if entry.tasks_from.is_some() && tasks_file.is_empty() {
        return Err(Error::parse(
            span.clone(),
            format!(
                "role '{name}' has no tasks file '{}'",
                entry.tasks_from.as_deref().unwrap_or("")
            ),
        ));
    }
    let mut tasks = Vec::new();
    for f in &tasks_file {
        tasks.extend(load_task_file(f, parent, Some(&info), ctx, false)?);
    }
    let mut handlers = Vec::new();
    for f in role_file(
        &path.join("handlers"),
        entry.handlers_from.as_deref().unwrap_or("main"),
    ) {
        handlers.extend(load_task_file(&f, parent, Some(&info), ctx, true)?);
    }
    Ok(Arc::new(Role {
        info,
        tasks,
        handlers,
        deps,
        allow_duplicates,
    }))
}

/// A `roles:` or `dependencies:` entry: name, how it is used, and the directives its tasks inherit.
fn parse_entry(node: &Node, parent: &Directives) -> Result<(String, RoleEntry, Directives)> {
    let mut entry = RoleEntry::default();
    let mut d = parent.clone();
    match &node.value {
        Yaml::Str(s) => Ok((s.clone(), entry, d)),
        Yaml::Map(pairs) => {
            let name = node
                .get("role")
                .or_else(|| node.get("name"))
                .ok_or_else(|| {
                    Error::parse(node.span.clone(), "a role entry needs 'role' (or 'name')")
                })?
                .expect_str("role name")?
                .to_string();
            for (k, v) in pairs {
                let key = k.key_string()?;
                match key.as_str() {
                    "role" | "name" => {}
                    "vars" => entry.vars = vars_map(v, "vars")?,
                    _ if ROLE_ENTRY.contains(&key.as_str()) => {
                        if let Some(msg) = super::keywords::unsupported(&key) {
                            return Err(Error::parse(k.span.clone(), format!("'{key}': {msg}")));
                        }
                        apply_directive(&mut d, &key, v)?;
                    }
                    _ => {
                        entry.params.insert(key, v.to_value());
                    }
                }
            }
            Ok((name, entry, d))
        }
        _ => Err(Error::parse(
            node.span.clone(),
            "a role entry must be a name or a mapping",
        )),
    }
}

fn flatten(role: &Arc<Role>, out: &mut Vec<Arc<Role>>) {
    for dep in &role.deps {
        flatten(dep, out);
    }
    if role.allow_duplicates || !out.iter().any(|r| r.info.key == role.info.key) {
        out.push(role.clone());
    }
}

/// Load the roles of a play's `roles:` list, dependencies first, duplicates removed.
pub fn load_role_refs(node: &Node, parent: &Directives, ctx: &mut ParseCtx) -> Result<RoleRef> {
    let mut roles = Vec::new();
    if node.is_null() {
        return Ok(RoleRef { roles });
    }
    for item in node.expect_seq("roles")? {
        let (name, entry, d) = parse_entry(item, parent)?;
        let role = load_role(&name, &item.span, &entry, &d, ctx)?;
        flatten(&role, &mut roles);
    }
    Ok(RoleRef { roles })
}

/// Tasks, handlers and role infos of a role with its dependencies.
pub type Flattened = (
    Vec<Arc<super::Task>>,
    Vec<Arc<super::Task>>,
    Vec<Arc<RoleInfo>>,
);

/// All tasks of a role including its dependencies', in order (for import_role).
pub fn tasks_with_deps(role: &Arc<Role>) -> Flattened {
    let mut order = Vec::new();
    flatten(role, &mut order);
    let mut tasks = Vec::new();
    let mut handlers = Vec::new();
    let mut infos = Vec::new();
    for r in order {
        tasks.extend(r.tasks.iter().cloned());
        handlers.extend(r.handlers.iter().cloned());
        infos.push(r.info.clone());
    }
    (tasks, handlers, infos)
}
