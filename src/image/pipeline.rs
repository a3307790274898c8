//! `prov image pipeline`: for each node, build → boot test → compress → upload → mark
//! known-good, all in this process (the same code as the separate commands), then one summary.
//!
//! Nodes come from the inventory (`all` is its `workers` group; no list is written down
//! anywhere else). A failed node does not stop the others; the exit code says whether all
//! succeeded. The summary — node, arch, image, size, sha256, S3 URL, Kubernetes and CRI-O
//! versions from the manifest, build and boot-test times — is written as Markdown to
//! `$GITHUB_STEP_SUMMARY` when that is set (GitHub Actions shows it on the run's page) and
//! as JSON to `OUT/pipeline-summary.json` (and to stdout with `--format json`, after each
//! build's provisioning report; with text, the builds' task lines come first).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::cli::{Format, ImageBuildArgs, ImagePipelineArgs, ImageTestArgs};
use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};

/// One node's way through the pipeline.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeReport {
    pub node: String,
    pub ok: bool,
    /// The step that failed (`build`, `test`, `compress`, `upload`, `mark-good`).
    pub failed_step: Option<String>,
    pub error: Option<String>,
    pub arch: Option<String>,
    pub image: Option<PathBuf>,
    pub compressed: Option<PathBuf>,
    /// Bytes of the compressed image.
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub s3_url: Option<String>,
    pub kubernetes_version: Option<String>,
    pub crio_version: Option<String>,
    pub build_seconds: Option<f64>,
    pub test_seconds: Option<f64>,
    pub compress_seconds: Option<f64>,
    pub upload_seconds: Option<f64>,
}

/// The nodes `--node` names: `all` is the inventory's workers group; names must be hosts of
/// the inventory.
pub fn select_nodes(
    wanted: &[String],
    group: &str,
    inv: &crate::inventory::Inventory,
) -> Result<Vec<String>> {
    let members = inv.hosts_of(group);
    let mut out: Vec<String> = Vec::new();
    for w in wanted.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
        if w == "all" {
            if members.is_empty() {
                return Err(Error::usage(format!(
                    "--node all: the inventory has no hosts in the '{group}' group"
                )));
            }
            out.extend(members.iter().cloned());
        } else if inv.listed().any(|h| h == w) {
            out.push(w.to_string());
        } else {
            return Err(Error::usage(format!(
                "--node {w}: not a host of the inventory{}",
                crate::error::did_you_mean(w, members.iter().map(String::as_str))
            )));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|n| seen.insert(n.clone()));
    if out.is_empty() {
        return Err(Error::usage("--node: name nodes or 'all'"));
    }
    Ok(out)
}

fn manifest_of(dir: &Path, node: &str) -> serde_json::Value {
    std::fs::read_to_string(dir.join(format!("{node}.manifest.json")))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// A step of one node: its result and seconds, or its error kept as the node's failure.
async fn step<T>(
    report: &mut NodeReport,
    name: &str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Option<(T, Option<f64>)> {
    eprintln!("[prov image] {}: {name} ...", report.node);
    let started = Instant::now();
    match fut.await {
        Ok(v) => {
            let secs = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
            eprintln!("[prov image] {}: {name}: done in {secs:.1} s", report.node);
            Some((v, Some(secs)))
        }
        Err(e) => {
            eprintln!("[prov image] {}: {name} failed: {e}", report.node);
            report.failed_step = Some(name.to_string());
            report.error = Some(e.to_string());
            None
        }
    }
}

/// Everything for one node; stops at its first failed step.
async fn run_node(args: &ImagePipelineArgs, node: &str, cancel: &Arc<Cancel>) -> NodeReport {
    let mut r = NodeReport {
        node: node.to_string(),
        ..Default::default()
    };
    let build = ImageBuildArgs {
        node: node.to_string(),
        inputs: args.inputs.clone(),
        // The provisioning run reports as the pipeline does: task lines in a text log, one
        // JSON document per build before the summary's with --format json.
        format: args.format,
    };
    let Some((img, secs)) = step(&mut r, "build", super::build(build, cancel.clone())).await else {
        return r;
    };
    r.build_seconds = secs;
    let m = manifest_of(img.parent().unwrap_or(Path::new(".")), node);
    r.arch = m["arch"].as_str().map(str::to_string);
    r.kubernetes_version = m["kubernetes"]["kubelet"].as_str().map(str::to_string);
    r.crio_version = m["crio"].as_str().map(str::to_string);
    r.image = Some(img.clone());
    let test = ImageTestArgs {
        image: img.clone(),
        boot: args.boot.clone(),
        user: None,
        inventory: args.inputs.inventory.clone(),
        extra_vars: args.inputs.extra_vars.clone(),
        netplan_file: "/etc/netplan/01-prov.yaml".into(),
        install: false,
    };
    let tested = async {
        tokio::select! {
            lines = super::boot::test(test) => lines,
            _ = cancel.cancelled() => Err(Error::new(ErrorKind::Interrupted, "interrupted")),
        }
    };
    match step(&mut r, "test", tested).await {
        Some((_, secs)) => r.test_seconds = secs,
        None => return r,
    }
    let compressed = async {
        let opts = super::compress::Options::from_args(&args.compression)?;
        super::compress_image(&img, opts, cancel.clone(), args.format == Format::Json).await
    };
    let Some((c, secs)) = step(&mut r, "compress", compressed).await else {
        return r;
    };
    r.compress_seconds = secs;
    r.compressed = Some(c.path.clone());
    r.size = Some(c.size);
    r.sha256 = Some(c.sha256.clone());
    if let Some(url) = &args.upload {
        match publish(args, url, node, &c.path, cancel, &mut r).await {
            Some(u) => r.s3_url = Some(u),
            None => return r,
        }
    }
    r.ok = true;
    r
}

/// Upload and mark known-good (feature `s3`); the image's S3 URL.
#[cfg(feature = "s3")]
async fn publish(
    args: &ImagePipelineArgs,
    url: &str,
    node: &str,
    file: &Path,
    cancel: &Arc<Cancel>,
    r: &mut NodeReport,
) -> Option<String> {
    use super::store::{catalog, upload};
    let s3 = crate::cli::S3Args {
        url: url.to_string(),
        endpoint_url: args.endpoint_url.clone(),
        region: args.region.clone(),
        timeout: 30,
        format: args.format,
    };
    let up = crate::cli::ImageUploadArgs {
        image: file.to_path_buf(),
        s3: s3.clone(),
        part_size_mib: 32,
        parallel: 4,
    };
    let (uploaded, secs) = step(r, "upload", upload::upload(&up, cancel.clone())).await?;
    r.upload_seconds = secs;
    let mark = crate::cli::ImageMarkGoodArgs {
        node: node.to_string(),
        build: Some(uploaded.build_id.clone()),
        commit: None,
        s3,
    };
    step(r, "mark-good", catalog::mark_good(&mark)).await?;
    Some(uploaded.url)
}

#[cfg(not(feature = "s3"))]
async fn publish(
    _: &ImagePipelineArgs,
    _: &str,
    _: &str,
    _: &Path,
    _: &Arc<Cancel>,
    r: &mut NodeReport,
) -> Option<String> {
    r.failed_step = Some("upload".into());
    r.error = Some("this prov was built without the s3 feature".into());
    None
}

fn short(s: &Option<String>, n: usize) -> String {
    s.as_deref()
        .map(|s| s.chars().take(n).collect())
        .unwrap_or_else(|| "-".into())
}

fn secs(s: Option<f64>) -> String {
    s.map(|s| format!("{s:.0} s")).unwrap_or_else(|| "-".into())
}

/// Markdown for `$GITHUB_STEP_SUMMARY`: a row per node, then what failed.
pub fn markdown(reports: &[NodeReport]) -> String {
    let mut md = String::from("## Worker images\n\n");
    md.push_str("| node | result | arch | image | size | sha256 | S3 | Kubernetes | CRI-O | build | boot test |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in reports {
        let result = if r.ok {
            "ok".to_string()
        } else {
            format!("failed at {}", r.failed_step.as_deref().unwrap_or("?"))
        };
        let image = r
            .compressed
            .as_ref()
            .or(r.image.as_ref())
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "-".into());
        let size = r
            .size
            .map(|b| format!("{:.1} MiB", b as f64 / 1048576.0))
            .unwrap_or_else(|| "-".into());
        md.push_str(&format!(
            "| {} | {result} | {} | {image} | {size} | `{}` | {} | {} | {} | {} | {} |\n",
            r.node,
            short(&r.arch, 16),
            short(&r.sha256, 16),
            r.s3_url.as_deref().unwrap_or("-"),
            short(&r.kubernetes_version, 20),
            short(&r.crio_version, 20),
            secs(r.build_seconds),
            secs(r.test_seconds),
        ));
    }
    for r in reports.iter().filter(|r| !r.ok) {
        md.push_str(&format!(
            "\n**{}** failed at {}: {}\n",
            r.node,
            r.failed_step.as_deref().unwrap_or("?"),
            r.error.as_deref().unwrap_or("")
        ));
    }
    md
}

/// Append to a file (the step summary may hold other steps' sections).
fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Error::io(path, e))
}

/// `prov image pipeline`: the exit code is 0 when every node went through.
pub async fn pipeline(args: ImagePipelineArgs, cancel: Arc<Cancel>) -> Result<i32> {
    let cfg = crate::config::Config::load()?;
    let sources = cfg.inventory_sources(&args.inputs.inventory);
    let inv = crate::inventory::Inventory::load(&sources)?;
    let nodes = select_nodes(&args.node, &args.group, &inv)?;
    if args.upload.is_some() && cfg!(not(feature = "s3")) {
        return Err(Error::usage(
            "--upload: this prov was built without the s3 feature",
        ));
    }
    std::fs::create_dir_all(&args.inputs.output).map_err(|e| Error::io(&args.inputs.output, e))?;
    let mut reports = Vec::new();
    for node in &nodes {
        if cancel.is_cancelled() {
            break;
        }
        reports.push(run_node(&args, node, &cancel).await);
    }
    if cancel.is_cancelled() {
        return Err(Error::new(ErrorKind::Interrupted, "interrupted"));
    }
    let json = serde_json::to_string_pretty(&reports)
        .map_err(|e| Error::runtime(format!("summary: {e}")))?;
    super::compress::write_atomically(&args.inputs.output.join("pipeline-summary.json"), &json)?;
    let md = markdown(&reports);
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        append(Path::new(&path), &md)?;
    }
    match args.format {
        Format::Json => println!("{json}"),
        Format::Text => print!("{md}"),
    }
    let failed = reports.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        eprintln!(
            "[prov image] pipeline: {failed} of {} nodes failed",
            reports.len()
        );
        return Ok(1);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory() -> crate::inventory::Inventory {
        let dir = std::env::temp_dir().join(format!("prov-pipeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("hosts.yml");
        std::fs::write(
            &p,
            "all:\n  children:\n    workers:\n      hosts: {w-1: {}, w-2: {}}\n    control: {hosts: {c-1: {}}}\n",
        )
        .unwrap();
        let inv = crate::inventory::Inventory::load(&[p.display().to_string()]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        inv
    }

    #[test]
    fn nodes_come_from_the_inventory() {
        let inv = inventory();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            select_nodes(&s(&["all"]), "workers", &inv).unwrap(),
            ["w-1", "w-2"]
        );
        assert_eq!(
            select_nodes(&s(&["w-2", "c-1", "w-2"]), "workers", &inv).unwrap(),
            ["w-2", "c-1"]
        );
        let err = select_nodes(&s(&["w-3"]), "workers", &inv)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a host of the inventory"), "{err}");
        let err = select_nodes(&s(&["all"]), "nope", &inv)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no hosts in the 'nope' group"), "{err}");
        assert!(select_nodes(&[], "workers", &inv).is_err());
    }

    #[test]
    fn the_summary_has_a_row_per_node_and_the_failures() {
        let ok = NodeReport {
            node: "w-1".into(),
            ok: true,
            arch: Some("amd64".into()),
            compressed: Some("/o/w-1.img.xz".into()),
            size: Some(300 << 20),
            sha256: Some("ab".repeat(32)),
            s3_url: Some("s3://b/p/w-1/x/w-1.img.xz".into()),
            kubernetes_version: Some("1.32.0-1.1".into()),
            crio_version: Some("1.32.1-1.1".into()),
            build_seconds: Some(33.2),
            test_seconds: Some(91.0),
            ..Default::default()
        };
        let bad = NodeReport {
            node: "w-2".into(),
            failed_step: Some("test".into()),
            error: Some("uefi boot test failed at 'boot'".into()),
            ..Default::default()
        };
        let md = markdown(&[ok, bad]);
        assert!(md.contains("| w-1 | ok | amd64 | w-1.img.xz | 300.0 MiB | `abababababababab` | s3://b/p/w-1/x/w-1.img.xz | 1.32.0-1.1 | 1.32.1-1.1 | 33 s | 91 s |"), "{md}");
        assert!(md.contains("| w-2 | failed at test |"), "{md}");
        assert!(
            md.contains("**w-2** failed at test: uefi boot test failed at 'boot'"),
            "{md}"
        );
    }
}
