//! The base root filesystem: `mmdebstrap` of the definition's distribution, suite, mirror and
//! packages, optionally cached as a tarball keyed by all of those and the day (`--cache DIR`),
//! so a second build of the day starts from the cache instead of the mirror.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::definition::Definition;
use crate::error::{Error, Result};

/// The packages mmdebstrap installs: the kernel, then the definition's list.
pub fn packages(def: &Definition) -> Vec<String> {
    let mut p = vec![def.kernel.clone()];
    p.extend(def.packages.iter().cloned());
    p
}

/// The cache file of a definition's bootstrap on the day of `epoch`.
pub fn cache_file(dir: &Path, def: &Definition, epoch: i64) -> PathBuf {
    let day = epoch.div_euclid(86_400);
    let key = format!(
        "{:?}|{}|{}|{}|{}|{}|{}|{}|{day}",
        def.base.distribution,
        def.base.suite,
        def.base.mirror,
        def.base.components.join(","),
        def.arch,
        packages(def).join(","),
        def.path_exclude.join(","),
        def.path_include.join(","),
    );
    let h = Sha256::digest(key.as_bytes());
    let hex: String = h[..8].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!(
        "bootstrap-{}-{}-{hex}.tar",
        def.base.suite, def.arch
    ))
}

/// What mmdebstrap said, made into an error that names the missing package if that was it.
fn failure(stderr: &str, def: &Definition) -> Error {
    for line in stderr.lines() {
        for marker in ["Unable to locate package ", "Package '"] {
            if let Some(rest) = line.split(marker).nth(1) {
                let name = rest
                    .split(|c: char| c.is_whitespace() || c == '\'')
                    .next()
                    .unwrap_or(rest);
                return Error::runtime(format!(
                    "package '{name}' is not in {} {} ({}) for {}: fix the image definition {}",
                    def.base.mirror,
                    def.base.suite,
                    def.base.components.join(", "),
                    def.arch,
                    def.path.display()
                ));
            }
        }
    }
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    Error::runtime(format!(
        "mmdebstrap failed:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

fn dpkg_filters(def: &Definition) -> Vec<String> {
    let ex = def
        .path_exclude
        .iter()
        .map(|p| format!("--dpkgopt=path-exclude={p}"));
    let inc = def
        .path_include
        .iter()
        .map(|p| format!("--dpkgopt=path-include={p}"));
    ex.chain(inc).collect()
}

fn mmdebstrap(def: &Definition, target: &Path, epoch: i64) -> Result<()> {
    let mut cmd = std::process::Command::new("mmdebstrap");
    // Not --quiet: apt's own words ("Unable to locate package X") are only in its output.
    cmd.args([
        "--variant=minbase",
        &format!("--architectures={}", def.arch),
        &format!("--components={}", def.base.components.join(",")),
        &format!("--include={}", packages(def).join(",")),
    ])
    // dpkg's filters, excludes before the includes that make exceptions (the last match
    // wins); mmdebstrap keeps them in the root's /etc/dpkg/dpkg.cfg.d for later installs.
    .args(dpkg_filters(def))
    .arg(&def.base.suite)
    .arg(target)
    .arg(&def.base.mirror)
    .env("SOURCE_DATE_EPOCH", epoch.to_string());
    let out = cmd
        .output()
        .map_err(|e| Error::runtime(format!("cannot run mmdebstrap (is it installed?): {e}")))?;
    if !out.status.success() {
        return Err(failure(&String::from_utf8_lossy(&out.stderr), def));
    }
    Ok(())
}

/// Make the base root in `root` (an empty directory): from the cache when it has it.
/// Returns whether the cache answered.
pub fn bootstrap(def: &Definition, root: &Path, cache: Option<&Path>, epoch: i64) -> Result<bool> {
    let Some(dir) = cache else {
        mmdebstrap(def, root, epoch)?;
        return Ok(false);
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let file = cache_file(dir, def, epoch);
    let hit = file.is_file();
    if !hit {
        // Written beside and renamed: a killed build never leaves half a cache entry.
        // mmdebstrap picks its output format by the name's extension: keep `.tar` last.
        let partial = dir.join(format!(
            ".{}.partial-{}.tar",
            file.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("bootstrap"),
            std::process::id()
        ));
        let r = mmdebstrap(def, &partial, epoch);
        if r.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        r?;
        std::fs::rename(&partial, &file).map_err(|e| Error::io(&file, e))?;
    }
    super::disk::run(
        "tar",
        &[
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "-xpf",
            &file.display().to_string(),
            "-C",
            &root.display().to_string(),
        ],
        &[],
    )?;
    Ok(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> Definition {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/worker-bookworm.yml");
        super::super::definition::load(&p).unwrap()
    }

    #[test]
    fn a_missing_package_is_named() {
        let stderr = "I: running apt-get install...\nReading package lists...\nE: Unable to locate package no-such-package-prov\nE: setup failed: E: apt-get ... failed\nE: mmdebstrap failed to run\n";
        let e = failure(stderr, &def()).to_string();
        assert!(
            e.contains("package 'no-such-package-prov' is not in http://deb.debian.org/debian bookworm (main) for amd64"),
            "{e}"
        );
        let e = failure("E: cannot reach the mirror\n", &def()).to_string();
        assert!(
            e.contains("mmdebstrap failed") && e.contains("cannot reach"),
            "{e}"
        );
    }

    #[test]
    fn the_cache_key_changes_with_the_packages_and_the_day() {
        let d = def();
        let dir = Path::new("/c");
        let a = cache_file(dir, &d, 1_765_000_000);
        assert_eq!(a, cache_file(dir, &d, 1_765_000_000 + 60));
        assert_ne!(a, cache_file(dir, &d, 1_765_000_000 + 86_400));
        let mut more = d.clone();
        more.packages.push("vim".into());
        assert_ne!(a, cache_file(dir, &more, 1_765_000_000));
    }
}
