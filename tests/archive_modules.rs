//! The archive modules (`unarchive`, `archive`) against a real Debian root used with `--chroot`: an
//! archive from the controller or already on the host is unpacked once, a second run changes
//! nothing, check mode is skipped as Ansible's is, hostile archives are refused and nothing
//! (no temporary archive) is left behind when unpacking fails. The test root has GNU tar and
//! gzip only; the other compressions are covered by the module's unit tests on this machine.

mod common;

use std::process::Command;

use common::{Project, Prov, Root};

fn play(tasks: &str) -> Project {
    Project::new().file(
        "site.yml",
        &format!("- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}"),
    )
}

fn sh(script: &str, cwd: &std::path::Path) {
    let st = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
}

/// `files/app.tar.gz` in the project: `app/bin/run` (0755), `app/README`, `app/conf/a.conf`.
fn with_tarball(p: Project) -> Project {
    sh(
        "mkdir -p t/app/bin t/app/conf files && printf '#!/bin/sh\\necho hi\\n' > t/app/bin/run \
         && chmod 755 t/app/bin/run && printf 'hello\\n' > t/app/README \
         && printf 'a=1\\n' > t/app/conf/a.conf \
         && tar --sort=name -czf files/app.tar.gz -C t app && rm -rf t",
        &p.dir.path,
    );
    p
}

fn apply(p: &Project, root: &Root) -> common::Run {
    let run = Prov::apply(p, "site.yml").chroot(root).json().run();
    run.ok();
    run
}

fn no_temp_archives(root: &Root) {
    let left: Vec<_> = std::fs::read_dir(root.file("tmp"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".prov-unarchive"))
        .collect();
    assert!(left.is_empty(), "temporary archives left: {left:?}");
}

#[test]
fn unarchive_from_the_controller_converges() {
    let root = Root::new();
    let p = with_tarball(play(
        r#"    - name: dest
      file: {path: /opt/app1, state: directory}
    - name: unpack
      unarchive: {src: app.tar.gz, dest: /opt/app1, list_files: true}
      register: u
    - name: show
      when: not ansible_check_mode
      assert:
        that:
          - "'app/bin/run' in u.files"
          - "u.handler == 'TgzArchive'"
          - "u.dest == '/opt/app1'"
    - name: guarded
      unarchive: {src: app.tar.gz, dest: /opt/app1, creates: /opt/app1/app/README}
"#,
    ));
    let check = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .arg("--check")
        .json()
        .run();
    // Ansible's unarchive skips itself in check mode for tar archives (prov's dry run knows
    // the file task would have made dest, so it gets that far).
    check.ok();
    assert!(!root.exists("opt/app1"));
    assert_eq!(check.task("localhost", "unpack")["status"], "skipped");

    let first = apply(&p, &root);
    assert_eq!(first.task("localhost", "unpack")["status"], "changed");
    assert_eq!(first.task("localhost", "guarded")["status"], "skipped");
    assert_eq!(root.read("opt/app1/app/README"), "hello\n");
    assert_eq!(root.mode("opt/app1/app/bin/run") & 0o777, 0o755);
    no_temp_archives(&root);

    let again = apply(&p, &root);
    assert_eq!(
        again.stats("localhost")["changed"],
        0,
        "{:?}",
        again.tasks_with("localhost", "changed")
    );
    // A member changed on the host is put back.
    root.write("opt/app1/app/README", "changed\n");
    let third = apply(&p, &root);
    assert_eq!(third.task("localhost", "unpack")["status"], "changed");
    assert_eq!(root.read("opt/app1/app/README"), "hello\n");

    // Check mode once dest exists: skipped, as Ansible's gtar handler does, nothing touched.
    root.write("opt/app1/app/README", "changed\n");
    let check = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .arg("--check")
        .json()
        .run();
    check.ok();
    assert_eq!(check.task("localhost", "unpack")["status"], "skipped");
    assert_eq!(root.read("opt/app1/app/README"), "changed\n");
}

#[test]
fn unarchive_on_the_host_with_options() {
    let root = Root::new();
    let p = with_tarball(play(
        r#"    - name: dest
      file: {path: /srv/app, state: directory}
    - name: unpack
      unarchive:
        src: /root/app.tar.gz
        dest: /srv/app
        remote_src: true
        extra_opts: [--strip-components=1]
        exclude: [conf]
        owner: nobody
        group: nogroup
        mode: "u=rwX,g=rX,o="
"#,
    ));
    std::fs::copy(p.path("files/app.tar.gz"), root.file("root/app.tar.gz")).unwrap();
    let first = apply(&p, &root);
    assert_eq!(first.task("localhost", "unpack")["status"], "changed");
    assert_eq!(root.read("srv/app/README"), "hello\n");
    assert!(!root.exists("srv/app/conf"), "excluded member unpacked");
    assert!(!root.exists("srv/app/app"), "strip-components ignored");
    assert_eq!(root.mode("srv/app/README") & 0o777, 0o640);
    assert_eq!(root.mode("srv/app/bin/run") & 0o777, 0o750);
    assert_eq!(root.mode("srv/app/bin") & 0o777, 0o750);
    assert_eq!(root.owner("srv/app/README"), (65534, 65534));
    let again = apply(&p, &root);
    assert_eq!(
        again.stats("localhost")["changed"],
        0,
        "{:?}",
        again.tasks_with("localhost", "changed")
    );
    // An attribute changed by hand is a change (set back), not an unpack.
    sh("chmod 0600 srv/app/README", &root.path);
    let third = apply(&p, &root);
    assert_eq!(third.task("localhost", "unpack")["status"], "changed");
    assert_eq!(root.mode("srv/app/README") & 0o777, 0o640);
}

#[test]
fn unarchive_refuses_bad_archives_and_leaves_nothing() {
    let root = Root::new();
    let p = play(
        r#"    - name: dest
      file: {path: /opt/x, state: directory}
    - name: evil
      unarchive: {src: evil.tar, dest: /opt/x}
      ignore_errors: true
    - name: broken
      unarchive: {src: broken.tgz, dest: /opt/x}
      ignore_errors: true
    - name: nodest
      unarchive: {src: evil.tar, dest: /opt/none}
      ignore_errors: true
    - name: missing
      unarchive: {src: /nonexistent.tgz, dest: /opt/x, remote_src: true}
      ignore_errors: true
"#,
    );
    std::fs::create_dir_all(p.path("files")).unwrap();
    // A member that climbs out of dest (as Python's tarfile writes it, no questions asked).
    sh(
        "python3 -c 'import io,tarfile\nt=tarfile.open(\"files/evil.tar\",\"w\")\nd=b\"pwned\\n\"\ni=tarfile.TarInfo(\"a/../../escaped\")\ni.size=len(d)\nt.addfile(i,io.BytesIO(d))\nt.close()'",
        &p.dir.path,
    );
    std::fs::write(p.path("files/broken.tgz"), b"\x1f\x8b\x08\0garbage").unwrap();
    let run = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    run.ok();
    for (task, msg) in [
        ("evil", "leaves the destination"),
        ("broken", "Unable to list files in the archive"),
        ("nodest", "dest '/opt/none' must be an existing dir"),
        ("missing", "Source '/nonexistent.tgz' does not exist"),
    ] {
        let t = run.task("localhost", task);
        assert_eq!(t["status"], "failed", "{task}: {t}");
        assert!(run.task_msg("localhost", task).contains(msg), "{task}: {t}");
    }
    assert!(!root.exists("escaped") && !root.exists("opt/escaped"));
    no_temp_archives(&root);
}

/// The test root has no unzip: a zip archive, from the controller or on the host, fails as
/// Ansible's handler search does, before anything is written.
#[test]
fn unarchive_zip_needs_unzip_on_the_host() {
    let root = Root::new();
    let p = play(
        r#"    - name: from controller
      unarchive: {src: a.zip, dest: /opt}
      ignore_errors: true
    - name: on host
      unarchive: {src: /root/a.zip, dest: /opt, remote_src: true}
      ignore_errors: true
"#,
    );
    std::fs::create_dir_all(p.path("files/t")).unwrap();
    sh(
        "echo x > t/f && zip -q a.zip t/f && rm -r t",
        &p.path("files"),
    );
    std::fs::copy(p.path("files/a.zip"), root.file("root/a.zip")).unwrap();
    let run = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    run.ok();
    for task in ["from controller", "on host"] {
        assert_eq!(run.task("localhost", task)["status"], "failed");
        let msg = run.task_msg("localhost", task);
        assert!(
            msg.contains("Unable to find required 'unzip' or 'zipinfo' binary in the path."),
            "{task}: {msg}"
        );
    }
    assert!(!root.exists("opt/t"));
    no_temp_archives(&root);
}

/// `archive` in the root: a tree to a .tar.gz with an exclusion pattern, a single file
/// compressed next to itself; a second run changes nothing; check mode predicts the change
/// (as the collection's module: always, when there is something to archive) and writes nothing.
#[test]
fn archive_packs_a_tree_and_compresses_a_file() {
    let root = Root::new();
    let p = play(
        r#"    - name: tree
      archive:
        path: /srv/data
        dest: /var/backups/data.tgz
        exclusion_patterns: ["*.tmp"]
        mode: "0600"
      register: a
    - name: file
      community.general.archive: {path: /srv/one.log, format: gz}
      register: f
    - name: show
      when: not ansible_check_mode
      assert:
        that:
          - "a.dest_state == 'archive'"
          - "a.arcroot == '/srv/'"
          - "'/srv/data/sub/b.txt' in a.archived"
          - "f.dest == '/srv/one.log.gz'"
          - "f.dest_state == 'compress'"
"#,
    );
    sh(
        "mkdir -p srv/data/sub && echo a > srv/data/a.txt && echo b > srv/data/sub/b.txt \
         && echo t > srv/data/x.tmp && echo log > srv/one.log",
        &root.path,
    );
    let check = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .arg("--check")
        .json()
        .run();
    check.ok();
    assert_eq!(check.task("localhost", "tree")["status"], "changed");
    assert_eq!(check.task("localhost", "file")["status"], "changed");
    assert!(!root.exists("var/backups/data.tgz"));
    let first = apply(&p, &root);
    assert_eq!(first.task("localhost", "tree")["status"], "changed");
    assert_eq!(root.mode("var/backups/data.tgz") & 0o777, 0o600);
    let listing = Command::new("tar")
        .args(["-tzf"])
        .arg(root.file("var/backups/data.tgz"))
        .output()
        .unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    assert_eq!(names, ["data/a.txt", "data/sub/", "data/sub/b.txt"]);
    assert!(root.exists("srv/one.log.gz"));
    let again = apply(&p, &root);
    assert_eq!(
        again.stats("localhost")["changed"],
        0,
        "{:?}",
        again.tasks_with("localhost", "changed")
    );
    let left = std::fs::read_dir(root.file("var/backups"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".prov-archive")
        })
        .count();
    assert_eq!(left, 0);
    root.write("srv/data/a.txt", "changed\n");
    let third = apply(&p, &root);
    assert_eq!(third.task("localhost", "tree")["status"], "changed");
    assert_eq!(third.task("localhost", "file")["status"], "ok");
}
