//! Ansible's `comment` filter: text turned into a comment block for a configuration file
//! (`{{ ansible_managed | comment }}` at the top of a template), in the styles Ansible knows
//! (`plain` `#`, `erlang` `%`, `c` `//`, `cblock` `/* */`, `xml` `<!-- -->`) and with its
//! keyword overrides (`decoration`, `beginning`, `prefix`, `prefix_count`, `postfix`,
//! `postfix_count`, `end`, `newline`). The result is Ansible's, character for character.

use minijinja::value::Kwargs;
use minijinja::{Error, ErrorKind};

/// A style's beginning, decoration and end.
struct Style {
    beginning: &'static str,
    decoration: &'static str,
    end: &'static str,
}

fn style(name: &str) -> Option<Style> {
    let (beginning, decoration, end) = match name {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        _ => return None,
    };
    Some(Style {
        beginning,
        decoration,
        end,
    })
}

/// The comment block of `text`.
pub fn comment(text: &str, style_name: Option<String>, kw: Kwargs) -> Result<String, Error> {
    let name = match kw.get::<Option<String>>("style")? {
        Some(s) => s,
        None => style_name.unwrap_or_else(|| "plain".into()),
    };
    let st = style(&name).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("comment: invalid style '{name}' (available: plain, erlang, c, cblock, xml)"),
        )
    })?;
    let text_kw = |k: &str| kw.get::<Option<String>>(k);
    let count = |k: &str| -> Result<usize, Error> {
        Ok(match kw.get::<Option<minijinja::Value>>(k)? {
            None => 1,
            Some(v) => crate::template::to_text(&v).trim().parse().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("comment: {k} must be a number"),
                )
            })?,
        })
    };
    // The prefix and postfix lines default to the decoration without its trailing spaces.
    let prepostfix = text_kw("decoration")?.unwrap_or_else(|| st.decoration.to_string());
    let newline = text_kw("newline")?.unwrap_or_else(|| "\n".into());
    let beginning = text_kw("beginning")?.unwrap_or_else(|| st.beginning.into());
    let prefix = text_kw("prefix")?.unwrap_or_else(|| prepostfix.trim_end().into());
    let decoration = text_kw("decoration")?.unwrap_or_else(|| st.decoration.into());
    let postfix = text_kw("postfix")?.unwrap_or_else(|| prepostfix.trim_end().into());
    let end = text_kw("end")?.unwrap_or_else(|| st.end.into());
    let (prefix_count, postfix_count) = (count("prefix_count")?, count("postfix_count")?);
    kw.assert_all_used()?;

    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let line = if prefix == newline {
            newline.clone()
        } else {
            format!("{prefix}{newline}")
        };
        out.push_str(&line.repeat(prefix_count));
    }
    // Each line prefixed with the decoration; a line that is only the decoration loses its
    // trailing spaces.
    let body = format!(
        "{decoration}{}",
        text.replace(&newline, &format!("{newline}{decoration}"))
    );
    out.push_str(&body.replace(
        &format!("{decoration}{newline}"),
        &format!("{}{newline}", decoration.trim_end()),
    ));
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    fn render(template: &str) -> String {
        let mut env = minijinja::Environment::new();
        env.add_filter("comment", super::comment);
        env.render_str(template, minijinja::context! {})
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    /// What ansible-core 2.19's `comment` filter returns for the same calls (checked with
    /// its Python on this machine).
    #[test]
    fn as_ansible_writes_them() {
        assert_eq!(render("{{ 'Managed' | comment }}"), "#\n# Managed\n#");
        assert_eq!(
            render("{{ 'a\nb\n\nc' | comment('c') }}"),
            "//\n// a\n// b\n//\n// c\n//"
        );
        assert_eq!(
            render("{{ 'x' | comment('cblock') }}"),
            "/*\n *\n * x\n *\n */"
        );
        assert_eq!(
            render("{{ 'x' | comment('xml') }}"),
            "<!--\n -\n - x\n -\n-->"
        );
        assert_eq!(render("{{ 'x' | comment('erlang') }}"), "%\n% x\n%");
        assert_eq!(
            render("{{ 'x' | comment(decoration=';; ', prefix_count=2, postfix='') }}"),
            ";;\n;;\n;; x\n"
        );
        assert_eq!(
            render("{{ 'x' | comment(style='plain', prefix='', postfix='', end='# end') }}"),
            "# x\n\n# end"
        );
        assert!(render("{{ 'x' | comment('lua') }}").contains("invalid style 'lua'"));
        assert!(render("{{ 'x' | comment(decoratoin='-') }}").starts_with("error"));
    }
}
