//! The chroot guard: stand-ins for the commands that act on a live system.
//!
//! A chroot shares the build machine's kernel, network, swap and service manager. A role that
//! runs `modprobe`, `sysctl -p`, `swapoff -a`, `systemctl restart`, `netplan apply`, `iptables
//! -F` or `mount /dev/sdb1` in an image build would change the build machine, not the image, and a
//! mis-guessed `ansible_is_chroot` (or a role without a `when:`) is enough to get there. So the
//! chroot transport puts a directory of stand-ins first on every script's `PATH` (in the run's
//! own tmpfs under `/run`, never in the image). Each stand-in passes what only reads or only
//! writes files (`modprobe --show-depends`, `sysctl -n`, `systemctl enable`, `netplan
//! generate`, `mount` with no arguments) to the real program, and refuses the rest: it says so
//! on stderr and exits 0, as systemd's own `systemctl` does in a chroot ("Running in chroot,
//! ignoring command"), so package scripts keep working. `systemctl enable --now` enables only.
//!
//! This is the first of three layers; the others are in [`super::chroot`]: scripts run without
//! the capabilities to load modules, reboot, set the clock or configure the network, and
//! `/proc/sys` is mounted read-only. A program called by its full path meets those.

use std::path::Path;

use crate::error::{Error, Result};

/// The commands that get a stand-in.
pub const GUARDED: &[&str] = &[
    "modprobe",
    "insmod",
    "rmmod",
    "sysctl",
    "swapon",
    "swapoff",
    "netplan",
    "systemctl",
    "service",
    "mount",
    "umount",
    "reboot",
    "poweroff",
    "halt",
    "shutdown",
    "telinit",
    "hostname",
    "iptables",
    "ip6tables",
    "iptables-legacy",
    "ip6tables-legacy",
    "iptables-nft",
    "ip6tables-nft",
    "iptables-restore",
    "ip6tables-restore",
    "iptables-legacy-restore",
    "ip6tables-legacy-restore",
    "iptables-nft-restore",
    "ip6tables-nft-restore",
    "ebtables",
    "arptables",
    "nft",
];

/// The stand-in, one script for every name (it looks at `$0`).
const SCRIPT: &str = r#"#!/bin/sh
# prov's chroot guard (src/transport/guard.rs): this root shares the build machine's kernel.
set -f
name=${0##*/}
refuse() {
    echo "prov: refused in a chroot: $name $* (it would act on the build machine, not on this root)" >&2
    exit 0
}
real() {
    IFS=:
    for d in ${PROV_REAL_PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}; do
        if [ -x "$d/$name" ]; then unset IFS; exec "$d/$name" "$@"; fi
    done
    unset IFS
    echo "$name: command not found" >&2
    exit 127
}
# has 'PATTERN...' ARG...: some argument matches one of the space-separated patterns.
has() { pats=$1; shift; for a; do for p in $pats; do case "$a" in $p) return 0 ;; esac; done; done; return 1; }
case "$name" in
modprobe)
    has '-n --dry-run --show-depends -D -c --showconfig --show-config -R --resolve-alias -V --version -h --help' "$@" && real "$@"
    refuse "$@" ;;
insmod|rmmod)
    has '-V --version -h --help' "$@" && real "$@"
    refuse "$@" ;;
sysctl)
    has '-w --write -p -p* -[!-]*p* -[!-]*w* --load --load=* --system -*=* *=*' "$@" && refuse "$@"
    real "$@" ;;
swapon|swapoff)
    [ $# -eq 0 ] && [ "$name" = swapon ] && real
    has '-s --summary --show --show=* -V --version -h --help' "$@" && real "$@"
    refuse "$@" ;;
netplan)
    has 'apply try' "$@" && refuse "$@"
    real "$@" ;;
systemctl)
    if has 'start stop restart reload try-restart reload-or-restart try-reload-or-restart condrestart force-reload isolate kill daemon-reload daemon-reexec reboot poweroff halt kexec suspend hibernate hybrid-sleep rescue emergency default switch-root reset-failed set-property' "$@"; then
        refuse "$@"
    fi
    if has '--now' "$@"; then
        echo "prov: in a chroot, systemctl $* enables or disables only; nothing is started or stopped" >&2
        for a; do shift; [ "$a" = --now ] && continue; set -- "$@" "$a"; done
    fi
    real "$@" ;;
service)
    has 'start stop restart reload force-reload try-restart condrestart' "$@" && refuse "$@"
    real "$@" ;;
mount)
    [ $# -eq 0 ] && real
    has '-l --list -V --version -h --help' "$@" && [ $# -eq 1 ] && real "$@"
    refuse "$@" ;;
umount)
    has '-V --version -h --help' "$@" && real "$@"
    refuse "$@" ;;
iptables|ip6tables|iptables-legacy|ip6tables-legacy|iptables-nft|ip6tables-nft|ebtables|arptables)
    # Listing and checking rules only reads them (the build machine's, which the root's
    # firewall is not); everything else would change the build machine's firewall.
    has '-L --list -L* -[!-]*L* -S --list-rules -S* -[!-]*S* -C --check -V --version -h --help' "$@" && real "$@"
    refuse "$@" ;;
*-restore)
    has '-t --test -V --version -h --help' "$@" && real "$@"
    refuse "$@" ;;
nft)
    has 'list -c --check -v --version -h --help' "$@" && real "$@"
    refuse "$@" ;;
hostname)
    for a; do case "$a" in -b|--boot|-F|--file|-F*|--file=*) refuse "$@" ;; -*) ;; *) refuse "$@" ;; esac; done
    real "$@" ;;
*)
    refuse "$@" ;;
esac
"#;

/// Write the stand-ins into `dir` (created; inside a tmpfs of the run).
pub fn install(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let main = dir.join("prov-guard");
    std::fs::write(&main, SCRIPT).map_err(|e| Error::io(&main, e))?;
    std::fs::set_permissions(&main, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io(&main, e))?;
    for name in GUARDED {
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("prov-guard", &link).map_err(|e| Error::io(&link, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Run the stand-in as `name` with a fake real program that records its arguments.
    fn call(name: &str, args: &[&str]) -> (String, String) {
        let base = std::env::temp_dir().join(format!(
            "prov-guard-{}-{name}-{}",
            std::process::id(),
            args.join("_").replace('/', "")
        ));
        let guard = base.join("guard");
        let real = base.join("real");
        install(&guard).unwrap();
        std::fs::create_dir_all(&real).unwrap();
        let fake = real.join(name);
        std::fs::write(&fake, "#!/bin/sh\necho \"real $*\"\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = Command::new(guard.join(name))
            .args(args)
            .env("PROV_REAL_PATH", &real)
            .output()
            .unwrap();
        std::fs::remove_dir_all(&base).unwrap();
        assert!(out.status.success(), "{name} {args:?}");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn refused(name: &str, args: &[&str]) {
        let (out, err) = call(name, args);
        assert_eq!(out, "", "{name} {args:?} reached the real program");
        assert!(err.contains("prov: refused in a chroot"), "{err}");
    }

    fn passed(name: &str, args: &[&str]) {
        let (out, _) = call(name, args);
        assert_eq!(out, format!("real {}\n", args.join(" ")), "{name} {args:?}");
    }

    #[test]
    fn live_actions_are_refused() {
        refused("modprobe", &["br_netfilter"]);
        refused("modprobe", &["-r", "overlay"]);
        refused("insmod", &["/lib/modules/x.ko"]);
        refused("sysctl", &["-p"]);
        refused("sysctl", &["--system"]);
        refused("sysctl", &["-w", "net.ipv4.ip_forward=1"]);
        refused("sysctl", &["net.ipv4.ip_forward=1"]);
        refused("sysctl", &["-p/etc/sysctl.d/k8s.conf"]);
        refused("sysctl", &["-qp"]);
        refused("sysctl", &["-ew", "vm.swappiness=1"]);
        refused("swapoff", &["-a"]);
        refused("swapon", &["-a"]);
        refused("netplan", &["apply"]);
        refused("systemctl", &["restart", "ssh"]);
        refused("systemctl", &["daemon-reload"]);
        refused("service", &["ssh", "reload"]);
        refused("mount", &["/dev/sdb1", "/data"]);
        refused("mount", &["-a"]);
        refused("umount", &["/proc"]);
        refused("reboot", &[]);
        refused("hostname", &["build-me"]);
        refused("iptables", &["-F"]);
        refused(
            "iptables",
            &["-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"],
        );
        refused("ip6tables", &["-P", "INPUT", "DROP"]);
        refused("iptables-restore", &["/etc/iptables/rules.v4"]);
        refused("nft", &["-f", "/etc/nftables.conf"]);
        refused("nft", &["flush", "ruleset"]);
    }

    #[test]
    fn reading_and_file_work_passes() {
        passed("modprobe", &["--show-depends", "overlay"]);
        passed("sysctl", &["-n", "net.ipv4.ip_forward"]);
        passed("sysctl", &["-a"]);
        passed("swapon", &["--show"]);
        passed("netplan", &["generate"]);
        passed("systemctl", &["enable", "kubelet"]);
        passed("systemctl", &["is-enabled", "ssh"]);
        passed("mount", &[]);
        passed("hostname", &["-f"]);
        passed("hostname", &[]);
        passed("iptables", &["-nvL"]);
        passed("iptables", &["-S", "INPUT"]);
        passed("iptables", &["-C", "INPUT", "-j", "ACCEPT"]);
        passed("iptables-restore", &["--test", "/etc/iptables/rules.v4"]);
        passed("nft", &["list", "ruleset"]);
        passed("nft", &["-c", "-f", "/etc/nftables.conf"]);
        let (out, err) = call("systemctl", &["enable", "--now", "crio"]);
        assert_eq!(out, "real enable crio\n");
        assert!(err.contains("enables or disables only"), "{err}");
    }
}
