//! Facts gathered from a host: `key=value` lines about it, for the subsets `gather_subset`
//! asks for, computed on the controller from [primitives](super::primitive) (files of /proc,
//! /sys and /etc, the prober's user, the host's canonical name (`hostname -f`) and `ip`;
//! the default route from /proc/net/route, [`default_route`]). On a chroot target the
//! architecture is read from the ELF header of the root's `/bin/sh` and the hostname from its
//! `/etc/hostname`, so an arm64 root prepared on an amd64 machine reports `aarch64`. The
//! facts roles branch on beyond these (virtualization, SELinux, mounts, memory, Python, the
//! environment, the clock, LSB, local facts) are asked in the same round by
//! [`gather_more`](super::gather_more). What the lines mean is decided above the transports, in
//! `modules::facts` and `modules::facts_more`.

use super::gather_more as more;
use super::primitive::{Primitive, Read, Run};
use super::resolve::{Got, Next};
use super::{CmdOutput, FileState, Probe};
use crate::error::Result;

/// Fact subsets, as `gather_subset` names them.
#[derive(Clone, Debug, PartialEq)]
pub struct Subsets {
    pub network: bool,
    pub hardware: bool,
}

impl Subsets {
    /// Parse `gather_subset` (`all`, `min`, `network`, `hardware`, `!all`, `!network` ...).
    pub fn parse(items: &[String]) -> Result<Subsets, String> {
        let mut s = Subsets {
            network: true,
            hardware: true,
        };
        if items.is_empty() {
            return Ok(s);
        }
        let mut positive = false;
        for raw in items {
            let (neg, name) = match raw.strip_prefix('!') {
                Some(n) => (true, n),
                None => (false, raw.as_str()),
            };
            match (neg, name) {
                (false, "all") => {
                    s = Subsets {
                        network: true,
                        hardware: true,
                    };
                    positive = true;
                }
                (true, "all") | (true, "min") => {
                    if !positive {
                        s = Subsets {
                            network: false,
                            hardware: false,
                        };
                    }
                }
                (false, "min") => {
                    if !positive {
                        s = Subsets {
                            network: false,
                            hardware: false,
                        };
                    }
                }
                (n, "network" | "interfaces" | "default_ipv4") => s.network = !n,
                (n, "hardware" | "devices" | "mounts") => s.hardware = !n,
                (
                    _,
                    "virtual" | "facter" | "ohai" | "distribution" | "platform" | "local" | "env"
                    | "date_time" | "user" | "service_mgr" | "pkg_mgr" | "python" | "selinux"
                    | "apparmor" | "caps" | "cmdline" | "dns" | "fips" | "lsb" | "os_family"
                    | "ssh_pub_keys" | "chroot" | "system",
                ) => {}
                _ => return Err(format!("unknown gather_subset '{raw}'")),
            }
            if !neg && name != "all" && name != "min" && !positive {
                // A positive subset other than all means min + that subset.
                match name {
                    "network" | "interfaces" | "default_ipv4" => s.hardware = false,
                    "hardware" | "devices" | "mounts" => s.network = false,
                    _ => {}
                }
                positive = true;
            }
        }
        Ok(s)
    }
}

/// What round 0 asks, by position.
const ROUND0: &[Ask] = &[
    Ask::Env("debian_chroot"),
    Ask::StatFollow("/proc/1/root/."),
    Ask::StatFollow("/"),
    Ask::Read("/proc/sys/kernel/arch"),
    Ask::Read("/proc/sys/kernel/osrelease"),
    Ask::Read("/proc/sys/kernel/version"),
    Ask::Read("/proc/sys/kernel/ostype"),
    Ask::Read("/proc/sys/kernel/hostname"),
    Ask::Read("/etc/hostname"),
    Ask::Fqdn,
    Ask::Me,
    Ask::Read("/etc/debian_version"),
    Ask::Read("/proc/1/comm"),
    Ask::Stat("/sbin/init"),
    Ask::StatFollow("/run/systemd/system"),
    Ask::StatFollow("/lib/systemd/systemd"),
    Ask::StatFollow("/usr/lib/systemd/systemd"),
    Ask::Read("/etc/machine-id"),
    Ask::Read("/etc/os-release"),
    Ask::Read("/usr/lib/os-release"),
    Ask::Read("/proc/meminfo"),
    Ask::Read("/proc/cpuinfo"),
    Ask::Read("/proc/uptime"),
    Ask::Read("/proc/net/route"),
];

/// Asked after [`ROUND0`] on a chroot: the root's own architecture, its /bin/sh's ELF machine
/// field.
const ELF: &[&str] = &["od", "-An", "-tx1", "-j18", "-N2", "/bin/sh"];

/// Asked after [`ROUND0`] (and [`ELF`]) for the network subset, in case `ip` is on PATH: the
/// addresses. The default route is read from /proc/net/route ([`default_route`]).
const IP: &[&[&str]] = &[&["ip", "-4", "-o", "addr", "show"]];

/// The programs whose presence on PATH the facts report (`pkg_mgr`) or use (`ip`).
const PROGRAMS: &[&str] = &["apt-get", "dnf", "apk", "ip"];

/// When `uname` answers what /proc cannot.
const UNAME: &[&str] = &["-m", "-r", "-v", "-s", "-n"];

#[derive(Clone, Copy)]
enum Ask {
    Env(&'static str),
    Stat(&'static str),
    StatFollow(&'static str),
    Read(&'static str),
    Fqdn,
    Me,
}

impl Ask {
    fn probe(self) -> Probe {
        match self {
            Ask::Env(n) => Probe::Primitive(Primitive::Env(n.into())),
            Ask::Stat(p) => Probe::stat(p),
            Ask::StatFollow(p) => Probe::stat_follow(p),
            Ask::Read(p) => Probe::Primitive(Primitive::read(p, super::CONTENT_LIMIT)),
            Ask::Fqdn => Probe::Primitive(Primitive::Fqdn),
            Ask::Me => Probe::Primitive(Primitive::Me),
        }
    }
}

/// Round 0's answer to the ask of this kind and argument.
fn at(ask: &str) -> usize {
    ROUND0
        .iter()
        .position(|a| match *a {
            Ask::Env(x) | Ask::Stat(x) | Ask::StatFollow(x) | Ask::Read(x) => x == ask,
            Ask::Fqdn => ask == "hostname -f",
            Ask::Me => ask == "me",
        })
        .expect("a facts ask that round 0 has")
}

/// `IFS= read -r v < FILE`: the first line, nothing when unreadable.
fn first_line(c: &CmdOutput) -> String {
    Read::text(c)
        .map(|t| t.split('\n').next().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// The first IPv4 default route of the main table, as the first `default` line of
/// `ip -4 -o route show default` has its first gateway and device (`default via GW dev DEV`,
/// or `default dev DEV` without a gateway), from the kernel's /proc/net/route (the same
/// routes in the same order, one line each, the first next hop of a multipath route): routes
/// to 0.0.0.0/0 that reach a device, not the rejecting kinds (unreachable, prohibit: flag
/// 0x200) nor those without a device (blackhole, throw), which `ip` prints with their type
/// first.
pub fn default_route(proc_net_route: &str) -> Option<String> {
    proc_net_route.lines().skip(1).find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        let hex = |i: usize| w.get(i).and_then(|h| u32::from_str_radix(h, 16).ok());
        let (dest, gw, flags, mask) = (hex(1)?, hex(2)?, hex(3)?, hex(7)?);
        if dest != 0 || mask != 0 || flags & 0x200 != 0 || w[0] == "*" {
            return None;
        }
        // Network byte order, read as a little-endian number.
        let [a, b, c, d] = gw.to_le_bytes();
        Some(if gw == 0 {
            format!("default dev {}", w[0])
        } else {
            format!("default via {a}.{b}.{c}.{d} dev {}", w[0])
        })
    })
}

/// The facts' next round, or their lines.
pub fn next(subsets: &Subsets, chroot: bool, got: &Got) -> Result<Next> {
    let run = |argv: &[&str]| Probe::Primitive(Primitive::Run(Run::new(argv)));
    // After ROUND0: the interfaces' addresses, the programs on PATH, then ELF, IP.
    let which_at = ROUND0.len() + 1;
    let elf_at = which_at + 1;
    let ip_at = elf_at + usize::from(chroot);
    // Then the other facts' asks (`gather_more`).
    let more_at = ip_at + if subsets.network { IP.len() } else { 0 };
    if got.rounds() == 0 {
        let mut a: Vec<Probe> = ROUND0.iter().map(|a| a.probe()).collect();
        a.push(Probe::Primitive(Primitive::ReadAll {
            pattern: "/sys/class/net/*/address".into(),
            limit: 4096,
        }));
        a.push(Probe::Primitive(Primitive::Which(
            PROGRAMS.iter().map(|p| p.to_string()).collect(),
        )));
        if chroot {
            a.push(run(ELF));
        }
        if subsets.network {
            a.extend(IP.iter().map(|argv| run(argv)));
        }
        a.extend(more::asks(subsets.hardware));
        return Ok(Next::Ask(a));
    }
    let r0 = |ask: &str| got.cmd(0, at(ask));
    let f0 = |ask: &str| got.file(0, at(ask));
    let arch_known = Read::text(r0("/proc/sys/kernel/arch")?).is_some();
    let release_known = Read::text(r0("/proc/sys/kernel/osrelease")?).is_some();
    let addresses = super::primitive::read_all(&got.cmd(0, ROUND0.len())?.stdout);
    let found = &got.cmd(0, which_at)?.stdout;
    let on_path = |p: &str| found.lines().any(|l| l.rsplit('/').next() == Some(p));
    // uname where /proc cannot say: a second look.
    let unames: Vec<&str> = UNAME
        .iter()
        .copied()
        .filter(|o| {
            if *o == "-m" {
                !arch_known
            } else {
                !release_known
            }
        })
        .collect();
    // A second look: uname, and what the other facts cannot know from round 0 (executable
    // local facts, a RHEV host's processes); a third only for linked executable local facts.
    let mut later = more::Later::plan(got, more_at)?;
    let round1 = later.round1();
    if got.rounds() == 1 && (!unames.is_empty() || !round1.is_empty()) {
        let mut a: Vec<Probe> = unames.iter().map(|o| run(&["uname", o])).collect();
        a.extend(round1);
        return Ok(Next::Ask(a));
    }
    if got.rounds() >= 2 {
        later.plan2(got, unames.len())?;
        let round2 = later.round2();
        if got.rounds() == 2 && !round2.is_empty() {
            return Ok(Next::Ask(round2));
        }
    }
    let mut uname = std::collections::HashMap::new();
    for (k, o) in unames.iter().enumerate() {
        uname.insert(*o, got.cmd(1, k)?.stdout.trim_end_matches('\n').to_string());
    }
    let mut o = Lines::default();
    let in_chroot = chroot || !r0("debian_chroot")?.stdout.is_empty();
    let same = |a: &FileState, b: &FileState| a.dev == b.dev && a.inode == b.inode;
    let proc1 = f0("/proc/1/root/.")?;
    let root = f0("/")?;
    let is_chroot = if in_chroot {
        true
    } else if proc1.exists {
        !same(proc1, root)
    } else {
        !(root.exists && root.inode == 2)
    };
    o.kv("is_chroot", if is_chroot { "1" } else { "0" });
    if arch_known {
        o.kv("uname_m", &first_line(r0("/proc/sys/kernel/arch")?));
    } else {
        o.kv("uname_m", &uname["-m"]);
    }
    for (key, file, opt) in [
        ("kernel", "/proc/sys/kernel/osrelease", "-r"),
        ("kernel_version", "/proc/sys/kernel/version", "-v"),
        ("system", "/proc/sys/kernel/ostype", "-s"),
        ("nodename", "/proc/sys/kernel/hostname", "-n"),
    ] {
        if release_known {
            o.kv(key, &first_line(r0(file)?));
        } else {
            o.kv(key, &uname[opt]);
        }
    }
    o.kv("etc_hostname", &first_line(r0("/etc/hostname")?));
    o.kv("fqdn", r0("hostname -f")?.stdout.trim_end_matches('\n'));
    let me = r0("me")?.stdout.trim_end().to_string();
    let (uid, name) = me.split_once(' ').unwrap_or((&me, ""));
    o.kv("user_uid", uid);
    o.kv("user_id", if name.is_empty() { uid } else { name });
    o.kv("debian_version", &first_line(r0("/etc/debian_version")?));
    let comm = first_line(r0("/proc/1/comm")?);
    o.kv("proc1", &comm);
    if comm != "systemd" {
        let init = f0("/sbin/init")?;
        o.kv("init_link", init.link_target.as_deref().unwrap_or(""));
    }
    if f0("/run/systemd/system")?.is_dir() {
        o.kv("run_systemd", "1");
    }
    let exe = |f: &FileState| f.is_file() && f.mode & 0o111 != 0;
    if exe(f0("/lib/systemd/systemd")?) || exe(f0("/usr/lib/systemd/systemd")?) {
        o.kv("has_systemd", "1");
    }
    for (p, m) in [("apt-get", "apt"), ("dnf", "dnf"), ("apk", "apk")] {
        if on_path(p) {
            o.kv("pkg_mgr", m);
        }
    }
    o.kv("machine_id", &first_line(r0("/etc/machine-id")?));
    if let Some(t) = Read::text(r0("/etc/os-release")?).or(Read::text(r0("/usr/lib/os-release")?)) {
        // `while read -r l || [ -n "$l" ]`: every line, the last even without its newline.
        for l in t.strip_suffix('\n').unwrap_or(&t).split('\n') {
            if !t.is_empty() {
                match l.split_once('=') {
                    Some((k, v)) => o.kv(&format!("osr_{k}"), v),
                    None => o.raw(&format!("osr_{l}")),
                }
            }
        }
    }
    if chroot {
        let elf: String = got
            .cmd(0, elf_at)?
            .stdout
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        o.kv("elf", &elf);
        o.kv("chroot_target", "1");
    }
    if subsets.hardware {
        hardware(&mut o, r0)?;
    }
    for (k, v) in more::lines(
        got,
        more_at,
        unames.len(),
        &later,
        subsets.hardware,
        r0("/proc/cpuinfo")?,
        r0("/proc/meminfo")?,
    )? {
        o.kv(&k, &v);
    }
    if subsets.network {
        // Every interface has an address attribute (empty for some kinds).
        let name = |p: &str| p.split('/').nth(4).unwrap_or("").to_string();
        let names: String = addresses
            .iter()
            .map(|(p, _)| format!("{} ", name(p)))
            .collect();
        o.kv("interfaces", &names);
        if on_path("ip") {
            if let Some(r) = Read::text(r0("/proc/net/route")?).and_then(|t| default_route(&t)) {
                o.kv("route", &r);
            }
            for l in got.cmd(0, ip_at)?.stdout.lines() {
                let w: Vec<&str> = l.split_whitespace().collect();
                if w.len() >= 4 {
                    o.kv("addr", &format!("{} {}", w[1], w[3]));
                }
            }
            for (p, mac) in &addresses {
                let mac = mac.split('\n').next().unwrap_or("");
                o.kv("mac", &format!("{} {mac}", name(p)));
            }
        }
    }
    Ok(Next::Done(CmdOutput {
        rc: 0,
        stdout: o.0,
        stderr: String::new(),
    }))
}

/// The facts' output.
#[derive(Default)]
struct Lines(String);

impl Lines {
    fn kv(&mut self, key: &str, value: &str) {
        self.0.push_str(&format!("{key}={value}\n"));
    }
    fn raw(&mut self, line: &str) {
        self.0.push_str(line);
        self.0.push('\n');
    }
}

/// Memory, processors and uptime.
fn hardware<'g>(o: &mut Lines, r0: impl Fn(&str) -> Result<&'g CmdOutput>) -> Result<()> {
    for l in Read::text(r0("/proc/meminfo")?).unwrap_or_default().lines() {
        let mut w = l.split_whitespace();
        let (k, v) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
        match k {
            "MemTotal:" => o.kv("memtotal_kb", v),
            "MemFree:" => o.kv("memfree_kb", v),
            "SwapTotal:" => o.kv("swaptotal_kb", v),
            _ => {}
        }
    }
    let (mut n, mut cores, mut ids) = (0, None, Vec::new());
    let cpuinfo = Read::text(r0("/proc/cpuinfo")?).unwrap_or_default();
    for l in cpuinfo.lines() {
        let (k, v) = l.split_once(':').unwrap_or((l, ""));
        let v = v.strip_prefix(' ').unwrap_or(v);
        if k.starts_with("processor") {
            n += 1;
        } else if k.starts_with("physical id") {
            if !ids.contains(&v) {
                ids.push(v);
            }
        } else if k.starts_with("cpu cores") && cores.is_none() {
            cores = Some(v.to_string());
        }
    }
    o.kv("vcpus", &n.to_string());
    // `set -- $ids`: the words of the distinct ids.
    let sockets: usize = ids.iter().map(|i| i.split_whitespace().count()).sum();
    o.kv("cpu_sockets", &sockets.to_string());
    o.kv("cpu_cores", cores.as_deref().unwrap_or(""));
    let uptime = Read::text(r0("/proc/uptime")?).unwrap_or_default();
    o.kv("uptime", uptime.split_whitespace().next().unwrap_or(""));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::default_route;

    /// The gateway and device a route line names (what the facts take from it).
    fn via_dev(line: &str) -> (Option<String>, Option<String>) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let after = |k: &str| {
            w.iter()
                .position(|x| *x == k)
                .and_then(|i| w.get(i + 1))
                .map(|s| s.to_string())
        };
        (after("via"), after("dev"))
    }

    #[test]
    fn default_routes_are_read_from_proc() {
        let head =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
        let t = format!(
            "{head}*\t00000000\t00000000\t0201\t0\t0\t2\t00000000\t0\t0\t0\n*\t00000000\t00000000\t0001\t0\t0\t10\t00000000\t0\t0\t0\neth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\neth0\t00000000\t010AA8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        );
        assert_eq!(
            default_route(&t).as_deref(),
            Some("default via 192.168.10.1 dev eth0")
        );
        let t = format!("{head}ppp0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n");
        assert_eq!(default_route(&t).as_deref(), Some("default dev ppp0"));
        let t = format!("{head}eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
        assert_eq!(default_route(&t), None);
        assert_eq!(default_route(""), None);
        assert_eq!(default_route(&format!("{head}garbage\n\n")), None);
    }

    /// In network namespaces of the test's own (veth pairs; this machine's network is never
    /// touched): what /proc/net/route gives is what the first `default` line of `ip` says, for
    /// routes of every kind and order.
    #[test]
    fn default_routes_from_proc_are_what_ip_says() {
        let setup = "ip link set lo up && for i in 0 1; do ip link add d$i type veth peer name p$i && ip link set d$i up && ip link set p$i up && ip addr add 10.$i.0.2/24 dev d$i || exit; done";
        for routes in [
            "",
            "ip route add default via 10.0.0.1 dev d0",
            "ip route add default dev d1",
            "ip route add blackhole default metric 10 && ip route add default via 10.1.0.1 dev d1 metric 20",
            "ip route add unreachable default metric 5 && ip route add prohibit default metric 6 && ip route add throw default metric 7 && ip route add default via 10.0.0.1 dev d0 metric 50",
            "ip route add default via 10.0.0.1 dev d0 metric 200 && ip route add default via 10.1.0.1 dev d1 metric 100",
            "ip route add default metric 30 nexthop via 10.1.0.1 dev d1 nexthop via 10.0.0.1 dev d0",
            "ip route add 0.0.0.0/1 via 10.0.0.1 dev d0 && ip route add default via 10.1.0.1 dev d1 metric 9",
        ] {
            let out = std::process::Command::new("unshare")
                .args(["--net", "sh", "-c"])
                .arg(format!(
                    "{setup} && {} cat /proc/net/route && echo --- && ip -4 -o route show default",
                    if routes.is_empty() {
                        String::new()
                    } else {
                        format!("{routes} &&")
                    }
                ))
                .output()
                .unwrap();
            assert!(out.status.success(), "{routes}: {out:?}");
            let out = String::from_utf8(out.stdout).unwrap();
            let (proc, ip) = out.split_once("---\n").unwrap();
            let theirs = ip.lines().find(|l| l.starts_with("default")).map(via_dev);
            assert_eq!(
                default_route(proc).as_deref().map(via_dev),
                theirs,
                "{routes}\n{out}"
            );
            assert_eq!(theirs.is_some(), !routes.is_empty(), "{routes}\n{out}");
        }
    }
}
