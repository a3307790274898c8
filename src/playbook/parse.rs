//! Parsing playbook and task YAML into [`Play`]s and [`Task`]s, with every error pointing at
//! `file:line:col`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::Value;

use super::keywords::{self, BLOCK, PLAY, TASK, WITH_LOOPS};
use super::role::{RoleRef, load_role_refs};
use super::{Action, Directives, Loop, LoopControl, Play, Playbook, RoleInfo, Task};
use crate::error::{Error, Result, Span, did_you_mean};
use crate::modules::{self, FreeForm};
use crate::vars::VarMap;
use crate::yaml::{Node, Yaml};

/// State shared while parsing one playbook.
pub struct ParseCtx {
    /// Extra role directories (ansible.cfg `roles_path`).
    pub roles_path: Vec<PathBuf>,
    /// Directory of the playbook being parsed.
    pub playbook_dir: PathBuf,
    /// Handlers contributed by statically imported roles.
    pub extra_handlers: Vec<Arc<Task>>,
    /// Roles imported statically (their vars are visible to the play).
    pub extra_roles: Vec<Arc<RoleInfo>>,
    /// The files being parsed, outermost first (canonical paths): the playbook, then each
    /// imported tasks file. A file that is already here imports itself.
    pub task_files: Vec<PathBuf>,
}

impl ParseCtx {
    pub fn new(playbook_dir: &Path, roles_path: &[PathBuf]) -> ParseCtx {
        ParseCtx {
            roles_path: roles_path.to_vec(),
            playbook_dir: playbook_dir.to_path_buf(),
            extra_handlers: Vec::new(),
            extra_roles: Vec::new(),
            task_files: Vec::new(),
        }
    }

    /// A path for messages: relative to the playbook directory when it is inside it.
    fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.playbook_dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// Load a playbook file (plays and `import_playbook`s).
pub fn load_playbook(path: &Path, roles_path: &[PathBuf]) -> Result<Playbook> {
    let mut plays = Vec::new();
    load_plays(path, roles_path, &mut plays, 0)?;
    Ok(Playbook {
        path: path.to_path_buf(),
        plays,
    })
}

fn load_plays(
    path: &Path,
    roles_path: &[PathBuf],
    out: &mut Vec<Arc<Play>>,
    depth: usize,
) -> Result<()> {
    if depth > 16 {
        return Err(Error::parse(
            Span::file(path),
            "import_playbook nested too deeply",
        ));
    }
    let root = crate::yaml::load_file(path)?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    if root.is_null() {
        return Ok(());
    }
    for item in root.expect_seq("a playbook")? {
        let map = item.expect_map("a play")?;
        if let Some(imp) = item
            .get("import_playbook")
            .or_else(|| item.get("ansible.builtin.import_playbook"))
        {
            for (k, _) in map {
                let k = k.key_string()?;
                if !matches!(
                    k.as_str(),
                    "import_playbook"
                        | "ansible.builtin.import_playbook"
                        | "name"
                        | "vars"
                        | "tags"
                        | "when"
                ) {
                    return Err(Error::parse(
                        item.span.clone(),
                        format!("'{k}' is not valid next to import_playbook"),
                    ));
                }
            }
            let file = imp.expect_str("import_playbook")?;
            let target = dir.join(file);
            if !target.is_file() {
                return Err(Error::parse(
                    imp.span.clone(),
                    format!(
                        "imported playbook '{file}' not found ({})",
                        target.display()
                    ),
                ));
            }
            load_plays(&target, roles_path, out, depth + 1)?;
            continue;
        }
        let mut ctx = ParseCtx::new(&dir, roles_path);
        ctx.task_files
            .push(path.canonicalize().unwrap_or_else(|_| path.to_path_buf()));
        out.push(Arc::new(parse_play(item, &mut ctx)?));
    }
    Ok(())
}

fn check_keys(node: &Node, allowed: &[&str], what: &str) -> Result<()> {
    for (k, _) in node.expect_map(what)? {
        let key = k.key_string()?;
        if !allowed.contains(&key.as_str()) {
            return Err(Error::parse(
                k.span.clone(),
                format!(
                    "'{key}' is not a valid keyword for a {what}{}",
                    did_you_mean(&key, allowed.iter().copied())
                ),
            ));
        }
    }
    Ok(())
}

fn unsupported_at(node: &Node, key: &str, span: &Span) -> Result<()> {
    if let Some(msg) = keywords::unsupported(key) {
        if key == "async"
            && node.get("async").and_then(|n| n.scalar_string()).as_deref() == Some("0")
        {
            return Ok(());
        }
        return Err(Error::parse(span.clone(), format!("'{key}': {msg}")));
    }
    Ok(())
}

fn bool_of(node: &Node, what: &str) -> Result<bool> {
    match &node.value {
        Yaml::Bool(b) => Ok(*b),
        Yaml::Str(s) => {
            crate::modules::args::parse_bool(&Value::from(s.as_str())).ok_or_else(|| {
                Error::parse(
                    node.span.clone(),
                    format!("{what} must be a boolean, got '{s}'"),
                )
            })
        }
        Yaml::Int(i) if *i == 0 || *i == 1 => Ok(*i == 1),
        _ => Err(Error::parse(
            node.span.clone(),
            format!("{what} must be a boolean"),
        )),
    }
}

/// A `vars:` section as a variable map (a mapping, or a list of mappings).
pub fn vars_map(node: &Node, what: &str) -> Result<VarMap> {
    let mut out = VarMap::new();
    match &node.value {
        Yaml::Null => {}
        Yaml::Map(entries) => {
            for (k, v) in entries {
                out.insert(k.key_string()?, v.to_value());
            }
        }
        Yaml::Seq(items) => {
            for i in items {
                out.extend(vars_map(i, what)?);
            }
        }
        _ => {
            return Err(Error::parse(
                node.span.clone(),
                format!("{what} must be a mapping"),
            ));
        }
    }
    Ok(out)
}

fn string_list(node: &Node, what: &str) -> Result<Vec<String>> {
    match &node.value {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Seq(items) => items
            .iter()
            .map(|i| {
                i.scalar_string().ok_or_else(|| {
                    Error::parse(i.span.clone(), format!("{what} entries must be strings"))
                })
            })
            .collect(),
        Yaml::Str(s) => Ok(s
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()),
        _ => node.scalar_string().map(|s| vec![s]).ok_or_else(|| {
            Error::parse(
                node.span.clone(),
                format!("{what} must be a string or a list"),
            )
        }),
    }
}

fn conditions(node: &Node) -> Vec<Value> {
    match &node.value {
        Yaml::Seq(items) => items.iter().map(Node::to_value).collect(),
        Yaml::Null => Vec::new(),
        _ => vec![node.to_value()],
    }
}

/// Apply one inheritable keyword to directives. Returns false if `key` is not one.
pub fn apply_directive(d: &mut Directives, key: &str, v: &Node) -> Result<bool> {
    match key {
        "when" => d.when.extend(conditions(v)),
        "tags" => {
            for t in string_list(v, "tags")? {
                if !d.tags.contains(&t) {
                    d.tags.push(t);
                }
            }
        }
        "vars" => d.vars.push(Arc::new(vars_map(v, "vars")?)),
        "become" => d.become_ = Some(v.to_value()),
        "become_user" => d.become_user = Some(v.to_value()),
        "become_method" => {
            let m = v.expect_str("become_method")?;
            if !matches!(m, "sudo" | "su") {
                return Err(Error::parse(
                    v.span.clone(),
                    format!("become_method '{m}' is not supported (sudo and su are)"),
                ));
            }
            d.become_method = Some(m.to_string());
        }
        "environment" => d.environment.push(v.to_value()),
        "ignore_errors" => d.ignore_errors = Some(v.to_value()),
        "ignore_unreachable" => d.ignore_unreachable = Some(bool_of(v, "ignore_unreachable")?),
        "check_mode" => d.check_mode = Some(v.to_value()),
        "diff" => d.diff = Some(bool_of(v, "diff")?),
        "no_log" => d.no_log = Some(v.to_value()),
        "delegate_to" => d.delegate_to = Some(v.to_value()),
        "run_once" => d.run_once = Some(bool_of(v, "run_once")?),
        "any_errors_fatal" => d.any_errors_fatal = Some(bool_of(v, "any_errors_fatal")?),
        "throttle" => {
            d.throttle = match &v.value {
                Yaml::Int(i) if *i >= 0 => Some(*i as usize),
                _ => return Err(Error::parse(v.span.clone(), "throttle must be a number")),
            }
        }
        "timeout" => {
            d.timeout = match &v.value {
                Yaml::Int(i) if *i >= 0 => Some(*i as u64),
                _ => {
                    return Err(Error::parse(
                        v.span.clone(),
                        "timeout must be a number of seconds",
                    ));
                }
            }
        }
        "collections" | "debugger" => {}
        _ => return Ok(false),
    }
    Ok(true)
}

fn parse_play(node: &Node, ctx: &mut ParseCtx) -> Result<Play> {
    check_keys(node, PLAY, "play")?;
    let map = node.expect_map("a play")?;
    let file = node.span.file.clone();
    let mut d = Directives::default();
    let mut play = Play {
        span: node.span.clone(),
        name: String::new(),
        hosts: String::new(),
        dir: ctx.playbook_dir.clone(),
        vars: Arc::new(VarMap::new()),
        vars_files: Vec::new(),
        roles: Vec::new(),
        var_roles: Vec::new(),
        connection: None,
        remote_user: None,
        pre_tasks: Vec::new(),
        tasks: Vec::new(),
        post_tasks: Vec::new(),
        handlers: Vec::new(),
        gather_facts: true,
        gather_subset: Vec::new(),
        serial: None,
        any_errors_fatal: false,
        max_fail_percentage: None,
        force_handlers: false,
        directives: Directives::default(),
    };
    let mut hosts_seen = false;
    // First pass: keywords that tasks inherit.
    for (k, v) in map {
        let key = k.key_string()?;
        match key.as_str() {
            "name" => play.name = v.scalar_string().unwrap_or_default(),
            "hosts" => {
                hosts_seen = true;
                play.hosts = match &v.value {
                    Yaml::Seq(items) => items
                        .iter()
                        .filter_map(Node::scalar_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => v.scalar_string().ok_or_else(|| {
                        Error::parse(v.span.clone(), "hosts must be a pattern or a list")
                    })?,
                };
            }
            "vars" => play.vars = Arc::new(vars_map(v, "vars")?),
            "vars_files" => {
                let items: Vec<&Node> = match &v.value {
                    Yaml::Seq(items) => items.iter().collect(),
                    Yaml::Null => Vec::new(),
                    _ => vec![v],
                };
                for i in items {
                    play.vars_files.push((i.to_value(), i.span.clone()));
                }
            }
            "gather_facts" => play.gather_facts = bool_of(v, "gather_facts")?,
            "gather_subset" => play.gather_subset = string_list(v, "gather_subset")?,
            "serial" => play.serial = Some(v.to_value()),
            "any_errors_fatal" => play.any_errors_fatal = bool_of(v, "any_errors_fatal")?,
            "max_fail_percentage" => {
                play.max_fail_percentage = match &v.value {
                    Yaml::Int(i) => Some(*i as f64),
                    Yaml::Float(f) => Some(*f),
                    _ => {
                        return Err(Error::parse(
                            v.span.clone(),
                            "max_fail_percentage must be a number",
                        ));
                    }
                }
            }
            "force_handlers" => play.force_handlers = bool_of(v, "force_handlers")?,
            "connection" => {
                let c = v.expect_str("connection")?;
                play.connection = Some(c.to_string());
            }
            "remote_user" => play.remote_user = Some(v.expect_str("remote_user")?.to_string()),
            "strategy" => {
                let s = v.expect_str("strategy")?;
                if !matches!(s, "linear" | "ansible.builtin.linear") {
                    return Err(Error::parse(
                        v.span.clone(),
                        format!("strategy '{s}' is not supported (prov runs linear plays)"),
                    ));
                }
            }
            "order" => {
                let o = v.expect_str("order")?;
                if o != "inventory" {
                    return Err(Error::parse(
                        v.span.clone(),
                        format!("order '{o}' is not supported (inventory order is)"),
                    ));
                }
            }
            "roles" | "pre_tasks" | "tasks" | "post_tasks" | "handlers" | "gather_timeout"
            | "fact_path" => {}
            other => {
                unsupported_at(node, other, &k.span)?;
                if !apply_directive(&mut d, other, v)? {
                    return Err(Error::parse(
                        k.span.clone(),
                        format!("'{other}' is not valid on a play"),
                    ));
                }
            }
        }
    }
    if !hosts_seen {
        return Err(Error::parse(node.span.clone(), "the play has no 'hosts'"));
    }
    play.directives = d.clone();
    let section = |name: &str, ctx: &mut ParseCtx, handlers: bool| -> Result<Vec<Arc<Task>>> {
        match node.get(name) {
            Some(n) => parse_tasks(n, &d, None, &file, ctx, handlers),
            None => Ok(Vec::new()),
        }
    };
    play.pre_tasks = section("pre_tasks", ctx, false)?;
    if let Some(roles) = node.get("roles") {
        let refs = load_role_refs(roles, &d, ctx)?;
        let RoleRef { roles, .. } = refs;
        play.roles = roles;
    }
    play.tasks = section("tasks", ctx, false)?;
    play.post_tasks = section("post_tasks", ctx, false)?;
    let own_handlers = section("handlers", ctx, true)?;
    for r in &play.roles {
        play.handlers.extend(r.handlers.iter().cloned());
        play.var_roles.push(r.info.clone());
    }
    play.handlers.append(&mut ctx.extra_handlers);
    play.var_roles.append(&mut ctx.extra_roles);
    play.handlers.extend(own_handlers);
    if play.name.is_empty() {
        play.name = play.hosts.clone();
    }
    Ok(play)
}

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
const FREE_FORM_KEYS: &[&str] = &[
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
fn inherit(parent: &Directives, own: Directives) -> Directives {
    let mut d = parent.clone();
    d.when.extend(own.when);
    for t in own.tags {
        if !d.tags.contains(&t) {
            d.tags.push(t);
        }
    }
    d.vars.extend(own.vars);
    d.environment.extend(own.environment);
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
        run_once,
        any_errors_fatal,
        throttle,
        timeout
    );
    d
}

fn module_args(
    module: &'static dyn modules::Module,
    v: &Node,
    span: &Span,
) -> Result<(Value, Vec<(String, Span)>)> {
    let free = module.free_form() == FreeForm::Command;
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

fn check_module_options(
    module: &'static dyn modules::Module,
    keys: &[(String, Span)],
) -> Result<()> {
    let Some(options) = module.options() else {
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
                    module.name(),
                    did_you_mean(k, shown.iter().copied())
                ),
            ));
        }
    }
    Ok(())
}

fn parse_task(
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
    let mut task = Task {
        span: node.span.clone(),
        name: None,
        action: Action::Meta("noop".into()),
        d: Directives::default(),
        role: role.cloned(),
        register: None,
        notify: Vec::new(),
        listen: Vec::new(),
        loop_: None,
        loop_control: LoopControl::default(),
        changed_when: None,
        failed_when: None,
        until: None,
        retries: None,
        delay: None,
        file: file.clone(),
    };
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
                let lookup = &k2[5..];
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
                if modules::lookup(other).is_some() || modules::engine_action(other).is_some() {
                    if let Some((prev, _, _)) = &action {
                        return Err(Error::parse(
                            k.span.clone(),
                            format!("conflicting action statements: {prev}, {other}"),
                        ));
                    }
                    action = Some((other.to_string(), v.clone(), k.span.clone()));
                } else {
                    let mut candidates: Vec<&str> = modules::all_names();
                    candidates.extend(TASK.iter().copied());
                    candidates.extend(modules::ENGINE_ACTIONS.iter().copied());
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

fn set_loop(task: &mut Task, kind: &str, v: &Node, span: &Span) -> Result<()> {
    if task.loop_.is_some() {
        return Err(Error::parse(span.clone(), "a task can only have one loop"));
    }
    task.loop_ = Some(Loop {
        kind: kind.to_string(),
        value: v.to_value(),
    });
    Ok(())
}

fn parse_loop_control(v: &Node) -> Result<LoopControl> {
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

#[allow(clippy::too_many_arguments)]
fn build_action(
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
    if let Some(engine) = modules::engine_action(name) {
        return engine_action(engine, v, span, task, role, file, ctx, handler);
    }
    let module = modules::lookup(name)
        .ok_or_else(|| Error::parse(span.clone(), format!("unknown module '{name}'")))?;
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
    Ok(Action::Module { module, args })
}

#[allow(clippy::too_many_arguments)]
fn engine_action(
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
                    Error::parse(
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
                return Ok(Action::IncludeRole {
                    name: role_name.to_value(),
                    tasks_from: entry.get("tasks_from").map(Node::to_value),
                    vars_from: entry.get("vars_from").map(Node::to_value),
                    defaults_from: entry.get("defaults_from").map(Node::to_value),
                    public: entry
                        .get("public")
                        .map(|p| bool_of(p, "public"))
                        .transpose()?
                        .unwrap_or(false),
                    params: VarMap::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn task(yaml: &str) -> Result<Task> {
        let node = crate::yaml::parse_str(yaml, "t.yml")?;
        let mut ctx = ParseCtx::new(Path::new("."), &[]);
        parse_task(
            &node,
            &Directives::default(),
            None,
            &Arc::new(PathBuf::from("t.yml")),
            &mut ctx,
            false,
        )
    }

    #[test]
    fn fqcn_and_short_names() {
        for y in [
            "ansible.builtin.lineinfile: {path: /f, line: x}",
            "lineinfile: {path: /f, line: x}",
        ] {
            assert_eq!(task(y).unwrap().module_name(), Some("lineinfile"));
        }
        assert_eq!(
            task("ansible.builtin.systemd_service: {name: x}")
                .unwrap()
                .module_name(),
            Some("systemd")
        );
    }

    #[test]
    fn typos_are_errors_with_suggestions() {
        let e = task("name: x\nlineinfle:\n  path: /f\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.yml:2:1: 'lineinfle' is not a module or task keyword (did you mean 'lineinfile'?)"
        );
        let e = task("copy:\n  dest: /f\n  contnet: x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.yml:3:3: unsupported parameter 'contnet' for module 'copy' (did you mean 'content'?)"
        );
        let e = task("debug: msg=x\nwhn: true\n").unwrap_err();
        assert!(e.to_string().contains("(did you mean 'when'?)"), "{e}");
        let e = task("copy: {dest: /f, content: x}\nfile: {path: /f}\n").unwrap_err();
        assert!(
            e.to_string().contains("conflicting action statements"),
            "{e}"
        );
    }

    #[test]
    fn key_value_and_free_form_args() {
        let t = task("file: path=/etc/x mode=0644 state=directory").unwrap();
        let Action::Module { args, .. } = &t.action else {
            panic!()
        };
        assert_eq!(args.get_attr("mode").unwrap(), Value::from("0644"));
        let t = task("shell: echo a=b > /tmp/x chdir=/tmp creates=/tmp/x").unwrap();
        let Action::Module { args, .. } = &t.action else {
            panic!()
        };
        assert_eq!(
            args.get_attr("_raw_params").unwrap(),
            Value::from("echo a=b > /tmp/x")
        );
        assert_eq!(args.get_attr("chdir").unwrap(), Value::from("/tmp"));
        assert!(task("file: path=/x bogus=1").is_err());
        let t = task("shell: |\n  set -e\n  echo \"it's\" > /tmp/x\n  cat /tmp/x\n").unwrap();
        let Action::Module { args, .. } = &t.action else {
            panic!()
        };
        assert_eq!(
            args.get_attr("_raw_params").unwrap(),
            Value::from("set -e\necho \"it's\" > /tmp/x\ncat /tmp/x")
        );
    }

    #[test]
    fn blocks_inherit_and_accumulate() {
        let t = task("block:\n  - debug: msg=x\n    when: b\n    tags: [t2]\nwhen: a\ntags: t1\nbecome: true\nvars: {v: 1}\n").unwrap();
        let Action::Block { block, .. } = &t.action else {
            panic!()
        };
        let inner = &block[0];
        assert_eq!(inner.d.when, vec![Value::from("a"), Value::from("b")]);
        assert_eq!(inner.d.tags, ["t1", "t2"]);
        assert_eq!(inner.d.become_, Some(Value::from(true)));
        assert_eq!(inner.d.vars.len(), 1);
    }

    #[test]
    fn loops_and_unsupported_keywords() {
        let t = task(
            "debug: var=item\nwith_items: [1, 2]\nloop_control: {loop_var: x, label: '{{ x }}'}",
        )
        .unwrap();
        assert_eq!(t.loop_.as_ref().unwrap().kind, "items");
        assert_eq!(t.loop_control.loop_var, "x");
        assert!(
            task("debug: var=item\nwith_bogus: [1]")
                .unwrap_err()
                .to_string()
                .contains("not supported")
        );
        assert!(
            task("command: sleep 10\nasync: 10\npoll: 0")
                .unwrap_err()
                .to_string()
                .contains("async tasks are not supported")
        );
        assert!(task("debug: msg=x\nlisten: y").is_err());
    }
}
