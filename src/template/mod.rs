//! Jinja templating with Ansible's semantics, on minijinja.
//!
//! One [`Environment`] is built once per process ([`env`]) with strict undefined behaviour
//! (an undefined variable is an error unless `default`/`is defined` handle it), Ansible's
//! `trim_blocks=True`, trailing newlines kept, Python-style rendering of `True`/`False`/`None`
//! and containers, and the Ansible filters, tests and lookups in [`filters`] and [`lookup`].
//!
//! The entry points take a [`Context`] (the lazily templated variables of one host and task,
//! see [`crate::vars`]):
//! - [`render_value`] templates every string inside a value; a string that is exactly one
//!   `{{ expr }}` keeps the native type of the expression (list, dict, int, bool), as Ansible does;
//! - [`eval_condition`] evaluates `when`/`changed_when`/`failed_when`/`assert` expressions;
//! - [`render_file`] renders a `.j2` file, honouring a `#jinja2:` header line.
//!
//! Every templating error names the text it came from ([`Error::in_expression`], with the
//! offset of an undefined name or unknown filter in it when known), so the engine can point
//! at the YAML value that holds it; an error in a `.j2` file carries that file's line and
//! column as its span.
//!
//! Work is bounded: every render has [`TEMPLATE_FUEL`] (minijinja's fuel: instructions and
//! bytes), and `range()` stops a loop with the task's `timeout` message once the context's
//! [`crate::vars::Deadline`] has passed.

mod backslash;
mod comment;
mod errors;
pub mod filters;
mod filters_json;
mod filters_more;
mod filters_paths;
pub mod lookup;
mod lookup_data;
mod password;

use std::sync::{Arc, LazyLock};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::ValueKind;
use minijinja::{Environment, UndefinedBehavior, Value};

use crate::error::{Error, Result};
use crate::vars::Context;
pub use errors::describe_error;
use errors::{failure_offset, in_template_file, name_offset, template_error, undefined_error};

/// The work one render may do (minijinja fuel: about one unit per instruction and per 64 bytes
/// made). Far beyond any real template, it stops one that would loop or allocate without end.
pub const TEMPLATE_FUEL: u64 = 1_000_000_000;

static ENV: LazyLock<Environment<'static>> =
    LazyLock::new(|| build_env(&TemplateOptions::default()));

/// The shared environment with Ansible's defaults.
pub fn env() -> &'static Environment<'static> {
    &ENV
}

/// Jinja options a template may change (template module args or a `#jinja2:` header).
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateOptions {
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    pub keep_trailing_newline: bool,
    pub variable_start: String,
    pub variable_end: String,
    pub block_start: String,
    pub block_end: String,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            trim_blocks: true,
            lstrip_blocks: false,
            keep_trailing_newline: true,
            variable_start: "{{".into(),
            variable_end: "}}".into(),
            block_start: "{%".into(),
            block_end: "%}".into(),
        }
    }
}

fn build_env(opts: &TemplateOptions) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    let syntax = SyntaxConfig::builder()
        .variable_delimiters(opts.variable_start.clone(), opts.variable_end.clone())
        .block_delimiters(opts.block_start.clone(), opts.block_end.clone())
        .trim_blocks(opts.trim_blocks)
        .lstrip_blocks(opts.lstrip_blocks)
        .keep_trailing_newline(opts.keep_trailing_newline)
        .build()
        .expect("valid template syntax");
    env.set_syntax(syntax);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::UndefinedError,
                "undefined value",
            ));
        }
        out.write_str(&to_text(value))
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write failed"))
    });
    // Python's str/dict/list methods (`x.startswith('a')`, `d.items()`), as Ansible templates use them.
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    filters::register(&mut env);
    filters_more::register(&mut env);
    filters_paths::register(&mut env);
    lookup::register(&mut env);
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.add_function("range", range);
    env
}

/// Collections whose filters and tests roles name by FQCN (`x | community.general.json_query(q)`,
/// `x is ansible.builtin.match(p)`): each of prov's answers to these names too.
const FQCN_PREFIXES: &[&str] = &[
    "ansible.builtin.",
    "ansible.legacy.",
    "community.general.",
    "ansible.utils.",
];

/// Register a filter under its name and its FQCNs.
pub(crate) fn add_filter<F, Rv, Args>(env: &mut Environment<'static>, name: &'static str, f: F)
where
    F: minijinja::functions::Function<Rv, Args> + Clone,
    Rv: minijinja::value::FunctionResult,
    Args: for<'a> minijinja::value::FunctionArgs<'a>,
{
    for p in FQCN_PREFIXES {
        env.add_filter(format!("{p}{name}"), f.clone());
    }
    env.add_filter(name, f);
}

/// Register a test under its name and its FQCNs.
pub(crate) fn add_test<F, Rv, Args>(env: &mut Environment<'static>, name: &'static str, f: F)
where
    F: minijinja::functions::Function<Rv, Args> + Clone,
    Rv: minijinja::value::FunctionResult,
    Args: for<'a> minijinja::value::FunctionArgs<'a>,
{
    for p in FQCN_PREFIXES {
        env.add_test(format!("{p}{name}"), f.clone());
    }
    env.add_test(name, f);
}

/// Jinja's `range()`, minijinja's own, but a loop over it ends with the task's `timeout`
/// message once the template's deadline has passed.
fn range(
    state: &minijinja::State,
    lower: isize,
    upper: Option<isize>,
    step: Option<isize>,
) -> std::result::Result<Value, minijinja::Error> {
    let items = minijinja::functions::range(lower, upper, step)?;
    let deadline = state
        .lookup("vars")
        .and_then(|v| v.downcast_object::<Context>())
        .and_then(|ctx| ctx.deadline().map(|d| (d.at, d.message.clone())));
    let Some((at, message)) = deadline else {
        return Ok(items);
    };
    Ok(Value::make_iterable(move || {
        let mut inner = items.try_iter().into_iter().flatten();
        let message = message.clone();
        let mut n: u32 = 0;
        let mut done = false;
        std::iter::from_fn(move || {
            n = n.wrapping_add(1);
            if done {
                return None;
            }
            if n % 1024 == 1 && std::time::Instant::now() >= at {
                done = true;
                return Some(Value::from(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    message.clone(),
                )));
            }
            inner.next()
        })
    }))
}

/// A list, however minijinja made it (literal, `| list`, `+`, `map`, ...).
pub fn is_list(value: &Value) -> bool {
    matches!(value.kind(), ValueKind::Seq | ValueKind::Iterable)
}

/// Does this string need templating at all?
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// A value as Jinja would print it inside Ansible: `None` is empty, booleans are
/// `True`/`False`, lists and dicts in Python's repr.
pub fn to_text(value: &Value) -> String {
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => String::new(),
        ValueKind::String => value.as_str().unwrap_or_default().to_string(),
        _ => py_repr(value),
    }
}

/// Python's `repr()` of a value (strings quoted), used for containers in text.
pub fn py_repr(value: &Value) -> String {
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => "None".into(),
        ValueKind::Bool => if value.is_true() { "True" } else { "False" }.into(),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            if s.contains('\'') && !s.contains('"') {
                format!("\"{s}\"")
            } else {
                format!(
                    "'{}'",
                    s.replace('\\', "\\\\")
                        .replace('\'', "\\'")
                        .replace('\n', "\\n")
                )
            }
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<String> = value
                .try_iter()
                .into_iter()
                .flatten()
                .map(|v| py_repr(&v))
                .collect();
            format!("[{}]", items.join(", "))
        }
        ValueKind::Map => {
            let items: Vec<String> = value
                .try_iter()
                .into_iter()
                .flatten()
                .map(|k| {
                    let v = value.get_item(&k).unwrap_or_default();
                    format!("{}: {}", py_repr(&k), py_repr(&v))
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        _ => value.to_string(),
    }
}

/// The expression inside a string that is exactly `{{ expr }}`, if it is one.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner.trim())
}

/// Template a string written in YAML (Ansible's backslash rule applies, see [`backslash`]).
/// A string that is one `{{ expr }}` keeps the expression's type.
pub fn render_str(s: &str, ctx: &Arc<Context>) -> Result<Value> {
    if !is_template(s) {
        return Ok(Value::from(s));
    }
    render_str_inner(s, ctx).map_err(|e| e.in_expression(s, None))
}

fn render_str_inner(s: &str, ctx: &Arc<Context>) -> Result<Value> {
    let source = backslash::escape(s);
    if let Some(expr) = single_expression(&source) {
        return eval_expression(expr, ctx);
    }
    // Jinja drops one trailing newline, which leaves a single expression whose value keeps its
    // type (`"{{ n }}\n"` is the number); Ansible then gives a string its newline back.
    if let Some(expr) = source.strip_suffix('\n').and_then(single_expression) {
        let v = eval_expression(expr, ctx)?;
        return Ok(match v.as_str() {
            Some(text) => Value::from(format!("{text}\n")),
            None => v,
        });
    }
    render_text_with(env(), &source, ctx)
}

/// Template a string written in YAML and always return text.
pub fn render_text(s: &str, ctx: &Arc<Context>) -> Result<String> {
    if !is_template(s) {
        return Ok(s.to_string());
    }
    Ok(render_text_with(env(), &backslash::escape(s), ctx)
        .map_err(|e| e.in_expression(s, None))?
        .as_str()
        .unwrap_or_default()
        .to_string())
}

fn render_text_with(env: &Environment<'static>, s: &str, ctx: &Arc<Context>) -> Result<Value> {
    let tmpl = env.template_from_str(s).map_err(|e| {
        Error::runtime(format!(
            "template error while templating '{s}': {}",
            describe_error(&e)
        ))
        .in_expression(s, failure_offset(&e, s))
    })?;
    check_roots(s, &tmpl.undeclared_variables(false), ctx)?;
    match tmpl.render(Value::from_dyn_object(ctx.clone())) {
        Ok(out) => Ok(Value::from(out)),
        Err(err) => Err(ctx
            .take_error()
            .unwrap_or_else(|| template_error(&err, s, ctx))),
    }
}

/// Ansible's undefined is strict, except under `default` and `is defined`: attribute lookups
/// on an undefined value chain (so `result.stdout | default('')` works when `result` is
/// undefined), but using an undefined variable is an error naming it. minijinja's chainable
/// mode gives the first half; this check gives the second for variables the text uses
/// without such a guard.
fn check_roots(
    source: &str,
    names: &std::collections::HashSet<String>,
    ctx: &Arc<Context>,
) -> Result<()> {
    const GUARDS: &[&str] = &[
        "default(",
        "d(",
        "is defined",
        "is undefined",
        "is not defined",
        "mandatory",
        "is none",
    ];
    if GUARDS.iter().any(|g| source.contains(g)) {
        return Ok(());
    }
    let mut missing: Vec<&String> = names
        .iter()
        .filter(|n| !ctx.resolves(n) && !env().globals().any(|(g, _)| g == n.as_str()))
        .filter(|n| {
            !matches!(
                n.as_str(),
                "lookup"
                    | "query"
                    | "q"
                    | "range"
                    | "dict"
                    | "namespace"
                    | "loop"
                    | "self"
                    | "super"
                    | "caller"
                    | "varargs"
                    | "kwargs"
            )
        })
        .collect();
    missing.sort();
    match missing.first() {
        None => Ok(()),
        Some(name) => Err(Error::runtime(format!(
            "'{name}' is undefined (in '{}')",
            source.trim()
        ))
        .in_expression(source, name_offset(source, name))),
    }
}

/// Evaluate a bare Jinja expression to a value.
pub fn eval_expression(expr: &str, ctx: &Arc<Context>) -> Result<Value> {
    let compiled = env().compile_expression(expr).map_err(|e| {
        Error::runtime(format!(
            "template error in '{expr}': {}",
            describe_error(&e)
        ))
        .in_expression(expr, failure_offset(&e, expr))
    })?;
    check_roots(expr, &compiled.undeclared_variables(false), ctx)?;
    let result = compiled.eval(Value::from_dyn_object(ctx.clone()));
    if let Some(err) = ctx.take_error() {
        return Err(err.in_expression(expr, None));
    }
    match result {
        Ok(v) if v.is_undefined() => Err(undefined_error(
            expr,
            &compiled.undeclared_variables(true),
            ctx,
        )),
        Ok(v) => Ok(v),
        Err(err) => Err(template_error(&err, expr, ctx)),
    }
}

/// Evaluate a condition (`when`, `changed_when`, `failed_when`, `that`).
/// A condition written as `{{ ... }}` is templated first and its text evaluated, as Ansible does.
/// Whether conditions may have results that are not booleans (ansible.cfg's
/// `allow_broken_conditionals`, `ANSIBLE_ALLOW_BROKEN_CONDITIONALS`): the pre-2.19 rule, where
/// a string, number or list counts by its truth. Off by default, as in ansible-core 2.19.
static ALLOW_BROKEN_CONDITIONALS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Set the run's rule for conditions that are not booleans (see [`eval_condition`]).
pub fn allow_broken_conditionals(allow: bool) {
    ALLOW_BROKEN_CONDITIONALS.store(allow, std::sync::atomic::Ordering::Relaxed);
}

/// The Python name of a value's type, as Ansible's messages give it.
fn python_type(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Bool => "bool",
        ValueKind::None | ValueKind::Undefined => "NoneType",
        ValueKind::Number if v.as_i64().is_some() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

/// A conditional (`when`, `changed_when`, `failed_when`, `until`, `assert`'s `that`): its
/// result must be a boolean, as ansible-core 2.19 requires (`when: name is defined and name`
/// is an error, not the truth of a string), unless broken conditionals are allowed.
pub fn eval_condition(cond: &Value, ctx: &Arc<Context>) -> Result<bool> {
    let v = eval_condition_value(cond, ctx).map_err(|e| e.in_expression(&to_text(cond), None))?;
    if v.kind() == ValueKind::Bool
        || ALLOW_BROKEN_CONDITIONALS.load(std::sync::atomic::Ordering::Relaxed)
    {
        return Ok(v.is_true());
    }
    Err(Error::runtime(format!(
        "Conditional result ({}) was derived from value of type '{}' ('{}'). Conditionals must have a boolean result (allow_broken_conditionals = true in ansible.cfg, or ANSIBLE_ALLOW_BROKEN_CONDITIONALS=true, restores the old rule)",
        if v.is_true() { "True" } else { "False" },
        python_type(&v),
        to_text(cond).trim()
    ))
    .in_expression(&to_text(cond), None))
}

/// A boolean keyword given as a template or value (`become:`, `check_mode:`, `no_log:`):
/// the truth of whatever it gives, as Ansible's boolean conversion of a keyword.
pub fn eval_flag(cond: &Value, ctx: &Arc<Context>) -> Result<bool> {
    Ok(eval_condition_value(cond, ctx)
        .map_err(|e| e.in_expression(&to_text(cond), None))?
        .is_true())
}

/// What a condition evaluates to.
fn eval_condition_value(cond: &Value, ctx: &Arc<Context>) -> Result<Value> {
    match cond.kind() {
        ValueKind::Bool => return Ok(cond.clone()),
        ValueKind::None => return Ok(Value::from(false)),
        ValueKind::Number => return Ok(cond.clone()),
        _ => {}
    }
    let text = cond
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| cond.to_string());
    let expr = if is_template(&text) {
        match render_str(&text, ctx)? {
            v if v.kind() == ValueKind::Bool => return Ok(v),
            v => to_text(&v),
        }
    } else {
        text
    };
    let expr = expr.trim();
    match expr {
        "" => Ok(Value::from(false)),
        "True" | "true" => Ok(Value::from(true)),
        "False" | "false" => Ok(Value::from(false)),
        _ => eval_expression(expr, ctx),
    }
}

/// Template every string inside a value (lists and maps recursively).
pub fn render_value(value: &Value, ctx: &Arc<Context>) -> Result<Value> {
    if let Some(plain) = crate::vault::Vaulted::plaintext_of(value) {
        return plain;
    }
    match value.kind() {
        ValueKind::String => render_str(value.as_str().unwrap_or_default(), ctx),
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = Vec::with_capacity(value.len().unwrap_or(0));
            for item in value.try_iter()? {
                out.push(render_value(&item, ctx)?);
            }
            Ok(Value::from(out))
        }
        ValueKind::Map => {
            let mut out = indexmap::IndexMap::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                let key = match key.as_str() {
                    Some(k) if is_template(k) => render_text(k, ctx)?,
                    _ => key.to_string(),
                };
                out.insert(key, render_value(&item, ctx)?);
            }
            Ok(Value::from_pairs(out))
        }
        _ => Ok(value.clone()),
    }
}

/// Does a value contain any string that needs templating (or a `!vault` value, templated to
/// its plaintext)?
pub fn needs_templating(value: &Value) -> bool {
    if crate::vault::Vaulted::plaintext_of(value).is_some() {
        return true;
    }
    match value.kind() {
        ValueKind::String => is_template(value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            value.try_iter().into_iter().flatten().any(|k| {
                if value.kind() == ValueKind::Map {
                    needs_templating(&k) || value.get_item(&k).is_ok_and(|v| needs_templating(&v))
                } else {
                    needs_templating(&k)
                }
            })
        }
        _ => false,
    }
}

/// Split off an Ansible `#jinja2: key: value, ...` first line.
pub fn parse_header(source: &str, mut opts: TemplateOptions) -> Result<(TemplateOptions, &str)> {
    let Some(rest) = source.strip_prefix("#jinja2:") else {
        return Ok((opts, source));
    };
    let (line, body) = rest.split_once('\n').unwrap_or((rest, ""));
    for pair in line.split(',') {
        let Some((key, value)) = pair.split_once(':') else {
            continue;
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        let flag = matches!(value, "True" | "true" | "yes" | "1");
        match key.trim() {
            "trim_blocks" => opts.trim_blocks = flag,
            "lstrip_blocks" => opts.lstrip_blocks = flag,
            "keep_trailing_newline" => opts.keep_trailing_newline = flag,
            "variable_start_string" => opts.variable_start = value.into(),
            "variable_end_string" => opts.variable_end = value.into(),
            "block_start_string" => opts.block_start = value.into(),
            "block_end_string" => opts.block_end = value.into(),
            "newline_sequence" => {}
            other => {
                return Err(Error::runtime(format!(
                    "unknown #jinja2 header option '{other}'"
                )));
            }
        }
    }
    Ok((opts, body))
}

/// Render a template file's text (header options honoured).
pub fn render_file(
    source: &str,
    name: &str,
    ctx: &Arc<Context>,
    opts: TemplateOptions,
) -> Result<String> {
    let (opts, body) = parse_header(source, opts)?;
    let custom;
    let env = if opts == TemplateOptions::default() {
        env()
    } else {
        custom = build_env(&opts);
        &custom
    };
    // The body's lines are the file's after the header line.
    let skipped = u32::from(body.len() != source.len());
    let in_file = |e: Error, line: Option<usize>| in_template_file(e, name, body, line, skipped);
    let tmpl = env.template_from_named_str(name, body).map_err(|e| {
        let offset = failure_offset(&e, body);
        in_file(
            Error::runtime(describe_error(&e)).in_expression(body, offset),
            e.line(),
        )
    })?;
    check_roots(body, &tmpl.undeclared_variables(false), ctx).map_err(|e| {
        let what = e
            .message
            .split(" (in '")
            .next()
            .unwrap_or_default()
            .to_string();
        in_file(Error { message: what, ..e }, None)
    })?;
    let rendered = tmpl.render(Value::from_dyn_object(ctx.clone()));
    match rendered {
        Ok(mut text) => {
            // Jinja (and Ansible) keep exactly one trailing newline of the source.
            if opts.keep_trailing_newline && body.ends_with('\n') && !text.ends_with('\n') {
                text.push('\n');
            }
            Ok(text)
        }
        Err(err) => {
            let e = ctx.take_error().unwrap_or_else(|| {
                let base = template_error(&err, body, ctx);
                let message = match err.kind() {
                    minijinja::ErrorKind::UndefinedError => base
                        .message
                        .split(" (in '")
                        .next()
                        .unwrap_or_default()
                        .into(),
                    _ => describe_error(&err),
                };
                Error { message, ..base }
            });
            Err(in_file(e, err.line()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::{Context, Layer};

    fn ctx(yaml: &str) -> Arc<Context> {
        let v = crate::yaml::parse_str(yaml, "vars.yml").unwrap().to_value();
        Context::new(vec![Layer::raw("test", crate::vars::value_to_map(&v))])
    }

    #[test]
    fn single_expression_keeps_native_type() {
        let c = ctx("l: [1, 2]\nn: 3\nb: true\ns: x\n");
        // ansible-core 2.19 printed 3, true, "x\n", [1, 2], "3\n\n" and " 3\n" for these.
        assert_eq!(render_str("{{ n }}\n", &c).unwrap(), Value::from(3));
        assert_eq!(render_str("{{ b }}\n", &c).unwrap(), Value::from(true));
        assert_eq!(render_str("{{ s }}\n", &c).unwrap(), Value::from("x\n"));
        assert_eq!(render_str("{{ l }}\n", &c).unwrap().len(), Some(2));
        assert_eq!(render_str("{{ n }}\n\n", &c).unwrap(), Value::from("3\n\n"));
        assert_eq!(render_str(" {{ n }}\n", &c).unwrap(), Value::from(" 3\n"));
        assert_eq!(render_str("{{ l }}", &c).unwrap().len(), Some(2));
        assert_eq!(render_str("{{ n + 1 }}", &c).unwrap(), Value::from(4));
        assert_eq!(render_str("{{ b }}", &c).unwrap(), Value::from(true));
        assert_eq!(
            render_str("n={{ n }} b={{ b }}", &c).unwrap(),
            Value::from("n=3 b=True")
        );
        assert_eq!(render_str("{{ l }}!", &c).unwrap(), Value::from("[1, 2]!"));
    }

    #[test]
    fn undefined_names_the_variable() {
        let c = ctx("a: 1\n");
        let err = render_str("x {{ missing_var }}", &c).unwrap_err();
        assert!(
            err.message.contains("'missing_var' is undefined"),
            "{}",
            err.message
        );
        let err = render_str("{{ other }}", &c).unwrap_err();
        assert!(
            err.message.contains("'other' is undefined"),
            "{}",
            err.message
        );
        assert_eq!(
            render_str("{{ missing | default('d') }}", &c).unwrap(),
            Value::from("d")
        );
        assert!(!eval_condition(&Value::from("missing is defined"), &c).unwrap());
    }

    #[test]
    fn errors_name_their_expression_and_where_the_failure_is_in_it() {
        let c = ctx("a: '{{ nope }}'\nn: 1\n");
        let at = |r: Result<Value>| {
            let e = r.unwrap_err();
            let x = e.expression.expect("an expression");
            (x.text, x.offset)
        };
        assert_eq!(
            at(render_str("x {{ n }} {{ nope }}", &c)),
            ("x {{ n }} {{ nope }}".into(), Some(13))
        );
        assert_eq!(
            at(render_str("{{ nope }}", &c)),
            ("{{ nope }}".into(), Some(3))
        );
        assert_eq!(
            at(render_str("{{ n | nosuchfilter }}", &c)),
            ("{{ n | nosuchfilter }}".into(), Some(7))
        );
        // A lazily templated variable: the text the caller templated, at the variable.
        assert_eq!(at(render_str("{{ a }}", &c)), ("{{ a }}".into(), Some(3)));
        let cond = Value::from("n == 1 and nope");
        assert_eq!(
            at(eval_condition(&cond, &c).map(Value::from)),
            ("n == 1 and nope".into(), Some(11))
        );
        let cond = Value::from("n");
        assert_eq!(
            at(eval_condition(&cond, &c).map(Value::from)),
            ("n".into(), None)
        );
    }

    #[test]
    fn template_file_errors_point_into_the_file() {
        let c = ctx("n: 1\n");
        let span = |source: &str| {
            let e = render_file(source, "/t/x.j2", &c, TemplateOptions::default()).unwrap_err();
            let s = e.span.expect("a span");
            assert_eq!(s.file.to_str(), Some("/t/x.j2"));
            (s.line, s.col, e.message)
        };
        assert_eq!(
            span("one\ntwo {{ nope }}\n"),
            (2, 8, "'nope' is undefined".into())
        );
        // Found at run time (minijinja's line), and after a header line.
        assert_eq!(
            span("#jinja2: trim_blocks: False\n{{ n }}\n{% if n %}{{ n.x.y }}{% endif %}\n").0,
            3
        );
        let (line, col, msg) = span("{{ n }}\n\n  {{ n | nosuchf }}\n");
        assert_eq!((line, col), (3, 10), "{msg}");
        assert_eq!(span("one\n{% if %}\n").0, 2);
    }

    #[test]
    fn lazy_vars_and_recursion() {
        let c = ctx(
            "a: '{{ b }}-x'\nb: '{{ c | upper }}'\nc: hi\nloop1: '{{ loop2 }}'\nloop2: '{{ loop1 }}'\n",
        );
        assert_eq!(render_str("{{ a }}", &c).unwrap(), Value::from("HI-x"));
        let err = render_str("{{ loop1 }}", &c).unwrap_err();
        assert!(err.message.contains("recursive"), "{}", err.message);
    }

    #[test]
    fn conditions() {
        let c = ctx("flag: 'no'\nitems: [1]\ns: 'False'\n");
        assert!(!eval_condition(&Value::from("flag | bool"), &c).unwrap());
        assert!(eval_condition(&Value::from("items | length > 0"), &c).unwrap());
        assert!(!eval_condition(&Value::from("{{ s }}"), &c).unwrap());
        assert!(eval_condition(&Value::from(true), &c).unwrap());
    }

    #[test]
    fn python_methods_work() {
        let c = ctx("s: ssh-ed25519 AAAA\nd: {a: 1}\n");
        assert!(eval_condition(&Value::from("s.startswith('ssh-')"), &c).unwrap());
        assert_eq!(
            render_str(
                "{{ s.split()[1] }} {{ d.items() | list }} {{ s.upper() }}",
                &c
            )
            .unwrap(),
            Value::from("AAAA [['a', 1]] SSH-ED25519 AAAA")
        );
    }

    #[test]
    fn header_options() {
        let c = ctx("x: 1\n");
        let out = render_file(
            "{% if x %}\nyes\n{% endif %}\n",
            "t.j2",
            &c,
            TemplateOptions::default(),
        )
        .unwrap();
        assert_eq!(out, "yes\n");
        let out = render_file(
            "#jinja2: trim_blocks: False\n{% if x %}\nyes\n{% endif %}\n",
            "t.j2",
            &c,
            TemplateOptions::default(),
        )
        .unwrap();
        assert_eq!(out, "\nyes\n\n");
    }

    #[test]
    fn a_deadline_stops_loops_over_range() {
        let layers = vec![Layer::raw("test", crate::vars::VarMap::new())];
        let ctx = Context::with_deadline(
            layers,
            crate::vars::Deadline {
                at: std::time::Instant::now() + std::time::Duration::from_millis(200),
                message: "The debug action failed to execute in the expected time frame (1) and was terminated".into(),
            },
        );
        let start = std::time::Instant::now();
        let err = render_text(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            &ctx,
        )
        .unwrap_err();
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
        assert!(err.message.contains("expected time frame (1)"), "{err}");
        // Without a deadline range() is minijinja's.
        let plain = Context::new(Vec::new());
        assert_eq!(
            render_text("{{ range(3) | list }}", &plain).unwrap(),
            "[0, 1, 2]"
        );
    }
}
