//! `prov image upload`, `list`, `fetch`, `mark-good` and `prune` against a real S3 server
//! (SeaweedFS on 127.0.0.1, tests/common/s3.rs): a multipart round trip read back with the SDK
//! (bytes, metadata, sidecars, peak memory), a part corrupted on the way (a proxy flips one
//! byte) rejected by the server and sent again, a killed upload cleaned up by the next one and
//! an interrupted one aborted at once, one-line errors with their exit codes (credentials,
//! bucket, endpoint down or silent), and the catalog: list, fetch by commit / latest /
//! latest-good with verification, prune that keeps the newest known-good build.
#![cfg(feature = "s3")]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use common::s3::{S3Server, block_on, free_ports};
use common::{Run, TempDir, wait_until};
use prov::image::store::layout;
use sha2::Digest;

const DAY: i64 = 86_400;

/// A compressed image as `prov image compress` leaves it: `NODE.img.xz` (a sparse file with
/// seeded data here and there), `NODE.img.xz.sha256` (by sha256sum) and `NODE.manifest.json`.
struct ImageFile {
    node: String,
    size: u64,
    date: i64,
    commit: Option<String>,
    seed: u64,
}

/// A written image.
struct Written {
    dir: TempDir,
    path: PathBuf,
    sha256: String,
    build_id: String,
}

impl ImageFile {
    fn new(node: &str) -> ImageFile {
        ImageFile {
            node: node.into(),
            size: 1 << 20,
            date: 1_796_581_800,
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            seed: 1,
        }
    }

    fn size(mut self, bytes: u64) -> ImageFile {
        self.size = bytes;
        self
    }

    fn days_ago(mut self, days: i64) -> ImageFile {
        self.date = prov::utc::now() - days * DAY;
        self
    }

    fn commit(mut self, c: &str) -> ImageFile {
        self.commit = Some(c.into());
        self
    }

    fn seed(mut self, s: u64) -> ImageFile {
        self.seed = s;
        self
    }

    fn write(self) -> Written {
        let dir = TempDir::new("img");
        let name = format!("{}.img.xz", self.node);
        let path = dir.path.join(&name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.set_len(self.size).unwrap();
        // 64 KiB of seeded bytes at the start, the end and every 37 MiB.
        let mut x = self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut block = vec![0u8; 64 << 10];
        let mut offsets: Vec<u64> = (0..self.size).step_by(37 << 20).collect();
        offsets.push(self.size.saturating_sub(block.len() as u64));
        for off in offsets {
            for b in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let n = block.len().min((self.size - off) as usize);
            std::os::unix::fs::FileExt::write_all_at(&f, &block[..n], off).unwrap();
        }
        f.flush().unwrap();
        let out = Command::new("sha256sum")
            .arg(&name)
            .current_dir(&dir.path)
            .output()
            .unwrap();
        assert!(out.status.success());
        std::fs::write(dir.path.join(format!("{name}.sha256")), &out.stdout).unwrap();
        let sha256 = String::from_utf8_lossy(&out.stdout)[..64].to_string();
        let manifest = serde_json::json!({
            "node": self.node,
            "arch": "amd64",
            "build_date": prov::utc::iso(self.date),
            "kubernetes": {"kubelet": "1.32.0-1.1"},
            "crio": "1.32.1-1.1",
            "git_commit": self.commit,
            "prov_version": "0.1.0",
        });
        std::fs::write(
            dir.path.join(format!("{}.manifest.json", self.node)),
            serde_json::to_string_pretty(&manifest).unwrap(),
        )
        .unwrap();
        Written {
            build_id: layout::build_id(self.date, self.commit.as_deref()),
            dir,
            path,
            sha256,
        }
    }
}

impl Written {
    fn sidecar(&self) -> Vec<u8> {
        std::fs::read(format!("{}.sha256", self.path.display())).unwrap()
    }

    fn manifest(&self) -> Vec<u8> {
        let node = self
            .path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".img.xz");
        std::fs::read(self.dir.path.join(format!("{node}.manifest.json"))).unwrap()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(bytes))
}

fn file_sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

fn get(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    block_on(async {
        let out = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        out.body.collect().await.unwrap().into_bytes().to_vec()
    })
}

fn keys(client: &Client, bucket: &str, prefix: &str) -> Vec<String> {
    block_on(async {
        let out = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .unwrap();
        let mut keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(String::from))
            .collect();
        keys.sort();
        keys
    })
}

/// Unfinished multipart uploads under a prefix: (key, upload id).
fn unfinished(client: &Client, bucket: &str, prefix: &str) -> Vec<(String, String)> {
    block_on(async {
        let out = client
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .unwrap();
        out.uploads()
            .iter()
            .map(|u| {
                (
                    u.key().unwrap_or_default().to_string(),
                    u.upload_id().unwrap_or_default().to_string(),
                )
            })
            .collect()
    })
}

/// Parts uploaded so far to an unfinished upload.
fn parts_of(client: &Client, bucket: &str, key: &str, id: &str) -> usize {
    block_on(
        client
            .list_parts()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .send(),
    )
    .map(|o| o.parts().len())
    .unwrap_or(0)
}

/// `prov image upload IMAGE s3://BUCKET/PREFIX/ --endpoint-url ...` with extra arguments.
fn upload(s3: &S3Server, img: &Written, url: &str, extra: &[&str]) -> Run {
    s3.prov()
        .args(["image", "upload"])
        .arg(&img.path)
        .arg(url)
        .args(["--endpoint-url", &s3.endpoint()])
        .args(extra)
        .run()
}

/// `prov image SUBCOMMAND ARGS... --endpoint-url ...`.
fn image_cmd(s3: &S3Server, args: &[&str]) -> Run {
    s3.prov()
        .arg("image")
        .args(args)
        .args(["--endpoint-url", &s3.endpoint()])
        .run()
}

/// Run prov and return its result with its peak resident memory (KiB, from wait4).
#[allow(clippy::zombie_processes, reason = "wait4 reaps the child")]
fn run_measured(mut cmd: Command) -> (i32, u64, String) {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, usage.ru_maxrss as u64, reader.join().unwrap())
}

#[test]
fn a_multipart_upload_round_trips_bytes_metadata_and_sidecars_in_bounded_memory() {
    let s3 = S3Server::start(&["images"]);
    let img = ImageFile::new("golyat-1").size(400 << 20).write();
    // 64 MiB parts, 4 at once: a prov that held its parts in memory would pass 200 MB.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prov"));
    cmd.args(["image", "upload"])
        .arg(&img.path)
        .args([
            "s3://images/workers/",
            "--endpoint-url",
            &s3.endpoint(),
            "--part-size",
            "64",
        ])
        .env("AWS_ACCESS_KEY_ID", common::s3::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::s3::SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
    let (code, max_rss_kib, stderr) = run_measured(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("in 7 parts"), "{stderr}");
    assert!(max_rss_kib < 200 * 1024, "peak RSS {max_rss_kib} KiB");
    eprintln!("peak RSS of the upload: {max_rss_kib} KiB");

    let client = s3.client();
    let dir = format!("workers/golyat-1/{}", img.build_id);
    assert_eq!(
        keys(&client, "images", "workers/"),
        vec![
            format!("{dir}/golyat-1.img.xz"),
            format!("{dir}/golyat-1.img.xz.sha256"),
            format!("{dir}/golyat-1.manifest.json"),
        ]
    );
    let bytes = get(&client, "images", &format!("{dir}/golyat-1.img.xz"));
    assert_eq!(bytes.len() as u64, 400 << 20);
    assert_eq!(sha256_hex(&bytes), img.sha256);
    drop(bytes);
    assert_eq!(
        get(&client, "images", &format!("{dir}/golyat-1.img.xz.sha256")),
        img.sidecar()
    );
    assert_eq!(
        get(&client, "images", &format!("{dir}/golyat-1.manifest.json")),
        img.manifest()
    );
    let head = block_on(
        client
            .head_object()
            .bucket("images")
            .key(format!("{dir}/golyat-1.img.xz"))
            .send(),
    )
    .unwrap();
    let meta = head.metadata().unwrap();
    let expected = [
        ("build-date", "2026-12-06T18:30:00Z"),
        ("git-commit", "0123456789abcdef0123456789abcdef01234567"),
        ("node", "golyat-1"),
        ("arch", "amd64"),
        ("sha256", img.sha256.as_str()),
        ("kubernetes-version", "1.32.0-1.1"),
        ("crio-version", "1.32.1-1.1"),
        ("prov-version", "0.1.0"),
    ];
    for (k, v) in expected {
        assert_eq!(
            meta.get(k).map(String::as_str),
            Some(v),
            "metadata {k}: {meta:?}"
        );
    }
    assert_eq!(meta.len(), expected.len(), "{meta:?}");
    assert_eq!(head.content_type(), Some("application/x-xz"));
    assert!(unfinished(&client, "images", "").is_empty());
}

/// A TCP proxy on 127.0.0.1 that flips one byte of what a client sends, once: the byte at
/// `at` of the first connection that gets that far (inside a part's body).
struct FlipProxy {
    port: u16,
    flipped: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl FlipProxy {
    fn start(upstream: u16, at: u64) -> FlipProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let flipped = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (flipped.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let f = f.clone();
                std::thread::spawn(move || pipe(client, server, Some((at, f))));
                std::thread::spawn(move || pipe(s2, c2, None));
            }
        });
        FlipProxy {
            port,
            flipped,
            stop,
        }
    }
}

impl Drop for FlipProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copy `from` to `to`; with `flip`, invert the byte at that offset unless one was flipped.
fn pipe(mut from: TcpStream, mut to: TcpStream, flip: Option<(u64, Arc<AtomicBool>)>) {
    let mut buf = vec![0u8; 64 << 10];
    let mut seen = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some((at, flipped)) = &flip
            && seen <= *at
            && *at < seen + n as u64
            && flipped
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            buf[(*at - seen) as usize] ^= 0xff;
        }
        seen += n as u64;
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

#[test]
fn a_part_corrupted_on_the_way_is_rejected_by_the_server_and_sent_again() {
    let s3 = S3Server::start(&["images"]);
    let proxy = FlipProxy::start(s3.port, 5 << 20);
    let img = ImageFile::new("golyat-1").size(48 << 20).seed(7).write();
    // Every 64 KiB of the image carries data, so the flipped byte is a data byte.
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&img.path)
            .unwrap();
        let mut x = 88172645463325252u64;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..48 {
            for b in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            f.write_all(&block).unwrap();
        }
    }
    let sha = file_sha256(&img.path);
    std::fs::write(
        format!("{}.sha256", img.path.display()),
        format!("{sha}  golyat-1.img.xz\n"),
    )
    .unwrap();
    let run = s3
        .prov()
        .args(["image", "upload"])
        .arg(&img.path)
        .args(["s3://images/", "--part-size", "16"])
        .args([
            "--endpoint-url",
            &format!("http://127.0.0.1:{}", proxy.port),
        ])
        .run();
    // The server checked the part's CRC32C and refused it; prov sent the part again.
    run.ok()
        .stderr_has("BadDigest")
        .stderr_has("retrying (attempt 2 of 5)");
    assert!(
        proxy.flipped.load(Ordering::SeqCst),
        "the proxy flipped no byte"
    );
    let client = s3.client();
    let key = format!("golyat-1/{}/golyat-1.img.xz", img.build_id);
    assert_eq!(sha256_hex(&get(&client, "images", &key)), sha);
    assert!(unfinished(&client, "images", "").is_empty());
}

#[test]
fn a_killed_upload_is_aborted_by_the_next_upload_and_an_interrupted_one_at_once() {
    let s3 = S3Server::start(&["images"]);
    let client = s3.client();
    let big = ImageFile::new("golyat-1").size(1 << 30).days_ago(2).write();
    // Wait until the upload has parts on the server, then stop prov.
    let start_upload = |img: &Written| {
        let p = s3
            .prov()
            .args(["image", "upload"])
            .arg(&img.path)
            .args([
                "s3://images/w/",
                "--part-size",
                "8",
                "--endpoint-url",
                &s3.endpoint(),
            ])
            .spawn();
        wait_until(60, "an upload with parts", || {
            unfinished(&client, "images", "w/")
                .iter()
                .any(|(k, id)| parts_of(&client, "images", k, id) > 0)
        });
        p
    };

    start_upload(&big).kill();
    let left = unfinished(&client, "images", "w/");
    assert_eq!(left.len(), 1, "{left:?}");
    let small = ImageFile::new("golyat-1").days_ago(1).write();
    upload(&s3, &small, "s3://images/w/", &[])
        .ok()
        .stderr_has("aborted an unfinished upload of s3://images/w/golyat-1/");
    assert!(unfinished(&client, "images", "w/").is_empty());

    // SIGTERM: prov aborts its own upload before it exits.
    let p = start_upload(&big);
    p.signal(libc::SIGTERM);
    p.finish().code(143);
    assert!(unfinished(&client, "images", "w/").is_empty());
    let left = keys(&client, "images", "w/");
    assert!(left.iter().all(|k| !k.contains(&big.build_id)), "{left:?}");
}

/// The error is one `ERROR:` line, the last (before it, at most prov's own progress lines).
#[track_caller]
fn one_error_line(run: &Run, code: i32, has: &str) {
    run.code(code).stderr_has(has);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let (last, before) = lines.split_last().expect("an error line");
    assert!(last.starts_with("ERROR: "), "{}", run.stderr);
    assert!(
        before.iter().all(|l| l.starts_with("[prov image] ")),
        "{}",
        run.stderr
    );
}

#[test]
fn credentials_bucket_and_endpoint_failures_are_one_line_with_their_exit_code() {
    let s3 = S3Server::start(&["images"]);
    let img = ImageFile::new("golyat-1").write();
    let timed = |f: &dyn Fn() -> Run, limit: u64| {
        let start = Instant::now();
        let run = f();
        assert!(
            start.elapsed() < Duration::from_secs(limit),
            "took {:?}",
            start.elapsed()
        );
        run
    };
    let wrong = timed(
        &|| {
            s3.prov()
                .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
                .args(["image", "upload"])
                .arg(&img.path)
                .args(["s3://images/", "--endpoint-url", &s3.endpoint()])
                .run()
        },
        20,
    );
    one_error_line(&wrong, 6, "refused the credentials");
    let none = timed(
        &|| {
            s3.prov()
                .env_remove("AWS_ACCESS_KEY_ID")
                .env_remove("AWS_SECRET_ACCESS_KEY")
                .args([
                    "image",
                    "list",
                    "s3://images/",
                    "--endpoint-url",
                    &s3.endpoint(),
                ])
                .run()
        },
        20,
    );
    one_error_line(&none, 6, "no usable AWS credentials");
    let missing = timed(&|| upload(&s3, &img, "s3://no-such-bucket/x/", &[]), 20);
    one_error_line(&missing, 7, "bucket no-such-bucket does not exist");
    one_error_line(
        &image_cmd(&s3, &["list", "s3://no-such-bucket/"]),
        7,
        "does not exist",
    );
    one_error_line(
        &image_cmd(
            &s3,
            &[
                "fetch",
                "--node",
                "nobody",
                "s3://images/",
                "-o",
                "/nonexistent/out",
            ],
        ),
        7,
        "no build of nobody under s3://images/",
    );

    // Nothing listens on the port.
    let port = free_ports(1)[0];
    let down = timed(
        &|| {
            s3.prov()
                .args(["image", "upload"])
                .arg(&img.path)
                .arg("s3://images/")
                .args(["--endpoint-url", &format!("http://127.0.0.1:{port}")])
                .run()
        },
        30,
    );
    one_error_line(&down, 4, &format!("cannot reach http://127.0.0.1:{port}"));
    // A server that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming() {
            held.push(c);
        }
    });
    let mute = timed(
        &|| {
            s3.prov()
                .args(["image", "list", "s3://images/", "--timeout", "2"])
                .args(["--endpoint-url", &format!("http://127.0.0.1:{silent_port}")])
                .run()
        },
        40,
    );
    one_error_line(&mute, 4, "no answer from");
    // Bad input is a usage error before any request.
    one_error_line(
        &image_cmd(&s3, &["list", "https://images/"]),
        5,
        "expected an S3 URL",
    );
    one_error_line(
        &image_cmd(&s3, &["prune", "--older-than", "soon", "s3://images/"]),
        5,
        "--older-than soon",
    );
}

#[test]
fn list_fetch_mark_good_and_prune_follow_build_dates_and_the_known_good_mark() {
    let s3 = S3Server::start(&["images"]);
    let client = s3.client();
    let url = "s3://images/fleet/";
    let commit = |n: u8| format!("{n:x}{}", &"0123456789abcdef0123456789abcdef01234567"[..39]);
    // golyat-1: 200 (good), 150 (good), 100 and 1 day old; golyat-2: 300 days (good).
    let builds: Vec<(&str, i64, u8)> = vec![
        ("golyat-1", 200, 1),
        ("golyat-1", 150, 2),
        ("golyat-1", 100, 3),
        ("golyat-1", 1, 4),
        ("golyat-2", 300, 5),
    ];
    let images: Vec<Written> = builds
        .iter()
        .map(|(node, days, n)| {
            let img = ImageFile::new(node)
                .size(3 << 20)
                .days_ago(*days)
                .commit(&commit(*n))
                .seed(u64::from(*n))
                .write();
            upload(&s3, &img, url, &[]).ok();
            img
        })
        .collect();
    for n in [1, 2] {
        image_cmd(
            &s3,
            &[
                "mark-good",
                "--node",
                "golyat-1",
                "--commit",
                &commit(n)[..10],
                url,
            ],
        )
        .ok()
        .stdout_has("marked known-good");
    }
    image_cmd(&s3, &["mark-good", "--node", "golyat-2", url]).ok();

    let listed = image_cmd(&s3, &["list", url, "--format", "json"]);
    let doc = listed.ok().json();
    let rows = doc.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let good: Vec<(String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["build_id"].as_str().unwrap().to_string(),
                r["known_good"].as_bool().unwrap(),
            )
        })
        .collect();
    let expect: Vec<(String, bool)> = images
        .iter()
        .zip([true, true, false, false, true])
        .map(|(i, g)| (i.build_id.clone(), g))
        .collect();
    assert_eq!(good, expect);
    assert_eq!(rows[0]["sha256"], images[0].sha256.as_str());
    let text = image_cmd(&s3, &["list", "--node", "golyat-2", url]);
    text.ok()
        .stdout_has("NODE      BUILD DATE")
        .stdout_has("golyat-2");
    assert_eq!(text.stdout.lines().count(), 2, "{}", text.stdout);

    // fetch: latest, latest-good, by commit; each verified and beside its sidecars.
    let out = TempDir::new("fetch");
    let fetch = |extra: &[&str]| {
        let mut args = vec!["fetch", "--node", "golyat-1", url, "-o"];
        let o = out.path.display().to_string();
        args.push(&o);
        args.extend(extra);
        image_cmd(&s3, &args)
    };
    let fetched = out.path.join("golyat-1.img.xz");
    let third = commit(3);
    for (extra, want) in [
        (vec![], 3),
        (vec!["--latest-good"], 1),
        (vec!["--commit", &third[..7]], 2),
    ] {
        fetch(&extra)
            .ok()
            .stdout_has(&fetched.display().to_string());
        assert_eq!(file_sha256(&fetched), images[want].sha256, "{extra:?}");
        assert_eq!(
            std::fs::read_to_string(out.path.join("golyat-1.img.xz.sha256")).unwrap(),
            format!("{}  golyat-1.img.xz\n", images[want].sha256)
        );
        assert_eq!(
            std::fs::read(out.path.join("golyat-1.manifest.json")).unwrap(),
            images[want].manifest()
        );
    }

    // prune --check deletes nothing; prune keeps each node's newest known-good build.
    let before = keys(&client, "images", "fleet/");
    assert_eq!(before.len(), 15);
    let dir = |i: usize| format!("s3://images/fleet/{}/{}/", builds[i].0, images[i].build_id);
    let check = image_cmd(&s3, &["prune", "--older-than", "90d", "--check", url]);
    check
        .ok()
        .stdout_has(&format!("would delete {}", dir(0)))
        .stdout_has(&format!("would delete {}", dir(2)))
        .stdout_has(&format!("kept {}", dir(1)))
        .stdout_has(&format!("kept {}", dir(4)))
        .stdout_has("2 build(s) would delete");
    assert_eq!(keys(&client, "images", "fleet/"), before);
    // --node: only that node's builds are looked at.
    let one = image_cmd(
        &s3,
        &[
            "prune",
            "--older-than",
            "90d",
            "--check",
            "--node",
            "golyat-2",
            url,
            "--format",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(one["deleted"], serde_json::json!([]));
    assert_eq!(one["kept_known_good"], serde_json::json!([dir(4)]));
    let pruned = image_cmd(
        &s3,
        &["prune", "--older-than", "90d", url, "--format", "json"],
    )
    .ok()
    .json();
    assert_eq!(pruned["deleted"], serde_json::json!([dir(0), dir(2)]));
    let left = keys(&client, "images", "fleet/");
    assert_eq!(left.len(), 9);
    for i in [1, 3, 4] {
        assert!(
            left.iter().any(|k| k.contains(&images[i].build_id)),
            "{i}: {left:?}"
        );
    }
    // Even a limit that every build passes keeps the newest known-good ones.
    let all = image_cmd(
        &s3,
        &["prune", "--older-than", "0s", url, "--format", "json"],
    )
    .ok()
    .json();
    assert_eq!(all["deleted"], serde_json::json!([dir(3)]));
    assert_eq!(all["kept_known_good"], serde_json::json!([dir(1), dir(4)]));

    // A corrupted object is refused and leaves nothing behind (golyat-1's only build now).
    let key = format!("fleet/golyat-1/{}/golyat-1.img.xz", images[1].build_id);
    let mut bytes = get(&client, "images", &key);
    bytes[1000] ^= 1;
    block_on(
        client
            .put_object()
            .bucket("images")
            .key(&key)
            .body(bytes.into())
            .send(),
    )
    .unwrap();
    let empty = TempDir::new("fetch-bad");
    let bad = image_cmd(
        &s3,
        &[
            "fetch",
            "--node",
            "golyat-1",
            url,
            "-o",
            &empty.path.display().to_string(),
        ],
    );
    one_error_line(&bad, 1, "the object is corrupt, nothing was written");
    assert_eq!(std::fs::read_dir(&empty.path).unwrap().count(), 0);
}
