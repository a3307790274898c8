//! prov's facts against Ansible's own on this machine: `ansible localhost -c local -m setup
//! -a gather_subset=all` from the test fixtures' venv (ansible-core 2.19) and prov's implicit
//! fact gathering over the local connection, both run as the same user in the same
//! environment. The facts roles branch on must be equal.
//!
//! Not compared, because they legitimately differ between two looks or two readers: free and
//! used memory, the clock's values (epoch, time, ...: only the key set and the zone are), mount
//! sizes and free blocks, the environment (Ansible's module process has its own), and the
//! Python's executable (Ansible's local connection runs the venv's interpreter, prov reports
//! the `python3` on PATH: only their versions are compared). Mounts under the temp directory
//! come and go with concurrently running tests, so they are left out on both sides.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{Project, Prov, TempDir};
use serde_json::Value;

/// Ansible's facts (names without the `ansible_` prefix).
fn ansible_facts() -> serde_json::Map<String, Value> {
    let ansible = common::ansible_playbook().with_file_name("ansible");
    // Away from the repository's ansible.cfg (its inventory is the cluster's).
    let cwd = TempDir::new("facts-parity");
    let out = Command::new(ansible)
        .current_dir(&cwd.path)
        .args(["localhost", "-c", "local", "-m", "setup"])
        .args(["-a", "gather_subset=all"])
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_INVENTORY")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCALHOST_WARNING", "0")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "0")
        .output()
        .expect("running ansible");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ansible setup failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `localhost | SUCCESS => {...}`
    let json = &text[text.find("=> ").expect("ansible's result") + 3..];
    let doc: Value = serde_json::from_str(json).expect("ansible's JSON");
    doc["ansible_facts"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("ansible_")?.to_string(), v.clone())))
        .collect()
}

/// prov's facts, as a play sees them.
fn prov_facts() -> serde_json::Map<String, Value> {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: localhost
  tasks:
    - name: facts
      debug:
        msg: "{{ ansible_facts | to_json }}"
"#,
    );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "localhost,", "-c", "local"])
        .json()
        .run();
    r.ok();
    let msg = r.task("localhost", "facts")["result"]["msg"].clone();
    let doc: Value = serde_json::from_str(msg.as_str().expect("a JSON string")).unwrap();
    doc.as_object().unwrap().clone()
}

fn sorted(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// The (mount point, fstype) pairs, without the temp directory's.
fn mount_points(v: &Value) -> BTreeSet<(String, String)> {
    let tmp = std::env::temp_dir().display().to_string();
    v.as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|m| {
            (
                m["mount"].as_str().unwrap().to_string(),
                m["fstype"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(m, _)| !m.starts_with(&format!("{tmp}/")))
        .collect()
}

#[test]
fn facts_roles_branch_on_are_ansibles() {
    let theirs = ansible_facts();
    let ours = prov_facts();
    let both = |k: &str| -> (&Value, &Value) {
        let t = theirs
            .get(k)
            .unwrap_or_else(|| panic!("Ansible has no {k}"));
        let o = ours.get(k).unwrap_or_else(|| panic!("prov has no {k}"));
        (t, o)
    };
    for k in [
        "virtualization_type",
        "virtualization_role",
        "lsb",
        "system",
        "machine",
        "user_id",
        "pkg_mgr",
        "local",
    ] {
        let (t, o) = both(k);
        assert_eq!(o, t, "{k}");
    }
    for k in ["virtualization_tech_guest", "virtualization_tech_host"] {
        let (t, o) = both(k);
        assert_eq!(sorted(o), sorted(t), "{k}");
    }
    let (t, o) = both("selinux");
    assert_eq!(o["status"], t["status"], "selinux");
    let (t, o) = both("memory_mb");
    assert_eq!(
        o["real"]["total"], t["real"]["total"],
        "memory_mb.real.total"
    );
    assert_eq!(
        o["swap"]["total"], t["swap"]["total"],
        "memory_mb.swap.total"
    );
    let (t, o) = both("python");
    for f in ["major", "minor"] {
        assert_eq!(o["version"][f], t["version"][f], "python.version.{f}");
    }
    let (t, o) = both("date_time");
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(o), keys(t), "date_time keys");
    for f in ["tz", "tz_dst", "tz_offset"] {
        assert_eq!(o[f], t[f], "date_time.{f}");
    }
    let (t, o) = both("mounts");
    assert_eq!(mount_points(o), mount_points(t), "mounts");
}
