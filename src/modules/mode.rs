//! File modes as Ansible accepts them: integers, octal strings and symbolic modes.
//!
//! `mode: 0644` in YAML is already the integer 420 (see [`crate::yaml`]); `"0644"` and `"644"`
//! are octal strings; `u=rw,g=r,o=` and `a+X` are symbolic and are applied to the current mode
//! of the file (as `chmod` would, with `X` meaning "execute if a directory or already
//! executable by someone"); `preserve` keeps the source's mode (copy/template).

use minijinja::Value;
use minijinja::value::ValueKind;

#[derive(Clone, Debug, PartialEq)]
pub enum ModeSpec {
    Octal(u32),
    Symbolic(String),
    Preserve,
}

impl ModeSpec {
    pub fn parse(v: &Value) -> Result<ModeSpec, String> {
        match v.kind() {
            ValueKind::Number => v
                .as_i64()
                .filter(|i| (0..=0o7777).contains(i))
                .map(|i| ModeSpec::Octal(i as u32))
                .ok_or_else(|| format!("invalid mode {v}")),
            ValueKind::String => {
                let s = v.as_str().unwrap_or_default().trim();
                if s == "preserve" {
                    return Ok(ModeSpec::Preserve);
                }
                let digits = s.strip_prefix("0o").unwrap_or(s);
                if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
                    return u32::from_str_radix(digits, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .map(ModeSpec::Octal)
                        .ok_or_else(|| format!("invalid mode '{s}'"));
                }
                apply_symbolic(0, false, s)?;
                Ok(ModeSpec::Symbolic(s.to_string()))
            }
            _ => Err(format!("invalid mode {v}")),
        }
    }

    /// The numeric mode, given the file's current mode (for symbolic modes) and the source
    /// file's mode (for `preserve`).
    pub fn resolve(
        &self,
        current: u32,
        is_dir: bool,
        src_mode: Option<u32>,
    ) -> Result<u32, String> {
        match self {
            ModeSpec::Octal(m) => Ok(*m),
            ModeSpec::Symbolic(s) => apply_symbolic(current, is_dir, s),
            ModeSpec::Preserve => {
                src_mode.ok_or_else(|| "mode=preserve needs a source file".to_string())
            }
        }
    }
}

/// Apply a symbolic mode (`u+rwx,g-w,o=r`, `a+X`, `g=u`) to `current`.
pub fn apply_symbolic(current: u32, is_dir: bool, spec: &str) -> Result<u32, String> {
    let mut mode = current & 0o7777;
    for clause in spec.split(',') {
        let clause = clause.trim();
        let op_at = clause
            .find(['+', '-', '='])
            .ok_or_else(|| format!("invalid symbolic mode '{spec}'"))?;
        let who = &clause[..op_at];
        if !who.chars().all(|c| "ugoa".contains(c)) {
            return Err(format!("invalid symbolic mode '{spec}'"));
        }
        let who: Vec<char> = if who.is_empty() || who.contains('a') {
            vec!['u', 'g', 'o']
        } else {
            who.chars().collect()
        };
        // Several operations may follow: u+r-w
        let mut rest = &clause[op_at..];
        while let Some(op) = rest.chars().next() {
            let end = rest[1..]
                .find(['+', '-', '='])
                .map(|i| i + 1)
                .unwrap_or(rest.len());
            let perms = &rest[1..end];
            rest = &rest[end..];
            let mut bits = 0u32;
            for w in &who {
                let shift = match w {
                    'u' => 6,
                    'g' => 3,
                    _ => 0,
                };
                let mut b = 0u32;
                for p in perms.chars() {
                    b |= match p {
                        'r' => 4 << shift,
                        'w' => 2 << shift,
                        'x' => 1 << shift,
                        'X' if is_dir || mode & 0o111 != 0 => 1 << shift,
                        'X' => 0,
                        's' if *w == 'u' => 0o4000,
                        's' if *w == 'g' => 0o2000,
                        's' => 0,
                        't' if *w == 'o' => 0o1000,
                        't' => 0,
                        'u' => ((mode >> 6) & 7) << shift,
                        'g' => ((mode >> 3) & 7) << shift,
                        'o' => (mode & 7) << shift,
                        _ => return Err(format!("invalid permission '{p}' in mode '{spec}'")),
                    };
                }
                bits |= b;
            }
            let mask: u32 = who
                .iter()
                .map(|w| match w {
                    'u' => 0o4700,
                    'g' => 0o2070,
                    _ => 0o1007,
                })
                .fold(0, |a, b| a | b);
            match op {
                '+' => mode |= bits,
                '-' => mode &= !bits,
                _ => mode = (mode & !mask) | bits,
            }
        }
    }
    Ok(mode)
}

/// `0644` style text of a mode.
pub fn octal(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integers_strings_and_symbols() {
        assert_eq!(
            ModeSpec::parse(&Value::from(420)).unwrap(),
            ModeSpec::Octal(0o644)
        );
        assert_eq!(
            ModeSpec::parse(&Value::from("0600")).unwrap(),
            ModeSpec::Octal(0o600)
        );
        assert_eq!(
            ModeSpec::parse(&Value::from("755")).unwrap(),
            ModeSpec::Octal(0o755)
        );
        assert_eq!(
            ModeSpec::parse(&Value::from("preserve")).unwrap(),
            ModeSpec::Preserve
        );
        assert!(ModeSpec::parse(&Value::from("0999")).is_err());
        assert!(ModeSpec::parse(&Value::from("u=banana")).is_err());
    }

    #[test]
    fn symbolic_modes_apply_like_chmod() {
        assert_eq!(apply_symbolic(0o644, false, "u=rw,g=r,o=").unwrap(), 0o640);
        assert_eq!(apply_symbolic(0o644, false, "a+x").unwrap(), 0o755);
        assert_eq!(apply_symbolic(0o644, false, "a+X").unwrap(), 0o644);
        assert_eq!(apply_symbolic(0o644, true, "a+X").unwrap(), 0o755);
        assert_eq!(apply_symbolic(0o755, false, "go-wx").unwrap(), 0o744);
        assert_eq!(apply_symbolic(0o640, false, "o=g").unwrap(), 0o644);
        assert_eq!(apply_symbolic(0o755, false, "u+s,+t").unwrap(), 0o5755);
        assert_eq!(apply_symbolic(0o600, false, "u+r-w").unwrap(), 0o400);
    }
}
