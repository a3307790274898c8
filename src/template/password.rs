//! Passwords: the `password_hash` filter (SHA-512 and SHA-256 crypt, as ansible-core with
//! passlib writes them) and the `password` lookup (a random password kept in a file on the
//! controller, Ansible's file format: `PASSWORD[ salt=SALT[ ident=IDENT]]`).
//!
//! The lookup's file is created whole or not at all: written to an unnamed temporary file
//! (`O_TMPFILE`; a named one where the file system has none), then linked
//! into place only if no other host or process made it first (whose password then wins), so a
//! kill never leaves half a password and parallel hosts agree on one.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::{Error, ErrorKind, Value};

use crate::vars::Context;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The characters of crypt salts.
const SALT_CHARS: &str = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random characters from `chars` (uniform: bytes beyond the last whole multiple are redrawn).
pub fn random_text(len: usize, chars: &str) -> Result<String, Error> {
    if len > 65_536 {
        return Err(err(format!("a password of {len} characters is too long")));
    }
    let chars: Vec<char> = chars.chars().collect();
    if chars.is_empty() {
        return Err(err("no characters to choose a password from"));
    }
    let limit = 256 - 256 % chars.len().min(256);
    let mut urandom = std::fs::File::open("/dev/urandom")
        .map_err(|e| err(format!("cannot read /dev/urandom: {e}")))?;
    let mut out = String::with_capacity(len);
    let mut made = 0;
    let mut buf = [0u8; 64];
    while made < len {
        std::io::Read::read_exact(&mut urandom, &mut buf)
            .map_err(|e| err(format!("cannot read /dev/urandom: {e}")))?;
        for &b in &buf {
            if (b as usize) < limit && made < len {
                out.push(chars[b as usize % chars.len()]);
                made += 1;
            }
        }
    }
    Ok(out)
}

/// `crypt(3)` of `secret` with scheme `sha512`/`sha512_crypt` or `sha256`/`sha256_crypt`;
/// without `rounds`, Ansible's own defaults (656000 and 535000), which it writes out.
pub fn hash(
    secret: &str,
    scheme: &str,
    salt: Option<&str>,
    rounds: Option<usize>,
) -> Result<String, Error> {
    let (id, default_rounds) = match scheme {
        "sha512" | "sha512_crypt" => ("6", 656_000),
        "sha256" | "sha256_crypt" => ("5", 535_000),
        other => {
            return Err(err(format!(
                "password_hash: the '{other}' scheme is not supported by prov (sha512 and sha256 are)"
            )));
        }
    };
    let salt = match salt {
        Some(s) => {
            if s.is_empty() || !s.chars().all(|c| SALT_CHARS.contains(c)) {
                return Err(err(format!(
                    "password_hash: a salt may only use the characters {SALT_CHARS}"
                )));
            }
            s.chars().take(16).collect()
        }
        None => random_text(16, SALT_CHARS)?,
    };
    let rounds = rounds.unwrap_or(default_rounds);
    let bad_rounds = |_| {
        err(format!(
            "password_hash: rounds must be 1000 to 999999999, not {rounds}"
        ))
    };
    let crypt_err = |e: sha_crypt::CryptError| err(format!("password_hash: {e:?}"));
    let digest = if id == "6" {
        let params = sha_crypt::Sha512Params::new(rounds).map_err(bad_rounds)?;
        sha_crypt::sha512_crypt_b64(secret.as_bytes(), salt.as_bytes(), &params)
            .map_err(crypt_err)?
    } else {
        let params = sha_crypt::Sha256Params::new(rounds).map_err(bad_rounds)?;
        sha_crypt::sha256_crypt_b64(secret.as_bytes(), salt.as_bytes(), &params)
            .map_err(crypt_err)?
    };
    Ok(if rounds == 5000 {
        format!("${id}${salt}${digest}")
    } else {
        format!("${id}$rounds={rounds}${salt}${digest}")
    })
}

/// The `password_hash` filter: `secret | password_hash('sha512', salt, rounds=N)`.
pub fn password_hash(
    secret: String,
    scheme: Option<String>,
    salt: Option<Value>,
    kwargs: minijinja::value::Kwargs,
) -> Result<String, Error> {
    let salt = salt
        .filter(|s| !s.is_none() && !s.is_undefined())
        .or_else(|| kwargs.get::<Option<Value>>("salt").ok().flatten())
        .map(|s| super::to_text(&s));
    let rounds: Option<i64> = kwargs.get("rounds")?;
    let scheme = match kwargs.get::<Option<String>>("hashtype")? {
        Some(s) => s,
        None => scheme.unwrap_or_else(|| "sha512".into()),
    };
    kwargs.assert_all_used()?;
    let rounds = rounds
        .map(|r| usize::try_from(r).map_err(|_| err(format!("password_hash: bad rounds {r}"))))
        .transpose()?;
    hash(&secret, &scheme, salt.as_deref(), rounds)
}

/// The options of one `password` lookup term: `path [length=N] [chars=a,b] [encrypt=S]`.
struct Term {
    path: String,
    length: usize,
    chars: String,
    encrypt: Option<String>,
}

fn chars_of(spec: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if spec.contains(",,") {
        parts.push(",");
    }
    let joined = spec.replace(",,", ",");
    parts.extend(joined.split(',').filter(|p| !p.is_empty()));
    parts
        .iter()
        .map(|p| match *p {
            "ascii_letters" => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "ascii_lowercase" => "abcdefghijklmnopqrstuvwxyz",
            "ascii_uppercase" => "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "digits" => "0123456789",
            "hexdigits" => "0123456789abcdefABCDEF",
            "octdigits" => "01234567",
            "punctuation" => "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
            other => other,
        })
        .collect::<String>()
        .replace(['"', '\''], "")
}

fn parse_term(term: &str, kw: &dyn Fn(&str) -> Option<Value>) -> Result<Term, Error> {
    let mut words = term.split(' ');
    let mut path = words.next().unwrap_or_default().to_string();
    let mut opts: Vec<(String, String)> = ["length", "chars", "encrypt", "seed", "ident"]
        .iter()
        .filter_map(|k| kw(k).map(|v| (k.to_string(), super::to_text(&v))))
        .collect();
    let mut seen_option = false;
    for w in words {
        match w.split_once('=') {
            Some((k, v)) => {
                seen_option = true;
                opts.push((k.to_string(), v.to_string()));
            }
            None if !seen_option => {
                path.push(' ');
                path.push_str(w);
            }
            None => {
                return Err(err(
                    "Unrecognized value after key=value parameters given to password lookup",
                ));
            }
        }
    }
    let mut t = Term {
        path,
        length: 20,
        chars: chars_of("ascii_letters,digits,.,:-_"),
        encrypt: None,
    };
    for (k, v) in opts {
        match k.as_str() {
            "length" => {
                t.length = v
                    .parse()
                    .map_err(|_| err(format!("password lookup: bad length '{v}'")))?;
            }
            "chars" => t.chars = chars_of(&v),
            "encrypt" => t.encrypt = Some(v),
            "ident" if v.is_empty() || v == "None" => {}
            "seed" | "ident" => {
                return Err(err(format!(
                    "password lookup: '{k}=' is not supported by prov (its passwords are random, never derived from a seed)"
                )));
            }
            other => {
                return Err(err(format!(
                    "Unrecognized parameter(s) given to password lookup: {other}"
                )));
            }
        }
    }
    Ok(t)
}

/// Ansible's password file: `PASSWORD`, or `PASSWORD salt=SALT[ ident=IDENT]`.
fn parse_content(content: &str) -> (String, Option<String>) {
    match content.rsplit_once(" salt=") {
        Some((pw, rest)) => {
            let salt = rest.rsplit_once(" ident=").map_or(rest, |(s, _)| s);
            (pw.to_string(), Some(salt.to_string()))
        }
        None => (content.to_string(), None),
    }
}

/// Write `content` to `path` unless it exists; return what the file holds afterwards.
fn create_once(path: &Path, content: &str) -> Result<String, Error> {
    let io = |e: std::io::Error| err(format!("password lookup: {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    let data = format!("{content}\n");
    let result = match link_unnamed(path, data.as_bytes()) {
        Some(r) => r,
        None => link_named(path, data.as_bytes()),
    };
    match result {
        Ok(()) => Ok(content.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path)
            .map(|s| s.trim_end().to_string())
            .map_err(io),
        Err(e) => Err(io(e)),
    }
}

/// Write `data` to an unnamed file in `path`'s directory (`O_TMPFILE`), then give it its
/// name: a kill at any moment leaves either nothing or the whole file. `None` where the file
/// system has no unnamed files.
fn link_unnamed(path: &Path, data: &[u8]) -> Option<std::io::Result<()>> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt as _;
    use std::os::unix::io::AsRawFd;
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => std::path::PathBuf::from("."),
    };
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(&dir)
    {
        Ok(f) => f,
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
            ) =>
        {
            return None;
        }
        Err(e) => return Some(Err(e)),
    };
    let result = (|| {
        f.write_all(data)?;
        f.sync_all()?;
        let from = std::ffi::CString::new(format!("/proc/self/fd/{}", f.as_raw_fd()))?;
        let to = std::ffi::CString::new(path.as_os_str().as_bytes())?;
        // SAFETY: both are valid NUL-terminated paths for the duration of the call.
        let rc = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    })();
    Some(result)
}

/// The fallback: a named temporary file beside `path`, linked, then removed.
fn link_named(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.prov-{}-{serial}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// The `password` lookup for one term.
pub fn lookup(term: &str, kw: &Option<Value>, ctx: &Arc<Context>) -> Result<String, Error> {
    let get = |k: &str| {
        kw.as_ref()
            .and_then(|kw| kw.get_attr(k).ok())
            .filter(|v| !v.is_undefined())
    };
    let t = parse_term(term, &get)?;
    let path = if Path::new(&t.path).is_absolute() {
        PathBuf::from(&t.path)
    } else {
        let base = ctx
            .get("playbook_dir")
            .ok()
            .flatten()
            .map(|v| super::to_text(&v))
            .unwrap_or_else(|| ".".into());
        Path::new(&base).join(&t.path)
    };
    let fresh = random_text(t.length, &t.chars)?;
    let (password, salt) = if path == Path::new("/dev/null") {
        (fresh, None)
    } else {
        let existing = std::fs::read_to_string(&path)
            .ok()
            .map(|s| s.trim_end().to_string());
        let content = match existing {
            Some(c) => c,
            None => {
                let salt = match t.encrypt {
                    Some(_) => format!(" salt={}", random_text(16, SALT_CHARS)?),
                    None => String::new(),
                };
                create_once(&path, &format!("{fresh}{salt}"))?
            }
        };
        parse_content(&content)
    };
    match &t.encrypt {
        None => Ok(password),
        Some(scheme) => {
            let salt = match salt {
                Some(s) => s,
                None => random_text(16, SALT_CHARS)?,
            };
            hash(&password, scheme, Some(&salt), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected hashes: Python's crypt.crypt with the same salt and rounds (what passlib and
    /// so ansible-core's password_hash print).
    #[test]
    fn hashes_equal_crypt() {
        assert_eq!(
            hash("secret", "sha512", Some("saltsalt"), Some(5000)).unwrap(),
            "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
        );
        assert_eq!(
            hash("pw", "sha256_crypt", Some("abc"), Some(5000)).unwrap(),
            "$5$abc$/LKlXd6vuvdFX3oWbf2vGk3DgflzzsvOtMZsiOxqqY5"
        );
        let random = hash("x", "sha512", None, Some(1000)).unwrap();
        assert!(
            random.starts_with("$6$rounds=1000$") && random.len() > 100,
            "{random}"
        );
        for (scheme, salt, msg) in [
            ("md5", None, "'md5' scheme is not supported"),
            ("sha512", Some("bad salt"), "a salt may only use"),
        ] {
            let e = hash("x", scheme, salt, Some(1000)).unwrap_err().to_string();
            assert!(e.contains(msg), "{e}");
        }
    }

    #[test]
    fn the_lookup_keeps_one_password_per_file() {
        let dir = std::env::temp_dir().join(format!("prov-password-{}", std::process::id()));
        let ctx = Context::new(vec![crate::vars::Layer::raw(
            "t",
            [(
                "playbook_dir".to_string(),
                Value::from(dir.display().to_string()),
            )]
            .into_iter()
            .collect(),
        )]);
        let first = lookup("creds/db length=12 chars=digits", &None, &ctx).unwrap();
        assert_eq!(first.len(), 12);
        assert!(first.chars().all(|c| c.is_ascii_digit()), "{first}");
        let file = dir.join("creds/db");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            format!("{first}\n")
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(lookup("creds/db length=12", &None, &ctx).unwrap(), first);
        // encrypt= keeps a salt next to the password, so the hash is the same every time.
        let h1 = lookup("creds/h encrypt=sha512_crypt", &None, &ctx).unwrap();
        let h2 = lookup("creds/h encrypt=sha512_crypt", &None, &ctx).unwrap();
        assert_eq!(h1, h2);
        let stored = std::fs::read_to_string(dir.join("creds/h")).unwrap();
        let (pw, salt) = parse_content(stored.trim_end());
        assert_eq!(hash(&pw, "sha512", salt.as_deref(), None).unwrap(), h1);
        assert_ne!(
            lookup("/dev/null", &None, &ctx).unwrap(),
            lookup("/dev/null", &None, &ctx).unwrap()
        );
        for (term, msg) in [
            ("x seed=a", "'seed=' is not supported"),
            ("x bogus=1", "Unrecognized parameter(s)"),
            ("x length=3 y", "Unrecognized value after"),
        ] {
            let e = lookup(term, &None, &ctx).unwrap_err().to_string();
            assert!(e.contains(msg), "{term}: {e}");
        }
        // Ansible puts the comma of `,,` first.
        assert_eq!(chars_of("digits,,"), ",0123456789");
        // Only the password files were ever named: no temporary file is left beside them.
        let mut names: Vec<String> = std::fs::read_dir(dir.join("creds"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["db", "h"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Both ways of making the file give the whole content and refuse to replace a file.
    #[test]
    fn the_file_is_made_whole_once() {
        let dir = std::env::temp_dir().join(format!("prov-pwlink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a");
        link_unnamed(&a, b"one\n")
            .expect("this file system has O_TMPFILE")
            .unwrap();
        let again = link_unnamed(&a, b"two\n").unwrap().unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        let b = dir.join("b");
        link_named(&b, b"three\n").unwrap();
        assert!(link_named(&b, b"four\n").is_err());
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "one\n");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "three\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
