//! Python's `re`, as playbooks write it: patterns for the regex filters and tests and the
//! `regexp` options of lineinfile, replace and blockinfile.
//!
//! [`Pattern`] is `fancy-regex`, so look-ahead, look-behind and backreferences (`(?!...)`,
//! `(?<=...)`, `\1`, `(?P=name)`) work as in Python; a pattern without them runs on
//! regex-automata as fast as the `regex` crate. Python's spellings are translated once
//! ([`python_regex`]: `\Z`), and replacements use Python's `\1`, `\g<1>`, `\g<name>`
//! ([`python_replacement`]). A pattern that backtracks without end is an error, never a hang.

use fancy_regex::{Captures, Regex, RegexBuilder};

/// Python's inline-flag arguments (`re.I`, `re.M`, `re.S`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    pub ignorecase: bool,
    pub multiline: bool,
    pub dotall: bool,
}

/// A compiled Python regular expression.
#[derive(Clone, Debug)]
pub struct Pattern {
    re: Regex,
    source: String,
}

/// Backtracking steps one match may take before it is an error (Python would hang).
const BACKTRACK_LIMIT: usize = 10_000_000;

impl Pattern {
    pub fn new(pattern: &str, flags: Flags) -> Result<Pattern, String> {
        let mut b = RegexBuilder::new(&python_regex(pattern));
        b.case_insensitive(flags.ignorecase)
            .multi_line(flags.multiline)
            .dot_matches_new_line(flags.dotall)
            .backtrack_limit(BACKTRACK_LIMIT);
        let re = b
            .build()
            .map_err(|e| format!("invalid regular expression '{pattern}': {e}"))?;
        Ok(Pattern {
            re,
            source: pattern.to_string(),
        })
    }

    /// A pattern without flags.
    pub fn plain(pattern: &str) -> Result<Pattern, String> {
        Pattern::new(pattern, Flags::default())
    }

    fn failed(&self, e: fancy_regex::Error) -> String {
        format!("regular expression '{}' failed: {e}", self.source)
    }

    pub fn is_match(&self, text: &str) -> Result<bool, String> {
        self.re.is_match(text).map_err(|e| self.failed(e))
    }

    /// The first match's groups (Python's `re.search`).
    pub fn captures<'t>(&self, text: &'t str) -> Result<Option<Captures<'t, str>>, String> {
        self.re.captures(text).map_err(|e| self.failed(e))
    }

    /// The groups' names, group 0 (the whole match) first; unnamed groups are `None`.
    pub fn names(&self) -> impl Iterator<Item = Option<&str>> {
        self.re.capture_names()
    }

    /// Every non-overlapping match's groups (Python's `re.finditer`).
    pub fn captures_all<'t>(&self, text: &'t str) -> Result<Vec<Captures<'t, str>>, String> {
        self.re
            .captures_iter(text)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.failed(e))
    }

    /// How many non-overlapping matches there are.
    pub fn count(&self, text: &str) -> Result<usize, String> {
        let mut n = 0;
        for m in self.re.find_iter(text) {
            m.map_err(|e| self.failed(e))?;
            n += 1;
        }
        Ok(n)
    }

    /// Python's `re.sub(pattern, repl, text, count)`: `limit` 0 replaces every match.
    pub fn replace(&self, text: &str, python_repl: &str, limit: usize) -> Result<String, String> {
        let repl = python_replacement(python_repl);
        self.re
            .try_replacen(text, limit, repl.as_str())
            .map(|c| c.into_owned())
            .map_err(|e| self.failed(e))
    }
}

/// Python's `re.escape`: the characters special in a pattern (and whitespace) get a backslash.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Translate the parts of Python regex syntax that Rust's engines spell differently.
pub fn python_regex(pattern: &str) -> String {
    pattern.replace("\\Z", "\\z")
}

/// Translate a Python replacement string (`\1`, `\g<1>`, `\g<name>`, `\n`) into the `${1}`
/// form the engine expands.
pub fn python_replacement(repl: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = repl.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            out.push_str("$$");
        } else if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            if n.is_ascii_digit() {
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_ascii_digit() && j < i + 3 {
                    j += 1;
                }
                let digits: String = chars[i + 1..j].iter().collect();
                out.push_str(&format!("${{{digits}}}"));
                i = j;
                continue;
            } else if n == 'g' && chars.get(i + 2) == Some(&'<') {
                if let Some(end) = chars[i + 3..].iter().position(|&c| c == '>') {
                    let name: String = chars[i + 3..i + 3 + end].iter().collect();
                    out.push_str(&format!("${{{name}}}"));
                    i = i + 4 + end;
                    continue;
                }
            } else if n == 'n' {
                out.push('\n');
                i += 2;
                continue;
            } else if n == 't' {
                out.push('\t');
                i += 2;
                continue;
            } else if n == '\\' {
                out.push('\\');
                i += 2;
                continue;
            }
            out.push(c);
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values: Python 3's `re` on the same inputs.
    #[test]
    fn python_features_work() {
        let p = |s: &str| Pattern::plain(s).unwrap();
        // Look-ahead and look-behind (hardening roles: "a line not already commented").
        assert!(
            p(r"^(?!#)\s*PermitRootLogin")
                .is_match("PermitRootLogin yes")
                .unwrap()
        );
        assert!(
            !p(r"^(?!#)\s*PermitRootLogin")
                .is_match("#PermitRootLogin yes")
                .unwrap()
        );
        assert!(p(r"(?<=port )\d+").is_match("port 22").unwrap());
        // Backreferences, named groups in Python's spelling.
        assert!(p(r"(\w)\1").is_match("hello").unwrap());
        assert!(p(r"(?P<c>\w)(?P=c)").is_match("hello").unwrap());
        assert_eq!(
            p(r"(?P<key>\w+)=(?P<val>\w+)")
                .replace("a=1 b=2", r"\g<val>:\g<key>", 0)
                .unwrap(),
            "1:a 2:b"
        );
        assert_eq!(p("a").replace("aaa", "b", 2).unwrap(), "bba");
        assert_eq!(
            p("x").replace("x", "$1 costs \\n", 0).unwrap(),
            "$1 costs \n"
        );
        assert_eq!(p(r"a\Z").count("a\na").unwrap(), 1);
        let caps = p(r"(\d+)-(\d+)?").captures("12-").unwrap().unwrap();
        assert_eq!(caps.get(1).map(|m| m.as_str()), Some("12"));
        assert!(caps.get(2).is_none());
        let f = Flags {
            ignorecase: true,
            multiline: true,
            dotall: false,
        };
        assert_eq!(Pattern::new("^b$", f).unwrap().count("a\nB\nb").unwrap(), 2);
        assert!(
            Pattern::plain("(unclosed")
                .unwrap_err()
                .contains("invalid regular expression")
        );
    }

    #[test]
    fn escape_is_pythons() {
        // re.escape('a.b c-d_e/f:g')
        assert_eq!(escape("a.b c-d_e/f:g"), r"a\.b\ c\-d_e/f:g");
    }

    #[test]
    fn runaway_backtracking_is_an_error() {
        // A backreference runs on the backtracker; (a|aa)+ has exponentially many ways.
        let p = Pattern::plain(r"^(a|aa)+\1c").unwrap();
        let text = format!("{}d", "a".repeat(60));
        let e = p.is_match(&text).unwrap_err();
        assert!(e.contains("failed"), "{e}");
    }
}
