//! `prov image install` without a machine to install on: disks from synthetic sysfs trees
//! (`--system-root`), the questions answered on a pseudo-terminal, installs into sparse files
//! (`--allow-file`) read back with sfdisk, debugfs and mtools. The install onto a real
//! virtual disk in QEMU, booted afterwards with both firmwares, is in tests/image.rs
//! (`prov image test --install`).

mod common;

use std::path::{Path, PathBuf};

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

    // Ctrl-C at the confirmation: exit 130, nothing written.
    let mut t = install(&sys, &src, &log).spawn_pty();
    t.expect("Install on which disk?", 30);
    t.send("sdb");
    t.expect("Type the disk's name (sdb)", 10);
    t.ctrl_c();
    let (code, screen) = t.finish(30);
    assert_eq!(code, 130, "{screen}");
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
    install(&sys, &src, &log).arg("--yes").run().code(5);
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
