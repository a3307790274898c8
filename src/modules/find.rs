//! `find` (ansible.builtin.find): list the files under directories that match patterns, age,
//! size and mode, as Ansible's module does with `os.walk`. One read-only probe lists every
//! directory with GNU `find -printf` (each entry's `lstat` fields, the type it has through a
//! link, its depth and path) and the host's clock; the walk itself — its order (a directory's
//! files, then its directories, then each directory's walk), `hidden`, `depth`, `limit` and
//! the filters — is replayed here on that listing, so `matched`, `examined` and `files` come
//! out as Ansible's. Never changes anything; runs in check mode.
//!
//! `follow`, `contains` (with `read_whole_file`, `encoding`) and `get_checksum` are not
//! implemented natively and are refused when set.

use std::collections::HashMap;

use minijinja::Value;

use super::{Args, CmdRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};
use crate::pyre::Pattern;
use crate::shlex::{glob_match, quote};

pub struct Find;

const OPTIONS: &[&str] = &[
    "paths",
    "name",
    "path",
    "patterns",
    "pattern",
    "excludes",
    "exclude",
    "contains",
    "read_whole_file",
    "file_type",
    "age",
    "age_stamp",
    "size",
    "recurse",
    "hidden",
    "follow",
    "get_checksum",
    "checksum_algorithm",
    "checksum",
    "checksum_algo",
    "use_regex",
    "depth",
    "mode",
    "exact_mode",
    "encoding",
    "limit",
];

impl Module for Find {
    fn name(&self) -> &'static str {
        "find"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let bad = |m: String| Error::runtime(format!("find: {m}"));
        for (opt, names) in [
            ("follow", &["follow"][..]),
            ("get_checksum", &["get_checksum"][..]),
        ] {
            if a.bool(names, false)? {
                return Err(bad(format!(
                    "option '{opt}: true' is not supported natively"
                )));
            }
        }
        for opt in ["contains", "encoding"] {
            if a.has(opt) {
                return Err(bad(format!("option '{opt}' is not supported natively")));
            }
        }
        a.bool(&["read_whole_file"], false)?;
        a.choice(
            &["checksum_algorithm", "checksum", "checksum_algo"],
            &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"],
            Some("sha1"),
        )?;
        let paths = a.list(&["paths", "name", "path"])?;
        if paths.is_empty() {
            return Err(bad("missing required option 'paths'".into()));
        }
        for p in &paths {
            if !p.starts_with('/') || p.contains('\0') {
                return Err(bad(format!(
                    "paths must be absolute (without NUL bytes), got '{p}'"
                )));
            }
        }
        let use_regex = a.bool(&["use_regex"], false)?;
        let compile = |list: Vec<String>| -> Result<Vec<Matcher>> {
            list.into_iter()
                .map(|p| {
                    if use_regex {
                        // `re.match`: anchored at the start only.
                        Pattern::plain(&format!(r"\A(?:{p})"))
                            .map(Matcher::Regex)
                            .map_err(bad)
                    } else {
                        Ok(Matcher::Glob(p))
                    }
                })
                .collect()
        };
        let mut patterns = a.list(&["patterns", "pattern"])?;
        if patterns.is_empty() {
            patterns.push(if use_regex { ".*" } else { "*" }.into());
        }
        let mode = match a.get(&["mode"]) {
            None => None,
            Some(v) if v.as_str().is_some() => Some(parse_mode(v.as_str().unwrap_or(""))?),
            Some(v) => {
                return Err(bad(format!(
                    "argument 'mode' is not a string and conversion is not allowed, value is {v}"
                )));
            }
        };
        let limit = a.int(&["limit"])?;
        if let Some(l) = limit
            && l <= 0
        {
            return Err(bad(format!("limit cannot be {l} (use None for unlimited)")));
        }
        Ok(Box::new(FindPlan {
            out_at: Default::default(),
            paths,
            patterns: compile(patterns)?,
            excludes: compile(a.list(&["excludes", "exclude"])?)?,
            file_type: a
                .choice(
                    &["file_type"],
                    &["any", "directory", "file", "link"],
                    Some("file"),
                )?
                .unwrap_or_default(),
            age: a.str(&["age"])?.map(|s| parse_age(&s)).transpose()?,
            age_stamp: a
                .choice(&["age_stamp"], &["atime", "ctime", "mtime"], Some("mtime"))?
                .unwrap_or_default(),
            size: a.str(&["size"])?.map(|s| parse_size(&s)).transpose()?,
            recurse: a.bool(&["recurse"], false)?,
            hidden: a.bool(&["hidden"], false)?,
            depth: a.int(&["depth"])?.filter(|d| *d != 0),
            mode,
            exact_mode: a.bool(&["exact_mode"], true)?,
            limit: limit.map(|l| l as usize),
        }))
    }
}

enum Matcher {
    Glob(String),
    Regex(Pattern),
}

impl Matcher {
    fn matches(&self, name: &str) -> Result<bool> {
        match self {
            Matcher::Glob(g) => Ok(glob_match(g, name)),
            Matcher::Regex(r) => r
                .is_match(name)
                .map_err(|e| Error::runtime(format!("find: {e}"))),
        }
    }
}

/// `age` in seconds (`-?N[smhdw]`), as Ansible converts it.
fn parse_age(s: &str) -> Result<i64> {
    parse_unit(
        s,
        &[
            ('s', 1),
            ('m', 60),
            ('h', 3600),
            ('d', 86400),
            ('w', 604800),
        ],
    )
    .ok_or_else(|| Error::runtime(format!("find: failed to process age '{s}'")))
}

/// `size` in bytes (`-?N[bkmgt]`).
fn parse_size(s: &str) -> Result<i64> {
    parse_unit(
        s,
        &[
            ('b', 1),
            ('k', 1 << 10),
            ('m', 1 << 20),
            ('g', 1 << 30),
            ('t', 1 << 40),
        ],
    )
    .ok_or_else(|| Error::runtime(format!("find: failed to process size '{s}'")))
}

fn parse_unit(s: &str, units: &[(char, i64)]) -> Option<i64> {
    let s = s.to_lowercase();
    let (num, mult) = match s.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            (&s[..s.len() - 1], units.iter().find(|(u, _)| *u == c)?.1)
        }
        _ => (s.as_str(), 1),
    };
    let digits = num.strip_prefix('-').unwrap_or(num);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse::<i64>().ok()?.checked_mul(mult)
}

/// `mode`: octal text, else symbolic applied to 0 (Ansible's `_symbolic_mode_to_octal`).
fn parse_mode(s: &str) -> Result<u32> {
    let m = match u32::from_str_radix(s, 8) {
        Ok(m) => m,
        Err(_) => super::mode::apply_symbolic(0, false, s)
            .map_err(|e| Error::runtime(format!("find: {e}")))?,
    };
    Ok(m & 0o7777)
}

struct FindPlan {
    out_at: CmdRef,
    paths: Vec<String>,
    patterns: Vec<Matcher>,
    excludes: Vec<Matcher>,
    file_type: String,
    age: Option<i64>,
    age_stamp: String,
    size: Option<i64>,
    recurse: bool,
    hidden: bool,
    depth: Option<i64>,
    mode: Option<u32>,
    exact_mode: bool,
    limit: Option<usize>,
}

/// `find -printf` of an entry: lstat's type, the type through a link, permissions, uid, gid,
/// owner and group names (numbers when unknown), size, inode, device, links, the three times
/// and the depth, then a tab and the path.
const PRINTF: &str = "@@%y|%Y|%m|%U|%G|%u|%g|%s|%i|%D|%n|%A@|%T@|%C@|%d\\t%p\\n";

/// One entry of the listing.
#[derive(Clone, Debug)]
struct Entry {
    path: String,
    kind: char,
    /// The type through a link (`d` for a link to a directory: os.walk's `dirs`).
    through: char,
    mode: u32,
    uid: u64,
    gid: u64,
    owner: String,
    group: String,
    size: i64,
    inode: u64,
    dev: u64,
    nlink: u64,
    atime: f64,
    mtime: f64,
    ctime: f64,
}

/// Python's `sec + nsec * 1e-9` from find's `SECONDS.FRACTION`.
fn stamp(s: &str) -> Option<f64> {
    let (sec, frac) = s.split_once('.').unwrap_or((s, "0"));
    let nsec: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    Some(sec.parse::<i64>().ok()? as f64 + nsec.parse::<u64>().ok()? as f64 * 1e-9)
}

impl Entry {
    fn parse(record: &str) -> Option<Entry> {
        let (fields, path) = record.split_once('\t')?;
        let f: Vec<&str> = fields.split('|').collect();
        if f.len() != 15 {
            return None;
        }
        let ch = |s: &str| s.chars().next().filter(|_| s.len() == 1);
        let name = |n: &str, id: &str| {
            if n == id {
                String::new()
            } else {
                n.to_string()
            }
        };
        Some(Entry {
            path: path.to_string(),
            kind: ch(f[0])?,
            through: ch(f[1])?,
            mode: u32::from_str_radix(f[2], 8).ok()? & 0o7777,
            uid: f[3].parse().ok()?,
            gid: f[4].parse().ok()?,
            owner: name(f[5], f[3]),
            group: name(f[6], f[4]),
            size: f[7].parse().ok()?,
            inode: f[8].parse().ok()?,
            dev: f[9].parse().ok()?,
            nlink: f[10].parse().ok()?,
            atime: stamp(f[11])?,
            mtime: stamp(f[12])?,
            ctime: stamp(f[13])?,
        })
    }

    fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }

    fn parent(&self) -> &str {
        match self.path.rfind('/') {
            Some(0) => "/",
            Some(i) => &self.path[..i],
            None => "",
        }
    }

    fn statinfo(&self) -> Vec<(&'static str, Value)> {
        let m = self.mode;
        let bit = |b: u32| Value::from(m & b != 0);
        vec![
            ("path", self.path.as_str().into()),
            ("mode", super::mode::octal(m).into()),
            ("isdir", (self.kind == 'd').into()),
            ("ischr", (self.kind == 'c').into()),
            ("isblk", (self.kind == 'b').into()),
            ("isreg", (self.kind == 'f').into()),
            ("isfifo", (self.kind == 'p').into()),
            ("islnk", (self.kind == 'l').into()),
            ("issock", (self.kind == 's').into()),
            ("uid", self.uid.into()),
            ("gid", self.gid.into()),
            ("size", self.size.into()),
            ("inode", self.inode.into()),
            ("dev", self.dev.into()),
            ("nlink", self.nlink.into()),
            ("atime", self.atime.into()),
            ("mtime", self.mtime.into()),
            ("ctime", self.ctime.into()),
            ("gr_name", self.group.as_str().into()),
            ("pw_name", self.owner.as_str().into()),
            ("wusr", bit(0o200)),
            ("rusr", bit(0o400)),
            ("xusr", bit(0o100)),
            ("wgrp", bit(0o020)),
            ("rgrp", bit(0o040)),
            ("xgrp", bit(0o010)),
            ("woth", bit(0o002)),
            ("roth", bit(0o004)),
            ("xoth", bit(0o001)),
            ("isuid", bit(0o4000)),
            ("isgid", bit(0o2000)),
        ]
    }
}

/// What the probe saw of one of `paths`.
enum Listing {
    NotDir,
    Entries(Vec<Entry>),
}

/// Parse the probe's output: the clock, then per path a marker and its entries.
fn parse_listing(out: &str, paths: &[String]) -> Result<(f64, Vec<Listing>)> {
    let garbled = || Error::runtime("find: the listing of the host could not be parsed");
    let text = format!("\n{out}");
    let mut now = None;
    let mut listings: Vec<Listing> = Vec::new();
    for chunk in text.split("\n@@").skip(1) {
        let chunk = chunk.strip_suffix('\n').unwrap_or(chunk);
        if let Some(n) = chunk.strip_prefix("now ") {
            now = stamp(n.trim());
        } else if chunk == "notdir" {
            listings.push(Listing::NotDir);
        } else if chunk == "dir" {
            listings.push(Listing::Entries(Vec::new()));
        } else {
            let e = Entry::parse(chunk).ok_or_else(garbled)?;
            let at = listings.len().checked_sub(1).ok_or_else(garbled)?;
            let prefix = paths.get(at).ok_or_else(garbled)?.trim_end_matches('/');
            match listings.last_mut() {
                Some(Listing::Entries(v)) if e.path.starts_with(prefix) => v.push(e),
                _ => return Err(garbled()),
            }
        }
    }
    if listings.len() != paths.len() {
        return Err(garbled());
    }
    Ok((now.ok_or_else(garbled)?, listings))
}

/// Python's `os.path.normpath` of an absolute path.
fn normpath(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let lead = if p.starts_with("//") && !p.starts_with("///") {
        "//"
    } else {
        "/"
    };
    format!("{lead}{}", parts.join("/"))
}

impl FindPlan {
    fn script(&self) -> String {
        let maxdepth = match (self.recurse, self.depth) {
            (false, _) => " -maxdepth 1".to_string(),
            (true, Some(d)) if d > 0 => format!(" -maxdepth {}", d.saturating_add(1)),
            (true, _) => String::new(),
        };
        let mut s = String::from("printf '@@now %s\\n' \"$(date +%s.%N)\"\n");
        for p in &self.paths {
            s.push_str(&format!(
                "p={}\nif [ -d \"$p\" ]; then printf '@@dir\\n'; find -H \"$p\" -mindepth 1{maxdepth} -printf '{PRINTF}'; else printf '@@notdir\\n'; fi\n",
                quote(p)
            ));
        }
        s
    }

    fn pfilter(&self, name: &str) -> Result<bool> {
        for p in &self.patterns {
            if p.matches(name)? {
                for e in &self.excludes {
                    if e.matches(name)? {
                        return Ok(false);
                    }
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn age_ok(&self, e: &Entry, now: f64) -> bool {
        let Some(age) = self.age else { return true };
        let t = match self.age_stamp.as_str() {
            "atime" => e.atime,
            "ctime" => e.ctime,
            _ => e.mtime,
        };
        let span = (age as f64).abs();
        if age >= 0 {
            now - t >= span
        } else {
            now - t <= span
        }
    }

    fn size_ok(&self, e: &Entry) -> bool {
        match self.size {
            None => true,
            Some(s) if s >= 0 => e.size >= s,
            Some(s) => e.size <= s.saturating_abs(),
        }
    }

    fn mode_ok(&self, e: &Entry) -> bool {
        match self.mode {
            None | Some(0) => true,
            Some(m) if self.exact_mode => e.mode == m,
            Some(m) => e.mode & m != 0,
        }
    }

    /// Whether the entry goes into `files`.
    fn wanted(&self, e: &Entry, now: f64) -> Result<bool> {
        let common = |me: &Self| -> Result<bool> {
            Ok(me.pfilter(e.name())? && me.age_ok(e, now) && me.mode_ok(e))
        };
        Ok(match (self.file_type.as_str(), e.kind) {
            ("any", 'f') => common(self)? && self.size_ok(e),
            ("any", _) => common(self)?,
            ("directory", 'd') | ("link", 'l') => common(self)?,
            ("file", 'f') => common(self)? && self.size_ok(e),
            _ => false,
        })
    }
}

impl Planner for FindPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.out_at = p.command(self.script());
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = obs.cmd(self.out_at)?;
        let (now, listings) = parse_listing(&out.stdout, &self.paths)?;
        let mut files: Vec<Value> = Vec::new();
        let mut skipped: Vec<(String, Value)> = Vec::new();
        let mut looked = 0usize;
        let mut warnings = false;
        let mut msg = "All paths examined";
        // Walk errors (an unreadable directory): `find: 'PATH': REASON`.
        for line in out.stderr.lines() {
            if let Some(rest) = line.strip_prefix("find: '")
                && let Some((path, reason)) = rest.split_once("': ")
            {
                skipped.push((path.to_string(), reason.into()));
            }
        }
        for (npath, listing) in self.paths.iter().zip(listings) {
            let entries = match listing {
                Listing::NotDir => {
                    skipped.push((
                        npath.clone(),
                        format!("'{npath}' is not a directory").into(),
                    ));
                    warnings = true;
                    continue;
                }
                Listing::Entries(v) => v,
            };
            let root = normpath(npath);
            let mut children: HashMap<String, Vec<Entry>> = HashMap::new();
            for mut e in entries {
                e.path = normpath(&e.path);
                children.entry(e.parent().to_string()).or_default().push(e);
            }
            let wpath = format!("{}/", npath.trim_end_matches('/'));
            let base = wpath.matches('/').count() as i64;
            // os.walk, top-down: each directory's files then its directories.
            let mut stack = vec![root];
            'walk: while let Some(dir) = stack.pop() {
                let kids = children.remove(&dir).unwrap_or_default();
                let (dirs, plain): (Vec<Entry>, Vec<Entry>) =
                    kids.into_iter().partition(|e| e.through == 'd');
                looked += dirs.len() + plain.len();
                let mut descend = true;
                for e in plain.iter().chain(dirs.iter()) {
                    let depth = e.path.matches('/').count() as i64 - base + 1;
                    if self.depth.is_some_and(|d| depth > d) {
                        descend = false;
                        continue;
                    }
                    if (!e.name().starts_with('.') || self.hidden) && self.wanted(e, now)? {
                        files.push(Value::from_pairs(e.statinfo()));
                    }
                    if Some(files.len()) == self.limit {
                        msg = "Limit of matches reached";
                        break;
                    }
                }
                if !self.recurse || Some(files.len()) == self.limit {
                    break 'walk;
                }
                if descend {
                    for d in dirs.iter().rev().filter(|d| d.kind == 'd') {
                        stack.push(d.path.clone());
                    }
                }
            }
        }
        if warnings {
            msg = "Not all paths examined, check warnings for details";
        }
        Ok(Plan::ok()
            .with("files", Value::from(files.clone()))
            .with("msg", msg)
            .with("matched", files.len())
            .with("examined", looked)
            .with("skipped_paths", Value::from_pairs(skipped)))
    }
}

#[cfg(test)]
#[path = "find_tests.rs"]
mod tests;
