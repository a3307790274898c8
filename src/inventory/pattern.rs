//! Host patterns, as `hosts:` and `--limit` use them.
//!
//! A pattern is a list of terms separated by `,` or `:`: names of hosts or groups, `all`/`*`,
//! globs (`golyat-*`), regexes (`~golyat-[12]`), group slices (`workers[0]`, `workers[1:2]`),
//! and the modifiers `!x` (exclude) and `&x` (intersect). Unions are applied first, then
//! intersections, then exclusions, as in Ansible. `@file` reads one pattern per line.
//! Results are in inventory order.

use indexmap::IndexSet;
use regex::Regex;

use super::Inventory;
use crate::error::{Error, Result};

/// Split a pattern into its terms (`a:b`, `a,b`, `a:!b:&c`).
pub fn split_terms(pattern: &str) -> Vec<String> {
    let pattern = pattern.trim();
    let raw: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut depth = 0;
        for c in pattern.chars() {
            match c {
                '[' => {
                    depth += 1;
                    cur.push(c);
                }
                ']' => {
                    depth -= 1;
                    cur.push(c);
                }
                ':' if depth == 0 => out.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        out.push(cur);
        out
    };
    raw.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

pub use crate::shlex::glob_match;

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `group[1]`, `group[0:2]`, `group[-1]`: a subscript on a term.
fn subscript(term: &str) -> Option<(&str, i64, Option<Option<i64>>)> {
    let open = term.rfind('[')?;
    let inner = term.strip_suffix(']')?.get(open + 1..)?;
    let base = &term[..open];
    match inner.split_once(':') {
        None => Some((base, inner.parse().ok()?, None)),
        Some((a, b)) => {
            let start = if a.is_empty() { 0 } else { a.parse().ok()? };
            let end = if b.is_empty() {
                None
            } else {
                Some(b.parse().ok()?)
            };
            Some((base, start, Some(end)))
        }
    }
}

fn match_term(inv: &Inventory, term: &str) -> Result<Vec<String>> {
    if term == "all" || term == "*" {
        return Ok(inv.listed().cloned().collect());
    }
    if inv.groups.contains_key(term) {
        return Ok(inv.hosts_of(term));
    }
    if inv.hosts.contains_key(term) {
        return Ok(vec![term.to_string()]);
    }
    if let Some((base, start, range)) = subscript(term)
        && (inv.groups.contains_key(base) || base == "all")
    {
        let hosts = inv.hosts_of(base);
        let n = hosts.len() as i64;
        let norm = |i: i64| if i < 0 { (n + i).max(0) } else { i.min(n) };
        return Ok(match range {
            None => {
                let i = norm(start);
                hosts.get(i as usize).cloned().into_iter().collect()
            }
            Some(end) => {
                // Ansible's slices are inclusive of the end index.
                let (s, e) = (norm(start), end.map(|e| norm(e) + 1).unwrap_or(n).min(n));
                hosts
                    .get(s as usize..e.max(s) as usize)
                    .map(<[String]>::to_vec)
                    .unwrap_or_default()
            }
        });
    }
    if let Some(re) = term.strip_prefix('~') {
        let re = Regex::new(re)
            .map_err(|e| Error::usage(format!("bad host pattern regex '{re}': {e}")))?;
        let mut out: IndexSet<String> = IndexSet::new();
        for g in inv.groups.keys().filter(|g| re.is_match(g)) {
            out.extend(inv.hosts_of(g));
        }
        out.extend(inv.listed().filter(|h| re.is_match(h)).cloned());
        return Ok(out.into_iter().collect());
    }
    if is_glob(term) {
        let mut out: IndexSet<String> = IndexSet::new();
        for g in inv.groups.keys().filter(|g| glob_match(term, g)) {
            out.extend(inv.hosts_of(g));
        }
        out.extend(inv.listed().filter(|h| glob_match(term, h)).cloned());
        return Ok(out.into_iter().collect());
    }
    Ok(Vec::new())
}

/// The hosts a pattern selects, in inventory order.
pub fn select(inv: &Inventory, pattern: &str) -> Result<Vec<String>> {
    let mut terms = Vec::new();
    for t in split_terms(pattern) {
        if let Some(file) = t.strip_prefix('@') {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Error::usage(format!("cannot read limit file '{file}': {e}")))?;
            terms.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string),
            );
        } else {
            terms.push(t);
        }
    }
    let mut union: IndexSet<String> = IndexSet::new();
    let mut intersections = Vec::new();
    let mut exclusions = Vec::new();
    for t in &terms {
        if let Some(x) = t.strip_prefix('!') {
            exclusions.push(x);
        } else if let Some(x) = t.strip_prefix('&') {
            intersections.push(x);
        } else {
            union.extend(match_term(inv, t)?);
        }
    }
    for x in intersections {
        let keep: IndexSet<String> = match_term(inv, x)?.into_iter().collect();
        union.retain(|h| keep.contains(h));
    }
    for x in exclusions {
        let drop: IndexSet<String> = match_term(inv, x)?.into_iter().collect();
        union.retain(|h| !drop.contains(h));
    }
    Ok(inv
        .hosts
        .keys()
        .filter(|h| union.contains(*h))
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn inv() -> Inventory {
        let mut inv = Inventory::default();
        let text = "all:\n  children:\n    control_plane:\n      hosts: {shanghai-1: , shanghai-2: }\n    workers:\n      hosts:\n        golyat-1:\n        golyat-2:\n        golyat-3:\n    gpu:\n      hosts: {golyat-2: }\n";
        super::super::yaml::load(&mut inv, text, Path::new("i.yml")).unwrap();
        inv.finish();
        inv
    }

    #[test]
    fn names_groups_globs_and_all() {
        let i = inv();
        assert_eq!(select(&i, "golyat-1").unwrap(), ["golyat-1"]);
        assert_eq!(
            select(&i, "workers").unwrap(),
            ["golyat-1", "golyat-2", "golyat-3"]
        );
        assert_eq!(
            select(&i, "shanghai-*").unwrap(),
            ["shanghai-1", "shanghai-2"]
        );
        assert_eq!(select(&i, "all").unwrap().len(), 5);
        assert_eq!(select(&i, "golyat-[13]").unwrap(), ["golyat-1", "golyat-3"]);
        assert!(select(&i, "nothing").unwrap().is_empty());
    }

    #[test]
    fn implicit_localhost_only_by_name() {
        let mut i = inv();
        i.ensure_implicit_localhost();
        assert_eq!(select(&i, "all").unwrap().len(), 5);
        assert!(select(&i, "*host").unwrap().is_empty());
        assert!(select(&i, "ungrouped").unwrap().is_empty());
        assert_eq!(select(&i, "localhost").unwrap(), ["localhost"]);
        // Without inventory hosts, localhost is the run's only host, in `all`.
        let mut empty = Inventory::default();
        empty.ensure_implicit_localhost();
        assert_eq!(select(&empty, "all").unwrap(), ["localhost"]);
    }

    #[test]
    fn unions_exclusions_intersections() {
        let i = inv();
        assert_eq!(
            select(&i, "golyat-1:shanghai-1").unwrap(),
            ["shanghai-1", "golyat-1"]
        );
        assert_eq!(
            select(&i, "golyat-1,shanghai-1").unwrap(),
            ["shanghai-1", "golyat-1"]
        );
        assert_eq!(
            select(&i, "workers:!gpu").unwrap(),
            ["golyat-1", "golyat-3"]
        );
        assert_eq!(select(&i, "workers:&gpu").unwrap(), ["golyat-2"]);
        assert_eq!(
            select(&i, "all:!control_plane:!golyat-3").unwrap(),
            ["golyat-1", "golyat-2"]
        );
        assert_eq!(
            select(&i, "~golyat-[12]").unwrap(),
            ["golyat-1", "golyat-2"]
        );
    }

    #[test]
    fn group_slices_and_limit_files() {
        let i = inv();
        assert_eq!(select(&i, "workers[0]").unwrap(), ["golyat-1"]);
        assert_eq!(select(&i, "workers[-1]").unwrap(), ["golyat-3"]);
        assert_eq!(
            select(&i, "workers[0:1]").unwrap(),
            ["golyat-1", "golyat-2"]
        );
        let file = std::env::temp_dir().join(format!("prov-limit-{}", std::process::id()));
        std::fs::write(&file, "golyat-3\n# comment\nshanghai-2\n").unwrap();
        assert_eq!(
            select(&i, &format!("@{}", file.display())).unwrap(),
            ["shanghai-2", "golyat-3"]
        );
        std::fs::remove_file(file).unwrap();
    }
}
