//! Facts: what a host is, gathered in one round trip and cached for the run. The facts
//! `key=value` lines ([`crate::host::gather`]) become Ansible's fact names and
//! shapes here ([`parse`]: `architecture` is `x86_64`/`aarch64`, `distribution` is
//! `Debian`/`Ubuntu`, `default_ipv4` is a dict, ...), and the `ansible_*` variables
//! ([`to_vars`]). The `setup` module and the engine's implicit fact gathering use them. The
//! facts of [`super::facts_more`] (virtualization, selinux, mounts, memory_mb, python, env,
//! date_time, lsb, local) are added at the end of [`parse`].

use indexmap::IndexMap;
use minijinja::Value;

use crate::vars::VarMap;

pub use crate::host::gather::Subsets;

fn kv(out: &str) -> Vec<(&str, &str)> {
    out.lines().filter_map(|l| l.split_once('=')).collect()
}

fn first<'a>(pairs: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn unquote(v: &str) -> String {
    v.trim().trim_matches('"').trim_matches('\'').to_string()
}

/// Map the ELF `e_machine` bytes (little-endian hex) to Ansible's architecture names.
fn elf_arch(hex: &str) -> Option<&'static str> {
    match hex {
        "3e00" => Some("x86_64"),
        "b700" => Some("aarch64"),
        "2800" => Some("armv7l"),
        "0300" => Some("i386"),
        "f300" => Some("riscv64"),
        "1500" => Some("ppc64le"),
        "1600" => Some("s390x"),
        _ => None,
    }
}

fn os_family(id: &str, like: &str) -> &'static str {
    let all = format!("{id} {like}");
    if all.contains("debian") || all.contains("ubuntu") {
        "Debian"
    } else if all.contains("rhel") || all.contains("fedora") || all.contains("centos") {
        "RedHat"
    } else if all.contains("suse") {
        "Suse"
    } else if all.contains("arch") {
        "Archlinux"
    } else if id == "alpine" {
        "Alpine"
    } else {
        "Linux"
    }
}

fn distribution_name(id: &str) -> String {
    match id {
        "debian" => "Debian".into(),
        "ubuntu" => "Ubuntu".into(),
        "centos" => "CentOS".into(),
        "rhel" => "RedHat".into(),
        "fedora" => "Fedora".into(),
        "alpine" => "Alpine".into(),
        "arch" => "Archlinux".into(),
        "opensuse-leap" | "opensuse" => "openSUSE Leap".into(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

/// Mask bits to dotted netmask.
fn netmask(prefix: u32) -> String {
    let m: u32 = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix.min(32))
    };
    format!(
        "{}.{}.{}.{}",
        m >> 24,
        (m >> 16) & 255,
        (m >> 8) & 255,
        m & 255
    )
}

/// Turn the script's output into facts (names without the `ansible_` prefix).
pub fn parse(out: &str) -> VarMap {
    let p = kv(out);
    let get = |k: &str| first(&p, k).unwrap_or("").trim().to_string();
    let mut f: IndexMap<String, Value> = IndexMap::new();
    let chroot_target = first(&p, "chroot_target").is_some();
    let arch = if chroot_target {
        elf_arch(&get("elf"))
            .map(str::to_string)
            .unwrap_or_else(|| get("uname_m"))
    } else {
        get("uname_m")
    };
    f.insert("architecture".into(), Value::from(arch.as_str()));
    f.insert("machine".into(), Value::from(arch.as_str()));
    f.insert("userspace_architecture".into(), Value::from(arch.as_str()));
    f.insert("is_chroot".into(), Value::from(get("is_chroot") == "1"));
    f.insert("kernel".into(), Value::from(get("kernel")));
    f.insert("kernel_version".into(), Value::from(get("kernel_version")));
    f.insert("system".into(), Value::from(get("system")));
    let node = if chroot_target && !get("etc_hostname").is_empty() {
        get("etc_hostname")
    } else {
        get("nodename")
    };
    let short = node.split('.').next().unwrap_or("").to_string();
    let fqdn = match get("fqdn") {
        s if !s.is_empty() && !chroot_target => s,
        _ => node.clone(),
    };
    f.insert("hostname".into(), Value::from(short));
    f.insert("nodename".into(), Value::from(node.as_str()));
    f.insert("fqdn".into(), Value::from(fqdn.as_str()));
    f.insert(
        "domain".into(),
        Value::from(fqdn.split_once('.').map(|(_, d)| d).unwrap_or("")),
    );
    f.insert("user_id".into(), Value::from(get("user_id")));
    f.insert(
        "user_uid".into(),
        Value::from(get("user_uid").parse::<i64>().unwrap_or(-1)),
    );
    f.insert("machine_id".into(), Value::from(get("machine_id")));
    // Distribution from os-release.
    let osr = |k: &str| unquote(&get(&format!("osr_{k}")));
    let id = osr("ID");
    let version_id = osr("VERSION_ID");
    let dist = distribution_name(&id);
    let version = if id == "debian"
        && !get("debian_version").is_empty()
        && get("debian_version").starts_with(|c: char| c.is_ascii_digit())
    {
        get("debian_version")
    } else {
        version_id.clone()
    };
    f.insert("distribution".into(), Value::from(dist.as_str()));
    f.insert("distribution_version".into(), Value::from(version.as_str()));
    f.insert(
        "distribution_major_version".into(),
        Value::from(version.split('.').next().unwrap_or("")),
    );
    f.insert(
        "distribution_release".into(),
        Value::from(osr("VERSION_CODENAME")),
    );
    f.insert(
        "os_family".into(),
        Value::from(os_family(&id, &osr("ID_LIKE"))),
    );
    f.insert(
        "distribution_file_variety".into(),
        Value::from(os_family(&id, &osr("ID_LIKE"))),
    );
    f.insert(
        "pkg_mgr".into(),
        Value::from(first(&p, "pkg_mgr").unwrap_or("unknown")),
    );
    let systemd = if chroot_target {
        first(&p, "has_systemd").is_some()
    } else {
        get("proc1") == "systemd"
            || first(&p, "run_systemd").is_some()
            || get("init_link").ends_with("systemd")
    };
    let mgr = if systemd {
        "systemd"
    } else if get("proc1").is_empty() {
        "service"
    } else {
        "sysvinit"
    };
    f.insert("service_mgr".into(), Value::from(mgr));
    if let Some(kb) = first(&p, "memtotal_kb") {
        let mb = |v: &str| v.trim().parse::<i64>().unwrap_or(0) / 1024;
        f.insert("memtotal_mb".into(), Value::from(mb(kb)));
        f.insert(
            "memfree_mb".into(),
            Value::from(mb(first(&p, "memfree_kb").unwrap_or("0"))),
        );
        f.insert(
            "swaptotal_mb".into(),
            Value::from(mb(first(&p, "swaptotal_kb").unwrap_or("0"))),
        );
        let vcpus = get("vcpus").parse::<i64>().unwrap_or(1);
        f.insert("processor_vcpus".into(), Value::from(vcpus));
        f.insert(
            "processor_count".into(),
            Value::from(get("cpu_sockets").parse::<i64>().unwrap_or(1).max(1)),
        );
        f.insert(
            "processor_cores".into(),
            Value::from(get("cpu_cores").parse::<i64>().unwrap_or(vcpus)),
        );
        f.insert(
            "uptime_seconds".into(),
            Value::from(get("uptime").parse::<f64>().unwrap_or(0.0) as i64),
        );
    }
    if first(&p, "interfaces").is_some() {
        let ifaces: Vec<Value> = get("interfaces")
            .split_whitespace()
            .map(Value::from)
            .collect();
        f.insert("interfaces".into(), Value::from(ifaces));
        let addrs: Vec<(String, String)> = p
            .iter()
            .filter(|(k, _)| *k == "addr")
            .filter_map(|(_, v)| {
                v.split_once(' ')
                    .map(|(i, a)| (i.to_string(), a.to_string()))
            })
            .collect();
        let all: Vec<Value> = addrs
            .iter()
            .filter(|(i, _)| i != "lo")
            .map(|(_, a)| Value::from(a.split('/').next().unwrap_or("")))
            .collect();
        f.insert("all_ipv4_addresses".into(), Value::from(all));
        let route = get("route");
        let words: Vec<&str> = route.split_whitespace().collect();
        let after = |w: &str| {
            words
                .iter()
                .position(|x| *x == w)
                .and_then(|i| words.get(i + 1))
                .map(|s| s.to_string())
        };
        let mut default = IndexMap::new();
        if let (Some(gw), Some(dev)) = (after("via"), after("dev")) {
            default.insert("gateway".to_string(), Value::from(gw));
            default.insert("interface".to_string(), Value::from(dev.as_str()));
            if let Some((_, cidr)) = addrs.iter().find(|(i, _)| *i == dev) {
                let (ip, prefix) = cidr.split_once('/').unwrap_or((cidr, "32"));
                let prefix: u32 = prefix.parse().unwrap_or(32);
                default.insert("address".to_string(), Value::from(ip));
                default.insert("prefix".to_string(), Value::from(prefix.to_string()));
                default.insert("netmask".to_string(), Value::from(netmask(prefix)));
            }
            if let Some(mac) = p
                .iter()
                .filter(|(k, _)| *k == "mac")
                .find_map(|(_, v)| v.strip_prefix(&format!("{dev} ")))
            {
                default.insert("macaddress".to_string(), Value::from(mac.trim()));
            }
        }
        f.insert("default_ipv4".into(), Value::from_pairs(default));
    }
    super::facts_more::parse_more(&p, &mut f);
    f
}

/// The variables facts become: `ansible_facts` (unprefixed names) and `ansible_<name>`.
pub fn to_vars(facts: &VarMap) -> VarMap {
    let mut out = VarMap::new();
    for (k, v) in facts {
        out.insert(format!("ansible_{k}"), v.clone());
    }
    out.insert("ansible_facts".into(), crate::vars::map_to_value(facts));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "is_chroot=1\nuname_m=x86_64\nkernel=6.1.0\nkernel_version=#1 SMP\nsystem=Linux\nnodename=buildhost\nelf=b700\netc_hostname=golyat-1\nfqdn=buildhost.example\nuser_id=root\nuser_uid=0\ndebian_version=12.5\nproc1=systemd\nhas_systemd=1\npkg_mgr=apt\nosr_ID=debian\nosr_VERSION_ID=\"12\"\nosr_VERSION_CODENAME=bookworm\nchroot_target=1\nmemtotal_kb=2048000\nvcpus=2\ninterfaces=eth0 lo \nroute=default via 192.168.10.1 dev eth0 proto static\naddr=lo 127.0.0.1/8\naddr=eth0 192.168.10.101/24\nmac=eth0 52:54:00:12:34:56\n";

    #[test]
    fn chroot_facts_come_from_the_root() {
        let f = parse(SAMPLE);
        assert_eq!(f["architecture"], Value::from("aarch64"));
        assert_eq!(f["hostname"], Value::from("golyat-1"));
        assert_eq!(f["is_chroot"], Value::from(true));
        assert_eq!(f["distribution"], Value::from("Debian"));
        assert_eq!(f["distribution_version"], Value::from("12.5"));
        assert_eq!(f["distribution_major_version"], Value::from("12"));
        assert_eq!(f["distribution_release"], Value::from("bookworm"));
        assert_eq!(f["os_family"], Value::from("Debian"));
        assert_eq!(f["service_mgr"], Value::from("systemd"));
        assert_eq!(f["memtotal_mb"], Value::from(2000));
        let d = &f["default_ipv4"];
        assert_eq!(
            d.get_attr("address").unwrap(),
            Value::from("192.168.10.101")
        );
        assert_eq!(d.get_attr("gateway").unwrap(), Value::from("192.168.10.1"));
        assert_eq!(d.get_attr("netmask").unwrap(), Value::from("255.255.255.0"));
        assert_eq!(f["all_ipv4_addresses"].len(), Some(1));
    }

    #[test]
    fn live_facts_use_uname() {
        let out = SAMPLE
            .replace("chroot_target=1\n", "")
            .replace("is_chroot=1", "is_chroot=0");
        let f = parse(&out);
        assert_eq!(f["architecture"], Value::from("x86_64"));
        assert_eq!(f["hostname"], Value::from("buildhost"));
        assert_eq!(f["is_chroot"], Value::from(false));
        let v = to_vars(&f);
        assert_eq!(v["ansible_architecture"], Value::from("x86_64"));
        assert_eq!(
            v["ansible_facts"].get_attr("architecture").unwrap(),
            Value::from("x86_64")
        );
    }

    #[test]
    fn subsets() {
        assert_eq!(
            Subsets::parse(&["!all".into()]).unwrap(),
            Subsets {
                network: false,
                hardware: false
            }
        );
        assert_eq!(
            Subsets::parse(&["network".into()]).unwrap(),
            Subsets {
                network: true,
                hardware: false
            }
        );
        assert_eq!(
            Subsets::parse(&["all".into(), "!hardware".into()]).unwrap(),
            Subsets {
                network: true,
                hardware: false
            }
        );
        assert!(Subsets::parse(&["bogus".into()]).is_err());
    }
}
