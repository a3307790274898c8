//! Playbooks: plays, roles, blocks, tasks and handlers, parsed with their source positions.
//!
//! Parsing resolves everything that is static in Ansible: roles (with `meta` dependencies),
//! `import_tasks`/`import_role`/`import_playbook`, and the inheritance of keywords from plays,
//! roles and blocks down to each task ([`Directives`]: `when` conditions accumulate, tags
//! union, block `vars` stack, `become`/`environment`/`ignore_errors`... are overridden by the
//! innermost). Module names and their options are checked here, against the modules'
//! [`catalog`], so a typo is an error with `file:line:col` and a suggestion before anything
//! runs. Dynamic includes stay as [`Action::IncludeTasks`]/[`Action::IncludeRole`] and are
//! parsed when reached.

pub mod catalog;
pub mod keywords;
pub mod parse;
pub mod role;
mod tasks;
#[cfg(test)]
pub mod testing;

use std::path::PathBuf;
use std::sync::Arc;

use minijinja::Value;

use crate::error::Span;
use crate::vars::VarMap;

/// A parsed playbook file (with imported playbooks spliced in).
#[derive(Debug)]
pub struct Playbook {
    pub plays: Vec<Arc<Play>>,
}

/// One play.
#[derive(Debug)]
pub struct Play {
    pub span: Span,
    pub name: String,
    /// Host pattern (may be templated with extra vars).
    pub hosts: String,
    /// Directory of the file that defined this play (`playbook_dir`).
    pub dir: PathBuf,
    pub vars: Arc<VarMap>,
    pub vars_files: Vec<(Value, Span)>,
    /// Roles in execution order (dependencies first, duplicates removed).
    pub roles: Vec<Arc<Role>>,
    /// Every role whose defaults and vars the play exposes (also statically imported ones).
    pub var_roles: Vec<Arc<RoleInfo>>,
    /// `connection:` and `remote_user:` set on the play.
    pub connection: Option<String>,
    pub remote_user: Option<String>,
    pub pre_tasks: Vec<Arc<Task>>,
    pub tasks: Vec<Arc<Task>>,
    pub post_tasks: Vec<Arc<Task>>,
    /// Role handlers first, then the play's own, as Ansible orders them.
    pub handlers: Vec<Arc<Task>>,
    pub gather_facts: bool,
    pub gather_subset: Vec<String>,
    pub serial: Option<Value>,
    pub any_errors_fatal: bool,
    pub max_fail_percentage: Option<f64>,
    pub force_handlers: bool,
    /// Keywords set on the play itself (for the implicit fact gathering task).
    pub directives: Directives,
}

impl Play {
    /// A play with nothing in it yet (no hosts, tasks or variables; facts gathered, as a
    /// play's default), defined at `span` in directory `dir`.
    pub fn new(span: Span, dir: PathBuf) -> Play {
        Play {
            span,
            name: String::new(),
            hosts: String::new(),
            dir,
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
        }
    }
}

/// What a role's tasks need to know about their role (name, path, variables).
#[derive(Debug)]
pub struct RoleInfo {
    pub name: String,
    pub path: PathBuf,
    pub defaults: Arc<VarMap>,
    /// `vars/main.yml`, then the role's parameters, then its entry `vars:` (Ansible's order).
    pub vars: Arc<VarMap>,
    /// Identity for de-duplication: name and parameters.
    pub key: String,
}

/// A role instance (a role used with different parameters is a different instance).
#[derive(Debug)]
pub struct Role {
    pub info: Arc<RoleInfo>,
    pub tasks: Vec<Arc<Task>>,
    pub handlers: Vec<Arc<Task>>,
    /// `meta/main.yml` dependencies (they run first).
    pub deps: Vec<Arc<Role>>,
    pub allow_duplicates: bool,
}

/// Keywords a task inherits from its play, role and blocks.
#[derive(Clone, Debug, Default)]
pub struct Directives {
    /// All must hold (outer first).
    pub when: Vec<Value>,
    pub tags: Vec<String>,
    /// Block and task `vars`, outer first.
    pub vars: Vec<Arc<VarMap>>,
    pub become_: Option<Value>,
    pub become_user: Option<Value>,
    pub become_method: Option<String>,
    /// `environment:` dicts, outer first (inner keys win).
    pub environment: Vec<Value>,
    pub ignore_errors: Option<Value>,
    pub ignore_unreachable: Option<bool>,
    pub check_mode: Option<Value>,
    pub diff: Option<bool>,
    pub no_log: Option<Value>,
    pub delegate_to: Option<Value>,
    /// Facts the task sets go to the delegate, not the host.
    pub delegate_facts: Option<bool>,
    /// A block's `notify`: its tasks notify these unless they name their own.
    pub notify: Vec<String>,
    pub run_once: Option<bool>,
    pub any_errors_fatal: Option<bool>,
    pub throttle: Option<usize>,
    pub timeout: Option<u64>,
    /// The strings these keywords were written with (outer first), for [`Task::source_of`].
    pub sources: Vec<Source>,
}

/// A string a task may template, as the YAML holds it, and where that value is written: a
/// templating error that happens while the task runs points there.
#[derive(Clone, Debug)]
pub struct Source {
    pub text: String,
    pub span: Span,
}

/// How a task loops.
#[derive(Clone, Debug)]
pub struct Loop {
    /// `loop`, or the `with_*` lookup name (`items`, `dict`, ...).
    pub kind: String,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub struct LoopControl {
    pub loop_var: String,
    pub index_var: Option<String>,
    pub label: Option<Value>,
    pub pause: Option<f64>,
    pub extended: bool,
}

impl Default for LoopControl {
    fn default() -> Self {
        LoopControl {
            loop_var: "item".into(),
            index_var: None,
            label: None,
            pause: None,
            extended: false,
        }
    }
}

/// One task (or block, or include) as written, with its effective keywords.
#[derive(Debug)]
pub struct Task {
    pub span: Span,
    pub name: Option<String>,
    pub action: Action,
    pub d: Directives,
    /// The role this task belongs to, if any.
    pub role: Option<Arc<RoleInfo>>,
    pub register: Option<String>,
    pub notify: Vec<String>,
    pub listen: Vec<String>,
    pub loop_: Option<Loop>,
    pub loop_control: LoopControl,
    pub changed_when: Option<Vec<Value>>,
    pub failed_when: Option<Vec<Value>>,
    pub until: Option<Value>,
    pub retries: Option<Value>,
    pub delay: Option<Value>,
    /// The file the task came from (relative includes resolve against its directory).
    pub file: Arc<PathBuf>,
    /// Every string of the task's own mapping (not of a block's tasks), with its span.
    pub sources: Vec<Source>,
}

#[derive(Debug)]
pub enum Action {
    Module {
        /// The module's canonical name ([`catalog::Signature::name`]).
        module: &'static str,
        args: Value,
    },
    Block {
        block: Vec<Arc<Task>>,
        rescue: Vec<Arc<Task>>,
        always: Vec<Arc<Task>>,
    },
    IncludeTasks {
        file: Value,
        apply: Option<Value>,
    },
    IncludeRole {
        name: Value,
        tasks_from: Option<Value>,
        vars_from: Option<Value>,
        defaults_from: Option<Value>,
    },
    IncludeVars {
        args: Value,
    },
    Meta(String),
    /// A module prov does not implement (an Ansible builtin, a collection's module or one in a
    /// `library/` directory, see [`catalog::foreign_module`]): it runs only through Ansible's
    /// own module code, and fails when it runs where that is not available.
    Foreign {
        /// The name as the task wrote it (`community.general.ufw`, `selinux`).
        module: String,
        args: Value,
        /// The `library/` directories of the role and playbook, where a local module may be.
        library: Vec<PathBuf>,
    },
}

impl Task {
    /// A task with `action` and nothing else set: the one place a task is made whole (the
    /// parser fills in what the YAML says; the engine makes its implicit ones from it).
    pub fn new(span: Span, file: Arc<PathBuf>, action: Action, d: Directives) -> Task {
        Task {
            span,
            name: None,
            action,
            d,
            role: None,
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
            file,
            sources: Vec::new(),
        }
    }

    /// Where the task wrote the template `text`: the string that is exactly it (the task's
    /// own before inherited ones, the innermost block first), else the first that contains
    /// it (`msg="{{ x }}"` holds `{{ x }}`).
    pub fn source_of(&self, text: &str) -> Option<&Source> {
        let all = || self.sources.iter().chain(self.d.sources.iter().rev());
        all()
            .find(|s| s.text == text)
            .or_else(|| all().find(|s| !text.is_empty() && s.text.contains(text)))
    }

    /// The name shown in output: `role : name`, or the module name.
    pub fn display_name(&self) -> String {
        let base = match (&self.name, &self.action) {
            (Some(n), _) => n.clone(),
            (None, Action::Module { module, .. }) => module.to_string(),
            (None, Action::Block { .. }) => "block".into(),
            (None, Action::IncludeTasks { .. }) => "include_tasks".into(),
            (None, Action::IncludeRole { .. }) => "include_role".into(),
            (None, Action::IncludeVars { .. }) => "include_vars".into(),
            (None, Action::Meta(m)) => format!("meta: {m}"),
            (None, Action::Foreign { module, .. }) => module.clone(),
        };
        match &self.role {
            Some(r) => format!("{} : {base}", r.name),
            None => base,
        }
    }

    pub fn module_name(&self) -> Option<&'static str> {
        match &self.action {
            Action::Module { module, .. } => Some(module),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_task_finds_the_value_that_holds_an_expression() {
        let t = super::testing::task(
            "debug: msg=\"{{ a }}\"\nwhen: [x == 1, \"{{ y }}\"]\nloop: \"{{ a }}\"\nvars: {v: '{{ z }}'}\n",
        )
        .unwrap();
        let at = |text: &str| t.source_of(text).map(|s| (s.span.line, s.span.col));
        // The exact string first (the loop, not the free-form args that contain it).
        assert_eq!(at("{{ a }}"), Some((3, 7)));
        assert_eq!(at("x == 1"), Some((2, 8)));
        assert_eq!(at("{{ y }}"), Some((2, 16)));
        assert_eq!(at("{{ z }}"), Some((4, 11)));
        // Else a string that contains it.
        assert_eq!(at("a }}"), Some((1, 8)));
        assert_eq!(at("nothing"), None);
        assert_eq!(at(""), None);
    }
}
