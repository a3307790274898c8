//! The facts roles branch on beyond the platform, with Ansible's names, shapes and value
//! types (ansible-core 2.19's collectors, ported rule by rule): `virtualization_*`
//! (virtual/linux.py), `selinux` and `selinux_python_present` (system/selinux.py), `mounts`
//! and `memory_mb` (hardware/linux.py), `python`, `env`, `date_time`, `lsb` and `local`
//! (system/*.py). The lines they come from are [`crate::host::gather_more`]'s; [`parse_more`]
//! adds the facts to what [`super::facts::parse`] made.
//!
//! Where prov differs from Ansible, on purpose:
//! - `selinux` is the state the files say (selinuxfs' `enforce` and `policyvers`,
//!   `/etc/selinux/config`, as libselinux reads them), never Ansible's `{"status": "Missing
//!   selinux Python library"}`: the state does not depend on a Python library.
//!   `selinux_python_present` is whether the `python3` on PATH has ctypes and the target has
//!   libselinux.so.1, what ansible-core's binding loads.
//! - `python` describes the `python3` on the target's PATH, not the interpreter a module would
//!   run with (`ansible_python_interpreter` is not visible to the facts); no `python3`, no
//!   `python` fact.
//! - `env` is the environment of the process that reads the host (the prober, or the probe
//!   shell), which is what prov's commands run with.
//! - `virtualization_*` skip Ansible's dmidecode fallback and its lscpu call on s390 (as if
//!   lscpu were missing); `mounts` skip the bind-mount marking (findmnt) and the udevadm UUID
//!   fallback; a failing executable local fact's message has no stderr.
//! - `date_time.tz_dst` is the Python's `time.tzname[1]` (as Ansible's); without a `python3`,
//!   the zone's current name. Microseconds are `date`'s nanoseconds cut, not rounded.
//! - Which facts: `gather_subset` only knows network and hardware here, so the
//!   `virtualization_*` facts (Ansible's `virtual` subset) come with every subset, like the
//!   `min` ones; `mounts`, `memory_mb` (and `swapfree_mb` beside `memtotal_mb`) only with
//!   hardware.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use indexmap::IndexMap;
use minijinja::Value;
use regex::Regex;

mod local;
#[cfg(test)]
mod tests;

pub use local::local;

pub(crate) use super::pylines::splitlines;

/// Ansible's `get_file_content`: the text stripped, `None` when empty.
fn content(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
}

/// Ansible's `get_file_lines`.
fn file_lines(text: Option<&str>) -> Vec<String> {
    content(text)
        .map(|c| splitlines(&c).into_iter().map(String::from).collect())
        .unwrap_or_default()
}

/// What `virtualization_*` are.
#[derive(Debug, Default, PartialEq)]
pub struct Virtual {
    pub kind: Option<String>,
    pub role: Option<String>,
    pub guest: BTreeSet<String>,
    pub host: BTreeSet<String>,
}

/// Ansible's patterns (`re.search`, or `re.match` where they start with `^`), used below by
/// position.
static RE: LazyLock<[Regex; 13]> = LazyLock::new(|| {
    [
        r"/docker(/|-[0-9a-f]+\.scope)",
        r"/machine.slice/machine-lxc",
        r"/system.slice/containerd.service",
        r"^container=.",
        r"^VxID:\s+\d+",
        r"^VxID:\s+0",
        r"^model name.*QEMU Virtual CPU",
        r"^vendor_id.*User Mode Linux",
        r"^model name.*UML",
        r"^machine.*CHRP IBM pSeries .emulated by qemu.",
        r"^vendor_id.*PowerVM Lx86",
        r"^vendor_id.*IBM/S390",
        r"/lxc/",
    ]
    .map(|r| Regex::new(r).expect("a valid pattern"))
});

/// LinuxVirtual.get_virtual_facts, rule by rule: `file` is a file's text when it could be
/// read, `exists` whether a path exists (following links), `isdir` whether it is a
/// directory, `vdsm` whether a process is named vdsm/vdsmd.
pub fn virtualization(
    file: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&str) -> bool,
    isdir: &dyn Fn(&str) -> bool,
    vdsm: bool,
) -> Virtual {
    let re = &*RE;
    let mut v = Virtual::default();
    let mut found = false;
    let s = |x: &str| Some(x.to_string());
    let lines = |p: &str| file_lines(file(p).as_deref());
    let get = |p: &str| content(file(p).as_deref());
    for line in lines("/proc/1/cgroup") {
        if re[0].is_match(&line) {
            v.guest.insert("docker".into());
            if !found {
                (v.kind, v.role, found) = (s("docker"), s("guest"), true);
            }
        }
        if re[12].is_match(&line) || re[1].is_match(&line) {
            v.guest.insert("lxc".into());
            if !found {
                (v.kind, v.role, found) = (s("lxc"), s("guest"), true);
            }
        }
        if re[2].is_match(&line) {
            v.guest.insert("containerd".into());
            if !found {
                (v.kind, v.role, found) = (s("containerd"), s("guest"), true);
            }
        }
    }
    if let Some(env) = get("/proc/1/environ") {
        for line in env.trim_end_matches('\0').split('\0') {
            for (pat, tech) in [("container=lxc", "lxc"), ("container=podman", "podman")] {
                if line.contains(pat) {
                    v.guest.insert(tech.into());
                    if !found {
                        (v.kind, v.role, found) = (s(tech), s("guest"), true);
                    }
                }
            }
            if re[3].is_match(line) {
                v.guest.insert("container".into());
                if !found {
                    (v.kind, v.role, found) = (s("container"), s("guest"), true);
                }
            }
        }
    }
    if exists("/proc/vz") && !exists("/proc/lve") {
        v.kind = s("openvz");
        let role = if exists("/proc/bc") {
            v.host.insert("openvz".into());
            "host"
        } else {
            v.guest.insert("openvz".into());
            "guest"
        };
        if !found {
            v.role = s(role);
        }
        found = true;
    }
    let systemd_container = get("/run/systemd/container");
    if let Some(c) = &systemd_container {
        v.guest.insert(c.clone());
        if !found {
            (v.kind, v.role, found) = (s(c), s("guest"), true);
        }
    }
    if exists("/.dockerenv") || exists("/.dockerinit") {
        v.guest.insert("docker".into());
        if !found {
            (v.kind, v.role, found) = (s("docker"), s("guest"), true);
        }
    }
    let containers = ["docker", "lxc", "podman", "openvz", "containerd"];
    if containers.iter().any(|c| v.guest.contains(*c)) || systemd_container.is_some() {
        v.guest.insert("container".into());
    }
    if exists("/proc/xen") {
        let host = lines("/proc/xen/capabilities")
            .iter()
            .any(|l| l.contains("control_d"));
        if host {
            v.host.insert("xen".into());
        }
        if !found {
            (v.kind, v.role) = (s("xen"), s(if host { "host" } else { "guest" }));
        }
        found = true;
    }
    // Assume a guest for the DMI rules.
    if !found {
        v.role = s("guest");
    }
    let dmi = |n: &str| get(&format!("/sys/devices/virtual/dmi/id/{n}"));
    let (product_name, sys_vendor) = (dmi("product_name"), dmi("sys_vendor"));
    let product_family = dmi("product_family");
    let pn = product_name.as_deref().unwrap_or("\0");
    let sv = sys_vendor.as_deref().unwrap_or("\0");
    let guest = |v: &mut Virtual, found: &mut bool, tech: &str| {
        v.guest.insert(tech.into());
        if !*found {
            v.kind = s(tech);
            *found = true;
        }
    };
    if [
        "KVM",
        "KVM Server",
        "Bochs",
        "AHV",
        "CloudStack KVM Hypervisor",
    ]
    .contains(&pn)
    {
        guest(&mut v, &mut found, "kvm");
    }
    if sv == "oVirt" {
        guest(&mut v, &mut found, "oVirt");
    }
    if sv == "Red Hat" {
        if product_family.as_deref() == Some("RHV") {
            guest(&mut v, &mut found, "RHV");
        } else if pn == "RHEV Hypervisor" {
            guest(&mut v, &mut found, "RHEV");
        }
    }
    if pn.starts_with("VMware") {
        guest(&mut v, &mut found, "VMware");
    }
    if ["OpenStack Compute", "OpenStack Nova"].contains(&pn) {
        guest(&mut v, &mut found, "openstack");
    }
    let bios_vendor = dmi("bios_vendor");
    let bv = bios_vendor.as_deref().unwrap_or("\0");
    if bv == "Xen" {
        guest(&mut v, &mut found, "xen");
    }
    if bv == "innotek GmbH" {
        guest(&mut v, &mut found, "virtualbox");
    }
    if ["Amazon EC2", "DigitalOcean", "Hetzner", "Linode"].contains(&bv) {
        guest(&mut v, &mut found, "kvm");
    }
    let kvm_vendors = [
        "QEMU",
        "Amazon EC2",
        "DigitalOcean",
        "Google",
        "Scaleway",
        "Nutanix",
    ];
    if kvm_vendors.contains(&sv) {
        guest(&mut v, &mut found, "kvm");
    }
    for (vendor, tech) in [
        ("KubeVirt", "KubeVirt"),
        ("Microsoft Corporation", "VirtualPC"),
        ("Parallels Software International Inc.", "parallels"),
        ("OpenStack Foundation", "openstack"),
    ] {
        if sv == vendor {
            guest(&mut v, &mut found, tech);
        }
    }
    // Unassume it.
    if !found {
        v.role = None;
    }
    for line in lines("/proc/self/status") {
        if re[4].is_match(&line) {
            if !found {
                v.kind = s("linux_vserver");
            }
            let (set, role) = if re[5].is_match(&line) {
                (&mut v.host, "host")
            } else {
                (&mut v.guest, "guest")
            };
            set.insert("linux_vserver".into());
            if !found {
                v.role = s(role);
            }
            found = true;
        }
    }
    for line in lines("/proc/cpuinfo") {
        let tech = if re[6].is_match(&line) || re[9].is_match(&line) {
            "kvm"
        } else if re[7].is_match(&line) || re[8].is_match(&line) {
            "uml"
        } else if re[10].is_match(&line) {
            "powervm_lx86"
        } else if re[11].is_match(&line) {
            // PR/SM, then what lscpu calls the hypervisor: without lscpu, ibm_systemz.
            v.guest.insert("PR/SM".into());
            "ibm_systemz"
        } else {
            continue;
        };
        v.guest.insert(tech.into());
        if !found {
            v.kind = s(tech);
            v.role = s(if v.kind.as_deref() == Some("PR/SM") {
                "LPAR"
            } else {
                "guest"
            });
            found = true;
        }
    }
    if let Some(text) = file("/proc/modules") {
        let modules: Vec<String> = file_lines(Some(&text))
            .iter()
            .map(|l| l.split(' ').next().unwrap_or("").to_string())
            .collect();
        let has = |m: &str| modules.iter().any(|x| x == m);
        if has("kvm") {
            v.host.insert("kvm".into());
            if !found {
                (v.kind, v.role) = (s("kvm"), s("host"));
            }
            if isdir("/rhev") && vdsm {
                v.host.insert("RHEV".into());
                if !found {
                    v.kind = s("RHEV");
                }
            }
            found = true;
        }
        for (m, role) in [("vboxdrv", "host"), ("virtio", "guest")] {
            if has(m) {
                let tech = if m == "virtio" { "kvm" } else { "virtualbox" };
                v.host.insert(tech.into());
                if !found {
                    (v.kind, v.role, found) = (s(tech), s(role), true);
                }
            }
        }
    }
    // dmidecode's system-product-name (VMware, BHYVE) is not asked: /sys has the DMI data.
    if exists("/dev/kvm") {
        v.host.insert("kvm".into());
        if !found {
            (v.kind, v.role, found) = (s("kvm"), s("host"), true);
        }
    }
    if !found {
        (v.kind, v.role) = (s("NA"), s("NA"));
    }
    v
}

/// `memory_mb` from /proc/meminfo, as get_memory_facts computes it (MiB, floored; `None`
/// where /proc/meminfo lacks a line).
pub fn memory_mb(meminfo: &str) -> Value {
    let mut m: IndexMap<&str, i64> = IndexMap::new();
    for line in file_lines(Some(meminfo)) {
        let (key, rest) = line.split_once(':').unwrap_or((&line, ""));
        let key = match key {
            "MemTotal" => "memtotal",
            "MemFree" => "memfree",
            "SwapTotal" => "swaptotal",
            "SwapFree" => "swapfree",
            "Buffers" => "buffers",
            "Cached" => "cached",
            "SwapCached" => "swapcached",
            _ => continue,
        };
        if let Ok(kb) = rest.trim().split(' ').next().unwrap_or("").parse::<i64>() {
            m.insert(key, kb.div_euclid(1024));
        }
    }
    let g = |k: &str| m.get(k).copied();
    let sub = |a: Option<i64>, b: Option<i64>| Some(a? - b?);
    let nocache_free = (|| Some(g("cached")? + g("memfree")? + g("buffers")?))();
    let v = |x: Option<i64>| x.map_or(Value::from(()), Value::from);
    let dict = |pairs: Vec<(&str, Value)>| Value::from_pairs(pairs);
    dict(vec![
        (
            "real",
            dict(vec![
                ("total", v(g("memtotal"))),
                ("used", v(sub(g("memtotal"), g("memfree")))),
                ("free", v(g("memfree"))),
            ]),
        ),
        (
            "nocache",
            dict(vec![
                ("free", v(nocache_free)),
                ("used", v(sub(g("memtotal"), nocache_free))),
            ]),
        ),
        (
            "swap",
            dict(vec![
                ("total", v(g("swaptotal"))),
                ("free", v(g("swapfree"))),
                ("used", v(sub(g("swaptotal"), g("swapfree")))),
                ("cached", v(g("swapcached"))),
            ]),
        ),
    ])
}

/// `selinux` as libselinux reads the files (Ansible asks libselinux): enabled when selinuxfs
/// is there (its `enforce` reads) and /etc/selinux/config exists.
pub fn selinux(enforce: Option<&str>, policyvers: Option<&str>, config: Option<&str>) -> Value {
    let (Some(enforce), Some(config)) = (enforce, config) else {
        return Value::from_pairs(vec![("status", Value::from("disabled"))]);
    };
    let mode_name = |m: i64| match m {
        1 => "enforcing",
        0 => "permissive",
        -1 => "disabled",
        _ => "unknown",
    };
    // security_policyvers: the kernel's, 15 when the file is missing, -1 when unreadable.
    let policyvers = match policyvers {
        None => 15,
        Some(t) => t.trim().parse::<i64>().unwrap_or(-1),
    };
    // selinux_getenforcemode: the first `SELINUX=` line (at the line start) naming a mode.
    let config_mode = config
        .lines()
        .filter_map(|l| l.strip_prefix("SELINUX="))
        .find_map(|v| {
            let v = v.trim_start().to_ascii_lowercase();
            [("enforcing", 1), ("permissive", 0), ("disabled", -1)]
                .iter()
                .find(|(n, _)| v.starts_with(n))
                .map(|(_, m)| *m)
        });
    // selinux_getpolicytype: the last `SELINUXTYPE=` line, else "targeted".
    let mut policy = "targeted".to_string();
    for l in config.lines() {
        let l = l.trim_start();
        if l.len() >= 12 && l.as_bytes()[..12].eq_ignore_ascii_case(b"SELINUXTYPE=") {
            // Trailing white space and control characters go, never the first character.
            let t = &l[12..];
            let mut end = t.len();
            while let Some(c) = t[..end].chars().next_back() {
                if end <= c.len_utf8() || !(c.is_whitespace() || c.is_control()) {
                    break;
                }
                end -= c.len_utf8();
            }
            policy = t[..end].to_string();
        }
    }
    let mode = enforce.trim().parse::<i64>().unwrap_or(-1);
    Value::from_pairs(vec![
        ("status", Value::from("enabled")),
        ("policyvers", Value::from(policyvers)),
        (
            "config_mode",
            Value::from(config_mode.map_or("unknown", mode_name)),
        ),
        ("mode", Value::from(mode_name(mode))),
        ("type", Value::from(policy)),
    ])
}

/// `date_time` from `date +%Y|%m|%A|%w|%W|%d|%H|%M|%S|%s|%N|%Z|%z` (the target's zone);
/// the UTC fields from the epoch; `tz_dst` is Python's `time.tzname[1]` when known, else the
/// zone's current name.
pub fn date_time(date: &str, tz_dst: Option<&str>) -> Option<Value> {
    let w: Vec<&str> = date.trim_end().split('|').collect();
    let [
        year,
        month,
        weekday,
        wday,
        week,
        day,
        hour,
        minute,
        second,
        epoch,
        nanos,
        tz,
        off,
    ] = w[..]
    else {
        return None;
    };
    let epoch_i: i64 = epoch.parse().ok()?;
    let micro = if nanos.len() >= 6 && nanos.bytes().all(|b| b.is_ascii_digit()) {
        &nanos[..6]
    } else {
        "000000"
    };
    let (uy, um, ud) = crate::utc::civil_from_days(epoch_i.div_euclid(86400));
    let secs = epoch_i.rem_euclid(86400);
    let utc = format!(
        "{uy:04}-{um:02}-{ud:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    let basic = format!("{year}{month}{day}T{hour}{minute}{second}");
    let pairs: Vec<(&str, String)> = vec![
        ("year", year.into()),
        ("month", month.into()),
        ("weekday", weekday.into()),
        ("weekday_number", wday.into()),
        ("weeknumber", week.into()),
        ("day", day.into()),
        ("hour", hour.into()),
        ("minute", minute.into()),
        ("second", second.into()),
        ("epoch", epoch.into()),
        ("epoch_int", epoch_i.to_string()),
        ("date", format!("{year}-{month}-{day}")),
        ("time", format!("{hour}:{minute}:{second}")),
        ("iso8601_micro", format!("{utc}.{micro}Z")),
        ("iso8601", format!("{utc}Z")),
        ("iso8601_basic", format!("{basic}{micro}")),
        ("iso8601_basic_short", basic),
        ("tz", tz.into()),
        ("tz_dst", tz_dst.unwrap_or(tz).into()),
        ("tz_offset", off.into()),
    ];
    Some(Value::from_pairs(
        pairs.into_iter().map(|(k, v)| (k, Value::from(v))),
    ))
}

/// What the Python script printed: the `python` fact, `selinux_python_present` and `tz_dst`.
pub fn python(line: &str) -> Option<(Value, Option<bool>, Option<String>)> {
    let j: serde_json::Value = serde_json::from_str(line).ok()?;
    let vi = j.get("version_info")?.as_array()?;
    let names = ["major", "minor", "micro", "releaselevel", "serial"];
    let version = Value::from_pairs(
        names
            .iter()
            .zip(vi.iter())
            .map(|(n, v)| (*n, crate::vars::from_json(v))),
    );
    let field = |k: &str| j.get(k).map_or(Value::from(()), crate::vars::from_json);
    let fact = Value::from_pairs(vec![
        ("version", version),
        ("version_info", field("version_info")),
        ("executable", field("executable")),
        ("has_sslcontext", field("has_sslcontext")),
        ("type", field("type")),
    ]);
    let se = j.get("selinux_python_present").and_then(|v| v.as_bool());
    let tz_dst = j.get("tz_dst").and_then(|v| v.as_str()).map(String::from);
    Some((fact, se, tz_dst))
}

/// `env` from a process's environ (NUL-separated `NAME=value`; the first of a name wins, as
/// in Python's os.environ).
pub fn env(environ: &str) -> Value {
    let mut m: IndexMap<&str, &str> = IndexMap::new();
    for e in environ.split('\0') {
        if let Some((k, v)) = e.split_once('=') {
            m.entry(k).or_insert(v);
        }
    }
    Value::from_pairs(m.into_iter().map(|(k, v)| (k, Value::from(v))))
}

/// `lsb` from `lsb_release -a` (when it ran), else /etc/lsb-release; `None` when that file
/// has a line without `=` (Ansible's collector fails then).
pub fn lsb(release: Option<&str>, file: Option<&str>) -> Option<Value> {
    let mut f: IndexMap<&str, String> = IndexMap::new();
    if let Some(out) = release {
        for line in splitlines(out) {
            let Some((_, value)) = line.split_once(':') else {
                continue;
            };
            let key = [
                ("LSB Version:", "release"),
                ("Distributor ID:", "id"),
                ("Description:", "description"),
                ("Release:", "release"),
                ("Codename:", "codename"),
            ]
            .into_iter()
            .find(|(tag, _)| line.contains(tag));
            if let Some((_, key)) = key {
                f.insert(key, value.trim().to_string());
            }
        }
    }
    if f.is_empty() {
        for line in file_lines(file) {
            let (_, value) = line.split_once('=')?;
            let value = value.trim().to_string();
            for (tag, key) in [
                ("DISTRIB_ID", "id"),
                ("DISTRIB_RELEASE", "release"),
                ("DISTRIB_DESCRIPTION", "description"),
                ("DISTRIB_CODENAME", "codename"),
            ] {
                if line.contains(tag) {
                    f.insert(key, value);
                    break;
                }
            }
        }
    }
    if let Some(r) = f.get("release") {
        let major = r.split('.').next().unwrap_or("").to_string();
        f.insert("major_release", major);
    }
    let quotes: &[char] = &['\'', '"', '\\'];
    Some(Value::from_pairs(
        f.into_iter()
            .map(|(k, v)| (k, Value::from(v.trim_matches(quotes)))),
    ))
}

/// `mounts` from the mount table, the statfs lines and lsblk's `NAME UUID` lines, as
/// get_mount_facts builds them: devices that are paths (or `host:/path`), type not `none`,
/// one entry per mount point (the last line's, at the first's place).
pub fn mounts(table: &str, statfs: &str, lsblk: Option<&str>) -> Value {
    let mut uuids: IndexMap<&str, &str> = IndexMap::new();
    for l in splitlines(lsblk.unwrap_or("")) {
        if let Some((name, uuid)) = l.trim().rsplit_once(char::is_whitespace) {
            uuids.entry(name.trim()).or_insert(uuid.trim());
        }
    }
    let mut sizes: IndexMap<&str, [i64; 6]> = IndexMap::new();
    for l in statfs.split('\n') {
        // f_frsize f_bsize f_blocks f_bavail f_files f_ffree mount-point
        let w: Vec<&str> = l.splitn(7, ' ').collect();
        let numbers = |w: &[&str]| -> Option<[i64; 6]> {
            let n: Vec<i64> = w.iter().map(|x| x.parse().ok()).collect::<Option<_>>()?;
            n.try_into().ok()
        };
        if let [rest @ .., name] = &w[..]
            && let Some(n) = numbers(rest)
        {
            sizes.insert(name, n);
        }
    }
    let mut out: IndexMap<String, Value> = IndexMap::new();
    for line in splitlines(table) {
        let fields: Vec<String> = line.split_whitespace().map(unescape_octal).collect();
        if fields.len() < 4 {
            continue;
        }
        let (device, mount, fstype, options) = (&fields[0], &fields[1], &fields[2], &fields[3]);
        let num = |i: usize| {
            fields
                .get(i)
                .and_then(|x| x.parse::<i64>().ok())
                .unwrap_or(0)
        };
        if (!device.starts_with(['/', '\\']) && !device.contains(":/")) || fstype == "none" {
            continue;
        }
        let mut m: Vec<(&str, Value)> = vec![
            ("mount", Value::from(mount.as_str())),
            ("device", Value::from(device.as_str())),
            ("fstype", Value::from(fstype.as_str())),
            ("options", Value::from(options.as_str())),
            ("dump", Value::from(num(4))),
            ("passno", Value::from(num(5))),
        ];
        if let Some([frsize, bsize, blocks, bavail, files, favail]) =
            sizes.get(mount.as_str()).copied()
        {
            m.extend([
                ("size_total", Value::from(frsize * blocks)),
                ("size_available", Value::from(frsize * bavail)),
                ("block_size", Value::from(bsize)),
                ("block_total", Value::from(blocks)),
                ("block_available", Value::from(bavail)),
                ("block_used", Value::from(blocks - bavail)),
                ("inode_total", Value::from(files)),
                ("inode_available", Value::from(favail)),
                ("inode_used", Value::from(files - favail)),
            ]);
        }
        let uuid = uuids
            .get(device.as_str())
            .filter(|u| !u.is_empty())
            .copied()
            .unwrap_or("N/A");
        m.push(("uuid", Value::from(uuid)));
        out.insert(mount.clone(), Value::from_pairs(m));
    }
    Value::from(out.into_values().collect::<Vec<_>>())
}

/// The mount table's `\NNN` escapes decoded.
fn unescape_octal(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..=i + 3].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let n = b[i + 1..=i + 3]
                .iter()
                .fold(0u32, |n, c| n * 8 + u32::from(c - b'0'));
            out.extend(char::from_u32(n).unwrap_or('?').to_string().bytes());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Add these facts from the gather lines `p` to `f`.
pub fn parse_more(p: &[(&str, &str)], f: &mut IndexMap<String, Value>) {
    fn all<'a>(p: &[(&'a str, &'a str)], k: &str) -> Vec<&'a str> {
        p.iter().filter(|(x, _)| *x == k).map(|(_, v)| *v).collect()
    }
    let one = |k: &str| all(p, k).first().copied();
    let text = |k: &str| one(k).and_then(|v| serde_json::from_str::<String>(v).ok());
    let file = |path: &str| text(&format!("file:{path}"));
    let exists = |path: &str| all(p, "exists").contains(&path);
    let isdir = |path: &str| all(p, "isdir").contains(&path);
    let v = virtualization(&file, &exists, &isdir, one("rhev_vdsm").is_some());
    let tech = |s: &BTreeSet<String>| Value::from(s.iter().map(Value::from).collect::<Vec<_>>());
    if let Some(t) = &v.kind {
        f.insert("virtualization_type".into(), Value::from(t.as_str()));
    }
    if let Some(r) = &v.role {
        f.insert("virtualization_role".into(), Value::from(r.as_str()));
    }
    f.insert("virtualization_tech_guest".into(), tech(&v.guest));
    f.insert("virtualization_tech_host".into(), tech(&v.host));
    let sel = selinux(
        file("/sys/fs/selinux/enforce").as_deref(),
        file("/sys/fs/selinux/policyvers").as_deref(),
        file("/etc/selinux/config").as_deref(),
    );
    f.insert("selinux".into(), sel);
    let py = one("python").and_then(python);
    let mut tz_dst = None;
    if let Some((fact, se, dst)) = py {
        f.insert("python".into(), fact);
        if let Some(se) = se {
            f.insert("selinux_python_present".into(), Value::from(se));
        }
        tz_dst = dst;
    }
    if let Some(environ) = text("vol:environ") {
        f.insert("env".into(), env(&environ));
    }
    if let Some(d) = one("vol:date").and_then(|d| date_time(d, tz_dst.as_deref())) {
        f.insert("date_time".into(), d);
    }
    let release = text("lsb_release");
    if let Some(l) = lsb(release.as_deref(), file("/etc/lsb-release").as_deref()) {
        f.insert("lsb".into(), l);
    }
    let entries: Vec<serde_json::Value> = all(p, "local")
        .into_iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    f.insert("local".into(), local(&entries));
    if let Some(m) = text("vol:meminfo") {
        let mb = memory_mb(&m);
        // Ansible's flat companion of memtotal_mb, memfree_mb and swaptotal_mb.
        if let Some(free) = mb
            .get_attr("swap")
            .and_then(|s| s.get_attr("free"))
            .ok()
            .filter(|v| !v.is_none() && !v.is_undefined())
        {
            f.insert("swapfree_mb".into(), free);
        }
        f.insert("memory_mb".into(), mb);
    }
    if let Some(table) = text("vol:mtab") {
        let statfs = text("vol:statfs").unwrap_or_default();
        f.insert(
            "mounts".into(),
            mounts(&table, &statfs, text("lsblk").as_deref()),
        );
    }
}
