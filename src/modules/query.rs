//! Named questions about the host ([`Probe::Query`](super::Probe::Query)): each has a shell
//! form, run like a command probe (its stdout, stderr and exit code are the answer), and the
//! resident prober on SSH hosts and chroots with perl (`src/transport/prober.pl`) answers the
//! same question with the same output without starting a process. A unit test
//! (`transport::prober`) runs both forms on this machine and compares them.
//!
//! They exist because, with nothing to change, a fleet run's cost on the hosts is the
//! processes its probes start: `getent`, `id`, `stat`, `date`, `cat` and the shell around them.

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
        };
        for x in &mut w {
            x.retain(|c| c != '\0');
        }
        w
    }
}
