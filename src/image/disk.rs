//! The disk image: a sparse raw GPT disk that boots from USB with BIOS and UEFI, assembled
//! straight into a file — no loop devices, no mounts, no device-mapper (none of them work in
//! the containers images are built in).
//!
//! Layout (512-byte sectors): 1 BIOS boot partition (1 MiB at 1 MiB, for GRUB's core.img),
//! 2 EFI system partition (FAT32, `EFI/BOOT/BOOTX64.EFI` on amd64), 3 root (ext4, the rest). The root
//! filesystem is written by `mkfs.ext4 -d ROOT -E offset=…`, the ESP by `mkfs.vfat --offset`
//! and mtools. Legacy BIOS boot is GRUB's `boot.img` in the MBR and `core.img` in partition 1,
//! with the two block-list fields patched as `grub-bios-setup` would ([`patch_bios_boot`]; it
//! refuses plain files). Every identifier (disk and partition GUIDs, filesystem UUIDs, the
//! FAT volume id, ext4's hash seed) is derived from the node's name, so two builds with the
//! same inputs and `SOURCE_DATE_EPOCH` give the same bytes.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const SECTOR: u64 = 512;
/// Partitions start on 1 MiB boundaries.
const ALIGN: u64 = 2048;

/// Where the partitions are, in sectors.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Layout {
    pub total: u64,
    pub bios: (u64, u64),
    pub esp: (u64, u64),
    pub root: (u64, u64),
}

impl Layout {
    /// The layout of a disk of `size` bytes with an ESP of `esp` bytes.
    pub fn new(size: u64, esp: u64) -> Result<Layout> {
        let total = size / SECTOR;
        let bios = (ALIGN, ALIGN);
        let esp_sectors = esp.div_ceil(SECTOR).div_ceil(ALIGN) * ALIGN;
        let esp = (bios.0 + bios.1, esp_sectors);
        let root_start = esp.0 + esp.1;
        // The backup GPT takes the last 33 sectors.
        let last_usable = total.saturating_sub(34);
        let root_len = (last_usable + 1).saturating_sub(root_start) / ALIGN * ALIGN;
        if root_len < 64 * ALIGN {
            return Err(Error::usage(format!(
                "a disk of {size} bytes has no room for a root partition after a {} byte ESP",
                esp.1 * SECTOR
            )));
        }
        Ok(Layout {
            total,
            bios,
            esp,
            root: (root_start, root_len),
        })
    }
}

/// The identifiers of one image, derived from the node's name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Ids {
    pub disk_guid: String,
    pub bios_guid: String,
    pub esp_guid: String,
    pub root_guid: String,
    /// The root filesystem's UUID (also its directory hash seed).
    pub root_uuid: String,
    /// The FAT volume id, `ABCD-1234` as fstab and `blkid` write it.
    pub esp_id: String,
}

fn uuid_of(seed: &str, what: &str) -> String {
    let h = Sha256::digest(format!("prov image {seed} {what}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    // A name-based UUID (version 5 layout, RFC 4122 variant).
    format_uuid(b, 0x50)
}

/// Random bytes from the kernel.
fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    let mut filled = 0;
    while filled < N {
        // SAFETY: writes at most N - filled bytes into the array's remainder.
        let n = unsafe { libc::getrandom(b[filled..].as_mut_ptr().cast(), N - filled, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::runtime(format!("getrandom: {e}")));
            }
        } else {
            filled += n as usize;
        }
    }
    Ok(b)
}

/// `b` as a UUID of `version` (0x40 random, 0x50 name-based), RFC 4122 variant.
fn format_uuid(mut b: [u8; 16], version: u8) -> String {
    b[6] = (b[6] & 0x0f) | version;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl Ids {
    pub fn for_node(node: &str) -> Ids {
        let vol = Sha256::digest(format!("prov image {node} esp").as_bytes());
        Ids {
            disk_guid: uuid_of(node, "disk"),
            bios_guid: uuid_of(node, "bios"),
            esp_guid: uuid_of(node, "esp-part"),
            root_guid: uuid_of(node, "root-part"),
            root_uuid: uuid_of(node, "root-fs"),
            esp_id: format!("{:02X}{:02X}-{:02X}{:02X}", vol[0], vol[1], vol[2], vol[3]),
        }
    }

    /// New random identifiers: an installed disk is a machine of its own, unlike the image
    /// it came from.
    pub fn random() -> Result<Ids> {
        let uuid = || random_bytes::<16>().map(|b| format_uuid(b, 0x40));
        let vol = random_bytes::<4>()?;
        Ok(Ids {
            disk_guid: uuid()?,
            bios_guid: uuid()?,
            esp_guid: uuid()?,
            root_guid: uuid()?,
            root_uuid: uuid()?,
            esp_id: format!("{:02X}{:02X}-{:02X}{:02X}", vol[0], vol[1], vol[2], vol[3]),
        })
    }
}

/// Run a program, with its stderr in the error.
pub fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .map_err(|e| Error::runtime(format!("cannot run {program}: {e}")))?;
    if !out.status.success() {
        return Err(Error::runtime(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A sparse file of the disk's size with the GPT written.
pub fn partition(img: &Path, layout: &Layout, ids: &Ids) -> Result<()> {
    let f = std::fs::File::create(img).map_err(|e| Error::io(img, e))?;
    f.set_len(layout.total * SECTOR)
        .map_err(|e| Error::io(img, e))?;
    drop(f);
    write_gpt(img, layout, ids)
}

/// Write the GPT of `layout` onto a disk (a file or a block device of `layout.total` sectors):
/// what was there before (GPT, protective MBR) is replaced.
pub fn write_gpt(disk: &Path, layout: &Layout, ids: &Ids) -> Result<()> {
    let mut args: Vec<String> = vec!["--clear".into(), "-U".into(), ids.disk_guid.clone()];
    for (n, (start, len), kind, name, guid) in [
        (1, layout.bios, "EF02", "BIOS boot", &ids.bios_guid),
        (2, layout.esp, "EF00", "EFI system", &ids.esp_guid),
        (3, layout.root, "8300", "root", &ids.root_guid),
    ] {
        args.extend([
            "-n".into(),
            format!("{n}:{start}:{}", start + len - 1),
            "-t".into(),
            format!("{n}:{kind}"),
            "-c".into(),
            format!("{n}:{name}"),
            "-u".into(),
            format!("{n}:{guid}"),
        ]);
    }
    args.push(disk.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run("sgdisk", &args, &[])?;
    Ok(())
}

/// The root filesystem, written into partition 3 from the directory `root`.
pub fn make_root_fs(img: &Path, layout: &Layout, ids: &Ids, root: &Path, epoch: i64) -> Result<()> {
    let mut cmd = root_fs_command(img, layout, ids, root, Some(epoch));
    let out = cmd
        .output()
        .map_err(|e| Error::runtime(format!("cannot run mkfs.ext4: {e}")))?;
    if !out.status.success() {
        return Err(Error::runtime(format!(
            "mkfs.ext4 failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// `mkfs.ext4 -d ROOT` into partition 3 of `disk` (a file or a block device; no partition
/// device or mount is needed). With `epoch` (an image build) every identifier and time stamp
/// mke2fs chooses is fixed and the inode tables are written now; without it (an install) they
/// are random and the kernel initialises the tables after first mount.
pub fn root_fs_command(
    disk: &Path,
    layout: &Layout,
    ids: &Ids,
    root: &Path,
    epoch: Option<i64>,
) -> std::process::Command {
    let mut extended = format!("offset={}", layout.root.0 * SECTOR);
    if epoch.is_some() {
        extended.push_str(&format!(
            ",hash_seed={},lazy_itable_init=0,lazy_journal_init=0",
            ids.root_uuid
        ));
    }
    let mut cmd = std::process::Command::new("mkfs.ext4");
    cmd.args(["-q", "-F", "-d"])
        .arg(root)
        .args(["-L", "root", "-U", &ids.root_uuid, "-E", &extended])
        .args(["-T", "default"])
        .arg(disk)
        .arg(format!("{}k", layout.root.1 * SECTOR / 1024));
    if let Some(epoch) = epoch {
        // mke2fs's own time stamps (creation, last check, the root inode's).
        let epoch = epoch.to_string();
        cmd.env("E2FSPROGS_FAKE_TIME", &epoch)
            .env("SOURCE_DATE_EPOCH", &epoch);
    }
    cmd
}

/// Every path under `dir`, as seen from inside it (`/etc/hostname`), the root first.
fn paths_of(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = format!("{prefix}/{name}");
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        out.push(path.clone());
        if is_dir {
            paths_of(&e.path(), &path, out);
        }
    }
}

/// `mkfs.ext4 -d` copies each file's change time (ctime), which no one can set on the build
/// machine: set every inode's ctime to `epoch` inside the image (one debugfs script), so the
/// filesystem's bytes depend on the inputs only.
pub fn clamp_ctimes(img: &Path, layout: &Layout, root: &Path, epoch: i64) -> Result<()> {
    let mut paths = vec![String::from("/")];
    paths_of(root, "", &mut paths);
    let mut script = String::new();
    for p in &paths {
        // debugfs reads double-quoted arguments (backslashes literal); a name with a quote or
        // a newline cannot be written so and keeps its time.
        if !p.contains(['"', '\n']) {
            script.push_str(&format!("sif \"{p}\" ctime 0x{epoch:x}\n"));
        }
    }
    let file = root
        .parent()
        .unwrap_or(Path::new("/tmp"))
        .join("ctimes.debugfs");
    debugfs_script(
        img,
        layout.root.0 * SECTOR,
        &file,
        &script,
        &epoch.to_string(),
    )
    .map_err(|e| e.context("setting change times in the root filesystem failed"))
}

/// Run a debugfs script (written to `file`, removed after) read-write against the ext4
/// filesystem at byte `offset` of `disk`; any complaint of debugfs is an error.
pub fn debugfs_script(
    disk: &Path,
    offset: u64,
    file: &Path,
    script: &str,
    fake_time: &str,
) -> Result<()> {
    std::fs::write(file, script).map_err(|e| Error::io(file, e))?;
    let target = format!("{}?offset={offset}", disk.display());
    let mut cmd = std::process::Command::new("debugfs");
    cmd.args(["-w", "-f"]).arg(file).arg(&target);
    if !fake_time.is_empty() {
        cmd.env("E2FSPROGS_FAKE_TIME", fake_time);
    }
    let out = cmd
        .output()
        .map_err(|e| Error::runtime(format!("cannot run debugfs: {e}")));
    let _ = std::fs::remove_file(file);
    let out = out?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("debugfs ") && !l.trim().is_empty())
        .collect();
    if !out.status.success() || !errors.is_empty() {
        return Err(Error::runtime(format!("debugfs: {}", errors.join("; "))));
    }
    Ok(())
}

/// The EFI system partition: FAT32 with the UEFI binary at the removable-media path
/// `EFI/BOOT/<file name>` (`BOOTX64.EFI` on amd64).
pub fn make_esp(
    img: &Path,
    layout: &Layout,
    ids: &Ids,
    efi_binary: &Path,
    epoch: i64,
) -> Result<()> {
    let img_s = img.display().to_string();
    let cluster = fat32_cluster_sectors(layout.esp.1).to_string();
    run(
        "mkfs.vfat",
        &[
            // -I: a whole disk (the installer's target) holds the filesystem at an offset;
            // no fake MBR in the boot sector of a GPT partition's filesystem.
            "-I",
            "--mbr=no",
            "-F",
            "32",
            "-s",
            &cluster,
            "--invariant",
            "--offset",
            &layout.esp.0.to_string(),
            "-n",
            "ESP",
            "-i",
            &ids.esp_id.replace('-', ""),
            &img_s,
            &(layout.esp.1 * SECTOR / 1024).to_string(),
        ],
        &[("TZ", "UTC")],
    )?;
    // mcopy -m keeps the file's time: make it the image's.
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch.max(0) as u64);
    std::fs::File::options()
        .write(true)
        .open(efi_binary)
        .and_then(|f| f.set_times(std::fs::FileTimes::new().set_modified(t).set_accessed(t)))
        .map_err(|e| Error::io(efi_binary, e))?;
    let name = efi_binary
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::runtime(format!("{}: no file name", efi_binary.display())))?;
    let at = format!("{img_s}@@{}", layout.esp.0 * SECTOR);
    let epoch = epoch.to_string();
    // FAT time stamps are local time: the same bytes in every time zone.
    let env = [
        ("MTOOLS_SKIP_CHECK", "1"),
        ("SOURCE_DATE_EPOCH", epoch.as_str()),
        ("TZ", "UTC"),
    ];
    run("mmd", &["-i", &at, "::/EFI", "::/EFI/BOOT"], &env)?;
    run(
        "mcopy",
        &[
            "-m",
            "-i",
            &at,
            &efi_binary.display().to_string(),
            &format!("::/EFI/BOOT/{name}"),
        ],
        &env,
    )?;
    Ok(())
}

/// Sectors per cluster for a FAT32 filesystem of `sectors`: 4 KiB clusters where that leaves
/// the 65525 clusters FAT32 must have (mtools refuses fewer), smaller ones on a small ESP.
fn fat32_cluster_sectors(sectors: u64) -> u64 {
    let mut spc = 8;
    while spc > 1 && sectors / spc < 66_000 {
        spc /= 2;
    }
    spc
}

/// GRUB's `boot.img` (512 bytes) and `core.img` set up for BIOS boot from partition 1 of a
/// GPT disk, as `grub-bios-setup` does: the returned MBR boot code (440 bytes, the partition
/// table after it is the protective MBR's and stays) and the sectors of core.img.
///
/// Patched: boot.img's 64-bit LBA of core.img's first sector (offset 0x5c) and its drive
/// check (0x66, two NOPs: a USB stick may be reported as any drive number), and the block
/// list at the end of core.img's first sector (diskboot.img): LBA of the rest and its length.
pub fn patch_bios_boot(
    boot: &[u8],
    core: &[u8],
    start: u64,
    room: u64,
) -> Result<(Vec<u8>, Vec<u8>)> {
    if boot.len() != 512 {
        return Err(Error::runtime(format!(
            "boot.img is {} bytes, not 512",
            boot.len()
        )));
    }
    let sectors = (core.len() as u64).div_ceil(SECTOR);
    if sectors < 2 || sectors > room {
        return Err(Error::runtime(format!(
            "core.img takes {sectors} sectors; the BIOS boot partition has {room}"
        )));
    }
    let mut mbr = boot[..440].to_vec();
    mbr[0x5c..0x64].copy_from_slice(&start.to_le_bytes());
    mbr[0x66..0x68].copy_from_slice(&[0x90, 0x90]);
    let mut core = core.to_vec();
    core.resize((sectors * SECTOR) as usize, 0);
    // struct grub_boot_blocklist { u64 start; u16 len; u16 segment; } at 0x200 - 12.
    core[0x1f4..0x1fc].copy_from_slice(&(start + 1).to_le_bytes());
    core[0x1fc..0x1fe].copy_from_slice(&((sectors - 1) as u16).to_le_bytes());
    Ok((mbr, core))
}

/// Write the patched boot code into the image.
pub fn install_bios_boot(img: &Path, layout: &Layout, boot: &[u8], core: &[u8]) -> Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let (mbr, core) = patch_bios_boot(boot, core, layout.bios.0, layout.bios.1)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(img)
        .map_err(|e| Error::io(img, e))?;
    f.seek(SeekFrom::Start(0))
        .and_then(|_| f.write_all(&mbr))
        .and_then(|_| f.seek(SeekFrom::Start(layout.bios.0 * SECTOR)))
        .and_then(|_| f.write_all(&core))
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(img, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_aligned_and_fits() {
        let l = Layout::new(4 << 30, 512 << 20).unwrap();
        assert_eq!(l.bios, (2048, 2048));
        assert_eq!(l.esp, (4096, 1 << 20));
        assert_eq!(l.root.0, 4096 + (1 << 20));
        assert_eq!(l.root.0 % 2048, 0);
        assert_eq!(l.root.1 % 2048, 0);
        assert!(l.root.0 + l.root.1 <= l.total - 33);
        assert!(Layout::new(100 << 20, 512 << 20).is_err());
    }

    #[test]
    fn small_esps_get_small_clusters() {
        assert_eq!(fat32_cluster_sectors(1 << 20), 8);
        assert_eq!(fat32_cluster_sectors(256 << 11), 4);
        assert_eq!(fat32_cluster_sectors(64 << 11), 1);
    }

    #[test]
    fn ids_are_stable_per_node_and_differ_between_nodes() {
        let a = Ids::for_node("golyat-1");
        assert_eq!(a, Ids::for_node("golyat-1"));
        let b = Ids::for_node("golyat-2");
        assert_ne!(a.root_uuid, b.root_uuid);
        assert_ne!(a.esp_id, b.esp_id);
        assert_eq!(a.root_uuid.len(), 36);
        assert_eq!(&a.root_uuid[14..15], "5");
        assert_eq!(a.esp_id.len(), 9);
        let (r1, r2) = (Ids::random().unwrap(), Ids::random().unwrap());
        assert_ne!(r1.root_uuid, r2.root_uuid);
        assert_ne!(r1.disk_guid, r1.root_guid);
        assert_eq!(&r1.root_uuid[14..15], "4");
        assert!(matches!(&r1.root_uuid[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn bios_boot_fields_are_patched_as_grub_bios_setup_does() {
        let boot = vec![0xaau8; 512];
        let core = vec![0x11u8; 1000];
        let (mbr, core) = patch_bios_boot(&boot, &core, 2048, 2048).unwrap();
        assert_eq!(mbr.len(), 440);
        assert_eq!(
            u64::from_le_bytes(mbr[0x5c..0x64].try_into().unwrap()),
            2048
        );
        assert_eq!(&mbr[0x66..0x68], &[0x90, 0x90]);
        assert_eq!(core.len(), 1024);
        assert_eq!(
            u64::from_le_bytes(core[0x1f4..0x1fc].try_into().unwrap()),
            2049
        );
        assert_eq!(
            u16::from_le_bytes(core[0x1fc..0x1fe].try_into().unwrap()),
            1
        );
        // The segment field is left as diskboot.img has it.
        assert_eq!(&core[0x1fe..0x200], &[0x11, 0x11]);
        assert!(patch_bios_boot(&boot[..100], &core, 2048, 2048).is_err());
        assert!(patch_bios_boot(&boot, &vec![0; 4096 * 512], 2048, 2048).is_err());
    }
}
