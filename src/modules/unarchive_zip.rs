//! `unarchive` for zip archives, decided as Ansible's `ZipArchive.is_unarchived`: every entry
//! of `unzip -Z -T -s` is compared with what is at `dest` — type, modification time (the
//! archive's local time against the file's), size, CRC-32, permissions (the task's `mode`, or
//! the entry's own, FAT entries through the umask) and owner/group (the task's, else the
//! user running) — and the task changes when one differs; the differences are the diff's
//! itemized lines. Unlike tar archives this is predicted in check mode, as Ansible does.
//!
//! A host archive is listed by one read-only probe (`unzip` on the host); a controller archive
//! by the controller's `unzip`, and the probe then only reads `dest`. Files' CRC-32 on the host
//! is read from gzip's trailer (`gzip -c | tail -c8`), so no Python is needed there. Unpacking
//! is `unzip -o` (Ansible's command) followed by `mode`/`owner`/`group` on every member.

use std::collections::HashMap;

use super::{Spec, quote, words};
use crate::modules::mode::apply_symbolic;
use crate::shlex::glob_match;

/// Marks the start of a section in a probe's output (a control character unzip never prints
/// raw: it shows control characters in names as `^X`).
const SEC: char = '\u{1e}';

/// What a zip decision reads: the archive's listings and the host's state of its members.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sections {
    /// `unzip` is missing on the host.
    pub no_unzip: bool,
    pub zipinfo: String,
    pub zipinfo_rc: i32,
    /// `unzip -v` (CRC-32 of each entry).
    pub crcs: String,
    /// `unzip -Z1`: one name a line.
    pub names: String,
    pub names_rc: i32,
    pub umask: u32,
    pub uid: u32,
    pub user: String,
    pub group: String,
    /// One `S|kind|mode|user|uid|group|gid|size|mtime|crc|name` line per existing member.
    pub dest: String,
}

impl Sections {
    /// Parse a probe's output; sections not printed keep their defaults.
    pub fn parse(text: &str, base: Sections) -> Sections {
        let mut s = base;
        let mut current: Option<String> = None;
        let mut body = String::new();
        let store = |name: &Option<String>, body: &str, s: &mut Sections| {
            let num = || body.trim().parse::<i32>().unwrap_or(-1);
            match name.as_deref() {
                Some("nounzip") => s.no_unzip = true,
                Some("zipinfo") => s.zipinfo = body.to_string(),
                Some("zipinfo_rc") => s.zipinfo_rc = num(),
                Some("crc") => s.crcs = body.to_string(),
                Some("names") => s.names = body.to_string(),
                Some("names_rc") => s.names_rc = num(),
                Some("env") => {
                    let mut l = body.lines();
                    s.umask =
                        u32::from_str_radix(l.next().unwrap_or("022").trim(), 8).unwrap_or(0o22);
                    s.uid = l.next().and_then(|u| u.trim().parse().ok()).unwrap_or(0);
                    s.user = l.next().unwrap_or("root").trim().to_string();
                    s.group = l.next().unwrap_or("root").trim().to_string();
                }
                Some("dest") => s.dest = body.to_string(),
                _ => {}
            }
        };
        for line in text.split_inclusive('\n') {
            if let Some(name) = line.strip_prefix(SEC) {
                store(&current, &body, &mut s);
                current = Some(name.trim_end().to_string());
                body.clear();
            } else {
                body.push_str(line);
            }
        }
        store(&current, &body, &mut s);
        s
    }
}

/// The listing commands' arguments after the archive: `-x` excludes, or includes.
fn select_args(spec: &Spec) -> String {
    let mut v = Vec::new();
    if !spec.exclude.is_empty() {
        v.push("-x".to_string());
        v.extend(spec.exclude.iter().cloned());
    }
    v.extend(spec.include.iter().cloned());
    words(&v)
}

/// The shell functions that print the host's state (`env` and `dest` sections) of the names
/// `names_cmd` prints.
fn state_part(names_cmd: &str) -> String {
    format!(
        "sec env; umask; id -u; id -un; id -gn\n\
         sec dest\n\
         st() {{\n\
         \x20 p=\"$dest/$1\"\n\
         \x20 if [ -L \"$p\" ] || [ -e \"$p\" ]; then\n\
         \x20   s=$(stat -c '%F|%a|%U|%u|%G|%g|%s|%y' -- \"$p\") || return 0\n\
         \x20   c=\n\
         \x20   if [ -f \"$p\" ] && [ ! -L \"$p\" ]; then c=$(gzip -c < \"$p\" | tail -c8 | od -An -tx1 -N4 | tr -d ' \\n'); fi\n\
         \x20   printf 'S|%s|%s|%s\\n' \"$s\" \"$c\" \"$1\"\n\
         \x20 fi\n\
         }}\n\
         {names_cmd} | while IFS= read -r n; do st \"$n\"; done\n"
    )
}

const SEC_FN: &str = "sec() { printf '\\036%s\\n' \"$1\"; }\n";

/// The probe of a zip archive on the host (`$src` and `$dest` set), read-only.
pub fn remote_probe(spec: &Spec) -> String {
    let sel = select_args(spec);
    format!(
        "{SEC_FN}command -v unzip >/dev/null 2>&1 || {{ sec nounzip; exit 0; }}\n\
         sec zipinfo; unzip -Z -T -s \"$src\" {sel} 2>&1; r=$?; sec zipinfo_rc; echo $r\n\
         sec crc; unzip -v \"$src\" 2>/dev/null\n\
         sec names; unzip -Z1 \"$src\" 2>&1; r=$?; sec names_rc; echo $r\n\
         {}",
        state_part("unzip -Z1 \"$src\" 2>/dev/null")
    )
}

/// The probe of `dest` for a controller archive whose members are `names`.
pub fn controller_probe(dest: &str, names: &[String]) -> String {
    format!(
        "{SEC_FN}dest={}\ncommand -v unzip >/dev/null 2>&1 || {{ sec nounzip; exit 0; }}\n{}",
        quote(dest),
        state_part(&format!("printf '%s\\n' {}", words(names)))
    )
}

/// The archive's listings made by the controller's `unzip` (from a temporary copy).
pub fn list_here(spec: &Spec, data: &[u8]) -> std::result::Result<Sections, String> {
    let dir = std::env::temp_dir().join(format!(
        "prov-unzip-{}-{:x}",
        std::process::id(),
        sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(data))[0..8]
            .iter()
            .fold(0u64, |a, b| a << 8 | u64::from(*b))
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("archive.zip");
    let result = (|| {
        std::fs::write(&file, data).map_err(|e| e.to_string())?;
        let run = |args: Vec<String>| -> std::result::Result<(i32, String), String> {
            let out = std::process::Command::new("unzip")
                .args(args)
                .env("LC_ALL", "C")
                .output()
                .map_err(|e| {
                    format!("a zip archive from the controller is listed with the controller's unzip: {e}")
                })?;
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            Ok((out.status.code().unwrap_or(-1), text))
        };
        let f = file.display().to_string();
        let mut info = vec!["-Z".into(), "-T".into(), "-s".into(), f.clone()];
        if !spec.exclude.is_empty() {
            info.push("-x".into());
            info.extend(spec.exclude.iter().cloned());
        }
        info.extend(spec.include.iter().cloned());
        let (zipinfo_rc, zipinfo) = run(info)?;
        let (_, crcs) = run(vec!["-v".into(), f.clone()])?;
        let (names_rc, names) = run(vec!["-Z1".into(), f])?;
        Ok(Sections {
            zipinfo,
            zipinfo_rc,
            crcs,
            names,
            names_rc,
            ..Default::default()
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The members Ansible works on (`files` in the result): included ones, or all but the
/// excluded ones (shell patterns).
pub fn files_in_archive(spec: &Spec, names: &str) -> Vec<String> {
    let mut out = Vec::new();
    for n in names.lines().filter(|n| !n.is_empty()) {
        if !spec.include.is_empty() {
            for i in &spec.include {
                if glob_match(i, n) {
                    out.push(n.to_string());
                }
            }
        } else if !spec.exclude.iter().any(|e| glob_match(e, n)) {
            out.push(n.to_string());
        }
    }
    out
}

/// One member's state on the host.
struct Here {
    kind: String,
    mode: u32,
    user: String,
    uid: u32,
    group: String,
    gid: u32,
    size: u64,
    /// Local modification time as `YYYYmmdd.HHMMSS` and its nanoseconds.
    stamp: (String, u64),
    crc: Option<u32>,
}

fn parse_here(line: &str) -> Option<(String, Here)> {
    let f: Vec<&str> = line.strip_prefix("S|")?.splitn(10, '|').collect();
    if f.len() != 10 {
        return None;
    }
    // `%y`: 2024-01-02 03:04:05.123456789 +0000
    let (date, rest) = f[7].split_once(' ')?;
    let time = rest.split(' ').next()?;
    let (hms, nanos) = time.split_once('.').unwrap_or((time, "0"));
    let stamp = format!("{}.{}", date.replace('-', ""), hms.replace(':', ""));
    let crc = if f[8].len() == 8 {
        let b = (0..4)
            .map(|i| u8::from_str_radix(&f[8][i * 2..i * 2 + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    } else {
        None
    };
    Some((
        f[9].to_string(),
        Here {
            kind: f[0].to_string(),
            mode: u32::from_str_radix(f[1], 8).ok()?,
            user: f[2].to_string(),
            uid: f[3].parse().ok()?,
            group: f[4].to_string(),
            gid: f[5].parse().ok()?,
            size: f[6].parse().ok()?,
            stamp: (stamp, nanos.parse().unwrap_or(0)),
            crc,
        },
    ))
}

/// `rw-r--r--` to 0644, minus the umask (Ansible's `_permstr_to_octal`).
fn permstr_to_octal(perm: &str, umask: u32) -> u32 {
    let mut mode = 0;
    for (i, c) in perm.chars().rev().enumerate().take(9) {
        if "rwxst".contains(c) {
            mode |= 1 << i;
        }
    }
    mode & !umask
}

/// Whether a permission string is nine `[r-][w-][SsTtx-]` triples.
fn perm_ok(p: &str) -> bool {
    let c: Vec<char> = p.chars().collect();
    c.len() == 9
        && c.chunks(3)
            .all(|t| "r-".contains(t[0]) && "w-".contains(t[1]) && "SsTtx-".contains(t[2]))
}

/// The outcome of comparing the archive with `dest`.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    pub unarchived: bool,
    /// Ansible's itemized lines (`>f++++++.?? path`, `.f..t....?? path`).
    pub diff: String,
    /// Why (Ansible's `err` lines).
    pub why: String,
}

/// Compare the archive with `dest` as Ansible's `ZipArchive.is_unarchived`.
pub fn decide(spec: &Spec, s: &Sections) -> std::result::Result<Decision, String> {
    let crcs: HashMap<&str, u32> = s
        .crcs
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let crc = u32::from_str_radix(f[6], 16)
                .ok()
                .filter(|_| f[6].len() == 8)?;
            let name = splitn_ws(l, 8).get(7).copied()?;
            Some((name, crc))
        })
        .collect();
    let here: HashMap<String, Here> = s.dest.lines().filter_map(parse_here).collect();
    let mut d = Decision {
        unarchived: s.zipinfo_rc == 0,
        ..Default::default()
    };
    let mut includes: Vec<String> = Vec::new();
    let is_name = |v: &str| !v.is_empty() && !v.chars().all(|c| c.is_ascii_digit());
    let fut_owner = spec.owner.clone().unwrap_or_else(|| s.user.clone());
    let fut_group = spec.group.clone().unwrap_or_else(|| s.group.clone());
    for line in s.zipinfo.lines() {
        let pcs = splitn_ws(line, 8);
        if pcs.len() != 8 || ![7, 8, 10].contains(&pcs[0].len()) || pcs[6].len() != 15 {
            continue;
        }
        let mut chars = pcs[0].chars();
        let ztype = chars.next().unwrap_or(' ');
        let mut permstr: String = chars.collect();
        if !"dl-?".contains(ztype) || !permstr.chars().all(|c| "rwxstah-".contains(c)) {
            continue;
        }
        let Ok(size) = pcs[3].parse::<u64>() else {
            continue;
        };
        let path = pcs[7];
        if spec.exclude.iter().any(|e| e == path) {
            continue;
        }
        let ftype = if path.ends_with('/') || ztype == 'd' {
            'd'
        } else if ztype == 'l' {
            'L'
        } else {
            'f'
        };
        let file_umask = match permstr.len() {
            6 => {
                permstr = if ftype == 'd' || permstr == "rwx---" {
                    "rwxrwxrwx".into()
                } else {
                    "rw-rw-rw-".into()
                };
                s.umask
            }
            7 => {
                permstr = if permstr == "rwxa---" {
                    "rwxrwxrwx".into()
                } else {
                    "rw-rw-rw-".into()
                };
                s.umask
            }
            _ => 0,
        };
        if !perm_ok(&permstr) {
            return Err(format!("ZIP info perm format incorrect, {permstr}"));
        }
        let Some(st) = here.get(path) else {
            includes.push(path.to_string());
            d.why += &format!("Path {path} is missing\n");
            d.diff += &format!(">{ftype}++++++.?? {path}\n");
            continue;
        };
        let regular = st.kind == "regular file" || st.kind == "regular empty file";
        let mismatch = match ftype {
            'd' if st.kind != "directory" => Some("already exists, but not as a directory"),
            'f' if !regular => Some("already exists, but not as a regular file"),
            'L' if st.kind != "symbolic link" => Some("already exists, but not as a symlink"),
            _ => None,
        };
        if let Some(m) = mismatch {
            includes.push(path.to_string());
            d.why += &format!("Path {path} {m}\n");
            d.diff += &format!("c{ftype}++++++.?? {path}\n");
            continue;
        }
        let mut change = false;
        let mut itemized: Vec<char> = format!(".{ftype}.......??").chars().collect();
        let stamp = (pcs[6].to_string(), 0u64);
        if regular {
            if spec.keep_newer {
                if stamp > st.stamp {
                    change = true;
                    d.why += &format!("File {path} is older, replacing file\n");
                    itemized[4] = 't';
                } else if stamp < st.stamp {
                    continue;
                }
            } else if stamp != st.stamp {
                change = true;
                d.why += &format!("File {path} differs in mtime\n");
                itemized[4] = 't';
            }
            if size != st.size {
                change = true;
                d.why += &format!("File {path} differs in size ({size} vs {})\n", st.size);
                itemized[3] = 's';
            }
            if crcs.get(path).copied() != st.crc || st.crc.is_none() {
                change = true;
                d.why += &format!("File {path} differs in CRC32 checksum\n");
                itemized[2] = 'c';
            }
        }
        if ftype != 'L' {
            let want = match &spec.mode {
                Some(m) if m.chars().all(|c| c.is_digit(8)) => {
                    u32::from_str_radix(m, 8).map_err(|e| e.to_string())?
                }
                Some(m) => apply_symbolic(st.mode, st.kind == "directory", m)?,
                None if ztype == '?' => permstr_to_octal(&permstr, 0),
                None => permstr_to_octal(&permstr, file_umask),
            };
            if want != st.mode {
                change = true;
                itemized[5] = 'p';
                d.why += &format!(
                    "Path {path} differs in permissions ({want:o} vs {:o})\n",
                    st.mode
                );
            }
        }
        let owner_differs = if is_name(&fut_owner) {
            st.user != fut_owner
        } else {
            st.uid.to_string() != fut_owner
        };
        if owner_differs {
            change = true;
            itemized[6] = 'o';
            d.why += &format!(
                "Path {path} is owned by user {}, not by user {fut_owner} as expected\n",
                st.user
            );
        }
        let group_differs = if is_name(&fut_group) {
            st.group != fut_group
        } else {
            st.gid.to_string() != fut_group
        };
        if group_differs {
            change = true;
            itemized[6] = 'g';
            d.why += &format!(
                "Path {path} is owned by group {}, not by group {fut_group} as expected\n",
                st.group
            );
        }
        if change {
            includes.push(path.to_string());
            d.diff += &format!("{} {path}\n", itemized.iter().collect::<String>());
        }
    }
    if !includes.is_empty() {
        d.unarchived = false;
    }
    Ok(d)
}

/// Python's `str.split(None, n - 1)`: at most `n` whitespace-separated fields, the last one
/// the rest of the line (its own inner spaces kept).
fn splitn_ws(line: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        if out.len() == n - 1 {
            out.push(rest);
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = rest[i..].trim_start();
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    out
}

/// The unpack script: `unzip -o` as Ansible runs it, then the task's attributes on every
/// member and top-level directory (`files`).
pub fn unpack_script(spec: &Spec, remote_src: Option<&str>, files: &[String]) -> String {
    let mut s = super::prelude(&spec.dest, remote_src);
    s.push_str(&format!(
        "unzip -o {} \"$src\" {} -d \"$dest\" || {{ echo \"failed to unpack $src to $dest\" >&2; exit 1; }}\ncd -- \"$dest\" || exit 1\nchanged=1\n",
        words(&spec.extra_opts),
        select_args(spec)
    ));
    s.push_str(&super::attrs_block(
        spec,
        &format!("printf '%s\\n' {}", words(files)),
    ));
    s
}

#[cfg(test)]
#[path = "unarchive_zip_tests.rs"]
mod tests;
