//! The core modules against a real Debian root used with `--chroot`: every scenario converges,
//! a second run changes nothing, and check mode predicts exactly the changes apply then makes
//! while modifying nothing at all.

mod common;

use common::scenario::{MODULES_CHANGED, assert_modules_applied, modules_project as project};
use common::{Prov, Root};

#[test]
fn modules_converge_then_change_nothing() {
    let root = Root::new();
    let p = project();
    let first = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    first.ok();
    assert!(
        first.stats("localhost")["changed"].as_u64().unwrap() >= MODULES_CHANGED,
        "{}",
        first.stdout
    );
    assert_modules_applied(&root);
    assert!(
        root.mounts_inside().is_empty(),
        "mounts left: {:?}",
        root.mounts_inside()
    );
    assert!(!root.exists("usr/sbin/policy-rc.d"));

    let second = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    second.ok();
    assert_eq!(
        second.stats("localhost")["changed"],
        0,
        "second run changed: {:?}",
        second.tasks_with("localhost", "changed")
    );
    // The root has perl: its state was read by the resident prober, one process for the run.
    let trips = &second.json()["round_trips"]["localhost"];
    assert!(trips["probed"].as_u64().unwrap() >= 10, "{trips}");
    // The bytes that went each way are reported.
    assert!(trips["bytes_sent"].as_u64().unwrap() > 1000, "{trips}");
    assert!(trips["bytes_received"].as_u64().unwrap() > 1000, "{trips}");
}

#[test]
fn modules_converge_in_a_root_without_perl() {
    // Without perl every probe is a shell script run in the root, with the same results.
    let root = Root::new();
    std::fs::rename(root.file("usr/bin/perl"), root.file("usr/bin/perl.hidden")).unwrap();
    let p = project();
    let first = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    first.ok();
    assert!(first.stats("localhost")["changed"].as_u64().unwrap() >= MODULES_CHANGED);
    assert_modules_applied(&root);
    let second = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    second.ok();
    assert_eq!(second.stats("localhost")["changed"], 0);
    assert_eq!(second.json()["round_trips"]["localhost"]["probed"], 0);
    assert!(root.mounts_inside().is_empty());
}

#[test]
fn check_mode_predicts_apply_and_touches_nothing() {
    let root = Root::new();
    let p = project();
    let before = root.snapshot();
    let check = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .args(["--check", "--diff"])
        .json()
        .run();
    check.ok();
    let after = root.snapshot();
    assert_eq!(
        before.diff(&after),
        Vec::<String>::new(),
        "check mode modified the root"
    );
    let predicted = check.tasks_with("localhost", "changed");
    // Diffs are part of the dry run.
    let motd = check.task("localhost", "motd from files");
    assert_eq!(motd["diff"][0]["after"], "Welcome to a prov-managed host\n");

    let apply = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    apply.ok();
    assert_eq!(predicted, apply.tasks_with("localhost", "changed"));
    assert!(root.mounts_inside().is_empty());

    // From the converged state, check mode predicts nothing and still changes nothing.
    let before = root.snapshot();
    let check = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .args(["--check", "--diff"])
        .json()
        .run();
    check.ok();
    assert_eq!(
        check.tasks_with("localhost", "changed"),
        Vec::<String>::new()
    );
    assert_eq!(before.diff(&root.snapshot()), Vec::<String>::new());
}
