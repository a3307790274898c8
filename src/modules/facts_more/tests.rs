//! Fixture inputs for each fact, with what ansible-core 2.19's collectors make of them (worked
//! out by hand from their formulas, or printed by Python's own ConfigParser for the INI cases).

use std::collections::HashMap;

use super::*;

fn json(v: &Value) -> serde_json::Value {
    crate::vars::to_json(v)
}

/// A host for the virtualization rules: files with their text, paths that exist.
#[derive(Default)]
struct Host {
    files: HashMap<&'static str, &'static str>,
    exists: Vec<&'static str>,
    dirs: Vec<&'static str>,
}

impl Host {
    fn file(mut self, p: &'static str, t: &'static str) -> Host {
        self.files.insert(p, t);
        self
    }
    fn exists(mut self, p: &'static str) -> Host {
        self.exists.push(p);
        self
    }
    fn virt(&self) -> (String, String, Vec<String>, Vec<String>) {
        let v = virtualization(
            &|p| self.files.get(p).map(|t| t.to_string()),
            &|p| self.exists.contains(&p) || self.dirs.contains(&p),
            &|p| self.dirs.contains(&p),
            false,
        );
        (
            v.kind.unwrap_or_default(),
            v.role.unwrap_or_default(),
            v.guest.into_iter().collect(),
            v.host.into_iter().collect(),
        )
    }
}

fn virt(
    kind: &str,
    role: &str,
    guest: &[&str],
    host: &[&str],
) -> (String, String, Vec<String>, Vec<String>) {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
    (kind.into(), role.into(), s(guest), s(host))
}

const DMI: &str = "/sys/devices/virtual/dmi/id/";

#[test]
fn virtualization_docker() {
    // cgroup v1 with docker's path.
    let h = Host::default().file(
        "/proc/1/cgroup",
        "12:pids:/docker/3f4e1c2b9a7d\n11:memory:/docker/3f4e1c2b9a7d\n0::/\n",
    );
    assert_eq!(
        h.virt(),
        virt("docker", "guest", &["container", "docker"], &[])
    );
    // cgroup v2 under systemd: the scope; on a machine with /dev/kvm (this test machine).
    let h = Host::default()
        .file(
            "/proc/1/cgroup",
            "0::/system.slice/docker-3f4e1c2b9a7d.scope\n",
        )
        .exists("/dev/kvm");
    assert_eq!(
        h.virt(),
        virt("docker", "guest", &["container", "docker"], &["kvm"])
    );
    // A private cgroup namespace: only /.dockerenv tells.
    let h = Host::default()
        .file("/proc/1/cgroup", "0::/\n")
        .exists("/.dockerenv");
    assert_eq!(
        h.virt(),
        virt("docker", "guest", &["container", "docker"], &[])
    );
}

#[test]
fn virtualization_lxc_podman_nspawn() {
    let h = Host::default().file("/proc/1/environ", "container=lxc\0PATH=/usr/bin\0");
    assert_eq!(h.virt(), virt("lxc", "guest", &["container", "lxc"], &[]));
    let h = Host::default().file("/proc/1/cgroup", "2:cpu:/lxc/web01\n");
    assert_eq!(h.virt(), virt("lxc", "guest", &["container", "lxc"], &[]));
    // `machine.slice` with any character for the dot, as Ansible's pattern has it.
    let h = Host::default().file(
        "/proc/1/cgroup",
        "0::/machineXslice/machine-lxc\\x2dweb.scope\n",
    );
    assert_eq!(h.virt(), virt("lxc", "guest", &["container", "lxc"], &[]));
    let h = Host::default().file("/proc/1/environ", "HOME=/\0container=podman\0");
    assert_eq!(
        h.virt(),
        virt("podman", "guest", &["container", "podman"], &[])
    );
    let h = Host::default().file("/run/systemd/container", "systemd-nspawn\n");
    assert_eq!(
        h.virt(),
        virt(
            "systemd-nspawn",
            "guest",
            &["container", "systemd-nspawn"],
            &[]
        )
    );
    let h = Host::default().file("/proc/1/cgroup", "0::/system.slice/containerd.service\n");
    assert_eq!(
        h.virt(),
        virt("containerd", "guest", &["container", "containerd"], &[])
    );
    // The first rule that finds one names the type; the others still add their technology.
    let h = Host::default()
        .file("/proc/1/cgroup", "1:name=systemd:/docker/abc\n")
        .file("/proc/1/environ", "container=podman\0")
        .file("/sys/devices/virtual/dmi/id/sys_vendor", "QEMU\n");
    assert_eq!(
        h.virt(),
        virt(
            "docker",
            "guest",
            &["container", "docker", "kvm", "podman"],
            &[]
        )
    );
}

#[test]
fn virtualization_kvm_guest_and_host() {
    // A QEMU/KVM guest (q35 machine): the DMI vendor, and the virtio modules are no host.
    let h = Host::default()
        .file("/sys/devices/virtual/dmi/id/sys_vendor", "QEMU\n")
        .file(
            "/sys/devices/virtual/dmi/id/product_name",
            "Standard PC (Q35 + ICH9, 2009)\n",
        )
        .file(
            "/proc/modules",
            "virtio_net 61440 0 - Live 0x0\nvirtio_blk 20480 2 - Live 0x0\n",
        );
    assert_eq!(h.virt(), virt("kvm", "guest", &["kvm"], &[]));
    let h = Host::default().file("/sys/devices/virtual/dmi/id/product_name", "KVM");
    assert_eq!(h.virt(), virt("kvm", "guest", &["kvm"], &[]));
    let h = Host::default().file(
        "/proc/cpuinfo",
        "vendor_id\t: GenuineIntel\nmodel name\t: QEMU Virtual CPU version 2.5+\n",
    );
    assert_eq!(h.virt(), virt("kvm", "guest", &["kvm"], &[]));
    // A bare-metal KVM host: the kvm module and /dev/kvm.
    let h = Host::default()
        .file("/sys/devices/virtual/dmi/id/sys_vendor", "Dell Inc.\n")
        .file(
            "/sys/devices/virtual/dmi/id/product_name",
            "PowerEdge R640\n",
        )
        .file(
            "/proc/modules",
            "kvm_intel 409600 0 - Live 0x0\nkvm 1142784 1 kvm_intel, Live 0x0\n",
        )
        .exists("/dev/kvm");
    assert_eq!(h.virt(), virt("kvm", "host", &[], &["kvm"]));
    // /dev/kvm alone (the module built in).
    let h = Host::default().exists("/dev/kvm");
    assert_eq!(h.virt(), virt("kvm", "host", &[], &["kvm"]));
    // A guest with nested virtualization: guest first, kvm host technology too.
    let h = Host::default()
        .file("/sys/devices/virtual/dmi/id/sys_vendor", "QEMU")
        .file("/proc/modules", "kvm 1142784 1 kvm_amd, Live 0x0\n")
        .exists("/dev/kvm");
    assert_eq!(h.virt(), virt("kvm", "guest", &["kvm"], &["kvm"]));
}

#[test]
fn virtualization_other_hypervisors_and_none() {
    let vm = |file: &'static str, text: &'static str| {
        let path: &'static str = Box::leak(format!("{DMI}{file}").into_boxed_str());
        Host::default().file(path, text).virt()
    };
    assert_eq!(
        vm("product_name", "VMware Virtual Platform"),
        virt("VMware", "guest", &["VMware"], &[])
    );
    assert_eq!(
        vm("bios_vendor", "innotek GmbH"),
        virt("virtualbox", "guest", &["virtualbox"], &[])
    );
    assert_eq!(
        vm("sys_vendor", "Microsoft Corporation"),
        virt("VirtualPC", "guest", &["VirtualPC"], &[])
    );
    assert_eq!(
        vm("bios_vendor", "Hetzner"),
        virt("kvm", "guest", &["kvm"], &[])
    );
    assert_eq!(
        vm("product_name", "OpenStack Nova"),
        virt("openstack", "guest", &["openstack"], &[])
    );
    let h = Host::default()
        .exists("/proc/xen")
        .file("/proc/xen/capabilities", "control_d\n");
    assert_eq!(h.virt(), virt("xen", "host", &[], &["xen"]));
    let h = Host::default().exists("/proc/xen");
    assert_eq!(h.virt(), virt("xen", "guest", &[], &[]));
    let h = Host::default().exists("/proc/vz");
    assert_eq!(
        h.virt(),
        virt("openvz", "guest", &["container", "openvz"], &[])
    );
    let h = Host::default().exists("/proc/vz").exists("/proc/bc");
    assert_eq!(h.virt(), virt("openvz", "host", &[], &["openvz"]));
    let h = Host::default().file("/proc/self/status", "VxID:\t0\n");
    assert_eq!(
        h.virt(),
        virt("linux_vserver", "host", &[], &["linux_vserver"])
    );
    // Bare metal without KVM: NA.
    let h = Host::default()
        .file("/sys/devices/virtual/dmi/id/sys_vendor", "Dell Inc.\n")
        .file("/proc/modules", "ext4 1 0 - Live 0x0\n")
        .file("/proc/1/cgroup", "0::/init.scope\n");
    assert_eq!(h.virt(), virt("NA", "NA", &[], &[]));
}

#[test]
fn memory_mb_from_meminfo() {
    // kB values just below the next MiB: Ansible floors each before subtracting.
    let meminfo = "MemTotal:        2048999 kB\nMemFree:          513023 kB\nMemAvailable:    1500000 kB\nBuffers:           11263 kB\nCached:           205823 kB\nSwapCached:         2047 kB\nActive:           100000 kB\nSwapTotal:       1049599 kB\nSwapFree:         525311 kB\n";
    assert_eq!(
        json(&memory_mb(meminfo)),
        serde_json::json!({
            "real": {"total": 2000, "used": 1500, "free": 500},
            "nocache": {"free": 710, "used": 1290},
            "swap": {"total": 1024, "free": 512, "used": 512, "cached": 1},
        })
    );
    // What /proc/meminfo lacks is None.
    assert_eq!(
        json(&memory_mb("MemTotal: 1024 kB\nMemFree: 0 kB\n")),
        serde_json::json!({
            "real": {"total": 1, "used": 1, "free": 0},
            "nocache": {"free": null, "used": null},
            "swap": {"total": null, "free": null, "used": null, "cached": null},
        })
    );
}

#[test]
fn selinux_from_its_files() {
    assert_eq!(
        json(&selinux(None, None, Some("SELINUX=enforcing\n"))),
        serde_json::json!({"status": "disabled"})
    );
    // selinuxfs without a config: libselinux says disabled.
    assert_eq!(
        json(&selinux(Some("1"), Some("33"), None)),
        serde_json::json!({"status": "disabled"})
    );
    assert_eq!(
        json(&selinux(
            Some("1"),
            Some("33\n"),
            Some("# SELINUX=disabled\nSELINUX=enforcing\nSELINUXTYPE=targeted\n")
        )),
        serde_json::json!({"status": "enabled", "policyvers": 33, "config_mode": "enforcing",
            "mode": "enforcing", "type": "targeted"})
    );
    assert_eq!(
        json(&selinux(
            Some("0"),
            None,
            Some(" SELINUX=enforcing\nSELINUX= Permissive\n  selinuxtype=mls \t\n")
        )),
        serde_json::json!({"status": "enabled", "policyvers": 15, "config_mode": "permissive",
            "mode": "permissive", "type": "mls"})
    );
    assert_eq!(
        json(&selinux(Some("x"), Some("x"), Some(""))),
        serde_json::json!({"status": "enabled", "policyvers": -1, "config_mode": "unknown",
            "mode": "disabled", "type": "targeted"})
    );
}

#[test]
fn date_time_fields() {
    // 2024-03-01 00:30 in Berlin is the leap day in UTC.
    let d = "2024|03|Friday|5|08|01|00|30|00|1709249400|042123999|CET|+0100\n";
    let got = json(&date_time(d, Some("CEST")).unwrap());
    assert_eq!(
        got,
        serde_json::json!({
            "year": "2024", "month": "03", "weekday": "Friday", "weekday_number": "5",
            "weeknumber": "08", "day": "01", "hour": "00", "minute": "30", "second": "00",
            "epoch": "1709249400", "epoch_int": "1709249400", "date": "2024-03-01",
            "time": "00:30:00", "iso8601_micro": "2024-02-29T23:30:00.042123Z",
            "iso8601": "2024-02-29T23:30:00Z", "iso8601_basic": "20240301T003000042123",
            "iso8601_basic_short": "20240301T003000", "tz": "CET", "tz_dst": "CEST",
            "tz_offset": "+0100",
        })
    );
    assert_eq!(got.as_object().unwrap().len(), 20);
    // Without Python, the zone's current name; a date without %N, zero microseconds.
    let d = "1970|01|Thursday|4|00|01|00|00|00|0|%N|UTC|+0000";
    let got = json(&date_time(d, None).unwrap());
    assert_eq!(got["tz_dst"], "UTC");
    assert_eq!(got["iso8601_micro"], "1970-01-01T00:00:00.000000Z");
    assert!(date_time("garbage", None).is_none());
}

#[test]
fn python_fact() {
    let line = r#"{"executable": "/usr/bin/python3", "has_sslcontext": true, "type": "cpython", "version_info": [3, 11, 2, "final", 0], "tz_dst": "UTC", "selinux_python_present": false}"#;
    let (fact, se, dst) = python(line).unwrap();
    assert_eq!(
        json(&fact),
        serde_json::json!({
            "version": {"major": 3, "minor": 11, "micro": 2, "releaselevel": "final", "serial": 0},
            "version_info": [3, 11, 2, "final", 0],
            "executable": "/usr/bin/python3",
            "has_sslcontext": true,
            "type": "cpython",
        })
    );
    assert_eq!(se, Some(false));
    assert_eq!(dst.as_deref(), Some("UTC"));
    assert!(python("Traceback").is_none());
}

#[test]
fn env_from_environ() {
    assert_eq!(
        json(&env("HOME=/root\0OPT=a=b\0HOME=/other\0junk\0EMPTY=\0")),
        serde_json::json!({"HOME": "/root", "OPT": "a=b", "EMPTY": ""})
    );
}

#[test]
fn lsb_from_the_program_or_the_file() {
    let out = "Distributor ID:\tDebian\nDescription:\tDebian GNU/Linux 12 (bookworm)\nRelease:\t12\nCodename:\tbookworm\n";
    assert_eq!(
        json(&lsb(Some(out), None).unwrap()),
        serde_json::json!({"id": "Debian", "description": "Debian GNU/Linux 12 (bookworm)",
            "release": "12", "codename": "bookworm", "major_release": "12"})
    );
    // `LSB Version:` is a release until `Release:` says otherwise.
    let out = "LSB Version:\tcore-11.1.0ubuntu4-noarch:security-11.1.0ubuntu4-noarch\nDistributor ID:\tUbuntu\nDescription:\tUbuntu 22.04.3 LTS\nRelease:\t22.04\nCodename:\tjammy\n";
    assert_eq!(
        json(&lsb(Some(out), None).unwrap())["release"],
        serde_json::json!("22.04")
    );
    let file = "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.3 LTS\"\n";
    let want = serde_json::json!({"id": "Ubuntu", "release": "22.04", "codename": "jammy",
        "description": "Ubuntu 22.04.3 LTS", "major_release": "22"});
    assert_eq!(json(&lsb(None, Some(file)).unwrap()), want);
    // lsb_release printing nothing useful: the file.
    assert_eq!(json(&lsb(Some(""), Some(file)).unwrap()), want);
    assert_eq!(json(&lsb(None, None).unwrap()), serde_json::json!({}));
    // A line without `=` fails Ansible's collector: no fact.
    assert!(lsb(None, Some("DISTRIB_ID=Ubuntu\n\nDISTRIB_RELEASE=1\n")).is_none());
}

#[test]
fn local_facts_json_ini_and_errors() {
    let f = "/etc/ansible/facts.d/";
    let entries = vec![
        serde_json::json!({"path": format!("{f}a.fact"), "content": " {\"x\": [1, \"y\"]}\n"}),
        serde_json::json!({"path": format!("{f}b.factory.fact"), "content": "[sec]\nKey = v\nmulti = a\n  b\n\n  c\n# comment\n[DEFAULT]\nd = %(key)s!\n"}),
        serde_json::json!({"path": format!("{f}c.fact"), "rc": 0, "out": "{\"ran\": true}\n"}),
        serde_json::json!({"path": format!("{f}d.fact"), "rc": 2, "out": ""}),
        serde_json::json!({"path": format!("{f}e.fact"), "missing": true}),
        serde_json::json!({"path": format!("{f}f.fact"), "content": "just words"}),
        serde_json::json!({"path": format!("{f}g.fact"), "content": ""}),
    ];
    assert_eq!(
        json(&local(&entries)),
        serde_json::json!({
            "a": {"x": [1, "y"]},
            "bory": {"sec": {"key": "v", "multi": "a\nb\n\nc", "d": "v!"}},
            "c": {"ran": true},
            "d": "Failure executing fact script (/etc/ansible/facts.d/d.fact), rc: 2, err: ",
            "e": "Could not stat fact (/etc/ansible/facts.d/e.fact): [Errno 2] No such file or directory: '/etc/ansible/facts.d/e.fact'",
            "f": "error loading facts as JSON or ini - please check content: /etc/ansible/facts.d/f.fact",
            "g": {},
        })
    );
    assert_eq!(json(&local(&[])), serde_json::json!({}));
}

/// INI texts and what ansible-core's local.py made of them with Python 3.11's ConfigParser.
#[test]
fn local_facts_ini_as_configparser_reads_them() {
    let fact = |text: &str| {
        json(&local(&[
            serde_json::json!({"path": "/etc/ansible/facts.d/x.fact", "content": text}),
        ]))["x"]
            .clone()
    };
    let bad =
        "error loading facts as JSON or ini - please check content: /etc/ansible/facts.d/x.fact";
    let ini_err = |e: &str| {
        format!(
            "error loading facts as ini - please check content: /etc/ansible/facts.d/x.fact ({e})"
        )
    };
    let failed = "Failed to convert (/etc/ansible/facts.d/x.fact) to JSON: string indices must be integers, not 'str'";
    assert_eq!(
        fact("[s]\na = %(nope)s\n"),
        ini_err(
            "Bad value substitution: option 'a' in section 's' contains an interpolation key 'nope' which is not a valid option name. Raw value: '%(nope)s'"
        )
    );
    assert_eq!(fact("[s]\na = %(nope)s\nb = 1\n"), failed);
    assert_eq!(fact("[a]\nx = %(y)s\n[b]\nz = 1\n"), failed);
    assert_eq!(
        fact("[s]\na = 100%\n"),
        ini_err("'%' must be followed by '%' or '(', found: '%'")
    );
    assert_eq!(
        fact("[s]\na = 100%%\n"),
        serde_json::json!({"s": {"a": "100%"}})
    );
    for text in ["no header\n", "[s]\nx\n", "[s]\na=1\nA=2\n", "[s]\n[s]\n"] {
        assert_eq!(fact(text), bad, "{text:?}");
    }
    assert_eq!(
        fact("[s]\na = %(b)s\nb = %(a)s\n"),
        ini_err(
            "Recursion limit exceeded in value substitution: option 'b' in section 's' contains an interpolation key which cannot be substituted in 10 steps. Raw value: '%(a)s'"
        )
    );
    assert_eq!(
        fact("[s]\nk : v : w\n  ; not a comment? \n"),
        serde_json::json!({"s": {"k": "v : w"}})
    );
    assert_eq!(fact("[DEFAULT]\nk = 1\n"), serde_json::json!({}));
    assert_eq!(
        fact("[s] trailing]\nk=1\n"),
        serde_json::json!({"s] trailing": {"k": "1"}})
    );
}

#[test]
fn mounts_from_the_table() {
    let table = "/dev/sda1 / ext4 rw,relatime 0 1\nproc /proc proc rw 0 0\n/dev/sdb1 /mnt/with\\040space xfs rw 0 2\nserver:/export /srv/nfs nfs4 rw,vers=4.2 0 0\n/dev/sda1 / ext4 ro,relatime 0 1\ntmpfs /run tmpfs rw 0 0\n/dev/loop0 /snap none ro 0 0\n";
    let statfs = "4096 4096 1000 250 500 100 /\n1024 4096 2000 1000 64 32 /mnt/with space\n";
    let lsblk = "/dev/sda1 1111-2222\n/dev/sdb1\n/dev/sdb1 3333\n/dev/sda1 other\n";
    assert_eq!(
        json(&mounts(table, statfs, Some(lsblk))),
        serde_json::json!([
            {"mount": "/", "device": "/dev/sda1", "fstype": "ext4", "options": "ro,relatime",
             "dump": 0, "passno": 1, "size_total": 4096000, "size_available": 1024000,
             "block_size": 4096, "block_total": 1000, "block_available": 250, "block_used": 750,
             "inode_total": 500, "inode_available": 100, "inode_used": 400, "uuid": "1111-2222"},
            {"mount": "/mnt/with space", "device": "/dev/sdb1", "fstype": "xfs", "options": "rw",
             "dump": 0, "passno": 2, "size_total": 2048000, "size_available": 1024000,
             "block_size": 4096, "block_total": 2000, "block_available": 1000, "block_used": 1000,
             "inode_total": 64, "inode_available": 32, "inode_used": 32, "uuid": "3333"},
            {"mount": "/srv/nfs", "device": "server:/export", "fstype": "nfs4",
             "options": "rw,vers=4.2", "dump": 0, "passno": 0, "uuid": "N/A"},
        ])
    );
    assert_eq!(json(&mounts("", "", None)), serde_json::json!([]));
    assert_eq!(unescape_octal("a\\011b\\134c\\04"), "a\tb\\c\\04");
}

/// The gather lines, end to end through [`super::super::facts::parse`].
#[test]
fn facts_from_gather_lines() {
    let j = |s: &str| serde_json::to_string(s).unwrap();
    let lines = [
        format!("file:/proc/1/cgroup={}", j("0::/\n")),
        format!("file:/proc/1/environ={}", j("container=podman\0")),
        "exists=/dev/kvm".to_string(),
        format!("vol:environ={}", j("HOME=/root\0")),
        "vol:date=2024|03|Friday|5|08|01|00|30|00|1709249400|042123999|CET|+0100".into(),
        r#"python={"executable": "/usr/bin/python3", "has_sslcontext": true, "type": "cpython", "version_info": [3, 11, 2, "final", 0], "tz_dst": "CEST", "selinux_python_present": true}"#.into(),
        format!("lsb_release={}", j("Distributor ID:\tDebian\nRelease:\t12\n")),
        format!("local={}", serde_json::json!({"path": "/etc/ansible/facts.d/k.fact", "content": "{\"a\": 1}"})),
        format!("vol:meminfo={}", j("MemTotal: 2048 kB\nMemFree: 1024 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n")),
        format!("vol:mtab={}", j("/dev/vda / ext4 rw 0 0\n")),
        format!("vol:statfs={}", j("4096 4096 10 5 8 4 /\n")),
    ];
    let out: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let f = crate::modules::facts::parse(&out);
    let g = |k: &str| json(&f[k]);
    assert_eq!(g("virtualization_type"), "podman");
    assert_eq!(g("virtualization_role"), "guest");
    assert_eq!(
        g("virtualization_tech_guest"),
        serde_json::json!(["container", "podman"])
    );
    assert_eq!(g("virtualization_tech_host"), serde_json::json!(["kvm"]));
    assert_eq!(g("selinux"), serde_json::json!({"status": "disabled"}));
    assert_eq!(g("selinux_python_present"), true);
    assert_eq!(g("env"), serde_json::json!({"HOME": "/root"}));
    assert_eq!(g("date_time")["tz_dst"], "CEST");
    assert_eq!(g("python")["version"]["minor"], 11);
    assert_eq!(
        g("lsb"),
        serde_json::json!({"id": "Debian", "release": "12", "major_release": "12"})
    );
    assert_eq!(g("local"), serde_json::json!({"k": {"a": 1}}));
    assert_eq!(g("memory_mb")["real"]["used"], 1);
    assert_eq!(g("swapfree_mb"), 0);
    assert_eq!(g("mounts")[0]["block_used"], 5);
    assert_eq!(g("mounts")[0]["uuid"], "N/A");
    // Without the lines: no python, env, date_time, memory_mb or mounts; lsb and local empty.
    let f = crate::modules::facts::parse("system=Linux\n");
    for k in [
        "python",
        "env",
        "date_time",
        "memory_mb",
        "mounts",
        "selinux_python_present",
    ] {
        assert!(!f.contains_key(k), "{k}");
    }
    assert_eq!(json(&f["lsb"]), serde_json::json!({}));
    assert_eq!(json(&f["local"]), serde_json::json!({}));
    assert_eq!(json(&f["virtualization_type"]), "NA");
}
