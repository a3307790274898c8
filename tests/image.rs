//! `prov image build`: golyat-1's image from images/worker-bookworm.yml (Debian's archive; the
//! Ubuntu archive is out of reach here) with the local signed apt repositories and keys
//! endpoint, inspected without mounting it: the partition table (sfdisk), the root filesystem
//! (debugfs), the ESP (mtools), the MBR and the BIOS boot block lists. Builds are
//! byte-identical for the same SOURCE_DATE_EPOCH; golyat-2 differs only in its inventory
//! entry; bad definitions, missing packages and playbook failures stop before any image.
//!
//! The bootstrap is cached in ~/.cache/prov-test/image-cache (keyed by definition and day).

mod common;

use std::path::Path;
use std::process::Command;

use common::disk::{EPOCH, GPT_TYPES, RootFs, build, partitions, sh};
use common::vm::{Net, Vm};
use common::{Project, Prov, RepoServer, TempDir, repo_root};

#[test]
fn golyat_images_are_built_bootable_on_both_firmwares_and_reproducible() {
    let server = RepoServer::start();
    let out = TempDir::new("images");
    let run = build(&server, "golyat-1", &out.path, &[]);
    run.ok();
    let img = out.path.join("golyat-1.img");
    assert_eq!(run.stdout.lines().last(), Some(img.to_str().unwrap()));
    // Sparse: 4 GiB long, far fewer bytes used.
    let meta = std::fs::metadata(&img).unwrap();
    assert_eq!(meta.len(), 4 << 30);
    let used = std::os::unix::fs::MetadataExt::blocks(&meta) * 512;
    assert!(
        used <= 1_200_000_000,
        "{used} bytes used (the goal: 1.2 GB)"
    );

    // GPT: BIOS boot, ESP, root; 1 MiB aligned.
    let parts = partitions(&img);
    let types: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(types, GPT_TYPES);
    for p in &parts {
        assert_eq!(p["start"].as_u64().unwrap() % 2048, 0, "{p}");
    }
    assert_eq!(parts[1]["size"].as_u64().unwrap() * 512, 512 << 20);

    // The root filesystem, as the playbook and the image fixes left it.
    let fs = RootFs::of(&img);
    let hardening = fs.cat("/etc/ssh/sshd_config.d/00-hardening.conf");
    assert!(
        hardening.contains("PermitRootLogin no") && hardening.contains("PasswordAuthentication no"),
        "{hardening}"
    );
    assert_eq!(
        fs.cat("/etc/sudoers.d/boxp"),
        "boxp ALL=(ALL:ALL) NOPASSWD: ALL\n"
    );
    let keys = std::fs::read_to_string(server.dir.join("boxp.keys")).unwrap();
    assert_eq!(fs.cat("/home/boxp/.ssh/authorized_keys"), keys);
    let netplan = fs.cat("/etc/netplan/01-prov.yaml");
    assert!(netplan.contains("- 192.168.10.101/24"), "{netplan}");
    assert_eq!(fs.mode("/etc/netplan/01-prov.yaml") & 0o777, 0o600);
    assert!(
        fs.cat("/etc/default/kubelet")
            .contains("--node-ip=192.168.10.101")
    );
    let status = fs.cat("/var/lib/dpkg/status");
    for pkg in ["kubelet", "kubeadm", "kubectl", "cri-o"] {
        let stanza = status
            .split("\n\n")
            .find(|s| s.starts_with(&format!("Package: {pkg}\n")))
            .unwrap_or_else(|| panic!("{pkg} not installed"));
        assert!(stanza.contains("Status: hold ok installed"), "{stanza}");
    }
    assert_eq!(fs.cat("/etc/hostname"), "golyat-1\n");
    assert_eq!(fs.cat("/etc/machine-id"), "");
    let ssh_dir = fs.debugfs("ls -l /etc/ssh");
    assert!(!ssh_dir.contains("ssh_host_"), "{ssh_dir}");
    assert!(fs.exists("/etc/systemd/system/prov-ssh-host-keys.service"));
    assert!(fs.exists("/etc/systemd/system/multi-user.target.wants/prov-ssh-host-keys.service"));
    assert!(fs.exists("/usr/local/bin/prov"));
    // dpkg's filters from the definition: no manuals or docs, copyright files kept, also for
    // packages the playbook installed.
    assert!(fs.exists("/usr/share/doc/sudo/copyright"));
    assert!(!fs.exists("/usr/share/doc/sudo/README.Debian"));
    assert!(!fs.exists("/usr/share/man/man8/sudo.8.gz"));
    assert!(
        fs.cat("/etc/dpkg/dpkg.cfg.d/99mmdebstrap")
            .contains("path-exclude=/usr/share/man/*")
    );
    let fstab = fs.cat("/etc/fstab");
    let root_uuid = fs.uuid();
    assert!(
        fstab.contains(&format!("UUID={root_uuid} / ext4")),
        "{fstab}"
    );
    let grub = fs.cat("/boot/grub/grub.cfg");
    assert!(
        grub.contains(&format!("root=UUID={root_uuid} ro"))
            && grub.contains("console=ttyS0,115200"),
        "{grub}"
    );

    // The ESP: FAT with the UEFI loader; its volume id is the one fstab names.
    let esp = format!(
        "{}@@{}",
        img.display(),
        parts[1]["start"].as_u64().unwrap() * 512
    );
    let listing =
        sh(Command::new("mdir")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-i", &esp, "::/EFI/BOOT"]));
    assert!(listing.contains("BOOTX64  EFI"), "{listing}");
    let info = sh(Command::new("minfo")
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(["-i", &esp]));
    let serial = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("serial number:"))
        .unwrap()
        .trim()
        .to_uppercase();
    let fat_id = format!("{}-{}", &serial[..4], &serial[4..]);
    assert!(
        fstab.contains(&format!("UUID={fat_id} /boot/efi vfat")),
        "{fstab} vs {fat_id}"
    );

    // Legacy BIOS: GRUB's boot code in the MBR pointing at core.img in partition 1, whose
    // block list covers the rest of it; the protective MBR's partition table kept.
    let head = read_at(&img, 0, 512);
    assert_eq!(&head[510..512], &[0x55, 0xaa]);
    assert_eq!(head[450], 0xee, "protective MBR partition type");
    assert_eq!(
        u64::from_le_bytes(head[0x5c..0x64].try_into().unwrap()),
        2048
    );
    let core = read_at(&img, 2048 * 512, 512);
    assert_eq!(
        u64::from_le_bytes(core[0x1f4..0x1fc].try_into().unwrap()),
        2049
    );
    let sectors = u16::from_le_bytes(core[0x1fc..0x1fe].try_into().unwrap());
    assert!(sectors > 10 && sectors < 2047, "{sectors}");

    // The manifest says what is inside.
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path.join("golyat-1.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["node"], "golyat-1");
    assert_eq!(manifest["base"]["suite"], "bookworm");
    assert_eq!(manifest["kubernetes"]["kubelet"], "1.32.0-1.1");
    assert_eq!(manifest["filesystems"]["root_uuid"], root_uuid.as_str());
    assert_eq!(manifest["boot"]["uefi_file"], "BOOTX64.EFI");
    assert_eq!(manifest["boot"]["qemu"][0], "qemu-system-x86_64");
    assert!(manifest["kernel"].as_str().unwrap().ends_with("-amd64"));
    assert!(manifest["packages"].as_array().unwrap().len() > 100);
    let steps: Vec<&str> = manifest["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps[..2], ["bootstrap", "provision"]);
    assert!(!out.path.join(".golyat-1.build").exists());

    // Reproducible: the same inputs and SOURCE_DATE_EPOCH give the same bytes.
    let again = TempDir::new("images-again");
    build(&server, "golyat-1", &again.path, &[]).ok();
    assert_eq!(
        sha256(&img),
        sha256(&again.path.join("golyat-1.img")),
        "{}",
        first_difference(&img, &again.path.join("golyat-1.img"))
    );

    // Booted as a USB stick with UEFI and with BIOS at once: SSH at the static address as
    // boxp with the key from the keys endpoint, `prov check` over SSH with 0 changes, no
    // failed units, sshd hardened, kubelet/kubeadm/kubectl pinned and held.
    let key = server.key();
    let image_test = |extra: &[&str]| {
        Prov::new()
            .cwd(&repo_root())
            .args(["image", "test"])
            .args(extra)
            .arg(&img)
            .arg("--private-key")
            .arg(&key)
            .arg("-e")
            .arg(server.vars())
            .run()
    };
    let boot = image_test(&[]);
    boot.ok()
        .stdout_has("uefi: SSH after")
        .stdout_has("bios: SSH after")
        .stdout_has("0 changes, all checks passed");
    // The boot times are kept for the next test's ETA.
    let times: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path.join("golyat-1.boot-times.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(times.as_object().unwrap().len(), 2, "{times}");
    for fw in ["uefi", "bios"] {
        let log = String::from_utf8_lossy(
            &std::fs::read(out.path.join(format!("golyat-1.{fw}.serial.log"))).unwrap(),
        )
        .into_owned();
        assert!(log.contains("golyat-1 login:"), "{fw}: {log}");
    }
    assert_eq!(
        sha256(&img),
        sha256(&again.path.join("golyat-1.img")),
        "the test changed the image"
    );

    // Lockout-safe sshd changes on the booted image, where systemd is PID 1: the revert is a
    // `systemd-run` timer (the SSH test hosts of tests/safe_reconnect.rs have no systemd and
    // get the watchdog).
    let accel = boot
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("accelerator: "))
        .unwrap()
        .to_string();
    lockout_safe_changes_on_systemd(&img, &accel, &netplan, &key);

    // The installer is in the image: `install-to-disk`, the record of how the image boots,
    // the tools it runs, and the automatic install's unit (enabled; it acts only with
    // prov.install=auto or the ESP's prov-install-auto).
    assert_eq!(fs.mode("/usr/local/bin/install-to-disk") & 0o777, 0o755);
    assert!(
        fs.cat("/usr/local/bin/install-to-disk")
            .contains("exec /usr/local/bin/prov image install")
    );
    let info: serde_json::Value = serde_json::from_str(&fs.cat("/etc/prov/image.json")).unwrap();
    assert_eq!(info["node"], "golyat-1");
    assert_eq!(info["esp_bytes"], 512 << 20);
    assert_eq!(info["boot"]["bios_grub"], "i386-pc");
    for tool in [
        "/usr/sbin/sgdisk",
        "/usr/sbin/mkfs.vfat",
        "/usr/bin/mcopy",
        "/usr/sbin/debugfs",
    ] {
        assert!(fs.exists(tool), "{tool} is not in the image");
    }
    assert!(fs.exists("/etc/systemd/system/multi-user.target.wants/prov-auto-install.service"));
    assert!(
        fs.cat("/etc/systemd/system/prov-auto-install.service")
            .contains("ConditionKernelCommandLine=|prov.install=auto")
    );

    // Installed onto an empty internal disk from inside the booted image (`install-to-disk
    // --target /dev/disk/by-id/virtio-… --yes` over SSH), then that disk booted alone with
    // UEFI and with BIOS: the same machine (name, admin user and key, 0 changes) on a root
    // filesystem of its own.
    let installed = image_test(&["--install"]);
    installed
        .ok()
        .stdout_has("install: copy: ")
        .stdout_has("installed uefi: SSH after")
        .stdout_has("installed bios: SSH after");
    let disk = out.path.join("golyat-1.installed.img");
    let ifs = RootFs::of(&disk);
    let new_uuid = ifs.uuid();
    assert_ne!(new_uuid, root_uuid);
    assert!(
        ifs.cat("/etc/fstab")
            .contains(&format!("UUID={new_uuid} / ext4"))
    );
    assert!(
        ifs.cat("/boot/grub/grub.cfg")
            .contains(&format!("root=UUID={new_uuid} ro"))
    );
    assert_eq!(ifs.cat("/etc/hostname"), "golyat-1\n");
    assert!(!ifs.exists("/etc/systemd/system/multi-user.target.wants/prov-auto-install.service"));
    std::fs::remove_file(&disk).unwrap();

    // A machine that cannot be logged into fails within the timeout, naming the step and
    // the serial log.
    let wrong_key = again.path.join("wrong");
    sh(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&wrong_key));
    let run = Prov::new()
        .cwd(&repo_root())
        .args(["image", "test", "--firmware", "bios", "--timeout", "20"])
        .arg(&img)
        .arg("--private-key")
        .arg(&wrong_key)
        .run();
    assert_ne!(run.code, 0);
    run.stderr_has("bios boot test failed at 'boot': no SSH login within 20 s")
        .stderr_has("golyat-1.bios.serial.log");

    // A kernel that does not boot (its file overwritten in a copy of the image): the test
    // fails within its timeout on both firmwares, names the step and the serial log, and
    // says what the console said last.
    let broken = TempDir::new("broken-kernel");
    let copy = broken.path.join("golyat-1.img");
    sh(Command::new("cp")
        .arg("--sparse=always")
        .arg(&img)
        .arg(&copy));
    std::fs::copy(
        out.path.join("golyat-1.manifest.json"),
        broken.path.join("golyat-1.manifest.json"),
    )
    .unwrap();
    let kernel_file = format!("/boot/vmlinuz-{}", manifest["kernel"].as_str().unwrap());
    let junk = broken.path.join("junk");
    std::fs::write(&junk, vec![0x5a; 4 << 20]).unwrap();
    let root_start = parts[2]["start"].as_u64().unwrap();
    let at = format!("{}?offset={}", copy.display(), root_start * 512);
    sh(Command::new("debugfs").args(["-w", "-R", &format!("rm {kernel_file}"), &at]));
    sh(Command::new("debugfs").args([
        "-w",
        "-R",
        &format!("write {} {kernel_file}", junk.display()),
        &at,
    ]));
    let started = std::time::Instant::now();
    let run = Prov::new()
        .cwd(&repo_root())
        .args(["image", "test", "--timeout", "45"])
        .arg(&copy)
        .arg("--private-key")
        .arg(&key)
        .run();
    assert_ne!(run.code, 0);
    assert!(started.elapsed().as_secs() < 150, "{:?}", started.elapsed());
    run.stderr_has("boot test failed at 'boot': no SSH login within 45 s")
        .stderr_has("the console's last words")
        .stderr_has("golyat-1.")
        .stderr_has(".serial.log");
    assert!(
        !run.stderr.contains("login:"),
        "a broken kernel reached a login prompt: {}",
        run.stderr
    );

    // golyat-2 and golyat-3: the same definition, their own inventory entries.
    for (node, address) in [
        ("golyat-2", "192.168.10.105/24"),
        ("golyat-3", "192.168.10.106/24"),
    ] {
        build(&server, node, &out.path, &[]).ok();
        let fs = RootFs::of(&out.path.join(format!("{node}.img")));
        assert_eq!(fs.cat("/etc/hostname"), format!("{node}\n"));
        assert!(
            fs.cat("/etc/netplan/01-prov.yaml")
                .contains(&format!("- {address}")),
            "{node}"
        );
        assert_ne!(fs.uuid(), root_uuid);
        std::fs::remove_file(out.path.join(format!("{node}.img"))).unwrap();
    }
}

/// `prov_safe_reconnect` on a machine booted with systemd (the image in QEMU, written to a
/// throw-away overlay): the revert is armed as a `systemd-run --on-active` timer. A good sshd
/// drop-in is confirmed and kept, and its timer is gone; one that denies the admin user is
/// reverted and the task fails; and with prov killed right after the lockout, systemd's timer
/// reverts it by itself (its service in the journal, no watchdog process). Nothing else of
/// /etc/ssh changes.
fn lockout_safe_changes_on_systemd(img: &Path, accel: &str, netplan: &str, key: &Path) {
    let address = netplan
        .lines()
        .find_map(|l| l.trim().strip_prefix("- ")?.strip_suffix("/24"))
        .unwrap();
    let gateway = netplan
        .lines()
        .find_map(|l| l.trim().strip_prefix("via: "))
        .unwrap();
    let subnet = format!("{}.0/24", address.rsplit_once('.').unwrap().0);
    let net = Net {
        address,
        subnet: &subnet,
        gateway,
    };
    let vm = Vm::boot(img, accel, &net, key, "boxp", 600);
    assert_eq!(vm.ssh("cat /proc/1/comm").1.trim(), "systemd");
    let etc_ssh = || {
        vm.ssh("sudo -n sh -c 'cd /etc/ssh && find . -type f | sort | xargs sha256sum'")
            .1
    };
    let before = etc_ssh();
    let drop_in = "/etc/ssh/sshd_config.d/10-prov-test.conf";
    let play = |line: &str, then: &str| {
        format!(
            r#"- hosts: golyat-1
  become: true
  gather_facts: false
  vars:
    prov_safe_reconnect_timeout: 20
  tasks:
    - name: Change sshd
      ansible.builtin.copy:
        dest: {drop_in}
        content: "{line}\n"
        validate: sshd -t -f %s
      vars:
        prov_safe_reconnect: true
      notify: [Restart SSH, Then]
  handlers:
    - name: Restart SSH
      ansible.builtin.systemd:
        name: ssh
        state: restarted
    - name: Then
      ansible.builtin.command: "{then}"
"#
        )
    };
    let project = Project::new().file("hosts.yml", &vm.inventory("golyat-1"));
    let apply = |play: &str| {
        std::fs::write(project.path("site.yml"), play).unwrap();
        Prov::new()
            .cwd(&project.dir.path)
            .args(["apply", "site.yml", "-i", "hosts.yml"])
            .args(["--host-key-checking", "off", "--format", "json"])
    };
    let confirm = "Confirm over a new connection: Change sshd";
    let no_revert_left = || {
        vm.ssh("sudo -n systemctl list-units --all --no-legend --plain 'prov-revert-*'; sudo -n ls /var/lib/prov 2>&1; pgrep -af prov-rever[t]")
            .1
    };

    // A good drop-in: armed with systemd, confirmed, kept after the window, no timer left.
    let good = apply(&play("LoginGraceTime 42", "true")).run();
    good.ok();
    assert_eq!(
        good.task("golyat-1", "Change sshd")["result"]["prov_safe_reconnect"],
        format!("revert armed (systemd, 20 s) for: {drop_in}")
    );
    assert_eq!(good.task("golyat-1", confirm)["status"], "ok");
    std::thread::sleep(std::time::Duration::from_secs(25));
    assert_eq!(vm.ssh(&format!("cat {drop_in}")).1, "LoginGraceTime 42\n");
    assert!(
        vm.ssh("sudo -n sshd -T").1.contains("logingracetime 42"),
        "the kept drop-in is not in effect"
    );
    let left = no_revert_left();
    assert!(left.contains("No such file or directory"), "{left}");
    assert!(!left.contains("prov-revert-"), "{left}");
    vm.ssh(&format!(
        "sudo -n rm {drop_in} && sudo -n systemctl restart ssh"
    ));
    assert_eq!(etc_ssh(), before);

    // A drop-in that denies the admin: the confirm fails, the host reverts, logins work.
    let bad = apply(&play("DenyUsers boxp", "true")).run();
    bad.code(2);
    assert_eq!(
        bad.task("golyat-1", "Change sshd")["result"]["prov_safe_reconnect"],
        format!("revert armed (systemd, 20 s) for: {drop_in}")
    );
    let failed = bad.task("golyat-1", confirm);
    let msg = failed["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("the target reverts to the previous files (")
            && msg.contains(drop_in)
            && msg.ends_with("the host accepts logins again"),
        "{failed}"
    );
    assert!(vm.can_log_in());
    assert_eq!(etc_ssh(), before);

    // prov killed once the admin is locked out: systemd's timer reverts by itself.
    let journal_mark = vm.ssh("date +%s").1.trim().to_string();
    let prov = apply(&play("DenyUsers boxp", "sleep 120")).spawn();
    common::wait_until(120, "the lockout", || !vm.can_log_in());
    prov.kill();
    let killed = std::time::Instant::now();
    common::wait_until(90, "the target to revert by itself", || vm.can_log_in());
    assert!(killed.elapsed().as_secs() < 60, "{:?}", killed.elapsed());
    assert_eq!(etc_ssh(), before);
    let journal = vm
        .ssh(&format!(
            "sudo -n journalctl --no-pager -o cat --since @{journal_mark} -t prov -t systemd"
        ))
        .1;
    assert!(
        journal
            .contains("reverted an unconfirmed change: /etc/ssh/sshd_config.d/10-prov-test.conf"),
        "{journal}"
    );
    assert!(
        journal.contains("prov-revert-") && journal.contains("Deactivated successfully"),
        "systemd did not run the revert: {journal}"
    );
    let left = no_revert_left();
    assert!(!left.contains("prov-revert"), "{left}");
}

fn read_at(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut buf = vec![0; len];
    f.read_exact(&mut buf).unwrap();
    buf
}

fn sha256(path: &Path) -> String {
    sh(Command::new("sha256sum").arg(path))
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Where two images first differ, by partition, for a failing reproducibility check.
fn first_difference(a: &Path, b: &Path) -> String {
    let out = Command::new("cmp").arg(a).arg(b).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let byte: u64 = text
        .split("byte ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let sector = byte.saturating_sub(1) / 512;
    let parts = partitions(a);
    let name = parts
        .iter()
        .find(|p| {
            let s = p["start"].as_u64().unwrap();
            sector >= s && sector < s + p["size"].as_u64().unwrap()
        })
        .map(|p| p["name"].as_str().unwrap_or("?").to_string())
        .unwrap_or_else(|| "the partition table".into());
    format!("{text} (sector {sector}, in {name})")
}

#[test]
fn the_two_definitions_differ_only_in_their_base() {
    let read = |p: &str| {
        let text = std::fs::read_to_string(repo_root().join(p)).unwrap();
        text.lines()
            .filter(|l| {
                !l.starts_with('#')
                    && !l.starts_with("  distribution:")
                    && !l.starts_with("  suite:")
                    && !l.starts_with("  mirror:")
                    && !l.starts_with("  components:")
                    && !l.starts_with("kernel:")
            })
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        read("images/worker.yml"),
        read("images/worker-bookworm.yml")
    );
}

/// images/worker-bookworm.yml, placed elsewhere (its paths made absolute), with one edit.
fn bookworm_definition_with(from: &str, to: &str) -> String {
    let repo = repo_root();
    let text = std::fs::read_to_string(repo.join("images/worker-bookworm.yml")).unwrap();
    assert!(text.contains(from), "{from}");
    text.replace(from, to)
        .replace(
            "playbook: ../playbooks/worker.yml",
            &format!(
                "playbook: {0}/playbooks/worker.yml\ngrub_cfg: {0}/images/files/grub.cfg",
                repo.display()
            ),
        )
        .replace("- files/", &format!("- {}/images/files/", repo.display()))
}

#[test]
fn bad_definitions_and_failing_playbooks_leave_no_image() {
    let server = RepoServer::start();
    let out = TempDir::new("bad-images");
    // An unknown key: an error at its line before anything is built.
    let bad = out.path.join("bad.yml");
    std::fs::write(
        &bad,
        bookworm_definition_with("playbook:", "pakages: [x]\nplaybook:"),
    )
    .unwrap();
    let run = Prov::new()
        .cwd(&repo_root())
        .args(["image", "build", "--node", "golyat-1", "--definition"])
        .arg(&bad)
        .arg("-o")
        .arg(&out.path)
        .run();
    run.code(4)
        .stderr_has("unknown key 'pakages'")
        .stderr_has("bad.yml:");
    assert!(!out.path.join(".golyat-1.build").exists());

    // A package the mirror does not have: named, before any image.
    let missing = out.path.join("missing.yml");
    std::fs::write(
        &missing,
        bookworm_definition_with(
            "kernel: linux-image-amd64",
            "kernel: linux-image-prov-nonexistent",
        ),
    )
    .unwrap();
    let run = Prov::new()
        .cwd(&repo_root())
        .args(["image", "build", "--node", "golyat-1", "--definition"])
        .arg(&missing)
        .arg("-o")
        .arg(&out.path)
        .run();
    assert_ne!(run.code, 0);
    run.stderr_has("image build step 'bootstrap' failed: package 'linux-image-prov-nonexistent' is not in http://deb.debian.org/debian bookworm");

    // A playbook failure (the keys endpoint answers 404): the build stops, names the step,
    // and leaves neither an image nor its work directory.
    let url = server.url();
    let run = Prov::new()
        .cwd(&repo_root())
        .args(["image", "build", "--node", "golyat-1", "--definition", "images/worker-bookworm.yml"])
        .arg("-o")
        .arg(&out.path)
        .arg("--cache")
        .arg(common::image_cache_dir())
        .arg("-e")
        .arg(format!("kubernetes_apt_base_url={url} crio_apt_base_url={url} user_management_github_keys_url={url}/status/404/boxp.keys"))
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .run();
    assert_ne!(run.code, 0);
    run.stderr_has("image build step 'provision' failed: task '")
        .stderr_has("' failed on golyat-1")
        .stdout_has("fatal: [golyat-1]");
    let left: Vec<_> = std::fs::read_dir(&out.path)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "bad.yml" && n != "missing.yml")
        .collect();
    assert_eq!(left, Vec::<String>::new());
}
