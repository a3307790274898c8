//! The run journal on chroot targets: an apply records the previous state of every path it
//! changes in the root's `/var/lib/prov/journal/<run id>/`, `prov history` lists the run, and
//! `prov rollback` puts the paths back (check mode and diffs first, idempotent, commands listed
//! as not revertible), also after prov was killed mid-run; and the same over SSH with become.

mod common;

use common::ssh::{Client, SshHost};
use common::{Project, Prov, Root, Snapshot, TempDir};

/// The snapshot without the journal itself (which the rollback keeps) and without `keep`.
fn tree(root: &Root, also: &[&str]) -> Snapshot {
    let mut s = root.snapshot();
    s.0.retain(|k, _| {
        !(k == "var/lib/prov" || k.starts_with("var/lib/prov/") || also.contains(&k.as_str()))
    });
    s
}

/// The state directory of the controller's run logs, private to the test; the journal on (the
/// tests' default is off: see `common::isolate`).
fn prov(state: &TempDir) -> Prov {
    Prov::new()
        .env("XDG_STATE_HOME", &state.path.display().to_string())
        .env_remove("PROV_NO_JOURNAL")
}

fn run_ids(root: &Root, state: &TempDir) -> Vec<String> {
    let out = prov(state)
        .args(["history", "--chroot"])
        .arg(&root.path)
        .run();
    out.ok();
    out.stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| id.starts_with("20"))
        .map(str::to_string)
        .collect()
}

const PLAYBOOK: &str = r#"
- hosts: all
  tasks:
    - name: a new file
      copy: {dest: /etc/prov-new.conf, content: "new\n", mode: "0640"}
    - name: edit a file
      lineinfile: {path: /etc/prov-old.conf, line: "added = yes"}
    - name: change a file twice
      copy: {dest: /etc/prov-twice, content: "first\n"}
    - name: change it again
      copy: {dest: /etc/prov-twice, content: "second\n"}
    - name: remove a file
      file: {path: /etc/prov-gone, state: absent}
    - name: remove a directory
      file: {path: /srv/prov-tree, state: absent}
    - name: repoint a link
      file: {src: /etc/prov-old.conf, dest: /etc/prov-link, state: link, force: true}
    - name: directories
      file: {path: /srv/prov/a/b, state: directory}
    - name: a file in them
      copy: {dest: /srv/prov/a/b/f, content: "x\n"}
    - name: a line in a new file in new directories
      lineinfile: {path: /srv/made/by/lineinfile.conf, line: "x = 1", create: true}
    - name: a secret
      copy: {dest: /etc/prov-secret, content: "s3cret-new\n"}
      no_log: true
    - name: mode change
      file: {path: /etc/prov-mode, mode: "0600"}
    - name: mode change through a link
      file: {path: /etc/prov-via-link, mode: "0600", state: file}
    - name: a command
      command: touch /srv/cmd-ran
      args: {creates: /srv/cmd-ran}
"#;

fn seed(root: &Root) {
    root.write("etc/prov-old.conf", "old = 1\n");
    root.write("etc/prov-twice", "original\n");
    root.write("etc/prov-gone", "keep me\n");
    root.write("etc/prov-mode", "m\n");
    root.write("etc/prov-secret", "s3cret-old\n");
    root.write("srv/prov-tree/sub/f", "tree\n");
    std::os::unix::fs::symlink("/etc/hostname", root.file("etc/prov-link")).unwrap();
    root.write("etc/prov-mode2", "m2\n");
    std::os::unix::fs::symlink("prov-mode2", root.file("etc/prov-via-link")).unwrap();
}

#[test]
fn rollback_restores_the_tree_and_reapply_converges() {
    let root = Root::new();
    seed(&root);
    let state = TempDir::new("state");
    let p = Project::new().file("site.yml", PLAYBOOK);
    let before = tree(&root, &[]);
    prov(&state)
        .cwd(&p.dir.path)
        .args(["apply", "site.yml"])
        .chroot(&root)
        .run()
        .ok();
    let applied = tree(&root, &[]);
    assert_eq!(root.read("etc/prov-twice"), "second\n");
    assert!(root.exists("srv/cmd-ran"));

    // The journal is root's alone, and holds a complete entry per change.
    let ids = run_ids(&root, &state);
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = &ids[0];
    let jdir = root.file(&format!("var/lib/prov/journal/{id}"));
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(root.file("var/lib/prov/journal"))
                .unwrap()
                .permissions()
        ) & 0o777,
        0o700
    );
    let names: Vec<String> = std::fs::read_dir(&jdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    assert!(names.len() >= 10, "{names:?}");
    let history = prov(&state)
        .args(["history", "--chroot"])
        .arg(&root.path)
        .run();
    history.ok().stdout_has(id).stdout_has("site.yml");

    // Check mode: the diffs, and nothing changes (the journal included).
    let full = root.snapshot();
    let check = prov(&state)
        .args(["rollback", id, "--check", "--diff", "--chroot"])
        .arg(&root.path)
        .run();
    check
        .ok()
        .stdout_has("changed: /etc/prov-twice: would restore the previous content")
        .stdout_has("-second")
        .stdout_has("+original")
        .stdout_has("changed: /etc/prov-new.conf: would remove (created by the run)")
        .stdout_has("changed: /etc/prov-gone: would restore it (removed by the run)")
        .stdout_has("changed: /etc/prov-link: would restore the link to /etc/hostname")
        .stdout_has("changed: /etc/prov-mode: would restore mode 0644")
        .stdout_has("changed: /etc/prov-mode2: would restore mode 0644")
        .stdout_has("not revertible: task 'a command' (command)")
        .stdout_has("changed: /etc/prov-secret: would restore the previous content");
    // A no_log task's content is never shown.
    assert!(!check.stdout.contains("s3cret"), "{}", check.stdout);
    assert_eq!(full.diff(&root.snapshot()), Vec::<String>::new());

    // The rollback: exactly the tree before the run, but for what the command did.
    let back = prov(&state)
        .args(["rollback", id, "--chroot"])
        .arg(&root.path)
        .run();
    back.ok()
        .stdout_has("changed: /srv/prov: remove (created by the run)")
        .stdout_has("changed: /srv/made: remove (created by the run)")
        .stdout_has("not revertible: task 'a command' (command)");
    assert_eq!(
        before.diff(&tree(&root, &["srv/cmd-ran"])),
        Vec::<String>::new(),
        "{}",
        back.stdout
    );
    assert_eq!(root.read("etc/prov-twice"), "original\n");
    assert_eq!(root.read("srv/prov-tree/sub/f"), "tree\n");

    // A second rollback changes nothing.
    let again = prov(&state)
        .args(["rollback", id, "--chroot"])
        .arg(&root.path)
        .run();
    again.ok().stdout_has("changed=0 ok=");
    assert_eq!(
        before.diff(&tree(&root, &["srv/cmd-ran"])),
        Vec::<String>::new()
    );

    // Applying again converges to the same tree as the first apply.
    prov(&state)
        .cwd(&p.dir.path)
        .args(["apply", "site.yml"])
        .chroot(&root)
        .run()
        .ok();
    assert_eq!(applied.diff(&tree(&root, &[])), Vec::<String>::new());
    assert_eq!(run_ids(&root, &state).len(), 2);
}

#[test]
fn check_mode_and_no_journal_keep_no_journal() {
    let root = Root::new();
    seed(&root);
    let state = TempDir::new("state");
    let p = Project::new().file("site.yml", PLAYBOOK);
    prov(&state)
        .cwd(&p.dir.path)
        .args(["apply", "site.yml", "--check"])
        .chroot(&root)
        .run()
        .ok();
    prov(&state)
        .cwd(&p.dir.path)
        .args(["apply", "site.yml", "--no-journal"])
        .chroot(&root)
        .run()
        .ok();
    assert!(!root.exists("var/lib/prov"));
    // PROV_NO_JOURNAL=1 in the environment is --no-journal (PROV_NO_JOURNAL=0 is not).
    root.write("etc/prov-twice", "changed by hand\n");
    prov(&state)
        .cwd(&p.dir.path)
        .args(["apply", "site.yml"])
        .env("PROV_NO_JOURNAL", "1")
        .chroot(&root)
        .run()
        .ok()
        .stdout_has("changed=");
    assert!(!root.exists("var/lib/prov"));
    root.write("etc/prov-twice", "changed by hand\n");
    prov(&state)
        .cwd(&p.dir.path)
        .args(["apply", "site.yml"])
        .env("PROV_NO_JOURNAL", "0")
        .chroot(&root)
        .run()
        .ok();
    assert_eq!(run_ids(&root, &state).len(), 1);
    std::fs::remove_dir_all(root.file("var/lib/prov")).unwrap();
    prov(&state)
        .args(["history", "--chroot"])
        .arg(&root.path)
        .run()
        .ok()
        .stdout_has("no runs in the journal");
    prov(&state)
        .args(["rollback", "20260101T000000Z-000000", "--chroot"])
        .arg(&root.path)
        .run()
        .code(5)
        .stderr_has("is not in the journal");
    prov(&state)
        .args(["rollback", "../../etc", "--chroot"])
        .arg(&root.path)
        .run()
        .code(5)
        .stderr_has("is not a run id");
}

/// prov killed in the middle of a run: every file it changed has its entry (written before the
/// change, whole or not at all), and the rollback puts back all of them.
#[test]
fn a_killed_run_leaves_a_consistent_journal() {
    let root = Root::new();
    for i in 0..60 {
        root.write(&format!("srv/k/{i}"), "before\n");
    }
    let state = TempDir::new("state");
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  tasks:
    - copy: {dest: "/srv/k/{{ item }}", content: "after\n"}
      loop: "{{ range(60) | list }}"
"#,
    );
    let before = tree(&root, &[]);
    let run = prov(&state)
        .cwd(&p.dir.path)
        .args(["apply", "site.yml"])
        .chroot(&root)
        .spawn();
    common::wait_until(60, "some files are written", || {
        (0..60)
            .filter(|i| root.read(&format!("srv/k/{i}")) == "after\n")
            .count()
            >= 5
    });
    run.kill();
    // The step that was running finishes on its own.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let changed = (0..60)
        .filter(|i| root.read(&format!("srv/k/{i}")) == "after\n")
        .count();
    assert!(changed > 0 && changed < 60, "{changed}");
    let ids = run_ids(&root, &state);
    assert_eq!(ids.len(), 1, "{ids:?}");
    let back = prov(&state)
        .args(["rollback", &ids[0], "--chroot"])
        .arg(&root.path)
        .run();
    back.ok().stdout_has(&format!("changed={changed} "));
    // A killed chroot run leaves its policy-rc.d (marked; the next run removes it).
    assert_eq!(
        before.diff(&tree(&root, &["usr/sbin/policy-rc.d"])),
        Vec::<String>::new(),
        "{}",
        back.stdout
    );
}

/// An SSH host: the run (as `tester` with sudo) journals in root's journal on the host;
/// `prov history -i -b` and `prov rollback -i -l -b` reach it as the run did.
#[test]
fn over_ssh_with_become() {
    let client = Client::new();
    let host = SshHost::start("node-1", &client);
    client.trust(&[&host]);
    host.root.write("etc/prov-old.conf", "old = 1\n");
    let state = TempDir::new("state");
    let p = Project::new()
        .file("hosts.yml", &client.inventory(&[&host], "tester"))
        // Only the name: how to reach it comes from the command line.
        .file("bare.yml", "all:\n  hosts:\n    node-1:\n")
        .file(
            "site.yml",
            r#"
- hosts: all
  gather_facts: false
  tasks:
    - lineinfile: {path: /etc/prov-old.conf, line: "added = yes"}
    - copy: {dest: /etc/prov-new.conf, content: "new\n"}
"#,
        );
    let xdg = state.path.display().to_string();
    client
        .apply(&p, "site.yml")
        .args(["--become"])
        .env("XDG_STATE_HOME", &xdg)
        .env_remove("PROV_NO_JOURNAL")
        .run()
        .ok();
    assert_eq!(
        host.root.read("etc/prov-old.conf"),
        "old = 1\nadded = yes\n"
    );
    let journal = |args: &[&str]| {
        client
            .prov()
            .cwd(&p.dir.path)
            .env("XDG_STATE_HOME", &xdg)
            .args(args)
            .run()
    };
    // tester's own journal is empty: the run wrote root's.
    journal(&["history", "-i", "hosts.yml"])
        .ok()
        .stdout_has("no runs in the journal of node-1");
    let h = journal(&["history", "-i", "hosts.yml", "-b"]);
    h.ok().stdout_has("site.yml");
    let id = h
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|w| w.starts_with("20"))
        .unwrap()
        .to_string();
    journal(&[
        "rollback",
        &id,
        "-i",
        "hosts.yml",
        "-l",
        "node-1",
        "-b",
        "--check",
    ])
    .ok()
    .stdout_has("node-1: changed=2 ok=0");
    assert!(host.root.exists("etc/prov-new.conf"));
    // Reached with apply's connection flags instead of inventory variables.
    let port = format!("ansible_host=127.0.0.1 ansible_port={}", host.port);
    let key = client.key.display().to_string();
    let by_flags = |cmd: &[&str], user: &str| {
        let mut args = cmd.to_vec();
        args.extend([
            "-i",
            "bare.yml",
            "-e",
            &port,
            "-u",
            user,
            "--private-key",
            &key,
        ]);
        journal(&args)
    };
    by_flags(&["history", "-b"], "tester").ok().stdout_has(&id);
    // The flag is what logs in (not a default that happens to work).
    by_flags(&["history", "-b"], "nosuchuser")
        .code(4)
        .stderr_has("nosuchuser@127.0.0.1");
    by_flags(&["rollback", &id, "-l", "node-1", "-b"], "tester")
        .ok()
        .stdout_has("ROLLBACK")
        .stdout_has("node-1: changed=2 ok=0");
    assert_eq!(host.root.read("etc/prov-old.conf"), "old = 1\n");
    assert!(!host.root.exists("etc/prov-new.conf"));
    journal(&["rollback", &id, "-i", "hosts.yml", "-b"])
        .ok()
        .stdout_has("node-1: changed=0 ok=2");

    // A become_user with no journal directory of its own (nobody's HOME is /nonexistent)
    // changes without an entry, with a warning, rather than failing the task.
    let nobody = Project::new()
        .file("hosts.yml", &client.inventory(&[&host], "tester"))
        .file(
            "nobody.yml",
            r#"
- hosts: all
  gather_facts: false
  tasks:
    - copy: {dest: /tmp/by-nobody, content: "n\n"}
      become: true
      become_user: nobody
"#,
        );
    let run = client
        .apply(&nobody, "nobody.yml")
        .env("XDG_STATE_HOME", &xdg)
        .env_remove("PROV_NO_JOURNAL")
        .run();
    run.ok();
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("this change has no run journal entry (nobody cannot create /nonexistent/"),
        "{all}"
    );
    assert!(!all.contains("prov-not-journaled"), "{all}");
    assert_eq!(host.root.read("tmp/by-nobody"), "n\n");
}

/// The modification time of a root's file: seconds and nanoseconds.
fn mtime(root: &Root, rel: &str) -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(root.file(rel)).unwrap();
    (m.mtime(), m.mtime_nsec())
}

/// Files get their modification times back (to the nanosecond), whether the run rewrote them,
/// touched them or changed their mode; a mode set through a link (`file: path=<link>
/// mode=...` without `state`, which Ansible applies to the link's target) comes back too, and
/// so do the mode and content of a file re-moded then rewritten; a second rollback changes
/// nothing.
#[test]
fn rollback_restores_modification_times() {
    let root = Root::new();
    let old = std::time::UNIX_EPOCH + std::time::Duration::new(1_600_000_000, 123_456_789);
    for f in [
        "etc/prov-stamp",
        "etc/prov-edit",
        "etc/prov-chmod",
        "etc/prov-target",
        "etc/prov-both",
    ] {
        root.write(f, "before\n");
        std::fs::File::options()
            .write(true)
            .open(root.file(f))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    std::os::unix::fs::symlink("prov-target", root.file("etc/prov-mlink")).unwrap();
    let state = TempDir::new("state");
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - file: {path: /etc/prov-stamp, state: touch}
    - copy: {dest: /etc/prov-edit, content: "after\n"}
    - file: {path: /etc/prov-chmod, mode: "0600"}
    - name: a mode through a link, state omitted
      file: {path: /etc/prov-mlink, mode: "0600"}
    - name: a mode, then new content
      file: {path: /etc/prov-both, mode: "0600"}
    - copy: {dest: /etc/prov-both, content: "after\n"}
"#,
    );
    prov(&state)
        .cwd(&p.dir.path)
        .args(["apply", "site.yml"])
        .chroot(&root)
        .run()
        .ok()
        .stdout_has("changed=6");
    let mode = |rel: &str| {
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(root.file(rel)).unwrap().permissions(),
        ) & 0o7777
    };
    assert_eq!(mode("etc/prov-target"), 0o600);
    assert!(
        std::fs::symlink_metadata(root.file("etc/prov-mlink"))
            .unwrap()
            .is_symlink()
    );
    assert_ne!(mtime(&root, "etc/prov-stamp"), (1_600_000_000, 123_456_789));
    assert_ne!(mtime(&root, "etc/prov-edit"), (1_600_000_000, 123_456_789));
    let id = run_ids(&root, &state).remove(0);
    prov(&state)
        .args(["rollback", &id, "--check", "--chroot"])
        .arg(&root.path)
        .run()
        .ok()
        .stdout_has("changed: /etc/prov-stamp: would restore the modification time");
    prov(&state)
        .args(["rollback", &id, "--chroot"])
        .arg(&root.path)
        .run()
        .ok()
        .stdout_has("changed=5 ok=0");
    for f in [
        "etc/prov-stamp",
        "etc/prov-edit",
        "etc/prov-chmod",
        "etc/prov-target",
        "etc/prov-both",
    ] {
        assert_eq!(mtime(&root, f), (1_600_000_000, 123_456_789), "{f}");
        assert_eq!(mode(f), 0o644, "{f}");
        assert_eq!(root.read(f), "before\n", "{f}");
    }
    prov(&state)
        .args(["rollback", &id, "--chroot"])
        .arg(&root.path)
        .run()
        .ok()
        .stdout_has("changed=0 ok=5");
}

/// What a rollback cannot undo is listed, in check mode as in a real rollback, and left as it
/// is: a package the run removed (apt) and a command's effects; the files beside them go back.
#[test]
fn packages_and_commands_are_listed_as_not_revertible() {
    let root = Root::new();
    assert!(root.exists("usr/bin/curl"));
    root.write("etc/prov-old.conf", "old = 1\n");
    let state = TempDir::new("state");
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: no curl
      apt: {name: curl, state: absent}
    - name: a command
      shell: echo ran > /srv/cmd-ran
    - name: a file
      copy: {dest: /etc/prov-old.conf, content: "new = 1\n"}
"#,
    );
    prov(&state)
        .cwd(&p.dir.path)
        .args(["apply", "site.yml"])
        .chroot(&root)
        .run()
        .ok()
        .stdout_has("changed=3");
    assert!(!root.exists("usr/bin/curl"));
    let id = run_ids(&root, &state).remove(0);
    for check in [true, false] {
        let mut args = vec!["rollback", id.as_str(), "--chroot"];
        if check {
            args.insert(2, "--check");
        }
        prov(&state)
            .args(&args)
            .arg(&root.path)
            .run()
            .ok()
            .stdout_has("not revertible: task 'no curl' (apt) on ")
            .stdout_has("packages it installed or removed stay as they are")
            .stdout_has("not revertible: task 'a command' (shell) on ")
            .stdout_has("a command ran; what it did is not undone")
            .stdout_has(if check {
                "changed: /etc/prov-old.conf: would restore the previous content"
            } else {
                "changed: /etc/prov-old.conf: restore the previous content"
            })
            .stdout_has("changed=1 ok=0 failed=0 not_revertible=2");
    }
    assert_eq!(root.read("etc/prov-old.conf"), "old = 1\n");
    assert!(!root.exists("usr/bin/curl"));
    assert_eq!(root.read("srv/cmd-ran"), "ran\n");
}
