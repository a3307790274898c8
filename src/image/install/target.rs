//! Which disk `prov image install` writes: the table of disks and why some are not offered,
//! the numbered choice and the typed-name confirmation on the terminal ([`Ask`]: a signal
//! stops the wait), a `--target` checked like a listed disk, and console output that never
//! stops an install ([`show`]; device strings without control characters, [`printable`]).

use std::io::{BufRead, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::disks::{Disk, Reason, System, human};
use super::{Log, size_of};
use crate::cli::ImageInstallArgs;
use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};

/// Write to the console, ignoring a terminal that went away (SIGHUP, a closed pipe): what is
/// said also goes to the log file, and an install must not die of its own messages.
pub(super) fn show(text: &str) {
    let mut err = std::io::stderr();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Sysfs and udev strings as shown: control characters (a device can report anything as its
/// model or serial) become `?`.
pub(super) fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The disk (or, with `--allow-file`, the file) to install on.
pub(super) struct Target {
    pub(super) path: PathBuf,
    /// What the user calls it: `sdb`, or the file's path.
    pub(super) name: String,
    pub(super) bytes: u64,
    pub(super) disk: Option<Disk>,
    pub(super) block: bool,
}

impl Target {
    pub(super) fn describe(&self) -> String {
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
pub(super) struct Ask<'a> {
    lines: std::sync::mpsc::Receiver<std::io::Result<String>>,
    cancel: &'a Cancel,
}

impl<'a> Ask<'a> {
    pub(super) fn new(cancel: &'a Cancel) -> Ask<'a> {
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
pub(super) fn disk_line(d: &Disk) -> String {
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
pub(super) fn contents(d: &Disk) -> String {
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

/// The target named by `--target`: a whole disk that may be installed on, or a file.
pub(super) fn named_target(
    args: &ImageInstallArgs,
    survey: &[(Disk, Option<Reason>)],
) -> Result<Target> {
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
pub(super) fn choose(
    sys: &System,
    survey: &[(Disk, Option<Reason>)],
    ask: &Ask,
) -> Result<Option<Target>> {
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
pub(super) fn listed(sys: &System, d: &Disk) -> Result<Target> {
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
pub(super) fn confirm(target: &Target, ask: &Ask, log: &Log) -> Result<bool> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_strings_are_shown_without_control_characters() {
        assert_eq!(printable("Samsung\x1b[2J SSD\n"), "Samsung?[2J SSD?");
        assert_eq!(printable("SN-123"), "SN-123");
    }
}
