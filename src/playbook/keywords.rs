//! The keywords Ansible accepts on plays, blocks, tasks and role entries, and those prov
//! knows but refuses (so they are never silently ignored).

/// Keywords valid on a task (besides the module key).
pub const TASK: &[&str] = &[
    "name", "action", "local_action", "args", "any_errors_fatal", "async", "become", "become_exe",
    "become_flags", "become_method", "become_user", "changed_when", "check_mode", "collections",
    "connection", "debugger", "delay", "delegate_facts", "delegate_to", "diff", "environment",
    "failed_when", "ignore_errors", "ignore_unreachable", "loop", "loop_control", "module_defaults",
    "no_log", "notify", "poll", "port", "register", "remote_user", "retries", "run_once", "tags",
    "throttle", "timeout", "until", "vars", "when", "listen",
];

/// Keywords valid on a block.
pub const BLOCK: &[&str] = &[
    "block", "rescue", "always", "name", "any_errors_fatal", "become", "become_exe", "become_flags",
    "become_method", "become_user", "check_mode", "collections", "connection", "debugger",
    "delegate_facts", "delegate_to", "diff", "environment", "ignore_errors", "ignore_unreachable",
    "module_defaults", "no_log", "port", "remote_user", "run_once", "tags", "throttle", "timeout",
    "vars", "when",
];

/// Keywords valid on a play.
pub const PLAY: &[&str] = &[
    "name", "hosts", "vars", "vars_files", "vars_prompt", "roles", "pre_tasks", "tasks", "post_tasks",
    "handlers", "become", "become_exe", "become_flags", "become_method", "become_user", "gather_facts",
    "gather_subset", "gather_timeout", "serial", "any_errors_fatal", "max_fail_percentage",
    "force_handlers", "ignore_errors", "ignore_unreachable", "check_mode", "diff", "environment",
    "tags", "collections", "connection", "remote_user", "port", "strategy", "order", "no_log",
    "run_once", "module_defaults", "fact_path", "debugger", "throttle", "timeout",
];

/// Keywords on a `roles:` entry that are not role parameters.
pub const ROLE_ENTRY: &[&str] = &[
    "role", "name", "vars", "tags", "when", "become", "become_user", "become_method", "environment",
    "ignore_errors", "check_mode", "diff", "no_log", "delegate_to", "run_once", "any_errors_fatal",
    "collections", "debugger", "connection", "remote_user", "port", "module_defaults", "timeout",
    "throttle", "ignore_unreachable",
];

/// Keywords we parse but cannot honour: an error explains that instead of ignoring them.
pub fn unsupported(key: &str) -> Option<&'static str> {
    Some(match key {
        "async" | "poll" => "async tasks are not supported by prov",
        "become_exe" | "become_flags" => "custom become executables and flags are not supported by prov",
        "module_defaults" => "module_defaults is not supported by prov",
        "delegate_facts" => "delegate_facts is not supported by prov",
        "vars_prompt" => "vars_prompt is not supported by prov (pass values with -e)",
        "connection" | "port" | "remote_user" => "connection settings belong in the inventory or on the command line with prov",
        _ => return None,
    })
}

/// Loop lookups we implement for `with_<name>`.
pub const WITH_LOOPS: &[&str] = &[
    "items", "list", "dict", "indexed_items", "together", "nested", "cartesian", "sequence", "fileglob",
    "subelements", "flattened",
];
