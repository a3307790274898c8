//! The corpus report (`target/compat/report.md`): a table per role and every difference.

use super::*;

/// The results as a Markdown table, then each role's findings.
pub(crate) fn report(results: &[RoleResult]) -> String {
    let yes = |b: bool| if b { "yes" } else { "**no**" };
    let mut s = format!(
        "prov {} at {}; {}\n\n",
        env!("CARGO_PKG_VERSION"),
        git_head(),
        first_line(Command::new(ansible_playbook()).arg("--version"))
    );
    s.push_str(
        "| role | Ansible completes | prov completes | same end state (paths) | same tasks changed | prov idempotent | Ansible idempotent | check exact | check like Ansible's | Ansible s (1st/2nd) | prov s (1st/2nd) |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        s.push_str(&format!(
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} | {:.1} / {:.1} | {:.1} / {:.1} |\n",
            r.role,
            yes(r.ansible_ok),
            yes(r.prov_ok),
            yes(r.same_end_state),
            r.compared_paths,
            yes(r.changed_like_ansible),
            yes(r.prov_idempotent),
            yes(r.ansible_idempotent),
            yes(r.check_exact),
            yes(r.check_like_ansible),
            r.ansible_seconds[0],
            r.ansible_seconds[1],
            r.prov_seconds[0],
            r.prov_seconds[1],
        ));
    }
    for r in results {
        s.push_str(&format!("\n## {}\n\n", r.role));
        let failure = |who: &str, run: &EngineRun| {
            format!(
                "- {who} failed at `{}`: {}\n",
                run.failed_task.as_deref().unwrap_or("(before any task)"),
                run.message.as_deref().unwrap_or("").trim()
            )
        };
        let list = |who: &str, names: &[String]| format!("- {who}: {}\n", names.join(" | "));
        if !r.ansible_ok {
            s.push_str(&failure("Ansible", &r.ansible[0]));
        }
        if !r.prov_ok {
            s.push_str(&failure("prov", &r.prov[0]));
        }
        if !r.prov[0].via_ansible.is_empty() {
            s.push_str(&list(
                "prov ran Ansible's module code for",
                &r.prov[0].via_ansible,
            ));
        }
        if r.prov[1].changed > 0 {
            s.push_str(&list("prov's second run changed", &r.prov[1].changed_tasks));
        }
        if r.ansible[1].changed > 0 {
            s.push_str(&list(
                "Ansible's second run changed",
                &r.ansible[1].changed_tasks,
            ));
        }
        if !r.check.ok {
            s.push_str(&failure("prov --check", &r.check));
        }
        if !r.check_only.is_empty() || !r.apply_only.is_empty() {
            s.push_str(&list("changed only under prov --check", &r.check_only));
            s.push_str(&list("changed only by prov apply", &r.apply_only));
        }
        if !r.changed_like_ansible {
            let ansible: BTreeSet<&String> = r.ansible[0].changed_tasks.iter().collect();
            let prov: BTreeSet<&String> = r.prov[0].changed_tasks.iter().collect();
            let only = |a: &BTreeSet<&String>, b: &BTreeSet<&String>| {
                a.difference(b).map(|s| s.to_string()).collect::<Vec<_>>()
            };
            s.push_str(&list("changed only under Ansible", &only(&ansible, &prov)));
            s.push_str(&list("changed only under prov", &only(&prov, &ansible)));
        }
        if !r.check_like_ansible {
            if !r.ansible_check.ok {
                s.push_str(&failure("Ansible --check", &r.ansible_check));
            }
            s.push_str(&list(
                "Ansible --check changed",
                &r.ansible_check.changed_tasks,
            ));
            s.push_str(&list("prov --check changed", &r.check.changed_tasks));
        }
        for d in &r.differences {
            s.push_str(&format!(
                "- `{}`: Ansible `{}`, prov `{}`\n",
                d.path, d.ansible, d.prov
            ));
            if let Some(diff) = &d.diff {
                s.push_str(&format!("\n```diff\n{}\n```\n\n", diff.trim_end()));
            }
        }
    }
    s
}

/// The commit prov was built from (`+dirty` with local changes to its sources).
pub(crate) fn git_head() -> String {
    let dirty = Command::new("git")
        .args([
            "status",
            "--porcelain",
            "--",
            "src",
            "Cargo.toml",
            "Cargo.lock",
        ])
        .current_dir(repo_root())
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    let head = first_line(
        Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(repo_root()),
    );
    format!("{head}{}", if dirty { "+dirty" } else { "" })
}

pub(crate) fn first_line(cmd: &mut Command) -> String {
    cmd.output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}
