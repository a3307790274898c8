//! The configuration-file modules prov implements natively (ini_file, pam_limits, cron with
//! `cron_file`), side by side with ansible-playbook: the same tasks run on copies of the same
//! files with the test fixtures' Ansible and with prov (`-c local`, prov forbidden to fall back
//! to Ansible's module code); every file must come out byte for byte the same with the same
//! mode, every task must report the same `changed`, a second run must report what Ansible's
//! second run reports, and prov's check mode on a third copy must predict exactly what apply
//! did while changing nothing.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Project, Prov, Root, TempDir, ansible_playbook, ansible_python};

/// One task on its own file: the file's name, its content before (none: missing), and the
/// module's arguments (YAML lines under the module, `{{ f }}` being the file's path).
struct Case {
    name: &'static str,
    seed: Option<&'static str>,
    args: &'static str,
}

/// The play: each case a task of `module` on `{{ d }}/<name>`.
fn playbook(module: &str, cases: &[Case]) -> String {
    let mut s = String::from("- hosts: localhost\n  gather_facts: false\n  tasks:\n");
    for c in cases {
        s.push_str(&format!(
            "    - name: {}\n      vars: {{f: \"{{{{ d }}}}/{}\"}}\n      {module}:\n",
            c.name, c.name
        ));
        for line in c.args.lines() {
            s.push_str(&format!("        {line}\n"));
        }
    }
    s
}

fn seed(dir: &Path, cases: &[Case]) {
    for c in cases {
        if let Some(text) = c.seed {
            let p = dir.join(c.name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

/// Every file under `dir` (backups, whose names hold a time, as `<name>~backup`): content
/// and mode.
fn files(dir: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let meta = e.metadata().unwrap();
        let key = match name.split_once('.') {
            Some((base, rest)) if name.ends_with('~') && rest.contains('@') => {
                format!("{base}~backup")
            }
            _ => name,
        };
        let content = if meta.is_file() {
            std::fs::read(e.path()).unwrap()
        } else {
            b"<dir>".to_vec()
        };
        out.insert(key, (content, meta.permissions().mode() & 0o7777));
    }
    out
}

/// `changed` of each task, by name, from ansible-playbook's JSON callback.
fn ansible_run(project: &Project, dir: &Path, work: &Path) -> BTreeMap<String, bool> {
    let ansible = ansible_playbook();
    let out = std::process::Command::new(&ansible)
        .current_dir(&project.dir.path)
        .args(["-i", "localhost,", "-c", "local", "site.yml", "-e"])
        .arg(format!("d={}", dir.display()))
        .arg("-e")
        .arg(format!(
            "ansible_python_interpreter={}",
            ansible_python().display()
        ))
        .env("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json")
        .env("ANSIBLE_HOME", work.join("home"))
        .env("ANSIBLE_LOCAL_TEMP", work.join("tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ansible-playbook failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut changed = BTreeMap::new();
    for t in doc["plays"][0]["tasks"].as_array().unwrap() {
        let name = t["task"]["name"].as_str().unwrap().to_string();
        changed.insert(name, t["hosts"]["localhost"]["changed"] == true);
    }
    changed
}

/// `changed` of each task, by name, from prov (`--check --diff` with `check`).
fn prov_run(project: &Project, dir: &Path, check: bool) -> BTreeMap<String, bool> {
    let mut p = Prov::apply(project, "site.yml")
        .args(["-i", "localhost,", "-c", "local", "-e"])
        .arg(format!("d={}", dir.display()))
        // Any fallback to Ansible's module code fails the run.
        .env("PROV_ANSIBLE_PYTHON", "/nonexistent/python3")
        .json();
    if check {
        p = p.args(["--check", "--diff"]);
    }
    let r = p.run();
    r.ok();
    let doc = r.json();
    let mut changed = BTreeMap::new();
    for t in doc["plays"][0]["tasks"].as_array().unwrap() {
        let name = t["task"]["name"].as_str().unwrap().to_string();
        let status = &t["hosts"]["localhost"]["status"];
        assert!(
            status == "changed" || status == "ok",
            "{name}: {}",
            t["hosts"]["localhost"]
        );
        changed.insert(name, status == "changed");
    }
    changed
}

/// Run `cases` side by side (see the file's doc).
fn side_by_side(module: &str, cases: &[Case]) {
    let project = Project::new().file("site.yml", &playbook(module, cases));
    let work = TempDir::new("config-work");
    let (a, b, c) = (
        TempDir::new("config-ansible"),
        TempDir::new("config-prov"),
        TempDir::new("config-check"),
    );
    for d in [&a, &b, &c] {
        seed(&d.path, cases);
    }
    let before = files(&c.path);
    let predicted = prov_run(&project, &c.path, true);
    assert_eq!(files(&c.path), before, "check mode changed files");
    let ansible_first = ansible_run(&project, &a.path, &work.path);
    let prov_first = prov_run(&project, &b.path, false);
    assert_eq!(prov_first, ansible_first, "first run: changed per task");
    assert_eq!(predicted, prov_first, "check mode predicted other changes");
    let (fa, fb) = (files(&a.path), files(&b.path));
    for (name, got) in &fb {
        let want = fa.get(name);
        assert_eq!(
            Some(got),
            want,
            "{name}: prov wrote {:?} (mode {:o}), Ansible {:?}",
            String::from_utf8_lossy(&got.0),
            got.1,
            want.map(|w| (String::from_utf8_lossy(&w.0).into_owned(), w.1))
        );
    }
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    let ansible_second = ansible_run(&project, &a.path, &work.path);
    let prov_second = prov_run(&project, &b.path, false);
    assert_eq!(prov_second, ansible_second, "second run: changed per task");
    assert_eq!(files(&b.path), files(&a.path), "second run");
}

#[test]
fn ini_file_matches_ansible() {
    let s = "[main]\n# comment\nkey = old\n\n[other]\nkey = o2\n";
    let cases = [
        Case {
            name: "new-file",
            seed: None,
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nvalue: 1",
        },
        Case {
            name: "new-file-mode",
            seed: None,
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nvalue: \"1\"\nmode: \"0600\"",
        },
        Case {
            name: "no-section",
            seed: Some(""),
            args: "path: \"{{ f }}\"\noption: x\nvalue: y\nsection: null",
        },
        Case {
            name: "no-newline",
            seed: Some("[a]\nx=1"),
            args: "dest: \"{{ f }}\"\nsection: a\noption: x\nvalue: \"1\"\nno_extra_spaces: true",
        },
        Case {
            name: "add-to-section",
            seed: Some(s),
            args: "path: \"{{ f }}\"\nsection: main\noption: new\nvalue: v",
        },
        Case {
            name: "change",
            seed: Some(s),
            args: "path: \"{{ f }}\"\nsection: other\noption: key\nvalue: v",
        },
        Case {
            name: "same",
            seed: Some(s),
            args: "path: \"{{ f }}\"\nsection: main\noption: key\nvalue: old",
        },
        Case {
            name: "new-section",
            seed: Some(s),
            args: "path: \"{{ f }}\"\nsection: third\noption: k\nvalue: v",
        },
        Case {
            name: "drop-section",
            seed: Some(s),
            args: "path: \"{{ f }}\"\nsection: main\nstate: absent",
        },
        Case {
            name: "drop-option",
            seed: Some(s),
            args: "path: \"{{ f }}\"\nsection: main\noption: key\nstate: absent",
        },
        Case {
            name: "commented",
            seed: Some("[a]\n# x = 1\n; y = 2\n"),
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nvalue: \"2\"",
        },
        Case {
            name: "inactive",
            seed: Some("[a]\n# x = 1\n"),
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nvalue: \"2\"\nmodify_inactive_option: false",
        },
        Case {
            name: "values",
            seed: Some("[a]\nx = 1\nx = 2\nx = 3\n"),
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nvalues: [\"2\", \"4\"]",
        },
        Case {
            name: "values-add",
            seed: Some("[a]\nx = 1\nx = 2\n"),
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nvalues: [\"2\", \"4\"]\nexclusive: false",
        },
        Case {
            name: "values-absent",
            seed: Some("[a]\nx = 1\nx = 2\nx = 3\n"),
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nvalues: [\"2\"]\nstate: absent\nexclusive: false",
        },
        Case {
            name: "no-value",
            seed: Some("[mysqld]\nuser = mysql\n\n# end\n"),
            args: "path: \"{{ f }}\"\nsection: mysqld\noption: skip-name-resolve\nallow_no_value: true",
        },
        Case {
            name: "spaces",
            seed: Some("[a]\nx   =   1\n"),
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nvalue: \"1\"\nignore_spaces: true",
        },
        Case {
            name: "crlf",
            seed: Some("[a]\r\nx = 1\r\n"),
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nvalue: \"1\"",
        },
        Case {
            name: "crlf-change",
            seed: Some("\u{feff}[a]\r\nx = 1\r\n"),
            args: "path: \"{{ f }}\"\nsection: a\noption: y\nvalue: \"1\"",
        },
        Case {
            name: "has-values",
            seed: Some("[peer]\nkey = a\nip = 1\n[peer]\nkey = b\nip = 2\n"),
            args: "path: \"{{ f }}\"\nsection: peer\nsection_has_values: [{option: key, value: b}]\noption: ip\nvalue: \"3\"",
        },
        Case {
            name: "mode-only",
            seed: Some("[a]\nx = 1\n"),
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nvalue: \"1\"\nmode: \"0640\"",
        },
        Case {
            name: "backup",
            seed: Some("[a]\nx = 1\n"),
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nvalue: \"2\"\nbackup: true",
        },
        Case {
            name: "absent-missing",
            seed: None,
            args: "path: \"{{ f }}\"\nsection: a\noption: x\nstate: absent",
        },
    ];
    side_by_side("community.general.ini_file", &cases);
}

#[test]
fn pam_limits_matches_ansible() {
    let conf = "# /etc/security/limits.conf\n#\n#<domain>      <type>  <item>         <value>\n#\n\n#*               soft    core            0\n@student        hard    nproc           20\n\n# End of file\n";
    let cases = [
        Case {
            name: "new",
            seed: None,
            args: "dest: \"{{ f }}\"\ndomain: \"*\"\nlimit_type: soft\nlimit_item: nofile\nvalue: 65536",
        },
        Case {
            name: "append",
            seed: Some(conf),
            args: "dest: \"{{ f }}\"\ndomain: \"*\"\nlimit_type: \"-\"\nlimit_item: nofile\nvalue: \"65536\"\ncomment: raised for the database",
        },
        Case {
            name: "replace",
            seed: Some(conf),
            args: "dest: \"{{ f }}\"\ndomain: \"@student\"\nlimit_type: hard\nlimit_item: nproc\nvalue: \"40\"",
        },
        Case {
            name: "same",
            seed: Some(conf),
            args: "dest: \"{{ f }}\"\ndomain: \"@student\"\nlimit_type: hard\nlimit_item: nproc\nvalue: \"20\"",
        },
        Case {
            name: "use-max",
            seed: Some(conf),
            args: "dest: \"{{ f }}\"\ndomain: \"@student\"\nlimit_type: hard\nlimit_item: nproc\nvalue: \"10\"\nuse_max: true",
        },
        Case {
            name: "use-min",
            seed: Some(conf),
            args: "dest: \"{{ f }}\"\ndomain: \"@student\"\nlimit_type: hard\nlimit_item: nproc\nvalue: \"10\"\nuse_min: true",
        },
        Case {
            name: "old-comment",
            seed: Some("root soft core 0 # keep cores off\n"),
            args: "dest: \"{{ f }}\"\ndomain: root\nlimit_type: soft\nlimit_item: core\nvalue: unlimited",
        },
        Case {
            name: "nice",
            seed: Some("@audio - rtprio 95\n"),
            args: "dest: \"{{ f }}\"\ndomain: \"@audio\"\nlimit_type: \"-\"\nlimit_item: nice\nvalue: \"-19\"",
        },
        Case {
            name: "no-final-newline",
            seed: Some("@audio - rtprio 95"),
            args: "dest: \"{{ f }}\"\ndomain: \"@audio\"\nlimit_type: \"-\"\nlimit_item: memlock\nvalue: unlimited",
        },
    ];
    side_by_side("community.general.pam_limits", &cases);
}

/// The packages of the compatibility corpus' test root (bench/compat/corpus.yml), which has
/// cron and locales: [`Root::new`] then copies that root (built once, cached).
fn use_corpus_root() {
    let corpus =
        std::fs::read_to_string(common::repo_root().join("bench/compat/corpus.yml")).unwrap();
    let extra: Vec<&str> = corpus
        .lines()
        .skip_while(|l| !l.starts_with("rootfs_extra:"))
        .skip(1)
        .map_while(|l| l.strip_prefix("  - "))
        .collect();
    assert!(extra.contains(&"cron") && extra.contains(&"locales"));
    // Every test of this file sets the same value.
    unsafe { std::env::set_var("PROV_ROOTFS_EXTRA", extra.join(",")) };
}

/// `changed` of each task of ansible-playbook on a chroot target.
fn ansible_chroot(project: &Project, root: &Root, work: &Path) -> BTreeMap<String, bool> {
    let inventory = work.join("inventory.yml");
    std::fs::write(
        &inventory,
        format!(
            "all:\n  hosts:\n    localhost:\n      ansible_connection: community.general.chroot\n      ansible_host: {}\n      ansible_python_interpreter: /usr/bin/python3\n",
            root.path.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(ansible_playbook())
        .current_dir(&project.dir.path)
        .arg("-i")
        .arg(&inventory)
        .arg("site.yml")
        .env("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json")
        .env("ANSIBLE_HOME", work.join("home"))
        .env("ANSIBLE_LOCAL_TEMP", work.join("tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ansible-playbook failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut changed = BTreeMap::new();
    for t in doc["plays"][0]["tasks"].as_array().unwrap() {
        let name = t["task"]["name"].as_str().unwrap().to_string();
        changed.insert(name, t["hosts"]["localhost"]["changed"] == true);
    }
    changed
}

/// `changed` of each task of prov on a chroot target.
fn prov_chroot(project: &Project, root: &Root, check: bool) -> BTreeMap<String, bool> {
    let mut p = Prov::apply(project, "site.yml")
        .chroot(root)
        .env("PROV_ANSIBLE_PYTHON", "/nonexistent/python3")
        .json();
    if check {
        p = p.args(["--check", "--diff"]);
    }
    let r = p.run();
    r.ok();
    let doc = r.json();
    let mut changed = BTreeMap::new();
    for t in doc["plays"][0]["tasks"].as_array().unwrap() {
        let name = t["task"]["name"].as_str().unwrap().to_string();
        let status = &t["hosts"]["localhost"]["status"];
        assert!(
            status == "changed" || status == "ok",
            "{name}: {}",
            t["hosts"]["localhost"]
        );
        changed.insert(name, status == "changed");
    }
    changed
}

/// Each file under `dirs` of a root: its content (as `normalize` shows it), mode and owner.
fn tree(root: &Root, dirs: &[&str], normalize: fn(&str, Vec<u8>) -> Vec<u8>) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut todo: Vec<String> = dirs.iter().map(|d| d.to_string()).collect();
    while let Some(rel) = todo.pop() {
        let Ok(m) = std::fs::symlink_metadata(root.file(&rel)) else {
            out.push(format!("{rel}: missing"));
            continue;
        };
        let attrs = format!("{:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid());
        if m.is_dir() {
            out.push(format!("{rel}/ {attrs}"));
            for e in std::fs::read_dir(root.file(&rel)).unwrap() {
                todo.push(format!(
                    "{rel}/{}",
                    e.unwrap().file_name().to_string_lossy()
                ));
            }
        } else if m.file_type().is_symlink() {
            let target = std::fs::read_link(root.file(&rel)).unwrap();
            out.push(format!("{rel} -> {}", target.display()));
        } else {
            let content = normalize(&rel, std::fs::read(root.file(&rel)).unwrap());
            out.push(format!(
                "{rel} {attrs}\n{}",
                String::from_utf8_lossy(&content)
            ));
        }
    }
    out.sort();
    out
}

/// Run `play` side by side on three copies of the corpus root, each first given `seed` files
/// (see the file's doc); `dirs` are the parts of the roots compared.
fn side_by_side_chroot(
    play: &str,
    seed: &[(&str, &str)],
    dirs: &[&str],
    normalize: fn(&str, Vec<u8>) -> Vec<u8>,
) -> (Root, Root) {
    use_corpus_root();
    let project = Project::new().file("site.yml", play);
    let work = TempDir::new("config-chroot");
    let (a, b, c) = (Root::new(), Root::new(), Root::new());
    for root in [&a, &b, &c] {
        for (path, content) in seed {
            root.write(path, content);
        }
    }
    let before = tree(&c, dirs, normalize);
    let predicted = prov_chroot(&project, &c, true);
    assert_eq!(
        tree(&c, dirs, normalize),
        before,
        "check mode changed the root"
    );
    let ansible_first = ansible_chroot(&project, &a, &work.path);
    let prov_first = prov_chroot(&project, &b, false);
    assert_eq!(prov_first, ansible_first, "first run: changed per task");
    assert_eq!(predicted, prov_first, "check mode predicted other changes");
    assert_eq!(tree(&b, dirs, normalize), tree(&a, dirs, normalize));
    let ansible_second = ansible_chroot(&project, &a, &work.path);
    let prov_second = prov_chroot(&project, &b, false);
    assert_eq!(prov_second, ansible_second, "second run: changed per task");
    assert_eq!(tree(&b, dirs, normalize), tree(&a, dirs, normalize));
    (a, b)
}

/// crontab(1)'s header of an installed crontab names its temporary file and the time.
fn without_crontab_header(rel: &str, content: Vec<u8>) -> Vec<u8> {
    if !rel.starts_with("var/spool/cron/crontabs/") {
        return content;
    }
    let text = String::from_utf8(content).unwrap();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert!(
        lines.len() >= 3 && lines[0].starts_with("# DO NOT EDIT"),
        "{text}"
    );
    lines.drain(..3);
    lines.concat().into_bytes()
}

#[test]
fn cron_matches_ansible() {
    let play = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: cron file job
      ansible.builtin.cron:
        name: backup
        user: root
        job: /usr/local/bin/backup
        minute: "0"
        hour: "2"
        cron_file: prov-backup
    - name: cron file variable
      cron: {name: MAILTO, env: true, job: ops@example.com, user: root, cron_file: prov-backup}
    - name: cron file special time
      cron: {name: cleanup, user: www-data, job: "find /tmp -mtime +7 -delete", special_time: daily, cron_file: /etc/cron.d/prov-backup}
    - name: cron file job removed
      cron: {name: old, cron_file: prov-old, state: absent}
    - name: cron file job changed
      cron: {name: keep, user: root, job: /bin/true, minute: "*/5", cron_file: prov-keep}
    - name: user job
      cron: {name: nightly, user: www-data, job: /srv/nightly.sh, minute: "30", hour: "1"}
    - name: user job disabled
      cron: {name: weekly, user: www-data, job: /srv/weekly.sh, weekday: "0", disabled: true}
    - name: user variable first
      cron: {name: SHELL, env: true, job: /bin/bash, user: www-data}
    - name: root job
      cron: {name: root job, job: "date > /dev/null", special_time: reboot}
    - name: absent from a missing crontab
      cron: {name: nothing, user: nobody, state: absent}
"#;
    let seed = [
        (
            "etc/cron.d/prov-old",
            "#Ansible: old\n0 0 * * * root /bin/old\n",
        ),
        (
            "etc/cron.d/prov-keep",
            "SHELL=/bin/sh\n#Ansible: keep\n0 * * * * root /bin/true\n",
        ),
    ];
    let (_a, b) = side_by_side_chroot(
        play,
        &seed,
        &["etc/cron.d", "var/spool/cron/crontabs"],
        without_crontab_header,
    );
    assert!(!b.exists("etc/cron.d/prov-old"));
    let spool = String::from_utf8(without_crontab_header(
        "var/spool/cron/crontabs/www-data",
        std::fs::read(b.file("var/spool/cron/crontabs/www-data")).unwrap(),
    ))
    .unwrap();
    assert_eq!(
        spool,
        "SHELL=\"/bin/bash\"\n#Ansible: nightly\n30 1 * * * /srv/nightly.sh\n#Ansible: weekly\n#* * * * 0 /srv/weekly.sh\n"
    );
    assert!(
        b.read("var/spool/cron/crontabs/root")
            .ends_with("#Ansible: root job\n@reboot date > /dev/null\n")
    );
    assert_eq!(
        b.read("etc/cron.d/prov-backup"),
        "MAILTO=\"ops@example.com\"\n#Ansible: backup\n0 2 * * * root /usr/local/bin/backup\n#Ansible: cleanup\n@daily www-data find /tmp -mtime +7 -delete\n"
    );
}

fn locales(root: &Root) -> String {
    let out = root.sh("locale -a");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn locale_gen_matches_ansible() {
    let play = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: generate two
      community.general.locale_gen:
        name: [de_CH.UTF-8, en_US.UTF-8]
    - name: generated already
      locale_gen: {name: C.UTF-8}
    - name: absent already
      locale_gen: {name: fr_FR.UTF-8, state: absent}
"#;
    let (a, b) = side_by_side_chroot(play, &[], &["etc/locale.gen"], |_, c| c);
    assert_eq!(locales(&a), locales(&b));
    assert!(
        locales(&b).contains("de_CH.utf8\nen_US.utf8\n"),
        "{}",
        locales(&b)
    );
    // Then one of them goes, under both.
    let project = Project::new().file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: remove one\n      locale_gen: {name: en_US.UTF-8, state: absent}\n",
    );
    let work = TempDir::new("config-locale");
    assert!(prov_chroot(&project, &b, true)["remove one"]);
    assert!(ansible_chroot(&project, &a, &work.path)["remove one"]);
    assert!(prov_chroot(&project, &b, false)["remove one"]);
    assert_eq!(a.read("etc/locale.gen"), b.read("etc/locale.gen"));
    assert_eq!(locales(&a), locales(&b));
    assert!(!locales(&b).contains("en_US"));
    assert!(!prov_chroot(&project, &b, false)["remove one"]);
}

#[test]
fn known_hosts_matches_ansible() {
    const K1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHD7bNvVeTZueVFF2LSdR0aUQyeAoElpTeiNi6vJwNnx";
    const K2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBjg4JJssjEKq+QzNheFtzcZiKKyCkhcjpCzwjk/fsBx";
    let two: &'static str = Box::leak(
        format!("# hosts\nexample.com {K2}\nother.org,10.0.0.9 {K1}\n[example.com]:2222 {K1}\n")
            .into_boxed_str(),
    );
    let key = |host: &str, k: &str| -> &'static str {
        Box::leak(
            format!("path: \"{{{{ f }}}}\"\nname: '{host}'\nkey: '{host} {k}'").into_boxed_str(),
        )
    };
    let cases = [
        Case {
            name: "new",
            seed: None,
            args: key("example.com", K1),
        },
        Case {
            name: "replace",
            seed: Some(two),
            args: key("example.com", K1),
        },
        Case {
            name: "same",
            seed: Some(two),
            args: key("other.org", K1),
        },
        Case {
            name: "port",
            seed: Some(two),
            args: key("[example.com]:2222", K2),
        },
        Case {
            name: "append",
            seed: Some(two),
            args: key("new.org", K1),
        },
        Case {
            name: "remove-key",
            seed: Some(two),
            args: Box::leak(format!("{}\nstate: absent", key("example.com", K2)).into_boxed_str()),
        },
        Case {
            name: "remove-host",
            seed: Some(two),
            args: "path: \"{{ f }}\"\nname: other.org\nstate: absent",
        },
        Case {
            name: "remove-nothing",
            seed: Some(two),
            args: "path: \"{{ f }}\"\nname: gone.org\nstate: absent",
        },
    ];
    side_by_side("ansible.builtin.known_hosts", &cases);
}

#[test]
fn known_hosts_default_path_is_the_users() {
    let play = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: ssh directory
      file: {path: /root/.ssh, state: directory, mode: "0700"}
    - name: learn a key
      known_hosts:
        name: git.example.org
        key: git.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHD7bNvVeTZueVFF2LSdR0aUQyeAoElpTeiNi6vJwNnx
"#;
    let (_a, b) = side_by_side_chroot(play, &[], &["root/.ssh"], |_, c| c);
    assert!(
        b.read("root/.ssh/known_hosts")
            .starts_with("git.example.org ssh-ed25519 ")
    );
}

#[test]
fn alternatives_match_ansible() {
    let play = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: select another choice
      community.general.alternatives: {name: iptables, path: /usr/sbin/iptables-legacy}
    - name: present already
      alternatives: {name: pager, path: /bin/more, state: present}
    - name: a new alternative
      alternatives:
        name: prov-head
        link: /usr/local/bin/prov-head
        path: /usr/bin/head
        priority: 15
        subcommands:
          - {name: prov-tail, link: /usr/local/bin/prov-tail, path: /usr/bin/tail}
    - name: auto already
      alternatives: {name: ip6tables, path: /usr/sbin/ip6tables-nft, state: auto}
    - name: another priority
      alternatives: {name: ebtables, path: /usr/sbin/ebtables-nft, priority: 7, state: present}
    - name: removed
      alternatives: {name: awk, path: /usr/bin/mawk, state: absent}
"#;
    let (_a, b) = side_by_side_chroot(
        play,
        &[],
        &[
            "etc/alternatives",
            "var/lib/dpkg/alternatives",
            "usr/local/bin",
        ],
        |_, c| c,
    );
    assert_eq!(
        std::fs::read_link(b.file("etc/alternatives/prov-head")).unwrap(),
        Path::new("/usr/bin/head")
    );
}
