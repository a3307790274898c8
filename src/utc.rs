//! UTC calendar time without a time-zone database: day numbers to dates and back (Howard
//! Hinnant's algorithms), the compact (`20261206T183000Z`) and ISO 8601 forms prov writes in
//! build ids, image metadata and run ids, and their parsers. Every layer may use it.

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Date and time fields of UTC seconds.
fn fields(secs: i64) -> [i64; 6] {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    [y, mo, d, s / 3600, s % 3600 / 60, s % 60]
}

/// `20261206T183000Z`.
pub fn compact(secs: i64) -> String {
    let [y, mo, d, h, mi, s] = fields(secs);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// `2026-12-06T18:30:00Z`.
pub fn iso(secs: i64) -> String {
    let [y, mo, d, h, mi, s] = fields(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Seconds of valid date and time fields.
fn from_fields(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    let valid = (1..=12).contains(&mo)
        && (1..=31).contains(&d)
        && (0..24).contains(&h)
        && (0..60).contains(&mi)
        && (0..=60).contains(&s);
    valid.then(|| days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

fn number(s: &str) -> Option<i64> {
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
}

/// UTC seconds of `20261206T183000Z`.
pub fn parse_compact(s: &str) -> Option<i64> {
    if s.len() != 16 || &s[8..9] != "T" || !s.ends_with('Z') {
        return None;
    }
    let n = |a: usize, b: usize| number(s.get(a..b)?);
    from_fields(
        n(0, 4)?,
        n(4, 6)?,
        n(6, 8)?,
        n(9, 11)?,
        n(11, 13)?,
        n(13, 15)?,
    )
}

/// UTC seconds of an ISO 8601 date and time: `2026-12-06T18:30:00Z`, with fractional
/// seconds or a `+HH:MM` offset as well.
pub fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let (y, mo, day) = (number(d.next()?)?, number(d.next()?)?, number(d.next()?)?);
    let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (c, o) = time.split_at(i);
        let sign = if o.starts_with('-') { -1 } else { 1 };
        let (oh, om) = o[1..].split_once(':').unwrap_or((&o[1..], "0"));
        (c, sign * (number(oh)? * 3600 + number(om)? * 60))
    } else {
        (time, 0)
    };
    let clock = clock.split_once('.').map_or(clock, |(c, _)| c);
    let mut t = clock.split(':');
    let (h, mi) = (number(t.next()?)?, number(t.next()?)?);
    let sec = t.next().map_or(Some(0), number)?;
    Some(from_fields(y, mo, day, h, mi, sec)? - offset)
}

/// Now, in UTC seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_and_parse_both_ways() {
        assert_eq!(compact(0), "19700101T000000Z");
        assert_eq!(iso(1_796_581_800), "2026-12-06T18:30:00Z");
        assert_eq!(compact(1_796_581_800), "20261206T183000Z");
        assert_eq!(parse_compact("20261206T183000Z"), Some(1_796_581_800));
        assert_eq!(parse_iso("2026-12-06T18:30:00Z"), Some(1_796_581_800));
        assert_eq!(
            parse_iso("2026-12-06T19:30:00.25+01:00"),
            Some(1_796_581_800)
        );
        assert_eq!(parse_iso("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        for secs in [0, 951_782_400, 1_709_164_800, 4_102_444_799] {
            assert_eq!(parse_iso(&iso(secs)), Some(secs));
            assert_eq!(parse_compact(&compact(secs)), Some(secs));
        }
        assert_eq!(parse_compact("2026-12-06T18:3"), None);
        assert_eq!(parse_iso("2026-13-06T18:30:00Z"), None);
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn leap_days_and_year_ends() {
        assert_eq!(compact(951_782_400), "20000229T000000Z");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(2026, 12, 7), 20_794);
    }
}
