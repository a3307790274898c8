//! dpkg's database read on the controller: from the text of `/var/lib/dpkg/status` (and
//! `available`), the lines `dpkg-query -W` and `dpkg --get-selections` print, or `None` where
//! only dpkg can say (a pending journal, a package with several instances, a status this does
//! not know, foreign architectures configured); and dpkg's order of versions. Tested against
//! fixture databases of Debian 12 and Ubuntu 24.04 and, in `transport::prober`, against this
//! machine's dpkg.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

/// The `dpkg-query -W` format [`query_line`] reproduces.
pub const QUERY_FORMAT: &str = "-f=${Package}\\t${Version}\\t${db:Status-Abbrev}\\t${Status}\\n";

/// One paragraph's fields.
type Fields<'a> = HashMap<&'a str, &'a str>;

/// The paragraphs of a database file, by package name (in file order).
pub struct Database<'a> {
    by_name: HashMap<&'a str, Vec<Fields<'a>>>,
    order: Vec<&'a str>,
}

impl<'a> Database<'a> {
    pub fn parse(text: &'a str) -> Database<'a> {
        let mut by_name: HashMap<&str, Vec<Fields>> = HashMap::new();
        let mut order = Vec::new();
        for para in text.split("\n\n") {
            let mut fields = Fields::new();
            for line in para.lines() {
                // Continuation lines (Description, Conffiles) start with a space.
                if line.starts_with([' ', '\t']) {
                    continue;
                }
                if let Some((k, v)) = line.split_once(": ") {
                    fields.insert(k, v);
                } else if let Some(k) = line.strip_suffix(':') {
                    fields.insert(k, "");
                }
            }
            if let Some(name) = fields.get("Package").copied() {
                order.push(name);
                by_name.entry(name).or_default().push(fields);
            }
        }
        Database { by_name, order }
    }

    /// Does the package have a current version (apt's view: unpacked or further, not merely
    /// known or left as configuration files)?
    pub fn installed(&self, name: &str) -> bool {
        self.paragraphs(name).iter().any(|f| {
            f.get("Status")
                .and_then(|s| s.split_whitespace().nth(2))
                .is_some_and(|st| !matches!(st, "not-installed" | "config-files"))
        })
    }

    fn paragraphs(&self, name: &str) -> &[Fields<'a>] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }
}

fn want(w: &str) -> Option<char> {
    Some(match w {
        "unknown" => 'u',
        "install" => 'i',
        "hold" => 'h',
        "deinstall" => 'r',
        "purge" => 'p',
        _ => return None,
    })
}

fn eflag(e: &str) -> Option<char> {
    Some(match e {
        "ok" => ' ',
        "reinstreq" => 'R',
        _ => return None,
    })
}

fn state(s: &str) -> Option<char> {
    Some(match s {
        "not-installed" => 'n',
        "config-files" => 'c',
        "half-installed" => 'H',
        "unpacked" => 'U',
        "half-configured" => 'F',
        "triggers-awaited" => 'W',
        "triggers-pending" => 't',
        "installed" => 'i',
        _ => return None,
    })
}

/// Package names as dpkg accepts them without patterns or an architecture.
fn plain_name(n: &str) -> bool {
    n.len() >= 2
        && n.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c))
}

/// The `dpkg-query -W` line ([`QUERY_FORMAT`]) of package `name`.
pub fn query_line(status: &Database, available: &Database, name: &str) -> Option<String> {
    if !plain_name(name) {
        return None;
    }
    let [p] = status.paragraphs(name) else {
        return None;
    };
    let mut st = p.get("Status").copied().unwrap_or("").split(' ');
    let (w, e, s) = (st.next()?, st.next()?, st.next()?);
    let arch = p.get("Architecture").copied().unwrap_or("");
    if available
        .paragraphs(name)
        .iter()
        .any(|a| a.get("Architecture").copied().unwrap_or("") != arch)
    {
        return None;
    }
    let abbrev = format!("{}{}{}", want(w)?, state(s)?, eflag(e)?);
    let version = p.get("Version").copied().unwrap_or("");
    Some(format!("{name}\t{version}\t{abbrev}\t{w} {e} {s}\n"))
}

/// `dpkg-query -W` of these names: every line, sorted by name and each once, or `None`.
pub fn query(status: &Database, available: &Database, names: &[String]) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let mut lines = BTreeMap::new();
    for n in names {
        if !lines.contains_key(n.as_str()) {
            lines.insert(n.as_str(), query_line(status, available, n)?);
        }
    }
    Some(lines.into_values().collect())
}

/// `dpkg --get-selections '*'`: every package whose selection is known, sorted by name, the
/// name architecture-qualified where dpkg qualifies it (Multi-Arch: same, or a foreign
/// architecture), tabs up to column 48, the selection. With `names`, as `dpkg
/// --get-selections NAME...` prints it: each name's line in the order given (repeats too).
/// The native architecture is dpkg's own package's, which the first line of dpkg's `arch`
/// file (`arch`, when there is one: native first, then the foreign ones) must agree with: a
/// crossgrade can leave them apart, and then only dpkg can say. `None` too when a package has
/// several instances, or a name is not a plain one (a pattern, an architecture).
pub fn selections(status: &Database, arch: Option<&str>, names: &[String]) -> Option<String> {
    if status.order.is_empty() || status.by_name.values().any(|v| v.len() > 1) {
        return None;
    }
    if names.iter().any(|n| !plain_name(n)) {
        return None;
    }
    let native = *status.paragraphs("dpkg").first()?.get("Architecture")?;
    if arch.is_some_and(|a| a.lines().next() != Some(native)) {
        return None;
    }
    let line = |n: &str| -> Option<String> {
        let p = status.paragraphs(n).first()?;
        let w = p.get("Status").copied().unwrap_or("").split(' ').next();
        let w = w.filter(|w| !w.is_empty() && *w != "unknown")?;
        let arch = p.get("Architecture").copied().unwrap_or("");
        let multi = p.get("Multi-Arch").copied().unwrap_or("");
        let mut name = n.to_string();
        if !arch.is_empty() && (multi == "same" || (arch != native && arch != "all")) {
            name = format!("{name}:{arch}");
        }
        let tabs = 6usize.saturating_sub(name.len() >> 3).max(1);
        Some(format!("{name}{}{w}\n", "\t".repeat(tabs)))
    };
    let all: Vec<&str> = if names.is_empty() {
        let mut all = status.order.clone();
        all.sort_unstable();
        all
    } else {
        names.iter().map(String::as_str).collect()
    };
    Some(all.into_iter().filter_map(line).collect())
}

/// Compare Debian package versions (`[epoch:]upstream[-revision]`) as dpkg does.
pub fn compare_deb_versions(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
            _ => (0, v),
        };
        match rest.rsplit_once('-') {
            Some((u, r)) => (epoch, u, r),
            None => (epoch, rest, ""),
        }
    }
    fn order(c: Option<u8>) -> i32 {
        match c {
            Some(b'~') => -1,
            None => 0,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => i32::from(c),
            Some(c) => i32::from(c) + 256,
        }
    }
    fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit())
            {
                let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
                let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
                if ac != bc {
                    return ac.cmp(&bc);
                }
                if i < a.len() && !a[i].is_ascii_digit() {
                    i += 1;
                }
                if j < b.len() && !b[j].is_ascii_digit() {
                    j += 1;
                }
            }
            while i < a.len() && a[i] == b'0' {
                i += 1;
            }
            while j < b.len() && b[j] == b'0' {
                j += 1;
            }
            let (si, sj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (na, nb) = (&a[si..i], &b[sj..j]);
            let c = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if c != Ordering::Equal {
                return c;
            }
        }
        Ordering::Equal
    }
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua.as_bytes(), ub.as_bytes()))
        .then_with(|| verrevcmp(ra.as_bytes(), rb.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = include_str!("../../tests/fixtures/dpkg/debian12.status");
    const UBUNTU: &str = include_str!("../../tests/fixtures/dpkg/ubuntu2404.status");

    #[test]
    fn debian_packages_as_dpkg_query_prints_them() {
        let st = Database::parse(DEBIAN);
        let none = Database::parse("");
        assert_eq!(
            query(&st, &none, &["dpkg".into(), "bash".into(), "dpkg".into()]).unwrap(),
            "bash\t5.2.15-2+b13\tii \tinstall ok installed\ndpkg\t1.21.23\tii \tinstall ok installed\n"
        );
        // Config files only, and a held package.
        assert_eq!(
            query_line(&st, &none, "ifupdown").unwrap(),
            "ifupdown\t0.8.41\trc \tdeinstall ok config-files\n"
        );
        assert_eq!(
            query_line(&st, &none, "kubelet").unwrap(),
            "kubelet\t1.32.3-1.1\thi \thold ok installed\n"
        );
        // Only dpkg can say: unknown, patterns, qualified names.
        for n in ["no-such-package", "bas*", "dpkg:amd64", "B"] {
            assert_eq!(query_line(&st, &none, n), None, "{n}");
        }
        assert_eq!(query(&st, &none, &["dpkg".into(), "nope".into()]), None);
        // Another architecture of it in the available file.
        let avail = Database::parse("Package: dpkg\nArchitecture: arm64\nVersion: 1\n");
        assert_eq!(query_line(&st, &avail, "dpkg"), None);
    }

    #[test]
    fn ubuntu_multiarch_packages() {
        let st = Database::parse(UBUNTU);
        let none = Database::parse("");
        assert_eq!(
            query_line(&st, &none, "libc6").unwrap(),
            "libc6\t2.39-0ubuntu8.3\tii \tinstall ok installed\n"
        );
        // Two instances (amd64 and i386): dpkg's to say.
        assert_eq!(query_line(&st, &none, "libgcc-s1"), None);
        assert_eq!(selections(&st, None, &[]), None);
    }

    #[test]
    fn selections_as_dpkg_prints_them() {
        let st = Database::parse(DEBIAN);
        let out = selections(&st, None, &[]).unwrap();
        // dpkg's arch file as mmdebstrap leaves it, and with a foreign architecture added.
        assert_eq!(selections(&st, Some("amd64\n"), &[]).unwrap(), out);
        assert_eq!(selections(&st, Some("amd64\narm64\n"), &[]).unwrap(), out);
        assert!(out.starts_with("adduser\t\t\t\t\t\tinstall\n"), "{out}");
        assert!(out.contains("\nifupdown\t\t\t\t\tdeinstall\n"), "{out}");
        assert!(out.contains("\nkubelet\t\t\t\t\t\thold\n"), "{out}");
        // Multi-Arch: same is qualified; 8+ characters take a tab less.
        assert!(out.contains("\nlibc6:amd64\t\t\t\t\tinstall\n"), "{out}");
        assert!(
            out.contains("\nlibcrypt1:amd64\t\t\t\t\tinstall\n"),
            "{out}"
        );
        let mut sorted: Vec<&str> = out.lines().collect();
        sorted.sort();
        assert_eq!(sorted, out.lines().collect::<Vec<_>>());
        // Of some packages only, in the order asked (as dpkg prints them).
        assert_eq!(
            selections(
                &st,
                None,
                &["libc6".into(), "kubelet".into(), "nope".into()]
            )
            .unwrap(),
            "libc6:amd64\t\t\t\t\tinstall\nkubelet\t\t\t\t\t\thold\n"
        );
        assert_eq!(selections(&st, None, &["bas*".into()]), None);
        // A crossgrade half done.
        assert_eq!(selections(&st, Some("arm64\namd64\n"), &[]), None);
        assert_eq!(selections(&Database::parse(""), None, &[]), None);
    }

    #[test]
    fn deb_versions_compare_like_dpkg() {
        use Ordering::*;
        for (a, b, o) in [
            ("1.32.0-1.1", "1.32.1-1.1", Less),
            ("1.32.10-1.1", "1.32.9-1.1", Greater),
            ("1:1.0", "2.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0-0", Equal),
            ("1.0a", "1.0", Greater),
            ("2.30-1", "2.30-1", Equal),
        ] {
            assert_eq!(compare_deb_versions(a, b), o, "{a} vs {b}");
        }
    }
}
