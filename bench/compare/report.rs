//! bench/RESULTS.md: versions, machine, one table per scenario, the goals with their measured
//! values, and where prov's time goes.

use std::fmt::Write as _;
use std::time::Duration;

use crate::Sample;
use crate::engines::{ALL, Engine, Scenario, Tools};

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The runs of one engine/scenario/host count.
fn pick(s: &[Sample], e: Engine, sc: Scenario, hosts: usize) -> Vec<&Sample> {
    s.iter()
        .filter(|x| x.engine == e && x.scenario == sc && x.hosts == hosts)
        .collect()
}

/// Median wall time of the correct runs.
fn wall(s: &[Sample], e: Engine, sc: Scenario, hosts: usize) -> Option<f64> {
    let ok: Vec<f64> = pick(s, e, sc, hosts)
        .into_iter()
        .filter(|x| x.problems.is_empty())
        .map(|x| x.usage.wall)
        .collect();
    (!ok.is_empty()).then(|| median(ok))
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|m| m.trim().to_string()))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} cores ({cpu}), {mem} memory, Linux {}",
        kernel.trim()
    )
}

fn goal(out: &mut String, text: &str, measured: Option<(f64, f64)>, want: f64, unit: &str) {
    let (value, cell) = match measured {
        Some((a, b)) if a.is_finite() && b.is_finite() && b > 0.0 => {
            let r = a / b;
            (Some(r), format!("{r:.1}{unit}"))
        }
        _ => (None, "not measured".into()),
    };
    let mark = match value {
        Some(v) if v >= want => "met",
        Some(_) => "**not met**",
        None => "-",
    };
    let _ = writeln!(out, "| {text} | {cell} | {mark} |");
}

pub fn markdown(
    samples: &[Sample],
    tools: &Tools,
    host_counts: &[usize],
    runs: usize,
    took: Duration,
) -> String {
    let mut out = String::new();
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# Benchmark results: prov vs Ansible, pyinfra and ansible-core-rs\n"
    );
    let _ = writeln!(
        out,
        "Written by `cargo bench --bench compare` (bench/compare/) on {date}, in {:.0} minutes.\n",
        took.as_secs_f64() / 60.0
    );
    let _ = writeln!(out, "- Machine: {}", machine());
    for v in tools.versions() {
        let _ = writeln!(out, "- {v}");
    }
    let _ = writeln!(
        out,
        "- Workload: the Kubernetes worker state of `playbooks/worker.yml` (sshd hardening with validate, user + sudoers + authorized_keys from the local keys endpoint, netplan, signed deb822 repositories, pinned and held kubelet/kubeadm/kubectl/cri-o, modules-load, sysctl, swap off, kubelet defaults, units enabled), against the tests' SSH hosts (each an overlay Debian root with its own sshd in its own namespaces on 127.0.0.1; they see themselves as chroots, so no engine restarts services) and one chroot. Apt repositories and keys are served on 127.0.0.1."
    );
    let _ = writeln!(
        out,
        "- Method: {runs} run(s) per engine; each run goes through every host count and then the chroot (so that both ends of the growth comparison see the machine in the same state), engines alternating; each series on fresh hosts: first apply, second apply (nothing to change), `--check --diff` after 4 drifted items per host. Every run is checked by reading each host's root (tests/common/worker.rs); a run that leaves a wrong state, or changes anything in check mode, counts as wrong and has no time. At 50 hosts, one run of every engine but prov. Times: median (min-max) of the correct runs. Controller CPU comes from wait4 (the engine and every process it waited for), peak RSS from GNU time around the engine (the largest process's); target CPU is the CPU time of the hosts' sshd and everything it ran; sessions and connections are counted by the hosts' sshd (LogLevel VERBOSE).\n"
    );

    // Goals.
    let n20 = host_counts.iter().copied().find(|&n| n == 20);
    let at = |e: Engine, sc: Scenario, n: usize| wall(samples, e, sc, n);
    let ratio = |e: Engine, sc: Scenario, n: usize| -> Option<(f64, f64)> {
        Some((at(e, sc, n)?, at(Engine::Prov, sc, n)?))
    };
    let _ = writeln!(out, "## Goals\n");
    let _ = writeln!(out, "| goal | measured | |\n|---|---|---|");
    if let Some(n) = n20 {
        goal(
            &mut out,
            "second apply, 20 hosts: >= 10x faster than pyinfra",
            ratio(Engine::Pyinfra, Scenario::NoChange, n),
            10.0,
            "x",
        );
        goal(
            &mut out,
            "second apply, 20 hosts: >= 100x faster than stock Ansible",
            ratio(Engine::Ansible, Scenario::NoChange, n),
            100.0,
            "x",
        );
        goal(
            &mut out,
            "first apply, 20 hosts: >= 2x faster than pyinfra",
            ratio(Engine::Pyinfra, Scenario::First, n),
            2.0,
            "x",
        );
        goal(
            &mut out,
            "check + diff after drift, 20 hosts: >= 10x faster than pyinfra",
            ratio(Engine::Pyinfra, Scenario::CheckDrift, n),
            10.0,
            "x",
        );
        goal(
            &mut out,
            "second apply, 20 hosts, warm connections (`--persist`): >= 3x faster than cold",
            at(Engine::Prov, Scenario::NoChange, n).zip(at(
                Engine::ProvWarm,
                Scenario::NoChange,
                n,
            )),
            3.0,
            "x",
        );
    }
    goal(
        &mut out,
        "chroot, no-change apply: >= 10x faster than pyinfra",
        ratio(Engine::Pyinfra, Scenario::NoChange, 0),
        10.0,
        "x",
    );
    if let (Some(a), Some(b)) = (
        at(Engine::Prov, Scenario::NoChange, 20),
        at(Engine::Prov, Scenario::NoChange, 50),
    ) {
        let _ = writeln!(
            out,
            "| no change, 20 -> 50 hosts grows sub-linearly (< 2.5x) | {:.2}x ({a:.2} s -> {b:.2} s) | {} |",
            b / a,
            if b / a < 2.5 { "met" } else { "**not met**" }
        );
    }
    let rss = samples
        .iter()
        .filter(|s| s.engine == Engine::Prov && s.hosts == 50)
        .map(|s| s.usage.rss_mb)
        .fold(f64::NAN, f64::max);
    if rss.is_finite() {
        let _ = writeln!(
            out,
            "| prov controller peak RSS at 50 hosts < 100 MB | {rss:.0} MB | {} |",
            if rss < 100.0 { "met" } else { "**not met**" }
        );
    }
    // Faster than ansible-core-rs wherever it completes.
    let mut acr_cells = Vec::new();
    for sc in [Scenario::First, Scenario::NoChange, Scenario::CheckDrift] {
        for &n in host_counts {
            if let (Some(a), Some(p)) = (at(Engine::AnsibleCoreRs, sc, n), at(Engine::Prov, sc, n))
            {
                acr_cells.push(a / p);
            }
        }
    }
    if !acr_cells.is_empty() {
        let worst = acr_cells.iter().copied().fold(f64::INFINITY, f64::min);
        let _ = writeln!(
            out,
            "| faster than ansible-core-rs in every scenario it completes | slowest ratio {worst:.1}x over {} scenario(s) | {} |",
            acr_cells.len(),
            if worst > 1.0 { "met" } else { "**not met**" }
        );
    } else if samples.iter().any(|s| s.engine == Engine::AnsibleCoreRs) {
        let _ = writeln!(
            out,
            "| faster than ansible-core-rs in every scenario it completes | it completed none (see below) | - |"
        );
    }
    let trips: Vec<f64> = samples
        .iter()
        .filter(|s| s.engine == Engine::Prov && s.scenario == Scenario::NoChange && s.hosts > 0)
        .filter_map(|s| {
            let doc = s.prov_json.as_ref()?;
            let max = doc["plays"]
                .as_array()?
                .iter()
                .flat_map(|p| p["tasks"].as_array().cloned().unwrap_or_default())
                .flat_map(|t| {
                    t["hosts"]
                        .as_object()
                        .map(|m| {
                            m.values()
                                .map(|r| r["round_trips"].as_f64().unwrap_or(0.0))
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default()
                })
                .fold(0.0, f64::max);
            Some(max)
        })
        .collect();
    if !trips.is_empty() {
        let worst = trips.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| no change: at most one round trip per task per host | max {worst:.0} | {} |",
            if worst <= 1.0 { "met" } else { "**not met**" }
        );
    }
    let _ = writeln!(out);

    // One table per scenario.
    for sc in [Scenario::First, Scenario::NoChange, Scenario::CheckDrift] {
        let _ = writeln!(out, "## {}\n", sc.title());
        let _ = writeln!(
            out,
            "| hosts | engine | wall s, median (min-max) | vs prov | controller CPU s | peak RSS MB | target CPU s | SSH sessions / host | connections / host | correct runs |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
        let mut counts: Vec<usize> = host_counts.to_vec();
        counts.push(0);
        for n in counts {
            for e in ALL {
                let runs = pick(samples, e, sc, n);
                if runs.is_empty() {
                    continue;
                }
                let ok: Vec<&&Sample> = runs.iter().filter(|s| s.problems.is_empty()).collect();
                let hosts = if n == 0 {
                    "chroot".to_string()
                } else {
                    n.to_string()
                };
                let per = |f: &dyn Fn(&Sample) -> f64| median(ok.iter().map(|s| f(s)).collect());
                let (time, vs) = if ok.is_empty() {
                    ("wrong".to_string(), "-".to_string())
                } else {
                    let w: Vec<f64> = ok.iter().map(|s| s.usage.wall).collect();
                    let lo = w.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = w.iter().copied().fold(0.0, f64::max);
                    let m = median(w);
                    let vs = match wall(samples, Engine::Prov, sc, n) {
                        Some(p) if e != Engine::Prov => format!("{:.1}x", m / p),
                        Some(_) => "1.0x".into(),
                        None => "-".into(),
                    };
                    (format!("{m:.2} ({lo:.2}-{hi:.2})"), vs)
                };
                let hosts_div = n.max(1) as f64;
                let (sessions, conns) = if n == 0 {
                    ("-".to_string(), "-".to_string())
                } else {
                    (
                        format!("{:.0}", per(&|s| s.target.sessions as f64) / hosts_div),
                        format!("{:.0}", per(&|s| s.target.connections as f64) / hosts_div),
                    )
                };
                let _ = writeln!(
                    out,
                    "| {hosts} | {} | {time} | {vs} | {:.1} | {:.0} | {} | {sessions} | {conns} | {}/{} |",
                    e.name(),
                    per(&|s| s.usage.cpu),
                    per(&|s| s.usage.rss_mb),
                    if n == 0 || ok.iter().any(|s| s.target.cpu.is_none()) {
                        "-".to_string()
                    } else {
                        format!("{:.1}", per(&|s| s.target.cpu.unwrap_or(0.0)))
                    },
                    ok.len(),
                    runs.len()
                );
            }
        }
        let _ = writeln!(out);
    }

    // Where prov's time goes: the no-change run on the most hosts measured.
    if let Some(s) = samples
        .iter()
        .filter(|s| {
            s.engine == Engine::Prov
                && s.scenario == Scenario::NoChange
                && s.hosts > 0
                && s.problems.is_empty()
        })
        .max_by_key(|s| s.hosts)
        && let Some(doc) = &s.prov_json
    {
        let _ = writeln!(
            out,
            "## Where prov's time goes (second apply, {} hosts, {:.2} s)\n",
            s.hosts, s.usage.wall
        );
        let trips = doc["round_trips"].as_object().cloned().unwrap_or_default();
        let connect: Vec<f64> = trips
            .values()
            .filter_map(|t| t["connect_seconds"].as_f64())
            .collect();
        let execs: Vec<f64> = trips.values().filter_map(|t| t["execs"].as_f64()).collect();
        let sent: Vec<f64> = trips
            .values()
            .filter_map(|t| t["bytes_sent"].as_f64())
            .collect();
        let received: Vec<f64> = trips
            .values()
            .filter_map(|t| t["bytes_received"].as_f64())
            .collect();
        let _ = writeln!(
            out,
            "Per host: connecting (TCP, key exchange, authentication) {:.0} ms median; {:.0} scripts run (one per task that reads the host, more for a query that needs a second look); {:.1} KiB sent and {:.1} KiB received (scripts, probes and their answers; medians). Tasks run on all hosts at once (one task after the other, as Ansible's linear strategy); the slowest host decides each task's time.\n",
            median(connect) * 1000.0,
            median(execs),
            median(sent) / 1024.0,
            median(received) / 1024.0
        );
        let _ = writeln!(
            out,
            "| task | median per host ms | max ms | round trips |\n|---|---|---|---|"
        );
        let mut rows: Vec<(String, f64, f64, f64)> = Vec::new();
        for play in doc["plays"].as_array().cloned().unwrap_or_default() {
            for t in play["tasks"].as_array().cloned().unwrap_or_default() {
                let Some(hosts) = t["hosts"].as_object() else {
                    continue;
                };
                let d: Vec<f64> = hosts
                    .values()
                    .filter_map(|r| r["duration"].as_f64())
                    .collect();
                let rt = hosts
                    .values()
                    .filter_map(|r| r["round_trips"].as_f64())
                    .fold(0.0, f64::max);
                let max = d.iter().copied().fold(0.0, f64::max);
                rows.push((
                    t["task"]["name"].as_str().unwrap_or("").to_string(),
                    median(d),
                    max,
                    rt,
                ));
            }
        }
        let total: f64 = rows.iter().map(|r| r.2).sum();
        rows.sort_by(|a, b| b.2.partial_cmp(&a.2).unwrap());
        for (name, med, max, rt) in rows.iter().take(12) {
            let _ = writeln!(
                out,
                "| {name} | {:.1} | {:.1} | {rt:.0} |",
                med * 1000.0,
                max * 1000.0
            );
        }
        let _ = writeln!(
            out,
            "\nThe {} tasks' slowest hosts add up to {:.2} s of the {:.2} s; the rest is start-up, inventory and playbook loading, templating and the recap.\n",
            rows.len(),
            total,
            s.usage.wall
        );
    }

    // What went wrong, engine by engine.
    let wrong: Vec<&Sample> = samples.iter().filter(|s| !s.problems.is_empty()).collect();
    if !wrong.is_empty() {
        let _ = writeln!(out, "## Runs that did not produce the right state\n");
        for s in wrong {
            let mut p = s.problems.clone();
            p.dedup();
            let shown: Vec<String> = p.iter().take(4).cloned().collect();
            let _ = writeln!(
                out,
                "- {} / {} / {}: {}{}",
                s.engine.name(),
                s.scenario.title(),
                if s.hosts == 0 {
                    "chroot".to_string()
                } else {
                    format!("{} hosts", s.hosts)
                },
                shown.join("; "),
                if p.len() > 4 {
                    format!(" (and {} more)", p.len() - 4)
                } else {
                    String::new()
                }
            );
        }
        let _ = writeln!(out);
    }
    out
}
