//! `prov image install` without a machine to install on: disks from synthetic sysfs trees
//! (`--system-root`), the questions answered on a pseudo-terminal, installs into sparse files
//! (`--allow-file`) read back with sfdisk, debugfs and mtools. The install onto a real
//! virtual disk in QEMU, booted afterwards with both firmwares, is in tests/image.rs
//! (`prov image test --install`).

mod common;

use std::path::{Path, PathBuf};

use std::process::Command;

use common::disk::{GPT_TYPES, RootFs, build, partitions, sh};
use common::{Prov, TempDir};
use prov::image::install::synthetic::Synthetic;

const OLD_ROOT: &str = "0b5e5c7e-1111-4222-8333-444455556666";

/// A small tree to copy, shaped like the image's root (fstab and boot menu by UUID) but
/// without GRUB: an install from it stops at its first step.
fn small_source(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    for d in ["etc", "boot/grub", "tmp", "var/lib"] {
        std::fs::create_dir_all(src.join(d)).unwrap();
    }
    std::fs::write(
        src.join("etc/fstab"),
        format!("UUID={OLD_ROOT} / ext4 errors=remount-ro 0 1\n"),
    )
    .unwrap();
    std::fs::write(
        src.join("boot/grub/grub.cfg"),
        format!("linux /vmlinuz root=UUID={OLD_ROOT} ro\n"),
    )
    .unwrap();
    src
}

/// The machine of the tests: booted from sda (USB), sdb and nvme0n1 free, sdc too small,
/// sdd with a mounted partition, sde removable.
fn machine(tag: &str) -> Synthetic {
    let s = Synthetic::new(tag);
    s.disk("sda", 8, 32, "usb1/1-1", 3)
        .disk("sdb", 9, 16, "ata1", 2)
        .disk("sdc", 10, 1, "ata2", 0)
        .disk("sdd", 11, 64, "ata3", 1)
        .disk("sde", 12, 64, "usb2/2-1", 0)
        .disk("nvme0n1", 259, 500, "nvme0", 0)
        .set("sdc", "size", "1000000\n")
        .set("sde", "removable", "1\n")
        .mount("8:3", "/")
        .mount("8:2", "/boot/efi")
        .mount("11:1", "/srv");
    s.dev_file("sdb", 16_000_000_000);
    s.dev_file("nvme0n1", 500_000_000_000);
    s
}

fn install(sys: &Synthetic, src: &Path, log: &Path) -> Prov {
    Prov::new()
        .args(["image", "install", "--system-root"])
        .arg(&sys.root)
        .arg("--source")
        .arg(src)
        .arg("--log")
        .arg(log)
}

/// The bytes a file holds (not its holes): 0 for a disk nothing was written to.
fn written(p: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(p).unwrap()) * 512
}

#[test]
fn disks_are_offered_with_reasons_and_the_name_must_be_typed() {
    let dir = TempDir::new("install-choose");
    let src = small_source(&dir.path);
    let sys = machine("choose");
    let log = dir.path.join("install.log");

    // The list: two disks offered, the others with their reasons; a wrong name stops.
    let mut t = install(&sys, &src, &log).spawn_pty();
    let screen = t.expect("Install on which disk? (1-2, or the name): ", 30);
    for want in [
        "1) nvme0n1    500.0 GB  Model nvme0n1",
        "2) sdb",
        "the running system is on it",
        "too small: 512.0 MB of the",
        "mounted: sdd1 on /srv",
        "removable (another USB stick or card?); --target /dev/sde chooses it anyway",
    ] {
        assert!(
            screen.contains(want),
            "{want:?} not on the screen:\n{screen}"
        );
    }
    for name in ["sda", "sdc", "sdd", "sde"] {
        assert!(
            !screen.contains(&format!(") {name}")),
            "{name} offered:\n{screen}"
        );
    }
    t.send("7");
    t.expect("'7' is not one of the disks offered", 10);
    t.send("2");
    let screen = t.expect("Type the disk's name (sdb) to install on it", 10);
    assert!(
        screen.contains(
            "Everything on sdb (16.0 GB, Model sdb, sata, serial SN-sdb) will be destroyed"
        ),
        "{screen}"
    );
    assert!(
        screen.contains("sdb1") && screen.contains("ext4 \"data1\""),
        "{screen}"
    );
    t.send("yes");
    let (code, screen) = t.finish(30);
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("'yes' is not 'sdb': stopped, nothing was written to it"),
        "{screen}"
    );
    assert_eq!(written(&sys.root.join("dev/sdb")), 0);

    // Ctrl-C at the confirmation: exit 99 (as a run), nothing written.
    let mut t = install(&sys, &src, &log).spawn_pty();
    t.expect("Install on which disk?", 30);
    t.send("sdb");
    t.expect("Type the disk's name (sdb)", 10);
    t.ctrl_c();
    let (code, screen) = t.finish(30);
    assert_eq!(code, 99, "{screen}");
    assert!(
        screen.contains("nothing was written to any disk"),
        "{screen}"
    );
    assert_eq!(written(&sys.root.join("dev/sdb")), 0);

    // The right name: the install starts, and its first step (GRUB from the copied system,
    // which has none) fails before the disk is touched.
    let mut t = install(&sys, &src, &log).spawn_pty();
    t.expect("Install on which disk?", 30);
    t.send("1");
    t.expect("Type the disk's name (nvme0n1)", 10);
    t.send("nvme0n1");
    let (code, screen) = t.finish(60);
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("step 'boot loader images' failed"),
        "{screen}"
    );
    assert!(
        screen.contains("nvme0n1 is now untouched: nothing was written to it"),
        "{screen}"
    );
    assert_eq!(written(&sys.root.join("dev/nvme0n1")), 0);

    // Everything said is in the log, with times.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("disk sda") && text.contains("the running system is on it"),
        "{text}"
    );
    assert!(text.contains("confirmed by typing nvme0n1"), "{text}");
    assert!(text.contains("step 'boot loader images' failed"), "{text}");
    assert!(text.lines().all(|l| l.starts_with("20")), "{text}");
}

/// The disk this machine runs from, as the kernel names it (None: `/` is not on a disk, as
/// in some containers).
fn host_boot_disk() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata("/").unwrap().dev();
    let sys = PathBuf::from(format!(
        "/sys/dev/block/{}:{}",
        libc::major(dev),
        libc::minor(dev)
    ));
    let real = std::fs::canonicalize(&sys).ok()?;
    let disk = if real.join("partition").exists() {
        real.parent()?.to_path_buf()
    } else {
        real
    };
    Some(disk.file_name()?.to_string_lossy().into_owned())
}

#[test]
fn the_real_system_s_own_disk_is_refused() {
    // Read from this machine's own sysfs. Without --yes and without a terminal: were the
    // refusal broken, prov would stop at the missing confirmation, never write.
    let Some(disk) = host_boot_disk() else {
        eprintln!("/ is not on a block device here; nothing to refuse");
        return;
    };
    let dir = TempDir::new("install-host");
    let src = small_source(&dir.path);
    Prov::new()
        .args(["image", "install", "--source"])
        .arg(&src)
        .arg("--log")
        .arg(dir.path.join("log"))
        .arg("--target")
        .arg(format!("/dev/{disk}"))
        .run()
        .code(5)
        .stderr_has(&format!(
            "not installing on {disk}: the running system is on it"
        ));
}

#[test]
fn unattended_installs_refuse_what_they_must() {
    let dir = TempDir::new("install-refuse");
    let src = small_source(&dir.path);
    let sys = machine("refuse");
    let log = dir.path.join("install.log");
    // No terminal, no --target: nothing to ask on.
    install(&sys, &src, &log)
        .run()
        .code(5)
        .stderr_has("no terminal to choose a disk on: give --target DEVICE --yes");
    // --target without --yes, no terminal.
    install(&sys, &src, &log)
        .arg("--target")
        .arg(sys.root.join("dev/sdb"))
        .arg("--allow-file")
        .run()
        .code(5)
        .stderr_has("needs confirmation: run on a terminal or add --yes");
    // --yes without --target is a command-line error.
    install(&sys, &src, &log).arg("--yes").run().code(2);
    // A regular file without --allow-file.
    let file = dir.path.join("disk.img");
    std::fs::File::create(&file)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    install(&sys, &src, &log)
        .arg("--target")
        .arg(&file)
        .arg("--yes")
        .run()
        .code(5)
        .stderr_has("is a regular file, not a disk (--allow-file");
    // Too small.
    let small = dir.path.join("small.img");
    std::fs::File::create(&small)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    install(&sys, &src, &log)
        .arg("--target")
        .arg(&small)
        .args(["--yes", "--allow-file"])
        .run()
        .code(5)
        .stderr_has("is too small: 104.9 MB of the");
    // A character device is not a disk.
    install(&sys, &src, &log)
        .args(["--target", "/dev/null", "--yes"])
        .run()
        .code(5)
        .stderr_has("is neither a block device nor a file");
    // --auto with two eligible disks refuses, naming them.
    install(&sys, &src, &log)
        .arg("--auto")
        .run()
        .code(1)
        .stderr_has(
            "--auto installs only when exactly one disk is eligible; these are: nvme0n1, sdb",
        );
    assert_eq!(written(&sys.root.join("dev/sdb")), 0);
    assert_eq!(written(&file), 0);
}

/// A Debian root with GRUB and a kernel: the image build's cached bootstrap (built first if
/// this machine has none), unpacked with owners and extended attributes.
fn bootstrapped_root(into: &Path) -> PathBuf {
    let newest = || {
        std::fs::read_dir(common::image_cache_dir())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                n.starts_with("bootstrap-bookworm-amd64-") && n.ends_with(".tar")
            })
            .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
    };
    let tar = newest().unwrap_or_else(|| {
        let server = common::RepoServer::start();
        let out = TempDir::new("install-build");
        build(&server, "golyat-1", &out.path, &[]).ok();
        newest().expect("the build left its bootstrap in the cache")
    });
    let root = into.join("root");
    std::fs::create_dir_all(&root).unwrap();
    sh(Command::new("tar")
        .args(["-xpf"])
        .arg(&tar)
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-C"])
        .arg(&root));
    root
}

/// A tmpfs mounted for the life of the value.
struct Mounted(PathBuf);

impl Mounted {
    fn tmpfs(at: &Path) -> Mounted {
        std::fs::create_dir_all(at).unwrap();
        sh(Command::new("mount").args(["-t", "tmpfs", "test", at.to_str().unwrap()]));
        Mounted(at.to_path_buf())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn c(p: &Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

/// Processes whose command line names `what`.
fn processes_naming(what: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .filter(|c| c.contains(what) && !c.contains("cargo") && !c.contains("image_install-"))
        .collect()
}

#[test]
fn an_install_into_a_file_keeps_what_a_copy_must_keep_and_survives_interrupts() {
    let dir = TempDir::new("install-file");
    let src = bootstrapped_root(&dir.path);
    let w = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    // What the image build leaves: fstab and boot menu by UUID (the menu with the automatic
    // install word), the record of how it boots, an identity to be replaced.
    w(
        "etc/fstab",
        &format!(
            "UUID={OLD_ROOT} / ext4 errors=remount-ro 0 1\nUUID=ABCD-1234 /boot/efi vfat umask=0077 0 1\n"
        ),
    );
    w(
        "boot/grub/grub.cfg",
        &format!(
            "search --no-floppy --fs-uuid --set=root {OLD_ROOT}\nlinux /vmlinuz root=UUID={OLD_ROOT} ro console=ttyS0 prov.install=auto\n"
        ),
    );
    let boot = serde_json::json!({
        "node": "golyat-1", "arch": "amd64", "esp_bytes": 256 << 20,
        "boot": {"uefi_grub": "x86_64-efi", "uefi_file": "BOOTX64.EFI", "uefi_firmware": [],
                 "bios_grub": "i386-pc", "qemu": ["qemu-system-x86_64"]},
    });
    w("etc/prov/image.json", &boot.to_string());
    w("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    w("var/lib/systemd/random-seed", "seed");
    w("etc/ssh/ssh_host_ed25519_key", "not a key");
    w(
        "etc/systemd/system/multi-user.target.wants/prov-auto-install.service",
        "[Unit]\n",
    );
    // What a copy must keep: hard links, ACLs and extended attributes, owners and modes,
    // device nodes and FIFOs, symbolic links as links, holes.
    w("root/hard1", "one inode\n");
    std::fs::hard_link(src.join("root/hard1"), src.join("root/hard2")).unwrap();
    w("root/acl", "acl\n");
    // system.posix_acl_access: u::rw-, u:1234:rw-, g::r--, m::rw-, o::r-- (xattr format 2).
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (1u16, 6u16, u32::MAX),
        (2, 6, 1234),
        (4, 4, u32::MAX),
        (0x10, 6, u32::MAX),
        (0x20, 4, u32::MAX),
    ] {
        acl.extend(tag.to_le_bytes());
        acl.extend(perm.to_le_bytes());
        acl.extend(id.to_le_bytes());
    }
    w("root/xattr", "x\n");
    unsafe {
        for (file, name, value) in [
            ("root/acl", c"system.posix_acl_access", acl.as_slice()),
            ("root/xattr", c"user.prov", b"kept".as_slice()),
        ] {
            let rc = libc::setxattr(
                c(&src.join(file)).as_ptr(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            );
            assert_eq!(rc, 0, "{file}: {}", std::io::Error::last_os_error());
        }
        assert_eq!(
            libc::mknod(
                c(&src.join("root/devnode")).as_ptr(),
                libc::S_IFCHR | 0o600,
                libc::makedev(1, 3)
            ),
            0
        );
        assert_eq!(libc::mkfifo(c(&src.join("root/fifo")).as_ptr(), 0o640), 0);
    }
    std::os::unix::fs::symlink("/etc/hostname", src.join("root/link")).unwrap();
    let sparse = std::fs::File::create(src.join("root/sparse")).unwrap();
    sparse.set_len(1 << 30).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&sparse, &[7u8; 4096], 512 << 20).unwrap();
    w("root/owned", "setuid\n");
    std::os::unix::fs::chown(src.join("root/owned"), Some(1234), Some(5678)).unwrap();
    std::fs::set_permissions(
        src.join("root/owned"),
        std::os::unix::fs::PermissionsExt::from_mode(0o4750),
    )
    .unwrap();
    // Left out: scratch, mount points' contents, and other filesystems mounted inside.
    w("tmp/junk", "junk");
    w("mnt/stuff/file", "junk");
    let inner = Mounted::tmpfs(&src.join("srv/mounted"));
    std::fs::write(inner.0.join("on-another-fs"), "junk").unwrap();

    let disk = dir.path.join("disk.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let log = dir.path.join("install.log");
    let install = || {
        Prov::new()
            .args(["image", "install", "--allow-file", "--source"])
            .arg(&src)
            .arg("--target")
            .arg(&disk)
            .arg("--log")
            .arg(&log)
    };
    let disk_name = disk.to_str().unwrap().to_string();

    // Ctrl-C during the copy, typed on the terminal: mke2fs is stopped, prov says where it
    // stopped and what is on the disk, nothing of the copy is left running or mounted.
    let mut t = install().arg("--yes").spawn_pty();
    t.expect("[prov install] copy ...", 120);
    t.ctrl_c();
    let (code, screen) = t.finish(60);
    assert_eq!(code, 99, "{screen}");
    assert!(
        screen.contains("interrupted during step 'copy'"),
        "{screen}"
    );
    assert!(
        screen.contains("it has the new partition table but no filesystems yet; it will not boot"),
        "{screen}"
    );
    assert!(
        screen.contains("Run the install again to finish it."),
        "{screen}"
    );
    assert!(
        processes_naming(&disk_name).is_empty(),
        "{:?}",
        processes_naming(&disk_name)
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("prov-install"), "{mounts}");

    // Killed outright during the copy: the copy dies with it.
    let job = install().arg("--yes").spawn_job();
    common::wait_until(120, "the copy to start", || {
        std::fs::read_to_string(&log)
            .unwrap()
            .matches("copy ...")
            .count()
            == 2
    });
    job.kill();
    common::wait_until(10, "mkfs.ext4 to end with prov", || {
        processes_naming(&disk_name).is_empty()
    });

    // Again, to the end.
    let run = install().arg("--yes").run();
    run.ok()
        .stderr_has("copy: ")
        .stderr_has("boots with UEFI and BIOS");
    drop(inner);

    // The partition table as the image's, with the ESP size the image recorded.
    let parts = partitions(&disk);
    let types: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(types, GPT_TYPES);
    assert_eq!(parts[1]["size"].as_u64().unwrap() * 512, 256 << 20);
    let fs = RootFs::of(&disk);

    // New identity: fstab and the boot menu name the new filesystems.
    let uuid = fs.uuid();
    assert_ne!(uuid, OLD_ROOT);
    let fstab = fs.cat("/etc/fstab");
    assert!(
        fstab.starts_with(&format!("UUID={uuid} / ext4 errors=remount-ro 0 1\n")),
        "{fstab}"
    );
    let esp_start = parts[1]["start"].as_u64().unwrap() * 512;
    let at = format!("{}@@{esp_start}", disk.display());
    let mdir = sh(Command::new("mdir")
        .args(["-i", &at, "::/EFI/BOOT"])
        .env("MTOOLS_SKIP_CHECK", "1"));
    assert!(mdir.contains("BOOTX64  EFI"), "{mdir}");
    let serial = mdir
        .lines()
        .find_map(|l| l.trim().strip_prefix("Volume Serial Number is "))
        .unwrap()
        .trim();
    assert!(
        fstab.contains(&format!("UUID={serial} /boot/efi vfat")),
        "{fstab} vs {serial}"
    );
    let grub = fs.cat("/boot/grub/grub.cfg");
    assert!(
        grub.contains(&format!("root=UUID={uuid} ro console=ttyS0\n")),
        "{grub}"
    );
    assert!(
        !grub.contains(OLD_ROOT) && !grub.contains("prov.install"),
        "{grub}"
    );
    assert_eq!(fs.cat("/etc/machine-id"), "");
    for gone in [
        "/etc/ssh/ssh_host_ed25519_key",
        "/var/lib/systemd/random-seed",
        "/etc/systemd/system/multi-user.target.wants/prov-auto-install.service",
    ] {
        assert!(!fs.exists(gone), "{gone} was copied");
    }
    assert!(fs.exists("/etc/ssh/sshd_config"));

    // What a copy must keep.
    let stat = |p: &str| fs.debugfs(&format!("stat {p}"));
    let inode = |p: &str| stat(p).split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(inode("/root/hard1"), inode("/root/hard2"));
    assert!(stat("/root/hard1").contains("Links: 2"));
    let acl = fs.debugfs("ea_list /root/acl");
    assert!(
        acl.contains("system.posix_acl_access") && acl.contains("d2 04 00 00"),
        "{acl}"
    );
    assert!(
        fs.debugfs("ea_list /root/xattr")
            .contains("user.prov (4) = \"kept\"")
    );
    let node = stat("/root/devnode");
    assert!(
        node.contains("Type: character special")
            && node.contains("Device major/minor number: 01:03"),
        "{node}"
    );
    assert!(stat("/root/fifo").contains("Type: FIFO"));
    let link = stat("/root/link");
    assert!(
        link.contains("Type: symlink") && link.contains("\"/etc/hostname\""),
        "{link}"
    );
    let sparse = stat("/root/sparse");
    assert!(sparse.contains("Size: 1073741824"), "{sparse}");
    assert!(
        sparse.contains("Blockcount: 8\n") || sparse.contains("Blockcount: 8 "),
        "{sparse}"
    );
    // The one data block, at 512 MiB (block 131072).
    assert!(sparse.contains("(131072):"), "{sparse}");
    let owned = stat("/root/owned");
    assert!(
        owned.contains("User:  1234   Group:  5678") || owned.contains("User: 1234   Group: 5678"),
        "{owned}"
    );
    assert_eq!(fs.mode("/root/owned"), 0o4750);
    assert!(fs.exists("/boot/grub/grub.cfg") && fs.exists("/usr/lib/grub/x86_64-efi"));
    // Scratch, mount points and other filesystems: empty directories.
    for d in ["/tmp", "/mnt", "/srv/mounted", "/proc", "/dev"] {
        let ls = fs.debugfs(&format!("ls {d}"));
        let names: Vec<&str> = ls
            .split_whitespace()
            .filter(|w| !w.starts_with('(') && w.parse::<u64>().is_err())
            .collect();
        assert_eq!(names, [".", ".."], "{d}: {ls}");
    }
    assert_eq!(fs.mode("/tmp") & 0o7777, 0o1777);

    // BIOS boot: boot.img's pointer to core.img (partition 1) and core.img's block list.
    let mut mbr = [0u8; 512];
    let mut core = [0u8; 512];
    let f = std::fs::File::open(&disk).unwrap();
    std::os::unix::fs::FileExt::read_exact_at(&f, &mut mbr, 0).unwrap();
    std::os::unix::fs::FileExt::read_exact_at(&f, &mut core, 2048 * 512).unwrap();
    assert_eq!(
        u64::from_le_bytes(mbr[0x5c..0x64].try_into().unwrap()),
        2048
    );
    assert_eq!(&mbr[510..512], &[0x55, 0xaa]);
    assert_eq!(
        u64::from_le_bytes(core[0x1f4..0x1fc].try_into().unwrap()),
        2049
    );

    // --auto (first boot with prov.install=auto): the only eligible disk, no questions.
    let sys = Synthetic::new("auto");
    sys.disk("sda", 8, 32, "usb1/1-1", 3)
        .disk("vda", 252, 4, "virtio1", 0)
        .mount("8:3", "/");
    let only = sys.dev_file("vda", 4 << 30);
    Prov::new()
        .args(["image", "install", "--auto", "--system-root"])
        .arg(&sys.root)
        .arg("--source")
        .arg(&src)
        .arg("--log")
        .arg(&log)
        .run()
        .ok()
        .stderr_has("on vda (4.0 GB, Model vda, virtio, serial SN-vda)");
    assert_ne!(RootFs::of(&only).uuid(), uuid);

    // The log has the whole story, each line timed.
    let text = std::fs::read_to_string(&log).unwrap();
    for want in [
        "interrupted during step 'copy'",
        "new identifiers: root filesystem",
        "copy: ",
        "installed: root filesystem UUID",
    ] {
        assert!(text.contains(want), "{want:?} not in the log:\n{text}");
    }
}
