//! Check mode's memory: what a planned step would have done to the host (files, users, apt
//! sources, packages), kept in the host's overlay so later tasks of the dry run plan against it.

use crate::modules::{Answer, FileKind, FileState, Observed, Probe, Step};

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
                .get(&w.path)
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
            overlay.insert(w.path.clone(), f);
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
            overlay.insert(path.clone(), f);
        }
        Step::Remove { path } => {
            overlay.insert(path.clone(), FileState::missing(path));
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
            overlay.insert(path.clone(), f);
        }
        Step::SetAttrs { path, attrs, .. } => {
            if let Some(mut f) = overlay.get(path).cloned().or_else(|| known(path)) {
                if let Some(m) = attrs.mode {
                    f.mode = m;
                }
                if let Some(o) = &attrs.owner {
                    f.owner = o.clone();
                }
                if let Some(g) = &attrs.group {
                    f.group = g.clone();
                }
                overlay.insert(path.clone(), f);
            }
        }
        Step::Touch { path, .. } => {
            if overlay
                .get(path)
                .or(known(path).as_ref())
                .is_none_or(|f| !f.exists)
            {
                overlay.insert(
                    path.clone(),
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

/// Replace probed file states by the predictions of earlier check-mode tasks.
pub(super) fn apply_overlay(
    overlay: &std::collections::HashMap<String, FileState>,
    probes: &[Probe],
    observed: &mut Observed,
) {
    for (p, a) in probes.iter().zip(observed.answers.iter_mut()) {
        if let (Probe::File(fp), Answer::File(f)) = (p, a)
            && let Some(pred) = overlay.get(&fp.path)
        {
            let mut pred = pred.clone();
            if !fp.content {
                pred.content = None;
            }
            *f = pred;
        }
    }
}
