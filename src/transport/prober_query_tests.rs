//! Every query, computed from the prober's answers and from the shell's, as the program it is
//! named after answers it on this machine; and with an empty PATH, which answers needed no
//! program, and in how many round trips.

use super::*;
use crate::host::query::{Db, Policy};
use crate::shlex::join;

/// Queries answered round by round, the host's part by `host`.
fn resolved(
    queries: &[Query],
    cache: &ReadCache,
    host: impl Fn(&[Probe]) -> Observed,
) -> Vec<CmdOutput> {
    let probes: Vec<Probe> = queries.iter().cloned().map(Probe::Query).collect();
    let mut rounds = Rounds::new(&probes, cache.reader("")).unwrap();
    while let Some(wire) = rounds.wire() {
        rounds.feed(host(&wire)).unwrap();
    }
    rounds
        .finish()
        .unwrap()
        .answers
        .into_iter()
        .map(|a| match a {
            Answer::Command(c) => c,
            a => panic!("{a:?}"),
        })
        .collect()
}

/// How many round trips these queries take, answered by the prober with this PATH.
fn round_trips(queries: &[Query], path: &str) -> usize {
    let n = std::cell::Cell::new(0);
    resolved(queries, &ReadCache::default(), |w| {
        n.set(n.get() + 1);
        natively(w, path)
    });
    n.get()
}

/// What the program a query is named after prints (as the queries' shell forms did).
fn by_program(queries: &[Query]) -> Vec<CmdOutput> {
    let probes: Vec<Probe> = queries.iter().map(|q| Probe::Command(program(q))).collect();
    let obs = by_shell(&probes);
    (0..queries.len())
        .map(|i| obs.cmd_at(i).unwrap().clone())
        .collect()
}

/// Queries computed from the prober's answers, from the shell's, and from the prober's
/// with no program on its PATH: the first two are what the programs print; for the queries
/// `native` picks, so is the third. Returns how many it picked.
fn three_ways(queries: &[Query], native: impl Fn(&Query, &CmdOutput) -> bool) -> usize {
    let path = std::env::var("PATH").unwrap_or_default();
    let mine = resolved(queries, &ReadCache::default(), |w| natively(w, &path));
    let shell = resolved(queries, &ReadCache::default(), by_shell);
    let theirs = by_program(queries);
    let empty = tempdir("empty-path");
    let alone = resolved(queries, &ReadCache::default(), |w| {
        natively(w, &empty.display().to_string())
    });
    let mut own = 0;
    for (i, q) in queries.iter().enumerate() {
        let b = &theirs[i];
        assert_eq!(
            (mine[i].rc, &mine[i].stdout),
            (b.rc, &b.stdout),
            "{q:?} by the prober"
        );
        assert_eq!(
            (shell[i].rc, &shell[i].stdout),
            (b.rc, &b.stdout),
            "{q:?} by the shell"
        );
        if native(q, b) {
            assert_eq!(
                (alone[i].rc, &alone[i].stdout),
                (b.rc, &b.stdout),
                "{q:?} needed a program"
            );
            own += 1;
        }
    }
    std::fs::remove_dir_all(&empty).unwrap();
    own
}

fn program(q: &Query) -> String {
    match q {
    Query::Getent { db, keys } => {
        let keys: Vec<String> = keys.iter().map(|k| quote(k)).collect();
        format!("getent {} {}; true", match db { Db::Passwd => "passwd", Db::Group => "group" }, keys.join(" "))
    }
    Query::GroupNames(user) => format!("id -Gn {} 2>/dev/null; true", quote(user)),
    Query::ShadowEntry(user) => format!("getent shadow {}; true", quote(user)),
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
        let names = join(names);
        let mut s = format!(
            "q=$(dpkg-query -W -f='${{Package}}\\t${{Version}}\\t${{db:Status-Abbrev}}\\t${{Status}}\\n' {names} 2>/dev/null)\nprintf '%s\\n' \"$q\"\n"
        );
        if let Some(p) = policy {
            s.push_str(&format!(
                "need={}\nfor w in {}; do\n f=0\n while IFS='\t' read -r n v a _r; do\n  [ \"${{n%%:*}}\" = \"${{w%%=*}}\" ] || continue\n  case \"$a\" in ?i*) ;; *) continue ;; esac\n  case \"$w\" in *=*) [ \"$v\" = \"${{w#*=}}\" ] && f=1 ;; *) f=1 ;; esac\n done <<EOF\n$q\nEOF\n [ \"$f\" = 1 ] || need=1\ndone\nif [ \"$need\" = 1 ]; then\n echo '@@policy'\n apt-cache -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= policy {names} 2>/dev/null\nfi\ntrue",
                u8::from(p.always),
                join(&p.wanted),
            ));
        }
        s
    }
    Query::Selections(names) => format!("dpkg --get-selections {} 2>/dev/null; true", join(names)),
    Query::AutoInstalled(names) => format!("apt-mark showauto {} 2>/dev/null; true", join(names)),
    Query::Facts { .. } => unreachable!("the facts are compared with programs one by one"),
    Query::Digest { algo, path } => {
        let p = quote(path);
        format!("[ -f {p} ] && [ -r {p} ] && {algo}sum < {p} | cut -d' ' -f1")
    }
}
}

/// `systemctl is-enabled` is answered natively for enabled units, and as systemctl
/// answers for every unit of this machine (enabled, disabled, static, aliases, templates,
/// missing ones).
#[test]
fn unit_states_are_answered_as_systemctl_answers_them() {
    let path = std::env::var("PATH").unwrap_or_default();
    if !std::path::Path::new("/usr/bin/systemctl").exists() {
        eprintln!("no systemctl here: nothing to compare");
        return;
    }
    let mut names: Vec<String> = ["/lib/systemd/system", "/etc/systemd/system"]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".d") && !n.ends_with(".wants") && n.contains('.'))
        .collect();
    names.sort();
    names.dedup();
    // Without a suffix, a service; and names nothing has.
    let bare: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_suffix(".service").map(str::to_string))
        .collect();
    names.extend(bare);
    names.extend([
        "no-such-unit".into(),
        "no-such.timer".into(),
        "getty@tty1".into(),
    ]);
    let queries: Vec<Query> = names.into_iter().map(Query::UnitState).collect();
    // In chunks: a shell command line has a limit.
    let own: usize = queries
        .chunks(40)
        .map(|c| {
            three_ways(c, |q, out| {
                let Query::UnitState(n) = q else { return false };
                !n.contains('@') && out.stdout.contains("\nenabled=enabled\n")
            })
        })
        .sum();
    // This machine has enabled units (systemd's own timers at least), or nothing was
    // shown.
    let enabled = std::fs::read_dir("/etc/systemd/system")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".wants"));
    assert!(own > 0 || !enabled, "no unit was answered natively");
    // An enabled unit takes one round trip, another (systemctl's to judge) two.
    if let Some(unit) = std::fs::read_dir("/etc/systemd/system/multi-user.target.wants")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".service") && !n.contains('@'))
    {
        assert_eq!(round_trips(&[Query::UnitState(unit)], &path), 1);
    }
    assert_eq!(
        round_trips(&[Query::UnitState("no-such-unit".into())], &path),
        2
    );
}

#[test]
fn packages_are_answered_as_dpkg_query_answers_them() {
    let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
    let available = std::fs::read_to_string("/var/lib/dpkg/available").unwrap_or_default();
    let mut names: Vec<String> = status
        .lines()
        .filter_map(|l| l.strip_prefix("Package: ").map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    assert!(names.iter().any(|n| n == "dpkg"));
    // A file's paragraphs for a package.
    let paragraphs = |file: &str, n: &str| -> Vec<String> {
        file.split("\n\n")
            .filter(|p| p.trim_start().starts_with(&format!("Package: {n}\n")))
            .map(str::to_string)
            .collect()
    };
    let field = |p: &str, f: &str| {
        p.lines()
            .find_map(|l| l.strip_prefix(&format!("{f}: ")).map(str::to_string))
    };
    let version = |n: &str| {
        let p = paragraphs(&status, n);
        field(p.first()?, "Version")
    };
    // What the prober answers itself: one instance with a version, no other architecture
    // in the available file.
    let simple = |n: &str| {
        let p = paragraphs(&status, n);
        p.len() == 1
            && field(&p[0], "Version").is_some()
            && paragraphs(&available, n)
                .iter()
                .all(|a| field(a, "Architecture") == field(&p[0], "Architecture"))
    };
    let (easy, hard): (Vec<String>, Vec<String>) = names.iter().cloned().partition(|n| simple(n));
    let dpkg_version = version("dpkg").unwrap();
    let plain = |names: Vec<String>| Query::Packages {
        names,
        policy: None,
    };
    let mut queries: Vec<Query> = easy
        .chunks(50)
        .chain(hard.chunks(50))
        .map(|c| plain(c.to_vec()))
        .collect();
    let policy = |names: &[&str], always: bool, wanted: &[String]| Query::Packages {
        names: names.iter().map(|s| s.to_string()).collect(),
        policy: Some(Policy {
            always,
            wanted: wanted.to_vec(),
        }),
    };
    queries.extend([
        // Unsorted, repeated: dpkg sorts and shows each once.
        plain(vec!["dpkg".into(), "bash".into(), "dpkg".into()]),
        policy(&["dpkg", "bash"], false, &["dpkg".into(), "bash".into()]),
        policy(&["dpkg"], false, &[format!("dpkg={dpkg_version}")]),
        // These ask apt.
        policy(&["dpkg"], false, &["dpkg=0.0-not-this".into()]),
        policy(&["dpkg"], true, &["dpkg".into()]),
        policy(
            &["dpkg", "no-such-package-prov"],
            false,
            &["dpkg".into(), "no-such-package-prov".into()],
        ),
        plain(vec!["no-such-package-prov".into()]),
        plain(vec!["dpkg:amd64".into(), "bas*".into()]),
    ]);
    let own = three_ways(&queries, |q, _| match q {
        Query::Packages { names, policy } => {
            names.iter().all(|n| simple(n) && !n.contains([':', '*']))
                && policy
                    .as_ref()
                    .is_none_or(|p| !p.always && p.wanted.iter().all(|w| !w.contains("not-this")))
        }
        _ => false,
    });
    assert!(simple("dpkg"));
    assert!(own >= easy.len() / 50 + 3, "{own}");
}

/// `dpkg --get-selections '*'` natively, on this machine's dpkg database.
#[test]
fn selections_are_answered_as_dpkg_answers_them() {
    // Natively unless a package has several instances or dpkg's arch file names another
    // native architecture than dpkg's own package has.
    let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
    let mut names: Vec<&str> = status
        .lines()
        .filter_map(|l| l.strip_prefix("Package: "))
        .collect();
    let all = names.len();
    names.sort();
    names.dedup();
    let own_arch = std::process::Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .unwrap();
    let own_arch = String::from_utf8(own_arch.stdout).unwrap();
    let arch_file = std::fs::read_to_string("/var/lib/dpkg/arch").ok();
    let native =
        names.len() == all && arch_file.is_none_or(|a| a.lines().next() == Some(own_arch.trim()));
    let of = |n: &[&str]| Query::Selections(n.iter().map(|s| s.to_string()).collect());
    let queries = [
        of(&[]),
        of(&["dpkg", "bash", "dpkg"]),
        of(&["libc6"]),
        of(&["no-such-package-prov"]),
        of(&["bas*"]),
    ];
    let own = three_ways(&queries, |q, _| native && *q != of(&["bas*"]));
    assert_eq!(own, if native { 4 } else { 0 });
}

/// `apt-mark showauto` natively, for every package of this machine's dpkg database.
#[test]
fn automatic_installs_are_answered_as_apt_mark_answers_them() {
    let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
    let mut names: Vec<String> = status
        .lines()
        .filter_map(|l| l.strip_prefix("Package: "))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    let queries = [
        Query::AutoInstalled(names.clone()),
        Query::AutoInstalled(vec!["libc6".into(), "no-such-package-prov".into()]),
        Query::AutoInstalled(names.iter().take(40).cloned().collect()),
    ];
    assert_eq!(three_ways(&queries, |_, _| true), 3);
}

/// Digests: SHA-1 natively for files up to 1 KiB, the `*sum` programs otherwise, nothing for
/// what is not a readable regular file.
#[test]
fn digests_are_answered_as_the_sum_programs_answer_them() {
    let d = tempdir("digests");
    let mut queries = Vec::new();
    for n in [
        0usize, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 1024, 1025, 200_000,
    ] {
        let f = d.join(format!("f{n}"));
        let bytes: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
        std::fs::write(&f, bytes).unwrap();
        for algo in ["sha1", "sha256", "md5"] {
            queries.push(Query::Digest {
                algo: algo.into(),
                path: f.display().to_string(),
            });
        }
    }
    std::os::unix::fs::symlink(d.join("f64"), d.join("link")).unwrap();
    for p in ["link", "missing", "."] {
        queries.push(Query::Digest {
            algo: "sha1".into(),
            path: d.join(p).display().to_string(),
        });
    }
    let own = three_ways(&queries, |q, _| match q {
        Query::Digest { algo, path } => {
            algo == "sha1" && std::fs::metadata(path).map_or(true, |m| m.len() <= 1024)
        }
        _ => false,
    });
    assert!(own >= 14, "{own}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Every query, from the prober's answers and from the shell's, gives what its program
/// prints, on this machine's own users, groups, files and apt lists.
#[test]
fn queries_are_answered_as_their_shell_forms_answer_them() {
    use crate::host::query::Db;
    let d = tempdir("queries");
    let path = |n: &str| d.join(n).display().to_string();
    std::fs::write(d.join("value"), "1\n").unwrap();
    std::fs::write(d.join("partial"), "one\ntwo\nno newline").unwrap();
    std::fs::create_dir(d.join(".ssh")).unwrap();
    std::fs::write(d.join(".ssh/keys"), "ssh-ed25519 AAAA a@b\n").unwrap();
    std::fs::set_permissions(
        d.join(".ssh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // A group with members, if this machine has one (for supplementary groups).
    let (group, member) = std::fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let first = f.get(3)?.split(',').next()?;
            (!first.is_empty()).then(|| (f[0].to_string(), first.to_string()))
        })
        .unwrap_or_else(|| ("root".into(), "root".into()));
    let queries = vec![
        Query::Getent {
            db: Db::Passwd,
            keys: words(&["root", "nosuchuser", "daemon", "65534", &member]),
        },
        Query::Getent {
            db: Db::Group,
            keys: words(&["root", &group, "nosuchgroup", "0", "users"]),
        },
        Query::GroupNames("root".into()),
        Query::GroupNames(member.clone()),
        Query::GroupNames("nobody".into()),
        Query::GroupNames("nosuchuser".into()),
        Query::ShadowHash("root".into()),
        Query::ShadowHash("nosuchuser".into()),
        Query::Lines("/proc/sys/kernel/ostype".into()),
        Query::Lines(path("value")),
        Query::Lines(path("partial")),
        Query::Lines(path("missing")),
        Query::AuthorizedKeys {
            user: "root".into(),
            path: None,
        },
        Query::AuthorizedKeys {
            user: "root".into(),
            path: Some(path(".ssh/keys")),
        },
        Query::AuthorizedKeys {
            user: "root".into(),
            path: Some(path(".ssh/missing")),
        },
        Query::AuthorizedKeys {
            user: "nosuchuser".into(),
            path: None,
        },
        Query::AptListsAge,
        // A home elsewhere than /home/USER: the keys file takes a second look.
        Query::AuthorizedKeys {
            user: "daemon".into(),
            path: None,
        },
    ];
    let path_var = std::env::var("PATH").unwrap_or_default();
    let theirs = by_program(&queries);
    let mine = resolved(&queries, &ReadCache::default(), |w| natively(w, &path_var));
    let shell = resolved(&queries, &ReadCache::default(), by_shell);
    for (i, q) in queries.iter().enumerate() {
        let b = &theirs[i];
        for a in [&mine[i], &shell[i]] {
            if *q == Query::AptListsAge {
                // Seconds may tick between the two.
                let age = |t: &str| -> i64 {
                    t.lines()
                        .find_map(|l| l.strip_prefix("cache_age="))
                        .unwrap()
                        .parse()
                        .unwrap()
                };
                assert!((age(&a.stdout) - age(&b.stdout)).abs() <= 1, "{a:?} {b:?}");
                assert_eq!(a.stdout.lines().nth(1), b.stdout.lines().nth(1));
                continue;
            }
            assert_eq!((a.rc, &a.stdout), (b.rc, &b.stdout), "{q:?}");
        }
    }
    // Not the same mistake twice: the answers are the machine's.
    assert!(mine[0].stdout.starts_with("root:x:0:0:"));
    if mine[0].stdout.contains(&format!("{member}:x:")) {
        assert!(mine[3].stdout.contains(&group));
    }
    assert_eq!(mine[9].stdout, "1\n");
    assert_eq!(mine[10].stdout, "one\ntwo\n");
    assert!(
        mine[13]
            .stdout
            .contains("dir=700|0|0\nfile=644|0|0\ncontent:\nssh-ed25519 AAAA a@b\n")
    );
    assert_eq!(mine[15].stdout, "nouser\n");
    assert!(
        mine[17]
            .stdout
            .contains("\npath=/usr/sbin/.ssh/authorized_keys\n"),
        "{:?}",
        mine[17]
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// The facts computed from the prober's answers and from the shell's: the same lines (the
/// free memory and the uptime aside, which move), and this machine's, as its programs
/// print them.
#[test]
fn facts_are_this_machines() {
    use crate::host::gather::Subsets;
    let mut queries = Vec::new();
    for network in [true, false] {
        for hardware in [true, false] {
            for chroot in [true, false] {
                queries.push(Query::Facts {
                    subsets: Subsets { network, hardware },
                    chroot,
                });
            }
        }
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let mine = resolved(&queries, &ReadCache::default(), |w| natively(w, &path));
    let shell = resolved(&queries, &ReadCache::default(), by_shell);
    let steady = |o: &CmdOutput| -> String {
        o.stdout
            .lines()
            // What changes between two looks: free memory, uptime and the `vol:` lines.
            .filter(|l| {
                !["memfree_kb=", "uptime=", "vol:"]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    for (i, q) in queries.iter().enumerate() {
        assert_eq!(steady(&mine[i]), steady(&shell[i]), "{q:?}");
    }
    let all = &mine[0].stdout;
    let sh = |script: &str| {
        let o = std::process::Command::new("/bin/sh")
            .args(["-c", script])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    let has = |line: String| assert!(all.contains(&format!("\n{line}\n")), "{line} in {all}");
    has(format!("uname_m={}", sh("uname -m").trim_end()));
    has(format!("kernel={}", sh("uname -r").trim_end()));
    has(format!("user_uid={}", sh("id -u").trim_end()));
    has(format!("user_id={}", sh("id -un").trim_end()));
    has(format!("fqdn={}", sh("hostname -f 2>/dev/null").trim_end()));
    has(format!(
        "vcpus={}",
        sh("grep -c ^processor /proc/cpuinfo").trim_end()
    ));
    has(format!(
        "elf={}",
        sh("od -An -tx1 -j18 -N2 /bin/sh | tr -d ' \\n'")
    ));
    has("pkg_mgr=apt".into());
    has(format!(
        "osr_ID={}",
        sh(". /etc/os-release; echo $ID").trim_end()
    ));
    // A chroot connection is a chroot by definition; this machine is none.
    assert!(all.starts_with("is_chroot=1\n"), "{all}");
    assert!(
        mine[1].stdout.starts_with("is_chroot=0\n"),
        "{}",
        mine[1].stdout
    );
    if !sh("command -v ip").is_empty() {
        // The first default route's gateway and device, as `ip` names them.
        if let Some(r) = sh("ip -4 -o route show default")
            .lines()
            .find(|l| l.starts_with("default"))
        {
            let w: Vec<&str> = r.split_whitespace().collect();
            let after = |k: &str| w.iter().position(|x| *x == k).map(|i| w[i + 1]);
            match (after("via"), after("dev")) {
                (Some(via), Some(dev)) => has(format!("route=default via {via} dev {dev}")),
                (None, Some(dev)) => has(format!("route=default dev {dev}")),
                _ => {}
            }
        }
        for l in sh("ip -4 -o addr show").lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            has(format!("addr={} {}", w[1], w[3]));
        }
    }
    let facts = crate::modules::facts::parse(all);
    assert!(facts.contains_key("architecture"), "{facts:?}");
    // One round trip.
    assert_eq!(round_trips(&queries[..1], &path), 1);
    // Without network and hardware: neither's lines.
    let min = &mine[7].stdout;
    assert!(
        !min.contains("vcpus=") && !min.contains("interfaces="),
        "{min}"
    );
}
