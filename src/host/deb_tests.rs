//! Tests of the .deb reader (deb.rs): real layouts (ar, tar with long names and pax paths,
//! xz and zstd members) and every corruption of a small package, which must be an error.

use super::*;

/// A ustar header for `name` (type `kind`, `size` bytes, owner root).
fn header(name: &str, kind: u8, size: usize, link: &str) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let mode = if kind == b'5' {
        "0000755\0"
    } else {
        "0000644\0"
    };
    h[100..108].copy_from_slice(mode.as_bytes());
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&c| c as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn tar(entries: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, body, link) in entries {
        out.extend(header(name, *kind, body.len(), link));
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend(vec![0u8; 1024]);
    out
}

fn ar(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        out.extend(
            format!(
                "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                0,
                0,
                0,
                100644,
                data.len()
            )
            .as_bytes(),
        );
        out.extend(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

fn xz(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const UNIT: &[u8] = b"[Unit]\nDescription=crio\n[Install]\nWantedBy=multi-user.target\n";

fn crio_deb(data_member: &str, data: Vec<u8>) -> Vec<u8> {
    let control = tar(&[
        ("./", b'5', b"", ""),
        (
            "./control",
            b'0',
            b"Package: cri-o\nVersion: 1.32.1-1.1\nDescription: dummy\n more text\n",
            "",
        ),
        ("./conffiles", b'0', b"/etc/crio/crio.conf\n", ""),
        (
            "./postinst",
            b'0',
            b"#!/bin/sh\ndeb-systemd-helper enable crio.service\n",
            "",
        ),
    ]);
    ar(&[
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.xz", xz(&control)),
        (data_member, data),
    ])
}

fn crio_data() -> Vec<u8> {
    tar(&[
        ("./", b'5', b"", ""),
        ("./lib/systemd/system/", b'5', b"", ""),
        ("./lib/systemd/system/crio.service", b'0', UNIT, ""),
        ("./etc/crio/crio.conf", b'0', b"[crio]\n", ""),
        ("./usr/bin/crio", b'0', b"#!/bin/sh\n", ""),
        ("./usr/sbin/crio", b'2', b"", "../bin/crio"),
        ("./usr/bin/crio2", b'1', b"", "./usr/bin/crio"),
    ])
}

#[test]
fn a_package_lists_its_control_files_and_units() {
    for (member, data) in [
        ("data.tar.xz", xz(&crio_data())),
        ("data.tar", crio_data()),
        (
            "data.tar.zst",
            zstd::stream::encode_all(&crio_data()[..], 3).unwrap(),
        ),
    ] {
        let p = read(&crio_deb(member, data)).unwrap();
        assert_eq!(p.field("package"), Some("cri-o"));
        assert_eq!(p.field("Version"), Some("1.32.1-1.1"));
        assert_eq!(p.field("Description"), Some("dummy\nmore text"));
        assert_eq!(p.conffiles, ["/etc/crio/crio.conf"]);
        assert!(p.postinst.unwrap().contains("enable crio.service"));
        let paths: Vec<&str> = p.files.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/lib/systemd/system",
                "/lib/systemd/system/crio.service",
                "/etc/crio/crio.conf",
                "/usr/bin/crio",
                "/usr/sbin/crio",
                "/usr/bin/crio2"
            ]
        );
        let unit = &p.files[1];
        assert_eq!(unit.content.as_deref(), Some(UNIT));
        assert_eq!(
            (unit.mode, unit.owner.as_str(), unit.size),
            (0o644, "root", UNIT.len() as u64)
        );
        assert_eq!(p.files[0].kind, EntryKind::Directory);
        assert_eq!(p.files[4].kind, EntryKind::Link("../bin/crio".into()));
        assert_eq!(p.files[5].kind, EntryKind::HardLink("/usr/bin/crio".into()));
    }
}

#[test]
fn gnu_long_names_and_pax_paths_are_followed() {
    let long = format!("./usr/share/{}/file", "d".repeat(120));
    let pax_rec = |k: &str, v: &str| {
        let body = format!(" {k}={v}\n");
        let mut n = body.len() + 1;
        if (n + body.len()).to_string().len() != n.to_string().len() {
            n += 1;
        }
        let len = n.to_string().len() + body.len();
        format!("{len}{body}")
    };
    let pax = pax_rec("path", &format!("{long}-pax"));
    let data = tar(&[
        ("././@LongLink", b'L', format!("{long}\0").as_bytes(), ""),
        ("short", b'0', b"x", ""),
        ("./PaxHeaders/x", b'x', pax.as_bytes(), ""),
        ("short2", b'0', b"y", ""),
    ]);
    let p = tar_entries(&data).unwrap();
    assert_eq!(p[0].path, long.trim_start_matches('.'));
    assert_eq!(p[1].path, format!("{}-pax", long.trim_start_matches('.')));
}

#[test]
fn corrupt_and_hostile_packages_are_errors() {
    let good = crio_deb("data.tar.xz", xz(&crio_data()));
    // Every truncation of a good package is an error, never a panic.
    for n in (0..good.len()).step_by(7) {
        assert!(read(&good[..n]).is_err(), "truncated at {n}");
    }
    // Every single flipped byte reads or errs, never panics.
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0xa5;
        let _ = read(&bad);
    }
    let err = |deb: Vec<u8>| read(&deb).unwrap_err().to_string();
    assert!(err(b"garbage".to_vec()).contains("no ar magic"));
    // A member whose size runs past the archive.
    let mut huge = good.clone();
    huge[8 + 48..8 + 58].copy_from_slice(b"9999999999");
    assert!(err(huge).contains("truncated"));
    // A path escaping the root, a gzip member, a tar entry larger than the archive.
    let escape = tar(&[("../../etc/passwd", b'0', b"x", "")]);
    assert!(err(crio_deb("data.tar", escape)).contains("leaves the root"));
    assert!(err(crio_deb("data.tar.gz", vec![0x1f, 0x8b])).contains("unsupported compression"));
    let mut long = tar(&[("./x", b'0', b"x", "")]);
    let h = header("./x", b'0', 0o77777777777, "");
    long[..512].copy_from_slice(&h);
    assert!(err(crio_deb("data.tar", long)).contains("truncated"));
    // A bad checksum, a corrupt xz stream, a missing data member.
    let mut sum = crio_data();
    sum[0] = b'Z';
    assert!(err(crio_deb("data.tar", sum)).contains("checksum"));
    assert!(read(&crio_deb("data.tar.xz", b"not xz".to_vec())).is_err());
    let no_data = ar(&[("debian-binary", b"2.0\n".to_vec())]);
    assert!(err(no_data).contains("no control.tar"));
}
