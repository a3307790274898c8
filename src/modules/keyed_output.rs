//! The output of a probe script that reports in `KEY=VALUE` lines, and the commands it ran
//! as `NAME.rc=`, `NAME.out=` and `NAME.err=` lines (one per line of their output), as the
//! `iptables` and `ufw` probes print it.

use std::collections::HashMap;

/// Every value of each key, in order.
#[derive(Debug, Default)]
pub struct KeyedOutput(HashMap<String, Vec<String>>);

impl KeyedOutput {
    pub fn parse(out: &str) -> KeyedOutput {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for line in out.lines() {
            if let Some((k, v)) = line.split_once('=') {
                map.entry(k.to_string()).or_default().push(v.to_string());
            }
        }
        KeyedOutput(map)
    }

    /// The first value of `key`.
    pub fn one(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    /// The (rc, stdout, stderr) of the command the probe ran under `name`; an error naming it
    /// when the probe did not report its exit code.
    pub fn run(&self, name: &str) -> std::result::Result<(i32, String, String), String> {
        let rc = self
            .one(&format!("{name}.rc"))
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| format!("the probe did not report {name}"))?;
        let lines = |k: &str| {
            self.0
                .get(&format!("{name}.{k}"))
                .map(|v| v.iter().map(|l| format!("{l}\n")).collect::<String>())
                .unwrap_or_default()
        };
        Ok((rc, lines("out"), lines("err")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_commands_are_read_back() {
        let k = KeyedOutput::parse(
            "version=1.8.9\nlist.rc=1\nlist.out=a=b\nlist.out=\nlist.err=no\nnoise\nversion=2\n",
        );
        assert_eq!(k.one("version"), Some("1.8.9"));
        assert_eq!(k.one("missing"), None);
        assert_eq!(
            k.run("list"),
            Ok((1, "a=b\n\n".to_string(), "no\n".to_string()))
        );
        assert_eq!(
            k.run("other"),
            Err("the probe did not report other".to_string())
        );
        let bad = KeyedOutput::parse("x.rc=many\n");
        assert!(bad.run("x").is_err());
    }
}
