//! The git module, natively, side by side with ansible-playbook on this machine (`-c local`):
//! a bare repository with commits and tags in a temporary directory, cloned by its path (made
//! `file://` as Ansible does), updated when a new commit arrives, checked out by branch, tag
//! (plain and annotated) and SHA, refused over local modifications without `force` and reset
//! with it, and with a submodule that moves. Each stage runs with Ansible on a checkout of its own and with prov on another;
//! `changed`, `before` and `after` must agree, check mode must report the change and leave
//! the checkout alone, and a second run must change nothing. Nothing leaves this machine.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Project, Prov, TempDir, ansible_playbook, ansible_python};
use serde_json::Value;

const PLAY: &str = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: checkout
      git:
        repo: "{{ repo }}"
        dest: "{{ d }}"
        version: "{{ v | default('HEAD') }}"
        force: "{{ f | default(false) }}"
        depth: "{{ depth | default(omit) }}"
      register: r
"#;

/// A git command in `dir` that must succeed; its stdout trimmed.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The upstream: a work tree `src` pushing to the bare `remote.git`.
struct Upstream {
    tmp: TempDir,
}

impl Upstream {
    fn new() -> Upstream {
        let tmp = TempDir::new("git");
        let src = tmp.path.join("src");
        std::fs::create_dir_all(&src).unwrap();
        git(&src, &["init", "-q", "-b", "main"]);
        let u = Upstream { tmp };
        u.commit("one\n");
        git(&src, &["tag", "v1"]);
        git(&src, &["tag", "-a", "v1-annotated", "-m", "release one"]);
        git(&u.tmp.path, &["clone", "-q", "--bare", "src", "remote.git"]);
        git(
            &src,
            &["remote", "add", "origin", u.remote().to_str().unwrap()],
        );
        u
    }

    fn src(&self) -> PathBuf {
        self.tmp.path.join("src")
    }

    fn remote(&self) -> PathBuf {
        self.tmp.path.join("remote.git")
    }

    /// Commit `content` as file.txt (and push it when the remote exists); its SHA.
    fn commit(&self, content: &str) -> String {
        std::fs::write(self.src().join("file.txt"), content).unwrap();
        git(&self.src(), &["add", "file.txt"]);
        git(&self.src(), &["commit", "-q", "-m", content.trim()]);
        if self.remote().exists() {
            git(&self.src(), &["push", "-q", "origin", "main"]);
        }
        git(&self.src(), &["rev-parse", "HEAD"])
    }
}

/// One engine's result of the task, as (status, result fields).
#[derive(Debug)]
struct Outcome {
    changed: bool,
    failed: bool,
    msg: String,
    before: Value,
    after: Value,
    remote_url_changed: Value,
    diff: Value,
}

fn vars(u: &Upstream, dest: &Path, extra: &[(&str, &str)]) -> Vec<String> {
    let mut v = vec![
        format!("repo={}", u.remote().display()),
        format!("d={}", dest.display()),
    ];
    v.extend(extra.iter().map(|(k, val)| format!("{k}={val}")));
    v.into_iter().flat_map(|e| ["-e".to_string(), e]).collect()
}

fn prov(p: &Project, u: &Upstream, dest: &Path, extra: &[(&str, &str)], flags: &[&str]) -> Outcome {
    let r = Prov::apply(p, "site.yml")
        .args(["-i", "localhost,", "-c", "local"])
        .args(vars(u, dest, extra))
        .args(flags)
        // Any fallback to Ansible's module code fails the run.
        .env("PROV_ANSIBLE_PYTHON", "/nonexistent/python3")
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "protocol.file.allow")
        .env("GIT_CONFIG_VALUE_0", "always")
        .json()
        .run();
    let t = r.task("localhost", "checkout");
    let res = &t["result"];
    Outcome {
        changed: t["status"] == "changed",
        failed: t["status"] == "failed",
        msg: t["msg"].as_str().unwrap_or_default().to_string(),
        before: res["before"].clone(),
        after: res["after"].clone(),
        remote_url_changed: res["remote_url_changed"].clone(),
        diff: t["diff"].clone(),
    }
}

fn ansible(
    p: &Project,
    u: &Upstream,
    dest: &Path,
    extra: &[(&str, &str)],
    flags: &[&str],
) -> Outcome {
    let home = p.path("ansible-home");
    let out = Command::new(ansible_playbook())
        .current_dir(&p.dir.path)
        .args(["-i", "localhost,", "-c", "local", "site.yml"])
        .args(vars(u, dest, extra))
        .arg("-e")
        .arg(format!(
            "ansible_python_interpreter={}",
            ansible_python().display()
        ))
        .args(flags)
        .env("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json")
        .env("ANSIBLE_HOME", &home)
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        // Submodules by path (git refuses the file protocol for them unless allowed).
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "protocol.file.allow")
        .env("GIT_CONFIG_VALUE_0", "always")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "ansible-playbook: {e}\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let t = doc["plays"][0]["tasks"][0]["hosts"]["localhost"].clone();
    Outcome {
        changed: t["changed"] == true,
        failed: t["failed"] == true,
        msg: t["msg"].as_str().unwrap_or_default().to_string(),
        before: t["before"].clone(),
        after: t["after"].clone(),
        remote_url_changed: t["remote_url_changed"].clone(),
        diff: t["diff"].clone(),
    }
}

/// The same stage with both engines, each on its own checkout: they must agree.
fn both(
    p: &Project,
    u: &Upstream,
    (mine, theirs): (&Path, &Path),
    extra: &[(&str, &str)],
    flags: &[&str],
) -> Outcome {
    let a = ansible(p, u, theirs, extra, flags);
    let r = prov(p, u, mine, extra, flags);
    let what = format!("{extra:?} {flags:?}: prov {r:?}\nansible {a:?}");
    assert_eq!(r.changed, a.changed, "{what}");
    assert_eq!(r.failed, a.failed, "{what}");
    if !r.failed {
        assert_eq!(r.before, a.before, "{what}");
        assert_eq!(r.after, a.after, "{what}");
        assert_eq!(r.remote_url_changed, a.remote_url_changed, "{what}");
    }
    r
}

fn head(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"])
}

fn content(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("file.txt")).unwrap()
}

#[test]
fn git_clones_updates_and_switches_as_ansible() {
    let u = Upstream::new();
    let sha1 = git(&u.src(), &["rev-parse", "HEAD"]);
    let p = Project::new().file("site.yml", PLAY);
    let work = TempDir::new("git-work");
    let (mine, theirs) = (work.path.join("prov/co"), work.path.join("ansible/co"));
    let dests = (mine.as_path(), theirs.as_path());

    // Check mode on nothing: a clone would happen; nothing is written.
    let r = both(&p, &u, dests, &[], &["--check", "--diff"]);
    assert!(r.changed && r.before.is_null());
    assert_eq!(r.after, sha1.as_str());
    assert_eq!(r.diff[0]["after"], format!("{sha1}\n"));
    assert!(!mine.exists());

    // The clone, then nothing to do.
    let r = both(&p, &u, dests, &[], &[]);
    assert!(r.changed);
    assert_eq!(head(&mine), sha1);
    assert_eq!(content(&mine), "one\n");
    let r = both(&p, &u, dests, &[], &[]);
    assert!(!r.changed);
    assert_eq!(r.before, r.after);
    assert_eq!(r.remote_url_changed, false);

    // A new commit upstream: check mode sees it (ls-remote) and leaves the checkout; apply moves.
    let sha2 = u.commit("two\n");
    let r = both(&p, &u, dests, &[], &["--check", "--diff"]);
    assert!(r.changed);
    assert_eq!(
        (r.before.as_str(), r.after.as_str()),
        (Some(sha1.as_str()), Some(sha2.as_str()))
    );
    assert_eq!(head(&mine), sha1);
    let r = both(&p, &u, dests, &[], &[]);
    assert!(r.changed);
    assert_eq!(head(&mine), sha2);
    assert_eq!(content(&mine), "two\n");

    // Versions: a tag, a SHA, a branch, an annotated tag (its commit).
    both(&p, &u, dests, &[("v", "v1")], &[]);
    assert_eq!(content(&mine), "one\n");
    both(&p, &u, dests, &[("v", &sha2)], &[]);
    assert_eq!(head(&mine), sha2);
    let r = both(&p, &u, dests, &[("v", "main")], &[]);
    assert!(!r.changed);
    let r = both(&p, &u, dests, &[("v", "v1-annotated")], &["--check"]);
    assert_eq!(r.after, sha1.as_str());
    let r = both(&p, &u, dests, &[("v", "v1-annotated")], &[]);
    assert!(r.changed);
    assert_eq!(head(&mine), sha1);
    both(&p, &u, dests, &[("v", "main")], &[]);
    assert_eq!(head(&mine), sha2);

    // Local modifications: refused (check mode too) without force, discarded with it.
    for d in [&mine, &theirs] {
        std::fs::write(d.join("file.txt"), "local edit\n").unwrap();
    }
    for flags in [&["--check"][..], &[]] {
        let r = both(&p, &u, dests, &[("v", "main")], flags);
        assert!(r.failed);
        assert_eq!(
            r.msg,
            format!(
                "Local modifications exist in the destination: {} (force=no).",
                mine.display()
            )
        );
    }
    assert_eq!(content(&mine), "local edit\n");
    let r = both(&p, &u, dests, &[("v", "main"), ("f", "true")], &[]);
    assert!(r.changed);
    assert_eq!(content(&mine), "two\n");
    let r = both(&p, &u, dests, &[("v", "main"), ("f", "true")], &[]);
    assert!(!r.changed);

    // An untracked file is no modification.
    std::fs::write(mine.join("untracked"), "x").unwrap();
    std::fs::write(theirs.join("untracked"), "x").unwrap();
    assert!(!both(&p, &u, dests, &[("v", "main")], &[]).changed);
}

#[test]
fn git_shallow_clone_and_a_moved_remote_as_ansible() {
    let u = Upstream::new();
    let sha2 = u.commit("two\n");
    let p = Project::new().file("site.yml", PLAY);
    let work = TempDir::new("git-shallow");
    let (mine, theirs) = (work.path.join("prov/co"), work.path.join("ansible/co"));
    let dests = (mine.as_path(), theirs.as_path());

    let r = both(&p, &u, dests, &[("v", "main"), ("depth", "1")], &[]);
    assert!(r.changed);
    assert_eq!(head(&mine), sha2);
    assert_eq!(git(&mine, &["rev-list", "--count", "HEAD"]), "1");
    assert_eq!(git(&theirs, &["rev-list", "--count", "HEAD"]), "1");
    let r = both(&p, &u, dests, &[("v", "main"), ("depth", "1")], &[]);
    assert!(!r.changed);

    // The remote moves (a copy at another path): the URL change is the change.
    let moved = u.tmp.path.join("moved.git");
    git(
        &u.tmp.path,
        &["clone", "-q", "--bare", "remote.git", "moved.git"],
    );
    let moved = moved.display().to_string();
    let extra = [("v", "main"), ("repo", moved.as_str())];
    let r = both(&p, &u, dests, &extra, &["--check"]);
    assert!(r.changed);
    assert_eq!(r.remote_url_changed, true);
    let r = both(&p, &u, dests, &extra, &[]);
    assert!(r.changed);
    assert_eq!(
        git(&mine, &["remote", "get-url", "origin"]),
        format!("file://{moved}")
    );
    assert!(!both(&p, &u, dests, &extra, &[]).changed);

    // A repository that is not there: both fail, neither writes.
    let gone = work.path.join("gone");
    let extra = [("repo", "/nonexistent/repo.git")];
    let r = prov(&p, &u, &gone, &extra, &[]);
    assert!(r.failed, "{r:?}");
    assert!(r.msg.contains("nonexistent"), "{}", r.msg);
    assert!(ansible(&p, &u, &gone, &extra, &[]).failed);
    assert!(!gone.exists());
}

#[test]
fn git_submodules_as_ansible() {
    let u = Upstream::new();
    // A library repository, a submodule of the upstream at lib/.
    let lib = u.tmp.path.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    git(&lib, &["init", "-q", "-b", "main"]);
    std::fs::write(lib.join("lib.txt"), "lib one\n").unwrap();
    git(&lib, &["add", "lib.txt"]);
    git(&lib, &["commit", "-q", "-m", "lib one"]);
    git(&u.tmp.path, &["clone", "-q", "--bare", "lib", "lib.git"]);
    git(&lib, &["remote", "add", "origin", "../lib.git"]);
    let lib_url = u.tmp.path.join("lib.git").display().to_string();
    git(&u.src(), &["submodule", "add", "-q", &lib_url, "lib"]);
    git(&u.src(), &["commit", "-q", "-m", "with lib"]);
    git(&u.src(), &["push", "-q", "origin", "main"]);

    let p = Project::new().file("site.yml", PLAY);
    let work = TempDir::new("git-sub");
    let (mine, theirs) = (work.path.join("prov/co"), work.path.join("ansible/co"));
    let dests = (mine.as_path(), theirs.as_path());
    assert!(both(&p, &u, dests, &[], &[]).changed);
    assert_eq!(
        std::fs::read_to_string(mine.join("lib/lib.txt")).unwrap(),
        "lib one\n"
    );
    assert!(!both(&p, &u, dests, &[], &[]).changed);

    // The library moves and the upstream follows it.
    std::fs::write(lib.join("lib.txt"), "lib two\n").unwrap();
    git(&lib, &["commit", "-q", "-am", "lib two"]);
    git(&lib, &["push", "-q", "origin", "main"]);
    let sub = u.src().join("lib");
    git(&sub, &["pull", "-q", "origin", "main"]);
    git(&u.src(), &["commit", "-q", "-am", "lib two"]);
    git(&u.src(), &["push", "-q", "origin", "main"]);
    assert!(both(&p, &u, dests, &[], &["--check"]).changed);
    assert_eq!(
        std::fs::read_to_string(mine.join("lib/lib.txt")).unwrap(),
        "lib one\n"
    );
    assert!(both(&p, &u, dests, &[], &[]).changed);
    assert_eq!(
        std::fs::read_to_string(mine.join("lib/lib.txt")).unwrap(),
        "lib two\n"
    );
    assert_eq!(
        std::fs::read_to_string(theirs.join("lib/lib.txt")).unwrap(),
        "lib two\n"
    );
    assert!(!both(&p, &u, dests, &[], &[]).changed);
}
