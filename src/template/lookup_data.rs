//! The lookups that only rearrange data: `items`, `flattened`, `list`, `indexed_items`,
//! `dict`, `together`, `nested`/`cartesian`, `sequence`, `subelements`, `random_choice`.
//!
//! Each is Ansible's plugin of the same name, so `with_<name>: terms` and
//! `query('<name>', terms)` give the same items; the rules (one level of flattening for
//! `items`, `None` padding in `together`, skipped results dropped by `subelements`) are those
//! of ansible-core 2.19's `plugins/lookup/*.py`.

use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, Value};

use super::{is_list, py_repr, to_text};

/// The most items a lookup or filter makes: beyond it a typo (`count=1000000000`) would
/// exhaust memory instead of failing.
pub const MAX_ITEMS: usize = 10_000_000;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The items of data lookup `name`, or `None` when `name` is not one of them.
pub fn run(
    name: &str,
    terms: &[Value],
    kw: &dyn Fn(&str) -> Option<Value>,
) -> Option<Result<Vec<Value>, Error>> {
    Some(match name {
        "items" => Ok(flatten_once(terms)),
        "list" => Ok(terms.to_vec()),
        "flattened" => Ok(flatten_deep(terms)),
        "indexed_items" => Ok(flatten_once(terms)
            .into_iter()
            .enumerate()
            .map(|(i, x)| Value::from(vec![Value::from(i as i64), x]))
            .collect()),
        "dict" => dict(terms),
        "together" => lists(terms, "together").map(|lists| together(&lists)),
        "nested" | "cartesian" => lists(terms, name).map(|lists| nested(&lists)),
        "sequence" => terms
            .iter()
            .map(|t| sequence(&to_text(t)))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.concat()),
        "subelements" => subelements(terms, kw),
        "random_choice" => Ok(random_choice(terms)),
        _ => return None,
    })
}

fn items_of(v: &Value) -> Vec<Value> {
    v.try_iter().map(|i| i.collect()).unwrap_or_default()
}

/// `LookupBase._flatten`: lists among the terms are opened one level.
fn flatten_once(terms: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for t in terms {
        if is_list(t) {
            out.extend(items_of(t));
        } else {
            out.push(t.clone());
        }
    }
    out
}

/// `flattened`: every level of lists opened; `None` and empty strings dropped as Ansible does.
fn flatten_deep(terms: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for t in terms {
        if is_list(t) {
            out.extend(flatten_deep(&items_of(t)));
        } else if !(t.is_none() || t.as_str() == Some("")) {
            out.push(t.clone());
        }
    }
    out
}

fn dict(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for term in terms {
        if term.kind() != ValueKind::Map {
            return Err(err(format!(
                "with_dict expects a dict, got {}",
                py_repr(term)
            )));
        }
        for key in term.try_iter()? {
            let value = term.get_item(&key)?;
            out.push(Value::from_pairs([("key", key), ("value", value)]));
        }
    }
    Ok(out)
}

fn lists(terms: &[Value], name: &str) -> Result<Vec<Vec<Value>>, Error> {
    if terms.is_empty() {
        return Err(err(format!(
            "with_{name} requires at least one element in the list"
        )));
    }
    Ok(terms
        .iter()
        .map(|t| {
            if is_list(t) {
                items_of(t)
            } else {
                vec![t.clone()]
            }
        })
        .collect())
}

fn together(lists: &[Vec<Value>]) -> Vec<Value> {
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    (0..n)
        .map(|i| {
            let row: Vec<Value> = lists
                .iter()
                .map(|l| l.get(i).cloned().unwrap_or(Value::from(())))
                .collect();
            Value::from(flatten_once(&row))
        })
        .collect()
}

fn nested(lists: &[Vec<Value>]) -> Vec<Value> {
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
    acc.into_iter()
        .map(|c| Value::from(flatten_once(&c)))
        .collect()
}

/// `sequence`: `start=1 end=10 stride=2 format=%02d`, `count=N`, or the short form
/// `[start-]end[/stride][:format]`.
pub fn sequence(text: &str) -> Result<Vec<Value>, Error> {
    let mut start = 1i64;
    let mut end = None;
    let mut count = None;
    let mut stride = 1i64;
    let mut format = "%d".to_string();
    let num = |k: &str, v: &str| -> Result<i64, Error> {
        let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            Some(hex) => i64::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        };
        parsed.ok_or_else(|| err(format!("with_sequence: bad {k} '{v}'")))
    };
    if !text.contains('=') {
        let (range, fmt) = match text.split_once(':') {
            Some((r, f)) => (r, Some(f)),
            None => (text.trim(), None),
        };
        let (range, step) = match range.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (range, None),
        };
        match range.split_once('-') {
            Some((a, b)) if !a.is_empty() => {
                start = num("start", a)?;
                end = Some(num("end", b)?);
            }
            _ => end = Some(num("end", range)?),
        }
        if let Some(s) = step {
            stride = num("stride", s)?;
        }
        if let Some(f) = fmt {
            format = f.to_string();
        }
    } else {
        for part in text.split_whitespace() {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| err(format!("with_sequence: can't parse arg '{part}'")))?;
            match k {
                "start" => start = num(k, v)?,
                "end" => end = Some(num(k, v)?),
                "count" => count = Some(num(k, v)?),
                "stride" => stride = num(k, v)?,
                "format" => format = v.to_string(),
                _ => return Err(err(format!("with_sequence: unknown option '{k}'"))),
            }
        }
    }
    let end = match (end, count) {
        (Some(_), Some(_)) => {
            return Err(err(
                "with_sequence: can't specify both count and end in with_sequence",
            ));
        }
        (Some(e), None) => e,
        (None, Some(0)) => return Ok(Vec::new()),
        (None, Some(c)) => (c - 1)
            .checked_mul(stride)
            .and_then(|n| n.checked_add(start))
            .ok_or_else(|| err("with_sequence: the numbers are too large"))?,
        (None, None) => return Err(err("with_sequence needs end or count")),
    };
    if stride == 0 {
        return Ok(Vec::new());
    }
    if (stride > 0 && end < start) || (stride < 0 && end > start) {
        return Err(err(
            "with_sequence: to count backwards make stride negative",
        ));
    }
    let count = (end as i128 - start as i128) / stride as i128 + 1;
    if count > MAX_ITEMS as i128 {
        return Err(err(format!(
            "with_sequence: {count} items is more than {MAX_ITEMS}"
        )));
    }
    let mut out = Vec::with_capacity(count as usize);
    for k in 0..count as i64 {
        out.push(Value::from(format_int(&format, start + k * stride)?));
    }
    Ok(out)
}

/// Python's `format % i` for one integer: `%d`/`%i`/`%x`/`%X`/`%o`/`%s` with flags `0`/`-`
/// and a width, and `%%`.
fn format_int(format: &str, i: i64) -> Result<String, Error> {
    let bad = || err(format!("with_sequence: bad format string '{format}'"));
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut used = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek().filter(|f| matches!(f, '0' | '-' | '+' | ' ')) {
            flags.push(f);
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let conv = chars.next().ok_or_else(bad)?;
        if conv == '%' && flags.is_empty() && width.is_empty() {
            out.push('%');
            continue;
        }
        if used {
            return Err(bad());
        }
        used = true;
        let digits = match conv {
            'd' | 'i' | 's' | 'u' => i.abs().to_string(),
            'x' => format!("{:x}", i.abs()),
            'X' => format!("{:X}", i.abs()),
            'o' => format!("{:o}", i.abs()),
            _ => return Err(bad()),
        };
        let sign = if i < 0 {
            "-"
        } else if flags.contains('+') {
            "+"
        } else if flags.contains(' ') {
            " "
        } else {
            ""
        };
        let width: usize = width.parse().unwrap_or(0);
        let len = sign.len() + digits.len();
        let pad = width.saturating_sub(len);
        if flags.contains('-') {
            out.push_str(sign);
            out.push_str(&digits);
            out.push_str(&" ".repeat(pad));
        } else if flags.contains('0') {
            out.push_str(sign);
            out.push_str(&"0".repeat(pad));
            out.push_str(&digits);
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(sign);
            out.push_str(&digits);
        }
    }
    if !used {
        return Err(bad());
    }
    Ok(out)
}

/// `subelements`: pairs of (element, one item of its `key` list), `key` may be dotted;
/// elements that are skipped results are left out, and a whole skipped result gives nothing.
fn subelements(terms: &[Value], kw: &dyn Fn(&str) -> Option<Value>) -> Result<Vec<Value>, Error> {
    let usage = || {
        err(
            "subelements lookup expects a list of two or three items, first a dict or a list, second a string pointing to the subkey",
        )
    };
    let (first, key, flags) = match terms {
        [a, b] => (a, b, None),
        [a, b, c] => (a, b, Some(c)),
        _ => return Err(usage()),
    };
    let key = key.as_str().ok_or_else(usage)?;
    let skipped = |v: &Value| {
        v.get_attr("skipped")
            .is_ok_and(|s| !s.is_undefined() && s != Value::from(false))
    };
    let elements: Vec<Value> = match first.kind() {
        ValueKind::Map if skipped(first) => return Ok(Vec::new()),
        ValueKind::Map => first
            .try_iter()?
            .map(|k| first.get_item(&k))
            .collect::<Result<_, _>>()?,
        _ if is_list(first) => items_of(first),
        _ => return Err(usage()),
    };
    let flag = flags
        .and_then(|f| f.get_attr("skip_missing").ok())
        .or_else(|| kw("skip_missing"))
        .filter(|v| !v.is_undefined());
    let skip_missing =
        flag.is_some_and(|v| v.is_true() || matches!(v.as_str(), Some("yes" | "true" | "True")));
    let path: Vec<&str> = key.split('.').collect();
    let mut out = Vec::new();
    'elements: for el in elements {
        if el.kind() != ValueKind::Map {
            return Err(err(format!(
                "subelements lookup expects a dictionary, got '{}'",
                py_repr(&el)
            )));
        }
        if skipped(&el) {
            continue;
        }
        let mut at = el.clone();
        for (i, k) in path.iter().enumerate() {
            let next = at.get_attr(k).ok().filter(|v| !v.is_undefined());
            let Some(next) = next else {
                if skip_missing {
                    continue 'elements;
                }
                return Err(err(format!(
                    "could not find '{k}' key in iterated item '{}'",
                    py_repr(&at)
                )));
            };
            let last = i + 1 == path.len();
            if !last && next.kind() != ValueKind::Map {
                if skip_missing {
                    continue 'elements;
                }
                return Err(err(format!(
                    "the key {k} should point to a dictionary, got '{}'",
                    py_repr(&next)
                )));
            }
            if last && !is_list(&next) {
                return Err(err(format!(
                    "the key {k} should point to a list, got '{}'",
                    py_repr(&next)
                )));
            }
            at = next;
        }
        // Ansible pops the list out of the element it pairs.
        let element = without(&el, &path);
        for sub in items_of(&at) {
            out.push(Value::from(vec![element.clone(), sub]));
        }
    }
    Ok(out)
}

/// A copy of `map` without the (dotted) key `path`.
fn without(map: &Value, path: &[&str]) -> Value {
    let Some((first, rest)) = path.split_first() else {
        return map.clone();
    };
    let pairs: Vec<(Value, Value)> = map
        .try_iter()
        .map(|keys| {
            keys.filter_map(|k| {
                let v = map.get_item(&k).ok()?;
                if k.as_str() == Some(*first) {
                    if rest.is_empty() {
                        return None;
                    }
                    return Some((k, without(&v, rest)));
                }
                Some((k, v))
            })
            .collect()
        })
        .unwrap_or_default();
    Value::from_pairs(pairs)
}

fn random_choice(terms: &[Value]) -> Vec<Value> {
    if terms.is_empty() {
        return Vec::new();
    }
    let mut byte = [0u8; 8];
    let n = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut byte))
        .map(|_| u64::from_ne_bytes(byte))
        .unwrap_or_else(|_| std::process::id() as u64);
    vec![terms[(n % terms.len() as u64) as usize].clone()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(name: &str, yaml: &str) -> Result<String, Error> {
        let v = crate::yaml::parse_str(yaml, "t.yml").unwrap().to_value();
        let terms: Vec<Value> = items_of(&v);
        let out = run(name, &terms, &|_| None).expect("a data lookup")?;
        Ok(py_repr(&Value::from(out)))
    }

    /// Expected values: ansible-core 2.19's lookups, `query('NAME', ...)` with the same terms.
    #[test]
    fn each_lookup_gives_ansibles_items() {
        for (name, yaml, want) in [
            ("items", "[[1, 2], 3, [[4]]]", "[1, 2, 3, [4]]"),
            ("list", "[[1, 2], 3]", "[[1, 2], 3]"),
            ("flattened", "[[1, [2, [3]]], 4, ~, '']", "[1, 2, 3, 4]"),
            ("indexed_items", "[x, [y]]", "[[0, 'x'], [1, 'y']]"),
            (
                "dict",
                "[{a: 1, b: 2}]",
                "[{'key': 'a', 'value': 1}, {'key': 'b', 'value': 2}]",
            ),
            ("together", "[[1, 2], [3]]", "[[1, 3], [2, None]]"),
            (
                "nested",
                "[[1, 2], [a, b]]",
                "[[1, 'a'], [1, 'b'], [2, 'a'], [2, 'b']]",
            ),
            ("nested", "[[[1, 2]], [a]]", "[[1, 2, 'a']]"),
            (
                "sequence",
                "['start=1 end=3 format=n%d']",
                "['n1', 'n2', 'n3']",
            ),
            ("sequence", "['start=5 end=1 stride=-2']", "['5', '3', '1']"),
            (
                "sequence",
                "['count=3 start=0 stride=2']",
                "['0', '2', '4']",
            ),
            ("sequence", "['4-6/2:host%02d']", "['host04', 'host06']"),
            (
                "sequence",
                "['start=0x0a end=0x0c format=%x']",
                "['a', 'b', 'c']",
            ),
            ("sequence", "['count=0']", "[]"),
            (
                "sequence",
                "['start=-1 end=1 format=%+03d%%']",
                "['-01%', '+00%', '+01%']",
            ),
            ("sequence", "['end=2 format=[%-3d]']", "['[1  ]', '[2  ]']"),
            (
                "subelements",
                "[[{name: u, keys: [k1, k2]}], keys]",
                "[[{'name': 'u'}, 'k1'], [{'name': 'u'}, 'k2']]",
            ),
            (
                "subelements",
                "[[{name: a, u: {ks: [1]}}, {name: b, skipped: true}], u.ks]",
                "[[{'name': 'a', 'u': {}}, 1]]",
            ),
            (
                "subelements",
                "[{skipped: true, msg: x}, stdout_lines]",
                "[]",
            ),
            (
                "subelements",
                "[[{name: a}, {name: b, ks: [x]}], ks, {skip_missing: true}]",
                "[[{'name': 'b'}, 'x']]",
            ),
        ] {
            assert_eq!(items(name, yaml).unwrap(), want, "{name}: {yaml}");
        }
        assert_eq!(items("random_choice", "[a]").unwrap(), "['a']");
        assert!(run("file", &[], &|_| None).is_none());
    }

    #[test]
    fn wrong_terms_are_errors() {
        for (name, yaml, msg) in [
            ("dict", "[[1]]", "with_dict expects a dict"),
            (
                "sequence",
                "['start=1']",
                "with_sequence needs end or count",
            ),
            ("sequence", "['end=x']", "with_sequence: bad end 'x'"),
            ("sequence", "['step=2 end=3']", "unknown option 'step'"),
            ("sequence", "['start=3 end=1']", "make stride negative"),
            ("sequence", "['end=3 count=2']", "both count and end"),
            ("sequence", "['end=3 format=x']", "bad format string"),
            ("sequence", "['end=3 format=%d%d']", "bad format string"),
            (
                "sequence",
                "['count=9223372036854775807 stride=2']",
                "too large",
            ),
            ("sequence", "['end=100000000000']", "is more than"),
            ("subelements", "[x]", "expects a list of two or three items"),
            (
                "subelements",
                "[[{name: a}], ks]",
                "could not find 'ks' key",
            ),
            ("subelements", "[[{ks: 1}], ks]", "should point to a list"),
            ("subelements", "[[1], ks]", "expects a dictionary"),
            ("nested", "[]", "requires at least one element"),
        ] {
            let e = items(name, yaml).unwrap_err().to_string();
            assert!(e.contains(msg), "{name} {yaml}: {e}");
        }
    }
}
