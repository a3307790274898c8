//! `service_facts`' unit tests: probe answers of SysV and systemd hosts in, facts out.

use super::*;
use crate::modules::testing::{args, cmd, plan_answers_env};

fn run(out: &str, chroot: bool) -> Plan {
    let mut env = crate::modules::testing::env();
    env.chroot_connection = chroot;
    plan_answers_env(
        &ServiceFacts,
        args("service_facts", &[]),
        vec![cmd(0, out)],
        &env,
    )
}

fn services(p: &Plan) -> Value {
    p.result["ansible_facts"].get_attr("services").unwrap()
}

const SYSV: &str = "@@tools\nservice\nsystemctl\n@@sysv\n [ - ]  kmod\n [ ? ]  hwclock.sh\n [ + ]  ssh\n\n@@sysvrc 0 1\n";

#[test]
fn sysv_services_as_service_status_all_lists_them() {
    let p = run(SYSV, true);
    assert!(!p.changed);
    assert_eq!(p.plain_facts, vec!["services".to_string()]);
    let s = services(&p);
    assert_eq!(
        s.get_attr("ssh").unwrap().to_string(),
        "{'name': 'ssh', 'state': 'running', 'source': 'sysv'}"
    );
    assert_eq!(
        s.get_attr("kmod").unwrap().get_attr("state").unwrap(),
        Value::from("stopped")
    );
    // `[ ? ]` is no answer.
    assert!(s.get_attr("hwclock.sh").unwrap().is_undefined());
}

#[test]
fn systemd_units_then_unit_files() {
    let out = format!(
        "{SYSV}@@units\ncron.service   loaded active running Regular background program\nfoo.service    not-found inactive dead foo.service\nssh.service loaded failed failed OpenBSD Secure Shell server\n@@unitsrc 0\n@@files\nUNIT FILE STATE VENDOR PRESET\ncron.service enabled enabled\nssh.service enabled enabled\ngetty@.service enabled enabled\nrsync.service disabled enabled\n\n4 unit files listed.\n@@filesrc 0\n@@show getty@.service\nActiveState=inactive\n\n@@show rsync.service\n\n"
    );
    let p = run(&out, false);
    let s = services(&p);
    let get = |n: &str, k: &str| s.get_attr(n).unwrap().get_attr(k).unwrap();
    assert_eq!(get("cron.service", "state"), Value::from("running"));
    assert_eq!(get("cron.service", "status"), Value::from("enabled"));
    assert_eq!(get("cron.service", "source"), Value::from("systemd"));
    // A bad state from list-units stays.
    assert_eq!(get("foo.service", "status"), Value::from("not-found"));
    assert_eq!(get("ssh.service", "status"), Value::from("failed"));
    assert_eq!(get("ssh.service", "state"), Value::from("stopped"));
    // Unit files not loaded: their ActiveState, or unknown.
    assert_eq!(get("getty@.service", "state"), Value::from("inactive"));
    assert_eq!(get("getty@.service", "status"), Value::from("enabled"));
    assert_eq!(get("rsync.service", "state"), Value::from("unknown"));
    // The SysV ones are there too, under their own names.
    assert_eq!(get("ssh", "source"), Value::from("sysv"));
}

#[test]
fn chroot_probes_no_systemd_and_nothing_skips() {
    let a = args("service_facts", &[]);
    let mut env = crate::modules::testing::env();
    env.chroot_connection = true;
    let mut planner = ServiceFacts.prepare(a, &env).unwrap();
    let mut probes = Probes::default();
    planner.ask(&mut probes);
    let list = probes.into_list();
    let crate::modules::Probe::Command(s) = &list[0] else {
        panic!("{list:?}")
    };
    assert!(s.contains("if has systemctl && false; then"), "{s}");
    assert!(script(false).contains("/run/systemd/system/"));
    let p = run("@@tools\n", true);
    assert_eq!(
        p.skipped.as_deref(),
        Some(
            "Failed to find any services. This can be due to privileges or some other configuration issue."
        )
    );
    // No /etc/init.d and rc 4: nothing from SysV.
    let p = run("@@tools\nservice\n@@sysv\n[ + ] x\n\n@@sysvrc 4 0\n", true);
    assert!(p.skipped.is_some());
}

#[test]
fn other_init_systems_and_garbage_are_errors() {
    let p = run("@@tools\nservice\nchkconfig\n", false);
    assert!(p.failed.unwrap().contains("chkconfig"));
    let env = crate::modules::testing::env();
    let mut planner = ServiceFacts
        .prepare(args("service_facts", &[]), &env)
        .unwrap();
    let mut probes = Probes::default();
    planner.ask(&mut probes);
    let obs = Observed {
        answers: vec![cmd(0, "@@tools\n@@units\nx.service loaded\n@@files\n")],
    };
    assert!(planner.plan(&obs).is_err());
    // Odd bytes and lines are no panic.
    let p = run(
        "@@tools\nservice\n@@sysv\n[ + ]\n[ +\n[ - ]x\n\u{0}\u{85}\n@@sysvrc\n",
        true,
    );
    assert!(p.skipped.is_some());
}
