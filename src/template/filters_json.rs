//! Serialisation filters: `to_json`, `to_nice_json`, `from_json`, `to_yaml`, `to_nice_yaml`,
//! `from_yaml`, with Ansible's key order and Python's separators.

use minijinja::value::{Rest, ValueOrKwargs};
use minijinja::{Error, Value};

use super::filters::{Args, FResult, err};
use super::to_text;

/// A value as JSON (serde), with Ansible's key order kept.
pub fn to_json_string(
    value: &Value,
    indent: Option<usize>,
    sort_keys: bool,
) -> Result<String, Error> {
    let mut json = serde_json::to_value(value).map_err(|e| err(format!("to_json: {e}")))?;
    if sort_keys {
        json = sort_json(json);
    }
    match indent {
        None => {
            // Python's json.dumps default separators: ", " and ": ".
            Ok(python_compact_json(&json))
        }
        Some(n) => {
            let mut buf = Vec::new();
            let ind = " ".repeat(n);
            let fmt = serde_json::ser::PrettyFormatter::with_indent(ind.as_bytes());
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            serde::Serialize::serialize(&json, &mut ser).map_err(|e| err(e.to_string()))?;
            Ok(String::from_utf8(buf).unwrap_or_default())
        }
    }
}

pub(super) fn sort_json(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<_> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_json(v)))
                    .collect(),
            )
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(sort_json).collect())
        }
        other => other,
    }
}

pub(super) fn python_compact_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        serde_json::to_string(k).unwrap_or_default(),
                        python_compact_json(v)
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        serde_json::Value::Array(a) => {
            format!(
                "[{}]",
                a.iter()
                    .map(python_compact_json)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        other => other.to_string(),
    }
}

pub(super) fn f_to_json(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new(
        "to_json",
        args,
        Some(&[
            "indent",
            "sort_keys",
            "ensure_ascii",
            "separators",
            "vault_to_text",
            "preprocess_unsafe",
        ]),
    )?;
    let indent = a
        .get(usize::MAX, "indent")
        .and_then(|v| v.as_i64())
        .map(|i| i as usize);
    Ok(Value::from(to_json_string(
        &value,
        indent,
        a.flag(usize::MAX, "sort_keys"),
    )?))
}

pub(super) fn f_to_nice_json(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new(
        "to_nice_json",
        args,
        Some(&[
            "indent",
            "sort_keys",
            "ensure_ascii",
            "vault_to_text",
            "preprocess_unsafe",
        ]),
    )?;
    let indent = a
        .get(usize::MAX, "indent")
        .and_then(|v| v.as_i64())
        .unwrap_or(4) as usize;
    Ok(Value::from(to_json_string(&value, Some(indent), true)?))
}

pub(super) fn f_from_json(value: Value) -> FResult {
    let json: serde_json::Value =
        serde_json::from_str(&to_text(&value)).map_err(|e| err(format!("from_json: {e}")))?;
    Ok(crate::vars::from_json(&json))
}

/// The keywords Ansible's `to_yaml` and `to_nice_yaml` take (only `indent` changes prov's output).
const YAML_KEYWORDS: &[&str] = &[
    "indent",
    "default_flow_style",
    "width",
    "sort_keys",
    "allow_unicode",
    "explicit_start",
    "explicit_end",
];

/// `to_yaml` (indent 2) and `to_nice_yaml` (indent 4).
pub(super) fn yaml_filter(
    name: &str,
    value: Value,
    args: Rest<ValueOrKwargs>,
    indent: i64,
) -> FResult {
    let a = Args::new(name, args, Some(YAML_KEYWORDS))?;
    let indent = a
        .get(usize::MAX, "indent")
        .and_then(|v| v.as_i64())
        .unwrap_or(indent) as usize;
    Ok(Value::from(crate::yaml::emit(&value, indent)))
}

pub(super) fn f_to_yaml(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    yaml_filter("to_yaml", value, args, 2)
}

pub(super) fn f_to_nice_yaml(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    yaml_filter("to_nice_yaml", value, args, 4)
}

pub(super) fn f_from_yaml(value: Value) -> FResult {
    let node =
        crate::yaml::parse_str(&to_text(&value), "<from_yaml>").map_err(|e| err(e.message))?;
    Ok(node.to_value())
}
