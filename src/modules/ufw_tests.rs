//! Unit tests of the `ufw` module: version and status parsing, the commands against the
//! collection's own code (tests/fixtures/ufw_cases.json), hostile input.

use super::*;

#[test]
fn version_is_read_as_the_module_reads_it() {
    assert_eq!(
        ufw_version("ufw 0.36.2\nCopyright 2008-2023 Canonical Ltd.\n"),
        Some((6, 2, 0))
    );
    assert_eq!(ufw_version("ufw 0.34\n"), Some((0, 34, 0)));
    assert_eq!(ufw_version("\n  \nufw 0.35.1\n"), Some((5, 1, 0)));
    assert_eq!(ufw_version(""), None);
    assert_eq!(ufw_version("firewall 1.2\n"), None);
    assert_eq!(ufw_version("ufw 1.2.3.4\n"), Some((3, 4, 0)));
    assert!(comment_supported((0, 35, 0)) && !comment_supported((0, 34, 0)));
}
