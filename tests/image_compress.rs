//! `prov image compress` and `prov image verify` through the binary: a sparse image
//! compressed with xz and with zstd, decompressed by the xz and zstd tools to the same bytes,
//! its checksum file accepted by `sha256sum -c`; a corrupted file refused with exit 1; an
//! interrupted compression leaves neither file nor temporary behind.

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

use common::{Prov, TempDir};

/// 256 MiB, mostly holes, with a few MiB of data at three places.
fn sparse_image(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    f.set_len(256 << 20).unwrap();
    for (at, seed) in [(0u64, 3u32), (100 << 20, 5), (255 << 20, 7)] {
        let data: Vec<u8> = (0..(1u32 << 20))
            .map(|i| (i.wrapping_mul(seed).wrapping_add(i >> 9) % 251) as u8)
            .collect();
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&data).unwrap();
    }
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn compressed_images_decompress_to_the_same_bytes_and_their_checksums_check() {
    let dir = TempDir::new("compress");
    let img = dir.path.join("node.img");
    sparse_image(&img);
    let want = sha256(&img);
    for (flag, ext, tool) in [("--xz", "xz", "xz"), ("--zstd", "zst", "zstd")] {
        let run = Prov::new()
            .args([
                "image", "compress", flag, "--level", "3", "--format", "json",
            ])
            .arg(&img)
            .run();
        let doc = run.ok().json();
        let file = dir.path.join(format!("node.img.{ext}"));
        assert_eq!(doc["file"], file.display().to_string());
        assert_eq!(doc["image_size"], 256 << 20);
        assert_eq!(doc["sha256"], sha256(&file).as_str());
        // sha256sum -c accepts the checksum file as written.
        let check = Command::new("sha256sum")
            .args(["-c", &format!("node.img.{ext}.sha256")])
            .current_dir(&dir.path)
            .output()
            .unwrap();
        assert!(check.status.success(), "{check:?}");
        Prov::new()
            .args(["image", "verify"])
            .arg(&file)
            .run()
            .ok()
            .stdout_has(": OK (");
        // The format's own tool gives back the image's bytes.
        let back = dir.path.join("back.img");
        let out = Command::new(tool)
            .args(["-d", "-c"])
            .arg(&file)
            .stdout(std::fs::File::create(&back).unwrap())
            .status()
            .unwrap();
        assert!(out.success());
        assert_eq!(sha256(&back), want, "{tool}");
        std::fs::remove_file(&back).unwrap();
        // One changed byte: refused, exit 1, the file named.
        let mut bytes = std::fs::read(&file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&file, &bytes).unwrap();
        let bad = Prov::new().args(["image", "verify"]).arg(&file).run();
        assert_eq!(bad.code, 1);
        bad.stderr_has(&format!("node.img.{ext}: sha256"));
    }
}

#[test]
fn an_interrupted_compression_leaves_nothing_behind() {
    let dir = TempDir::new("compress-int");
    let img = dir.path.join("node.img");
    // Enough data that level 9 takes seconds.
    let mut f = std::fs::File::create(&img).unwrap();
    let mut x: u64 = 88172645463325252;
    let data: Vec<u8> = (0..(48 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 7) as u8
        })
        .collect();
    f.write_all(&data).unwrap();
    drop(f);
    let run = Prov::new()
        .args(["image", "compress", "--level", "9", "--threads", "1"])
        .arg(&img)
        .spawn_job();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    run.ctrl_c();
    let done = run.finish();
    assert_eq!(done.code, 99, "{}", done.stderr);
    done.stderr_has("interrupted: no compressed image was written");
    let names: Vec<String> = std::fs::read_dir(&dir.path)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["node.img"]);
}
