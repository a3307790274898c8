//! `archive` (community.general): pack paths on the host into a tar (plain, gzip, bzip2, xz)
//! or zip archive, or compress a single file, as the collection's module does.
//!
//! One read-only probe expands the `path` and `exclude_path` globs on the host and walks the
//! directories; the plan then knows Ansible's result (`expanded_paths`, `missing`, `arcroot`,
//! `archived`, `dest_state`). As Ansible's module, check mode reports a change whenever there
//! is something to archive (a single file: when `dest` is missing). A real run builds the
//! archive with the host's `tar`/`zip`/`gzip`/`bzip2`/`xz` in a temporary directory next to
//! `dest` (removed however the script ends) and compares it with the existing one the way
//! Ansible does — member names and tar headers (mode, owner, size, time) or zip CRCs, or the
//! uncompressed content — moving it into place only when it differs; otherwise it exits with
//! [`UNCHANGED_RC`] (Ansible rewrites an identical archive; prov leaves it alone). `remove`
//! deletes the archived sources afterwards; `mode`/`owner`/`group` apply to `dest`.

use minijinja::Value;

use super::mode::{ModeSpec, octal};
use super::{Args, CmdRef, Command, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step};
use crate::error::{Error, Result};
use crate::shlex::{glob_match, quote};

pub struct Archive;

const OPTIONS: &[&str] = super::attrs::with_file_options![
    "path",
    "format",
    "dest",
    "exclude_path",
    "exclusion_patterns",
    "force_archive",
    "remove",
];

/// The script's exit code when the archive was already what it would be.
pub const UNCHANGED_RC: i32 = 97;

/// Probes that list more entries than this are refused (a memory bound, not a format one).
const MAX_ENTRIES: usize = 1_000_000;

#[derive(Clone, Debug, PartialEq)]
struct Spec {
    paths: Vec<String>,
    format: String,
    dest: Option<String>,
    exclude_path: Vec<String>,
    patterns: Vec<String>,
    force: bool,
    remove: bool,
    mode: Option<String>,
    owner: Option<String>,
    group: Option<String>,
}

impl Module for Archive {
    fn name(&self) -> &'static str {
        "archive"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn path_options(&self) -> &'static [&'static str] {
        &["dest"]
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        super::file::unsupported(&a, &["attributes", "selevel", "serole", "setype", "seuser"])?;
        let paths = a.list(&["path"])?;
        if paths.is_empty() {
            return Err(Error::runtime("missing required arguments: path"));
        }
        let format = a.str(&["format"])?.unwrap_or_else(|| "gz".into());
        if !["bz2", "gz", "tar", "xz", "zip"].contains(&format.as_str()) {
            return Err(Error::runtime(format!(
                "value of format must be one of: bz2, gz, tar, xz, zip, got: {format}"
            )));
        }
        let mode = match a.mode(&["mode"])? {
            None => None,
            Some(ModeSpec::Octal(m)) => Some(octal(m)),
            Some(ModeSpec::Symbolic(s)) => Some(s),
            Some(ModeSpec::Preserve) => {
                return Err(Error::runtime("archive: mode=preserve is not valid here"));
            }
        };
        for p in paths.iter().chain(a.list(&["exclude_path"])?.iter()) {
            if p.contains(['\n', '\t']) {
                return Err(Error::runtime(format!(
                    "archive: path {p:?} has a newline or tab, which prov refuses"
                )));
            }
        }
        Ok(Box::new(ArchivePlanner {
            spec: Spec {
                paths,
                format,
                dest: a.str(&["dest"])?,
                exclude_path: a.list(&["exclude_path"])?,
                patterns: a.list(&["exclusion_patterns"])?,
                force: a.bool(&["force_archive"], false)?,
                remove: a.bool(&["remove"], false)?,
                mode,
                owner: a.str(&["owner"])?,
                group: a.str(&["group"])?,
            },
            check_mode: env.check_mode,
            probe: CmdRef::default(),
        }))
    }
}

struct ArchivePlanner {
    spec: Spec,
    check_mode: bool,
    probe: CmdRef,
}

/// A pattern for the shell: `*` and `?` left to expand, everything else quoted.
fn glob_word(p: &str) -> String {
    let mut out = String::new();
    let mut lit = String::new();
    for c in p.chars() {
        if c == '*' || c == '?' {
            if !lit.is_empty() {
                out.push_str(&quote(&lit));
                lit.clear();
            }
            out.push(c);
        } else {
            lit.push(c);
        }
    }
    if !lit.is_empty() {
        out.push_str(&quote(&lit));
    }
    out
}

fn is_globby(p: &str) -> bool {
    p.contains(['*', '?'])
}

/// The read-only probe: `P`/`X` expanded paths and exclude paths, `E type path` for each
/// existing expanded path, `D`/`F` for what is under its directories, `T type` for `dest`.
fn probe_script(spec: &Spec) -> String {
    let mut s = String::from(
        "first=\nshow() {\n\
         \x20 if [ -L \"$1\" ]; then printf 'E\\tl\\t%s\\n' \"$1\";\n\
         \x20 elif [ -d \"$1\" ]; then printf 'E\\td\\t%s\\n' \"$1\"; find \"$1\" -mindepth 1 \\( -type d -printf 'D\\t%p\\n' \\) -o -printf 'F\\t%p\\n';\n\
         \x20 elif [ -e \"$1\" ]; then printf 'E\\tf\\t%s\\n' \"$1\"; fi\n\
         }\n",
    );
    for p in &spec.paths {
        if is_globby(p) {
            s.push_str(&format!(
                "for m in {}; do if [ -e \"$m\" ] || [ -L \"$m\" ]; then printf 'P\\t%s\\n' \"$m\"; show \"$m\"; fi; done\n",
                glob_word(p)
            ));
        } else {
            s.push_str(&format!("printf 'P\\t%s\\n' {q}; show {q}\n", q = quote(p)));
        }
        if spec.dest.is_none() && !is_globby(p) && spec.paths.len() == 1 {
            s.push_str(&format!("first={}\n", quote(p)));
        }
    }
    for p in &spec.exclude_path {
        if is_globby(p) {
            s.push_str(&format!(
                "for m in {}; do if [ -e \"$m\" ] || [ -L \"$m\" ]; then printf 'X\\t%s\\n' \"$m\"; fi; done\n",
                glob_word(p)
            ));
        } else {
            s.push_str(&format!("printf 'X\\t%s\\n' {}\n", quote(p)));
        }
    }
    match &spec.dest {
        Some(d) => s.push_str(&format!(
            "if [ -e {d} ] || [ -L {d} ]; then echo 'T\t-'; fi\n",
            d = quote(d)
        )),
        // The default dest of a single file: `<path>.<format>`.
        None => s.push_str(&format!(
            "[ -n \"$first\" ] && {{ [ -e \"$first.\"{f} ] || [ -L \"$first.\"{f} ]; }} && printf 'T\\t-\\n'\n",
            f = quote(&spec.format)
        )),
    }
    s
}

/// What the probe found.
#[derive(Debug, Default)]
struct Found {
    expanded: Vec<String>,
    excluded: Vec<String>,
    /// Existing expanded paths and their type (`d`, `f`, `l`).
    exists: Vec<(String, char)>,
    /// Entries under each existing directory, by that directory, `true` for directories.
    under: Vec<(String, Vec<(String, bool)>)>,
    dest: Option<char>,
}

fn parse(text: &str) -> std::result::Result<Found, String> {
    let mut f = Found::default();
    let mut n = 0usize;
    for line in text.lines() {
        n += 1;
        if n > MAX_ENTRIES {
            return Err(format!("archive: more than {MAX_ENTRIES} paths to archive"));
        }
        let (tag, rest) = line
            .split_once('\t')
            .ok_or_else(|| format!("archive: unexpected line in the host's listing: {line:?}"))?;
        match tag {
            "P" => f.expanded.push(rest.to_string()),
            "X" => f.excluded.push(rest.to_string()),
            "E" => {
                let (t, p) = rest.split_once('\t').ok_or("archive: bad listing line")?;
                f.exists
                    .push((p.to_string(), t.chars().next().unwrap_or('f')));
                f.under.push((p.to_string(), Vec::new()));
            }
            "D" | "F" => match f.under.last_mut() {
                Some((_, v)) => v.push((rest.to_string(), tag == "D")),
                None => return Err("archive: a walked entry before its directory".into()),
            },
            "T" => f.dest = rest.chars().next(),
            _ => {
                return Err(format!(
                    "archive: unexpected line in the host's listing: {line:?}"
                ));
            }
        }
    }
    Ok(f)
}

/// Python's `os.path.dirname`.
fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) => "/",
        Some(i) => {
            let d = &p[..i];
            let t = d.trim_end_matches('/');
            if t.is_empty() { "/" } else { t }
        }
        None => "",
    }
}

/// Ansible's `common_path`: the directory all paths are under, with a trailing slash.
fn common_path(paths: &[String]) -> String {
    let dirs: Vec<String> = paths
        .iter()
        .map(|p| {
            let d = dirname(p);
            if d.is_empty() || d.ends_with('/') {
                d.to_string()
            } else {
                format!("{d}/")
            }
        })
        .collect();
    let mut prefix = dirs.first().cloned().unwrap_or_default();
    for d in &dirs[1..] {
        let common = prefix
            .chars()
            .zip(d.chars())
            .take_while(|(a, b)| a == b)
            .count();
        prefix = prefix.chars().take(common).collect();
    }
    let d = dirname(&prefix);
    if d.is_empty() || d.ends_with('/') {
        d.to_string()
    } else {
        format!("{d}/")
    }
}

fn strip_prefix<'a>(prefix: &str, s: &'a str) -> &'a str {
    s.strip_prefix(prefix).unwrap_or(s)
}

/// `.tar`, `.tar.gz`, `.tgz`, `.zip` ... (Ansible's `is_archive`).
fn is_archive(path: &str) -> bool {
    let b = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    [
        ".tar", ".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz2", ".zip",
    ]
    .iter()
    .any(|s| b.ends_with(s))
}

fn list(v: &[String]) -> Value {
    Value::from(
        v.iter()
            .map(|s| Value::from(s.as_str()))
            .collect::<Vec<_>>(),
    )
}

impl Planner for ArchivePlanner {
    fn ask(&mut self, p: &mut Probes) {
        self.probe = p.command(probe_script(&self.spec));
    }

    fn plan(self: Box<Self>, o: &Observed) -> Result<Plan> {
        let spec = &self.spec;
        let out = o.cmd(self.probe)?;
        let found = match parse(&out.stdout) {
            Ok(f) => f,
            Err(e) => return Ok(Plan::fail(e)),
        };
        let mut paths: Vec<String> = found
            .expanded
            .iter()
            .filter(|p| !found.excluded.contains(p))
            .cloned()
            .collect();
        paths.sort();
        paths.dedup();
        let fail = |msg: &str| {
            Plan::fail(msg)
                .with("path", spec.paths.join(", "))
                .with("expanded_paths", found.expanded.join(", "))
                .with("expanded_exclude_paths", found.excluded.join(", "))
        };
        if paths.is_empty() {
            return Ok(fail("Error, no source paths were found"));
        }
        let root = common_path(&paths);
        let kind = |p: &str| found.exists.iter().find(|(e, _)| e == p).map(|(_, t)| *t);
        let must_archive = spec.force
            || spec.paths.iter().any(|p| is_globby(p))
            || kind(&paths[0]) == Some('d')
            || paths.len() > 1;
        let dest = match (&spec.dest, must_archive) {
            (Some(d), _) => d.clone(),
            (None, false) => format!("{}.{}", paths[0], spec.format),
            (None, true) => {
                return Ok(fail(
                    "Error, must specify \"dest\" when archiving multiple files or trees",
                ));
            }
        };
        if spec.remove {
            for p in &paths {
                if kind(p) == Some('d')
                    && dest.starts_with(&format!("{}/", p.trim_end_matches('/')))
                {
                    return Ok(fail(
                        "Error, created archive can not be contained in source paths when remove=true",
                    ));
                }
            }
        }
        let (targets, missing): (Vec<String>, Vec<String>) =
            paths.iter().cloned().partition(|p| kind(p).is_some());
        let dest_exists = found.dest.is_some();
        let mut plan = Plan::ok()
            .with("dest", dest.clone())
            .with("arcroot", root.clone())
            .with("missing", list(&missing))
            .with("expanded_paths", list(&found.expanded))
            .with("expanded_exclude_paths", list(&found.excluded));
        let mut dest_state = "absent";
        let mut archived: Vec<String> = Vec::new();
        let compress_only = !must_archive && !matches!(spec.format.as_str(), "tar" | "zip");
        // The archive's members: (source path, name in the archive).
        let mut members: Vec<(String, String)> = Vec::new();
        if must_archive {
            for t in &targets {
                if kind(t) == Some('d') {
                    let under = found.under.iter().find(|(d, _)| d == t);
                    for (p, _) in under.map(|(_, v)| v.as_slice()).unwrap_or_default() {
                        members.push((p.clone(), strip_prefix(&root, p).to_string()));
                    }
                } else {
                    members.push((t.clone(), strip_prefix(&root, t).to_string()));
                }
            }
        } else if !targets.is_empty() && !compress_only {
            members.push((
                targets[0].clone(),
                strip_prefix(&root, &targets[0]).to_string(),
            ));
        }
        // exclusion_patterns: against the source path for zip, the member name for tar.
        members.retain(|(p, n)| {
            let subject = if spec.format == "zip" { p } else { n };
            !spec.patterns.iter().any(|pat| glob_match(pat, subject))
        });
        if targets.is_empty() {
            if found.dest.is_some() {
                dest_state = if is_archive(&dest) {
                    "archive"
                } else {
                    "compress"
                };
            }
        } else if self.check_mode {
            plan.changed = must_archive || !dest_exists;
        } else {
            archived = if compress_only {
                vec![targets[0].clone()]
            } else {
                members.iter().map(|(p, _)| p.clone()).collect()
            };
            dest_state = if compress_only {
                "compress"
            } else if !missing.is_empty() {
                "incomplete"
            } else {
                "archive"
            };
            let dirs: Vec<String> = targets
                .iter()
                .filter(|t| kind(t) == Some('d'))
                .cloned()
                .collect();
            let single = compress_only.then(|| targets[0].as_str());
            let script = build_script(spec, &dest, &root, &members, single, &dirs, &archived);
            plan.step(Step::Run {
                cmd: Command {
                    shell: Some(script),
                    unchanged_rc: Some(UNCHANGED_RC),
                    ..Default::default()
                },
                ok_rcs: vec![0],
            });
        }
        let attrs = spec.mode.is_some() || spec.owner.is_some() || spec.group.is_some();
        // Nothing archived in a real run: only the attributes of an existing dest to set.
        // (Check mode does not read them: it reports the archive's decision alone.)
        if plan.steps.is_empty() && attrs && dest_exists && !self.check_mode {
            let mut s = format!("set -u\ndest={}\nchanged=0\n", quote(&dest));
            s.push_str(&attrs_lines(spec));
            s.push_str(&format!("[ \"$changed\" = 1 ] || exit {UNCHANGED_RC}\n"));
            plan.step(Step::Run {
                cmd: Command {
                    shell: Some(s),
                    unchanged_rc: Some(UNCHANGED_RC),
                    ..Default::default()
                },
                ok_rcs: vec![0],
            });
        }
        Ok(plan
            .with("dest_state", dest_state)
            .with("archived", list(&archived)))
    }
}

/// `chmod -c`/`chown -c`/`chgrp -c` on `$dest`, setting `changed=1` when one printed.
fn attrs_lines(spec: &Spec) -> String {
    let mut s = String::new();
    for (cmd, v) in [
        ("chmod -c --", &spec.mode),
        ("chown -c --", &spec.owner),
        ("chgrp -c --", &spec.group),
    ] {
        if let Some(v) = v {
            s.push_str(&format!(
                "r=$({cmd} {} \"$dest\") || exit 1\n[ -z \"$r\" ] || changed=1\n",
                quote(v)
            ));
        }
    }
    s
}

/// The script that builds the archive next to `dest` and puts it in place if it differs.
fn build_script(
    spec: &Spec,
    dest: &str,
    root: &str,
    members: &[(String, String)],
    compress_src: Option<&str>,
    dirs: &[String],
    archived: &[String],
) -> String {
    let fmt = spec.format.as_str();
    let mut s = format!(
        "set -u\nexport LC_ALL=C\ndest={}\nroot={}\nwork=\n\
         trap '[ -z \"$work\" ] || rm -rf -- \"$work\"' EXIT\ntrap 'exit 129' HUP\ntrap 'exit 130' INT\ntrap 'exit 143' TERM\n\
         work=$(mktemp -d \"$(dirname -- \"$dest\")/.prov-archive.XXXXXX\") || exit 1\nnew=$work/new\nchanged=0\n",
        quote(dest),
        quote(if root.is_empty() { "." } else { root })
    );
    let names: String = members
        .iter()
        .map(|(_, n)| quote(n))
        .collect::<Vec<_>>()
        .join(" ");
    let zipper = match fmt {
        "gz" => "gzip -c",
        "bz2" => "bzip2 -c",
        "xz" => "xz -c",
        _ => "cat",
    };
    match (compress_src, fmt) {
        (Some(src), _) => {
            s.push_str(&format!(
                "{zipper} < {} > \"$new\" || exit 1\nsig() {{ {} -dc < \"$1\" 2>/dev/null | cksum; }}\n",
                quote(src),
                zipper.trim_end_matches(" -c")
            ));
        }
        (None, "zip") => {
            s.push_str(&format!(
                "new=$new.zip\n(cd -- \"$root\" && printf '%s\\n' {names} | zip -q -@ \"$new\") || exit 1\n\
                 sig() {{ unzip -v \"$1\" 2>/dev/null | awk 'NR>3 && length($7) == 8 && $7 ~ /^[0-9a-f]+$/ {{ c=$7; for (i=1;i<=7;i++) $i=\"\"; print c, $0 }}' | sort; }}\n"
            ));
        }
        (None, _) => {
            let flag = match fmt {
                "gz" => "-z",
                "bz2" => "-j",
                "xz" => "-J",
                _ => "",
            };
            s.push_str(&format!(
                "printf '%s\\0' {names} | tar -c {flag} -f \"$new\" -C \"$root\" --no-recursion --null -T - || exit 1\n\
                 sig() {{ tar -tv --full-time --numeric-owner -f \"$1\" 2>/dev/null | sort; }}\n"
            ));
        }
    }
    s.push_str(
        "if [ -e \"$dest\" ] && [ \"$(sig \"$dest\")\" = \"$(sig \"$new\")\" ]; then :; else\n\
         \x20 mv -f -- \"$new\" \"$dest\" || exit 1\n\
         \x20 changed=1\n\
         fi\n",
    );
    if spec.remove {
        let mut gone: Vec<&String> = archived.iter().collect();
        gone.extend(dirs);
        for p in gone {
            s.push_str(&format!("rm -rf -- {}\n", quote(p)));
        }
    }
    s.push_str(&attrs_lines(spec));
    s.push_str(&format!("[ \"$changed\" = 1 ] || exit {UNCHANGED_RC}\n"));
    s
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
