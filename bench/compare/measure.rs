//! Running one engine invocation and measuring it: wall time, controller CPU (from `wait4`'s
//! rusage, which covers every descendant the engine waited for), peak RSS, and, on the targets,
//! CPU time and SSH sessions and connections (from each host's sshd).
//!
//! The peak RSS comes from GNU `time` (`/usr/bin/time -f %M`) wrapped around the engine, not
//! from this process's own `wait4`: Linux carries a process's high-water RSS across `exec`, and
//! a child spawned by this (large, growing) harness starts with the harness's, so the engine's
//! figure would be the harness's whenever that is larger. `time` is small: what it reports is
//! the engine's own.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::common::ssh::SshHost;

/// What one invocation cost.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    pub wall: f64,
    /// Controller user+system CPU seconds.
    pub cpu: f64,
    /// Peak resident set of the largest controller process, MiB.
    pub rss_mb: f64,
    pub code: i32,
    /// The most file descriptors the engine's process held open at once (sampled every
    /// 20 ms), when asked for.
    pub peak_fds: Option<usize>,
    pub stdout: String,
    pub stderr: String,
}

/// Run a command to completion, measuring it.
pub fn run(engine: &mut Command) -> Usage {
    run_with(engine, false)
}

/// [`run`], also sampling how many file descriptors the engine holds open.
pub fn run_counting_fds(engine: &mut Command) -> Usage {
    run_with(engine, true)
}

fn run_with(engine: &mut Command, count_fds: bool) -> Usage {
    let rss_file = std::env::temp_dir().join(format!("prov-bench-rss-{}", std::process::id()));
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg("--")
        .arg(engine.get_program())
        .args(engine.get_args());
    if let Some(dir) = engine.get_current_dir() {
        cmd.current_dir(dir);
    }
    for (k, v) in engine.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fds_t = count_fds.then(|| {
        let (done, time_pid) = (done.clone(), child.id());
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                for pid in children(time_pid) {
                    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
                        .map(|d| d.count())
                        .unwrap_or(0);
                    peak = peak.max(open);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            peak
        })
    });
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: waiting for our own child; std's Child is not waited again afterwards.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4 failed");
    let wall = start.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let peak_fds = fds_t.map(|t| t.join().unwrap());
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    std::mem::forget(child);
    // The last line (`time` says "Command exited with non-zero status" before it).
    let rss_mb = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse::<f64>().ok()))
        .unwrap_or(f64::NAN)
        / 1024.0;
    let _ = std::fs::remove_file(&rss_file);
    Usage {
        wall,
        cpu: secs(ru.ru_utime) + secs(ru.ru_stime),
        rss_mb,
        code,
        peak_fds,
        stdout: String::from_utf8_lossy(&out_t.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_t.join().unwrap()).into_owned(),
    }
}

/// Counters read from the targets before and after a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct TargetSample {
    /// CPU seconds used on the targets (everything in their namespaces), when measurable.
    pub cpu: Option<f64>,
    /// Session channels (`exec`, `subsystem`) opened.
    pub sessions: u64,
    /// Authenticated connections.
    pub connections: u64,
}

impl TargetSample {
    pub fn take(hosts: &[SshHost], cgroup: Option<&Cgroup>) -> TargetSample {
        let mut t = TargetSample {
            cpu: cgroup.map(Cgroup::cpu),
            ..Default::default()
        };
        for h in hosts {
            let log = h.sshd_log();
            t.sessions += log.matches("Starting session:").count() as u64;
            t.connections += log.matches("Accepted publickey").count() as u64;
        }
        t
    }

    pub fn since(self, before: TargetSample) -> TargetSample {
        TargetSample {
            cpu: self.cpu.zip(before.cpu).map(|(a, b)| a - b),
            sessions: self.sessions - before.sessions,
            connections: self.connections - before.connections,
        }
    }
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The start of this benchmark's cgroup names: `prov-bench-<pid>-`, where the pid is the
/// outer process's when the benchmark runs in namespaces of its own (`scale.rs`; that process
/// removes the groups a killed run left behind).
pub fn cgroup_prefix() -> String {
    let id =
        std::env::var(crate::scale::OUTER_PID).unwrap_or_else(|_| std::process::id().to_string());
    cgroup_prefix_for(&id)
}

/// [`cgroup_prefix`] for the run of process `id`.
pub fn cgroup_prefix_for(id: &str) -> String {
    format!("prov-bench-{id}-")
}

/// A cgroup-v1 `cpuacct` group holding every process of a fleet of test hosts (the processes
/// they start later inherit it), so that the CPU time of everything that ran on the targets is
/// counted, including processes that have exited.
pub struct Cgroup {
    dir: std::path::PathBuf,
}

impl Cgroup {
    pub fn new(hosts: &[SshHost]) -> Option<Cgroup> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::path::PathBuf::from(format!("/sys/fs/cgroup/cpuacct/{}{n}", cgroup_prefix()));
        std::fs::create_dir(&dir).ok()?;
        let group = Cgroup { dir };
        for h in hosts {
            let mut stack: Vec<u32> = h.pid().into_iter().collect();
            while let Some(pid) = stack.pop() {
                std::fs::write(group.dir.join("cgroup.procs"), pid.to_string()).ok()?;
                stack.extend(children(pid));
            }
        }
        Some(group)
    }

    /// CPU seconds used by the group so far.
    pub fn cpu(&self) -> f64 {
        std::fs::read_to_string(self.dir.join("cpuacct.usage"))
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1e9
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // The hosts are gone (or going): wait until the kernel has released their processes.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
