//! The copy of the running system into the new root filesystem: `mkfs.ext4 -d` (e2fsprogs'
//! populate_fs) writes the tree straight into partition 3 of the target, the same tool the
//! image build uses, so the target is never mounted. It keeps hard links, ACLs and other
//! extended attributes, owners, modes, times, device nodes, FIFOs, symbolic links and holes.
//!
//! What it reads is a private view of the source, made in a mount namespace of mke2fs's own
//! (it vanishes with the process, whatever kills it): a read-only, non-recursive bind mount of
//! the source — its filesystem alone, none of the mounts on it — with an empty tmpfs (of the
//! same mode and owner) over each of [`EXCLUDED`]. Progress is mke2fs's `rchar` (bytes read)
//! against [`measure`]'s total.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};
use crate::image::disk::{self, Ids, Layout};

/// Directories copied empty: the kernel's and the run's file systems, scratch, mount points.
pub const EXCLUDED: &[&str] = &["proc", "sys", "dev", "run", "tmp", "mnt", "media"];

/// What the copy will read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measure {
    /// File data as stored (holes not counted), each hard-linked file once.
    pub bytes: u64,
    /// Files, directories, links and nodes.
    pub entries: u64,
}

/// Walk the source as the copy will: its own filesystem only, the excluded directories empty.
pub fn measure(source: &Path) -> Result<Measure> {
    let top = std::fs::symlink_metadata(source).map_err(|e| Error::io(source, e))?;
    let mut m = Measure::default();
    let mut seen = HashSet::new();
    let mut stack = vec![source.to_path_buf()];
    let mut first = true;
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            // A directory that vanished while the system runs.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        };
        for e in entries.flatten() {
            if first && EXCLUDED.iter().any(|x| e.file_name() == *x) {
                m.entries += 1;
                continue;
            }
            let Ok(md) = e.metadata() else { continue };
            m.entries += 1;
            if md.is_dir() {
                if md.dev() == top.dev() {
                    stack.push(e.path());
                }
            } else if md.is_file() {
                if md.nlink() > 1 && !seen.insert((md.dev(), md.ino())) {
                    continue;
                }
                m.bytes += md.len().min(md.blocks() * 512);
            }
        }
        first = false;
    }
    Ok(m)
}

/// How much disk the source needs: its data with a tenth for filesystem structures and 256
/// MiB of journal and room, the BIOS boot partition, the ESP and the GPTs.
pub fn needed(m: &Measure, esp: u64) -> u64 {
    let root = m.bytes + m.bytes / 10 + m.entries * 256 + (256 << 20);
    (1 << 20) + (1 << 20) + esp + root + (1 << 20)
}

/// A directory to hold the private view, in mke2fs's namespace: one that exists and is not
/// above the source or the target (a tmpfs is mounted over it there).
fn stage_parent(source: &Path, target: &Path) -> Result<PathBuf> {
    ["/run", "/mnt", "/media", "/tmp", "/var/tmp"]
        .iter()
        .map(PathBuf::from)
        .find(|d| d.is_dir() && !source.starts_with(d) && !target.starts_with(d))
        .ok_or_else(|| {
            Error::runtime("no directory for the copy's private view (/run, /mnt, /tmp…)")
        })
}

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::runtime(format!("{}: a NUL in the path", p.display())))
}

/// Bytes a process has read (`rchar` of /proc/PID/io).
fn read_bytes(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("rchar:"))?
        .trim()
        .parse()
        .ok()
}

/// Copy `source` into a new root filesystem on partition 3 of `target`, calling `progress`
/// with the bytes read so far about four times a second. Stops (killing mke2fs) when
/// `cancel` is set.
pub fn copy(
    target: &Path,
    layout: &Layout,
    ids: &Ids,
    source: &Path,
    cancel: &Cancel,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let parent = stage_parent(source, target)?;
    let view = parent.join("source");
    let mut masks = Vec::new();
    for x in EXCLUDED {
        let dir = source.join(x);
        let Ok(md) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        if md.is_dir() {
            let data = format!(
                "mode={:o},uid={},gid={}",
                md.mode() & 0o7777,
                md.uid(),
                md.gid()
            );
            masks.push((cstr(&view.join(x))?, CString::new(data).unwrap_or_default()));
        }
    }
    let (parent_c, view_c, source_c) = (cstr(&parent)?, cstr(&view)?, cstr(source)?);
    let mut cmd = disk::root_fs_command(target, layout, ids, &view, None);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        // Its own process group: a terminal's Ctrl-C reaches prov, which stops it and says
        // what state the disk is in.
        .process_group(0);
    // SAFETY: only async-signal-safe calls (prctl, unshare, mount, mkdir) on memory prepared
    // before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let check = |rc: libc::c_int| {
                if rc == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            let none = std::ptr::null::<libc::c_char>();
            // If prov is killed, so is the copy.
            check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                c"prov-install".as_ptr(),
                parent_c.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                c"mode=0700".as_ptr().cast(),
            ))?;
            check(libc::mkdir(view_c.as_ptr(), 0o755))?;
            check(libc::mount(
                source_c.as_ptr(),
                view_c.as_ptr(),
                none,
                libc::MS_BIND,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                none,
                view_c.as_ptr(),
                none,
                libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
                std::ptr::null(),
            ))?;
            for (at, data) in &masks {
                check(libc::mount(
                    c"prov-install".as_ptr(),
                    at.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    data.as_ptr().cast(),
                ))?;
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::runtime(format!(
            "cannot start mkfs.ext4 in a private view of {}: {e}",
            source.display()
        ))
    })?;
    let pid = child.id();
    let mut stderr = child.stderr.take();
    let said = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = std::io::Read::read_to_string(e, &mut s);
        }
        s
    });
    let mut last = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::runtime(format!("waiting for mkfs.ext4: {e}")));
            }
        }
        if cancel.is_cancelled() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::new(ErrorKind::Interrupted, "interrupted"));
        }
        if last.elapsed() >= Duration::from_millis(250) {
            if let Some(n) = read_bytes(pid) {
                progress(n);
            }
            last = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let said = said.join().unwrap_or_default();
    if !status.success() {
        return Err(Error::runtime(format!(
            "mkfs.ext4 -d failed ({status}): {}",
            said.trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measure_counts_data_once_and_skips_excluded_directories() {
        let d = std::env::temp_dir().join(format!("prov-measure-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc")).unwrap();
        std::fs::create_dir_all(d.join("tmp")).unwrap();
        std::fs::create_dir_all(d.join("var/tmp")).unwrap();
        std::fs::write(d.join("etc/a"), vec![1u8; 8192]).unwrap();
        std::fs::hard_link(d.join("etc/a"), d.join("etc/b")).unwrap();
        std::fs::write(d.join("tmp/junk"), vec![1u8; 1 << 20]).unwrap();
        std::fs::write(d.join("var/tmp/kept"), vec![1u8; 4096]).unwrap();
        let f = std::fs::File::create(d.join("sparse")).unwrap();
        f.set_len(100 << 20).unwrap();
        let m = measure(&d).unwrap();
        assert_eq!(m.bytes, 8192 + 4096);
        // etc, a, b, tmp (not its file), var, var/tmp, kept, sparse
        assert_eq!(m.entries, 8);
        assert!(needed(&m, 512 << 20) > (512 + 256) << 20);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_view_is_never_staged_above_the_source_or_target() {
        let p = stage_parent(Path::new("/"), Path::new("/dev/vdb")).unwrap();
        assert_eq!(p, Path::new("/run"));
        let p = stage_parent(Path::new("/run/x"), Path::new("/mnt/disk.img")).unwrap();
        assert!(
            !p.starts_with("/run") && !p.starts_with("/mnt"),
            "{}",
            p.display()
        );
    }
}
