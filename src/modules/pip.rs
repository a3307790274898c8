//! `pip` (ansible.builtin.pip): Python packages in a virtualenv or for a Python on the target,
//! with Ansible's decisions.
//!
//! One read-only probe finds pip the way Ansible's `_get_pip` does (`executable`, else the
//! virtualenv's `bin/pip3` or `bin/pip`, else the target Python's `-m pip`, else `pip3` on
//! `PATH`) and reads `pip list --format=freeze` (`pip freeze` if that fails). The plan then
//! predicts as Ansible's check mode does: a virtualenv to create, `requirements`, `extra_args`
//! (`editable` adds `-e` to them), `state: latest` and `forcereinstall` are changes; otherwise
//! each requested package ([`pip_req`](super::pip_req): PEP 508 names, PEP 440 specifiers) is
//! looked up in the freeze list, `present` changing when one is missing and `absent` when one
//! is there. A real run runs pip only when that prediction is a change, and then decides as
//! Ansible's module does: `Successfully installed` / `Successfully uninstalled` in pip's output,
//! or for requirements files and VCS URLs the freeze list before and after; a new virtualenv
//! is always a change. The virtualenv is made with `virtualenv_command` (Ansible's default
//! `virtualenv`; `python3 -m venv` works too), with `--system-site-packages` or
//! `--no-site-packages` and `-p PYTHON` as Ansible adds them.
//!
//! The result has Ansible's `cmd`, `name`, `version`, `state`, `requirements`, `virtualenv`,
//! plus pip's `stdout`/`stderr` when it ran.

use minijinja::Value;

use super::pip_req::{Package, freeze_lines, is_present, recover_package_names};
use super::{Args, CmdRef, Command, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step};
use crate::error::{Error, Result};
use crate::shlex::quote;

pub struct Pip;

/// The step's exit code when pip changed nothing.
pub const UNCHANGED_RC: i32 = 96;

const OPTIONS: &[&str] = &[
    "state",
    "name",
    "version",
    "requirements",
    "virtualenv",
    "virtualenv_site_packages",
    "virtualenv_command",
    "virtualenv_python",
    "extra_args",
    "editable",
    "chdir",
    "executable",
    "umask",
    "break_system_packages",
];

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Spec {
    pub state: String,
    pub names: Option<Vec<String>>,
    pub packages: Vec<Package>,
    pub version: Option<String>,
    pub requirements: Option<String>,
    /// The virtualenv, joined to `chdir` as Ansible does.
    pub env: Option<String>,
    pub site_packages: bool,
    pub venv_command: Vec<String>,
    pub venv_python: Option<String>,
    pub extra_args: Vec<String>,
    pub chdir: Option<String>,
    pub executable: Option<String>,
    pub umask: Option<u32>,
    pub break_system: bool,
    /// The Python Ansible's module would run with (`ansible_python_interpreter`).
    pub python: String,
    pub has_vcs: bool,
    pub has_extra_args: bool,
}

impl Module for Pip {
    fn name(&self) -> &'static str {
        "pip"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn path_options(&self) -> &'static [&'static str] {
        &["virtualenv", "virtualenv_command", "chdir", "executable"]
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let python = match env.vars.get("ansible_python_interpreter").ok().flatten() {
            Some(v)
                if v.as_str()
                    .is_some_and(|s| !s.is_empty() && !s.starts_with("auto")) =>
            {
                v.as_str().unwrap_or("python3").to_string()
            }
            _ => "python3".into(),
        };
        let spec = parse(&a, python)?;
        Ok(Box::new(PipPlan {
            spec,
            environment: env.environment.clone(),
            out_at: CmdRef::default(),
        }))
    }
}

fn is_vcs_url(name: &str) -> bool {
    ["svn+", "git+", "hg+", "bzr+"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Ansible's `_is_venv_command`: `pyvenv`, or `-m venv`.
fn is_venv_command(words: &[String]) -> bool {
    if words.first().is_some_and(|w| w == "pyvenv") {
        return true;
    }
    let mut it = words.iter().skip(1);
    while let Some(w) = it.next() {
        if w == "-m" {
            return it.next().is_some_and(|m| m == "venv");
        }
        if let Some(m) = w.strip_prefix("-m") {
            return m == "venv" || m == "=venv";
        }
    }
    false
}

pub(crate) fn parse(a: &Args, python: String) -> Result<Spec> {
    let fail = |m: &str| Err(Error::runtime(format!("pip: {m}")));
    let state = a
        .choice(
            &["state"],
            &["present", "absent", "latest", "forcereinstall"],
            Some("present"),
        )?
        .unwrap_or_default();
    let names = if a.has("name") {
        Some(a.list(&["name"])?)
    } else {
        None
    };
    let requirements = a.str(&["requirements"])?;
    if names.is_none() && requirements.is_none() {
        return fail("one of the following is required: name, requirements");
    }
    if names.is_some() && requirements.is_some() {
        return fail("parameters are mutually exclusive: name|requirements");
    }
    if a.has("executable") && a.has("virtualenv") {
        return fail("parameters are mutually exclusive: executable|virtualenv");
    }
    let version = a.str(&["version"])?;
    let mut texts: Vec<String> = names.iter().flatten().cloned().collect();
    for k in [
        "version",
        "requirements",
        "virtualenv",
        "virtualenv_command",
        "virtualenv_python",
        "extra_args",
        "chdir",
        "executable",
    ] {
        texts.extend(a.str(&[k])?);
    }
    if texts.iter().any(|t| t.contains('\0')) {
        return fail("an option contains a NUL byte");
    }
    if state == "latest" && version.is_some() {
        return fail("version is incompatible with state=latest");
    }
    // An integer (YAML's 0022 is 18) is taken as it is, a string as octal.
    let umask = match a.get(&["umask"]) {
        None => None,
        Some(v) => match v.as_i64() {
            Some(n) => u32::try_from(n).ok().filter(|m| *m <= 0o777),
            None => u32::from_str_radix(a.str(&["umask"])?.unwrap_or_default().trim(), 8)
                .ok()
                .filter(|m| *m <= 0o777),
        }
        .map(Some)
        .ok_or_else(|| Error::runtime("pip: umask must be an octal integer"))?,
    };
    let mut packages = Vec::new();
    let mut has_vcs = false;
    if let Some(names) = names.as_ref().filter(|n| !n.is_empty()) {
        has_vcs = names.iter().any(|n| is_vcs_url(n));
        packages = recover_package_names(names)
            .iter()
            .map(|n| Package::new(n, None))
            .collect();
        if let Some(v) = &version {
            if packages.len() > 1 {
                return fail(
                    "'version' argument is ambiguous when installing multiple package distributions. Please specify version restrictions next to each package in 'name' argument.",
                );
            }
            if packages[0].has_version_specifier() {
                return fail(
                    "The 'version' argument conflicts with any version specifier provided along with a package name. Please keep the version specifier, but remove the 'version' argument.",
                );
            }
            packages[0] = Package::new(&packages[0].to_text(), Some(v));
        }
    }
    let mut extra = a.str(&["extra_args"])?.unwrap_or_default();
    if a.bool(&["editable"], false)? {
        let mut words: Vec<&str> = if extra.is_empty() {
            Vec::new()
        } else {
            extra.split(' ').collect()
        };
        if !words.contains(&"-e") {
            words.push("-e");
        }
        extra = words.join(" ");
    }
    let extra_args =
        crate::shlex::split(&extra).map_err(|e| Error::runtime(format!("pip: extra_args: {e}")))?;
    let venv_command = crate::shlex::split(
        &a.str(&["virtualenv_command"])?
            .unwrap_or_else(|| "virtualenv".into()),
    )
    .map_err(|e| Error::runtime(format!("pip: virtualenv_command: {e}")))?;
    if venv_command.is_empty() {
        return fail("virtualenv_command is empty");
    }
    let chdir = a.str(&["chdir"])?;
    let env = a.str(&["virtualenv"])?.map(|e| match &chdir {
        Some(c) if !e.starts_with('/') => format!("{}/{e}", c.trim_end_matches('/')),
        _ => e,
    });
    Ok(Spec {
        state,
        names,
        packages,
        version,
        requirements,
        env,
        site_packages: a.bool(&["virtualenv_site_packages"], false)?,
        venv_command,
        venv_python: a.str(&["virtualenv_python"])?,
        has_extra_args: !extra.is_empty(),
        extra_args,
        chdir,
        executable: a.str(&["executable"])?,
        umask,
        break_system: a.bool(&["break_system_packages"], false)?,
        python,
        has_vcs,
    })
}

/// Shell lines shared by the probe and the step: the options, `findpip` (Ansible's `_get_pip`)
/// and `runpip`.
fn prelude(spec: &Spec) -> String {
    let mut s = String::from("export LANG=C.UTF-8 LC_ALL=C.UTF-8 LC_MESSAGES=C.UTF-8\n");
    for (k, v) in [
        ("env", spec.env.clone().unwrap_or_default()),
        ("exe", spec.executable.clone().unwrap_or_default()),
        ("py", spec.python.clone()),
        ("chdir", spec.chdir.clone().unwrap_or_default()),
    ] {
        s.push_str(&format!("{k}={}\n", quote(&v)));
    }
    s.push_str(r#"[ -n "$chdir" ] || chdir=${TMPDIR:-/tmp}
binpath() { PATH=$PATH:/sbin:/usr/sbin:/usr/local/sbin command -v -- "$1"; }
case $py in /*) ;; *) py=$(binpath "$py") || py=python3 ;; esac
findpip() {
    pip=; pipm=
    if [ -n "$exe" ]; then
        case $exe in /*) pip=$exe ;; *) pip=$(binpath "$exe") ;; esac
    elif [ -n "$env" ]; then
        for b in pip3 pip; do
            if [ -e "$env/bin/$b" ] && [ -x "$env/bin/$b" ]; then pip=$env/bin/$b; break; fi
        done
    elif "$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("pip") is None)' 2>/dev/null; then
        pipm=1
    else
        pip=$(binpath pip3)
    fi
    [ -n "$pip$pipm" ]
}
runpip() { if [ -n "$pipm" ]; then "$py" -m pip "$@"; else "$pip" "$@"; fi; }
freeze() { runpip list --format=freeze 2>/dev/null || runpip freeze 2>/dev/null; }
"#);
    s
}

/// The read-only probe: `venv=0|1`, then `pip=PATH` or `pipm=PYTHON`, then `freeze=list|
/// freeze|failed` and, after a `---` line, the list (or pip's error).
fn probe_script(spec: &Spec) -> String {
    let mut s = prelude(spec);
    s.push_str(
        r#"if [ -n "$env" ]; then
    if [ -e "$env/bin/activate" ]; then echo venv=1; else echo venv=0; exit 0; fi
fi
findpip || { echo nopip; exit 0; }
if [ -n "$pipm" ]; then echo "pipm=$py"; else echo "pip=$pip"; fi
cd "$chdir" 2>/dev/null
if o=$(runpip list --format=freeze 2>/dev/null); then echo freeze=list
elif o=$(runpip freeze 2>/dev/null); then echo freeze=freeze
else echo freeze=failed; o=$(runpip freeze 2>&1); fi
echo ---
printf '%s\n' "$o"
"#,
    );
    s
}

/// pip's arguments after the pip command (`install -U ... NAME...`).
fn pip_args(spec: &Spec) -> Vec<String> {
    let mut v: Vec<String> = match spec.state.as_str() {
        "absent" => vec!["uninstall".into(), "-y".into()],
        "latest" => vec!["install".into(), "-U".into()],
        "forcereinstall" => vec!["install".into(), "-U".into(), "--force-reinstall".into()],
        _ => vec!["install".into()],
    };
    v.extend(spec.extra_args.iter().cloned());
    if spec.names.is_some() {
        v.extend(spec.packages.iter().map(Package::to_text));
    } else if let Some(r) = &spec.requirements {
        v.extend(["-r".to_string(), r.clone()]);
    }
    v
}

/// The step: make the virtualenv if it is missing, run pip, and exit [`UNCHANGED_RC`] when
/// neither changed anything (Ansible's tests of pip's output, or of the freeze list).
pub(crate) fn step_script(spec: &Spec) -> String {
    let mut s = prelude(spec);
    if let Some(m) = spec.umask {
        s.push_str(&format!("umask {m:04o}\n"));
    }
    if spec.break_system {
        s.push_str("export PIP_BREAK_SYSTEM_PACKAGES=1\n");
    }
    s.push_str("cd \"$chdir\" || exit 1\ncreated=0\n");
    if spec.env.is_some() {
        let venv = crate::shlex::join(&spec.venv_command);
        // `-p PYTHON` for virtualenv (the module's Python unless told), none for venv.
        let python = match (&spec.venv_python, is_venv_command(&spec.venv_command)) {
            (_, true) => String::new(),
            (Some(p), false) => format!("set -- \"$@\" {}\n", quote(&format!("-p{p}"))),
            (None, false) => "set -- \"$@\" \"-p$py\"\n".into(),
        };
        let site = if spec.site_packages {
            "set -- \"$@\" --system-site-packages\n".to_string()
        } else {
            "if \"$1\" --help 2>/dev/null | grep -qw -- --no-site-packages; then set -- \"$@\" --no-site-packages; fi\n".to_string()
        };
        s.push_str(&format!(
            "if [ ! -e \"$env/bin/activate\" ]; then\n\
             set -- {venv}\n\
             case $1 in */*) ;; *) c=$(binpath \"$1\") || {{ echo \"Failed to find required executable \\\"$1\\\" in paths: $PATH\" >&2; exit 1; }}; shift; set -- \"$c\" \"$@\" ;; esac\n\
             {site}{python}\"$@\" \"$env\" || exit $?\n\
             created=1\nfi\n"
        ));
        s.push_str("export PATH=\"$env/bin:$PATH\"\n");
    }
    s.push_str(&format!(
        "findpip || {{ echo {} >&2; exit 1; }}\n",
        quote(&not_found(spec))
    ));
    let compare = spec.requirements.is_some() || spec.has_vcs;
    if compare {
        s.push_str("before=$(freeze)\n");
    }
    s.push_str(&format!(
        "o=$(mktemp) && e=$(mktemp) || exit 1\ntrap 'rm -f \"$o\" \"$e\"' EXIT\nrunpip {} >\"$o\" 2>\"$e\"\nrc=$?\ncat \"$o\"; cat \"$e\" >&2\n",
        crate::shlex::join(&pip_args(spec))
    ));
    s.push_str(&format!(
        "state={}\nif [ $rc -eq 1 ] && [ \"$state\" = absent ] && grep -q 'not installed' \"$o\" \"$e\"; then :\nelif [ $rc -ne 0 ]; then exit $rc; fi\nchanged=$created\n",
        quote(&spec.state)
    ));
    if spec.state == "absent" {
        s.push_str("grep -q 'Successfully uninstalled' \"$o\" && changed=1\n");
    } else if compare {
        s.push_str("[ \"$(freeze)\" = \"$before\" ] || changed=1\n");
    } else {
        s.push_str("grep -q 'Successfully installed' \"$o\" && changed=1\n");
    }
    s.push_str(&format!(
        "[ $changed = 1 ] || exit {UNCHANGED_RC}\nexit 0\n"
    ));
    s
}

/// Ansible's message when pip cannot be found.
fn not_found(spec: &Spec) -> String {
    match (&spec.env, &spec.executable) {
        (Some(env), _) => format!(
            "Unable to find pip in the virtualenv, {env}, under any of these names: pip3, pip. Make sure pip is present in the virtualenv."
        ),
        (None, exe) => {
            let name = match exe {
                Some(e) if !e.starts_with('/') => e.as_str(),
                _ => "pip3",
            };
            format!("Unable to find any of {name} to use.  pip needs to be installed.")
        }
    }
}

struct PipPlan {
    spec: Spec,
    environment: Vec<(String, String)>,
    out_at: CmdRef,
}

impl Planner for PipPlan {
    fn ask(&mut self, p: &mut Probes) {
        // The task's environment reaches pip's listing too (PATH, PIP_* settings).
        let mut script = String::new();
        for (k, v) in &self.environment {
            let name_ok = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if name_ok {
                script.push_str(&format!("export {k}={}\n", quote(v)));
            }
        }
        script.push_str(&probe_script(&self.spec));
        self.out_at = p.command(script);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = &obs.cmd(self.out_at)?.stdout;
        Ok(decide(&self.spec, out, &self.environment))
    }
}

/// Whether the task changes anything, from the probe's output (Ansible's check-mode logic).
pub(crate) fn decide(spec: &Spec, out: &str, environment: &[(String, String)]) -> Plan {
    let (head, list) = out.split_once("\n---\n").unwrap_or((out, ""));
    let field = |k: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
    };
    let new_venv = field("venv") == Some("0");
    let pip_cmd: Vec<String> = match (field("pip"), field("pipm"), &spec.env) {
        (Some(p), _, _) => vec![p.to_string()],
        (None, Some(py), _) => vec![py.to_string(), "-m".into(), "pip".into()],
        (None, None, Some(env)) => vec![format!("{env}/bin/pip3")],
        (None, None, None) => vec!["pip3".into()],
    };
    if spec.names.as_ref().is_some_and(|n| n.is_empty()) {
        // Ansible's module warns and changes nothing.
        return Plan::ok().with(
            "warnings",
            Value::from(vec![Value::from(
                "No valid name or requirements file found.",
            )]),
        );
    }
    if new_venv && spec.venv_python.is_some() && is_venv_command(&spec.venv_command) {
        return Plan::fail(
            "virtualenv_python should not be used when using the venv module or pyvenv as virtualenv_command",
        );
    }
    if !new_venv && head.lines().any(|l| l == "nopip") {
        return Plan::fail(not_found(spec));
    }
    let changed = if new_venv
        || spec.has_extra_args
        || spec.requirements.is_some()
        || spec.state == "latest"
        || spec.state == "forcereinstall"
    {
        true
    } else {
        if field("freeze") == Some("failed") {
            let cmd = format!("{} freeze", pip_cmd.join(" "));
            return Plan::fail(format!("stdout: {}", list.trim_end())).with("cmd", cmd);
        }
        let installed = freeze_lines(list);
        let present = |p: &Package| is_present(p, &installed);
        match spec.state.as_str() {
            "absent" => spec.packages.iter().any(present),
            _ => !spec.packages.iter().all(present),
        }
    };
    let mut cmd = pip_cmd;
    cmd.extend(pip_args(spec));
    let opt = |v: &Option<String>| v.clone().map(Value::from).unwrap_or(Value::from(()));
    let mut plan = Plan::ok()
        .with(
            "cmd",
            Value::from(cmd.into_iter().map(Value::from).collect::<Vec<_>>()),
        )
        .with(
            "name",
            spec.names
                .as_ref()
                .map(|n| {
                    Value::from(
                        n.iter()
                            .map(|s| Value::from(s.as_str()))
                            .collect::<Vec<_>>(),
                    )
                })
                .unwrap_or(Value::from(())),
        )
        .with("version", opt(&spec.version))
        .with("state", spec.state.as_str())
        .with("requirements", opt(&spec.requirements))
        .with("virtualenv", opt(&spec.env));
    if changed {
        plan.step(Step::Run {
            cmd: Command {
                shell: Some(step_script(spec)),
                env: environment.to_vec(),
                unchanged_rc: Some(UNCHANGED_RC),
                ..Default::default()
            },
            ok_rcs: vec![0],
        });
    }
    plan
}

#[cfg(test)]
#[path = "pip_tests.rs"]
mod tests;
