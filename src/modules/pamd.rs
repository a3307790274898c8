//! `pamd` (community.general): edit one rule of a PAM service file (`path`/`name`, by default
//! under `/etc/pam.d`).
//!
//! A port of the collection's module, quirks included because they decide the bytes written.
//! The file becomes a doubly linked list of lines (comments, `@include`s, empty lines and rules
//! parsed with the module's own regular expression); `updated`, `before`, `after`,
//! `args_present`, `args_absent` and `absent` relink it exactly as the Python does (inserting
//! before or after a rule drops the comments between it and its neighbour rule; an insert after
//! the last rule appends at the very end), every line is validated, and a changed file is
//! written whole: rules re-spaced (`type` padded to 11 columns), line breaks made `\n`, and a
//! `# Updated by Ansible - <host's local time>` mark as the second line. Where the Python
//! crashes (a line that is no rule, `a=b=c` arguments, removing a file's only line) the task
//! fails. The host's file is read by a probe with the host's clock; the new text is computed
//! here and written atomically, with a diff.

use indexmap::{IndexMap, IndexSet};
use regex::Regex;
use std::sync::LazyLock;

use super::attrs::AttrSpec;
use super::content::{WriteSpec, plan_write};
use super::facts_more::splitlines;
use super::{Args, CmdRef, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};

pub struct Pamd;

const VALID_TYPES: &[&str] = &[
    "account",
    "-account",
    "auth",
    "-auth",
    "password",
    "-password",
    "session",
    "-session",
];

const SIMPLE_CONTROLS: &[&str] = &[
    "required",
    "requisite",
    "sufficient",
    "optional",
    "include",
    "substack",
    "definitive",
];

const CONTROL_VALUES: &[&str] = &[
    "success",
    "open_err",
    "symbol_err",
    "service_err",
    "system_err",
    "buf_err",
    "perm_denied",
    "auth_err",
    "cred_insufficient",
    "authinfo_unavail",
    "user_unknown",
    "maxtries",
    "new_authtok_reqd",
    "acct_expired",
    "session_err",
    "cred_unavail",
    "cred_expired",
    "cred_err",
    "no_module_data",
    "conv_err",
    "authtok_err",
    "authtok_recover_err",
    "authtok_lock_busy",
    "authtok_disable_aging",
    "try_again",
    "ignore",
    "abort",
    "authtok_expired",
    "module_unknown",
    "bad_item",
    "conv_again",
    "incomplete",
    "default",
];

const CONTROL_ACTIONS: &[&str] = &["ignore", "bad", "die", "ok", "done", "reset"];

const STATES: &[&str] = &[
    "absent",
    "after",
    "args_absent",
    "args_present",
    "before",
    "updated",
];

/// Python's `\s` and `\S` (`str.isspace`: Unicode white space plus `\x1c`..`\x1f`).
const SP: &str = r"[\s\x1c-\x1f]";
const NSP: &str = r"[^\s\x1c-\x1f]";

/// The module's `RULE_REGEX` (`re.X`, searched anywhere in the line).
static RULE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(-?(?:auth|account|session|password)){SP}+(\[.*\]|{NSP}*){SP}+({NSP}*){SP}*(.*){SP}*"
    ))
    .expect("static regex")
});

/// The module's `RULE_ARG_REGEX`.
static ARG_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"(\[.*\]|{NSP}*)")).expect("static regex"));

fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `parse_module_arguments`: each argument split into words and `[...]` groups. `None` stays
/// `None` only when `keep_none` (the Python's `return_none`).
fn parse_args(args: Option<&[String]>, keep_none: bool) -> Option<Vec<String>> {
    let Some(args) = args else {
        return if keep_none { None } else { Some(Vec::new()) };
    };
    if args.len() == 1 && args[0].is_empty() {
        return Some(Vec::new());
    }
    Some(
        args.iter()
            .flat_map(|a| ARG_RE.find_iter(a).map(|m| m.as_str().to_string()))
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

fn parse_list(args: &[String]) -> Vec<String> {
    parse_args(Some(args), false).unwrap_or_default()
}

/// A rule's control: a word or the `[value=action ...]` list.
#[derive(Clone, Debug, PartialEq)]
enum Control {
    Simple(String),
    List(Vec<String>),
}

impl Control {
    /// The Python's `rule_control` setter.
    fn new(control: &str) -> Control {
        if control.starts_with('[') {
            let c = control.replace(" = ", "=").replace(['[', ']'], "");
            Control::List(c.split(' ').map(str::to_string).collect())
        } else {
            Control::Simple(control.to_string())
        }
    }

    fn text(&self) -> String {
        match self {
            Control::Simple(s) => s.clone(),
            Control::List(l) => format!("[{}]", l.join(" ")),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Rule {
    rule_type: String,
    control: Control,
    path: String,
    args: Vec<String>,
}

impl Rule {
    /// `PamdRule.rule_from_string`; `None` where the Python's regex finds no rule (it crashes).
    fn parse(line: &str) -> Option<Rule> {
        let c = RULE_RE.captures(line)?;
        let g = |i: usize| c.get(i).map_or("", |m| m.as_str());
        let args = parse_list(&[g(4).to_string()]);
        Some(Rule {
            rule_type: g(1).into(),
            control: Control::new(g(2)),
            path: g(3).into(),
            args: parse_list(&args),
        })
    }

    fn matches(&self, rule_type: &str, control: &str, path: &str) -> bool {
        rule_type == self.rule_type && control == self.control.text() && path == self.path
    }

    fn text(&self) -> String {
        let t = format!(
            "{:<11}{} {}",
            self.rule_type,
            self.control.text(),
            self.path
        );
        if self.args.is_empty() {
            t
        } else {
            format!("{t} {}", self.args.join(" "))
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let line = self.text();
        if !VALID_TYPES.contains(&self.rule_type.as_str()) {
            return Err(format!(
                "Rule type, {}, is not valid in rule {line}",
                self.rule_type
            ));
        }
        match &self.control {
            Control::Simple(c) if !SIMPLE_CONTROLS.contains(&c.as_str()) => {
                return Err(format!("Rule control, {c}, is not valid in rule {line}"));
            }
            Control::Simple(_) => {}
            Control::List(items) => {
                for item in items {
                    let [value, action] = item.split('=').collect::<Vec<_>>()[..] else {
                        return Err(format!(
                            "Cannot read the control '{item}' of rule {line} (value=action expected; the collection's module fails on it too)"
                        ));
                    };
                    if !CONTROL_VALUES.contains(&value) {
                        return Err(format!(
                            "Rule control value, {value}, is not valid in rule {line}"
                        ));
                    }
                    if !CONTROL_ACTIONS.contains(&action) && !unsigned_int(action) {
                        return Err(format!(
                            "Rule control action, {action}, is not valid in rule {line}"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Python's `int(s) >= 0` (surrounding white space, a sign and `_` between digits allowed).
fn unsigned_int(s: &str) -> bool {
    let s = s.trim_matches(py_space);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let valid = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    valid && (!negative || digits.chars().all(|c| c == '0' || c == '_'))
}

#[derive(Clone, Debug, PartialEq)]
enum Line {
    Comment(String),
    Include(String),
    Empty(String),
    Rule(Rule),
}

impl Line {
    fn matches(&self, rule_type: &str, control: &str, path: &str) -> bool {
        matches!(self, Line::Rule(r) if r.matches(rule_type, control, path))
    }

    fn text(&self) -> String {
        match self {
            Line::Comment(s) | Line::Include(s) | Line::Empty(s) => s.clone(),
            Line::Rule(r) => r.text(),
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let valid = match self {
            Line::Comment(s) => s.starts_with('#'),
            Line::Include(s) => s.starts_with("@include"),
            Line::Empty(s) => s.trim_matches(py_space).is_empty(),
            Line::Rule(r) => return r.validate(),
        };
        if valid {
            Ok(())
        } else {
            Err(format!("Rule is not valid {}", self.text()))
        }
    }

    fn skipped_by_inserts(&self) -> bool {
        matches!(self, Line::Comment(_) | Line::Empty(_))
    }
}

struct Node {
    line: Line,
    prev: Option<usize>,
    next: Option<usize>,
}

/// The new rule of `before`/`after` and the replacement parts of `updated`.
#[derive(Clone, Debug, Default)]
struct NewRule {
    rule_type: Option<String>,
    control: Option<String>,
    path: Option<String>,
    args: Option<Vec<String>>,
}

/// `PamdService`: the lines as the Python's linked list (an arena of nodes).
struct Service {
    nodes: Vec<Node>,
    head: Option<usize>,
    tail: Option<usize>,
}

impl Service {
    fn parse(content: &str) -> std::result::Result<Service, String> {
        let mut s = Service {
            nodes: Vec::new(),
            head: None,
            tail: None,
        };
        for line in splitlines(content) {
            let left = line.trim_start_matches(py_space);
            let l = if left.starts_with('#') {
                Line::Comment(line.into())
            } else if left.starts_with("@include") {
                Line::Include(line.into())
            } else if line.trim_matches(py_space).is_empty() {
                Line::Empty(line.into())
            } else {
                Line::Rule(Rule::parse(line).ok_or_else(|| {
                    format!(
                        "Cannot parse the PAM rule {line:?} (the collection's module fails on it too)"
                    )
                })?)
            };
            s.append(l);
        }
        Ok(s)
    }

    fn push(&mut self, line: Line) -> usize {
        self.nodes.push(Node {
            line,
            prev: None,
            next: None,
        });
        self.nodes.len() - 1
    }

    fn append(&mut self, line: Line) {
        let i = self.push(line);
        match self.tail {
            None => self.head = Some(i),
            Some(t) => {
                self.nodes[i].prev = Some(t);
                self.nodes[t].next = Some(i);
            }
        }
        self.tail = Some(i);
    }

    fn walk(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = self.head;
        while let Some(i) = cur {
            out.push(i);
            cur = self.nodes[i].next;
        }
        out
    }

    fn get(&self, t: &str, c: &str, p: &str) -> Vec<usize> {
        self.walk()
            .into_iter()
            .filter(|&i| self.nodes[i].line.matches(t, c, p))
            .collect()
    }

    fn rule(&mut self, i: usize) -> Option<&mut Rule> {
        match &mut self.nodes[i].line {
            Line::Rule(r) => Some(r),
            _ => None,
        }
    }

    fn remove(&mut self, t: &str, c: &str, p: &str) -> std::result::Result<usize, String> {
        let mut changes = 0;
        let mut cur = self.head;
        while let Some(i) = cur {
            if self.nodes[i].line.matches(t, c, p) {
                let (prev, next) = (self.nodes[i].prev, self.nodes[i].next);
                if let Some(pv) = prev {
                    self.nodes[pv].next = next;
                    if let Some(nx) = next {
                        self.nodes[nx].prev = prev;
                    }
                } else {
                    self.head = next;
                    let Some(nx) = next else {
                        return Err(format!(
                            "Cannot remove the only line of the file, {} (the collection's module fails on it too)",
                            self.nodes[i].line.text()
                        ));
                    };
                    self.nodes[nx].prev = None;
                }
                changes += 1;
            }
            cur = self.nodes[i].next;
        }
        Ok(changes)
    }

    fn update_rule(&mut self, t: &str, c: &str, p: &str, new: &NewRule) -> usize {
        let new_args = parse_args(new.args.as_deref(), true);
        let mut changes = 0;
        for i in self.get(t, c, p) {
            let Some(r) = self.rule(i) else { continue };
            let mut changed = false;
            if let Some(nt) = new.rule_type.as_deref().filter(|s| !s.is_empty())
                && r.rule_type != nt
            {
                changed = true;
                r.rule_type = nt.into();
            }
            if let Some(nc) = new.control.as_deref().filter(|s| !s.is_empty())
                && r.control.text() != nc
            {
                changed = true;
                r.control = Control::new(nc);
            }
            if let Some(np) = new.path.as_deref().filter(|s| !s.is_empty())
                && r.path != np
            {
                changed = true;
                r.path = np.into();
            }
            if let Some(na) = &new_args
                && r.args != *na
            {
                changed = true;
                r.args = parse_list(na);
            }
            changes += usize::from(changed);
        }
        changes
    }

    fn new_rule(&mut self, new: &NewRule) -> (usize, [String; 3]) {
        let key = [
            new.rule_type.clone().unwrap_or_default(),
            new.control.clone().unwrap_or_default(),
            new.path.clone().unwrap_or_default(),
        ];
        let rule = Rule {
            rule_type: key[0].clone(),
            control: Control::new(&key[1]),
            path: key[2].clone(),
            args: parse_args(new.args.as_deref(), false).unwrap_or_default(),
        };
        (self.push(Line::Rule(rule)), key)
    }

    fn insert_before(&mut self, t: &str, c: &str, p: &str, new: &NewRule) -> usize {
        let mut changes = 0;
        for cur in self.get(t, c, p) {
            let (n, [nt, nc, np]) = self.new_rule(new);
            let mut prev = self.nodes[cur].prev;
            while let Some(pv) = prev
                && self.nodes[pv].line.skipped_by_inserts()
            {
                prev = self.nodes[pv].prev;
            }
            match prev {
                Some(pv) if !self.nodes[pv].line.matches(&nt, &nc, &np) => {
                    self.nodes[pv].next = Some(n);
                    self.nodes[n].prev = Some(pv);
                    self.nodes[n].next = Some(cur);
                    self.nodes[cur].prev = Some(n);
                    changes += 1;
                }
                Some(_) => {}
                None => {
                    match self.nodes[cur].prev {
                        None => self.head = Some(n),
                        Some(pv) => self.nodes[pv].next = Some(n),
                    }
                    self.nodes[n].prev = self.nodes[cur].prev;
                    self.nodes[n].next = Some(cur);
                    self.nodes[cur].prev = Some(n);
                    changes += 1;
                }
            }
        }
        changes
    }

    fn insert_after(&mut self, t: &str, c: &str, p: &str, new: &NewRule) -> usize {
        let mut changes = 0;
        for cur in self.get(t, c, p) {
            let mut next = self.nodes[cur].next;
            while let Some(nx) = next
                && self.nodes[nx].line.skipped_by_inserts()
            {
                next = self.nodes[nx].next;
            }
            let (n, [nt, nc, np]) = self.new_rule(new);
            match next {
                Some(nx) if !self.nodes[nx].line.matches(&nt, &nc, &np) => {
                    self.nodes[nx].prev = Some(n);
                    self.nodes[n].next = Some(nx);
                    self.nodes[n].prev = Some(cur);
                    self.nodes[cur].next = Some(n);
                    changes += 1;
                }
                Some(_) => {}
                None => {
                    // The tail exists: `cur` is a line of the list.
                    let tail = self.tail.unwrap_or(cur);
                    self.nodes[n].prev = Some(tail);
                    self.nodes[n].next = None;
                    self.nodes[tail].next = Some(n);
                    self.tail = Some(n);
                    self.nodes[cur].next = Some(n);
                    changes += 1;
                }
            }
        }
        changes
    }

    fn add_module_arguments(
        &mut self,
        t: &str,
        c: &str,
        p: &str,
        args: &[String],
    ) -> std::result::Result<usize, String> {
        let to_add = parse_list(args);
        let mut changes = 0;
        for i in self.get(t, c, p) {
            let (simple_new, kv_new) = split_args(&to_add)?;
            let Some(r) = self.rule(i) else { continue };
            let (simple_cur, kv_cur) = split_args(&r.args)?;
            // The Python walks sets (in hash order); the order given is kept here.
            let mut added: Vec<String> = simple_new.difference(&simple_cur).cloned().collect();
            added.extend(
                kv_new
                    .iter()
                    .filter(|(k, _)| !kv_cur.contains_key(*k))
                    .map(|(k, v)| format!("{k}={v}")),
            );
            let mut changed = false;
            if !added.is_empty() {
                let mut all = r.args.clone();
                all.extend(added);
                r.args = parse_list(&all);
                changed = true;
            }
            for (k, v) in &kv_new {
                let Some(old) = kv_cur.get(k) else { continue };
                if old != v {
                    let was = format!("{k}={old}");
                    let at =
                        r.args.iter().position(|a| *a == was).ok_or_else(|| {
                            format!("argument {was} not found in rule {}", r.text())
                        })?;
                    r.args[at] = format!("{k}={v}");
                    changed = true;
                }
            }
            changes += usize::from(changed);
        }
        Ok(changes)
    }

    fn remove_module_arguments(&mut self, t: &str, c: &str, p: &str, args: &[String]) -> usize {
        let to_remove = parse_list(args);
        let mut changes = 0;
        for i in self.get(t, c, p) {
            let Some(r) = self.rule(i) else { continue };
            if !r.args.iter().any(|a| to_remove.contains(a)) {
                continue;
            }
            let kept: Vec<String> = r
                .args
                .iter()
                .filter(|a| !to_remove.contains(a))
                .cloned()
                .collect();
            r.args = parse_list(&kept);
            changes += 1;
        }
        changes
    }

    fn validate(&self) -> std::result::Result<(), String> {
        self.walk()
            .into_iter()
            .try_for_each(|i| self.nodes[i].line.validate())
    }

    /// The file's new text, with the mark (`# Updated by Ansible - <now>`) as its second line.
    fn render(&self, now: &str) -> String {
        let mark = format!("# Updated by Ansible - {now}");
        let mut lines: Vec<String> = self
            .walk()
            .into_iter()
            .map(|i| self.nodes[i].line.text())
            .collect();
        if lines.len() <= 1 {
            lines.insert(0, String::new());
            lines.insert(1, mark);
        } else if lines[1].starts_with("# Updated by Ansible") {
            lines[1] = mark;
        } else {
            lines.insert(1, mark);
        }
        lines.join("\n") + "\n"
    }
}

/// An argument list as the Python sorts it: plain words and `key=value`s (`[...]` skipped).
type SplitArgs = (IndexSet<String>, IndexMap<String, String>);

fn split_args(args: &[String]) -> std::result::Result<SplitArgs, String> {
    let mut simple = IndexSet::new();
    let mut kv = IndexMap::new();
    for a in args {
        if a.starts_with('[') {
            continue;
        }
        if a.contains('=') {
            let [k, v] = a.split('=').collect::<Vec<_>>()[..] else {
                return Err(format!(
                    "Cannot read the argument '{a}' (key=value expected; the collection's module fails on it too)"
                ));
            };
            kv.insert(k.to_string(), v.to_string());
        } else {
            simple.insert(a.clone());
        }
    }
    Ok((simple, kv))
}

/// The task: which rule, what to do with it, and where.
#[derive(Clone, Debug)]
struct Task {
    state: String,
    rule_type: String,
    control: String,
    module_path: String,
    new: NewRule,
}

impl Task {
    /// Apply the task to a file's text: (the number of changes, the new service).
    fn apply(&self, content: &str) -> std::result::Result<(usize, Service), String> {
        let mut s = Service::parse(content)?;
        let (t, c, p) = (
            self.rule_type.as_str(),
            self.control.as_str(),
            self.module_path.as_str(),
        );
        let args = self.new.args.clone().unwrap_or_default();
        let changes = match self.state.as_str() {
            "updated" => s.update_rule(t, c, p, &self.new),
            "before" => s.insert_before(t, c, p, &self.new),
            "after" => s.insert_after(t, c, p, &self.new),
            "args_absent" => s.remove_module_arguments(t, c, p, &args),
            "args_present" => {
                if parse_list(&args).iter().any(|a| a.starts_with('[')) {
                    return Err("Unable to process bracketed '[' complex arguments with 'args_present'. Please use 'updated'.".into());
                }
                s.add_module_arguments(t, c, p, &args)?
            }
            _ => s.remove(t, c, p)?,
        };
        s.validate()?;
        Ok((changes, s))
    }
}

impl Module for Pamd {
    fn name(&self) -> &'static str {
        "pamd"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "name",
            "type",
            "control",
            "module_path",
            "new_type",
            "new_control",
            "new_module_path",
            "module_arguments",
            "state",
            "path",
            "backup",
        ])
    }
    fn path_options(&self) -> &'static [&'static str] {
        &["path"]
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let req = |k: &str| a.req_str(&[k]);
        let state = a
            .choice(&["state"], STATES, Some("updated"))?
            .unwrap_or_default();
        let rule_type = a
            .choice(&["type"], VALID_TYPES, None)?
            .ok_or_else(|| Error::runtime("pamd: missing required option 'type'"))?;
        let new_type = a.choice(&["new_type"], VALID_TYPES, None)?;
        let required: &[&str] = match state.as_str() {
            "args_present" | "args_absent" => &["module_arguments"],
            "before" | "after" => &["new_control", "new_type", "new_module_path"],
            _ => &[],
        };
        let missing: Vec<&str> = required.iter().copied().filter(|k| !a.has(k)).collect();
        if !missing.is_empty() {
            return Err(Error::runtime(format!(
                "state is {state} but all of the following are missing: {}",
                missing.join(", ")
            )));
        }
        let args = match a.get(&["module_arguments"]) {
            Some(_) => Some(a.list(&["module_arguments"])?),
            None => None,
        };
        let name = req("name")?;
        let dir = a.str(&["path"])?.unwrap_or_else(|| "/etc/pam.d".into());
        // os.path.join: an absolute name replaces the directory.
        let file = if name.starts_with('/') {
            name
        } else if dir.is_empty() || dir.ends_with('/') {
            format!("{dir}{name}")
        } else {
            format!("{dir}/{name}")
        };
        Ok(Box::new(PamdPlan {
            file,
            backup: a.bool(&["backup"], false)?,
            task: Task {
                state,
                rule_type,
                control: req("control")?,
                module_path: req("module_path")?,
                new: NewRule {
                    rule_type: new_type,
                    control: a.str(&["new_control"])?,
                    path: a.str(&["new_module_path"])?,
                    args,
                },
            },
            cur_at: FileRef::default(),
            now_at: CmdRef::default(),
        }))
    }
}

struct PamdPlan {
    file: String,
    backup: bool,
    task: Task,
    cur_at: FileRef,
    now_at: CmdRef,
}

/// Python's `datetime.now().isoformat()` from `date +%Y-%m-%dT%H:%M:%S.%6N` (microseconds
/// left out when zero).
fn iso_now(date: &str) -> String {
    let d = date.trim();
    match d.strip_suffix(".000000") {
        Some(s) => s.to_string(),
        None => d.to_string(),
    }
}

impl Planner for PamdPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.cur_at = p.read(&self.file);
        self.now_at = p.command("date +%Y-%m-%dT%H:%M:%S.%6N");
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.cur_at)?;
        let f = &self.file;
        let unreadable = |why: &str| {
            Ok(Plan::fail(format!(
                "Unable to open/read PAM module file {f} with error {why}."
            )))
        };
        if !cur.exists {
            return unreadable(&format!("[Errno 2] No such file or directory: '{f}'"));
        }
        if cur.is_dir() {
            return unreadable(&format!("[Errno 21] Is a directory: '{f}'"));
        }
        let Some(raw) = &cur.content else {
            return Ok(Plan::fail(format!(
                "{f} is not a regular file or too large"
            )));
        };
        let Ok(text) = std::str::from_utf8(raw) else {
            return Ok(Plan::fail(format!("{f} is not UTF-8 text")));
        };
        let (changes, service) = match self.task.apply(text) {
            Ok(r) => r,
            Err(m) => return Ok(Plan::fail(m)),
        };
        let mut plan = Plan::ok();
        if changes > 0 {
            let now = obs.cmd(self.now_at)?;
            if now.rc != 0 || now.stdout.trim().is_empty() {
                return Ok(Plan::fail(format!(
                    "cannot read the host's clock: {}",
                    now.stderr.trim()
                )));
            }
            let new = service.render(&iso_now(&now.stdout));
            let spec = WriteSpec {
                path: f.clone(),
                attrs: AttrSpec::default(),
                backup: self.backup,
                follow: true,
                ..Default::default()
            };
            plan_write(&mut plan, cur, new.into_bytes(), &spec)?;
            // The mark's time makes every rewrite differ: a change is a change.
            plan.changed = true;
        }
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        Ok(plan
            .with("change_count", changes as i64)
            .with("backupdest", ""))
    }
}

#[cfg(test)]
#[path = "pamd_tests.rs"]
mod tests;
