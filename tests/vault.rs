//! Ansible Vault: data encrypted at test time by the fixtures' `ansible-vault` (ansible-core
//! 2.19) is decrypted by prov: whole files (`vars_files`, `group_vars`, `include_vars`,
//! `-e @file`) and inline `!vault` values, with the secrets from `--vault-password-file`
//! (a file or an executable), `--vault-id [label@]source`, `--ask-vault-pass` on stdin, and
//! ansible.cfg / `ANSIBLE_VAULT_PASSWORD_FILE`. Runs use the local connection against a
//! temporary directory.
//!
//! Failures are Ansible's (checked with ansible-playbook 2.19 on the same files):
//! - a vaulted vars file without secrets: "Attempting to decrypt but no vault secrets found.",
//!   exit 1; with a wrong password: "Decryption failed (no vault secrets were found that
//!   could decrypt).", exit 1;
//! - an inline `!vault` value is decrypted when used: with no or a wrong secret, the task
//!   that uses it fails ("Attempt to use undecryptable variable: ..."), exit 2; a value that
//!   is never used is no error at all.
//! - vaulted group_vars that cannot be decrypted: ansible-playbook and ansible-inventory exit
//!   4 (as if the host were unreachable); prov exits 1, as for any other vaulted vars file.

mod common;

use std::path::{Path, PathBuf};

use common::{Project, Prov};

/// The password the test data is encrypted with; it must never show in any output.
const PASSWORD: &str = "Pa55-vault-word";
/// The value inside; it must never show in an error.
const PLAIN: &str = "Inline-Pl4intext";

fn ansible_vault() -> PathBuf {
    common::ansible_playbook().with_file_name("ansible-vault")
}

/// Run `ansible-vault ARGS` in `dir`; its stdout.
fn vault(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(ansible_vault())
        .args(args)
        .current_dir(dir)
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .expect("run ansible-vault");
    assert!(
        out.status.success(),
        "ansible-vault {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `name: !vault |` and the envelope, indented by `indent` spaces.
fn inline(dir: &Path, secret_args: &[&str], name: &str, value: &str, indent: usize) -> String {
    let mut args = vec!["encrypt_string"];
    args.extend_from_slice(secret_args);
    args.extend_from_slice(&["--name", name, value]);
    let pad = " ".repeat(indent);
    vault(dir, &args)
        .lines()
        .map(|l| format!("{pad}{l}\n"))
        .collect()
}

/// Encrypt a file in place.
fn encrypt_file(project: &Project, rel: &str, secret_args: &[&str]) {
    let mut args = vec!["encrypt"];
    args.extend_from_slice(secret_args);
    args.push(rel);
    vault(&project.dir.path, &args);
    let text = std::fs::read_to_string(project.path(rel)).unwrap();
    assert!(text.starts_with("$ANSIBLE_VAULT;1."), "{text}");
}

/// A project whose playbook writes every decrypted value into `out.txt`: a vaulted vars
/// file, vaulted group_vars, a vaulted `include_vars` file, a vaulted `-e @file`, vaulted role
/// defaults, and inline values in play vars (one nested in a mapping) and in a task's
/// arguments.
fn project() -> Project {
    let p = Project::new()
        .file("pw", &format!("{PASSWORD}\n"))
        .file(
            "inventory/hosts.yml",
            "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n",
        )
        .file(
            "inventory/group_vars/all.yml",
            "from_group_vars: gv-value\n",
        )
        .file("vars/secret.yml", "from_vars_files: vf-value\n")
        .file("vars/included.yml", "from_include_vars: iv-value\n")
        .file("extra.yml", "from_extra: ev-value\n")
        .file("roles/r/defaults/main.yml", "from_role: rd-value\n")
        .file("roles/r/tasks/main.yml", "- debug: msg=role\n");
    for f in [
        "inventory/group_vars/all.yml",
        "vars/secret.yml",
        "vars/included.yml",
        "extra.yml",
        "roles/r/defaults/main.yml",
    ] {
        encrypt_file(&p, f, &["--vault-password-file", "pw"]);
    }
    let dir = &p.dir.path;
    let play_var = inline(
        dir,
        &["--vault-password-file", "pw"],
        "inline_var",
        PLAIN,
        4,
    );
    let task_arg = inline(
        dir,
        &["--vault-password-file", "pw"],
        "content",
        "task-arg\n",
        8,
    );
    let nested = inline(
        dir,
        &["--vault-password-file", "pw"],
        "password",
        "nested-pw",
        6,
    );
    let playbook = format!(
        r#"- hosts: localhost
  gather_facts: false
  vars_files: [vars/secret.yml]
  roles: [r]
  vars:
{play_var}    creds:
      user: admin
{nested}    unused_secret: !vault |
      $ANSIBLE_VAULT;1.1;AES256
      6162
  tasks:
    - include_vars: vars/included.yml
    - copy:
        dest: "{{{{ out }}}}/out.txt"
        content: "{{{{ [inline_var, from_vars_files, from_group_vars, from_include_vars, from_extra, creds.password, from_role] | join(' ') }}}}\n"
    - copy:
        dest: "{{{{ out }}}}/arg.txt"
{task_arg}"#
    );
    p.file("site.yml", &playbook)
}

fn run(p: &Project, extra: &[&str]) -> common::Run {
    let out = p.path("out");
    std::fs::create_dir_all(&out).unwrap();
    Prov::apply(p, "site.yml")
        .args(["-i", "inventory", "-e", "@extra.yml", "-e"])
        .arg(format!("out={}", out.display()))
        .args(extra)
        .run()
}

fn assert_decrypted(p: &Project) {
    let got = std::fs::read_to_string(p.path("out/out.txt")).unwrap();
    assert_eq!(
        got,
        format!("{PLAIN} vf-value gv-value iv-value ev-value nested-pw rd-value\n")
    );
    assert_eq!(
        std::fs::read_to_string(p.path("out/arg.txt")).unwrap(),
        "task-arg\n"
    );
}

fn assert_no_secret(r: &common::Run) {
    for s in [PASSWORD, PLAIN] {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "{s} shown\n--- stdout:\n{}\n--- stderr:\n{}",
            r.stdout,
            r.stderr
        );
    }
}

#[test]
fn vaulted_files_and_inline_values_are_decrypted_with_a_password_file() {
    let p = project();
    // The `unused_secret` above is not even well-formed: never used, it is no error.
    run(&p, &["--vault-password-file", "pw"]).ok();
    assert_decrypted(&p);
    // check mode reads the same files; the written files are unchanged.
    Prov::new()
        .cwd(&p.dir.path)
        .args(["check", "site.yml", "-i", "inventory", "-e", "@extra.yml"])
        .arg(format!("-eout={}", p.path("out").display()))
        .args(["--vault-password-file", "pw"])
        .run()
        .ok()
        .stdout_has("changed=0");
    // An executable password file is run; its output is the password.
    let script = p.path("pw.sh");
    std::fs::write(&script, format!("#!/bin/sh\necho '{PASSWORD}'\n")).unwrap();
    let exec = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&script, exec).unwrap();
    std::fs::remove_dir_all(p.path("out")).unwrap();
    run(&p, &["--vault-password-file", "pw.sh"]).ok();
    assert_decrypted(&p);
    // ansible.cfg's vault_password_file, and ANSIBLE_VAULT_PASSWORD_FILE.
    std::fs::remove_dir_all(p.path("out")).unwrap();
    let cfg = p.path("ansible.cfg");
    std::fs::write(&cfg, "[defaults]\nvault_password_file = pw\n").unwrap();
    let r = run(&p, &[]);
    r.ok();
    assert_decrypted(&p);
    std::fs::remove_file(cfg).unwrap();
    std::fs::remove_dir_all(p.path("out")).unwrap();
    std::fs::create_dir_all(p.path("out")).unwrap();
    Prov::apply(&p, "site.yml")
        .args(["-i", "inventory", "-e", "@extra.yml"])
        .arg(format!("-eout={}", p.path("out").display()))
        .env("ANSIBLE_VAULT_PASSWORD_FILE", "pw.sh")
        .run()
        .ok();
    assert_decrypted(&p);
}

#[test]
fn ask_vault_pass_reads_a_line_of_stdin_without_a_terminal() {
    let p = project();
    std::fs::create_dir_all(p.path("out")).unwrap();
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "inventory", "-e", "@extra.yml", "-J"])
        .arg(format!("-eout={}", p.path("out").display()))
        .stdin(&format!("{PASSWORD}\n"))
        .run();
    r.ok();
    assert!(r.stderr.contains("Vault password: "), "{}", r.stderr);
    assert_no_secret(&r);
    assert_decrypted(&p);
    // An empty answer (or none: stdin at its end) is an error before anything runs.
    for input in ["\n", ""] {
        Prov::apply(&p, "site.yml")
            .arg("--ask-vault-pass")
            .stdin(input)
            .run()
            .code(1)
            .stderr_has("Invalid vault password was provided");
    }
    // With -K too, the become password is asked first, as ansible-playbook asks.
    std::fs::remove_dir_all(p.path("out")).unwrap();
    std::fs::create_dir_all(p.path("out")).unwrap();
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "inventory", "-e", "@extra.yml", "-K", "-J"])
        .arg(format!("-eout={}", p.path("out").display()))
        .stdin(&format!("become-pass\n{PASSWORD}\n"))
        .run();
    r.ok();
    let become_at = r.stderr.find("BECOME password: ").unwrap();
    assert!(become_at < r.stderr.find("Vault password: ").unwrap());
    assert_decrypted(&p);
}

#[test]
fn vault_ids_pick_the_labelled_secret_and_try_all_of_them() {
    let p = Project::new()
        .file("a.pw", "alpha-pass\n")
        .file("b.pw", "beta-pass\n")
        .file("vars.yml", "from_b: b-value\n");
    encrypt_file(&p, "vars.yml", &["--vault-id", "b@b.pw"]);
    let dir = &p.dir.path;
    let a = inline(dir, &["--vault-id", "a@a.pw"], "va", "a-value", 4);
    let b = inline(dir, &["--vault-id", "b@b.pw"], "vb", "b-inline", 4);
    assert!(a.contains("$ANSIBLE_VAULT;1.2;AES256;a"), "{a}");
    let out = p.path("out.txt");
    let playbook = format!(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  vars_files: [vars.yml]\n  vars:\n{a}{b}  tasks:\n    - copy: {{dest: {}, content: \"{{{{ va }}}} {{{{ vb }}}} {{{{ from_b }}}}\"}}\n",
        out.display()
    );
    let p = p.file("site.yml", &playbook);
    // Labels as written; a label that names no envelope's (and a bare source) works too,
    // since every secret is tried after the labelled one.
    for ids in [
        ["a@a.pw", "b@b.pw"],
        ["b@a.pw", "a@b.pw"],
        ["a.pw", "other@b.pw"],
    ] {
        let mut args = Vec::new();
        for id in ids {
            args.extend(["--vault-id", id]);
        }
        Prov::apply(&p, "site.yml").args(&args).run().ok();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "a-value b-inline b-value"
        );
        std::fs::remove_file(&out).unwrap();
    }
    // `--vault-id label@prompt` asks "Vault password (label): ", here on stdin.
    let r = Prov::apply(&p, "site.yml")
        .args(["--vault-id", "a@a.pw", "--vault-id", "b@prompt"])
        .stdin("beta-pass\n")
        .run();
    r.ok();
    assert!(r.stderr.contains("Vault password (b): "), "{}", r.stderr);
    // Only one of the two: the vars file (b) cannot be opened.
    Prov::apply(&p, "site.yml")
        .args(["--vault-id", "a@a.pw"])
        .run()
        .code(1)
        .stderr_has(
            "vars.yml:1:1: Decryption failed (no vault secrets were found that could decrypt).",
        );
}

#[test]
fn a_wrong_or_missing_password_is_ansibles_error_and_exit_code() {
    let p = project().file("wrong", "not-the-password\n");
    // A vaulted vars file (here -e @extra.yml, read first) cannot be opened: exit 1.
    let r = run(&p, &["--vault-password-file", "wrong"]);
    r.code(1).stderr_has(
        "extra.yml:1:1: Decryption failed (no vault secrets were found that could decrypt).",
    );
    assert_no_secret(&r);
    let r = run(&p, &[]);
    r.code(1)
        .stderr_has("extra.yml:1:1: Attempting to decrypt but no vault secrets found.");
    // Inline values only: the task that uses one fails (exit 2), naming where it was written
    // (the block scalar's position as the YAML parser reports it: its first line).
    let dir = &p.dir.path;
    let secret = inline(dir, &["--vault-password-file", "pw"], "secret", PLAIN, 4);
    let p = p.file(
        "inline.yml",
        &format!(
            "- hosts: localhost\n  connection: local\n  gather_facts: false\n  vars:\n{secret}  tasks:\n    - debug: msg=before\n    - debug: msg={{{{ secret }}}}\n"
        ),
    );
    for (args, why) in [
        (
            &["--vault-password-file", "wrong"][..],
            "Decryption failed (no vault secrets were found that could decrypt).",
        ),
        (&[][..], "Attempting to decrypt but no vault secrets found."),
    ] {
        let r = Prov::apply(&p, "inline.yml").args(args).run();
        r.code(2)
            .stdout_has("ok: [localhost]")
            .stdout_has(&format!(
                "inline.yml:6:15: while templating variable 'secret': Attempt to use undecryptable variable: {why}"
            ));
        assert_no_secret(&r);
    }
    Prov::apply(&p, "inline.yml")
        .args(["--vault-password-file", "pw"])
        .run()
        .ok()
        .stdout_has(PLAIN);
    // A password file that does not exist (and no other secret): exit 1.
    Prov::apply(&p, "inline.yml")
        .args(["--vault-password-file", "nope"])
        .run()
        .code(1)
        .stderr_has("The vault password file nope was not found");
}

#[test]
fn inventory_command_decrypts_group_vars() {
    // An inline value is shown as ansible-inventory shows it, never decrypted:
    // {"__ansible_vault": "<the envelope>"}.
    let p = project();
    let host_var = inline(
        &p.dir.path,
        &["--vault-password-file", "pw"],
        "hv",
        PLAIN,
        6,
    );
    let p = p.file(
        "inventory/hosts.yml",
        &format!("all:\n  hosts:\n    localhost:\n{host_var}"),
    );
    let r = Prov::new()
        .cwd(&p.dir.path)
        .args(["inventory", "-i", "inventory", "--host", "localhost"])
        .args(["--vault-password-file", "pw"])
        .run();
    r.ok()
        .stdout_has("\"hv\": {\n    \"__ansible_vault\": \"$ANSIBLE_VAULT;1.1;AES256\\n");
    assert_no_secret(&r);
    Prov::new()
        .cwd(&p.dir.path)
        .args(["inventory", "-i", "inventory", "--host", "localhost"])
        .args(["--vault-password-file", "pw"])
        .run()
        .ok()
        .stdout_has("\"from_group_vars\": \"gv-value\"");
    Prov::new()
        .cwd(&p.dir.path)
        .args(["inventory", "-i", "inventory", "--list"])
        .run()
        .code(1)
        .stderr_has("all.yml:1:1: Attempting to decrypt but no vault secrets found.");
}

#[test]
fn vaulted_copy_and_template_sources_and_file_lookups_are_decrypted() {
    // Ansible decrypts a vaulted `copy` src (unless `decrypt: false`), `template` src, and
    // the files of the `file` and `template` lookups.
    let p = Project::new()
        .file("pw", PASSWORD)
        .file("files/plain.txt", "copied secret\n")
        .file("files/dir/inner.txt", "inner secret\n")
        .file("templates/t.j2", "hello {{ who }}\n");
    for f in ["files/plain.txt", "files/dir/inner.txt", "templates/t.j2"] {
        encrypt_file(&p, f, &["--vault-password-file", "pw"]);
    }
    let out = p.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = out.display();
    let playbook = format!(
        r#"- hosts: localhost
  connection: local
  gather_facts: false
  vars: {{who: world}}
  tasks:
    - copy: {{src: plain.txt, dest: {o}/copied.txt}}
    - copy: {{src: plain.txt, dest: {o}/raw.txt, decrypt: false}}
    - copy: {{src: dir/, dest: {o}/dir/}}
    - template: {{src: t.j2, dest: {o}/t.txt}}
    - copy:
        dest: {o}/lookups.txt
        content: "{{{{ lookup('file', 'plain.txt') }}}}|{{{{ lookup('template', 't.j2') }}}}"
"#
    );
    let p = p.file("site.yml", &playbook);
    Prov::apply(&p, "site.yml")
        .args(["--vault-password-file", "pw"])
        .run()
        .ok();
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    assert_eq!(read("copied.txt"), "copied secret\n");
    assert_eq!(read("dir/inner.txt"), "inner secret\n");
    assert_eq!(read("t.txt"), "hello world\n");
    assert_eq!(read("lookups.txt"), "copied secret|hello world\n");
    assert!(read("raw.txt").starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
    // Without the secret, the copy fails on the host (exit 2), naming the file (Ansible's
    // words there: "A vault password or secret must be specified to decrypt FILE").
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    Prov::apply(&p, "site.yml")
        .run()
        .code(2)
        .stdout_has("plain.txt")
        .stdout_has("Attempting to decrypt but no vault secrets found.");
}
