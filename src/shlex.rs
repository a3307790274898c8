//! POSIX shell word splitting and quoting (Python's `shlex.split`/`shlex.quote`).
//!
//! Used for INI inventory lines, `k=v` module arguments, the `command` module's argv, and
//! `ansible_ssh_common_args`. Quoting is the single place where we build shell text from data.

/// Split like `shlex.split` (POSIX mode, no comments).
pub fn split(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(format!("unterminated single quote in: {s}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some('\n') => {}
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => return Err(format!("unterminated double quote in: {s}")),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(format!("unterminated double quote in: {s}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(x) => cur.push(x),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Quote one word for a POSIX shell, as Python's `shlex.quote` (and Ansible's `quote`
/// filter) does: safe words as they are, others in single quotes.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}

/// One element of a glob pattern.
enum Glob {
    Star,
    Any,
    Class { set: Vec<char>, negate: bool },
    Char(char),
}

impl Glob {
    /// The pattern's elements; a `[` without its `]` is a literal `[`.
    fn parse(pattern: &str) -> Vec<Glob> {
        let p: Vec<char> = pattern.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < p.len() {
            match p[i] {
                '*' => out.push(Glob::Star),
                '?' => out.push(Glob::Any),
                '[' => match p[i + 1..].iter().skip(1).position(|&c| c == ']') {
                    Some(k) => {
                        let end = i + 2 + k;
                        let mut set = &p[i + 1..end];
                        let negate = matches!(set.first(), Some('!') | Some('^'));
                        if negate {
                            set = &set[1..];
                        }
                        out.push(Glob::Class {
                            set: set.to_vec(),
                            negate,
                        });
                        i = end;
                    }
                    None => out.push(Glob::Char('[')),
                },
                c => out.push(Glob::Char(c)),
            }
            i += 1;
        }
        out
    }

    /// Whether this element (not a star) matches one character.
    fn one(&self, c: char) -> bool {
        match self {
            Glob::Star | Glob::Any => true,
            Glob::Char(x) => *x == c,
            Glob::Class { set, negate } => {
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != *negate
            }
        }
    }
}

/// Shell (fnmatch-style) pattern matching: `*`, `?`, `[abc]`, `[!abc]`, `[a-z]`. Linear in
/// the pattern times the name whatever the pattern (a star backtracks only to the last star),
/// so a hostile pattern cannot make it run for ever.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p = Glob::parse(pattern);
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(Glob::Star) => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(g) if g.one(n[ni]) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|g| matches!(g, Glob::Star))
}

/// Quote and join words into one shell command line.
pub fn join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Split into words but keep quotes (Ansible's `split_args`), so `k="a b"` stays one word
/// and its value can be unquoted afterwards. Jinja `{{ }}`/`{% %}` stay in one word.
pub fn split_keep_quotes(s: &str) -> Result<Vec<String>, String> {
    Ok(word_spans(s)?
        .into_iter()
        .map(|r| s[r].to_string())
        .collect())
}

/// The byte ranges of the words [`split_keep_quotes`] finds.
pub fn word_spans(s: &str) -> Result<Vec<std::ops::Range<usize>>, String> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut depth = 0i32; // inside {{ }} or {% %}
    let mut prev: Option<char> = None;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let next = iter.peek().map(|(_, n)| *n);
        if quote.is_none() && c == '{' && matches!(next, Some('{') | Some('%')) {
            depth += 1;
            start.get_or_insert(i);
            iter.next();
            prev = next;
            continue;
        }
        if quote.is_none() && depth > 0 && matches!(c, '}' | '%') && next == Some('}') {
            depth -= 1;
            iter.next();
            prev = Some('}');
            continue;
        }
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                start.get_or_insert(i);
            }
            (Some(q), c) if c == q && prev != Some('\\') => quote = None,
            (None, c) if c.is_whitespace() && depth == 0 => {
                if let Some(st) = start.take() {
                    out.push(st..i);
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
        prev = Some(c);
    }
    if quote.is_some() {
        return Err(format!("unbalanced quotes in: {s}"));
    }
    if let Some(st) = start {
        out.push(st..s.len());
    }
    Ok(out)
}

/// Remove one level of matching outer quotes.
pub fn unquote(s: &str) -> String {
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            let inner = &s[1..s.len() - 1];
            return if q == '"' {
                inner.replace("\\\"", "\"")
            } else {
                inner.to_string()
            };
        }
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_fnmatch_does_in_linear_time() {
        for (p, n, want) in [
            ("web*", "web1", true),
            ("web*", "db1", false),
            ("*", "", true),
            ("?", "", false),
            ("golyat-[0-9]", "golyat-3", true),
            ("golyat-[!0-9]", "golyat-3", false),
            ("golyat-[^a]", "golyat-b", true),
            ("a[bc]d", "acd", true),
            ("a[b", "a[b", true),
            ("*.conf", "sshd.conf", true),
            ("*a*b", "xaab", true),
            ("*a*b", "xaabc", false),
            ("kube*", "kubelet", true),
        ] {
            assert_eq!(glob_match(p, n), want, "{p} {n}");
        }
        // Exponential for a naive backtracking matcher.
        let hostile = "*a".repeat(40) + "b";
        assert!(!glob_match(&hostile, &"a".repeat(200)));
    }

    #[test]
    fn splits_like_shlex() {
        assert_eq!(
            split("a 'b c' \"d \\\"e\\\"\" f\\ g").unwrap(),
            ["a", "b c", "d \"e\"", "f g"]
        );
        assert_eq!(
            split(r#"-o ProxyCommand="cloudflared access ssh --hostname %h""#).unwrap(),
            ["-o", "ProxyCommand=cloudflared access ssh --hostname %h"]
        );
        assert!(split("'open").is_err());
    }

    #[test]
    fn keeps_quotes_and_jinja_together() {
        assert_eq!(
            split_keep_quotes("path=/etc/x line='a b' msg={{ x | default('y z') }}").unwrap(),
            ["path=/etc/x", "line='a b'", "msg={{ x | default('y z') }}"]
        );
        assert_eq!(unquote("'a b'"), "a b");
        assert_eq!(join(&["echo", "it's"]), "echo 'it'\"'\"'s'");
    }
}
