//! The `ufw` module's check-mode decisions, from `ufw status verbose` and the rules text.

use crate::modules::pylines::splitlines_keepends;
use std::sync::LazyLock;

use regex::Regex;

/// The module's `compile_ipv4_regexp()`.
const IPV4: &str =
    r"((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])";

/// The module's `compile_ipv6_regexp()`.
const IPV6: &str = concat!(
    r"(([0-9a-fA-F]{1,4}:){7,7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:",
    r"|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}",
    r"(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4})",
    r"{1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]",
    r"{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:((:[0-9a-fA-F]",
    r"{1,4}){1,6})|:((:[0-9a-fA-F]{1,4}){1,7}|:)|fe80:(:[0-9a-fA-F]{0,4})",
    r"{0,4}%[0-9a-zA-Z]{1,}|::(ffff(:0{1,4}){0,1}:){0,1}((25[0-5]|(2[0-4]",
    r"|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}",
    r"[0-9])|([0-9a-fA-F]{1,4}:){1,4}:((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}",
    r"[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9]))"
);

// The patterns are ASCII classes only: Python's `re` and the regex crate agree on them.
static V4: LazyLock<Regex> = LazyLock::new(|| Regex::new(IPV4).expect("ipv4 pattern"));
static V6: LazyLock<Regex> = LazyLock::new(|| Regex::new(IPV6).expect("ipv6 pattern"));
static V4_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{IPV4})")).expect("ipv4 pattern"));
static V6_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{IPV6})")).expect("ipv6 pattern"));
static LOGGING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Logging: (on|off)(?: \(([a-z]+)\))?").expect("logging pattern"));
static DEFAULTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Default: (deny|allow|reject) \(incoming\), (deny|allow|reject) \(outgoing\), (deny|allow|reject|disabled) \(routed\)").expect("default pattern")
});

/// `state` in check mode: `reloaded`/`reset` always, `enabled`/`disabled` when the status
/// (`" active"` found or not) differs.
pub fn state_changed(value: &str, pre_state: &str) -> bool {
    let enabled = pre_state.contains(" active");
    matches!(value, "reloaded" | "reset")
        || (value == "disabled" && enabled)
        || (value == "enabled" && !enabled)
}

/// `logging` in check mode.
pub fn logging_changed(value: &str, pre_state: &str) -> bool {
    let Some(m) = LOGGING.captures(pre_state) else {
        return true;
    };
    let on_off = m.get(1).map_or("", |g| g.as_str());
    let level = m.get(2).map(|g| g.as_str());
    if value != "off" {
        on_off == "off" || (value != "on" && Some(value) != level)
    } else {
        on_off != "off"
    }
}

/// `default` in check mode (a `disabled` routed policy is never a change, as in the module).
pub fn default_changed(value: &str, direction: Option<&str>, pre_state: &str) -> bool {
    let Some(m) = DEFAULTS.captures(pre_state) else {
        return true;
    };
    let group = match direction.unwrap_or("incoming") {
        "outgoing" => 2,
        "routed" => 3,
        _ => 1,
    };
    let v = m.get(group).map_or("", |g| g.as_str());
    v != value && v != "disabled"
}

fn filter_match(re: &Regex, content: &str) -> String {
    splitlines_keepends(content)
        .into_iter()
        .filter(|l| re.is_match(l))
        .collect()
}

/// A rule in check mode: the `--dry-run` output against the current rules.
pub fn rule_changed(rules_dry: &str, pre_rules: &str, from_ip: &str, to_ip: &str) -> bool {
    let lines = splitlines_keepends(rules_dry);
    let skipping = lines.iter().filter(|l| l.contains("Skipping")).count();
    if skipping > 0 && skipping == lines.len() {
        return false;
    }
    let dry: String = lines
        .into_iter()
        .filter(|l| l.starts_with("### tuple"))
        .collect();
    if V4_START.is_match(from_ip) || V4_START.is_match(to_ip) {
        filter_match(&V4, pre_rules) != filter_match(&V4, &dry)
    } else if V6_START.is_match(from_ip) || V6_START.is_match(to_ip) {
        filter_match(&V6, pre_rules) != filter_match(&V6, &dry)
    } else {
        pre_rules != dry
    }
}
