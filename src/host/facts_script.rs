//! The facts script: a POSIX shell script (coreutils only, `ip` when present) that prints
//! `key=value` lines about a host, for the subsets `gather_subset` asks for. On a chroot target
//! the architecture is read from the ELF header of the root's `/bin/sh` and the hostname from
//! its `/etc/hostname`, so an arm64 root prepared on an amd64 machine reports `aarch64`. What
//! the lines mean is decided above the transports, in `modules::facts`.

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

/// The gathering script. `chroot` selects chroot-aware architecture and hostname detection.
pub fn script(subsets: &Subsets, chroot: bool) -> String {
    // Shell builtins wherever they do (`read` of /proc and /etc files, globs): this runs on
    // every host of every play, and each process costs a fork and an exec there.
    // A chroot connection is a chroot by definition: no guessing from /proc/1/root (unreadable
    // in containers) or the root's inode (2 for a mounted image, which looks like a real root).
    let mut s = String::from(if chroot {
        "prov_chroot=1\n"
    } else {
        "prov_chroot=\n"
    });
    s.push_str(
        r#"export LC_ALL=C
r1() { v=; IFS= read -r v < "$2" 2>/dev/null; echo "$1=$v"; }
if [ -n "$debian_chroot" ] || [ "$prov_chroot" = 1 ]; then echo is_chroot=1
elif [ -e /proc/1/root/. ]; then [ / -ef /proc/1/root/. ] && echo is_chroot=0 || echo is_chroot=1
else [ "$(stat -c %i / 2>/dev/null)" = 2 ] && echo is_chroot=0 || echo is_chroot=1; fi
if [ -r /proc/sys/kernel/arch ]; then r1 uname_m /proc/sys/kernel/arch; else echo "uname_m=$(uname -m)"; fi
if [ -r /proc/sys/kernel/osrelease ]; then
  r1 kernel /proc/sys/kernel/osrelease
  r1 kernel_version /proc/sys/kernel/version
  r1 system /proc/sys/kernel/ostype
  r1 nodename /proc/sys/kernel/hostname
else
  echo "kernel=$(uname -r)"; echo "kernel_version=$(uname -v)"
  echo "system=$(uname -s)"; echo "nodename=$(uname -n)"
fi
r1 etc_hostname /etc/hostname
echo "fqdn=$(hostname -f 2>/dev/null)"
uid=; { while read -r k v _; do [ "$k" = Uid: ] && { uid=$v; break; }; done < /proc/self/status; } 2>/dev/null
if [ -n "$uid" ]; then
  echo "user_uid=$uid"; n=
  { while IFS=: read -r a _ b _; do [ "$b" = "$uid" ] && { n=$a; break; }; done < /etc/passwd; } 2>/dev/null
  [ -n "$n" ] || n=$(id -un 2>/dev/null) || n=; echo "user_id=${n:-$uid}"
else
  u=$(id 2>/dev/null); u=${u#uid=}; u=${u%% *}; echo "user_uid=${u%%\(*}"
  case "$u" in *\(*) u=${u#*\(}; echo "user_id=${u%%\)*}" ;; *) echo "user_id=$u" ;; esac
fi
r1 debian_version /etc/debian_version
r1 proc1 /proc/1/comm
[ "$v" = systemd ] || echo "init_link=$(readlink /sbin/init 2>/dev/null)"
[ -d /run/systemd/system ] && echo run_systemd=1
{ [ -x /lib/systemd/systemd ] || [ -x /usr/lib/systemd/systemd ]; } && echo has_systemd=1
command -v apt-get >/dev/null 2>&1 && echo pkg_mgr=apt
command -v dnf >/dev/null 2>&1 && echo pkg_mgr=dnf
command -v apk >/dev/null 2>&1 && echo pkg_mgr=apk
r1 machine_id /etc/machine-id
for f in /etc/os-release /usr/lib/os-release; do
  [ -r "$f" ] || continue
  while IFS= read -r l || [ -n "$l" ]; do printf 'osr_%s\n' "$l"; done < "$f"
  break
done
"#,
    );
    if chroot {
        // The root's own architecture: its /bin/sh's ELF machine field.
        s.push_str(
            "echo \"elf=$(od -An -tx1 -j18 -N2 /bin/sh 2>/dev/null | tr -d ' \\n')\"\necho chroot_target=1\n",
        );
    }
    if subsets.hardware {
        s.push_str(
            r#"while read -r k v _; do
  case "$k" in MemTotal:) echo "memtotal_kb=$v" ;; MemFree:) echo "memfree_kb=$v" ;; SwapTotal:) echo "swaptotal_kb=$v" ;; esac
done < /proc/meminfo 2>/dev/null
n=0; cores=; ids=' '
while IFS=: read -r k v; do
  v=${v# }
  case "$k" in
    processor*) n=$((n+1)) ;;
    "physical id"*) case "$ids" in *" $v "*) ;; *) ids="$ids$v " ;; esac ;;
    "cpu cores"*) [ -n "$cores" ] || cores=$v ;;
  esac
done < /proc/cpuinfo 2>/dev/null
echo "vcpus=$n"; set -- $ids; echo "cpu_sockets=$#"; echo "cpu_cores=$cores"
u=; read -r u _ < /proc/uptime 2>/dev/null; echo "uptime=$u"
"#,
        );
    }
    if subsets.network {
        s.push_str(
            r#"l=; for i in /sys/class/net/*; do [ -e "$i" ] && l="$l${i##*/} "; done; echo "interfaces=$l"
if command -v ip >/dev/null 2>&1; then
  # One ip for both: the default routes (the first counts), then a line per address.
  printf 'route show default\naddr show\n' | ip -4 -o -batch - 2>/dev/null | {
    set -f; r=
    while IFS= read -r l; do
      case "$l" in
        default*) [ -n "$r" ] || { r=1; echo "route=$l"; } ;;
        *) set -- $l; [ $# -ge 4 ] && echo "addr=$2 $4" ;;
      esac
    done
  }
  for i in /sys/class/net/*; do [ -e "$i" ] || continue; m=; read -r m < "$i/address" 2>/dev/null; echo "mac=${i##*/} $m"; done
else
  while read -r ifc dst gw _; do [ "$dst" = 00000000 ] && { echo "procroute=$ifc $gw"; break; }; done < /proc/net/route 2>/dev/null
fi
"#,
        );
    }
    s
}
