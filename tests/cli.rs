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
    // A command line that does not parse exits 2, as ansible-playbook's argparse does.
    Prov::new().args(["apply", "--no-such-flag"]).run().code(2);
    // No playbook: argparse's "the following arguments are required" (exit 2).
    Prov::new()
        .arg("apply")
        .run()
        .code(2)
        .stderr_has("the following required arguments were not provided");
    Prov::new()
        .args(["apply", "/nonexistent/site.yml"])
        .run()
        .code(1)
        .stderr_has("the playbook: /nonexistent/site.yml could not be found");
    let p = Project::new().file("x.yml", "- hosts: all\n  tasks: []\n");
    Prov::apply(&p, "x.yml")
        .args(["-c", "telnet"])
        .run()
        .code(5)
        .stderr_has("--connection telnet");
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
fn bad_inputs_give_errors_with_positions_and_the_line_under_a_caret() {
    // (file, content, message, exit code: 4 for what does not parse, 1 for what is missing).
    let cases: &[(&str, &str, &str, i32)] = &[
        (
            "yaml.yml",
            "- hosts: all\n  tasks: [\n",
            "yaml.yml:2:10: YAML syntax error: unclosed bracket",
            4,
        ),
        (
            "module.yml",
            "- hosts: all\n  tasks:\n    - lineinfle: {path: /x}\n",
            "module.yml:3:7: 'lineinfle' is not a module or task keyword (did you mean 'lineinfile'?)",
            4,
        ),
        (
            "keyword.yml",
            "- hosts: all\n  tasks:\n    - debug: msg=x\n      whn: true\n",
            "keyword.yml:4:7: 'whn' is not a module or task keyword (did you mean 'when'?)",
            4,
        ),
        (
            "option.yml",
            "- hosts: all\n  tasks:\n    - copy:\n        dest: /x\n        contnet: y\n",
            "option.yml:5:9: unsupported parameter 'contnet' for module 'copy' (did you mean 'content'?)",
            4,
        ),
        (
            "nohosts.yml",
            "- name: x\n  tasks: []\n",
            "nohosts.yml:1:3: the play has no 'hosts'",
            4,
        ),
        (
            "playkw.yml",
            "- hosts: all\n  taks: []\n",
            "playkw.yml:2:3: 'taks' is not a valid keyword for a play (did you mean 'tasks'?)",
            4,
        ),
        (
            "role.yml",
            "- hosts: all\n  roles:\n    - nosuchrole\n",
            "role.yml:3:7: role 'nosuchrole' not found",
            1,
        ),
        (
            "import.yml",
            "- hosts: all\n  tasks:\n    - import_tasks: missing.yml\n",
            "import.yml:3:21: could not find imported tasks file 'missing.yml'",
            1,
        ),
        (
            "meta.yml",
            "- hosts: all\n  tasks:\n    - meta: flush_handler\n",
            "meta.yml:3:13: unknown meta action 'flush_handler' (did you mean 'flush_handlers'?)",
            4,
        ),
        (
            "loopctl.yml",
            "- hosts: all\n  tasks:\n    - debug: var=item\n      loop: [1]\n      loop_control: {lopvar: x}\n",
            "loopctl.yml:5:22: 'lopvar' is not valid in loop_control",
            4,
        ),
        (
            "async.yml",
            "- hosts: all\n  tasks:\n    - command: sleep 1\n      async: 10\n",
            "async.yml:4:7: 'async': async tasks are not supported by prov",
            4,
        ),
    ];
    for (file, content, expected, code) in cases {
        let p = Project::new().file(file, content);
        let r = Prov::apply(&p, file).run();
        r.code(*code);
        // `ERROR: FILE:LINE:COL: message`, then the line with a caret under the column:
        //   |
        // 3 |     - lineinfle: {path: /x}
        //   |       ^
        let lines: Vec<&str> = r.stderr.trim_end().lines().collect();
        assert_eq!(lines.len(), 4, "{file}: {}", r.stderr);
        assert!(
            lines[0].contains(expected),
            "{file}: expected {expected:?} in {:?}",
            lines[0]
        );
        let at: Vec<usize> = expected
            .split(':')
            .skip(1)
            .take(2)
            .map(|n| n.parse().unwrap())
            .collect();
        let (line, col) = (at[0], at[1]);
        let source = content.lines().nth(line - 1).unwrap();
        let gutter = line.to_string().len();
        assert_eq!(lines[1], format!("{} |", " ".repeat(gutter)), "{file}");
        assert_eq!(lines[2], format!("{line} | {source}"), "{file}");
        assert_eq!(
            lines[3],
            format!("{} | {}^", " ".repeat(gutter), " ".repeat(col - 1)),
            "{file}"
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
        // An inventory that does not parse: Ansible's "No inventory was parsed" (exit 1).
        r.code(1);
        assert!(r.stderr.trim().contains(expected), "{file}: {}", r.stderr);
    }
    // A broken template fails its task with the template's file and line.
    let p = Project::new()
        .file("templates/bad.j2", "line one\n{% if x %}\nno end\n")
        .file("site.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - template: {src: bad.j2, dest: /tmp/never}\n");
    let r = Prov::apply(&p, "site.yml").run();
    r.code(2).stdout_has("templates/bad.j2:");
}

// Hostile input: every case ends with an error (or a warning) instead of a crash or a hang.

#[test]
fn tasks_files_that_import_themselves_are_errors_with_the_chain() {
    let p = Project::new()
        .file(
            "site.yml",
            "- hosts: all\n  tasks:\n    - import_tasks: a.yml\n",
        )
        .file("a.yml", "- debug: msg=a\n- import_tasks: b.yml\n")
        .file("b.yml", "- import_tasks: a.yml\n");
    let r = Prov::apply(&p, "site.yml").arg("--syntax-check").run();
    r.code(4).stderr_has(
        "b.yml:1:17: tasks file a.yml imports itself: site.yml -> a.yml -> b.yml -> a.yml",
    );
    assert!(!r.stderr.contains("overflow"), "{}", r.stderr);
}

#[test]
fn tasks_files_that_include_themselves_fail_the_host_after_64_levels() {
    let p = Project::new()
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - include_tasks: again.yml\n",
        )
        .file("again.yml", "- include_tasks: again.yml\n");
    let r = Prov::apply(&p, "site.yml").run();
    r.code(2)
        .stdout_has("again.yml:1:3: includes nested more than 64 levels deep");
}

#[test]
fn inventory_group_cycles_are_errors_with_the_chain() {
    let p = Project::new()
        .file("hosts", "[a:children]\nb\n[b:children]\na\n[b]\nh1\n")
        .file(
            "hosts.yml",
            "a:\n  children:\n    b:\nb:\n  children:\n    a:\n",
        );
    for (file, flag, at) in [
        ("hosts", "--graph", "hosts:4:1"),
        ("hosts.yml", "--list", "hosts.yml:6:5"),
    ] {
        Prov::new()
            .cwd(&p.dir.path)
            .args(["inventory", "-i", file, flag])
            .run()
            .code(1)
            .stderr_has(&format!(
                "{at}: group 'a' is a child of itself: a -> b -> a"
            ));
    }
}

#[test]
fn duplicate_keys_warn_once_as_ansible_does() {
    let p = Project::new().file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: first\n      name: second\n      debug: msg=x\n",
    );
    let r = Prov::apply(&p, "site.yml").run();
    r.ok().stdout_has("second");
    let warning = "[WARNING]: While constructing a mapping from site.yml, line 4, column 7, found a duplicate dict key (name). Using last defined value only.";
    assert_eq!(r.stderr.matches(warning).count(), 1, "{}", r.stderr);
}

#[test]
fn a_yaml_inventory_group_written_twice_keeps_every_host() {
    let p = Project::new().file(
        "hosts.yml",
        "all:\n  children:\n    web:\n      hosts: {w1: }\n    web:\n      hosts: {w2: }\n",
    );
    let r = Prov::new()
        .cwd(&p.dir.path)
        .args(["inventory", "-i", "hosts.yml", "--list"])
        .run();
    r.ok()
        .stderr_has("found a duplicate dict key (web). Merging both definitions");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["web"]["hosts"], serde_json::json!(["w1", "w2"]));
}

#[test]
fn invalid_utf8_is_reported_at_the_bad_byte() {
    let p = Project::new().file("site.yml", "- hosts: all\n  tasks: []\n");
    std::fs::write(p.path("hosts.yml"), b"all:\n  hosts:\n    h\xe9llo:\n").unwrap();
    Prov::apply(&p, "site.yml")
        .args(["-i", "hosts.yml"])
        .run()
        .code(1)
        .stderr_has("hosts.yml:3:6: invalid UTF-8 (byte 0xe9)");
}

#[test]
fn yaml_alias_bombs_fail_fast() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(", ");
        bomb.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    let p = Project::new()
        .file("hosts.yml", &format!("all:\n  vars:\n{}", indent(&bomb)))
        .file("site.yml", "- hosts: all\n  tasks: []\n");
    Prov::apply(&p, "site.yml")
        .args(["-i", "hosts.yml"])
        .run()
        .code(1)
        .stderr_has("hosts.yml:9:")
        .stderr_has("alias *f (anchor &f at hosts.yml:8:");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

#[test]
fn the_timeout_keyword_stops_a_template_that_would_run_for_hours() {
    let spin =
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done\n";
    let p = Project::new()
        .file("templates/spin.j2", spin)
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: spin\n      template: {src: spin.j2, dest: \"{{ playbook_dir }}/out\"}\n      timeout: 2\n",
        );
    let start = std::time::Instant::now();
    let r = Prov::apply(&p, "site.yml").run();
    r.code(2).stdout_has("spin.j2:1:").stdout_has(
        "The template action failed to execute in the expected time frame (2) and was terminated",
    );
    assert!(start.elapsed().as_secs() < 30, "took {:?}", start.elapsed());
}

/// A `--limit` that selects none of the inventory's hosts is ansible-playbook's error, exit 1,
/// before anything runs or is listed (checked with the fixtures' ansible-playbook 2.19:
/// `--limit nosuchhost` and `--limit localhost` with a listed host both give "Specified
/// inventory, host pattern and/or --limit leaves us with no hosts to target." and rc 1; with an
/// empty inventory, rc 0). A play whose own pattern matches nothing stays a skip.
#[test]
fn a_limit_that_selects_no_host_is_an_error() {
    let p = Project::new()
        .file("hosts.ini", "[web]\nw1 ansible_connection=local\n")
        .file("empty.ini", "")
        .file(
            "site.yml",
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: one\n      debug: {msg: ran}\n",
        );
    let msg = "Specified inventory, host pattern and/or --limit leaves us with no hosts to target.";
    for limit in ["nosuchhost", "localhost"] {
        for extra in [&[][..], &["--list-hosts"][..]] {
            let r = Prov::apply(&p, "site.yml")
                .args(["-i", "hosts.ini", "--limit", limit])
                .args(extra)
                .run();
            r.code(1).stderr_has(msg);
            assert!(!r.stdout.contains("ran"), "{}", r.stdout);
        }
    }
    // The limit selects a host; the play's own pattern (localhost) matches nothing: a skip.
    Prov::apply(&p, "site.yml")
        .args(["-i", "hosts.ini", "--limit", "w1"])
        .run()
        .ok()
        .stdout_has("skipping: no hosts matched");
    // No listed hosts at all: only the implicit localhost, no error.
    Prov::apply(&p, "site.yml")
        .args(["-i", "empty.ini", "--limit", "nosuchhost"])
        .run()
        .code(0);
}

/// `prov check` is `apply --check --diff`: its help does not offer -C/-D, which it implies,
/// yet accepts them (habits from ansible-playbook); `prov apply --help` still lists both.
#[test]
fn check_help_does_not_list_the_flags_it_implies() {
    let check = Prov::new().args(["check", "--help"]).run();
    check.ok().stdout_has("--limit").stdout_has("--chroot");
    for flag in ["-C, --check", "-D, --diff"] {
        assert!(!check.stdout.contains(flag), "{flag}:\n{}", check.stdout);
        Prov::new()
            .args(["apply", "--help"])
            .run()
            .ok()
            .stdout_has(flag);
    }
    let p = Project::new().file("site.yml", LOCAL_PLAY);
    Prov::new()
        .cwd(&p.dir.path)
        .args(["check", "site.yml", "-C", "-D", "--syntax-check"])
        .run()
        .ok();
}

/// `prov inventory --help` says what -i takes.
#[test]
fn inventory_help_describes_the_inventory_flag() {
    let r = Prov::new().args(["inventory", "--help"]).run();
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("-i, --inventory"))
        .unwrap_or_else(|| panic!("no -i line:\n{}", r.stdout));
    assert!(
        line.contains("Inventory file, directory or comma-separated host list"),
        "{line}"
    );
}

fn program_on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// `prov completions SHELL`: scripts generated from the command-line definitions. The bash
/// one is valid bash and completes subcommands and a subcommand's flags when sourced.
#[test]
fn completions_are_generated_for_bash_zsh_and_fish() {
    let dir = common::TempDir::new("completions");
    let bash = Prov::new().args(["completions", "bash"]).run();
    bash.ok()
        .stdout_has("complete -F _prov")
        .stdout_has("--limit")
        .stdout_has("--chroot")
        .stdout_has("--extra-vars");
    let script = dir.path.join("prov.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(syntax.status.success(), "{syntax:?}");
    // What bash offers after `prov ap<TAB>` and `prov check --li<TAB>`.
    let complete = |words: &str, cword: usize, cur: &str, prev: &str| {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}'; COMP_WORDS=({words}); COMP_CWORD={cword}; _prov prov {cur} {prev}; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .output()
            .expect("bash");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("prov ap", 1, "ap", "prov"), "apply\n");
    let flags = complete("prov check --li", 2, "--li", "check");
    assert_eq!(
        flags.lines().collect::<Vec<_>>(),
        ["--limit", "--list-hosts", "--list-tasks", "--list-tags"]
    );
    for shell in ["zsh", "fish"] {
        let r = Prov::new().args(["completions", shell]).run();
        r.ok().stdout_has("prov").stdout_has("inventory");
        for flag in ["limit", "chroot", "extra-vars", "host-key-checking"] {
            r.stdout_has(flag);
        }
        // Checked by the shell itself where it is installed.
        if program_on_path(shell) {
            let file = dir.path.join(format!("prov.{shell}"));
            std::fs::write(&file, &r.stdout).unwrap();
            let out = std::process::Command::new(shell)
                .arg("-n")
                .arg(&file)
                .output()
                .unwrap();
            assert!(out.status.success(), "{shell}: {out:?}");
        }
    }
    // A shell clap does not know: a command-line error, exit 2 as argparse.
    Prov::new().args(["completions", "tcsh"]).run().code(2);
}

/// `prov man` prints prov(1); `prov man --dir DIR` writes one page per command. The pages
/// render with groff without a warning, and with man where it is installed.
#[test]
fn man_pages_are_generated_and_render() {
    let top = Prov::new().args(["man"]).run();
    top.ok()
        .stdout_has(".TH PROV 1")
        .stdout_has(r"prov\-apply(1)")
        .stdout_has(r"prov\-image(1)");
    let dir = common::TempDir::new("man");
    let out = dir.path.join("man1");
    let r = Prov::new().arg("man").arg("--dir").arg(&out).run();
    r.ok();
    let mut written: Vec<String> = r.stdout.lines().map(str::to_string).collect();
    written.sort();
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    assert_eq!(
        written, files,
        "printed paths are the files, and no temporary is left"
    );
    let page = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    assert_eq!(page("prov.1"), top.stdout);
    let apply = page("prov-apply.1");
    assert!(apply.contains(".TH PROV-APPLY 1"), "{apply}");
    for flag in [
        r"\-\-limit",
        r"\-\-chroot",
        r"\-\-check",
        r"\-\-extra\-vars",
    ] {
        assert!(apply.contains(flag), "prov-apply.1 lacks {flag}");
    }
    let check = page("prov-check.1");
    assert!(check.contains(r"\-\-limit") && !check.contains(r"\fB\-\-check\fR"));
    assert!(page("prov-image-build.1").contains(r"\-\-node"));
    for file in &files {
        // -k: the pages are UTF-8 (preconv); -ww: all warnings; -z: no output.
        let groff = std::process::Command::new("groff")
            .args(["-k", "-man", "-Tutf8", "-ww", "-z", file])
            .output()
            .expect("groff (groff-base; .ci/setup installs it)");
        assert!(
            groff.status.success() && groff.stderr.is_empty(),
            "{file}: {}",
            String::from_utf8_lossy(&groff.stderr)
        );
    }
    if program_on_path("man") {
        let shown = std::process::Command::new("man")
            .arg("-l")
            .arg(out.join("prov-apply.1"))
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(shown.status.success(), "{shown:?}");
        assert!(text.starts_with("PROV-APPLY(1)"), "{text}");
        assert!(text.contains("-l, --limit <LIMIT>"), "{text}");
    }
}

/// The README's quick start: its inventory (the `my-hosts.yml` heredoc) is one host reached
/// over SSH as its login user with sudo, and the example playbook it dry-runs lists that
/// host.
#[test]
fn the_readme_quick_start_inventory_is_one_ssh_host_with_become() {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    let (_, rest) = readme
        .split_once("cat > my-hosts.yml <<'EOF'\n")
        .expect("the quick start's inventory");
    let (inventory, _) = rest.split_once("\nEOF\n").unwrap();
    let p = Project::new().file("my-hosts.yml", inventory);
    let host = Prov::new()
        .cwd(&p.dir.path)
        .args(["inventory", "-i", "my-hosts.yml", "--host", "myhost"])
        .run();
    let vars: serde_json::Value = serde_json::from_str(&host.ok().stdout).unwrap();
    assert_eq!(vars["ansible_user"], "admin", "{vars}");
    assert_eq!(vars["ansible_become"], true, "{vars}");
    assert!(vars["ansible_host"].is_string(), "{vars}");
    let site = common::repo_root().join("examples/site.yml");
    let r = Prov::new()
        .cwd(&p.dir.path)
        .arg("check")
        .arg(&site)
        .args(["-i", "my-hosts.yml", "--list-hosts"])
        .run();
    r.ok().stdout_has("myhost");
}

/// After Ctrl-C no new work starts, notified handlers included (ansible-playbook stops at once
/// with "User interrupted execution" and runs none).
#[test]
fn an_interrupted_run_runs_no_handler() {
    let p = Project::new().file(
        "pb.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - copy: {dest: \"{{ playbook_dir }}/started\", content: x}\n      notify: mark\n    - command: sleep 30\n  handlers:\n    - name: mark\n      copy: {dest: \"{{ playbook_dir }}/handled\", content: x}\n",
    );
    let run = Prov::apply(&p, "pb.yml").spawn();
    common::wait_until(60, "the first task", || p.path("started").exists());
    std::thread::sleep(std::time::Duration::from_millis(500));
    run.interrupt();
    let done = run.finish();
    done.code(99);
    assert!(done.stdout.contains("Interrupted"), "{}", done.stdout);
    assert!(!p.path("handled").exists(), "{}", done.stdout);
    assert!(!done.stdout.contains("RUNNING HANDLER"), "{}", done.stdout);
}
