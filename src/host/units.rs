//! systemd's unit files read on the controller: whether `systemctl is-enabled` would say
//! `enabled`, the one answer that is certain from the unit directories alone: a plain unit file
//! (not masked, an alias, linked, generated or transient: those are symlinks, empty files or
//! other directories) with a symlink of its name in one of `/etc/systemd/system`'s `.wants` or
//! `.requires` directories, which systemd's `unit_file_lookup_state` reports as enabled (not
//! `.upholds`: systemd before 249 ignores those). Anything else is systemctl's to say.

use super::FileState;

/// The unit search path, in systemd's order (`systemd-analyze unit-paths`, system manager).
pub const UNIT_PATH: &[&str] = &[
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/run/systemd/generator.late",
];

/// Where a plain unit file of an enabled unit lives.
const HOMES: &[&str] = &[
    "/etc/systemd/system",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];

/// The directory whose `*.wants` (…) subdirectories enable units.
pub const CONFIG: &str = "/etc/systemd/system";

/// The unit file name systemctl looks for: no type suffix means a service. `None` for names
/// this does not judge (templates, escapes beyond the plain ones, anything else).
pub fn file_name(unit: &str) -> Option<String> {
    const TYPES: &[&str] = &[
        "service",
        "socket",
        "target",
        "device",
        "mount",
        "automount",
        "swap",
        "timer",
        "path",
        "slice",
        "scope",
    ];
    if unit.is_empty()
        || !unit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_.\\-".contains(c))
    {
        return None;
    }
    let typed = unit
        .rsplit_once('.')
        .is_some_and(|(_, t)| TYPES.contains(&t));
    Some(if typed {
        unit.to_string()
    } else {
        format!("{unit}.service")
    })
}

/// Whether the unit is certainly enabled, from: the `lstat` of `DIR/FILE` for each directory
/// of [`UNIT_PATH`] (in order), the entries of [`CONFIG`] (`lstat`, by path) and the matches of
/// `CONFIG/*/FILE` (`lstat`, by path).
pub fn certainly_enabled(
    file: &str,
    in_path: &[FileState],
    config: &[(String, FileState)],
    links: &[(String, FileState)],
) -> bool {
    let Some((dir, found)) = UNIT_PATH
        .iter()
        .zip(in_path)
        .find(|(_, f)| f.exists || f.is_link)
    else {
        return false;
    };
    if !HOMES.contains(dir) || !found.is_file() || found.is_link || found.size == 0 {
        return false;
    }
    links.iter().any(|(path, f)| {
        let Some(parent) = path.strip_suffix(file).and_then(|p| p.strip_suffix('/')) else {
            return false;
        };
        let enabling = [".wants", ".requires"].iter().any(|s| parent.ends_with(s));
        let parent_is_dir = config
            .iter()
            .any(|(p, d)| p == parent && d.is_dir() && !d.is_link);
        enabling && parent_is_dir && f.is_link
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FileKind;

    fn at(kind: FileKind, size: u64) -> FileState {
        FileState {
            exists: true,
            kind: Some(kind),
            is_link: kind == FileKind::Link,
            size,
            ..Default::default()
        }
    }

    #[test]
    fn names_as_systemctl_mangles_them() {
        assert_eq!(file_name("ssh").unwrap(), "ssh.service");
        assert_eq!(file_name("crio.service").unwrap(), "crio.service");
        assert_eq!(file_name("fstrim.timer").unwrap(), "fstrim.timer");
        assert_eq!(file_name("a.b").unwrap(), "a.b.service");
        assert_eq!(file_name("getty@tty1"), None);
        assert_eq!(file_name("x;reboot"), None);
        assert_eq!(file_name(""), None);
    }

    #[test]
    fn enabled_only_when_certain() {
        let missing = FileState::default();
        let lib = UNIT_PATH
            .iter()
            .position(|d| *d == "/lib/systemd/system")
            .unwrap();
        let mut in_path = vec![missing.clone(); UNIT_PATH.len()];
        in_path[lib] = at(FileKind::File, 300);
        let wants = "/etc/systemd/system/multi-user.target.wants".to_string();
        let config = vec![(wants.clone(), at(FileKind::Directory, 4096))];
        let link = vec![(format!("{wants}/ssh.service"), at(FileKind::Link, 0))];
        assert!(certainly_enabled("ssh.service", &in_path, &config, &link));
        // No link: disabled or static, systemctl says which.
        assert!(!certainly_enabled("ssh.service", &in_path, &config, &[]));
        // The .wants is a symlink itself, or another kind of directory.
        let linked = vec![(wants.clone(), at(FileKind::Link, 0))];
        assert!(!certainly_enabled("ssh.service", &in_path, &linked, &link));
        let other = "/etc/systemd/system/foo.d".to_string();
        let odd = vec![(format!("{other}/ssh.service"), at(FileKind::Link, 0))];
        let config2 = vec![(other, at(FileKind::Directory, 0))];
        assert!(!certainly_enabled("ssh.service", &in_path, &config2, &odd));
        // Masked (a link in /etc first), empty, or only in /run: not certain.
        let mut masked = in_path.clone();
        masked[4] = at(FileKind::Link, 9);
        assert!(!certainly_enabled("ssh.service", &masked, &config, &link));
        let mut empty = in_path.clone();
        empty[lib] = at(FileKind::File, 0);
        assert!(!certainly_enabled("ssh.service", &empty, &config, &link));
        let mut run = vec![missing; UNIT_PATH.len()];
        run[6] = at(FileKind::File, 300);
        assert!(!certainly_enabled("ssh.service", &run, &config, &link));
    }
}
