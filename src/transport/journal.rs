//! The run journal's shell side: what a step script does before it changes a path (save the
//! path's previous state into the journal), how a run's entries are listed back, and how one
//! path is put back as it was.
//!
//! The journal lives on the target, under `/var/lib/prov/journal/<run id>/` (root; another
//! user's is `~/.local/state/prov/journal/`), mode 0700. Each change gets an entry directory
//! `<seq>/` (zero-padded, in order) holding `path`, `kind` (the step: write, remove, link,
//! attrs, attrs-r, touch, mkdir), `task`, `module`, and, when the path existed, `stat`
//! (`%F|%a|%u|%g|%.9Y`: kind, mode, owner, group, modification time), `link` (a symlink's target) and `data` (`cp -a` of a file or directory no
//! larger than [`SIZE_CAP`]; `large` marks one that was larger). An entry is built as `.<seq>.tmp`
//! and renamed into place before the change is made: an entry either exists whole or not at
//! all, and a change never happens without its entry. The first entry of a run on a host
//! prunes the journal to the newest [`KEEP_RUNS`] runs (sparing a run that added an entry in
//! the last hour: another prov may still be running it).

use crate::error::{Error, Result};
use crate::shlex::quote;

/// Files (or removed directories) larger than this are not saved: their entry says so and a
/// rollback lists them as not revertible.
pub const SIZE_CAP: u64 = 16 << 20;
/// Runs kept per host.
pub const KEEP_RUNS: usize = 20;

/// The start of the stderr line of a step whose change is not journaled (followed by why).
pub const NOT_JOURNALED: &str = "prov-not-journaled: ";

/// Take the [`NOT_JOURNALED`] lines out of a step's stderr: why, if there was one.
pub fn take_not_journaled(stderr: &mut Vec<u8>) -> Option<String> {
    let text = String::from_utf8_lossy(stderr).into_owned();
    let mut why = None;
    let mut rest = String::new();
    for line in text.split_inclusive('\n') {
        match line.strip_prefix(NOT_JOURNALED) {
            Some(w) => why = Some(w.trim_end().to_string()),
            None => rest.push_str(line),
        }
    }
    why.is_some().then(|| *stderr = rest.into_bytes());
    why
}

/// Shell lines that set `$jr` to the journal root of the user the script runs as.
pub const JOURNAL_ROOT: &str = "if [ \"$(id -u)\" = 0 ]; then jr=/var/lib/prov/journal; else jr=\"${XDG_STATE_HOME:-$HOME/.local/state}/prov/journal\"; fi\n";

/// Which change is recorded (and so how the path's previous state is saved).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Write,
    Remove,
    Link,
    Attrs,
    /// Attributes changed recursively: only the top is recorded.
    AttrsRecursive,
    Touch,
    MakeDir,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Write => "write",
            Kind::Remove => "remove",
            Kind::Link => "link",
            Kind::Attrs => "attrs",
            Kind::AttrsRecursive => "attrs-r",
            Kind::Touch => "touch",
            Kind::MakeDir => "mkdir",
        }
    }
    /// Is the previous content saved (not only the attributes)?
    fn saves_data(self) -> bool {
        matches!(self, Kind::Write | Kind::Remove | Kind::Link | Kind::Touch)
    }
}

/// One journal entry to write: the run, the entry's number and what it is about.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub run: String,
    pub seq: u64,
    pub kind: Kind,
    pub task: String,
    pub module: String,
    /// The task is `no_log`: the entry says so, and its content is never shown.
    pub secret: bool,
}

/// Is `id` a run id prov could have made (`20261207T130501Z-1a2b3c`)? Run ids end up in paths
/// and scripts, so nothing else is accepted.
pub fn valid_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The lines that record the previous state of the path in `$p` (which may be missing) as
/// entry `mark` — before the change that follows them. An entry that cannot be written stops
/// the step (exit 1) before anything changed. A user without a journal directory of its own
/// (a become_user whose HOME it cannot write, such as www-data or nobody) changes without
/// one: the script says so on stderr ([`NOT_JOURNALED`]) and the change goes ahead.
pub fn capture(mark: &Mark) -> Result<String> {
    if !valid_run_id(&mark.run) {
        return Err(Error::runtime(format!("bad run id '{}'", mark.run)));
    }
    let run = &mark.run;
    let seq = format!("{:08}", mark.seq);
    let mut s = String::from(JOURNAL_ROOT);
    s.push_str(&format!("J=\"$jr/{run}\"\n"));
    // The first entry of the run creates its directory and prunes old runs.
    s.push_str(&format!(
        "if [ ! -d \"$J\" ]; then\n if (umask 077; mkdir -p -- \"$J\") 2>/dev/null; then\n  chmod 0700 -- \"$jr\" 2>/dev/null\n  ls -1 -- \"$jr\" | sort | head -n -{keep} | while IFS= read -r o; do [ \"$o\" = {run} ] || [ -n \"$(find \"$jr/$o\" -maxdepth 0 -mmin -60)\" ] || rm -rf -- \"$jr/$o\"; done\n else\n  echo \"{NOT_JOURNALED}$(id -un) cannot create $J\" >&2\n fi\nfi\nif [ -d \"$J\" ]; then\n",
        keep = KEEP_RUNS
    ));
    s.push_str(&format!(
        "e=\"$J/.{seq}.tmp\"; rm -rf -- \"$e\"; (umask 077; mkdir -p -- \"$J\" && mkdir -- \"$e\") || exit 1\nprintf '%s' \"$p\" > \"$e/path\" && printf '%s' {kind} > \"$e/kind\" && printf '%s' {task} > \"$e/task\" && printf '%s' {module} > \"$e/module\" || exit 1\n{secret}",
        secret = if mark.secret {
            ": > \"$e/nolog\" || exit 1\n"
        } else {
            ""
        },
        kind = mark.kind.name(),
        task = quote(&mark.task),
        module = quote(&mark.module),
    ));
    s.push_str("if [ -e \"$p\" ] || [ -L \"$p\" ]; then\n stat -c '%F|%a|%u|%g|%.9Y' -- \"$p\" > \"$e/stat\" || exit 1\n if [ -L \"$p\" ]; then readlink -n -- \"$p\" > \"$e/link\" || exit 1\n");
    if mark.kind.saves_data() {
        s.push_str(&format!(
            " elif [ -f \"$p\" ] || [ -d \"$p\" ]; then\n  z=$(du -sb -- \"$p\"); z=${{z%%[!0-9]*}}\n  if [ \"${{z:-0}}\" -le {SIZE_CAP} ]; then cp -a -- \"$p\" \"$e/data\" || exit 1; else : > \"$e/large\"; fi\n"
        ));
    }
    s.push_str(&format!(
        " fi\nfi\nsync -f \"$e\" 2>/dev/null\nmv -- \"$e\" \"$J/{seq}\" || exit 1\nfi\n"
    ));
    Ok(s)
}

/// The same as [`capture`] for the highest missing ancestor of `$p` (or `$p`), so that a
/// rollback removes every directory `mkdir -p` created.
pub fn capture_created_dir(mark: &Mark) -> Result<String> {
    Ok(format!(
        "o=$p\nwhile [ ! -e \"$p\" ] && [ ! -L \"$p\" ]; do q=$(dirname -- \"$p\"); if [ -e \"$q\" ] || [ \"$q\" = \"$p\" ]; then break; fi; p=$q; done\n{}p=$o\n",
        capture(mark)?
    ))
}

/// The script that lists the entries of run `run`: `@J <dir>` (the run's journal directory,
/// or `@N` when there is none), then per entry `@E <seq> <flags>` (`d` data saved, `l` large,
/// `s` a `no_log` task's)
/// followed by its `path`, `kind`, `stat`, `link`, `task` and `module` as `<n>\n<bytes>`.
pub fn list_script(run: &str) -> Result<String> {
    if !valid_run_id(run) {
        return Err(Error::usage(format!("'{run}' is not a run id")));
    }
    Ok(format!(
        "export LC_ALL=C\n{JOURNAL_ROOT}J=\"$jr/{run}\"\nif [ ! -d \"$J\" ]; then echo @N; exit 0; fi\nprintf '@J %s\\n' \"$J\"\nfor e in \"$J\"/[0-9]*; do\n [ -d \"$e\" ] || continue\n f=\n [ -e \"$e/data\" ] || [ -L \"$e/data\" ] && f=${{f}}d\n [ -e \"$e/large\" ] && f=${{f}}l\n [ -e \"$e/nolog\" ] && f=${{f}}s\n printf '@E %s %s\\n' \"${{e##*/}}\" \"${{f:--}}\"\n for x in path kind stat link task module; do\n  if [ -f \"$e/$x\" ]; then printf '%d\\n' \"$(wc -c < \"$e/$x\")\"; cat -- \"$e/$x\"; else printf -- '-1\\n'; fi\n done\ndone\n"
    ))
}

/// The script that lists the runs in the journal: `<run id> <entries>` per line, oldest first.
pub fn runs_script() -> String {
    format!(
        "export LC_ALL=C\n{JOURNAL_ROOT}[ -d \"$jr\" ] || exit 0\nfor r in \"$jr\"/*; do\n [ -d \"$r\" ] || continue\n n=0; for e in \"$r\"/[0-9]*; do [ -d \"$e\" ] && n=$((n+1)); done\n printf '%s %d\\n' \"${{r##*/}}\" \"$n\"\ndone\n"
    )
}

/// A journal entry as listed back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    pub seq: u64,
    pub path: String,
    pub kind: String,
    /// `%F|%a|%u|%g` of the path before the change; `None`: it did not exist.
    pub stat: Option<String>,
    pub link: Option<String>,
    pub task: String,
    pub module: String,
    /// Where the saved copy is (`<journal dir>/<seq>/data`), if one was saved.
    pub data: Option<String>,
    pub large: bool,
    /// Written by a `no_log` task: its content is not shown.
    pub secret: bool,
}

/// Parse [`list_script`]'s output: the run's journal directory (`None`: no such run on this
/// host) and its entries in order.
pub fn parse_list(out: &[u8]) -> Result<Option<(String, Vec<Entry>)>> {
    let bad = || Error::runtime("the journal listing is malformed");
    let mut pos = 0;
    let line = |pos: &mut usize| -> Option<String> {
        let rest = out.get(*pos..)?;
        if rest.is_empty() {
            return None;
        }
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        *pos += (end + 1).min(rest.len());
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    let dir = match line(&mut pos).as_deref() {
        Some("@N") => return Ok(None),
        Some(l) if l.starts_with("@J ") => l[3..].to_string(),
        _ => return Err(bad()),
    };
    let mut entries = Vec::new();
    while let Some(l) = line(&mut pos) {
        let mut parts = l.split(' ');
        if parts.next() != Some("@E") {
            return Err(bad());
        }
        let name = parts.next().ok_or_else(bad)?;
        let seq: u64 = name.parse().map_err(|_| bad())?;
        let flags = parts.next().unwrap_or("-");
        let mut fields: Vec<Option<String>> = Vec::new();
        for _ in 0..6 {
            let n: i64 = line(&mut pos)
                .ok_or_else(bad)?
                .trim()
                .parse()
                .map_err(|_| bad())?;
            if n < 0 {
                fields.push(None);
                continue;
            }
            let n = n as usize;
            let bytes = out.get(pos..pos + n).ok_or_else(bad)?;
            pos += n;
            fields.push(Some(String::from_utf8_lossy(bytes).into_owned()));
        }
        let mut f = fields.into_iter();
        let mut next = || f.next().flatten();
        let path = next().ok_or_else(bad)?;
        entries.push(Entry {
            seq,
            path,
            kind: next().unwrap_or_default(),
            stat: next().map(|s| s.trim_end().to_string()),
            link: next(),
            task: next().unwrap_or_default(),
            module: next().unwrap_or_default(),
            data: flags.contains('d').then(|| format!("{dir}/{name}/data")),
            large: flags.contains('l'),
            secret: flags.contains('s'),
        });
    }
    Ok(Some((dir, entries)))
}

/// Parse [`runs_script`]'s output.
pub fn parse_runs(out: &[u8]) -> Vec<(String, usize)> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| {
            let (id, n) = l.split_once(' ')?;
            Some((id.to_string(), n.trim().parse().ok()?))
        })
        .filter(|(id, _)| valid_run_id(id))
        .collect()
}

/// How to put one path back.
#[derive(Clone, Debug, PartialEq)]
pub enum Restore {
    /// Copy the saved `data` back over the path (atomically: beside it, then renamed), with
    /// this mode and owner (the copy's may be of a later moment of the run).
    Copy {
        data: String,
        mode_owner: Option<(u32, u32, u32)>,
    },
    /// Make the path a symlink to `target` again.
    Link { target: String },
    /// Remove what the run created (a directory only when it holds no files).
    Remove,
    /// Give the path its mode and owner back (and a file its modification time).
    Attrs {
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: Option<Mtime>,
    },
}

/// A modification time as stat's `%.9Y` gives it: seconds since the epoch and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mtime {
    pub secs: i64,
    pub nanos: u32,
}

impl Mtime {
    /// `1700000000.123456789` (or whole seconds); anything else is `None`.
    pub fn parse(s: &str) -> Option<Mtime> {
        let (secs, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let nanos = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().ok()?
        };
        Some(Mtime {
            secs: secs.parse().ok()?,
            nanos,
        })
    }
}

/// The script that restores `path`.
pub fn restore_script(path: &str, how: &Restore) -> String {
    let mut s = format!(
        "export LC_ALL=C\ntrap '' INT HUP\np={}\nd=$(dirname -- \"$p\")\n",
        quote(path)
    );
    match how {
        Restore::Copy { data, mode_owner } => s.push_str(&format!(
            "mkdir -p -- \"$d\" || exit 1\nt=\"$d/.prov_tmp.rollback.$$\"\nrm -rf -- \"$t\"\ntrap 'rm -rf -- \"$t\"' EXIT\ncp -a -- {} \"$t\" || exit 1\n{}sync -f \"$t\" 2>/dev/null\no=\nif [ -d \"$p\" ] && [ ! -L \"$p\" ]; then o=\"$d/.prov_tmp.rollback-old.$$\"; rm -rf -- \"$o\"; mv -T -- \"$p\" \"$o\" || exit 1; fi\nmv -f -T -- \"$t\" \"$p\" || exit 1\n[ -z \"$o\" ] || rm -rf -- \"$o\"\ntrap - EXIT\n",
            quote(data),
            match mode_owner {
                Some((mode, uid, gid)) => format!(
                    "chown {uid}:{gid} -- \"$t\" && chmod {mode:04o} -- \"$t\" || exit 1\n"
                ),
                None => String::new(),
            }
        )),
        Restore::Link { target } => s.push_str(&format!(
            "mkdir -p -- \"$d\" || exit 1\nt=\"$d/.prov_tmp.rollback.$$\"\nrm -f -- \"$t\"\nln -s -- {} \"$t\" || exit 1\nif [ -d \"$p\" ] && [ ! -L \"$p\" ]; then rm -rf -- \"$p\" || exit 1; fi\nmv -f -T -- \"$t\" \"$p\" || {{ rm -f -- \"$t\"; exit 1; }}\n",
            quote(target)
        )),
        // A directory the run created goes with the directories in it, but not with files
        // someone put there since.
        Restore::Remove => s.push_str(
            "if [ -d \"$p\" ] && [ ! -L \"$p\" ]; then\n if [ -n \"$(find \"$p\" ! -type d -print | head -n 1)\" ]; then echo \"prov: $p holds files the run did not put there: left in place\" >&2; exit 1; fi\n rm -rf -- \"$p\" || exit 1\nelse rm -f -- \"$p\" || exit 1; fi\n",
        ),
        Restore::Attrs {
            mode,
            uid,
            gid,
            mtime,
        } => {
            s.push_str(&format!(
                "chown -h {uid}:{gid} -- \"$p\" || exit 1\n[ -L \"$p\" ] || chmod {mode:04o} -- \"$p\" || exit 1\n"
            ));
            if let Some(t) = mtime {
                s.push_str(&format!(
                    "touch -h -m -d @{}.{:09} -- \"$p\" || exit 1\n",
                    t.secs, t.nanos
                ));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_not_journaled_notice_is_taken_out_of_stderr() {
        let mut e = b"warn 1\nprov-not-journaled: nobody cannot create /x\nwarn 2\n".to_vec();
        assert_eq!(
            take_not_journaled(&mut e).as_deref(),
            Some("nobody cannot create /x")
        );
        assert_eq!(e, b"warn 1\nwarn 2\n");
        let mut plain = b"just this".to_vec();
        assert_eq!(take_not_journaled(&mut plain), None);
        assert_eq!(plain, b"just this");
    }

    fn mark(kind: Kind, seq: u64) -> Mark {
        Mark {
            run: "20261207T130501Z-abc123".into(),
            seq,
            kind,
            task: "it's a task".into(),
            module: "copy".into(),
            secret: false,
        }
    }

    #[test]
    fn run_ids_are_checked() {
        assert!(valid_run_id("20261207T130501Z-abc123"));
        for bad in ["", "../etc", "a b", ".x", "a/b", "a;rm"] {
            assert!(!valid_run_id(bad), "{bad}");
        }
        let mut m = mark(Kind::Write, 1);
        m.run = "../x".into();
        assert!(capture(&m).is_err());
        assert!(list_script("a;b").is_err());
    }

    /// The capture lines, the listing and the restore run for real (as whoever runs the
    /// tests, in a private journal root), by dash: entries are complete and in order, and a
    /// file, a link and a created path go back as they were.
    #[test]
    fn capture_list_and_restore_round_trip() {
        let dir = std::env::temp_dir().join(format!("prov-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f\nname");
        std::fs::write(&file, "old\n").unwrap();
        let link = dir.join("l");
        std::os::unix::fs::symlink("target one", &link).unwrap();
        let new = dir.join("new");
        // A private journal root, whoever runs the tests.
        let jr = format!("jr={}\n", quote(&dir.join("journal").display().to_string()));
        let sh = |script: &str| {
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(script.replace(JOURNAL_ROOT, &jr))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{script}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let run = format!("20991231T000000Z-t{}", std::process::id());
        let mut m = mark(Kind::Write, 1);
        m.run = run.clone();
        for (p, kind, seq, change) in [
            (&file, Kind::Write, 1, "printf new > \"$p\""),
            (&link, Kind::Link, 2, "ln -sfn other \"$p\""),
            (&new, Kind::Write, 3, "echo x > \"$p\""),
        ] {
            let m = Mark {
                kind,
                seq,
                secret: seq == 2,
                ..m.clone()
            };
            sh(&format!(
                "p={}\n{}{change}\n",
                quote(&p.display().to_string()),
                capture(&m).unwrap()
            ));
        }
        let (_, entries) = parse_list(&sh(&list_script(&run).unwrap()))
            .unwrap()
            .unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].path, file.display().to_string());
        assert_eq!(entries[0].kind, "write");
        assert_eq!(entries[0].task, "it's a task");
        assert!(
            entries[0]
                .stat
                .as_deref()
                .unwrap()
                .starts_with("regular file|")
        );
        assert_eq!(entries[1].link.as_deref(), Some("target one"));
        assert_eq!(
            entries.iter().map(|e| e.secret).collect::<Vec<_>>(),
            [false, true, false]
        );
        assert_eq!(entries[2].stat, None);
        assert!(parse_runs(&sh(&runs_script())).contains(&(run.clone(), 3)));
        sh(&restore_script(
            &entries[0].path,
            &Restore::Copy {
                data: entries[0].data.clone().unwrap(),
                mode_owner: None,
            },
        ));
        sh(&restore_script(
            &entries[1].path,
            &Restore::Link {
                target: "target one".into(),
            },
        ));
        sh(&restore_script(&entries[2].path, &Restore::Remove));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "old\n");
        assert_eq!(
            std::fs::read_link(&link).unwrap().display().to_string(),
            "target one"
        );
        assert!(!new.exists());
        assert_eq!(
            parse_list(&sh(&list_script("20991231T000000Z-none").unwrap())).unwrap(),
            None
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Old runs beyond [`KEEP_RUNS`] go when a run starts, except one still being written; a
    /// file over [`SIZE_CAP`] is marked, not copied.
    #[test]
    fn pruning_and_the_size_cap() {
        let dir = std::env::temp_dir().join(format!("prov-journal-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let j = dir.join("journal");
        let old = |i: usize| format!("20000101T0000{i:02}Z-000000");
        for i in 0..25 {
            std::fs::create_dir_all(j.join(old(i))).unwrap();
        }
        let aged = std::process::Command::new("touch")
            .args(["-d", "2 hours ago"])
            .args((1..25).map(|i| j.join(old(i))))
            .status()
            .unwrap();
        assert!(aged.success());
        let big = dir.join("big");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(SIZE_CAP + 1)
            .unwrap();
        let run = "20991231T000000Z-prune1";
        let m = Mark {
            run: run.into(),
            ..mark(Kind::Write, 7)
        };
        let jr = format!("jr={}\n", quote(&j.display().to_string()));
        let script = format!(
            "p={}\n{}",
            quote(&big.display().to_string()),
            capture(&m).unwrap()
        )
        .replace(JOURNAL_ROOT, &jr);
        let st = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .status()
            .unwrap();
        assert!(st.success());
        let left: Vec<String> = std::fs::read_dir(&j)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left.len(), 21, "{left:?}");
        assert!(left.contains(&old(0)) && !left.contains(&old(1)) && left.contains(&old(24)));
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(list_script(run).unwrap().replace(JOURNAL_ROOT, &jr))
            .output()
            .unwrap();
        let (_, entries) = parse_list(&out.stdout).unwrap().unwrap();
        assert_eq!(entries.len(), 1);
        assert!(entries[0].large && entries[0].data.is_none(), "{entries:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn modification_times_parse_and_are_restored() {
        let t = Mtime::parse("1600000000.5").unwrap();
        assert_eq!((t.secs, t.nanos), (1_600_000_000, 500_000_000));
        assert_eq!(Mtime::parse("1600000000").unwrap().nanos, 0);
        for bad in ["", "x", "1.1234567890", "1.-2", "1.2.3", "1;rm"] {
            assert_eq!(Mtime::parse(bad), None, "{bad}");
        }
        let s = restore_script(
            "/etc/x",
            &Restore::Attrs {
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: Some(Mtime {
                    secs: 1_600_000_000,
                    nanos: 5,
                }),
            },
        );
        assert!(
            s.contains("touch -h -m -d @1600000000.000000005 -- \"$p\""),
            "{s}"
        );
    }

    #[test]
    fn malformed_listings_are_errors() {
        assert!(parse_list(b"").is_err());
        assert!(parse_list(b"@J /j\n@E 1 d\n5\nab").is_err());
        assert!(parse_list(b"@J /j\n@E x d\n").is_err());
    }
}
