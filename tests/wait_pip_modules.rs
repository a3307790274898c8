//! `wait_for` and `pip`, run natively through the local connection on this machine (only
//! temporary directories and listeners on 127.0.0.1), side by side with ansible-playbook on the
//! same play: the registered results must be Ansible's, check mode must tell what apply does,
//! and an interrupted or killed prov must leave no waiting loop behind.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use common::{Project, Prov, TempDir, ansible_playbook, wait_until};
use serde_json::Value;

const HOST: &str = "localhost";

fn inventory(p: &Project) -> std::path::PathBuf {
    let path = p.path("hosts.ini");
    std::fs::write(
        &path,
        "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
    )
    .unwrap();
    path
}

/// ansible-playbook (the fixtures' venv) on this machine through the local connection, with
/// the JSON callback: the whole document.
fn ansible(p: &Project, extra: &[&str]) -> Value {
    let bin = ansible_playbook();
    let home = p.path("ansible-home");
    let out = std::process::Command::new(&bin)
        .arg("-i")
        .arg(inventory(p))
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
        .env_remove("PIP_FIND_LINKS")
        .output()
        .expect("running ansible-playbook");
    common::ansible_json::document(&out)
}

/// The result of ansible's last task with this name.
fn ansible_task(doc: &Value, name: &str) -> Value {
    common::ansible_json::task(doc, HOST, name)
}

fn prov(p: &Project, extra: &[&str]) -> common::Run {
    let r = Prov::apply(p, "site.yml")
        .arg("-i")
        .arg(inventory(p))
        .args(extra)
        .env_remove("PIP_FIND_LINKS")
        .json()
        .run();
    r.ok();
    r
}

/// What `debug: var=NAME` printed in each engine's run.
fn prov_var(r: &common::Run, task: &str, var: &str) -> Value {
    r.task(HOST, task)["result"][var].clone()
}

fn ansible_var(doc: &Value, task: &str, var: &str) -> Value {
    ansible_task(doc, task)[var].clone()
}

/// A port nothing listens on (bound, then let go).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Write `content` to `path` after `ms` milliseconds (a service coming up).
fn write_later(path: &Path, ms: u64, content: &'static str) -> std::thread::JoinHandle<()> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        std::fs::write(&path, content).unwrap();
    })
}

fn wait_for_play(port: u16, closed: u16, dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: the port is open
      wait_for: {{port: {port}, timeout: 10}}
      register: open
    - name: nothing listens there
      wait_for: {{port: {closed}, state: stopped, timeout: 10}}
      register: stopped
    - name: the port never opens
      wait_for: {{port: {closed}, timeout: 2}}
      register: never
      ignore_errors: true
    - name: a custom message
      wait_for: {{port: {closed}, timeout: 1, msg: "no service on {closed}"}}
      register: custom
      ignore_errors: true
    - name: the log says ready
      wait_for:
        path: {d}/app.log
        search_regex: 'ready on port (?P<port>\d+)( tls)?'
        timeout: 20
      register: log
    - name: the lock goes away
      wait_for: {{path: {d}/missing.lock, state: absent, timeout: 5}}
      register: lock
    - name: port and path together
      wait_for: {{port: {port}, path: {d}/app.log}}
      register: both
      ignore_errors: true
    - name: show open
      debug: {{var: open}}
    - name: show stopped
      debug: {{var: stopped}}
    - name: show never
      debug: {{var: never}}
    - name: show custom
      debug: {{var: custom}}
    - name: show log
      debug: {{var: log}}
    - name: show lock
      debug: {{var: lock}}
    - name: show both
      debug: {{var: both}}
"#
    )
}

const KEYS: &[&str] = &[
    "state",
    "port",
    "path",
    "search_regex",
    "match_groups",
    "match_groupdict",
    "changed",
    "failed",
    "msg",
    "uid",
    "gid",
    "owner",
    "group",
    "mode",
    "size",
];

#[test]
fn wait_for_registers_what_ansible_registers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let closed = free_port();
    let dir = TempDir::new("wait-for");
    let p = Project::new().file("site.yml", &wait_for_play(port, closed, &dir.path));
    let log = dir.path.join("app.log");

    let writer = write_later(&log, 1500, "starting\nready on port 8443\n");
    let started = std::time::Instant::now();
    let r = prov(&p, &[]);
    writer.join().unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the timeouts were waited"
    );
    assert_eq!(
        r.task_msg(HOST, "the port never opens"),
        format!("Timeout when waiting for 127.0.0.1:{closed}")
    );
    assert_eq!(
        r.task_msg(HOST, "a custom message"),
        format!("no service on {closed}")
    );
    assert_eq!(r.stats(HOST)["changed"], 0);

    std::fs::remove_file(&log).unwrap();
    let writer = write_later(&log, 1500, "starting\nready on port 8443\n");
    let a = ansible(&p, &[]);
    writer.join().unwrap();
    for task in ["open", "stopped", "never", "custom", "log", "lock", "both"] {
        let show = format!("show {task}");
        let (mine, theirs) = (prov_var(&r, &show, task), ansible_var(&a, &show, task));
        for key in KEYS {
            assert_eq!(
                mine[key], theirs[key],
                "{task}.{key}: prov {mine} ansible {theirs}"
            );
        }
        let (e1, e2) = (
            mine["elapsed"].as_i64().unwrap(),
            theirs["elapsed"].as_i64().unwrap(),
        );
        assert!(
            (e1 - e2).abs() <= 1,
            "{task}.elapsed: prov {e1} ansible {e2}"
        );
    }
    assert_eq!(
        prov_var(&r, "show log", "log")["match_groups"],
        serde_json::json!(["8443", null])
    );
    assert_eq!(prov_var(&r, "show never", "never")["elapsed"], 2);

    // Check mode: Ansible's module does not support it, the task is skipped.
    let r = prov(&p, &["--check"]);
    assert_eq!(r.task(HOST, "the port never opens")["status"], "skipped");
    drop(listener);
}

#[test]
fn drained_reads_the_connections_as_ansible_does() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_server, _) = listener.accept().unwrap();
    let p = Project::new().file(
        "site.yml",
        &format!(
            r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: a client is connected
      wait_for: {{port: {port}, state: drained, timeout: 2}}
      register: busy
      ignore_errors: true
    - name: but not from elsewhere
      wait_for: {{port: {port}, state: drained, exclude_hosts: [127.0.0.1], timeout: 5}}
      register: excluded
    - name: nor on another address
      wait_for: {{port: {port}, host: 127.0.0.2, state: drained, timeout: 5}}
      register: other
    - name: show busy
      debug: {{var: busy}}
    - name: show excluded
      debug: {{var: excluded}}
    - name: show other
      debug: {{var: other}}
"#
        ),
    );
    let r = prov(&p, &[]);
    let a = ansible(&p, &[]);
    assert_eq!(
        r.task_msg(HOST, "a client is connected"),
        format!("Timeout when waiting for 127.0.0.1:{port} to drain")
    );
    for task in ["busy", "excluded", "other"] {
        let show = format!("show {task}");
        let (mine, theirs) = (prov_var(&r, &show, task), ansible_var(&a, &show, task));
        for key in KEYS {
            assert_eq!(
                mine[key], theirs[key],
                "{task}.{key}: prov {mine} ansible {theirs}"
            );
        }
    }
    drop(client);
}

/// The `bash` loops of this test's wait (their command line names its unique port).
fn loops_waiting_on(port: u16) -> Vec<i32> {
    let marker = format!("port={port}\n");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(&marker)
        {
            found.push(pid);
        }
    }
    found
}

#[test]
fn an_interrupted_or_killed_prov_leaves_no_wait_behind() {
    for kill in [false, true] {
        let closed = free_port();
        let p = Project::new().file(
            "site.yml",
            &format!(
                "- hosts: all\n  gather_facts: false\n  tasks:\n    - wait_for: {{port: {closed}, timeout: 120}}\n"
            ),
        );
        let run = Prov::apply(&p, "site.yml")
            .arg("-i")
            .arg(inventory(&p))
            .spawn_job();
        wait_until(30, "the wait to start", || {
            !loops_waiting_on(closed).is_empty()
        });
        if kill {
            run.signal(libc::SIGKILL);
        } else {
            run.ctrl_c();
        }
        let out = run.finish();
        assert_ne!(out.code, 0);
        wait_until(5, "the wait to end", || loops_waiting_on(closed).is_empty());
    }
}

/// A wheel of a one-module package, made here (no index, no network).
fn wheel(dir: &Path, version: &str) {
    let script = format!(
        r#"
import zipfile
v = "{version}"
info = "tinypkg-%s.dist-info" % v
files = {{
    "tinypkg/__init__.py": "VERSION = %r\n" % v,
    info + "/METADATA": "Metadata-Version: 2.1\nName: tinypkg\nVersion: %s\n" % v,
    info + "/WHEEL": "Wheel-Version: 1.0\nGenerator: prov-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}}
record = "".join("%s,,\n" % n for n in files) + info + "/RECORD,,\n"
with zipfile.ZipFile("{dir}/tinypkg-%s-py3-none-any.whl" % v, "w") as z:
    for n, text in files.items():
        z.writestr(n, text)
    z.writestr(info + "/RECORD", record)
"#,
        dir = dir.display()
    );
    let st = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .status()
        .unwrap();
    assert!(st.success(), "building a test wheel");
}

fn pip_play(venv: &Path, wheels: &Path, check_tasks: bool) -> String {
    let (venv, wheels) = (venv.display(), wheels.display());
    let tasks = if check_tasks {
        r#"
    - name: t1
      pip: {name: tinypkg, virtualenv: "{{ venv }}"}
      register: r1
    - name: t2
      pip: {name: tinypkg, state: absent, virtualenv: "{{ venv }}"}
      register: r2
    - name: t3
      pip: {name: "pip>=20", virtualenv: "{{ venv }}"}
      register: r3
    - name: t4
      pip: {name: ["TinyPkg==0.1"], state: latest, virtualenv: "{{ venv }}"}
      register: r4
      ignore_errors: true
"#
    } else {
        r#"
    - name: t1
      pip:
        name: tinypkg==0.1
        virtualenv: "{{ venv }}"
        virtualenv_command: /usr/bin/python3 -m venv
      register: r1
    - name: t2
      pip: {name: [tinypkg>=0.1, "<0.2"], virtualenv: "{{ venv }}"}
      register: r2
    - name: t3
      pip: {name: tinypkg, version: "0.1", virtualenv: "{{ venv }}"}
      register: r3
    - name: t4
      pip: {name: tinypkg, state: latest, virtualenv: "{{ venv }}"}
      register: r4
    - name: t5
      pip: {name: "tinypkg>=0.2", virtualenv: "{{ venv }}"}
      register: r5
    - name: t6
      pip: {requirements: "{{ wheels }}/req.txt", virtualenv: "{{ venv }}"}
      register: r6
    - name: t7
      pip: {name: TinyPKG, state: absent, virtualenv: "{{ venv }}"}
      register: r7
    - name: t8
      pip: {name: tinypkg, state: absent, virtualenv: "{{ venv }}"}
      register: r8
    - name: t9
      pip: {requirements: "{{ wheels }}/req.txt", virtualenv: "{{ venv }}"}
      register: r9
    - name: t10
      pip: {requirements: "{{ wheels }}/req.txt", virtualenv: "{{ venv }}"}
      register: r10
"#
    };
    let n = if check_tasks { 4 } else { 10 };
    let shows: String = (1..=n)
        .map(|i| format!("    - name: show r{i}\n      debug: {{var: r{i}}}\n"))
        .collect();
    format!(
        "- hosts: all\n  gather_facts: false\n  vars:\n    venv: {venv}\n    wheels: {wheels}\n  environment:\n    PIP_NO_INDEX: \"1\"\n    PIP_FIND_LINKS: {wheels}\n    PIP_DISABLE_PIP_VERSION_CHECK: \"1\"\n  tasks:{tasks}{shows}"
    )
}

/// `value` with this run's temporary directory written as `DIR`.
fn neutral(value: &Value, dir: &Path) -> String {
    value.to_string().replace(&dir.display().to_string(), "DIR")
}

#[test]
fn pip_decides_changes_as_ansible_does() {
    let wheels = TempDir::new("wheels");
    wheel(&wheels.path, "0.1");
    wheel(&wheels.path, "0.2");
    std::fs::write(wheels.path.join("req.txt"), "tinypkg==0.1\n").unwrap();
    let mine = TempDir::new("pip-prov");
    let theirs = TempDir::new("pip-ansible");
    let p = Project::new().file(
        "site.yml",
        &pip_play(&mine.path.join("venv"), &wheels.path, false),
    );
    let r = prov(&p, &[]);
    let q = Project::new().file(
        "site.yml",
        &pip_play(&theirs.path.join("venv"), &wheels.path, false),
    );
    let a = ansible(&q, &[]);
    let expected = [
        true, false, false, true, false, true, true, false, true, false,
    ];
    for (i, want) in (1..=10).zip(expected) {
        let (task, var) = (format!("show r{i}"), format!("r{i}"));
        let (m, t) = (prov_var(&r, &task, &var), ansible_var(&a, &task, &var));
        assert_eq!(m["changed"], want, "t{i}: prov {m}");
        assert_eq!(t["changed"], want, "t{i}: ansible {t}");
        for key in ["name", "version", "state", "requirements"] {
            assert_eq!(m[key], t[key], "t{i}.{key}: prov {m} ansible {t}");
        }
        for key in ["virtualenv", "cmd"] {
            assert_eq!(
                neutral(&m[key], &mine.path),
                neutral(&t[key], &theirs.path),
                "t{i}.{key}"
            );
        }
    }
    // The end state: 0.1 from the requirements file, in both venvs.
    for dir in [&mine.path, &theirs.path] {
        let out = std::process::Command::new(dir.join("venv/bin/pip"))
            .args(["list", "--format=freeze"])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("tinypkg==0.1\n"));
    }

    // Check mode predicts from the freeze list, as Ansible's does, and changes nothing.
    let p = Project::new().file(
        "site.yml",
        &pip_play(&mine.path.join("venv"), &wheels.path, true),
    );
    let q = Project::new().file(
        "site.yml",
        &pip_play(&theirs.path.join("venv"), &wheels.path, true),
    );
    let before = std::fs::read_dir(mine.path.join("venv/lib"))
        .unwrap()
        .count();
    let r = prov(&p, &["--check"]);
    let a = ansible(&q, &["--check"]);
    for i in 1..=4 {
        let (task, var) = (format!("show r{i}"), format!("r{i}"));
        let (m, t) = (prov_var(&r, &task, &var), ansible_var(&a, &task, &var));
        assert_eq!(
            m["changed"], t["changed"],
            "check t{i}: prov {m} ansible {t}"
        );
    }
    assert_eq!(r.tasks_with(HOST, "changed"), ["t2", "t4"]);
    assert_eq!(
        before,
        std::fs::read_dir(mine.path.join("venv/lib"))
            .unwrap()
            .count()
    );
    let out = std::process::Command::new(mine.path.join("venv/bin/pip"))
        .args(["list", "--format=freeze"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("tinypkg==0.1\n"));
}
