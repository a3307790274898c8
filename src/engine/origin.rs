//! Where a templating error of a running task points, as ansible-core 2.19's `Origin:` does:
//! the YAML value that holds the failing expression ([`Task::source_of`]), at the column of
//! the failure (an undefined name, an unknown filter) when the value is on one line and shows
//! the expression as written, else at the value's start; the task itself when the parser kept
//! no such value. An error inside a template file (`template:`, `lookup('template')`) keeps
//! that file's line and column.
//!
//! Errors that are not templating errors (a module's failure) have no origin.

use crate::error::{Error, Expression, Span};
use crate::playbook::Task;

/// What a failed item knows of where its error came from, until the task places it.
#[derive(Clone, Debug)]
pub(super) struct Failure {
    span: Option<Span>,
    expression: Expression,
}

impl Failure {
    /// The origin of a templating error (None for other errors).
    pub(super) fn of(e: &Error) -> Option<Failure> {
        Some(Failure {
            span: e.span.clone(),
            expression: (**e.expression.as_ref()?).clone(),
        })
    }

    /// The place in the task's files this failure points at.
    pub(super) fn locate(&self, t: &Task) -> Span {
        if let Some(span) = &self.span {
            return span.clone();
        }
        match t.source_of(&self.expression.text) {
            Some(source) => at_failure(&source.span, &self.expression),
            None => t.span.clone(),
        }
    }
}

/// `span` (a value's start) moved to the failure's column, when the expression is on one line
/// and appears there as written at or after the value's start.
fn at_failure(span: &Span, expr: &Expression) -> Span {
    let moved = || -> Option<u32> {
        let offset = expr.offset?;
        if expr.text.contains('\n') || expr.text.is_empty() {
            return None;
        }
        let text = std::fs::read_to_string(span.file.as_ref()).ok()?;
        let line = text.lines().nth((span.line as usize).checked_sub(1)?)?;
        let start = line
            .char_indices()
            .nth((span.col as usize).checked_sub(1)?)
            .map_or(line.len(), |(i, _)| i);
        let at = start + line[start..].find(&expr.text)? + offset;
        let col = line.get(..at)?.chars().count() + 1;
        u32::try_from(col).ok()
    };
    match moved() {
        Some(col) => Span::new(span.file.clone(), span.line, col),
        None => span.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expression(text: &str, offset: Option<usize>) -> Expression {
        Expression {
            text: text.into(),
            offset,
        }
    }

    #[test]
    fn the_column_moves_to_the_failure_when_the_line_shows_the_expression() {
        let dir = std::env::temp_dir().join(format!("prov-origin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = std::sync::Arc::new(dir.join("pb.yml"));
        std::fs::write(
            file.as_ref(),
            "- debug: msg=\"{{ nope }}\"\n  x: \"é {{ a | nofilter }}\"\n  y: \"a\\tb {{ c }}\"\n",
        )
        .unwrap();
        let at = |line, col, text, offset| {
            let s = at_failure(
                &Span::new(file.clone(), line, col),
                &expression(text, offset),
            );
            (s.line, s.col)
        };
        // Free form: the value starts at `msg=`, the name is inside it.
        assert_eq!(at(1, 10, "{{ nope }}", Some(3)), (1, 18));
        // Columns count characters, not bytes.
        assert_eq!(at(2, 6, "é {{ a | nofilter }}", Some(10)), (2, 16));
        // No offset, or text the line does not show as written (an escape): the value.
        assert_eq!(at(2, 6, "é {{ a | nofilter }}", None), (2, 6));
        assert_eq!(at(3, 6, "a\tb {{ c }}", Some(7)), (3, 6));
        // A line that is not there: the value.
        assert_eq!(at(9, 3, "x", Some(0)), (9, 3));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
