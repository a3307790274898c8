//! The inventory: hosts, groups, their variables, and host patterns.
//!
//! Loads Ansible YAML ([`yaml`]) and INI ([`ini`]) inventories, directories of them, and
//! comma-separated host lists (`-i 'a,b,'`); then `group_vars/` and `host_vars/` beside the
//! inventory (and, through [`Inventory::load_vars_dirs`], beside the playbook). Groups nest via
//! `children`; every host is in `all`, and hosts in no other group are in `ungrouped`.
//! Host patterns (`--limit`, `hosts:`) are in [`pattern`].
//!
//! Loading is linear in the size of the inventory: every host knows its direct groups and every
//! group its parents, so membership questions never scan all groups or all hosts. A group that
//! is (through children) a child of itself is an error naming the chain.

pub mod ini;
pub mod pattern;
pub mod yaml;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use indexmap::{IndexMap, IndexSet};
use minijinja::Value;

use crate::error::{Error, ErrorKind, Result, Span};
use crate::vars::VarMap;

/// One managed host.
#[derive(Clone, Debug, Default)]
pub struct Host {
    pub name: String,
    /// Variables set on the host in inventory files.
    pub vars: VarMap,
    /// Variables from `host_vars/` files (beat inventory-file host vars).
    pub file_vars: VarMap,
    /// The implicit `localhost` of an inventory that does not list it: reachable by name
    /// only, never part of `all`, `ungrouped` or a wildcard (as in Ansible).
    pub implicit: bool,
    /// Groups that list this host directly.
    pub groups: IndexSet<String>,
}

/// One group.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub name: String,
    /// Variables set on the group in inventory files.
    pub vars: VarMap,
    /// Variables from `group_vars/` files (beat inventory-file group vars).
    pub file_vars: VarMap,
    /// Hosts listed directly in this group.
    pub hosts: IndexSet<String>,
    /// Child groups.
    pub children: IndexSet<String>,
    /// Groups that have this one as a child.
    pub parents: IndexSet<String>,
}

/// Hosts and groups, in the order they were defined.
#[derive(Clone, Debug)]
pub struct Inventory {
    pub hosts: IndexMap<String, Host>,
    pub groups: IndexMap<String, Group>,
    /// Directories whose `group_vars/`/`host_vars/` were loaded (to avoid loading twice).
    vars_dirs: Vec<PathBuf>,
    /// Where each parent -> child edge was declared, for cycle errors.
    edges: HashMap<(String, String), Span>,
}

impl Default for Inventory {
    fn default() -> Self {
        let mut groups = IndexMap::new();
        for name in ["all", "ungrouped"] {
            groups.insert(
                name.to_string(),
                Group {
                    name: name.to_string(),
                    ..Default::default()
                },
            );
        }
        Inventory {
            hosts: IndexMap::new(),
            groups,
            vars_dirs: Vec::new(),
            edges: HashMap::new(),
        }
    }
}

impl Inventory {
    /// Load every inventory source given with `-i` (files, directories or `a,b,` lists).
    ///
    /// A source that is missing or cannot be parsed stops the run with exit 1: Ansible's
    /// "No inventory was parsed" under `inventory_unparsed_failed` (by default Ansible only
    /// warns and goes on with the implicit localhost; prov does not guess).
    pub fn load(sources: &[String]) -> Result<Inventory> {
        Inventory::load_sources(sources).map_err(|mut e| {
            if matches!(e.kind, ErrorKind::Parse | ErrorKind::Usage) {
                e.kind = ErrorKind::Runtime;
            }
            e
        })
    }

    fn load_sources(sources: &[String]) -> Result<Inventory> {
        let mut inv = Inventory::default();
        for source in sources {
            let path = Path::new(source);
            if !path.exists() && source.contains(',') {
                for name in source.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    inv.add_host(name, "all");
                }
                continue;
            }
            if path.is_dir() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|e| Error::io(path, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && is_inventory_file(p))
                    .collect();
                entries.sort();
                for file in entries {
                    inv.load_file(&file)?;
                }
                inv.load_vars_dirs(path)?;
            } else if path.is_file() {
                inv.load_file(path)?;
                if let Some(dir) = path.parent() {
                    inv.load_vars_dirs(dir)?;
                }
            } else {
                return Err(Error::new(
                    ErrorKind::Missing,
                    format!("inventory source '{source}' does not exist"),
                ));
            }
        }
        inv.check_cycles()?;
        inv.finish();
        Ok(inv)
    }

    fn load_file(&mut self, path: &Path) -> Result<()> {
        let text = crate::yaml::read_text(path)?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let looks_yaml = matches!(ext, "yml" | "yaml" | "json")
            || text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .is_some_and(|l| l.ends_with(':') || l.starts_with("---") || l.starts_with('{'));
        if looks_yaml {
            yaml::load(self, &text, path)
        } else {
            ini::load(self, &text, path)
        }
    }

    /// Add a host to a group (creating both as needed).
    pub fn add_host(&mut self, name: &str, group: &str) -> &mut Host {
        self.ensure_group(group).hosts.insert(name.to_string());
        let host = self.hosts.entry(name.to_string()).or_insert_with(|| Host {
            name: name.to_string(),
            ..Default::default()
        });
        host.groups.insert(group.to_string());
        host
    }

    pub fn ensure_group(&mut self, name: &str) -> &mut Group {
        self.groups
            .entry(name.to_string())
            .or_insert_with(|| Group {
                name: name.to_string(),
                ..Default::default()
            })
    }

    pub fn add_child(&mut self, parent: &str, child: &str) {
        self.ensure_group(child).parents.insert(parent.to_string());
        self.ensure_group(parent).children.insert(child.to_string());
    }

    /// [`Inventory::add_child`], remembering where the relation was written.
    pub fn add_child_at(&mut self, parent: &str, child: &str, span: Span) {
        self.add_child(parent, child);
        self.edges
            .entry((parent.to_string(), child.to_string()))
            .or_insert(span);
    }

    /// Fail if a group is (through its children) a child of itself, naming the chain.
    pub fn check_cycles(&self) -> Result<()> {
        // Iterative depth-first search: 1 = on the current path, 2 = done.
        let mut state: HashMap<&str, u8> = HashMap::new();
        for start in self.groups.keys() {
            if state.contains_key(start.as_str()) {
                continue;
            }
            let mut path: Vec<(&str, indexmap::set::Iter<'_, String>)> =
                vec![(start, self.groups[start].children.iter())];
            state.insert(start, 1);
            while let Some((group, children)) = path.last_mut() {
                let group = *group;
                match children.next() {
                    Some(child) => match state.get(child.as_str()) {
                        Some(1) => {
                            let from = path.iter().position(|(g, _)| *g == child).unwrap_or(0);
                            let mut chain: Vec<&str> =
                                path[from..].iter().map(|(g, _)| *g).collect();
                            chain.push(child);
                            let msg = format!(
                                "group '{child}' is a child of itself: {} (adding group '{child}' as child to '{group}' creates a recursive dependency loop)",
                                chain.join(" -> ")
                            );
                            let err = Error::new(crate::error::ErrorKind::Parse, msg);
                            return Err(
                                match self.edges.get(&(group.to_string(), child.clone())) {
                                    Some(span) => err.at(span.clone()),
                                    None => err,
                                },
                            );
                        }
                        Some(_) => {}
                        None => {
                            state.insert(child, 1);
                            let grandchildren = self
                                .groups
                                .get(child)
                                .map(|g| g.children.iter())
                                .unwrap_or_default();
                            path.push((child, grandchildren));
                        }
                    },
                    None => {
                        state.insert(group, 2);
                        path.pop();
                    }
                }
            }
        }
        Ok(())
    }

    /// Recompute `all` and `ungrouped` after loading.
    pub fn finish(&mut self) {
        let top: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.name != "all" && g.parents.is_empty())
            .map(|g| g.name.clone())
            .collect();
        for g in top {
            self.add_child("all", &g);
        }
        if let Some(all) = self.groups.get_mut("all") {
            all.children.shift_remove("all");
            all.parents.shift_remove("all");
        }
        let ungrouped: IndexSet<String> = self
            .hosts
            .values()
            .filter(|h| !h.implicit)
            .filter(|h| h.groups.iter().all(|g| g == "all" || g == "ungrouped"))
            .map(|h| h.name.clone())
            .collect();
        for h in self.hosts.values_mut() {
            if ungrouped.contains(&h.name) {
                h.groups.insert("ungrouped".into());
            } else {
                h.groups.shift_remove("ungrouped");
            }
        }
        self.ensure_group("ungrouped").hosts = ungrouped;
        self.add_child("all", "ungrouped");
    }

    /// Load `group_vars/` and `host_vars/` in `dir` (once per directory).
    pub fn load_vars_dirs(&mut self, dir: &Path) -> Result<()> {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        if self.vars_dirs.contains(&dir) {
            return Ok(());
        }
        self.vars_dirs.push(dir.clone());
        // One directory listing each, instead of several stat calls per host and group.
        let group_dir = dir.join("group_vars");
        let present = vars_entries(&group_dir);
        let group_names: Vec<String> = self
            .groups
            .keys()
            .filter(|n| has_vars_entry(&present, n))
            .cloned()
            .collect();
        for name in group_names {
            let vars = load_named_vars(&group_dir, &name)?;
            let g = self.groups.get_mut(&name).expect("group exists");
            g.file_vars.extend(vars);
        }
        let host_dir = dir.join("host_vars");
        let present = vars_entries(&host_dir);
        let host_names: Vec<String> = self
            .hosts
            .keys()
            .filter(|n| has_vars_entry(&present, n))
            .cloned()
            .collect();
        for name in host_names {
            let vars = load_named_vars(&host_dir, &name)?;
            self.hosts
                .get_mut(&name)
                .expect("host exists")
                .file_vars
                .extend(vars);
        }
        Ok(())
    }

    /// Every group a host belongs to, directly or through children, including `all`.
    pub fn groups_of(&self, host: &str) -> IndexSet<String> {
        let mut out = IndexSet::new();
        if let Some(h) = self.hosts.get(host) {
            for g in &h.groups {
                self.add_with_parents(g, &mut out);
            }
        }
        out.insert("all".to_string());
        out
    }

    fn add_with_parents(&self, group: &str, out: &mut IndexSet<String>) {
        let mut todo = vec![group.to_string()];
        while let Some(g) = todo.pop() {
            if let Some(grp) = self.groups.get(&g) {
                todo.extend(grp.parents.iter().filter(|p| !out.contains(*p)).cloned());
            }
            out.insert(g);
        }
    }

    /// Depth of a group below `all` (all = 0; the longest chain of parents), for variable
    /// precedence. `memo` holds depths already known (and guards against cycles).
    fn depth(&self, group: &str, memo: &mut HashMap<String, usize>) -> usize {
        if group == "all" {
            return 0;
        }
        if let Some(&d) = memo.get(group) {
            return d;
        }
        memo.insert(group.to_string(), 1);
        let d = self
            .groups
            .get(group)
            .into_iter()
            .flat_map(|g| g.parents.iter())
            .map(|p| self.depth(p, memo) + 1)
            .max()
            .unwrap_or(1);
        memo.insert(group.to_string(), d);
        d
    }

    /// Every host of a group, recursively, in inventory order.
    pub fn hosts_of(&self, group: &str) -> Vec<String> {
        let mut set = HashSet::new();
        self.collect_hosts(group, &mut set);
        let mut order: Vec<usize> = set
            .iter()
            .filter_map(|h| self.hosts.get_index_of(*h))
            .collect();
        order.sort_unstable();
        order
            .into_iter()
            .map(|i| self.hosts.get_index(i).expect("index exists").0.clone())
            .collect()
    }

    fn collect_hosts<'a>(&'a self, group: &'a str, out: &mut HashSet<&'a str>) {
        if group == "all" {
            out.extend(self.listed().map(String::as_str));
            return;
        }
        let mut seen: HashSet<&str> = HashSet::new();
        let mut todo = vec![group];
        while let Some(g) = todo.pop() {
            if !seen.insert(g) {
                continue;
            }
            if let Some(grp) = self.groups.get(g) {
                out.extend(grp.hosts.iter().map(String::as_str));
                todo.extend(grp.children.iter().map(String::as_str));
            }
        }
    }

    /// The inventory variables of a host, merged by Ansible's precedence: group vars from
    /// `all` down to the deepest child (inventory files, then group_vars files), then host vars.
    pub fn host_vars(&self, host: &str) -> VarMap {
        let mut memo = HashMap::new();
        let mut groups: Vec<(usize, i64, String)> = self
            .groups_of(host)
            .into_iter()
            .map(|g| {
                let prio = self.groups[&g]
                    .vars
                    .get("ansible_group_priority")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                (self.depth(&g, &mut memo), prio, g)
            })
            .collect();
        groups.sort();
        let mut out = VarMap::new();
        for (_, _, g) in &groups {
            out.extend(
                self.groups[g]
                    .vars
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        for (_, _, g) in &groups {
            out.extend(
                self.groups[g]
                    .file_vars
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        if let Some(h) = self.hosts.get(host) {
            out.extend(h.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
            out.extend(h.file_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }

    /// `group_names`: the host's groups, sorted, without `all`.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .groups_of(host)
            .into_iter()
            .filter(|g| g != "all")
            .collect();
        v.sort();
        v
    }

    /// `groups`: every group with its hosts.
    pub fn groups_value(&self) -> Value {
        Value::from_pairs(self.groups.keys().map(|g| {
            let hosts: Vec<Value> = self.hosts_of(g).into_iter().map(Value::from).collect();
            (g.clone(), Value::from(hosts))
        }))
    }

    /// The hosts the inventory lists (every host but an implicit `localhost`).
    pub fn listed(&self) -> impl Iterator<Item = &String> {
        self.hosts.values().filter(|h| !h.implicit).map(|h| &h.name)
    }

    /// Make sure `localhost` exists. Without any inventory host it is the run's single host
    /// (in `all`); otherwise it is implicit, as in Ansible: there for `hosts: localhost` and
    /// `delegate_to: localhost`, but not part of `all`.
    pub fn ensure_implicit_localhost(&mut self) {
        if !self.hosts.contains_key("localhost") {
            let implicit = !self.hosts.is_empty();
            let h = if implicit {
                self.hosts
                    .entry("localhost".to_string())
                    .or_insert_with(|| Host {
                        name: "localhost".to_string(),
                        ..Default::default()
                    })
            } else {
                self.add_host("localhost", "ungrouped")
            };
            h.implicit = implicit;
            h.vars
                .insert("ansible_connection".into(), Value::from("local"));
            self.finish();
        }
    }
}

fn is_inventory_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.')
        && !name.ends_with('~')
        && !matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("orig" | "ini~" | "retry" | "pyc" | "cfg")
        )
}

/// The names in a `group_vars/` or `host_vars/` directory (empty if there is none).
fn vars_entries(dir: &Path) -> HashSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Does a vars directory listing have a file or directory for `name`?
fn has_vars_entry(present: &HashSet<String>, name: &str) -> bool {
    !present.is_empty()
        && ["", ".yml", ".yaml", ".json"]
            .iter()
            .any(|ext| present.contains(&format!("{name}{ext}")))
}

/// Variables for `name` from `dir/name(.yml|.yaml|.json)` or every file in `dir/name/`.
fn load_named_vars(dir: &Path, name: &str) -> Result<VarMap> {
    let mut out = VarMap::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for ext in ["", ".yml", ".yaml", ".json"] {
        let p = dir.join(format!("{name}{ext}"));
        if p.is_file() {
            out.extend(crate::vars::load_var_file(&p)?);
        } else if ext.is_empty() && p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&p)
                .map_err(|e| Error::io(&p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && matches!(
                            f.extension().and_then(|e| e.to_str()),
                            Some("yml" | "yaml" | "json")
                        )
                })
                .collect();
            files.sort();
            for f in files {
                out.extend(crate::vars::load_var_file(&f)?);
            }
        }
    }
    Ok(out)
}

/// Expand `node[01:20]`, `web[a:c]` and `h[1:9:2]` host ranges.
pub fn expand_range(pattern: &str) -> Result<Vec<String>, String> {
    let (Some(open), Some(close)) = (pattern.find('['), pattern.find(']')) else {
        return Ok(vec![pattern.to_string()]);
    };
    if close < open {
        return Err(format!("bad host range in '{pattern}'"));
    }
    let (head, spec, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return Err(format!("bad host range '[{spec}]' in '{pattern}'"));
    }
    let step: usize = match parts.get(2) {
        Some(s) => s
            .parse()
            .map_err(|_| format!("bad step in host range '[{spec}]'"))?,
        None => 1,
    };
    let (beg, end) = (parts[0], parts[1]);
    let mut out = Vec::new();
    let rest = expand_range(tail)?;
    let items: Vec<String> = if let (Ok(b), Ok(e)) = (beg.parse::<u64>(), end.parse::<u64>()) {
        let width = if beg.len() > 1 && beg.starts_with('0') {
            beg.len()
        } else {
            0
        };
        (b..=e)
            .step_by(step.max(1))
            .map(|i| format!("{i:0width$}"))
            .collect()
    } else if beg.len() == 1 && end.len() == 1 && beg.chars().all(|c| c.is_ascii_alphabetic()) {
        let (b, e) = (beg.as_bytes()[0], end.as_bytes()[0]);
        (b..=e)
            .step_by(step.max(1))
            .map(|c| (c as char).to_string())
            .collect()
    } else {
        return Err(format!("bad host range '[{spec}]' in '{pattern}'"));
    };
    for i in items {
        for r in &rest {
            out.push(format!("{head}{i}{r}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_with_padding_letters_and_steps() {
        assert_eq!(
            expand_range("node[01:03]").unwrap(),
            ["node01", "node02", "node03"]
        );
        assert_eq!(
            expand_range("n[1:5:2].x").unwrap(),
            ["n1.x", "n3.x", "n5.x"]
        );
        assert_eq!(expand_range("db-[a:c]").unwrap(), ["db-a", "db-b", "db-c"]);
        assert_eq!(
            expand_range("r[1:2]c[1:2]").unwrap(),
            ["r1c1", "r1c2", "r2c1", "r2c2"]
        );
        assert!(expand_range("bad[1-3]").is_err());
    }
}
