//! The build manifest (`NODE.manifest.json`): what is in an image and how it was made — node,
//! base, every package with its exact version (from the root's dpkg status), kernel,
//! Kubernetes and CRI-O versions, filesystem and partition identifiers, prov's version, the
//! repository's git commit, and how long each step took.

use std::path::Path;

use serde_json::{Value, json};

use super::definition::Definition;
use super::disk::{Ids, Layout};

/// Installed packages and their versions from a dpkg status file, sorted by name.
pub fn installed_packages(status: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for stanza in status.split("\n\n") {
        let (mut name, mut version, mut installed) = (None, None, false);
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            }
        }
        if let (Some(n), Some(v), true) = (name, version, installed) {
            out.push((n, v));
        }
    }
    out.sort();
    out
}

/// Packages held (`hold` selection) in a dpkg status file.
pub fn held_packages(status: &str) -> Vec<String> {
    let mut out: Vec<String> = status
        .split("\n\n")
        .filter(|s| s.lines().any(|l| l.starts_with("Status: hold ")))
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Package: ").map(|n| n.trim().to_string()))
        })
        .collect();
    out.sort();
    out
}

/// The git commit of the repository holding `dir`, if it is one.
pub fn git_commit(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub struct Facts<'a> {
    pub node: &'a str,
    pub def: &'a Definition,
    pub dpkg_status: &'a str,
    pub kernel: &'a str,
    pub ids: &'a Ids,
    pub layout: &'a Layout,
    pub source_date_epoch: i64,
    pub steps: &'a [(String, f64)],
    pub bootstrap_cached: bool,
}

pub fn manifest(f: &Facts) -> Value {
    let packages = installed_packages(f.dpkg_status);
    let version_of = |name: &str| {
        packages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| Value::from(v.as_str()))
            .unwrap_or(Value::Null)
    };
    json!({
        "node": f.node,
        "arch": f.def.arch,
        "base": {
            "distribution": format!("{:?}", f.def.base.distribution).to_lowercase(),
            "suite": f.def.base.suite,
            "mirror": f.def.base.mirror,
            "components": f.def.base.components,
            "cached": f.bootstrap_cached,
        },
        "definition": f.def.path.display().to_string(),
        "kernel": f.kernel,
        "kubernetes": {
            "kubelet": version_of("kubelet"),
            "kubeadm": version_of("kubeadm"),
            "kubectl": version_of("kubectl"),
        },
        "crio": version_of("cri-o"),
        "held": held_packages(f.dpkg_status),
        "packages": packages.iter().map(|(n, v)| json!({"name": n, "version": v})).collect::<Vec<_>>(),
        "filesystems": {
            "root_uuid": f.ids.root_uuid,
            "esp_id": f.ids.esp_id,
            "disk_guid": f.ids.disk_guid,
        },
        "layout": f.layout,
        "boot": f.def.boot,
        "prov_version": env!("CARGO_PKG_VERSION"),
        "git_commit": git_commit(f.def.path.parent().unwrap_or(Path::new("."))),
        "source_date_epoch": f.source_date_epoch,
        // When it was built (the build id of a published image): the clock, not
        // SOURCE_DATE_EPOCH, which stays the same for reproducible rebuilds.
        "build_date": crate::utc::iso(crate::utc::now()),
        "steps": f.steps.iter().map(|(name, secs)| json!({"step": name, "seconds": (secs * 100.0).round() / 100.0})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: kubelet\nStatus: hold ok installed\nVersion: 1.32.0-1.1\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: apt\nStatus: install ok installed\nVersion: 2.6.1\n";

    #[test]
    fn packages_and_holds_come_from_the_status_file() {
        assert_eq!(
            installed_packages(STATUS),
            vec![
                ("apt".to_string(), "2.6.1".to_string()),
                ("kubelet".to_string(), "1.32.0-1.1".to_string())
            ]
        );
        assert_eq!(held_packages(STATUS), vec!["kubelet"]);
    }
}
