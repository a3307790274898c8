//! Loops: the items of `loop:` and `with_*` (lookups included), each item's loop variables
//! (`loop_control`: `loop_var`, `index_var`, `extended`) and its label in the output.

use std::sync::Arc;

use minijinja::Value;
use minijinja::value::ValueKind;

use crate::error::{Error, Result};
use crate::playbook::{Action, Loop, Task};
use crate::template::{render_value, to_text};
use crate::vars::{Context, VarMap};

/// Evaluate a loop to its items: `loop:` is a list, `with_<name>:` is lookup `name` with the
/// value as its terms (a string is one term), as Ansible runs it.
pub(super) fn loop_items(t: &Task, l: &Loop, ctx: &Arc<Context>) -> Result<Vec<Value>> {
    let v = render_value(&l.value, ctx)?;
    if l.kind == "loop" {
        return match v.kind() {
            ValueKind::Seq | ValueKind::Iterable => Ok(v.try_iter()?.collect()),
            ValueKind::None => Ok(Vec::new()),
            _ => Err(Error::runtime(format!(
                "loop needs a list, got {}",
                crate::template::py_repr(&v)
            ))),
        };
    }
    let terms = if crate::template::is_list(&v) {
        v.try_iter()?.collect()
    } else {
        vec![v]
    };
    Ok(crate::template::lookup::run(
        ctx,
        &l.kind,
        terms,
        &None,
        Some(action_name(t)),
    )?)
}

/// The task's action as Ansible names it (what `with_first_found` looks at).
fn action_name(t: &Task) -> &str {
    match &t.action {
        Action::Module { module, .. } => module,
        Action::Foreign { module, .. } => module,
        Action::IncludeTasks { .. } => "include_tasks",
        Action::IncludeRole { .. } => "include_role",
        Action::IncludeVars { .. } => "include_vars",
        Action::Block { .. } => "block",
        Action::Meta(_) => "meta",
    }
}

/// The loop variables of one item.
pub(super) fn item_vars(t: &Task, item: &Value, i: usize, total: usize) -> VarMap {
    let lc = &t.loop_control;
    let mut m = VarMap::new();
    m.insert(lc.loop_var.clone(), item.clone());
    m.insert("ansible_loop_var".into(), Value::from(lc.loop_var.as_str()));
    if let Some(iv) = &lc.index_var {
        m.insert(iv.clone(), Value::from(i as i64));
        m.insert("ansible_index_var".into(), Value::from(iv.as_str()));
    }
    if lc.extended {
        m.insert(
            "ansible_loop".into(),
            Value::from_pairs([
                ("index", Value::from(i as i64 + 1)),
                ("index0", Value::from(i as i64)),
                ("first", Value::from(i == 0)),
                ("last", Value::from(i + 1 == total)),
                ("length", Value::from(total as i64)),
            ]),
        );
    }
    m
}

pub(super) fn item_label(t: &Task, item: &Value, ctx: &Arc<Context>) -> String {
    match &t.loop_control.label {
        Some(l) => render_value(l, ctx)
            .map(|v| to_text(&v))
            .unwrap_or_else(|_| crate::template::py_repr(item)),
        None => match item.kind() {
            ValueKind::String => to_text(item),
            _ => crate::template::py_repr(item),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::Layer;

    fn ctx(yaml: &str) -> Arc<Context> {
        let v = crate::yaml::parse_str(yaml, "vars.yml").unwrap().to_value();
        Context::new(vec![Layer::raw("test", crate::vars::value_to_map(&v))])
    }

    fn items(kind: &str, yaml: &str) -> Result<String> {
        let t = crate::playbook::testing::task("include_vars: {file: x.yml}").unwrap();
        let l = Loop {
            kind: kind.into(),
            value: crate::yaml::parse_str(yaml, "t.yml").unwrap().to_value(),
        };
        let c = ctx("xs: [a, b]\nn: 3");
        let items = loop_items(&t, &l, &c)?;
        Ok(crate::template::py_repr(&Value::from(items)))
    }

    /// `with_<name>` is lookup `name` (the lookups' own rules are tested in
    /// `template::lookup_data`); a string is one term.
    #[test]
    fn every_loop_kind_gives_ansibles_items() {
        for (kind, yaml, want) in [
            ("loop", "[1, 2]", "[1, 2]"),
            ("loop", "'{{ xs }}'", "['a', 'b']"),
            ("loop", "~", "[]"),
            ("items", "[[1, 2], 3, [[4]]]", "[1, 2, 3, [4]]"),
            ("items", "'{{ xs }}'", "['a', 'b']"),
            ("items", "plain", "['plain']"),
            ("dict", "{a: 1}", "[{'key': 'a', 'value': 1}]"),
            ("sequence", "count={{ n }}", "['1', '2', '3']"),
            ("first_found", "[{files: [nope.yml], skip: true}]", "[]"),
            ("community.general.flattened", "[[1, [2]], 3]", "[1, 2, 3]"),
        ] {
            assert_eq!(items(kind, yaml).unwrap(), want, "{kind}: {yaml}");
        }
    }

    #[test]
    fn wrong_loops_are_errors() {
        for (kind, yaml, msg) in [
            ("loop", "{a: 1}", "loop needs a list"),
            ("dict", "[1]", "with_dict expects a dict"),
            (
                "first_found",
                "[nope.yml]",
                "No file was found when using first_found",
            ),
            ("bogus", "[]", "lookup plugin 'bogus' is not supported"),
        ] {
            let e = items(kind, yaml).unwrap_err().to_string();
            assert!(e.contains(msg), "{kind}: {e}");
        }
    }

    #[test]
    fn item_variables_and_labels() {
        let t = crate::playbook::testing::task(
            "debug: {msg: x}\nloop_control: {loop_var: pkg, index_var: i, extended: true, label: '{{ pkg.name }}'}",
        )
        .unwrap();
        let item = Value::from_pairs([("name", Value::from("curl"))]);
        let vars = item_vars(&t, &item, 1, 3);
        assert_eq!(vars["pkg"], item);
        assert_eq!(vars["ansible_loop_var"], Value::from("pkg"));
        assert_eq!(vars["i"], Value::from(1));
        let lp = &vars["ansible_loop"];
        assert_eq!(lp.get_attr("index").unwrap(), Value::from(2));
        assert_eq!(lp.get_attr("last").unwrap(), Value::from(false));
        assert_eq!(lp.get_attr("first").unwrap(), Value::from(false));
        let c = Context::new(vec![Layer::raw("loop", vars)]);
        assert_eq!(item_label(&t, &item, &c), "curl");
        // Without a label: the item as a string, or its Python form.
        let plain = crate::playbook::testing::task("debug: {msg: x}").unwrap();
        assert_eq!(item_label(&plain, &Value::from("a"), &c), "a");
        assert_eq!(item_label(&plain, &item, &c), "{'name': 'curl'}");
        assert!(!item_vars(&plain, &item, 0, 1).contains_key("ansible_loop"));
    }
}
