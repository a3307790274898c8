//! A dry run's view of packages an `apt` task would install: their `.deb`s are fetched without
//! installing them, and their files and systemd units become predicted state that later tasks
//! of the dry run plan against (a unit to enable, a file to template over).
//!
//! The fetch is one probe: a shell snippet on the target makes a private temporary directory
//! (in the transport's scratch directory `$PROV_TMP` when it has one, else `$TMPDIR` or `/tmp`),
//! writes there the apt sources and keyrings earlier tasks of the dry run would have written
//! (the real ones do not exist yet), runs `apt-get update` and `apt-get download` with apt's
//! lists, cache and sources pointed into that directory (falling back to the host's own
//! configuration for a package its current sources already offer), prints the `.deb`s in base64
//! and removes the directory on exit, Ctrl-C or termination. The host's apt state, lists and
//! cache are never touched. The `.deb`s are read on the controller ([`crate::host::deb`]).

use base64::Engine;

use super::{FileKind, FileState, Prediction, UnitGuess};
use crate::host::deb::{self, EntryKind};
use crate::shlex::quote;

/// Where predicted files are placed in the private directory (replaced by the shell).
const TMP_MARK: &str = "@PROVDRYTMP@";

/// apt-get options that keep apt away from the host's locks and caches.
const QUIET_APT: &str = "-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root -o Debug::NoLocking=1 -qq";

/// Predicted apt configuration files (sources, keyrings) worth copying for the fetch.
pub fn is_apt_config(path: &str) -> bool {
    path.starts_with("/etc/apt/") || path.starts_with("/usr/share/keyrings/")
}

/// The probe: fetch the `.deb`s of `specs` (`name` or `name=version`) that are not installed.
/// `files` are the predicted apt configuration files with their content.
pub(super) fn fetch_script(specs: &[String], files: &[(String, Vec<u8>)]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut s = String::from(
        "t=$(mktemp -d \"${PROV_TMP:-${TMPDIR:-/tmp}}/prov-dry.XXXXXX\") || exit 0\n\
         trap 'rm -rf \"$t\"' EXIT\ntrap 'exit 130' HUP INT TERM\nwant=\n",
    );
    s.push_str(&format!(
        "for p in {}; do\n  dpkg-query -W -f='${{db:Status-Abbrev}}' \"${{p%%=*}}\" 2>/dev/null | grep -q '^.i' || want=\"$want $p\"\ndone\n[ -n \"$want\" ] || exit 0\n",
        specs.iter().map(|p| quote(p)).collect::<Vec<_>>().join(" ")
    ));
    s.push_str("mkdir -p \"$t/parts\" \"$t/lists/partial\" \"$t/cache/archives/partial\" \"$t/root\" \"$t/debs\" && : > \"$t/sources.list\" || exit 0\n");
    let keyrings: Vec<&str> = files
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| !is_source(p))
        .collect();
    for (path, content) in files {
        let dest = if path == "/etc/apt/sources.list" {
            "\"$t/sources.list\"".to_string()
        } else if is_source(path) {
            let base = path.rsplit('/').next().unwrap_or("x");
            format!("\"$t/parts/\"{}", quote(base))
        } else {
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            s.push_str(&format!("mkdir -p \"$t/root\"{}\n", quote(dir)));
            format!("\"$t/root\"{}", quote(path))
        };
        let mut content = content.clone();
        if is_source(path) {
            // Point signed-by at the predicted keyrings' copies.
            let mut text = String::from_utf8_lossy(&content).into_owned();
            for k in &keyrings {
                text = text.replace(k, &format!("{TMP_MARK}{k}"));
            }
            content = text.into_bytes();
        }
        let sed = if is_source(path) {
            format!(" | sed \"s|{TMP_MARK}|$t/root|g\"")
        } else {
            String::new()
        };
        s.push_str(&format!(
            "printf %s {} | base64 -d{sed} > {dest}\n",
            b64.encode(&content)
        ));
    }
    s.push_str(&format!(
        "printf '%s\\n' '#clear APT::Update::Pre-Invoke;' '#clear APT::Update::Post-Invoke;' '#clear APT::Update::Post-Invoke-Success;' > \"$t/apt.conf\"\n\
         h=\"-c $t/apt.conf {QUIET_APT}\"\n\
         o=\"$h -o Dir::Etc::sourcelist=$t/sources.list -o Dir::Etc::sourceparts=$t/parts -o Dir::State::Lists=$t/lists -o Dir::Cache=$t/cache\"\n\
         apt-get $o update >/dev/null 2>&1\n\
         cd \"$t/debs\" || exit 0\n\
         set -f\n\
         for p in $want; do\n  apt-get $o download \"$p\" >/dev/null 2>&1 || apt-get $h download \"$p\" >/dev/null 2>&1 || echo \"@@missing $p\"\ndone\n\
         set +f\n\
         [ -L /lib ] && [ -L /bin ] && echo @@usrmerged\n\
         for f in *.deb; do [ -f \"$f\" ] || continue; echo \"@@deb $f\"; base64 \"$f\"; echo @@end; done\n"
    ));
    s
}

fn is_source(path: &str) -> bool {
    path == "/etc/apt/sources.list"
        || (path.starts_with("/etc/apt/sources.list.d/")
            && (path.ends_with(".list") || path.ends_with(".sources")))
}

/// What the fetched packages would install: one prediction of their files and units, and the
/// version each package would be installed at. A package that cannot be read is left out (later
/// tasks then treat what it would have installed as unknown).
pub(super) fn read_fetched(out: &str) -> (Vec<Prediction>, Vec<(String, String)>) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut files = Vec::new();
    let mut if_missing = Vec::new();
    let mut units = Vec::new();
    let mut versions = Vec::new();
    // On a merged-/usr host `/lib/x` and `/usr/lib/x` are one file: known by both names.
    let merged = out.lines().any(|l| l == "@@usrmerged");
    let mut lines = out.lines();
    while let Some(l) = lines.next() {
        if !l.starts_with("@@deb ") {
            continue;
        }
        let text: String = lines.by_ref().take_while(|l| *l != "@@end").collect();
        let Ok(bytes) = b64.decode(text.trim()) else {
            continue;
        };
        let Ok(pkg) = deb::read(&bytes) else {
            continue;
        };
        if let (Some(n), Some(v)) = (pkg.field("Package"), pkg.field("Version")) {
            versions.push((n.to_string(), v.to_string()));
        }
        for e in &pkg.files {
            if let Some(name) = unit_name(&e.path) {
                let state = match &e.content {
                    Some(c) if !has_install_section(c) => UnitGuess::Static,
                    _ if enabled_by(pkg.postinst.as_deref(), name) => UnitGuess::Enabled,
                    _ => UnitGuess::Disabled,
                };
                units.push((name.to_string(), state));
            }
            let to = if e.kind == EntryKind::Directory || pkg.conffiles.contains(&e.path) {
                &mut if_missing
            } else {
                &mut files
            };
            let f = file_state(e);
            if let Some(other) = merged.then(|| merged_alias(&e.path)).flatten() {
                to.push(FileState {
                    path: other,
                    ..f.clone()
                });
            }
            to.push(f);
        }
    }
    let mut out = Vec::new();
    if !files.is_empty() {
        out.push(Prediction::Files(files));
    }
    if !if_missing.is_empty() {
        out.push(Prediction::FilesIfMissing(if_missing));
    }
    if !units.is_empty() {
        out.push(Prediction::Units(units));
    }
    (out, versions)
}

/// The other name of a path on a merged-/usr host (`/lib/x` ↔ `/usr/lib/x`); the top-level
/// links themselves have none.
fn merged_alias(path: &str) -> Option<String> {
    for top in ["/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"] {
        if let Some(rest) = path.strip_prefix(top) {
            return Some(format!("/usr{top}{rest}"));
        }
        if let Some(rest) = path.strip_prefix(&format!("/usr{top}")) {
            return Some(format!("{top}{rest}"));
        }
    }
    None
}

/// A unit file that systemd would load (`/lib/systemd/system/x.service`).
fn unit_name(path: &str) -> Option<&str> {
    ["/lib/systemd/system/", "/usr/lib/systemd/system/"]
        .iter()
        .find_map(|d| path.strip_prefix(d))
        .filter(|n| !n.contains('/') && n.contains('.'))
}

fn has_install_section(unit: &[u8]) -> bool {
    String::from_utf8_lossy(unit)
        .lines()
        .any(|l| l.trim() == "[Install]")
}

/// The maintainer script enables the unit (debhelper's `deb-systemd-helper enable`, or
/// `systemctl enable`).
fn enabled_by(postinst: Option<&str>, unit: &str) -> bool {
    postinst.is_some_and(|s| {
        s.lines().any(|l| {
            (l.contains("deb-systemd-helper") || l.contains("systemctl"))
                && l.contains(" enable ")
                && l.contains(unit)
        })
    })
}

fn file_state(e: &deb::Entry) -> FileState {
    let mut f = FileState {
        path: e.path.clone(),
        exists: true,
        mode: e.mode,
        owner: e.owner.clone(),
        group: e.group.clone(),
        size: e.size,
        ..Default::default()
    };
    match &e.kind {
        EntryKind::File | EntryKind::HardLink(_) | EntryKind::Other => {
            f.kind = Some(FileKind::File);
            f.sha256 = e.content.as_ref().map(|c| super::content::sha256_hex(c));
            f.content = e.content.clone();
        }
        EntryKind::Directory => f.kind = Some(FileKind::Directory),
        EntryKind::Link(target) => {
            f.kind = Some(FileKind::Link);
            f.is_link = true;
            f.link_target = Some(target.clone());
            f.mode = 0o777;
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicted_sources_point_at_the_predicted_keyrings() {
        let files = vec![
            (
                "/etc/apt/sources.list.d/k.sources".to_string(),
                b"Types: deb\nSigned-By: /etc/apt/keyrings/k.gpg\n".to_vec(),
            ),
            ("/etc/apt/keyrings/k.gpg".to_string(), b"KEY".to_vec()),
        ];
        let s = fetch_script(&["kubelet=1.32.0-1.1".into(), "cri-o".into()], &files);
        let b64 = base64::engine::general_purpose::STANDARD;
        let source = b64.encode("Types: deb\nSigned-By: @PROVDRYTMP@/etc/apt/keyrings/k.gpg\n");
        assert!(s.contains(&format!("printf %s {source} |")), "{s}");
        assert!(s.contains("> \"$t/parts/\"k.sources"));
        assert!(s.contains("> \"$t/root\"/etc/apt/keyrings/k.gpg"));
        assert!(s.contains("for p in kubelet=1.32.0-1.1 cri-o; do"));
        // Removed on every exit; apt never writes the host's lists or cache.
        assert!(s.contains("trap 'rm -rf \"$t\"' EXIT"));
        assert!(s.contains("-o Dir::State::Lists=$t/lists -o Dir::Cache=$t/cache"));
    }

    /// Ctrl-C (SIGINT to the foreground process group) while apt runs, or termination: the
    /// private directory is removed all the same.
    #[test]
    fn the_private_directory_is_removed_on_interrupt() {
        use std::os::unix::process::CommandExt;
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let dir = std::env::temp_dir().join(format!("prov-fetch-{}-{sig}", std::process::id()));
            let bin = dir.join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            // apt-get stands in: it says it started, then hangs.
            let stub = bin.join("apt-get");
            std::fs::write(
                &stub,
                format!(
                    "#!/bin/sh\ntouch {}/started\nexec sleep 30\n",
                    dir.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            let files = vec![("/etc/apt/keyrings/k.gpg".to_string(), b"KEY".to_vec())];
            let script = fetch_script(&["prov-no-such-package".into()], &files);
            let mut child = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .env("TMPDIR", &dir)
                .env_remove("PROV_TMP")
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .process_group(0)
                .spawn()
                .unwrap();
            let started = dir.join("started");
            for _ in 0..500 {
                if started.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert!(started.exists(), "apt-get never ran");
            let made: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert!(
                made.iter()
                    .any(|n| n.to_string_lossy().starts_with("prov-dry.")),
                "{made:?}"
            );
            // SAFETY: kill(2) on the process group this test spawned.
            unsafe { libc::kill(-(child.id() as i32), sig) };
            child.wait().unwrap();
            let left: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("prov-dry."))
                .collect();
            assert_eq!(left, Vec::<String>::new(), "signal {sig}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn units_are_static_enabled_or_disabled() {
        assert!(!has_install_section(b"[Unit]\n[Service]\n"));
        assert!(has_install_section(b"[Unit]\n[Install]\nWantedBy=x\n"));
        let post =
            "if true; then\n\tdeb-systemd-helper enable 'crio.service' >/dev/null || true\nfi\n";
        assert!(enabled_by(Some(post), "crio.service"));
        assert!(!enabled_by(Some(post), "kubelet.service"));
        assert!(!enabled_by(None, "crio.service"));
        assert_eq!(
            unit_name("/lib/systemd/system/crio.service"),
            Some("crio.service")
        );
        assert_eq!(unit_name("/lib/systemd/system/x.d/y.conf"), None);
        assert_eq!(
            merged_alias("/lib/systemd/system/crio.service").as_deref(),
            Some("/usr/lib/systemd/system/crio.service")
        );
        assert_eq!(merged_alias("/usr/bin/crio").as_deref(), Some("/bin/crio"));
        assert_eq!(merged_alias("/lib"), None);
        assert_eq!(merged_alias("/etc/crio/crio.conf"), None);
        // Garbage in the probe's output is no package, not an error.
        let (p, v) = read_fetched("@@deb x.deb\nnot base64!\n@@end\n@@deb y.deb\nAAAA\n@@end\n");
        assert!(p.is_empty() && v.is_empty());
    }
}
