//! YAML read the way Ansible reads it, into a tree that remembers where every node came from.
//!
//! Ansible loads YAML with PyYAML, which implements YAML 1.1: unquoted `0644` is the octal
//! integer 420, `yes`/`no`/`on`/`off` are booleans (but `y`/`n` are strings), `1e3` is a string
//! (PyYAML floats need a dot), and `<<` merge keys work. Playbooks depend on all of that (file
//! modes!), so we resolve plain scalars with PyYAML's own rules here instead of a YAML 1.2
//! library's. The events come from `granit-parser` (the parser under serde-saphyr), which gives
//! each event its source position, so every [`Node`] carries a [`Span`] for error messages.
//!
//! [`Node::to_value`] turns a tree into the [`minijinja::Value`] the rest of prov works with.
//!
//! Hostile input is bounded: aliases may expand to at most [`ALIAS_NODE_FLOOR`] nodes (or
//! [`ALIAS_RATIO`] times the nodes written out in the file, if that is more), so a "billion
//! laughs" file fails fast with the anchor it came from; nesting is bounded by the parser;
//! duplicate keys warn as Ansible does (once per place); invalid UTF-8 is reported at the
//! line and column of its first bad byte.
//!
//! Ansible Vault data is decrypted here with the process's secrets ([`crate::vault`]): a
//! whole encrypted file when it is read ([`read_text`]; no secret or a wrong one is an error
//! naming the file), and a `!vault` scalar when it is loaded ([`Yaml::Vault`]: its plaintext
//! where it is used; one that cannot be decrypted fails only there, as in Ansible).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use granit_parser::{Event, Options, Parser, ScalarStyle};
use minijinja::Value;
use regex::Regex;

use crate::error::{Error, Result, Span};

/// One YAML node and where it starts.
#[derive(Clone, Debug)]
pub struct Node {
    pub value: Yaml,
    pub span: Span,
}

/// The value of a node, after YAML 1.1 scalar resolution and merge-key expansion.
#[derive(Clone, Debug)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in source order; duplicate keys resolved (last wins, as PyYAML), merged keys
    /// (`<<`) placed after explicit ones and never overriding them.
    Map(Vec<(Node, Node)>),
    /// A `!vault` value (decrypted when loaded, if a secret opens it).
    Vault(Arc<crate::vault::Vaulted>),
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Yaml::Null => "null",
            Yaml::Bool(_) => "boolean",
            Yaml::Int(_) => "integer",
            Yaml::Float(_) => "float",
            Yaml::Str(_) => "string",
            Yaml::Seq(_) => "list",
            Yaml::Map(_) => "mapping",
            Yaml::Vault(_) => "vault-encrypted value",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Yaml::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Yaml::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Yaml::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Yaml::Null)
    }

    /// A scalar rendered as text, as Ansible would stringify it (keys, `k=v` values).
    pub fn scalar_string(&self) -> Option<String> {
        match &self.value {
            Yaml::Null => Some(String::new()),
            Yaml::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
            Yaml::Int(i) => Some(i.to_string()),
            Yaml::Float(f) => Some(f.to_string()),
            Yaml::Str(s) => Some(s.clone()),
            Yaml::Seq(_) | Yaml::Map(_) | Yaml::Vault(_) => None,
        }
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// Demand a mapping, with an error naming `what`.
    pub fn expect_map(&self, what: &str) -> Result<&[(Node, Node)]> {
        self.as_map().ok_or_else(|| {
            Error::parse(
                self.span.clone(),
                format!("{what} must be a mapping, not a {}", self.type_name()),
            )
        })
    }

    pub fn expect_seq(&self, what: &str) -> Result<&[Node]> {
        self.as_seq().ok_or_else(|| {
            Error::parse(
                self.span.clone(),
                format!("{what} must be a list, not a {}", self.type_name()),
            )
        })
    }

    pub fn expect_str(&self, what: &str) -> Result<&str> {
        self.as_str().ok_or_else(|| {
            Error::parse(
                self.span.clone(),
                format!("{what} must be a string, not a {}", self.type_name()),
            )
        })
    }

    /// A mapping key as a string (YAML allows other scalars as keys; Ansible stringifies them).
    pub fn key_string(&self) -> Result<String> {
        self.scalar_string()
            .ok_or_else(|| Error::parse(self.span.clone(), "a mapping key must be a scalar"))
    }

    /// The tree as a template value: mappings keep their key order.
    pub fn to_value(&self) -> Value {
        match &self.value {
            Yaml::Null => Value::from(()),
            Yaml::Bool(b) => Value::from(*b),
            Yaml::Int(i) => Value::from(*i),
            Yaml::Float(f) => Value::from(*f),
            Yaml::Str(s) => Value::from(s.as_str()),
            Yaml::Vault(v) => Value::from_dyn_object(v.clone()),
            Yaml::Seq(items) => Value::from(items.iter().map(Node::to_value).collect::<Vec<_>>()),
            Yaml::Map(entries) => Value::from_pairs(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_string().unwrap_or_default(), v.to_value())),
            ),
        }
    }
}

/// Aliases may always expand to this many nodes in one document ...
pub const ALIAS_NODE_FLOOR: usize = 1_000_000;
/// ... or to this many times the nodes written out in it, whichever is more (as serde_yaml's
/// repetition limit). No real playbook or inventory comes near either.
pub const ALIAS_RATIO: usize = 100;

/// Parse a YAML file from disk.
pub fn load_file(path: &Path) -> Result<Node> {
    let text = read_text(path)?;
    parse(&text, path)
}

/// Read a text file, decrypted if it is vaulted; invalid UTF-8 is an error at the line and
/// column of the first bad byte.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::missing(Span::file(path), format!("cannot read file: {e}")).caused_by(e)
    })?;
    let bytes = crate::vault::open_file_data(path, bytes)?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let good = std::str::from_utf8(good).unwrap_or_default();
        let line = good.matches('\n').count() + 1;
        let col = good.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        let bad = e.as_bytes()[good.len()];
        Error::parse(
            Span::new(Arc::new(path.to_path_buf()), line as u32, col as u32),
            format!("invalid UTF-8 (byte 0x{bad:02x}); YAML files must be UTF-8"),
        )
    })
}

/// Parse one YAML document (the first; an empty stream is `null`).
pub fn parse(text: &str, path: &Path) -> Result<Node> {
    parse_with(text, path, false)
}

/// Parse, keeping every entry of a mapping whose key repeats (in source order, each with its
/// own span) for callers that merge them (inventories must never lose a host).
pub fn parse_keeping_duplicates(text: &str, path: &Path) -> Result<Node> {
    parse_with(text, path, true)
}

fn parse_with(text: &str, path: &Path, keep_duplicates: bool) -> Result<Node> {
    let file = Arc::new(path.to_path_buf());
    let mut options = Options::default();
    options.emit_anchor_events = true;
    let mut loader = Loader {
        file: file.clone(),
        parser: Parser::new_from_str_with_options(text, options),
        anchors: HashMap::new(),
        anchor_names: HashMap::new(),
        written: 0,
        expanded: 0,
        keep_duplicates,
    };
    loader.document()
}

/// Every document of a YAML stream (`from_yaml_all`); an empty stream has none.
pub fn parse_all(text: &str, origin: &str) -> Result<Vec<Node>> {
    let mut options = Options::default();
    options.emit_anchor_events = true;
    let mut loader = Loader {
        file: Arc::new(PathBuf::from(origin)),
        parser: Parser::new_from_str_with_options(text, options),
        anchors: HashMap::new(),
        anchor_names: HashMap::new(),
        written: 0,
        expanded: 0,
        keep_duplicates: false,
    };
    let mut docs = Vec::new();
    loop {
        let (ev, span) = loader.next()?;
        match ev {
            Event::StreamStart | Event::DocumentEnd => continue,
            Event::StreamEnd => return Ok(docs),
            Event::DocumentStart(..) => {
                let (ev, span) = loader.next()?;
                if matches!(ev, Event::DocumentEnd) {
                    docs.push(Node {
                        value: Yaml::Null,
                        span,
                    });
                } else {
                    docs.push(loader.node(ev, span)?);
                }
            }
            _ => return Err(Error::parse(span, "unexpected YAML event")),
        }
    }
}

/// Parse YAML text that has no file of its own (e.g. `from_yaml`, `-e` values).
pub fn parse_str(text: &str, origin: &str) -> Result<Node> {
    parse(text, &PathBuf::from(origin))
}

struct Loader<'a> {
    file: Arc<PathBuf>,
    parser: Parser<'a, granit_parser::StrInput<'a>>,
    /// Anchored nodes and how many nodes each holds.
    anchors: HashMap<usize, (Node, usize)>,
    anchor_names: HashMap<usize, String>,
    /// Nodes written out in the text (scalar and collection events).
    written: usize,
    /// Nodes produced by expanding aliases.
    expanded: usize,
    /// Keep repeated keys instead of letting the last one win.
    keep_duplicates: bool,
}

impl<'a> Loader<'a> {
    fn span(&self, mark: &granit_parser::Marker) -> Span {
        Span::new(self.file.clone(), mark.line() as u32, mark.col() as u32 + 1)
    }

    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        loop {
            match self.parser.next_event() {
                None => {
                    return Err(Error::parse(
                        Span::new(self.file.clone(), 1, 1),
                        "unexpected end of YAML",
                    ));
                }
                Some(Err(e)) => {
                    let span = self.span(e.marker());
                    return Err(Error::parse(
                        span,
                        format!("YAML syntax error: {}", e.info()),
                    ));
                }
                Some(Ok((Event::Comment(..), _))) => continue,
                Some(Ok((Event::Anchor(id, name), _))) => {
                    self.anchor_names.insert(id, name.into_owned());
                    continue;
                }
                Some(Ok((ev, sp))) => {
                    if ev.is_node() && !ev.is_alias() {
                        self.written += 1;
                    }
                    let span = self.span(&sp.start);
                    return Ok((ev, span));
                }
            }
        }
    }

    fn document(&mut self) -> Result<Node> {
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart => continue,
                Event::StreamEnd => {
                    return Ok(Node {
                        value: Yaml::Null,
                        span,
                    });
                }
                Event::DocumentStart(..) => {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::DocumentEnd) {
                        return Ok(Node {
                            value: Yaml::Null,
                            span,
                        });
                    }
                    return self.node(ev, span);
                }
                _ => return Err(Error::parse(span, "unexpected YAML event")),
            }
        }
    }

    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<Node> {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix().to_string());
                let value = if tag.as_deref() == Some("vault") {
                    Yaml::Vault(Arc::new(crate::vault::Vaulted::open(&text, &span)))
                } else {
                    resolve_scalar(&text, style, tag.as_deref())
                        .map_err(|m| Error::parse(span.clone(), m))?
                };
                let node = Node { value, span };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::SequenceStart(_, anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, sp)?);
                }
                let node = Node {
                    value: Yaml::Seq(items),
                    span,
                };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(_, anchor, _) => {
                let mut explicit: Vec<(Node, Node)> = Vec::new();
                let mut index: HashMap<String, usize> = HashMap::new();
                let mut merged: Vec<(Node, Node)> = Vec::new();
                let mut merged_keys: HashSet<String> = HashSet::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let is_merge =
                        matches!(&ev, Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<");
                    let key = self.node(ev, sp)?;
                    let (ev, sp) = self.next()?;
                    let value = self.node(ev, sp)?;
                    if is_merge {
                        merge_into(&mut merged, &mut merged_keys, &value)?;
                    } else {
                        self.insert_key(&span, &mut explicit, &mut index, key, value);
                    }
                }
                for (k, v) in merged {
                    let name = k.scalar_string();
                    if name.as_ref().is_none_or(|n| !index.contains_key(n)) {
                        explicit.push((k, v));
                    }
                }
                let node = Node {
                    value: Yaml::Map(explicit),
                    span,
                };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::Alias(id) => {
                let Some((target, size)) = self.anchors.get(&id) else {
                    return Err(Error::parse(span, "alias to an unknown anchor"));
                };
                self.expanded = self.expanded.saturating_add(*size);
                let limit = ALIAS_NODE_FLOOR.max(self.written.saturating_mul(ALIAS_RATIO));
                if self.expanded > limit {
                    let name = self.anchor_names.get(&id).map_or("?", String::as_str);
                    return Err(Error::parse(
                        span,
                        format!(
                            "alias *{name} (anchor &{name} at {}) expands to {size} nodes; aliases in this document would make more than {limit} nodes (an alias bomb?)",
                            target.span
                        ),
                    ));
                }
                Ok(Node {
                    value: target.value.clone(),
                    span,
                })
            }
            _ => Err(Error::parse(span, "unexpected YAML event")),
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors
                .insert(anchor, (node.clone(), node_count(node)));
        }
    }

    /// Add `key: value` to a mapping's explicit keys; a repeated key replaces the earlier
    /// value (as PyYAML) with Ansible's warning. `index` finds keys without a linear scan.
    fn insert_key(
        &self,
        map: &Span,
        explicit: &mut Vec<(Node, Node)>,
        index: &mut HashMap<String, usize>,
        key: Node,
        value: Node,
    ) {
        let Some(name) = key.scalar_string() else {
            explicit.push((key, value));
            return;
        };
        match index.get(&name) {
            Some(&i) => {
                let outcome = if self.keep_duplicates {
                    "Merging both definitions (hosts and groups are kept, later values win)."
                } else {
                    "Using last defined value only."
                };
                warn_once(format!(
                    "While constructing a mapping from {}, line {}, column {}, found a duplicate dict key ({name}). {outcome}",
                    map.file.display(),
                    map.line,
                    map.col
                ));
                if self.keep_duplicates {
                    explicit.push((key, value));
                } else {
                    explicit[i] = (key, value);
                }
            }
            None => {
                index.insert(name, explicit.len());
                explicit.push((key, value));
            }
        }
    }
}

/// How many nodes a tree holds.
fn node_count(node: &Node) -> usize {
    1 + match &node.value {
        Yaml::Seq(items) => items.iter().map(node_count).sum(),
        Yaml::Map(entries) => entries
            .iter()
            .map(|(k, v)| node_count(k) + node_count(v))
            .sum(),
        _ => 0,
    }
}

/// Print a `[WARNING]` to stderr, once per process for the same text.
pub fn warn_once(msg: String) {
    static SEEN: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Default::default);
    let first = SEEN
        .lock()
        .map(|mut seen| seen.insert(msg.clone()))
        .unwrap_or(true);
    if first {
        eprintln!("[WARNING]: {msg}");
    }
}

/// `<<: *a` or `<<: [*a, *b]`: earlier sources win over later ones.
fn merge_into(
    merged: &mut Vec<(Node, Node)>,
    seen: &mut HashSet<String>,
    source: &Node,
) -> Result<()> {
    let maps: Vec<&Node> = match &source.value {
        Yaml::Map(_) => vec![source],
        Yaml::Seq(items) => items.iter().collect(),
        _ => {
            return Err(Error::parse(
                source.span.clone(),
                "a merge key (<<) needs a mapping or a list of mappings",
            ));
        }
    };
    for m in maps {
        let entries = m.as_map().ok_or_else(|| {
            Error::parse(
                m.span.clone(),
                "a merge key (<<) needs a mapping or a list of mappings",
            )
        })?;
        for (k, v) in entries {
            if k.scalar_string().is_none_or(|name| seen.insert(name)) {
                merged.push((k.clone(), v.clone()));
            }
        }
    }
    Ok(())
}

static FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    )
    .unwrap()
});
static INT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    )
    .unwrap()
});

/// PyYAML's implicit resolvers for plain scalars; quoted and block scalars are strings.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Yaml, String> {
    match tag {
        Some("str") | Some("unsafe") | Some("binary") => return Ok(Yaml::Str(text.to_string())),
        Some("int") => {
            return parse_int(text)
                .map(Yaml::Int)
                .ok_or_else(|| format!("'{text}' is not an integer"));
        }
        Some("float") => {
            return parse_float(text)
                .map(Yaml::Float)
                .ok_or_else(|| format!("'{text}' is not a float"));
        }
        Some("bool") => {
            return parse_bool(text)
                .map(Yaml::Bool)
                .ok_or_else(|| format!("'{text}' is not a boolean"));
        }
        Some("null") => return Ok(Yaml::Null),
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Ok(Yaml::Str(text.to_string()));
    }
    Ok(resolve_plain(text))
}

/// Resolve a plain (unquoted) scalar exactly as PyYAML's `Resolver` does.
pub fn resolve_plain(text: &str) -> Yaml {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Yaml::Null,
        _ => {}
    }
    if let Some(b) = parse_bool(text) {
        return Yaml::Bool(b);
    }
    if INT.is_match(text)
        && let Some(i) = parse_int(text)
    {
        return Yaml::Int(i);
    }
    if FLOAT.is_match(text)
        && let Some(f) = parse_float(text)
    {
        return Yaml::Float(f);
    }
    Yaml::Str(text.to_string())
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn parse_int(text: &str) -> Option<i64> {
    let t = text.replace('_', "");
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, t.strip_prefix('+').unwrap_or(&t).to_string()),
    };
    let v = if let Some(b) = t.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(h) = t.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if t.contains(':') {
        t.split(':')
            .try_fold(0i64, |acc, part| Some(acc * 60 + part.parse::<i64>().ok()?))?
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8).ok()?
    } else {
        t.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_float(text: &str) -> Option<f64> {
    let t = text.replace('_', "");
    match t.to_ascii_lowercase().as_str() {
        ".inf" | "+.inf" => return Some(f64::INFINITY),
        "-.inf" => return Some(f64::NEG_INFINITY),
        ".nan" => return Some(f64::NAN),
        _ => {}
    }
    if t.contains(':') {
        let (neg, body) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t.strip_prefix('+').unwrap_or(&t)),
        };
        let v = body.split(':').try_fold(0f64, |acc, part| {
            Some(acc * 60.0 + part.parse::<f64>().ok()?)
        })?;
        return Some(if neg { -v } else { v });
    }
    t.parse().ok()
}

/// Render a value as block-style YAML (for `to_yaml`/`to_nice_yaml` and `copy` of structured
/// content). Strings that would read back as something else are quoted.
pub fn emit(value: &Value, indent: usize) -> String {
    let mut out = String::new();
    emit_into(&mut out, value, 0, indent.max(2));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn emit_scalar(value: &Value) -> String {
    use minijinja::value::ValueKind;
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => "null".into(),
        ValueKind::Bool => if value.is_true() { "true" } else { "false" }.into(),
        ValueKind::Number => value.to_string(),
        _ => {
            let s = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            quote_if_needed(&s)
        }
    }
}

fn quote_if_needed(s: &str) -> String {
    let plain_ok = !s.is_empty()
        && matches!(resolve_plain(s), Yaml::Str(_))
        && !s.starts_with([
            ' ', '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"',
            '%', '@', '`',
        ])
        && !s.ends_with(' ')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !s.contains(['\n', '\t', '\r']);
    if plain_ok {
        s.to_string()
    } else if !s.contains(['\n', '\t', '\r', '\\', '"']) || s.contains('\'') {
        serde_json::to_string(s).unwrap_or_default()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn is_collection(v: &Value) -> bool {
    use minijinja::value::ValueKind;
    matches!(
        v.kind(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
    ) && v.len().unwrap_or(0) > 0
}

fn emit_into(out: &mut String, value: &Value, level: usize, step: usize) {
    use minijinja::value::ValueKind;
    let pad = " ".repeat(level);
    match value.kind() {
        ValueKind::Map => {
            if value.len() == Some(0) {
                out.push_str("{}\n");
                return;
            }
            for key in value.try_iter().into_iter().flatten() {
                let item = value.get_item(&key).unwrap_or_default();
                out.push_str(&pad);
                out.push_str(&emit_scalar(&key));
                if is_collection(&item) {
                    out.push_str(":\n");
                    let next = if item.kind() == ValueKind::Seq {
                        level
                    } else {
                        level + step
                    };
                    emit_into(out, &item, next, step);
                } else {
                    out.push_str(": ");
                    emit_into(out, &item, level + step, step);
                }
            }
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter().into_iter().flatten().collect();
            if items.is_empty() {
                out.push_str("[]\n");
                return;
            }
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                if is_collection(&item) {
                    let mut nested = String::new();
                    emit_into(&mut nested, &item, level + 2, step);
                    out.push_str(nested.trim_start());
                } else {
                    emit_into(out, &item, level + 2, step);
                }
            }
        }
        _ => {
            out.push_str(&emit_scalar(value));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Value {
        parse_str(text, "test.yml").unwrap().to_value()
    }

    #[test]
    fn octal_modes_are_integers_as_in_pyyaml() {
        let v = load("mode: 0644\nq: '0644'\nhex: 0x1f\nbin: 0b101\nunder: 1_000\n");
        assert_eq!(v.get_attr("mode").unwrap(), Value::from(420));
        assert_eq!(v.get_attr("q").unwrap(), Value::from("0644"));
        assert_eq!(v.get_attr("hex").unwrap(), Value::from(31));
        assert_eq!(v.get_attr("bin").unwrap(), Value::from(5));
        assert_eq!(v.get_attr("under").unwrap(), Value::from(1000));
    }

    #[test]
    fn yaml_11_booleans_but_not_y_n() {
        let v = load("a: yes\nb: no\nc: on\nd: off\ne: y\nf: n\ng: True\nh: 'yes'\n");
        assert_eq!(v.get_attr("a").unwrap(), Value::from(true));
        assert_eq!(v.get_attr("b").unwrap(), Value::from(false));
        assert_eq!(v.get_attr("c").unwrap(), Value::from(true));
        assert_eq!(v.get_attr("d").unwrap(), Value::from(false));
        assert_eq!(v.get_attr("e").unwrap(), Value::from("y"));
        assert_eq!(v.get_attr("f").unwrap(), Value::from("n"));
        assert_eq!(v.get_attr("g").unwrap(), Value::from(true));
        assert_eq!(v.get_attr("h").unwrap(), Value::from("yes"));
    }

    #[test]
    fn floats_strings_and_nulls() {
        let v = load("a: 1.32\nb: \"1.32\"\nc: 1e3\nd: ~\ne:\nf: 2001-12-14\ng: .inf\n");
        assert_eq!(v.get_attr("a").unwrap(), Value::from(1.32));
        assert_eq!(v.get_attr("b").unwrap(), Value::from("1.32"));
        assert_eq!(v.get_attr("c").unwrap(), Value::from("1e3"));
        assert!(v.get_attr("d").unwrap().is_none());
        assert!(v.get_attr("e").unwrap().is_none());
        assert_eq!(v.get_attr("f").unwrap(), Value::from("2001-12-14"));
        assert_eq!(v.get_attr("g").unwrap().to_string(), "inf");
    }

    #[test]
    fn merge_keys_never_override_explicit_keys() {
        let v = load("base: &b\n  x: 1\n  y: 2\nchild:\n  <<: *b\n  y: 3\n");
        let child = v.get_attr("child").unwrap();
        assert_eq!(child.get_attr("x").unwrap(), Value::from(1));
        assert_eq!(child.get_attr("y").unwrap(), Value::from(3));
        let v = load("a: &a {x: 1}\nb: &b {x: 2, z: 9}\nc:\n  <<: [*a, *b]\n");
        let c = v.get_attr("c").unwrap();
        assert_eq!(c.get_attr("x").unwrap(), Value::from(1));
        assert_eq!(c.get_attr("z").unwrap(), Value::from(9));
    }

    #[test]
    fn duplicate_keys_last_wins_and_spans_are_kept() {
        let n = parse_str("a: 1\nb:\n  - x\n  - y: 2\na: 5\n", "f.yml").unwrap();
        assert_eq!(n.to_value().get_attr("a").unwrap(), Value::from(5));
        let b = n.get("b").unwrap();
        assert_eq!((b.span.line, b.span.col), (3, 3));
        let y = &b.as_seq().unwrap()[1];
        assert_eq!(y.span.line, 4);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse_str("a: [1, 2\nb: 3\n", "bad.yml").unwrap_err();
        assert!(err.to_string().starts_with("bad.yml:"), "{err}");
    }

    #[test]
    fn alias_bombs_fail_fast_naming_the_anchor() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            let refs = vec![format!("*{}", w[0]); 9].join(", ");
            text.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
        }
        let start = std::time::Instant::now();
        let err = parse_str(&text, "bomb.yml").unwrap_err().to_string();
        assert!(start.elapsed().as_secs() < 10);
        assert!(err.starts_with("bomb.yml:7:"), "{err}");
        assert!(err.contains("alias *f (anchor &f at bomb.yml:6:"), "{err}");
        // Ordinary reuse of anchors is fine.
        let v = load("d: &d {x: 1, y: [1, 2]}\nh1: {<<: *d}\nh2: *d\n");
        assert_eq!(
            v.get_attr("h2").unwrap().get_attr("x").unwrap(),
            Value::from(1)
        );
    }

    #[test]
    fn invalid_utf8_points_at_the_bad_byte() {
        let dir = std::env::temp_dir().join(format!("prov-yaml-utf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.yml");
        std::fs::write(&f, b"a: 1\nb: caf\xc3\xa9 \xff\n").unwrap();
        let err = load_file(&f).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            err.contains("bad.yml:2:9: invalid UTF-8 (byte 0xff)"),
            "{err}"
        );
    }

    #[test]
    fn big_mappings_load_in_linear_time() {
        let mut text = String::new();
        for i in 0..50_000 {
            text.push_str(&format!("host{i}: {i}\n"));
        }
        let n = parse_str(&text, "big.yml").unwrap();
        assert_eq!(n.as_map().unwrap().len(), 50_000);
    }

    #[test]
    fn emit_round_trips() {
        let v = load("a: 1\nb: [x, 'yes', {c: d}]\ne: {f: null, g: 'a: b'}\nh: []\n");
        let text = emit(&v, 2);
        let back = load(&text);
        assert_eq!(v.to_string(), back.to_string(), "{text}");
    }
}
