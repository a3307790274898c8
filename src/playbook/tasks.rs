//! Parsing task lists: tasks and blocks with their keywords and inheritance, module arguments
//! (free-form and `k=v` included) checked against each module's options, loops, and task files
//! found and imported (with the chain of imports, so a file that imports itself is an error).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::Value;

use super::catalog::{
    ENGINE_ACTIONS, FreeForm, Signature, engine_action as engine_action_name, foreign_module,
};
use super::keywords::{BLOCK, TASK, WITH_LOOPS};
use super::parse::*;
use super::{Action, Directives, Loop, LoopControl, RoleInfo, Task};
use crate::error::{Error, Result, Span, did_you_mean};
use crate::vars::VarMap;
use crate::yaml::{Node, Yaml};

/// Parse a list of tasks.
pub fn parse_tasks(
    node: &Node,
    inherit: &Directives,
    role: Option<&Arc<RoleInfo>>,
    file: &Arc<PathBuf>,
    ctx: &mut ParseCtx,
    handlers: bool,
) -> Result<Vec<Arc<Task>>> {
    if node.is_null() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for item in node.expect_seq("a task list")? {
        out.push(Arc::new(parse_task(
            item, inherit, role, file, ctx, handlers,
        )?));
    }
    Ok(out)
}

/// Load a task file (tasks/main.yml, import_tasks targets). A file that is already being
/// parsed (it imports itself, directly or through others) is an error naming the chain; it has
/// no position, so that the import that closes the loop supplies it.
pub fn load_task_file(
    path: &Path,
    inherit: &Directives,
    role: Option<&Arc<RoleInfo>>,
    ctx: &mut ParseCtx,
    handlers: bool,
) -> Result<Vec<Arc<Task>>> {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if ctx.task_files.contains(&canonical) {
        let mut chain: Vec<String> = ctx.task_files.iter().map(|p| ctx.show(p)).collect();
        chain.push(ctx.show(&canonical));
        return Err(Error::new(
            crate::error::ErrorKind::Parse,
            format!(
                "tasks file {} imports itself: {}",
                ctx.show(&canonical),
                chain.join(" -> ")
            ),
        ));
    }
    ctx.task_files.push(canonical);
    let tasks = crate::yaml::load_file(path).and_then(|node| {
        let file = Arc::new(path.to_path_buf());
        parse_tasks(&node, inherit, role, &file, ctx, handlers)
    });
    ctx.task_files.pop();
    tasks
}

/// Find a tasks file named in an import/include: relative to the including file's directory,
/// the role's `tasks/`, then the playbook directory.
pub fn resolve_task_file(
    name: &str,
    file: &Path,
    role: Option<&RoleInfo>,
    playbook_dir: &Path,
) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    let mut dirs = Vec::new();
    if let Some(d) = file.parent() {
        dirs.push(d.to_path_buf());
    }
    if let Some(r) = role {
        dirs.push(r.path.join("tasks"));
    }
    dirs.push(playbook_dir.to_path_buf());
    dirs.into_iter().map(|d| d.join(p)).find(|c| c.is_file())
}

/// Keys that free-form modules (command/shell) take out of the text.
pub(super) const FREE_FORM_KEYS: &[&str] = &[
    "creates",
    "removes",
    "chdir",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
];

/// Parse `k=v k2="v 2"` arguments. For free-form modules (command/shell) only the keys
/// Ansible pulls out (`creates=`, `chdir=` ...) are taken; the rest of the text, newlines and
/// quoting included, is the command (`_raw_params`).
pub fn parse_kv(text: &str, free_form: bool, span: &Span) -> Result<VarMap> {
    let mut out = VarMap::new();
    let spans = match crate::shlex::word_spans(text) {
        Ok(s) => s,
        Err(_) if free_form => {
            out.insert("_raw_params".into(), Value::from(text.trim()));
            return Ok(out);
        }
        Err(m) => return Err(Error::parse(span.clone(), m)),
    };
    let mut raw = text.to_string();
    for range in spans.iter().rev() {
        let w = &text[range.clone()];
        match w.split_once('=') {
            Some((k, v))
                if (!free_form || FREE_FORM_KEYS.contains(&k)) && crate::vars::is_identifier(k) =>
            {
                out.insert(k.to_string(), Value::from(crate::shlex::unquote(v)));
                raw.replace_range(range.clone(), "");
            }
            _ if free_form => {}
            _ => {
                return Err(Error::parse(
                    span.clone(),
                    format!("expected key=value arguments, got '{w}'"),
                ));
            }
        }
    }
    let raw = raw.trim();
    if free_form && !raw.is_empty() {
        out.insert("_raw_params".into(), Value::from(raw));
    }
    // Keep the keys in the order they were written.
    out.reverse();
    Ok(out)
}

/// Merge parent directives with a task's own keywords (inner wins, lists accumulate).
pub(super) fn inherit(parent: &Directives, own: Directives) -> Directives {
    let mut d = parent.clone();
    d.when.extend(own.when);
    for t in own.tags {
        if !d.tags.contains(&t) {
            d.tags.push(t);
        }
    }
    d.vars.extend(own.vars);
    d.environment.extend(own.environment);
    d.sources.extend(own.sources);
    if !own.notify.is_empty() {
        d.notify = own.notify;
    }
    macro_rules! take {
        ($($f:ident),*) => { $( if own.$f.is_some() { d.$f = own.$f; } )* };
    }
    take!(
        become_,
        become_user,
        become_method,
        ignore_errors,
        ignore_unreachable,
        check_mode,
        diff,
        no_log,
        delegate_to,
        delegate_facts,
        run_once,
        any_errors_fatal,
        throttle,
        timeout
    );
    d
}

pub(super) fn module_args(
    module: Signature,
    v: &Node,
    span: &Span,
) -> Result<(Value, Vec<(String, Span)>)> {
    let free = module.free_form == FreeForm::Command;
    match &v.value {
        Yaml::Null => Ok((Value::from_pairs(Vec::<(String, Value)>::new()), Vec::new())),
        Yaml::Map(entries) => {
            let mut keys = Vec::new();
            for (k, _) in entries {
                keys.push((k.key_string()?, k.span.clone()));
            }
            Ok((v.to_value(), keys))
        }
        Yaml::Str(s) => {
            let kv = parse_kv(s, free, &v.span)?;
            let keys = kv.keys().map(|k| (k.clone(), v.span.clone())).collect();
            Ok((crate::vars::map_to_value(&kv), keys))
        }
        _ => {
            let text = v.scalar_string().ok_or_else(|| {
                Error::parse(
                    span.clone(),
                    "module arguments must be a mapping or a string",
                )
            })?;
            let kv = parse_kv(&text, free, &v.span)?;
            let keys = kv.keys().map(|k| (k.clone(), v.span.clone())).collect();
            Ok((crate::vars::map_to_value(&kv), keys))
        }
    }
}

pub(super) fn check_module_options(module: Signature, keys: &[(String, Span)]) -> Result<()> {
    let Some(options) = module.options else {
        return Ok(());
    };
    for (k, span) in keys {
        if crate::template::is_template(k) {
            continue;
        }
        if !options.contains(&k.as_str()) {
            let shown: Vec<&str> = options
                .iter()
                .copied()
                .filter(|o| !o.starts_with('_'))
                .collect();
            return Err(Error::parse(
                span.clone(),
                format!(
                    "unsupported parameter '{k}' for module '{}'{}",
                    module.name,
                    did_you_mean(k, shown.iter().copied())
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn parse_task(
    node: &Node,
    parent: &Directives,
    role: Option<&Arc<RoleInfo>>,
    file: &Arc<PathBuf>,
    ctx: &mut ParseCtx,
    handler: bool,
) -> Result<Task> {
    let map = node.expect_map("a task")?;
    let is_block = node.get("block").is_some();
    let mut own = Directives::default();
    let mut task = Task::new(
        node.span.clone(),
        file.clone(),
        Action::Meta("noop".into()),
        Directives::default(),
    );
    task.role = role.cloned();
    for (k, v) in map {
        if !(is_block && matches!(k.as_str(), Some("block" | "rescue" | "always"))) {
            collect_sources(k, &mut task.sources);
            collect_sources(v, &mut task.sources);
        }
    }
    let mut action: Option<(String, Node, Span)> = None;
    let mut extra_args: Option<&Node> = None;
    let mut local_action = false;
    for (k, v) in map {
        let key = k.key_string()?;
        let allowed = if is_block { BLOCK } else { TASK };
        if allowed.contains(&key.as_str()) {
            unsupported_at(node, &key, &k.span)?;
        }
        match key.as_str() {
            "name" => task.name = v.scalar_string(),
            "block" | "rescue" | "always" if is_block => {}
            _ if is_block && !BLOCK.contains(&key.as_str()) => {
                return Err(Error::parse(
                    k.span.clone(),
                    format!(
                        "'{key}' is not a valid keyword for a block{}",
                        did_you_mean(&key, BLOCK.iter().copied())
                    ),
                ));
            }
            "register" => {
                let r = v.expect_str("register")?;
                if !crate::vars::is_identifier(r) {
                    return Err(Error::parse(
                        v.span.clone(),
                        format!("'{r}' is not a valid variable name for register"),
                    ));
                }
                task.register = Some(r.to_string());
            }
            "notify" if is_block => own.notify = string_list(v, "notify")?,
            "notify" => task.notify = string_list(v, "notify")?,
            "listen" => {
                if !handler {
                    return Err(Error::parse(
                        k.span.clone(),
                        "'listen' is only valid on handlers",
                    ));
                }
                task.listen = string_list(v, "listen")?;
            }
            "loop" => set_loop(&mut task, "loop", v, &k.span)?,
            "loop_control" => task.loop_control = parse_loop_control(v)?,
            "changed_when" => task.changed_when = Some(conditions(v)),
            "failed_when" => task.failed_when = Some(conditions(v)),
            "until" => task.until = Some(v.to_value()),
            "retries" => task.retries = Some(v.to_value()),
            "delay" => task.delay = Some(v.to_value()),
            "args" => extra_args = Some(v),
            "action" | "local_action" => {
                local_action = key == "local_action";
                let (name, rest) = match &v.value {
                    Yaml::Str(s) => {
                        let s = s.trim();
                        let (m, r) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
                        (m.to_string(), Some(r.trim().to_string()))
                    }
                    Yaml::Map(_) => {
                        let m = v.get("module").ok_or_else(|| {
                            Error::parse(v.span.clone(), format!("{key} needs a module"))
                        })?;
                        (m.expect_str("module")?.to_string(), None)
                    }
                    _ => {
                        return Err(Error::parse(
                            v.span.clone(),
                            format!("{key} must be 'module args' or a mapping"),
                        ));
                    }
                };
                if action.is_some() {
                    return Err(Error::parse(
                        k.span.clone(),
                        "conflicting action statements",
                    ));
                }
                // Re-express as `module: args` for uniform handling below.
                let args_node = match rest {
                    Some(r) => Node {
                        value: Yaml::Str(r),
                        span: v.span.clone(),
                    },
                    None => {
                        let entries: Vec<(Node, Node)> = v
                            .as_map()
                            .unwrap_or_default()
                            .iter()
                            .filter(|(k, _)| k.as_str() != Some("module"))
                            .cloned()
                            .collect();
                        Node {
                            value: Yaml::Map(entries),
                            span: v.span.clone(),
                        }
                    }
                };
                action = Some((name, args_node, k.span.clone()));
            }
            k2 if k2.starts_with("with_") => {
                // `with_community.general.flattened` is the builtin lookup of that name.
                let lookup = ["ansible.builtin.", "ansible.legacy.", "community.general."]
                    .iter()
                    .find_map(|p| k2[5..].strip_prefix(p))
                    .unwrap_or(&k2[5..]);
                if !WITH_LOOPS.contains(&lookup) {
                    return Err(Error::parse(
                        k.span.clone(),
                        format!(
                            "loop lookup 'with_{lookup}' is not supported (with_{} are)",
                            WITH_LOOPS.join(", with_")
                        ),
                    ));
                }
                set_loop(&mut task, lookup, v, &k.span)?;
            }
            other => {
                if apply_directive(&mut own, other, v)? {
                    continue;
                }
                if TASK.contains(&other) {
                    continue; // keywords without effect here (already validated above)
                }
                if ctx.catalog.module(other).is_some()
                    || engine_action_name(other).is_some()
                    || foreign_module(other, &library_dirs(role, ctx))
                {
                    if let Some((prev, _, _)) = &action {
                        return Err(Error::parse(
                            k.span.clone(),
                            format!("conflicting action statements: {prev}, {other}"),
                        ));
                    }
                    action = Some((other.to_string(), v.clone(), k.span.clone()));
                } else {
                    let mut candidates: Vec<&str> = ctx.catalog.names();
                    candidates.extend(TASK.iter().copied());
                    candidates.extend(ENGINE_ACTIONS.iter().copied());
                    return Err(Error::parse(
                        k.span.clone(),
                        format!(
                            "'{other}' is not a module or task keyword{}",
                            did_you_mean(other, candidates)
                        ),
                    ));
                }
            }
        }
    }
    if local_action {
        own.delegate_to = Some(Value::from("localhost"));
    }
    task.d = inherit(parent, own);
    if task.notify.is_empty() && !is_block {
        task.notify = task.d.notify.clone();
    }
    if is_block {
        if task.loop_.is_some() {
            return Err(Error::parse(node.span.clone(), "a block cannot loop"));
        }
        let d = task.d.clone();
        let list = |name: &str, ctx: &mut ParseCtx| -> Result<Vec<Arc<Task>>> {
            match node.get(name) {
                Some(n) => parse_tasks(n, &d, role, file, ctx, handler),
                None => Ok(Vec::new()),
            }
        };
        task.action = Action::Block {
            block: list("block", ctx)?,
            rescue: list("rescue", ctx)?,
            always: list("always", ctx)?,
        };
        return Ok(task);
    }
    let Some((name, args_node, name_span)) = action else {
        return Err(Error::parse(
            node.span.clone(),
            "no module or action given in this task",
        ));
    };
    task.action = build_action(
        &name, &args_node, extra_args, &name_span, &mut task, role, file, ctx, handler,
    )?;
    Ok(task)
}

pub(super) fn set_loop(task: &mut Task, kind: &str, v: &Node, span: &Span) -> Result<()> {
    if task.loop_.is_some() {
        return Err(Error::parse(span.clone(), "a task can only have one loop"));
    }
    task.loop_ = Some(Loop {
        kind: kind.to_string(),
        value: v.to_value(),
    });
    Ok(())
}

pub(super) fn parse_loop_control(v: &Node) -> Result<LoopControl> {
    let mut lc = LoopControl::default();
    for (k, val) in v.expect_map("loop_control")? {
        match k.key_string()?.as_str() {
            "loop_var" => lc.loop_var = val.expect_str("loop_var")?.to_string(),
            "index_var" => lc.index_var = Some(val.expect_str("index_var")?.to_string()),
            "label" => lc.label = Some(val.to_value()),
            "pause" => {
                lc.pause = match &val.value {
                    Yaml::Int(i) => Some(*i as f64),
                    Yaml::Float(f) => Some(*f),
                    _ => return Err(Error::parse(val.span.clone(), "pause must be a number")),
                }
            }
            "extended" => lc.extended = bool_of(val, "extended")?,
            "extended_allitems" | "break_when" => {}
            other => {
                return Err(Error::parse(
                    k.span.clone(),
                    format!(
                        "'{other}' is not valid in loop_control{}",
                        did_you_mean(
                            other,
                            ["loop_var", "index_var", "label", "pause", "extended"]
                        )
                    ),
                ));
            }
        }
    }
    if !crate::vars::is_identifier(&lc.loop_var) {
        return Err(Error::parse(
            v.span.clone(),
            format!("'{}' is not a valid loop_var", lc.loop_var),
        ));
    }
    Ok(lc)
}

/// Where a role's or playbook's own modules may be (`library/`).
fn library_dirs(role: Option<&Arc<RoleInfo>>, ctx: &ParseCtx) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = role.map(|r| r.path.join("library")).into_iter().collect();
    dirs.push(ctx.playbook_dir.join("library"));
    dirs
}

/// A task of a module prov does not implement ([`Action::Foreign`]).
fn foreign_action(
    name: &str,
    v: &Node,
    extra_args: Option<&Node>,
    span: &Span,
    role: Option<&Arc<RoleInfo>>,
    ctx: &ParseCtx,
) -> Result<Action> {
    let library = library_dirs(role, ctx);
    if !foreign_module(name, &library) {
        return Err(Error::parse(
            span.clone(),
            format!("unknown module '{name}'"),
        ));
    }
    let any = Signature {
        name: "",
        options: None,
        free_form: FreeForm::KeyValue,
    };
    let (mut args, _) = module_args(any, v, span)?;
    if let Some(extra) = extra_args {
        let (extra_v, _) = module_args(any, extra, &extra.span)?;
        args = crate::vars::deep_merge(&extra_v, &args, false);
    }
    Ok(Action::Foreign {
        module: name.to_string(),
        args,
        library,
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn build_action(
    name: &str,
    v: &Node,
    extra_args: Option<&Node>,
    span: &Span,
    task: &mut Task,
    role: Option<&Arc<RoleInfo>>,
    file: &Arc<PathBuf>,
    ctx: &mut ParseCtx,
    handler: bool,
) -> Result<Action> {
    if let Some(engine) = engine_action_name(name) {
        return engine_action(engine, v, span, task, role, file, ctx, handler);
    }
    let Some(module) = ctx.catalog.module(name) else {
        return foreign_action(name, v, extra_args, span, role, ctx);
    };
    let (mut args, mut keys) = module_args(module, v, span)?;
    if let Some(extra) = extra_args {
        let (extra_v, extra_keys) = match &extra.value {
            Yaml::Map(_) => module_args(module, extra, &extra.span)?,
            _ if crate::template::is_template(extra.as_str().unwrap_or("")) => {
                (extra.to_value(), Vec::new())
            }
            _ => return Err(Error::parse(extra.span.clone(), "args must be a mapping")),
        };
        // Inline arguments win over `args:`.
        args = crate::vars::deep_merge(&extra_v, &args, false);
        keys.extend(extra_keys);
    }
    check_module_options(module, &keys)?;
    Ok(Action::Module {
        module: module.name,
        args,
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn engine_action(
    name: &str,
    v: &Node,
    span: &Span,
    task: &mut Task,
    role: Option<&Arc<RoleInfo>>,
    file: &Arc<PathBuf>,
    ctx: &mut ParseCtx,
    handler: bool,
) -> Result<Action> {
    let arg = |key: &str| v.get(key);
    match name {
        "meta" => {
            let m = v.expect_str("meta")?;
            const METAS: &[&str] = &[
                "flush_handlers",
                "noop",
                "end_play",
                "end_host",
                "end_batch",
                "clear_host_errors",
                "refresh_inventory",
                "reset_connection",
                "clear_facts",
                "end_role",
            ];
            if !METAS.contains(&m) {
                return Err(Error::parse(
                    v.span.clone(),
                    format!(
                        "unknown meta action '{m}'{}",
                        did_you_mean(m, METAS.iter().copied())
                    ),
                ));
            }
            Ok(Action::Meta(m.to_string()))
        }
        "include_vars" => Ok(Action::IncludeVars {
            args: match &v.value {
                Yaml::Str(s) => Value::from_pairs([("file", Value::from(s.as_str()))]),
                _ => v.to_value(),
            },
        }),
        "include_tasks" | "import_tasks" => {
            let (file_v, apply) = match &v.value {
                Yaml::Str(_) => (v.to_value(), None),
                Yaml::Map(_) => {
                    check_keys(v, &["file", "_raw_params", "apply"], name)?;
                    let f = arg("file").or_else(|| arg("_raw_params")).ok_or_else(|| {
                        Error::parse(v.span.clone(), format!("{name} needs a file"))
                    })?;
                    (f.to_value(), arg("apply").map(Node::to_value))
                }
                _ => {
                    return Err(Error::parse(
                        v.span.clone(),
                        format!("{name} needs a file name"),
                    ));
                }
            };
            if name == "include_tasks" {
                return Ok(Action::IncludeTasks {
                    file: file_v,
                    apply,
                });
            }
            if task.loop_.is_some() {
                return Err(Error::parse(
                    span.clone(),
                    "import_tasks cannot loop (use include_tasks)",
                ));
            }
            let fname = file_v.as_str().unwrap_or_default().to_string();
            if crate::template::is_template(&fname) {
                return Err(Error::parse(
                    v.span.clone(),
                    "import_tasks with a templated file name is not supported (use include_tasks)",
                ));
            }
            let path = resolve_task_file(&fname, file, role.map(|r| &**r), &ctx.playbook_dir)
                .ok_or_else(|| {
                    Error::missing(
                        v.span.clone(),
                        format!("could not find imported tasks file '{fname}'"),
                    )
                })?;
            let tasks = load_task_file(&path, &task.d, role, ctx, handler)
                .map_err(|e| e.at(v.span.clone()))?;
            Ok(Action::Block {
                block: tasks,
                rescue: Vec::new(),
                always: Vec::new(),
            })
        }
        "include_role" | "import_role" => {
            let entry = match &v.value {
                Yaml::Map(_) => v,
                _ => {
                    return Err(Error::parse(
                        v.span.clone(),
                        format!("{name} needs a mapping with 'name'"),
                    ));
                }
            };
            const KEYS: &[&str] = &[
                "name",
                "tasks_from",
                "vars_from",
                "defaults_from",
                "handlers_from",
                "public",
                "allow_duplicates",
                "apply",
                "rolespec_validate",
            ];
            check_keys(entry, KEYS, name)?;
            let role_name = entry
                .get("name")
                .ok_or_else(|| Error::parse(v.span.clone(), format!("{name} needs 'name'")))?;
            if name == "include_role" {
                // The role's vars and defaults stay its own; exporting them to the play is not
                // done yet, so asking for it is an error rather than silently ignored.
                if let Some(p) = entry.get("public")
                    && bool_of(p, "public")?
                {
                    return Err(Error::parse(
                        p.span.clone(),
                        "include_role: public: true is not supported by prov yet (the role's variables stay private to it; use import_role)",
                    ));
                }
                return Ok(Action::IncludeRole {
                    name: role_name.to_value(),
                    tasks_from: entry.get("tasks_from").map(Node::to_value),
                    vars_from: entry.get("vars_from").map(Node::to_value),
                    defaults_from: entry.get("defaults_from").map(Node::to_value),
                });
            }
            if task.loop_.is_some() {
                return Err(Error::parse(
                    span.clone(),
                    "import_role cannot loop (use include_role)",
                ));
            }
            let from = |k: &str| entry.get(k).and_then(Node::as_str).map(str::to_string);
            let role = super::role::load_role(
                role_name.expect_str("role name")?,
                &role_name.span,
                &super::role::RoleEntry {
                    params: VarMap::new(),
                    vars: VarMap::new(),
                    tasks_from: from("tasks_from"),
                    vars_from: from("vars_from"),
                    defaults_from: from("defaults_from"),
                    handlers_from: from("handlers_from"),
                },
                &task.d,
                ctx,
            )
            .map_err(|e| e.at(role_name.span.clone()))?;
            let (tasks, handlers, infos) = super::role::tasks_with_deps(&role);
            ctx.extra_handlers.extend(handlers);
            ctx.extra_roles.extend(infos);
            Ok(Action::Block {
                block: tasks,
                rescue: Vec::new(),
                always: Vec::new(),
            })
        }
        _ => Err(Error::parse(
            span.clone(),
            format!("'{name}' is not supported here"),
        )),
    }
}
