//! The core modules' scenario (tests/fixtures/modules): one playbook that exercises every file,
//! command and service module, and the checks of the state it leaves. The chroot tests and the
//! SSH tests run the same data, so both transports are held to the same result.

use std::path::Path;

use super::{Project, Root};

/// A project holding a copy of tests/fixtures/modules (site.yml, files/, templates/).
pub fn modules_project() -> Project {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modules");
    let mut p = Project::new();
    for rel in ["site.yml", "files/motd", "templates/app.env.j2"] {
        p = p.file(rel, &std::fs::read_to_string(src.join(rel)).unwrap());
    }
    p
}

/// How many tasks of site.yml change a fresh root (at least).
pub const MODULES_CHANGED: u64 = 12;

/// The state site.yml leaves in a root.
#[track_caller]
pub fn assert_modules_applied(root: &Root) {
    assert_eq!(root.mode("srv/app"), 0o750);
    assert_eq!(root.owner("srv/app").1, 4, "group adm");
    assert_eq!(root.read("srv/app/app.conf"), "port=8080\n");
    assert_eq!(root.mode("srv/app/app.conf"), 0o644);
    assert_eq!(root.read("srv/app/settings"), "port=9090\n");
    assert_eq!(root.mode("srv/app/settings"), 0o640);
    assert!(root.read("etc/hosts").ends_with(
        "# BEGIN ANSIBLE MANAGED BLOCK\n192.0.2.10 registry\n192.0.2.11 mirror\n# END ANSIBLE MANAGED BLOCK\n"
    ));
    assert_eq!(root.read("etc/motd"), "Welcome to a prov-managed host\n");
    assert_eq!(root.mode("etc/motd"), 0o644);
    assert_eq!(
        root.read("srv/app/app.env"),
        "# Ansible managed\nA=/srv/app/a\nB=/srv/app/b\nARCH=x86_64\n"
    );
    assert_eq!(root.mode("srv/app/app.env"), 0o600);
    assert_eq!(root.owner("srv/app/app.env"), (0, 0));
    assert!(root.read("etc/fstab").starts_with("# managed by prov"));
    assert_eq!(
        std::fs::read_link(root.file("etc/app.conf"))
            .unwrap()
            .to_str(),
        Some("/srv/app/app.conf")
    );
    assert!(!root.exists("etc/issue.net"));
    assert!(root.exists("srv/app/created"));
    assert_eq!(root.read("srv/app/shell.out"), "3\n");
    assert!(root.exists("etc/systemd/system/multi-user.target.wants/systemd-networkd.service"));
    let mtime = std::fs::metadata(root.file("srv/app/stamp")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::mtime(&mtime), 1577836800);
}
