//! `prov image pipeline` end to end: golyat-1 and golyat-2 built from
//! images/worker-bookworm.yml (local signed apt repositories and keys endpoint), boot-tested in
//! QEMU, compressed, uploaded to a real S3 server (SeaweedFS on 127.0.0.1) and marked
//! known-good; a third node whose build cannot start fails without stopping the others; the
//! step summary (appended to `$GITHUB_STEP_SUMMARY`) and the JSON summary say so, and the exit
//! code says not all succeeded. The published images are then listed, fetched and verified.
#![cfg(feature = "s3")]

mod common;

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use common::s3::S3Server;
use common::{RepoServer, TempDir, repo_root};

fn cache_dir() -> PathBuf {
    common::image_cache_dir()
}

#[test]
fn the_pipeline_publishes_every_node_that_passes_and_says_which_failed() {
    let repo = RepoServer::start();
    let s3 = S3Server::start(&["arch-worker-images"]);
    let out = TempDir::new("pipeline");
    let url = repo.url();
    let key = repo.dir.parent().unwrap().join("build/boxp1");
    // golyat-3's build cannot start: another build of it holds the directory's lock.
    std::fs::create_dir_all(&out.path).unwrap();
    let lock = std::fs::File::create(out.path.join(".golyat-3.lock")).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let summary = out.path.join("step-summary.md");
    std::fs::write(&summary, "# an earlier step\n").unwrap();
    let run = s3
        .prov()
        .cwd(&repo_root())
        .args(["image", "pipeline", "--node", "golyat-3,golyat-1,golyat-2"])
        .args(["--definition", "images/worker-bookworm.yml", "-o"])
        .arg(&out.path)
        .arg("--cache")
        .arg(cache_dir())
        .arg("--private-key")
        .arg(&key)
        .arg("-e")
        .arg(format!("kubernetes_apt_base_url={url} crio_apt_base_url={url} user_management_github_keys_url={url}/boxp.keys"))
        .args(["--firmware", "uefi", "--zstd", "--level", "3"])
        .args(["--upload", "s3://arch-worker-images/images/x86_64/", "--endpoint-url"])
        .arg(s3.endpoint())
        .env("SOURCE_DATE_EPOCH", "1765000000")
        .env("GITHUB_STEP_SUMMARY", &summary.display().to_string())
        .run();
    drop(lock);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    run.stderr_has("golyat-3: build failed: another build of golyat-3")
        .stderr_has("pipeline: 1 of 3 nodes failed");
    // Text output: each build's task lines, then the summary.
    assert_eq!(
        run.stdout.matches("PLAY RECAP").count(),
        2,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.rfind("PLAY RECAP") < run.stdout.find("## Worker images"),
        "{}",
        run.stdout
    );

    // The JSON summary: golyat-3 failed at its build, the others went all the way.
    let reports: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path.join("pipeline-summary.json")).unwrap(),
    )
    .unwrap();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[0]["node"], "golyat-3");
    assert_eq!(reports[0]["ok"], false);
    assert_eq!(reports[0]["failed_step"], "build");
    for (r, node) in reports[1..].iter().zip(["golyat-1", "golyat-2"]) {
        assert_eq!(r["node"], node);
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["arch"], "amd64");
        assert_eq!(r["kubernetes_version"], "1.32.0-1.1");
        let s3_url = r["s3_url"].as_str().unwrap();
        assert!(
            s3_url.starts_with(&format!("s3://arch-worker-images/images/x86_64/{node}/"))
                && s3_url.ends_with(&format!("/{node}.img.zst")),
            "{s3_url}"
        );
        let file = PathBuf::from(r["compressed"].as_str().unwrap());
        let sums = std::fs::read_to_string(format!("{}.sha256", file.display())).unwrap();
        assert_eq!(sums.split_whitespace().next(), r["sha256"].as_str());
        assert!(r["build_seconds"].as_f64().unwrap() > 0.0);
        assert!(r["test_seconds"].as_f64().unwrap() > 0.0);
    }

    // The step summary: appended after what was there, a row per node, the failure said.
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("# an earlier step\n## Worker images\n"),
        "{md}"
    );
    assert!(md.contains("| golyat-3 | failed at build |"), "{md}");
    for node in ["golyat-1", "golyat-2"] {
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| {node} | ok | amd64 | {node}.img.zst |")))
            .unwrap_or_else(|| panic!("no row for {node}: {md}"));
        assert!(
            row.contains("s3://arch-worker-images/images/x86_64/") && row.contains("1.32.0-1.1"),
            "{row}"
        );
    }
    assert!(md.contains("**golyat-3** failed at build"), "{md}");

    // Published and marked: listed as known-good, fetched back and verified.
    let list = s3
        .prov()
        .args([
            "image",
            "list",
            "--format",
            "json",
            "s3://arch-worker-images/images/x86_64/",
        ])
        .args(["--endpoint-url", &s3.endpoint()])
        .run();
    let builds: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let builds = builds.as_array().unwrap();
    assert_eq!(builds.len(), 2, "{builds:?}");
    assert!(builds.iter().all(|b| b["known_good"] == true), "{builds:?}");
    let fetched = TempDir::new("pipeline-fetch");
    s3.prov()
        .args(["image", "fetch", "--node", "golyat-2", "--latest-good"])
        .arg("-o")
        .arg(&fetched.path)
        .arg("s3://arch-worker-images/images/x86_64/")
        .args(["--endpoint-url", &s3.endpoint()])
        .run()
        .ok();
    let got = fetched.path.join("golyat-2.img.zst");
    common::Prov::new()
        .args(["image", "verify"])
        .arg(&got)
        .run()
        .ok()
        .stdout_has(reports[2]["sha256"].as_str().unwrap());
}
