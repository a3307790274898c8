//! Owner, group and mode of a file: desired versus current, shared by every module that
//! manages files (file, copy, template, lineinfile, blockinfile, replace).

use super::mode::{ModeSpec, octal};
use super::{Args, Attrs, Diff, FileState};
use crate::error::{Error, Result};

/// A module's accepted options followed by the file-attribute options every file-managing
/// module takes (Ansible's `add_file_common_args`): `mode`, `owner`, `group` (applied) and
/// `unsafe_writes`, `attributes`, the SELinux contexts (accepted, without effect here).
macro_rules! with_file_options {
    ($($option:literal),* $(,)?) => {
        &[
            $($option,)*
            "mode",
            "owner",
            "group",
            "unsafe_writes",
            "attributes",
            "selevel",
            "serole",
            "setype",
            "seuser",
        ]
    };
}
pub(crate) use with_file_options;

/// The attributes a task asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttrSpec {
    pub mode: Option<ModeSpec>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl AttrSpec {
    pub fn from_args(a: &Args) -> Result<AttrSpec> {
        Ok(AttrSpec {
            mode: a.mode(&["mode"])?,
            owner: a.str(&["owner"])?,
            group: a.str(&["group"])?,
        })
    }

    /// Attributes for a file that does not exist yet (everything asked for applies).
    pub fn for_new(&self, is_dir: bool, src_mode: Option<u32>) -> Result<Attrs> {
        let default = if is_dir { 0o755 } else { 0o644 };
        let mode = match &self.mode {
            None => None,
            Some(m) => Some(
                m.resolve(default, is_dir, src_mode)
                    .map_err(Error::runtime)?,
            ),
        };
        Ok(Attrs {
            mode,
            owner: self.owner.clone(),
            group: self.group.clone(),
        })
    }

    /// The attributes that differ from `current`, plus a diff describing them.
    pub fn changes(
        &self,
        current: &FileState,
        src_mode: Option<u32>,
    ) -> Result<(Attrs, Option<Diff>)> {
        let mut out = Attrs::default();
        let (mut before, mut after) = (String::new(), String::new());
        if let Some(spec) = &self.mode {
            let want = spec
                .resolve(current.mode, current.is_dir(), src_mode)
                .map_err(Error::runtime)?;
            if want != current.mode & 0o7777 {
                out.mode = Some(want);
                before.push_str(&format!("mode: {}\n", octal(current.mode)));
                after.push_str(&format!("mode: {}\n", octal(want)));
            }
        }
        if let Some(owner) = &self.owner
            && !same_id(owner, &current.owner, current.uid)
        {
            out.owner = Some(owner.clone());
            before.push_str(&format!("owner: {}\n", current.owner));
            after.push_str(&format!("owner: {owner}\n"));
        }
        if let Some(group) = &self.group
            && !same_id(group, &current.group, current.gid)
        {
            out.group = Some(group.clone());
            before.push_str(&format!("group: {}\n", current.group));
            after.push_str(&format!("group: {group}\n"));
        }
        let diff = (!before.is_empty()).then(|| {
            Diff::new(
                &current.path,
                format!("path: {}\n{before}", current.path),
                format!("path: {}\n{after}", current.path),
            )
        });
        Ok((out, diff))
    }
}

impl Attrs {
    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none()
    }
}

/// An owner/group given by name or number matches the current one.
fn same_id(want: &str, name: &str, id: u32) -> bool {
    want == name || want.parse::<u32>().is_ok_and(|n| n == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::FileKind;

    fn file(mode: u32) -> FileState {
        FileState {
            path: "/etc/x".into(),
            exists: true,
            kind: Some(FileKind::File),
            mode,
            owner: "root".into(),
            group: "root".into(),
            ..Default::default()
        }
    }

    #[test]
    fn only_differences_are_changes() {
        let spec = AttrSpec {
            mode: Some(ModeSpec::Octal(0o600)),
            owner: Some("0".into()),
            group: Some("adm".into()),
        };
        let (attrs, diff) = spec.changes(&file(0o644), None).unwrap();
        assert_eq!(
            attrs,
            Attrs {
                mode: Some(0o600),
                owner: None,
                group: Some("adm".into())
            }
        );
        let d = diff.unwrap();
        assert_eq!(d.before, "path: /etc/x\nmode: 0644\ngroup: root\n");
        assert_eq!(d.after, "path: /etc/x\nmode: 0600\ngroup: adm\n");
        let (attrs, diff) = spec
            .changes(
                &FileState {
                    group: "adm".into(),
                    ..file(0o600)
                },
                None,
            )
            .unwrap();
        assert!(attrs.is_empty() && diff.is_none());
    }
}
