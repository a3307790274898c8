//! The recap's line per host, as Ansible's default callback prints it: the host padded to 26
//! columns (`%-26s`; with colour the padding is outside the colour codes, so the columns line up
//! the same), then `name=N` counts each padded to 4 (`ok=%-4s`), a non-zero count coloured on a
//! terminal. prov appends `unknown=N` when a dry run could not know some results, after
//! Ansible's columns so that what reads them still finds them in place.

use super::paint;
use crate::engine::host::Stats;

/// The width of the recap's host column (Ansible's `hostcolor`).
const HOST_WIDTH: usize = 26;

/// `name=N` padded as Ansible's `colorize` pads it, coloured when non-zero.
fn count(name: &str, n: u32, code: &str, color: bool) -> String {
    let text = format!("{name}={n:<4}");
    if n != 0 {
        paint(color, code, &text)
    } else {
        text
    }
}

/// One host's recap line.
pub(super) fn line(host: &str, s: &Stats, color: bool) -> String {
    let code = if s.failed > 0 || s.unreachable > 0 {
        "31"
    } else if s.changed > 0 {
        "33"
    } else {
        "32"
    };
    let pad = " ".repeat(HOST_WIDTH.saturating_sub(host.chars().count()));
    let mut counts = vec![
        count("ok", s.ok, "32", color),
        count("changed", s.changed, "33", color),
        count("unreachable", s.unreachable, "1;31", color),
        count("failed", s.failed, "31", color),
        count("skipped", s.skipped, "36", color),
        count("rescued", s.rescued, "32", color),
        count("ignored", s.ignored, "1;35", color),
    ];
    if s.unknown > 0 {
        counts.push(count("unknown", s.unknown, "36", color));
    }
    format!("{}{pad} : {}", paint(color, code, host), counts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ansible-playbook 2.19's recap lines, copied from its output (without and with
    /// ANSIBLE_FORCE_COLOR; Ansible's codes are `0;32` where prov writes `32`).
    #[test]
    fn the_columns_are_ansibles() {
        let s = Stats {
            ok: 1,
            skipped: 1,
            ignored: 1,
            ..Default::default()
        };
        assert_eq!(
            line("localhost", &s, false),
            "localhost                  : ok=1    changed=0    unreachable=0    failed=0    skipped=1    rescued=0    ignored=1   "
        );
        let long = "a-very-long-host-name-beyond-26-chars.example.com";
        assert_eq!(
            line(
                long,
                &Stats {
                    skipped: 2,
                    ..Default::default()
                },
                false
            ),
            format!(
                "{long} : ok=0    changed=0    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0   "
            )
        );
        assert_eq!(
            line("localhost", &s, true),
            "\x1b[32mlocalhost\x1b[0m                  : \x1b[32mok=1   \x1b[0m changed=0    unreachable=0    failed=0    \x1b[36mskipped=1   \x1b[0m rescued=0    \x1b[1;35mignored=1   \x1b[0m"
        );
    }

    #[test]
    fn unknown_results_follow_ansibles_columns_only_when_there_are_some() {
        let s = Stats {
            ok: 3,
            changed: 1,
            skipped: 2,
            unknown: 2,
            ..Default::default()
        };
        assert_eq!(
            line("golyat-1", &s, false),
            "golyat-1                   : ok=3    changed=1    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0    unknown=2   "
        );
        let none = line("golyat-1", &Stats::default(), false);
        assert!(!none.contains("unknown"), "{none}");
    }
}
