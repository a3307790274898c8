//! The side-by-side benchmark: prov against Ansible (stock and tuned), pyinfra,
//! ansible-core-rs and a plain-shell baseline, applying the Kubernetes-worker state to N real
//! SSH test hosts on 127.0.0.1 (the tests' overlay-root sshd hosts) and to one chroot.
//!
//! ```text
//! bench/setup.sh                                   # the other engines, pinned, from PyPI
//! cargo bench --bench compare -- [--hosts 1,5,20,50] [--runs 3] [--engines prov,pyinfra,...]
//!                                [--no-chroot] [--out bench/RESULTS.md] [--smoke]
//! cargo bench --bench compare -- --scale 20,50,100,200 [--runs 3] [--forks N] [--out FILE]
//! ```
//!
//! For every host count, run and engine (engines alternate; each gets fresh hosts): a first
//! apply, a second apply that has nothing to change (for `prov-warm`, over the connections its
//! first apply left in the prov agent), and `--check --diff` after four items
//! drifted on every host. Each run is verified by reading every host's root
//! (tests/common/worker.rs): a run that leaves a wrong state is reported as failed, whatever
//! its time. Measured: wall time, controller CPU and peak RSS, target CPU, SSH sessions and
//! connections per host (counted by the hosts' sshd). `--scale` measures prov alone at large
//! fleet sizes instead (scale.rs).

#[path = "../../tests/common/mod.rs"]
mod common;
mod engines;
mod measure;
mod report;
mod scale;

use std::path::{Path, PathBuf};

use common::ssh::{Client, SshHost};
use common::worker::{drift, still_drifted, worker_problems};
use common::{RepoServer, Root};
use engines::{Engine, Scenario, Setup, Tools};
use measure::{Cgroup, TargetSample, Usage};

/// One measured run of one engine.
#[derive(Clone, Debug)]
pub struct Sample {
    pub engine: Engine,
    pub scenario: Scenario,
    /// Host count; 0 for the chroot.
    pub hosts: usize,
    pub usage: Usage,
    pub target: TargetSample,
    /// Everything wrong with the result (empty when correct).
    pub problems: Vec<String>,
    /// Changes the engine reported (where its output says).
    pub reported_changes: Option<u64>,
    /// prov's own JSON document (for the per-phase breakdown).
    pub prov_json: Option<serde_json::Value>,
}

struct Options {
    /// Where to keep every run's output (`--logs DIR`).
    logs: Option<PathBuf>,
    hosts: Vec<usize>,
    runs: usize,
    engines: Vec<Engine>,
    chroot: bool,
    out: Option<PathBuf>,
    /// `--scale 20,50,100,200`: prov alone, no-change, at these fleet sizes (scale.rs).
    scale: Vec<usize>,
    /// `--forks N` for prov in the scale mode.
    forks: Option<usize>,
    /// Whether `--out` was given (the scale mode prints to stdout otherwise).
    out_given: bool,
}

fn options() -> Options {
    let mut o = Options {
        logs: None,
        hosts: vec![1, 5, 20, 50],
        runs: 3,
        engines: engines::ALL.to_vec(),
        chroot: true,
        out: Some(common::repo_root().join("bench/RESULTS.md")),
        scale: Vec::new(),
        forks: None,
        out_given: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--hosts" => {
                o.hosts = value()
                    .split(',')
                    .filter(|n| *n != "none")
                    .map(|n| n.parse().unwrap())
                    .collect()
            }
            "--runs" => o.runs = value().parse().unwrap(),
            "--engines" => {
                o.engines = value()
                    .split(',')
                    .map(|e| Engine::parse(e).unwrap_or_else(|| panic!("unknown engine {e}")))
                    .collect()
            }
            "--no-chroot" => o.chroot = false,
            "--logs" => o.logs = Some(PathBuf::from(value())),
            "--out" => {
                o.out = Some(PathBuf::from(value()));
                o.out_given = true;
            }
            "--scale" => {
                o.scale = value().split(',').map(|n| n.parse().unwrap()).collect();
                o.scale.sort_unstable();
                o.scale.dedup();
                assert!(!o.scale.contains(&0), "--scale: fleet sizes start at 1");
            }
            "--forks" => o.forks = Some(value().parse().unwrap()),
            "--smoke" => {
                o.hosts = vec![1];
                o.runs = 1;
                o.chroot = false;
                o.engines = vec![Engine::Prov];
                o.out = None;
            }
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

/// Changes reported by an engine's output, where it says.
fn reported_changes(engine: Engine, u: &Usage) -> (Option<u64>, Option<serde_json::Value>) {
    match engine {
        Engine::Prov | Engine::ProvWarm => {
            let doc: Option<serde_json::Value> = serde_json::from_str(&u.stdout).ok();
            let n = doc.as_ref().map(|d| {
                d["stats"]
                    .as_object()
                    .map(|m| m.values().map(|s| s["changed"].as_u64().unwrap_or(0)).sum())
                    .unwrap_or(0)
            });
            (n, doc)
        }
        Engine::Ansible | Engine::AnsibleTuned | Engine::AnsibleCoreRs => {
            // PLAY RECAP lines: "host : ok=N changed=N ..."
            let n = u
                .stdout
                .lines()
                .filter_map(|l| l.split("changed=").nth(1))
                .filter_map(|r| r.split_whitespace().next()?.parse::<u64>().ok())
                .sum();
            (Some(n), None)
        }
        Engine::Pyinfra => {
            // The results table: "host   | success | error | changed ..." differs between
            // versions; count "Changed" summary figures when present.
            (None, None)
        }
        Engine::Shell => (None, None),
    }
}

/// Run one engine on a set of targets and verify the result.
#[allow(clippy::too_many_arguments)]
fn measure_one(
    engine: Engine,
    scenario: Scenario,
    tools: &Tools,
    setup: &Setup,
    client: &Client,
    server: &RepoServer,
    fleet: &Fleet,
    chroot: Option<&Root>,
    keys: &str,
) -> Sample {
    let hosts = &fleet.hosts;
    let before = TargetSample::take(hosts, fleet.cgroup.as_ref());
    let mut cmd = engines::command(
        engine,
        tools,
        setup,
        client,
        &server.url(),
        scenario,
        chroot.map(|r| r.path.as_path()),
    );
    let usage = measure::run(&mut cmd);
    // Let sshd reap the sessions before reading its counters.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let target = TargetSample::take(hosts, fleet.cgroup.as_ref()).since(before);
    let mut problems = Vec::new();
    if usage.code != 0 {
        let tail: Vec<&str> = usage
            .stdout
            .lines()
            .chain(usage.stderr.lines())
            .filter(|l| !l.trim().is_empty())
            .collect();
        let tail = tail[tail.len().saturating_sub(8)..].join(" | ");
        problems.push(format!("exit code {}: {tail}", usage.code));
    }
    let roots: Vec<(&Root, String)> = match chroot {
        Some(r) => vec![(r, engines::node_ip(1))],
        None => hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (&h.root, engines::node_ip(i + 1)))
            .collect(),
    };
    for (root, ip) in roots {
        let found = if scenario == Scenario::CheckDrift {
            still_drifted(root)
        } else {
            worker_problems(root, &ip, keys)
        };
        problems.extend(found);
    }
    let (reported_changes, prov_json) = reported_changes(engine, &usage);
    Sample {
        engine,
        scenario,
        hosts: if chroot.is_some() { 0 } else { hosts.len() },
        usage,
        target,
        problems,
        reported_changes,
        prov_json,
    }
}

pub fn log(msg: &str) {
    eprintln!("[{}] {msg}", chrono_now());
}

fn chrono_now() -> String {
    let out = std::process::Command::new("date")
        .arg("+%H:%M:%S")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    out.unwrap_or_default()
}

/// What the workload expects of a fresh target: a cloud image's sshd drop-in and an fstab
/// with a swap line (both of which the playbook changes).
pub fn prepare_roots<'a>(roots: impl Iterator<Item = &'a Root>) {
    for r in roots {
        r.write(
            "etc/ssh/sshd_config.d/50-cloud-init.conf",
            "PasswordAuthentication yes\n",
        );
        r.write(
            "etc/fstab",
            "# /etc/fstab\nUUID=0a1b / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n",
        );
    }
}

/// Fresh SSH test hosts, and the cgroup that counts their CPU time (dropped after them).
struct Fleet {
    hosts: Vec<SshHost>,
    cgroup: Option<Cgroup>,
}

/// All three scenarios for one engine on fresh targets.
#[allow(clippy::too_many_arguments)]
fn series(
    engine: Engine,
    n: Option<usize>,
    logs: Option<&Path>,
    tools: &Tools,
    client: &Client,
    server: &RepoServer,
    keys: &str,
    out: &mut Vec<Sample>,
) {
    let chroot = n.is_none();
    let hosts: Vec<SshHost> = match n {
        Some(n) => SshHost::many_logging("bench", n, client, "VERBOSE"),
        None => Vec::new(),
    };
    let cgroup = if hosts.is_empty() {
        None
    } else {
        Cgroup::new(&hosts)
    };
    let fleet = Fleet { hosts, cgroup };
    let hosts = &fleet.hosts;
    let root = chroot.then(Root::new);
    for h in hosts {
        // ansible-core-rs logs in as root (see engines.rs).
        h.root.write("etc/ssh/test_keys/root", &client.public_key);
    }
    prepare_roots(hosts.iter().map(|h| &h.root).chain(root.iter()));
    client.trust(&hosts.iter().collect::<Vec<_>>());
    let names: Vec<(String, u16)> = hosts.iter().map(|h| (h.name.clone(), h.port)).collect();
    let setup = Setup::new(client, &names, root.as_ref().map(|r| r.path.as_path()));
    for scenario in [Scenario::First, Scenario::NoChange, Scenario::CheckDrift] {
        if !engine.supports(scenario, chroot) {
            continue;
        }
        if scenario == Scenario::CheckDrift {
            for r in hosts.iter().map(|h| &h.root).chain(root.iter()) {
                drift(r);
            }
        }
        let s = measure_one(
            engine,
            scenario,
            tools,
            &setup,
            client,
            server,
            &fleet,
            root.as_ref(),
            keys,
        );
        log(&format!(
            "{:<16} {:<36} {:>3} hosts  {:>8.2}s  {}",
            engine.name(),
            scenario.title(),
            s.hosts,
            s.usage.wall,
            if s.problems.is_empty() {
                "ok".to_string()
            } else {
                let shown: Vec<&str> = s.problems.iter().take(3).map(String::as_str).collect();
                format!(
                    "WRONG ({} problems): {}",
                    s.problems.len(),
                    shown.join("; ")
                )
            }
        ));
        if let Some(dir) = logs {
            let _ = std::fs::create_dir_all(dir);
            let name = format!(
                "{:03}-{}-{}-{}",
                out.len(),
                engine.name().replace([' ', '(', ')'], ""),
                s.hosts,
                format!("{scenario:?}").to_lowercase()
            );
            let _ = std::fs::write(
                dir.join(format!("{name}.log")),
                format!("{}\n--- stderr\n{}", s.usage.stdout, s.usage.stderr),
            );
        }
        let failed = !s.problems.is_empty();
        out.push(s);
        if failed && scenario == Scenario::First {
            // Nothing meaningful to measure on a fleet the engine could not converge.
            break;
        }
    }
    if engine == Engine::ProvWarm {
        setup.stop_agent(tools);
    }
}

fn main() {
    let o = options();
    // Ansible's apt and deb822_repository modules need these on the targets.
    // SAFETY: single-threaded at this point.
    unsafe { std::env::set_var("PROV_ROOTFS_EXTRA", "python3-apt,python3-debian") };
    if !o.scale.is_empty() {
        std::process::exit(scale::main(&scale::ScaleOptions {
            sizes: o.scale,
            runs: o.runs,
            forks: o.forks,
            logs: o.logs,
            out: if o.out_given { o.out } else { None },
        }));
    }
    let tools = Tools::find();
    for e in &o.engines {
        let bin: &Path = match e {
            Engine::Prov | Engine::ProvWarm | Engine::Shell => &tools.prov,
            Engine::Ansible | Engine::AnsibleTuned => &tools.ansible,
            Engine::Pyinfra => &tools.pyinfra,
            Engine::AnsibleCoreRs => &tools.acr,
        };
        assert!(
            bin.exists(),
            "{} is missing: run bench/setup.sh first",
            bin.display()
        );
    }
    let server = RepoServer::start();
    let keys = std::fs::read_to_string(server.dir.join("boxp.keys")).unwrap();
    let client = Client::new();
    let mut samples = Vec::new();
    let started = std::time::Instant::now();
    // Run by run: every host count, then the chroot (None), so that each target size sees
    // the machine in the same state (a shared VM drifts over an hour); engines alternate from
    // run to run, so that no engine always runs on a warmer machine.
    let targets: Vec<Option<usize>> = o
        .hosts
        .iter()
        .map(|&n| Some(n))
        .chain(o.chroot.then_some(None))
        .collect();
    for run in 0..o.runs {
        for &target in &targets {
            let mut order = o.engines.clone();
            let k = run % order.len().max(1);
            order.rotate_left(k);
            for engine in order {
                let skip = match target {
                    // At 50 hosts one run of the others is enough for the table (the goals
                    // there are prov's own: growth from 20 hosts, memory); stock Ansible is slow.
                    Some(n) => engine != Engine::Prov && n >= 50 && run > 0,
                    None => !engine.supports(Scenario::NoChange, true),
                };
                if !skip {
                    series(
                        engine,
                        target,
                        o.logs.as_deref(),
                        &tools,
                        &client,
                        &server,
                        &keys,
                        &mut samples,
                    );
                }
            }
        }
    }
    let text = report::markdown(&samples, &tools, &o.hosts, o.runs, started.elapsed());
    match &o.out {
        Some(p) => {
            std::fs::write(p, &text).unwrap();
            log(&format!("wrote {}", p.display()));
        }
        None => println!("{text}"),
    }
    if samples
        .iter()
        .any(|s| s.engine == Engine::Prov && !s.problems.is_empty())
    {
        std::process::exit(1);
    }
}
