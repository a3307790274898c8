//! The rest of Ansible's builtin filters and tests that work on plain data (ansible-core 2.19's
//! `plugins/filter/core.py`, `mathstuff.py`, `urlsplit.py` and `plugins/test/*.py`): digests,
//! combinatorics, math and sizes, UUIDs, dates, random picks, multi-document YAML, and the
//! task-result and value tests (URLs and controller paths are in `filters_paths`). Expected
//! values in the tests are what Ansible prints.

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Value};
use sha1::Digest as _;

use super::lookup_data::MAX_ITEMS;
use super::to_text;

pub(super) type FResult = Result<Value, Error>;

/// A parameter given by position or by name (`f(x)` or `f(name=x)`).
pub(super) fn param<T>(pos: Option<T>, kwargs: &Kwargs, name: &str) -> Result<Option<T>, Error>
where
    T: for<'a> minijinja::value::ArgType<'a, Output = T>,
{
    match kwargs.get::<Option<T>>(name)? {
        Some(v) => Ok(Some(v)),
        None => Ok(pos),
    }
}

pub(super) fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

pub(super) fn list(v: &Value) -> Result<Vec<Value>, Error> {
    match v.kind() {
        ValueKind::String => Ok(to_text(v)
            .chars()
            .map(|c| Value::from(c.to_string()))
            .collect()),
        ValueKind::None | ValueKind::Undefined => Err(err("expected a list")),
        _ => Ok(v.try_iter()?.collect()),
    }
}

/// A digest of the text as lowercase hex (`hash`, `checksum`, `sha1`, `md5`).
pub fn digest(algo: &str, data: &[u8]) -> Result<String, Error> {
    Ok(match algo {
        "sha1" => format!("{:x}", sha1::Sha1::digest(data)),
        "md5" => format!("{:x}", md5::Md5::digest(data)),
        "sha224" => format!("{:x}", sha2::Sha224::digest(data)),
        "sha256" => format!("{:x}", sha2::Sha256::digest(data)),
        "sha384" => format!("{:x}", sha2::Sha384::digest(data)),
        "sha512" => format!("{:x}", sha2::Sha512::digest(data)),
        other => {
            return Err(err(format!(
                "hash algorithm '{other}' is not supported (md5, sha1, sha224/256/384/512 are)"
            )));
        }
    })
}

fn f_hash(value: Value, algo: Option<String>) -> Result<String, Error> {
    digest(
        algo.as_deref().unwrap_or("sha1"),
        to_text(&value).as_bytes(),
    )
}

fn combinations(items: &[Value], k: usize) -> Vec<Vec<Value>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for (i, x) in items.iter().enumerate() {
        for mut rest in combinations(&items[i + 1..], k - 1) {
            rest.insert(0, x.clone());
            out.push(rest);
        }
    }
    out
}

fn permutations(items: &[Value], k: usize) -> Vec<Vec<Value>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for (i, x) in items.iter().enumerate() {
        let mut others = items.to_vec();
        others.remove(i);
        for mut rest in permutations(&others, k - 1) {
            rest.insert(0, x.clone());
            out.push(rest);
        }
    }
    out
}

fn lists_of(value: Vec<Vec<Value>>) -> Value {
    Value::from(value.into_iter().map(Value::from).collect::<Vec<_>>())
}

/// An error when a result would have more than [`MAX_ITEMS`] items (else memory runs out).
fn within_limit(count: Option<u128>, what: &str) -> Result<(), Error> {
    match count {
        Some(n) if n <= MAX_ITEMS as u128 => Ok(()),
        _ => Err(err(format!("{what}: more than {MAX_ITEMS} items"))),
    }
}

/// n! / (n-k)! (and / k! for combinations), or None when it overflows.
fn arrangements(n: usize, k: usize, ordered: bool) -> Option<u128> {
    if k > n {
        return Some(0);
    }
    let mut c: u128 = 1;
    for i in 0..k {
        c = c.checked_mul((n - i) as u128)?;
        if !ordered {
            c /= (i + 1) as u128;
        }
    }
    Some(c)
}

fn f_combinations(value: Value, r: usize) -> FResult {
    let items = list(&value)?;
    within_limit(arrangements(items.len(), r, false), "combinations")?;
    Ok(lists_of(combinations(&items, r)))
}

fn f_permutations(value: Value, r: Option<usize>) -> FResult {
    let items = list(&value)?;
    let r = r.unwrap_or(items.len());
    within_limit(arrangements(items.len(), r, true), "permutations")?;
    Ok(lists_of(permutations(&items, r)))
}

fn f_product(value: Value, others: Rest<Value>, kwargs: Kwargs) -> FResult {
    let repeat: usize = kwargs.get::<Option<usize>>("repeat")?.unwrap_or(1);
    kwargs.assert_all_used()?;
    let mut pools = vec![list(&value)?];
    for o in others.iter() {
        pools.push(list(o)?);
    }
    let pools: Vec<Vec<Value>> = (0..repeat).flat_map(|_| pools.clone()).collect();
    let total = pools
        .iter()
        .try_fold(1u128, |acc, p| acc.checked_mul(p.len() as u128));
    within_limit(total, "product")?;
    let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
    for pool in &pools {
        acc = acc
            .into_iter()
            .flat_map(|p| {
                pool.iter()
                    .map(move |x| [p.clone(), vec![x.clone()]].concat())
            })
            .collect();
    }
    Ok(lists_of(acc))
}

fn f_zip_longest(value: Value, others: Rest<Value>, kwargs: Kwargs) -> FResult {
    let fill: Value = kwargs
        .get::<Option<Value>>("fillvalue")?
        .unwrap_or(Value::from(()));
    kwargs.assert_all_used()?;
    let mut lists = vec![list(&value)?];
    for o in others.iter() {
        lists.push(list(o)?);
    }
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(lists_of(
        (0..n)
            .map(|i| {
                lists
                    .iter()
                    .map(|l| l.get(i).cloned().unwrap_or(fill.clone()))
                    .collect()
            })
            .collect(),
    ))
}

/// The `subelements` filter (core.py's, unlike the lookup it keeps the list in the element).
fn f_subelements(value: Value, key: Value, skip_missing: Option<bool>, kwargs: Kwargs) -> FResult {
    let skip_missing = param(skip_missing, &kwargs, "skip_missing")?;
    kwargs.assert_all_used()?;
    let elements: Vec<Value> = match value.kind() {
        ValueKind::Map => value
            .try_iter()?
            .map(|k| value.get_item(&k))
            .collect::<Result<_, _>>()?,
        ValueKind::Seq | ValueKind::Iterable => value.try_iter()?.collect(),
        _ => return Err(err("obj must be a list of dicts or a nested dict")),
    };
    let path: Vec<String> = match key.kind() {
        ValueKind::String => to_text(&key).split('.').map(str::to_string).collect(),
        ValueKind::Seq => key.try_iter()?.map(|k| to_text(&k)).collect(),
        _ => return Err(err("subelements must be a list or a string")),
    };
    let mut out = Vec::new();
    for element in elements {
        let mut values = element.clone();
        for k in &path {
            if values.kind() != ValueKind::Map {
                return Err(err(format!(
                    "the key {k} should point to a dictionary, got '{}'",
                    super::py_repr(&values)
                )));
            }
            match values.get_attr(k).ok().filter(|v| !v.is_undefined()) {
                Some(v) => values = v,
                None if skip_missing.unwrap_or(false) => {
                    values = Value::from(Vec::<Value>::new());
                    break;
                }
                None => {
                    return Err(err(format!(
                        "could not find '{k}' key in iterated item {}",
                        super::py_repr(&values)
                    )));
                }
            }
        }
        if values.kind() != ValueKind::Seq {
            return Err(err(format!(
                "the key '{}' should point to a list, got {}",
                path.join("."),
                super::py_repr(&values)
            )));
        }
        for v in values.try_iter()? {
            out.push(Value::from(vec![element.clone(), v]));
        }
    }
    Ok(Value::from(out))
}

fn f_from_yaml_all(value: Value) -> FResult {
    let docs =
        crate::yaml::parse_all(&to_text(&value), "<from_yaml_all>").map_err(|e| err(e.message))?;
    Ok(Value::from(
        docs.iter().map(|d| d.to_value()).collect::<Vec<_>>(),
    ))
}

fn number(v: &Value, what: &str) -> Result<f64, Error> {
    if let Ok(f) = f64::try_from(v.clone()) {
        return Ok(f);
    }
    to_text(v)
        .trim()
        .parse()
        .map_err(|_| err(format!("{what}: '{}' is not a number", to_text(v))))
}

fn f_log(value: Value, base: Option<Value>, kwargs: Kwargs) -> FResult {
    let base = param(base, &kwargs, "base")?;
    kwargs.assert_all_used()?;
    let x = number(&value, "log")?;
    let r = match base {
        None => x.ln(),
        Some(b) => x.ln() / number(&b, "log")?.ln(),
    };
    Ok(Value::from(r))
}

fn f_pow(value: Value, y: Value) -> FResult {
    Ok(Value::from(number(&value, "pow")?.powf(number(&y, "pow")?)))
}

fn f_root(value: Value, base: Option<Value>, kwargs: Kwargs) -> FResult {
    let base = param(base, &kwargs, "base")?;
    kwargs.assert_all_used()?;
    let x = number(&value, "root")?;
    Ok(Value::from(match base {
        None => x.sqrt(),
        Some(b) => x.powf(1.0 / number(&b, "root")?),
    }))
}

const SIZE_UNITS: [&str; 9] = ["", "K", "M", "G", "T", "P", "E", "Z", "Y"];

/// `human_readable`: `1.00 KB`, `1.00 Mb` (isbits), as `formatters.bytes_to_human`.
fn f_human_readable(
    value: Value,
    isbits: Option<bool>,
    unit: Option<String>,
    kwargs: Kwargs,
) -> FResult {
    let isbits = param(isbits, &kwargs, "isbits")?;
    let unit = param(unit, &kwargs, "unit")?;
    kwargs.assert_all_used()?;
    let n = number(&value, "human_readable")?;
    let isbits = isbits.unwrap_or(false);
    let (suffix, base) = if isbits {
        ("b", "bits")
    } else {
        ("B", "Bytes")
    };
    let limit = |i: usize| 1024f64.powi(i as i32);
    let i = match unit.as_deref().and_then(|u| u.chars().next()) {
        Some(c) => SIZE_UNITS
            .iter()
            .position(|s| s.starts_with(c.to_ascii_uppercase()) && !s.is_empty())
            .unwrap_or(0),
        None => (0..SIZE_UNITS.len())
            .rev()
            .find(|&i| n >= limit(i))
            .unwrap_or(0),
    };
    let value = n / limit(i);
    let text = if i == 0 {
        format!("{value:.2} {base}")
    } else {
        format!("{value:.2} {}{suffix}", SIZE_UNITS[i])
    };
    Ok(Value::from(text))
}

/// `human_to_bytes`: `'1 KB'` is 1024, `'2 Gb'` with isbits, as `formatters.human_to_bytes`.
fn f_human_to_bytes(
    value: Value,
    default_unit: Option<String>,
    isbits: Option<bool>,
    kwargs: Kwargs,
) -> FResult {
    let default_unit = param(default_unit, &kwargs, "default_unit")?;
    let isbits = param(isbits, &kwargs, "isbits")?;
    kwargs.assert_all_used()?;
    let text = to_text(&value);
    let fail = |why: String| err(format!("human_to_bytes() {why}"));
    let re =
        crate::pyre::Pattern::plain(r"^([0-9]*\.?[0-9]+)(?:\s*([A-Za-z]+))?\s*$").map_err(err)?;
    let caps = re
        .captures(&text)
        .map_err(err)?
        .ok_or_else(|| fail(format!("can't interpret following string: {text}")))?;
    let num: f64 = caps[1]
        .parse()
        .map_err(|_| fail(format!("can't interpret following string: {text}")))?;
    let Some(unit) = caps.get(2).map(|m| m.as_str().to_string()).or(default_unit) else {
        return Ok(Value::from(num.round() as i64));
    };
    let range_key = unit.chars().next().unwrap_or('B').to_ascii_uppercase();
    let power = match range_key {
        'B' => 0,
        k => SIZE_UNITS
            .iter()
            .position(|u| u.starts_with(k) && !u.is_empty())
            .ok_or_else(|| {
                fail(format!(
                    "failed to convert {text} (unit = {unit}). The suffix must be one of Y, Z, E, P, T, G, M, K, B"
                ))
            })?,
    };
    let (class, class_name) = if isbits.unwrap_or(false) {
        ('b', "bit")
    } else {
        ('B', "byte")
    };
    // A two-letter unit must end in the class letter (KB, or Kb for bits), or name it.
    if unit.chars().count() > 1
        && !unit.to_lowercase().contains(class_name)
        && unit.chars().nth(1) != Some(class)
    {
        let expect = if range_key == 'B' {
            format!("expect {class} or {class_name}")
        } else {
            format!("expect {range_key}{class} or {range_key}")
        };
        return Err(fail(format!(
            "failed to convert {text}. Value is not a valid string ({expect})"
        )));
    }
    Ok(Value::from(
        (num * 1024f64.powi(power as i32)).round() as i64
    ))
}

/// `to_uuid`: a version-5 UUID of the text in Ansible's namespace (or the one given).
fn f_to_uuid(value: Value, namespace: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let namespace = param(namespace, &kwargs, "namespace")?;
    kwargs.assert_all_used()?;
    let ns = namespace.unwrap_or_else(|| "361E6D51-FAEC-444A-9079-341386DA8E2E".into());
    let hex: String = ns.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return Err(err(format!("to_uuid: '{ns}' is not a UUID")));
    }
    let mut bytes = Vec::with_capacity(16);
    for i in 0..16 {
        bytes.push(
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| err(format!("to_uuid: '{ns}' is not a UUID")))?,
        );
    }
    let mut h = sha1::Sha1::new();
    h.update(&bytes);
    h.update(to_text(&value).as_bytes());
    let mut d: [u8; 20] = h.finalize().into();
    d[6] = (d[6] & 0x0f) | 0x50;
    d[8] = (d[8] & 0x3f) | 0x80;
    let x: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    ))
}

/// `strftime`: the controller's local time (or UTC) of `second` (now by default), formatted by
/// the C library as Python's time.strftime is.
fn f_strftime(
    format: String,
    second: Option<Value>,
    utc: Option<bool>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let second = param(second, &kwargs, "second")?;
    let utc = param(utc, &kwargs, "utc")?;
    kwargs.assert_all_used()?;
    let t: libc::time_t = match second {
        Some(s) if !s.is_none() => number(&s, "strftime")? as libc::time_t,
        _ => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as libc::time_t)
            .unwrap_or(0),
    };
    let fmt = std::ffi::CString::new(format)
        .map_err(|_| err("strftime: the format contains a NUL byte"))?;
    // SAFETY: `tm` is a plain C struct filled by gmtime_r/localtime_r from a valid time_t;
    // strftime writes at most `buf.len()` bytes and returns how many it wrote.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let ok = if utc.unwrap_or(false) {
            !libc::gmtime_r(&t, &mut tm).is_null()
        } else {
            !libc::localtime_r(&t, &mut tm).is_null()
        };
        if !ok {
            return Err(err(format!("strftime: {t} is not a representable time")));
        }
        let mut buf = vec![0u8; 1024];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), &tm);
        buf.truncate(n);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok();
    if ok {
        u64::from_ne_bytes(b)
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }
}

/// `random`: an item of a list, or an int below the number (`start`, `step` for ranges).
fn f_random(value: Value, start: Option<i64>, step: Option<i64>, kwargs: Kwargs) -> FResult {
    let start = param(start, &kwargs, "start")?;
    let step = param(step, &kwargs, "step")?;
    if kwargs.get::<Option<Value>>("seed")?.is_some() {
        return Err(err(
            "random: seed= is not supported by prov (Python's generator cannot be reproduced)",
        ));
    }
    kwargs.assert_all_used()?;
    if let Ok(end) = i64::try_from(value.clone()) {
        let start = start.unwrap_or(0);
        let step = step.unwrap_or(1).max(1);
        let count = (end as i128 - start as i128 + step as i128 - 1) / step as i128;
        if count <= 0 {
            return Err(err("random: empty range"));
        }
        return Ok(Value::from(
            start + (random_u64() % count as u64) as i64 * step,
        ));
    }
    let items = list(&value)?;
    if items.is_empty() {
        return Err(err("random: the list is empty"));
    }
    Ok(items[(random_u64() % items.len() as u64) as usize].clone())
}

fn f_shuffle(value: Value) -> FResult {
    let mut items = list(&value)?;
    for i in (1..items.len()).rev() {
        let j = (random_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
    Ok(Value::from(items))
}

// Tests.

fn result_flag(v: &Value, key: &str) -> bool {
    v.get_attr(key).is_ok_and(|f| f.is_true())
}

fn t_all(value: Value) -> Result<bool, Error> {
    Ok(list(&value)?.iter().all(Value::is_true))
}

fn t_any(value: Value) -> Result<bool, Error> {
    Ok(list(&value)?.iter().any(Value::is_true))
}

fn t_nan(value: Value) -> bool {
    f64::try_from(value).is_ok_and(f64::is_nan)
}

fn t_reachable(value: Value) -> bool {
    !result_flag(&value, "unreachable")
}

fn t_unreachable(value: Value) -> bool {
    result_flag(&value, "unreachable")
}

fn t_timedout(value: Value) -> bool {
    value
        .get_attr("timedout")
        .is_ok_and(|t| t.get_attr("period").is_ok_and(|p| p.is_true()) || t.is_true())
}

/// `finished`/`started`: prov runs no task asynchronously, so a result is both, unless it
/// says otherwise (`finished: 0`).
fn t_finished(value: Value) -> bool {
    value
        .get_attr("finished")
        .map_or(true, |f| f.is_undefined() || f.is_true())
}

fn t_started(value: Value) -> bool {
    value
        .get_attr("started")
        .map_or(true, |f| f.is_undefined() || f.is_true())
}

fn t_vault_encrypted(value: Value) -> bool {
    to_text(&value).trim_start().starts_with("$ANSIBLE_VAULT;")
}

/// `json_query` (community.general): a JMESPath query over the value, as the Python jmespath
/// package runs it (what it cannot express as JSON is an error).
fn f_json_query(value: Value, query: String) -> Result<Value, Error> {
    let fail = |what: String| Error::new(ErrorKind::InvalidOperation, what);
    let expr = jmespath::compile(&legacy_literals(&query))
        .map_err(|e| fail(format!("JMESPathError in json_query filter plugin: {e}")))?;
    let data: jmespath::Variable = serde_json::from_value(crate::vars::to_json(&value))
        .map_err(|e| fail(format!("json_query: the value is not JSON data: {e}")))?;
    let out = expr
        .search(data)
        .map_err(|e| fail(format!("JMESPathError in json_query filter plugin: {e}")))?;
    let json = serde_json::to_value(&*out)
        .map_err(|e| fail(format!("json_query: the result is not JSON data: {e}")))?;
    Ok(crate::vars::from_json(&json))
}

/// Python jmespath's legacy literals: a backquoted literal that is not JSON (`` `x` ``) is the
/// string of its text (without leading blanks), as that package takes it.
fn legacy_literals(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        // The literal ends at the next backquote not escaped with a backslash.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '`' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else {
            out.push_str(&rest[start..]);
            return out;
        };
        let text = after[..end].replace("\\`", "`");
        if serde_json::from_str::<serde_json::Value>(&text).is_ok() {
            out.push('`');
            out.push_str(&after[..end]);
            out.push('`');
        } else {
            let json = serde_json::Value::String(text.trim_start().to_string()).to_string();
            out.push('`');
            out.push_str(&json.replace('`', "\\`"));
            out.push('`');
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

pub fn register(env: &mut Environment<'static>) {
    super::add_filter(env, "json_query", f_json_query);
    super::add_filter(env, "hash", f_hash);
    super::add_filter(env, "checksum", |v: Value| f_hash(v, Some("sha1".into())));
    super::add_filter(env, "sha1", |v: Value| f_hash(v, Some("sha1".into())));
    super::add_filter(env, "md5", |v: Value| f_hash(v, Some("md5".into())));
    super::add_filter(env, "combinations", f_combinations);
    super::add_filter(env, "permutations", f_permutations);
    super::add_filter(env, "product", f_product);
    super::add_filter(env, "zip_longest", f_zip_longest);
    super::add_filter(env, "subelements", f_subelements);
    super::add_filter(env, "from_yaml_all", f_from_yaml_all);
    super::add_filter(env, "log", f_log);
    super::add_filter(env, "pow", f_pow);
    super::add_filter(env, "root", f_root);
    super::add_filter(env, "human_readable", f_human_readable);
    super::add_filter(env, "human_to_bytes", f_human_to_bytes);
    super::add_filter(env, "to_uuid", f_to_uuid);
    super::add_filter(env, "strftime", f_strftime);
    super::add_filter(env, "random", f_random);
    super::add_filter(env, "shuffle", f_shuffle);
    super::add_test(env, "all", t_all);
    super::add_test(env, "any", t_any);
    super::add_test(env, "nan", t_nan);
    super::add_test(env, "reachable", t_reachable);
    super::add_test(env, "unreachable", t_unreachable);
    super::add_test(env, "timedout", t_timedout);
    super::add_test(env, "finished", t_finished);
    super::add_test(env, "started", t_started);
    super::add_test(env, "vault_encrypted", t_vault_encrypted);
}

#[cfg(test)]
mod tests {
    fn render(expr: &str) -> String {
        let ctx = crate::vars::Context::new(vec![]);
        crate::template::render_text(expr, &ctx).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// The expected values are what the Python jmespath package (1.0) returned for the same
    /// queries, as community.general's json_query runs them.
    #[test]
    fn json_query_answers_as_python_jmespath() {
        let v = crate::yaml::parse_str(
            "d: {users: [{name: a, groups: [x, y], uid: 1}, {name: b, groups: [y], uid: 2}], m: {k1: {v: 1}, k2: {v: 2}}}\n",
            "vars.yml",
        )
        .unwrap()
        .to_value();
        let ctx = crate::vars::Context::new(vec![crate::vars::Layer::raw(
            "t",
            crate::vars::value_to_map(&v),
        )]);
        for (q, want) in [
            ("users[*].name", r#"["a", "b"]"#),
            ("users[?uid > `1`].name | [0]", r#""b""#),
            ("users[?contains(groups, 'x')].name", r#"["a"]"#),
            ("users[?contains(groups, `x`)].name", r#"["a"]"#),
            ("m.*.v", "[1, 2]"),
            ("missing", "null"),
            ("length(users)", "2"),
            ("users[?name=='b'].uid", "[2]"),
        ] {
            let expr = format!("{{{{ d | json_query(\"{q}\") | to_json }}}}");
            let got =
                crate::template::render_text(&expr, &ctx).unwrap_or_else(|e| panic!("{q}: {e}"));
            assert_eq!(got, want, "{q}");
        }
        // Roles name it by its FQCN; prov's filters and tests answer to those too.
        let fq = "{{ d | community.general.json_query('m.k1.v') }} {{ 'ab' is ansible.builtin.match('a') }} {{ [1] | ansible.builtin.to_json }}";
        assert_eq!(
            crate::template::render_text(fq, &ctx).unwrap(),
            "1 True [1]"
        );
        let bad = crate::template::render_text("{{ d | json_query('users[') }}", &ctx);
        assert!(bad.unwrap_err().to_string().contains("JMESPathError"));
        assert_eq!(super::legacy_literals("a[?b==`x y`]"), r#"a[?b==`"x y"`]"#);
        assert_eq!(
            super::legacy_literals("a[?b==`1`] `unclosed"),
            "a[?b==`1`] `unclosed"
        );
    }

    /// Each expected value is what ansible-core 2.19 prints for the same expression.
    #[test]
    fn filters_give_ansibles_values() {
        for (expr, want) in [
            (
                "{{ 'abc' | hash }}",
                "a9993e364706816aba3e25717850c26c9cd0d89d",
            ),
            (
                "{{ 'abc' | hash('md5') }}",
                "900150983cd24fb0d6963f7d28e17f72",
            ),
            (
                "{{ 'abc' | checksum }}",
                "a9993e364706816aba3e25717850c26c9cd0d89d",
            ),
            ("{{ 'abc' | md5 }}", "900150983cd24fb0d6963f7d28e17f72"),
            (
                "{{ [1, 2, 3] | combinations(2) | list }}",
                "[[1, 2], [1, 3], [2, 3]]",
            ),
            (
                "{{ [1, 2, 3] | permutations(2) | list }}",
                "[[1, 2], [1, 3], [2, 1], [2, 3], [3, 1], [3, 2]]",
            ),
            (
                "{{ [1, 2] | product(['a', 'b']) | list }}",
                "[[1, 'a'], [1, 'b'], [2, 'a'], [2, 'b']]",
            ),
            (
                "{{ [1, 2] | zip_longest([3], fillvalue='x') | list }}",
                "[[1, 3], [2, 'x']]",
            ),
            (
                "{{ [{'n': 1, 'ks': [5, 6]}] | subelements('ks') }}",
                "[[{'n': 1, 'ks': [5, 6]}, 5], [{'n': 1, 'ks': [5, 6]}, 6]]",
            ),
            (
                "{{ 'a: 1\n---\n- b\n' | from_yaml_all | list }}",
                "[{'a': 1}, ['b']]",
            ),
            ("{{ 8 | log(2) }}", "3.0"),
            ("{{ 2 | pow(10) }}", "1024.0"),
            ("{{ 27 | root(3) }}", "3.0"),
            ("{{ 1 | human_readable }}", "1.00 Bytes"),
            ("{{ 1048576 | human_readable }}", "1.00 MB"),
            ("{{ 1536 | human_readable(unit='K') }}", "1.50 KB"),
            ("{{ 1048576 | human_readable(isbits=True) }}", "1.00 Mb"),
            ("{{ '1 KB' | human_to_bytes }}", "1024"),
            ("{{ '2M' | human_to_bytes }}", "2097152"),
            ("{{ '10' | human_to_bytes(default_unit='K') }}", "10240"),
            ("{{ '3 B' | human_to_bytes }}", "3"),
            ("{{ '1.5 Mb' | human_to_bytes(isbits=True) }}", "1572864"),
            (
                "{{ 'golyat-1' | to_uuid }}",
                "c31ab054-8332-57f6-b4f4-2e98c475729b",
            ),
            (
                "{{ '%Y-%m-%d %H:%M' | strftime(0, utc=True) }}",
                "1970-01-01 00:00",
            ),
            ("{{ [3] | random }}", "3"),
            ("{{ [1] | shuffle }}", "[1]"),
        ] {
            assert_eq!(render(expr), want, "{expr}");
        }
        let n: i64 = render("{{ 10 | random(start=5) }}").parse().unwrap();
        assert!((5..10).contains(&n));
    }

    #[test]
    fn tests_give_ansibles_answers() {
        for (expr, want) in [
            ("{{ [1, true] is all }}", "True"),
            ("{{ [0, ''] is any }}", "False"),
            ("{{ {'unreachable': true} is unreachable }}", "True"),
            ("{{ {'changed': false} is reachable }}", "True"),
            ("{{ {'rc': 0} is finished }}", "True"),
            (
                "{{ '$ANSIBLE_VAULT;1.1;AES256\n6162' is vault_encrypted }}",
                "True",
            ),
        ] {
            assert_eq!(render(expr), want, "{expr}");
        }
    }

    #[test]
    fn wrong_input_is_an_error() {
        let ctx = crate::vars::Context::new(vec![]);
        for (expr, msg) in [
            ("{{ 'x' | hash('crc32') }}", "not supported"),
            ("{{ '1 XB' | human_to_bytes }}", "failed to convert"),
            ("{{ '1 Kb' | human_to_bytes }}", "expect KB or K"),
            ("{{ [1] | random(seed=1) }}", "seed= is not supported"),
            ("{{ 'x' | to_uuid('bad') }}", "is not a UUID"),
            ("{{ range(20) | list | permutations | list }}", "more than"),
            ("{{ [1, 2] | product(repeat=40) | list }}", "more than"),
        ] {
            let e = crate::template::render_text(expr, &ctx)
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{expr}: {e}");
        }
    }
}
