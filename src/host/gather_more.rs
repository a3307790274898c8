//! The facts' questions for what roles branch on beyond the platform: virtualization,
//! SELinux, mounts, memory, the Python on PATH, the environment, the clock, LSB and the local
//! facts of `/etc/ansible/facts.d`. Asked in round 0 of [`gather::next`](super::gather::next)
//! with the others (so the facts stay one round trip), answered as `key=value` lines that
//! carry the files' text as JSON strings; what they mean (Ansible's rules, ported from
//! ansible-core 2.19's fact collectors) is decided in `modules::facts_more`.
//!
//! The lines: `file:PATH=` a file's text (only when it could be read), `exists=PATH` and
//! `isdir=PATH` for the paths the virtualization rules test, `python=` the JSON the Python on
//! PATH printed, `lsb_release=` and `lsblk=` those programs' output, `local=` one `.fact` file
//! each. Lines that change between two looks, or depend on which process reads (the clock,
//! free memory and blocks, the mount table, the reader's environment), start with `vol:`.
//!
//! A second round is asked only for what round 0 cannot know: executable `.fact` files to run
//! (and `.fact` links to stat first), and the process names of a RHEV host (`/rhev` and the
//! `kvm` module both present). On a chroot target everything is read inside the root, as
//! Ansible's chroot connection reads it: `/proc` and `/sys` are the build machine's, `/etc` is
//! the root's; nothing here depends on the `chroot` flag.

use super::primitive::{Primitive, Read, Run, glob_matches, read_all};
use super::probe::parse_stat;
use super::resolve::Got;
use super::{CmdOutput, FileKind, Probe};
use crate::error::Result;

/// Files whose text the facts need whole.
const FILES: &[&str] = &[
    "/proc/1/cgroup",
    "/run/systemd/container",
    "/proc/xen/capabilities",
    "/sys/devices/virtual/dmi/id/product_name",
    "/sys/devices/virtual/dmi/id/sys_vendor",
    "/sys/devices/virtual/dmi/id/product_family",
    "/sys/devices/virtual/dmi/id/bios_vendor",
    "/proc/modules",
    "/sys/fs/selinux/enforce",
    "/sys/fs/selinux/policyvers",
    "/etc/selinux/config",
    "/etc/lsb-release",
];

/// The reading process's status: only its `VxID` lines are kept (the rest is the reader's).
const STATUS: &str = "/proc/self/status";
/// PID 1's environment (NUL-separated: read as hex, [`Primitive::Hex`]). `ansible_env` is
/// [`Primitive::Environ`]: the environment of the process that answers the probes (the
/// prober, or the probe shell), the one the host's commands start from, as it started: not
/// the `LC_ALL=C` every [`Run`] gets.
const PID1_ENVIRON: &str = "/proc/1/environ";

/// Paths whose existence (following links) the virtualization rules test.
const EXISTS: &[&str] = &[
    "/proc/vz",
    "/proc/lve",
    "/proc/bc",
    "/.dockerenv",
    "/.dockerinit",
    "/proc/xen",
    "/rhev",
    "/dev/kvm",
];

const LSB_RELEASE: &[&str] = &["lsb_release", "-a"];

/// What `lsb_release -a` prints depends on besides the program and PATH (the prober keeps
/// its answer while these stay, [`Run::memo`]): the release files both implementations read
/// (Debian's shell one reads os-release alone), and what the Python one also consults: its
/// module, `/etc/lsb-release.d` and dpkg's status (the LSB modules `-v` lists), distro-info's
/// tables and apt's lists and policy (its guess of a Debian testing codename). On Ubuntu,
/// where it is Python, it is the costliest fact program (~25 ms).
const LSB_DEPENDS: &[&str] = &[
    "/etc/lsb-release",
    "/etc/lsb-release.d",
    "/etc/lsb-release.d/*",
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/debian_version",
    "/usr/lib/python3/dist-packages/lsb_release.py",
    "/usr/share/distro-info/*.csv",
    "/var/lib/dpkg/status",
    "/var/lib/apt/lists",
    "/var/lib/apt/lists/*",
    "/etc/apt/apt.conf.d",
    "/etc/apt/apt.conf.d/*",
    "/etc/apt/preferences",
    "/etc/apt/preferences.d",
    "/etc/apt/preferences.d/*",
    "/etc/apt/sources.list",
    "/etc/apt/sources.list.d",
    "/etc/apt/sources.list.d/*",
];

/// What Ansible's `python` fact reports about the interpreter running it, printed by the
/// `python3` on PATH as one JSON line; with `tz_dst` (`time.tzname[1]`, as Ansible's
/// date_time has it) and `selinux_python_present` (ansible-core's selinux binding is ctypes
/// on libselinux.so.1). Kept cheap, as it runs at every fact gathering: started isolated
/// without `site` (`-I -S`), and importing nothing beyond sys, os and time (json, ssl and
/// ctypes would triple its start-up): `has_sslcontext` is whether the `_ssl` extension is
/// there (ssl's SSLContext comes from it), `selinux_python_present` whether `_ctypes` and
/// libselinux.so.1 are (the library has every function the binding uses).
const PYTHON: &str = r#"import sys, os, time
def has(mod):
    if mod in sys.builtin_module_names:
        return True
    for d in sys.path:
        try:
            if any(f.startswith(mod + '.') for f in os.listdir(d or '.')):
                return True
        except OSError:
            pass
    return False
def q(s):
    return 'null' if s is None else '"%s"' % s.replace('\\', '\\\\').replace('"', '\\"')
libs = ['/lib/%s/libselinux.so.1' % getattr(sys.implementation, '_multiarch', ''),
        '/usr/lib/%s/libselinux.so.1' % getattr(sys.implementation, '_multiarch', ''),
        '/lib64/libselinux.so.1', '/usr/lib64/libselinux.so.1', '/lib/libselinux.so.1',
        '/usr/lib/libselinux.so.1']
se = has('_ctypes') and any(os.path.exists(l) for l in libs)
v = sys.version_info
print('{"executable": %s, "has_sslcontext": %s, "type": %s, "version_info": [%d, %d, %d, %s, %d], "tz_dst": %s, "selinux_python_present": %s}' % (
    q(sys.executable), 'true' if has('_ssl') else 'false', q(sys.implementation.name),
    v[0], v[1], v[2], q(v[3]), v[4], q(time.tzname[1]), 'true' if se else 'false'))
"#;

/// What the Python facts depend on besides the interpreter's file and PATH (the prober keeps
/// its answer while these stay as they were, [`Run::memo`]): the standard library and
/// extension module directories of a Python in /usr or /usr/local (`has()` looks there), the
/// time zone (`tz_dst`) and the libselinux candidates. A Python elsewhere whose extension
/// modules alone change is seen by the next connection's prober.
const PYTHON_DEPENDS: &[&str] = &[
    "/usr/lib/python3*",
    "/usr/lib/python3*/lib-dynload",
    "/usr/local/lib/python3*",
    "/usr/local/lib/python3*/lib-dynload",
    "/etc/localtime",
    // Python's multiarch directories (x86_64-linux-gnu...): the state check lists only
    // those entries of /lib, not every one.
    "/lib/*-linux-*/libselinux.so.1",
    "/usr/lib/*-linux-*/libselinux.so.1",
    "/lib64/libselinux.so.1",
    "/usr/lib64/libselinux.so.1",
    "/lib/libselinux.so.1",
    "/usr/lib/libselinux.so.1",
];

/// Ansible's `fact_path` default.
const FACTS_D: &str = "/etc/ansible/facts.d/*.fact";

const MTAB: &str = "/etc/mtab";
const PROC_MOUNTS: &str = "/proc/mounts";

/// Filesystem UUIDs by device, as Ansible asks them (its udevadm fallback per device, for
/// lsblk older than 2.23, is left out).
const LSBLK: &[&str] = &[
    "lsblk",
    "--list",
    "--noheadings",
    "--paths",
    "--output",
    "NAME,UUID",
    "--exclude",
    "2",
];

/// Where /proc/modules is in [`FILES`], /rhev in [`EXISTS`].
const MODULES: usize = 7;
const RHEV: usize = 6;

fn read(path: &str) -> Probe {
    Probe::Primitive(Primitive::read(path, super::CONTENT_LIMIT))
}

fn run(argv: &[&str]) -> Probe {
    Probe::Primitive(Primitive::Run(Run::new(argv)))
}

/// A run whose answer a resident prober keeps while `depends` stay ([`Run::memo`]).
fn memo_run(argv: &[&str], depends: &[&str]) -> Probe {
    Probe::Primitive(Primitive::Run(Run {
        memo: depends.iter().map(|p| p.to_string()).collect(),
        ..Run::new(argv)
    }))
}

// Positions in round 0, from where these asks start.
const AT_STATUS: usize = FILES.len();
const AT_PID1_ENVIRON: usize = AT_STATUS + 1;
const AT_ENVIRON: usize = AT_PID1_ENVIRON + 1;
const AT_EXISTS: usize = AT_ENVIRON + 1;
const AT_DATE: usize = AT_EXISTS + EXISTS.len();
const AT_LSB: usize = AT_DATE + 1;
const AT_PYTHON: usize = AT_LSB + 1;
const AT_GLOB: usize = AT_PYTHON + 1;
const AT_FACTS: usize = AT_GLOB + 1;
const AT_MTAB: usize = AT_FACTS + 1;
const AT_MOUNTS: usize = AT_MTAB + 1;
const AT_STATFS: usize = AT_MOUNTS + 1;
const AT_LSBLK: usize = AT_STATFS + 1;

/// What round 0 asks for these facts (appended to the others' asks); the mounts only for
/// the hardware subset.
pub fn asks(hardware: bool) -> Vec<Probe> {
    let mut a: Vec<Probe> = FILES.iter().map(|f| read(f)).collect();
    a.push(read(STATUS));
    a.push(Probe::Primitive(Primitive::Hex(PID1_ENVIRON.into())));
    a.push(Probe::Primitive(Primitive::Environ));
    a.extend(EXISTS.iter().map(|p| Probe::stat_follow(p)));
    // The clock in the target's time zone, every field `date_time` needs: the UTC ones are
    // computed from the epoch, `tz_dst` comes from the Python on PATH (a zone's DST name is
    // not something one `date` can print).
    a.push(Probe::Primitive(Primitive::Clock));
    a.push(memo_run(LSB_RELEASE, LSB_DEPENDS));
    a.push(memo_run(
        &["python3", "-I", "-S", "-c", PYTHON],
        PYTHON_DEPENDS,
    ));
    a.push(Probe::Primitive(Primitive::Glob(FACTS_D.into())));
    a.push(Probe::Primitive(Primitive::ReadAll {
        pattern: FACTS_D.into(),
        limit: super::CONTENT_LIMIT,
    }));
    if hardware {
        a.push(read(MTAB));
        a.push(read(PROC_MOUNTS));
        a.push(Probe::Primitive(Primitive::Statfs));
        a.push(run(LSBLK));
    }
    a
}

/// What the later rounds ask, decided from round 0's answers (`at`: where [`asks`] start).
#[derive(Debug, Default)]
pub struct Later {
    /// `.fact` files that are links: stat them (following) in round 1.
    links: Vec<String>,
    /// Executable `.fact` files: run them in round 1.
    runs: Vec<String>,
    /// A RHEV host candidate: read every process's name in round 1.
    rhev: bool,
    /// Linked `.fact` files found executable: run them in round 2.
    runs2: Vec<String>,
}

/// A `.fact` file as round 0 saw it: (path, lstat).
fn fact_files(got: &Got, at: usize) -> Result<Vec<(String, super::FileState)>> {
    glob_matches(&got.cmd(0, at + AT_GLOB)?.stdout)
        .into_iter()
        .map(|(p, fields)| Ok((p.clone(), parse_stat(&p, &fields)?)))
        .collect()
}

fn executable(f: &super::FileState) -> bool {
    f.mode & 0o100 != 0
}

impl Later {
    /// Round 1's needs, from round 0.
    pub fn plan(got: &Got, at: usize) -> Result<Later> {
        let mut l = Later::default();
        for (path, st) in fact_files(got, at)? {
            if st.kind == Some(FileKind::Link) {
                l.links.push(path);
            } else if executable(&st) {
                l.runs.push(path);
            }
        }
        let modules = Read::text(got.cmd(0, at + MODULES)?).unwrap_or_default();
        let rhev = got.file(0, at + AT_EXISTS + RHEV)?;
        l.rhev = rhev.is_dir() && modules.lines().any(|m| m.split(' ').next() == Some("kvm"));
        Ok(l)
    }

    /// Round 1's asks.
    pub fn round1(&self) -> Vec<Probe> {
        let mut a: Vec<Probe> = self.links.iter().map(|p| Probe::stat_follow(p)).collect();
        a.extend(self.runs.iter().map(|p| run(&[p])));
        if self.rhev {
            a.push(Probe::Primitive(Primitive::ReadAll {
                pattern: "/proc/*/comm".into(),
                limit: 4096,
            }));
        }
        a
    }

    /// Round 2's needs, from round 1's answers (starting at `at1`).
    pub fn plan2(&mut self, got: &Got, at1: usize) -> Result<()> {
        for (k, p) in self.links.iter().enumerate() {
            let st = got.file(1, at1 + k)?;
            if st.exists && executable(st) {
                self.runs2.push(p.clone());
            }
        }
        Ok(())
    }

    /// Round 2's asks.
    pub fn round2(&self) -> Vec<Probe> {
        self.runs2.iter().map(|p| run(&[p])).collect()
    }
}

/// `od -An -tx1`'s bytes, as text.
fn unhex(od: &str) -> String {
    let bytes: Vec<u8> = od
        .split_whitespace()
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The lines, from round 0's answers at `at` (and round 1's at `at1`, round 2's from 0 when
/// [`Later`] asked them). `cpuinfo` and `meminfo` are the reads round 0 already has.
pub fn lines(
    got: &Got,
    at: usize,
    at1: usize,
    later: &Later,
    hardware: bool,
    cpuinfo: &CmdOutput,
    meminfo: &CmdOutput,
) -> Result<Vec<(String, String)>> {
    let mut o: Vec<(String, String)> = Vec::new();
    let mut kv = |k: &str, v: String| o.push((k.to_string(), v));
    for (k, f) in FILES.iter().enumerate() {
        if let Some(t) = Read::text(got.cmd(0, at + k)?) {
            kv(&format!("file:{f}"), json(&t));
        }
    }
    // Only the lines the virtualization rules look at: the rest moves (cpu MHz).
    if let Some(t) = Read::text(cpuinfo) {
        let keep: Vec<&str> = t
            .lines()
            .filter(|l| {
                l.starts_with("model name")
                    || l.starts_with("vendor_id")
                    || l.starts_with("machine")
            })
            .collect();
        kv("file:/proc/cpuinfo", json(&keep.join("\n")));
    }
    if let Some(t) = Read::text(got.cmd(0, at + AT_STATUS)?) {
        let keep: Vec<&str> = t.lines().filter(|l| l.starts_with("VxID:")).collect();
        kv(&format!("file:{STATUS}"), json(&keep.join("\n")));
    }
    let pid1 = got.cmd(0, at + AT_PID1_ENVIRON)?;
    if pid1.rc == 0 {
        kv("file:/proc/1/environ", json(&unhex(&pid1.stdout)));
    }
    let environ = got.cmd(0, at + AT_ENVIRON)?;
    if environ.rc == 0 {
        kv("vol:environ", json(&unhex(&environ.stdout)));
    }
    for (k, p) in EXISTS.iter().enumerate() {
        let f = got.file(0, at + AT_EXISTS + k)?;
        if f.exists {
            kv("exists", p.to_string());
        }
        if f.is_dir() {
            kv("isdir", p.to_string());
        }
    }
    let date = got.cmd(0, at + AT_DATE)?;
    if date.rc == 0 {
        kv("vol:date", date.stdout.trim_end_matches('\n').to_string());
    }
    let lsb = got.cmd(0, at + AT_LSB)?;
    if lsb.rc == 0 {
        kv("lsb_release", json(&lsb.stdout));
    }
    let py = got.cmd(0, at + AT_PYTHON)?;
    if py.rc == 0
        && let Some(l) = py.stdout.lines().rev().find(|l| l.starts_with('{'))
    {
        kv("python", l.to_string());
    }
    if later.rhev {
        let n = later.links.len() + later.runs.len();
        let vdsm = read_all(&got.cmd(1, at1 + n)?.stdout).iter().any(|(p, c)| {
            let pid = p.trim_start_matches("/proc/").trim_end_matches("/comm");
            !pid.is_empty()
                && pid.bytes().all(|b| b.is_ascii_digit())
                && matches!(c.trim_end(), "vdsm" | "vdsmd")
        });
        if vdsm {
            kv("rhev_vdsm", "1".into());
        }
    }
    local(got, at, at1, later, &mut kv)?;
    if hardware {
        if let Some(t) = Read::text(meminfo) {
            kv("vol:meminfo", json(&t));
        }
        let table = Read::text(got.cmd(0, at + AT_MTAB)?)
            .or_else(|| Read::text(got.cmd(0, at + AT_MOUNTS).ok()?))
            .unwrap_or_default();
        kv("vol:mtab", json(&table));
        kv("vol:statfs", json(&got.cmd(0, at + AT_STATFS)?.stdout));
        let lsblk = got.cmd(0, at + AT_LSBLK)?;
        if lsblk.rc == 0 {
            kv("lsblk", json(&lsblk.stdout));
        }
    }
    Ok(o)
}

/// A `local=` line per `.fact` file, in name order: `{"path", "content"}` for a file that is
/// read, `{"path", "rc", "out"}` for one that was run, `{"path", "missing": true}` for a link
/// to nothing.
fn local(
    got: &Got,
    at: usize,
    at1: usize,
    later: &Later,
    kv: &mut impl FnMut(&str, String),
) -> Result<()> {
    let contents = read_all(&got.cmd(0, at + AT_FACTS)?.stdout);
    let content = |p: &str| {
        contents
            .iter()
            .find(|(q, _)| q == p)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    };
    let ran =
        |out: &CmdOutput, p: &str| serde_json::json!({"path": p, "rc": out.rc, "out": out.stdout});
    for (path, st) in fact_files(got, at)? {
        let entry = if st.kind == Some(FileKind::Link) {
            let k = later.links.iter().position(|p| *p == path).unwrap_or(0);
            let target = got.file(1, at1 + k)?;
            if !target.exists {
                serde_json::json!({"path": path, "missing": true})
            } else if let Some(k) = later.runs2.iter().position(|p| *p == path) {
                ran(got.cmd(2, k)?, &path)
            } else {
                serde_json::json!({"path": path, "content": content(&path)})
            }
        } else if let Some(k) = later.runs.iter().position(|p| *p == path) {
            ran(got.cmd(1, at1 + later.links.len() + k)?, &path)
        } else {
            serde_json::json!({"path": path, "content": content(&path)})
        };
        kv("local", entry.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mount script on this machine: a line per kept mount of the table, each with six
    /// numbers and its mount point.
    #[test]
    fn statfs_script_stats_the_kept_mounts() {
        let out = std::process::Command::new("sh")
            .args(["-c", &Primitive::Statfs.shell()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let table = std::fs::read_to_string(MTAB)
            .or_else(|_| std::fs::read_to_string(PROC_MOUNTS))
            .unwrap();
        let kept = table
            .lines()
            .filter(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() >= 3 && w[2] != "none" && (w[0].starts_with('/') || w[0].contains(":/"))
            })
            .count();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= kept, "{text}");
        for l in lines {
            let w: Vec<&str> = l.splitn(7, ' ').collect();
            assert_eq!(w.len(), 7, "{l}");
            assert!(w[..6].iter().all(|n| n.parse::<u64>().is_ok()), "{l}");
            assert!(w[6].starts_with('/'), "{l}");
        }
    }

    /// The facts query answered round by round by `host`: the lines, and the round trips.
    fn resolved(host: impl Fn(&[Probe]) -> super::super::Observed) -> (String, usize) {
        use crate::host::gather::Subsets;
        use crate::host::query::Query;
        use crate::host::resolve::{ReadCache, Rounds};
        let q = [Probe::Query(Query::Facts {
            subsets: Subsets {
                network: true,
                hardware: true,
            },
            chroot: false,
        })];
        let cache = ReadCache::default();
        let mut rounds = Rounds::new(&q, cache.reader("")).unwrap();
        let mut n = 0;
        while let Some(wire) = rounds.wire() {
            n += 1;
            rounds.feed(host(&wire)).unwrap();
        }
        let obs = rounds.finish().unwrap();
        (obs.cmd_at(0).unwrap().stdout.clone(), n)
    }

    /// Run `program` with `input` on stdin: its stdout.
    fn piped(program: &mut std::process::Command, input: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut child = program
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap().stdout
    }

    /// This machine's facts, answered by the probe shell and by the resident prober: one
    /// round trip (unless it has executable local facts), the same lines but for the `vol:`
    /// ones, and every fact these lines make.
    #[test]
    fn one_round_trip_on_this_machine() {
        use crate::transport::protocol::probe_frame;
        use crate::transport::script::{parse_probe_output, probe_script};
        let (lines, n) = resolved(|wire| {
            let out = piped(
                &mut std::process::Command::new("/bin/sh"),
                probe_script(wire).as_bytes(),
            );
            parse_probe_output(wire, &out).unwrap()
        });
        let tmp = std::env::temp_dir().join(format!("prov-gather-more-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let (native, m) = resolved(|wire| {
            let out = piped(
                std::process::Command::new("perl")
                    .env("TMPDIR", &tmp)
                    .arg("-e")
                    .arg(include_str!("../transport/prober.pl"))
                    .arg("N0NCE")
                    .arg(crate::host::CONTENT_LIMIT.to_string()),
                &probe_frame(wire),
            );
            let body = out.strip_prefix(b"@PROV-PROBER\n").unwrap();
            let end = (0..body.len())
                .find(|&k| body[k..].starts_with(b"\nN0NCE-\n"))
                .unwrap();
            parse_probe_output(wire, &body[..end]).unwrap()
        });
        std::fs::remove_dir_all(&tmp).unwrap();
        let steady = |o: &str| -> String {
            o.lines()
                .filter(|l| {
                    !l.starts_with("memfree_kb=")
                        && !l.starts_with("uptime=")
                        && !l.starts_with("vol:")
                })
                .map(|l| format!("{l}\n"))
                .collect()
        };
        assert_eq!(steady(&native), steady(&lines));
        let executable = std::fs::read_dir("/etc/ansible/facts.d").is_ok_and(|d| {
            d.flatten().any(|e| {
                use std::os::unix::fs::PermissionsExt;
                e.file_name().to_string_lossy().ends_with(".fact")
                    && e.metadata()
                        .is_ok_and(|m| m.permissions().mode() & 0o100 != 0)
            })
        });
        assert_eq!(n, if executable { 2 } else { 1 }, "{lines}");
        assert_eq!(m, n);
        let f = crate::modules::facts::parse(&lines);
        for k in [
            "virtualization_type",
            "virtualization_role",
            "virtualization_tech_guest",
            "virtualization_tech_host",
            "selinux",
            "env",
            "date_time",
            "lsb",
            "local",
            "memory_mb",
            "mounts",
        ] {
            assert!(f.contains_key(k), "{k} in {lines}");
        }
        // The environment the host's commands start from: without the LC_ALL=C of a Run.
        let env = crate::vars::to_json(&f["env"]);
        assert_eq!(env["PATH"], std::env::var("PATH").unwrap_or_default());
        assert_eq!(env.get("LC_ALL").is_some(), std::env::var("LC_ALL").is_ok());
        let offset = std::process::Command::new("date")
            .arg("+%z")
            .output()
            .unwrap();
        let date = crate::vars::to_json(&f["date_time"]);
        assert_eq!(
            date["tz_offset"],
            String::from_utf8_lossy(&offset.stdout).trim()
        );
    }

    /// Local facts over three rounds: a plain file read in round 0, an executable run in
    /// round 1, links stat'd in round 1 (run in round 2 when executable, read when not).
    #[test]
    fn local_facts_rounds() {
        use crate::host::{Answer, FileState};
        let cmd = |rc: i32, out: &str| {
            Answer::Command(CmdOutput {
                rc,
                stdout: out.into(),
                stderr: String::new(),
            })
        };
        let mut r0: Vec<Answer> = asks(false)
            .iter()
            .map(|p| match p {
                Probe::File(f) => Answer::File(FileState::missing(&f.path)),
                _ => cmd(1, ""),
            })
            .collect();
        let d = "/etc/ansible/facts.d";
        let entry = |kind: &str, mode: &str, name: &str| {
            let path = format!("{d}/{name}");
            format!(
                "{kind}|{mode}|0|0|root|root|1|0|0|1|2\n{}\n{path}\n",
                path.len()
            )
        };
        let glob = [
            entry("regular file", "644", "a.fact"),
            entry("regular file", "755", "b.fact"),
            entry("symbolic link", "777", "c.fact"),
            entry("symbolic link", "777", "d.fact"),
            entry("symbolic link", "777", "e.fact"),
        ]
        .concat();
        r0[AT_GLOB] = cmd(0, &glob);
        let read = |name: &str, text: &str| {
            let path = format!("{d}/{name}");
            format!("{}\n{path}\n{}\n{text}\n", path.len(), text.len())
        };
        r0[AT_FACTS] = cmd(
            0,
            &[read("a.fact", "{\"a\": 1}"), read("e.fact", "[s]\nk=v\n")].concat(),
        );
        let got = [r0];
        let mut later = Later::plan(&Got(&got), 0).unwrap();
        let round1 = later.round1();
        let stat_of = |p: &Probe| match p {
            Probe::File(f) => f.path.rsplit('/').next().unwrap().to_string(),
            Probe::Primitive(Primitive::Run(r)) => format!("run {}", r.argv.join(" ")),
            p => panic!("{p:?}"),
        };
        assert_eq!(
            round1.iter().map(stat_of).collect::<Vec<_>>(),
            ["c.fact", "d.fact", "e.fact", &format!("run {d}/b.fact")]
        );
        let file = |name: &str, mode: u32| {
            Answer::File(FileState {
                exists: true,
                kind: Some(FileKind::File),
                mode,
                ..FileState::missing(&format!("{d}/{name}"))
            })
        };
        let r1 = vec![
            file("c.fact", 0o755),
            Answer::File(FileState::missing(&format!("{d}/d.fact"))),
            file("e.fact", 0o644),
            cmd(0, "{\"b\": true}\n"),
        ];
        let got = [got[0].clone(), r1];
        later.plan2(&Got(&got), 0).unwrap();
        let round2 = later.round2();
        assert_eq!(
            round2.iter().map(stat_of).collect::<Vec<_>>(),
            [format!("run {d}/c.fact")]
        );
        let got = [got[0].clone(), got[1].clone(), vec![cmd(3, "")]];
        let o = lines(
            &Got(&got),
            0,
            0,
            &later,
            false,
            &CmdOutput::default(),
            &CmdOutput::default(),
        )
        .unwrap();
        let local: Vec<serde_json::Value> = o
            .iter()
            .filter(|(k, _)| k == "local")
            .map(|(_, v)| serde_json::from_str(v).unwrap())
            .collect();
        assert_eq!(
            serde_json::Value::from(local),
            serde_json::json!([
                {"path": format!("{d}/a.fact"), "content": "{\"a\": 1}"},
                {"path": format!("{d}/b.fact"), "rc": 0, "out": "{\"b\": true}\n"},
                {"path": format!("{d}/c.fact"), "rc": 3, "out": ""},
                {"path": format!("{d}/d.fact"), "missing": true},
                {"path": format!("{d}/e.fact"), "content": "[s]\nk=v\n"},
            ])
        );
    }

    /// Where the hard-coded positions point.
    #[test]
    fn positions() {
        assert_eq!(FILES[MODULES], "/proc/modules");
        assert_eq!(EXISTS[RHEV], "/rhev");
        assert_eq!(asks(true).len(), AT_LSBLK + 1);
        assert_eq!(asks(false).len(), AT_MTAB);
    }
}
