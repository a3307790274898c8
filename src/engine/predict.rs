//! Check mode's memory: what a planned step would have done to the host (files, users, apt
//! sources, packages and the files and units those packages bring), kept in the host's overlay
//! so later tasks of the dry run plan against it.

use crate::modules::{Answer, FileKind, FileState, Observed, Probe, Step};

/// The overlay's key for a path: `dir/` and `dir` are the same directory.
pub(super) fn key(path: &str) -> String {
    let t = path.trim_end_matches('/');
    if t.is_empty() && path.starts_with('/') {
        "/".into()
    } else {
        t.to_string()
    }
}

/// Record the file states a planned step would produce (check mode).
pub(super) fn predict(
    overlay: &mut std::collections::HashMap<String, FileState>,
    step: &Step,
    observed: &Observed,
) {
    let known = |path: &str| -> Option<FileState> {
        observed.answers.iter().find_map(|a| match a {
            Answer::File(f) if f.path == path && f.exists => Some(f.clone()),
            _ => None,
        })
    };
    match step {
        Step::Write(w) => {
            let base = overlay
                .get(&key(&w.path))
                .cloned()
                .or_else(|| known(&w.path))
                .filter(|f| f.exists);
            let content = if w.source.is_none() {
                Some(w.content.clone())
            } else {
                None
            };
            let f = FileState {
                path: w.path.clone(),
                exists: true,
                kind: Some(FileKind::File),
                mode: w
                    .attrs
                    .mode
                    .or(base.as_ref().map(|b| b.mode))
                    .unwrap_or(0o644),
                owner: w
                    .attrs
                    .owner
                    .clone()
                    .or(base.as_ref().map(|b| b.owner.clone()))
                    .unwrap_or_else(|| "root".into()),
                group: w
                    .attrs
                    .group
                    .clone()
                    .or(base.as_ref().map(|b| b.group.clone()))
                    .unwrap_or_else(|| "root".into()),
                size: w.content.len() as u64,
                sha256: content
                    .as_ref()
                    .map(|c| crate::modules::content::sha256_hex(c)),
                content,
                ..Default::default()
            };
            overlay.insert(key(&w.path), f);
        }
        Step::MakeDir { path, attrs } => {
            let f = FileState {
                path: path.clone(),
                exists: true,
                kind: Some(FileKind::Directory),
                mode: attrs.mode.unwrap_or(0o755),
                owner: attrs.owner.clone().unwrap_or_else(|| "root".into()),
                group: attrs.group.clone().unwrap_or_else(|| "root".into()),
                ..Default::default()
            };
            overlay.insert(key(path), f);
        }
        Step::Remove { path } => {
            overlay.insert(key(path), FileState::missing(path));
        }
        Step::Link { src, path, hard } => {
            let f = if *hard {
                FileState {
                    path: path.clone(),
                    exists: true,
                    kind: Some(FileKind::File),
                    ..known(src).unwrap_or_default()
                }
            } else {
                FileState {
                    path: path.clone(),
                    exists: true,
                    kind: Some(FileKind::Link),
                    is_link: true,
                    link_target: Some(src.clone()),
                    mode: 0o777,
                    ..Default::default()
                }
            };
            overlay.insert(key(path), f);
        }
        Step::SetAttrs { path, attrs, .. } => {
            if let Some(mut f) = overlay.get(&key(path)).cloned().or_else(|| known(path)) {
                if let Some(m) = attrs.mode {
                    f.mode = m;
                }
                if let Some(o) = &attrs.owner {
                    f.owner = o.clone();
                }
                if let Some(g) = &attrs.group {
                    f.group = g.clone();
                }
                overlay.insert(key(path), f);
            }
        }
        Step::Touch { path, .. } => {
            if overlay
                .get(&key(path))
                .or(known(path).as_ref())
                .is_none_or(|f| !f.exists)
            {
                overlay.insert(
                    key(path),
                    FileState {
                        path: path.clone(),
                        exists: true,
                        kind: Some(FileKind::File),
                        mode: 0o644,
                        content: Some(Vec::new()),
                        ..Default::default()
                    },
                );
            }
        }
        Step::Run { .. } => {}
    }
}

/// Record the files packages would install (check mode).
pub(super) fn installed(
    overlay: &mut std::collections::HashMap<String, FileState>,
    files: &[FileState],
) {
    for f in files {
        overlay.insert(key(&f.path), f.clone());
    }
}

/// Check mode: a directory or conffile a package would create stands in for a probed path only
/// where neither the host nor an earlier prediction has one (dpkg leaves an existing one alone).
pub(super) fn apply_if_missing(
    if_missing: &std::collections::HashMap<String, FileState>,
    probes: &[Probe],
    observed: &mut Observed,
) {
    for (p, a) in probes.iter().zip(observed.answers.iter_mut()) {
        if let (Probe::File(fp), Answer::File(f)) = (p, a)
            && !f.exists
            && let Some(pred) = if_missing.get(&key(&fp.path))
        {
            let mut pred = pred.clone();
            if !fp.content {
                pred.content = None;
            }
            *f = pred;
        }
    }
}

/// The predicted apt sources and keyrings, with their content (for a dry run's package fetch).
pub(super) fn apt_files(
    overlay: &std::collections::HashMap<String, FileState>,
) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = overlay
        .iter()
        .filter(|(k, f)| {
            crate::modules::is_apt_config(k) && f.exists && f.kind == Some(FileKind::File)
        })
        .filter_map(|(k, f)| Some((k.clone(), f.content.clone()?)))
        .collect();
    out.sort();
    out
}

/// Replace probed file states by the predictions of earlier check-mode tasks.
pub(super) fn apply_overlay(
    overlay: &std::collections::HashMap<String, FileState>,
    probes: &[Probe],
    observed: &mut Observed,
) {
    for (p, a) in probes.iter().zip(observed.answers.iter_mut()) {
        if let (Probe::File(fp), Answer::File(f)) = (p, a)
            && let Some(pred) = overlay.get(&key(&fp.path))
        {
            let mut pred = pred.clone();
            if !fp.content {
                pred.content = None;
            }
            *f = pred;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{Attrs, WriteFile};
    use std::collections::HashMap;

    fn seen(files: &[FileState]) -> Observed {
        Observed {
            answers: files.iter().cloned().map(Answer::File).collect(),
        }
    }

    fn existing(path: &str, mode: u32, owner: &str) -> FileState {
        FileState {
            path: path.into(),
            exists: true,
            kind: Some(FileKind::File),
            mode,
            owner: owner.into(),
            group: owner.into(),
            content: Some(b"old".to_vec()),
            ..Default::default()
        }
    }

    #[test]
    fn a_write_keeps_what_it_does_not_set() {
        let mut overlay = HashMap::new();
        let obs = seen(&[existing("/etc/a", 0o600, "boxp")]);
        let write = |path: &str, mode: Option<u32>| {
            Step::Write(WriteFile {
                path: path.into(),
                content: b"new\n".to_vec(),
                source: None,
                attrs: Attrs {
                    mode,
                    ..Default::default()
                },
                validate: None,
                backup: false,
                follow: false,
                make_parents: false,
            })
        };
        predict(&mut overlay, &write("/etc/a", None), &obs);
        let a = &overlay["/etc/a"];
        assert_eq!((a.mode, a.owner.as_str(), a.size), (0o600, "boxp", 4));
        assert_eq!(a.content.as_deref(), Some(&b"new\n"[..]));
        assert_eq!(a.sha256, Some(crate::host::sha256_hex(b"new\n")));
        // A new file: root's, 0644 unless said.
        predict(&mut overlay, &write("/etc/b", Some(0o640)), &obs);
        let b = &overlay["/etc/b"];
        assert_eq!((b.mode, b.owner.as_str()), (0o640, "root"));
    }

    #[test]
    fn removals_links_attributes_and_touches() {
        let mut overlay = HashMap::new();
        let obs = seen(&[existing("/srv/x", 0o644, "root")]);
        predict(
            &mut overlay,
            &Step::Link {
                src: "/srv/x".into(),
                path: "/srv/l".into(),
                hard: false,
            },
            &obs,
        );
        assert_eq!(overlay["/srv/l"].link_target.as_deref(), Some("/srv/x"));
        predict(
            &mut overlay,
            &Step::SetAttrs {
                path: "/srv/x".into(),
                attrs: Attrs {
                    mode: Some(0o600),
                    owner: Some("boxp".into()),
                    ..Default::default()
                },
                recurse: false,
                follow: false,
            },
            &obs,
        );
        assert_eq!(
            (overlay["/srv/x"].mode, overlay["/srv/x"].owner.as_str()),
            (0o600, "boxp")
        );
        predict(
            &mut overlay,
            &Step::Touch {
                path: "/srv/t".into(),
                mtime: crate::modules::Stamp::Now,
                atime: crate::modules::Stamp::Now,
            },
            &obs,
        );
        assert!(overlay["/srv/t"].is_file());
        predict(
            &mut overlay,
            &Step::Remove {
                path: "/srv/x".into(),
            },
            &obs,
        );
        assert!(!overlay["/srv/x"].exists);
    }

    #[test]
    fn package_directories_and_conffiles_stand_in_only_for_missing_paths() {
        let mut if_missing = HashMap::new();
        let dir = |p: &str| FileState {
            path: p.into(),
            exists: true,
            kind: Some(FileKind::Directory),
            mode: 0o700,
            ..Default::default()
        };
        installed(&mut if_missing, &[dir("/lib"), dir("/etc/crio")]);
        let probes = vec![Probe::stat("/lib"), Probe::stat("/etc/crio")];
        let mut lib = FileState::missing("/lib");
        lib.exists = true;
        lib.is_link = true;
        let mut obs = seen(&[lib, FileState::missing("/etc/crio")]);
        apply_if_missing(&if_missing, &probes, &mut obs);
        let file = |i: usize| match &obs.answers[i] {
            Answer::File(f) => f.clone(),
            a => panic!("{a:?}"),
        };
        // The host's /lib (a link on a merged-/usr system) stays; the new directory appears.
        assert!(file(0).is_link);
        assert_eq!((file(1).exists, file(1).mode), (true, 0o700));
    }

    #[test]
    fn later_probes_see_the_predictions() {
        let mut overlay = HashMap::new();
        overlay.insert("/etc/a".to_string(), existing("/etc/a", 0o600, "boxp"));
        let probes = vec![
            Probe::stat("/etc/a"),
            Probe::read("/etc/a"),
            Probe::stat("/etc/b"),
        ];
        let mut obs = seen(&[
            FileState::missing("/etc/a"),
            FileState::missing("/etc/a"),
            FileState::missing("/etc/b"),
        ]);
        apply_overlay(&overlay, &probes, &mut obs);
        let file = |i: usize| match &obs.answers[i] {
            Answer::File(f) => f.clone(),
            a => panic!("{a:?}"),
        };
        // A stat gets no content, a read does; what was never predicted stays as read.
        assert!(file(0).exists && file(0).content.is_none());
        assert_eq!(file(1).content.as_deref(), Some(&b"old"[..]));
        assert!(!file(2).exists);
    }
}
