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

/// Quote one word for a POSIX shell.
pub fn quote(s: &str) -> String {
    crate::template::filters::shell_quote(s)
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
