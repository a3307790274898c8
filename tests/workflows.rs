//! The GitHub Actions workflows (.github/workflows) and the AWS resources the image workflow
//! uses (terraform/aws/worker-node-images): actionlint with shellcheck finds nothing; the
//! image workflow offers `all` plus exactly the inventory's workers, and its node step picks
//! them from `prov inventory --list`; every action is pinned by commit with its version in a
//! comment; permissions are minimal; role, region, bucket, prefix and lifecycle in terraform
//! agree with what the workflow assumes; the prov command lines use flags prov has; the drift
//! workflow runs `prov drift` on the workers daily into the run's summary and keeps its exit.
//!
//! Terraform is not installed here: the .tf files are parsed and their expressions evaluated
//! (variables' defaults and locals) with hcl-rs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use hcl::eval::{Context, Evaluate};
use regex::Regex;
use serde_json::{Value, json};

use common::{Prov, TempDir, repo_root};

const IMAGES: &str = ".github/workflows/build-worker-images.yml";
const CI: &str = ".github/workflows/ci.yml";
const DRIFT: &str = ".github/workflows/drift.yml";
const TERRAFORM: &str = "terraform/aws/worker-node-images";

// ---------------------------------------------------------------------------------------
// Workflows as data

/// A workflow file as JSON, read with prov's YAML loader. YAML 1.1 (like PyYAML) reads the
/// top-level key `on` as the boolean true; GitHub reads it as "on", and so does this.
fn workflow(rel: &str) -> Value {
    let node = prov::yaml::load_file(&repo_root().join(rel)).unwrap_or_else(|e| panic!("{e}"));
    to_json(&node, true)
}

fn to_json(node: &prov::yaml::Node, top: bool) -> Value {
    use prov::yaml::Yaml;
    match &node.value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => json!(b),
        Yaml::Int(i) => json!(i),
        Yaml::Float(f) => json!(f),
        Yaml::Str(s) => json!(s),
        Yaml::Vault(_) => panic!("{}: a !vault value in a workflow", node.span),
        Yaml::Seq(items) => items.iter().map(|n| to_json(n, false)).collect(),
        Yaml::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match &k.value {
                        Yaml::Bool(true) if top => "on".to_string(),
                        _ => k.scalar_string().unwrap_or_default(),
                    };
                    (key, to_json(v, false))
                })
                .collect(),
        ),
    }
}

/// Every step of every job: (job id, step).
fn steps(wf: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (job, def) in wf["jobs"].as_object().expect("jobs") {
        for step in def["steps"].as_array().expect("steps") {
            out.push((job.clone(), step.clone()));
        }
    }
    out
}

fn step<'a>(wf: &'a Value, job: &str, name: &str) -> &'a Value {
    wf["jobs"][job]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name || s["id"] == name)
        .unwrap_or_else(|| panic!("no step {name:?} in job {job}"))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

// ---------------------------------------------------------------------------------------
// actionlint

/// The pinned actionlint (tests/fixtures/actionlint.sh, installed by .ci/setup).
fn actionlint() -> PathBuf {
    let out = Command::new("sh")
        .arg(repo_root().join("tests/fixtures/actionlint.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "installing actionlint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// actionlint's report on some workflow files (with shellcheck for `run:` scripts).
fn lint(dir: &Path, files: &[&str]) -> (bool, String) {
    let shellcheck =
        on_path("shellcheck").expect("shellcheck is not installed (.ci/setup installs it)");
    let out = Command::new(actionlint())
        .current_dir(dir)
        .arg("-no-color")
        .arg(format!("-shellcheck={}", shellcheck.display()))
        .args(files)
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

#[test]
fn workflows_pass_actionlint_and_shellcheck() {
    // The checker finds planted mistakes: an undefined matrix property, an untrusted value in
    // a script, and a word-splitting variable that only shellcheck reports...
    let tmp = TempDir::new("actionlint");
    std::fs::create_dir_all(tmp.path.join(".github/workflows")).unwrap();
    std::fs::write(
        tmp.path.join(".github/workflows/broken.yml"),
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      \
         - run: echo \"${{ matrix.nope }}\"\n      \
         - run: echo \"${{ github.event.head_commit.message }}\"\n      \
         - run: rm $TARGET/*\n",
    )
    .unwrap();
    let (ok, report) = lint(&tmp.path, &[".github/workflows/broken.yml"]);
    assert!(!ok, "{report}");
    for kind in ["[expression]", "potentially untrusted", "[shellcheck]"] {
        assert!(report.contains(kind), "no {kind}: {report}");
    }
    // ... and nothing in ours.
    let (ok, report) = lint(&repo_root(), &[IMAGES, CI, DRIFT]);
    assert!(ok && report.trim().is_empty(), "actionlint:\n{report}");
}

// ---------------------------------------------------------------------------------------
// Nodes

fn inventory_workers() -> Vec<String> {
    let run = Prov::new()
        .cwd(&repo_root())
        .args(["inventory", "--list"])
        .run();
    run.ok();
    let workers: Vec<String> = run.json()["workers"]["hosts"]
        .as_array()
        .expect("a workers group with hosts")
        .iter()
        .map(|h| str_of(h).to_string())
        .collect();
    assert!(!workers.is_empty());
    workers
}

/// Run the determine-nodes job's node step as GitHub would (bash -eo pipefail), with
/// `target/release/prov` being the binary under test, in a copy of the inventory.
fn determine_nodes(script: &str, node_name: &str) -> (bool, String, String) {
    let dir = TempDir::new("determine-nodes");
    let root = repo_root();
    std::fs::create_dir_all(dir.path.join("target/release")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_prov"),
        dir.path.join("target/release/prov"),
    )
    .unwrap();
    for entry in ["ansible.cfg", "inventory"] {
        std::os::unix::fs::symlink(root.join(entry), dir.path.join(entry)).unwrap();
    }
    let output = dir.path.join("github_output");
    std::fs::write(&output, "").unwrap();
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(&dir.path)
        .env("NODE_NAME", node_name)
        .env("GITHUB_OUTPUT", &output)
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_INVENTORY")
        .output()
        .unwrap();
    (
        out.status.success(),
        std::fs::read_to_string(&output).unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn node_choices_are_all_and_the_inventory_workers() {
    let wf = workflow(IMAGES);
    let input = &wf["on"]["workflow_dispatch"]["inputs"]["node_name"];
    assert_eq!(input["type"], "choice");
    assert_eq!(input["default"], "all");
    let options: Vec<&str> = input["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(str_of)
        .collect();
    let workers = inventory_workers();
    let mut expected = vec!["all"];
    expected.extend(workers.iter().map(String::as_str));
    assert_eq!(
        options, expected,
        "node_name's options vs. the inventory's workers"
    );

    // The node step reads the inventory: all of it for `all`, one checked node otherwise.
    let nodes = step(&wf, "determine-nodes", "nodes");
    assert_eq!(nodes["env"]["NODE_NAME"], "${{ inputs.node_name }}");
    let script = str_of(&nodes["run"]);
    let (ok, out, log) = determine_nodes(script, "all");
    assert!(ok, "{log}");
    assert_eq!(out, format!("nodes={}\n", json!(workers)));
    let (ok, out, log) = determine_nodes(script, &workers[1]);
    assert!(ok, "{log}");
    assert_eq!(out, format!("nodes={}\n", json!([workers[1]])));
    // A control-plane node is not a worker: the job fails with an error annotation.
    let (ok, out, log) = determine_nodes(script, "shanghai-1");
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        log.contains("::error::shanghai-1 is not in the inventory's workers group"),
        "{log}"
    );

    // The build matrix is that list, and one node's failure does not cancel the others.
    let build = &wf["jobs"]["build-images"];
    assert_eq!(build["needs"], "determine-nodes");
    assert_eq!(
        build["strategy"]["matrix"]["node"],
        "${{ fromJSON(needs.determine-nodes.outputs.nodes) }}"
    );
    assert_eq!(build["strategy"]["fail-fast"], false);
    assert_eq!(
        wf["jobs"]["determine-nodes"]["outputs"]["nodes"],
        "${{ steps.nodes.outputs.nodes }}"
    );
}

// ---------------------------------------------------------------------------------------
// Pins and permissions

#[test]
fn actions_are_pinned_by_commit_with_their_version() {
    let line = Regex::new(
        r"^\s*(?:-\s+)?uses:\s+([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@([0-9a-f]{40})\s+#\s+(v\d+(?:\.\d+)*|master|main|stable)\b",
    )
    .unwrap();
    let mut pins: BTreeMap<String, (String, String)> = BTreeMap::new();
    for rel in [IMAGES, CI, DRIFT] {
        let text = std::fs::read_to_string(repo_root().join(rel)).unwrap();
        let pinned: Vec<(String, String, String)> = text
            .lines()
            .filter_map(|l| line.captures(l))
            .map(|c| (c[1].to_string(), c[2].to_string(), c[3].to_string()))
            .collect();
        let uses: Vec<String> = steps(&workflow(rel))
            .iter()
            .filter_map(|(_, s)| s["uses"].as_str().map(str::to_string))
            .collect();
        assert!(!uses.is_empty(), "{rel}");
        let pinned_refs: Vec<String> = pinned.iter().map(|(a, s, _)| format!("{a}@{s}")).collect();
        assert_eq!(
            uses, pinned_refs,
            "{rel}: every `uses:` must be owner/repo@<40-hex commit> # <version>"
        );
        // One action, one pin, across the workflows.
        for (action, sha, version) in pinned {
            let prev = pins
                .entry(action.clone())
                .or_insert((sha.clone(), version.clone()));
            assert_eq!(*prev, (sha, version), "{action} pinned twice differently");
        }
    }
}

#[test]
fn permissions_are_minimal() {
    for rel in [IMAGES, CI, DRIFT] {
        let wf = workflow(rel);
        assert_eq!(wf["permissions"], json!({"contents": "read"}), "{rel}");
        for (job, def) in wf["jobs"].as_object().unwrap() {
            let assumes_role = def["steps"].as_array().unwrap().iter().any(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
            });
            let perms = &def["permissions"];
            if assumes_role {
                assert_eq!(
                    *perms,
                    json!({"contents": "read", "id-token": "write"}),
                    "{rel}: {job}"
                );
            } else {
                assert!(
                    perms.is_null() || *perms == json!({"contents": "read"}),
                    "{rel}: {job} needs no more than contents: read, has {perms}"
                );
            }
        }
    }
    // The upload job is the one that assumes the role.
    let wf = workflow(IMAGES);
    assert_eq!(
        wf["jobs"]["build-images"]["permissions"]["id-token"],
        "write"
    );
}

// ---------------------------------------------------------------------------------------
// Command lines

/// `prov` invocations in the workflows' scripts: (subcommand words, flags used).
fn prov_invocations(wf: &Value) -> Vec<(String, Vec<String>)> {
    let call = Regex::new(r#"(?:^|[\s("/])prov\)?"?\s+((?:[a-z]+\s+)*)(.*)$"#).unwrap();
    let mut out = Vec::new();
    for (_, s) in steps(wf) {
        let Some(script) = s["run"].as_str() else {
            continue;
        };
        for line in script.replace("\\\n", " ").lines() {
            let Some(c) = call.captures(line) else {
                continue;
            };
            let words = c[1].split_whitespace().collect::<Vec<_>>().join(" ");
            let rest = c[2].split(['|', ';', ')']).next().unwrap_or("");
            let flags = rest
                .split_whitespace()
                .filter(|t| t.starts_with('-'))
                .map(|t| t.split('=').next().unwrap().to_string())
                .collect();
            out.push((words, flags));
        }
    }
    out
}

#[test]
fn workflow_command_lines_use_flags_prov_has() {
    let wf = workflow(IMAGES);
    let calls = prov_invocations(&wf);
    let words: BTreeSet<&str> = calls.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(
        words,
        BTreeSet::from(["image pipeline", "image prune", "inventory"])
    );
    flags_are_known(&calls);

    // CI runs the README's test command, as root.
    let ci = workflow(CI);
    let run = steps(&ci)
        .into_iter()
        .filter_map(|(_, s)| s["run"].as_str().map(str::to_string))
        .find(|r| r.contains(".ci/run"))
        .expect("a step running .ci/run");
    assert!(run.trim_start().starts_with("sudo "), "{run}");
    let ci_run = std::fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert_eq!(ci_run.lines().last(), Some(".ci/setup && .ci/test"));
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(readme.contains(".ci/setup && .ci/test"));
    assert!(ci["on"].get("push").is_some() && ci["on"].get("pull_request").is_some());
}

/// Every flag a `prov` command line uses is one its `--help` lists.
fn flags_are_known(calls: &[(String, Vec<String>)]) {
    let flag = Regex::new(r"(?:^|[\s,\[])(--?[A-Za-z][A-Za-z0-9-]*)").unwrap();
    for (words, used) in calls {
        let help = Prov::new()
            .cwd(&repo_root())
            .args(words.split(' '))
            .arg("--help")
            .run();
        assert_eq!(help.code, 0, "prov {words} --help: {}", help.stderr);
        let known: BTreeSet<&str> = flag
            .captures_iter(&help.stdout)
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        for f in used {
            assert!(
                known.contains(f.as_str()),
                "prov {words} has no {f}: {known:?}"
            );
        }
    }
}

#[test]
fn drift_workflow_reports_the_workers_daily_and_fails_on_drift() {
    let wf = workflow(DRIFT);
    let cron = wf["on"]["schedule"][0]["cron"]
        .as_str()
        .expect("a schedule");
    assert_eq!(cron.split_whitespace().count(), 5, "{cron}");
    assert!(wf["on"].get("workflow_dispatch").is_some());
    let calls = prov_invocations(&wf);
    let words: Vec<&str> = calls.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(words, ["drift"]);
    flags_are_known(&calls);
    let script = str_of(&step(&wf, "drift", "Drift report")["run"]).replace("\\\n", " ");
    let line = script.lines().find(|l| l.contains("prov drift")).unwrap();
    for part in [
        "prov drift playbooks/worker.yml --limit workers",
        "--format markdown >> \"$GITHUB_STEP_SUMMARY\"",
    ] {
        assert!(line.contains(part), "{line}");
    }
    // The exit code is kept (the step's shell would stop at a non-zero one before it is read).
    assert!(script.starts_with("set +e\n"), "{script}");
    assert!(script.contains("code=$?") && script.trim_end().ends_with("exit \"$code\""));
    // The playbook and the group exist.
    assert!(repo_root().join("playbooks/worker.yml").is_file());
    assert!(!inventory_workers().is_empty());
}

// ---------------------------------------------------------------------------------------
// Terraform

/// The terraform directory, parsed, with `var.*` (defaults) and `local.*` evaluated.
struct Terraform {
    blocks: Vec<hcl::Block>,
    vars: hcl::Map<String, hcl::Value>,
    ctx: Context<'static>,
}

fn hcl_json(v: hcl::Value) -> Value {
    serde_json::to_value(v).unwrap()
}

impl Terraform {
    fn load() -> Terraform {
        let dir = repo_root().join(TERRAFORM);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tf"))
            .collect();
        names.sort();
        for expected in [
            "iam.tf",
            "outputs.tf",
            "s3.tf",
            "variables.tf",
            "versions.tf",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{TERRAFORM}/{expected}"
            );
        }
        let mut blocks = Vec::new();
        for n in &names {
            let text = std::fs::read_to_string(dir.join(n)).unwrap();
            let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{TERRAFORM}/{n}: {e}"));
            blocks.extend(body.blocks().cloned());
        }
        let mut ctx = Context::new();
        let mut vars = hcl::Map::new();
        for b in blocks.iter().filter(|b| b.identifier() == "variable") {
            let name = b.labels()[0].as_str().to_string();
            let default = attr_expr(b.body(), "default")
                .unwrap_or_else(|| panic!("variable {name} has no default"));
            vars.insert(name, default.evaluate(&ctx).unwrap());
        }
        ctx.declare_var("var", hcl::Value::Object(vars.clone()));
        // Locals may use each other: evaluate in passes until all are known.
        let pending: Vec<(String, hcl::Expression)> = blocks
            .iter()
            .filter(|b| b.identifier() == "locals")
            .flat_map(|b| b.body().attributes())
            .map(|a| (a.key().to_string(), a.expr().clone()))
            .collect();
        let mut locals = hcl::Map::new();
        for _ in 0..=pending.len() {
            ctx.declare_var("local", hcl::Value::Object(locals.clone()));
            for (k, e) in &pending {
                if !locals.contains_key(k)
                    && let Ok(v) = e.evaluate(&ctx)
                {
                    locals.insert(k.clone(), v);
                }
            }
        }
        assert_eq!(locals.len(), pending.len(), "locals left unevaluated");
        ctx.declare_var("local", hcl::Value::Object(locals));
        Terraform { blocks, vars, ctx }
    }

    fn block(&self, kind: &str, ty: &str, name: &str) -> &hcl::Block {
        self.blocks
            .iter()
            .find(|b| {
                b.identifier() == kind && b.labels().iter().map(|l| l.as_str()).eq([ty, name])
            })
            .unwrap_or_else(|| panic!("no {kind} \"{ty}\" \"{name}\""))
    }

    fn eval(&self, e: &hcl::Expression) -> Value {
        hcl_json(
            e.evaluate(&self.ctx)
                .unwrap_or_else(|err| panic!("{e}: {err}")),
        )
    }

    /// An attribute's value (variables and locals resolved).
    fn value(&self, body: &hcl::Body, key: &str) -> Value {
        self.eval(attr_expr(body, key).unwrap_or_else(|| panic!("no attribute {key}")))
    }

    fn var(&self, name: &str) -> Value {
        hcl_json(
            self.vars
                .get(name)
                .unwrap_or_else(|| panic!("no variable {name}"))
                .clone(),
        )
    }

    /// The statements of a `data "aws_iam_policy_document"`, as JSON.
    fn statements(&self, name: &str) -> Vec<Value> {
        let doc = self.block("data", "aws_iam_policy_document", name);
        doc.body()
            .blocks()
            .filter(|b| b.identifier() == "statement")
            .map(|s| {
                let mut st = serde_json::Map::new();
                for a in s.body().attributes() {
                    st.insert(a.key().to_string(), self.eval(a.expr()));
                }
                for kind in ["principals", "condition"] {
                    let list: Vec<Value> = s
                        .body()
                        .blocks()
                        .filter(|b| b.identifier() == kind)
                        .map(|b| {
                            Value::Object(
                                b.body()
                                    .attributes()
                                    .map(|a| (a.key().to_string(), self.eval(a.expr())))
                                    .collect(),
                            )
                        })
                        .collect();
                    st.insert(kind.to_string(), Value::Array(list));
                }
                Value::Object(st)
            })
            .collect()
    }
}

fn attr_expr<'a>(body: &'a hcl::Body, key: &str) -> Option<&'a hcl::Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// An attribute that must be a reference to another object (`aws_s3_bucket.x.id`).
fn reference(body: &hcl::Body, key: &str) -> String {
    attr_expr(body, key)
        .unwrap_or_else(|| panic!("no attribute {key}"))
        .to_string()
}

fn nested<'a>(body: &'a hcl::Body, name: &str) -> &'a hcl::Body {
    body.blocks()
        .find(|b| b.identifier() == name)
        .unwrap_or_else(|| panic!("no {name} block"))
        .body()
}

#[test]
fn terraform_role_and_bucket_are_what_the_workflow_uses() {
    let tf = Terraform::load();
    let wf = workflow(IMAGES);
    let account = str_of(&tf.var("aws_account_id")).to_string();
    let bucket = str_of(&tf.var("bucket_name")).to_string();
    let prefix = str_of(&tf.var("image_prefix")).to_string();
    let bucket_arn = format!("arn:aws:s3:::{bucket}");

    // The role the workflow assumes, in the region it names, for no longer than allowed.
    let creds = steps(&wf)
        .into_iter()
        .map(|(_, s)| s)
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
        })
        .expect("a configure-aws-credentials step");
    let role = tf.block("resource", "aws_iam_role", "github_actions_worker_build");
    let role_name = tf.value(role.body(), "name");
    assert_eq!(role_name, "GitHubActions_WorkerNode_Build");
    assert_eq!(
        creds["with"]["role-to-assume"],
        format!("arn:aws:iam::{account}:role/{}", str_of(&role_name))
    );
    assert_eq!(creds["with"]["aws-region"], tf.var("region"));
    let duration = creds["with"]["role-duration-seconds"].as_i64().unwrap();
    let max = tf
        .value(role.body(), "max_session_duration")
        .as_i64()
        .unwrap();
    assert!(
        (900..=max).contains(&duration),
        "role-duration-seconds {duration} vs. max_session_duration {max}"
    );

    // Trust: GitHub's OIDC tokens for the main branch of boxp/arch, audience STS.
    assert_eq!(
        reference(role.body(), "assume_role_policy"),
        "data.aws_iam_policy_document.github_actions_assume_role.json"
    );
    let trust = tf.statements("github_actions_assume_role");
    assert_eq!(trust.len(), 1);
    let t = &trust[0];
    assert_eq!(t["effect"], "Allow");
    assert_eq!(t["actions"], json!(["sts:AssumeRoleWithWebIdentity"]));
    assert_eq!(
        t["principals"],
        json!([{"type": "Federated", "identifiers": [format!("arn:aws:iam::{account}:oidc-provider/token.actions.githubusercontent.com")]}])
    );
    let conditions: BTreeSet<String> = t["condition"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {} {}", c["test"], c["variable"], c["values"]))
        .collect();
    assert_eq!(
        conditions,
        BTreeSet::from([
            r#""StringEquals" "token.actions.githubusercontent.com:aud" ["sts.amazonaws.com"]"#
                .to_string(),
            r#""StringEquals" "token.actions.githubusercontent.com:sub" ["repo:boxp/arch:ref:refs/heads/main"]"#
                .to_string(),
        ])
    );
    // The workflow stops early on any other branch.
    let guard = &wf["jobs"]["determine-nodes"]["steps"][0];
    assert_eq!(
        guard["if"],
        format!(
            "github.ref != 'refs/heads/{}'",
            str_of(&tf.var("github_branch"))
        )
    );

    // Permissions: objects under the prefix, listing under the prefix, nothing else.
    let policy = tf.block("resource", "aws_iam_role_policy", "s3_worker_images_access");
    assert_eq!(
        reference(policy.body(), "role"),
        "aws_iam_role.github_actions_worker_build.id"
    );
    assert_eq!(
        reference(policy.body(), "policy"),
        "data.aws_iam_policy_document.worker_images_access.json"
    );
    let images_arn = format!("{bucket_arn}/{prefix}*");
    let mut granted: BTreeMap<String, Value> = BTreeMap::new();
    for s in tf.statements("worker_images_access") {
        assert_eq!(s["effect"], "Allow", "{s}");
        assert_eq!(s["principals"], json!([]), "{s}");
        for a in s["actions"].as_array().unwrap() {
            let a = str_of(a).to_string();
            assert!(!a.contains('*'), "{a}");
            let scope = json!({"resources": s["resources"], "condition": s["condition"]});
            assert!(
                granted.insert(a.clone(), scope).is_none(),
                "{a} granted twice"
            );
        }
    }
    let object_scope = json!({"resources": [images_arn], "condition": []});
    for a in [
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    ] {
        assert_eq!(granted.remove(a), Some(object_scope.clone()), "{a}");
    }
    assert_eq!(
        granted.remove("s3:ListBucket"),
        Some(json!({"resources": [bucket_arn], "condition": [
            {"test": "StringLike", "variable": "s3:prefix", "values": [format!("{prefix}*")]}
        ]}))
    );
    assert_eq!(
        granted.remove("s3:ListBucketMultipartUploads"),
        Some(json!({"resources": [bucket_arn], "condition": []}))
    );
    assert!(granted.is_empty(), "more than needed: {granted:?}");

    // The bucket and prefix the workflow uploads to.
    let s3 = tf.block("resource", "aws_s3_bucket", "worker_images");
    assert_eq!(tf.value(s3.body(), "bucket"), bucket.as_str());
    assert_eq!(bucket, "arch-worker-images");
    assert_eq!(prefix, "images/");
    let url = str_of(&wf["env"]["IMAGES_URL"]);
    assert_eq!(url, format!("s3://{bucket}/{prefix}x86_64/"));
    let pipeline = str_of(
        &step(
            &wf,
            "build-images",
            "Build, test, compress, upload and mark good",
        )["run"],
    );
    assert!(pipeline.contains("--upload \"$IMAGES_URL\""), "{pipeline}");
    assert!(pipeline.contains("--node \"$NODE\""), "{pipeline}");
    assert!(
        pipeline.contains("--private-key \"$RUNNER_TEMP/boot-test-key\""),
        "{pipeline}"
    );

    // Versioned, private, expiring under the prefix.
    let bucket_ref = "aws_s3_bucket.worker_images.id";
    let versioning = tf.block("resource", "aws_s3_bucket_versioning", "worker_images");
    assert_eq!(reference(versioning.body(), "bucket"), bucket_ref);
    assert_eq!(
        tf.value(
            nested(versioning.body(), "versioning_configuration"),
            "status"
        ),
        "Enabled"
    );
    let public = tf.block(
        "resource",
        "aws_s3_bucket_public_access_block",
        "worker_images",
    );
    assert_eq!(reference(public.body(), "bucket"), bucket_ref);
    for k in [
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ] {
        assert_eq!(tf.value(public.body(), k), true, "{k}");
    }
    let lifecycle = tf.block(
        "resource",
        "aws_s3_bucket_lifecycle_configuration",
        "worker_images",
    );
    assert_eq!(reference(lifecycle.body(), "bucket"), bucket_ref);
    let rules: Vec<&hcl::Block> = lifecycle
        .body()
        .blocks()
        .filter(|b| b.identifier() == "rule")
        .collect();
    assert_eq!(rules.len(), 1);
    let rule = rules[0].body();
    assert_eq!(tf.value(rule, "status"), "Enabled");
    assert_eq!(tf.value(nested(rule, "filter"), "prefix"), prefix.as_str());
    // Current builds are pruned by prov (which keeps the newest known-good one), never
    // expired by the rule; what prune deleted goes for good after 90 days.
    assert!(
        !rule.blocks().any(|b| b.identifier() == "expiration"),
        "an expiration rule could delete a node's newest known-good build"
    );
    assert_eq!(
        tf.value(
            nested(rule, "noncurrent_version_expiration"),
            "noncurrent_days"
        ),
        90
    );
    let abort = tf.value(
        nested(rule, "abort_incomplete_multipart_upload"),
        "days_after_initiation",
    );
    assert!(
        abort.as_i64().is_some_and(|d| (1..=7).contains(&d)),
        "{abort}"
    );

    // The AWS provider, from the registry, in the workflow's region.
    let terraform = tf
        .blocks
        .iter()
        .find(|b| b.identifier() == "terraform")
        .expect("a terraform block");
    let providers = tf.value(nested(terraform.body(), "required_providers"), "aws");
    assert_eq!(providers["source"], "hashicorp/aws");
    let provider = tf
        .blocks
        .iter()
        .find(|b| b.identifier() == "provider" && b.labels()[0].as_str() == "aws")
        .expect("provider \"aws\"");
    assert_eq!(tf.value(provider.body(), "region"), "ap-northeast-1");
    assert_eq!(
        tf.value(provider.body(), "allowed_account_ids"),
        json!([account])
    );
}
