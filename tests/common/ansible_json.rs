//! Reading ansible-playbook's runs made with the `ansible.posix.json` callback: the document
//! (after any warnings Ansible prints before it) and one task's result on one host.

use std::process::Output;

use serde_json::Value;

/// The JSON document of a run; panics with Ansible's output when there is none.
pub fn document(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let start = stdout.find("\n{").map_or(0, |i| i + 1);
    serde_json::from_str(&stdout[start..]).unwrap_or_else(|e| {
        panic!(
            "ansible-playbook's output is not JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The result on `host` of the last task named `name`, in any play.
pub fn task(doc: &Value, host: &str, name: &str) -> Value {
    let mut found = Value::Null;
    for play in doc["plays"].as_array().into_iter().flatten() {
        for t in play["tasks"].as_array().into_iter().flatten() {
            if t["task"]["name"] == name {
                found = t["hosts"][host].clone();
            }
        }
    }
    assert!(
        !found.is_null(),
        "no task {name:?} in ansible's run:\n{doc}"
    );
    found
}
