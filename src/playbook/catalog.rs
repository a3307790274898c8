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

/// The module names ansible-core knows without a collection prefix (`.ci/ansible-module-names`).
const ANSIBLE_MODULES: &str = include_str!("ansible_modules.txt");

/// Is `name` a module Ansible could run that prov does not implement: one of ansible-core's
/// own or routed names, a collection's `namespace.collection.module`, or a module file in a
/// `library/` directory of the role or playbook? Such a task parses, and fails (or runs through
/// Ansible's module code) only when it runs.
pub fn foreign_module(name: &str, library_dirs: &[std::path::PathBuf]) -> bool {
    let short = ["ansible.builtin.", "ansible.legacy."]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name);
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    if !short.split('.').all(ident) {
        return false;
    }
    if short.split('.').count() >= 3 {
        return true;
    }
    if short.contains('.') {
        return false;
    }
    if ANSIBLE_MODULES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l == short)
    {
        return true;
    }
    library_dirs.iter().any(|dir| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.filter_map(|e| e.ok()).any(|e| {
                let file = e.file_name();
                let file = file.to_string_lossy();
                file == short || file.strip_suffix(".py") == Some(short)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::foreign_module;

    #[test]
    fn ansibles_names_collections_and_libraries_are_known() {
        for name in [
            "dnf",
            "yum",
            "selinux",
            "ufw",
            "ansible.builtin.dnf",
            "community.general.pamd",
            "my_ns.my_coll.thing",
        ] {
            assert!(foreign_module(name, &[]), "{name}");
        }
        for name in [
            "lineinfle",
            "a.b",
            "ns..x",
            "x y",
            "1.2.3",
            "",
            "# Module names",
        ] {
            assert!(!foreign_module(name, &[]), "{name}");
        }
        let dir = std::env::temp_dir().join(format!("prov-library-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("custom_thing.py"), "#!/usr/bin/python\n").unwrap();
        assert!(foreign_module("custom_thing", std::slice::from_ref(&dir)));
        assert!(!foreign_module("other_thing", std::slice::from_ref(&dir)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
