//! Worker images: `prov image build` makes a node's USB-bootable disk image (raw GPT, BIOS and
//! UEFI) with the same chroot provisioning as `prov apply --chroot`, run in-process.
//!
//! The steps, each timed into the manifest: [`bootstrap`] (mmdebstrap of the definition's
//! base, or its cached tarball), provision (`playbook --limit NODE --chroot ROOT` through
//! [`crate::run`]), finish ([`rootfs`]: identity, boot menu, GRUB binaries, leftovers, time
//! stamps), [`disk`] (partition table, filesystems, boot code) and the [`manifest`]. The image
//! is written as `.NODE.img.partial` and renamed when complete; a failed or interrupted build
//! removes it and its work directory, so a half image never exists under the final name.
//! What an image is made of is data: [`definition`] (`images/worker.yml`). `prov image test`
//! ([`boot`]) boots an image with both firmwares and checks it over SSH (with `--install`, the
//! installer: [`install`], `prov image install`, which copies the booted image onto an
//! internal disk with the same disk and GRUB code). `prov image upload`,
//! `list`, `fetch`, `mark-good` and `prune` publish compressed images to S3 (`store`, behind
//! the default feature `s3`).

pub mod boot;
pub mod bootstrap;
pub mod compress;
pub mod definition;
pub mod disk;
pub mod install;
pub mod layout;
pub mod manifest;
pub mod pipeline;
pub mod progress;
pub mod rootfs;
#[cfg(feature = "s3")]
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::cli::{Format, ImageBuildArgs, ImageCompressArgs};
use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};

/// `SOURCE_DATE_EPOCH`, or now: the time every file of the image is clamped to.
fn source_date_epoch() -> Result<i64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| Error::usage(format!("SOURCE_DATE_EPOCH={v} is not a number of seconds"))),
        Err(_) => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)),
    }
}

/// Steps with their durations: a progress bar on a terminal, a line as each starts and ends
/// otherwise; nothing with `--format json`.
struct Steps {
    quiet: bool,
    progress: progress::Progress,
    done: Vec<(String, f64)>,
    cancel: Arc<Cancel>,
}

impl Steps {
    fn run<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.cancel.is_cancelled() {
            return Err(Error::new(ErrorKind::Interrupted, "interrupted"));
        }
        if !self.quiet && !self.progress.draws() {
            eprintln!("[prov image] {name} ...");
        }
        let started = Instant::now();
        let bar = self.progress.start(name);
        let out = f();
        bar.finish();
        let out = out.map_err(|e| e.context(format!("image build step '{name}' failed")))?;
        let secs = started.elapsed().as_secs_f64();
        if !self.quiet {
            eprintln!("[prov image] {name}: done in {secs:.1} s");
        }
        self.done.push((name.to_string(), secs));
        Ok(out)
    }
}

/// Remove a directory tree that may hold a root filesystem (never crossing into mounts: the
/// chroot's are gone by then, and a leftover one is refused rather than emptied).
fn remove_tree(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    disk::run(
        "rm",
        &["-rf", "--one-file-system", "--", &dir.display().to_string()],
        &[],
    )
    .map(|_| ())
}

/// `prov image build`: returns the image's path.
pub async fn build(args: ImageBuildArgs, cancel: Arc<Cancel>) -> Result<PathBuf> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::usage(
            "prov image build needs root (it bootstraps a root filesystem and chroots into it)",
        ));
    }
    let def = definition::load(&args.inputs.definition)?;
    let epoch = source_date_epoch()?;
    let node = args.node.clone();
    std::fs::create_dir_all(&args.inputs.output).map_err(|e| Error::io(&args.inputs.output, e))?;
    let out = args
        .inputs
        .output
        .canonicalize()
        .map_err(|e| Error::io(&args.inputs.output, e))?;
    let image = out.join(format!("{node}.img"));
    let partial = out.join(format!(".{node}.img.partial"));
    let work = out.join(format!(".{node}.build"));
    // One build of a node into a directory at a time (they would remove each other's work).
    let lock_path = out.join(format!(".{node}.lock"));
    let lock = std::fs::File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&lock);
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(Error::usage(format!(
            "another build of {node} into {} is running",
            out.display()
        )));
    }
    // What a killed build left.
    remove_tree(&work)?;
    let _ = std::fs::remove_file(&partial);
    std::fs::create_dir_all(work.join("root")).map_err(|e| Error::io(&work, e))?;
    let result = build_in(&args, &def, epoch, &work, &partial, cancel.clone())
        .await
        .and_then(|m| {
            // An interrupt during the last step still means no image.
            if cancel.is_cancelled() {
                Err(Error::new(ErrorKind::Interrupted, "interrupted"))
            } else {
                Ok(m)
            }
        });
    let cleanup = remove_tree(&work);
    let _ = std::fs::remove_file(&lock_path);
    drop(lock);
    match result {
        Ok(manifest) => {
            cleanup?;
            std::fs::rename(&partial, &image).map_err(|e| Error::io(&image, e))?;
            let mpath = out.join(format!("{node}.manifest.json"));
            let tmp = out.join(format!(".{node}.manifest.json.partial"));
            let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
            std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, &mpath).map_err(|e| Error::io(&mpath, e))?;
            Ok(image)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

async fn build_in(
    args: &ImageBuildArgs,
    def: &definition::Definition,
    epoch: i64,
    work: &Path,
    partial: &Path,
    cancel: Arc<Cancel>,
) -> Result<serde_json::Value> {
    let root = work.join("root");
    let node = args.node.as_str();
    let quiet = args.format == Format::Json;
    let previous = args.inputs.output.join(format!("{node}.manifest.json"));
    let mut steps = Steps {
        quiet,
        progress: progress::Progress::new(quiet, Some(&previous)),
        done: Vec::new(),
        cancel: cancel.clone(),
    };
    let cached = steps.run("bootstrap", || {
        bootstrap::bootstrap(def, &root, args.inputs.cache.as_deref(), epoch)
    })?;
    if cancel.is_cancelled() {
        return Err(Error::new(ErrorKind::Interrupted, "interrupted"));
    }
    // Provision: the same code path as `prov apply PLAYBOOK --limit NODE --chroot ROOT`.
    let started = Instant::now();
    if !steps.quiet {
        eprintln!("[prov image] provision ...");
    }
    let mut argv: Vec<String> = vec![
        "prov".into(),
        "apply".into(),
        def.playbook.display().to_string(),
        // An image carries no journal of its own build.
        "--no-journal".into(),
        "--limit".into(),
        node.to_string(),
        "--chroot".into(),
        root.display().to_string(),
    ];
    for i in &args.inputs.inventory {
        argv.extend(["-i".into(), i.clone()]);
    }
    if !def.extra_vars.is_empty() {
        let v = crate::vars::to_json(&crate::vars::map_to_value(&def.extra_vars));
        argv.extend(["-e".into(), v.to_string()]);
    }
    for e in &args.inputs.extra_vars {
        argv.extend(["-e".into(), e.clone()]);
    }
    if args.format == Format::Json {
        argv.extend(["--format".into(), "json".into()]);
    }
    let apply = match <crate::cli::Cli as clap::Parser>::try_parse_from(&argv)
        .map_err(|e| Error::usage(e.to_string()))?
        .command
    {
        crate::cli::Command::Apply(a) => a,
        _ => unreachable!("built as an apply command"),
    };
    let (code, failed) = crate::run::apply_in_process(apply, cancel.clone()).await?;
    if code != 0 {
        let task = match failed {
            Some((task, host)) => format!("task '{task}' failed on {host}"),
            None => format!("it ended with exit code {code}"),
        };
        return Err(Error::runtime(format!(
            "image build step 'provision' failed: {task} ({}); no image was written",
            def.playbook.display()
        )));
    }
    let secs = started.elapsed().as_secs_f64();
    if !steps.quiet {
        eprintln!("[prov image] provision: done in {secs:.1} s");
    }
    steps.done.push(("provision".into(), secs));

    // The chroot's mounts are gone by now; were one left, the walk below would read the build
    // machine's /dev or /proc into the image.
    let left = crate::transport::chroot::mounts_under(&root);
    if !left.is_empty() {
        return Err(Error::runtime(format!(
            "image build step 'provision': mounts are left in the root ({}); not building an image from it",
            left.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let ids = disk::Ids::for_node(node);
    let layout = disk::Layout::new(def.disk.size, def.disk.esp)?;
    let kernel = steps.run("finish root", || rootfs::finish(&root, def, node, &ids))?;
    let grub = steps.run("grub", || rootfs::make_grub(&root, &ids, &def.boot, work))?;
    let status_path = root.join("var/lib/dpkg/status");
    let dpkg_status =
        std::fs::read_to_string(&status_path).map_err(|e| Error::io(&status_path, e))?;
    steps.run("clean", || {
        rootfs::clean(&root)?;
        rootfs::clamp_times(&root, epoch)
    })?;
    steps.run("partition", || disk::partition(partial, &layout, &ids))?;
    steps.run("root filesystem", || {
        disk::make_root_fs(partial, &layout, &ids, &root, epoch)?;
        disk::clamp_ctimes(partial, &layout, &root, epoch)
    })?;
    steps.run("EFI system partition", || {
        disk::make_esp(partial, &layout, &ids, &grub.efi, epoch)
    })?;
    if let Some(bios) = &grub.bios {
        steps.run("BIOS boot", || {
            disk::install_bios_boot(partial, &layout, &bios.boot, &bios.core)
        })?;
    }
    Ok(manifest::manifest(&manifest::Facts {
        node,
        def,
        dpkg_status: &dpkg_status,
        kernel: &kernel,
        ids: &ids,
        layout: &layout,
        source_date_epoch: epoch,
        steps: &steps.done,
        bootstrap_cached: cached,
    }))
}

/// Compress on a blocking thread (liblzma and libzstd are synchronous) with a byte bar on a
/// terminal (none when `quiet`).
pub async fn compress_image(
    img: &Path,
    opts: compress::Options,
    cancel: Arc<Cancel>,
    quiet: bool,
) -> Result<compress::Compressed> {
    let len = std::fs::metadata(img).map_err(|e| Error::io(img, e))?.len();
    let bar = progress::bytes_bar(len, quiet, "compress");
    let (img, bar2) = (img.to_path_buf(), bar.clone());
    let c = tokio::task::spawn_blocking(move || compress::compress(&img, &opts, &cancel, &bar2))
        .await
        .map_err(|e| Error::runtime(format!("compression thread: {e}")))?;
    bar.finish_and_clear();
    c
}

/// `prov image compress`: compress, then say what was written.
pub async fn compress_cmd(args: &ImageCompressArgs, cancel: Arc<Cancel>) -> Result<()> {
    let opts = compress::Options::from_args(&args.compression)?;
    let c = compress_image(&args.image, opts, cancel, args.format == Format::Json).await?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({
                "file": c.path,
                "checksum_file": c.checksum_file,
                "sha256": c.sha256,
                "size": c.size,
                "image_size": c.image_size,
            })
        ),
        Format::Text => {
            eprintln!(
                "[prov image] {} -> {} ({:.1} MiB of {:.1} MiB), sha256 {}",
                args.image.display(),
                c.path.display(),
                c.size as f64 / 1048576.0,
                c.image_size as f64 / 1048576.0,
                c.sha256
            );
            println!("{}", c.path.display());
        }
    }
    Ok(())
}
