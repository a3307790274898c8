//! Named questions about the host ([`Probe::Query`]), each answered as the
//! program it is named after prints its answer (`getent`, `id -Gn`, `dpkg-query -W`,
//! `systemctl is-enabled`...), so a module parses one format. The answer is computed on the
//! controller from [primitives](super::primitive) the host answers (files read, globs, account
//! lookups), in rounds ([`super::resolve`]); the one program that knows is run only where the
//! files cannot say (a unit's state other than enabled, a dpkg database with a pending journal
//! or several instances of a package, apt's candidates, a large file's digest).
//!
//! They exist because, with nothing to change, a fleet run's cost on the hosts is the
//! processes its probes start: `getent`, `id`, `stat`, `date`, `cat`, `dpkg-query`,
//! `systemctl` and the shell around them. `transport::prober`'s tests compare every answer with
//! the real program's on this machine, through the prober and through the shell.

use super::gather::Subsets;
use super::primitive::{Paragraphs, Primitive, Read, Run};
use super::resolve::{Got, Next, Reads};
use super::{CmdOutput, FileProbe, Probe, dpkg, units};
use crate::error::Result;

/// A read-only question, answered as a program would answer it.
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
    /// The whole `getent shadow USER` line (password ageing fields; nothing for an unknown
    /// user).
    ShadowEntry(String),
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
    /// Which of these installed packages apt marked automatically installed, as
    /// `apt-mark showauto NAME...` prints them: from apt's extended_states and dpkg's status.
    AutoInstalled(Vec<String>),
    /// `dpkg --get-selections NAME...`: the selections of these packages (plain names), or of
    /// every package dpkg knows a selection for (no names), sorted, each once.
    Selections(Vec<String>),
    /// The facts' `key=value` lines ([`super::gather`]).
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

fn done(stdout: impl Into<String>) -> Result<Next> {
    Ok(Next::Done(CmdOutput {
        rc: 0,
        stdout: stdout.into(),
        stderr: String::new(),
    }))
}

fn ask(probes: Vec<Probe>) -> Result<Next> {
    Ok(Next::Ask(probes))
}

fn run(argv: &[&str]) -> Probe {
    Probe::Primitive(Primitive::Run(Run::new(argv)))
}

fn glob(pattern: impl Into<String>) -> Probe {
    Probe::Primitive(Primitive::Glob(pattern.into()))
}

/// The first line, as `${v%%<newline>*}` keeps it.
fn first_line(s: &str) -> &str {
    s.split('\n').next().unwrap_or("")
}

/// A glob's matches as file states (of the paths themselves), by path.
fn globbed(out: &CmdOutput) -> Result<Vec<(String, super::FileState)>> {
    super::primitive::glob_matches(&out.stdout)
        .into_iter()
        .map(|(path, fields)| {
            let mut f = super::probe::parse_stat(&path, &fields)?;
            f.is_link = f.kind == Some(super::FileKind::Link);
            Ok((path, f))
        })
        .collect()
}

/// `getent passwd` fields of a line.
fn passwd_fields(line: &str) -> Option<Vec<&str>> {
    let f: Vec<&str> = first_line(line).split(':').collect();
    (f.len() >= 7).then_some(f)
}

const STATUS: &str = "/var/lib/dpkg/status";
const AVAILABLE: &str = "/var/lib/dpkg/available";
const EXTENDED_STATES: &str = "/var/lib/apt/extended_states";

/// The names among `names` whose extended_states paragraph says `Auto-Installed: 1` (for any
/// architecture), sorted and each once, as `apt-mark showauto` lists them.
fn auto_installed(extended_states: &str, names: &[String]) -> String {
    let mut auto = std::collections::BTreeSet::new();
    for para in extended_states.split("\n\n") {
        let field = |f: &str| {
            para.lines()
                .find_map(|l| l.strip_prefix(f).and_then(|v| v.strip_prefix(':')))
                .map(str::trim)
        };
        if field("Auto-Installed") == Some("1")
            && let Some(p) = field("Package")
        {
            auto.insert(p.to_string());
        }
    }
    let wanted: std::collections::BTreeSet<&str> = names.iter().map(String::as_str).collect();
    wanted
        .into_iter()
        .filter(|n| auto.contains(*n))
        .map(|n| format!("{n}\n"))
        .collect()
}
const UPDATES: &str = "/var/lib/dpkg/updates";

impl Query {
    /// What the query needs after the rounds `got` answered: more primitives, or its answer.
    pub fn next(&self, got: &Got, reads: &Reads) -> Result<Next> {
        match self {
            Query::Getent { db, keys } => {
                if got.rounds() == 0 {
                    return ask(keys
                        .iter()
                        .map(|k| {
                            Probe::Primitive(match db {
                                Db::Passwd => Primitive::Passwd(k.clone()),
                                Db::Group => Primitive::Group(k.clone()),
                            })
                        })
                        .collect());
                }
                let mut out = String::new();
                for k in 0..keys.len() {
                    out.push_str(&got.cmd(0, k)?.stdout);
                }
                done(out)
            }
            Query::GroupNames(user) => {
                if got.rounds() == 0 {
                    return ask(vec![
                        Probe::Primitive(Primitive::Passwd(user.clone())),
                        Probe::Primitive(Primitive::Groups),
                    ]);
                }
                let Some(pw) = passwd_fields(&got.cmd(0, 0)?.stdout) else {
                    return done("");
                };
                let (name, gid) = (pw[0], pw[3]);
                let groups: Vec<Vec<&str>> = got
                    .cmd(0, 1)?
                    .stdout
                    .lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .filter(|g| g.len() >= 4)
                    .collect();
                let primary = groups.iter().find(|g| g[2] == gid).map_or(gid, |g| g[0]);
                let mut names = vec![primary];
                for g in &groups {
                    if g[2] != gid && g[3].split(',').any(|m| m == name) {
                        names.push(g[0]);
                    }
                }
                done(format!("{}\n", names.join(" ")))
            }
            Query::ShadowHash(user) => {
                if got.rounds() == 0 {
                    return ask(vec![Probe::Primitive(Primitive::Shadow(user.clone()))]);
                }
                done(got.cmd(0, 0)?.stdout.clone())
            }
            Query::ShadowEntry(user) => {
                if got.rounds() == 0 {
                    return ask(vec![run(&["getent", "shadow", user])]);
                }
                let out = got.cmd(0, 0)?;
                done(if out.rc == 0 {
                    out.stdout.clone()
                } else {
                    String::new()
                })
            }
            Query::Lines(path) => {
                if got.rounds() == 0 {
                    return ask(vec![Probe::Primitive(Primitive::read(
                        path,
                        super::CONTENT_LIMIT,
                    ))]);
                }
                // `while read`: complete lines only.
                let text = Read::text(got.cmd(0, 0)?).unwrap_or_default();
                done(&text[..text.rfind('\n').map_or(0, |i| i + 1)])
            }
            Query::AptListsAge => {
                if got.rounds() == 0 {
                    return ask(vec![
                        Probe::Primitive(Primitive::Now),
                        Probe::stat("/var/lib/apt/periodic/update-success-stamp"),
                        Probe::stat("/var/lib/apt/lists"),
                        Probe::stat("/etc/apt/sources.list"),
                        glob("/etc/apt/sources.list.d/*"),
                    ]);
                }
                let now: i64 = got.cmd(0, 0)?.stdout.trim().parse().unwrap_or(0);
                let mtime =
                    |f: &super::FileState| (f.exists || f.is_link).then_some(f.mtime as i64);
                let stamp = mtime(got.file(0, 1)?)
                    .or(mtime(got.file(0, 2)?))
                    .unwrap_or(0);
                let mut sources = mtime(got.file(0, 3)?).unwrap_or(0);
                for (_, f) in globbed(got.cmd(0, 4)?)? {
                    sources = sources.max(f.mtime as i64);
                }
                done(format!(
                    "cache_age={}\nsources_newer={}\n",
                    now - stamp,
                    u8::from(sources > stamp)
                ))
            }
            Query::AuthorizedKeys { user, path } => authorized_keys(user, path.as_deref(), got),
            Query::UnitState(name) => unit_state(name, got),
            Query::Packages { names, policy } => packages(names, policy.as_ref(), got, reads),
            Query::Selections(names) => {
                // dpkg's own paragraph says which architecture is native.
                let mut wanted = names.clone();
                wanted.push("dpkg".into());
                let only = (!names.is_empty()).then_some(Paragraphs {
                    field: "Package".into(),
                    values: wanted,
                });
                if got.rounds() == 0 {
                    return ask(vec![
                        reads.ask(STATUS, only.as_ref()),
                        Probe::stat_follow(UPDATES),
                        glob(format!("{UPDATES}/*")),
                        Probe::Primitive(Primitive::read("/var/lib/dpkg/arch", 4096)),
                    ]);
                }
                if got.rounds() == 1 {
                    let status = reads.text(STATUS, only.as_ref(), got.cmd(0, 0)?)?;
                    if let Some(status) = status.filter(|_| settled(got, 1).unwrap_or(false)) {
                        let arch = Read::text(got.cmd(0, 3)?);
                        let db = dpkg::Database::parse(&status);
                        if let Some(out) = dpkg::selections(&db, arch.as_deref(), names) {
                            return done(out);
                        }
                    }
                    let mut argv = vec!["dpkg", "--get-selections"];
                    argv.extend(names.iter().map(String::as_str));
                    return ask(vec![run(&argv)]);
                }
                done(got.cmd(1, 0)?.stdout.clone())
            }
            Query::AutoInstalled(names) => {
                let only = Paragraphs {
                    field: "Package".into(),
                    values: names.clone(),
                };
                if got.rounds() == 0 {
                    return ask(vec![
                        reads.ask(EXTENDED_STATES, Some(&only)),
                        reads.ask(STATUS, Some(&only)),
                    ]);
                }
                let text = reads.text(EXTENDED_STATES, Some(&only), got.cmd(0, 0)?)?;
                let status = reads.text(STATUS, Some(&only), got.cmd(0, 1)?)?;
                let db = dpkg::Database::parse(status.as_deref().unwrap_or(""));
                let installed: Vec<String> =
                    names.iter().filter(|n| db.installed(n)).cloned().collect();
                done(auto_installed(text.as_deref().unwrap_or(""), &installed))
            }
            Query::Facts { subsets, chroot } => super::gather::next(subsets, *chroot, got),
            Query::Digest { algo, path } => digest(algo, path, got),
        }
    }
}

/// dpkg's journal is empty (answers `at` and `at + 1` of round 0: the updates directory and
/// its glob): else dpkg reads it over the status file, and only dpkg can say.
fn settled(got: &Got, at: usize) -> Result<bool> {
    Ok(got.file(0, at)?.is_dir()
        && super::primitive::glob_matches(&got.cmd(0, at + 1)?.stdout).is_empty())
}

/// The keys file of a user whose home is `home`, and its directory.
fn keys_file(home: &str, path: Option<&str>) -> (String, String) {
    let p = path.map_or_else(|| format!("{home}/.ssh/authorized_keys"), str::to_string);
    let d = match p.rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((d, _)) => d.to_string(),
    };
    (p, d)
}

/// What [`authorized_keys`] asks of the keys file `p` in directory `d`.
fn keys_probes(p: &str, d: &str) -> Vec<Probe> {
    vec![
        Probe::File(FileProbe {
            path: p.into(),
            follow: true,
            content: true,
            checksum: false,
        }),
        Probe::stat(p),
        Probe::stat_follow(d),
        Probe::stat(d),
    ]
}

/// The user and their keys file. The home is guessed in the first round (`/root`,
/// `/home/USER`), so the usual case is one round trip; a user whose home is elsewhere takes a
/// second.
fn authorized_keys(user: &str, path: Option<&str>, got: &Got) -> Result<Next> {
    let guess = if user == "root" {
        "/root".to_string()
    } else {
        format!("/home/{user}")
    };
    if got.rounds() == 0 {
        let (p, d) = keys_file(&guess, path);
        let mut a = vec![Probe::Primitive(Primitive::Passwd(user.into()))];
        a.extend(keys_probes(&p, &d));
        return ask(a);
    }
    let Some(pw) = passwd_fields(&got.cmd(0, 0)?.stdout) else {
        return done("nouser\n");
    };
    let home = pw[5];
    let (p, d) = keys_file(home, path);
    let (round, at) = if path.is_some() || home == guess {
        (0, 1)
    } else if got.rounds() == 1 {
        return ask(keys_probes(&p, &d));
    } else {
        (1, 0)
    };
    // `-e` follows links: a dangling one is not there.
    let exists = |f: &super::FileState| f.exists && f.kind != Some(super::FileKind::Link);
    let attrs = |f: &super::FileState| format!("{:o}|{}|{}", f.mode & 0o7777, f.uid, f.gid);
    let [followed, file, dir_followed, dir] = [0, 1, 2, 3].map(|k| got.file(round, at + k));
    let (followed, file, dir_followed, dir) = (followed?, file?, dir_followed?, dir?);
    let mut o = format!("uid={}\ngid={}\nhome={home}\npath={p}\n", pw[2], pw[3]);
    if exists(followed) {
        o.push_str(&format!("dir={}\nfile={}\n", attrs(dir), attrs(file)));
    } else if exists(dir_followed) {
        o.push_str(&format!("dir={}\n", attrs(dir)));
    }
    if followed.is_file() {
        o.push_str("content:\n");
        o.push_str(&followed.text().unwrap_or_default());
    }
    done(o)
}

fn unit_state(name: &str, got: &Got) -> Result<Next> {
    let file = units::file_name(name);
    const BOOTED: &str = "/run/systemd/system";
    if got.rounds() == 0 {
        let mut a = vec![
            Probe::stat_follow(BOOTED),
            Probe::Primitive(Primitive::Run(Run {
                when_dir: Some(BOOTED.into()),
                ..Run::new(&["systemctl", "is-active", name])
            })),
            Probe::Primitive(Primitive::Env("SYSTEMD_UNIT_PATH".into())),
        ];
        if let Some(file) = &file {
            a.push(glob(format!("{}/*", units::CONFIG)));
            a.push(glob(format!("{}/*/{file}", units::CONFIG)));
            a.extend(
                units::UNIT_PATH
                    .iter()
                    .map(|d| Probe::stat(&format!("{d}/{file}"))),
            );
        }
        return ask(a);
    }
    let enabled = match &file {
        Some(file) if got.cmd(0, 2)?.rc != 0 => {
            let in_path: Vec<super::FileState> = (0..units::UNIT_PATH.len())
                .map(|k| got.file(0, 5 + k).cloned())
                .collect::<Result<_>>()?;
            units::certainly_enabled(
                file,
                &in_path,
                &globbed(got.cmd(0, 3)?)?,
                &globbed(got.cmd(0, 4)?)?,
            )
        }
        _ => false,
    };
    // Only systemctl can say what else the unit is (a second look).
    if !enabled && got.rounds() == 1 {
        return ask(vec![Probe::Primitive(Primitive::Run(Run {
            merge: true,
            ..Run::new(&["systemctl", "is-enabled", name])
        }))]);
    }
    let (rc, state) = if enabled {
        (0, "enabled".to_string())
    } else {
        let c = got.cmd(1, 0)?;
        (c.rc, first_line(&c.stdout).to_string())
    };
    let mut o = format!("enabled_rc={rc}\nenabled={state}\n");
    if got.file(0, 0)?.is_dir() {
        let active = got.cmd(0, 1)?;
        o.push_str(&format!(
            "booted=yes\nactive={}\n",
            first_line(&active.stdout)
        ));
    } else {
        o.push_str("booted=no\nactive=inactive\n");
    }
    done(o)
}

fn packages(names: &[String], policy: Option<&Policy>, got: &Got, reads: &Reads) -> Result<Next> {
    let apt_cache_of = |verb: &str, names: &[String]| {
        let mut argv = vec![
            "apt-cache",
            "-o",
            "Dir::Cache::pkgcache=",
            "-o",
            "Dir::Cache::srcpkgcache=",
            verb,
        ];
        argv.extend(names.iter().map(String::as_str));
        run(&argv)
    };
    let apt_cache = || apt_cache_of("policy", names);
    // Only the paragraphs of these packages are read.
    let only = Paragraphs {
        field: "Package".into(),
        values: names.to_vec(),
    };
    // apt is asked at once when it will be whatever dpkg says.
    let always = policy.is_some_and(|p| p.always);
    if got.rounds() == 0 {
        let mut a = vec![
            reads.ask(STATUS, Some(&only)),
            reads.ask(AVAILABLE, Some(&only)),
            Probe::stat_follow(UPDATES),
            glob(format!("{UPDATES}/*")),
        ];
        if always {
            a.push(apt_cache());
        }
        return ask(a);
    }
    // Round 0 answers from the files, else round 1 is dpkg-query's; apt-cache's comes after.
    let status = reads.text(STATUS, Some(&only), got.cmd(0, 0)?)?;
    let available = reads.text(AVAILABLE, Some(&only), got.cmd(0, 1)?)?;
    let native: Option<String> = match status.filter(|_| settled(got, 2).unwrap_or(false)) {
        Some(st) => dpkg::query(
            &dpkg::Database::parse(&st),
            &dpkg::Database::parse(available.as_deref().unwrap_or("")),
            names,
        ),
        None => None,
    };
    let (lines, next_round) = match native {
        Some(l) => (l, 1),
        None if got.rounds() == 1 => {
            let mut argv = vec![
                "dpkg-query".to_string(),
                "-W".into(),
                dpkg::QUERY_FORMAT.into(),
            ];
            argv.extend(names.iter().cloned());
            return ask(vec![Probe::Primitive(Primitive::Run(Run {
                argv,
                ..Run::new(&[])
            }))]);
        }
        None => (got.cmd(1, 0)?.stdout.clone(), 2),
    };
    let mut o = format!("{}\n", lines.trim_end_matches('\n'));
    let Some(p) = policy else { return done(o) };
    // Names dpkg does not have installed may be virtual packages (`apt-transport-https`,
    // provided by apt): `apt-cache showpkg` says who provides them.
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !installed(&lines, n))
        .cloned()
        .collect();
    let (answer, showpkg, round) = if always {
        let answer = got.cmd(0, 4)?.stdout.clone();
        if missing.is_empty() {
            (answer, String::new(), next_round)
        } else if got.rounds() == next_round {
            return ask(vec![apt_cache_of("showpkg", &missing)]);
        } else {
            (
                answer,
                got.cmd(next_round, 0)?.stdout.clone(),
                next_round + 1,
            )
        }
    } else if p.wanted.iter().all(|w| installed(&lines, w)) {
        return done(o);
    } else if got.rounds() == next_round {
        let mut a = vec![apt_cache()];
        if !missing.is_empty() {
            a.push(apt_cache_of("showpkg", &missing));
        }
        return ask(a);
    } else {
        let showpkg = if missing.is_empty() {
            String::new()
        } else {
            got.cmd(next_round, 1)?.stdout.clone()
        };
        (
            got.cmd(next_round, 0)?.stdout.clone(),
            showpkg,
            next_round + 1,
        )
    };
    o.push_str("@@policy\n");
    o.push_str(&answer);
    let virtuals = virtual_packages(&showpkg);
    if virtuals.is_empty() {
        return done(o);
    }
    // Whether a virtual package's only provider is installed (Ansible then takes the virtual
    // package as installed).
    let sole: Vec<String> = virtuals
        .iter()
        .filter(|(_, p)| p.len() == 1)
        .map(|(_, p)| p[0].clone())
        .collect();
    let provider_lines = if sole.is_empty() {
        String::new()
    } else if got.rounds() == round {
        let mut argv = vec![
            "dpkg-query".to_string(),
            "-W".into(),
            dpkg::QUERY_FORMAT.into(),
        ];
        argv.extend(sole);
        return ask(vec![Probe::Primitive(Primitive::Run(Run {
            argv,
            ..Run::new(&[])
        }))]);
    } else {
        got.cmd(round, 0)?.stdout.clone()
    };
    o.push_str("@@virtual\n");
    for (name, providers) in &virtuals {
        let sole_installed = providers.len() == 1 && installed(&provider_lines, &providers[0]);
        o.push_str(&format!(
            "{name}\t{}\t{}\n",
            providers.join(","),
            if sole_installed { "installed" } else { "" }
        ));
    }
    done(o)
}

/// The virtual packages in `apt-cache showpkg`'s output (no versions of their own, provided
/// by others), each with its providers' names (each once, in apt's order).
fn virtual_packages(showpkg: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for block in showpkg.split("Package: ").skip(1) {
        let name = first_line(block).trim().to_string();
        let mut section = "";
        let mut versions = false;
        let mut providers: Vec<String> = Vec::new();
        for line in block.lines().skip(1) {
            if !line.starts_with(' ') && line.trim_end().ends_with(':') {
                section = line.trim_end();
                continue;
            }
            match section {
                "Versions:" if !line.trim().is_empty() && !line.starts_with(' ') => versions = true,
                "Reverse Provides:" => {
                    if let Some(p) = line.split_whitespace().next()
                        && !providers.iter().any(|q| q == p)
                    {
                        providers.push(p.to_string());
                    }
                }
                _ => {}
            }
        }
        if !versions && !providers.is_empty() && !name.is_empty() {
            out.push((name, providers));
        }
    }
    out
}

/// Whether `name` or `name=version` is installed (at that version) by dpkg-query's lines.
fn installed(lines: &str, wanted: &str) -> bool {
    let (wn, wv) = match wanted.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (wanted, None),
    };
    lines.lines().any(|l| {
        // `IFS=<tab> read -r n v a _r`: runs of tabs separate, edges are trimmed.
        let mut f = l.trim_matches('\t').split('\t').filter(|s| !s.is_empty());
        let (n, v, s) = (f.next(), f.next(), f.next());
        n.and_then(|n| n.split(':').next()) == Some(wn)
            && s.is_some_and(|s| s.chars().nth(1) == Some('i'))
            && wv.is_none_or(|wv| v == Some(wv))
    })
}

fn digest(algo: &str, path: &str, got: &Got) -> Result<Next> {
    use sha2::Digest;
    if got.rounds() == 0 {
        return ask(vec![Probe::File(FileProbe {
            path: path.into(),
            follow: true,
            content: true,
            checksum: false,
        })]);
    }
    let f = got.file(0, 0)?;
    if got.rounds() == 1 {
        if !f.is_file() {
            return Ok(Next::Done(CmdOutput {
                rc: 1,
                ..Default::default()
            }));
        }
        let hex = f.content.as_deref().and_then(|c| {
            Some(match algo {
                "sha1" => format!("{:x}", sha1::Sha1::digest(c)),
                "sha224" => format!("{:x}", sha2::Sha224::digest(c)),
                "sha256" => format!("{:x}", sha2::Sha256::digest(c)),
                "sha384" => format!("{:x}", sha2::Sha384::digest(c)),
                "sha512" => format!("{:x}", sha2::Sha512::digest(c)),
                _ => return None,
            })
        });
        if let Some(hex) = hex {
            return done(format!("{hex}\n"));
        }
        if f.content.is_none() && f.size <= super::CONTENT_LIMIT {
            // Not readable.
            return Ok(Next::Done(CmdOutput {
                rc: 1,
                ..Default::default()
            }));
        }
        let sum = format!("{algo}sum");
        return ask(vec![Probe::Primitive(Primitive::Run(Run {
            stdin: Some(path.into()),
            ..Run::new(&[&sum])
        }))]);
    }
    let out = &got.cmd(1, 0)?.stdout;
    done(match out.split(' ').next() {
        Some(h) if !h.is_empty() => format!("{}\n", h.trim_end()),
        _ => String::new(),
    })
}

#[cfg(test)]
mod tests {
    /// `apt-cache showpkg` of a virtual package that apt provides (offline: only dpkg's status
    /// knows it) and of a real package with versions of its own.
    #[test]
    fn showpkg_names_the_providers_of_virtual_packages() {
        let out = "Package: apt-transport-https\nVersions: \n\nReverse Depends: \n  extrepo,apt-transport-https\nDependencies: \nProvides: \nReverse Provides: \napt 2.6.2 (= 2.6.2)\napt 2.6.1 (= 2.6.1)\nPackage: bash\nVersions: \n5.2.15-2+b13 (/var/lib/dpkg/status)\n Description Language: \n                 File: /var/lib/dpkg/status\n\nReverse Depends: \nDependencies: \nProvides: \nReverse Provides: \nbash-static 5.2 (= 5.2)\nPackage: mail-transport-agent\nVersions: \n\nReverse Provides: \nexim4 4.96\npostfix 3.7\n";
        assert_eq!(
            super::virtual_packages(out),
            vec![
                ("apt-transport-https".to_string(), vec!["apt".to_string()]),
                (
                    "mail-transport-agent".to_string(),
                    vec!["exim4".to_string(), "postfix".to_string()]
                ),
            ]
        );
        assert!(super::virtual_packages("").is_empty());
    }
}
