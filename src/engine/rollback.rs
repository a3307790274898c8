//! `prov history` and `prov rollback` on one target: list the runs its journal holds, and put
//! back the paths a run changed ([`crate::transport::journal`] has the entries' format).
//!
//! A rollback reads the run's entries (one round trip), then the current state of every path
//! and of every saved copy (one more), and decides per path from its *first* entry in the run
//! — the state before the run — what to do: nothing when the path already is as it was
//! (so a second rollback changes nothing), else restore the saved copy, the link, the mode and
//! owner, or remove what the run created. Paths are restored in reverse order of their first
//! change (a file before the directory the run created for it), each atomically. Commands and
//! package changes have nothing to restore: the controller's log lists them as not revertible.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::host::{FileKind, FileProbe, FileState, Probe};
use crate::modules::Diff;
use crate::transport::journal::{self, Entry, Mtime, Restore};
use crate::transport::{Become, Exec, Transport, script};

/// A host whose journal is read: its inventory name (`None`: the local machine or a
/// `--chroot` directory given as such), its transport and how scripts become root on it.
pub struct Target {
    pub name: Option<String>,
    pub conn: Arc<dyn Transport>,
    pub become_: Option<Become>,
}

/// What to do about one path.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// It is as it was before the run.
    Unchanged,
    /// Put it back; `what` says how, `diff` shows content that comes back.
    Restore {
        how: Restore,
        what: String,
        diff: Option<Diff>,
    },
    /// It cannot be put back, for this reason.
    NotRevertible(String),
}

/// One path's line of the report.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub path: String,
    pub decision: Decision,
    /// The restore failed (with the host's words).
    pub error: Option<String>,
}

/// A host's rollback: the paths in the order they were handled, and the commands and other
/// changes that are not revertible (from the controller's log).
#[derive(Debug, Default)]
pub struct Report {
    pub paths: Vec<Outcome>,
}

/// The path before the run, from its `%F|%a|%u|%g|%.9Y` (the modification time may be missing:
/// an older journal's entry).
struct Before {
    kind: FileKind,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Option<Mtime>,
}

fn parse_stat(s: &str) -> Option<Before> {
    let mut f = s.split('|');
    let kind = match f.next()? {
        "regular file" | "regular empty file" => FileKind::File,
        "directory" => FileKind::Directory,
        "symbolic link" => FileKind::Link,
        _ => FileKind::Other,
    };
    Some(Before {
        kind,
        mode: u32::from_str_radix(f.next()?, 8).ok()?,
        uid: f.next()?.parse().ok()?,
        gid: f.next()?.parse().ok()?,
        mtime: match f.next() {
            Some(t) => Some(Mtime::parse(t)?),
            None => None,
        },
    })
}

fn same_content(a: &FileState, b: &FileState) -> bool {
    match (&a.content, &b.content) {
        (Some(x), Some(y)) => x == y,
        _ => a.sha256.is_some() && a.sha256 == b.sha256,
    }
}

fn content_diff(path: &str, now: &FileState, saved: &FileState) -> Option<Diff> {
    let (Some(after), Some(before)) = (saved.content.as_ref(), now.content.as_ref()) else {
        return None;
    };
    if after.contains(&0) || before.contains(&0) {
        return None;
    }
    Some(Diff::new(
        path,
        String::from_utf8_lossy(before),
        String::from_utf8_lossy(after),
    ))
}

/// What to do about `entry`'s path, given its current state and that of the saved copy (no
/// diff for a `no_log` task's file).
pub fn decide(entry: &Entry, now: &FileState, saved: Option<&FileState>) -> Decision {
    let mut d = decide_shown(entry, now, saved);
    if entry.secret
        && let Decision::Restore { diff, .. } = &mut d
    {
        *diff = None;
    }
    d
}

fn decide_shown(entry: &Entry, now: &FileState, saved: Option<&FileState>) -> Decision {
    if entry.kind == "attrs-r" {
        return Decision::NotRevertible(format!(
            "the owner or mode of everything under {} was changed recursively",
            entry.path
        ));
    }
    let Some(stat) = &entry.stat else {
        // The run created it.
        return if now.exists {
            Decision::Restore {
                how: Restore::Remove,
                what: "remove (created by the run)".into(),
                diff: None,
            }
        } else {
            Decision::Unchanged
        };
    };
    let Some(Before {
        kind,
        mode,
        uid,
        gid,
        mtime,
    }) = parse_stat(stat)
    else {
        return Decision::NotRevertible(format!("its journal entry is unreadable ({stat})"));
    };
    // A file's modification time comes back too (compared to the second, as probes see it); a
    // directory's follows what is put back in it.
    let mtime = mtime.filter(|_| kind == FileKind::File);
    let mtime_differs = mtime.is_some_and(|t| now.mtime as i64 != t.secs);
    let attrs_differ = now.mode != mode || now.uid != uid || now.gid != gid;
    let attrs = Restore::Attrs {
        mode,
        uid,
        gid,
        mtime,
    };
    let attrs_what = if attrs_differ {
        format!("restore mode {mode:04o} and owner {uid}:{gid}")
    } else {
        "restore the modification time".into()
    };
    match kind {
        FileKind::Link => {
            let target = entry.link.clone().unwrap_or_default();
            if now.is_link && now.link_target.as_deref() == Some(target.as_str()) {
                Decision::Unchanged
            } else {
                Decision::Restore {
                    what: format!("restore the link to {target}"),
                    how: Restore::Link { target },
                    diff: None,
                }
            }
        }
        FileKind::File | FileKind::Directory | FileKind::Other => {
            let is_now = now.exists && !now.is_link && now.kind == Some(kind);
            let data = entry.data.as_ref().zip(saved.filter(|s| s.exists));
            if kind == FileKind::File && is_now {
                match data {
                    Some((_, s)) if !same_content(now, s) => {
                        return Decision::Restore {
                            how: Restore::Copy {
                                data: entry.data.clone().unwrap_or_default(),
                                mode_owner: Some((mode, uid, gid)),
                            },
                            what: "restore the previous content".into(),
                            diff: content_diff(&entry.path, now, s),
                        };
                    }
                    None if entry.large => {
                        return Decision::NotRevertible(
                            "it was larger than the journal keeps (16 MiB)".into(),
                        );
                    }
                    _ => {}
                }
            }
            if is_now {
                return if attrs_differ || mtime_differs {
                    Decision::Restore {
                        how: attrs,
                        what: attrs_what,
                        diff: None,
                    }
                } else {
                    Decision::Unchanged
                };
            }
            match data {
                Some((d, s)) => Decision::Restore {
                    how: Restore::Copy {
                        data: d.clone(),
                        mode_owner: Some((mode, uid, gid)),
                    },
                    what: if now.exists {
                        "restore what it was before".into()
                    } else {
                        "restore it (removed by the run)".into()
                    },
                    diff: content_diff(&entry.path, &FileState::default(), s),
                },
                None if entry.large => {
                    Decision::NotRevertible("it was larger than the journal keeps (16 MiB)".into())
                }
                None => Decision::NotRevertible("its previous content was not saved".into()),
            }
        }
    }
}

/// The first entry of each path, in order: the state before the run. When that entry saved no
/// content (a mode change) and a later one of the same path did (the run then rewrote the
/// file), that content is the one before the run: the first entry takes it.
pub fn first_entries(entries: Vec<Entry>) -> Vec<Entry> {
    let mut sorted = entries;
    sorted.sort_by_key(|e| e.seq);
    let mut first: Vec<Entry> = Vec::new();
    let mut at = std::collections::HashMap::new();
    for e in sorted {
        match at.get(&e.path) {
            None => {
                at.insert(e.path.clone(), first.len());
                first.push(e);
            }
            Some(&i) => {
                let f: &mut Entry = &mut first[i];
                // The path's current content may be a later no_log task's: keep it hidden.
                f.secret |= e.secret;
                if f.stat.is_some() && f.data.is_none() && !f.large && (e.data.is_some() || e.large)
                {
                    f.data = e.data;
                    f.large = e.large;
                }
            }
        }
    }
    first
}

async fn run(t: &Target, script: String, probes: Option<Vec<Probe>>) -> Result<Vec<u8>> {
    let out = t
        .conn
        .exec(Exec {
            script,
            probes,
            become_: t.become_.clone(),
            ..Default::default()
        })
        .await?;
    if out.rc != 0 {
        return Err(Error::runtime(format!(
            "reading the journal failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

/// The runs in a target's journal, oldest first, with their number of entries.
pub async fn runs(c: &Target) -> Result<Vec<(String, usize)>> {
    Ok(journal::parse_runs(
        &run(c, journal::runs_script(), None).await?,
    ))
}

fn file_probe(path: &str) -> Probe {
    Probe::File(FileProbe {
        path: path.into(),
        follow: false,
        content: true,
        checksum: true,
    })
}

/// Roll back run `id` on a target (with `check`, only report what would change).
pub async fn rollback(c: &Target, id: &str, check: bool) -> Result<Report> {
    let listed = journal::parse_list(&run(c, journal::list_script(id)?, None).await?)?;
    let Some((_, entries)) = listed else {
        return Err(Error::usage(format!(
            "run {id} is not in the journal of {}",
            c.name.clone().unwrap_or_else(|| c.conn.describe())
        )));
    };
    let entries = first_entries(entries);
    let mut probes = Vec::new();
    for e in &entries {
        probes.push(file_probe(&e.path));
        probes.push(file_probe(
            e.data.as_deref().unwrap_or("/nonexistent/.prov"),
        ));
    }
    let observed = if probes.is_empty() {
        Default::default()
    } else {
        let out = run(c, script::probe_script(&probes), Some(probes.clone())).await?;
        script::parse_probe_output(&probes, &out)?
    };
    let mut report = Report::default();
    for (i, e) in entries.iter().enumerate().rev() {
        let file_at = |k: usize| match observed.answers.get(k) {
            Some(crate::host::Answer::File(f)) => Some(f),
            _ => None,
        };
        let now = file_at(2 * i).cloned().unwrap_or_default();
        let saved = e.data.as_ref().and_then(|_| file_at(2 * i + 1));
        let decision = decide(e, &now, saved);
        let mut error = None;
        if let (false, Decision::Restore { how, .. }) = (check, &decision) {
            let out = c
                .conn
                .exec(Exec {
                    script: journal::restore_script(&e.path, how),
                    become_: c.become_.clone(),
                    ..Default::default()
                })
                .await?;
            if out.rc != 0 {
                error = Some(String::from_utf8_lossy(&out.stderr).trim().to_string());
            }
        }
        report.paths.push(Outcome {
            path: e.path.clone(),
            decision,
            error,
        });
    }
    Ok(report)
}

/// The hosts the engine's `--limit` selects from its inventory, each reached as a run would
/// reach it (connection, `ansible_host`, SSH settings) and becoming root when the host's
/// `ansible_become` or `--become` says so.
pub async fn targets(engine: &super::Engine) -> Result<Vec<Target>> {
    use crate::vars::VarMap;
    let s = &engine.shared;
    let names = {
        let inv = s.inventory.read().unwrap();
        crate::inventory::pattern::select(&inv, s.opts.limit.as_deref().unwrap_or("all"))?
    };
    if names.is_empty() {
        return Err(Error::usage("no host selected"));
    }
    let index: Vec<usize> = {
        let idx = s.index.read().unwrap();
        names.iter().filter_map(|n| idx.get(n).copied()).collect()
    };
    let play = Arc::new(crate::playbook::Play {
        name: "journal".into(),
        hosts: "all".into(),
        gather_facts: false,
        ..crate::playbook::Play::new(
            crate::error::Span::file(std::path::Path::new("(journal)")),
            std::env::current_dir().unwrap_or_default(),
        )
    });
    let pc = super::PlayCtx {
        play,
        handlers: std::sync::Mutex::new(Vec::new()),
        batch: index.clone(),
        defaults_all: Arc::new(VarMap::new()),
        role_vars_all: Arc::new(VarMap::new()),
        play_magic: Arc::new(VarMap::new()),
        ended: Default::default(),
        stepping: Default::default(),
    };
    let mut out = Vec::new();
    for h in index {
        let ctx = s.context(&pc, h, None, &[]);
        let var = |name: &str| -> Result<Option<minijinja::Value>> {
            Ok(ctx.get(name)?.filter(|v| !v.is_none() && !v.is_undefined()))
        };
        let on = match var("ansible_become")? {
            Some(v) => crate::template::filters::to_bool(&v),
            None => s.opts.become_,
        };
        let become_ = if on {
            Some(Become {
                user: "root".into(),
                method: "sudo".into(),
                password: match var("ansible_become_password")?.or(var("ansible_become_pass")?) {
                    Some(v) => Some(crate::template::to_text(&v)),
                    None => s.opts.become_password.clone(),
                },
            })
        } else {
            None
        };
        out.push(Target {
            name: Some(s.host_name(h)),
            conn: super::connect::connection(s, &pc, h).await?,
            become_,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stat: Option<&str>, data: bool) -> Entry {
        Entry {
            seq: 1,
            path: "/etc/x".into(),
            kind: "write".into(),
            stat: stat.map(str::to_string),
            data: data.then(|| "/j/00000001/data".to_string()),
            ..Default::default()
        }
    }

    fn file(content: &str, mode: u32) -> FileState {
        FileState {
            path: "/etc/x".into(),
            exists: true,
            kind: Some(FileKind::File),
            mode,
            content: Some(content.as_bytes().to_vec()),
            sha256: Some(crate::host::sha256_hex(content.as_bytes())),
            ..Default::default()
        }
    }

    #[test]
    fn a_changed_file_gets_its_content_back_and_then_stays() {
        let e = entry(Some("regular file|644|0|0"), true);
        let saved = file("old\n", 0o644);
        match decide(&e, &file("new\n", 0o644), Some(&saved)) {
            Decision::Restore {
                how: Restore::Copy { data, .. },
                diff: Some(d),
                ..
            } => {
                assert_eq!(data, "/j/00000001/data");
                assert_eq!((d.before.as_str(), d.after.as_str()), ("new\n", "old\n"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decide(&e, &file("old\n", 0o644), Some(&saved)),
            Decision::Unchanged
        );
        // A no_log task's content is never shown.
        let secret = Entry {
            secret: true,
            ..e.clone()
        };
        assert!(matches!(
            decide(&secret, &file("new\n", 0o644), Some(&saved)),
            Decision::Restore { diff: None, .. }
        ));
        assert!(matches!(
            decide(&e, &file("old\n", 0o600), Some(&saved)),
            Decision::Restore {
                how: Restore::Attrs { mode: 0o644, .. },
                ..
            }
        ));
    }

    #[test]
    fn created_paths_are_removed_once() {
        let e = entry(None, false);
        assert!(matches!(
            decide(&e, &file("x", 0o644), None),
            Decision::Restore {
                how: Restore::Remove,
                ..
            }
        ));
        assert_eq!(
            decide(&e, &FileState::missing("/etc/x"), None),
            Decision::Unchanged
        );
    }

    #[test]
    fn links_removed_files_and_large_files() {
        let mut e = entry(Some("symbolic link|777|0|0"), false);
        e.link = Some("a b".into());
        let mut now = file("", 0o777);
        now.is_link = true;
        now.kind = Some(FileKind::Link);
        now.link_target = Some("a b".into());
        assert_eq!(decide(&e, &now, None), Decision::Unchanged);
        now.link_target = Some("c".into());
        assert!(matches!(
            decide(&e, &now, None),
            Decision::Restore { how: Restore::Link { target }, .. } if target == "a b"
        ));
        let e = entry(Some("regular file|600|0|0"), true);
        let gone = FileState::missing("/etc/x");
        assert!(matches!(
            decide(&e, &gone, Some(&file("s", 0o600))),
            Decision::Restore {
                how: Restore::Copy { .. },
                ..
            }
        ));
        let mut big = entry(Some("regular file|600|0|0"), false);
        big.large = true;
        assert!(matches!(
            decide(&big, &file("x", 0o600), None),
            Decision::NotRevertible(_)
        ));
        let mut r = entry(Some("directory|755|0|0"), false);
        r.kind = "attrs-r".into();
        assert!(matches!(
            decide(&r, &gone, None),
            Decision::NotRevertible(_)
        ));
    }

    #[test]
    fn only_the_first_entry_of_a_path_counts() {
        let mut a = entry(Some("regular file|644|0|0"), true);
        let mut b = entry(None, false);
        b.seq = 2;
        b.path = "/etc/y".into();
        a.seq = 3;
        let mut c = entry(Some("regular file|600|0|0"), true);
        c.seq = 1;
        let kept = first_entries(vec![a, b, c]);
        assert_eq!(
            kept.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2],
            "{kept:?}"
        );
    }

    /// A mode change, then a rewrite of the same file: the rollback has the content saved by
    /// the rewrite (the content before the run) and the mode saved by the mode change.
    #[test]
    fn a_file_re_moded_then_rewritten_gets_both_back() {
        let mut attrs = entry(Some("regular file|644|0|0"), false);
        attrs.kind = "attrs".into();
        let mut write = entry(Some("regular file|600|0|0"), true);
        write.seq = 2;
        write.data = Some("/j/00000002/data".into());
        let kept = first_entries(vec![write, attrs]);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].stat.as_deref(), Some("regular file|644|0|0"));
        assert_eq!(kept[0].data.as_deref(), Some("/j/00000002/data"));
        assert!(!kept[0].secret);
        match decide(&kept[0], &file("new\n", 0o600), Some(&file("old\n", 0o600))) {
            Decision::Restore {
                how: Restore::Copy { data, mode_owner },
                ..
            } => {
                assert_eq!(data, "/j/00000002/data");
                assert_eq!(mode_owner, Some((0o644, 0, 0)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_path_a_later_no_log_task_rewrote_stays_hidden() {
        let plain = entry(Some("regular file|644|0|0"), true);
        let mut secret = entry(Some("regular file|600|0|0"), true);
        secret.seq = 2;
        secret.secret = true;
        let kept = first_entries(vec![secret, plain]);
        assert_eq!(kept.len(), 1);
        assert!(kept[0].secret);
    }
}
