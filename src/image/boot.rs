//! `prov image test`: boot an image in QEMU as a USB stick, once with UEFI (OVMF) and once with
//! legacy BIOS (SeaBIOS), both at once, and prove it is the machine the playbook describes.
//!
//! The VM's user-mode network imitates the node's own subnet (read from the image's netplan
//! file), so SSH reaches the static address the image configured (nothing on this machine's
//! network changes). Per firmware, in order — the error names the step that failed and the
//! serial log: boot to SSH (login as the node's admin user with the key from the keys URL);
//! `prov check PLAYBOOK --limit NODE` over SSH with 0 changes; no failed units but the
//! definition's expected ones; `sshd -T` without password or root login; the static address
//! up; kubelet, kubeadm and kubectl at the pinned version and held. The image is attached with
//! `snapshot=on`: a test never changes it. KVM is used when it really works (a short trial
//! boot), TCG otherwise; the report says which.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cli::ImageTestArgs;
use crate::error::{Error, Result};

use super::definition::Boot;
use super::disk::run;

/// The longest one command over SSH may take (a `prov check` gets [`CHECK_TIMEOUT`]).
const SSH_TIMEOUT: Duration = Duration::from_secs(120);
const CHECK_TIMEOUT: Duration = Duration::from_secs(900);
/// The longest the installer may take in the VM.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(1800);
/// The serial number of the empty disk `--install` installs on (`/dev/disk/by-id/virtio-…`).
const TARGET_SERIAL: &str = "prov-install-target";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    Uefi,
    Bios,
}

impl Firmware {
    fn name(self) -> &'static str {
        match self {
            Firmware::Uefi => "uefi",
            Firmware::Bios => "bios",
        }
    }
}

/// The node's network as the image configures it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
}

impl Network {
    /// The first static IPv4 address and its gateway in a netplan file.
    pub fn from_netplan(text: &str) -> Result<Network> {
        let node = crate::yaml::parse_str(text, "netplan")?;
        let eths = node
            .get("network")
            .and_then(|n| n.get("ethernets"))
            .and_then(|n| n.as_map())
            .ok_or_else(|| Error::runtime("the image's netplan file has no network.ethernets"))?;
        for (_, eth) in eths {
            let Some(addr) = eth
                .get("addresses")
                .and_then(|a| a.as_seq())
                .and_then(|a| a.iter().find_map(|n| n.as_str()?.split_once('/')))
            else {
                continue;
            };
            let via = eth
                .get("routes")
                .and_then(|r| r.as_seq())
                .and_then(|r| r.iter().find_map(|n| n.get("via")?.as_str()))
                .or_else(|| eth.get("gateway4").and_then(|g| g.as_str()));
            let (Ok(address), Ok(prefix)) = (addr.0.parse(), addr.1.parse::<u8>()) else {
                continue;
            };
            let gateway = match via.map(str::parse) {
                Some(Ok(g)) => g,
                _ => continue,
            };
            if prefix > 30 {
                continue;
            }
            return Ok(Network {
                address,
                prefix,
                gateway,
            });
        }
        Err(Error::runtime(
            "the image's netplan file has no static IPv4 address with a gateway",
        ))
    }

    /// `192.168.10.0/24`.
    pub fn subnet(&self) -> String {
        let mask = u32::MAX << (32 - self.prefix as u32);
        format!(
            "{}/{}",
            Ipv4Addr::from(u32::from(self.address) & mask),
            self.prefix
        )
    }
}

/// What the test needs to know about the image, from its manifest and root filesystem.
struct Image {
    path: PathBuf,
    node: String,
    network: Network,
    expected_failed: Vec<String>,
    serial_dir: PathBuf,
    /// How it boots: the emulator, the UEFI firmware, whether it has legacy BIOS boot.
    boot: Boot,
    /// The image's root filesystem UUID (an installed disk must have another).
    root_uuid: String,
    /// An installed internal disk (virtio), not the USB stick: checked to be a machine of its
    /// own (its name, a new root filesystem).
    installed: bool,
}

impl Image {
    /// The first of the definition's UEFI firmware images that is installed here.
    fn uefi_firmware(&self) -> Option<&str> {
        self.boot
            .uefi_firmware
            .iter()
            .map(String::as_str)
            .find(|p| Path::new(p).is_file())
    }
}

fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::runtime(format!("no free port: {e}")))
}

/// Whether KVM really runs a guest here: `/dev/kvm` may exist and still fail at the first
/// instruction ("KVM internal error", after which QEMU stops the guest but keeps running), so
/// the UEFI firmware is started under KVM for a few seconds and must have said nothing.
fn kvm_works(img: &Image) -> bool {
    if !Path::new("/dev/kvm").exists() {
        return false;
    }
    let mut args: Vec<&str> = img.boot.qemu[1..].iter().map(String::as_str).collect();
    args.extend([
        "-accel",
        "kvm",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "none",
        "-no-reboot",
        "-m",
        "256",
    ]);
    if let Some(firmware) = img.uefi_firmware() {
        args.extend(["-bios", firmware]);
    }
    let child = std::process::Command::new(&img.boot.qemu[0])
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    std::thread::sleep(Duration::from_secs(4));
    let alive = matches!(child.try_wait(), Ok(None));
    let _ = child.kill();
    let out = child.wait_with_output();
    let said = out
        .map(|o| String::from_utf8_lossy(&o.stderr).to_lowercase())
        .unwrap_or_default();
    alive && !said.contains("error") && !said.contains("fail")
}

/// The QEMU command line for one firmware: the image as a USB stick (or, installed, as the
/// internal disk), the node's subnet, and `target`, an empty internal disk to install on.
fn qemu_args(
    img: &Image,
    fw: Firmware,
    accel: &str,
    port: u16,
    serial: &Path,
    target: Option<&Path>,
) -> Result<Vec<String>> {
    let n = &img.network;
    let mut args: Vec<String> = img.boot.qemu[1..].to_vec();
    args.extend([
        "-accel".into(),
        accel.into(),
        "-m".into(),
        "1536".into(),
        "-smp".into(),
        "2".into(),
        "-display".into(),
        "none".into(),
        "-monitor".into(),
        "none".into(),
        "-serial".into(),
        format!("file:{}", serial.display()),
        "-device".into(),
        "qemu-xhci".into(),
        "-drive".into(),
        format!(
            "if=none,id=boot,format=raw,snapshot=on,file={}",
            img.path.display()
        ),
        "-device".into(),
        if img.installed {
            "virtio-blk-pci,drive=boot,bootindex=0".into()
        } else {
            "usb-storage,drive=boot,bootindex=0".into()
        },
        "-netdev".into(),
        format!(
            "user,id=n0,net={},host={},hostfwd=tcp:127.0.0.1:{port}-{}:22",
            n.subnet(),
            n.gateway,
            n.address
        ),
        "-device".into(),
        "virtio-net-pci,netdev=n0".into(),
    ]);
    if let Some(t) = target {
        args.extend([
            "-drive".into(),
            format!("if=none,id=target,format=raw,file={}", t.display()),
            "-device".into(),
            format!("virtio-blk-pci,drive=target,serial={TARGET_SERIAL}"),
        ]);
    }
    if fw == Firmware::Uefi {
        let firmware = img.uefi_firmware().ok_or_else(|| {
            Error::runtime(format!(
                "no UEFI firmware for the UEFI boot: none of {} is installed (Debian's ovmf package has OVMF.fd)",
                img.boot.uefi_firmware.join(", ")
            ))
        })?;
        args.extend(["-bios".into(), firmware.to_string()]);
    }
    Ok(args)
}

/// One firmware's boot test.
struct Vm {
    fw: Firmware,
    port: u16,
    serial: PathBuf,
    child: tokio::process::Child,
    /// The firmware's spinner (hidden without a terminal).
    bar: indicatif::ProgressBar,
}

impl Vm {
    fn fail(&self, step: &str, detail: impl std::fmt::Display) -> Error {
        self.bar.finish_and_clear();
        Error::runtime(format!(
            "{} boot test failed at '{step}': {detail} (serial console: {})",
            self.fw.name(),
            self.serial.display()
        ))
    }
}

/// The last line a serial console printed, without terminal control sequences: a kernel
/// panic, GRUB's complaint, or the login prompt of a machine whose SSH is what failed.
fn last_words(log: &Path) -> Option<String> {
    let bytes = std::fs::read(log).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let escapes = regex::Regex::new(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])").ok()?;
    let plain = escapes.replace_all(&text, "");
    plain
        .split(['\n', '\r'])
        .map(|l| l.chars().filter(|c| !c.is_control()).collect::<String>())
        .map(|l| l.trim().to_string())
        .rfind(|l| !l.is_empty())
        .map(|l| l.chars().take(200).collect())
}

/// `ssh`'s options and destination for the VM.
fn ssh_options(args: &ImageTestArgs, port: u16, user: &str) -> Vec<String> {
    let mut o: Vec<String> = [
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "ServerAliveInterval=10",
        "-i",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    o.push(args.boot.private_key.display().to_string());
    o.extend(["-p".into(), port.to_string(), format!("{user}@127.0.0.1")]);
    o
}

/// `ssh` to the VM as `user`, one command.
async fn ssh(args: &ImageTestArgs, user: &str, port: u16, command: &str) -> Result<(i32, String)> {
    let run = tokio::process::Command::new("ssh")
        .args(ssh_options(args, port, user))
        .arg(command)
        .kill_on_drop(true)
        .output();
    // A guest that accepts the connection and then stalls must not hang the test.
    let out = tokio::time::timeout(SSH_TIMEOUT, run)
        .await
        .map_err(|_| {
            Error::runtime(format!(
                "ssh did not answer within {} s",
                SSH_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| Error::runtime(format!("cannot run ssh: {e}")))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.code().unwrap_or(-1), text))
}

/// Wait until the VM lets the admin user in over SSH (or QEMU ends, or the boot timeout
/// passes): the seconds it took.
async fn wait_for_login(args: &ImageTestArgs, user: &str, vm: &mut Vm) -> Result<u64> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.boot.timeout);
    loop {
        if let Ok(Some(status)) = vm.child.try_wait() {
            return Err(vm.fail("boot", format!("QEMU exited ({status})")));
        }
        if Instant::now() > deadline {
            let said = match last_words(&vm.serial) {
                Some(line) => format!("; the console's last words: \"{line}\""),
                None => "; the console printed nothing".into(),
            };
            return Err(vm.fail(
                "boot",
                format!("no SSH login within {} s{said}", args.boot.timeout),
            ));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", vm.port))
            .await
            .is_ok()
            && let Ok((0, _)) = ssh(args, user, vm.port, "true").await
        {
            return Ok(started.elapsed().as_secs());
        }
        super::progress::advance(&vm.bar, started.elapsed());
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

async fn test_one(
    args: &ImageTestArgs,
    img: &Image,
    user: &str,
    pinned: &str,
    mut vm: Vm,
) -> Result<(String, u64)> {
    // 1. Boot to SSH as the admin user.
    let boot_secs = wait_for_login(args, user, &mut vm).await?;
    // 1b. An installed disk is a machine of its own: its name, not the image's filesystem.
    if img.installed {
        let (_, name) = ssh(args, user, vm.port, "hostname").await?;
        if name.trim() != img.node {
            return Err(vm.fail(
                "installed identity",
                format!("hostname is '{}'", name.trim()),
            ));
        }
        let (_, root) = ssh(args, user, vm.port, "findmnt -n -o SOURCE,UUID /").await?;
        let mut f = root.split_whitespace();
        let (dev, uuid) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
        if !dev.starts_with("/dev/vda") || uuid.is_empty() || uuid == img.root_uuid {
            return Err(vm.fail(
                "installed identity",
                format!(
                    "the root filesystem is {dev} {uuid}; expected the internal disk with a UUID other than the image's {}",
                    img.root_uuid
                ),
            ));
        }
    }
    vm.bar.set_message("prov check over SSH");
    // 2. The playbook has nothing left to do.
    let me = std::env::current_exe().map_err(|e| Error::runtime(e.to_string()))?;
    let mut check = tokio::process::Command::new(me);
    check
        .arg("check")
        .arg(&args.boot.playbook)
        .args([
            "--limit",
            &img.node,
            "--format",
            "json",
            "--host-key-checking",
            "off",
        ])
        .arg("--private-key")
        .arg(&args.boot.private_key)
        .args([
            "-e",
            &format!(
                "ansible_host=127.0.0.1 ansible_port={} ansible_user={user}",
                vm.port
            ),
        ]);
    for i in &args.inventory {
        check.args(["-i", i]);
    }
    for e in &args.extra_vars {
        check.args(["-e", e]);
    }
    let out = tokio::time::timeout(CHECK_TIMEOUT, check.kill_on_drop(true).output())
        .await
        .map_err(|_| {
            vm.fail(
                "prov check",
                format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
            )
        })?
        .map_err(|e| vm.fail("prov check", e))?;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|_| {
        vm.fail(
            "prov check",
            format!(
                "exit {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
    })?;
    let stats = &doc["stats"][&img.node];
    let changed: Vec<String> = doc["plays"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["tasks"].as_array().into_iter().flatten())
        .filter(|t| {
            let h = &t["hosts"][&img.node];
            h["changed"] == true || h["failed"] == true || h["unreachable"] == true
        })
        .map(|t| t["task"]["name"].as_str().unwrap_or("?").to_string())
        .collect();
    if !out.status.success() || !changed.is_empty() {
        return Err(vm.fail(
            "prov check",
            format!(
                "expected 0 changes; stats {stats}; tasks: {}",
                changed.join(", ")
            ),
        ));
    }
    vm.bar.set_message("units, sshd, network, packages");
    // 3. No failed unit but the expected ones.
    let (_, failed) = ssh(
        args,
        user,
        vm.port,
        "systemctl --failed --plain --no-legend --no-pager",
    )
    .await?;
    let unexpected: Vec<&str> = failed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|u| !img.expected_failed.iter().any(|e| e == u))
        .collect();
    if !unexpected.is_empty() {
        return Err(vm.fail("units", format!("failed units: {}", unexpected.join(", "))));
    }
    // 4. sshd as hardened.
    let (rc, sshd) = ssh(args, user, vm.port, "sudo -n sshd -T").await?;
    let effective: Vec<&str> = sshd.lines().collect();
    for want in ["passwordauthentication no", "permitrootlogin no"] {
        if rc != 0 || !effective.contains(&want) {
            return Err(vm.fail("sshd", format!("sshd -T lacks '{want}'")));
        }
    }
    // 5. The static address is up.
    let (_, addrs) = ssh(args, user, vm.port, "ip -4 -o addr show").await?;
    let want = format!(" {}/{} ", img.network.address, img.network.prefix);
    if !addrs.contains(&want) {
        return Err(vm.fail("network", format!("{want} is not configured: {addrs}")));
    }
    // 6. Kubernetes packages at the pinned version, held.
    let (_, versions) = ssh(
        args,
        user,
        vm.port,
        "dpkg-query -W -f '${Package}=${Version}\\n' kubelet kubeadm kubectl; apt-mark showhold",
    )
    .await?;
    for pkg in ["kubelet", "kubeadm", "kubectl"] {
        if !pinned.is_empty() && !versions.lines().any(|l| l == format!("{pkg}={pinned}")) {
            return Err(vm.fail("packages", format!("{pkg} is not at {pinned}: {versions}")));
        }
        if !versions.lines().any(|l| l == pkg) {
            return Err(vm.fail("packages", format!("{pkg} is not held")));
        }
    }
    vm.bar.finish_and_clear();
    Ok((
        format!(
            "{}{}: SSH after {boot_secs} s, 0 changes, all checks passed",
            if img.installed { "installed " } else { "" },
            vm.fw.name()
        ),
        boot_secs,
    ))
}

/// Start QEMU for one firmware (killed when the [`Vm`] is dropped).
fn start_vm(
    img: &Image,
    fw: Firmware,
    accel: &str,
    serial: PathBuf,
    target: Option<&Path>,
    bar: indicatif::ProgressBar,
) -> Result<Vm> {
    let port = free_port()?;
    let child = tokio::process::Command::new(&img.boot.qemu[0])
        .args(qemu_args(img, fw, accel, port, &serial, target)?)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        // QEMU's own complaints go beside the serial log (a pipe nobody reads could fill).
        .stderr(
            std::fs::File::create(serial.with_extension("qemu.log"))
                .map_err(|e| Error::io(&serial, e))?,
        )
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::runtime(format!("cannot start {}: {e}", img.boot.qemu[0])))?;
    Ok(Vm {
        fw,
        port,
        serial,
        child,
        bar,
    })
}

/// `--install`: boot the image (UEFI) with an empty internal disk as large as the image, run
/// `install-to-disk --target /dev/disk/by-id/virtio-prov-install-target --yes` over SSH, power
/// off. Returns the installed disk and the installer's copy line.
async fn install_in_vm(
    args: &ImageTestArgs,
    img: &Image,
    user: &str,
    accel: &str,
) -> Result<(PathBuf, String)> {
    let target = img.serial_dir.join(format!("{}.installed.img", img.node));
    let size = std::fs::metadata(&img.path)
        .map_err(|e| Error::io(&img.path, e))?
        .len();
    let _ = std::fs::remove_file(&target);
    std::fs::File::create(&target)
        .and_then(|f| f.set_len(size))
        .map_err(|e| Error::io(&target, e))?;
    let fw = if img.uefi_firmware().is_some() || img.boot.bios_grub.is_none() {
        Firmware::Uefi
    } else {
        Firmware::Bios
    };
    let serial = img
        .serial_dir
        .join(format!("{}.install.serial.log", img.node));
    let bar = super::progress::boot_bars(&["install"], &[None])
        .pop()
        .unwrap_or_else(indicatif::ProgressBar::hidden);
    let mut vm = start_vm(img, fw, accel, serial, Some(&target), bar)?;
    wait_for_login(args, user, &mut vm).await?;
    vm.bar.set_message("install-to-disk");
    let command = format!(
        "sudo -n install-to-disk --target /dev/disk/by-id/virtio-{TARGET_SERIAL} --yes 2>&1"
    );
    let run = tokio::process::Command::new("ssh")
        .args(ssh_options(args, vm.port, user))
        .arg(&command)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(INSTALL_TIMEOUT, run)
        .await
        .map_err(|_| {
            vm.fail(
                "install",
                format!("not done within {} s", INSTALL_TIMEOUT.as_secs()),
            )
        })?
        .map_err(|e| vm.fail("install", e))?;
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(vm.fail(
            "install",
            format!(
                "install-to-disk exited with {}: {}",
                out.status,
                said.trim()
            ),
        ));
    }
    let copy = said
        .lines()
        .filter_map(|l| l.strip_prefix("[prov install] "))
        .find(|l| l.starts_with("copy: ") && l.contains(" in "))
        .unwrap_or("copy: (no summary)")
        .to_string();
    // Power off, and wait for QEMU to end: the disk is complete then.
    let _ = ssh(args, user, vm.port, "sudo -n systemctl poweroff").await;
    let waited = tokio::time::timeout(Duration::from_secs(180), vm.child.wait()).await;
    if !matches!(waited, Ok(Ok(_))) {
        return Err(vm.fail("install", "the VM did not power off within 180 s"));
    }
    vm.bar.finish_and_clear();
    Ok((target, copy))
}

/// `prov image test`: the report lines, or the first failure.
pub async fn test(args: ImageTestArgs) -> Result<Vec<String>> {
    let path = args
        .image
        .canonicalize()
        .map_err(|e| Error::io(&args.image, e))?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("image")
        .to_string();
    let manifest_path = dir.join(format!("{stem}.manifest.json"));
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?,
    )
    .map_err(|e| Error::runtime(format!("{}: {e}", manifest_path.display())))?;
    let node = manifest["node"].as_str().unwrap_or(&stem).to_string();
    let root_start = manifest["layout"]["root"][0]
        .as_u64()
        .ok_or_else(|| Error::runtime(format!("{}: no layout", manifest_path.display())))?;
    let netplan = run(
        "debugfs",
        &[
            "-R",
            &format!("cat {}", args.netplan_file),
            &format!("{}?offset={}", path.display(), root_start * 512),
        ],
        &[],
    )?;
    let network = Network::from_netplan(&netplan)?;
    // Manifests from before `boot` was recorded are amd64 images.
    let boot: Boot = match manifest.get("boot") {
        Some(b) => serde_json::from_value(b.clone())
            .map_err(|e| Error::runtime(format!("{}: boot: {e}", manifest_path.display())))?,
        None => Boot::amd64(),
    };
    if boot.qemu.is_empty() {
        return Err(Error::runtime(format!(
            "{}: boot.qemu names no emulator",
            manifest_path.display()
        )));
    }
    let expected_failed = match manifest["definition"].as_str() {
        Some(d) if Path::new(d).is_file() => {
            super::definition::load(Path::new(d))?.expected_failed_units
        }
        _ => Vec::new(),
    };
    let cfg = crate::config::Config::load()?;
    let sources = cfg.inventory_sources(&args.inventory);
    let inv = crate::inventory::Inventory::load(&sources)?;
    let vars = inv.host_vars(&node);
    let var = |k: &str| vars.get(k).map(|v| v.to_string()).unwrap_or_default();
    let user = args.user.clone().unwrap_or_else(|| var("ansible_user"));
    if user.is_empty() {
        return Err(Error::usage(format!(
            "no admin user for {node}: give --user or ansible_user"
        )));
    }
    let pinned = var("kubernetes_package_version");
    let mut img = Image {
        path,
        node,
        network,
        expected_failed,
        serial_dir: dir,
        boot,
        root_uuid: manifest["filesystems"]["root_uuid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        installed: false,
    };
    let accel = if kvm_works(&img) { "kvm" } else { "tcg" };
    let mut lines = vec![format!("accelerator: {accel}")];
    if args.install {
        let (installed, copy) = install_in_vm(&args, &img, &user, accel).await?;
        lines.push(format!("install: {copy}"));
        img.path = installed;
        img.installed = true;
    }
    let kind = if img.installed { "installed-" } else { "" };
    let names: Vec<&str> = args.boot.firmware.iter().map(String::as_str).collect();
    // Boot times of this image's last test, for the bars' ETA.
    let times_path = img.serial_dir.join(format!("{}.boot-times.json", img.node));
    let times: serde_json::Value = std::fs::read_to_string(&times_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let expected: Vec<Option<Duration>> = names
        .iter()
        .map(|n| {
            times[format!("{accel}-{kind}{n}")]
                .as_u64()
                .map(Duration::from_secs)
        })
        .collect();
    let mut bars = super::progress::boot_bars(&names, &expected).into_iter();
    let mut vms = Vec::new();
    for fw in &args.boot.firmware {
        let fw = match fw.as_str() {
            "uefi" => Firmware::Uefi,
            "bios" if img.boot.bios_grub.is_some() => Firmware::Bios,
            "bios" => {
                return Err(Error::usage(format!(
                    "--firmware bios: the image of {} boots with UEFI only (its definition has no boot.bios)",
                    img.node
                )));
            }
            other => {
                return Err(Error::usage(format!(
                    "--firmware {other}: use uefi and/or bios"
                )));
            }
        };
        let serial = img
            .serial_dir
            .join(format!("{}.{kind}{}.serial.log", img.node, fw.name()));
        let bar = bars.next().unwrap_or_else(indicatif::ProgressBar::hidden);
        vms.push(start_vm(&img, fw, accel, serial, None, bar)?);
    }
    // Both firmwares boot at once.
    let mut each = vms.into_iter();
    let (first, second) = (each.next(), each.next());
    let run = |vm: Option<Vm>| {
        let (args, img, user, pinned) = (&args, &img, &user, &pinned);
        async move {
            match vm {
                Some(vm) => Some(test_one(args, img, user, pinned, vm).await),
                None => None,
            }
        }
    };
    let (a, b) = tokio::join!(run(first), run(second));
    let results: Vec<Result<(String, u64)>> = [a, b].into_iter().flatten().collect();
    let mut errors = Vec::new();
    let mut booted = times.as_object().cloned().unwrap_or_default();
    for (r, name) in results.into_iter().zip(&names) {
        match r {
            Ok((line, secs)) => {
                lines.push(line);
                booted.insert(format!("{accel}-{kind}{name}"), secs.into());
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(Error::runtime(errors.join("\n")));
    }
    // Best effort: the next test's ETA.
    let _ = std::fs::write(
        &times_path,
        serde_json::Value::Object(booted).to_string() + "\n",
    );
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_s_last_words_are_plain_text() {
        let dir = std::env::temp_dir().join(format!("prov-serial-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("serial.log");
        std::fs::write(&log, b"\x1b[2J\x1b[01;01HBooting `prov'\r\n\r\nerror: invalid magic number.\r\n\x1b[0m\r\n  \r\n").unwrap();
        assert_eq!(
            last_words(&log).as_deref(),
            Some("error: invalid magic number.")
        );
        std::fs::write(&log, b"").unwrap();
        assert_eq!(last_words(&log), None);
        assert_eq!(last_words(&dir.join("none")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_network_comes_from_the_netplan_file() {
        let n = Network::from_netplan("network:\n  version: 2\n  ethernets:\n    primary:\n      match: {name: \"e*\"}\n      addresses:\n        - 192.168.10.101/24\n      routes:\n        - to: default\n          via: 192.168.10.1\n").unwrap();
        assert_eq!(n.address, Ipv4Addr::new(192, 168, 10, 101));
        assert_eq!(n.gateway, Ipv4Addr::new(192, 168, 10, 1));
        assert_eq!(n.subnet(), "192.168.10.0/24");
        assert!(Network::from_netplan("network: {ethernets: {e: {dhcp4: true}}}").is_err());
    }
}
