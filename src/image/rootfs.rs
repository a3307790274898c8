//! What turns a provisioned root into the root of an image that many machines boot: its name,
//! no machine identity (empty machine-id, no SSH host keys: a first-boot unit makes them),
//! fstab and the boot menu by filesystem UUID, the prov binary, no build leftovers, and every
//! time stamp clamped to `SOURCE_DATE_EPOCH`. Also the GRUB binaries, made inside the root by
//! its own GRUB, so that the loader matches the modules it loads (Debian's and Ubuntu's GRUB
//! differ in versions and file names).

use std::path::{Path, PathBuf};

use super::definition::{Boot, Definition};
use super::disk::{Ids, run};
use crate::error::{Error, Result};

/// The kernel and initrd of the root, as paths inside it (the newest version when several).
pub fn kernel_files(root: &Path) -> Result<(String, String, String)> {
    let boot = root.join("boot");
    let mut versions: Vec<String> = std::fs::read_dir(&boot)
        .map_err(|e| Error::io(&boot, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("vmlinuz-")
                .map(str::to_string)
        })
        .filter(|v| boot.join(format!("initrd.img-{v}")).is_file())
        .collect();
    versions.sort_by(|a, b| version_cmp(a, b));
    let v = versions.pop().ok_or_else(|| {
        Error::runtime(
            "the root has no kernel with an initrd in /boot (is the definition's 'kernel' package right?)",
        )
    })?;
    Ok((
        format!("/boot/vmlinuz-{v}"),
        format!("/boot/initrd.img-{v}"),
        v,
    ))
}

/// Compare kernel versions by their numeric parts (6.1.0-10 < 6.1.0-9 is wrong as text).
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<u64> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    parts(a).cmp(&parts(b))
}

/// Write a file of the root from outside it: a link at the path is replaced, never followed
/// (an absolute link would lead to the build machine's own file).
fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    replace_link(path)?;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Error::io(path, e))
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(path, e))
}

/// Remove a symbolic link at `path` (files and missing paths are left as they are).
fn replace_link(path: &Path) -> Result<()> {
    if path.is_symlink() {
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// Run a program inside the root (chroot(8)), for the root's own tools.
pub fn in_root(root: &Path, args: &[&str]) -> Result<String> {
    let mut full = vec![root.to_str().unwrap_or_default()];
    full.extend_from_slice(args);
    run(
        "chroot",
        &full,
        &[("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")],
    )
}

/// The image's identity and boot files.
pub fn finish(root: &Path, def: &Definition, node: &str, ids: &Ids) -> Result<String> {
    let r = |p: &str| root.join(p);
    write(&r("etc/hostname"), &format!("{node}\n"))?;
    write(
        &r("etc/hosts"),
        &format!(
            "127.0.0.1\tlocalhost\n127.0.1.1\t{node}\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
        ),
    )?;
    // No identity: systemd makes a machine-id on first boot, the unit below the host keys.
    write(&r("etc/machine-id"), "")?;
    let dbus_id = r("var/lib/dbus/machine-id");
    if dbus_id.is_file() && !dbus_id.is_symlink() {
        std::fs::remove_file(&dbus_id).map_err(|e| Error::io(&dbus_id, e))?;
    }
    if let Ok(entries) = std::fs::read_dir(r("etc/ssh")) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("ssh_host_") {
                std::fs::remove_file(e.path()).map_err(|err| Error::io(&e.path(), err))?;
            }
        }
    }
    for unit in &def.first_boot_units {
        let name = unit
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::runtime(format!("bad unit file name {}", unit.display())))?;
        let text = std::fs::read_to_string(unit).map_err(|e| Error::io(unit, e))?;
        write(&r(&format!("etc/systemd/system/{name}")), &text)?;
        in_root(root, &["systemctl", "enable", name])?;
    }
    std::fs::create_dir_all(r("boot/efi")).map_err(|e| Error::io(&r("boot/efi"), e))?;
    write(
        &r("etc/fstab"),
        &format!(
            "# Written by prov image build: filesystems by UUID, whatever the disk is called.\nUUID={} / ext4 errors=remount-ro 0 1\nUUID={} /boot/efi vfat umask=0077 0 1\n",
            ids.root_uuid, ids.esp_id
        ),
    )?;
    let (kernel, initrd, version) = kernel_files(root)?;
    let template_path = &def.grub_cfg;
    let template =
        std::fs::read_to_string(template_path).map_err(|e| Error::io(template_path, e))?;
    let env = minijinja::Environment::new();
    let cfg = env
        .render_str(
            &template,
            minijinja::context! {
                node => node,
                root_uuid => &ids.root_uuid,
                kernel => kernel,
                initrd => initrd,
                cmdline => &def.kernel_cmdline,
            },
        )
        .map_err(|e| Error::runtime(format!("{}: {e}", template_path.display())))?;
    write(&r("boot/grub/grub.cfg"), cfg.trim_start())?;
    // The binary that built the image, for the installer and for `prov apply` on the node.
    let me = std::env::current_exe().map_err(|e| Error::runtime(format!("where am I: {e}")))?;
    let dest = r("usr/local/bin/prov");
    std::fs::create_dir_all(r("usr/local/bin")).map_err(|e| Error::io(&dest, e))?;
    replace_link(&dest)?;
    let _ = std::fs::remove_file(&dest);
    copy_stripped(&me, &dest)?;
    // The installer: `install-to-disk` is `prov image install`, which reads how the image
    // boots from /etc/prov/image.json.
    write(
        &r("usr/local/bin/install-to-disk"),
        "#!/bin/sh\n# Copy this USB system onto an internal disk: prov image install --help\nexec /usr/local/bin/prov image install \"$@\"\n",
    )?;
    set_mode(&r("usr/local/bin/install-to-disk"), 0o755)?;
    let info = super::install::ImageInfo {
        node: node.to_string(),
        arch: def.arch.clone(),
        boot: def.boot.clone(),
        esp_bytes: def.disk.esp,
    };
    write(
        &r(super::install::IMAGE_INFO),
        &(serde_json::to_string_pretty(&info).unwrap_or_default() + "\n"),
    )?;
    Ok(version)
}

/// Copy a binary without its debug information (a debug build of prov is 400 MB, 44 MB of it
/// code): binutils' `strip --strip-debug`, deterministic; a plain copy where there is no strip.
fn copy_stripped(from: &Path, to: &Path) -> Result<()> {
    let stripped = std::process::Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(to)
        .arg(from)
        .output();
    match stripped {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(Error::runtime(format!(
            "strip --strip-debug {}: {}",
            from.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::copy(from, to)
            .map(|_| ())
            .map_err(|e| Error::io(to, e)),
        Err(e) => Err(Error::runtime(format!("cannot run strip: {e}"))),
    }
}

/// GRUB for the definition's firmware types, made by the root's own grub-mkimage: the UEFI
/// binary (`BOOTX64.EFI` on amd64) and, where the architecture has legacy BIOS, `core.img`
/// with the same early configuration embedded (find the root filesystem by UUID, load modules
/// from the root's /usr/lib/grub, read /boot/grub/grub.cfg), plus `boot.img`.
pub struct Grub {
    pub efi: PathBuf,
    pub bios: Option<BiosGrub>,
}

/// GRUB's legacy BIOS pieces: `core.img` and the MBR boot code `boot.img`.
pub struct BiosGrub {
    pub core: Vec<u8>,
    pub boot: Vec<u8>,
}

pub fn make_grub(root: &Path, ids: &Ids, boot: &Boot, scratch: &Path) -> Result<Grub> {
    let inside = "tmp/prov-grub";
    let dir = root.join(inside);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    write(
        &dir.join("early.cfg"),
        &format!(
            "search --no-floppy --fs-uuid --set=root {}\nset prefix=($root)/usr/lib/grub\nconfigfile ($root)/boot/grub/grub.cfg\n",
            ids.root_uuid
        ),
    )?;
    let modules = [
        "part_gpt",
        "part_msdos",
        "ext2",
        "search",
        "search_fs_uuid",
        "configfile",
        "normal",
        "linux",
        "echo",
        "test",
        "serial",
        "terminal",
        "gzio",
    ];
    let efi_out = format!("/{inside}/{}", boot.uefi_file);
    let mut efi = vec![
        "grub-mkimage",
        "-O",
        boot.uefi_grub.as_str(),
        "-o",
        efi_out.as_str(),
        "-c",
        "/tmp/prov-grub/early.cfg",
        "-p",
        "/usr/lib/grub",
    ];
    efi.extend(modules);
    efi.push("efi_gop");
    in_root(root, &efi)?;
    let read = |p: &Path| std::fs::read(p).map_err(|e| Error::io(p, e));
    let bios = match &boot.bios_grub {
        Some(platform) => {
            let mut bios = vec![
                "grub-mkimage",
                "-O",
                platform.as_str(),
                "-o",
                "/tmp/prov-grub/core.img",
                "-c",
                "/tmp/prov-grub/early.cfg",
                "-p",
                "/usr/lib/grub",
                "biosdisk",
            ];
            bios.extend(modules);
            in_root(root, &bios)?;
            Some(BiosGrub {
                core: read(&dir.join("core.img"))?,
                boot: read(&root.join(format!("usr/lib/grub/{platform}/boot.img")))?,
            })
        }
        None => None,
    };
    let grub = Grub {
        efi: scratch.join(&boot.uefi_file),
        bios,
    };
    std::fs::copy(dir.join(&boot.uefi_file), &grub.efi).map_err(|e| Error::io(&grub.efi, e))?;
    std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(grub)
}

/// Build leftovers that differ from build to build and have no use on a machine.
pub fn clean(root: &Path) -> Result<()> {
    for dir in ["tmp", "var/tmp", "var/cache/apt/archives/partial"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            for e in entries.flatten() {
                let p = e.path();
                let _ = if p.is_dir() && !p.is_symlink() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
    for file in [
        "var/cache/apt/pkgcache.bin",
        "var/cache/apt/srcpkgcache.bin",
        "var/cache/ldconfig/aux-cache",
        "var/lib/systemd/random-seed",
        "var/lib/dpkg/status-old",
        "var/lib/dpkg/available-old",
        "var/lib/dpkg/diversions-old",
        "etc/shadow-",
        "etc/gshadow-",
        "etc/passwd-",
        "etc/group-",
        "etc/subuid-",
        "etc/subgid-",
    ] {
        let _ = std::fs::remove_file(root.join(file));
    }
    // Logs of the build: emptied, kept as files (some packages expect them).
    let logs = root.join("var/log");
    truncate_logs(&logs);
    Ok(())
}

fn truncate_logs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => truncate_logs(&p),
            Ok(t) if t.is_file() => {
                let _ = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&p);
            }
            _ => {}
        }
    }
}

/// Set every time stamp newer than `epoch` to `epoch` (links themselves, not their targets).
pub fn clamp_times(dir: &Path, epoch: i64) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for e in entries {
        let e = e.map_err(|err| Error::io(dir, err))?;
        let p = e.path();
        let m = std::fs::symlink_metadata(&p).map_err(|err| Error::io(&p, err))?;
        if m.is_dir() {
            clamp_times(&p, epoch)?;
        }
        set_time(&p, &m, epoch)?;
    }
    let m = std::fs::symlink_metadata(dir).map_err(|err| Error::io(dir, err))?;
    set_time(dir, &m, epoch)
}

fn set_time(p: &Path, m: &std::fs::Metadata, epoch: i64) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    if m.mtime() <= epoch && m.atime() <= epoch {
        return Ok(());
    }
    let t = |cur: i64, nsec: i64| {
        if cur > epoch {
            libc::timespec {
                tv_sec: epoch as libc::time_t,
                tv_nsec: 0,
            }
        } else {
            libc::timespec {
                tv_sec: cur as libc::time_t,
                tv_nsec: nsec as _,
            }
        }
    };
    let times = [t(m.atime(), m.atime_nsec()), t(m.mtime(), m.mtime_nsec())];
    let c = std::ffi::CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::runtime(format!("bad path {}", p.display())))?;
    // SAFETY: a valid path and two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(Error::io(p, std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_kernel_with_an_initrd_is_chosen() {
        let dir = std::env::temp_dir().join(format!("prov-kernels-{}", std::process::id()));
        let boot = dir.join("boot");
        std::fs::create_dir_all(&boot).unwrap();
        for f in [
            "vmlinuz-6.1.0-9-amd64",
            "initrd.img-6.1.0-9-amd64",
            "vmlinuz-6.1.0-10-amd64",
            "initrd.img-6.1.0-10-amd64",
            "vmlinuz-6.1.0-11-amd64",
        ] {
            std::fs::write(boot.join(f), "").unwrap();
        }
        let (k, i, v) = kernel_files(&dir).unwrap();
        assert_eq!(v, "6.1.0-10-amd64");
        assert_eq!(k, "/boot/vmlinuz-6.1.0-10-amd64");
        assert_eq!(i, "/boot/initrd.img-6.1.0-10-amd64");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(kernel_files(&dir).is_err());
    }

    #[test]
    fn times_are_clamped_links_included() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("prov-clamp-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/f"), "x").unwrap();
        std::os::unix::fs::symlink("sub/f", dir.join("l")).unwrap();
        clamp_times(&dir, 1_700_000_000).unwrap();
        for p in ["sub/f", "sub", "l", ""] {
            let m = std::fs::symlink_metadata(dir.join(p)).unwrap();
            assert_eq!(m.mtime(), 1_700_000_000, "{p}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
