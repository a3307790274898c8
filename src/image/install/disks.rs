//! Which disks `prov image install` may write to, read from sysfs, /proc and udev's database
//! (all under one system root, `/` but for tests, which give a synthetic tree): every whole
//! disk with its size, model, transport and serial, and the reason it is not offered when it
//! is not: the disk the system runs from, one with mounted or swapping partitions or taken by
//! device-mapper/RAID, a read-only one, a removable one (another USB stick; `--target` may
//! still name it), an empty drive or one smaller than the system needs. Virtual block devices
//! (loop, ram, zram, dm, md) have no `device` link in sysfs and are not disks to install on.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A partition of a disk, as the list of what an install destroys shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub bytes: u64,
    /// `major:minor`.
    pub dev: String,
    /// From udev's database (`ext4`, `vfat`, …), empty when unknown.
    pub fs_type: String,
    pub label: String,
}

/// A whole disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    /// `sdb`, `nvme0n1`, `vda`.
    pub name: String,
    pub bytes: u64,
    pub model: String,
    /// `usb`, `nvme`, `sata`, `virtio`, `mmc`, `scsi`.
    pub transport: String,
    pub serial: String,
    pub removable: bool,
    pub read_only: bool,
    /// Bytes per logical sector (512 on nearly every disk; 4096 on "4Kn" ones).
    pub sector: u64,
    /// `major:minor`.
    pub dev: String,
    /// Devices stacked on the disk or its partitions (`dm-0`, `md127`).
    pub holders: Vec<String>,
    pub partitions: Vec<Partition>,
}

/// Why a disk is not offered (or refused as `--target`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The running system (or the tree being copied) is on it.
    Boot,
    /// Partitions of it are mounted: (partition or disk, mount point).
    Mounted(Vec<(String, String)>),
    Swap(Vec<String>),
    Held(Vec<String>),
    ReadOnly,
    /// Logical sectors other than 512 bytes: the image's layout is in 512-byte sectors.
    SectorSize(u64),
    Removable,
    NoMedium,
    TooSmall {
        needed: u64,
    },
}

impl Reason {
    /// Whether `--target` may still choose the disk (only a removable one).
    pub fn overridable(&self) -> bool {
        matches!(self, Reason::Removable)
    }

    pub fn describe(&self, disk: &Disk) -> String {
        match self {
            Reason::Boot => "the running system is on it (the disk it booted from)".into(),
            Reason::Mounted(m) => format!(
                "mounted: {}",
                m.iter()
                    .map(|(p, at)| format!("{p} on {at}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Reason::Swap(s) => format!("swap in use on {}", s.join(", ")),
            Reason::Held(h) => format!(
                "in use by {} (device-mapper, LVM, RAID or encryption)",
                h.join(", ")
            ),
            Reason::ReadOnly => "read-only".into(),
            Reason::SectorSize(n) => format!(
                "{n}-byte logical sectors (the image's partition layout is in 512-byte sectors)"
            ),
            Reason::Removable => format!(
                "removable (another USB stick or card?); --target /dev/{} chooses it anyway",
                disk.name
            ),
            Reason::NoMedium => "no medium (size 0)".into(),
            Reason::TooSmall { needed } => format!(
                "too small: {} of the {} the system needs",
                human(disk.bytes),
                human(*needed)
            ),
        }
    }
}

/// Bytes as people read disk sizes (decimal units, as disk vendors and lsblk print them).
pub fn human(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// The system whose disks are listed: `/` on a real machine.
#[derive(Clone, Debug)]
pub struct System {
    pub root: PathBuf,
}

fn read_trim(p: &Path) -> String {
    std::fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default()
}

/// A SCSI unit serial number page (VPD 0x80): 4 header bytes, then the serial.
fn vpd_serial(p: &Path) -> String {
    match std::fs::read(p) {
        Ok(b) if b.len() > 4 => String::from_utf8_lossy(&b[4..])
            .trim_matches(|c: char| c.is_whitespace() || c == '\0')
            .to_string(),
        _ => String::new(),
    }
}

/// The transport, from where the disk hangs in the device tree.
fn transport(name: &str, device_path: &str) -> String {
    let t = if device_path.contains("/usb") {
        "usb"
    } else if name.starts_with("nvme") {
        "nvme"
    } else if name.starts_with("mmcblk") {
        "mmc"
    } else if device_path.contains("/virtio") || name.starts_with("vd") {
        "virtio"
    } else if device_path.contains("/ata") {
        "sata"
    } else {
        "scsi"
    };
    t.to_string()
}

impl System {
    pub fn new(root: &Path) -> System {
        System {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// The device file of a disk or partition (`/dev/sdb`).
    pub fn dev_path(&self, name: &str) -> PathBuf {
        self.path(&format!("dev/{name}"))
    }

    /// Filesystem type and label of a block device, from udev's database.
    fn udev_fs(&self, dev: &str) -> (String, String) {
        let text = read_trim(&self.path(&format!("run/udev/data/b{dev}")));
        let mut fs = (String::new(), String::new());
        for l in text.lines() {
            if let Some(v) = l.strip_prefix("E:ID_FS_TYPE=") {
                fs.0 = v.to_string();
            } else if let Some(v) = l.strip_prefix("E:ID_FS_LABEL=") {
                fs.1 = v.to_string();
            }
        }
        fs
    }

    /// Every whole disk, by name.
    pub fn disks(&self) -> Result<Vec<Disk>> {
        let block = self.path("sys/block");
        let entries = std::fs::read_dir(&block).map_err(|e| Error::io(&block, e))?;
        let mut disks = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dir = e.path();
            let device = dir.join("device");
            if !device.exists() || name.starts_with("sr") || name.starts_with("fd") {
                continue;
            }
            let real = std::fs::canonicalize(&dir)
                .unwrap_or(dir.clone())
                .display()
                .to_string();
            let sectors: u64 = read_trim(&dir.join("size")).parse().unwrap_or(0);
            let mut serial = read_trim(&dir.join("serial"));
            if serial.is_empty() {
                serial = read_trim(&device.join("serial"));
            }
            if serial.is_empty() {
                serial = vpd_serial(&device.join("vpd_pg80"));
            }
            let mut holders = list(&dir.join("holders"));
            let mut partitions = Vec::new();
            for p in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let pdir = p.path();
                if !pdir.join("partition").exists() {
                    continue;
                }
                let pname = p.file_name().to_string_lossy().into_owned();
                let dev = read_trim(&pdir.join("dev"));
                let (fs_type, label) = self.udev_fs(&dev);
                holders.extend(list(&pdir.join("holders")));
                partitions.push(Partition {
                    bytes: read_trim(&pdir.join("size")).parse::<u64>().unwrap_or(0) * 512,
                    name: pname,
                    dev,
                    fs_type,
                    label,
                });
            }
            partitions.sort_by_key(|p| natural(&p.name));
            disks.push(Disk {
                bytes: sectors * 512,
                model: read_trim(&device.join("model")),
                transport: transport(&name, &real),
                serial,
                removable: read_trim(&dir.join("removable")) == "1",
                read_only: read_trim(&dir.join("ro")) == "1",
                sector: read_trim(&dir.join("queue/logical_block_size"))
                    .parse()
                    .unwrap_or(512),
                dev: read_trim(&dir.join("dev")),
                holders,
                partitions,
                name,
            });
        }
        disks.sort_by_key(|d| natural(&d.name));
        Ok(disks)
    }

    /// What is mounted, by `major:minor`: the mount points (from mountinfo).
    pub fn mounts(&self) -> Result<HashMap<String, Vec<String>>> {
        let p = self.path("proc/self/mountinfo");
        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for l in text.lines() {
            let f: Vec<&str> = l.split(' ').collect();
            if f.len() > 4 {
                m.entry(f[2].to_string())
                    .or_default()
                    .push(crate::transport::chroot::unescape_mountinfo(f[4]));
            }
        }
        Ok(m)
    }

    /// Names of the block devices swapped on (/proc/swaps).
    pub fn swaps(&self) -> BTreeSet<String> {
        read_trim(&self.path("proc/swaps"))
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .filter_map(|f| f.strip_prefix("/dev/"))
            .map(str::to_string)
            .collect()
    }

    /// Why each disk is not offered (none: it is), for a system needing `needed` bytes and
    /// running from the devices in `boot_devs` (`major:minor`).
    pub fn survey(
        &self,
        needed: u64,
        boot_devs: &BTreeSet<String>,
    ) -> Result<Vec<(Disk, Option<Reason>)>> {
        let mounts = self.mounts()?;
        let swaps = self.swaps();
        Ok(self
            .disks()?
            .into_iter()
            .map(|d| {
                let r = reason(&d, needed, boot_devs, &mounts, &swaps);
                (d, r)
            })
            .collect())
    }
}

/// The first reason a disk is not offered, the gravest first.
fn reason(
    d: &Disk,
    needed: u64,
    boot_devs: &BTreeSet<String>,
    mounts: &HashMap<String, Vec<String>>,
    swaps: &BTreeSet<String>,
) -> Option<Reason> {
    let devs: Vec<(&str, &str)> = std::iter::once((d.name.as_str(), d.dev.as_str()))
        .chain(
            d.partitions
                .iter()
                .map(|p| (p.name.as_str(), p.dev.as_str())),
        )
        .collect();
    if devs.iter().any(|(_, dev)| boot_devs.contains(*dev)) {
        return Some(Reason::Boot);
    }
    let mounted: Vec<(String, String)> = devs
        .iter()
        .flat_map(|(name, dev)| {
            mounts
                .get(*dev)
                .into_iter()
                .flatten()
                .map(|at| (name.to_string(), at.clone()))
        })
        .collect();
    if !mounted.is_empty() {
        return Some(Reason::Mounted(mounted));
    }
    let swapping: Vec<String> = devs
        .iter()
        .filter(|(name, _)| swaps.contains(*name))
        .map(|(name, _)| name.to_string())
        .collect();
    if !swapping.is_empty() {
        return Some(Reason::Swap(swapping));
    }
    if !d.holders.is_empty() {
        return Some(Reason::Held(d.holders.clone()));
    }
    if d.read_only {
        return Some(Reason::ReadOnly);
    }
    if d.bytes == 0 {
        return Some(Reason::NoMedium);
    }
    if d.sector != 512 {
        return Some(Reason::SectorSize(d.sector));
    }
    if d.bytes < needed {
        return Some(Reason::TooSmall { needed });
    }
    if d.removable {
        return Some(Reason::Removable);
    }
    None
}

fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `sda2` before `sda10`.
fn natural(s: &str) -> (String, u64) {
    let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (head, tail) = s.split_at(s.len() - digits);
    (head.to_string(), tail.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::super::synthetic::Synthetic;
    use super::*;

    #[test]
    fn each_excluded_disk_says_why() {
        let s = Synthetic::new("why");
        s.disk("sda", 8, 32, "usb1/1-1", 3)
            .disk("sdb", 9, 500, "ata1", 2)
            .disk("sdc", 10, 4, "ata2", 0)
            .disk("sdd", 11, 64, "ata3", 1)
            .disk("sde", 12, 64, "usb2/2-1", 0)
            .disk("nvme0n1", 259, 1000, "nvme0", 0)
            .disk("sdf", 13, 64, "ata4", 1)
            .set("sde", "removable", "1\n")
            .mount("8:3", "/")
            .mount("8:2", "/boot/efi")
            .mount("11:1", "/srv/my\\040data");
        std::fs::create_dir_all(s.root.join("sys/block/sdf/sdf1/holders/dm-0")).unwrap();
        // A loop device: no `device` link, not listed.
        std::fs::create_dir_all(s.root.join("sys/block/loop0")).unwrap();
        let sys = System::new(&s.root);
        let boot: BTreeSet<String> = ["8:3".to_string()].into();
        let survey = sys.survey(8_000_000_000, &boot).unwrap();
        let by: HashMap<&str, (&Disk, &Option<Reason>)> = survey
            .iter()
            .map(|(d, r)| (d.name.as_str(), (d, r)))
            .collect();
        let names: Vec<&str> = survey.iter().map(|(d, _)| d.name.as_str()).collect();
        assert_eq!(names, ["nvme0n1", "sda", "sdb", "sdc", "sdd", "sde", "sdf"]);
        assert_eq!(by["sda"].1, &Some(Reason::Boot));
        assert_eq!(by["sdb"].1, &None);
        assert_eq!(by["nvme0n1"].1, &None);
        assert_eq!(
            by["sdc"].1,
            &Some(Reason::TooSmall {
                needed: 8_000_000_000
            })
        );
        assert_eq!(
            by["sdd"].1,
            &Some(Reason::Mounted(vec![(
                "sdd1".into(),
                "/srv/my data".into()
            )]))
        );
        assert_eq!(by["sde"].1, &Some(Reason::Removable));
        assert!(by["sde"].1.as_ref().unwrap().overridable());
        assert_eq!(by["sdf"].1, &Some(Reason::Held(vec!["dm-0".into()])));
        let (sda, _) = by["sda"];
        assert_eq!(sda.transport, "usb");
        assert_eq!(by["sdb"].0.transport, "sata");
        assert_eq!(by["nvme0n1"].0.transport, "nvme");
        assert_eq!(sda.model, "Model sda");
        assert_eq!(sda.serial, "SN-sda");
        assert_eq!(sda.partitions.len(), 3);
        assert_eq!(sda.partitions[1].fs_type, "ext4");
        assert_eq!(sda.partitions[1].label, "data2");
        assert!(
            by["sdc"]
                .1
                .as_ref()
                .unwrap()
                .describe(by["sdc"].0)
                .contains("too small: 4.0 GB of the 8.0 GB")
        );
    }

    #[test]
    fn swap_and_read_only_disks_are_not_offered() {
        let s = Synthetic::new("swap");
        s.disk("vda", 252, 20, "virtio1", 2)
            .disk("vdb", 253, 20, "virtio2", 0)
            .disk("vdc", 254, 20, "virtio3", 0)
            .set("vdb", "ro", "1\n");
        std::fs::create_dir_all(s.root.join("sys/block/vdc/queue")).unwrap();
        s.set("vdc", "queue/logical_block_size", "4096\n");
        std::fs::write(
            s.root.join("proc/swaps"),
            "Filename Type Size Used Priority\n/dev/vda2 partition 1 0 -2\n",
        )
        .unwrap();
        let sys = System::new(&s.root);
        let survey = sys.survey(1, &BTreeSet::new()).unwrap();
        assert_eq!(survey[0].1, Some(Reason::Swap(vec!["vda2".into()])));
        assert_eq!(survey[1].1, Some(Reason::ReadOnly));
        assert_eq!(survey[2].1, Some(Reason::SectorSize(4096)));
        assert_eq!(survey[0].0.transport, "virtio");
    }

    #[test]
    fn sizes_and_names() {
        assert_eq!(human(999), "999 B");
        assert_eq!(human(500_107_862_016), "500.1 GB");
        assert!(natural("sda10") > natural("sda2"));
        assert_eq!(
            crate::transport::chroot::unescape_mountinfo("/a\\040b\\777"),
            "/a b\\777"
        );
    }
}
