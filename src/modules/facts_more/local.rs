//! `local`: the custom facts of `/etc/ansible/facts.d/*.fact` as system/local.py reads them:
//! an executable file's output, any other file's text (stripped), each parsed as JSON, else
//! as INI the way Python's ConfigParser reads it (sections of options; a `DEFAULT` section
//! shared by all; option names lowercased; `%(name)s` interpolation), else an error string
//! in place of the fact, with Ansible's wording.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use minijinja::Value;

/// `local` from the `local=` lines (one per .fact file, in name order).
pub fn local(entries: &[serde_json::Value]) -> Value {
    let mut out: Vec<(String, Value)> = Vec::new();
    for e in entries {
        let Some(path) = e.get("path").and_then(|p| p.as_str()) else {
            continue;
        };
        let name = path.rsplit('/').next().unwrap_or(path).replace(".fact", "");
        let text = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let fact = if e.get("missing").is_some() {
            Value::from(format!(
                "Could not stat fact ({path}): [Errno 2] No such file or directory: '{path}'"
            ))
        } else if let Some(rc) = e.get("rc").and_then(|r| r.as_i64()) {
            if rc != 0 {
                Value::from(format!(
                    "Failure executing fact script ({path}), rc: {rc}, err: "
                ))
            } else {
                local_fact(&text("out"), path)
            }
        } else {
            local_fact(text("content").trim(), path)
        };
        out.retain(|(k, _)| *k != name);
        out.push((name, fact));
    }
    Value::from_pairs(out)
}

/// A local fact's text: JSON, else INI (sections of options), else an error string.
fn local_fact(text: &str, path: &str) -> Value {
    if let Ok(j) = serde_json::from_str::<serde_json::Value>(text) {
        return crate::vars::from_json(&j);
    }
    match Ini::parse(text) {
        Err(()) => Value::from(format!(
            "error loading facts as JSON or ini - please check content: {path}"
        )),
        Ok(ini) => ini.fact(path),
    }
}

/// What Python's ConfigParser (its defaults: `=`/`:`, `#`/`;` comment lines, lowercased
/// option names, strict, a DEFAULT section, basic `%(name)s` interpolation) reads.
#[derive(Debug, Default)]
struct Ini {
    defaults: IndexMap<String, Vec<String>>,
    sections: IndexMap<String, IndexMap<String, Vec<String>>>,
}

/// Python's `repr()` of a string.
fn py_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

impl Ini {
    /// The options of a section read (the defaults for `DEFAULT`).
    fn options_mut(&mut self, sect: &str) -> Option<&mut IndexMap<String, Vec<String>>> {
        if sect == "DEFAULT" {
            Some(&mut self.defaults)
        } else {
            self.sections.get_mut(sect)
        }
    }

    /// ConfigParser._read; `Err` for what raises configparser.Error.
    fn parse(text: &str) -> Result<Ini, ()> {
        let mut ini = Ini::default();
        // The current section (`DEFAULT` for the defaults) and option.
        let mut cur: Option<String> = None;
        let mut opt: Option<String> = None;
        let mut indent = 0usize;
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        let mut bad = false;
        for raw in text.split_inclusive('\n') {
            let comment = ["#", ";"].iter().any(|p| raw.trim().starts_with(p));
            let value = if comment { "" } else { raw.trim() };
            let values = match (&cur, &opt) {
                (Some(s), Some(o)) => ini.options_mut(s).and_then(|m| m.get_mut(o)),
                _ => None,
            };
            if value.is_empty() {
                // An empty line belongs to a value that may continue.
                if let (false, Some(v)) = (comment, values) {
                    v.push(String::new());
                }
                continue;
            }
            let level = raw.find(|c: char| !c.is_whitespace()).unwrap_or(0);
            if let Some(v) = values.filter(|_| level > indent) {
                v.push(value.to_string());
                continue;
            }
            indent = level;
            // `\[(?P<header>.+)\]`: greedy, up to the last `]`.
            if let Some(header) = value
                .strip_prefix('[')
                .and_then(|h| h.rfind(']').map(|e| &h[..e]))
                .filter(|h| !h.is_empty())
            {
                if ini.sections.contains_key(header) {
                    if !seen.insert((header.to_string(), String::new())) {
                        return Err(());
                    }
                } else if header != "DEFAULT" {
                    ini.sections.insert(header.to_string(), IndexMap::new());
                    seen.insert((header.to_string(), String::new()));
                }
                cur = Some(header.to_string());
                opt = None;
                continue;
            }
            let Some(s) = cur.clone() else {
                return Err(());
            };
            match value.find(['=', ':']) {
                Some(i) => {
                    let name = value[..i].trim_end().to_lowercase();
                    bad |= name.is_empty();
                    if !seen.insert((s.clone(), format!("\0{name}"))) {
                        return Err(());
                    }
                    if let Some(m) = ini.options_mut(&s) {
                        m.insert(name.clone(), vec![value[i + 1..].trim().to_string()]);
                    }
                    opt = Some(name);
                }
                None => bad = true,
            }
        }
        if bad { Err(()) } else { Ok(ini) }
    }

    fn joined(v: &[String]) -> String {
        v.join("\n").trim_end().to_string()
    }

    /// An option's raw value in a section (the section's, else the defaults').
    fn raw(&self, sect: &str, name: &str) -> Option<String> {
        self.sections
            .get(sect)
            .and_then(|m| m.get(name))
            .or_else(|| self.defaults.get(name))
            .map(|v| Ini::joined(v))
    }

    /// BasicInterpolation.before_get.
    fn get(&self, sect: &str, opt: &str) -> Result<String, String> {
        let raw = self.raw(sect, opt).unwrap_or_default();
        let mut out = String::new();
        self.interpolate(sect, opt, &raw, &raw, 1, &mut out)?;
        Ok(out)
    }

    fn interpolate(
        &self,
        sect: &str,
        opt: &str,
        rawval: &str,
        mut rest: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), String> {
        if depth > 10 {
            return Err(format!(
                "Recursion limit exceeded in value substitution: option {} in section {} contains an interpolation key which cannot be substituted in 10 steps. Raw value: {}",
                py_repr(opt),
                py_repr(sect),
                py_repr(rawval)
            ));
        }
        while !rest.is_empty() {
            let Some(p) = rest.find('%') else {
                out.push_str(rest);
                return Ok(());
            };
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            if rest[1..].starts_with('%') {
                out.push('%');
                rest = &rest[2..];
            } else if rest[1..].starts_with('(') {
                let end = rest
                    .find(")s")
                    .filter(|&e| e > 2 && !rest[2..e].contains(')'));
                let Some(end) = end else {
                    return Err(format!(
                        "bad interpolation variable reference {}",
                        py_repr(rest)
                    ));
                };
                let var = rest[2..end].to_lowercase();
                rest = &rest[end + 2..];
                let Some(v) = self.raw(sect, &var) else {
                    return Err(format!(
                        "Bad value substitution: option {} in section {} contains an interpolation key {} which is not a valid option name. Raw value: {}",
                        py_repr(opt),
                        py_repr(sect),
                        py_repr(&var),
                        py_repr(rawval)
                    ));
                };
                if v.contains('%') {
                    self.interpolate(sect, opt, rawval, &v, depth + 1, out)?;
                } else {
                    out.push_str(&v);
                }
            } else {
                return Err(format!(
                    "'%' must be followed by '%' or '(', found: {}",
                    py_repr(rest)
                ));
            }
        }
        Ok(())
    }

    /// The fact, as local.py builds it from the parser (with its behaviour after an
    /// interpolation error: the fact becomes that error's text, and what follows fails on it).
    fn fact(&self, path: &str) -> Value {
        let failed = |e: &str| Value::from(format!("Failed to convert ({path}) to JSON: {e}"));
        let mut fact: Result<Vec<(String, Value)>, String> = Ok(Vec::new());
        for (sect, own) in &self.sections {
            match &mut fact {
                Ok(f) => f.push((sect.clone(), Value::from(()))),
                Err(s) if !s.contains(sect.as_str()) => {
                    return failed("'str' object does not support item assignment");
                }
                Err(_) => {}
            }
            let mut opts: Vec<&String> = own.keys().collect();
            opts.extend(self.defaults.keys().filter(|k| !own.contains_key(*k)));
            let mut values: Vec<(String, Value)> = Vec::new();
            for o in opts {
                match self.get(sect, o) {
                    Err(ex) => {
                        fact = Err(format!(
                            "error loading facts as ini - please check content: {path} ({ex})"
                        ))
                    }
                    Ok(v) => {
                        if fact.is_err() {
                            return failed("string indices must be integers, not 'str'");
                        }
                        values.push((o.clone(), Value::from(v)));
                    }
                }
            }
            if let Ok(f) = &mut fact
                && let Some(last) = f.last_mut()
            {
                last.1 = Value::from_pairs(values);
            }
        }
        match fact {
            Ok(f) => Value::from_pairs(f),
            Err(s) => Value::from(s),
        }
    }
}
