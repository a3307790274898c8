//! Modules prov does not implement, run through Ansible's own module code ([`Action::Foreign`]).
//!
//! When the controller has ansible-core (a Python that can import it: `PROV_ANSIBLE_PYTHON`,
//! the interpreter of `ansible-playbook` or `ansible` on PATH, or `python3`), the module is
//! built as ansible-core builds it (`ansible_module.py`: the module, its module_utils and the
//! arguments in one AnsiballZ script), sent over the task's own connection and run by the
//! target's Python reading it on stdin, as Ansible's pipelining does; its JSON result becomes
//! the task's. Check and diff mode are passed to the module, which decides (a module without
//! check mode support skips itself). So for these tasks the dry run is the module's own, not
//! prov's plan. Without ansible-core or without Python on the target the task fails and says
//! which is missing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use minijinja::Value;

use super::outcome::ItemRun;
use super::run_as::{RunAs, become_for, environment};
use super::task::{TaskRun, exec_step, no_log, target};
use crate::error::{Error, Result};
use crate::modules::Diff;
use crate::playbook::Action;
use crate::report::Status;
use crate::template::{render_value, to_text};
use crate::vars::Context;

/// ansible-core's names whose work is an action plugin on the controller (their module file is
/// documentation only), minus those prov implements.
const ACTION_ONLY: &[&str] = &[
    "fetch",
    "gather_facts",
    "import_playbook",
    "pause",
    "raw",
    "script",
    "set_stats",
    "validate_argument_spec",
    "wait_for_connection",
];

/// The controller-side builder (run by the Python that has ansible-core).
const BUILDER: &str = include_str!("ansible_module.py");

/// A Python on the controller that can import ansible-core, found once per run.
fn ansible_python() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let mut candidates: Vec<PathBuf> = Vec::new();
            if let Some(p) = std::env::var_os("PROV_ANSIBLE_PYTHON") {
                candidates.push(PathBuf::from(p));
            }
            for tool in ["ansible-playbook", "ansible"] {
                if let Some(python) = which(tool).and_then(|p| shebang_interpreter(&p)) {
                    candidates.push(python);
                }
            }
            candidates.push(PathBuf::from("python3"));
            candidates.into_iter().find(|py| {
                Command::new(py)
                    .args(["-c", "import ansible.executor.module_common"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
        })
        .as_deref()
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The interpreter of a `#!/path/to/python` script.
fn shebang_interpreter(script: &Path) -> Option<PathBuf> {
    let head = std::fs::read(script).ok()?;
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.strip_prefix("#!")?;
    let interpreter = line.split_whitespace().next()?;
    interpreter
        .contains("python")
        .then(|| PathBuf::from(interpreter))
}

/// What the builder made of one invocation.
struct Built {
    fqcn: String,
    payload: Vec<u8>,
}

fn build(python: &Path, request: &serde_json::Value) -> Result<Built> {
    let fail = |msg: String| Error::runtime(format!("building Ansible's module: {msg}"));
    let mut child = Command::new(python)
        .args(["-c", BUILDER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", python.display())))?;
    let body = request.to_string();
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(body.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|_| {
        fail(format!(
            "{} answered no JSON: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    })?;
    if let Some(e) = answer["error"].as_str() {
        return Err(Error::runtime(e.to_string()));
    }
    let payload = base64::engine::general_purpose::STANDARD
        .decode(answer["payload"].as_str().unwrap_or_default())
        .map_err(|e| fail(format!("a payload that is not base64: {e}")))?;
    Ok(Built {
        fqcn: answer["fqcn"].as_str().unwrap_or_default().to_string(),
        payload,
    })
}

/// The module's arguments without omitted values (`default(omit)`), as Ansible drops them.
fn without_omitted(value: &Value, omit: &str) -> Value {
    if value.kind() != minijinja::value::ValueKind::Map {
        return value.clone();
    }
    let pairs: Vec<(String, Value)> = value
        .try_iter()
        .into_iter()
        .flatten()
        .filter_map(|k| {
            let v = value.get_item(&k).ok()?;
            (v.as_str() != Some(omit)).then(|| (to_text(&k), without_omitted(&v, omit)))
        })
        .collect();
    Value::from_pairs(pairs)
}

/// The JSON object a module printed (anything before its first `{` line is noise, as Ansible
/// filters it).
fn module_json(stdout: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let start = stdout
        .lines()
        .position(|l| l.trim_start().starts_with('{'))?;
    let text: String = stdout.lines().skip(start).collect::<Vec<_>>().join("\n");
    let mut de = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
    match de.next()?.ok()? {
        serde_json::Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Ansible's diff formatting: text as it is, anything else as sorted, indented JSON.
fn diff_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => {
            let sorted: std::collections::BTreeMap<String, serde_json::Value> = other
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            let done = if other.is_object() {
                serde::Serialize::serialize(&sorted, &mut ser)
            } else {
                serde::Serialize::serialize(other, &mut ser)
            };
            match done {
                Ok(()) => String::from_utf8_lossy(&out).into_owned() + "\n",
                Err(_) => String::new(),
            }
        }
    }
}

fn diffs_of(v: &serde_json::Value, name: &str) -> Vec<Diff> {
    let one = |d: &serde_json::Value| {
        let header = |k: &str| d[k].as_str().map(str::to_string);
        let mut diff = Diff::new(name, diff_text(&d["before"]), diff_text(&d["after"]));
        if let Some(h) = header("before_header") {
            diff.before_header = h;
        }
        if let Some(h) = header("after_header") {
            diff.after_header = h;
        }
        diff
    };
    match v {
        serde_json::Value::Array(list) => list.iter().map(one).collect(),
        serde_json::Value::Object(_) => vec![one(v)],
        _ => Vec::new(),
    }
}

/// Run a foreign module's task for one item.
pub(super) async fn run_foreign(
    tr: TaskRun<'_>,
    ctx: &Arc<Context>,
    check: bool,
) -> Result<ItemRun> {
    let TaskRun { s, t, .. } = tr;
    let Action::Foreign {
        module,
        args,
        library,
    } = &t.action
    else {
        return Err(Error::runtime(
            "internal error: a foreign module was run for a task that names none",
        ));
    };
    let short = ["ansible.builtin.", "ansible.legacy."]
        .iter()
        .find_map(|p| module.strip_prefix(p))
        .unwrap_or(module);
    if ACTION_ONLY.contains(&short) {
        return Ok(ItemRun::failed(format!(
            "'{module}' is an Ansible action that runs on the controller, which prov does not implement; Ansible's module code cannot stand in for it"
        )));
    }
    let Some(python) = ansible_python() else {
        return Ok(ItemRun::failed(format!(
            "module '{module}' is not implemented by prov, and no Python with ansible-core was found on this controller to run Ansible's own module (install ansible-core, or set PROV_ANSIBLE_PYTHON to a Python that has it)"
        )));
    };
    let rendered = without_omitted(&render_value(args, ctx)?, &s.omit);
    let target_python = match ctx.get("ansible_python_interpreter")? {
        Some(v) if !v.is_undefined() && !v.is_none() && to_text(&v) != "auto" => to_text(&v),
        _ => "/usr/bin/python3".to_string(),
    };
    let diff = t.d.diff.unwrap_or(s.opts.diff);
    let request = serde_json::json!({
        "module": module,
        "args": crate::vars::to_json(&rendered),
        "check": check,
        "diff": diff,
        "no_log": no_log(t, ctx),
        "verbosity": s.opts.verbosity,
        "library": library.iter().filter(|d| d.is_dir()).map(|d| d.display().to_string()).collect::<Vec<_>>(),
        "python": target_python,
    });
    let built = tokio::task::spawn_blocking(move || build(python, &request))
        .await
        .map_err(|e| Error::runtime(format!("building Ansible's module: {e}")))??;
    let run_as = RunAs {
        become_: become_for(s, t, ctx)?,
        timeout: t.d.timeout.map(std::time::Duration::from_secs),
        label: super::run_as::label(s, t, tr.h, ctx),
    };
    let step = crate::modules::Step::Run {
        cmd: crate::host::step::Command {
            argv: Some(vec![target_python.clone(), "-".into()]),
            stdin: Some(built.payload),
            env: environment(t, ctx)?,
            ..Default::default()
        },
        ok_rcs: vec![0],
    };
    let (c, delegated) = target(tr, ctx).await?;
    let out = exec_step(s, &c, &step, &run_as).await?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let mut run = ItemRun {
        delegated,
        ..Default::default()
    };
    run.via = Some(built.fqcn);
    let Some(data) = module_json(&stdout) else {
        let msg = if out.rc == 127 || stderr.contains(&format!("{target_python}: not found")) {
            format!(
                "module '{module}' runs Ansible's module code, which needs Python on the target: {target_python} was not found there (set ansible_python_interpreter)"
            )
        } else {
            format!(
                "MODULE FAILURE (rc={}): {}",
                out.rc,
                if stderr.is_empty() {
                    stdout.trim()
                } else {
                    &stderr
                }
            )
        };
        run.fail(msg);
        return Ok(run);
    };
    for (k, v) in &data {
        if k.starts_with("_ansible_") || k == "invocation" || k == "diff" {
            continue;
        }
        run.result.insert(k.clone(), crate::vars::from_json(v));
    }
    for key in ["stdout", "stderr"] {
        if let Some(text) = data.get(key).and_then(|v| v.as_str()) {
            let lines: Vec<Value> = text.lines().map(Value::from).collect();
            run.result
                .entry(format!("{key}_lines"))
                .or_insert_with(|| Value::from(lines));
        }
    }
    if diff && let Some(d) = data.get("diff") {
        run.diffs = diffs_of(d, module);
    }
    // Ansible's fact names: `ansible_x` is the fact `x`; an unprefixed one (service_facts'
    // `services`) is also a variable of its own name.
    if let Some(f) = data.get("ansible_facts").and_then(|f| f.as_object()) {
        let mut facts = crate::vars::VarMap::new();
        for (k, v) in f {
            match k.strip_prefix("ansible_") {
                Some(short) => {
                    facts.insert(short.to_string(), crate::vars::from_json(v));
                }
                None => {
                    facts.insert(k.clone(), crate::vars::from_json(v));
                    run.plain_facts.push(k.clone());
                }
            }
        }
        run.facts = Some(facts);
    }
    let truthy = |k: &str| data.get(k).is_some_and(|v| v.as_bool().unwrap_or(false));
    run.msg = data.get("msg").and_then(|m| m.as_str()).map(str::to_string);
    run.status = Some(if truthy("failed") || out.rc != 0 && !truthy("skipped") {
        if run.msg.is_none() {
            run.msg = Some(format!("module failed (rc={})", out.rc));
        }
        Status::Failed
    } else if truthy("skipped") {
        Status::Skipped
    } else if truthy("changed") {
        Status::Changed
    } else {
        Status::Ok
    });
    // Ansible's words for a module that skips itself in check mode: a dry run cannot know.
    run.unknown = check
        && run.status() == Status::Skipped
        && run
            .msg
            .as_deref()
            .is_some_and(|m| m.contains("does not support check mode"));
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_modules_answer_is_read_as_ansible_reads_it() {
        let m = module_json("noise\n{\"changed\": true, \"msg\": \"x\"}\ntrailing\n").unwrap();
        assert_eq!(m["changed"], true);
        assert!(module_json("Traceback ...\n").is_none());
        let d = diffs_of(
            &serde_json::json!({"before": {"b": 1, "a": 2}, "after": "x\n", "after_header": "h"}),
            "m",
        );
        assert_eq!(d[0].before, "{\n    \"a\": 2,\n    \"b\": 1\n}\n");
        assert_eq!(
            (d[0].after.as_str(), d[0].after_header.as_str()),
            ("x\n", "h")
        );
        let args =
            crate::vars::from_json(&serde_json::json!({"a": "OMIT", "b": {"c": "OMIT", "d": 1}}));
        assert_eq!(
            crate::vars::to_json(&without_omitted(&args, "OMIT")),
            serde_json::json!({"b": {"d": 1}})
        );
        let dir = std::env::temp_dir().join(format!("prov-shebang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tool"), "#!/opt/venv/bin/python3 -E\nimport x\n").unwrap();
        std::fs::write(dir.join("sh"), "#!/bin/sh\n").unwrap();
        assert_eq!(
            shebang_interpreter(&dir.join("tool")),
            Some(PathBuf::from("/opt/venv/bin/python3"))
        );
        assert_eq!(shebang_interpreter(&dir.join("sh")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
