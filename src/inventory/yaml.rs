//! Ansible's YAML inventory format.
//!
//! ```yaml
//! all:
//!   vars: {...}
//!   hosts: {name: {var: value}}
//!   children:
//!     group: {hosts: ..., vars: ..., children: ...}
//! ```
//! Top-level keys are groups (usually just `all`). Host names may be ranges (`node[01:20]`).
//! Unknown keys in a group are errors, as in Ansible. A group or host written twice in the same
//! mapping is merged, with a warning (Ansible keeps only the last and loses the other's hosts).

use std::path::Path;

use super::{Inventory, expand_range};
use crate::error::{Error, Result, did_you_mean};
use crate::yaml::Node;

const GROUP_KEYS: [&str; 3] = ["hosts", "vars", "children"];

pub fn load(inv: &mut Inventory, text: &str, path: &Path) -> Result<()> {
    let root = crate::yaml::parse_keeping_duplicates(text, path)?;
    if root.is_null() {
        return Ok(());
    }
    for (name, body) in root.expect_map("a YAML inventory")? {
        let name = name.key_string()?;
        load_group(inv, &name, body)?;
    }
    Ok(())
}

fn load_group(inv: &mut Inventory, name: &str, body: &Node) -> Result<()> {
    inv.ensure_group(name);
    if body.is_null() {
        return Ok(());
    }
    for (key, value) in body.expect_map(&format!("group '{name}'"))? {
        let k = key.key_string()?;
        match k.as_str() {
            "hosts" => {
                if value.is_null() {
                    continue;
                }
                for (host, hvars) in value.expect_map(&format!("hosts of group '{name}'"))? {
                    let pattern = host.key_string()?;
                    let names =
                        expand_range(&pattern).map_err(|m| Error::parse(host.span.clone(), m))?;
                    for h in names {
                        let entry = inv.add_host(&h, name);
                        if !hvars.is_null() {
                            for (vk, vv) in hvars.expect_map(&format!("variables of host '{h}'"))? {
                                entry.vars.insert(vk.key_string()?, vv.to_value());
                            }
                        }
                    }
                }
            }
            "vars" => {
                if value.is_null() {
                    continue;
                }
                for (vk, vv) in value.expect_map(&format!("vars of group '{name}'"))? {
                    let key = vk.key_string()?;
                    inv.ensure_group(name).vars.insert(key, vv.to_value());
                }
            }
            "children" => {
                if value.is_null() {
                    continue;
                }
                for (child, cbody) in value.expect_map(&format!("children of group '{name}'"))? {
                    let child_name = child.key_string()?;
                    inv.add_child_at(name, &child_name, child.span.clone());
                    let child = child_name;
                    load_group(inv, &child, cbody)?;
                }
            }
            other => {
                return Err(Error::parse(
                    key.span.clone(),
                    format!(
                        "invalid key '{other}' in group '{name}' (a group has hosts, vars and children){}",
                        did_you_mean(other, GROUP_KEYS)
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::Value;

    const SEED: &str = r#"
all:
  children:
    control_plane:
      hosts:
        shanghai-1:
          ansible_host: 192.168.10.102
          node_ip: 192.168.10.102
      vars:
        ansible_user: boxp
        ansible_ssh_common_args: '-o ProxyCommand="cloudflared access ssh --hostname %h"'
        kubernetes_version: "1.32"
    workers:
      hosts:
        golyat-1:
          ansible_host: 192.168.10.101
          node_ip: 192.168.10.101
        golyat-2:
          ansible_host: 192.168.10.105
      vars:
        architecture: "x86_64"
        network_dns_servers:
          - "8.8.8.8"
          - "8.8.4.4"
"#;

    #[test]
    fn loads_the_seed_inventory_shape() {
        let mut inv = Inventory::default();
        load(&mut inv, SEED, Path::new("hosts.yml")).unwrap();
        inv.finish();
        assert_eq!(inv.hosts_of("workers"), ["golyat-1", "golyat-2"]);
        assert_eq!(inv.hosts_of("all").len(), 3);
        let v = inv.host_vars("golyat-1");
        assert_eq!(v["node_ip"], Value::from("192.168.10.101"));
        assert_eq!(v["architecture"], Value::from("x86_64"));
        assert_eq!(v["network_dns_servers"].len(), Some(2));
        assert!(!v.contains_key("ansible_user"));
        assert_eq!(inv.group_names("golyat-1"), ["workers"]);
        let v = inv.host_vars("shanghai-1");
        assert_eq!(
            v["ansible_ssh_common_args"],
            Value::from("-o ProxyCommand=\"cloudflared access ssh --hostname %h\"")
        );
    }

    #[test]
    fn child_group_vars_beat_parent_vars() {
        let text = "all:\n  vars: {x: all, y: all}\n  children:\n    parent:\n      vars: {x: parent}\n      children:\n        child:\n          hosts: {h1: }\n          vars: {x: child}\n";
        let mut inv = Inventory::default();
        load(&mut inv, text, Path::new("i.yml")).unwrap();
        inv.finish();
        let v = inv.host_vars("h1");
        assert_eq!(v["x"], Value::from("child"));
        assert_eq!(v["y"], Value::from("all"));
        assert_eq!(inv.hosts_of("parent"), ["h1"]);
        assert_eq!(inv.group_names("h1"), ["child", "parent"]);
    }

    #[test]
    fn a_group_written_twice_keeps_the_hosts_of_both() {
        let text = "all:\n  children:\n    web:\n      hosts: {a: {x: 1}}\n    db:\n      hosts: {c: }\n    web:\n      hosts: {b: , a: {y: 2}}\n";
        let mut inv = Inventory::default();
        load(&mut inv, text, Path::new("i.yml")).unwrap();
        inv.finish();
        assert_eq!(inv.hosts_of("web"), ["a", "b"]);
        assert_eq!(inv.hosts_of("db"), ["c"]);
        let v = inv.host_vars("a");
        assert_eq!(
            (v["x"].clone(), v["y"].clone()),
            (Value::from(1), Value::from(2))
        );
    }

    #[test]
    fn group_cycles_across_top_level_groups_are_errors() {
        let text = "a:\n  children:\n    b:\nb:\n  children:\n    a:\n";
        let mut inv = Inventory::default();
        load(&mut inv, text, Path::new("i.yml")).unwrap();
        let err = inv.check_cycles().unwrap_err().to_string();
        assert!(
            err.starts_with("i.yml:6:5: group 'a' is a child of itself: a -> b -> a"),
            "{err}"
        );
    }

    #[test]
    fn twenty_thousand_hosts_load_with_the_right_counts() {
        let mut text = String::from("all:\n  children:\n");
        for rack in 0..20 {
            text.push_str(&format!("    rack{rack}:\n      hosts:\n"));
            for n in 0..1000 {
                text.push_str(&format!("        node-{rack}-{n}: {{idx: {n}}}\n"));
            }
            text.push_str(&format!("      vars: {{rack: {rack}}}\n"));
        }
        text.push_str("    compute:\n      children:\n");
        for rack in 0..20 {
            text.push_str(&format!("        rack{rack}:\n"));
        }
        let mut inv = Inventory::default();
        load(&mut inv, &text, Path::new("big.yml")).unwrap();
        inv.check_cycles().unwrap();
        inv.finish();
        assert_eq!(inv.hosts.len(), 20_000);
        assert_eq!(inv.hosts_of("compute").len(), 20_000);
        assert_eq!(inv.hosts_of("rack7").len(), 1000);
        assert_eq!(inv.hosts_of("ungrouped").len(), 0);
        let v = inv.host_vars("node-7-999");
        assert_eq!(
            (v["rack"].clone(), v["idx"].clone()),
            (Value::from(7), Value::from(999))
        );
        assert_eq!(inv.group_names("node-3-1"), ["compute", "rack3"]);
        let groups = inv.groups_value();
        assert_eq!(groups.get_attr("all").unwrap().len(), Some(20_000));
    }

    #[test]
    fn unknown_group_key_is_an_error_with_position() {
        let mut inv = Inventory::default();
        let err = load(&mut inv, "all:\n  host:\n    a:\n", Path::new("i.yml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "i.yml:2:3: invalid key 'host' in group 'all' (a group has hosts, vars and children) (did you mean 'hosts'?)"
        );
    }
}
