//! The scale mode (`--scale 20,50,100,200`): prov alone, on up to a few hundred SSH test hosts,
//! measuring a no-change apply's wall time and the controller's peak RSS at each fleet size.
//!
//! The largest fleet is started once (overlay roots sharing the one cached base, one sshd
//! each, started [`crate::common::ssh::START_PARALLEL`] at a time) and converged by one first
//! apply, itself verified; each size then applies to the first N hosts. Per run and size:
//! a *cold* no-change apply (new connections), and, when the prov binary has `--persist`, a
//! *warm* one: an unmeasured `--persist 10m` apply, the measured `--persist 10m` apply, then
//! `prov agent stop`. Every measured run must report no change and leave every host's root
//! right (tests/common/worker.rs). Forks: prov's own configuration (the repository's
//! ansible.cfg says 50, as for the 20- and 50-host rows of the main tables) unless `--forks N`.
//!
//! Teardown: the whole mode runs as PID 1 of a PID namespace of its own, in a private mount
//! namespace (`unshare --pid --mount --mount-proc --kill-child`), with its temporary files
//! under a directory of their own. However it ends (done, a panic, Ctrl-C, SIGTERM, SIGKILL of
//! the outer process) the kernel kills every process in that namespace (hosts, sshd, sessions,
//! a persistent agent) and drops its mounts (the overlays) with it; the outer process then
//! removes the temporary directory and the cgroups.

use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::common::ssh::{Client, SshHost};
use crate::common::worker::worker_problems;
use crate::common::{RepoServer, repo_root};
use crate::engines::{self, Engine, Scenario, Setup, Tools};
use crate::measure::{self, Cgroup, TargetSample, Usage};
use crate::report::{machine, median};

/// Set (to the outer process's pid) in the namespaced run; names its cgroups.
pub const OUTER_PID: &str = "PROV_BENCH_OUTER_PID";

/// What `--scale` asks for.
pub struct ScaleOptions {
    pub sizes: Vec<usize>,
    pub runs: usize,
    pub forks: Option<usize>,
    pub logs: Option<PathBuf>,
    pub out: Option<PathBuf>,
}

/// One measured no-change apply.
struct Sample {
    hosts: usize,
    warm: bool,
    usage: Usage,
    target: TargetSample,
    /// The persistent agent's peak RSS (MiB), for warm runs.
    agent_rss_mb: Option<f64>,
    problems: Vec<String>,
}

/// Run the scale mode; the process's exit code.
pub fn main(o: &ScaleOptions) -> i32 {
    if std::env::var_os(OUTER_PID).is_none() {
        outer()
    } else {
        inner(o)
    }
}

extern "C" fn ignore(_: libc::c_int) {}

extern "C" fn exit_now(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe. As PID 1 of the namespace, exiting kills the rest.
    unsafe { libc::_exit(128 + sig) };
}

fn on_signals(handler: extern "C" fn(libc::c_int)) {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installing a handler that only calls async-signal-safe functions (or none).
        unsafe { libc::signal(sig, handler as usize) };
    }
}

/// Re-run this benchmark in namespaces of its own, then remove what it left on disk.
fn outer() -> i32 {
    let id = std::process::id();
    let tmp = std::env::temp_dir().join(format!("prov-bench-scale-{id}"));
    std::fs::create_dir_all(&tmp).unwrap();
    // Survive Ctrl-C to clean up after the inner run (a handler, unlike SIG_IGN, is not
    // inherited across exec).
    on_signals(ignore);
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--kill-child",
        "--mount",
        "--mount-proc",
        "--propagation",
        "private",
    ])
    .arg(std::env::current_exe().unwrap())
    .args(std::env::args_os().skip(1))
    .env(OUTER_PID, id.to_string())
    .env("TMPDIR", &tmp);
    // SAFETY: prctl is async-signal-safe; if this process dies, unshare (and with
    // --kill-child, the namespace's PID 1, so everything in it) is killed too.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let status = cmd.status().expect("unshare");
    // Everything in the namespaces is gone with them (their mounts were never visible here),
    // so these are plain directories now.
    let _ = std::fs::remove_dir_all(&tmp);
    let prefix = measure::cgroup_prefix_for(&id.to_string());
    if let Ok(dir) = std::fs::read_dir("/sys/fs/cgroup/cpuacct") {
        for e in dir.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_dir(e.path());
            }
        }
    }
    status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
    })
}

fn log(msg: &str) {
    crate::log(msg)
}

/// Whether this prov binary keeps connections between runs.
fn has_persist(prov: &Path) -> bool {
    Command::new(prov)
        .args(["apply", "--help"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("--persist"))
        .unwrap_or(false)
}

/// The `changed` counts of prov's JSON recap, summed (None when the output is not JSON).
fn changes(stdout: &str) -> Option<u64> {
    let doc: serde_json::Value = serde_json::from_str(stdout).ok()?;
    Some(
        doc["stats"]
            .as_object()?
            .values()
            .map(|s| s["changed"].as_u64().unwrap_or(0))
            .sum(),
    )
}

/// Peak RSS (VmHWM, MiB) of the prov processes still running (the persistent agent, after a
/// run has exited); this PID namespace shows only the benchmark's own processes.
fn agent_rss_mb(prov: &Path) -> Option<f64> {
    let prov = std::fs::canonicalize(prov).ok()?;
    let mut peak: Option<f64> = None;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let p = e.path();
        if std::fs::read_link(p.join("exe")).ok().as_deref() != Some(prov.as_path()) {
            continue;
        }
        let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
        if let Some(kb) = kb {
            peak = Some(peak.map_or(kb / 1024.0, |m: f64| m.max(kb / 1024.0)));
        }
    }
    peak
}

struct Ctx<'a> {
    tools: &'a Tools,
    client: &'a Client,
    url: String,
    keys: String,
    forks: Option<usize>,
    logs: Option<&'a Path>,
}

impl Ctx<'_> {
    fn prov(&self, setup: &Setup, scenario: Scenario, persist: bool) -> Command {
        let mut cmd = engines::command(
            Engine::Prov,
            self.tools,
            setup,
            self.client,
            &self.url,
            scenario,
            None,
        );
        if let Some(f) = self.forks {
            cmd.args(["--forks", &f.to_string()]);
        }
        if persist {
            cmd.args(["--persist", "10m"]);
        }
        cmd
    }

    /// Run prov on the first `n` hosts and verify the result.
    fn measure(
        &self,
        hosts: &[SshHost],
        cgroup: Option<&Cgroup>,
        setup: &Setup,
        scenario: Scenario,
        warm: bool,
    ) -> Sample {
        let before = TargetSample::take(hosts, cgroup);
        let usage = measure::run_counting_fds(&mut self.prov(setup, scenario, warm));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let target = TargetSample::take(hosts, cgroup).since(before);
        let agent_rss_mb = warm.then(|| agent_rss_mb(&self.tools.prov)).flatten();
        let mut problems = Vec::new();
        if usage.code != 0 {
            let tail: Vec<&str> = usage.stderr.lines().rev().take(8).collect();
            problems.push(format!("exit code {}: {}", usage.code, tail.join(" | ")));
        }
        if scenario == Scenario::NoChange {
            match changes(&usage.stdout) {
                Some(0) => {}
                other => problems.push(format!("reported changes: {other:?}")),
            }
        }
        for (i, h) in hosts.iter().enumerate() {
            problems.extend(worker_problems(
                &h.root,
                &engines::node_ip(i + 1),
                &self.keys,
            ));
        }
        if let Some(dir) = self.logs {
            let _ = std::fs::create_dir_all(dir);
            let name = format!(
                "scale-{}-{}-{}.log",
                hosts.len(),
                format!("{scenario:?}").to_lowercase(),
                if warm { "warm" } else { "cold" }
            );
            let _ = std::fs::write(
                dir.join(name),
                format!("{}\n--- stderr\n{}", usage.stdout, usage.stderr),
            );
        }
        Sample {
            hosts: hosts.len(),
            warm,
            usage,
            target,
            agent_rss_mb,
            problems,
        }
    }
}

fn describe(s: &Sample, what: &str) -> String {
    format!(
        "{what:<24} {:>3} hosts  {:>7.2}s  {:>6.1} MB  {:>4} fds  {}",
        s.hosts,
        s.usage.wall,
        s.usage.rss_mb,
        s.usage.peak_fds.unwrap_or(0),
        if s.problems.is_empty() {
            "ok".to_string()
        } else {
            let shown: Vec<&str> = s.problems.iter().take(3).map(String::as_str).collect();
            format!("WRONG ({}): {}", s.problems.len(), shown.join("; "))
        }
    )
}

/// The namespaced run: start the fleet, converge it, measure every size.
fn inner(o: &ScaleOptions) -> i32 {
    on_signals(exit_now);
    let started = Instant::now();
    let tools = Tools::find();
    let warm = has_persist(&tools.prov);
    let server = RepoServer::start();
    let client = Client::new();
    let ctx = Ctx {
        tools: &tools,
        client: &client,
        url: server.url(),
        keys: std::fs::read_to_string(server.dir.join("boxp.keys")).unwrap(),
        forks: o.forks,
        logs: o.logs.as_deref(),
    };
    let max = o.sizes.iter().copied().max().unwrap_or(0);
    log(&format!("starting {max} SSH test hosts"));
    let t = Instant::now();
    let hosts = SshHost::many_logging("scale", max, &client, "VERBOSE");
    let start_secs = t.elapsed().as_secs_f64();
    log(&format!("{max} hosts up in {start_secs:.1}s"));
    crate::prepare_roots(hosts.iter().map(|h| &h.root));
    client.trust(&hosts.iter().collect::<Vec<_>>());
    let cgroup = Cgroup::new(&hosts);
    let names: Vec<(String, u16)> = hosts.iter().map(|h| (h.name.clone(), h.port)).collect();
    let setups: Vec<(usize, Setup)> = o
        .sizes
        .iter()
        .map(|&n| (n, Setup::new(&client, &names[..n], None)))
        .collect();
    let all = Setup::new(&client, &names, None);
    let first = ctx.measure(&hosts, cgroup.as_ref(), &all, Scenario::First, false);
    log(&describe(&first, "first apply"));
    if !first.problems.is_empty() {
        eprintln!(
            "the first apply did not converge the fleet: {:#?}",
            first.problems
        );
        return 1;
    }
    let mut samples = Vec::new();
    for run in 0..o.runs {
        for (n, setup) in &setups {
            let subset = &hosts[..*n];
            let s = ctx.measure(subset, cgroup.as_ref(), setup, Scenario::NoChange, false);
            log(&describe(&s, &format!("run {} cold", run + 1)));
            samples.push(s);
            if warm {
                let w = ctx.measure(subset, cgroup.as_ref(), setup, Scenario::NoChange, true);
                log(&describe(&w, "warm-up (--persist)"));
                let s = ctx.measure(subset, cgroup.as_ref(), setup, Scenario::NoChange, true);
                log(&describe(&s, &format!("run {} warm", run + 1)));
                let stop = Command::new(&tools.prov)
                    .args(["agent", "stop"])
                    .env("HOME", &client.home)
                    .current_dir(repo_root())
                    .output();
                let mut s = s;
                match stop {
                    Ok(out) if out.status.success() => {}
                    other => s.problems.push(format!("prov agent stop: {other:?}")),
                }
                s.problems
                    .extend(w.problems.iter().map(|p| format!("warm-up: {p}")));
                samples.push(s);
            }
        }
    }
    let text = report(
        &samples,
        &tools,
        o,
        warm,
        start_secs,
        started.elapsed().as_secs_f64(),
    );
    match &o.out {
        Some(p) => {
            std::fs::write(p, &text).unwrap();
            log(&format!("wrote {}", p.display()));
        }
        None => println!("{text}"),
    }
    if samples.iter().any(|s| !s.problems.is_empty()) {
        1
    } else {
        0
    }
}

/// One row's figures: median over the correct runs.
struct Row {
    hosts: usize,
    wall: Vec<f64>,
    cpu: f64,
    rss: f64,
    fds: f64,
    target_cpu: Option<f64>,
    connections: f64,
    correct: usize,
    total: usize,
}

fn rows(samples: &[Sample], warm: bool, sizes: &[usize]) -> Vec<Row> {
    sizes
        .iter()
        .map(|&n| {
            let all: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.hosts == n && s.warm == warm)
                .collect();
            let ok: Vec<&Sample> = all
                .iter()
                .copied()
                .filter(|s| s.problems.is_empty())
                .collect();
            let m = |f: &dyn Fn(&Sample) -> f64| median(ok.iter().map(|s| f(s)).collect());
            Row {
                hosts: n,
                wall: ok.iter().map(|s| s.usage.wall).collect(),
                cpu: m(&|s| s.usage.cpu),
                rss: m(&|s| match s.agent_rss_mb {
                    Some(a) => a.max(s.usage.rss_mb),
                    None => s.usage.rss_mb,
                }),
                fds: m(&|s| s.usage.peak_fds.unwrap_or(0) as f64),
                target_cpu: ok
                    .iter()
                    .all(|s| s.target.cpu.is_some())
                    .then(|| m(&|s| s.target.cpu.unwrap_or(0.0))),
                connections: m(&|s| s.target.connections as f64 / n as f64),
                correct: ok.len(),
                total: all.len(),
            }
        })
        .collect()
}

fn table(out: &mut String, rows: &[Row]) {
    let _ = writeln!(
        out,
        "| hosts | wall s, median (min-max) | s/host | step: s per added host | controller CPU s | peak RSS MB | MB/host | step: MB per added host | peak open fds | target CPU s | connections / host | correct runs |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let mut prev: Option<(usize, f64, f64)> = None;
    for r in rows {
        let wall = median(r.wall.clone());
        let (lo, hi) = r
            .wall
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), &w| (a.min(w), b.max(w)));
        let n = r.hosts as f64;
        let step = |now: f64, before: Option<f64>, prev_n: usize| match before {
            Some(b) if r.hosts > prev_n => format!("{:.4}", (now - b) / (n - prev_n as f64)),
            _ => "-".into(),
        };
        let (pn, pw, pr) = prev.map_or((0, None, None), |(a, b, c)| (a, Some(b), Some(c)));
        let _ = writeln!(
            out,
            "| {} | {wall:.2} ({lo:.2}-{hi:.2}) | {:.4} | {} | {:.2} | {:.0} | {:.3} | {} | {:.0} | {} | {:.0} | {}/{} |",
            r.hosts,
            wall / n,
            step(wall, pw, pn),
            r.cpu,
            r.rss,
            r.rss / n,
            step(r.rss, pr, pn),
            r.fds,
            r.target_cpu.map_or("-".into(), |c| format!("{c:.1}")),
            r.connections,
            r.correct,
            r.total
        );
        prev = Some((r.hosts, wall, r.rss));
    }
}

fn goal(out: &mut String, text: &str, measured: String, met: Option<bool>) {
    let mark = match met {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "-",
    };
    let _ = writeln!(out, "| {text} | {measured} | {mark} |");
}

/// Flat growth: the seconds (or MB) each added host costs at the last step are at most 1.5x
/// what they cost at the first step (and the per-host figure does not grow with size).
fn flat(rows: &[Row], value: &dyn Fn(&Row) -> f64) -> (String, Option<bool>) {
    let steps: Vec<f64> = rows
        .windows(2)
        .map(|w| (value(&w[1]) - value(&w[0])) / (w[1].hosts as f64 - w[0].hosts as f64))
        .collect();
    let text = steps
        .iter()
        .map(|s| format!("{s:.4}"))
        .collect::<Vec<_>>()
        .join(", ");
    match (steps.first(), steps.last()) {
        (Some(&a), Some(&b)) if a.is_finite() && b.is_finite() => (
            format!("per added host, step by step: {text}"),
            Some(b <= 1.5 * a.max(0.0) + 1e-9),
        ),
        _ => ("not measured".into(), None),
    }
}

fn report(
    samples: &[Sample],
    tools: &Tools,
    o: &ScaleOptions,
    warm: bool,
    start_secs: f64,
    took: f64,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Scale: no-change apply on up to {} hosts\n",
        o.sizes.iter().max().unwrap_or(&0)
    );
    let _ = writeln!(out, "- Machine: {}", machine());
    for v in tools.versions().into_iter().take(1) {
        let _ = writeln!(out, "- {v}");
    }
    let _ = writeln!(
        out,
        "- Method: `cargo bench --bench compare -- --scale {}` ({} run(s), forks {}); the largest fleet started once ({start_secs:.0} s), converged by one verified first apply, then every size applied to its first N hosts; cold: new connections; warm: {}. Every measured run reported no change and was verified by reading every host's root. Times: median (min-max); CPU, RSS (GNU time), open fds and target CPU: medians. {:.0} minutes in all.\n",
        o.sizes
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(","),
        o.runs,
        o.forks
            .map_or("from ansible.cfg (50)".to_string(), |f| f.to_string()),
        if warm {
            "after one `--persist 10m` apply, the measured `--persist 10m` apply (RSS: the larger of the run's and the agent's), then `prov agent stop`"
        } else {
            "not measured (this prov has no `--persist`)"
        },
        took / 60.0
    );
    let cold = rows(samples, false, &o.sizes);
    let _ = writeln!(out, "| goal | measured | |\n|---|---|---|");
    let biggest = cold.last();
    if let Some(r) = biggest.filter(|r| !r.wall.is_empty()) {
        let w = median(r.wall.clone());
        goal(
            &mut out,
            &format!("{} hosts no-change cold <= 10 s", r.hosts),
            format!("{w:.2} s"),
            Some(w <= 10.0),
        );
        goal(
            &mut out,
            &format!("controller peak RSS at {} hosts <= 150 MB", r.hosts),
            format!("{:.0} MB", r.rss),
            Some(r.rss <= 150.0),
        );
    }
    let (t, m) = flat(&cold, &|r| median(r.wall.clone()));
    goal(
        &mut out,
        "time growth per host stays flat (last step <= 1.5x the first), s",
        t,
        m,
    );
    let (t, m) = flat(&cold, &|r| r.rss);
    goal(
        &mut out,
        "memory growth per host stays flat (last step <= 1.5x the first), MB",
        t,
        m,
    );
    let _ = writeln!(out, "\n### cold (new connections)\n");
    table(&mut out, &cold);
    if warm {
        let _ = writeln!(out, "\n### warm (`--persist`)\n");
        table(&mut out, &rows(samples, true, &o.sizes));
    }
    out
}
