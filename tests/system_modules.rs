//! The system modules prov runs natively instead of through Ansible's Python (getent, find,
//! tempfile, service_facts, package_facts, timezone, hostname, wait_for, pamd), against a real
//! Debian root used with `--chroot`: each play converges, a second run changes nothing, check
//! mode predicts exactly what apply does, and where it is cheap the registered results are
//! compared with what ansible-playbook registers for the same play on a root of its own.

mod common;

use common::{Project, Prov, Root, ansible_playbook};
use serde_json::Value;

const HOST: &str = "localhost";

/// ansible-playbook (the fixtures' venv) on `root` through the chroot connection, with the
/// JSON callback: the whole document.
fn ansible(p: &Project, root: &Root, extra: &[&str]) -> Value {
    let inventory = p.path("ansible-inventory.yml");
    std::fs::write(
        &inventory,
        format!(
            "all:\n  hosts:\n    {HOST}:\n      ansible_connection: community.general.chroot\n      ansible_host: {}\n      ansible_python_interpreter: /usr/bin/python3\n",
            root.path.display()
        ),
    )
    .unwrap();
    let bin = ansible_playbook();
    let home = p.path("ansible-home");
    let out = std::process::Command::new(&bin)
        .arg("-i")
        .arg(&inventory)
        .arg("site.yml")
        .args(extra)
        .current_dir(&p.dir.path)
        .env(
            "PATH",
            format!(
                "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                bin.parent().unwrap().display()
            ),
        )
        .env("ANSIBLE_HOME", &home)
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json")
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("running ansible-playbook");
    common::ansible_json::document(&out)
}

/// The result of ansible's last task with this name.
fn ansible_task(doc: &Value, name: &str) -> Value {
    common::ansible_json::task(doc, HOST, name)
}

/// prov on `root` with `--chroot` (JSON output).
fn prov(p: &Project, root: &Root, extra: &[&str]) -> common::Run {
    let r = Prov::apply(p, "site.yml")
        .chroot(root)
        .args(extra)
        .json()
        .run();
    r.ok();
    r
}

/// The variable a `debug: var=NAME` task printed, in prov's run.
fn prov_var(r: &common::Run, task: &str, var: &str) -> Value {
    r.task(HOST, task)["result"][var].clone()
}

/// Its value in ansible's run.
fn ansible_var(doc: &Value, task: &str, var: &str) -> Value {
    ansible_task(doc, task)[var].clone()
}

fn changed(r: &common::Run) -> u64 {
    r.stats(HOST)["changed"].as_u64().unwrap()
}

#[test]
fn getent_sets_the_facts_ansible_sets() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: root
      getent: {database: passwd, key: root}
      register: root_entry
    - name: all groups
      getent: {database: group}
    - name: a hosts file
      copy:
        dest: /etc/hosts
        content: "127.0.0.1 localhost\n10.0.0.1 gw gateway\n10.0.0.1 gw2\n"
    - name: hosts split on white space
      getent: {database: hosts}
      register: hosts
    - name: the facts
      debug:
        msg: "{{ getent_passwd.root[4] }} {{ ansible_facts.getent_group.root[1] }} {{ getent_hosts['10.0.0.1'] | length }}"
    - name: a missing key, tolerated
      getent: {database: group, key: no-such-group, fail_key: false}
      register: missing
    - name: the facts replaced
      debug:
        msg: "{{ getent_group['no-such-group'] is none }} {{ ansible_facts.getent_group | length }}"
    - name: show root
      debug: {var: root_entry}
    - name: show missing
      debug: {var: missing}
    - name: show hosts
      debug: {var: hosts}
    - name: a missing key fails
      getent: {database: passwd, key: no-such-user}
      ignore_errors: true
      register: failing
    - name: show failing
      debug: {var: failing.msg}
"#,
    );
    let root = Root::new();
    let r = prov(&p, &root, &[]);
    assert_eq!(changed(&r), 1);
    assert_eq!(r.task(HOST, "the facts")["result"]["msg"], "/root 0 2");
    assert_eq!(
        r.task(HOST, "the facts replaced")["result"]["msg"],
        "True 1"
    );
    let a = ansible(&p, &Root::new(), &[]);
    for (task, var) in [
        ("show root", "root_entry"),
        ("show missing", "missing"),
        ("show hosts", "hosts"),
        ("show failing", "failing.msg"),
    ] {
        assert_eq!(
            prov_var(&r, task, var),
            ansible_var(&a, task, var),
            "{task}"
        );
    }
    for task in ["the facts", "the facts replaced"] {
        assert_eq!(
            r.task(HOST, task)["result"]["msg"],
            ansible_task(&a, task)["msg"]
        );
    }
    // A second run and check mode read the same and change nothing.
    let c = prov(&p, &root, &["--check"]);
    assert_eq!(changed(&c), 0);
    assert_eq!(
        prov_var(&c, "show root", "root_entry"),
        prov_var(&r, "show root", "root_entry")
    );
}

/// A tree for `find`: `/srv/t` with visible and hidden files and directories, a large file, a
/// private file and a link to a directory.
const FIND_TREE: &str = r#"
    - name: tree
      file: {path: "/srv/t/{{ item }}", state: directory}
      loop: [sub, sub/.hid, empty]
    - name: files
      copy: {dest: "/srv/t/{{ item.0 }}", content: "{{ item.1 }}", mode: "{{ item.2 }}"}
      loop:
        - [a.conf, "a\n", "0644"]
        - [.h.conf, "h\n", "0600"]
        - [b.txt, "{{ 'x' * 3000 }}", "0755"]
        - [sub/c.conf, "c\n", "0600"]
        - [sub/.hid/d.conf, "d\n", "0644"]
    - name: link
      file: {src: sub, dest: /srv/t/lnk, state: link}
"#;

#[test]
fn find_walks_as_ansible_walks() {
    let mut play = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    play.push_str(FIND_TREE);
    let cases: &[(&str, &str)] = &[
        ("top", "{paths: /srv/t}"),
        ("any", "{paths: /srv/t/, recurse: true, file_type: any}"),
        (
            "several",
            "{paths: [/srv/t, /etc/hostname, /nonexistent], patterns: '*.conf', recurse: true, hidden: true}",
        ),
        (
            "regex",
            "{paths: /srv/t, use_regex: true, patterns: ['^[ab]\\.', 'c'], excludes: 'b.*', recurse: true}",
        ),
        (
            "depth",
            "{paths: /srv/t, recurse: true, hidden: true, depth: 1, file_type: directory}",
        ),
        ("size", "{paths: /srv/t, recurse: true, size: 2k}"),
        (
            "mode",
            "{paths: /srv/t, recurse: true, hidden: true, mode: '0600'}",
        ),
        (
            "limit",
            "{paths: /srv/t, recurse: true, hidden: true, limit: 2, excludes: [b.txt]}",
        ),
        ("old", "{paths: /srv/t, recurse: true, age: 1d}"),
        ("links", "{paths: /srv/t, file_type: link}"),
    ];
    for (name, args) in cases {
        play.push_str(&format!(
            "    - name: find {name}\n      find: {args}\n      register: r\n    - name: show {name}\n      debug:\n        msg:\n          paths: \"{{{{ r.files | map(attribute='path') | list }}}}\"\n          matched: \"{{{{ r.matched }}}}\"\n          examined: \"{{{{ r.examined }}}}\"\n          msg: \"{{{{ r.msg }}}}\"\n          skipped: \"{{{{ r.skipped_paths }}}}\"\n          changed: \"{{{{ r.changed }}}}\"\n          first: \"{{{{ r.files[:1] | map('dict2items') | flatten | rejectattr('key', 'in', ['atime', 'mtime', 'ctime', 'inode', 'dev']) | list }}}}\"\n"
        ));
    }
    let p = Project::new().file("site.yml", &play);
    let root = Root::new();
    let r = prov(&p, &root, &[]);
    let a = ansible(&p, &Root::new(), &[]);
    for (name, _) in cases {
        let task = format!("show {name}");
        assert_eq!(
            r.task(HOST, &task)["result"]["msg"],
            ansible_task(&a, &task)["msg"],
            "{task}"
        );
    }
    let shown = |n: &str| r.task(HOST, &format!("show {n}"))["result"]["msg"].clone();
    // Directory order decides the order (as os.walk's): compare the set, and that each
    // directory's files come before its directories and their walks.
    let mut any: Vec<String> = serde_json::from_value(shown("any")["paths"].clone()).unwrap();
    assert_eq!(&any[5..], ["/srv/t/sub/c.conf", "/srv/t/sub/.hid/d.conf"]);
    assert!(["/srv/t/a.conf", "/srv/t/b.txt"].contains(&any[0].as_str()));
    any.sort();
    assert_eq!(
        any,
        [
            "/srv/t/a.conf",
            "/srv/t/b.txt",
            "/srv/t/empty",
            "/srv/t/lnk",
            "/srv/t/sub",
            "/srv/t/sub/.hid/d.conf",
            "/srv/t/sub/c.conf"
        ]
    );
    assert_eq!(
        shown("several")["skipped"]["/nonexistent"],
        "'/nonexistent' is not a directory"
    );
    // Never changed, in check mode too, with the same answers.
    let again = prov(&p, &root, &[]);
    assert_eq!(changed(&again), 0);
    let check = prov(&p, &root, &["--check"]);
    assert_eq!(changed(&check), 0);
    for (name, _) in cases {
        let task = format!("show {name}");
        assert_eq!(
            check.task(HOST, &task)["result"]["msg"],
            again.task(HOST, &task)["result"]["msg"],
            "{task}"
        );
    }
}

/// A result without its `path`, which is random.
fn without_path(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("path");
    v
}

#[test]
fn tempfile_creates_as_ansible_creates_and_is_skipped_in_check_mode() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: a file
      tempfile: {}
      register: t1
    - name: a directory
      tempfile: {state: directory, prefix: x-, suffix: .d, path: /var/tmp/}
      register: t2
    - name: in a missing directory
      tempfile: {path: /nonexistent}
      register: t3
      ignore_errors: true
    - name: show file
      debug: {var: t1}
    - name: show directory
      debug: {var: t2}
    - name: show missing
      debug: {var: t3.msg}
"#,
    );
    let root = Root::new();
    let r = prov(&p, &root, &[]);
    let aroot = Root::new();
    let a = ansible(&p, &aroot, &[]);
    for (task, var) in [("show file", "t1"), ("show directory", "t2")] {
        let (mine, theirs) = (prov_var(&r, task, var), ansible_var(&a, task, var));
        assert_eq!(
            without_path(mine.clone()),
            without_path(theirs.clone()),
            "{task}"
        );
        let path = mine["path"].as_str().unwrap();
        let (dir, name) = path.rsplit_once('/').unwrap();
        let (adir, aname) = theirs["path"].as_str().unwrap().rsplit_once('/').unwrap();
        assert_eq!((dir, name.len()), (adir, aname.len()), "{task}");
        assert!(root.exists(&path[1..]), "{path}");
    }
    let file = prov_var(&r, "show file", "t1")["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(file.starts_with("/tmp/ansible."), "{file}");
    assert_eq!(root.mode(&file[1..]) & 0o7777, 0o600);
    let dir = prov_var(&r, "show directory", "t2")["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        dir.starts_with("/var/tmp/x-") && dir.ends_with(".d"),
        "{dir}"
    );
    assert_eq!(root.mode(&dir[1..]) & 0o7777, 0o700);
    let missing = prov_var(&r, "show missing", "t3.msg");
    let amissing = ansible_var(&a, "show missing", "t3.msg");
    let prefix = "[Errno 2] No such file or directory: '/nonexistent/ansible.";
    assert!(missing.as_str().unwrap().starts_with(prefix), "{missing}");
    assert!(amissing.as_str().unwrap().starts_with(prefix), "{amissing}");
    // Every run makes a new one.
    let again = prov(&p, &root, &[]);
    assert_eq!(changed(&again), 2);
    assert_ne!(prov_var(&again, "show file", "t1")["path"], file.as_str());
    // Check mode: skipped as Ansible skips it, nothing created.
    let before = root.snapshot();
    let check = prov(&p, &root, &["--check"]);
    assert_eq!(changed(&check), 0);
    assert_eq!(before.diff(&root.snapshot()), Vec::<String>::new());
    let acheck = ansible(&p, &aroot, &["--check"]);
    for task in ["a file", "a directory"] {
        assert_eq!(check.task(HOST, task)["status"], "skipped");
        assert_eq!(
            check.task(HOST, task)["msg"],
            ansible_task(&acheck, task)["msg"]
        );
    }
}

#[test]
fn service_facts_in_a_chroot_are_ansibles() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: gather
      service_facts:
      register: sf
    - name: show
      debug: {var: ansible_facts.services}
    - name: plain
      debug: {msg: "{{ services['ssh'].state }} {{ services | length }}"}
    - name: registered
      debug: {msg: "{{ sf.ansible_facts.services == services }}"}
"#,
    );
    let root = Root::new();
    let r = prov(&p, &root, &[]);
    assert_eq!(changed(&r), 0);
    let a = ansible(&p, &Root::new(), &[]);
    let mine = prov_var(&r, "show", "ansible_facts.services");
    assert_eq!(mine, ansible_var(&a, "show", "ansible_facts.services"));
    // The test root's init scripts, by `service --status-all`; no systemd in a chroot.
    assert_eq!(mine["ssh"]["source"], "sysv");
    assert_eq!(mine["ssh"]["state"], "stopped");
    assert!(
        mine.as_object()
            .unwrap()
            .keys()
            .all(|k| !k.ends_with(".service"))
    );
    for task in ["plain", "registered"] {
        assert_eq!(
            r.task(HOST, task)["result"]["msg"],
            ansible_task(&a, task)["msg"]
        );
    }
    let check = prov(&p, &root, &["--check"]);
    assert_eq!(changed(&check), 0);
    assert_eq!(prov_var(&check, "show", "ansible_facts.services"), mine);
}

#[test]
fn package_facts_in_a_chroot_list_dpkgs_packages() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: gather
      package_facts: {manager: auto}
    - name: show
      debug: {var: ansible_facts.packages}
    - name: plain
      debug: {msg: "{{ packages['dpkg'][0].version }} {{ 'no-such-package' in packages }}"}
"#,
    );
    let root = Root::new();
    let r = prov(&p, &root, &[]);
    assert_eq!(changed(&r), 0);
    let dpkg = root.sh("dpkg-query -W -f '${Version}' dpkg");
    let version = String::from_utf8_lossy(&dpkg.stdout).into_owned();
    assert!(!version.is_empty());
    assert_eq!(
        r.task(HOST, "plain")["result"]["msg"],
        format!("{version} False")
    );
    let all = prov_var(&r, "show", "ansible_facts.packages");
    let listed = root.sh("dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n' | grep -c '^ii'");
    let installed: usize = String::from_utf8_lossy(&listed.stdout)
        .trim()
        .parse()
        .unwrap();
    assert_eq!(all.as_object().unwrap().len(), installed);
    let bash = &all["bash"][0];
    assert_eq!(bash["source"], "apt");
    assert_eq!(bash["category"], "shells");
    // The test root has no apt lists: no origin.
    assert_eq!(bash["origin"], "");
    let check = prov(&p, &root, &["--check"]);
    assert_eq!(changed(&check), 0);
    assert_eq!(prov_var(&check, "show", "ansible_facts.packages"), all);
}

/// On this machine, where python3-apt lets Ansible's module answer (the test root has no
/// python3-apt: there Ansible fails), the facts are Ansible's, origins and archive sections
/// included.
#[test]
fn package_facts_on_this_machine_are_ansibles() {
    let apt = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import apt"])
        .status();
    if !apt.is_ok_and(|s| s.success()) {
        eprintln!("skipped: /usr/bin/python3 has no python3-apt for Ansible's module");
        return;
    }
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: gather
      package_facts:
    - name: show
      debug: {var: ansible_facts.packages}
"#,
    );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "localhost,", "-c", "local"])
        .json()
        .run();
    r.ok();
    let bin = ansible_playbook();
    let out = std::process::Command::new(&bin)
        .args(["-i", "localhost,", "-c", "local", "-e"])
        .arg("ansible_python_interpreter=/usr/bin/python3")
        .arg("site.yml")
        .current_dir(&p.dir.path)
        .env("ANSIBLE_HOME", p.path("ansible-home"))
        .env("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json")
        .output()
        .unwrap();
    let a = common::ansible_json::document(&out);
    let theirs = ansible_var(&a, "show", "ansible_facts.packages");
    let mine = prov_var(&r, "show", "ansible_facts.packages");
    assert!(theirs.as_object().unwrap().len() > 10);
    assert_eq!(mine, theirs);
}

#[test]
fn timezone_in_a_chroot_as_ansible_sets_it() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: zone
      community.general.timezone: {name: Europe/Paris}
      register: tz
    - name: show
      debug: {msg: "{{ tz.changed }} {{ tz.msg | default('') }}"}
    - name: hardware clock
      timezone: {hwclock: local}
      tags: [hw]
"#,
    );
    let root = Root::new();
    let before = root.snapshot();
    let check = prov(&p, &root, &["--check", "--diff"]);
    assert_eq!(before.diff(&root.snapshot()), Vec::<String>::new());
    let predicted = check.tasks_with(HOST, "changed");
    assert_eq!(predicted, ["zone"]);
    let diff = &check.task(HOST, "zone")["diff"][0];
    assert_eq!(diff["before"], "{\n    \"name\": \"Etc/UTC\"\n}\n");
    assert_eq!(diff["after"], "{\n    \"name\": \"Europe/Paris\"\n}\n");

    let r = prov(&p, &root, &[]);
    assert_eq!(r.tasks_with(HOST, "changed"), predicted);
    assert_eq!(root.read("etc/timezone"), "Europe/Paris\n");
    assert_eq!(
        std::fs::read_link(root.file("etc/localtime")).unwrap(),
        std::path::Path::new("/usr/share/zoneinfo/Europe/Paris")
    );
    // The hardware clock is the build machine's: skipped, said so.
    assert_eq!(r.task(HOST, "hardware clock")["status"], "skipped");
    assert_eq!(r.task(HOST, "hardware clock")["msg"], "skipped (chroot)");

    let aroot = Root::new();
    // Not Ansible's hwclock task: in a chroot it would set this machine's hardware clock.
    let acheck = ansible(&p, &aroot, &["--check", "--diff", "--skip-tags", "hw"]);
    assert_eq!(
        ansible_task(&acheck, "zone")["diff"]["before"]["name"],
        "Etc/UTC"
    );
    let a = ansible(&p, &aroot, &["--skip-tags", "hw"]);
    assert_eq!(
        r.task(HOST, "show")["result"]["msg"],
        ansible_task(&a, "show")["msg"]
    );
    assert_eq!(aroot.read("etc/timezone"), root.read("etc/timezone"));
    assert_eq!(
        std::fs::read_link(aroot.file("etc/localtime")).unwrap(),
        std::fs::read_link(root.file("etc/localtime")).unwrap()
    );

    let again = prov(&p, &root, &["--diff"]);
    assert_eq!(changed(&again), 0);
    assert_eq!(again.task(HOST, "show")["result"]["msg"], "False ");
}

#[test]
fn hostname_in_a_chroot_as_ansible_sets_it() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: name
      hostname: {name: web1.example.org}
      register: hn
    - name: show
      debug: {msg: "{{ hn.name }} {{ ansible_hostname }} {{ ansible_nodename }} {{ ansible_fqdn }} {{ ansible_domain }}"}
"#,
    );
    let root = Root::new();
    let before = root.snapshot();
    let check = prov(&p, &root, &["--check", "--diff"]);
    assert_eq!(before.diff(&root.snapshot()), Vec::<String>::new());
    assert_eq!(check.tasks_with(HOST, "changed"), ["name"]);
    let diff = &check.task(HOST, "name")["diff"][0];
    let old = root.read("etc/hostname");
    assert_eq!(diff["before"], format!("hostname = {}\n", old.trim()));
    assert_eq!(diff["after"], "hostname = web1.example.org\n");

    let r = prov(&p, &root, &[]);
    assert_eq!(r.tasks_with(HOST, "changed"), ["name"]);
    assert_eq!(root.read("etc/hostname"), "web1.example.org\n");
    let aroot = Root::new();
    let a = ansible(&p, &aroot, &["--diff"]);
    assert_eq!(aroot.read("etc/hostname"), "web1.example.org\n");
    assert_eq!(
        r.task(HOST, "show")["result"]["msg"],
        ansible_task(&a, "show")["msg"]
    );
    assert_eq!(ansible_task(&a, "name")["diff"]["before"], diff["before"]);
    let again = prov(&p, &root, &[]);
    assert_eq!(changed(&again), 0);

    // use: systemd in a chroot: the file, and the live name said skipped.
    let p = Project::new().file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: name\n      hostname: {name: db1, use: systemd}\n",
    );
    let r = prov(&p, &root, &[]);
    assert_eq!(root.read("etc/hostname"), "db1\n");
    assert_eq!(r.task(HOST, "name")["result"]["live"], "skipped (chroot)");
}

/// A PAM file with its `# Updated by Ansible - <time>` mark's time taken out.
fn pam_file(root: &Root, name: &str) -> String {
    root.read(&format!("etc/pam.d/{name}"))
        .lines()
        .map(|l| match l.strip_prefix("# Updated by Ansible - ") {
            Some(_) => "# Updated by Ansible - TIME",
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn pamd_in_a_chroot_edits_as_ansible_edits() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: password history
      community.general.pamd:
        name: common-password
        type: password
        control: "[success=1 default=ignore]"
        module_path: pam_unix.so
        state: args_present
        module_arguments: [remember=5, use_authtok]
      register: history
    - name: faillock before unix
      pamd:
        name: common-auth
        type: auth
        control: "[success=1 default=ignore]"
        module_path: pam_unix.so
        state: before
        new_type: auth
        new_control: required
        new_module_path: pam_faillock.so
        module_arguments: preauth
    - name: faillock after deny
      pamd:
        name: common-auth
        type: auth
        control: requisite
        module_path: pam_deny.so
        state: after
        new_type: auth
        new_control: "[default=die]"
        new_module_path: pam_faillock.so
        module_arguments: authfail
    - name: longer delay
      pamd: {name: login, type: auth, control: optional, module_path: pam_faildelay.so, module_arguments: delay=4000000}
      register: delay
    - name: no revoke
      pamd: {name: login, type: session, control: optional, module_path: pam_keyinit.so, state: args_absent, module_arguments: revoke}
    - name: no group
      pamd: {name: login, type: auth, control: optional, module_path: pam_group.so, state: absent, backup: true}
      register: nogroup
    - name: selinux control
      pamd:
        name: login
        type: session
        control: "[success=ok ignore=ignore module_unknown=ignore default=bad]"
        module_path: pam_selinux.so
        new_control: "[success=ok ignore=ignore module_unknown=ignore default=die]"
    - name: no such rule
      pamd: {name: su, type: auth, control: required, module_path: pam_nothere.so, new_control: optional}
"#,
    );
    let edited = [
        "password history",
        "faillock before unix",
        "faillock after deny",
        "longer delay",
        "no revoke",
        "no group",
        "selinux control",
    ];
    let root = Root::new();
    let before = root.snapshot();
    let check = prov(&p, &root, &["--check", "--diff"]);
    assert_eq!(before.diff(&root.snapshot()), Vec::<String>::new());
    assert_eq!(check.tasks_with(HOST, "changed"), edited);
    let diff = &check.task(HOST, "longer delay")["diff"][0];
    assert_eq!(diff["before"], root.read("etc/pam.d/login"));
    assert!(
        diff["after"]
            .as_str()
            .unwrap()
            .contains("\nauth       optional pam_faildelay.so delay=4000000\n")
    );

    let r = prov(&p, &root, &[]);
    assert_eq!(r.tasks_with(HOST, "changed"), edited);
    let aroot = Root::new();
    let a = ansible(&p, &aroot, &[]);
    for name in ["common-password", "common-auth", "login", "su"] {
        assert_eq!(pam_file(&root, name), pam_file(&aroot, name), "{name}");
    }
    assert!(root.read("etc/pam.d/common-auth").contains(
        "auth       required pam_faillock.so preauth\nauth       [success=1 default=ignore] pam_unix.so nullok\n"
    ));
    for task in ["password history", "longer delay", "no such rule"] {
        let mine = &r.task(HOST, task);
        let theirs = ansible_task(&a, task);
        assert_eq!(mine["status"] == "changed", theirs["changed"], "{task}");
        assert_eq!(
            mine["result"]["change_count"], theirs["change_count"],
            "{task}"
        );
    }
    // The backup holds the file as it was.
    let backup = r.task(HOST, "no group")["result"]["backupdest"].clone();
    let backup = backup.as_str().unwrap();
    assert!(backup.starts_with("/etc/pam.d/login."), "{backup}");
    assert!(root.read(backup).contains("pam_keyinit.so force\n"));
    assert!(
        !ansible_task(&a, "no group")["backupdest"]
            .as_str()
            .unwrap()
            .is_empty()
    );

    let again = prov(&p, &root, &[]);
    assert_eq!(changed(&again), 0);
}
