//! The command line: options, listing modes, inventory output, ansible.cfg, exit codes, and a
//! table of bad inputs that must each give a one-line error pointing at file:line.

mod common;

use common::{Project, Prov};

const SEED_HOSTS: &str = r#"all:
  children:
    control_plane:
      hosts:
        shanghai-1:
          ansible_host: 192.168.10.102
          node_ip: 192.168.10.102
        shanghai-2:
          ansible_host: 192.168.10.103
          node_ip: 192.168.10.103
        shanghai-3:
          ansible_host: 192.168.10.104
          node_ip: 192.168.10.104
      vars:
        ansible_user: boxp
        ansible_ssh_common_args: '-o ProxyCommand="cloudflared access ssh --hostname %h"'
        ansible_python_interpreter: /usr/bin/python3
        kubernetes_version: "1.32"
    workers:
      hosts:
        golyat-1:
          ansible_host: 192.168.10.101
          node_ip: 192.168.10.101
        golyat-2:
          ansible_host: 192.168.10.105
          node_ip: 192.168.10.105
        golyat-3:
          ansible_host: 192.168.10.106
          node_ip: 192.168.10.106
      vars:
        ansible_user: boxp
        kubernetes_version: "1.32"
        kubernetes_package_version: "1.32.0-1.1"
        network_dns_servers:
          - "8.8.8.8"
          - "8.8.4.4"
"#;

/// A play that never touches a host: only controller-side modules.
const LOCAL_PLAY: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: greet
      debug: {msg: "hello {{ who | default('world') }}"}
      tags: [greet]
    - name: count
      debug: {msg: "n={{ n | default(0) }}"}
      tags: [count]
    - name: secret
      debug: {msg: "only on request"}
      tags: [never, secret]
"#;

#[test]
fn version_and_usage_errors() {
    Prov::new()
        .arg("--version")
        .run()
        .ok()
        .stdout_has(env!("CARGO_PKG_VERSION"));
    // Bad options exit with 5, as ansible-playbook does (not clap's 2).
    Prov::new().args(["apply", "--no-such-flag"]).run().code(5);
    Prov::new()
        .arg("apply")
        .run()
        .code(5)
        .stderr_has("a playbook is required");
    Prov::new()
        .args(["apply", "/nonexistent/site.yml"])
        .run()
        .code(5)
        .stderr_has("does not exist");
    Prov::new()
        .args(["apply", "x.yml", "-c", "telnet"])
        .run()
        .code(5);
}

#[test]
fn listing_modes_and_syntax_check() {
    let p = Project::new()
        .file("inventory/production/hosts.yml", SEED_HOSTS)
        .file("site.yml", "- hosts: workers\n  tasks:\n    - name: one\n      debug: msg=x\n      tags: [ssh, bootstrap]\n    - name: two\n      debug: msg=y\n      tags: users\n");
    Prov::apply(&p, "site.yml")
        .args(["-i", "inventory/production/hosts.yml", "--syntax-check"])
        .run()
        .ok()
        .stdout_has("playbook: site.yml");
    let r = Prov::apply(&p, "site.yml")
        .args([
            "-i",
            "inventory/production/hosts.yml",
            "--list-hosts",
            "--limit",
            "golyat-*:!golyat-2",
        ])
        .run();
    r.ok()
        .stdout_has("hosts (2):")
        .stdout_has("golyat-1")
        .stdout_has("golyat-3");
    assert!(!r.stdout.contains("golyat-2") && !r.stdout.contains("shanghai"));
    Prov::apply(&p, "site.yml")
        .args([
            "-i",
            "inventory/production/hosts.yml",
            "--list-tasks",
            "--tags",
            "users",
        ])
        .run()
        .ok()
        .stdout_has("two\tTAGS: [users]");
    Prov::apply(&p, "site.yml")
        .args(["-i", "inventory/production/hosts.yml", "--list-tags"])
        .run()
        .ok()
        .stdout_has("TASK TAGS: [bootstrap, ssh, users]");
}

#[test]
fn inventory_command_prints_ansible_inventory_json() {
    let p = Project::new().file("hosts.yml", SEED_HOSTS);
    let r = Prov::new()
        .cwd(&p.dir.path)
        .args(["inventory", "-i", "hosts.yml", "--list"])
        .run();
    r.ok();
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        doc["workers"]["hosts"],
        serde_json::json!(["golyat-1", "golyat-2", "golyat-3"])
    );
    assert_eq!(
        doc["_meta"]["hostvars"]["golyat-2"]["node_ip"],
        "192.168.10.105"
    );
    assert_eq!(
        doc["_meta"]["hostvars"]["shanghai-1"]["ansible_ssh_common_args"],
        "-o ProxyCommand=\"cloudflared access ssh --hostname %h\""
    );
    let r = Prov::new()
        .cwd(&p.dir.path)
        .args(["inventory", "-i", "hosts.yml", "--host", "golyat-3"])
        .run();
    let host: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(host["ansible_host"], "192.168.10.106");
    assert_eq!(host["network_dns_servers"][1], "8.8.4.4");
    Prov::new()
        .cwd(&p.dir.path)
        .args(["inventory", "-i", "hosts.yml", "--graph"])
        .run()
        .ok()
        .stdout_has("@all:\n  |@control_plane:\n  |  |--shanghai-1");
}

#[test]
fn ansible_cfg_and_environment_select_the_inventory() {
    let p = Project::new()
        .file(
            "ansible.cfg",
            "[defaults]\ninventory = inventory/production/hosts.yml\nhost_key_checking = False\n",
        )
        .file("inventory/production/hosts.yml", SEED_HOSTS)
        .file(
            "other.ini",
            "[workers]\nnode[01:02] ansible_connection=local\n",
        )
        .file("site.yml", "- hosts: workers\n  tasks: []\n");
    Prov::apply(&p, "site.yml")
        .arg("--list-hosts")
        .run()
        .ok()
        .stdout_has("hosts (3):")
        .stdout_has("golyat-2");
    Prov::apply(&p, "site.yml")
        .arg("--list-hosts")
        .env("ANSIBLE_INVENTORY", "other.ini")
        .run()
        .ok()
        .stdout_has("hosts (2):")
        .stdout_has("node01");
}

#[test]
fn extra_vars_tags_and_json() {
    let p = Project::new()
        .file("site.yml", LOCAL_PLAY)
        .file("vars.yml", "n: 7\n");
    let r = Prov::apply(&p, "site.yml")
        .args(["-e", "who=boxp extra=1", "-e", "@vars.yml"])
        .run();
    r.ok()
        .stdout_has("\"msg\": \"hello boxp\"")
        .stdout_has("\"msg\": \"n=7\"");
    assert!(
        !r.stdout.contains("only on request"),
        "never-tagged tasks run only when asked"
    );
    let r = Prov::apply(&p, "site.yml")
        .args(["-e", r#"{"n": 3}"#, "--tags", "count,secret"])
        .json()
        .run();
    r.ok();
    let doc = r.json();
    let names: Vec<&str> = doc["plays"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["count", "secret"]);
    assert_eq!(r.task("localhost", "count")["result"]["msg"], "n=3");
    assert_eq!(doc["stats"]["localhost"]["ok"], 2);
    let r = Prov::apply(&p, "site.yml")
        .args(["--skip-tags", "greet"])
        .json()
        .run();
    assert_eq!(r.json()["plays"][0]["tasks"].as_array().unwrap().len(), 1);
}

#[test]
fn exit_codes_follow_ansible_playbook() {
    let p = Project::new()
        .file("hosts.ini", "ok1 ansible_connection=local\nbad ansible_connection=local\nfar ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh\n")
        .file("fail.yml", "- hosts: ok1:bad\n  gather_facts: false\n  tasks:\n    - fail: {msg: boom}\n      when: inventory_hostname == 'bad'\n    - debug: msg=after\n")
        .file("far.yml", "- hosts: far\n  gather_facts: false\n  tasks:\n    - ping:\n")
        .file("both.yml", "- hosts: bad:far\n  gather_facts: false\n  tasks:\n    - ping:\n      when: inventory_hostname == 'far'\n    - fail: {msg: boom}\n      when: inventory_hostname == 'bad'\n");
    let r = Prov::apply(&p, "fail.yml")
        .args(["-i", "hosts.ini"])
        .json()
        .run();
    r.code(2);
    // The failing host stops; the other goes on.
    assert_eq!(r.stats("bad")["failed"], 1);
    assert_eq!(r.stats("ok1")["ok"], 1);
    assert_eq!(r.stats("ok1")["skipped"], 1);
    Prov::apply(&p, "far.yml")
        .args(["-i", "hosts.ini"])
        .run()
        .code(4)
        .stdout_has("UNREACHABLE!");
    Prov::apply(&p, "both.yml")
        .args(["-i", "hosts.ini"])
        .run()
        .code(2);
}

#[test]
fn bad_inputs_give_one_line_errors_with_positions() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "yaml.yml",
            "- hosts: all\n  tasks: [\n",
            "yaml.yml:2:10: YAML syntax error: unclosed bracket",
        ),
        (
            "module.yml",
            "- hosts: all\n  tasks:\n    - lineinfle: {path: /x}\n",
            "module.yml:3:7: 'lineinfle' is not a module or task keyword (did you mean 'lineinfile'?)",
        ),
        (
            "keyword.yml",
            "- hosts: all\n  tasks:\n    - debug: msg=x\n      whn: true\n",
            "keyword.yml:4:7: 'whn' is not a module or task keyword (did you mean 'when'?)",
        ),
        (
            "option.yml",
            "- hosts: all\n  tasks:\n    - copy:\n        dest: /x\n        contnet: y\n",
            "option.yml:5:9: unsupported parameter 'contnet' for module 'copy' (did you mean 'content'?)",
        ),
        (
            "nohosts.yml",
            "- name: x\n  tasks: []\n",
            "nohosts.yml:1:3: the play has no 'hosts'",
        ),
        (
            "playkw.yml",
            "- hosts: all\n  taks: []\n",
            "playkw.yml:2:3: 'taks' is not a valid keyword for a play (did you mean 'tasks'?)",
        ),
        (
            "role.yml",
            "- hosts: all\n  roles:\n    - nosuchrole\n",
            "role.yml:3:7: role 'nosuchrole' not found",
        ),
        (
            "import.yml",
            "- hosts: all\n  tasks:\n    - import_tasks: missing.yml\n",
            "import.yml:3:21: could not find imported tasks file 'missing.yml'",
        ),
        (
            "meta.yml",
            "- hosts: all\n  tasks:\n    - meta: flush_handler\n",
            "meta.yml:3:13: unknown meta action 'flush_handler' (did you mean 'flush_handlers'?)",
        ),
        (
            "loopctl.yml",
            "- hosts: all\n  tasks:\n    - debug: var=item\n      loop: [1]\n      loop_control: {lopvar: x}\n",
            "loopctl.yml:5:22: 'lopvar' is not valid in loop_control",
        ),
        (
            "async.yml",
            "- hosts: all\n  tasks:\n    - command: sleep 1\n      async: 10\n",
            "async.yml:4:7: 'async': async tasks are not supported by prov",
        ),
    ];
    for (file, content, expected) in cases {
        let p = Project::new().file(file, content);
        let r = Prov::apply(&p, file).run();
        r.code(5);
        let line = r.stderr.trim();
        assert_eq!(line.lines().count(), 1, "one line for {file}: {line}");
        assert!(
            line.contains(expected),
            "{file}: expected {expected:?} in {line:?}"
        );
    }
    let inventories: &[(&str, &str, &str)] = &[
        (
            "bad.yml",
            "all:\n  hostz:\n    a:\n",
            "bad.yml:2:3: invalid key 'hostz' in group 'all'",
        ),
        (
            "bad.ini",
            "[web]\nweb1 port\n",
            "bad.ini:2:1: expected key=value after the host name",
        ),
        (
            "range.ini",
            "[web]\nweb[1-3]\n",
            "range.ini:2:1: bad host range",
        ),
    ];
    for (file, content, expected) in inventories {
        let p = Project::new()
            .file(file, content)
            .file("site.yml", "- hosts: all\n  tasks: []\n");
        let r = Prov::apply(&p, "site.yml").args(["-i", file]).run();
        r.code(5);
        assert!(r.stderr.trim().contains(expected), "{file}: {}", r.stderr);
    }
    // A broken template fails its task with the template's file and line.
    let p = Project::new()
        .file("templates/bad.j2", "line one\n{% if x %}\nno end\n")
        .file("site.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - template: {src: bad.j2, dest: /tmp/never}\n");
    let r = Prov::apply(&p, "site.yml").run();
    r.code(2).stdout_has("templates/bad.j2:");
}
