//! Python's `str.splitlines()`, with and without `keepends`: the line breaks Python knows
//! (`\n`, `\r`, `\r\n` as one, `\v`, `\f`, `\x1c`-`\x1e`, NEL, LS, PS), which the ported modules'
//! decisions depend on.

/// `s.splitlines(True)`: every line with its break.
pub fn splitlines_keepends(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let end = match c {
            '\r' => match it.peek() {
                Some((_, '\n')) => {
                    it.next();
                    i + 2
                }
                _ => i + 1,
            },
            c if is_break(c) => i + c.len_utf8(),
            _ => continue,
        };
        out.push(&s[start..end]);
        start = end;
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// `s.splitlines()`: the lines without their breaks.
pub fn splitlines(s: &str) -> Vec<&str> {
    splitlines_keepends(s)
        .into_iter()
        .map(|l| match l.strip_suffix("\r\n") {
            Some(l) => l,
            // Each piece but the last ends in exactly one break.
            None => l.strip_suffix(is_break).unwrap_or(l),
        })
        .collect()
}

fn is_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_python_splits() {
        // Checked with Python 3.11: "a\r\nb\rc\nd\x0be\u2028f\n\n".splitlines(...)
        let s = "a\r\nb\rc\nd\x0be\u{2028}f\n\n";
        assert_eq!(
            splitlines_keepends(s),
            ["a\r\n", "b\r", "c\n", "d\x0b", "e\u{2028}", "f\n", "\n"]
        );
        assert_eq!(splitlines(s), ["a", "b", "c", "d", "e", "f", ""]);
        assert_eq!(splitlines("x"), ["x"]);
        assert!(splitlines("").is_empty());
        assert_eq!(splitlines("\r\n\r"), ["", ""]);
    }
}
