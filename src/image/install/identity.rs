//! What makes the installed disk a machine of its own rather than a second copy of the USB
//! stick: fstab and the boot menu name the new filesystems' UUIDs; the machine-id is emptied
//! and the SSH host keys removed, so systemd and the image's first-boot unit make new ones on
//! its first boot; seeds and secrets of the USB system are not carried over; the automatic
//! install (`prov.install=auto`) is off. Applied to the written root filesystem with one
//! debugfs script, so the target is never mounted.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};
use crate::image::disk::{self, Ids, Layout, SECTOR};

/// The kernel command line word and the ESP file that make a first boot install by itself.
pub const AUTO_WORD: &str = "prov.install=auto";
pub const AUTO_UNIT: &str = "prov-auto-install.service";

/// Files of the USB system that must not be shared with the installed one.
const REMOVED: &[&str] = &[
    "/var/lib/dbus/machine-id",
    "/var/lib/systemd/random-seed",
    "/var/lib/systemd/credential.secret",
];

/// fstab with `/` and `/boot/efi` by the new UUIDs (entries added when missing), and the
/// root's old UUID when fstab named it by UUID.
pub fn rewrite_fstab(text: &str, ids: &Ids) -> (String, Option<String>) {
    let mut old_root = None;
    let (mut has_root, mut has_esp) = (false, false);
    let mut out = String::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let spec = match fields.get(1).copied() {
            _ if line.trim_start().starts_with('#') => None,
            Some("/") => {
                has_root = true;
                old_root = fields[0].strip_prefix("UUID=").map(str::to_string);
                Some(format!("UUID={}", ids.root_uuid))
            }
            Some("/boot/efi") => {
                has_esp = true;
                Some(format!("UUID={}", ids.esp_id))
            }
            _ => None,
        };
        match spec {
            Some(spec) => {
                let lead = &line[..line.len() - line.trim_start().len()];
                let rest = &line.trim_start()[fields[0].len()..];
                out.push_str(&format!("{lead}{spec}{rest}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !has_root {
        out.push_str(&format!(
            "UUID={} / ext4 errors=remount-ro 0 1\n",
            ids.root_uuid
        ));
    }
    if !has_esp {
        out.push_str(&format!(
            "UUID={} /boot/efi vfat umask=0077 0 1\n",
            ids.esp_id
        ));
    }
    (out, old_root)
}

/// The boot menu with the new root UUID where the old one was, and no automatic install.
pub fn rewrite_grub_cfg(text: &str, old_root: &str, ids: &Ids) -> Result<String> {
    // A UUID, not a fragment that would match elsewhere in the menu.
    if old_root.len() < 16 || !text.contains(old_root) {
        return Err(Error::runtime(format!(
            "/boot/grub/grub.cfg does not name the root filesystem's UUID {old_root}: the installed disk could not find its root"
        )));
    }
    let text = text.replace(old_root, &ids.root_uuid);
    Ok(text
        .lines()
        .map(|l| {
            if l.contains(AUTO_WORD) {
                l.split(' ')
                    .filter(|w| *w != AUTO_WORD)
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n")
}

/// A path debugfs reads (double quotes; a name with a quote or newline cannot be written).
fn quoted(p: &str) -> Result<String> {
    if p.contains(['"', '\n']) {
        return Err(Error::runtime(format!("{p:?}: cannot name it to debugfs")));
    }
    Ok(format!("\"{p}\""))
}

/// The debugfs lines replacing `path` by the local file `local` with the source's owner and
/// mode (or root's and `mode`).
fn replace(script: &mut String, source: &Path, path: &str, local: &Path, mode: u32) -> Result<()> {
    let md = std::fs::symlink_metadata(source.join(path.trim_start_matches('/')));
    let (uid, gid, mode) = match &md {
        Ok(m) if m.is_file() => (m.uid(), m.gid(), m.mode() & 0o7777),
        _ => (0, 0, mode),
    };
    std::fs::set_permissions(local, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(local, e))?;
    let q = quoted(path)?;
    if md.is_ok() {
        script.push_str(&format!("rm {q}\n"));
    }
    script.push_str(&format!(
        "write {} {q}\nsif {q} uid {uid}\nsif {q} gid {gid}\nsif {q} mode 0{:o}\n",
        quoted(&local.display().to_string())?,
        0o100000 | mode
    ));
    Ok(())
}

/// The installed system's fstab and boot menu, computed before the disk is touched (a source
/// whose fstab or grub.cfg cannot be rewritten stops the install while the disk is intact).
pub struct Texts {
    fstab: String,
    grub: String,
}

pub fn prepare(source: &Path, ids: &Ids) -> Result<Texts> {
    let read = |p: &str| {
        let f = source.join(p);
        std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))
    };
    let (fstab, old_root) = rewrite_fstab(&read("etc/fstab").unwrap_or_default(), ids);
    let old_root = old_root.ok_or_else(|| {
        Error::runtime(
            "/etc/fstab does not mount / by UUID: cannot tell which UUID the boot menu uses",
        )
    })?;
    let grub = rewrite_grub_cfg(&read("boot/grub/grub.cfg")?, &old_root, ids)?;
    Ok(Texts { fstab, grub })
}

/// Give the written root filesystem (partition 3 of `target`) its own identity. `scratch` is
/// a private directory for the new files.
pub fn apply(
    target: &Path,
    layout: &Layout,
    source: &Path,
    texts: &Texts,
    scratch: &Path,
) -> Result<()> {
    let (fstab, grub) = (&texts.fstab, &texts.grub);
    let mut script = String::new();
    for (path, text, mode) in [
        ("/etc/fstab", fstab.as_str(), 0o644),
        ("/boot/grub/grub.cfg", grub.as_str(), 0o444),
        // Empty: systemd writes a new one on first boot.
        ("/etc/machine-id", "", 0o444),
    ] {
        let local = scratch.join(path.rsplit('/').next().unwrap_or("file"));
        std::fs::write(&local, text).map_err(|e| Error::io(&local, e))?;
        replace(&mut script, source, path, &local, mode)?;
    }
    let mut removed: Vec<String> = REMOVED.iter().map(|s| s.to_string()).collect();
    removed.push(format!(
        "/etc/systemd/system/multi-user.target.wants/{AUTO_UNIT}"
    ));
    if let Ok(entries) = std::fs::read_dir(source.join("etc/ssh")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("ssh_host_") {
                removed.push(format!("/etc/ssh/{name}"));
            }
        }
    }
    removed.sort();
    for p in removed {
        if std::fs::symlink_metadata(source.join(p.trim_start_matches('/'))).is_ok() {
            script.push_str(&format!("rm {}\n", quoted(&p)?));
        }
    }
    disk::debugfs_script(
        target,
        layout.root.0 * SECTOR,
        &scratch.join("identity.debugfs"),
        &script,
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Ids {
        let mut ids = Ids::for_node("x");
        ids.root_uuid = "11111111-2222-4333-8444-555555555555".into();
        ids.esp_id = "ABCD-0123".into();
        ids
    }

    #[test]
    fn fstab_points_at_the_new_filesystems() {
        let text = "# comment / here\nUUID=old-root / ext4 errors=remount-ro 0 1\n  UUID=OLD-1 /boot/efi vfat umask=0077 0 1\n/dev/sdc1\t/srv\text4 defaults 0 2\n";
        let (new, old) = rewrite_fstab(text, &ids());
        assert_eq!(old.as_deref(), Some("old-root"));
        assert_eq!(
            new,
            "# comment / here\nUUID=11111111-2222-4333-8444-555555555555 / ext4 errors=remount-ro 0 1\n  UUID=ABCD-0123 /boot/efi vfat umask=0077 0 1\n/dev/sdc1\t/srv\text4 defaults 0 2\n"
        );
        let (new, old) = rewrite_fstab("LABEL=root / ext4 defaults 0 1\n", &ids());
        assert_eq!(old, None);
        assert!(new.starts_with("UUID=11111111-2222-4333-8444-555555555555 / ext4 defaults"));
        assert!(new.ends_with("UUID=ABCD-0123 /boot/efi vfat umask=0077 0 1\n"));
    }

    #[test]
    fn the_boot_menu_names_the_new_root_and_installs_nothing() {
        let old = "aaaaaaaa-0000-4000-8000-000000000000";
        let cfg = format!(
            "search --fs-uuid --set=root {old}\n    linux /boot/vmlinuz root=UUID={old} ro console=ttyS0 prov.install=auto quiet\n"
        );
        let new = rewrite_grub_cfg(&cfg, old, &ids()).unwrap();
        assert!(!new.contains(old));
        assert!(!new.contains(AUTO_WORD));
        assert!(
            new.contains("root=UUID=11111111-2222-4333-8444-555555555555 ro console=ttyS0 quiet")
        );
        assert!(rewrite_grub_cfg(&cfg, "bbbbbbbb-0000-4000-8000-000000000000", &ids()).is_err());
        // A fragment of a UUID would match elsewhere: refused.
        assert!(rewrite_grub_cfg(&cfg, "aaaa", &ids()).is_err());
    }
}
