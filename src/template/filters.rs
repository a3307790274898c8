//! The Ansible filters and tests that roles really use, with Ansible's meaning.
//!
//! minijinja implements Jinja2's builtins (`lower`, `join`, `first`, `length`, `unique`, ...),
//! which Ansible shares. Where Ansible differs from Jinja2 we override: `bool` (`'no' | bool` is
//! False in Ansible, True in Jinja), `int` (invalid input gives 0), `default` (also `d`). The
//! rest are Ansible's own: regex filters with Python replacement syntax, set operations,
//! `combine`, `dict2items`, JSON/YAML conversions, base64, paths, `quote`, `ternary`,
//! `mandatory`, and the tests `truthy`, `match`, `search`, `version` and the task-result tests
//! (`changed`, `failed`, `succeeded`, `skipped`).

use std::cmp::Ordering;
use std::path::Path;

use crate::pyre::Pattern;
use base64::Engine as _;
use minijinja::value::{Rest, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, Value};

use super::to_text;
use crate::vars::{deep_merge, value_to_map};

pub(super) type FResult = Result<Value, Error>;

pub use super::filters_json::to_json_string;
use super::filters_json::*;

pub(super) fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Positional and keyword arguments of a filter call.
pub(super) struct Args {
    pos: Vec<Value>,
    kw: Option<Value>,
}

impl Args {
    /// The arguments of filter or test `name`; a keyword argument not in `known` is an error
    /// (with a suggestion), not silently ignored. `None`: any keyword (`dict()`).
    pub(super) fn new(
        name: &str,
        args: Rest<ValueOrKwargs>,
        known: Option<&[&str]>,
    ) -> Result<Args, Error> {
        let mut pos: Vec<Value> = args.0.into_iter().map(ValueOrKwargs::into_value).collect();
        let kw = match pos.last() {
            Some(v) if v.is_kwargs() => pos.pop(),
            _ => None,
        };
        if let (Some(kw), Some(known)) = (&kw, known) {
            for k in kw.try_iter()? {
                let k = to_text(&k);
                if !known.contains(&k.as_str()) {
                    return Err(err(format!(
                        "'{name}' has no keyword argument '{k}'{}",
                        crate::error::did_you_mean(&k, known.iter().copied())
                    )));
                }
            }
        }
        Ok(Args { pos, kw })
    }

    /// Argument `index`, or keyword `name`.
    pub(super) fn get(&self, index: usize, name: &str) -> Option<Value> {
        if let Some(kw) = &self.kw
            && let Ok(v) = kw.get_attr(name)
            && !v.is_undefined()
        {
            return Some(v);
        }
        self.pos.get(index).cloned()
    }

    pub(super) fn flag(&self, index: usize, name: &str) -> bool {
        self.get(index, name).is_some_and(|v| to_bool(&v))
    }

    fn text(&self, index: usize, name: &str) -> Option<String> {
        self.get(index, name).map(|v| to_text(&v))
    }
}

/// Ansible's boolean conversion (the `bool` filter, module options, playbook keywords,
/// ansible.cfg): yes/on/1/true/y/t true, no/off/0/false/n/f/"" false (any case, trimmed),
/// anything else `None`. The one parser of Ansible booleans (YAML's own are in yaml.rs).
pub fn parse_bool(value: &Value) -> Option<bool> {
    match value.kind() {
        ValueKind::Bool => Some(value.is_true()),
        ValueKind::Number if value.to_string() == "1.0" => Some(true),
        ValueKind::Number if value.to_string() == "0.0" => Some(false),
        ValueKind::Number => match value.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        ValueKind::String => match value
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_lowercase()
            .as_str()
        {
            "yes" | "on" | "1" | "true" | "y" | "t" => Some(true),
            "no" | "off" | "0" | "false" | "n" | "f" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// [`parse_bool`] where anything not true is false (the `bool` filter).
pub fn to_bool(value: &Value) -> bool {
    parse_bool(value) == Some(true)
}

fn items(value: &Value) -> Result<Vec<Value>, Error> {
    match value.kind() {
        ValueKind::Undefined => Err(Error::new(ErrorKind::UndefinedError, "undefined value")),
        ValueKind::None => Ok(Vec::new()),
        ValueKind::String => Ok(vec![value.clone()]),
        _ => Ok(value.try_iter()?.collect()),
    }
}

fn build_regex(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Pattern, Error> {
    let flags = crate::pyre::Flags {
        ignorecase,
        multiline,
        dotall: false,
    };
    Pattern::new(pattern, flags).map_err(err)
}

fn f_bool(value: Value) -> bool {
    to_bool(&value)
}

fn f_int(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new("int", args, Some(&["base", "default"]))?;
    let default = a.get(0, "default").and_then(|v| v.as_i64()).unwrap_or(0);
    let base = a.get(1, "base").and_then(|v| v.as_i64()).unwrap_or(10) as u32;
    Ok(Value::from(match value.kind() {
        ValueKind::Bool => i64::from(value.is_true()),
        ValueKind::Number => value.as_i64().unwrap_or_else(|| {
            value
                .to_string()
                .parse::<f64>()
                .map(|f| f as i64)
                .unwrap_or(default)
        }),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default().trim().replace('_', "");
            let digits = match base {
                16 => s.trim_start_matches("0x").trim_start_matches("0X"),
                8 => s.trim_start_matches("0o").trim_start_matches("0O"),
                2 => s.trim_start_matches("0b").trim_start_matches("0B"),
                _ => s.as_str(),
            };
            i64::from_str_radix(digits, base)
                .ok()
                .or_else(|| s.parse::<f64>().ok().map(|f| f as i64))
                .unwrap_or(default)
        }
        _ => default,
    }))
}

fn f_float(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new("float", args, Some(&["default"]))?;
    let default = a
        .get(0, "default")
        .map(|v| v.to_string().parse::<f64>().unwrap_or(0.0))
        .unwrap_or(0.0);
    Ok(Value::from(match value.kind() {
        ValueKind::Bool => f64::from(u8::from(value.is_true())),
        ValueKind::Number | ValueKind::String => {
            to_text(&value).trim().parse::<f64>().unwrap_or(default)
        }
        _ => default,
    }))
}

fn f_string(value: Value) -> String {
    to_text(&value)
}

fn f_default(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new("default", args, Some(&["default_value", "boolean"]))?;
    let fallback = a.get(0, "default_value").unwrap_or_else(|| Value::from(""));
    let boolean = a.flag(1, "boolean");
    if value.is_undefined() || (boolean && !value.is_true()) {
        Ok(fallback)
    } else {
        Ok(value)
    }
}

fn f_regex_replace(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new(
        "regex_replace",
        args,
        Some(&["pattern", "replacement", "ignorecase", "multiline", "count"]),
    )?;
    let pattern = a.text(0, "pattern").unwrap_or_default();
    let repl = a.text(1, "replacement").unwrap_or_default();
    let re = build_regex(&pattern, a.flag(2, "ignorecase"), a.flag(3, "multiline"))?;
    let count = a.get(4, "count").and_then(|v| v.as_i64()).unwrap_or(0) as usize;
    let text = to_text(&value);
    Ok(Value::from(re.replace(&text, &repl, count).map_err(err)?))
}

fn f_regex_search(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new(
        "regex_search",
        args,
        Some(&["regex", "ignorecase", "multiline"]),
    )?;
    let pattern = a.text(0, "regex").unwrap_or_default();
    let groups: Vec<String> = a.pos.iter().skip(1).map(to_text).collect();
    let re = build_regex(&pattern, a.flag(99, "ignorecase"), a.flag(99, "multiline"))?;
    let text = to_text(&value);
    let Some(caps) = re.captures(&text).map_err(err)? else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(
            caps.get(0).map(|m| m.as_str()).unwrap_or_default(),
        ));
    }
    let mut out = Vec::new();
    for g in groups {
        let m = if let Some(n) = g.strip_prefix("\\g<").and_then(|s| s.strip_suffix('>')) {
            n.parse::<usize>()
                .ok()
                .and_then(|i| caps.get(i))
                .or_else(|| caps.name(n))
        } else if let Some(n) = g.strip_prefix('\\') {
            n.parse::<usize>().ok().and_then(|i| caps.get(i))
        } else {
            return Err(err(format!("unknown regex_search argument '{g}'")));
        };
        out.push(Value::from(m.map(|m| m.as_str()).unwrap_or_default()));
    }
    Ok(Value::from(out))
}

fn f_regex_findall(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new(
        "regex_findall",
        args,
        Some(&["regex", "ignorecase", "multiline"]),
    )?;
    let pattern = a.text(0, "regex").unwrap_or_default();
    let re = build_regex(&pattern, a.flag(1, "ignorecase"), a.flag(2, "multiline"))?;
    let text = to_text(&value);
    let out: Vec<Value> = re
        .captures_all(&text)
        .map_err(err)?
        .into_iter()
        .map(|caps| match caps.len() {
            1 => Value::from(caps.get(0).map(|m| m.as_str()).unwrap_or_default()),
            2 => Value::from(caps.get(1).map(|m| m.as_str()).unwrap_or_default()),
            _ => Value::from(
                (1..caps.len())
                    .map(|i| Value::from(caps.get(i).map(|m| m.as_str()).unwrap_or_default()))
                    .collect::<Vec<_>>(),
            ),
        })
        .collect();
    Ok(Value::from(out))
}

fn f_regex_escape(value: Value) -> String {
    crate::pyre::escape(&to_text(&value))
}

fn f_union(a: Value, b: Value) -> FResult {
    let mut out: Vec<Value> = Vec::new();
    for v in items(&a)?.into_iter().chain(items(&b)?) {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::from(out))
}

fn f_difference(a: Value, b: Value) -> FResult {
    let other = items(&b)?;
    let mut out: Vec<Value> = Vec::new();
    for v in items(&a)? {
        if !other.contains(&v) && !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::from(out))
}

fn f_intersect(a: Value, b: Value) -> FResult {
    let other = items(&b)?;
    let mut out: Vec<Value> = Vec::new();
    for v in items(&a)? {
        if other.contains(&v) && !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::from(out))
}

fn f_symmetric_difference(a: Value, b: Value) -> FResult {
    let (x, y) = (items(&a)?, items(&b)?);
    let mut out: Vec<Value> = Vec::new();
    for v in x
        .iter()
        .filter(|v| !y.contains(v))
        .chain(y.iter().filter(|v| !x.contains(v)))
    {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::from(out))
}

fn flatten_into(out: &mut Vec<Value>, value: &Value, levels: Option<i64>) {
    for item in value.try_iter().into_iter().flatten() {
        if super::is_list(&item) && levels != Some(0) {
            flatten_into(out, &item, levels.map(|l| l - 1));
        } else if !item.is_none() {
            out.push(item);
        }
    }
}

fn f_flatten(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new("flatten", args, Some(&["levels", "skip_nulls"]))?;
    let levels = a.get(0, "levels").and_then(|v| v.as_i64());
    let mut out = Vec::new();
    flatten_into(&mut out, &value, levels);
    Ok(Value::from(out))
}

fn f_dict2items(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new("dict2items", args, Some(&["key_name", "value_name"]))?;
    let key = a.text(0, "key_name").unwrap_or_else(|| "key".into());
    let val = a.text(1, "value_name").unwrap_or_else(|| "value".into());
    if value.kind() != ValueKind::Map {
        return Err(err("dict2items requires a dictionary"));
    }
    let out: Vec<Value> = value_to_map(&value)
        .into_iter()
        .map(|(k, v)| {
            let mut m = indexmap::IndexMap::new();
            m.insert(key.clone(), Value::from(k));
            m.insert(val.clone(), v);
            Value::from_pairs(m)
        })
        .collect();
    Ok(Value::from(out))
}

fn f_items2dict(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new("items2dict", args, Some(&["key_name", "value_name"]))?;
    let key = a.text(0, "key_name").unwrap_or_else(|| "key".into());
    let val = a.text(1, "value_name").unwrap_or_else(|| "value".into());
    let mut out = indexmap::IndexMap::new();
    for item in items(&value)? {
        let k = item.get_attr(&key)?;
        if k.is_undefined() {
            return Err(err(format!("items2dict: an item has no '{key}'")));
        }
        out.insert(to_text(&k), item.get_attr(&val)?);
    }
    Ok(Value::from_pairs(out))
}

fn f_combine(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new("combine", args, Some(&["recursive", "list_merge"]))?;
    let recursive = a.flag(usize::MAX, "recursive");
    let mut acc = value;
    for other in &a.pos {
        let others = if super::is_list(other) {
            items(other)?
        } else {
            vec![other.clone()]
        };
        for o in others {
            if o.kind() != ValueKind::Map || acc.kind() != ValueKind::Map {
                return Err(err("combine expects dictionaries"));
            }
            acc = deep_merge(&acc, &o, recursive);
        }
    }
    Ok(acc)
}

fn f_b64encode(value: Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(to_text(&value).as_bytes())
}

fn f_b64decode(value: Value) -> FResult {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(to_text(&value).trim().as_bytes())
        .map_err(|e| err(format!("b64decode: {e}")))?;
    Ok(Value::from(String::from_utf8_lossy(&bytes).into_owned()))
}

fn f_basename(value: Value) -> String {
    let s = to_text(&value);
    s.rsplit('/').next().unwrap_or_default().to_string()
}

fn f_dirname(value: Value) -> String {
    let s = to_text(&value);
    match s.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => s[..i].to_string(),
        None => String::new(),
    }
}

fn f_splitext(value: Value) -> Value {
    let s = to_text(&value);
    let base_start = s.rfind('/').map(|i| i + 1).unwrap_or(0);
    match s[base_start..].rfind('.') {
        Some(i) if i > 0 => {
            let at = base_start + i;
            Value::from(vec![Value::from(&s[..at]), Value::from(&s[at..])])
        }
        _ => Value::from(vec![Value::from(s.as_str()), Value::from("")]),
    }
}

fn f_path_join(value: Value) -> FResult {
    let mut out = String::new();
    for part in items(&value)? {
        let p = to_text(&part);
        if p.starts_with('/') {
            out = p;
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(&p);
        } else {
            out.push('/');
            out.push_str(&p);
        }
    }
    Ok(Value::from(out))
}

/// `quote`: POSIX shell quoting ([`crate::shlex::quote`]).
fn f_quote(value: Value) -> String {
    crate::shlex::quote(&to_text(&value))
}

fn f_ternary(value: Value, yes: Value, no: Value, none: Option<Value>) -> Value {
    match none {
        Some(n) if value.is_none() => n,
        _ => {
            if value.is_true() {
                yes
            } else {
                no
            }
        }
    }
}

fn f_mandatory(value: Value, msg: Option<String>) -> FResult {
    if value.is_undefined() {
        Err(Error::new(
            ErrorKind::UndefinedError,
            msg.unwrap_or_else(|| "mandatory variable not defined".into()),
        ))
    } else {
        Ok(value)
    }
}

fn f_zip(value: Value, others: Rest<ValueOrKwargs>) -> FResult {
    let mut lists = vec![items(&value)?];
    for o in others.0 {
        lists.push(items(&o.into_value())?);
    }
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

fn f_type_debug(value: Value) -> &'static str {
    match value.kind() {
        ValueKind::None => "NoneType",
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

fn f_split(value: Value, args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new("split", args, Some(&["sep", "maxsplit"]))?;
    let text = to_text(&value);
    let max = a.get(1, "maxsplit").and_then(|v| v.as_i64()).unwrap_or(-1);
    let parts: Vec<Value> = match a.text(0, "sep").filter(|s| !s.is_empty()) {
        None => {
            let words = text.split_whitespace();
            if max < 0 {
                words.map(Value::from).collect()
            } else {
                let mut rest = text.trim_start();
                let mut out = Vec::new();
                for _ in 0..max {
                    match rest.find(char::is_whitespace) {
                        Some(i) => {
                            out.push(Value::from(&rest[..i]));
                            rest = rest[i..].trim_start();
                        }
                        None => break,
                    }
                }
                if !rest.is_empty() {
                    out.push(Value::from(rest));
                }
                out
            }
        }
        Some(sep) if max < 0 => text.split(sep.as_str()).map(Value::from).collect(),
        Some(sep) => text
            .splitn(max as usize + 1, sep.as_str())
            .map(Value::from)
            .collect(),
    };
    Ok(Value::from(parts))
}

fn f_trim(value: Value, chars: Option<String>) -> String {
    let s = to_text(&value);
    match chars {
        Some(c) => s.trim_matches(|x| c.contains(x)).to_string(),
        None => s.trim().to_string(),
    }
}

/// Ansible's `extract`: `key | extract(container, morekey)` is `container[key][morekey]`.
fn f_extract(key: Value, container: Value, more: Option<Value>) -> FResult {
    let mut v = container.get_item(&key)?;
    if let Some(m) = more {
        let keys = if super::is_list(&m) {
            items(&m)?
        } else {
            vec![m]
        };
        for k in keys {
            v = v.get_item(&k)?;
        }
    }
    Ok(v)
}

/// `dict(...)` as Python's: from a list of pairs, a mapping, and/or keyword arguments.
fn g_dict(args: Rest<ValueOrKwargs>) -> FResult {
    let a = Args::new("dict", args, None)?;
    let mut out: indexmap::IndexMap<String, Value> = indexmap::IndexMap::new();
    for p in &a.pos {
        match p.kind() {
            ValueKind::Map => out.extend(value_to_map(p)),
            ValueKind::Seq | ValueKind::Iterable => {
                for pair in items(p)? {
                    let kv = items(&pair)?;
                    if kv.len() != 2 {
                        return Err(err("dict() needs a list of (key, value) pairs"));
                    }
                    out.insert(to_text(&kv[0]), kv[1].clone());
                }
            }
            _ => return Err(err("dict() needs a mapping or a list of pairs")),
        }
    }
    if let Some(kw) = &a.kw {
        for k in kw.try_iter()? {
            out.insert(to_text(&k), kw.get_item(&k)?);
        }
    }
    Ok(Value::from_pairs(out))
}

// ---- tests ----

fn t_truthy(value: Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    let a = Args::new("truthy", args, Some(&["convert_bool"]))?;
    Ok(if a.flag(0, "convert_bool") {
        to_bool(&value)
    } else {
        value.is_true()
    })
}

fn t_falsy(value: Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    t_truthy(value, args).map(|t| !t)
}

fn regex_test(value: &Value, args: Rest<ValueOrKwargs>, anchored: bool) -> Result<bool, Error> {
    let a = Args::new(
        if anchored { "match" } else { "search" },
        args,
        Some(&["pattern", "ignorecase", "multiline"]),
    )?;
    let pattern = a.text(0, "pattern").unwrap_or_default();
    // Python's re.match: anchored at the start of the text, whatever the flags.
    let pattern = if anchored {
        format!("\\A(?:{pattern})")
    } else {
        pattern
    };
    let re = build_regex(&pattern, a.flag(1, "ignorecase"), a.flag(2, "multiline"))?;
    re.is_match(&to_text(value)).map_err(err)
}

fn t_match(value: Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    regex_test(&value, args, true)
}

fn t_search(value: Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    regex_test(&value, args, false)
}

#[derive(Debug, PartialEq, Eq)]
enum VersionPart {
    Num(u64),
    Text(String),
}

/// Split a version like Python's LooseVersion: runs of digits and runs of letters.
fn version_parts(v: &str) -> Vec<VersionPart> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<VersionPart>| {
        if !cur.is_empty() {
            out.push(match cur.parse::<u64>() {
                Ok(n) => VersionPart::Num(n),
                Err(_) => VersionPart::Text(cur.clone()),
            });
            cur.clear();
        }
    };
    for c in v.chars() {
        let same = cur
            .chars()
            .last()
            .is_none_or(|l| l.is_ascii_digit() == c.is_ascii_digit());
        if !c.is_ascii_alphanumeric() {
            flush(&mut cur, &mut out);
        } else {
            if !same {
                flush(&mut cur, &mut out);
            }
            cur.push(c);
        }
    }
    flush(&mut cur, &mut out);
    out
}

pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (pa, pb) = (version_parts(a), version_parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x, y) {
            (VersionPart::Num(m), VersionPart::Num(n)) => m.cmp(n),
            (VersionPart::Text(m), VersionPart::Text(n)) => m.cmp(n),
            (VersionPart::Num(_), VersionPart::Text(_)) => Ordering::Greater,
            (VersionPart::Text(_), VersionPart::Num(_)) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

fn t_version(value: Value, args: Rest<ValueOrKwargs>) -> Result<bool, Error> {
    let a = Args::new(
        "version",
        args,
        Some(&["version", "operator", "strict", "version_type"]),
    )?;
    let other = a
        .text(0, "version")
        .ok_or_else(|| err("version test needs a version to compare with"))?;
    let op = a.text(1, "operator").unwrap_or_else(|| "eq".into());
    let ord = compare_versions(&to_text(&value), &other);
    Ok(match op.as_str() {
        "lt" | "<" => ord == Ordering::Less,
        "le" | "<=" => ord != Ordering::Greater,
        "gt" | ">" => ord == Ordering::Greater,
        "ge" | ">=" => ord != Ordering::Less,
        "eq" | "==" | "=" => ord == Ordering::Equal,
        "ne" | "!=" | "<>" => ord != Ordering::Equal,
        other => return Err(err(format!("unknown version operator '{other}'"))),
    })
}

fn result_flag(value: &Value, key: &str) -> bool {
    value.get_attr(key).map(|v| v.is_true()).unwrap_or(false)
}

fn t_failed(value: Value) -> bool {
    result_flag(&value, "failed")
}

fn t_succeeded(value: Value) -> bool {
    !result_flag(&value, "failed")
}

fn t_changed(value: Value) -> bool {
    result_flag(&value, "changed")
}

fn t_skipped(value: Value) -> bool {
    result_flag(&value, "skipped")
}

fn t_subset(value: Value, other: Value) -> Result<bool, Error> {
    let o = items(&other)?;
    Ok(items(&value)?.iter().all(|v| o.contains(v)))
}

fn t_superset(value: Value, other: Value) -> Result<bool, Error> {
    let v = items(&value)?;
    Ok(items(&other)?.iter().all(|o| v.contains(o)))
}

fn t_contains(value: Value, item: Value) -> Result<bool, Error> {
    Ok(items(&value)?.contains(&item))
}

fn path_test(value: &Value, f: impl Fn(&Path) -> bool) -> bool {
    f(Path::new(&to_text(value)))
}

/// Register every filter and test on an environment.
pub fn register(env: &mut Environment<'static>) {
    super::add_filter(env, "bool", f_bool);
    super::add_filter(env, "comment", super::comment::comment);
    super::add_filter(env, "int", f_int);
    super::add_filter(env, "float", f_float);
    super::add_filter(env, "string", f_string);
    super::add_filter(env, "default", f_default);
    super::add_filter(env, "d", f_default);
    super::add_filter(env, "regex_replace", f_regex_replace);
    super::add_filter(env, "regex_search", f_regex_search);
    super::add_filter(env, "regex_findall", f_regex_findall);
    super::add_filter(env, "regex_escape", f_regex_escape);
    super::add_filter(env, "password_hash", super::password::password_hash);
    super::add_filter(env, "union", f_union);
    super::add_filter(env, "difference", f_difference);
    super::add_filter(env, "intersect", f_intersect);
    super::add_filter(env, "symmetric_difference", f_symmetric_difference);
    super::add_filter(env, "flatten", f_flatten);
    super::add_filter(env, "dict2items", f_dict2items);
    super::add_filter(env, "items2dict", f_items2dict);
    super::add_filter(env, "combine", f_combine);
    super::add_filter(env, "to_json", f_to_json);
    super::add_filter(env, "to_nice_json", f_to_nice_json);
    super::add_filter(env, "from_json", f_from_json);
    super::add_filter(env, "to_yaml", f_to_yaml);
    super::add_filter(env, "to_nice_yaml", f_to_nice_yaml);
    super::add_filter(env, "from_yaml", f_from_yaml);
    super::add_filter(env, "b64encode", f_b64encode);
    super::add_filter(env, "b64decode", f_b64decode);
    super::add_filter(env, "basename", f_basename);
    super::add_filter(env, "dirname", f_dirname);
    super::add_filter(env, "splitext", f_splitext);
    super::add_filter(env, "path_join", f_path_join);
    super::add_filter(env, "quote", f_quote);
    super::add_filter(env, "ternary", f_ternary);
    super::add_filter(env, "mandatory", f_mandatory);
    super::add_filter(env, "zip", f_zip);
    super::add_filter(env, "type_debug", f_type_debug);
    super::add_filter(env, "split", f_split);
    super::add_filter(env, "extract", f_extract);
    env.add_function("dict", g_dict);
    super::add_filter(env, "trim", f_trim);
    super::add_test(env, "truthy", t_truthy);
    super::add_test(env, "falsy", t_falsy);
    super::add_test(env, "match", t_match);
    super::add_test(env, "search", t_search);
    super::add_test(env, "regex", t_search);
    super::add_test(env, "version", t_version);
    super::add_test(env, "version_compare", t_version);
    super::add_test(env, "failed", t_failed);
    super::add_test(env, "failure", t_failed);
    super::add_test(env, "succeeded", t_succeeded);
    super::add_test(env, "success", t_succeeded);
    super::add_test(env, "successful", t_succeeded);
    super::add_test(env, "changed", t_changed);
    super::add_test(env, "change", t_changed);
    super::add_test(env, "skipped", t_skipped);
    super::add_test(env, "skip", t_skipped);
    super::add_test(env, "subset", t_subset);
    super::add_test(env, "superset", t_superset);
    super::add_test(env, "contains", t_contains);
    super::add_test(env, "file", |v: Value| path_test(&v, Path::is_file));
    super::add_test(env, "directory", |v: Value| path_test(&v, Path::is_dir));
    super::add_test(env, "link", |v: Value| path_test(&v, Path::is_symlink));
    super::add_test(env, "exists", |v: Value| path_test(&v, Path::exists));
    super::add_test(env, "abs", |v: Value| path_test(&v, Path::is_absolute));
}

#[cfg(test)]
#[path = "filters_tests.rs"]
mod tests;
