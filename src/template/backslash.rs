//! Ansible's backslash rule for templates written in YAML.
//!
//! A playbook string is unescaped once by YAML already. So that a second, surprising round of
//! escapes does not happen inside `{{ }}`, Ansible's lexer takes the string constants of
//! expressions (`{{ }}`, not `{% %}` statements) raw: `regex_replace('(a)', '\1')`, written
//! `"\\1"` in a double-quoted YAML string, passes the back-reference `\1` rather than the byte
//! 0x01. (ansible-core 2.19, `AnsibleLexer.tokeniter`: it doubles each backslash of a string
//! token before Jinja unescapes it.) Conditions and template files are not affected.
//!
//! minijinja's lexer does not offer that hook, so [`escape`] rewrites the source before it is
//! compiled: inside each expression's string constants every backslash is doubled (and a quote
//! it escaped is escaped again), so minijinja's unescaping gives back the raw text.

use std::borrow::Cow;

/// The source with the string constants inside `{{ }}` made raw, as Ansible reads them.
pub fn escape(source: &str) -> Cow<'_, str> {
    if !source.contains('\\') {
        return Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len() + 8);
    let mut rest = source;
    while let Some(start) = next_open(rest) {
        let (text, tag) = rest.split_at(start);
        out.push_str(text);
        let (kind, body) = tag.split_at(2);
        out.push_str(kind);
        rest = match kind {
            "{{" => copy_code(body, "}}", true, &mut out),
            "{%" => {
                let after = copy_code(body, "%}", false, &mut out);
                let statement = &body[..body.len() - after.len()];
                if is_raw(statement) {
                    copy_raw(after, &mut out)
                } else {
                    after
                }
            }
            _ => match body.find("#}") {
                Some(end) => {
                    out.push_str(&body[..end + 2]);
                    &body[end + 2..]
                }
                None => {
                    out.push_str(body);
                    ""
                }
            },
        };
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Where the next `{{`, `{%` or `{#` starts.
fn next_open(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    (0..bytes.len().saturating_sub(1))
        .find(|&i| bytes[i] == b'{' && matches!(bytes[i + 1], b'{' | b'%' | b'#'))
}

/// Copy code up to and including `close`, skipping over string constants (made raw when
/// `raw_strings`). Returns what follows.
fn copy_code<'a>(s: &'a str, close: &str, raw_strings: bool, out: &mut String) -> &'a str {
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if s[i..].starts_with(close) {
            out.push_str(close);
            return &s[i + close.len()..];
        }
        if c != '\'' && c != '"' {
            out.push(c);
            continue;
        }
        let Some(len) = string_len(&s[i..], c) else {
            // An unclosed string: left for minijinja to report.
            out.push_str(&s[i..]);
            return "";
        };
        let inner = &s[i + 1..i + len - 1];
        out.push(c);
        if raw_strings {
            for d in inner.chars() {
                match d {
                    '\\' => out.push_str("\\\\"),
                    d if d == c => out.extend(['\\', d]),
                    d => out.push(d),
                }
            }
        } else {
            out.push_str(inner);
        }
        out.push(c);
        while chars.peek().is_some_and(|&(j, _)| j < i + len) {
            chars.next();
        }
    }
    ""
}

/// The length in bytes of the string constant at the start of `s` (quotes included), as
/// Jinja's lexer reads it: a backslash takes the next character with it.
fn string_len(s: &str, quote: char) -> Option<usize> {
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            chars.next()?;
        } else if c == quote {
            return Some(i + 1);
        }
    }
    None
}

/// Is this statement's body (between `{%` and `%}`) `raw`?
fn is_raw(statement: &str) -> bool {
    let body = statement.strip_suffix("%}").unwrap_or(statement);
    body.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "raw"
}

/// Copy a `{% raw %}` block's text untouched, through its `{% endraw %}`.
fn copy_raw<'a>(s: &'a str, out: &mut String) -> &'a str {
    let mut from = 0;
    while let Some(at) = s[from..].find("{%") {
        let start = from + at;
        if let Some(len) = s[start + 2..].find("%}") {
            let body = &s[start + 2..start + 2 + len];
            if body.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "endraw" {
                let end = start + 2 + len + 2;
                out.push_str(&s[..end]);
                return &s[end..];
            }
        }
        from = start + 2;
    }
    out.push_str(s);
    ""
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn strings_inside_expressions_become_raw() {
        assert_eq!(escape(r"{{ x | f('\1') }}"), r"{{ x | f('\\1') }}");
        assert_eq!(escape(r#"{{ "a\\b" }}"#), r#"{{ "a\\\\b" }}"#);
        assert_eq!(escape(r"{{ 'it\'s' }}"), r"{{ 'it\\\'s' }}");
        assert_eq!(escape(r#"{{ 'say "\d"' }}"#), r#"{{ 'say "\\d"' }}"#);
    }

    #[test]
    fn text_statements_comments_and_raw_blocks_are_untouched() {
        for s in [
            r"no template \1",
            r"x\3 {# '\1' #} y",
            r#"{% set t = "q\tz" %}{{ t }}"#,
            r"{% raw %}{{ '\1' }}{% endraw %}",
            r"{%- raw -%}{{ '\1' }}{%- endraw %}",
            r"{{ 'unclosed \1 }}",
        ] {
            assert_eq!(escape(s), s, "{s}");
        }
        assert_eq!(
            escape(r"a\1 {% if x %}{{ '\1' }}{% endif %} {{ 'b}}\n' }}"),
            r"a\1 {% if x %}{{ '\\1' }}{% endif %} {{ 'b}}\\n' }}"
        );
    }

    #[test]
    fn multibyte_text_survives() {
        assert_eq!(escape(r"é {{ 'ü\1' }} ß\"), r"é {{ 'ü\\1' }} ß\");
    }
}
