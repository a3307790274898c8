//! A built image booted in QEMU for a test that needs a real systemd machine (PID 1 systemd,
//! sshd as a unit): BIOS boot of the image as a USB stick, written to a throw-away overlay
//! (`snapshot=on`, the image file is not changed), the node's static address on QEMU's user
//! network (the subnet is the guest's own, nothing of this machine's network), its SSH port
//! forwarded to 127.0.0.1:<free port>. Killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

pub struct Vm {
    child: Child,
    pub port: u16,
    pub serial: PathBuf,
    key: PathBuf,
    pub user: String,
    _dir: TempDir,
}

/// The node's network as its netplan file has it: address, subnet (CIDR) and gateway.
pub struct Net<'a> {
    pub address: &'a str,
    pub subnet: &'a str,
    pub gateway: &'a str,
}

impl Vm {
    /// Boot `img` with `accel` (`kvm` or `tcg`, as `prov image test` found) and wait until
    /// `user` logs in with `key` (at most `secs` seconds).
    pub fn boot(img: &Path, accel: &str, net: &Net, key: &Path, user: &str, secs: u64) -> Vm {
        let dir = TempDir::new("vm");
        let serial = dir.path.join("serial.log");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("qemu-system-x86_64")
            .args(["-accel", accel, "-m", "1536", "-smp", "2"])
            .args(["-display", "none", "-monitor", "none", "-serial"])
            .arg(format!("file:{}", serial.display()))
            .args(["-device", "qemu-xhci", "-drive"])
            .arg(format!(
                "if=none,id=boot,format=raw,snapshot=on,file={}",
                img.display()
            ))
            .args(["-device", "usb-storage,drive=boot,bootindex=0", "-netdev"])
            .arg(format!(
                "user,id=n0,net={},host={},hostfwd=tcp:127.0.0.1:{port}-{}:22",
                net.subnet, net.gateway, net.address
            ))
            .args(["-device", "virtio-net-pci,netdev=n0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut vm = Vm {
            child,
            port,
            serial,
            key: key.to_path_buf(),
            user: user.to_string(),
            _dir: dir,
        };
        vm.wait_for_login(secs);
        vm
    }

    /// Wait until the admin user logs in (panics after `secs`, with the console's tail).
    pub fn wait_for_login(&mut self, secs: u64) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("QEMU exited ({status}): {}", self.console_tail());
            }
            if self.ssh("true").0 == 0 {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "no SSH login within {secs} s: {}",
                self.console_tail()
            );
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// Whether the admin user can log in now.
    pub fn can_log_in(&self) -> bool {
        self.ssh("true").0 == 0
    }

    /// One command over a new SSH connection as the admin user: (exit code, stdout + stderr).
    pub fn ssh(&self, command: &str) -> (i32, String) {
        let out = Command::new("timeout")
            .arg("30")
            .arg("ssh")
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .args(["-o", "ConnectTimeout=10", "-i"])
            .arg(&self.key)
            .args(["-p", &self.port.to_string()])
            .arg(format!("{}@127.0.0.1", self.user))
            .arg(command)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    /// An inventory that reaches the VM as `name` (host key checking is the caller's: the
    /// image makes its host keys at first boot).
    pub fn inventory(&self, name: &str) -> String {
        format!(
            "all:\n  hosts:\n    {name}:\n      ansible_host: 127.0.0.1\n      ansible_port: {}\n      ansible_user: {}\n      ansible_ssh_private_key_file: {}\n",
            self.port,
            self.user,
            self.key.display()
        )
    }

    fn console_tail(&self) -> String {
        let log = std::fs::read(&self.serial).unwrap_or_default();
        String::from_utf8_lossy(&log[log.len().saturating_sub(2000)..]).into_owned()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
