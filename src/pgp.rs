//! Just enough OpenPGP for apt keyrings: de-armor an ASCII-armored key block (checking its
//! CRC-24) and list the fingerprints of the keys in it, so a repository signing key can be
//! written to `/etc/apt/keyrings/*.gpg` and checked against a known fingerprint without gpg
//! or apt-key on the target.

use base64::Engine as _;
use sha1::Digest as _;

const CRC24_INIT: u32 = 0x00B7_04CE;
const CRC24_POLY: u32 = 0x0186_4CFB;

fn crc24(data: &[u8]) -> u32 {
    let mut crc = CRC24_INIT;
    for &b in data {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= CRC24_POLY;
            }
        }
    }
    crc & 0x00FF_FFFF
}

/// Is this an ASCII-armored block?
pub fn is_armored(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&data[..data.len().min(4096)]);
    text.trim_start().starts_with("-----BEGIN PGP")
}

/// Binary key data: de-armored if armored, as is if already binary.
pub fn to_binary(data: &[u8]) -> Result<Vec<u8>, String> {
    if is_armored(data) {
        return dearmor(&String::from_utf8_lossy(data));
    }
    match data.first() {
        Some(b) if b & 0x80 != 0 => Ok(data.to_vec()),
        _ => Err("not an OpenPGP key (neither armored nor binary)".into()),
    }
}

/// Decode the first armored block of `text`.
pub fn dearmor(text: &str) -> Result<Vec<u8>, String> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN PGP"));
    lines.next().ok_or("no armor header")?;
    let mut body = String::new();
    let mut checksum = None;
    let mut in_headers = true;
    for line in lines {
        if line.starts_with("-----END PGP") {
            let data = base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|e| format!("bad base64 in armor: {e}"))?;
            if let Some(sum) = checksum {
                let expected = base64::engine::general_purpose::STANDARD
                    .decode(sum)
                    .map_err(|e| format!("bad armor checksum: {e}"))?;
                let crc = crc24(&data);
                if expected != [(crc >> 16) as u8, (crc >> 8) as u8, crc as u8] {
                    return Err("armor checksum mismatch (corrupted key)".into());
                }
            }
            if data.is_empty() {
                return Err("empty key block".into());
            }
            return Ok(data);
        }
        if in_headers {
            if line.is_empty() {
                in_headers = false;
                continue;
            }
            if line.contains(": ") {
                continue;
            }
            in_headers = false;
        }
        if let Some(sum) = line.strip_prefix('=') {
            checksum = Some(sum.to_string());
        } else {
            body.push_str(line);
        }
    }
    Err("no armor footer".into())
}

/// The fingerprints (uppercase hex) of every public key and subkey in binary key data.
pub fn fingerprints(data: &[u8]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let h = data[i];
        if h & 0x80 == 0 {
            return Err(format!("bad packet header at byte {i}"));
        }
        let (tag, len, hdr) = if h & 0x40 != 0 {
            let tag = h & 0x3f;
            let o1 = *data.get(i + 1).ok_or("truncated packet")? as usize;
            match o1 {
                0..=191 => (tag, o1, 2),
                192..=223 => {
                    let o2 = *data.get(i + 2).ok_or("truncated packet")? as usize;
                    (tag, ((o1 - 192) << 8) + o2 + 192, 3)
                }
                255 => {
                    let b = data.get(i + 2..i + 6).ok_or("truncated packet")?;
                    (
                        tag,
                        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize,
                        6,
                    )
                }
                _ => return Err("partial-length packets are not valid in keys".into()),
            }
        } else {
            let tag = (h >> 2) & 0x0f;
            match h & 3 {
                0 => (tag, *data.get(i + 1).ok_or("truncated packet")? as usize, 2),
                1 => {
                    let b = data.get(i + 1..i + 3).ok_or("truncated packet")?;
                    (tag, u16::from_be_bytes([b[0], b[1]]) as usize, 3)
                }
                2 => {
                    let b = data.get(i + 1..i + 5).ok_or("truncated packet")?;
                    (
                        tag,
                        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize,
                        5,
                    )
                }
                _ => (tag, data.len() - i - 1, 1),
            }
        };
        let body = data
            .get(i + hdr..i + hdr + len)
            .ok_or("truncated packet body")?;
        if tag == 6 || tag == 14 {
            let fp = match body.first() {
                Some(4) => {
                    let mut s = sha1::Sha1::new();
                    s.update([0x99, (len >> 8) as u8, len as u8]);
                    s.update(body);
                    hex(&s.finalize())
                }
                Some(5) | Some(6) => {
                    let mut s = sha2::Sha256::new();
                    s.update([if body[0] == 5 { 0x9a } else { 0x9b }]);
                    s.update((len as u32).to_be_bytes());
                    s.update(body);
                    hex(&s.finalize())
                }
                Some(v) => return Err(format!("unsupported key version {v}")),
                None => return Err("empty key packet".into()),
            };
            out.push(fp);
        }
        i += hdr + len;
    }
    if out.is_empty() {
        return Err("no public key in the data".into());
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Does a key id (short, long or full fingerprint, `0x` and spaces allowed) name one of
/// these fingerprints?
pub fn id_matches(id: &str, fingerprints: &[String]) -> bool {
    let id: String = id
        .trim()
        .trim_start_matches("0x")
        .trim_start_matches("0X")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    id.len() >= 8 && fingerprints.iter().any(|f| f.ends_with(&id))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real ed25519 public key, made with `gpg --quick-gen-key 'prov test key' ed25519`;
    // gpg reports its fingerprint as C2C0062AD0FAF6603A6C9D09B37BF4AF7AA9BFE9.
    const KEY: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEawRNqxYJKwYBBAHaRw8BAQdAnab1cKuXHYhed5Gczh1tZrgW18WQ7S7+jvOF
Xiu1VGG0DXByb3YgdGVzdCBrZXmIkAQTFggAOBYhBMLABirQ+vZgOmydCbN79K96
qb/pBQJrBE2rAhsDBQsJCAcCBhUKCQgLAgQWAgMBAh4BAheAAAoJELN79K96qb/p
aW8BANfv7k54DQ4nWXs73jLfJ2MjBBPuoq3ea7eVy0BnVzyeAQDkkQEzEUIcykSW
SHOglsyvuScw2WfrRIKiok+FAPd5AA==
=VK0u
-----END PGP PUBLIC KEY BLOCK-----\n";
    const FPR: &str = "C2C0062AD0FAF6603A6C9D09B37BF4AF7AA9BFE9";

    #[test]
    fn dearmors_and_fingerprints_like_gpg() {
        let bin = to_binary(KEY.as_bytes()).unwrap();
        assert_eq!(bin[0] & 0x80, 0x80);
        assert_eq!(fingerprints(&bin).unwrap(), vec![FPR.to_string()]);
        // Binary input is passed through.
        assert_eq!(to_binary(&bin).unwrap(), bin);
    }

    #[test]
    fn crc24_matches_the_rfc_vector() {
        assert_eq!(crc24(b""), CRC24_INIT);
        // "123456789" → 0x21CF02 (the standard CRC-24/OPENPGP check value).
        assert_eq!(crc24(b"123456789"), 0x21CF02);
    }

    #[test]
    fn id_matching() {
        let fps = vec!["29FA7ED07D39987F6837899BC71271D2FEAD01D4".to_string()];
        assert!(id_matches("29FA7ED07D39987F6837899BC71271D2FEAD01D4", &fps));
        assert!(id_matches("0xC71271D2FEAD01D4", &fps));
        assert!(id_matches("fead01d4", &fps));
        assert!(!id_matches("DEADBEEF", &fps));
        assert!(!id_matches("01D4", &fps));
    }

    #[test]
    fn armor_errors_are_reported() {
        assert!(dearmor("nothing here").is_err());
        assert!(to_binary(b"<html>oops</html>").is_err());
        let corrupted = KEY.replace("=VK0u", "=AAAA");
        assert_eq!(
            dearmor(&corrupted).unwrap_err(),
            "armor checksum mismatch (corrupted key)"
        );
        assert!(fingerprints(b"\x99\x00").is_err());
    }
}
