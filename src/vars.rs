//! Variables: precedence layers and lazy templating.
//!
//! Ansible resolves a variable by precedence (role defaults < inventory group vars < host vars
//! < facts < play vars < vars_files < role vars < block vars < task vars < set_fact/register
//! < extra vars) and templates its value only when it is used, in the scope of the task that
//! uses it. A [`Context`] is that scope for one host and one task: a stack of [`Layer`]s,
//! searched from the top. It is a minijinja object, so templates read variables straight
//! from it; a value containing `{{ }}` is templated on first use (with the same context, so
//! variables may refer to other variables), cached, and a variable that refers back to itself
//! is reported as a recursion error instead of overflowing the stack.
//!
//! A context may carry the [`Deadline`] of its task's `timeout`; templating checks it while
//! looping, so a template that would run for hours fails when the task's time is up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr, ValueKind};

use crate::error::{Error, Result};
use crate::template;

/// Variables of one precedence level, by name.
pub type VarMap = IndexMap<String, Value>;

/// One precedence level.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Where the variables come from ("play vars", "host vars", ...), for debugging.
    pub name: &'static str,
    pub vars: Arc<VarMap>,
    /// Values may contain templates and are templated when used. Registered results,
    /// set_fact values and facts are final: their text is never templated again.
    pub lazy: bool,
}

impl Layer {
    /// Variables as written by the user (templated on use).
    pub fn raw(name: &'static str, vars: VarMap) -> Layer {
        Layer {
            name,
            vars: Arc::new(vars),
            lazy: true,
        }
    }

    pub fn raw_shared(name: &'static str, vars: Arc<VarMap>) -> Layer {
        Layer {
            name,
            vars,
            lazy: true,
        }
    }

    /// Values that are already final (facts, registered results, set_fact).
    pub fn fixed(name: &'static str, vars: Arc<VarMap>) -> Layer {
        Layer {
            name,
            vars,
            lazy: false,
        }
    }
}

/// When a task's `timeout` runs out, and the failure to report then.
#[derive(Debug)]
pub struct Deadline {
    pub at: std::time::Instant,
    pub message: String,
}

/// The variables visible to one host in one task; a minijinja object.
#[derive(Debug, Default)]
pub struct Context {
    layers: Vec<Layer>,
    cache: Mutex<HashMap<String, Value>>,
    resolving: Mutex<Vec<String>>,
    error: Mutex<Option<Error>>,
    deadline: Option<Arc<Deadline>>,
}

impl Context {
    /// A context from layers ordered lowest precedence first.
    pub fn new(layers: Vec<Layer>) -> Arc<Context> {
        Arc::new(Context {
            layers,
            ..Default::default()
        })
    }

    /// A context whose templating must finish by `deadline`.
    pub fn with_deadline(layers: Vec<Layer>, deadline: Deadline) -> Arc<Context> {
        Arc::new(Context {
            layers,
            deadline: Some(Arc::new(deadline)),
            ..Default::default()
        })
    }

    /// A new context with one more layer on top (loop items, registered results).
    pub fn with(&self, layer: Layer) -> Arc<Context> {
        let mut layers = self.layers.clone();
        layers.push(layer);
        Arc::new(Context {
            layers,
            deadline: self.deadline.clone(),
            ..Default::default()
        })
    }

    /// The deadline of the task's `timeout`, if it has one.
    pub fn deadline(&self) -> Option<&Deadline> {
        self.deadline.as_deref()
    }

    /// The untemplated value of a variable and whether it is lazy.
    fn raw(&self, name: &str) -> Option<(&Value, bool)> {
        self.layers
            .iter()
            .rev()
            .find_map(|l| l.vars.get(name).map(|v| (v, l.lazy)))
    }

    /// Is the variable defined at all?
    pub fn resolves(&self, name: &str) -> bool {
        name == "vars" || self.raw(name).is_some()
    }

    /// The templated value of a variable.
    pub fn get(self: &Arc<Self>, name: &str) -> Result<Option<Value>> {
        if name == "vars" {
            return Ok(Some(Value::from_dyn_object(self.clone())));
        }
        if let Some(v) = self.cache.lock().unwrap().get(name) {
            return Ok(Some(v.clone()));
        }
        let Some((raw, lazy)) = self.raw(name) else {
            return Ok(None);
        };
        if !lazy || !template::needs_templating(raw) {
            return Ok(Some(raw.clone()));
        }
        {
            let mut stack = self.resolving.lock().unwrap();
            if stack.iter().any(|n| n == name) {
                let chain = stack.join(" -> ");
                return Err(Error::runtime(format!(
                    "recursive loop detected in template: variable '{name}' refers to itself ({chain} -> {name})"
                )));
            }
            stack.push(name.to_string());
        }
        let rendered = template::render_value(raw, self);
        self.resolving.lock().unwrap().pop();
        let value =
            rendered.map_err(|e| e.context(format!("while templating variable '{name}'")))?;
        self.cache
            .lock()
            .unwrap()
            .insert(name.to_string(), value.clone());
        Ok(Some(value))
    }

    /// The error a lazy lookup hit inside a template (minijinja's lookups cannot fail).
    pub fn take_error(&self) -> Option<Error> {
        self.error.lock().unwrap().take()
    }

    /// All variable names, for `vars` enumeration and debugging.
    pub fn names(&self) -> Vec<String> {
        let mut seen = indexmap::IndexSet::new();
        for layer in &self.layers {
            for k in layer.vars.keys() {
                seen.insert(k.clone());
            }
        }
        seen.into_iter().collect()
    }
}

impl Object for Context {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match self.get(name) {
            Ok(v) => v,
            Err(err) => {
                let mut slot = self.error.lock().unwrap();
                if slot.is_none() {
                    *slot = Some(err);
                }
                None
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.names().into_iter().map(Value::from).collect())
    }
}

/// Looks up one host's variables by name.
pub type ResolveHost = dyn Fn(&str) -> Option<Arc<Context>> + Send + Sync;

/// `hostvars`: every host's variables, looked up on demand by the engine.
pub struct Hostvars {
    pub names: Arc<Vec<String>>,
    pub resolve: Arc<ResolveHost>,
}

impl std::fmt::Debug for Hostvars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hostvars")
            .field("names", &self.names)
            .finish()
    }
}

impl Object for Hostvars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (self.resolve)(key.as_str()?).map(Value::from_dyn_object)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.names.iter().map(|n| Value::from(n.as_str())).collect())
    }
}

/// A map value as a [`VarMap`] (non-maps give an empty map).
pub fn value_to_map(value: &Value) -> VarMap {
    let mut out = VarMap::new();
    if value.kind() == ValueKind::Map {
        for key in value.try_iter().into_iter().flatten() {
            let item = value.get_item(&key).unwrap_or_default();
            out.insert(
                key.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| key.to_string()),
                item,
            );
        }
    }
    out
}

/// A [`VarMap`] as a map value.
pub fn map_to_value(map: &VarMap) -> Value {
    Value::from_pairs(map.clone())
}

/// Deep-merge `b` into `a` (dicts merged recursively, everything else replaced), as
/// Ansible's `combine(recursive=True)`.
pub fn deep_merge(a: &Value, b: &Value, recursive: bool) -> Value {
    if a.kind() != ValueKind::Map || b.kind() != ValueKind::Map {
        return b.clone();
    }
    let mut out = value_to_map(a);
    for (k, v) in value_to_map(b) {
        let merged = match out.get(&k) {
            Some(old) if recursive => deep_merge(old, &v, true),
            _ => v,
        };
        out.insert(k, merged);
    }
    Value::from_pairs(out)
}

/// Load a variables file (`vars_files`, `group_vars/x.yml`, `-e @file`): a YAML/JSON mapping.
pub fn load_var_file(path: &std::path::Path) -> Result<VarMap> {
    let node = crate::yaml::load_file(path)?;
    if node.is_null() {
        return Ok(VarMap::new());
    }
    let entries = node.expect_map("a variables file")?;
    let mut out = VarMap::new();
    for (k, v) in entries {
        out.insert(k.key_string()?, v.to_value());
    }
    Ok(out)
}

/// A JSON document as a template value (object key order kept).
pub fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => Value::from(a.iter().map(from_json).collect::<Vec<_>>()),
        serde_json::Value::Object(m) => {
            Value::from_pairs(m.iter().map(|(k, v)| (k.as_str(), from_json(v))))
        }
    }
}

/// A template value as JSON (for `--format json` and registered results).
pub fn to_json(value: &Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// A valid variable name (register, set_fact, loop_var)?
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Value)]) -> VarMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn higher_layers_win() {
        let ctx = Context::new(vec![
            Layer::raw(
                "defaults",
                map(&[("a", Value::from(1)), ("b", Value::from(1))]),
            ),
            Layer::raw("play", map(&[("a", Value::from(2))])),
        ]);
        assert_eq!(ctx.get("a").unwrap(), Some(Value::from(2)));
        assert_eq!(ctx.get("b").unwrap(), Some(Value::from(1)));
        assert_eq!(ctx.get("c").unwrap(), None);
    }

    #[test]
    fn fixed_layers_are_not_templated() {
        let ctx = Context::new(vec![Layer::fixed(
            "register",
            Arc::new(map(&[("out", Value::from("{{ nope }}"))])),
        )]);
        assert_eq!(ctx.get("out").unwrap(), Some(Value::from("{{ nope }}")));
    }

    #[test]
    fn templating_uses_the_scope_of_the_user() {
        // A role default referring to a play var sees the play var.
        let ctx = Context::new(vec![
            Layer::raw(
                "defaults",
                map(&[("url", Value::from("https://{{ host }}/x"))]),
            ),
            Layer::raw("play", map(&[("host", Value::from("127.0.0.1"))])),
        ]);
        assert_eq!(
            ctx.get("url").unwrap(),
            Some(Value::from("https://127.0.0.1/x"))
        );
    }

    #[test]
    fn deep_merge_is_recursive_only_when_asked() {
        let a = crate::yaml::parse_str("x: {a: 1, b: 2}", "t")
            .unwrap()
            .to_value();
        let b = crate::yaml::parse_str("x: {b: 3}", "t").unwrap().to_value();
        let r = deep_merge(&a, &b, true);
        assert_eq!(
            r.get_attr("x").unwrap().get_attr("a").unwrap(),
            Value::from(1)
        );
        let r = deep_merge(&a, &b, false);
        assert!(
            r.get_attr("x")
                .unwrap()
                .get_attr("a")
                .unwrap()
                .is_undefined()
        );
    }
}
