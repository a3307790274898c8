//! A synthetic system for the installer's tests: a directory with the sysfs entries, the
//! mountinfo, /proc/swaps, udev database and /dev files of made-up disks, laid out as the
//! kernel lays them out (`sys/block/NAME` a link into the device tree, `partition` files,
//! `dev` numbers). `prov image install --system-root DIR` reads it instead of the machine's.

use std::path::PathBuf;

/// The synthetic system's root directory (removed on drop); `disk(name, major, gigabytes,
/// bus, partitions)` adds a disk, `mount(major:minor, at)` a mountinfo line.
pub struct Synthetic {
    pub root: PathBuf,
}

impl Synthetic {
    pub fn new(tag: &str) -> Synthetic {
        let root = std::env::temp_dir().join(format!("prov-sysfs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["sys/block", "proc/self", "dev", "run/udev/data"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(
            root.join("proc/swaps"),
            "Filename Type Size Used Priority\n",
        )
        .unwrap();
        std::fs::write(root.join("proc/self/mountinfo"), "").unwrap();
        Synthetic { root }
    }

    pub fn disk(&self, name: &str, major: u32, gb: u64, bus: &str, parts: u32) -> &Self {
        let dev = self
            .root
            .join(format!("sys/devices/pci0000:00/{bus}/host0/block/{name}"));
        std::fs::create_dir_all(dev.join("device")).unwrap();
        std::fs::create_dir_all(dev.join("holders")).unwrap();
        let w = |p: &str, v: &str| std::fs::write(dev.join(p), v).unwrap();
        w("size", &format!("{}\n", gb * 1_000_000_000 / 512));
        w("dev", &format!("{major}:0\n"));
        w("removable", "0\n");
        w("ro", "0\n");
        w("device/model", &format!("Model {name}   \n"));
        w("device/serial", &format!("SN-{name}\n"));
        for n in 1..=parts {
            let p = dev.join(format!("{name}{n}"));
            std::fs::create_dir_all(p.join("holders")).unwrap();
            std::fs::write(p.join("partition"), format!("{n}\n")).unwrap();
            std::fs::write(p.join("dev"), format!("{major}:{n}\n")).unwrap();
            std::fs::write(p.join("size"), "2048\n").unwrap();
            std::fs::write(
                self.root.join(format!("run/udev/data/b{major}:{n}")),
                format!("E:ID_FS_TYPE=ext4\nE:ID_FS_LABEL=data{n}\n"),
            )
            .unwrap();
        }
        std::os::unix::fs::symlink(
            format!("../devices/pci0000:00/{bus}/host0/block/{name}"),
            self.root.join(format!("sys/block/{name}")),
        )
        .unwrap();
        self
    }

    pub fn set(&self, disk: &str, file: &str, value: &str) -> &Self {
        std::fs::write(self.root.join(format!("sys/block/{disk}/{file}")), value).unwrap();
        self
    }

    /// A disk's device file: a sparse file of `bytes` (what the installer writes to).
    pub fn dev_file(&self, name: &str, bytes: u64) -> PathBuf {
        let p = self.root.join(format!("dev/{name}"));
        std::fs::File::create(&p).unwrap().set_len(bytes).unwrap();
        p
    }

    pub fn mount(&self, dev: &str, at: &str) -> &Self {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.root.join("proc/self/mountinfo"))
            .unwrap();
        writeln!(f, "29 1 {dev} / {at} rw,relatime shared:1 - ext4 /dev/x rw").unwrap();
        self
    }
}

impl Drop for Synthetic {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
