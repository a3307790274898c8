//! The compatibility corpus: public roles (bench/compat/corpus.yml, vendored under
//! bench/compat/roles/) applied with ansible-playbook and with prov to fresh Debian 12 chroots,
//! and the results compared (bench/compat/README.md).
//!
//! For each role: a one-role play; ansible-playbook applies it twice to root A (connection
//! `community.general.chroot`), prov applies it twice to root B (`--chroot`), and
//! `prov apply --check --diff` runs on root C (and, to tell a role's own check-mode limits from
//! prov's, `ansible-playbook --check --diff` on root D). After the first runs, every path either
//! engine created, changed or removed (the overlay upper directories of A and B) is compared by
//! type, mode, owner, sha256 and link target, except the paths of the noise list ([`noise`]).
//! Results go to `target/compat/results.json` (one object per role) and a table to
//! `target/compat/report.md`.
//!
//! Both engines run in the same isolation ([`run_isolated`]): private mount, network, PID, UTS and
//! IPC namespaces, PID 1 named `systemd` (Ansible derives `ansible_service_mgr` from it), a
//! throw-away copy of /proc/sys bound over the root's, and without the capabilities to load
//! kernel modules, reboot or set the clock. For Ansible the root is prepared as prov prepares
//! one (read-only sysfs, a /dev of harmless devices, a fresh /run, a policy-rc.d); prov does
//! that itself.
//!
//! By default only the roles marked `fast: true` run; `PROV_COMPAT=all` runs the whole corpus
//! (a benchmark, about 15 minutes), `PROV_COMPAT=name,name` the named roles.
//! `PROV_COMPAT_CORPUS=DIR/corpus.yml` reads another corpus, with its roles in `DIR/roles/`.

mod common;
#[path = "compat_corpus/compare.rs"]
mod compare;
#[path = "compat_corpus/report.rs"]
mod report;
use compare::*;
use report::*;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest;

use common::{Project, Root, TempDir, ansible_playbook, ansible_python, repo_root};

/// The inventory name of the target under both engines.
const HOST: &str = "target";
/// A run that takes longer than this is stopped and counted as failed.
const TIMEOUT: Duration = Duration::from_secs(40 * 60);

#[derive(Deserialize)]
struct Corpus {
    rootfs_extra: Vec<String>,
    roles: Vec<Role>,
    /// The directory of corpus.yml (its roles are in `roles/`).
    #[serde(skip)]
    dir: PathBuf,
}

#[derive(Deserialize)]
struct Role {
    name: String,
    repo: String,
    commit: String,
    #[serde(default)]
    fast: bool,
    #[serde(default)]
    vars: Value,
    #[serde(default)]
    files: BTreeMap<String, String>,
}

/// One run of an engine.
#[derive(Serialize, Default)]
struct EngineRun {
    ok: bool,
    exit_code: i32,
    seconds: f64,
    /// The recap's `changed` count.
    changed: u64,
    /// Names of the tasks (and handlers) that reported a change.
    changed_tasks: Vec<String>,
    /// The first task that failed (not ignored), and its message; or the engine's error.
    failed_task: Option<String>,
    message: Option<String>,
    /// prov: the modules it ran through Ansible's own module code, i.e. does not implement
    /// (what it asked the Python with ansible-core to build, see [`logging_python`]).
    via_ansible: Vec<String>,
}

/// A path whose state differs between the two roots after the first runs.
#[derive(Serialize)]
struct Difference {
    path: String,
    ansible: String,
    prov: String,
    /// `diff -u` of the two files, when both are text.
    diff: Option<String>,
}

#[derive(Serialize)]
struct RoleResult {
    role: String,
    repo: String,
    commit: String,
    fast: bool,
    ansible_ok: bool,
    prov_ok: bool,
    same_end_state: bool,
    /// How many paths were compared (touched by either engine, outside the noise list).
    compared_paths: usize,
    prov_idempotent: bool,
    ansible_idempotent: bool,
    check_exact: bool,
    /// prov's dry run changes the same tasks as Ansible's dry run (`--check --diff`).
    check_like_ansible: bool,
    /// prov's first run reports the same tasks changed as Ansible's first run.
    changed_like_ansible: bool,
    ansible_seconds: [f64; 2],
    prov_seconds: [f64; 2],
    check_seconds: f64,
    differences: Vec<Difference>,
    /// Tasks changed by `prov apply --check` but not by `prov apply`, and the reverse.
    check_only: Vec<String>,
    apply_only: Vec<String>,
    ansible: [EngineRun; 2],
    prov: [EngineRun; 2],
    check: EngineRun,
    ansible_check: EngineRun,
}

#[test]
fn compat_corpus() {
    let corpus = load_corpus();
    // Root::new() builds (once) and copies the test root with these packages added.
    unsafe { std::env::set_var("PROV_ROOTFS_EXTRA", corpus.rootfs_extra.join(",")) };
    let selection = std::env::var("PROV_COMPAT").unwrap_or_default();
    let chosen: Vec<&Role> = corpus
        .roles
        .iter()
        .filter(|r| match selection.as_str() {
            "" => r.fast,
            "all" => true,
            names => names.split(',').any(|n| n.trim() == r.name),
        })
        .collect();
    assert!(
        !chosen.is_empty(),
        "no role matches PROV_COMPAT={selection}"
    );
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("compat");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut results = Vec::new();
    for role in chosen {
        eprintln!("compat: {} ...", role.name);
        let r = run_role(&corpus.dir, role);
        eprintln!(
            "compat: {}: ansible {} ({:.0}s), prov {} ({:.0}s), same state {}, prov idempotent {}, check exact {}",
            r.role,
            r.ansible_ok,
            r.ansible_seconds[0],
            r.prov_ok,
            r.prov_seconds[0],
            r.same_end_state,
            r.prov_idempotent,
            r.check_exact
        );
        results.push(r);
        // Written after every role, so a long run can be followed (and survives a stop).
        std::fs::write(
            out_dir.join("results.json"),
            serde_json::to_string_pretty(&results).unwrap(),
        )
        .unwrap();
        std::fs::write(out_dir.join("report.md"), report(&results)).unwrap();
    }
    // What holds today for the fast subset: both engines complete, report the same tasks
    // changed and reach the same state, prov's second run changes nothing, and its dry run
    // predicts what Ansible's predicts.
    for r in results.iter().filter(|r| r.fast) {
        assert!(
            r.ansible_ok
                && r.prov_ok
                && r.changed_like_ansible
                && r.same_end_state
                && r.prov_idempotent
                && r.check_like_ansible,
            "{}: see {}\n{}",
            r.role,
            out_dir.join("report.md").display(),
            serde_json::to_string_pretty(r).unwrap()
        );
    }
}

/// bench/compat/corpus.yml (or `$PROV_COMPAT_CORPUS`), read with the Python that has Ansible
/// (PyYAML).
fn load_corpus() -> Corpus {
    let path = std::env::var_os("PROV_COMPAT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("bench/compat/corpus.yml"));
    let out = Command::new(ansible_python())
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(&path)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut corpus: Corpus = serde_json::from_slice(&out.stdout).expect("corpus.yml");
    corpus.dir = path.parent().unwrap().to_path_buf();
    corpus
}

/// Everything for one role: both engines twice, the comparison, both engines' dry runs.
fn run_role(corpus_dir: &Path, role: &Role) -> RoleResult {
    let project = project(corpus_dir, role);
    let work = TempDir::new("compat");
    // Each root has its own /proc/sys copy, kept between the runs on it.
    let (a, b) = (Target::new(&work, "a"), Target::new(&work, "b"));
    let ansible1 = run_ansible(&project, &a, &work.path, false);
    let prov1 = run_prov(&project, &b, &work.path, false);
    let (differences, compared_paths) = compare(&a.root, &b.root);
    let ansible2 = run_ansible(&project, &a, &work.path, false);
    let prov2 = run_prov(&project, &b, &work.path, false);
    drop((a, b));
    let check = run_prov(&project, &Target::new(&work, "c"), &work.path, true);
    let ansible_check = run_ansible(&project, &Target::new(&work, "d"), &work.path, true);
    let set = |r: &EngineRun| r.changed_tasks.iter().cloned().collect::<BTreeSet<_>>();
    let (applied, checked) = (set(&prov1), set(&check));
    RoleResult {
        role: role.name.clone(),
        repo: role.repo.clone(),
        commit: role.commit.clone(),
        fast: role.fast,
        ansible_ok: ansible1.ok,
        prov_ok: prov1.ok,
        same_end_state: differences.is_empty(),
        compared_paths,
        prov_idempotent: prov2.ok && prov2.changed == 0,
        ansible_idempotent: ansible2.ok && ansible2.changed == 0,
        check_exact: check.ok && applied == checked,
        check_like_ansible: check.ok == ansible_check.ok && checked == set(&ansible_check),
        changed_like_ansible: applied == set(&ansible1),
        ansible_seconds: [ansible1.seconds, ansible2.seconds],
        prov_seconds: [prov1.seconds, prov2.seconds],
        check_seconds: check.seconds,
        differences,
        check_only: checked.difference(&applied).cloned().collect(),
        apply_only: applied.difference(&checked).cloned().collect(),
        ansible: [ansible1, ansible2],
        prov: [prov1, prov2],
        check,
        ansible_check,
    }
}

/// A fresh root and its throw-away copy of /proc/sys.
struct Target {
    root: Root,
    proc_sys: PathBuf,
}

impl Target {
    fn new(work: &TempDir, name: &str) -> Target {
        let proc_sys = work.path.join(format!("proc-sys-{name}"));
        copy_proc_sys(Path::new("/proc/sys"), &proc_sys);
        let root = Root::new();
        // apt's lists older than any `cache_valid_time`: a role's `update_cache` runs under
        // both engines, whatever the age of the cached root.
        let st = Command::new("touch")
            .args(["-d", "2000-01-01"])
            .arg(root.file("var/lib/apt/lists"))
            .status()
            .unwrap();
        assert!(st.success());
        Target { root, proc_sys }
    }
}

/// A project with the role, a one-role play, an inventory for each engine and ansible.cfg.
fn project(corpus_dir: &Path, role: &Role) -> Project {
    let mut p = Project::new();
    copy_dir(
        &corpus_dir.join("roles").join(&role.name),
        &p.path("roles").join(&role.name),
    );
    let vars = serde_json::to_string(&role.vars).unwrap();
    p = p
        .file(
            "site.yml",
            &format!(
                "- hosts: all\n  vars: {vars}\n  roles:\n    - {}\n",
                role.name
            ),
        )
        .file(
            "ansible.cfg",
            "[defaults]\nroles_path = roles\nretry_files_enabled = False\n",
        )
        .file(
            "prov.yml",
            &format!(
                "all:\n  hosts:\n    {HOST}:\n      ansible_python_interpreter: /usr/bin/python3\n"
            ),
        );
    for (rel, content) in &role.files {
        p = p.file(rel, content);
    }
    p
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "copying {}", from.display());
}

/// ansible-playbook on a target (or `--check --diff`); its inventory names the root as a
/// chroot host.
fn run_ansible(project: &Project, target: &Target, work: &Path, check: bool) -> EngineRun {
    let inventory = project.path("ansible.yml");
    std::fs::write(
        &inventory,
        format!(
            "all:\n  hosts:\n    {HOST}:\n      ansible_connection: community.general.chroot\n      ansible_host: {}\n      ansible_python_interpreter: /usr/bin/python3\n",
            target.root.path.display()
        ),
    )
    .unwrap();
    let ansible = ansible_playbook();
    let mut argv: Vec<OsString> = vec![
        ansible.clone().into(),
        "-i".into(),
        inventory.into(),
        "site.yml".into(),
    ];
    if check {
        argv.extend(["--check".into(), "--diff".into()]);
    }
    let path = format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ansible.parent().unwrap().display()
    );
    let env = [
        ("PATH", path),
        (
            "ANSIBLE_CONFIG",
            project.path("ansible.cfg").display().to_string(),
        ),
        ("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json".into()),
        (
            "ANSIBLE_HOME",
            work.join("ansible-home").display().to_string(),
        ),
        (
            "ANSIBLE_LOCAL_TEMP",
            work.join("ansible-tmp").display().to_string(),
        ),
        ("ANSIBLE_NOCOLOR", "1".into()),
    ];
    let out = run_isolated(target, work, true, &argv, &env, &project.dir.path);
    let mut run = engine_run(&out, ansible_result);
    if let Some(doc) = json_doc(&out.stdout) {
        run.changed = doc["stats"][HOST]["changed"].as_u64().unwrap_or(0);
    }
    run
}

/// `prov apply` on `root` (or `--check --diff`).
fn run_prov(project: &Project, target: &Target, work: &Path, check: bool) -> EngineRun {
    let mut argv: Vec<OsString> = vec![
        env!("CARGO_BIN_EXE_prov").into(),
        "apply".into(),
        "site.yml".into(),
        "-i".into(),
        "prov.yml".into(),
        "--limit".into(),
        HOST.into(),
        "--chroot".into(),
        target.root.path.clone().into(),
        "--format".into(),
        "json".into(),
    ];
    if check {
        argv.extend(["--check".into(), "--diff".into()]);
    }
    let env = [
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        ),
        (
            "PROV_ANSIBLE_PYTHON",
            logging_python(work).display().to_string(),
        ),
        ("NO_COLOR", "1".into()),
        // As common::isolate: no run logs in /root/.local/state, no journal.
        ("XDG_STATE_HOME", common::state_home().display().to_string()),
        ("PROV_NO_JOURNAL", "1".into()),
    ];
    let log = work.join("ansible-modules.log");
    let _ = std::fs::remove_file(&log);
    let out = run_isolated(target, work, false, &argv, &env, &project.dir.path);
    let mut run = engine_run(&out, prov_result);
    if let Some(doc) = json_doc(&out.stdout) {
        run.changed = doc["stats"][HOST]["changed"].as_u64().unwrap_or(0);
    }
    let requests = std::fs::read_to_string(&log).unwrap_or_default();
    let module = regex::Regex::new(r#""module":"([^"]+)""#).unwrap();
    let names: BTreeSet<String> = module
        .captures_iter(&requests)
        .map(|c| c[1].to_string())
        .collect();
    run.via_ansible = names.into_iter().collect();
    run
}

/// The venv's Python behind a script that appends what it reads on stdin to
/// `ansible-modules.log`: prov sends it one JSON request per module it lacks
/// (`{"module": NAME, ...}`, src/engine/foreign.rs).
fn logging_python(work: &Path) -> PathBuf {
    let script = work.join("python3");
    let text = format!(
        "#!/bin/sh\ntee -a {} | exec {} \"$@\"\n",
        work.join("ansible-modules.log").display(),
        ansible_python().display()
    );
    std::fs::write(&script, text).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    script
}

/// What a run printed and returned.
struct Output {
    code: i32,
    seconds: f64,
    stdout: String,
    stderr: String,
}

/// Run `argv` in the isolation described in the module doc, with exactly `env`, and wait (up
/// to [`TIMEOUT`]). `prepare` mounts sys, dev and run and writes a policy-rc.d as prov does
/// (for Ansible); proc and the /proc/sys copy are mounted for both engines.
fn run_isolated(
    target: &Target,
    work: &Path,
    prepare: bool,
    argv: &[OsString],
    env: &[(&str, String)],
    cwd: &Path,
) -> Output {
    let init = work.join("systemd");
    if !init.exists() {
        std::os::unix::fs::symlink("/bin/sh", &init).unwrap();
    }
    let (stdout, stderr) = (work.join("stdout"), work.join("stderr"));
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--net", "--pid", "--uts", "--ipc", "--fork"])
        .args(["--kill-child", "--propagation", "private"])
        .args([
            "setpriv",
            "--bounding-set",
            "-sys_module,-sys_boot,-sys_time",
        ])
        .arg(&init)
        .args(["-c", ISOLATED, "systemd"])
        .arg(&target.root.path)
        .arg(&target.proc_sys)
        .arg(if prepare { "1" } else { "0" })
        .args(argv)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .env("HOME", "/root")
        .env("LANG", "C.UTF-8")
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("unshare");
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code().unwrap_or(-1);
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break -2;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    Output {
        code,
        seconds: start.elapsed().as_secs_f64(),
        stdout: read(&stdout),
        stderr: read(&stderr),
    }
}

/// PID 1 of a run: `$1` the root, `$2` the /proc/sys copy, `$3` 1 to prepare the root as prov
/// does, then the command. It runs from a link named `systemd`.
const ISOLATED: &str = r#"
set -eu
root=$1 sys=$2 prepare=$3
shift 3
hostname compat-target
# The copy was taken outside this UTS namespace: the host name as uname(2) now says.
cat /proc/sys/kernel/hostname > "$sys/kernel/hostname"
ip link set lo up 2>/dev/null || true
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount --bind "$sys" "$root/proc/sys"
if [ "$prepare" = 1 ]; then
    mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
    mount -t tmpfs -o mode=0755,nosuid,noexec tmpfs "$root/dev"
    for d in null zero full random urandom tty; do
        : > "$root/dev/$d"
        mount --bind "/dev/$d" "$root/dev/$d"
    done
    mkdir "$root/dev/pts" "$root/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
    ln -s pts/ptmx "$root/dev/ptmx"
    ln -s /proc/self/fd "$root/dev/fd"
    ln -s /proc/self/fd/0 "$root/dev/stdin"
    ln -s /proc/self/fd/1 "$root/dev/stdout"
    ln -s /proc/self/fd/2 "$root/dev/stderr"
    mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
    mkdir -p "$root/run/sshd" "$root/run/lock"
    chmod 1777 "$root/run/lock"
    printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
fi
rc=0
"$@" || rc=$?
if [ "$prepare" = 1 ]; then rm -f "$root/usr/sbin/policy-rc.d"; fi
exit $rc
"#;

/// A directory tree with the files of /proc/sys and their current values (unreadable ones
/// empty): what `sysctl -w` and `sysctl -p` may write in a chroot run.
fn copy_proc_sys(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let Ok(list) = std::fs::read_dir(from) else {
        return;
    };
    for e in list.flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        match e.file_type() {
            Ok(t) if t.is_dir() => copy_proc_sys(&src, &dst),
            Ok(t) if t.is_file() => {
                std::fs::write(&dst, std::fs::read(&src).unwrap_or_default()).unwrap()
            }
            _ => {}
        }
    }
}

/// The JSON document an engine printed (Ansible's json callback, `prov --format json`).
fn json_doc(stdout: &str) -> Option<Value> {
    serde_json::from_str(&stdout[stdout.find('{')?..]).ok()
}

/// Calls `f(task name, host result)` for every task result of the target, in order.
fn for_each_result(doc: &Value, mut f: impl FnMut(String, &Value)) {
    for play in doc["plays"].as_array().into_iter().flatten() {
        for t in play["tasks"].as_array().into_iter().flatten() {
            let r = &t["hosts"][HOST];
            if !r.is_null() {
                f(t["task"]["name"].as_str().unwrap_or("?").to_string(), r);
            }
        }
    }
}

/// How a host result reads: (changed, failed and not ignored, message).
type ResultReader = fn(&Value) -> (bool, bool, Option<String>);

/// A failed task is not counted as changed (Ansible's recap does not; its result may say
/// `changed: true`, as a failed command's does).
fn ansible_result(r: &Value) -> (bool, bool, Option<String>) {
    let failed = r["failed"] == true || r["unreachable"] == true;
    (r["changed"] == true && !failed, failed, failure_message(r))
}

fn prov_result(r: &Value) -> (bool, bool, Option<String>) {
    let failed = (r["status"] == "failed" && r["ignored"] != true) || r["status"] == "unreachable";
    (r["status"] == "changed", failed, failure_message(r))
}

/// A failed result's message: its `msg` (and stderr where the module gave one), then the first
/// failed loop item's (Ansible's `results`, prov's `items`).
fn failure_message(r: &Value) -> Option<String> {
    let one = |r: &Value| {
        let mut m = r["msg"].as_str().unwrap_or_default().to_string();
        for key in ["stderr", "module_stderr"] {
            // Ansible's result has them at the top, prov's JSON under `result`.
            let v = r.get(key).or_else(|| r["result"].get(key));
            if let Some(s) = v.and_then(Value::as_str).filter(|s| !s.is_empty()) {
                m = format!("{m} [{key}: {}]", s.trim());
            }
        }
        (!m.is_empty()).then_some(m)
    };
    let items = r["results"].as_array().or(r["items"].as_array());
    let item = items
        .into_iter()
        .flatten()
        .find(|i| i["failed"] == true || i["status"] == "failed");
    let top = one(r).or_else(|| one(&r["result"]));
    match (top, item.and_then(one)) {
        (Some(t), Some(i)) => Some(format!("{t}: {i}")),
        (t, i) => t.or(i),
    }
}

/// The common part of reading a run: exit code, time, changed tasks, the failure. An engine
/// skips a host's remaining tasks after a fatal failure, so the last failed task of a failed
/// run is the fatal one (Ansible's JSON does not mark ignored failures; they come before it,
/// as do failures a `rescue` handled).
fn engine_run(out: &Output, read: ResultReader) -> EngineRun {
    let mut run = EngineRun {
        ok: out.code == 0,
        exit_code: out.code,
        seconds: out.seconds,
        ..EngineRun::default()
    };
    let mut failures = Vec::new();
    if let Some(doc) = json_doc(&out.stdout) {
        for_each_result(&doc, |name, r| {
            let (changed, failed, msg) = read(r);
            if changed {
                run.changed_tasks.push(name.clone());
            }
            if failed {
                failures.push((name, msg));
            }
        });
    }
    if !run.ok {
        let fatal = failures.pop();
        let tail: Vec<&str> = out.stderr.lines().rev().take(15).collect();
        let stderr = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
        match fatal {
            Some((task, msg)) => {
                run.failed_task = Some(task);
                run.message = msg.or(Some(stderr));
            }
            None if out.code == -2 => run.message = Some("timed out".into()),
            None => run.message = Some(stderr),
        }
    }
    run
}
