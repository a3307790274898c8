//! The install itself, step by step ([`STEPS`]), once the target is chosen and confirmed:
//! each step logged and timed, the one under way known when a failure or a signal stops it,
//! and what each leaves on the disk ([`state_after`]); the last checks before the wipe
//! ([`claim`]) and the copy's progress.

use std::path::Path;
use std::time::{Duration, Instant};

use super::target::Target;
use super::{Log, copy, identity, size_of};
use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};
use crate::image::definition::Boot;
use crate::image::disk::{self, Ids, Layout};
use crate::image::rootfs;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

/// The install's steps, in order.
pub(super) const STEPS: &[&str] = &[
    "boot loader images",
    "wipe",
    "partition",
    "copy",
    "identity",
    "EFI system partition",
    "BIOS boot",
    "sync",
];

/// Steps run one after the other; the finished ones say what state the disk is in.
pub(super) struct Steps<'a> {
    log: &'a Log,
    done: Vec<&'static str>,
    /// The step under way (the one a failure or a signal stopped).
    current: Option<&'static str>,
    cancel: &'a Cancel,
}

impl Steps<'_> {
    fn run<T>(&mut self, name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.cancel.is_cancelled() {
            return Err(Error::new(ErrorKind::Interrupted, "interrupted"));
        }
        self.log.say(&format!("{name} ..."));
        self.current = Some(name);
        let started = Instant::now();
        let out = f()?;
        self.current = None;
        self.log.say(&format!(
            "{name}: done in {:.1} s",
            started.elapsed().as_secs_f64()
        ));
        self.done.push(name);
        Ok(out)
    }
}

/// What the failed or interrupted install leaves on the disk, by the last step that finished.
pub(super) fn state_after(done: &[&str], stopped_in: Option<&str>) -> &'static str {
    match (stopped_in, done.last().copied()) {
        (Some("wipe"), _) => {
            "possibly partly wiped: its old partition table and filesystem signatures may be erased; it will not boot"
        }
        (Some("sync"), _) => {
            "written, but not confirmed on the disk (the final sync failed); it may not boot"
        }
        (_, None | Some("boot loader images")) => "untouched: nothing was written to it",
        (_, Some("wipe")) => {
            "wiped: its old partition table and filesystem signatures are erased; it has no new partitions and will not boot"
        }
        (_, Some("partition")) => {
            "it has the new partition table but no filesystems yet; it will not boot"
        }
        (_, Some("copy")) => {
            "the root filesystem is copied but still carries the USB system's identity, and there is no EFI system partition; it will not boot"
        }
        (_, Some("identity")) => "there is no EFI system partition; it will not boot",
        (_, Some("EFI system partition")) => "it boots with UEFI; legacy BIOS boot code is missing",
        _ => "written, but not confirmed on the disk; it may not boot",
    }
}

/// Make sure the disk is still the one confirmed and nothing holds it, right before it is
/// wiped: the same device number and size (a disk swapped while prov waited for an answer
/// could have taken the name), and an exclusive open succeeds (the kernel refuses it while a
/// partition is mounted, swapped on or held by device-mapper, whatever mountinfo says).
pub(super) fn claim(target: &Target) -> Result<()> {
    if !target.block {
        return Ok(());
    }
    let md = std::fs::metadata(&target.path).map_err(|e| Error::io(&target.path, e))?;
    let dev = format!("{}:{}", libc::major(md.rdev()), libc::minor(md.rdev()));
    let same =
        target.disk.as_ref().is_none_or(|d| d.dev == dev) && size_of(&target.path)? == target.bytes;
    if !same {
        return Err(Error::runtime(format!(
            "{} is no longer the disk that was confirmed (device {dev}); nothing was written",
            target.path.display()
        )));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_EXCL)
        .open(&target.path)
        .map(drop)
        .map_err(|e| {
            Error::runtime(format!(
                "{} is in use ({e}): a partition is mounted or held; nothing was written",
                target.path.display()
            ))
        })
}

/// Remove the scratch directories of installs that were killed (`prov-install.PID` whose
/// process is gone and that belong to this user), so a SIGKILL leaves nothing for long.
pub(super) fn remove_dead_scratch(tmp: &Path) {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    for e in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("prov-install.")
            .and_then(|p| p.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        let Ok(md) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        // SAFETY: kill with signal 0 only asks whether the process exists.
        let gone = pid > 0
            && unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if md.is_dir() && md.uid() == me && gone {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Zero the first MiB of each new partition, so that no signature of an old filesystem at the
/// same place shows through before (or besides) the new one.
pub(super) fn zero_partition_starts(path: &Path, layout: &Layout) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let zeros = vec![0u8; 1 << 20];
    for (start, len) in [layout.bios, layout.esp, layout.root] {
        let n = (len * disk::SECTOR).min(zeros.len() as u64) as usize;
        f.write_all_at(&zeros[..n], start * disk::SECTOR)
            .map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// Tell the kernel to read the new partition table (block devices; best effort: the next
/// boot reads it anyway).
pub(super) fn reread_partitions(path: &Path) -> std::result::Result<(), String> {
    const BLKRRPART: libc::c_ulong = 0x125f;
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    // SAFETY: BLKRRPART takes no argument.
    if unsafe { libc::ioctl(fd, BLKRRPART as _) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    Ok(())
}

/// The copy's progress without a terminal: bytes of the total, rate, time left.
pub(super) fn progress_line(n: u64, total: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = n as f64 / secs;
    let left = if rate > 0.0 {
        format!(
            ", about {:.0} s left",
            total.saturating_sub(n) as f64 / rate
        )
    } else {
        String::new()
    };
    format!(
        "copy: {:.0} MiB of {:.0} MiB ({:.0}%), {:.1} MiB/s{left}",
        n as f64 / 1048576.0,
        total as f64 / 1048576.0,
        100.0 * n as f64 / total.max(1) as f64,
        rate / 1048576.0
    )
}

/// How the copy's progress reaches the console: a bar on a terminal, a line every ten
/// seconds otherwise; the summary line either way.
pub(super) fn copy_with_progress(
    target: &Target,
    layout: &Layout,
    ids: &Ids,
    source: &Path,
    total: u64,
    cancel: &Cancel,
    log: &Log,
) -> Result<()> {
    let bar = crate::image::progress::bytes_bar(total, false, "copy");
    let started = Instant::now();
    let mut said = Instant::now();
    let mut on = |n: u64| {
        let n = n.min(total);
        bar.set_position(n);
        if bar.is_hidden() && said.elapsed() >= Duration::from_secs(10) {
            said = Instant::now();
            log.say(&progress_line(n, total, started.elapsed()));
        }
    };
    let r = copy::copy(&target.path, layout, ids, source, cancel, &mut on);
    bar.finish_and_clear();
    r?;
    let secs = started.elapsed().as_secs_f64().max(0.001);
    log.say(&format!(
        "copy: {:.0} MiB in {secs:.1} s ({:.1} MiB/s)",
        total as f64 / 1048576.0,
        total as f64 / 1048576.0 / secs
    ));
    Ok(())
}

/// The install itself, after the target is chosen and confirmed.
pub(super) fn install_on(
    target: &Target,
    source: &Path,
    boot: &Boot,
    esp: u64,
    total: u64,
    log: &Log,
    cancel: &Cancel,
) -> std::result::Result<(), (Error, Vec<&'static str>, Option<&'static str>)> {
    let mut steps = Steps {
        log,
        done: Vec::new(),
        current: None,
        cancel,
    };
    let r = (|| {
        let layout = Layout::new(target.bytes, esp)?;
        let ids = Ids::random()?;
        log.note(&format!(
            "new identifiers: root filesystem {}, ESP {}, disk {}",
            ids.root_uuid, ids.esp_id, ids.disk_guid
        ));
        // A fresh directory only root can enter: what is staged there goes onto the disk.
        remove_dead_scratch(&std::env::temp_dir());
        let scratch = std::env::temp_dir().join(format!("prov-install.{}", std::process::id()));
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&scratch)
            .map_err(|e| Error::io(&scratch, e))?;
        let r = (|| {
            // Everything that can fail without touching the disk fails here, first.
            let texts = identity::prepare(source, &ids)?;
            let grub = steps.run("boot loader images", || {
                rootfs::make_grub(source, &ids, boot, &scratch)
            })?;
            let p = target.path.display().to_string();
            steps.run("wipe", || {
                claim(target)?;
                disk::run("wipefs", &["--all", "--force", "--quiet", &p], &[]).map(|_| ())
            })?;
            steps.run("partition", || {
                disk::write_gpt(&target.path, &layout, &ids)?;
                zero_partition_starts(&target.path, &layout)
            })?;
            steps.run("copy", || {
                copy_with_progress(target, &layout, &ids, source, total, cancel, log)
            })?;
            steps.run("identity", || {
                identity::apply(&target.path, &layout, source, &texts, &scratch)
            })?;
            let now = crate::utc::now();
            steps.run("EFI system partition", || {
                disk::make_esp(&target.path, &layout, &ids, &grub.efi, now)
            })?;
            if let Some(bios) = &grub.bios {
                steps.run("BIOS boot", || {
                    disk::install_bios_boot(&target.path, &layout, &bios.boot, &bios.core)
                })?;
            }
            steps.run("sync", || {
                std::fs::File::open(&target.path)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| Error::io(&target.path, e))
            })?;
            if target.block
                && let Err(e) = reread_partitions(&target.path)
            {
                log.say(&format!(
                    "the kernel did not reread the partition table ({e}); the next boot will"
                ));
            }
            log.say(&format!(
                "installed: root filesystem UUID {}, EFI system partition {}",
                ids.root_uuid, ids.esp_id
            ));
            Ok(())
        })();
        let _ = std::fs::remove_dir_all(&scratch);
        r
    })();
    r.map_err(|e| (e, steps.done, steps.current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_install_s_scratch_is_removed_a_live_one_kept() {
        let tmp = std::env::temp_dir().join(format!("prov-scratch-{}", std::process::id()));
        let live = tmp.join(format!("prov-install.{}", std::process::id()));
        // Pid 4194304 is above the kernel's limit: no such process.
        let dead = tmp.join("prov-install.4194304");
        let other = tmp.join("prov-install.notapid");
        for d in [&live, &dead, &other] {
            std::fs::create_dir_all(d.join("sub")).unwrap();
        }
        remove_dead_scratch(&tmp);
        assert!(live.exists() && other.exists());
        assert!(!dead.exists());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn progress_says_bytes_rate_and_time_left() {
        assert_eq!(
            progress_line(300 << 20, 900 << 20, Duration::from_secs(10)),
            "copy: 300 MiB of 900 MiB (33%), 30.0 MiB/s, about 20 s left"
        );
        assert_eq!(
            progress_line(0, 900 << 20, Duration::from_secs(10)),
            "copy: 0 MiB of 900 MiB (0%), 0.0 MiB/s"
        );
    }

    #[test]
    fn each_step_says_what_it_leaves_on_the_disk() {
        assert!(state_after(&[], None).starts_with("untouched"));
        assert!(state_after(&["boot loader images"], None).starts_with("untouched"));
        assert!(state_after(&["boot loader images"], Some("wipe")).contains("partly wiped"));
        assert!(state_after(&["boot loader images", "wipe"], None).contains("no new partitions"));
        assert!(
            state_after(&["boot loader images", "wipe", "partition"], Some("copy"))
                .contains("no filesystems")
        );
        assert!(
            state_after(
                &[
                    "boot loader images",
                    "wipe",
                    "partition",
                    "copy",
                    "identity",
                    "EFI system partition"
                ],
                Some("BIOS boot")
            )
            .contains("boots with UEFI")
        );
        assert!(state_after(&["boot loader images"], Some("sync")).contains("not confirmed"));
    }
}
