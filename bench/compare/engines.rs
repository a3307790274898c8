//! The engines compared, and how each is invoked on a fleet of SSH test hosts or on a chroot.
//!
//! prov, Ansible and ansible-core-rs run the repository's own `playbooks/worker.yml` with the
//! same generated inventory (the production group vars, test hosts on 127.0.0.1); pyinfra
//! runs `bench/pyinfra/deploy.py`, written with pyinfra's own operations; the shell baseline
//! runs `bench/baseline.sh` once per host over one OpenSSH session (the same commands, no
//! engine at all).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::ssh::Client;
use crate::common::{TempDir, repo_root};

/// An engine under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Prov,
    /// prov with `--persist 10m`: the first apply starts the prov agent, later runs reuse its
    /// connections (a bench-private agent directory, stopped after the series).
    ProvWarm,
    /// ansible-playbook with no ansible.cfg (forks 5, no pipelining).
    Ansible,
    /// ansible-playbook with pipelining, ControlPersist and forks = hosts.
    AnsibleTuned,
    Pyinfra,
    AnsibleCoreRs,
    /// One shell script per host over one SSH session: the floor for a first apply.
    Shell,
}

pub const ALL: [Engine; 7] = [
    Engine::Prov,
    Engine::ProvWarm,
    Engine::Ansible,
    Engine::AnsibleTuned,
    Engine::Pyinfra,
    Engine::AnsibleCoreRs,
    Engine::Shell,
];

/// What a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Fresh hosts to workers.
    First,
    /// A converged fleet again: nothing to change.
    NoChange,
    /// `--check --diff` after four items drifted on every host.
    CheckDrift,
}

impl Scenario {
    pub fn title(self) -> &'static str {
        match self {
            Scenario::First => "first apply",
            Scenario::NoChange => "second apply (no change)",
            Scenario::CheckDrift => "check + diff after 4 drifted items",
        }
    }
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Prov => "prov",
            Engine::ProvWarm => "prov (warm)",
            Engine::Ansible => "ansible (stock)",
            Engine::AnsibleTuned => "ansible (tuned)",
            Engine::Pyinfra => "pyinfra",
            Engine::AnsibleCoreRs => "ansible-core-rs",
            Engine::Shell => "shell baseline",
        }
    }

    pub fn parse(s: &str) -> Option<Engine> {
        ALL.into_iter().find(|e| {
            let key = match e {
                Engine::Prov => "prov",
                Engine::ProvWarm => "prov-warm",
                Engine::Ansible => "ansible",
                Engine::AnsibleTuned => "ansible-tuned",
                Engine::Pyinfra => "pyinfra",
                Engine::AnsibleCoreRs => "ansible-core-rs",
                Engine::Shell => "shell",
            };
            key == s
        })
    }

    pub fn supports(self, scenario: Scenario, chroot: bool) -> bool {
        match self {
            Engine::Shell => scenario == Scenario::First && !chroot,
            Engine::AnsibleCoreRs | Engine::ProvWarm => !chroot,
            _ => true,
        }
    }
}

/// Where the engines are installed (bench/setup.sh).
pub struct Tools {
    pub prov: PathBuf,
    pub ansible: PathBuf,
    pub pyinfra: PathBuf,
    pub acr: PathBuf,
}

impl Tools {
    pub fn find() -> Tools {
        let home = PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()));
        let cache = std::env::var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|_| home.join(".cache"));
        Tools {
            // Another build (an earlier commit's, for a before/after comparison).
            prov: std::env::var_os("PROV_BENCH_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_prov"))),
            ansible: cache.join("prov-test/ansible-12.3.0/bin/ansible-playbook"),
            pyinfra: cache.join("prov-bench/pyinfra/bin/pyinfra"),
            acr: cache.join("prov-bench/acr/bin/ansible"),
        }
    }

    /// `name version` lines for the report.
    pub fn versions(&self) -> Vec<String> {
        let first = |cmd: &mut Command| {
            cmd.output()
                .map(|o| {
                    let text = String::from_utf8_lossy(&o.stdout).into_owned()
                        + &String::from_utf8_lossy(&o.stderr);
                    text.lines().next().unwrap_or("").trim().to_string()
                })
                .unwrap_or_else(|e| format!("unavailable: {e}"))
        };
        vec![
            first(Command::new(&self.prov).arg("--version")),
            first(Command::new(&self.ansible).arg("--version")),
            format!(
                "pyinfra {}",
                first(Command::new(&self.pyinfra).arg("--version"))
            ),
            first(Command::new(&self.acr).arg("--version")),
            first(Command::new("ssh").arg("-V")),
        ]
    }
}

/// The node address of host `i` (1-based): 192.168.10.101, .102, ... .254, then on into
/// 192.168.11.1 and up (for the scale mode's hundreds of hosts).
pub fn node_ip(i: usize) -> String {
    let n = 99 + i;
    format!("192.168.{}.{}", 10 + n / 254, n % 254 + 1)
}

/// A place for one fleet's inventories and engine configuration.
pub struct Setup {
    pub dir: TempDir,
}

impl Setup {
    /// Inventories for `hosts` (`(name, port)`, or a chroot directory as the only host).
    pub fn new(client: &Client, hosts: &[(String, u16)], chroot: Option<&Path>) -> Setup {
        let dir = TempDir::new("bench-setup");
        let p = |rel: &str| dir.path.join(rel);
        // Ansible-format inventory, with the production group vars beside it.
        let production =
            std::fs::read_to_string(repo_root().join("inventory/production/hosts.yml")).unwrap();
        let group_vars = production
            .split("workers:")
            .nth(1)
            .and_then(|w| w.split("      vars:\n").nth(1))
            .expect("the workers group's vars in the production inventory");
        let mut inv = String::from("all:\n  children:\n    workers:\n      hosts:\n");
        match chroot {
            Some(root) => inv.push_str(&format!(
                "        bench-chroot:\n          ansible_connection: community.general.chroot\n          ansible_host: {}\n          node_ip: {}\n",
                root.display(),
                node_ip(1)
            )),
            None => {
                for (i, (name, port)) in hosts.iter().enumerate() {
                    inv.push_str(&format!(
                        "        {name}:\n          ansible_host: 127.0.0.1\n          ansible_port: {port}\n          node_ip: {}\n",
                        node_ip(i + 1)
                    ));
                }
            }
        }
        inv.push_str("      vars:\n");
        for line in group_vars.lines() {
            let line = match line.trim_start() {
                l if l.starts_with("ansible_user:") => {
                    // OpenSSH (under Ansible) reads the passwd entry's home, not $HOME.
                    format!(
                        "        ansible_user: tester\n        ansible_ssh_private_key_file: {}\n        ansible_ssh_common_args: -o UserKnownHostsFile={}",
                        client.key.display(),
                        client.known_hosts().display()
                    )
                }
                _ => line.to_string(),
            };
            inv.push_str(&line);
            inv.push('\n');
        }
        std::fs::create_dir_all(p("inventory/group_vars")).unwrap();
        std::fs::write(p("inventory/hosts.yml"), inv).unwrap();
        std::fs::copy(
            repo_root().join("inventory/production/group_vars/workers.yml"),
            p("inventory/group_vars/workers.yml"),
        )
        .unwrap();
        // Ansible configurations. Stock: nothing but where the roles are (the repository's
        // ansible.cfg says the same); tuned: pipelining, ControlPersist, forks = hosts.
        let roles = repo_root().join("roles");
        std::fs::write(
            p("stock.cfg"),
            format!("[defaults]\nroles_path = {}\n", roles.display()),
        )
        .unwrap();
        std::fs::write(
            p("tuned.cfg"),
            format!(
                "[defaults]\nroles_path = {}\nforks = {}\n\n[ssh_connection]\npipelining = True\nssh_args = -o ControlMaster=auto -o ControlPersist=300s\n",
                roles.display(),
                hosts.len().max(1)
            ),
        )
        .unwrap();
        // pyinfra: a Python inventory with the same data.
        let mut py = String::from("workers = [\n");
        for (i, (name, port)) in hosts.iter().enumerate() {
            py.push_str(&format!(
                "    (\"{name}\", {{\"ssh_hostname\": \"127.0.0.1\", \"ssh_port\": {port}, \"ssh_user\": \"tester\", \"ssh_key\": \"{}\", \"ssh_known_hosts_file\": \"{}\", \"_sudo\": True, \"node_ip\": \"{}\"}}),\n",
                client.key.display(),
                client.known_hosts().display(),
                node_ip(i + 1)
            ));
        }
        py.push_str("]\n");
        std::fs::write(p("inventory.py"), py).unwrap();
        // The shell baseline: one line per host.
        let lines: String = hosts
            .iter()
            .enumerate()
            .map(|(i, (name, port))| format!("{name} {port} {}\n", node_ip(i + 1)))
            .collect();
        std::fs::write(p("hosts.txt"), lines).unwrap();
        Setup { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path.join(rel)
    }

    /// Stop the prov agent of `Engine::ProvWarm` runs on this setup (closing its connections).
    pub fn stop_agent(&self, tools: &Tools) {
        let _ = Command::new(&tools.prov)
            .args(["agent", "stop"])
            .env("XDG_RUNTIME_DIR", self.path(""))
            .output();
    }
}

/// The URLs the playbook fetches from, pointed at the local server.
pub fn extra_vars(url: &str) -> String {
    format!(
        "kubernetes_apt_base_url={url} crio_apt_base_url={url} user_management_github_keys_url={url}/boxp.keys"
    )
}

/// Wrap a command for a chroot target the way prov prepares one (proc, sys, dev, a fresh
/// /run, policy-rc.d), in a private mount namespace so that everything is undone after.
fn in_prepared_chroot(root: &Path, argv: Vec<String>) -> Command {
    let r = root.display();
    let script = format!(
        "mount -t proc proc {r}/proc && mount -t sysfs -o ro sysfs {r}/sys && \
         mount --rbind /dev {r}/dev && mount --make-rslave {r}/dev && \
         mount -t tmpfs tmpfs {r}/run && mkdir -p {r}/run/sshd {r}/run/lock && \
         printf '#!/bin/sh\\nexit 101\\n' > {r}/usr/sbin/policy-rc.d && chmod 755 {r}/usr/sbin/policy-rc.d && \
         {{ \"$@\"; rc=$?; rm -f {r}/usr/sbin/policy-rc.d; exit $rc; }}"
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"]);
    cmd.args(argv);
    cmd
}

/// The command that runs `engine` for `scenario`.
pub fn command(
    engine: Engine,
    tools: &Tools,
    setup: &Setup,
    client: &Client,
    url: &str,
    scenario: Scenario,
    chroot: Option<&Path>,
) -> Command {
    let check = scenario == Scenario::CheckDrift;
    let inventory = setup.path("inventory/hosts.yml");
    let mut argv: Vec<String> = Vec::new();
    // SSH engines get the client's HOME (known_hosts); chroot runs the root's own (an
    // engine's environment reaches commands run inside the chroot).
    let home = match chroot {
        None => client.home.display().to_string(),
        Some(_) => "/root".to_string(),
    };
    let mut env: Vec<(&str, String)> = vec![("HOME", home)];
    match engine {
        Engine::Prov | Engine::ProvWarm => {
            argv.push(tools.prov.display().to_string());
            argv.extend(["apply".into(), "playbooks/worker.yml".into()]);
            argv.extend(["-i".into(), inventory.display().to_string()]);
            argv.extend([
                "-e".into(),
                extra_vars(url),
                "--format".into(),
                "json".into(),
            ]);
            if let Some(root) = chroot {
                argv.extend(["--chroot".into(), root.display().to_string()]);
            }
            if check {
                argv.extend(["--check".into(), "--diff".into()]);
            }
            if engine == Engine::ProvWarm {
                argv.extend(["--persist".into(), "10m".into()]);
                env.push(("XDG_RUNTIME_DIR", setup.path("").display().to_string()));
            }
        }
        Engine::Ansible | Engine::AnsibleTuned | Engine::AnsibleCoreRs => {
            if engine == Engine::AnsibleCoreRs {
                // Its modules ignore become (useradd fails with "Permission denied" even
                // with -b): it logs in as root instead, which the test hosts allow.
                argv.extend([tools.acr.display().to_string(), "playbook".into()]);
                argv.extend(["-e".into(), "ansible_user=root".into()]);
            } else {
                argv.push(tools.ansible.display().to_string());
            }
            argv.extend(["-i".into(), inventory.display().to_string()]);
            argv.push("playbooks/worker.yml".into());
            argv.extend(["-e".into(), extra_vars(url)]);
            if check {
                argv.extend(["--check".into(), "--diff".into()]);
            }
            let cfg = if engine == Engine::AnsibleTuned {
                "tuned.cfg"
            } else {
                "stock.cfg"
            };
            env.push(("ANSIBLE_CONFIG", setup.path(cfg).display().to_string()));
            env.push(("ANSIBLE_NOCOLOR", "1".into()));
        }
        Engine::Pyinfra => {
            argv.push(tools.pyinfra.display().to_string());
            // -y skips change detection, which a dry run is all about.
            if !check {
                argv.push("-y".into());
            }
            match chroot {
                Some(root) => argv.push(format!("@chroot/{}", root.display())),
                None => argv.push(setup.path("inventory.py").display().to_string()),
            }
            argv.push("bench/pyinfra/deploy.py".into());
            for (k, v) in [
                ("kubernetes_apt_base_url", url.to_string()),
                ("crio_apt_base_url", url.to_string()),
                (
                    "user_management_github_keys_url",
                    format!("{url}/boxp.keys"),
                ),
            ] {
                argv.extend(["--data".into(), format!("{k}={v}")]);
            }
            if chroot.is_some() {
                argv.extend(["--data".into(), format!("node_ip={}", node_ip(1))]);
            }
            if check {
                argv.extend(["--dry".into(), "--diff".into()]);
            }
            env.push(("NO_COLOR", "1".into()));
        }
        Engine::Shell => {
            argv.extend([
                "sh".into(),
                "bench/shell.sh".into(),
                setup.path("hosts.txt").display().to_string(),
                client.key.display().to_string(),
                client.known_hosts().display().to_string(),
                url.into(),
            ]);
        }
    }
    let mut cmd = match chroot {
        Some(root) if !matches!(engine, Engine::Prov | Engine::ProvWarm) => {
            in_prepared_chroot(root, argv)
        }
        _ => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    cmd.current_dir(repo_root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}
