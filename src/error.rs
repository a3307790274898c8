//! The one error type of prov.
//!
//! Every failure a user can see is an [`Error`]: a kind (which decides the process exit code,
//! following ansible-playbook), a message, and, when the error comes from a file we read, the
//! [`Span`] it points at, and the lower-level error it came from ([`std::error::Error::source`],
//! for I/O and SSH failures). Errors display on one line as `file:line:col: message`, so
//! editors and terminals can jump to the offending place; [`Error::render`] adds the
//! offending line with a caret under the column, as prov prints a fatal error.
//!
//! A templating error also names the [`Expression`] it came from (the text as written, and
//! where in it the failure is, when known), so that the engine can point at the YAML value
//! that holds it ([`Span::excerpt`] shows that line, as for a parse error).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in a source file (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub file: Arc<PathBuf>,
    pub line: u32,
    pub col: u32,
}

impl Span {
    pub fn new(file: Arc<PathBuf>, line: u32, col: u32) -> Span {
        Span { file, line, col }
    }

    /// A span that names a whole file (line 1, column 1).
    pub fn file(path: &Path) -> Span {
        Span::new(Arc::new(path.to_path_buf()), 1, 1)
    }
}

impl Span {
    /// The line this span points at, with a caret under its column (None when the file or the
    /// line cannot be read, and for a file that says `no_log` anywhere: its lines may hold
    /// what must never be printed):
    ///
    /// ```text
    ///   |
    /// 3 |   - nme: x
    ///   |     ^
    /// ```
    pub fn excerpt(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.file.as_ref()).ok()?;
        if text.contains("no_log") {
            return None;
        }
        let line = text.lines().nth((self.line as usize).checked_sub(1)?)?;
        if line.len() > 400 {
            return None;
        }
        let number = self.line.to_string();
        let gutter = " ".repeat(number.len());
        // Under the column: the same tabs as the line has before it, spaces for the rest.
        let under: String = line
            .chars()
            .take((self.col as usize).saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        Some(format!(
            "{gutter} |\n{number} | {line}\n{gutter} | {under}^"
        ))
    }
}

/// The template text a templating error came from, as the user wrote it, and the byte offset
/// inside it of what failed (an undefined name, an unknown filter), when that is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    pub text: String,
    pub offset: Option<usize>,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// What went wrong, broadly; decides the exit code (the table is in README.md, "Exit codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad options or combinations of them, an unreadable ansible.cfg (exit 5, Ansible's
    /// `AnsibleOptionsError`).
    Usage,
    /// A playbook, role, template or variable file that cannot be parsed: YAML syntax, an
    /// unknown module or keyword, a bad keyword value (exit 4, Ansible's `AnsibleParserError`).
    Parse,
    /// A file the run needs does not exist: the playbook, a role, an imported tasks file, an
    /// `-e @file`, an inventory source (exit 1, Ansible's `AnsibleError`).
    Missing,
    /// A failure while running: templating, a module, a transport (exit 1 if it escapes a host).
    Runtime,
    /// A host could not be reached or its connection broke.
    Unreachable,
    /// The run was interrupted (Ctrl-C).
    Interrupted,
    /// A storage service refused the credentials or the access (exit 6).
    Denied,
    /// What a storage command names does not exist: a bucket, a build (exit 7).
    NotFound,
}

/// The error type of prov.
#[derive(Clone, Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub span: Option<Span>,
    /// The failure underneath (an I/O or SSH error), for [`std::error::Error::source`].
    pub cause: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    /// For a templating error: the template text it came from ([`Error::in_expression`]).
    pub expression: Option<Box<Expression>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            span: None,
            cause: None,
            expression: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Usage, message)
    }

    pub fn parse(span: Span, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Parse, message).at(span)
    }

    pub fn runtime(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Runtime, message)
    }

    pub fn missing(span: Span, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Missing, message).at(span)
    }

    pub fn unreachable(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unreachable, message)
    }

    /// Attach a span unless the error already carries a more precise one.
    pub fn at(mut self, span: Span) -> Error {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }

    /// Prefix the message with context ("while templating X: ...").
    pub fn context(mut self, ctx: impl fmt::Display) -> Error {
        self.message = format!("{ctx}: {}", self.message);
        self
    }

    /// Name the template text this error came from, with the byte offset of the failure in
    /// it when known. A templating error passes through the templating of every text that
    /// contains the failing one (a lazily templated variable, a `{{ expr }}` inside a
    /// string): each names itself, so the error ends up naming the outermost text, the one
    /// the task wrote, and keeps the failure's offset when the inner text appears in it.
    pub fn in_expression(mut self, text: &str, offset: Option<usize>) -> Error {
        let offset = match self.expression.take() {
            Some(inner) if inner.text == text => inner.offset.or(offset),
            Some(inner) => match text.find(&inner.text) {
                Some(at) => Some(at + inner.offset.unwrap_or(0)),
                None => offset,
            },
            None => offset,
        };
        self.expression = Some(Box::new(Expression {
            text: text.to_string(),
            offset,
        }));
        self
    }

    /// The process exit code this error maps to, as ansible-playbook does.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Usage => 5,
            ErrorKind::Parse | ErrorKind::Unreachable => 4,
            ErrorKind::Missing | ErrorKind::Runtime => 1,
            ErrorKind::Interrupted => signal_exit_code(libc::SIGINT),
            ErrorKind::Denied => 6,
            ErrorKind::NotFound => 7,
        }
    }

    pub fn io(path: &Path, err: std::io::Error) -> Error {
        Error::runtime(format!("{}: {err}", path.display())).caused_by(err)
    }

    /// Keep the failure underneath as this error's [`source`](std::error::Error::source).
    pub fn caused_by(mut self, err: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.cause = Some(Arc::new(err));
        self
    }

    /// The error as prov prints it when it stops: the one-line form, then, when it points
    /// into a file that can still be read, that line with a caret under the column.
    pub fn render(&self) -> String {
        let mut out = self.to_string();
        if let Some(span) = &self.span
            && let Some(excerpt) = span.excerpt()
        {
            out.push('\n');
            out.push_str(&excerpt);
        }
        out
    }
}

/// The exit code of a run a signal stopped (after its clean-up and recap): 99 for Ctrl-C, as
/// ansible-playbook's "User interrupted execution"; 128 + the signal for SIGTERM and SIGHUP,
/// the code ansible-playbook's shell reports when those kill it.
pub fn signal_exit_code(signal: i32) -> i32 {
    if signal == libc::SIGINT {
        99
    } else {
        128 + signal
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(span) => write!(f, "{span}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1) + 1;
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean 'x'?)` or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match suggest(word, candidates) {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_typos_only() {
        assert_eq!(
            suggest("lineinfle", ["lineinfile", "copy"]),
            Some("lineinfile")
        );
        assert_eq!(suggest("whn", ["when", "register"]), Some("when"));
        assert_eq!(suggest("zzzzzz", ["when", "register"]), None);
    }

    #[test]
    fn rendered_errors_show_the_line_and_a_caret() {
        let dir = std::env::temp_dir().join(format!("prov-render-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = Arc::new(dir.join("pb.yml"));
        std::fs::write(
            file.as_ref(),
            "- hosts: all\n  tasks:\n    - nme: x\n\t- tab: y\n",
        )
        .unwrap();
        let table = [
            (
                Error::parse(Span::new(file.clone(), 3, 7), "unknown keyword 'nme'"),
                format!(
                    "{}:3:7: unknown keyword 'nme'\n  |\n3 |     - nme: x\n  |       ^",
                    file.display()
                ),
            ),
            (
                Error::parse(Span::new(file.clone(), 4, 2), "tab"),
                format!("{}:4:2: tab\n  |\n4 | \t- tab: y\n  | \t^", file.display()),
            ),
            // A line past the end, or no file: the one line only.
            (
                Error::parse(Span::new(file.clone(), 40, 1), "late"),
                format!("{}:40:1: late", file.display()),
            ),
            (Error::usage("no playbook"), "no playbook".to_string()),
        ];
        // A file with no_log tasks never has its lines echoed.
        let secret = Arc::new(dir.join("secret.yml"));
        std::fs::write(
            secret.as_ref(),
            "- user: {name: x, pasword: s3cret}\n  no_log: true\n",
        )
        .unwrap();
        let e = Error::parse(Span::new(secret.clone(), 1, 20), "unsupported parameter");
        assert_eq!(
            e.render(),
            format!("{}:1:20: unsupported parameter", secret.display())
        );
        for (e, want) in table {
            assert_eq!(e.render(), want);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_expression_ends_up_as_the_outermost_text_with_the_inner_offset() {
        // `nope` fails at offset 0 of `nope`, inside `{{ nope }}`, inside a lazily templated
        // variable used by `x {{ a }}` (which does not contain it).
        let e = Error::runtime("'nope' is undefined").in_expression("nope", Some(0));
        let e = e.in_expression("{{ nope }}", None);
        let x = e.expression.as_deref().unwrap();
        assert_eq!((x.text.as_str(), x.offset), ("{{ nope }}", Some(3)));
        // The same text again keeps the offset it has.
        let e = e.in_expression("{{ nope }}", Some(0));
        assert_eq!(e.expression.as_deref().unwrap().offset, Some(3));
        // An inner text without an offset: where it is in the outer one.
        let e = Error::runtime("x").in_expression("1 +", None);
        let e = e.in_expression("a {{ 1 + }}", None);
        assert_eq!(e.expression.as_deref().unwrap().offset, Some(5));
        // An outer text that does not contain it: no offset.
        let e = e.in_expression("{{ a }}", None);
        let x = e.expression.as_deref().unwrap();
        assert_eq!((x.text.as_str(), x.offset), ("{{ a }}", None));
        assert!(Error::runtime("x").expression.is_none());
    }

    #[test]
    fn io_errors_keep_their_source() {
        use std::error::Error as _;
        let e = Error::io(
            Path::new("/nonexistent"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        let source = e.source().expect("a source");
        assert_eq!(source.to_string(), "entity not found");
        assert!(Error::runtime("x").source().is_none());
    }

    #[test]
    fn renders_span_first() {
        let e = Error::parse(Span::new(Arc::new("a.yml".into()), 3, 5), "bad");
        assert_eq!(e.to_string(), "a.yml:3:5: bad");
        assert_eq!(e.exit_code(), 4);
    }
}
