//! Unit tests of the core filters and tests (`filters.rs`): each expected value is what
//! ansible-core printed for the same expression.

fn render(expr: &str) -> String {
    let ctx = crate::vars::Context::new(vec![]);
    crate::template::render_text(expr, &ctx).unwrap()
}

#[test]
fn a_misspelled_keyword_argument_is_an_error() {
    let ctx = crate::vars::Context::new(vec![]);
    let fails = |expr: &str| {
        crate::template::render_text(expr, &ctx)
            .unwrap_err()
            .to_string()
    };
    let e = fails("{{ 'aXb' | regex_replace('x', 'y', ignorcase=true) }}");
    assert!(
        e.contains(
            "'regex_replace' has no keyword argument 'ignorcase' (did you mean 'ignorecase'?)"
        ),
        "{e}"
    );
    let e = fails("{{ '10' | int(bse=8) }}");
    assert!(
        e.contains("'int' has no keyword argument 'bse' (did you mean 'base'?)"),
        "{e}"
    );
    let e = fails("{{ 'a' is match('A', ignore_case=true) }}");
    assert!(
        e.contains("'match' has no keyword argument 'ignore_case'"),
        "{e}"
    );
    // Keywords Ansible accepts are accepted, used or not; dict() takes any.
    assert_eq!(
        render("{{ 'aXb' | regex_replace('x', 'y', ignorecase=true) }}"),
        "ayb"
    );
    assert_eq!(
        render("{{ {'a': 1} | to_json(ensure_ascii=false) }}"),
        "{\"a\": 1}"
    );
    assert_eq!(render("{{ dict(anything=1).anything }}"), "1");
}

#[test]
fn one_boolean_parser_for_options_keywords_and_config() {
    use super::parse_bool;
    use minijinja::Value;
    for (v, want) in [
        (Value::from("Yes"), Some(true)),
        (Value::from(" t "), Some(true)),
        (Value::from("off"), Some(false)),
        (Value::from(""), Some(false)),
        (Value::from("maybe"), None),
        (Value::from(1), Some(true)),
        (Value::from(0), Some(false)),
        (Value::from(2), None),
        (Value::from(1.0), Some(true)),
        (Value::from(true), Some(true)),
        (Value::from(()), None),
    ] {
        assert_eq!(parse_bool(&v), want, "{v:?}");
    }
}

#[test]
fn bool_follows_ansible() {
    assert_eq!(render("{{ 'no' | bool }}"), "False");
    assert_eq!(render("{{ 'false' | bool }}"), "False");
    assert_eq!(render("{{ '0' | bool }}"), "False");
    assert_eq!(render("{{ 'off' | bool }}"), "False");
    assert_eq!(render("{{ 'yes' | bool }}"), "True");
    assert_eq!(render("{{ 'On' | bool }}"), "True");
    assert_eq!(render("{{ 1 | bool }}"), "True");
    assert_eq!(render("{{ none | bool }}"), "False");
}

#[test]
fn int_and_default() {
    assert_eq!(render("{{ 'abc' | int }}"), "0");
    assert_eq!(render("{{ '0644' | int }}"), "644");
    assert_eq!(render("{{ '0644' | int(base=8) }}"), "420");
    assert_eq!(render("{{ '3.7' | int }}"), "3");
    assert_eq!(render("{{ x | d('fallback') }}"), "fallback");
    assert_eq!(render("{{ '' | default('e', true) }}"), "e");
}

#[test]
fn regex_filters_use_python_syntax() {
    assert_eq!(
        render(r"{{ 'ansible.com' | regex_replace('^a.*i(.*)$', 'a\1') }}"),
        "able.com"
    );
    assert_eq!(
        render(
            r"{{ 'localhost:80' | regex_replace('^(?P<host>.+):(?P<port>\d+)$', '\g<host>, \g<port>') }}"
        ),
        "localhost, 80"
    );
    assert_eq!(
        render("{{ 'server1/database42' | regex_search('database[0-9]+') }}"),
        "database42"
    );
    assert_eq!(
        render(
            r"{{ 'server1/database42' | regex_search('server([0-9]+)/database([0-9]+)', '\1', '\2') }}"
        ),
        "['1', '42']"
    );
    assert_eq!(render("{{ 'abc' | regex_search('x') }}"), "");
    assert_eq!(
        render("{{ 'a1b22' | regex_findall('[0-9]+') }}"),
        "['1', '22']"
    );
}

#[test]
fn sets_and_dicts() {
    assert_eq!(render("{{ [1,2,2,3] | union([3,4]) }}"), "[1, 2, 3, 4]");
    assert_eq!(render("{{ [1,2,3] | difference([2]) }}"), "[1, 3]");
    assert_eq!(render("{{ [1,2,3] | intersect([2,3,4]) }}"), "[2, 3]");
    assert_eq!(
        render("{{ {'a': 1} | dict2items }}"),
        "[{'key': 'a', 'value': 1}]"
    );
    assert_eq!(
        render("{{ [{'key': 'a', 'value': 1}] | items2dict }}"),
        "{'a': 1}"
    );
    assert_eq!(
        render("{{ {'a': {'x': 1}} | combine({'a': {'y': 2}}, recursive=true) }}"),
        "{'a': {'x': 1, 'y': 2}}"
    );
    assert_eq!(
        render("{{ {'a': {'x': 1}} | combine({'a': {'y': 2}}) }}"),
        "{'a': {'y': 2}}"
    );
    assert_eq!(render("{{ [1, [2, [3]]] | flatten }}"), "[1, 2, 3]");
}

#[test]
fn conversions() {
    assert_eq!(
        render("{{ {'a': [1, true, none]} | to_json }}"),
        r#"{"a": [1, true, null]}"#
    );
    assert_eq!(render("{{ ('{\"a\": 1}' | from_json).a }}"), "1");
    assert_eq!(render("{{ 'a: [1, 2]' | from_yaml }}"), "{'a': [1, 2]}");
    assert_eq!(render("{{ {'a': [1, 2]} | to_yaml }}"), "a:\n- 1\n- 2\n");
    assert_eq!(render("{{ 'hello' | b64encode }}"), "aGVsbG8=");
    assert_eq!(render("{{ 'aGVsbG8=' | b64decode }}"), "hello");
    assert_eq!(
        render("{{ '/etc/ssh/sshd_config' | basename }}"),
        "sshd_config"
    );
    assert_eq!(render("{{ '/etc/ssh/sshd_config' | dirname }}"), "/etc/ssh");
    assert_eq!(render("{{ \"it's\" | quote }}"), "'it'\"'\"'s'");
    assert_eq!(render("{{ true | ternary('a', 'b') }}"), "a");
    assert_eq!(render("{{ 'a b  c' | split }}"), "['a', 'b', 'c']");
    assert_eq!(render("{{ 'a,b' | split(',') }}"), "['a', 'b']");
}

#[test]
fn tests_follow_ansible() {
    assert_eq!(render("{{ '1.32.0' is version('1.31', '>') }}"), "True");
    assert_eq!(render("{{ '1.9' is version('1.10', 'lt') }}"), "True");
    assert_eq!(render("{{ 'abc' is match('b') }}"), "False");
    assert_eq!(render("{{ 'abc' is search('b') }}"), "True");
    assert_eq!(render("{{ 'yes' is truthy(convert_bool=true) }}"), "True");
    assert_eq!(render("{{ {'changed': true} is changed }}"), "True");
    assert_eq!(render("{{ {'failed': false} is succeeded }}"), "True");
    assert_eq!(render("{{ x is undefined }}"), "True");
}

#[test]
fn jinja_builtins_ansible_relies_on() {
    assert_eq!(render("{{ [3, 1, 3] | unique | list }}"), "[3, 1]");
    assert_eq!(
        render("{{ ['a', 'b'] | first }}{{ ['a', 'b'] | last }}"),
        "ab"
    );
    assert_eq!(render("{{ 'Ab' | lower }}{{ 'Ab' | upper }}"), "abAB");
    assert_eq!(render("{{ 'a-b' | replace('-', '_') }}"), "a_b");
    assert_eq!(render("{{ [1, 2] | join(',') }}"), "1,2");
    assert_eq!(render("{{ 12 | string }}"), "12");
    assert_eq!(render("{{ none is none }}"), "True");
}

#[test]
fn extract_and_dict_from_pairs() {
    assert_eq!(
        render("{{ ['a', 'b'] | map('extract', {'a': 1, 'b': 2}) | list }}"),
        "[1, 2]"
    );
    assert_eq!(
        render("{{ ['h'] | map('extract', {'h': {'ip': '10.0.0.1'}}, 'ip') | list }}"),
        "['10.0.0.1']"
    );
    assert_eq!(
        render("{{ dict(['a', 'b'] | zip([1, 2])) }}"),
        "{'a': 1, 'b': 2}"
    );
    assert_eq!(render("{{ dict(x=1) }}"), "{'x': 1}");
}

#[test]
fn mandatory_fails_on_undefined() {
    let ctx = crate::vars::Context::new(vec![]);
    assert!(crate::template::render_text("{{ nope | mandatory }}", &ctx).is_err());
}
