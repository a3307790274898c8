//! add_host: the run's inventory grows by a host (and its groups and variables) that later
//! plays target and every host's `groups` and `hostvars` see.

use std::sync::{Arc, Mutex};

use super::Shared;
use super::host::HostRun;
use crate::modules::add_host::NewHost;

impl Shared {
    /// Add a host (or give a known one more groups and variables), as Ansible's
    /// `add_dynamic_host`: changed when the inventory changed.
    pub fn add_host(&self, new: &NewHost) -> bool {
        let (changed, vars, groups) = {
            let mut inv = self.inventory.write().unwrap();
            let mut changed = false;
            if inv.hosts.get(&new.name).is_none_or(|h| h.implicit) {
                inv.add_host(&new.name, "all").implicit = false;
                changed = true;
            }
            for g in &new.groups {
                let listed = inv
                    .groups
                    .get(g)
                    .is_some_and(|gr| gr.hosts.contains(&new.name));
                if !listed {
                    inv.add_host(&new.name, g);
                    changed = true;
                }
            }
            if let Some(host) = inv.hosts.get_mut(&new.name) {
                for (k, v) in &new.vars {
                    if host.vars.get(k) != Some(v) {
                        host.vars.insert(k.clone(), v.clone());
                        changed = true;
                    }
                }
            }
            if changed {
                inv.finish();
            }
            (changed, inv.host_vars(&new.name), inv.groups_value())
        };
        if !changed {
            return false;
        }
        let known = self.index.read().unwrap().get(&new.name).copied();
        let magic = {
            let inv = self.inventory.read().unwrap();
            super::host_magic(&inv, &new.name, &groups)
        };
        match known {
            Some(h) => {
                let mut host = self.hosts[h].lock().unwrap();
                host.inventory = Arc::new(vars);
                host.magic = Arc::new(magic);
            }
            None => {
                let h = self
                    .hosts
                    .push(Mutex::new(HostRun::new(&new.name, vars, magic)));
                self.index.write().unwrap().insert(new.name.clone(), h);
            }
        }
        for (_, host) in self.hosts.iter() {
            let mut host = host.lock().unwrap();
            Arc::make_mut(&mut host.magic).insert("groups".into(), groups.clone());
        }
        true
    }
}
