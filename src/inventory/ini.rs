//! Ansible's INI inventory format.
//!
//! ```ini
//! host1 ansible_host=10.0.0.1
//! [workers]
//! node[01:03] ansible_user=boxp
//! [workers:vars]
//! kubernetes_version=1.32
//! [cluster:children]
//! workers
//! ```
//! As in Ansible, values on host lines are read as Python literals (numbers, booleans,
//! quoted strings, lists), values in `:vars` sections stay strings.

use std::path::Path;

use minijinja::Value;

use super::{Inventory, expand_range};
use crate::error::{Error, Result, Span};
use crate::shlex;
use crate::yaml::{Yaml, resolve_plain};

enum Section {
    Hosts(String),
    Vars(String),
    Children(String),
}

pub fn load(inv: &mut Inventory, text: &str, path: &Path) -> Result<()> {
    let file = std::sync::Arc::new(path.to_path_buf());
    let mut section = Section::Hosts("ungrouped".into());
    for (i, raw) in text.lines().enumerate() {
        let span = Span::new(file.clone(), i as u32 + 1, 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(head) = line.strip_prefix('[') {
            let head = head.strip_suffix(']').ok_or_else(|| {
                Error::parse(span.clone(), format!("bad section header '{line}'"))
            })?;
            section = match head.split_once(':') {
                None => Section::Hosts(head.to_string()),
                Some((g, "vars")) => Section::Vars(g.to_string()),
                Some((g, "children")) => Section::Children(g.to_string()),
                Some((_, other)) => {
                    return Err(Error::parse(
                        span,
                        format!("unknown section suffix ':{other}' (use :vars or :children)"),
                    ));
                }
            };
            let (Section::Hosts(g) | Section::Vars(g) | Section::Children(g)) = &section;
            inv.ensure_group(g);
            continue;
        }
        match &section {
            Section::Hosts(group) => {
                let words = shlex::split(line).map_err(|m| Error::parse(span.clone(), m))?;
                let Some((name, vars)) = words.split_first() else {
                    continue;
                };
                let names = expand_range(name).map_err(|m| Error::parse(span.clone(), m))?;
                for h in names {
                    let host = inv.add_host(&h, group);
                    for kv in vars {
                        let (k, v) = kv.split_once('=').ok_or_else(|| {
                            Error::parse(
                                span.clone(),
                                format!("expected key=value after the host name, got '{kv}'"),
                            )
                        })?;
                        host.vars.insert(k.to_string(), literal(v));
                    }
                }
            }
            Section::Vars(group) => {
                let (k, v) = line.split_once('=').ok_or_else(|| {
                    Error::parse(span.clone(), format!("expected key=value, got '{line}'"))
                })?;
                let v = shlex::unquote(v.trim());
                inv.ensure_group(group)
                    .vars
                    .insert(k.trim().to_string(), Value::from(v));
            }
            Section::Children(group) => {
                inv.add_child_at(group, line, span);
            }
        }
    }
    Ok(())
}

/// A host-line value as Python's `literal_eval` would read it (approximately).
fn literal(v: &str) -> Value {
    match v {
        "True" | "true" => return Value::from(true),
        "False" | "false" => return Value::from(false),
        "None" => return Value::from(()),
        _ => {}
    }
    if (v.starts_with('[') || v.starts_with('{'))
        && let Ok(node) = crate::yaml::parse_str(v, "<ini value>")
    {
        return node.to_value();
    }
    match resolve_plain(v) {
        Yaml::Int(i) if !v.starts_with('0') || v == "0" => Value::from(i),
        Yaml::Float(f) => Value::from(f),
        _ => Value::from(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_hosts_vars_children_and_ranges() {
        let text = "solo ansible_connection=local\n[workers]\nnode[1:2] ansible_port=2222 label='a b'\n[workers:vars]\nk8s=1.32\n[cluster:children]\nworkers\n";
        let mut inv = Inventory::default();
        load(&mut inv, text, Path::new("hosts")).unwrap();
        inv.finish();
        assert_eq!(inv.hosts_of("cluster"), ["node1", "node2"]);
        assert_eq!(inv.hosts_of("ungrouped"), ["solo"]);
        let v = inv.host_vars("node2");
        assert_eq!(v["ansible_port"], Value::from(2222));
        assert_eq!(v["label"], Value::from("a b"));
        assert_eq!(v["k8s"], Value::from("1.32"));
    }

    #[test]
    fn group_cycles_are_errors_naming_the_chain() {
        let mut inv = Inventory::default();
        let text = "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n";
        load(&mut inv, text, Path::new("hosts")).unwrap();
        let err = inv.check_cycles().unwrap_err().to_string();
        assert!(
            err.starts_with("hosts:6:1: group 'a' is a child of itself: a -> b -> c -> a"),
            "{err}"
        );
        let mut inv = Inventory::default();
        load(&mut inv, "[a:children]\na\n", Path::new("hosts")).unwrap();
        let err = inv.check_cycles().unwrap_err().to_string();
        assert!(
            err.contains("group 'a' is a child of itself: a -> a"),
            "{err}"
        );
    }

    #[test]
    fn bad_lines_point_at_their_line() {
        let mut inv = Inventory::default();
        let err = load(&mut inv, "[g]\nh1 novalue\n", Path::new("hosts")).unwrap_err();
        assert!(
            err.to_string().starts_with("hosts:2:1: expected key=value"),
            "{err}"
        );
    }
}
