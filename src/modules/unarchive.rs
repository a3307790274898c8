//! `unarchive`: unpack a tar archive (plain, gzip, bzip2, xz or zstd) or a zip archive into
//! an existing directory on the host, as Ansible's module does.
//!
//! `src` is a controller file (searched in the role's `files/` like copy's) unless
//! `remote_src: true` names a path on the host; a URL with `remote_src` is downloaded by the
//! controller. The decision is Ansible's: GNU tar's `--diff` against `dest` says whether the
//! archive is already unpacked (differences in owner, group or mode count only when the task
//! does not set them), and `mode`/`owner`/`group` are then applied to every member and to the
//! top-level directories, a change if any of them differed. Both run on the host in one
//! script ([`Step::Run`]): a controller archive is streamed on its stdin into a temporary file
//! that the script removes however it ends; the script exits with [`UNCHANGED_RC`] when
//! nothing differed. As Ansible's, check mode does not predict tar archives: the task is
//! skipped. Zip archives are compared member by member and unpacked with `unzip` ([`zip`]),
//! predicted in check mode as Ansible's are.

use minijinja::Value;

use super::mode::{ModeSpec, octal};
use super::{
    Args, CmdRef, Command, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
};
use crate::error::{Error, Result};
use crate::shlex::quote;

pub struct Unarchive;

const OPTIONS: &[&str] = super::attrs::with_file_options![
    "src",
    "dest",
    "remote_src",
    "copy",
    "creates",
    "list_files",
    "keep_newer",
    "exclude",
    "include",
    "extra_opts",
    "validate_certs",
    "io_buffer_size",
    "decrypt",
];

/// The unpack script's exit code when the archive was already unpacked with the right
/// attributes.
pub const UNCHANGED_RC: i32 = 97;

/// Controller archives larger than this are refused (they travel in memory).
const MAX_CONTROLLER_ARCHIVE: u64 = 2 << 30;

/// Ansible's message when check mode meets a tar archive.
const CHECK_MODE_SKIP: &str =
    "remote module (unarchive) does not support check mode when using gtar";

/// What an archive is, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Tar,
    Gz,
    Bz2,
    Xz,
    Zstd,
    Zip,
}

/// Leading bytes (hex) of each compressed format, its tar flag and Ansible's handler name.
const MAGIC: &[(&str, Format, &str, &str)] = &[
    ("1f8b", Format::Gz, "-z", "TgzArchive"),
    ("425a68", Format::Bz2, "-j", "TarBzipArchive"),
    ("fd377a585a00", Format::Xz, "-J", "TarXzArchive"),
    (
        "28b52ffd",
        Format::Zstd,
        "--use-compress-program=zstd",
        "TarZstdArchive",
    ),
    ("504b0304", Format::Zip, "", "ZipArchive"),
    ("504b0506", Format::Zip, "", "ZipArchive"),
];

impl Format {
    /// The format whose magic the hex dump of the first bytes starts with (else plain tar).
    pub fn from_hex(hex: &str) -> Format {
        MAGIC
            .iter()
            .find(|(m, ..)| hex.starts_with(m))
            .map_or(Format::Tar, |(_, f, ..)| *f)
    }
    pub fn from_bytes(data: &[u8]) -> Format {
        let hex: String = data.iter().take(6).map(|b| format!("{b:02x}")).collect();
        Format::from_hex(&hex)
    }
    /// GNU tar's decompression flag.
    pub fn tar_flag(self) -> &'static str {
        MAGIC
            .iter()
            .find(|(_, f, ..)| *f == self)
            .map_or("", |(_, _, flag, _)| flag)
    }
    /// Ansible's handler class for it (`handler` in the result).
    pub fn handler(self) -> &'static str {
        MAGIC
            .iter()
            .find(|(_, f, ..)| *f == self)
            .map_or("TarArchive", |(.., h)| h)
    }
}

/// Where the archive is.
enum Source {
    /// Read (or downloaded) by the controller; sent on the script's stdin.
    Controller { shown: String, data: Vec<u8> },
    /// A path on the host.
    Remote(String),
}

/// The task's options.
#[derive(Clone, Debug, Default)]
struct Spec {
    dest: String,
    creates: Option<String>,
    list_files: bool,
    keep_newer: bool,
    exclude: Vec<String>,
    include: Vec<String>,
    extra_opts: Vec<String>,
    mode: Option<String>,
    owner: Option<String>,
    group: Option<String>,
}

impl Module for Unarchive {
    fn name(&self) -> &'static str {
        "unarchive"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn path_options(&self) -> &'static [&'static str] {
        &["dest", "creates"]
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        super::file::unsupported(&a, &["attributes", "selevel", "serole", "setype", "seuser"])?;
        if a.has("copy") && a.has("remote_src") {
            return Err(Error::runtime(
                "parameters are mutually exclusive: ('copy', 'remote_src')",
            ));
        }
        if a.has("include") && a.has("exclude") {
            return Err(Error::runtime(
                "parameters are mutually exclusive: include|exclude",
            ));
        }
        let remote_src = match a.opt_bool(&["copy"])? {
            Some(copy) => !copy,
            None => a.bool(&["remote_src"], false)?,
        };
        let (src, dest) = match (a.str(&["src"])?, a.str(&["dest"])?) {
            (Some(s), Some(d)) => (s, d),
            _ => return Err(Error::runtime("src (or content) and dest are required")),
        };
        let mode = match a.mode(&["mode"])? {
            None => None,
            Some(ModeSpec::Octal(m)) => Some(octal(m)),
            Some(ModeSpec::Symbolic(s)) => Some(s),
            Some(ModeSpec::Preserve) => {
                return Err(Error::runtime("unarchive: mode=preserve is not valid here"));
            }
        };
        let spec = Spec {
            dest: dest.trim_end_matches('/').to_string(),
            creates: a.str(&["creates"])?,
            list_files: a.bool(&["list_files"], false)?,
            keep_newer: a.bool(&["keep_newer"], false)?,
            exclude: a
                .list(&["exclude"])?
                .into_iter()
                .map(|e| e.trim_end_matches('/').to_string())
                .collect(),
            include: a.list(&["include"])?,
            extra_opts: a.list(&["extra_opts"])?,
            mode,
            owner: a.str(&["owner"])?,
            group: a.str(&["group"])?,
        };
        let spec = Spec {
            dest: if spec.dest.is_empty() {
                "/".into()
            } else {
                spec.dest
            },
            ..spec
        };
        let validate_certs = a.bool(&["validate_certs"], true)?;
        let mut early_fail = None;
        let source = if !remote_src {
            if src.contains("://") {
                return Err(Error::runtime(format!(
                    "Unsupported option, an URI src ({src}) is only supported when remote_src is True"
                )));
            }
            let path = env.find_src(&src, "files")?;
            let data = read_limited(&path)?;
            Source::Controller {
                shown: path.display().to_string(),
                data,
            }
        } else if src.contains("://") {
            let response = env.http.get(&src, validate_certs)?;
            if !response.ok() {
                early_fail = Some(format!(
                    "Failure downloading {src}, HTTP Error {}",
                    response.status
                ));
            }
            Source::Controller {
                shown: src.clone(),
                data: response.body.to_vec(),
            }
        } else {
            Source::Remote(src.clone())
        };
        // The controller's archive is listed here, with the controller's tar.
        let mut listing = None;
        let mut zip_local = None;
        if let Source::Controller { shown, data } = &source {
            if early_fail.is_none() && data.is_empty() {
                early_fail = Some(format!("Invalid archive '{shown}', the file is 0 bytes"));
            }
            let format = Format::from_bytes(data);
            if early_fail.is_none() && format == Format::Zip {
                zip_local = Some(zip::list_here(&spec, data));
            } else if early_fail.is_none() && !env.check_mode {
                listing = Some(list_here(&spec, format, data));
            }
        }
        Ok(Box::new(UnarchivePlanner {
            spec,
            source,
            listing,
            zip_local,
            early_fail,
            check_mode: env.check_mode,
            creates: FileRef::default(),
            dest: FileRef::default(),
            src: FileRef::default(),
            probe: CmdRef::default(),
        }))
    }
}

/// Read a controller archive, refusing one too large to hold in memory.
fn read_limited(path: &std::path::Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::runtime(format!("Source '{}' not readable, {e}", path.display())))?;
    if meta.len() > MAX_CONTROLLER_ARCHIVE {
        return Err(Error::runtime(format!(
            "unarchive: {} is larger than {} bytes; copy it to the host and use remote_src",
            path.display(),
            MAX_CONTROLLER_ARCHIVE
        )));
    }
    std::fs::read(path)
        .map_err(|e| Error::runtime(format!("Source '{}' not readable, {e}", path.display())))
}

/// The options every tar invocation shares: decompression, extra options, excludes.
fn tar_opts(spec: &Spec, format: Format) -> Vec<String> {
    let mut v = Vec::new();
    if !format.tar_flag().is_empty() {
        v.push(format.tar_flag().to_string());
    }
    if !spec.extra_opts.is_empty() {
        v.push("--show-transformed-names".into());
        v.extend(spec.extra_opts.iter().cloned());
    }
    v.extend(spec.exclude.iter().map(|e| format!("--exclude={e}")));
    v
}

/// List the controller's archive with the controller's tar: `Ok(names)` or tar's error.
fn list_here(spec: &Spec, format: Format, data: &[u8]) -> std::result::Result<String, String> {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = std::process::Command::new("tar");
    cmd.arg("--list")
        .arg("--quoting-style=literal")
        .args(tar_opts(spec, format))
        .args(["-f", "-"])
        .args(&spec.include)
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run tar on the controller: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin for tar")?;
    let data = data.to_vec();
    // Written from another thread: tar may fill its stdout before reading all its input.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot run tar on the controller: {e}"))?;
    let _ = writer.join();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The members of a listing as Ansible reports them (a leading `/` dropped), refusing one
/// that would leave `dest` through `..`.
fn members(listing: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    for line in listing.lines() {
        let name = line.trim_start_matches('/');
        if name.is_empty() {
            continue;
        }
        if name.split('/').any(|c| c == "..") {
            return Err(format!(
                "refusing to unpack: archive member '{line}' leaves the destination (contains '..')"
            ));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

struct UnarchivePlanner {
    spec: Spec,
    source: Source,
    /// The controller archive's listing (`None` for a host archive, zip or check mode).
    listing: Option<std::result::Result<String, String>>,
    /// The controller zip archive's listings.
    zip_local: Option<std::result::Result<zip::Sections, String>>,
    /// A failure found at prepare time, reported after `creates` (as Ansible's order).
    early_fail: Option<String>,
    check_mode: bool,
    creates: FileRef,
    dest: FileRef,
    src: FileRef,
    probe: CmdRef,
}

impl Planner for UnarchivePlanner {
    fn ask(&mut self, p: &mut Probes) {
        if let Some(c) = &self.spec.creates {
            self.creates = p.stat_follow(c);
        }
        self.dest = p.stat_follow(&self.spec.dest);
        match (&self.source, &self.zip_local) {
            (Source::Remote(src), _) => {
                self.src = p.stat_follow(src);
                self.probe = p.command(remote_probe(&self.spec, src, self.check_mode));
            }
            (Source::Controller { .. }, Some(Ok(sections))) => {
                let names: Vec<String> = sections.names.lines().map(String::from).collect();
                self.probe = p.command(zip::controller_probe(&self.spec.dest, &names));
            }
            _ => {}
        }
    }

    fn plan(self: Box<Self>, o: &Observed) -> Result<Plan> {
        let spec = &self.spec;
        if let Some(c) = &spec.creates
            && o.file(self.creates)?.exists
        {
            return Ok(Plan::skip(format!("skipped, since {c} exists")));
        }
        if let Some(msg) = self.early_fail {
            return Ok(Plan::fail(msg));
        }
        let dest = o.file(self.dest)?;
        if !dest.is_dir() {
            return Ok(Plan::fail(format!(
                "dest '{}' must be an existing dir",
                spec.dest
            )));
        }
        let (shown, format, listing) = match &self.source {
            Source::Controller { shown, data } => (
                shown.clone(),
                Format::from_bytes(data),
                self.listing.clone(),
            ),
            Source::Remote(src) => {
                let st = o.file(self.src)?;
                if !st.exists {
                    return Ok(Plan::fail(format!("Source '{src}' does not exist")));
                }
                if st.size == 0 {
                    return Ok(Plan::fail(format!(
                        "Invalid archive '{src}', the file is 0 bytes"
                    )));
                }
                let out = o.cmd(self.probe)?;
                let (magic, rest) = out.stdout.split_once('\n').unwrap_or((&out.stdout, ""));
                let format = Format::from_hex(magic.trim());
                let listing = if format != Format::Zip && self.check_mode {
                    None
                } else if out.rc == 0 {
                    Some(Ok(rest.to_string()))
                } else {
                    Some(Err(out.stderr.trim().to_string()))
                };
                (src.clone(), format, listing)
            }
        };
        let handler_fail = |why: String| {
            Plan::fail(format!(
                "Failed to find handler for \"{shown}\". Make sure the required command to extract the file is installed.\n{why}"
            ))
        };
        let (remote, stdin) = match &self.source {
            Source::Controller { data, .. } => (None, Some(data.clone())),
            Source::Remote(src) => (Some(src.as_str()), None),
        };
        let base = Plan::ok()
            .with("handler", format.handler())
            .with("dest", spec.dest.clone())
            .with("src", shown.clone())
            .with("state", "directory")
            .with("mode", octal(dest.mode))
            .with("owner", dest.owner.clone())
            .with("group", dest.group.clone())
            .with("uid", dest.uid)
            .with("gid", dest.gid)
            .with("size", dest.size);
        if format == Format::Zip {
            let sections = match (&self.source, &self.zip_local, listing) {
                (Source::Controller { .. }, Some(Ok(local)), _) => {
                    zip::Sections::parse(&o.cmd(self.probe)?.stdout, local.clone())
                }
                (Source::Controller { .. }, Some(Err(e)), _) => return Ok(Plan::fail(e.clone())),
                (Source::Remote(_), _, Some(Ok(text))) => {
                    zip::Sections::parse(&text, Default::default())
                }
                (Source::Remote(_), _, Some(Err(e))) => return Ok(handler_fail(e)),
                _ => {
                    return Err(Error::runtime(
                        "internal error: unarchive planned a zip archive without its listing",
                    ));
                }
            };
            let zip = ZipRun {
                spec,
                remote,
                stdin,
                check_mode: self.check_mode,
            };
            return Ok(zip.plan(&sections, base, handler_fail));
        }
        if self.check_mode {
            return Ok(Plan::unknown(CHECK_MODE_SKIP));
        }
        let files = match listing {
            Some(Ok(text)) => match members(&text) {
                Ok(f) => f,
                Err(e) => return Ok(Plan::fail(e)),
            },
            Some(Err(e)) => {
                return Ok(handler_fail(format!(
                    "Command \"tar\" could not handle archive: Unable to list files in the archive: {e}"
                )));
            }
            None => {
                return Err(Error::runtime(
                    "internal error: unarchive planned without the archive's listing",
                ));
            }
        };
        if files.is_empty() {
            return Ok(handler_fail(
                "Command \"tar\" found no files in archive. Empty archive files are not supported."
                    .into(),
            ));
        }
        let mut plan = base;
        if spec.list_files {
            plan = plan.with(
                "files",
                Value::from(files.into_iter().map(Value::from).collect::<Vec<_>>()),
            );
        }
        plan.step(Step::Run {
            cmd: Command {
                shell: Some(unpack_script(spec, format, remote)),
                stdin,
                unchanged_rc: Some(UNCHANGED_RC),
                ..Default::default()
            },
            ok_rcs: vec![0],
        });
        Ok(plan)
    }
}

/// A zip archive's plan ([`zip`]).
struct ZipRun<'a> {
    spec: &'a Spec,
    remote: Option<&'a str>,
    stdin: Option<Vec<u8>>,
    check_mode: bool,
}

impl ZipRun<'_> {
    fn plan(
        self,
        s: &zip::Sections,
        mut plan: Plan,
        handler_fail: impl Fn(String) -> Plan,
    ) -> Plan {
        if s.no_unzip {
            return handler_fail(
                "Unable to find required 'unzip' or 'zipinfo' binary in the path.".into(),
            );
        }
        if s.names_rc != 0 {
            return handler_fail(format!(
                "Command \"unzip\" could not handle archive: {}",
                s.names.trim()
            ));
        }
        if let Err(e) = members(&s.names) {
            return Plan::fail(e);
        }
        let files = zip::files_in_archive(self.spec, &s.names);
        let d = match zip::decide(self.spec, s) {
            Ok(d) => d,
            Err(e) => return Plan::fail(e),
        };
        if self.spec.list_files {
            plan = plan.with(
                "files",
                Value::from(
                    files
                        .iter()
                        .map(|f| Value::from(f.as_str()))
                        .collect::<Vec<_>>(),
                ),
            );
        }
        if !d.diff.is_empty() {
            plan.diffs
                .push(super::Diff::new(&self.spec.dest, "", d.diff));
        }
        if d.unarchived {
            return plan;
        }
        if self.check_mode {
            plan.changed = true;
        } else {
            plan.step(Step::Run {
                cmd: Command {
                    shell: Some(zip::unpack_script(self.spec, self.remote, &files)),
                    stdin: self.stdin,
                    ..Default::default()
                },
                ok_rcs: vec![0],
            });
        }
        plan
    }
}

/// Quote each word for the shell and join them.
fn words(v: &[String]) -> String {
    v.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// A read-only probe of a host archive: the hex of its first bytes on the first line, then
/// (for a tar archive, outside check mode) its listing.
fn remote_probe(spec: &Spec, src: &str, check_mode: bool) -> String {
    let mut s = format!(
        "src={}\ndest={}\nm=$(od -An -tx1 -N6 -- \"$src\" 2>/dev/null | tr -d ' \\n')\necho \"$m\"\n",
        quote(src),
        quote(&spec.dest)
    );
    s.push_str(&format!(
        "zip() {{\n{}}}\ncase $m in\n",
        zip::remote_probe(spec)
    ));
    for (magic, format, ..) in MAGIC {
        if *format == Format::Zip {
            s.push_str(&format!("{magic}*) zip; exit 0 ;;\n"));
        }
    }
    if check_mode {
        s.push_str("esac\n");
        return s;
    }
    s.push_str("esac\nset --\ncase $m in\n");
    for (magic, format, flag, _) in MAGIC {
        if *format != Format::Zip {
            s.push_str(&format!("{magic}*) set -- {flag} ;;\n"));
        }
    }
    let opts = tar_opts(spec, Format::Tar);
    s.push_str(&format!(
        "esac\nLC_ALL=C tar --list --quoting-style=literal \"$@\" {} -f \"$src\" {}\n",
        words(&opts),
        words(&spec.include)
    ));
    s
}

/// The start of every unpack script: strict, C locale, `dest` and `src` set; a controller
/// archive is read from stdin into a temporary file removed however the script ends.
pub(super) fn prelude(dest: &str, remote_src: Option<&str>) -> String {
    let mut s = String::from(
        "set -u\nexport LC_ALL=C LANG=C LANGUAGE=C\ntmp=\ntrap '[ -z \"$tmp\" ] || rm -f -- \"$tmp\"' EXIT\ntrap 'exit 129' HUP\ntrap 'exit 130' INT\ntrap 'exit 143' TERM\n",
    );
    s.push_str(&format!("dest={}\n", quote(dest)));
    match remote_src {
        Some(src) => s.push_str(&format!("src={}\n", quote(src))),
        None => s.push_str(
            "tmp=$(mktemp \"${TMPDIR:-/tmp}/.prov-unarchive.XXXXXX\") || exit 1\n\
             cat > \"$tmp\" || { echo 'failed to receive the archive' >&2; exit 1; }\n\
             src=$tmp\n",
        ),
    }
    s
}

/// The script that decides and unpacks on the host (see the module documentation).
fn unpack_script(spec: &Spec, format: Format, remote_src: Option<&str>) -> String {
    let opts = words(&tar_opts(spec, format));
    let include = words(&spec.include);
    let mut both = Vec::new();
    if let Some(o) = &spec.owner {
        both.push(format!("--owner={}", quote(o)));
    }
    if let Some(g) = &spec.group {
        both.push(format!("--group={}", quote(g)));
    }
    if spec.keep_newer {
        both.push("--keep-newer-files".into());
    }
    let both = words(&both);
    let mut s = prelude(&spec.dest, remote_src);
    let mut differ = vec![
        ": Mod time differs$",
        ": Warning: Cannot stat: No such file or directory$",
        ": Invalid owner",
        ": Invalid group",
        ": Symlink differs$",
        ": Contents differ$",
        ": Size differs$",
    ];
    if spec.mode.is_none() {
        differ.push(": Mode differs$");
    }
    let mut as_root = Vec::new();
    if spec.owner.is_none() {
        as_root.push(": Uid differs$");
    }
    if spec.group.is_none() {
        as_root.push(": Gid differs$");
    }
    s.push_str(&format!("re={}\n", quote(&differ.join("|"))));
    if !as_root.is_empty() {
        s.push_str(&format!(
            "[ \"$(id -u)\" != 0 ] || re=\"$re|\"{}\n",
            quote(&as_root.join("|"))
        ));
    }
    s.push_str(&format!(
        "cd -- \"$dest\" || exit 1\n\
         changed=0\n\
         out=$(tar --diff -C \"$dest\" {opts} {both} -f \"$src\" {include} 2>&1); rc=$?\n\
         if [ \"$rc\" -ge 2 ] || printf '%s\\n' \"$out\" | grep -v -E ': : Warning: Cannot stat: No such file or directory$' | grep -q -E \"$re\"; then\n\
         \x20 tar --extract -C \"$dest\" {opts} {both} -f \"$src\" {include} || {{ echo \"failed to unpack $src to $dest\" >&2; exit 1; }}\n\
         \x20 changed=1\n\
         fi\n"
    ));
    s.push_str(&attrs_block(
        spec,
        &format!("tar --list --quoting-style=literal {opts} -f \"$src\" {include}"),
    ));
    s.push_str(&format!("[ \"$changed\" = 1 ] || exit {UNCHANGED_RC}\n"));
    s
}

/// Set the task's mode/owner/group on every member `list_cmd` prints and on each top-level
/// directory (Ansible's set_fs_attributes loop), from `dest` (the current directory); sets
/// `changed=1` when one differed. Empty without attributes to set.
fn attrs_block(spec: &Spec, list_cmd: &str) -> String {
    let mut s = String::new();
    if spec.mode.is_some() || spec.owner.is_some() || spec.group.is_some() {
        // Every member and every top-level directory, as Ansible's set_fs_attributes loop.
        s.push_str(&format!(
            "paths() {{\n\
             \x20 {list_cmd} | sed -e 's|^/*||' -e '/^$/d' |\n\
             \x20 while IFS= read -r f; do\n\
             \x20   [ \"$f\" = / ] || f=${{f%/}}\n\
             \x20   printf '%s\\n' \"$f\"\n\
             \x20   case $f in */*) printf '%s\\n' \"${{f%%/*}}\" ;; esac\n\
             \x20 done | sort -u\n\
             }}\n\
             attr() {{\n\
             \x20 links=$1; shift\n\
             \x20 res=$(paths | while IFS= read -r f; do\n\
             \x20   if [ -L \"$f\" ]; then [ \"$links\" = 0 ] || printf './%s\\n' \"$f\"; elif [ -e \"$f\" ]; then printf './%s\\n' \"$f\"; fi\n\
             \x20 done | xargs -r -d '\\n' \"$@\") || exit 1\n\
             \x20 [ -z \"$res\" ] || changed=1\n\
             }}\n"
        ));
        if let Some(m) = &spec.mode {
            s.push_str(&format!("attr 0 chmod -c -- {}\n", quote(m)));
        }
        if let Some(o) = &spec.owner {
            s.push_str(&format!("attr 1 chown -c -h -- {}\n", quote(o)));
        }
        if let Some(g) = &spec.group {
            s.push_str(&format!("attr 1 chgrp -c -h -- {}\n", quote(g)));
        }
    }
    s
}

#[path = "unarchive_zip.rs"]
mod zip;

#[cfg(test)]
#[path = "unarchive_tests.rs"]
mod tests;
