//! Typed access to a task's templated module arguments.
//!
//! Arguments arrive as a map of template values. Ansible is lenient about their types
//! (`force: yes` from a `k=v` string is the text "yes"), so the accessors here convert the way
//! Ansible's argument spec does, and fail with the option's name when they cannot. Unknown
//! option names are rejected earlier, at parse time (see [`crate::playbook`]).

use indexmap::IndexMap;
use minijinja::Value;
use minijinja::value::ValueKind;

use crate::error::{Error, Result};
use crate::template::to_text;

/// A module's arguments.
#[derive(Clone, Debug, Default)]
pub struct Args {
    pub module: &'static str,
    map: IndexMap<String, Value>,
}

impl Args {
    /// Build from a templated map; `omit` placeholders drop their key.
    pub fn new(module: &'static str, value: &Value, omit: &str) -> Result<Args> {
        let mut map = IndexMap::new();
        if value.kind() == ValueKind::Map {
            for key in value.try_iter()? {
                let v = value.get_item(&key)?;
                if v.as_str() == Some(omit) {
                    continue;
                }
                map.insert(to_text(&key), v);
            }
        } else if !value.is_none() && !value.is_undefined() {
            return Err(Error::runtime(format!(
                "{module}: arguments must be a mapping"
            )));
        }
        Ok(Args { module, map })
    }

    /// These arguments without one (a key another module does not take).
    pub fn without(mut self, key: &str) -> Args {
        self.map.shift_remove(key);
        self
    }

    /// Build from pairs (tests).
    #[cfg(test)]
    pub fn from_pairs(module: &'static str, pairs: &[(&str, Value)]) -> Args {
        Args {
            module,
            map: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    fn bad(&self, name: &str, what: &str, v: &Value) -> Error {
        Error::runtime(format!(
            "{}: option '{name}' must be {what}, got {}",
            self.module,
            crate::template::py_repr(v)
        ))
    }

    /// The raw value of the first present name (aliases after the canonical name).
    pub fn get(&self, names: &[&str]) -> Option<&Value> {
        names
            .iter()
            .find_map(|n| self.map.get(*n))
            .filter(|v| !v.is_none())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(&[name]).is_some()
    }

    pub fn map(&self) -> &IndexMap<String, Value> {
        &self.map
    }

    /// A string option (numbers and booleans are stringified as Ansible does).
    pub fn str(&self, names: &[&str]) -> Result<Option<String>> {
        match self.get(names) {
            None => Ok(None),
            Some(v) => match v.kind() {
                ValueKind::String | ValueKind::Number | ValueKind::Bool => Ok(Some(to_text(v))),
                _ => Err(self.bad(names[0], "a string", v)),
            },
        }
    }

    pub fn req_str(&self, names: &[&str]) -> Result<String> {
        self.str(names)?.ok_or_else(|| {
            Error::runtime(format!(
                "{}: missing required option '{}'",
                self.module, names[0]
            ))
        })
    }

    /// A boolean option; Ansible's spellings (yes/no/on/off/1/0/true/false) are accepted.
    pub fn bool(&self, names: &[&str], default: bool) -> Result<bool> {
        match self.get(names) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| self.bad(names[0], "a boolean", v)),
        }
    }

    pub fn opt_bool(&self, names: &[&str]) -> Result<Option<bool>> {
        match self.get(names) {
            None => Ok(None),
            Some(v) => parse_bool(v)
                .map(Some)
                .ok_or_else(|| self.bad(names[0], "a boolean", v)),
        }
    }

    pub fn int(&self, names: &[&str]) -> Result<Option<i64>> {
        match self.get(names) {
            None => Ok(None),
            Some(v) => match v.as_i64() {
                Some(i) => Ok(Some(i)),
                None => to_text(v)
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| self.bad(names[0], "an integer", v)),
            },
        }
    }

    /// A list option; a string is split on commas, as Ansible's `type: list` does.
    pub fn list(&self, names: &[&str]) -> Result<Vec<String>> {
        match self.get(names) {
            None => Ok(Vec::new()),
            Some(v) => match v.kind() {
                ValueKind::Seq | ValueKind::Iterable => {
                    Ok(v.try_iter()?.map(|i| to_text(&i)).collect())
                }
                ValueKind::String => Ok(to_text(v)
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()),
                ValueKind::Number => Ok(vec![to_text(v)]),
                _ => Err(self.bad(names[0], "a list", v)),
            },
        }
    }

    /// One of a fixed set of choices.
    pub fn choice(
        &self,
        names: &[&str],
        choices: &[&str],
        default: Option<&str>,
    ) -> Result<Option<String>> {
        match self.str(names)? {
            None => Ok(default.map(str::to_string)),
            Some(s) if choices.contains(&s.as_str()) => Ok(Some(s)),
            Some(s) => Err(Error::runtime(format!(
                "{}: option '{}' must be one of {}, got '{s}'",
                self.module,
                names[0],
                choices.join(", ")
            ))),
        }
    }

    /// A choice parsed into its enum ([`Choice`]): the error lists the allowed values.
    pub fn choose<T: Choice>(&self, names: &[&str], default: T) -> Result<T> {
        Ok(self.choose_opt(names)?.unwrap_or(default))
    }

    /// A choice parsed into its enum, `None` when the option is not given.
    pub fn choose_opt<T: Choice>(&self, names: &[&str]) -> Result<Option<T>> {
        let values: Vec<&str> = T::VALUES.iter().map(|(name, _)| *name).collect();
        Ok(self.choice(names, &values, None)?.and_then(|s| {
            T::VALUES
                .iter()
                .find(|(name, _)| *name == s)
                .map(|(_, v)| *v)
        }))
    }

    /// `mode`: an integer (YAML `0644` is already 420), an octal string, a symbolic mode
    /// (`u=rw,g=r,o=`), or `preserve`.
    pub fn mode(&self, names: &[&str]) -> Result<Option<super::mode::ModeSpec>> {
        let Some(v) = self.get(names) else {
            return Ok(None);
        };
        super::mode::ModeSpec::parse(v)
            .map(Some)
            .map_err(|m| Error::runtime(format!("{}: {m}", self.module)))
    }
}

pub use crate::template::filters::parse_bool;

/// A module option with a fixed set of values, parsed once into an enum ([`Args::choose`]).
pub trait Choice: Copy + PartialEq + 'static {
    /// Each value as written in a task, and what it means.
    const VALUES: &'static [(&'static str, Self)];

    /// The value as written in a task.
    fn name(self) -> &'static str {
        Self::VALUES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(n, _)| n)
    }
}

/// An enum of a module option's values, each with its spelling in a task, and its [`Choice`]
/// table: `choice! { enum Presence { Present = "present", Absent = "absent" } }`.
macro_rules! choice {
    ($(#[$m:meta])* $vis:vis enum $name:ident {
        $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vm])* $variant),+
        }

        impl $crate::modules::args::Choice for $name {
            const VALUES: &'static [(&'static str, $name)] = &[$(($text, $name::$variant)),+];
        }
    };
}
pub(crate) use choice;

choice! {
    /// `state: present | absent`, the choice of most modules.
    pub enum Presence {
        Present = "present",
        Absent = "absent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_become_enums_and_bad_ones_list_the_allowed() {
        let a = Args::from_pairs("user", &[("state", Value::from("absent"))]);
        assert_eq!(
            a.choose(&["state"], Presence::Present).unwrap(),
            Presence::Absent
        );
        let none = Args::from_pairs("user", &[]);
        assert_eq!(
            none.choose(&["state"], Presence::Present).unwrap(),
            Presence::Present
        );
        let err = Args::from_pairs("user", &[("state", Value::from("gone"))])
            .choose(&["state"], Presence::Present)
            .unwrap_err();
        assert_eq!(
            err.message,
            "user: option 'state' must be one of present, absent, got 'gone'"
        );
    }

    #[test]
    fn converts_like_ansible() {
        let a = Args::from_pairs(
            "t",
            &[
                ("force", Value::from("yes")),
                ("n", Value::from(5)),
                ("l", Value::from("a, b,c")),
                ("s", Value::from(1.5)),
            ],
        );
        assert!(a.bool(&["force"], false).unwrap());
        assert!(!a.bool(&["absent"], false).unwrap());
        assert_eq!(a.int(&["n"]).unwrap(), Some(5));
        assert_eq!(a.list(&["l"]).unwrap(), ["a", "b", "c"]);
        assert_eq!(a.str(&["s"]).unwrap().as_deref(), Some("1.5"));
        let err = Args::from_pairs("copy", &[("force", Value::from("maybe"))])
            .bool(&["force"], true)
            .unwrap_err();
        assert_eq!(
            err.message,
            "copy: option 'force' must be a boolean, got 'maybe'"
        );
    }

    #[test]
    fn omit_drops_keys() {
        let v = Value::from_pairs(vec![("a", Value::from("__omit__")), ("b", Value::from(1))]);
        let a = Args::new("t", &v, "__omit__").unwrap();
        assert!(!a.has("a"));
        assert!(a.has("b"));
    }

    /// Every module's `state`, parsed once: a wrong one is an error at prepare that lists the
    /// allowed values.
    #[test]
    fn module_states_list_their_values() {
        for (module, extra, allowed) in [
            (
                "apt",
                ("name", "curl"),
                "present, absent, latest, fixed, build-dep",
            ),
            (
                "file",
                ("path", "/x"),
                "file, directory, link, hard, absent, touch",
            ),
            (
                "systemd",
                ("name", "ssh"),
                "started, stopped, restarted, reloaded",
            ),
            (
                "service",
                ("name", "ssh"),
                "started, stopped, restarted, reloaded",
            ),
            (
                "mount",
                ("path", "/mnt"),
                "mounted, unmounted, present, absent, remounted, absent_from_fstab, ephemeral",
            ),
            ("lineinfile", ("path", "/x"), "present, absent"),
        ] {
            let a = Args::from_pairs(
                module,
                &[
                    (extra.0, Value::from(extra.1)),
                    ("state", Value::from("gone")),
                ],
            );
            let m = super::super::lookup(module).unwrap();
            let err = match m.prepare(a, &super::super::testing::env()) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{module} took state=gone"),
            };
            assert!(
                err.contains(&format!("must be one of {allowed}, got 'gone'")),
                "{module}: {err}"
            );
        }
    }
}
