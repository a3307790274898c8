//! Loops: the items of `loop:` and `with_*` (lookups included), each item's loop variables
//! (`loop_control`: `loop_var`, `index_var`, `extended`) and its label in the output.

use std::sync::Arc;

use minijinja::Value;
use minijinja::value::ValueKind;

use crate::error::{Error, Result};
use crate::playbook::Task;
use crate::template::{render_value, to_text};
use crate::vars::{Context, VarMap};

/// Evaluate a loop to its items.
pub(super) fn loop_items(kind: &str, value: &Value, ctx: &Arc<Context>) -> Result<Vec<Value>> {
    let v = render_value(value, ctx)?;
    let seq = |v: &Value| -> Result<Vec<Value>> {
        match v.kind() {
            ValueKind::Seq | ValueKind::Iterable => Ok(v.try_iter()?.collect()),
            ValueKind::None => Ok(Vec::new()),
            ValueKind::String => Ok(vec![v.clone()]),
            _ => Err(Error::runtime(format!(
                "loop needs a list, got {}",
                crate::template::py_repr(v)
            ))),
        }
    };
    Ok(match kind {
        "loop" | "list" => seq(&v)?,
        "items" | "flattened" => {
            let mut out = Vec::new();
            for i in seq(&v)? {
                if crate::template::is_list(&i) {
                    out.extend(i.try_iter()?);
                } else {
                    out.push(i);
                }
            }
            out
        }
        "dict" => {
            if v.kind() != ValueKind::Map {
                return Err(Error::runtime("with_dict needs a dictionary"));
            }
            crate::vars::value_to_map(&v)
                .into_iter()
                .map(|(k, val)| Value::from_pairs([("key", Value::from(k)), ("value", val)]))
                .collect()
        }
        "indexed_items" => seq(&v)?
            .into_iter()
            .enumerate()
            .map(|(i, x)| Value::from(vec![Value::from(i as i64), x]))
            .collect(),
        "together" => {
            let lists: Vec<Vec<Value>> = seq(&v)?.iter().map(seq).collect::<Result<_>>()?;
            let n = lists.iter().map(Vec::len).max().unwrap_or(0);
            (0..n)
                .map(|i| {
                    Value::from(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(Value::from(())))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect()
        }
        "nested" | "cartesian" => {
            let lists: Vec<Vec<Value>> = seq(&v)?.iter().map(seq).collect::<Result<_>>()?;
            let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
            for l in lists {
                acc = acc
                    .into_iter()
                    .flat_map(|prefix| {
                        l.iter()
                            .map(move |x| [prefix.clone(), vec![x.clone()]].concat())
                    })
                    .collect();
            }
            acc.into_iter().map(Value::from).collect()
        }
        "sequence" => {
            let text = to_text(&v);
            let mut start = 1i64;
            let mut end = None;
            let mut stride = 1i64;
            let mut format = "%d".to_string();
            for part in text.split_whitespace() {
                let (k, val) = part.split_once('=').unwrap_or(("end", part));
                let num = || {
                    val.parse::<i64>()
                        .map_err(|_| Error::runtime(format!("with_sequence: bad {k} '{val}'")))
                };
                match k {
                    "start" => start = num()?,
                    "end" => end = Some(num()?),
                    "count" => end = Some(start + num()? - 1),
                    "stride" => stride = num()?,
                    "format" => format = val.to_string(),
                    _ => {
                        return Err(Error::runtime(format!(
                            "with_sequence: unknown option '{k}'"
                        )));
                    }
                }
            }
            let end = end.ok_or_else(|| Error::runtime("with_sequence needs end or count"))?;
            let mut out = Vec::new();
            let mut i = start;
            while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
                out.push(Value::from(
                    format
                        .replace("%d", &i.to_string())
                        .replace("%02d", &format!("{i:02}")),
                ));
                i += stride;
                if stride == 0 {
                    break;
                }
            }
            out
        }
        "fileglob" => {
            let mut out = Vec::new();
            for pat in seq(&v)? {
                let pat = to_text(&pat);
                let (dir, file) = pat.rsplit_once('/').unwrap_or((".", &pat));
                if let Ok(entries) = std::fs::read_dir(dir) {
                    let mut names: Vec<String> = entries
                        .filter_map(|e| e.ok())
                        .filter(|e| e.path().is_file())
                        .filter_map(|e| e.file_name().to_str().map(str::to_string))
                        .filter(|n| crate::inventory::pattern::glob_match(file, n))
                        .collect();
                    names.sort();
                    out.extend(names.into_iter().map(|n| Value::from(format!("{dir}/{n}"))));
                }
            }
            out
        }
        "subelements" => {
            let parts = seq(&v)?;
            let (list, key) = match parts.as_slice() {
                [l, k, ..] => (seq(l)?, to_text(k)),
                _ => return Err(Error::runtime("with_subelements needs [list, 'key']")),
            };
            let mut out = Vec::new();
            for el in list {
                for sub in seq(&el.get_attr(&key)?)? {
                    out.push(Value::from(vec![el.clone(), sub]));
                }
            }
            out
        }
        other => return Err(Error::runtime(format!("unknown loop kind '{other}'"))),
    })
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
        let v = crate::yaml::parse_str(yaml, "t.yml").unwrap().to_value();
        let c = ctx("xs: [a, b]\nn: 3");
        let items = loop_items(kind, &v, &c)?;
        Ok(crate::template::py_repr(&Value::from(items)))
    }

    #[test]
    fn every_loop_kind_gives_ansibles_items() {
        for (kind, yaml, want) in [
            ("loop", "[1, 2]", "[1, 2]"),
            ("loop", "'{{ xs }}'", "['a', 'b']"),
            ("loop", "~", "[]"),
            ("items", "[[1, 2], 3, [[4]]]", "[1, 2, 3, [4]]"),
            ("dict", "{a: 1}", "[{'key': 'a', 'value': 1}]"),
            ("indexed_items", "[x, y]", "[[0, 'x'], [1, 'y']]"),
            ("together", "[[1, 2], [3]]", "[[1, 3], [2, None]]"),
            (
                "nested",
                "[[1, 2], [a, b]]",
                "[[1, 'a'], [1, 'b'], [2, 'a'], [2, 'b']]",
            ),
            ("sequence", "start=1 end=3 format=n%d", "['n1', 'n2', 'n3']"),
            ("sequence", "count={{ n }}", "['1', '2', '3']"),
            ("sequence", "start=5 end=1 stride=-2", "['5', '3', '1']"),
            (
                "subelements",
                "[[{name: u, keys: [k1, k2]}], keys]",
                "[[{'name': 'u', 'keys': ['k1', 'k2']}, 'k1'], [{'name': 'u', 'keys': ['k1', 'k2']}, 'k2']]",
            ),
        ] {
            assert_eq!(items(kind, yaml).unwrap(), want, "{kind}: {yaml}");
        }
    }

    #[test]
    fn wrong_loops_are_errors() {
        for (kind, yaml, msg) in [
            ("loop", "{a: 1}", "loop needs a list"),
            ("dict", "[1]", "with_dict needs a dictionary"),
            ("sequence", "start=1", "with_sequence needs end or count"),
            ("sequence", "end=x", "with_sequence: bad end 'x'"),
            ("sequence", "step=2 end=3", "unknown option 'step'"),
            ("subelements", "[x]", "with_subelements needs [list, 'key']"),
            ("bogus", "[]", "unknown loop kind 'bogus'"),
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
