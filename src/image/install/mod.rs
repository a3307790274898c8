//! `prov image install` (`install-to-disk` on the image): copy the running USB system onto an
//! internal disk that then boots by itself, with BIOS and UEFI.
//!
//! 1. Choose: [`disks`] lists the disks and why some are not offered; the user picks one by
//!    number and confirms by typing its name (or `--target DEV --yes`, or `--auto`: the only
//!    eligible disk, for first boot).
//! 2. Install, step by step, each logged and checked: the GRUB images (from the system's own
//!    GRUB, before the disk is touched), wipe, partition (GPT as the image: BIOS boot, ESP,
//!    root — [`crate::image::disk`]'s code), copy ([`copy`]: `mkfs.ext4 -d` from a private
//!    view of the system), identity ([`identity`]: new UUIDs in fstab and grub.cfg, no
//!    machine-id or host keys), ESP and BIOS boot code, then the kernel rereads the table.
//!
//! The target is never mounted; the copy's mounts live in a namespace that dies with it. On a
//! failure or a signal the step in progress stops and prov says which step it was and what
//! that leaves on the disk. Everything said goes to the console and to the log file.

pub mod copy;
pub mod disks;
pub mod identity;
pub mod synthetic;

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Seek, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::ImageInstallArgs;
use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};
use crate::image::definition::Boot;
use crate::image::disk::{self, Ids, Layout};
use crate::image::rootfs;
use disks::{Disk, Reason, System, human};

/// Where the image build records how the image boots (read by the installer).
pub const IMAGE_INFO: &str = "etc/prov/image.json";

/// What the image build wrote into `/etc/prov/image.json`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ImageInfo {
    pub node: String,
    pub arch: String,
    pub boot: Boot,
    /// Bytes of the EFI system partition.
    pub esp_bytes: u64,
}

/// The console and the log file: every line said goes to both.
struct Log {
    file: Option<std::fs::File>,
}

impl Log {
    fn open(path: &Path) -> Log {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        match file {
            Ok(f) => Log { file: Some(f) },
            Err(e) => {
                eprintln!(
                    "[prov install] warning: no log file {}: {e}",
                    path.display()
                );
                Log { file: None }
            }
        }
    }

    /// Into the log file only.
    fn note(&self, text: &str) {
        if let Some(mut f) = self.file.as_ref() {
            let now = crate::image::layout::iso(crate::image::layout::now());
            for l in text.lines() {
                let _ = writeln!(f, "{now} {l}");
            }
        }
    }

    /// To the log file, then the console (a closed terminal is no reason to stop).
    fn say(&self, text: &str) {
        self.note(text);
        for l in text.lines() {
            show(&format!("[prov install] {l}\n"));
        }
    }
}

/// Write to the console, ignoring a terminal that went away (SIGHUP, a closed pipe): what is
/// said also goes to the log file, and an install must not die of its own messages.
fn show(text: &str) {
    let mut err = std::io::stderr();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Sysfs and udev strings as shown: control characters (a device can report anything as its
/// model or serial) become `?`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The disk (or, with `--allow-file`, the file) to install on.
struct Target {
    path: PathBuf,
    /// What the user calls it: `sdb`, or the file's path.
    name: String,
    bytes: u64,
    disk: Option<Disk>,
    block: bool,
}

impl Target {
    fn describe(&self) -> String {
        match &self.disk {
            Some(d) => format!(
                "{} ({}, {}, {}{})",
                d.name,
                human(d.bytes),
                if d.model.is_empty() {
                    "no model"
                } else {
                    &d.model
                },
                d.transport,
                if d.serial.is_empty() {
                    String::new()
                } else {
                    format!(", serial {}", d.serial)
                }
            ),
            None => format!("the file {} ({})", self.path.display(), human(self.bytes)),
        }
    }
}

/// Questions on the terminal, answered line by line; a signal stops the wait.
struct Ask<'a> {
    lines: std::sync::mpsc::Receiver<std::io::Result<String>>,
    cancel: &'a Cancel,
}

impl<'a> Ask<'a> {
    fn new(cancel: &'a Cancel) -> Ask<'a> {
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Ask { lines, cancel }
    }

    fn ask(&self, question: &str) -> Result<String> {
        show(question);
        loop {
            if self.cancel.is_cancelled() {
                return Err(Error::new(ErrorKind::Interrupted, "interrupted"));
            }
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(Ok(line)) => return Ok(line.trim().to_string()),
                Ok(Err(e)) => return Err(Error::runtime(format!("reading the answer: {e}"))),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::new(
                        ErrorKind::Interrupted,
                        "no answer (end of input)",
                    ));
                }
            }
        }
    }
}

/// The disk table's line for a disk.
fn disk_line(d: &Disk) -> String {
    format!(
        "{:<9} {:>9}  {:<24} {:<7} {}",
        printable(&d.name),
        human(d.bytes),
        if d.model.is_empty() {
            "-".to_string()
        } else {
            printable(&d.model)
        },
        d.transport,
        printable(&d.serial)
    )
}

/// The list of what is on a disk.
fn contents(d: &Disk) -> String {
    if d.partitions.is_empty() {
        return "  (no partitions)".into();
    }
    d.partitions
        .iter()
        .map(|p| {
            let label = if p.label.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", printable(&p.label))
            };
            format!(
                "  {:<12} {:>9}  {}{label}",
                p.name,
                human(p.bytes),
                if p.fs_type.is_empty() {
                    "unknown contents".to_string()
                } else {
                    printable(&p.fs_type)
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the failed or interrupted install leaves on the disk, by the last step that finished.
fn state_after(done: &[&str], stopped_in: Option<&str>) -> &'static str {
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

/// The devices (`major:minor`) the running system and the source tree are on.
fn boot_devices(sys: &System, source: &Path) -> Result<BTreeSet<String>> {
    let mut devs = BTreeSet::new();
    let mountinfo = sys.root.join("proc/self/mountinfo");
    let text = std::fs::read_to_string(&mountinfo).map_err(|e| Error::io(&mountinfo, e))?;
    for l in text.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        if f.len() > 4 && (f[4] == "/" || f[4] == "/boot" || f[4] == "/boot/efi") {
            devs.insert(f[2].to_string());
        }
    }
    if sys.root == Path::new("/") {
        let dev = std::fs::metadata(source)
            .map_err(|e| Error::io(source, e))?
            .dev();
        devs.insert(format!("{}:{}", libc::major(dev), libc::minor(dev)));
    }
    Ok(devs)
}

/// The target named by `--target`: a whole disk that may be installed on, or a file.
fn named_target(args: &ImageInstallArgs, survey: &[(Disk, Option<Reason>)]) -> Result<Target> {
    let given = args.target.as_deref().unwrap_or(Path::new(""));
    let path = given.canonicalize().map_err(|e| Error::io(given, e))?;
    let md = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
    let ft = md.file_type();
    if ft.is_block_device() {
        let dev = format!("{}:{}", libc::major(md.rdev()), libc::minor(md.rdev()));
        let Some((d, reason)) = survey.iter().find(|(d, _)| d.dev == dev) else {
            let part = survey
                .iter()
                .find(|(d, _)| d.partitions.iter().any(|p| p.dev == dev));
            return Err(Error::usage(match part {
                Some((d, _)) => format!(
                    "{} is a partition of {}: name the whole disk (/dev/{})",
                    path.display(),
                    d.name,
                    d.name
                ),
                None => format!("{} is not a disk this system lists", path.display()),
            }));
        };
        if let Some(r) = reason
            && !r.overridable()
        {
            return Err(Error::usage(format!(
                "not installing on {}: {}",
                d.name,
                r.describe(d)
            )));
        }
        return Ok(Target {
            path,
            name: d.name.clone(),
            bytes: d.bytes,
            disk: Some(d.clone()),
            block: true,
        });
    }
    if !ft.is_file() {
        return Err(Error::usage(format!(
            "{} is neither a block device nor a file",
            path.display()
        )));
    }
    if !args.allow_file {
        return Err(Error::usage(format!(
            "{} is a regular file, not a disk (--allow-file installs into a disk image file)",
            path.display()
        )));
    }
    Ok(Target {
        name: path.display().to_string(),
        bytes: md.len(),
        path,
        disk: None,
        block: false,
    })
}

/// The target chosen from the list on the terminal (None: the user stopped).
fn choose(sys: &System, survey: &[(Disk, Option<Reason>)], ask: &Ask) -> Result<Option<Target>> {
    let eligible: Vec<&Disk> = survey
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(d, _)| d)
        .collect();
    let mut text = String::from("Disks:\n");
    for (i, d) in eligible.iter().enumerate() {
        text.push_str(&format!("  {:>2}) {}\n", i + 1, disk_line(d)));
    }
    if eligible.is_empty() {
        text.push_str("  (none)\n");
    }
    let excluded: Vec<&(Disk, Option<Reason>)> =
        survey.iter().filter(|(_, r)| r.is_some()).collect();
    if !excluded.is_empty() {
        text.push_str("Not offered:\n");
        for (d, r) in excluded {
            if let Some(r) = r {
                text.push_str(&format!(
                    "      {}\n        {}\n",
                    disk_line(d),
                    r.describe(d)
                ));
            }
        }
    }
    show(&text);
    if eligible.is_empty() {
        return Err(Error::runtime("no disk to install on (see why above)"));
    }
    let d = loop {
        let answer = ask.ask(&format!(
            "Install on which disk? (1-{}, or the name): ",
            eligible.len()
        ))?;
        let pick = answer
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| eligible.get(i))
            .or_else(|| eligible.iter().find(|d| d.name == answer));
        match pick {
            Some(d) => break *d,
            None if answer.is_empty() => continue,
            None => show(&format!("'{answer}' is not one of the disks offered\n")),
        }
    };
    listed(sys, d).map(Some)
}

/// A disk of the list as the target: its device file (and that file's real size).
fn listed(sys: &System, d: &Disk) -> Result<Target> {
    let path = sys.dev_path(&d.name);
    let block = std::fs::metadata(&path)
        .map_err(|e| Error::io(&path, e))?
        .file_type()
        .is_block_device();
    Ok(Target {
        bytes: size_of(&path)?,
        path,
        name: d.name.clone(),
        disk: Some(d.clone()),
        block,
    })
}

/// Ask for the target's name, typed out. False: the user did not confirm.
fn confirm(target: &Target, ask: &Ask, log: &Log) -> Result<bool> {
    let mut text = format!("Everything on {} will be destroyed:\n", target.describe());
    if let Some(d) = &target.disk {
        text.push_str(&contents(d));
        text.push('\n');
    }
    show(&text);
    let answer = ask.ask(&format!(
        "Type the disk's name ({}) to install on it, anything else to stop: ",
        target.name
    ))?;
    if answer == target.name {
        log.note(&format!("confirmed by typing {answer}"));
        Ok(true)
    } else {
        log.say(&format!(
            "'{answer}' is not '{}': stopped, nothing was written to it",
            target.name
        ));
        Ok(false)
    }
}

/// The install's steps, in order.
const STEPS: &[&str] = &[
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
struct Steps<'a> {
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

/// Make sure the disk is still the one confirmed and nothing holds it, right before it is
/// wiped: the same device number and size (a disk swapped while prov waited for an answer
/// could have taken the name), and an exclusive open succeeds (the kernel refuses it while a
/// partition is mounted, swapped on or held by device-mapper, whatever mountinfo says).
fn claim(target: &Target) -> Result<()> {
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

/// Zero the first MiB of each new partition, so that no signature of an old filesystem at the
/// same place shows through before (or besides) the new one.
fn zero_partition_starts(path: &Path, layout: &Layout) -> Result<()> {
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
fn reread_partitions(path: &Path) -> std::result::Result<(), String> {
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
fn progress_line(n: u64, total: u64, elapsed: Duration) -> String {
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
fn copy_with_progress(
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

/// How the source boots and its ESP size: from the image's record, else an amd64 PC's.
fn image_info(source: &Path) -> Result<(Boot, u64)> {
    let p = source.join(IMAGE_INFO);
    match std::fs::read_to_string(&p) {
        Ok(text) => {
            let info: ImageInfo = serde_json::from_str(&text)
                .map_err(|e| Error::runtime(format!("{}: {e}", p.display())))?;
            // FAT32 needs about 33 MiB; anything this small is a broken record.
            if info.esp_bytes < 64 << 20 {
                return Err(Error::runtime(format!(
                    "{}: an EFI system partition of {} bytes is too small (64 MiB at least)",
                    p.display(),
                    info.esp_bytes
                )));
            }
            Ok((info.boot, info.esp_bytes))
        }
        Err(_) if cfg!(target_arch = "x86_64") => Ok((Boot::amd64(), 512 << 20)),
        Err(e) => Err(Error::io(&p, e)),
    }
}

/// The install itself, after the target is chosen and confirmed.
fn install_on(
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
            let now = crate::image::layout::now();
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

/// `prov image install`: the exit code (0 installed, 1 stopped or failed, 128+N on signal N).
pub fn install(args: &ImageInstallArgs, cancel: Arc<Cancel>) -> Result<i32> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::usage(
            "prov image install needs root (it writes a whole disk)",
        ));
    }
    let source = args
        .source
        .canonicalize()
        .map_err(|e| Error::io(&args.source, e))?;
    let sys = System::new(&args.system_root);
    let log = Log::open(&args.log);
    log.note(&format!(
        "prov image install {} started: copy {}",
        env!("CARGO_PKG_VERSION"),
        source.display()
    ));
    let (boot, esp) = image_info(&source)?;
    let measure = copy::measure(&source)?;
    let needed = copy::needed(&measure, esp);
    let survey = sys.survey(needed, &boot_devices(&sys, &source)?)?;
    for (d, r) in &survey {
        log.note(&format!(
            "disk {}: {}",
            disk_line(d),
            r.as_ref()
                .map(|r| r.describe(d))
                .unwrap_or_else(|| "eligible".into())
        ));
    }
    let interactive = std::io::stdin().is_terminal();
    let ask = Ask::new(&cancel);
    let outcome = (|| -> Result<Option<Target>> {
        if args.auto {
            let eligible: Vec<&Disk> = survey
                .iter()
                .filter(|(_, r)| r.is_none())
                .map(|(d, _)| d)
                .collect();
            return match eligible.as_slice() {
                [d] => listed(&sys, d).map(Some),
                [] => Err(Error::runtime(
                    "--auto: no eligible disk (every disk is excluded; run prov image install to see why)",
                )),
                many => Err(Error::runtime(format!(
                    "--auto installs only when exactly one disk is eligible; these are: {} (choose with prov image install --target)",
                    many.iter()
                        .map(|d| d.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            };
        }
        let target = match &args.target {
            Some(_) => named_target(args, &survey)?,
            None if interactive => match choose(&sys, &survey, &ask)? {
                Some(t) => t,
                None => return Ok(None),
            },
            None => {
                return Err(Error::usage(
                    "no terminal to choose a disk on: give --target DEVICE --yes",
                ));
            }
        };
        if target.bytes < needed {
            return Err(Error::usage(format!(
                "{} is too small: {} of the {} the system needs",
                target.name,
                human(target.bytes),
                human(needed)
            )));
        }
        if !args.yes {
            if !interactive {
                return Err(Error::usage(format!(
                    "installing on {} needs confirmation: run on a terminal or add --yes",
                    target.name
                )));
            }
            if !confirm(&target, &ask, &log)? {
                return Ok(None);
            }
        }
        Ok(Some(target))
    })();
    let target = match outcome {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(1),
        Err(e) if e.kind == ErrorKind::Interrupted => {
            log.say(&format!("stopped ({e}): nothing was written to any disk"));
            // A signal, or the end of input (^D) at a question.
            return Ok(match cancel.signal() {
                Some(n) => 128 + n,
                None => 1,
            });
        }
        Err(e) => {
            log.note(&format!("error: {e}"));
            return Err(e);
        }
    };
    // A file target must not be inside the tree copied into it.
    if !target.block
        && target.path.starts_with(&source)
        && !copy::EXCLUDED
            .iter()
            .any(|x| target.path.starts_with(source.join(x)))
    {
        return Err(Error::usage(format!(
            "{} is inside {}, the tree being copied",
            target.path.display(),
            source.display()
        )));
    }
    log.say(&format!(
        "installing {} ({:.0} MiB in {} files and directories) on {}",
        source.display(),
        measure.bytes as f64 / 1048576.0,
        measure.entries,
        target.describe()
    ));
    let started = Instant::now();
    match install_on(&target, &source, &boot, esp, measure.bytes, &log, &cancel) {
        Ok(()) => {
            log.say(&format!(
                "done in {:.1} s: {} boots with {}; remove the USB stick and restart",
                started.elapsed().as_secs_f64(),
                target.name,
                if boot.bios_grub.is_some() {
                    "UEFI and BIOS"
                } else {
                    "UEFI"
                }
            ));
            Ok(0)
        }
        Err((e, done, current)) => {
            let step = current
                .or_else(|| STEPS.iter().find(|s| !done.contains(s)).copied())
                .unwrap_or("boot loader images");
            let interrupted = e.kind == ErrorKind::Interrupted || cancel.is_cancelled();
            let what = if interrupted {
                format!("interrupted during step '{step}'")
            } else {
                format!("step '{step}' failed: {e}")
            };
            log.say(&format!(
                "{what}\n{} is now {}.",
                target.name,
                state_after(&done, current)
            ));
            if done.contains(&"wipe") || current == Some("wipe") {
                log.say("Run the install again to finish it.");
            }
            if interrupted {
                Ok(128 + cancel.signal().unwrap_or(libc::SIGINT))
            } else {
                Ok(1)
            }
        }
    }
}

/// The size a disk image file is read as (regular files and block devices alike).
pub fn size_of(path: &Path) -> Result<u64> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    f.seek(std::io::SeekFrom::End(0))
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_strings_are_shown_without_control_characters() {
        assert_eq!(printable("Samsung\x1b[2J SSD\n"), "Samsung?[2J SSD?");
        assert_eq!(printable("SN-123"), "SN-123");
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
