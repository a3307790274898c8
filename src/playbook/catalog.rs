//! What the parser knows of modules: their names, accepted options and argument form
//! ([`Signature`]), asked of a [`Catalog`] that the modules layer provides
//! (`modules::CATALOG`). The parser checks a task against it (an unknown module or option is a
//! parse error with its line) and keeps only the module's canonical name; the engine finds the
//! module's code by that name when the task runs. The actions the engine itself carries out
//! (`include_tasks`, `block`, `meta`...) are this layer's own.

/// How a module accepts a free-form string (`module: some text`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeForm {
    /// `k=v k2=v2` pairs only.
    KeyValue,
    /// The text is the command (`_raw_params`); `creates=`, `chdir=` ... are still pairs.
    Command,
}

/// A module as the parser sees it.
#[derive(Clone, Copy, Debug)]
pub struct Signature {
    /// The canonical short name (`lineinfile`), whatever name the task used.
    pub name: &'static str,
    /// Accepted options, aliases included. `None` accepts any key (set_fact).
    pub options: Option<&'static [&'static str]>,
    pub free_form: FreeForm,
}

/// The modules there are.
pub trait Catalog: Sync {
    /// The module a name stands for (short name, FQCN or alias).
    fn module(&self, name: &str) -> Option<Signature>;
    /// Every name a module answers to (for "did you mean").
    fn names(&self) -> Vec<&'static str>;
}

/// Collection prefixes whose names are the builtin ones (`ansible.builtin.copy` is `copy`).
pub const PREFIXES: &[&str] = &[
    "ansible.builtin.",
    "ansible.legacy.",
    "ansible.posix.",
    "community.general.",
];

/// Names handled by the engine itself rather than a module.
pub const ENGINE_ACTIONS: &[&str] = &[
    "meta",
    "include_tasks",
    "import_tasks",
    "include_role",
    "import_role",
    "include_vars",
    "block",
];

/// Short name of an engine action, if `name` is one (with or without FQCN).
pub fn engine_action(name: &str) -> Option<&'static str> {
    let short = PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name);
    ENGINE_ACTIONS.iter().copied().find(|a| *a == short)
}
