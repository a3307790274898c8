//! The framing both resident sessions speak, on one byte stream per host: the shell loop of
//! an SSH session ([`super::ssh::session`]) and the perl prober ([`super::prober`], over SSH or
//! as a chroot's child process).
//!
//! - A script: `LEN_SCRIPT LEN_STDIN\n`, then the script, then its stdin ([`script_frame`]).
//! - Probes (the prober only): `P LEN\n` and a payload listing them ([`probe_frame`]):
//!   `F i follow content checksum len\n` and `len` bytes of path for a file probe;
//!   `Q i len\n` and a primitive's words (NUL-separated,
//!   [`Primitive::words`](crate::host::primitive::Primitive::words)); `C len\n` and the
//!   shell script that answers the command probes ([`script::probe_script_for`]).
//! - Every answer: stdout, `\nNONCE-\n`, stderr, `\nNONCE RC\n` ([`take_answer`]). The nonce is
//!   random per session ([`nonce`]), so no output can contain it.

use crate::host::Probe;
use crate::transport::ExecOutput;
use crate::transport::script;

/// The frame that runs `script` on `stdin`.
pub fn script_frame(script: &str, stdin: &[u8]) -> Vec<u8> {
    let mut frame = script_header(script, stdin).into_bytes();
    frame.extend_from_slice(script.as_bytes());
    frame.extend_from_slice(stdin);
    frame
}

/// The length of [`script_frame`], without building it (stdin may be a whole file).
pub fn script_frame_len(script: &str, stdin: &[u8]) -> usize {
    script_header(script, stdin).len() + script.len() + stdin.len()
}

fn script_header(script: &str, stdin: &[u8]) -> String {
    format!("{} {}\n", script.len(), stdin.len())
}

/// The frame that asks the prober for these probes.
pub fn probe_frame(probes: &[Probe]) -> Vec<u8> {
    let mut payload = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        match p {
            Probe::File(f) => {
                payload.extend_from_slice(
                    format!(
                        "F {i} {} {} {} {}\n",
                        u8::from(f.follow),
                        u8::from(f.content),
                        u8::from(f.checksum),
                        f.path.len()
                    )
                    .as_bytes(),
                );
                payload.extend_from_slice(f.path.as_bytes());
            }
            Probe::Primitive(q) => {
                let words = q.words().join("\0");
                payload.extend_from_slice(format!("Q {i} {}\n", words.len()).as_bytes());
                payload.extend_from_slice(words.as_bytes());
            }
            // Queries are answered as primitives (`host::resolve`); unanswered here.
            Probe::Command(_) | Probe::Query(_) => {}
        }
    }
    let commands = script::probe_script_for(probes, |p| matches!(p, Probe::Command(_)));
    if !commands.is_empty() {
        payload.extend_from_slice(format!("C {}\n", commands.len()).as_bytes());
        payload.extend_from_slice(commands.as_bytes());
    }
    let mut frame = format!("P {}\n", payload.len()).into_bytes();
    frame.extend_from_slice(&payload);
    frame
}

/// 128 random bits, hex.
pub fn nonce() -> String {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if read.is_err() {
        // Unlikely; still unpredictable enough for output that is not adversarial.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Take one complete answer (stdout, `\nNONCE-\n`, stderr, `\nNONCE RC\n`) off the front of
/// `buf`, if it holds one.
pub fn take_answer(buf: &mut Vec<u8>, nonce: &str) -> Option<Result<ExecOutput, String>> {
    let mid = format!("\n{nonce}-\n").into_bytes();
    let end = format!("\n{nonce} ").into_bytes();
    let m = find(buf, &mid)?;
    let e = find(&buf[m + mid.len()..], &end)? + m + mid.len();
    let nl = buf[e + end.len()..].iter().position(|&b| b == b'\n')?;
    let rc_at = e + end.len();
    let rc = String::from_utf8_lossy(&buf[rc_at..rc_at + nl])
        .trim()
        .parse();
    let Ok(rc) = rc else {
        return Some(Err("unexpected answer from the remote shell".into()));
    };
    let stdout = buf[..m].to_vec();
    let stderr = buf[m + mid.len()..e].to_vec();
    buf.drain(..rc_at + nl + 1);
    Some(Ok(ExecOutput { rc, stdout, stderr }))
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_frame_is_as_long_as_said() {
        for (script, stdin) in [("", &b""[..]), ("echo é", &b"0123456789"[..])] {
            assert_eq!(
                script_frame_len(script, stdin),
                script_frame(script, stdin).len()
            );
        }
    }
}
