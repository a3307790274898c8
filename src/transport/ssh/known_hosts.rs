//! Host key verification against OpenSSH `known_hosts` files.
//!
//! Entries are `[marker] patterns keytype base64 [comment]`. Patterns may be plain names,
//! `[host]:port`, wildcards (`*`, `?`), negations (`!pattern`) and hashed names
//! (`|1|salt|hash`, HMAC-SHA1 of the name). `@revoked` keys are always refused;
//! `@cert-authority` keys vouch for host certificates they signed. A host whose known keys
//! all differ from the one offered has a changed identity: that is never accepted.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use russh::keys::{HashAlg, PublicKey};

/// What the known_hosts files say about a host's key.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// The key (or the CA that signed the host certificate) is known for this host.
    Known,
    /// No key at all is known for this host.
    Unknown,
    /// Keys are known for this host, and the offered one is not among them.
    Changed { known: Vec<String> },
    /// The key is listed as `@revoked`.
    Revoked,
}

/// How a host appears in known_hosts: `host`, or `[host]:port` off port 22.
pub fn host_string(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// `SHA256:...` as OpenSSH prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

fn hmac_sha1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    // HMAC takes a key of any length; were one refused, the name would match nothing.
    let Ok(mut mac) = hmac::Hmac::<sha1_hmac::Sha1>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// OpenSSH's pattern matching: `*` and `?` are wildcards, everything else (`[` too) is literal.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    fn rec(p: &[u8], n: &[u8]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some(b'*') => (0..=n.len()).any(|i| rec(&p[1..], &n[i..])),
            Some(b'?') => !n.is_empty() && rec(&p[1..], &n[1..]),
            Some(c) => n.first() == Some(c) && rec(&p[1..], &n[1..]),
        }
    }
    rec(pattern.as_bytes(), name.as_bytes())
}

/// Does one pattern (plain, wildcard or hashed) name this host string?
fn pattern_matches(pattern: &str, host: &str) -> bool {
    if let Some(rest) = pattern.strip_prefix("|1|") {
        let Some((salt, hash)) = rest.split_once('|') else {
            return false;
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
            return false;
        };
        return hmac_sha1(&salt, host.as_bytes()) == hash;
    }
    wildcard_match(&pattern.to_lowercase(), &host.to_lowercase())
}

/// Does a comma-separated pattern list name this host (negations win)?
fn patterns_match(list: &str, host: &str) -> bool {
    let mut hit = false;
    for p in list.split(',') {
        if let Some(neg) = p.strip_prefix('!') {
            if pattern_matches(neg, host) {
                return false;
            }
        } else if pattern_matches(p, host) {
            hit = true;
        }
    }
    hit
}

/// One line of a known_hosts file. The key is decoded only for the lines a check needs (those
/// for the host, and markers): a fleet run checks every host against the whole file, which can
/// be long.
struct Entry<'a> {
    marker: Option<&'a str>,
    patterns: &'a str,
    kind: &'a str,
    blob: &'a str,
}

impl Entry<'_> {
    fn key(&self) -> Option<PublicKey> {
        PublicKey::from_openssh(&format!("{} {}", self.kind, self.blob)).ok()
    }
}

fn parse_line(line: &str) -> Option<Entry<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let (marker, patterns) = if first.starts_with('@') {
        (Some(first), words.next()?)
    } else {
        (None, first)
    };
    Some(Entry {
        marker,
        patterns,
        kind: words.next()?,
        blob: words.next()?,
    })
}

/// The files' text, one after the other.
fn read(files: &[PathBuf]) -> String {
    let mut text = String::new();
    for f in files {
        if let Ok(t) = std::fs::read_to_string(f) {
            text.push_str(&t);
            text.push('\n');
        }
    }
    text
}

fn entries(text: &str) -> Vec<Entry<'_>> {
    text.lines().filter_map(parse_line).collect()
}

/// The keys of the entries with this marker (`None`: plain entries) for this host name (any
/// host for `@revoked`).
fn keys(all: &[Entry], marker: Option<&str>, name: &str) -> Vec<PublicKey> {
    all.iter()
        .filter(|e| {
            e.marker == marker && (marker == Some("@revoked") || patterns_match(e.patterns, name))
        })
        .filter_map(Entry::key)
        .collect()
}

fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    a.key_data() == b.key_data()
}

/// Check a plain host key.
pub fn check_key(files: &[PathBuf], host: &str, port: u16, key: &PublicKey) -> Verdict {
    let name = host_string(host, port);
    let text = read(files);
    let all = entries(&text);
    if keys(&all, Some("@revoked"), &name)
        .iter()
        .any(|k| same_key(k, key))
    {
        return Verdict::Revoked;
    }
    let known = keys(&all, None, &name);
    if known.iter().any(|k| same_key(k, key)) {
        return Verdict::Known;
    }
    if known.is_empty() {
        Verdict::Unknown
    } else {
        Verdict::Changed {
            known: known
                .iter()
                .map(|k| format!("{} {}", k.algorithm(), fingerprint(k)))
                .collect(),
        }
    }
}

/// Is a `@cert-authority` known for this host? (Only then are host certificates asked for,
/// as OpenSSH does.)
pub fn has_authority(files: &[PathBuf], host: &str, port: u16) -> bool {
    let name = host_string(host, port);
    entries(&read(files))
        .iter()
        .any(|e| e.marker == Some("@cert-authority") && patterns_match(e.patterns, &name))
}

/// Check a host certificate: signed by a `@cert-authority` key for this host, valid now,
/// and naming the host among its principals.
pub fn check_certificate(
    files: &[PathBuf],
    host: &str,
    port: u16,
    cert: &russh::keys::Certificate,
) -> Result<(), String> {
    let name = host_string(host, port);
    let text = read(files);
    let all = entries(&text);
    let cas = keys(&all, Some("@cert-authority"), &name);
    if cas.is_empty() {
        return Err(format!(
            "the host certificate of {name} is signed by {} which is not a @cert-authority for it",
            cert.signature_key().fingerprint(HashAlg::Sha256)
        ));
    }
    if keys(&all, Some("@revoked"), &name)
        .iter()
        .any(|k| k.key_data() == cert.signature_key())
    {
        return Err(format!("the certificate authority of {name} is @revoked"));
    }
    let fps: Vec<russh::keys::ssh_key::Fingerprint> =
        cas.iter().map(|k| k.fingerprint(HashAlg::Sha256)).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    cert.validate_at(now, fps.iter())
        .map_err(|e| format!("the host certificate of {name} is not valid: {e}"))?;
    if cert.cert_type() != russh::keys::ssh_key::certificate::CertType::Host {
        return Err(format!(
            "{name} presented a user certificate as its host key"
        ));
    }
    if !cert.valid_principals().is_empty() && !cert.valid_principals().iter().any(|p| p == host) {
        return Err(format!(
            "the host certificate of {name} is not valid for the name {host}"
        ));
    }
    Ok(())
}

/// Record a newly accepted key (accept-new), creating the file (and ~/.ssh) as needed.
pub fn learn(file: &Path, host: &str, port: u16, key: &PublicKey) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = file.parent()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    }
    let line = format!(
        "{} {}\n",
        host_string(host, port),
        key.to_openssh().map_err(std::io::Error::other)?
    );
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    f.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHzyGxSslqPE91wuZ9tKQiLqs0cJY/1XfI04WHH4Y3Ub";
    const OTHER: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb0Xv9ls5wDNSfv6AtCIPaCbZsllH+DqM9hGR3x7gqF";

    fn write(lines: &str) -> (PathBuf, Vec<PathBuf>) {
        let n = std::sync::atomic::AtomicUsize::new(0)
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!(
            "prov-kh-{}-{}-{}",
            std::process::id(),
            n,
            lines.len()
        ));
        std::fs::write(&p, lines).unwrap();
        (p.clone(), vec![p])
    }

    #[test]
    fn plain_ported_and_wildcard_entries() {
        let key = PublicKey::from_openssh(KEY).unwrap();
        let other = PublicKey::from_openssh(OTHER).unwrap();
        let (p, f) = write(&format!(
            "[127.0.0.1]:2222 {KEY}\n*.example.org,!bad.example.org {KEY}\n"
        ));
        assert_eq!(check_key(&f, "127.0.0.1", 2222, &key), Verdict::Known);
        assert_eq!(check_key(&f, "127.0.0.1", 22, &key), Verdict::Unknown);
        assert_eq!(check_key(&f, "a.example.org", 22, &key), Verdict::Known);
        assert_eq!(check_key(&f, "bad.example.org", 22, &key), Verdict::Unknown);
        assert!(matches!(
            check_key(&f, "127.0.0.1", 2222, &other),
            Verdict::Changed { .. }
        ));
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn hashed_entries_and_revocation() {
        // `ssh-keygen -H` style: |1|base64(salt)|base64(HMAC-SHA1(salt, name)).
        let salt = [7u8; 20];
        let b64 = base64::engine::general_purpose::STANDARD;
        let hashed = format!(
            "|1|{}|{}",
            b64.encode(salt),
            b64.encode(hmac_sha1(&salt, b"[10.0.0.1]:2200"))
        );
        let key = PublicKey::from_openssh(KEY).unwrap();
        let (p, f) = write(&format!("{hashed} {KEY}\n@revoked * {OTHER}\n"));
        assert_eq!(check_key(&f, "10.0.0.1", 2200, &key), Verdict::Known);
        assert_eq!(check_key(&f, "10.0.0.2", 2200, &key), Verdict::Unknown);
        let other = PublicKey::from_openssh(OTHER).unwrap();
        assert_eq!(check_key(&f, "10.0.0.1", 2200, &other), Verdict::Revoked);
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn hmac_sha1_matches_rfc_2202() {
        let mac = hmac_sha1(&[0x0b; 20], b"Hi There");
        assert_eq!(
            mac.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
    }

    #[test]
    fn learning_appends_a_ported_entry() {
        let dir = std::env::temp_dir().join(format!("prov-kh-learn-{}", std::process::id()));
        let file = dir.join("ssh/known_hosts");
        let key = PublicKey::from_openssh(KEY).unwrap();
        learn(&file, "127.0.0.1", 2222, &key).unwrap();
        assert_eq!(
            check_key(std::slice::from_ref(&file), "127.0.0.1", 2222, &key),
            Verdict::Known
        );
        assert!(
            std::fs::read_to_string(&file)
                .unwrap()
                .starts_with("[127.0.0.1]:2222 ssh-ed25519 ")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
