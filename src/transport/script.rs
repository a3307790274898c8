//! The shell protocol: probes and steps as POSIX shell scripts, and their output parsed back.
//!
//! Probes of one task become one script (one round trip) that prints tagged records:
//! `@F i <stat fields>` for a file, `@L i <target>` for a symlink, `@C i <n>` followed by `n`
//! bytes of content and an `@E i` line, `@S i <sha256>`, `@N i` for a missing path,
//! `@X i <rc> <n> <m>` followed by a command's stdout and stderr. Content is length-prefixed,
//! so any bytes survive.
//!
//! Each [`Step`] is one script. File writes go to a temp file in the destination directory
//! (`.prov_tmp.<host>.<pid>.XXXXXX`), are checked to hold exactly the bytes sent (length and
//! sha256, on the target), get their owner/mode (copied from the old file unless given), pass
//! `validate`, are synced and renamed over the destination: a failed check or validation, or a
//! controller that died mid-send, leaves the destination untouched and no temp file behind, and
//! temp files of writers that died are removed by the next write into that directory.

use crate::error::{Error, Result};
use crate::host::{
    Answer, Attrs, CONTENT_LIMIT, CmdOutput, Command, FileKind, FileState, Observed, Probe, Stamp,
    Step, WriteFile,
};
use crate::shlex::quote;

use super::journal::{self, Mark};

use crate::host::probe::{STAT_FORMAT, parse_stat};

/// The script that answers all probes.
///
/// Few processes, since a probe script runs for every task on every host: a file costs one
/// `stat` and, when its content is wanted, one `head -c` of the size `stat` gave (a checksum
/// of content that is read is computed by the controller); a command costs its own processes
/// and a subshell (its output is captured and measured by the shell). Temporary files go to
/// `$PROV_TMP` when the transport provides one (the SSH session's directory), else to a
/// `mktemp -d` of the script's own.
pub fn probe_script(probes: &[Probe]) -> String {
    probe_script_for(probes, |_| true)
}

/// The part of [`probe_script`] that answers the probes `keep` selects,
/// printing their records under their indexes among all the probes: what a resident prober
/// leaves to a shell. Empty when it selects none.
pub fn probe_script_for(probes: &[Probe], keep: impl Fn(&Probe) -> bool) -> String {
    let kept: Vec<(usize, &Probe)> = probes.iter().enumerate().filter(|(_, p)| keep(p)).collect();
    if kept.is_empty() {
        return String::new();
    }
    let mut s = String::from("export LC_ALL=C\n");
    if kept.iter().any(|(_, p)| !matches!(p, Probe::File(_))) {
        s.push_str(
            "if [ -n \"${PROV_TMP:-}\" ] && [ -d \"$PROV_TMP\" ]; then T=$PROV_TMP; else\n T=$(mktemp -d 2>/dev/null) || { T=/tmp/.prov.$$; mkdir -p \"$T\"; }\n trap 'rm -rf \"$T\"' EXIT\nfi\n",
        );
    }
    for (i, p) in kept {
        match p {
            Probe::File(f) => {
                let stat = if f.follow {
                    format!(
                        "s=$(stat -L -c '{STAT_FORMAT}' -- \"$p\" 2>/dev/null) || s=$(stat -c '{STAT_FORMAT}' -- \"$p\")"
                    )
                } else {
                    format!("s=$(stat -c '{STAT_FORMAT}' -- \"$p\")")
                };
                s.push_str(&format!(
                    "p={}\nif [ -e \"$p\" ] || [ -L \"$p\" ]; then\n {stat}\n printf '@F {i} %s\\n' \"$s\"\n if [ -L \"$p\" ]; then printf '@L {i} '; readlink -- \"$p\"; fi\n",
                    quote(&f.path)
                ));
                let regular = if f.follow {
                    "[ -f \"$p\" ]"
                } else {
                    "[ -f \"$p\" ] && [ ! -L \"$p\" ]"
                };
                if f.content || f.checksum {
                    // The size is stat's 7th field.
                    s.push_str(&format!(
                        " if {regular} && [ -r \"$p\" ]; then\n  n=${{s#*|*|*|*|*|*|}}; n=${{n%%|*}}\n"
                    ));
                    if f.content {
                        // Pseudo files report sizes that are not their content's: measure.
                        // Exactly n bytes are sent, then an end mark: a file that changed in
                        // between is an error, never a misread.
                        s.push_str(&format!(
                            "  case \"$p\" in /proc/*|/sys/*) n=$(wc -c < \"$p\") ;; esac\n  if [ \"$n\" -le {CONTENT_LIMIT} ]; then printf '@C {i} %d\\n' \"$n\"; head -c \"$n\" -- \"$p\"; printf '\\n@E {i}\\n'; fi\n"
                        ));
                    }
                    if f.checksum {
                        let only_large = if f.content {
                            format!("[ \"$n\" -gt {CONTENT_LIMIT} ] && ")
                        } else {
                            String::new()
                        };
                        s.push_str(&format!(
                            "  {only_large}{{ printf '@S {i} '; sha256sum < \"$p\"; }}\n"
                        ));
                    }
                    s.push_str(" fi\n");
                }
                s.push_str(&format!("else\n printf '@N {i}\\n'\nfi\n"));
            }
            Probe::Command(cmd) => s.push_str(&command_record(i, cmd)),
            Probe::Primitive(p) => s.push_str(&command_record(i, &p.shell())),
            // Answered as primitives (`host::resolve`); asked here, it goes unanswered, which
            // the parse reports.
            Probe::Query(_) => {}
        }
    }
    s
}

/// The lines that run a command probe and print its `@X` record: stdout captured with a
/// sentinel (so trailing newlines survive) followed by the exit code, stderr read back line by
/// line. Byte lengths: LC_ALL=C makes `${#var}` count bytes in every sh.
fn command_record(i: usize, cmd: &str) -> String {
    format!(
        "o=$( ( {cmd}\n) 2>\"$T/e\" </dev/null; printf 'x%d' \"$?\")\nrc=${{o##*x}}; o=${{o%x*}}; e=\nwhile IFS= read -r l || [ -n \"$l\" ]; do e=\"$e$l\n\"; done < \"$T/e\"\nprintf '@X {i} %d %d %d\\n%s%s\\n' \"$rc\" \"${{#o}}\" \"${{#e}}\" \"$o\" \"$e\"\n"
    )
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn line(&mut self) -> Option<&'a str> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        self.pos += (end + 1).min(rest.len());
        std::str::from_utf8(&rest[..end]).ok()
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.pos + n > self.buf.len() {
            return Err(Error::runtime("truncated probe output"));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }
    fn skip_newline(&mut self) {
        if self.buf.get(self.pos) == Some(&b'\n') {
            self.pos += 1;
        }
    }
}

/// Parse the probe script's output into answers, in probe order.
pub fn parse_probe_output(probes: &[Probe], out: &[u8]) -> Result<Observed> {
    let mut answers: Vec<Option<Answer>> = vec![None; probes.len()];
    let mut r = Reader { buf: out, pos: 0 };
    while let Some(line) = r.line() {
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (tag, idx) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let rest = parts.next().unwrap_or("");
        let Ok(i) = idx.parse::<usize>() else {
            continue;
        };
        let Some(probe) = probes.get(i) else { continue };
        let path = match probe {
            Probe::File(f) => f.path.as_str(),
            Probe::Command(_) | Probe::Query(_) | Probe::Primitive(_) => "",
        };
        fn file<'x>(
            answers: &'x mut [Option<Answer>],
            i: usize,
            path: &str,
        ) -> Result<&'x mut FileState> {
            match answers[i].as_mut() {
                Some(Answer::File(f)) => Ok(f),
                _ => Err(Error::runtime(format!(
                    "probe output out of order for {path}"
                ))),
            }
        }
        match tag {
            "@F" => answers[i] = Some(Answer::File(parse_stat(path, rest)?)),
            "@N" => answers[i] = Some(Answer::File(FileState::missing(path))),
            "@L" => {
                let f = file(&mut answers, i, path)?;
                f.is_link = true;
                f.link_target = Some(rest.to_string());
                if !matches!(probe, Probe::File(p) if p.follow) || f.kind == Some(FileKind::Link) {
                    f.kind = Some(FileKind::Link);
                }
                if f.kind == Some(FileKind::Link) {
                    // A dangling link followed: it exists as a link only.
                    f.exists = true;
                }
            }
            "@C" => {
                let n: usize = rest
                    .trim()
                    .parse()
                    .map_err(|_| Error::runtime("bad content length in probe output"))?;
                let data = r.bytes(n)?.to_vec();
                r.skip_newline();
                if r.line() != Some(format!("@E {i}").as_str()) {
                    return Err(Error::runtime(format!(
                        "{path} changed while it was being read; try again"
                    )));
                }
                file(&mut answers, i, path)?.content = Some(data);
            }
            // `sha256sum < file` prints "<hex>  -".
            "@S" => {
                file(&mut answers, i, path)?.sha256 =
                    rest.split_whitespace().next().map(str::to_string)
            }
            "@X" => {
                let nums: Vec<usize> = rest
                    .split(' ')
                    .filter_map(|x| x.trim().parse().ok())
                    .collect();
                if nums.len() != 3 {
                    return Err(Error::runtime("bad command record in probe output"));
                }
                let stdout = String::from_utf8_lossy(r.bytes(nums[1])?).into_owned();
                let stderr = String::from_utf8_lossy(r.bytes(nums[2])?).into_owned();
                r.skip_newline();
                answers[i] = Some(Answer::Command(CmdOutput {
                    rc: nums[0] as i32,
                    stdout,
                    stderr,
                }));
            }
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(probes.len());
    for (i, a) in answers.into_iter().enumerate() {
        match a {
            Some(Answer::File(mut f)) => {
                // The checksum of content that was read is computed here, not on the host.
                if matches!(&probes[i], Probe::File(p) if p.checksum)
                    && f.sha256.is_none()
                    && let Some(c) = &f.content
                {
                    f.sha256 = Some(crate::host::sha256_hex(c));
                }
                out.push(Answer::File(f))
            }
            Some(a) => out.push(a),
            None => {
                return Err(Error::runtime(format!(
                    "no answer for probe {i} ({:?})",
                    probes[i]
                )));
            }
        }
    }
    Ok(Observed { answers: out })
}

/// A command line with `%s` replaced by the temp file (`"$t"`), as `validate` needs.
fn validate_command(validate: &str) -> Result<String> {
    let words =
        crate::shlex::split(validate).map_err(|e| Error::runtime(format!("validate: {e}")))?;
    Ok(words
        .iter()
        .map(|w| w.split("%s").map(quote).collect::<Vec<_>>().join("\"$t\""))
        .collect::<Vec<_>>()
        .join(" "))
}

fn attr_commands(target: &str, attrs: &Attrs, recurse: bool, no_deref: bool) -> String {
    let r = if recurse { "-R " } else { "" };
    let h = if no_deref { "-h " } else { "" };
    let mut s = String::new();
    if let Some(o) = &attrs.owner {
        s.push_str(&format!("chown {r}{h}{} -- {target} || exit 1\n", quote(o)));
    }
    if let Some(g) = &attrs.group {
        s.push_str(&format!("chgrp {r}{h}{} -- {target} || exit 1\n", quote(g)));
    }
    if let Some(m) = attrs.mode
        && !no_deref
    {
        s.push_str(&format!("chmod {r}{:04o} -- {target} || exit 1\n", m));
    }
    s
}

fn write_script(w: &WriteFile, mark: Option<&Mark>) -> Result<String> {
    let mut s = format!("export LC_ALL=C\np={}\n", quote(&w.path));
    if w.follow {
        s.push_str("if [ -L \"$p\" ]; then p=$(readlink -f -- \"$p\") || exit 1; fi\n");
    }
    s.push_str("d=$(dirname -- \"$p\")\n");
    if w.make_parents {
        // The directories it creates are journaled (under the entry number before the file's).
        if let Some(m) = mark.filter(|m| m.seq > 0) {
            let parents = Mark {
                seq: m.seq - 1,
                kind: journal::Kind::MakeDir,
                ..m.clone()
            };
            s.push_str(&format!(
                "if [ ! -d \"$d\" ]; then (\np=$d\n{}) || exit 1; fi\n",
                journal::capture_created_dir(&parents)?
            ));
        }
        s.push_str("mkdir -p -- \"$d\" || exit 1\n");
    }
    s.push_str(
        "[ -d \"$d\" ] || { echo \"Destination directory $d does not exist\" >&2; exit 1; }\n",
    );
    // Temp files of writers that are gone (a killed run) are removed: the writer's PID is in
    // the name, and a name whose PID has no /proc entry is stale.
    // The host's name is in it too: in a directory that other machines share (NFS homes), only
    // this machine's dead writers are reaped.
    s.push_str(
        "h=; read -r h < /proc/sys/kernel/hostname 2>/dev/null; h=${h%%.*}\ncase $h in *[!A-Za-z0-9-]*) h= ;; esac\nif [ -n \"$h\" ] && [ -d /proc/self ]; then for f in \"$d\"/.prov_tmp.\"$h\".*; do\n [ -f \"$f\" ] || continue\n w=${f##*/.prov_tmp.\"$h\".}; w=${w%%.*}\n case $w in ''|*[!0-9]*) continue ;; esac\n [ -d \"/proc/$w\" ] || rm -f -- \"$f\"\ndone; fi\n",
    );
    // A terminal's Ctrl-C or hang-up reaches this script too: it finishes the write (prov waits
    // for it); a TERM aimed at it abandons the write, and the temp file goes with it.
    s.push_str("trap '' INT HUP\nt=$(mktemp \"$d/.prov_tmp.${h:-host}.$$.XXXXXX\") || exit 1\ntrap 'rm -f \"$t\"' EXIT\ntrap 'exit 143' TERM\ntrap 'exit 141' PIPE\n");
    match &w.source {
        Some(src) => s.push_str(&format!("cat -- {} > \"$t\" || exit 1\n", quote(src))),
        None => {
            // Only exactly the bytes prov sent are ever renamed into place: a controller that
            // died mid-send leaves a short stdin, which `cat` takes for the end.
            s.push_str(&format!(
                "cat > \"$t\" || exit 1\nn=$(wc -c < \"$t\") || exit 1\n[ \"$n\" -eq {len} ] || {{ echo \"prov: incomplete transfer to $p: $n of {len} bytes arrived; the file is unchanged\" >&2; exit 1; }}\nif command -v sha256sum >/dev/null 2>&1; then\n h=$(sha256sum < \"$t\") || exit 1\n [ \"${{h%% *}}\" = {sum} ] || {{ echo \"prov: corrupted transfer to $p (sha256 mismatch); the file is unchanged\" >&2; exit 1; }}\nfi\n",
                len = w.content.len(),
                sum = crate::host::sha256_hex(&w.content),
            ));
        }
    }
    s.push_str(
        "if [ -e \"$p\" ]; then chmod --reference=\"$p\" \"$t\" && { chown --reference=\"$p\" \"$t\" 2>/dev/null || :; }\nelse m=$(umask); chmod \"$(printf '%o' $((0666 & ~0$m)))\" \"$t\" || exit 1; fi\n",
    );
    s.push_str(&attr_commands("\"$t\"", &w.attrs, false, false));
    if let Some(v) = &w.validate {
        s.push_str(&format!(
            "out=$({} 2>&1); rc=$?\nif [ $rc -ne 0 ]; then printf 'failed to validate: rc:%s error:%s\\n' \"$rc\" \"$out\" >&2; exit 1; fi\n",
            validate_command(v)?
        ));
    }
    if w.backup {
        s.push_str("if [ -e \"$p\" ]; then b=\"$p.${t##*.}.$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p -- \"$p\" \"$b\" || exit 1; echo \"backup_file=$b\"; fi\n");
    }
    if let Some(m) = mark {
        s.push_str(&journal::capture(m)?);
    }
    s.push_str(
        "sync -- \"$t\" 2>/dev/null || sync\nmv -f -- \"$t\" \"$p\" || exit 1\ntrap - EXIT\n",
    );
    Ok(s)
}

/// `touch` invocations for the wanted timestamps (`-t` applies to every selected time, so
/// modification and access times with different values need one call each).
fn touch_script(path: &str, mtime: &Stamp, atime: &Stamp) -> String {
    let p = quote(path);
    if (*mtime == Stamp::Now && *atime == Stamp::Now)
        || (*mtime == Stamp::Keep && *atime == Stamp::Keep)
    {
        return format!("touch -- {p}");
    }
    let mut s = format!("[ -e {p} ] || touch -- {p} || exit 1\n");
    for (flag, stamp) in [("m", mtime), ("a", atime)] {
        match stamp {
            Stamp::Keep => {}
            Stamp::Now => s.push_str(&format!("touch -{flag} -- {p} || exit 1\n")),
            Stamp::At(t) => {
                s.push_str(&format!("touch -{flag} -t {} -- {p} || exit 1\n", quote(t)))
            }
        }
    }
    s
}

/// The script (and stdin) for one step; with a journal `mark`, it first records the previous
/// state of the path it changes ([`journal`]).
pub fn step_script(step: &Step, mark: Option<&Mark>) -> Result<(String, Vec<u8>)> {
    let (script, stdin) = plain_step_script(step, mark)?;
    let Some(m) = mark else {
        return Ok((script, stdin));
    };
    let path = match step {
        Step::Write(_) | Step::Run { .. } => return Ok((script, stdin)),
        Step::MakeDir { path, .. }
        | Step::Remove { path }
        | Step::Link { path, .. }
        | Step::SetAttrs { path, .. }
        | Step::Touch { path, .. } => path,
    };
    let record = if matches!(step, Step::MakeDir { .. }) {
        journal::capture_created_dir(m)?
    } else {
        journal::capture(m)?
    };
    // Attributes set through a link are the link target's: that is what is recorded.
    let resolve = if matches!(step, Step::SetAttrs { follow: true, .. }) {
        "if [ -L \"$p\" ]; then p=$(readlink -f -- \"$p\") || exit 1; fi\n"
    } else {
        ""
    };
    // The recording runs in a subshell: its variables and its `exit` stay its own.
    Ok((
        format!(
            "(\np={}\n{resolve}{record}) || exit 1\n{script}",
            quote(path)
        ),
        stdin,
    ))
}

/// The journal entry kind of a step: `None` for a command (nothing to put back).
pub fn journal_kind(step: &Step) -> Option<journal::Kind> {
    Some(match step {
        Step::Write(_) => journal::Kind::Write,
        Step::MakeDir { .. } => journal::Kind::MakeDir,
        Step::Remove { .. } => journal::Kind::Remove,
        Step::Link { .. } => journal::Kind::Link,
        Step::SetAttrs { recurse: true, .. } => journal::Kind::AttrsRecursive,
        Step::SetAttrs { .. } => journal::Kind::Attrs,
        Step::Touch { .. } => journal::Kind::Touch,
        Step::Run { .. } => return None,
    })
}

fn plain_step_script(step: &Step, mark: Option<&Mark>) -> Result<(String, Vec<u8>)> {
    Ok(match step {
        Step::Write(w) => (write_script(w, mark)?, w.content.clone()),
        Step::MakeDir { path, attrs } => {
            let p = quote(path);
            (
                format!(
                    "mkdir -p -- {p} || exit 1\n{}",
                    attr_commands(&p, attrs, false, false)
                ),
                Vec::new(),
            )
        }
        Step::Remove { path } => (format!("rm -rf -- {}", quote(path)), Vec::new()),
        Step::Link { src, path, hard } => {
            let flags = if *hard { "-f" } else { "-sfn" };
            (
                format!("ln {flags} -- {} {}", quote(src), quote(path)),
                Vec::new(),
            )
        }
        Step::SetAttrs {
            path,
            attrs,
            recurse,
            follow,
        } => {
            let p = quote(path);
            let no_deref = !follow && !recurse;
            let mut s = String::new();
            if no_deref && attrs.mode.is_some() {
                // A link has no mode of its own on Linux; only a real file gets one.
                s.push_str(&format!(
                    "[ -L {p} ] || chmod {:04o} -- {p} || exit 1\n",
                    attrs.mode.unwrap_or(0)
                ));
            }
            s.push_str(&attr_commands(&p, attrs, *recurse, no_deref));
            (s, Vec::new())
        }
        Step::Touch { path, mtime, atime } => (touch_script(path, mtime, atime), Vec::new()),
        Step::Run { cmd, .. } => run_script(cmd),
    })
}

fn run_script(cmd: &Command) -> (String, Vec<u8>) {
    let mut s = String::new();
    if let Some(d) = &cmd.chdir {
        s.push_str(&format!(
            "cd {} || {{ echo 'Unable to change directory before execution: {}' >&2; exit 1; }}\n",
            quote(d),
            d.replace('\'', "")
        ));
    }
    for (k, v) in &cmd.env {
        s.push_str(&format!("export {k}={}\n", quote(v)));
    }
    match (&cmd.argv, &cmd.shell) {
        (Some(argv), _) => s.push_str(&format!("exec {}\n", crate::shlex::join(argv))),
        (None, Some(script)) => {
            let shell = cmd.executable.as_deref().unwrap_or("/bin/sh");
            s.push_str(&format!("exec {} -c {}\n", quote(shell), quote(script)));
        }
        (None, None) => s.push_str("exit 0\n"),
    }
    (s, cmd.stdin.clone().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FileProbe;

    #[test]
    fn parses_tagged_records_with_binary_content() {
        let probes = vec![
            Probe::File(FileProbe {
                path: "/etc/a".into(),
                follow: true,
                content: true,
                checksum: true,
            }),
            Probe::stat("/nope"),
            Probe::Command("echo hi".into()),
            Probe::stat("/etc/l"),
        ];
        let mut out = Vec::new();
        out.extend_from_slice(b"@F 0 regular file|644|0|0|root|root|5|100|90|2049|77\n@C 0 5\na\nb\x00c\n@E 0\n@S 0 abc123\n");
        out.extend_from_slice(b"@N 1\n");
        out.extend_from_slice(b"@X 2 3 3 4\nhi\noops\n");
        out.extend_from_slice(b"@F 3 symbolic link|777|0|0|root|root|4|1|1|1|2\n@L 3 real\n");
        let obs = parse_probe_output(&probes, &out).unwrap();
        let a = obs.file_at(0).unwrap();
        assert_eq!(a.mode, 0o644);
        assert_eq!(a.kind, Some(FileKind::File));
        assert_eq!(a.content.as_deref(), Some(&b"a\nb\x00c"[..]));
        assert_eq!(a.sha256.as_deref(), Some("abc123"));
        assert_eq!(a.inode, 77);
        assert!(!obs.file_at(1).unwrap().exists);
        assert_eq!(
            obs.cmd_at(2).unwrap(),
            &CmdOutput {
                rc: 3,
                stdout: "hi\n".into(),
                stderr: "oops".into()
            }
        );
        let l = obs.file_at(3).unwrap();
        assert!(l.is_link);
        assert_eq!(l.link_target.as_deref(), Some("real"));
    }

    /// The probe script run for real, by dash and by bash: files (content, size, checksum of
    /// large ones computed here), a missing path, and commands with exact output.
    #[test]
    fn probe_scripts_run_in_dash_and_bash() {
        let dir = std::env::temp_dir().join(format!("prov-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        std::fs::write(&f, "héllo\n\n").unwrap();
        let probes = vec![
            Probe::File(FileProbe {
                path: f.display().to_string(),
                follow: false,
                content: true,
                checksum: true,
            }),
            Probe::read(&dir.join("missing").display().to_string()),
            Probe::Command("printf 'é\\n\\n'; echo err >&2; exit 3".into()),
            Probe::Command("printf 'no newline'".into()),
        ];
        let script = probe_script(&probes);
        for shell in ["/bin/sh", "/bin/bash"] {
            let out = std::process::Command::new(shell)
                .arg("-c")
                .arg(&script)
                .env("LANG", "C.UTF-8")
                .output()
                .unwrap();
            let obs = parse_probe_output(&probes, &out.stdout).unwrap_or_else(|e| {
                panic!("{shell}: {e}: {}", String::from_utf8_lossy(&out.stdout))
            });
            let file = obs.file_at(0).unwrap();
            assert_eq!(
                file.content.as_deref(),
                Some("héllo\n\n".as_bytes()),
                "{shell}"
            );
            assert_eq!(file.size, 8);
            assert_eq!(
                file.sha256.as_deref(),
                Some(crate::host::sha256_hex("héllo\n\n".as_bytes()).as_str())
            );
            assert!(!obs.file_at(1).unwrap().exists);
            let c = obs.cmd_at(2).unwrap();
            assert_eq!(
                (c.rc, c.stdout.as_str(), c.stderr.as_str()),
                (3, "é\n\n", "err\n"),
                "{shell}"
            );
            assert_eq!(obs.cmd_at(3).unwrap().stdout, "no newline", "{shell}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_answers_are_errors() {
        let probes = vec![Probe::stat("/a")];
        assert!(parse_probe_output(&probes, b"").is_err());
    }

    #[test]
    fn validate_substitutes_the_temp_file() {
        assert_eq!(
            validate_command("sshd -t -f %s").unwrap(),
            "sshd -t -f ''\"$t\"''"
        );
        assert_eq!(
            validate_command("visudo -cf %s").unwrap(),
            "visudo -cf ''\"$t\"''"
        );
    }
}
