//! Comparing the two roots path by path: content, mode, owner and link target of every path
//! either engine wrote (the overlay's upper directories), with the noise every run makes masked.

use super::*;

/// Every path either engine created, changed or removed (the overlay upper directories),
/// compared in both roots; backup files are matched by their name without the time stamp.
pub(crate) fn compare(ansible: &Root, prov: &Root) -> (Vec<Difference>, usize) {
    let touched = |root: &Root| {
        let mut paths = BTreeMap::new();
        walk_upper(&upper(root), &upper(root), &mut |rel| {
            paths.insert(backup_key(&rel), rel);
        });
        paths
    };
    let (a, b) = (touched(ansible), touched(prov));
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let keys: Vec<&String> = keys.into_iter().filter(|k| !noise(k)).collect();
    let mut out = Vec::new();
    for &key in &keys {
        let pa = a.get(key).unwrap_or(key);
        let pb = b.get(key).unwrap_or(key);
        let (da, db) = (describe(&ansible.path, pa), describe(&prov.path, pb));
        if da != db {
            out.push(Difference {
                path: key.clone(),
                diff: text_diff(&ansible.path.join(pa), &prov.path.join(pb)),
                ansible: da,
                prov: db,
            });
        }
    }
    (out, keys.len())
}

/// The overlay's upper directory of a [`Root`] (next to its merged directory).
pub(crate) fn upper(root: &Root) -> PathBuf {
    root.path.parent().unwrap().join("upper")
}

pub(crate) fn walk_upper(base: &Path, dir: &Path, f: &mut dyn FnMut(String)) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        f(p.strip_prefix(base).unwrap().display().to_string());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk_upper(base, &p, f);
        }
    }
}

// The noise list, in one place: what is left out of the comparison or masked in it, because it
// depends on when or how often a tool ran, or is random by nature, and not on the state a role
// asked for. Everything else is compared.
//
// - paths left out ([`noise`]): logs, apt's caches and lists, Ansible's remote temporary
//   directory, Python bytecode, shadow-utils' `-` backups of passwd/group/shadow/gshadow/subuid/
//   subgid (they hold the previous version, which depends on how many commands ran);
// - backup file names ([`backup_key`]): Ansible's `NAME.PID.YYYY-MM-DD@HH:MM:SS~` (prov writes
//   a random token for the PID) and a tool's `NAME.YYYYMMDD_HHMMSS` (ufw) compare by the name
//   without the token and time stamp;
// - content masked ([`mask`]): mkswap's random UUID (bytes 1036..1052 of a swap file), SSH host
//   keys (random: only type, mode, owner and size compare), and time stamps written into text
//   files (ISO 8601 date-times, crontab's "(/tmp/crontabXXXX installed on DATE)" header line).

/// Paths left out of the comparison.
pub(crate) fn noise(rel: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "var/log/",
        "var/cache/apt/",
        "var/lib/apt/lists/",
        "root/.ansible",
    ];
    const FILES: &[&str] = &[
        "etc/passwd-",
        "etc/group-",
        "etc/shadow-",
        "etc/gshadow-",
        "etc/subuid-",
        "etc/subgid-",
    ];
    PREFIXES.iter().any(|p| rel.starts_with(p))
        || FILES.contains(&rel)
        || rel.split('/').any(|c| c == "__pycache__")
}

/// The name a backup file is compared under.
pub(crate) fn backup_key(rel: &str) -> String {
    let ansible = regex::Regex::new(r"\.[^./]+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~$").unwrap();
    let stamped = regex::Regex::new(r"\.\d{8}_\d{6}$").unwrap();
    let rel = ansible.replace(rel, ".<backup>~");
    stamped.replace(&rel, ".<backup>").into_owned()
}

/// A file's content with its random bytes and time stamps masked.
pub(crate) fn mask(rel: &str, mut data: Vec<u8>) -> Vec<u8> {
    if data.len() >= 4096 && &data[4086..4096] == b"SWAPSPACE2" {
        data[1036..1052].fill(0);
        return data;
    }
    let host_key = regex::Regex::new(r"^etc/ssh/ssh_host_\w+_key(\.pub)?$").unwrap();
    if host_key.is_match(rel) {
        return format!("<random key of {} bytes>", data.len()).into_bytes();
    }
    let Ok(text) = String::from_utf8(data.clone()) else {
        return data;
    };
    let iso = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?").unwrap();
    let crontab = regex::Regex::new(r"(?m)^# \(\S+ installed on .*\)$").unwrap();
    let text = iso.replace_all(&text, "<time>");
    crontab
        .replace_all(&text, "# (<crontab> installed on <time>)")
        .into_owned()
        .into_bytes()
}

/// A path's type, mode, owner, size and sha256 (of the content [`mask`]ed) and link target.
pub(crate) fn describe(root: &Path, rel: &str) -> String {
    let p = root.join(rel);
    let Ok(m) = std::fs::symlink_metadata(&p) else {
        return "absent".into();
    };
    let (mode, owner) = (m.mode() & 0o7777, format!("{}:{}", m.uid(), m.gid()));
    let t = m.file_type();
    if t.is_symlink() {
        let target = std::fs::read_link(&p).unwrap_or_default();
        format!("link {owner} -> {}", target.display())
    } else if t.is_dir() {
        format!("dir {mode:o} {owner}")
    } else if t.is_file() {
        // The size of the masked content: a masked field may differ in length (crontab's
        // header names `-` when installed from stdin, a temporary file under Ansible).
        let data = mask(rel, std::fs::read(&p).unwrap_or_default());
        let size = data.len();
        let sha = sha2::Sha256::digest(data);
        format!("file {mode:o} {owner} {size} {sha:x}")
    } else {
        format!("special {mode:o} {owner} {}", m.rdev())
    }
}

/// `diff -u` of two regular text files, or of one and nothing (at most 6000 characters).
pub(crate) fn text_diff(a: &Path, b: &Path) -> Option<String> {
    // Each side is a text file or absent (/dev/null); anything else has no diff.
    let side = |p: &Path| -> Option<OsString> {
        match std::fs::symlink_metadata(p) {
            Err(_) => Some("/dev/null".into()),
            Ok(m) if m.is_file() && m.len() < 1 << 20 => {
                let data = std::fs::read(p).ok()?;
                (!data.contains(&0)).then(|| p.as_os_str().to_owned())
            }
            Ok(_) => None,
        }
    };
    let (sa, sb) = (side(a)?, side(b)?);
    if sa == "/dev/null" && sb == "/dev/null" {
        return None;
    }
    let out = Command::new("diff")
        .args(["-u", "--label", "ansible", "--label", "prov"])
        .arg(sa)
        .arg(sb)
        .output()
        .ok()?;
    let d = String::from_utf8_lossy(&out.stdout).into_owned();
    (!d.is_empty()).then(|| d.chars().take(6000).collect())
}

/// The noise rules themselves: what they mask must compare equal, and nothing else may.
#[test]
fn masked_fields_compare_equal_and_content_does_not() {
    let dir = std::env::temp_dir().join(format!("prov-compat-mask-{}", std::process::id()));
    let (a, b) = (dir.join("a"), dir.join("b"));
    let cron = "var/spool/cron/crontabs/root";
    for (root, header, job) in [
        (
            &a,
            "/tmp/crontab4u396ezv installed on Mon Dec  7 09:32:57 2026",
            "ls",
        ),
        (&b, "- installed on Mon Dec  7 09:32:58 2026", "ls"),
    ] {
        std::fs::create_dir_all(root.join("var/spool/cron/crontabs")).unwrap();
        std::fs::write(
            root.join(cron),
            format!("# DO NOT EDIT\n# ({header})\n{job}\n"),
        )
        .unwrap();
    }
    assert_eq!(describe(&a, cron), describe(&b, cron));
    std::fs::write(b.join(cron), "# DO NOT EDIT\n# (- installed on x)\nrm\n").unwrap();
    assert_ne!(describe(&a, cron), describe(&b, cron));
    assert!(noise("var/log/apt/history.log") && !noise("etc/passwd"));
    assert_eq!(
        backup_key("etc/ssh/sshd_config.1234.2026-12-07@09:32:57~"),
        "etc/ssh/sshd_config.<backup>~"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
