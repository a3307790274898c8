//! Disk images from the image tests' point of view: `golyat` images built with the local apt
//! repositories ([`build`]), their partition tables read by sfdisk ([`partitions`]) and root
//! filesystems by debugfs ([`RootFs`]), never mounted.

use std::path::Path;
use std::process::Command;

use super::{Prov, RepoServer, repo_root};

/// The GPT partition types of an image (and of a disk installed from one): BIOS boot, EFI
/// system, Linux filesystem.
pub const GPT_TYPES: [&str; 3] = [
    "21686148-6449-6E6F-744E-656564454649",
    "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
];

/// The fixed SOURCE_DATE_EPOCH of the test builds.
pub const EPOCH: &str = "1765000000";

pub fn build(server: &RepoServer, node: &str, out: &Path, extra: &[&str]) -> super::Run {
    Prov::new()
        .cwd(&repo_root())
        .args([
            "image",
            "build",
            "--node",
            node,
            "--definition",
            "images/worker-bookworm.yml",
        ])
        .arg("-o")
        .arg(out)
        .arg("--cache")
        .arg(super::image_cache_dir())
        .arg("-e")
        .arg(server.vars())
        .args(extra)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .run()
}

#[track_caller]
pub fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An image's partitions, as sfdisk reads them.
pub fn partitions(img: &Path) -> Vec<serde_json::Value> {
    let json: serde_json::Value =
        serde_json::from_str(&sh(Command::new("sfdisk").arg("--json").arg(img))).unwrap();
    json["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .clone()
}

/// Read a file of the image's root filesystem (partition 3) with debugfs.
pub struct RootFs(pub String);

impl RootFs {
    pub fn of(img: &Path) -> RootFs {
        let start = partitions(img)[2]["start"].as_u64().unwrap();
        RootFs(format!("{}?offset={}", img.display(), start * 512))
    }
    pub fn debugfs(&self, request: &str) -> String {
        sh(Command::new("debugfs").arg("-R").arg(request).arg(&self.0))
    }
    pub fn cat(&self, path: &str) -> String {
        self.debugfs(&format!("cat {path}"))
    }
    pub fn exists(&self, path: &str) -> bool {
        let out = Command::new("debugfs")
            .arg("-R")
            .arg(format!("stat {path}"))
            .arg(&self.0)
            .output()
            .unwrap();
        !String::from_utf8_lossy(&out.stderr).contains("File not found")
    }
    pub fn mode(&self, path: &str) -> u32 {
        let stat = self.debugfs(&format!("stat {path}"));
        let m = stat
            .split("Mode:")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        u32::from_str_radix(m, 8).unwrap()
    }
    pub fn uuid(&self) -> String {
        self.debugfs("stats")
            .lines()
            .find_map(|l| l.strip_prefix("Filesystem UUID:"))
            .unwrap()
            .trim()
            .to_string()
    }
}
