//! `git`'s decision (Ansible's `main`) from what the probe found, and the script a real run
//! executes: Ansible's `clone`, `reset`, `set_remote_url`, `fetch`, `switch_version` and
//! `submodules_fetch`/`submodule_update`, in that order, with Ansible's failure messages.

use minijinja::Value;

use super::{Found, Spec, UNCHANGED_RC, unfrack};
use crate::modules::{Command, Diff, Plan, Step};
use crate::shlex::quote;

/// How the `.git` file of a worktree names its git dir (Ansible's `get_repo_path`).
const RESOLVE_GIT_DIR: &str = "if [ -f \"$RP\" ]; then\n  gd=$(sed -n '1s/^gitdir: //p' \"$RP\")\n  case $gd in /*) RP=$gd ;; *) RP=$D/$gd ;; esac\nfi\n";

/// Failure helpers: `fail` prints its non-empty arguments as the message; `must MSG CMD...`
/// runs CMD and fails with MSG and CMD's output when it fails.
const HELPERS: &str = "fail() { for x in \"$@\"; do [ -z \"$x\" ] || printf '%s\\n' \"$x\" >&2; done; exit 1; }\nmust() { m=$1; shift; e=$(\"$@\" 2>&1) || fail \"$m\" \"$e\"; }\n[ -n \"$G\" ] || G=$(command -v git) || fail 'Failed to find required executable \"git\"'\n";

fn is_in(version: &str, out: Option<&str>) -> bool {
    out.is_some_and(|o| o.contains(version))
}

/// Ansible's `get_remote_head` from the probe's `ls-remote`s.
pub(super) fn remote_head(s: &Spec, f: &Found) -> Result<String, String> {
    let v = &s.version;
    let out = |n: &str| f.ls(n).map(|l| l.out.as_str());
    let (text, tag) = if v == "HEAD" {
        (out("head"), false)
    } else if is_in(v, out("branch")) {
        (out("branch"), false)
    } else if is_in(v, out("tag")) {
        (out("tagstar"), true)
    } else {
        return Ok(v.clone());
    };
    let text = text.unwrap_or_default();
    if text.is_empty() {
        return Err(format!("Could not determine remote revision for {v}"));
    }
    let mut line = text;
    if tag {
        let deref = format!("{v}^{{}}");
        for l in text.split('\n') {
            if l.ends_with(&deref) {
                line = l;
                break;
            } else if l.ends_with(v.as_str()) {
                line = l;
            }
        }
    }
    Ok(line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// The first failed `ls-remote` (Ansible runs them with `check_rc`): its stderr.
fn ls_failure(f: &Found) -> Option<String> {
    f.ls.iter().find(|(_, l)| l.rc != 0).map(|(_, l)| {
        let e = l.err.trim_end();
        if e.is_empty() {
            format!("git ls-remote failed (rc {})", l.rc)
        } else {
            e.to_string()
        }
    })
}

fn sha_diff(dest: &str, before: Option<&str>, after: &str) -> Diff {
    let side = |s: Option<&str>| s.map(|s| format!("{s}\n")).unwrap_or_default();
    Diff::new(dest, side(before), side(Some(after)))
}

fn opt(v: &Option<String>) -> Value {
    v.as_deref().map_or(Value::from(()), Value::from)
}

/// Ansible's decision for the task.
pub(super) fn decide(s: &Spec, f: &Found, prelude: &str) -> Plan {
    if let Some(path) = &f.no_git {
        return Plan::fail(match &s.executable {
            Some(e) => format!("Cannot find git executable at {e}"),
            None => format!("Failed to find required executable \"git\" in paths: {path}"),
        });
    }
    if f.bad_git_dir.is_some() {
        return Plan::fail(
            "Current repo does not have a valid reference to a separate Git dir or it refers to the invalid path",
        );
    }
    let dest = s.dest.clone().unwrap_or_default();
    let mut warnings: Vec<Value> = Vec::new();
    let mut depth = s.depth.filter(|d| *d != 0);
    if depth.is_some() && !f.version_at_least((1, 9, 1)) {
        warnings.push(Value::from(
            "git version is too old to fully support the depth argument. Falling back to full checkouts.",
        ));
        depth = None;
    }
    let mut plan = Plan::ok();
    let no_repo = (s.dest.is_some() && !f.exists) || (s.dest.is_none() && !s.clone);
    if no_repo {
        if let Some(m) = ls_failure(f) {
            return Plan::fail(m);
        }
        if s.check || !s.clone {
            // Ansible asks the remote and reports; nothing is cloned.
            let head = match remote_head(s, f) {
                Ok(h) => h,
                Err(m) => return Plan::fail(m),
            };
            plan.changed = true;
            plan.diffs.push(sha_diff(&dest, None, &head));
            return plan.with("before", Value::from(())).with("after", head);
        }
        let script = clone_script(s, f, depth, prelude, &mut warnings);
        plan.step(run(script));
        plan = plan.with("before", Value::from(()));
        if let Ok(head) = remote_head(s, f) {
            plan.diffs.push(sha_diff(&dest, None, &head));
        }
    } else if !s.update {
        return plan
            .with("before", opt(&f.before))
            .with("after", opt(&f.before));
    } else {
        if f.local_mods && !s.force {
            return Plan::fail(format!(
                "Local modifications exist in the destination: {dest} (force=no)."
            ))
            .with("before", opt(&f.before));
        }
        if let Some(m) = ls_failure(f) {
            return Plan::fail(m);
        }
        let url = f.remote_url.as_deref();
        let url_differs = url.is_none_or(|u| u != s.repo && unfrack(u) != unfrack(&s.repo));
        if s.check {
            let url_changed = url.filter(|u| !u.is_empty()).map(|_| url_differs);
            let head = match remote_head(s, f) {
                Ok(h) => h,
                Err(m) => return Plan::fail(m),
            };
            plan.changed = f.before.as_deref() != Some(head.as_str()) || url_changed == Some(true);
            if plan.changed {
                plan.diffs.push(sha_diff(&dest, f.before.as_deref(), &head));
            }
            return plan
                .with("before", opt(&f.before))
                .with("after", head)
                .with(
                    "remote_url_changed",
                    url_changed.map_or(Value::from(()), Value::from),
                );
        }
        let url_changed = url_differs && url.is_some();
        let script = update_script(s, f, depth, url_differs, prelude);
        plan.step(run(script));
        if f.local_mods {
            plan = plan.with(
                "msg",
                format!("Local modifications exist in the destination: {dest}"),
            );
        }
        if let Ok(head) = remote_head(s, f)
            && (f.before.as_deref() != Some(head.as_str()) || url_changed || f.local_mods)
        {
            plan.diffs.push(sha_diff(&dest, f.before.as_deref(), &head));
        }
        plan = plan
            .with("before", opt(&f.before))
            .with("remote_url_changed", url_changed);
    }
    if !warnings.is_empty() {
        plan = plan.with("warnings", warnings);
    }
    plan
}

fn run(script: String) -> Step {
    Step::Run {
        cmd: Command {
            shell: Some(script),
            unchanged_rc: Some(UNCHANGED_RC),
            result_lines: true,
            ..Default::default()
        },
        ok_rcs: vec![0],
    }
}

fn start(s: &Spec, prelude: &str) -> String {
    let mut out = prelude.to_string();
    out.push_str(HELPERS);
    if let Some(m) = s.umask {
        out.push_str(&format!("umask {m:04o}\n"));
    }
    out
}

/// Ansible's `clone`, then the checkout and submodules; always a change.
fn clone_script(
    s: &Spec,
    f: &Found,
    depth: Option<i64>,
    prelude: &str,
    warnings: &mut Vec<Value>,
) -> String {
    let v = &s.version;
    let ls = |n: &str| f.ls(n).map(|l| l.out.as_str());
    let branch_or_tag = is_in(v, ls("branch")) || is_in(v, ls("tag"));
    let mut args: Vec<String> = vec!["clone".into()];
    if s.bare {
        args.push("--bare".into());
    } else {
        args.extend(["--origin".into(), s.remote.clone()]);
    }
    if let Some(d) = depth {
        if v == "HEAD" || s.refspec.as_deref().is_some_and(|r| !r.is_empty()) {
            args.extend(["--depth".into(), d.to_string()]);
        } else if branch_or_tag {
            args.extend([
                "--depth".into(),
                d.to_string(),
                "--branch".into(),
                v.clone(),
            ]);
        } else {
            warnings.push(Value::from("Ignoring depth argument. Shallow clones are only available for HEAD, branches, tags or in combination with refspec."));
        }
    }
    if let Some(r) = &s.reference {
        args.extend(["--reference".into(), r.clone()]);
    }
    if s.single_branch {
        if f.version_at_least((1, 7, 10)) {
            args.push("--single-branch".into());
            if branch_or_tag {
                args.extend(["--branch".into(), v.clone()]);
            }
        } else {
            warnings.push(Value::from(
                "git version is too old to use 'single-branch'. Ignoring.",
            ));
        }
    }
    let mut out = start(s, prelude);
    out.push_str(
        "dn=$(dirname -- \"$D\")\nmkdir -p -- \"$dn\" 2>/dev/null\ncd -- \"$dn\" 2>/dev/null || cd /\n",
    );
    out.push_str(&format!(
        "must '' \"$G\" {} -- \"$R\" \"$D\"\n",
        words(&args)
    ));
    out.push_str("cd -- \"$D\" || fail \"cannot enter $D\"\n");
    if s.bare && s.remote != "origin" {
        out.push_str("must '' \"$G\" remote add \"$REMOTE\" \"$R\"\n");
    }
    if let Some(r) = s.refspec.as_deref().filter(|r| !r.is_empty()) {
        let d = depth.map(|d| format!("--depth {d} ")).unwrap_or_default();
        out.push_str(&format!(
            "must '' \"$G\" fetch {d}\"$REMOTE\" {}\n",
            quote(r)
        ));
    }
    finish(s, f, depth, &mut out);
    out.push_str("echo \"after=\\\"$a\\\"\"\n");
    out
}

/// Ansible's update: reset (force), set-url, fetch, checkout, submodules; unchanged when
/// `HEAD` did not move and nothing else did.
fn update_script(
    s: &Spec,
    f: &Found,
    depth: Option<i64>,
    url_differs: bool,
    prelude: &str,
) -> String {
    let v = &s.version;
    let ls = |n: &str| f.ls(n).map(|l| l.out.as_str());
    let mut out = start(s, prelude);
    out.push_str("cd -- \"$D\" || fail \"cannot enter $D\"\n");
    if f.local_mods && s.force {
        out.push_str("must '' \"$G\" reset --hard HEAD\n");
    }
    if url_differs {
        out.push_str("must \"Failed to set a new url $R for $REMOTE:\" \"$G\" remote set-url \"$REMOTE\" \"$R\"\n");
    }
    // fetch()
    let mut cmd: Vec<String> = vec!["fetch".into()];
    let mut refspecs: Vec<String> = Vec::new();
    let refspec = s.refspec.as_deref().filter(|r| !r.is_empty());
    let mut pre = String::new();
    if let Some(d) = depth {
        let current = f.head_branch.clone().unwrap_or_else(|| "None".into());
        if let Some(r) = refspec {
            refspecs.push(r.into());
        } else if v == "HEAD" {
            refspecs.push(current);
        } else if is_in(v, ls("branch")) {
            if current != *v {
                refspecs.push(format!("+refs/heads/{v}:refs/heads/{v}"));
            }
            refspecs.push(format!("+refs/heads/{v}:refs/remotes/{}/{v}", s.remote));
        } else if is_in(v, ls("tag")) {
            refspecs.push(format!("+refs/tags/{v}:refs/tags/{v}"));
        }
        if !refspecs.is_empty() {
            cmd.extend(["--depth".into(), d.to_string()]);
        }
    }
    if depth.is_none() || refspecs.is_empty() {
        if s.bare {
            refspecs = vec![
                "+refs/heads/*:refs/heads/*".into(),
                "+refs/tags/*:refs/tags/*".into(),
            ];
        } else if f.version_at_least((1, 9, 0)) {
            cmd.push("--tags".into());
        } else {
            pre = format!(
                "must 'Failed to download remote objects and refs:' \"$G\" {} \"$REMOTE\"\n",
                words(&cmd)
            );
            refspecs = vec!["+refs/tags/*:refs/tags/*".into()];
        }
        if let Some(r) = refspec {
            refspecs.push(r.into());
        }
    }
    if s.force {
        cmd.push("--force".into());
    }
    out.push_str(&pre);
    out.push_str(&format!(
        "must 'Failed to download remote objects and refs:' \"$G\" {} \"$REMOTE\" {}\n",
        words(&cmd),
        words(&refspecs)
    ));
    finish(s, f, depth, &mut out);
    out.push_str("echo \"after=\\\"$a\\\"\"\n");
    if !(f.local_mods || (url_differs && f.remote_url.is_some())) {
        out.push_str(&format!(
            "[ \"$a\" = {} ] && [ \"$sc\" = 0 ] && exit {UNCHANGED_RC}\n",
            quote(f.before.as_deref().unwrap_or(""))
        ));
    }
    out.push_str("exit 0\n");
    out
}

/// `switch_version` (not bare), submodules (recursive, not bare), then `a` = `HEAD`.
fn finish(s: &Spec, f: &Found, depth: Option<i64>, out: &mut String) {
    let v = &s.version;
    out.push_str(RESOLVE_GIT_DIR);
    out.push_str("sc=0\n");
    if !s.bare {
        if v == "HEAD" {
            out.push_str(concat!(
                "b=$(hb) || b=None\n",
                "must \"Failed to checkout branch $b\" \"$G\" checkout --force \"$b\"\n",
                "must \"Failed to checkout branch $b\" \"$G\" reset --hard \"$REMOTE/$b\" --\n",
            ));
        } else if is_in(v, f.ls("branch").map(|l| l.out.as_str())) {
            let local = "\"$G\" show-ref --verify --quiet \"refs/heads/$V\"";
            if let Some(d) = depth {
                out.push_str(&format!(
                    "{local} || must \"Failed to fetch branch from remote: $V\" \"$G\" fetch --depth={d} \"$REMOTE\" \"+refs/heads/$V:refs/heads/$V\" \"+refs/heads/$V:refs/remotes/$REMOTE/$V\"\n"
                ));
            }
            out.push_str(&format!(
                "if ! {local}; then\n  must \"Failed to checkout $V\" \"$G\" checkout --track -b \"$V\" \"$REMOTE/$V\"\nelse\n  must \"Failed to checkout branch $V\" \"$G\" checkout --force \"$V\"\n  must \"Failed to checkout $V\" \"$G\" reset --hard \"$REMOTE/$V\"\nfi\n"
            ));
        } else {
            out.push_str("must \"Failed to checkout $V\" \"$G\" checkout --force \"$V\"\n");
        }
        if s.recursive {
            out.push_str(&submodules(s));
        }
    }
    out.push_str("a=$(\"$G\" rev-parse HEAD 2>/dev/null)\n");
}

/// Ansible's `submodules_fetch` then, when it found a change, `submodule_update`.
fn submodules(s: &Spec) -> String {
    let mut out = String::from(concat!(
        "if [ -f .gitmodules ]; then\n",
        "  while IFS= read -r l || [ -n \"$l\" ]; do\n",
        "    t=$(printf '%s' \"$l\" | sed 's/^[[:space:]]*//')\n",
        "    case $t in path*)\n",
        "      p=$(printf '%s' \"${l#*=}\" | sed 's/^[[:space:]]*//;s/[[:space:]]*$//')\n",
        "      [ -e \"$p/.git\" ] || { sc=1; break; } ;;\n",
        "    esac\n",
        "  done < .gitmodules\n",
        "  if [ \"$sc\" = 0 ]; then\n",
        "    b=$(\"$G\" submodule foreach \"$G\" rev-parse HEAD 2>&1) || fail 'Unable to determine hashes of submodules' \"$b\"\n",
        "    must 'Failed to fetch submodules:' \"$G\" submodule foreach \"$G\" fetch\n",
    ));
    if s.track_submodules {
        out.push_str("    n=$(\"$G\" submodule foreach \"$G\" rev-parse \"$REMOTE/master\" 2>&1) || fail 'Unable to determine hashes of submodules' \"$n\"\n    [ \"$b\" = \"$n\" ] || sc=1\n");
    } else {
        out.push_str("    st=$(\"$G\" submodule status 2>&1) || fail 'Failed to retrieve submodule status:' \"$st\"\n    printf '%s\\n' \"$st\" | grep -q '^[^ ]' && sc=1\n");
    }
    out.push_str("  fi\n  if [ \"$sc\" = 1 ]; then\n    must '' \"$G\" submodule sync\n");
    let mut update = String::from("submodule update --init --recursive");
    if s.track_submodules {
        update.push_str(" --remote");
    }
    if s.force {
        update.push_str(" --force");
    }
    out.push_str(&format!(
        "    must 'Failed to init/update submodules:' \"$G\" {update}\n    echo submodules_changed=true\n  fi\nfi\n"
    ));
    out
}

fn words(w: &[String]) -> String {
    w.iter().map(|x| quote(x)).collect::<Vec<_>>().join(" ")
}
