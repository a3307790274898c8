//! `prov image install` (`install-to-disk` on the image): copy the running USB system onto an
//! internal disk that then boots by itself, with BIOS and UEFI.
//!
//! 1. Choose ([`target`]): [`disks`] lists the disks and why some are not offered; the user
//!    picks one by number and confirms by typing its name (or `--target DEV --yes`, or `--auto`: the only
//!    eligible disk, for first boot).
//! 2. Install ([`steps`]), step by step, each logged and checked: the GRUB images (from the system's own
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
mod steps;
pub mod synthetic;
mod target;

use std::collections::BTreeSet;
use std::io::{IsTerminal, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::cli::ImageInstallArgs;
use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};
use crate::image::definition::Boot;
use disks::{Disk, System, human};
use steps::{STEPS, install_on, state_after};
use target::{Ask, Target, choose, confirm, disk_line, listed, named_target, show};

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
            let now = crate::utc::iso(crate::utc::now());
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
                Some(n) => crate::error::signal_exit_code(n),
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
                Ok(crate::error::signal_exit_code(
                    cancel.signal().unwrap_or(libc::SIGINT),
                ))
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
