//! Templating errors: their one-line description ([`describe_error`]), the undefined
//! variable they name, and where the failure is: the offset of an undefined name or unknown
//! filter inside the text ([`Error::in_expression`]), and, in a template file, its line and
//! column as the error's span.

use std::sync::Arc;

use super::{TEMPLATE_FUEL, env, is_template};
use crate::error::Error;
use crate::vars::Context;

/// Where `name` is used in `source` (a byte offset): its first occurrence as a whole word,
/// inside `{{ }}` or `{% %}` when the source is a template rather than a bare expression.
pub(super) fn name_offset(source: &str, name: &str) -> Option<usize> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let delimited = is_template(source);
    source.match_indices(name).map(|(at, _)| at).find(|&at| {
        let before = source[..at].chars().next_back();
        let after = source[at + name.len()..].chars().next();
        let whole = !before.is_some_and(|c| word(c) || c == '.') && !after.is_some_and(word);
        let head = &source[..at];
        let open = head.rfind("{{").max(head.rfind("{%"));
        let close = head.rfind("}}").max(head.rfind("%}"));
        whole && (!delimited || open.is_some_and(|o| close.is_none_or(|c| c < o)))
    })
}

/// Where in `source` a minijinja error is: the name of an unknown filter, test or function.
pub(super) fn failure_offset(err: &minijinja::Error, source: &str) -> Option<usize> {
    let detail = err.detail()?.strip_suffix(" is unknown")?;
    let name = match err.kind() {
        minijinja::ErrorKind::UnknownFilter => detail.strip_prefix("filter ")?,
        minijinja::ErrorKind::UnknownTest => detail.strip_prefix("test ")?,
        minijinja::ErrorKind::UnknownFunction => detail,
        _ => return None,
    };
    name_offset(source, name)
}

/// An error in a template file, placed at its line (minijinja's, else the line of the
/// failure's offset) and column (the offset's, when it falls on that line; else 1).
/// `skipped` lines (a `#jinja2:` header) come before `body` in the file.
pub(super) fn in_template_file(
    e: Error,
    name: &str,
    body: &str,
    line: Option<usize>,
    skipped: u32,
) -> Error {
    let offset = e
        .expression
        .as_ref()
        .filter(|x| x.text == body)
        .and_then(|x| x.offset);
    let at = offset.map(|o| {
        let head = &body[..o.min(body.len())];
        let line = head.matches('\n').count() + 1;
        let col = head.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
        (line, col)
    });
    let (line, col) = match (line, at) {
        (Some(l), Some((al, c))) if l == al => (l, c),
        (Some(l), _) => (l, 1),
        (None, Some(at)) => at,
        (None, None) => (1, 1),
    };
    let line = u32::try_from(line)
        .unwrap_or(u32::MAX)
        .saturating_add(skipped);
    let col = u32::try_from(col).unwrap_or(u32::MAX);
    e.at(crate::error::Span::new(
        Arc::new(std::path::PathBuf::from(name)),
        line,
        col,
    ))
}

/// Make a minijinja error readable, naming undefined variables.
pub(super) fn template_error(err: &minijinja::Error, source: &str, ctx: &Arc<Context>) -> Error {
    if err.kind() == minijinja::ErrorKind::UndefinedError {
        if let Ok(t) = env().template_from_str(source) {
            return undefined_error(source, &t.undeclared_variables(true), ctx);
        }
        if let Ok(e) = env().compile_expression(source) {
            return undefined_error(source, &e.undeclared_variables(true), ctx);
        }
    }
    Error::runtime(format!(
        "template error while templating '{source}': {}",
        describe_error(err)
    ))
    .in_expression(source, failure_offset(err, source))
}

pub(super) fn undefined_error(
    source: &str,
    names: &std::collections::HashSet<String>,
    ctx: &Arc<Context>,
) -> Error {
    let mut missing: Vec<&String> = names.iter().filter(|n| !ctx.resolves(n)).collect();
    missing.sort();
    let what = match missing.first() {
        Some(name) => format!("'{name}' is undefined"),
        None => "an undefined value was used".to_string(),
    };
    let offset = missing.first().and_then(|name| name_offset(source, name));
    Error::runtime(format!("{what} (in '{}')", source.trim())).in_expression(source, offset)
}

/// A template error as prov's error: the message [`describe_error`] writes (the conversion
/// lives here, with minijinja, so the ground layer's `error.rs` knows no template engine).
impl From<minijinja::Error> for Error {
    fn from(err: minijinja::Error) -> Error {
        Error::runtime(describe_error(&err))
    }
}

/// One-line description of a minijinja error.
pub fn describe_error(err: &minijinja::Error) -> String {
    if err.kind() == minijinja::ErrorKind::OutOfFuel {
        return format!(
            "the template did more work than prov allows one template ({TEMPLATE_FUEL} steps; a loop that would run for hours?)"
        );
    }
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_as_whole_words_inside_the_delimiters() {
        assert_eq!(name_offset("nope x nope", "nope"), Some(0));
        assert_eq!(name_offset("a.nope + nopes + nope", "nope"), Some(17));
        assert_eq!(name_offset("nope {{ nope }}", "nope"), Some(8));
        assert_eq!(name_offset("{{ x }} nope {% if nope %}", "nope"), Some(19));
        assert_eq!(name_offset("{{ x }} nope", "nope"), None);
    }
}
