//! Named questions about the host ([`Probe::Query`](super::Probe::Query)): each has a shell
//! form, run like a command probe (its stdout, stderr and exit code are the answer), and the
//! resident prober on SSH hosts and chroots with perl (`src/transport/prober.pl`) answers the
//! same question with the same output, from files where it can and by running the one program
//! that knows where it cannot (a unit's state other than enabled, a dpkg database with a
//! pending journal or several architectures of a package, a large file's digest). Unit tests
//! (`transport::prober`) run both forms on this machine and compare them, and run the prober
//! again with an empty PATH to show which answers needed no program.
//!
//! They exist because, with nothing to change, a fleet run's cost on the hosts is the
//! processes its probes start: `getent`, `id`, `stat`, `date`, `cat`, `dpkg-query`,
//! `systemctl`, the facts script's programs and the shell around them.

use super::facts_script::Subsets;
use crate::shlex::quote;

/// A read-only question with a shell answer and a native one.
#[derive(Clone, Debug, PartialEq)]
pub enum Query {
    /// `getent passwd NAME...` or `getent group NAME...`: the entries found, one per line
    /// (names or numeric ids; exit code 0 even when some are missing). The password field is
    /// not part of the answer: root's perl reads it from shadow.
    Getent { db: Db, keys: Vec<String> },
    /// `id -Gn USER`: the user's group names, primary first (nothing for an unknown user).
    GroupNames(String),
    /// The password hash field of `getent shadow USER` (nothing for an unknown user).
    ShadowHash(String),
    /// The complete lines of a small text file (a `/proc/sys` value), read by the shell itself;
    /// nothing when it cannot be read.
    Lines(String),
    /// Apt's lists: `cache_age=SECONDS` since the last successful update (else since the lists
    /// directory changed) and `sources_newer=0|1` (a sources file changed after that).
    AptListsAge,
    /// A user's authorized_keys file (`PATH`, else `~USER/.ssh/authorized_keys`): `nouser`, or
    /// `uid=`, `gid=`, `home=`, `path=` lines, `dir=MODE|UID|GID` of its directory and
    /// `file=MODE|UID|GID` when it exists, then `content:` and the file.
    AuthorizedKeys { user: String, path: Option<String> },
    /// A unit's file state and, on a booted systemd, its running state: `enabled_rc=`,
    /// `enabled=` (the first line `systemctl is-enabled` printed, stderr included), then
    /// `booted=yes` and `active=` (`systemctl is-active`), or `booted=no` and
    /// `active=inactive`.
    UnitState(String),
    /// `dpkg-query -W` of these packages: `name TAB version TAB status-abbrev TAB status`
    /// lines (then an empty line). With `policy`, a line `@@policy` and `apt-cache policy` of
    /// the packages follow when one of the wanted `name[=version]` is not installed at that
    /// version, or when `always`.
    Packages {
        names: Vec<String>,
        policy: Option<Policy>,
    },
    /// `dpkg --get-selections '*'`: every package dpkg knows a selection for, sorted.
    Selections,
    /// The facts script's output ([`super::facts_script::script`]).
    Facts { subsets: Subsets, chroot: bool },
    /// The hex digest (`ALGOsum`) of a readable regular file; exit code 1 and nothing for
    /// anything else.
    Digest { algo: String, path: String },
}

/// When [`Query::Packages`] also asks apt for the candidates.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// Ask whatever is installed (`state: latest`, version patterns).
    pub always: bool,
    /// `name` or `name=version`, each of which must be installed for apt not to be asked.
    pub wanted: Vec<String>,
}

/// The databases [`Query::Getent`] reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Db {
    Passwd,
    Group,
}

impl Db {
    fn name(self) -> &'static str {
        match self {
            Db::Passwd => "passwd",
            Db::Group => "group",
        }
    }
}

impl Query {
    /// The shell form (POSIX sh; read-only).
    pub fn shell(&self) -> String {
        match self {
            Query::Getent { db, keys } => {
                let keys: Vec<String> = keys.iter().map(|k| quote(k)).collect();
                format!("getent {} {}; true", db.name(), keys.join(" "))
            }
            Query::GroupNames(user) => format!("id -Gn {} 2>/dev/null; true", quote(user)),
            Query::ShadowHash(user) => {
                format!("getent shadow {} | cut -d: -f2; true", quote(user))
            }
            Query::Lines(path) => format!(
                "f={}; {{ while IFS= read -r l; do printf '%s\\n' \"$l\"; done < \"$f\"; }} 2>/dev/null; true",
                quote(path)
            ),
            Query::AptListsAge => "now=$(date +%s); st=; li=; src=0\nfor l in $(stat -c '%Y:%n' -- /var/lib/apt/periodic/update-success-stamp /var/lib/apt/lists /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null); do\n t=${l%%:*}; f=${l#*:}\n case \"$f\" in\n  */update-success-stamp) st=$t ;;\n  /var/lib/apt/lists) li=$t ;;\n  *) [ \"$t\" -gt \"$src\" ] && src=$t ;;\n esac\ndone\ns=${st:-${li:-0}}; echo \"cache_age=$((now - s))\"; echo \"sources_newer=$((src > s))\"".into(),
            Query::AuthorizedKeys { user, path } => {
                let path = match path {
                    Some(p) => quote(p),
                    None => "\"$home/.ssh/authorized_keys\"".into(),
                };
                format!(
                    "e=$(getent passwd {u}) || {{ echo nouser; exit 0; }}\nIFS=: read -r _n _x uid gid _c home _s <<EOF\n$e\nEOF\necho \"uid=$uid\"; echo \"gid=$gid\"; echo \"home=$home\"\np={path}; echo \"path=$p\"\nd=${{p%/*}}; d=${{d:-/}}\nif [ -e \"$p\" ]; then s=$(stat -c '%a|%u|%g' -- \"$d\" \"$p\"); echo \"dir=${{s%%\n*}}\"; echo \"file=${{s#*\n}}\"\nelif [ -e \"$d\" ]; then echo \"dir=$(stat -c '%a|%u|%g' -- \"$d\")\"; fi\nif [ -f \"$p\" ]; then echo 'content:'; cat \"$p\"; fi",
                    u = quote(user)
                )
            }
            Query::UnitState(name) => {
                let n = quote(name);
                format!(
                    "e=$(systemctl is-enabled {n} 2>&1); echo \"enabled_rc=$?\"; echo \"enabled=${{e%%\n*}}\"\nif [ -d /run/systemd/system ]; then echo booted=yes; a=$(systemctl is-active {n} 2>/dev/null); echo \"active=${{a%%\n*}}\"\nelse echo booted=no; echo active=inactive; fi"
                )
            }
            Query::Packages { names, policy } => {
                let names = crate::shlex::join(names);
                let mut s = format!(
                    "q=$(dpkg-query -W -f='${{Package}}\\t${{Version}}\\t${{db:Status-Abbrev}}\\t${{Status}}\\n' {names} 2>/dev/null)\nprintf '%s\\n' \"$q\"\n"
                );
                if let Some(p) = policy {
                    s.push_str(&format!(
                        "need={}\nfor w in {}; do\n f=0\n while IFS='\t' read -r n v a _r; do\n  [ \"${{n%%:*}}\" = \"${{w%%=*}}\" ] || continue\n  case \"$a\" in ?i*) ;; *) continue ;; esac\n  case \"$w\" in *=*) [ \"$v\" = \"${{w#*=}}\" ] && f=1 ;; *) f=1 ;; esac\n done <<EOF\n$q\nEOF\n [ \"$f\" = 1 ] || need=1\ndone\nif [ \"$need\" = 1 ]; then\n echo '@@policy'\n apt-cache -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= policy {names} 2>/dev/null\nfi\ntrue",
                        u8::from(p.always),
                        crate::shlex::join(&p.wanted),
                    ));
                }
                s
            }
            Query::Selections => "dpkg --get-selections '*' 2>/dev/null; true".into(),
            Query::Facts { subsets, chroot } => super::facts_script::script(subsets, *chroot),
            Query::Digest { algo, path } => {
                let p = quote(path);
                format!("[ -f {p} ] && [ -r {p} ] && {algo}sum < {p} | cut -d' ' -f1")
            }
        }
    }

    /// How the prober is asked: a name and its arguments (no NUL bytes in any).
    pub fn words(&self) -> Vec<String> {
        let mut w: Vec<String> = match self {
            Query::Getent { db, keys } => {
                let mut w = vec!["getent".to_string(), db.name().to_string()];
                w.extend(keys.iter().cloned());
                w
            }
            Query::GroupNames(u) => vec!["groups".into(), u.clone()],
            Query::ShadowHash(u) => vec!["shadow".into(), u.clone()],
            Query::Lines(p) => vec!["lines".into(), p.clone()],
            Query::AptListsAge => vec!["aptlists".into()],
            Query::AuthorizedKeys { user, path } => {
                let mut w = vec!["authkeys".to_string(), user.clone()];
                w.extend(path.iter().cloned());
                w
            }
            Query::UnitState(n) => vec!["unit".into(), n.clone()],
            Query::Packages { names, policy } => {
                // `packages`, the names, then `-` (no policy) or `+ ALWAYS` and the wanted.
                let mut w = vec!["packages".to_string()];
                w.extend(names.iter().cloned());
                match policy {
                    None => w.push("-".into()),
                    Some(p) => {
                        w.push("+".into());
                        w.push(u8::from(p.always).to_string());
                        w.extend(p.wanted.iter().cloned());
                    }
                }
                w
            }
            Query::Selections => vec!["selections".into()],
            Query::Facts { subsets, chroot } => vec![
                "facts".into(),
                u8::from(subsets.network).to_string(),
                u8::from(subsets.hardware).to_string(),
                u8::from(*chroot).to_string(),
            ],
            Query::Digest { algo, path } => vec!["digest".into(), algo.clone(), path.clone()],
        };
        for x in &mut w {
            x.retain(|c| c != '\0');
        }
        w
    }
}
