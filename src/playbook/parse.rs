//! Parsing playbook and task YAML into [`Play`]s and [`Task`]s, with every error pointing at
//! `file:line:col`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::Value;

use super::catalog::Catalog;
use super::keywords::{self, PLAY};
use super::role::{RoleRef, load_role_refs};
use super::{Directives, Play, Playbook, RoleInfo, Task};
use crate::error::{Error, Result, Span, did_you_mean};
use crate::vars::VarMap;
use crate::yaml::{Node, Yaml};

pub use super::tasks::{load_task_file, parse_tasks, resolve_task_file};

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
    /// The modules tasks may name.
    pub catalog: &'static dyn Catalog,
}

impl ParseCtx {
    pub fn new(
        playbook_dir: &Path,
        roles_path: &[PathBuf],
        catalog: &'static dyn Catalog,
    ) -> ParseCtx {
        ParseCtx {
            catalog,
            roles_path: roles_path.to_vec(),
            playbook_dir: playbook_dir.to_path_buf(),
            extra_handlers: Vec::new(),
            extra_roles: Vec::new(),
            task_files: Vec::new(),
        }
    }

    /// A path for messages: relative to the playbook directory when it is inside it.
    pub(super) fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.playbook_dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// Load a playbook file (plays and `import_playbook`s).
pub fn load_playbook(
    path: &Path,
    roles_path: &[PathBuf],
    catalog: &'static dyn Catalog,
) -> Result<Playbook> {
    let mut plays = Vec::new();
    load_plays(path, roles_path, catalog, &mut plays, 0)?;
    Ok(Playbook { plays })
}

pub(super) fn load_plays(
    path: &Path,
    roles_path: &[PathBuf],
    catalog: &'static dyn Catalog,
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
            load_plays(&target, roles_path, catalog, out, depth + 1)?;
            continue;
        }
        let mut ctx = ParseCtx::new(&dir, roles_path, catalog);
        ctx.task_files
            .push(path.canonicalize().unwrap_or_else(|_| path.to_path_buf()));
        out.push(Arc::new(parse_play(item, &mut ctx)?));
    }
    Ok(())
}

pub(super) fn check_keys(node: &Node, allowed: &[&str], what: &str) -> Result<()> {
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

pub(super) fn unsupported_at(node: &Node, key: &str, span: &Span) -> Result<()> {
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

pub(super) fn bool_of(node: &Node, what: &str) -> Result<bool> {
    match &node.value {
        Yaml::Bool(b) => Ok(*b),
        Yaml::Str(s) => {
            crate::template::filters::parse_bool(&Value::from(s.as_str())).ok_or_else(|| {
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

pub(super) fn string_list(node: &Node, what: &str) -> Result<Vec<String>> {
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

pub(super) fn conditions(node: &Node) -> Vec<Value> {
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
        // prov's own keyword: the task variable of the same name (Ansible ignores vars).
        "prov_safe_reconnect" => {
            let mut m = VarMap::new();
            m.insert(key.to_string(), v.to_value());
            d.vars.push(Arc::new(m));
        }
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
        "delegate_facts" => d.delegate_facts = Some(bool_of(v, "delegate_facts")?),
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
    collect_sources(v, &mut d.sources);
    Ok(true)
}

/// Every string inside a node (keys too: a templated key is templated), with its span.
pub fn collect_sources(node: &Node, out: &mut Vec<super::Source>) {
    match &node.value {
        Yaml::Str(s) => out.push(super::Source {
            text: s.clone(),
            span: node.span.clone(),
        }),
        Yaml::Seq(items) => items.iter().for_each(|n| collect_sources(n, out)),
        Yaml::Map(entries) => {
            for (k, v) in entries {
                collect_sources(k, out);
                collect_sources(v, out);
            }
        }
        _ => {}
    }
}

pub(super) fn parse_play(node: &Node, ctx: &mut ParseCtx) -> Result<Play> {
    check_keys(node, PLAY, "play")?;
    let map = node.expect_map("a play")?;
    let file = node.span.file.clone();
    let mut d = Directives::default();
    let mut play = Play::new(node.span.clone(), ctx.playbook_dir.clone());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::Action;
    use crate::playbook::testing::task;

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
    fn with_loops_may_name_their_lookup_by_collection() {
        let t = task("debug: {msg: x}\nwith_community.general.flattened: [[1]]").unwrap();
        assert_eq!(t.loop_.unwrap().kind, "flattened");
        assert!(task("debug: {msg: x}\nwith_ns.coll.nope: [1]").is_err());
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

    #[test]
    fn include_role_public_is_refused_not_ignored() {
        let e = task("include_role: {name: common, public: true}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("public: true is not supported"), "{e}");
        assert!(task("include_role: {name: common, public: false}").is_ok());
    }
}
