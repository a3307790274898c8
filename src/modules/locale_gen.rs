//! `locale_gen` (community.general): locales generated (or not) on a Debian-style system.
//!
//! As the collection does with its `glibc` mechanism: a locale must be listed in
//! `/usr/share/i18n/SUPPORTED` (or already be generated); whether it is present is what
//! `locale -a` says (encodings compared as `.UTF-8` whatever their case); when the state must
//! change, every wanted locale's line of `/etc/locale.gen` is uncommented (or commented out as
//! `# NAME CHARSET`) and `locale-gen` regenerates the locales. The Ubuntu legacy mechanism
//! (`/var/lib/locales/supported.d` without `/etc/locale.gen`) is refused, not emulated.

use super::args::Presence;
use super::content::{WriteSpec, plan_write};
use super::lineinfile::split_lines;
use super::{
    Args, CmdRef, Command, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
};
use crate::error::{Error, Result};
use crate::pyre::Pattern;

pub struct LocaleGen;

const ETC_LOCALE_GEN: &str = "/etc/locale.gen";
const VAR_LIB_LOCALES: &str = "/var/lib/locales/supported.d";
const SUPPORTED: &str = "/usr/share/i18n/SUPPORTED";

/// How `locale -a` may spell an encoding, and how the collection compares it.
const NORMALIZATION: &[(&str, &str)] = &[
    (".utf8", ".UTF-8"),
    (".eucjp", ".EUC-JP"),
    (".iso885915", ".ISO-8859-15"),
    (".cp1251", ".CP1251"),
    (".koi8r", ".KOI8-R"),
    (".armscii8", ".ARMSCII-8"),
    (".euckr", ".EUC-KR"),
    (".gbk", ".GBK"),
    (".gb18030", ".GB18030"),
    (".euctw", ".EUC-TW"),
];

impl Module for LocaleGen {
    fn name(&self) -> &'static str {
        "locale_gen"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["name", "state"])
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let names = a.list(&["name"])?;
        if names.is_empty() {
            return Err(Error::runtime("locale_gen: missing required option 'name'"));
        }
        Ok(Box::new(LocalePlan {
            gen_at: Default::default(),
            legacy_at: Default::default(),
            supported_at: Default::default(),
            list_at: Default::default(),
            names,
            present: a.choose(&["state"], Presence::Present)? == Presence::Present,
        }))
    }
}

struct LocalePlan {
    gen_at: FileRef,
    legacy_at: FileRef,
    supported_at: FileRef,
    list_at: CmdRef,
    names: Vec<String>,
    present: bool,
}

fn fix_case(name: &str) -> String {
    let mut name = name.to_string();
    for (s, r) in NORMALIZATION {
        name = name.replace(s, r);
    }
    name
}

/// The locales a SUPPORTED file (or locale.gen) lists, commented out or not.
fn listed(text: &str) -> Result<Vec<String>> {
    let re = Pattern::plain(r"^\s*#?\s*(?P<locale>\S+[\._\S]+) (?P<charset>\S+)\s*$")
        .map_err(Error::runtime)?;
    let mut out = Vec::new();
    for line in split_lines(text) {
        let body = line.strip_suffix('\n').unwrap_or(&line);
        if let Some(c) = re.captures(body).map_err(Error::runtime)? {
            out.push(c["locale"].to_string());
        }
    }
    Ok(out)
}

/// locale.gen with each of `names` enabled (or commented out), as `set_locale_glibc` edits it.
fn set_locales(text: &str, names: &[String], enabled: bool) -> Result<String> {
    let mut rules = Vec::new();
    for name in names {
        let re = Pattern::plain(&format!(r"^#?\s*{} (?P<charset>.+)", regex::escape(name)))
            .map_err(Error::runtime)?;
        let repl = if enabled {
            format!(r"{name} \g<charset>")
        } else {
            format!(r"# {name} \g<charset>")
        };
        rules.push((re, repl));
    }
    let mut out = String::new();
    for line in split_lines(text) {
        let mut line = line;
        for (re, repl) in &rules {
            line = re.replace(&line, repl, 0).map_err(Error::runtime)?;
        }
        out.push_str(&line);
    }
    Ok(out)
}

impl Planner for LocalePlan {
    fn ask(&mut self, p: &mut Probes) {
        self.gen_at = p.read(ETC_LOCALE_GEN);
        self.legacy_at = p.stat_follow(VAR_LIB_LOCALES);
        self.supported_at = p.read(SUPPORTED);
        self.list_at = p.command("locale -a");
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let gen_file = obs.file(self.gen_at)?;
        if !gen_file.exists {
            return Ok(Plan::fail(if obs.file(self.legacy_at)?.exists {
                format!(
                    "{VAR_LIB_LOCALES} without {ETC_LOCALE_GEN} (the ubuntu_legacy mechanism) is not supported by prov"
                )
            } else {
                format!(
                    "{VAR_LIB_LOCALES} and {ETC_LOCALE_GEN} are missing. Is the package \"locales\" installed?"
                )
            }));
        }
        let supported = obs.file(self.supported_at)?;
        let Some(supported_text) = supported.content.as_ref().filter(|_| supported.is_file())
        else {
            return Ok(Plan::fail(format!("{SUPPORTED} cannot be read")));
        };
        let Ok(supported_text) = std::str::from_utf8(supported_text) else {
            return Ok(Plan::fail(format!("{SUPPORTED} is not UTF-8 text")));
        };
        let list = obs.cmd(self.list_at)?;
        if list.rc != 0 {
            return Ok(Plan::fail(format!(
                "locale -a failed (rc {}): {}",
                list.rc,
                list.stderr.trim()
            )));
        }
        let generated: Vec<String> = list.stdout.lines().map(fix_case).collect();
        let is_generated = |name: &String| generated.contains(&fix_case(name));
        let available = listed(supported_text)?;
        let missing: Vec<&str> = self
            .names
            .iter()
            .filter(|n| !available.contains(n) && !is_generated(n))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Ok(Plan::fail(format!(
                "The following locales you have entered are not available on your system: {}",
                missing.join(", ")
            )));
        }
        let names = minijinja::Value::from(self.names.clone());
        let mut plan = Plan::ok()
            .with("name", names)
            .with("mechanism", "glibc")
            .with("ubuntu_mode", false);
        let present = self.names.iter().all(is_generated);
        if present == self.present {
            return Ok(plan);
        }
        let Some(text) = gen_file.content.as_ref().filter(|_| gen_file.is_file()) else {
            return Ok(Plan::fail(format!("{ETC_LOCALE_GEN} cannot be read")));
        };
        let Ok(text) = std::str::from_utf8(text) else {
            return Ok(Plan::fail(format!("{ETC_LOCALE_GEN} is not UTF-8 text")));
        };
        let new = set_locales(text, &self.names, self.present)?;
        // Ansible's `changed` is whether `locale -a` says otherwise afterwards: a locale
        // without a line in locale.gen is not generated by locale-gen, and then nothing
        // changed, though the file is written and locale-gen run all the same.
        let generated_after = self
            .names
            .iter()
            .all(|n| is_generated(n) || new.lines().any(|l| l.starts_with(&format!("{n} "))));
        let changed = !self.present || generated_after;
        let spec = WriteSpec {
            path: ETC_LOCALE_GEN.into(),
            ..Default::default()
        };
        plan_write(&mut plan, gen_file, new.into_bytes(), &spec)?;
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        plan.steps.push(Step::Run {
            cmd: Command {
                argv: Some(vec!["locale-gen".into()]),
                ..Default::default()
            },
            ok_rcs: vec![0],
        });
        plan.changed = changed;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, cmd, dir, file, missing, plan_answers};
    use crate::modules::{Answer, FileState};
    use minijinja::Value;

    const GEN: &str = "# This file lists locales that you wish to have built.\n\n# C.UTF-8 UTF-8\n# de_CH.UTF-8 UTF-8\n# en_US ISO-8859-1\n# en_US.UTF-8 UTF-8\n#  fr_FR.UTF-8 UTF-8\nnl_NL.UTF-8 UTF-8\n";
    const SUPPORTED_TEXT: &str = "de_CH.UTF-8 UTF-8\nen_US.UTF-8 UTF-8\nen_US ISO-8859-1\nfr_FR.UTF-8 UTF-8\nnl_NL.UTF-8 UTF-8\n";

    fn run(names: &[&str], state: &str, gen_file: FileState, locales: &str) -> Plan {
        let a = args(
            "locale_gen",
            &[
                (
                    "name",
                    Value::from(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                ),
                ("state", Value::from(state)),
            ],
        );
        plan_answers(
            &LocaleGen,
            a,
            vec![
                Answer::File(gen_file),
                Answer::File(missing(VAR_LIB_LOCALES)),
                Answer::File(file(SUPPORTED, 0o644, SUPPORTED_TEXT)),
                cmd(0, locales),
            ],
        )
    }

    fn written(p: &Plan) -> String {
        p.steps
            .iter()
            .find_map(|s| match s {
                Step::Write(w) => Some(String::from_utf8(w.content.clone()).unwrap()),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn uncomments_and_regenerates_missing_locales() {
        let p = run(
            &["en_US.UTF-8", "fr_FR.UTF-8"],
            "present",
            file(ETC_LOCALE_GEN, 0o644, GEN),
            "C\nC.utf8\nPOSIX\nnl_NL.utf8\n",
        );
        assert!(p.changed);
        assert_eq!(
            written(&p),
            GEN.replace("# en_US.UTF-8", "en_US.UTF-8")
                .replace("#  fr_FR.UTF-8", "fr_FR.UTF-8")
        );
        assert!(
            matches!(p.steps.last(), Some(Step::Run { cmd, .. }) if cmd.argv.as_deref() == Some(&["locale-gen".to_string()][..]))
        );
        // Generated already (locale -a spells the encoding in lower case): nothing to do.
        let p = run(
            &["nl_NL.UTF-8", "C.UTF-8"],
            "present",
            file(ETC_LOCALE_GEN, 0o644, GEN),
            "C\nC.utf8\nPOSIX\nnl_NL.utf8\n",
        );
        assert!(!p.changed && p.steps.is_empty(), "{p:?}");
        // A line that is enabled but not generated: locale-gen only.
        let p = run(
            &["nl_NL.UTF-8"],
            "present",
            file(ETC_LOCALE_GEN, 0o644, GEN),
            "C\nPOSIX\n",
        );
        assert!(p.changed);
        assert!(matches!(&p.steps[..], [Step::Run { .. }]), "{p:?}");
        // Listed in SUPPORTED but without a line in locale.gen: locale-gen runs and generates
        // nothing, which Ansible reports as no change.
        let p = run(
            &["en_US.UTF-8"],
            "present",
            file(ETC_LOCALE_GEN, 0o644, "# nothing here\n"),
            "C\nPOSIX\n",
        );
        assert!(!p.changed);
        assert!(matches!(&p.steps[..], [Step::Run { .. }]), "{p:?}");
    }

    #[test]
    fn comments_out_locales_to_remove() {
        let p = run(
            &["nl_NL.UTF-8", "en_US"],
            "absent",
            file(
                ETC_LOCALE_GEN,
                0o644,
                &GEN.replace("# en_US ISO", "en_US ISO"),
            ),
            "C\nen_US\nnl_NL.utf8\n",
        );
        assert_eq!(
            written(&p),
            GEN.replace("nl_NL.UTF-8 UTF-8", "# nl_NL.UTF-8 UTF-8")
        );
        let p = run(
            &["de_CH.UTF-8"],
            "absent",
            file(ETC_LOCALE_GEN, 0o644, GEN),
            "C\n",
        );
        assert!(!p.changed);
    }

    #[test]
    fn unknown_locales_and_missing_files_fail() {
        let p = run(
            &["xx_YY.UTF-8", "de_CH.UTF-8", "zz"],
            "present",
            file(ETC_LOCALE_GEN, 0o644, GEN),
            "C\n",
        );
        assert_eq!(
            p.failed.as_deref(),
            Some(
                "The following locales you have entered are not available on your system: xx_YY.UTF-8, zz"
            )
        );
        let p = run(&["de_CH.UTF-8"], "present", missing(ETC_LOCALE_GEN), "C\n");
        assert!(
            p.failed
                .unwrap()
                .contains("Is the package \"locales\" installed?")
        );
        let a = args("locale_gen", &[("name", Value::from("de_CH.UTF-8"))]);
        let p = plan_answers(
            &LocaleGen,
            a,
            vec![
                Answer::File(missing(ETC_LOCALE_GEN)),
                Answer::File(dir(VAR_LIB_LOCALES, 0o755)),
            ],
        );
        assert!(p.failed.unwrap().contains("not supported by prov"));
        let mut bad = file(ETC_LOCALE_GEN, 0o644, "");
        bad.content = Some(b"# de_CH.UTF-8 UTF-8\xff\n".to_vec());
        let p = run(&["de_CH.UTF-8"], "present", bad, "C\n");
        assert!(p.failed.unwrap().contains("not UTF-8"));
    }
}
