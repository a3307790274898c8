//! The image definition (`images/worker.yml`): what a worker image is made of, as data.
//!
//! Read with spans, like a playbook: an unknown key, a wrong type or a bad size is an error
//! at its file:line before anything is built. Paths in it are relative to the file.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Span};
use crate::yaml::Node;

/// The distribution family of the base: it decides package and file names that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    Debian,
    Ubuntu,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Base {
    pub distribution: Distribution,
    pub suite: String,
    pub mirror: String,
    pub components: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Disk {
    /// Bytes.
    pub size: u64,
    /// Bytes of the EFI system partition.
    pub esp: u64,
}

/// How the architecture boots, as data: GRUB's platforms, the file name UEFI firmware starts
/// from removable media, and how `prov image test` runs the machine. Another architecture is
/// another definition with other values, not another code path.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Boot {
    /// `grub-mkimage -O` for UEFI (`x86_64-efi`).
    pub uefi_grub: String,
    /// The removable-media file UEFI firmware starts: `EFI/BOOT/<this>` (`BOOTX64.EFI`).
    pub uefi_file: String,
    /// UEFI firmware images for `prov image test`; the first that exists is used.
    pub uefi_firmware: Vec<String>,
    /// `grub-mkimage -O` for legacy BIOS (`i386-pc`); `None`: the architecture boots UEFI only.
    pub bios_grub: Option<String>,
    /// The QEMU system emulator and its machine options, for `prov image test`.
    pub qemu: Vec<String>,
}

impl Boot {
    /// What an amd64 PC boots with: the default when an amd64 definition has no `boot`.
    pub fn amd64() -> Boot {
        Boot {
            uefi_grub: "x86_64-efi".into(),
            uefi_file: "BOOTX64.EFI".into(),
            uefi_firmware: vec![
                "/usr/share/ovmf/OVMF.fd".into(),
                "/usr/share/OVMF/OVMF.fd".into(),
                "/usr/share/qemu/OVMF.fd".into(),
            ],
            bios_grub: Some("i386-pc".into()),
            qemu: vec!["qemu-system-x86_64".into()],
        }
    }
}

#[derive(Clone, Debug)]
pub struct Definition {
    /// The file it was read from.
    pub path: PathBuf,
    pub base: Base,
    /// Debian architecture name (`amd64`).
    pub arch: String,
    pub kernel: String,
    pub packages: Vec<String>,
    pub disk: Disk,
    pub playbook: PathBuf,
    pub extra_vars: crate::vars::VarMap,
    pub first_boot_units: Vec<PathBuf>,
    pub kernel_cmdline: String,
    /// The boot menu template (`files/grub.cfg`).
    pub grub_cfg: PathBuf,
    pub expected_failed_units: Vec<String>,
    /// How the image boots (GRUB platforms, firmware, emulator).
    pub boot: Boot,
    /// dpkg `path-exclude` patterns (documentation, manual pages, translations): set at
    /// bootstrap and kept in the root, so packages the playbook installs follow them too.
    pub path_exclude: Vec<String>,
    /// dpkg `path-include` patterns: exceptions to `path_exclude` (copyright files).
    pub path_include: Vec<String>,
}

const KEYS: &[&str] = &[
    "base",
    "arch",
    "kernel",
    "packages",
    "disk",
    "playbook",
    "extra_vars",
    "first_boot_units",
    "kernel_cmdline",
    "grub_cfg",
    "expected_failed_units",
    "boot",
    "path_exclude",
    "path_include",
];

/// A mapping's entries by key, each key allowed once and known.
fn fields<'a>(node: &'a Node, what: &str, known: &[&str]) -> Result<Vec<(String, &'a Node)>> {
    let mut out = Vec::new();
    for (k, v) in node.expect_map(what)? {
        let key = k.key_string()?;
        if !known.contains(&key.as_str()) {
            return Err(Error::parse(
                k.span.clone(),
                format!(
                    "unknown key '{key}' in {what}{}",
                    crate::error::did_you_mean(&key, known.iter().copied())
                ),
            ));
        }
        out.push((key, v));
    }
    Ok(out)
}

fn string(node: &Node, what: &str) -> Result<String> {
    node.scalar_string()
        .filter(|_| !node.is_null())
        .ok_or_else(|| Error::parse(node.span.clone(), format!("{what} must be a string")))
}

fn strings(node: &Node, what: &str) -> Result<Vec<String>> {
    node.expect_seq(what)?
        .iter()
        .map(|n| string(n, &format!("each item of {what}")))
        .collect()
}

/// `4G`, `512M`, `1024K`, `1T` or a number of bytes (powers of 1024, as truncate and sgdisk).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&t[..i], t[i..].trim_end_matches(['B', 'b', 'i'])),
        None => (t, ""),
    };
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit {
        "" => 1,
        "K" | "k" => 1 << 10,
        "M" | "m" => 1 << 20,
        "G" | "g" => 1 << 30,
        "T" | "t" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn size(node: &Node, what: &str) -> Result<u64> {
    let text = string(node, what)?;
    parse_size(&text).filter(|n| *n > 0).ok_or_else(|| {
        Error::parse(
            node.span.clone(),
            format!("{what}: '{text}' is not a size (like 4G or 512M)"),
        )
    })
}

/// Read and check a definition file.
pub fn load(path: &Path) -> Result<Definition> {
    let node = crate::yaml::load_file(path)?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut base = None;
    let mut d = Definition {
        path: path.to_path_buf(),
        base: Base {
            distribution: Distribution::Debian,
            suite: String::new(),
            mirror: String::new(),
            components: vec!["main".into()],
        },
        arch: "amd64".into(),
        kernel: String::new(),
        packages: Vec::new(),
        disk: Disk {
            size: 4 << 30,
            esp: 512 << 20,
        },
        playbook: PathBuf::new(),
        extra_vars: Default::default(),
        first_boot_units: Vec::new(),
        kernel_cmdline: "console=tty0 console=ttyS0,115200".into(),
        grub_cfg: dir.join("files/grub.cfg"),
        expected_failed_units: Vec::new(),
        boot: Boot::amd64(),
        path_exclude: Vec::new(),
        path_include: Vec::new(),
    };
    let mut seen = Vec::new();
    for (key, v) in fields(&node, "the image definition", KEYS)? {
        seen.push(key.clone());
        match key.as_str() {
            "base" => base = Some(read_base(v)?),
            "arch" => d.arch = word(v, "arch")?,
            "kernel" => d.kernel = string(v, "kernel")?,
            "packages" => d.packages = strings(v, "packages")?,
            "disk" => {
                for (k, v) in fields(v, "disk", &["size", "esp"])? {
                    match k.as_str() {
                        "size" => d.disk.size = size(v, "disk.size")?,
                        _ => d.disk.esp = size(v, "disk.esp")?,
                    }
                }
            }
            "playbook" => d.playbook = dir.join(string(v, "playbook")?),
            "extra_vars" => {
                if !v.is_null() {
                    for (k, val) in v.expect_map("extra_vars")? {
                        d.extra_vars.insert(k.key_string()?, val.to_value());
                    }
                }
            }
            "first_boot_units" => {
                for (n, unit) in v
                    .expect_seq("first_boot_units")?
                    .iter()
                    .zip(strings(v, "first_boot_units")?)
                {
                    let p = dir.join(&unit);
                    if !p.is_file() {
                        return Err(Error::parse(
                            n.span.clone(),
                            format!("first boot unit {} does not exist", p.display()),
                        ));
                    }
                    d.first_boot_units.push(p);
                }
            }
            "kernel_cmdline" => d.kernel_cmdline = string(v, "kernel_cmdline")?,
            "grub_cfg" => d.grub_cfg = dir.join(string(v, "grub_cfg")?),
            "boot" => d.boot = read_boot(v)?,
            "path_exclude" => d.path_exclude = dpkg_paths(v, "path_exclude")?,
            "path_include" => d.path_include = dpkg_paths(v, "path_include")?,
            _ => d.expected_failed_units = strings(v, "expected_failed_units")?,
        }
    }
    let span = Span::file(path);
    for required in ["base", "kernel", "playbook"] {
        if !seen.iter().any(|k| k == required) {
            return Err(Error::parse(
                span.clone(),
                format!("the image definition needs '{required}'"),
            ));
        }
    }
    d.base = base.expect("checked above");
    if d.arch != "amd64" && !seen.iter().any(|k| k == "boot") {
        return Err(Error::parse(
            node.get("arch").map(|n| n.span.clone()).unwrap_or(span),
            format!(
                "arch {} needs a 'boot' section (GRUB platforms, EFI file name, QEMU): only amd64 has defaults",
                d.arch
            ),
        ));
    }
    if !d.playbook.is_file() {
        return Err(Error::parse(
            node.get("playbook").map(|n| n.span.clone()).unwrap_or(span),
            format!("playbook {} does not exist", d.playbook.display()),
        ));
    }
    if !d.grub_cfg.is_file() {
        return Err(Error::parse(
            node.get("grub_cfg")
                .map(|n| n.span.clone())
                .unwrap_or_else(|| Span::file(path)),
            format!(
                "the boot menu template {} does not exist",
                d.grub_cfg.display()
            ),
        ));
    }
    let min = d.disk.esp + (64 << 20);
    if d.disk.size < min {
        return Err(Error::parse(
            node.get("disk")
                .map(|n| n.span.clone())
                .unwrap_or_else(|| Span::file(path)),
            format!("disk.size must be larger than the ESP plus 64 MiB ({min} bytes)"),
        ));
    }
    Ok(d)
}

/// dpkg path patterns: absolute, one line each (they go into a dpkg configuration file).
fn dpkg_paths(node: &Node, what: &str) -> Result<Vec<String>> {
    let paths = strings(node, what)?;
    for (n, p) in node.expect_seq(what)?.iter().zip(&paths) {
        if !p.starts_with('/') || p.contains(['\n', '\r']) {
            return Err(Error::parse(
                n.span.clone(),
                format!("{what}: '{p}' must be an absolute path pattern (like /usr/share/man/*)"),
            ));
        }
    }
    Ok(paths)
}

/// A GRUB platform or a file name: a plain word, so it can go into a path and an argument.
fn word(node: &Node, what: &str) -> Result<String> {
    let w = string(node, what)?;
    if w.is_empty()
        || w.starts_with(['.', '-'])
        || !w
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::parse(
            node.span.clone(),
            format!("{what}: '{w}' must be a plain name (letters, digits, - _ .)"),
        ));
    }
    Ok(w)
}

fn read_boot(node: &Node) -> Result<Boot> {
    let mut b = Boot {
        uefi_grub: String::new(),
        uefi_file: String::new(),
        uefi_firmware: Vec::new(),
        bios_grub: None,
        qemu: Vec::new(),
    };
    for (k, v) in fields(node, "boot", &["uefi", "bios", "qemu"])? {
        match k.as_str() {
            "uefi" => {
                for (k, v) in fields(v, "boot.uefi", &["grub", "file", "firmware"])? {
                    match k.as_str() {
                        "grub" => b.uefi_grub = word(v, "boot.uefi.grub")?,
                        "file" => b.uefi_file = word(v, "boot.uefi.file")?,
                        _ => b.uefi_firmware = strings(v, "boot.uefi.firmware")?,
                    }
                }
            }
            "bios" => {
                if !v.is_null() {
                    for (_, v) in fields(v, "boot.bios", &["grub"])? {
                        b.bios_grub = Some(word(v, "boot.bios.grub")?);
                    }
                }
            }
            _ => b.qemu = strings(v, "boot.qemu")?,
        }
    }
    let missing = [
        ("uefi.grub", b.uefi_grub.is_empty()),
        ("uefi.file", b.uefi_file.is_empty()),
        ("uefi.firmware", b.uefi_firmware.is_empty()),
        ("qemu", b.qemu.is_empty()),
    ];
    if let Some((name, _)) = missing.iter().find(|(_, m)| *m) {
        return Err(Error::parse(
            node.span.clone(),
            format!("boot needs '{name}'"),
        ));
    }
    Ok(b)
}

fn read_base(node: &Node) -> Result<Base> {
    let mut b = Base {
        distribution: Distribution::Debian,
        suite: String::new(),
        mirror: String::new(),
        components: vec!["main".into()],
    };
    let entries = fields(
        node,
        "base",
        &["distribution", "suite", "mirror", "components"],
    )?;
    for (k, v) in &entries {
        match k.as_str() {
            "distribution" => {
                b.distribution = match string(v, "base.distribution")?.as_str() {
                    "debian" => Distribution::Debian,
                    "ubuntu" => Distribution::Ubuntu,
                    other => {
                        return Err(Error::parse(
                            v.span.clone(),
                            format!("base.distribution '{other}': use debian or ubuntu"),
                        ));
                    }
                }
            }
            "suite" => b.suite = string(v, "base.suite")?,
            "mirror" => b.mirror = string(v, "base.mirror")?,
            _ => b.components = strings(v, "base.components")?,
        }
    }
    for (name, value) in [("suite", &b.suite), ("mirror", &b.mirror)] {
        if value.is_empty() {
            return Err(Error::parse(
                node.span.clone(),
                format!("base needs '{name}'"),
            ));
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        std::fs::create_dir_all(dir.join("files")).unwrap();
        std::fs::write(dir.join("site.yml"), "- hosts: all\n  tasks: []\n").unwrap();
        std::fs::write(dir.join("files/u.service"), "[Unit]\n").unwrap();
        let p = dir.join("def.yml");
        std::fs::write(&p, text).unwrap();
        p
    }

    const GOOD: &str = "base: {distribution: debian, suite: bookworm, mirror: http://deb.debian.org/debian}\nkernel: linux-image-amd64\npackages: [sudo]\ndisk: {size: 2G, esp: 512M}\nplaybook: site.yml\nfirst_boot_units: [files/u.service]\nextra_vars: {a: 1}\ngrub_cfg: files/u.service\n";

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("4X"), None);
        assert_eq!(parse_size("G"), None);
        assert_eq!(parse_size("99999999999T"), None);
    }

    #[test]
    fn a_definition_is_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("prov-def-{}", std::process::id()));
        let d = load(&write(&dir, GOOD)).unwrap();
        assert_eq!(d.base.distribution, Distribution::Debian);
        assert_eq!(d.base.suite, "bookworm");
        assert_eq!(d.base.components, vec!["main"]);
        assert_eq!(d.disk.size, 2 << 30);
        assert_eq!(d.packages, vec!["sudo"]);
        assert_eq!(d.playbook, dir.join("site.yml"));
        assert_eq!(d.first_boot_units, vec![dir.join("files/u.service")]);

        let err = load(&write(&dir, &format!("{GOOD}pakages: [x]\n")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("def.yml:9:1")
                && err.contains("unknown key 'pakages'")
                && err.contains("packages"),
            "{err}"
        );
        let err = load(&write(&dir, &GOOD.replace("2G", "2 lots")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("def.yml:4:") && err.contains("not a size"),
            "{err}"
        );
        let err = load(&write(&dir, &GOOD.replace("site.yml", "nope.yml")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.yml does not exist"), "{err}");
        let err = load(&write(&dir, &GOOD.replace("debian,", "arch,")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("use debian or ubuntu"), "{err}");
        let err = load(&write(
            &dir,
            &GOOD.replace("kernel: linux-image-amd64\n", ""),
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("needs 'kernel'"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn another_architecture_is_data() {
        let dir = std::env::temp_dir().join(format!("prov-def-arch-{}", std::process::id()));
        let amd64 = load(&write(&dir, GOOD)).unwrap();
        assert_eq!(amd64.boot, Boot::amd64());
        let arm64 = GOOD.replace("linux-image-amd64", "linux-image-arm64");
        let err = load(&write(&dir, &format!("{arm64}arch: arm64\n")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("def.yml:9:7") && err.contains("needs a 'boot' section"),
            "{err}"
        );
        let boot = "boot:\n  uefi: {grub: arm64-efi, file: BOOTAA64.EFI, firmware: [/usr/share/AAVMF/AAVMF_CODE.fd]}\n  bios: null\n  qemu: [qemu-system-aarch64, -machine, virt, -cpu, max]\n";
        let d = load(&write(&dir, &format!("{arm64}arch: arm64\n{boot}"))).unwrap();
        assert_eq!(
            d.boot,
            Boot {
                uefi_grub: "arm64-efi".into(),
                uefi_file: "BOOTAA64.EFI".into(),
                uefi_firmware: vec!["/usr/share/AAVMF/AAVMF_CODE.fd".into()],
                bios_grub: None,
                qemu: ["qemu-system-aarch64", "-machine", "virt", "-cpu", "max"]
                    .map(String::from)
                    .to_vec(),
            }
        );
        let err = load(&write(
            &dir,
            &format!(
                "{arm64}arch: arm64\n{}",
                boot.replace("BOOTAA64.EFI", "../x")
            ),
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("must be a plain name"), "{err}");
        let err = load(&write(
            &dir,
            &format!(
                "{arm64}arch: arm64\n{}",
                boot.replace(
                    "  bios: null\n  qemu: [qemu-system-aarch64, -machine, virt, -cpu, max]\n",
                    ""
                )
            ),
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("boot needs 'qemu'"), "{err}");
        let err = load(&write(
            &dir,
            &format!("{GOOD}path_exclude: [usr/share/man/*]\n"),
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("must be an absolute path pattern"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_shipped_definition_reads() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/worker.yml");
        let d = load(&p).unwrap();
        assert_eq!(d.base.distribution, Distribution::Ubuntu);
        assert_eq!(d.base.suite, "noble");
        assert_eq!(d.kernel, "linux-image-generic");
        assert!(d.packages.iter().any(|p| p == "grub-efi-amd64-bin"));
        assert_eq!(d.expected_failed_units, vec!["kubelet.service"]);
    }
}
