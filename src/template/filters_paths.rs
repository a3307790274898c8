//! Ansible's filters and tests for URLs and controller paths (ansible-core 2.19's
//! `plugins/filter/urlsplit.py`, `core.py`'s path filters and `plugins/test/uri.py`,
//! `files.py`): `urlsplit`, `urldecode`, `normpath`, `expanduser`, `expandvars`, `realpath`,
//! `relpath`, `commonpath`, `fileglob`, and the tests `url`, `uri`, `urn`, `same_file`, `mount`.
//! Paths are the controller's, as in Ansible (templates are rendered there). Expected values
//! in the tests are what Ansible prints.

use std::path::{Component, Path, PathBuf};

use minijinja::value::Kwargs;
use minijinja::{Environment, Error, Value};

use super::filters_more::{FResult, err, list, param};
use super::to_text;

/// Python's `urllib.parse.urlsplit` of a URL, as the `urlsplit` filter returns it.
fn url_parts(url: &str) -> Value {
    let (scheme, rest) = match url.split_once(':') {
        Some((s, r))
            if !s.is_empty()
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (s.to_ascii_lowercase(), r)
        }
        _ => (String::new(), url),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (netloc, path) = match rest.strip_prefix("//") {
        Some(r) => match r.find('/') {
            Some(i) => (&r[..i], &r[i..]),
            None => (r, ""),
        },
        None => ("", rest),
    };
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((a, b)) => (Value::from(a), Value::from(b)),
            None => (Value::from(u), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, after) = h.split_once(']').unwrap_or((h, ""));
        (h.to_string(), after.strip_prefix(':').unwrap_or(""))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), ""),
        }
    };
    Value::from_pairs([
        ("fragment", Value::from(fragment)),
        (
            "hostname",
            if host.is_empty() {
                Value::from(())
            } else {
                Value::from(host.to_ascii_lowercase())
            },
        ),
        ("netloc", Value::from(netloc)),
        ("password", password),
        ("path", Value::from(path)),
        (
            "port",
            port.parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::from(())),
        ),
        ("query", Value::from(query)),
        ("scheme", Value::from(scheme)),
        ("username", username),
    ])
}

fn f_urlsplit(value: Value, query: Option<String>) -> FResult {
    let parts = url_parts(&to_text(&value));
    match query.as_deref() {
        None | Some("") => Ok(parts),
        Some(q) => parts
            .get_attr(q)
            .ok()
            .filter(|v| !v.is_undefined())
            .ok_or_else(|| err(format!("urlsplit: unknown URL component: {q}"))),
    }
}

fn f_urldecode(value: Value) -> String {
    let text = to_text(&value);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Python's `os.path.normpath`.
pub fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let absolute = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let body = parts.join("/");
    match (absolute, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

fn f_expanduser(value: Value) -> String {
    let p = to_text(&value);
    match p.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let home = std::env::var("HOME").unwrap_or_default();
            format!("{home}{rest}")
        }
        _ => p,
    }
}

fn f_expandvars(value: Value) -> String {
    let p = to_text(&value);
    let re = crate::pyre::Pattern::plain(r"\$(\w+|\{[^}]*\})").expect("a valid pattern");
    let Ok(all) = re.captures_all(&p) else {
        return p;
    };
    let mut out = String::new();
    let mut last = 0;
    for c in all {
        let (Some(m), Some(name)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let name = name.as_str().trim_start_matches('{').trim_end_matches('}');
        out.push_str(&p[last..m.start()]);
        match std::env::var(name) {
            Ok(v) => out.push_str(&v),
            Err(_) => out.push_str(m.as_str()),
        }
        last = m.end();
    }
    out.push_str(&p[last..]);
    out
}

fn f_realpath(value: Value) -> String {
    let p = to_text(&value);
    match std::fs::canonicalize(&p) {
        Ok(c) => c.display().to_string(),
        Err(_) => {
            let abs = if p.starts_with('/') {
                p
            } else {
                format!(
                    "{}/{p}",
                    std::env::current_dir().unwrap_or_default().display()
                )
            };
            normpath(&abs)
        }
    }
}

fn f_relpath(value: Value, start: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let start = param(start, &kwargs, "start")?;
    kwargs.assert_all_used()?;
    let abs = |p: &str| {
        normpath(&if p.starts_with('/') {
            p.to_string()
        } else {
            format!(
                "{}/{p}",
                std::env::current_dir().unwrap_or_default().display()
            )
        })
    };
    let target = abs(&to_text(&value));
    let start = abs(&start.unwrap_or_else(|| ".".into()));
    let t: Vec<Component> = Path::new(&target).components().collect();
    let s: Vec<Component> = Path::new(&start).components().collect();
    let common = t.iter().zip(&s).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..s.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c.as_os_str());
    }
    let r = rel.display().to_string();
    Ok(if r.is_empty() { ".".into() } else { r })
}

fn f_commonpath(value: Value) -> Result<String, Error> {
    let paths: Vec<String> = list(&value)?.iter().map(to_text).collect();
    let Some(first) = paths.first() else {
        return Err(err("commonpath() arg is an empty sequence"));
    };
    let absolute = first.starts_with('/');
    if paths.iter().any(|p| p.starts_with('/') != absolute) {
        return Err(err("Can't mix absolute and relative paths"));
    }
    let split = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string)
            .collect()
    };
    let mut common = split(first);
    for p in &paths[1..] {
        let parts = split(p);
        let n = common
            .iter()
            .zip(&parts)
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(n);
    }
    let body = common.join("/");
    Ok(if absolute { format!("/{body}") } else { body })
}

fn f_fileglob(value: Value) -> Vec<String> {
    let pattern = to_text(&value);
    let (dir, file) = pattern.rsplit_once('/').unwrap_or((".", &pattern));
    let dir = if dir.is_empty() { "/" } else { dir };
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| crate::inventory::pattern::glob_match(file, n))
        .map(|n| {
            if pattern.contains('/') {
                format!("{}/{n}", dir.trim_end_matches('/'))
            } else {
                n
            }
        })
        .collect();
    out.sort();
    out
}

// Tests.

fn t_same_file(value: Value, other: Value) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata(to_text(&value)),
        std::fs::metadata(to_text(&other)),
    ) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn t_mount(value: Value) -> bool {
    let p = to_text(&value);
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
        m.lines().any(|l| {
            l.split_whitespace().nth(4) == Some(p.trim_end_matches('/'))
                || (p == "/" && l.split_whitespace().nth(4) == Some("/"))
        })
    })
}

fn t_url(value: Value, schemes: Option<Vec<String>>) -> bool {
    let parts = url_parts(&to_text(&value));
    let scheme = parts
        .get_attr("scheme")
        .map(|s| to_text(&s))
        .unwrap_or_default();
    let netloc = parts
        .get_attr("netloc")
        .map(|s| to_text(&s))
        .unwrap_or_default();
    let ok = !scheme.is_empty() && !netloc.is_empty();
    ok && schemes.is_none_or(|s| s.contains(&scheme))
}

fn t_uri(value: Value, schemes: Option<Vec<String>>) -> bool {
    let parts = url_parts(&to_text(&value));
    let scheme = parts
        .get_attr("scheme")
        .map(|s| to_text(&s))
        .unwrap_or_default();
    !scheme.is_empty() && schemes.is_none_or(|s| s.contains(&scheme))
}

fn t_urn(value: Value) -> bool {
    crate::pyre::Pattern::plain(r"(?i)^urn:[a-z0-9][a-z0-9-]{0,31}:[a-z0-9()+,\-.:=@;$_!*'%/?#]+$")
        .and_then(|p| p.is_match(&to_text(&value)))
        .unwrap_or(false)
}

pub fn register(env: &mut Environment<'static>) {
    super::add_filter(env, "urlsplit", f_urlsplit);
    super::add_filter(env, "urldecode", f_urldecode);
    super::add_filter(env, "normpath", |v: Value| normpath(&to_text(&v)));
    super::add_filter(env, "expanduser", f_expanduser);
    super::add_filter(env, "expandvars", f_expandvars);
    super::add_filter(env, "realpath", f_realpath);
    super::add_filter(env, "relpath", f_relpath);
    super::add_filter(env, "commonpath", f_commonpath);
    super::add_filter(env, "fileglob", f_fileglob);
    super::add_test(env, "same_file", t_same_file);
    super::add_test(env, "mount", t_mount);
    super::add_test(env, "url", t_url);
    super::add_test(env, "uri", t_uri);
    super::add_test(env, "urn", t_urn);
}

#[cfg(test)]
mod tests {
    fn render(expr: &str) -> String {
        let ctx = crate::vars::Context::new(vec![]);
        crate::template::render_text(expr, &ctx).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// Each expected value is what ansible-core 2.19 prints for the same expression.
    #[test]
    fn urls_and_paths_give_ansibles_values() {
        for (expr, want) in [
            (
                "{{ ('https://u:p@Example.com:8443/a/b?x=1#f' | urlsplit).hostname }}",
                "example.com",
            ),
            (
                "{{ 'https://u:p@Example.com:8443/a/b?x=1#f' | urlsplit('port') }}",
                "8443",
            ),
            (
                "{{ 'https://example.com/a?x=1' | urlsplit('query') }}",
                "x=1",
            ),
            ("{{ 'example.com/x' is url }}", "False"),
            ("{{ 'a%20b+c%2F' | urldecode }}", "a b c/"),
            ("{{ '/a/./b/../c//' | normpath }}", "/a/c"),
            ("{{ '../x/./y' | normpath }}", "../x/y"),
            (
                "{{ '/etc/ssh/sshd_config' | relpath('/etc/apt') }}",
                "../ssh/sshd_config",
            ),
            ("{{ ['/etc/ssh/a', '/etc/ssl/b'] | commonpath }}", "/etc"),
            ("{{ 'https://example.com/x' is url }}", "True"),
            ("{{ 'example.com/x' is url }}", "False"),
            ("{{ 'mailto:a@b' is uri }}", "True"),
            ("{{ 'urn:isbn:0451450523' is urn }}", "True"),
            ("{{ '/' is mount }}", "True"),
            ("{{ '/etc' is same_file('/etc/../etc') }}", "True"),
        ] {
            assert_eq!(render(expr), want, "{expr}");
        }
        let ctx = crate::vars::Context::new(vec![]);
        let e = crate::template::render_text("{{ 'http://x' | urlsplit('nope') }}", &ctx)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown URL component"), "{e}");
    }
}
