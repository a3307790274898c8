//! Ansible Vault: decrypt `$ANSIBLE_VAULT;1.1;AES256` (and `1.2;AES256;<label>`) data in memory.
//!
//! The format, as `ansible-vault` writes it: a header line, then lines of hex. The hex decodes
//! to three more hex strings separated by newlines: the salt, the HMAC and the ciphertext.
//! PBKDF2-HMAC-SHA256 (10000 rounds) turns the password and salt into 80 bytes: the AES-256
//! key, the HMAC-SHA256 key and the CTR mode's initial counter block. The HMAC of the
//! ciphertext is checked (in constant time) before anything is decrypted; the plaintext is
//! PKCS#7-padded.
//!
//! A `!vault` value becomes a [`Vaulted`] template value: its plaintext when it is templated,
//! or, if no secret opened it, the error then, as in Ansible.
//!
//! The secrets given on the command line ([`Secret`], read by the face) are installed once per
//! process with [`install`]; the YAML loader decrypts with them ([`decrypt`]) wherever it
//! meets vaulted data. Several secrets are tried as Ansible tries them: the one whose label
//! matches a 1.2 header's first, then all the others in order. Nothing decrypted is written
//! anywhere, and no error message holds a password or a plaintext.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{KeyInit, Mac};
use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use crate::error::{Error, Span};

/// The first bytes of every vault envelope.
pub const HEADER: &str = "$ANSIBLE_VAULT";

/// The label of a secret given without one (`--vault-password-file`, `--ask-vault-pass`).
pub const DEFAULT_LABEL: &str = "default";

const ROUNDS: u32 = 10_000;

/// One vault password and its label (`--vault-id label@source`).
#[derive(Clone)]
pub struct Secret {
    pub label: String,
    password: Vec<u8>,
}

impl Secret {
    pub fn new(label: impl Into<String>, password: Vec<u8>) -> Secret {
        Secret {
            label: label.into(),
            password,
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.label)
    }
}

/// Why vaulted data could not be decrypted (Ansible's messages; never the secret or the data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultError {
    /// No secret was given at all.
    NoSecrets,
    /// No secret given decrypts it (a wrong password).
    NoMatch,
    /// Not a well-formed vault envelope.
    Format(String),
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultError::NoSecrets => {
                f.write_str("Attempting to decrypt but no vault secrets found.")
            }
            VaultError::NoMatch => {
                f.write_str("Decryption failed (no vault secrets were found that could decrypt).")
            }
            VaultError::Format(m) => write!(f, "Vault format error: {m}"),
        }
    }
}

static SECRETS: OnceLock<Vec<Secret>> = OnceLock::new();

/// Install this process's vault secrets (once; later calls are ignored).
pub fn install(secrets: Vec<Secret>) {
    let _ = SECRETS.set(secrets);
}

/// The installed secrets (none before [`install`]).
pub fn secrets() -> &'static [Secret] {
    SECRETS.get().map_or(&[], Vec::as_slice)
}

/// Decrypt with the installed secrets.
pub fn decrypt(envelope: &str) -> Result<Vec<u8>, VaultError> {
    decrypt_with(envelope, secrets())
}

/// Decrypt with the installed secrets, demanding UTF-8 text.
pub fn decrypt_text(envelope: &str) -> Result<String, VaultError> {
    String::from_utf8(decrypt(envelope)?)
        .map_err(|_| VaultError::Format("the decrypted data is not UTF-8 text".into()))
}

/// A file's data, decrypted if it is vaulted; a failure names the file.
pub fn open_file_data(path: &Path, data: Vec<u8>) -> Result<Vec<u8>, Error> {
    if !data.starts_with(HEADER.as_bytes()) {
        return Ok(data);
    }
    decrypt(&String::from_utf8_lossy(&data))
        .map_err(|e| Error::runtime(e.to_string()).at(Span::file(path)))
}

/// Decrypt an envelope with the first of `secrets` that opens it.
pub fn decrypt_with(envelope: &str, secrets: &[Secret]) -> Result<Vec<u8>, VaultError> {
    let parsed = Envelope::parse(envelope)?;
    if secrets.is_empty() {
        return Err(VaultError::NoSecrets);
    }
    let labelled = secrets
        .iter()
        .filter(|s| Some(s.label.as_str()) == parsed.label.as_deref());
    let others = secrets
        .iter()
        .filter(|s| Some(s.label.as_str()) != parsed.label.as_deref());
    labelled
        .chain(others)
        .find_map(|s| parsed.open(&s.password))
        .ok_or(VaultError::NoMatch)?
}

/// An inline `!vault` value: the envelope as written, and what decrypting it gave (once, when
/// it was loaded). As a template value it is a mapping `{"__ansible_vault": envelope}` (how
/// `ansible-inventory` shows one, never decrypted); templating it gives the plaintext, or, if
/// no secret opened it, the error, with where the value was written: a value that is never
/// used is no error, as in Ansible.
pub struct Vaulted {
    envelope: String,
    plain: Result<String, Error>,
}

impl Vaulted {
    pub fn open(envelope: &str, span: &Span) -> Vaulted {
        let plain = decrypt_text(envelope).map_err(|why| {
            Error::runtime(format!("Attempt to use undecryptable variable: {why}")).at(span.clone())
        });
        Vaulted {
            envelope: envelope.to_string(),
            plain,
        }
    }

    /// The plaintext of `value` if it is a vaulted value (or the error of using it).
    pub fn plaintext_of(value: &Value) -> Option<Result<Value, Error>> {
        let v = value.downcast_object_ref::<Vaulted>()?;
        Some(v.plain.clone().map(Value::from))
    }
}

impl fmt::Debug for Vaulted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opened = if self.plain.is_ok() {
            "opened"
        } else {
            "unopened"
        };
        write!(f, "Vaulted({opened})")
    }
}

impl Object for Vaulted {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "__ansible_vault").then(|| Value::from(self.envelope.as_str()))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["__ansible_vault"])
    }
}

/// A parsed envelope: the label of a 1.2 header and the three decoded parts.
struct Envelope {
    label: Option<String>,
    salt: Vec<u8>,
    hmac: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl Envelope {
    fn parse(text: &str) -> Result<Envelope, VaultError> {
        let bad = |m: &str| VaultError::Format(m.to_string());
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().trim();
        let fields: Vec<&str> = header.split(';').map(str::trim).collect();
        if fields.first() != Some(&HEADER) || fields.len() < 3 {
            return Err(bad("no $ANSIBLE_VAULT header"));
        }
        if !matches!(fields[1], "1.1" | "1.2") {
            return Err(VaultError::Format(format!(
                "unsupported vault format version {:?}",
                fields[1]
            )));
        }
        if fields[2] != "AES256" {
            return Err(VaultError::Format(format!(
                "Cipher {:?} could not be found",
                fields[2]
            )));
        }
        let label = fields.get(3).map(|l| l.to_string());
        let body: String = lines.map(str::trim).collect();
        let inner = unhex(&body).ok_or_else(|| bad("the body is not hex"))?;
        let inner = std::str::from_utf8(&inner).map_err(|_| bad("the body is not hex"))?;
        let mut parts = inner.splitn(3, '\n');
        let mut part = || {
            parts
                .next()
                .and_then(|p| unhex(p.trim()))
                .ok_or_else(|| bad("the body is not salt, HMAC and ciphertext in hex"))
        };
        let (salt, hmac, ciphertext) = (part()?, part()?, part()?);
        if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
            return Err(bad("the ciphertext is not whole AES blocks"));
        }
        Ok(Envelope {
            label,
            salt,
            hmac,
            ciphertext,
        })
    }

    /// The plaintext if `password` is the right one (the HMAC matches); a right password with
    /// bad padding is a format error.
    fn open(&self, password: &[u8]) -> Option<Result<Vec<u8>, VaultError>> {
        let mut keys = [0u8; 80];
        pbkdf2::pbkdf2_hmac::<sha2_11::Sha256>(password, &self.salt, ROUNDS, &mut keys);
        let (aes_key, rest) = keys.split_at(32);
        let (hmac_key, iv) = rest.split_at(32);
        let mut mac = hmac::Hmac::<sha2_11::Sha256>::new_from_slice(hmac_key).ok()?;
        mac.update(&self.ciphertext);
        mac.verify_slice(&self.hmac).ok()?;
        let mut data = self.ciphertext.clone();
        let mut cipher = ctr::Ctr128BE::<aes::Aes256>::new_from_slices(aes_key, iv).ok()?;
        cipher.apply_keystream(&mut data);
        Some(unpad(data))
    }
}

/// Remove PKCS#7 padding (block size 16).
fn unpad(mut data: Vec<u8>) -> Result<Vec<u8>, VaultError> {
    let n = usize::from(*data.last().unwrap_or(&0));
    let ok = (1..=16).contains(&n)
        && n <= data.len()
        && data[data.len() - n..].iter().all(|&b| usize::from(b) == n);
    if !ok {
        return Err(VaultError::Format("bad padding".into()));
    }
    data.truncate(data.len() - n);
    Ok(data)
}

/// Hex to bytes (either case); `None` for odd lengths or other characters.
fn unhex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(label: &str, pw: &str) -> Secret {
        Secret::new(label, pw.as_bytes().to_vec())
    }

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/vault/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn decrypts_what_ansible_vault_encrypted() {
        // `ansible-vault encrypt_string --vault-password-file pw 's3cret'` (ansible-core 2.19).
        let text = fixture("string-1.1.txt");
        let pw = [secret("default", "pw1")];
        assert_eq!(decrypt_with(&text, &pw).unwrap(), b"s3cret");
        // `ansible-vault encrypt --vault-password-file pw vars.yml`: a whole file.
        let text = fixture("file-1.1.txt");
        assert_eq!(decrypt_with(&text, &pw).unwrap(), b"filevar: fromfile\n");
        // `--vault-id lbl@pw`: a 1.2 header; the label only picks the secret to try first.
        let text = fixture("string-1.2-lbl.txt");
        assert_eq!(decrypt_with(&text, &pw).unwrap(), b"labeled");
        let two = [secret("default", "nope"), secret("lbl", "pw1")];
        assert_eq!(decrypt_with(&text, &two).unwrap(), b"labeled");
        let two = [secret("lbl", "nope"), secret("other", "pw1")];
        assert_eq!(decrypt_with(&text, &two).unwrap(), b"labeled");
    }

    #[test]
    fn wrong_or_missing_secrets_are_ansibles_errors() {
        let text = fixture("string-1.1.txt");
        assert_eq!(decrypt_with(&text, &[]), Err(VaultError::NoSecrets));
        let wrong = [secret("default", "pw2"), secret("x", "")];
        let err = decrypt_with(&text, &wrong).unwrap_err();
        assert_eq!(err, VaultError::NoMatch);
        assert_eq!(
            err.to_string(),
            "Decryption failed (no vault secrets were found that could decrypt)."
        );
    }

    #[test]
    fn hostile_envelopes_are_errors_not_panics() {
        let pw = [secret("default", "pw1")];
        let good = fixture("string-1.1.txt");
        let body: String = good.lines().skip(1).collect();
        let cases = [
            String::new(),
            "$ANSIBLE_VAULT".into(),
            "$ANSIBLE_VAULT;1.1".into(),
            "$ANSIBLE_VAULT;1.1;AES256".into(),
            "$ANSIBLE_VAULT;1.1;AES256\nzz".into(),
            "$ANSIBLE_VAULT;1.1;AES256\n123".into(),
            "$ANSIBLE_VAULT;1.1;AES256\nff80".into(),
            "$ANSIBLE_VAULT;1.1;AES256\n610a620a63".into(),
            "$ANSIBLE_VAULT;1.1;AES256\n0a0a".into(),
            format!("$ANSIBLE_VAULT;1.1;AES\n{body}"),
            format!("$ANSIBLE_VAULT;9.9;AES256\n{body}"),
            // A truncated body (not whole lines of hex any more).
            format!("$ANSIBLE_VAULT;1.1;AES256\n{}", &body[..body.len() - 3]),
            // One flipped hex digit: the HMAC no longer matches.
            format!("$ANSIBLE_VAULT;1.1;AES256\n{}", flip_last_digit(&body)),
        ];
        for case in &cases {
            assert!(decrypt_with(case, &pw).is_err(), "{case:?}");
        }
        assert!(matches!(
            decrypt_with("$ANSIBLE_VAULT;1.1;AES256\nzz", &pw),
            Err(VaultError::Format(_))
        ));
    }

    fn flip_last_digit(body: &str) -> String {
        let mut s = body.to_string();
        let last = s.pop().unwrap();
        s.push(if last == '0' { '1' } else { '0' });
        s
    }

    #[test]
    fn padding_is_checked() {
        assert_eq!(unpad(vec![b'a', 1]).unwrap(), b"a");
        assert_eq!(unpad(vec![16; 16]).unwrap(), b"");
        assert!(unpad(vec![]).is_err());
        assert!(unpad(vec![b'a', 0]).is_err());
        assert!(unpad(vec![b'a', 3]).is_err());
        assert!(unpad(vec![1, 2, 2, 3]).is_err());
        assert!(unpad(vec![17; 17]).is_err());
    }

    #[test]
    fn errors_never_show_the_secret() {
        let s = secret("lbl", "hunter2");
        assert_eq!(format!("{s:?}"), "Secret(lbl)");
    }
}
