//! The SSH transport against real OpenSSH servers (tests/common/ssh.rs): the module scenario
//! on one and ten hosts, authentication, host keys, proxies, become, failures and timeouts.
//! The worker playbook over SSH is in tests/ssh_worker.rs.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::scenario::{MODULES_CHANGED, assert_modules_applied, modules_project};
use common::ssh::{
    Agent, Client, SUDO_PASSWORD, SshHost, assert_nothing_changed, assert_round_trips,
};
use common::{Project, Run, wait_until};

#[test]
fn module_scenario_on_one_then_ten_hosts() {
    let client = Client::new();
    let hosts = SshHost::many("node", 10, &client);
    let all: Vec<&SshHost> = hosts.iter().collect();
    client.trust(&all);
    let p = modules_project().file("hosts.yml", &client.inventory(&all, "tester"));
    let apply = |limit: &str, extra: &[&str]| {
        client
            .prov()
            .cwd(&p.dir.path)
            .args([
                "apply",
                "site.yml",
                "-i",
                "hosts.yml",
                "--become",
                "--limit",
                limit,
            ])
            .args(extra)
            .json()
            .run()
    };

    // One host: the dry run predicts exactly what apply then does, and touches nothing.
    let first = &hosts[0];
    let before = first.root.snapshot();
    let check = apply("node-1", &["--check", "--diff"]);
    check.ok();
    assert_eq!(before.diff(&first.root.snapshot()), Vec::<String>::new());
    let run = apply("node-1", &[]);
    run.ok();
    assert_eq!(
        check.tasks_with("node-1", "changed"),
        run.tasks_with("node-1", "changed")
    );
    assert!(run.stats("node-1")["changed"].as_u64().unwrap() >= MODULES_CHANGED);
    assert_modules_applied(&first.root);

    // Ten hosts at once: nine converge, the first has nothing left to do.
    let run = apply("all", &[]);
    run.ok();
    assert_eq!(run.stats("node-1")["changed"], 0);
    for h in &hosts[1..] {
        assert!(
            run.stats(&h.name)["changed"].as_u64().unwrap() >= MODULES_CHANGED,
            "{}",
            h.name
        );
        assert_modules_applied(&h.root);
    }
    assert_round_trips(&run, &all);

    // Idempotent: nothing changes, one connection and at most one round trip per task.
    let again = apply("all", &[]);
    again.ok();
    assert_nothing_changed(&again, &all);
    assert_round_trips(&again, &all);

    // The text output stays readable: one line per task and status, not one per host.
    let text = client.apply(&p, "site.yml").args(["--become"]).run();
    text.ok();
    let task = text
        .stdout
        .split("TASK [config from content]")
        .nth(1)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap();
    assert_eq!(
        task,
        "ok: [node-1, node-2, node-3, node-4, node-5, node-6, node-7, node-8, node-9, node-10]",
        "{}",
        text.stdout
    );
}

fn one_host_project(inventory: &str) -> Project {
    Project::new()
        .file("hosts.yml", inventory)
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: who\n      command: id -un\n      register: who\n      changed_when: false\n",
        )
}

#[test]
fn authentication_by_key_file_agent_and_the_errors() {
    let client = Client::new();
    let host = SshHost::start("auth-1", &client);
    client.trust(&[&host]);
    let apply = |p: &Project| client.apply(p, "site.yml").json();

    // Key file from the inventory.
    let p = one_host_project(&client.inventory(&[&host], "tester"));
    let run = apply(&p).run();
    run.ok();
    assert_eq!(run.task("auth-1", "who")["result"]["stdout"], "tester");

    // No key anywhere: the agent's key is used.
    let bare = format!(
        "all:\n  hosts:\n    auth-1: {{ansible_host: 127.0.0.1, ansible_port: {}, ansible_user: tester}}\n",
        host.port
    );
    let p = one_host_project(&bare);
    let agent = Agent::start(&client.key);
    let run = apply(&p)
        .env("SSH_AUTH_SOCK", agent.socket.to_str().unwrap())
        .run();
    run.ok();
    assert_eq!(run.task("auth-1", "who")["result"]["stdout"], "tester");
    drop(agent);

    // Nothing to authenticate with: unreachable (4), saying what was tried.
    let run = apply(&p).run();
    run.code(4);
    let msg = run.task_msg("auth-1", "who");
    assert!(
        msg.contains("authentication failed (tried: nothing"),
        "{msg}"
    );

    // A wrong user: the methods tried are named.
    let p = one_host_project(&client.inventory(&[&host], "nosuchuser"));
    let run = apply(&p).run();
    run.code(4);
    let msg = run.task_msg("auth-1", "who");
    assert!(
        msg.contains("nosuchuser@127.0.0.1")
            && msg.contains("authentication failed")
            && msg.contains(&format!("key {}", client.key.display())),
        "{msg}"
    );

    // RSA (rsa-sha2-256/512: OpenSSH no longer accepts ssh-rsa), ECDSA, and an encrypted key.
    for (kind, pass) in [("rsa", ""), ("ecdsa", ""), ("ed25519", "correct horse")] {
        let key = client.dir.path.join(format!("id_{kind}_extra"));
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", pass, "-f"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut keys = host.root.read("etc/ssh/test_keys/tester");
        keys.push_str(&std::fs::read_to_string(key.with_extension("pub")).unwrap());
        host.root.write("etc/ssh/test_keys/tester", &keys);
        let inv = format!(
            "all:\n  hosts:\n    auth-1: {{ansible_host: 127.0.0.1, ansible_port: {}, ansible_user: tester, ansible_ssh_private_key_file: {}}}\n",
            host.port,
            key.display()
        );
        let p = one_host_project(&inv);
        if pass.is_empty() {
            apply(&p).run().ok();
        } else {
            let run = apply(&p).run();
            run.code(4);
            assert!(run.stdout.contains("is encrypted"), "{}", run.stdout);
            apply(&p).env("PROV_SSH_KEY_PASSPHRASE", pass).run().ok();
        }
    }
}

#[test]
fn host_keys_are_verified() {
    let client = Client::new();
    let host = SshHost::start("keys-1", &client);
    let other = SshHost::start("keys-2", &client);
    let p = one_host_project(&client.inventory(&[&host], "tester"));
    let apply = |extra: &[&str]| client.apply(&p, "site.yml").args(extra).json().run();
    let msg = |run: &Run| run.task_msg("keys-1", "who");
    let fingerprint = |key_line: &str| {
        let f = client.dir.path.join("fp.pub");
        std::fs::write(&f, key_line).unwrap();
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(&f)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };

    // Unknown host, strict (the default): refused, with the key it offered.
    let run = apply(&[]);
    run.code(4);
    assert!(msg(&run).contains("not in known_hosts"), "{}", msg(&run));
    assert!(msg(&run).contains(&fingerprint(&host.host_key)));
    assert!(!client.known_hosts().exists());

    // accept-new records it; strict then accepts it.
    apply(&["--host-key-checking", "accept-new"]).ok();
    let known = std::fs::read_to_string(client.known_hosts()).unwrap();
    assert_eq!(
        known,
        format!("[127.0.0.1]:{} {}\n", host.port, host.host_key)
    );
    apply(&[]).ok();

    // Hashed entries as ssh-keyscan -H writes them.
    let scan = Command::new("ssh-keyscan")
        .args([
            "-H",
            "-t",
            "ed25519",
            "-p",
            &host.port.to_string(),
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    let hashed = String::from_utf8_lossy(&scan.stdout).into_owned();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    std::fs::write(client.known_hosts(), &hashed).unwrap();
    apply(&[]).ok();

    // A changed key is refused, whatever the mode short of off, and never recorded.
    let changed = format!("[127.0.0.1]:{} {}\n", host.port, other.host_key);
    std::fs::write(client.known_hosts(), &changed).unwrap();
    for extra in [&[][..], &["--host-key-checking", "accept-new"][..]] {
        let run = apply(extra);
        run.code(4);
        let m = msg(&run);
        assert!(
            m.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
                && m.contains(&fingerprint(&host.host_key))
                && m.contains(&fingerprint(&other.host_key)),
            "{m}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(client.known_hosts()).unwrap(),
        changed
    );

    // @revoked wins over a matching entry.
    std::fs::write(
        client.known_hosts(),
        format!(
            "[127.0.0.1]:{} {}\n@revoked * {}\n",
            host.port, host.host_key, host.host_key
        ),
    )
    .unwrap();
    let run = apply(&[]);
    run.code(4);
    assert!(msg(&run).contains("@revoked"), "{}", msg(&run));

    // off: no verification at all (Ansible's host_key_checking = False).
    std::fs::write(client.known_hosts(), &changed).unwrap();
    apply(&["--host-key-checking", "off"]).ok();
    let p2 = Project::new()
        .file("ansible.cfg", "[defaults]\nhost_key_checking = False\n")
        .file("hosts.yml", &client.inventory(&[&host], "tester"))
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n",
        );
    client.apply(&p2, "site.yml").run().ok();
}

#[test]
fn proxy_command_proxy_jump_and_ssh_config() {
    let client = Client::new();
    let target = SshHost::start("target", &client);
    let jump = SshHost::start_verbose("jump", &client);
    client.trust(&[&target, &jump]);
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: where\n      command: hostname\n      register: where\n      changed_when: false\n";

    // The seed's control-plane form, verbatim: a stand-in cloudflared that logs its
    // arguments and carries the connection with nc.
    let bin = client.dir.path.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = client.dir.path.join("cloudflared.log");
    std::fs::write(
        bin.join("cloudflared"),
        format!(
            "#!/bin/sh\necho \"$@\" >> {}\nexec nc 127.0.0.1 \"$TEST_PROXY_PORT\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("cloudflared"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut known = std::fs::read_to_string(client.known_hosts()).unwrap();
    known.push_str(&format!("shanghai-1.example.test {}\n", target.host_key));
    std::fs::write(client.known_hosts(), known).unwrap();
    let inv = format!(
        "all:\n  children:\n    control_plane:\n      hosts:\n        shanghai-1:\n          ansible_host: shanghai-1.example.test\n      vars:\n        ansible_user: tester\n        ansible_ssh_private_key_file: {}\n        ansible_ssh_common_args: '-o ProxyCommand=\"cloudflared access ssh --hostname %h\"'\n",
        client.key.display()
    );
    let p = Project::new()
        .file("hosts.yml", &inv)
        .file("site.yml", site);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let run = client
        .prov()
        .cwd(&p.dir.path)
        .env("PATH", &path)
        .env("TEST_PROXY_PORT", &target.port.to_string())
        .args(["apply", "site.yml", "-i", "hosts.yml"])
        .json()
        .run();
    run.ok();
    assert_eq!(
        run.task("shanghai-1", "where")["result"]["stdout"],
        "target"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "access ssh --hostname shanghai-1.example.test\n"
    );

    // ProxyJump through the other test host: the jump host opens the forwarded channel.
    let inv = format!(
        "all:\n  hosts:\n    behind:\n      ansible_host: 127.0.0.1\n      ansible_port: {}\n      ansible_user: tester\n      ansible_ssh_common_args: -o ProxyJump=tester@127.0.0.1:{}\n",
        target.port, jump.port
    );
    let p = Project::new()
        .file("hosts.yml", &inv)
        .file("site.yml", site);
    let run = client
        .apply(&p, "site.yml")
        .args(["--private-key"])
        .arg(&client.key)
        .json()
        .run();
    run.ok();
    assert_eq!(run.task("behind", "where")["result"]["stdout"], "target");
    let jlog = jump.sshd_log();
    assert!(
        jlog.contains(&format!("target 127.0.0.1 port {}", target.port)),
        "{jlog}"
    );

    // A host without connection settings in the inventory: ~/.ssh/config supplies them.
    std::fs::write(
        client.home.join(".ssh/config"),
        format!(
            "Host *.internal\n    User nobody\n\nHost web.internal\n    HostName 127.0.0.1\n    Port {}\n    IdentityFile {}\n\nHost *\n    User tester\n",
            target.port,
            client.key.display()
        ),
    )
    .unwrap();
    let p = Project::new()
        .file("hosts.yml", "all:\n  hosts:\n    web.internal:\n")
        .file("site.yml", site);
    let run = client.apply(&p, "site.yml").json().run();
    // ssh_config takes the first value obtained: `User nobody` from the first matching block.
    run.code(4);
    assert!(
        run.task_msg("web.internal", "where")
            .contains("nobody@127.0.0.1"),
        "{}",
        run.stdout
    );
    std::fs::write(
        client.home.join(".ssh/config"),
        format!(
            "Host web.internal\n    HostName 127.0.0.1\n    Port {}\n    IdentityFile {}\n\nHost *\n    User tester\n",
            target.port,
            client.key.display()
        ),
    )
    .unwrap();
    let run = client.apply(&p, "site.yml").json().run();
    run.ok();
    assert_eq!(
        run.task("web.internal", "where")["result"]["stdout"],
        "target"
    );
}

#[test]
fn become_with_a_password_never_shows_it() {
    let client = Client::new();
    let host = SshHost::start("sudo-1", &client);
    client.trust(&[&host]);
    let site = "- hosts: all\n  become: true\n  tasks:\n    - name: whoami\n      command: id -u\n      register: whoami\n      changed_when: false\n    - name: root file\n      copy: {dest: /root/from-sudo, content: \"written as root\\n\", mode: \"0600\"}\n    - name: as the login user\n      become: false\n      copy: {dest: /tmp/plain, content: \"plain\\n\"}\n";
    let inv = |user: &str, pw: Option<&str>| {
        let mut inv = client.inventory(&[&host], user);
        if let Some(pw) = pw {
            inv.push_str(&format!("      ansible_become_password: \"{pw}\"\n"));
        }
        inv
    };
    let apply = |inventory: &str, extra: &[&str]| {
        let p = Project::new()
            .file("hosts.yml", inventory)
            .file("site.yml", site);
        client
            .apply(&p, "site.yml")
            .args(["--diff"])
            .args(extra)
            .run()
    };

    // With the password: root, and the password appears nowhere (not with -vvv, not in JSON).
    for extra in [&["-vvv"][..], &["--format", "json"][..]] {
        let run = apply(&inv("pwuser", Some(SUDO_PASSWORD)), extra);
        run.ok();
        assert!(
            !run.stdout.contains(SUDO_PASSWORD) && !run.stderr.contains(SUDO_PASSWORD),
            "the password leaked:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    assert_eq!(host.root.read("root/from-sudo"), "written as root\n");
    assert_eq!(host.root.owner("root/from-sudo"), (0, 0));
    assert_eq!(host.root.mode("root/from-sudo"), 0o600);
    let pwuser = host.root.owner("home/pwuser");
    assert_eq!(host.root.owner("tmp/plain"), pwuser);

    // Without it, or with a wrong one: a clear failure (2), nothing written.
    std::fs::remove_file(host.root.file("root/from-sudo")).unwrap();
    let run = apply(&inv("pwuser", None), &[]);
    run.code(2);
    assert!(
        run.stdout.contains("sudo needs a password"),
        "{}",
        run.stdout
    );
    let run = apply(&inv("pwuser", Some("wrong")), &[]);
    run.code(2);
    assert!(
        run.stdout.contains("incorrect sudo password"),
        "{}",
        run.stdout
    );
    assert!(!host.root.exists("root/from-sudo"));

    // A password given for a NOPASSWD user does not get into the file contents.
    let run = apply(&inv("tester", Some(SUDO_PASSWORD)), &[]);
    run.ok();
    assert_eq!(host.root.read("root/from-sudo"), "written as root\n");

    // -K asks for it (here on stdin, as there is no terminal); become_user another user.
    std::fs::remove_file(host.root.file("root/from-sudo")).unwrap();
    let p = Project::new()
        .file("hosts.yml", &inv("pwuser", None))
        .file("site.yml", site)
        .file(
            "other.yml",
            "- hosts: all\n  gather_facts: false\n  become: true\n  become_user: tester\n  tasks:\n    - name: as tester\n      command: id -un\n      register: who\n      changed_when: false\n",
        );
    let run = client
        .apply(&p, "site.yml")
        .args(["-K", "-vvv"])
        .stdin(&format!("{SUDO_PASSWORD}\n"))
        .run();
    run.ok();
    assert!(!run.stdout.contains(SUDO_PASSWORD) && !run.stderr.contains(SUDO_PASSWORD));
    assert_eq!(host.root.read("root/from-sudo"), "written as root\n");
    let run = client
        .prov()
        .cwd(&p.dir.path)
        .args([
            "apply",
            "other.yml",
            "-i",
            "hosts.yml",
            "-K",
            "--format",
            "json",
        ])
        .stdin(&format!("{SUDO_PASSWORD}\n"))
        .run();
    run.ok();
    assert_eq!(
        run.task("sudo-1", "as tester")["result"]["stdout"],
        "tester"
    );
}

#[test]
fn certificates_for_the_user_and_the_host() {
    let client = Client::new();
    let keygen = |args: &[&str], file: &std::path::Path| {
        let out = Command::new("ssh-keygen")
            .arg("-q")
            .args(args)
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ca = client.dir.path.join("ca");
    keygen(&["-t", "ed25519", "-N", "", "-f"], &ca);
    let ca_pub = std::fs::read_to_string(ca.with_extension("pub")).unwrap();
    // A user key that no authorized_keys lists: only its certificate can get it in.
    let key = client.dir.path.join("id_cert");
    keygen(&["-t", "ed25519", "-N", "", "-f"], &key);
    let ca_arg = ca.to_str().unwrap();
    keygen(
        &[
            "-s",
            ca_arg,
            "-I",
            "prov-test",
            "-n",
            "tester",
            "-V",
            "-5m:+1h",
        ],
        &key.with_extension("pub"),
    );
    let host = SshHost::start_with(
        "cert-1",
        &client,
        &[
            "TrustedUserCAKeys=/etc/ssh/user_ca.pub",
            "HostCertificate=/etc/ssh/ssh_host_ed25519_key-cert.pub",
        ],
        |root| {
            root.write("etc/ssh/user_ca.pub", &ca_pub);
            keygen(
                &[
                    "-s",
                    ca_arg,
                    "-I",
                    "cert-1",
                    "-h",
                    "-n",
                    "127.0.0.1",
                    "-V",
                    "-5m:+1h",
                ],
                &root.file("etc/ssh/ssh_host_ed25519_key.pub"),
            );
        },
    );
    // known_hosts holds only the CA, no host key.
    std::fs::write(
        client.known_hosts(),
        format!("@cert-authority [127.0.0.1]:{} {ca_pub}", host.port),
    )
    .unwrap();
    let inv = format!(
        "all:\n  hosts:\n    cert-1: {{ansible_host: 127.0.0.1, ansible_port: {}, ansible_user: tester, ansible_ssh_private_key_file: {}}}\n",
        host.port,
        key.display()
    );
    let p = one_host_project(&inv);
    let apply = || client.apply(&p, "site.yml").json().run();
    let run = apply();
    run.ok();
    assert_eq!(run.task("cert-1", "who")["result"]["stdout"], "tester");
    assert!(
        host.sshd_log().contains("ED25519-CERT"),
        "{}",
        host.sshd_log()
    );

    // Another CA does not vouch for this host.
    let other = client.dir.path.join("other-ca");
    keygen(&["-t", "ed25519", "-N", "", "-f"], &other);
    std::fs::write(
        client.known_hosts(),
        format!(
            "@cert-authority [127.0.0.1]:{} {}",
            host.port,
            std::fs::read_to_string(other.with_extension("pub")).unwrap()
        ),
    )
    .unwrap();
    let run = apply();
    run.code(4);
    let msg = run.task_msg("cert-1", "who");
    assert!(msg.contains("host certificate"), "{msg}");

    // Without its certificate the user key is refused.
    std::fs::write(
        client.known_hosts(),
        format!("@cert-authority [127.0.0.1]:{} {ca_pub}", host.port),
    )
    .unwrap();
    std::fs::remove_file(client.dir.path.join("id_cert-cert.pub")).unwrap();
    let run = apply();
    run.code(4);
    let msg = run.task_msg("cert-1", "who");
    assert!(msg.contains("authentication failed"), "{msg}");
}

#[test]
fn a_killed_host_is_unreachable_and_the_others_finish() {
    let client = Client::new();
    let mut hosts = SshHost::many("k", 3, &client);
    let all: Vec<&SshHost> = hosts.iter().collect();
    client.trust(&all);
    let p = Project::new()
        .file("hosts.yml", &client.inventory(&all, "tester"))
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: started\n      file: {path: /tmp/started, state: touch}\n    - name: slow\n      command: sleep 3\n    - name: k-2 fails\n      fail: {msg: planned}\n      when: inventory_hostname == 'k-2'\n    - name: done\n      copy: {dest: /tmp/done, content: done}\n",
        );
    let running = client
        .apply(&p, "site.yml")
        .args(["--format", "json"])
        .spawn();
    let marker = hosts[0].root.file("tmp/started");
    wait_until(30, "the first task", || marker.exists());
    std::thread::sleep(Duration::from_millis(300));
    hosts[0].kill();
    let run = running.finish();
    run.code(2);
    assert_eq!(run.stats("k-1")["unreachable"], 1, "{}", run.stdout);
    assert_eq!(run.stats("k-2")["failed"], 1);
    assert_eq!(run.stats("k-3")["failed"], 0);
    assert_eq!(run.stats("k-3")["unreachable"], 0);
    assert!(hosts[2].root.exists("tmp/done"));
    assert!(!hosts[1].root.exists("tmp/done"));
    assert_eq!(run.task("k-1", "slow")["status"], "unreachable");
}

#[test]
fn a_host_that_never_answers_times_out() {
    let client = Client::new();
    let host = SshHost::start("fine", &client);
    client.trust(&[&host]);
    // Accepts connections (the kernel's backlog) but never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let inv = format!(
        "{}    silent: {{ansible_host: 127.0.0.1, ansible_port: {port}, ansible_user: tester}}\n",
        client.inventory(&[&host], "tester")
    );
    let p = one_host_project(&inv);
    let start = Instant::now();
    let run = client.apply(&p, "site.yml").args(["-T", "2"]).json().run();
    let took = start.elapsed();
    run.code(4);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let msg = run.task_msg("silent", "who");
    assert!(msg.contains("timed out after 2s"), "{msg}");
    assert_eq!(run.task("fine", "who")["status"], "ok");
    drop(silent);

    // A command that outlives its task's `timeout:` fails that task.
    let p = p.file(
        "slow.yml",
        "- hosts: fine\n  gather_facts: false\n  tasks:\n    - name: slow\n      command: sleep 20\n      timeout: 1\n",
    );
    let start = Instant::now();
    let run = client.apply(&p, "slow.yml").json().run();
    run.code(2);
    assert!(start.elapsed() < Duration::from_secs(10));
    let msg = run.task_msg("fine", "slow");
    assert!(msg.contains("timed out after 1s"), "{msg}");
}

#[test]
fn ctrl_c_stops_an_ssh_run_and_reports() {
    let client = Client::new();
    let host = SshHost::start("int-1", &client);
    client.trust(&[&host]);
    let p = Project::new()
        .file("hosts.yml", &client.inventory(&[&host], "tester"))
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: started\n      file: {path: /tmp/started, state: touch}\n    - command: sleep 30\n    - name: never\n      file: {path: /tmp/never, state: touch}\n",
        );
    let running = client.apply(&p, "site.yml").spawn();
    let marker = host.root.file("tmp/started");
    wait_until(30, "the first task", || marker.exists());
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    running.interrupt();
    let run = running.finish();
    assert!(start.elapsed() < Duration::from_secs(10));
    run.code(99);
    assert!(run.stdout.contains("Interrupted"), "{}", run.stdout);
    assert!(run.stdout.contains("int-1"), "{}", run.stdout);
    assert!(!host.root.exists("tmp/never"));
}

#[test]
fn a_script_that_kills_the_remote_shell_fails_alone() {
    // Scripts run in a long-lived shell (or prober) per identity; one that kills it fails that
    // task only, and the next task gets a new one (the host is not unreachable).
    let client = Client::new();
    let host = SshHost::start("shell-1", &client);
    client.trust(&[&host]);
    let p = Project::new()
        .file("hosts.yml", &client.inventory(&[&host], "tester"))
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n    - name: warm up\n      command: id -u\n      changed_when: false\n    - name: kill the shell\n      shell: pkill -9 -f 'PROV-(READY|PROBER)'\n      ignore_errors: true\n    - name: after\n      command: id -u\n      register: after\n      changed_when: false\n    - name: pseudo file over ssh\n      slurp: {src: /proc/sys/kernel/ostype}\n      register: ostype\n    - assert: {that: [\"after.stdout == '0'\", \"(ostype.content | b64decode) == 'Linux\\n'\"]}\n",
        );
    let run = client.apply(&p, "site.yml").json().run();
    run.ok();
    let killed = run.task("shell-1", "kill the shell");
    assert_eq!(killed["status"], "failed");
    assert!(
        killed["msg"]
            .as_str()
            .unwrap()
            .contains("remote shell ended"),
        "{killed}"
    );
    assert_eq!(run.stats("shell-1")["unreachable"], 0);
    assert_eq!(run.task("shell-1", "after")["status"], "ok");
}

/// Apply the module scenario to one host, then again: it converges, then changes nothing.
/// The second run's round trips.
fn converge_twice(client: &Client, host: &SshHost) -> serde_json::Value {
    client.trust(&[host]);
    let p = modules_project().file("hosts.yml", &client.inventory(&[host], "tester"));
    let apply = || client.apply(&p, "site.yml").args(["--become"]).json().run();
    let run = apply();
    run.ok();
    assert!(run.stats(&host.name)["changed"].as_u64().unwrap() >= MODULES_CHANGED);
    assert_modules_applied(&host.root);
    let again = apply();
    again.ok();
    assert_nothing_changed(&again, &[host]);
    again.json()["round_trips"][&host.name].clone()
}

/// Hide the host's perl (as on a minimal image without it).
fn without_perl(root: &common::Root) {
    std::fs::rename(root.file("usr/bin/perl"), root.file("usr/bin/perl.hidden")).unwrap();
}

#[test]
fn a_target_without_perl_gets_the_shell_loop() {
    // No resident prober: the persistent shell reads the state with stat and head instead,
    // with the same result, still one connection and one shell per identity.
    let client = Client::new();
    let host = SshHost::start_with("noperl-1", &client, &[], without_perl);
    let trips = &converge_twice(&client, &host);
    assert_eq!(trips["connections"], 1, "{trips}");
    assert!(trips["channels"].as_u64().unwrap() <= 2, "{trips}");
    assert_eq!(trips["probed"], 0, "{trips}");
}

#[test]
fn a_target_without_gnu_head_gets_a_channel_per_script() {
    // Without perl, persistent sessions frame their input with GNU `head -c`; a target whose
    // `head` is not GNU's (BusyBox) runs every script on a channel of its own instead, with
    // the same result.
    let client = Client::new();
    let host = SshHost::start_with("busybox-1", &client, &[], |root| {
        without_perl(root);
        std::fs::rename(root.file("usr/bin/head"), root.file("usr/bin/head.gnu")).unwrap();
        root.write(
            "usr/bin/head",
            "#!/bin/sh\ncase \"$1\" in --version) echo 'BusyBox v1.36.1 multi-call binary.'; exit 0 ;; esac\nexec /usr/bin/head.gnu \"$@\"\n",
        );
        std::fs::set_permissions(
            root.file("usr/bin/head"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    });
    let trips = &converge_twice(&client, &host);
    assert_eq!(trips["connections"], 1, "{trips}");
    // No session: each script had a channel of its own.
    let (channels, execs) = (
        trips["channels"].as_u64().unwrap(),
        trips["execs"].as_u64().unwrap(),
    );
    assert!(execs > 2 && channels >= execs, "{trips}");
}

#[test]
fn an_ansible_module_runs_over_the_same_session_with_become() {
    // A module prov lacks runs as Ansible's own code on the host, sent over the task's SSH
    // session and run as root by sudo; the second run changes nothing.
    let client = Client::new();
    let host = SshHost::start("foreign-1", &client);
    client.trust(&[&host]);
    let p = Project::new()
        .file("hosts.yml", &client.inventory(&[&host], "tester"))
        .file(
            "site.yml",
            "- hosts: all\n  become: true\n  gather_facts: false\n  tasks:\n    - name: filesize\n      community.general.filesize: {path: /root/app.bin, size: 1024B, mode: \"0600\"}\n",
        );
    let python = common::ansible_python();
    let apply = || {
        let run = client
            .apply(&p, "site.yml")
            .env("PROV_ANSIBLE_PYTHON", python.to_str().unwrap())
            .json()
            .run();
        run.ok();
        run
    };
    assert_eq!(apply().task("foreign-1", "filesize")["status"], "changed");
    let data = std::fs::read(host.root.file("root/app.bin")).unwrap();
    assert!(data.len() == 1024 && data.iter().all(|b| *b == 0));
    assert_eq!(host.root.owner("root/app.bin"), (0, 0));
    assert_eq!(host.root.mode("root/app.bin"), 0o600);
    assert_eq!(apply().task("foreign-1", "filesize")["status"], "ok");
}

#[test]
fn reboot_waits_for_the_host_to_come_back() {
    // A stand-in reboot: the command changes the boot id the task reads and drops every SSH
    // session of the user (the listener stays, as a host that came back). prov reconnects,
    // sees the new id, runs the test command and goes on over the new connection. A host
    // whose boot id never changes times out with Ansible's message.
    let client = Client::new();
    let host = SshHost::start("reboot-1", &client);
    client.trust(&[&host]);
    let site = r#"
- hosts: all
  become: true
  gather_facts: false
  tasks:
    - name: reboot
      reboot:
        reboot_command: "sh -c 'echo new > /tmp/boot-id; (sleep 1; pkill -KILL -f \"sshd: tester\") >/dev/null 2>&1 &'"
        boot_time_command: "cat /tmp/boot-id 2>/dev/null || echo old"
        reboot_timeout: 60
    - name: after
      command: cat /tmp/boot-id
      changed_when: false
    - name: never back
      reboot: {reboot_command: "true", boot_time_command: "echo same", reboot_timeout: 3}
"#;
    let p = Project::new()
        .file("hosts.yml", &client.inventory(&[&host], "tester"))
        .file("site.yml", site);
    let run = client.apply(&p, "site.yml").json().run();
    run.code(2);
    let r = run.task("reboot-1", "reboot");
    assert_eq!(r["status"], "changed", "{r}");
    assert_eq!(r["result"]["rebooted"], true);
    assert_eq!(run.task("reboot-1", "after")["result"]["stdout"], "new");
    // The first connection, and at least one after the reboot.
    let connections = run.json()["round_trips"]["reboot-1"]["connections"].as_u64();
    assert!(connections.is_some_and(|n| n >= 2), "{connections:?}");
    let never = run.task_msg("reboot-1", "never back");
    assert!(
        never.contains("Timed out waiting for last boot time check"),
        "{never}"
    );
}
