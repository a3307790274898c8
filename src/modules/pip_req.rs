//! What `pip` needs of Python packaging: PEP 440 versions and their order, PEP 440 version
//! specifiers (`>=1.2,<2`, `~=1.4`, `==1.*`, `===x`) as `packaging.specifiers` tests them with
//! prereleases allowed, PEP 508 requirements (`name[extra]>=1; marker`, `name @ url`) as
//! `packaging.requirements` accepts them, and Ansible's own handling of the `name` list
//! (`_recover_package_name`, `Package`, `_is_present`).

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

/// A PEP 440 version; equal and ordered as `packaging` compares them (`1.0 == 1.0.0`).
#[derive(Clone, Debug)]
pub struct Version {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Option<Vec<String>>,
}

static VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
        (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
        (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .expect("the PEP 440 pattern compiles")
});

/// One part of a local version label: numbers sort after strings.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    Str(String),
    Num(u64),
}

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let c = VERSION.captures(s)?;
        let num = |name: &str| -> Option<Option<u64>> {
            match c.name(name) {
                None => Some(None),
                Some(m) => m.as_str().parse().ok().map(Some),
            }
        };
        let release = c["release"]
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<Vec<u64>>>()?;
        let pre = match c.name("pre_l") {
            None => None,
            Some(l) => {
                let kind = match l.as_str().to_ascii_lowercase().as_str() {
                    "a" | "alpha" => 0,
                    "b" | "beta" => 1,
                    _ => 2,
                };
                Some((kind, num("pre_n")?.unwrap_or(0)))
            }
        };
        let post = if c.name("post").is_some() {
            Some(num("post_n1")?.or(num("post_n2")?).unwrap_or(0))
        } else {
            None
        };
        let dev = if c.name("dev").is_some() {
            Some(num("dev_n")?.unwrap_or(0))
        } else {
            None
        };
        Some(Version {
            epoch: num("epoch")?.unwrap_or(0),
            release,
            pre,
            post,
            dev,
            local: c.name("local").map(|l| {
                l.as_str()
                    .to_ascii_lowercase()
                    .split(['-', '_', '.'])
                    .map(str::to_string)
                    .collect()
            }),
        })
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// Without the local label.
    fn public(&self) -> Version {
        Version {
            local: None,
            ..self.clone()
        }
    }

    /// `epoch!release` only.
    fn base(&self) -> Version {
        Version {
            epoch: self.epoch,
            release: self.release.clone(),
            pre: None,
            post: None,
            dev: None,
            local: None,
        }
    }

    /// packaging's `_cmpkey`.
    #[allow(clippy::type_complexity)]
    fn key(
        &self,
    ) -> (
        u64,
        Vec<u64>,
        (i8, u8, u64),
        (i8, u64),
        (i8, u64),
        (i8, Vec<LocalPart>),
    ) {
        let mut release = self.release.clone();
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (-1, 0, 0),
            (None, _, _) => (1, 0, 0),
            (Some((k, n)), _, _) => (0, k, n),
        };
        let post = self.post.map_or((-1, 0), |n| (0, n));
        let dev = self.dev.map_or((1, 0), |n| (0, n));
        let local = match &self.local {
            None => (-1, Vec::new()),
            Some(parts) => (
                0,
                parts
                    .iter()
                    .map(|p| match p.parse() {
                        Ok(n) => LocalPart::Num(n),
                        Err(_) => LocalPart::Str(p.clone()),
                    })
                    .collect(),
            ),
        };
        (self.epoch, release, pre, post, dev, local)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Version {}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One version specifier (`>=1.2`).
#[derive(Clone, Debug, PartialEq)]
pub struct Specifier {
    pub op: String,
    pub version: String,
}

const OPS: &[&str] = &["===", "~=", "==", "!=", "<=", ">=", "<", ">"];

impl Specifier {
    pub fn parse(s: &str) -> Option<Specifier> {
        let s = s.trim();
        let op = OPS.iter().find(|op| s.starts_with(**op))?;
        let version = s[op.len()..].trim();
        if version.is_empty() || version.contains(char::is_whitespace) {
            return None;
        }
        let ok = match *op {
            "===" => true,
            "==" | "!=" => match version.strip_suffix(".*") {
                Some(prefix) => Version::parse(prefix).is_some_and(|v| v.local.is_none()),
                None => Version::parse(version).is_some(),
            },
            "~=" => {
                Version::parse(version).is_some_and(|v| v.local.is_none() && v.release.len() >= 2)
            }
            _ => Version::parse(version).is_some_and(|v| v.local.is_none()),
        };
        ok.then(|| Specifier {
            op: op.to_string(),
            version: version.to_string(),
        })
    }

    /// `Specifier.contains(candidate, prereleases=True)`.
    pub fn contains(&self, candidate: &str) -> bool {
        if self.op == "===" {
            return candidate.trim().eq_ignore_ascii_case(&self.version);
        }
        let Some(v) = Version::parse(candidate) else {
            return false;
        };
        match self.op.as_str() {
            "==" => self.equal(&v),
            "!=" => !self.equal(&v),
            "~=" => {
                let Some(spec) = Version::parse(&self.version) else {
                    return false;
                };
                let mut prefix = spec.release.clone();
                prefix.pop();
                v.public() >= spec && prefix_matches(&v, spec.epoch, &prefix)
            }
            op => {
                let Some(spec) = Version::parse(&self.version) else {
                    return false;
                };
                let p = v.public();
                match op {
                    "<=" => p <= spec,
                    ">=" => p >= spec,
                    "<" => {
                        p < spec
                            && !(!spec.is_prerelease()
                                && v.is_prerelease()
                                && v.base() == spec.base())
                    }
                    ">" => {
                        p > spec
                            && !(spec.post.is_none() && v.post.is_some() && v.base() == spec.base())
                            && !(v.local.is_some() && v.base() == spec.base())
                    }
                    _ => false,
                }
            }
        }
    }

    fn equal(&self, v: &Version) -> bool {
        match self.version.strip_suffix(".*") {
            Some(prefix) => Version::parse(prefix).is_some_and(|p| {
                let want = &p.release;
                // A prefix with a pre, post or dev part matches that exactly.
                if p.pre.is_some() || p.post.is_some() || p.dev.is_some() {
                    return v.epoch == p.epoch
                        && v.release.len() >= want.len()
                        && v.release[..want.len()] == want[..]
                        && (v.pre, v.post, v.dev) == (p.pre, p.post, p.dev);
                }
                prefix_matches(v, p.epoch, want)
            }),
            None => Version::parse(&self.version).is_some_and(|spec| {
                if spec.local.is_some() {
                    *v == spec
                } else {
                    v.public() == spec
                }
            }),
        }
    }
}

/// The version's release, padded with zeros, starts with `prefix` (in the same epoch).
fn prefix_matches(v: &Version, epoch: u64, prefix: &[u64]) -> bool {
    v.epoch == epoch
        && prefix
            .iter()
            .enumerate()
            .all(|(i, n)| v.release.get(i).copied().unwrap_or(0) == *n)
}

/// A PEP 508 requirement as `packaging.requirements.Requirement` parses it.
#[derive(Clone, Debug, PartialEq)]
pub struct Requirement {
    pub name: String,
    pub extras: Vec<String>,
    pub specifiers: Vec<Specifier>,
    pub url: Option<String>,
    pub marker: Option<String>,
}

static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*").expect("name pattern")
});

impl Requirement {
    pub fn parse(s: &str) -> Option<Requirement> {
        let m = NAME.captures(s)?;
        let name = m[1].to_string();
        let mut rest = &s[m[0].len()..];
        let mut extras = Vec::new();
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            for e in r[..end].split(',') {
                let e = e.trim();
                if e.is_empty() {
                    continue;
                }
                if !NAME.is_match(e) || NAME.captures(e)?[0].len() != e.len() {
                    return None;
                }
                extras.push(e.to_string());
            }
            rest = r[end + 1..].trim_start();
        }
        let (spec_part, marker) = match rest.split_once(';') {
            Some((a, b)) => (a.trim(), Some(b.trim().to_string())),
            None => (rest.trim(), None),
        };
        if marker.as_deref() == Some("") {
            return None;
        }
        let mut url = None;
        let mut specifiers = Vec::new();
        if let Some(u) = spec_part.strip_prefix('@') {
            let u = u.trim();
            if u.is_empty() || u.contains(char::is_whitespace) {
                return None;
            }
            url = Some(u.to_string());
        } else {
            let inner = match spec_part.strip_prefix('(') {
                Some(p) => p.strip_suffix(')')?.trim(),
                None => spec_part,
            };
            if !inner.is_empty() {
                for part in inner.split(',') {
                    specifiers.push(Specifier::parse(part)?);
                }
            }
        }
        Some(Requirement {
            name,
            extras,
            specifiers,
            url,
            marker,
        })
    }

    /// `str(Requirement)`: extras and specifiers sorted, no spaces.
    pub fn to_text(&self) -> String {
        let mut s = self.name.clone();
        if !self.extras.is_empty() {
            let mut extras = self.extras.clone();
            extras.sort();
            s.push_str(&format!("[{}]", extras.join(",")));
        }
        let mut specs: Vec<String> = self
            .specifiers
            .iter()
            .map(|sp| format!("{}{}", sp.op, sp.version))
            .collect();
        specs.sort();
        s.push_str(&specs.join(","));
        if let Some(u) = &self.url {
            s.push_str(&format!(" @ {u}"));
            if self.marker.is_some() {
                s.push(' ');
            }
        }
        if let Some(m) = &self.marker {
            s.push_str(&format!("; {m}"));
        }
        s
    }
}

/// `Package.canonicalize_name`: runs of `-_.` become `-`, lower case.
pub fn canonicalize(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !sep {
                out.push('-');
            }
            sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            sep = false;
        }
    }
    out
}

/// Ansible's `Package`: a requirement it could parse ("plain"), or a name it passes on as is
/// (a path, a URL, a VCS link).
#[derive(Clone, Debug, PartialEq)]
pub struct Package {
    pub package_name: String,
    pub requirement: Option<Requirement>,
}

impl Package {
    pub fn new(name: &str, version: Option<&str>) -> Package {
        let mut text = name.to_string();
        if let Some(v) = version {
            let v = v.trim_start();
            let sep = if v.starts_with(|c: char| c.is_ascii_digit()) {
                "=="
            } else {
                " "
            };
            text = format!("{name}{sep}{v}");
        }
        match Requirement::parse(&text) {
            Some(r) => {
                let canonical = canonicalize(&r.name);
                let package_name = if canonical == "distribute" && text.contains("setuptools") {
                    "setuptools".to_string()
                } else {
                    canonical
                };
                Package {
                    package_name,
                    requirement: Some(r),
                }
            }
            None => Package {
                package_name: name.to_string(),
                requirement: None,
            },
        }
    }

    pub fn has_version_specifier(&self) -> bool {
        self.requirement
            .as_ref()
            .is_some_and(|r| !r.specifiers.is_empty())
    }

    pub fn is_satisfied_by(&self, version: &str) -> bool {
        self.requirement
            .as_ref()
            .is_some_and(|r| r.specifiers.iter().all(|s| s.contains(version)))
    }

    /// What goes on pip's command line (`str(Package)`).
    pub fn to_text(&self) -> String {
        match &self.requirement {
            Some(r) => r.to_text(),
            None => self.package_name.clone(),
        }
    }
}

fn is_package_name(name: &str) -> bool {
    let n = name.trim_start();
    !["~=", "==", "!=", "<=", ">=", "<", ">"]
        .iter()
        .any(|op| n.starts_with(op))
}

/// Ansible's `_recover_package_name`: `["django>1.1", "<2", "x"]` is `["django>1.1,<2", "x"]`.
pub fn recover_package_names(names: &[String]) -> Vec<String> {
    let parts: Vec<&str> = names.iter().flat_map(|n| n.split(',')).collect();
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut in_brackets = false;
    for name in parts {
        if is_package_name(name) && !in_brackets {
            if !current.is_empty() {
                out.push(current.join(","));
            }
            current.clear();
        }
        if name.contains('[') {
            in_brackets = true;
        }
        if in_brackets && name.contains(']') {
            in_brackets = false;
        }
        current.push(name);
    }
    out.push(current.join(","));
    out
}

/// The `name==version` lines of `pip list --format=freeze` (or `pip freeze`), as Ansible
/// reads them.
pub fn freeze_lines(out: &str) -> Vec<&str> {
    out.split('\n')
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("You are using")
                && !l.starts_with("You should consider")
        })
        .collect()
}

/// Ansible's `_is_present`.
pub fn is_present(pkg: &Package, installed: &[&str]) -> bool {
    installed.iter().any(|line| {
        let parts: Vec<&str> = line.split("==").collect();
        let [name, version] = parts[..] else {
            return false;
        };
        canonicalize(name) == pkg.package_name && pkg.is_satisfied_by(version)
    })
}
