//! Real OpenSSH test hosts, no VMs and no mocks.
//!
//! Each [`SshHost`] is an overlay copy of the cached Debian root ([`Root`]) whose PID 1
//! (tests/fixtures/sshhost.sh) runs in its own mount, UTS and PID namespaces (`unshare`) and
//! starts the root's own `sshd` on 127.0.0.1:<free port>. Its state is read from outside
//! through the overlay. Two flavours:
//!
//! - *chroot-like* (`start`): sshd runs with chroot(2) below PID 1, as in an image build, so
//!   the host sees itself as a chroot (`ansible_is_chroot` true);
//! - *live* (`start_live`): PID 1 `pivot_root`s into the overlay first, so the host is a live
//!   system from its own point of view, with systemd "booted" (`/run/systemd/system`).
//!
//! Both have stand-ins for `netplan`, `sysctl`, `swapoff`, `modprobe` and `systemctl` in
//! /usr/local/sbin (first on sudo's secure_path and on a root shell's PATH): what only makes
//! sense on a live system (`netplan apply`, setting kernel parameters, `swapoff`, loading
//! modules, starting or restarting services) is logged and not done, so nothing a playbook
//! does reaches the real machine's kernel and tests can assert what was called; everything
//! else (validation, reads, unit files) goes to the real command.
//!
//! Users: `tester` (NOPASSWD sudo) and `pwuser` (sudo with [`SUDO_PASSWORD`]); both accept the
//! [`Client`]'s key through `/etc/ssh/test_keys/%u`, which the code under test never touches.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Prov, Root, Run, TempDir};

/// pwuser's password (sudo asks for it).
pub const SUDO_PASSWORD: &str = "pw-S3cret-4-sudo";

/// Where the stand-ins record the live-only calls, inside a host.
pub const STANDIN_LOG: &str = "var/log/prov-standins.log";

/// The controller side: a private HOME (known_hosts, ssh config) and a client key pair.
pub struct Client {
    pub dir: TempDir,
    pub home: PathBuf,
    /// The private key (not in a default location: tests pass it explicitly).
    pub key: PathBuf,
    pub public_key: String,
}

impl Client {
    pub fn new() -> Client {
        let dir = TempDir::new("client");
        let home = dir.path.join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        let key = dir.path.join("id_test");
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "prov-test", "-f"])
            .arg(&key));
        let public_key = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        Client {
            dir,
            home,
            key,
            public_key,
        }
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.home.join(".ssh/known_hosts")
    }

    /// Record these hosts' keys in known_hosts (as `[127.0.0.1]:port` entries), replacing
    /// what an earlier host on the same port left there: OpenSSH and prov accept any key
    /// listed for a host, but paramiko (pyinfra) checks only one of them.
    pub fn trust(&self, hosts: &[&SshHost]) {
        let old = std::fs::read_to_string(self.known_hosts()).unwrap_or_default();
        let names: Vec<String> = hosts
            .iter()
            .map(|h| format!("[127.0.0.1]:{} ", h.port))
            .collect();
        let mut text: String = old
            .lines()
            .filter(|l| !names.iter().any(|n| l.starts_with(n.as_str())))
            .map(|l| format!("{l}\n"))
            .collect();
        for h in hosts {
            text.push_str(&format!("[127.0.0.1]:{} {}\n", h.port, h.host_key.trim()));
        }
        std::fs::write(self.known_hosts(), text).unwrap();
    }

    /// `prov` with this HOME and no ssh-agent (tests add one explicitly).
    pub fn prov(&self) -> Prov {
        Prov::new()
            .env("HOME", self.home.to_str().unwrap())
            .env_remove("SSH_AUTH_SOCK")
    }

    /// `prov apply PLAYBOOK -i hosts.yml` in a project, with this client.
    pub fn apply(&self, project: &super::Project, playbook: &str) -> Prov {
        self.prov()
            .cwd(&project.dir.path)
            .args(["apply", playbook, "-i", "hosts.yml"])
    }

    /// An inventory of these hosts logging in as `user` with the client key.
    pub fn inventory(&self, hosts: &[&SshHost], user: &str) -> String {
        let mut out = String::from("all:\n  hosts:\n");
        for h in hosts {
            out.push_str(&format!(
                "    {}:\n      ansible_host: 127.0.0.1\n      ansible_port: {}\n      ansible_user: {user}\n      ansible_ssh_private_key_file: {}\n",
                h.name,
                h.port,
                self.key.display()
            ));
        }
        out
    }
}

/// How many test hosts [`SshHost::many`] prepares and starts at a time.
pub const START_PARALLEL: usize = 16;

/// A running OpenSSH server in its own namespaces on an overlay root.
pub struct SshHost {
    pub name: String,
    pub port: u16,
    /// The host's root filesystem, readable from outside.
    pub root: Root,
    /// The host's public host key line (`ssh-ed25519 AAAA...`).
    pub host_key: String,
    pub live: bool,
    dir: TempDir,
    child: Option<Child>,
}

/// A free TCP port on 127.0.0.1, never handed out twice in this process: hosts started in
/// parallel each close their probe socket before their sshd binds, and the kernel may give
/// the same port to the next probe; two hosts on one port would answer for each other.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

#[track_caller]
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const STANDINS: &[(&str, &str)] = &[
    (
        "netplan",
        r#"#!/bin/sh
case "$1" in
    apply|try) echo "netplan $*" >> /var/log/prov-standins.log
        # Only a host in a network namespace made by its test has this (it moves addresses).
        if [ -x /usr/local/lib/prov-test/netplan-addresses ]; then
            exec /usr/local/lib/prov-test/netplan-addresses
        fi ;;
    *) exec /usr/sbin/netplan "$@" ;;
esac
"#,
    ),
    (
        "sysctl",
        r#"#!/bin/sh
# Reads go to the real sysctl; anything that would set a value is only logged.
for a in "$@"; do
    case "$a" in
        -w|-p*|--system|--load*|*=*) echo "sysctl $*" >> /var/log/prov-standins.log; exit 0 ;;
    esac
done
exec /usr/sbin/sysctl "$@"
"#,
    ),
    (
        "swapoff",
        r#"#!/bin/sh
echo "swapoff $*" >> /var/log/prov-standins.log
"#,
    ),
    (
        "modprobe",
        r#"#!/bin/sh
# Never loads anything; on a live test host /sys is a tmpfs, so the module then looks loaded.
echo "modprobe $*" >> /var/log/prov-standins.log
for a in "$@"; do
    case "$a" in -*) ;; *) mkdir -p "/sys/module/$(echo "$a" | tr - _)" 2>/dev/null; break ;; esac
done
exit 0
"#,
    ),
    (
        "systemctl",
        r#"#!/bin/sh
# Unit files are managed offline (as in a chroot); runtime actions are only logged, and
# every unit counts as active.
case "$1" in
    is-active) echo active ;;
    show)
        for unit; do :; done
        if e=$(/usr/bin/systemctl --root=/ is-enabled "$unit" 2>/dev/null) || [ -n "$e" ]; then
            printf 'LoadState=loaded\nUnitFileState=%s\nActiveState=active\n' "$e"
        else
            printf 'LoadState=not-found\nUnitFileState=\nActiveState=inactive\n'
        fi ;;
    start|stop|restart|reload|try-restart|reload-or-restart|daemon-reload|daemon-reexec)
        echo "systemctl $*" >> /var/log/prov-standins.log ;;
    *) exec /usr/bin/systemctl --root=/ "$@" ;;
esac
"#,
    ),
];

/// Put the logging stand-ins into a root's /usr/local/sbin.
pub fn install_standins(root: &Root) {
    for (cmd, body) in STANDINS {
        let f = format!("usr/local/sbin/{cmd}");
        root.write(&f, body);
        set_mode(&root.file(&f), 0o755);
    }
}

/// The live-only calls the stand-ins recorded in a root (empty when none was made).
pub fn standin_calls(root: &Root) -> Vec<String> {
    std::fs::read_to_string(root.file(STANDIN_LOG))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

impl SshHost {
    /// A chroot-like host (sshd runs chroot'ed below PID 1).
    pub fn start(name: &str, client: &Client) -> SshHost {
        SshHost::launch(name, client, false, "INFO", &[], |_| {})
    }

    /// A chroot-like host with extra sshd options (`Key=value`), after `prepare` has had its
    /// say on the root (which already has its host key).
    pub fn start_with(
        name: &str,
        client: &Client,
        sshd_options: &[&str],
        prepare: impl FnOnce(&Root),
    ) -> SshHost {
        SshHost::launch(name, client, false, "INFO", sshd_options, prepare)
    }

    /// A live host (PID 1 pivots into the root).
    pub fn start_live(name: &str, client: &Client) -> SshHost {
        SshHost::launch(name, client, true, "INFO", &[], |_| {})
    }

    /// A live host after `prepare` has had its say on the root (a file
    /// `etc/ssh/port-in-config` there makes sshd take its port from sshd_config, see
    /// tests/fixtures/sshhost.sh).
    pub fn start_live_with(name: &str, client: &Client, prepare: impl FnOnce(&Root)) -> SshHost {
        SshHost::launch(name, client, true, "INFO", &[], prepare)
    }

    /// A chroot-like host whose sshd logs at DEBUG1 (to see forwarded channels).
    pub fn start_verbose(name: &str, client: &Client) -> SshHost {
        SshHost::start_logging(name, client, "DEBUG1")
    }

    /// A chroot-like host whose sshd logs at this LogLevel (VERBOSE logs every session).
    pub fn start_logging(name: &str, client: &Client, level: &str) -> SshHost {
        SshHost::launch(name, client, false, level, &[], |_| {})
    }

    /// `n` chroot-like hosts `prefix-1..n`, started in parallel.
    pub fn many(prefix: &str, n: usize, client: &Client) -> Vec<SshHost> {
        SshHost::many_logging(prefix, n, client, "INFO")
    }

    /// [`SshHost::many`] with sshd logging at `level`. At most [`START_PARALLEL`] hosts are
    /// prepared and started at a time: hundreds at once on a small machine would each wait
    /// so long for the CPU that their sshd could miss its start-up deadline.
    pub fn many_logging(prefix: &str, n: usize, client: &Client, level: &str) -> Vec<SshHost> {
        let next = std::sync::atomic::AtomicUsize::new(1);
        let started = std::sync::Mutex::new(Vec::with_capacity(n));
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..n.min(START_PARALLEL))
                .map(|_| {
                    s.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            if i > n {
                                return;
                            }
                            let h = SshHost::start_logging(&format!("{prefix}-{i}"), client, level);
                            started.lock().unwrap().push((i, h));
                        }
                    })
                })
                .collect();
            for w in workers {
                // A host that failed to start has panicked its worker: report it (the hosts
                // started so far are dropped, so killed, on the way out).
                if let Err(e) = w.join() {
                    std::panic::resume_unwind(e);
                }
            }
        });
        let mut hosts = started.into_inner().unwrap();
        hosts.sort_by_key(|(i, _)| *i);
        hosts.into_iter().map(|(_, h)| h).collect()
    }

    /// The PID of the host's `unshare` (outside its namespaces), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn launch(
        name: &str,
        client: &Client,
        live: bool,
        log_level: &str,
        sshd_options: &[&str],
        prepare: impl FnOnce(&Root),
    ) -> SshHost {
        let root = Root::new();
        let r = &root.path;
        // Identity: hostname and a host key of its own.
        root.write("etc/hostname", &format!("{name}\n"));
        root.write(
            "etc/hosts",
            &format!("127.0.0.1 localhost\n127.0.1.1 {name}\n"),
        );
        for e in std::fs::read_dir(r.join("etc/ssh")).unwrap() {
            let e = e.unwrap();
            if e.file_name().to_string_lossy().starts_with("ssh_host_") {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
        let key = r.join("etc/ssh/ssh_host_ed25519_key");
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(&key));
        let host_key = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let host_key = host_key
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        // Users, sudo rules and the harness's own authorized keys.
        run(Command::new("chroot").arg(r).args([
            "/bin/sh",
            "-c",
            &format!(
                "useradd -m -s /bin/bash tester && useradd -m -s /bin/bash pwuser && echo 'pwuser:{SUDO_PASSWORD}' | chpasswd"
            ),
        ]));
        for (user, rule) in [
            ("tester", "tester ALL=(ALL:ALL) NOPASSWD: ALL\n"),
            ("pwuser", "pwuser ALL=(ALL:ALL) ALL\n"),
        ] {
            let f = format!("etc/sudoers.d/{user}");
            root.write(&f, rule);
            set_mode(&root.file(&f), 0o440);
            root.write(&format!("etc/ssh/test_keys/{user}"), &client.public_key);
            set_mode(&root.file(&format!("etc/ssh/test_keys/{user}")), 0o644);
        }
        install_standins(&root);
        prepare(&root);
        // PID 1.
        let dir = TempDir::new(&format!("sshd-{name}"));
        let port = free_port();
        let init = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sshhost.sh");
        let log = std::fs::File::create(dir.path.join("sshd.log")).unwrap();
        let child = Command::new("setsid")
            .args([
                "unshare",
                "--mount",
                "--uts",
                "--pid",
                "--fork",
                "--kill-child",
                "--propagation",
                "private",
                "sh",
            ])
            .arg(init)
            .arg(r)
            .args([
                name,
                &port.to_string(),
                if live { "live" } else { "chroot" },
                log_level,
            ])
            .args(sshd_options.iter().flat_map(|o| ["-o", o]))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the test host");
        let mut host = SshHost {
            name: name.to_string(),
            port,
            root,
            host_key,
            live,
            dir,
            child: Some(child),
        };
        host.wait_ready();
        host
    }

    /// Wait until sshd sends its banner.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 8];
                if std::io::Read::read(&mut s, &mut buf).unwrap_or(0) >= 4 && &buf[..4] == b"SSH-" {
                    return;
                }
            }
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "test host {} exited ({st}) before sshd was ready:\n{}",
                    self.name,
                    self.sshd_log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "sshd of {} did not come up:\n{}",
                self.name,
                self.sshd_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What sshd (and PID 1) printed.
    pub fn sshd_log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("sshd.log")).unwrap_or_default()
    }

    /// The stand-ins' call log (empty when none was called).
    pub fn standin_calls(&self) -> Vec<String> {
        standin_calls(&self.root)
    }

    /// Kill the whole host at once (PID 1, sshd and every session).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Run a command on the host over SSH with OpenSSH's own client (as tester).
    pub fn ssh(&self, client: &Client, command: &str) -> std::process::Output {
        Command::new("ssh")
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .arg("-i")
            .arg(&client.key)
            .args(["-p", &self.port.to_string(), "tester@127.0.0.1", command])
            .output()
            .unwrap()
    }
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

impl Drop for SshHost {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An `ssh-agent` holding the given key; stopped when dropped.
pub struct Agent {
    pub socket: PathBuf,
    child: Child,
    _dir: TempDir,
}

impl Agent {
    pub fn start(key: &Path) -> Agent {
        let dir = TempDir::new("agent");
        let socket = dir.path.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        run(Command::new("ssh-add")
            .arg("-q")
            .arg(key)
            .env("SSH_AUTH_SOCK", &socket));
        Agent {
            socket,
            child,
            _dir: dir,
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// No host changed anything (the run converged), naming what changed when one did.
#[track_caller]
pub fn assert_nothing_changed(run: &Run, hosts: &[&SshHost]) {
    for h in hosts {
        assert_eq!(
            run.stats(&h.name)["changed"],
            0,
            "{}: {:?}",
            h.name,
            run.tasks_with(&h.name, "changed")
        );
    }
}

/// Each host had exactly one connection, and every task cost one round trip on it (reading
/// the state), plus one for the change when it changed something.
#[track_caller]
pub fn assert_round_trips(run: &Run, hosts: &[&SshHost]) {
    let doc = run.json();
    for h in hosts {
        // A task that changes nothing reads the host in one round trip; one that changes
        // something adds its step, and may have needed a second look first (systemctl judging
        // a unit that is not enabled yet, apt's candidates for a package to install).
        let heavy = run.tasks_where(&h.name, |r| {
            let allowed = if r["status"] == "changed" { 3 } else { 1 };
            r["round_trips"].as_u64().unwrap() > allowed
        });
        assert!(heavy.is_empty(), "{}: {heavy:?}", h.name);
        assert_eq!(
            doc["round_trips"][&h.name]["connections"], 1,
            "{}: {}",
            h.name, doc["round_trips"]
        );
        // Scripts run in persistent shells: one for the login user, one for root.
        assert!(
            doc["round_trips"][&h.name]["channels"].as_u64().unwrap() <= 2,
            "{}: {}",
            h.name,
            doc["round_trips"]
        );
        assert!(
            doc["round_trips"][&h.name]["bytes_sent"].as_u64().unwrap() > 0,
            "{}: {}",
            h.name,
            doc["round_trips"]
        );
        // The test hosts have perl: their state is read by the resident prober.
        assert!(
            doc["round_trips"][&h.name]["probed"].as_u64().unwrap() > 0,
            "{}: {}",
            h.name,
            doc["round_trips"]
        );
    }
}
