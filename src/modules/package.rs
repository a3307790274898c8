//! `package`: the generic package module of Ansible, run as the module of the host's package
//! manager. prov manages Debian and Ubuntu hosts, so that is `apt`: the task's arguments (all
//! but `use`) go to [`super::apt`] unchanged. Which manager the host has is asked of the host
//! in the same round trip as apt's own probes (where `apt-get`, `dnf`, `yum`, `zypper`,
//! `apk` and `pacman` are on PATH), so it needs no facts; a host without apt fails the task
//! with the manager it has.

use std::sync::LazyLock;

use super::{Args, CmdRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};
use crate::host::primitive::Primitive;

pub struct Package;

/// The package managers Ansible's `package` dispatches to, by their programs.
const MANAGERS: &[(&str, &str)] = &[
    ("apt-get", "apt"),
    ("dnf", "dnf"),
    ("yum", "yum"),
    ("zypper", "zypper"),
    ("apk", "apk"),
    ("pacman", "pacman"),
];

/// apt's options and `use`: the arguments go through to apt, as Ansible passes them on.
static OPTIONS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut o = super::apt::OPTIONS.to_vec();
    o.push("use");
    o
});

impl Module for Package {
    fn name(&self) -> &'static str {
        "package"
    }
    /// Any option parses: a role's RedHat branch passes dnf's (`enablerepo`) behind a `when`
    /// that is false on Debian. Options apt lacks fail when the task runs.
    fn options(&self) -> Option<&'static [&'static str]> {
        None
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        if let Some(k) = a.map().keys().find(|k| !OPTIONS.contains(&k.as_str())) {
            return Err(Error::runtime(format!(
                "package: unsupported parameter '{k}' for apt, the package manager prov uses"
            )));
        }
        match a.str(&["use"])?.as_deref() {
            None | Some("auto" | "apt") => {}
            Some(other) => {
                return Err(Error::runtime(format!(
                    "package: use={other} is not supported by prov (it manages packages with apt)"
                )));
            }
        }
        for required in ["name", "state"] {
            if !a.has(required) {
                return Err(Error::runtime(format!(
                    "package: missing required arguments: {required}"
                )));
            }
        }
        Ok(Box::new(PackagePlan {
            which_at: Default::default(),
            apt: super::apt::Apt.prepare(a.without("use"), env)?,
        }))
    }
}

struct PackagePlan {
    which_at: CmdRef,
    apt: Box<dyn Planner>,
}

impl Planner for PackagePlan {
    fn ask(&mut self, p: &mut Probes) {
        let programs = MANAGERS.iter().map(|(p, _)| p.to_string()).collect();
        self.which_at = p.primitive(Primitive::Which(programs));
        self.apt.ask(p);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let found = &obs.cmd(self.which_at)?.stdout;
        let has = |program: &str| found.lines().any(|l| l.rsplit('/').next() == Some(program));
        if has("apt-get") {
            return self.apt.plan(obs);
        }
        Ok(Plan::fail(
            match MANAGERS.iter().find(|(program, _)| has(program)) {
                Some((_, manager)) => format!(
                    "package: this host's package manager is {manager}; prov manages packages with apt only"
                ),
                None => "package: no package manager found on this host (apt-get is not on PATH)"
                    .to_string(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, cmd, plan_answers, probes_of};
    use crate::modules::{Probe, Step};
    use minijinja::Value;

    fn pairs(name: &str, state: &str) -> Vec<(&'static str, Value)> {
        vec![("name", Value::from(name)), ("state", Value::from(state))]
    }

    #[test]
    fn it_is_apt_with_the_same_arguments() {
        let p = probes_of(&Package, args("package", &pairs("curl", "present")));
        assert!(matches!(&p[0], Probe::Primitive(Primitive::Which(w)) if w[0] == "apt-get"));
        let apt = probes_of(
            &super::super::apt::Apt,
            args("apt", &pairs("curl", "present")),
        );
        assert_eq!(&p[1..], &apt[..]);
        // Installed: nothing to do; missing: apt installs it.
        let answers = |dpkg: &str| {
            vec![
                cmd(0, "/usr/bin/apt-get\n"),
                cmd(0, "cache_age=10\nsources_newer=0\n"),
                cmd(0, dpkg),
            ]
        };
        let done = plan_answers(
            &Package,
            args("package", &pairs("curl", "present")),
            answers("curl\t7.88.1-10\tii \tinstall ok installed\n"),
        );
        assert!(!done.changed && done.failed.is_none(), "{done:?}");
        let policy = "curl:\n  Installed: (none)\n  Candidate: 7.88.1-10\n  Version table:\n     7.88.1-10 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n";
        let install = plan_answers(
            &Package,
            args("package", &pairs("curl", "present")),
            answers(&format!("\n@@policy\n{policy}")),
        );
        assert!(install.changed, "{install:?}");
        assert!(matches!(&install.steps[0], Step::Run { .. }));
    }

    #[test]
    fn other_package_managers_and_missing_arguments_are_errors() {
        let p = plan_answers(
            &Package,
            args("package", &pairs("httpd", "present")),
            vec![cmd(0, "/usr/bin/dnf\n/usr/bin/yum\n")],
        );
        assert!(p.failed.unwrap().contains("package manager is dnf"));
        let p = plan_answers(
            &Package,
            args("package", &pairs("httpd", "present")),
            vec![cmd(0, "")],
        );
        assert!(p.failed.unwrap().contains("no package manager found"));
        let env = crate::modules::testing::env();
        let mut with_use = pairs("curl", "present");
        with_use.push(("use", Value::from("dnf")));
        let e = Package
            .prepare(args("package", &with_use), &env)
            .err()
            .unwrap();
        assert!(e.to_string().contains("use=dnf is not supported"), "{e}");
        let e = Package
            .prepare(args("package", &[("name", Value::from("curl"))]), &env)
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("missing required arguments: state"),
            "{e}"
        );
        // dnf's options parse (a RedHat branch behind a false `when`), and fail when run.
        let t = crate::playbook::testing::task(
            "package: {name: fail2ban, state: present, enablerepo: epel}\nwhen: false",
        );
        assert!(t.is_ok(), "{t:?}");
        let mut dnf_only = pairs("fail2ban", "present");
        dnf_only.push(("enablerepo", Value::from("epel")));
        let e = Package
            .prepare(args("package", &dnf_only), &env)
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("unsupported parameter 'enablerepo'"),
            "{e}"
        );
    }
}
