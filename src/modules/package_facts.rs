//! `package_facts` (ansible.builtin.package_facts) for apt hosts: the fact `packages`, a dict of
//! package name to the list of its installed instances, each `{name, version, arch, category,
//! origin, source: apt}` as Ansible's APT manager (python3-apt's cache) describes them.
//!
//! One read-only probe: `dpkg-query -W` lists the packages (installed: dpkg's status is one
//! apt counts as installed — not `not-installed` nor `config-files`), and apt's index files
//! (`apt-get indextargets`, decompressed by `apt-helper cat-file`, in apt's order) give each
//! installed version's `origin`: the `Origin` of the first archive that has that version, ""
//! when none has it (a version known from dpkg's status only), as python3-apt's
//! `origins[0].origin`; `category` is that archive's section (its override), else dpkg's. A
//! package of a foreign architecture is named `name:arch`, as apt's cache names it.
//!
//! Ansible needs python3-apt on the host for this; prov does not, so where Ansible fails
//! (python3-apt missing) prov answers. Only the managers `auto` and `apt` are supported.

use indexmap::IndexMap;
use minijinja::Value;

use super::{Args, CmdRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};

pub struct PackageFacts;

impl Module for PackageFacts {
    fn name(&self) -> &'static str {
        "package_facts"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["manager", "strategy"])
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let managers = a.list(&["manager"])?;
        for m in &managers {
            if !["auto", "apt"].contains(&m.to_lowercase().as_str()) {
                return Err(Error::runtime(format!(
                    "package_facts: package manager '{m}' is not supported natively (only auto and apt)"
                )));
            }
        }
        a.choice(&["strategy"], &["first", "all"], Some("first"))?;
        Ok(Box::new(FactsPlan {
            out_at: Default::default(),
        }))
    }
}

struct FactsPlan {
    out_at: CmdRef,
}

/// The probe: `@@arch NATIVE`, then per package `@@pkg ABBREV TAB NAME TAB VERSION TAB ARCH
/// TAB SECTION`, then `@@origin NAME TAB VERSION TAB ARCH TAB SECTION TAB ORIGIN` for each
/// installed version found in apt's index files (the first that has it).
const SCRIPT: &str = r#"export LC_ALL=C
command -v dpkg-query >/dev/null 2>&1 || { printf '@@nodpkg\n'; exit 0; }
printf '@@arch %s\n' "$(dpkg --print-architecture)"
{
 dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${Section}\n'
 printf '@@@END\n'
 if command -v apt-get >/dev/null 2>&1 && [ -x /usr/lib/apt/apt-helper ]; then
  apt-get indextargets --format '$(FILENAME)|$(ORIGIN)' 'Created-By: Packages' 2>/dev/null | while IFS= read -r t; do
   f=${t%%|*}
   [ -f "$f" ] || continue
   printf '@@@FILE %s\n' "${t#*|}"
   /usr/lib/apt/apt-helper cat-file "$f" 2>/dev/null
   printf '\n'
  done
 fi
} | awk -F '\t' '
 function flush() { k = p "\t" v "\t" a; if (p != "" && (k in want) && !(k in seen)) { seen[k] = 1; print "@@origin " k "\t" sec "\t" o } p = ""; v = ""; a = ""; sec = "" }
 phase == 0 && $0 == "@@@END" { phase = 1; next }
 phase == 0 { print "@@pkg " $0; s = substr($1, 2, 1); if (s != "n" && s != "c" && s != "") want[$2 "\t" $3 "\t" $4] = 1; next }
 /^@@@FILE / { flush(); o = substr($0, 9); next }
 /^Package: / { p = substr($0, 10) }
 /^Version: / { v = substr($0, 10) }
 /^Architecture: / { a = substr($0, 15) }
 /^Section: / { sec = substr($0, 10) }
 /^$/ { flush() }
 END { flush() }
'
"#;

impl Planner for FactsPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.out_at = p.command(SCRIPT);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = &obs.cmd(self.out_at)?.stdout;
        if out.starts_with("@@nodpkg") {
            return Ok(Plan::fail(
                "Could not detect a supported package manager from the following list: ['apt'], or the required Python library is not installed. Check warnings for details.",
            ));
        }
        let packages = parse(out)?;
        if packages.is_empty() {
            return Ok(Plan::fail(
                "Could not detect a supported package manager from the following list: ['apt'], or the required Python library is not installed. Check warnings for details.",
            ));
        }
        let mut plan = Plan::ok().with(
            "ansible_facts",
            Value::from_pairs([("packages", Value::from_pairs(packages))]),
        );
        plan.plain_facts = vec!["packages".into()];
        Ok(plan)
    }
}

/// The `packages` fact from the probe's answer.
fn parse(out: &str) -> Result<Vec<(String, Value)>> {
    let garbled = |l: &str| Error::runtime(format!("package_facts: unexpected line: {l}"));
    let mut native = "";
    let mut rows: Vec<[&str; 5]> = Vec::new();
    // (origin, the archive's section) of installed versions.
    let mut origins: IndexMap<(&str, &str, &str), (&str, &str)> = IndexMap::new();
    for line in out.lines() {
        if let Some(a) = line.strip_prefix("@@arch ") {
            native = a.trim();
        } else if let Some(row) = line.strip_prefix("@@pkg ") {
            let f: Vec<&str> = row.split('\t').collect();
            let [abbrev, name, version, arch, section] = f[..] else {
                return Err(garbled(line));
            };
            rows.push([abbrev, name, version, arch, section]);
        } else if let Some(row) = line.strip_prefix("@@origin ") {
            let f: Vec<&str> = row.splitn(5, '\t').collect();
            let [name, version, arch, section, origin] = f[..] else {
                return Err(garbled(line));
            };
            origins
                .entry((name, version, arch))
                .or_insert((origin, section));
        }
    }
    let mut packages: IndexMap<String, Vec<Value>> = IndexMap::new();
    for [abbrev, name, version, arch, section] in rows {
        // apt's installed: a current version (not `not-installed` nor `config-files`).
        if matches!(abbrev.chars().nth(1), None | Some('n') | Some('c')) {
            continue;
        }
        let key = if arch == native || arch == "all" || native.is_empty() {
            name.to_string()
        } else {
            format!("{name}:{arch}")
        };
        // apt's section is the archive's (its override), else dpkg's.
        let (origin, section) = match origins.get(&(name, version, arch)) {
            Some((o, s)) if !s.is_empty() => (*o, *s),
            Some((o, _)) => (*o, section),
            None => ("", section),
        };
        packages
            .entry(key.clone())
            .or_default()
            .push(Value::from_pairs([
                ("name", Value::from(key)),
                ("version", version.into()),
                ("arch", arch.into()),
                ("category", section.into()),
                ("origin", origin.into()),
                ("source", "apt".into()),
            ]));
    }
    // Ansible's dict comes from apt's cache, sorted by name.
    packages.sort_keys();
    Ok(packages
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, cmd, plan_answers};

    const OUT: &str = "@@arch amd64\n@@pkg ii \tbash\t5.2.15-2+b8\tamd64\tshells\n@@pkg ii \tlibc6\t2.36-9\tamd64\tlibs\n@@pkg ii \tlibc6\t2.36-9\ti386\tlibs\n@@pkg rc \told\t1.0\tamd64\tutils\n@@pkg un \tnever\t\t\t\n@@pkg iU \tunpacked\t1\tall\tmisc\n@@origin libc6\t2.36-9\tamd64\toldlibs\tDebian\n@@origin libc6\t2.36-9\tamd64\t\tOther\n@@origin unpacked\t1\tall\t\tGoogle LLC\n";

    fn facts(out: &str) -> Plan {
        plan_answers(&PackageFacts, args("package_facts", &[]), vec![cmd(0, out)])
    }

    #[test]
    fn installed_packages_as_apts_cache_lists_them() {
        let p = facts(OUT);
        assert!(!p.changed);
        assert_eq!(p.plain_facts, vec!["packages".to_string()]);
        let pk = p.result["ansible_facts"].get_attr("packages").unwrap();
        let names: Vec<String> = pk.try_iter().unwrap().map(|k| k.to_string()).collect();
        assert_eq!(names, ["bash", "libc6", "libc6:i386", "unpacked"]);
        let one = |n: &str| pk.get_attr(n).unwrap().get_item(&Value::from(0)).unwrap();
        assert_eq!(
            one("bash").to_string(),
            "{'name': 'bash', 'version': '5.2.15-2+b8', 'arch': 'amd64', 'category': 'shells', 'origin': '', 'source': 'apt'}"
        );
        // The first archive with that version gives the origin.
        assert_eq!(
            one("libc6").get_attr("origin").unwrap(),
            Value::from("Debian")
        );
        assert_eq!(
            one("libc6:i386").get_attr("origin").unwrap(),
            Value::from("")
        );
        assert_eq!(
            one("libc6:i386").get_attr("name").unwrap(),
            Value::from("libc6:i386")
        );
        assert_eq!(
            one("unpacked").get_attr("origin").unwrap(),
            Value::from("Google LLC")
        );
    }

    #[test]
    fn no_dpkg_fails_and_other_managers_are_refused() {
        assert!(facts("@@nodpkg\n").failed.is_some());
        assert!(facts("@@arch amd64\n").failed.is_some());
        let env = crate::modules::testing::env();
        let a = args("package_facts", &[("manager", Value::from("rpm"))]);
        assert!(PackageFacts.prepare(a, &env).is_err());
        let a = args(
            "package_facts",
            &[("manager", Value::from(vec!["auto", "apt"]))],
        );
        assert!(PackageFacts.prepare(a, &env).is_ok());
        let a = args("package_facts", &[("strategy", Value::from("some"))]);
        assert!(PackageFacts.prepare(a, &env).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let env = crate::modules::testing::env();
        for bad in [
            "@@arch amd64\n@@pkg ii\tx\n",
            "@@arch amd64\n@@pkg \u{85}\tx\t1\tamd64\t\n@@origin \t\t\n",
        ] {
            let mut planner = PackageFacts
                .prepare(args("package_facts", &[]), &env)
                .unwrap();
            let mut probes = Probes::default();
            planner.ask(&mut probes);
            let obs = Observed {
                answers: vec![cmd(0, bad)],
            };
            assert!(planner.plan(&obs).is_err(), "{bad:?}");
        }
    }
}
