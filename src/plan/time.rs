//! UTC calendar formatting on the hot path: dates for keys, ISO timestamps for documents, index names.
//!
//! chrono's general formatter costs a few hundred nanoseconds per call, and the pipeline dates every meter record
//! and stamps every report; these functions do the civil-date arithmetic directly (Howard Hinnant's
//! `civil_from_days`). Times outside 1970–9999 clamp to the epoch (1970-01-01) rather than going to chrono; chrono
//! is used only for index patterns with specifiers other than `%Y`, `%m` and `%d`.

use chrono::DateTime;

const MS_PER_DAY: i64 = 86_400_000;
/// 9999-12-31T23:59:59.999Z.
const MAX_FAST_MS: i64 = 253_402_300_799_999;

/// Days since 1970-01-01 of epoch milliseconds (out-of-range values clamp to the epoch).
pub fn day_of(millis: i64) -> i64 {
    if (0..=MAX_FAST_MS).contains(&millis) { millis / MS_PER_DAY } else { 0 }
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn push_num(out: &mut String, n: i64, width: usize) {
    let s = n.to_string();
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(&s);
}

fn push2(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Appends the UTC date of a day number as `YYYY-MM-DD` (with `sep` between the parts).
pub fn push_date(out: &mut String, day: i64, sep: char) {
    let (y, m, d) = civil_from_days(day);
    if (0..=9999).contains(&y) {
        let y = y as u32;
        push2(out, y / 100);
        push2(out, y % 100);
    } else {
        push_num(out, y, 4);
    }
    out.push(sep);
    push2(out, m);
    out.push(sep);
    push2(out, d);
}

/// The UTC date of epoch milliseconds as `YYYY-MM-DD`.
pub fn utc_date(millis: i64) -> String {
    let mut s = String::with_capacity(10);
    push_date(&mut s, day_of(millis), '-');
    s
}

/// Length of an ISO timestamp with milliseconds.
pub const ISO_LEN: usize = 24;

/// [`iso_millis_bytes`] as a string.
pub fn iso_millis(millis: i64) -> String {
    String::from_utf8_lossy(&iso_millis_bytes(millis)).into_owned()
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (out-of-range values clamp to the epoch), in a fixed array.
pub fn iso_millis_bytes(millis: i64) -> [u8; ISO_LEN] {
    let ms = if (0..=MAX_FAST_MS).contains(&millis) { millis } else { 0 };
    let (y, m, d) = civil_from_days(ms / MS_PER_DAY);
    // In range, the year has four digits.
    let y = y as u32;
    let in_day = (ms % MS_PER_DAY) as u32;
    let frac = in_day % 1_000;
    let digit = |n: u32| b'0' + (n % 10) as u8;
    let pair = |n: u32| [digit(n / 10), digit(n)];
    let [y1, y2] = pair(y / 100);
    let [y3, y4] = pair(y % 100);
    let [m1, m2] = pair(m);
    let [d1, d2] = pair(d);
    let [h1, h2] = pair(in_day / 3_600_000);
    let [i1, i2] = pair(in_day / 60_000 % 60);
    let [s1, s2] = pair(in_day / 1_000 % 60);
    let [f2, f3] = pair(frac % 100);
    [
        y1,
        y2,
        y3,
        y4,
        b'-',
        m1,
        m2,
        b'-',
        d1,
        d2,
        b'T',
        h1,
        h2,
        b':',
        i1,
        i2,
        b':',
        s1,
        s2,
        b'.',
        digit(frac / 100),
        f2,
        f3,
        b'Z',
    ]
}

/// Formats index names from a strftime pattern, once per day.
#[derive(Debug, Clone)]
pub struct IndexNamer<'a> {
    pattern: &'a str,
    last: Option<(i64, String)>,
}

impl<'a> IndexNamer<'a> {
    /// A namer for a pattern checked by [`super::check_index_pattern`].
    pub fn new(pattern: &'a str) -> Self {
        Self { pattern, last: None }
    }

    /// The index for a document at `millis`.
    pub fn name(&mut self, millis: i64) -> &str {
        let day = day_of(millis);
        if self.last.as_ref().is_none_or(|(d, _)| *d != day) {
            let name = date_name(self.pattern, day).unwrap_or_else(|| {
                let at = DateTime::from_timestamp_millis(day * MS_PER_DAY).unwrap_or_default();
                at.format(self.pattern).to_string()
            });
            self.last = Some((day, name));
        }
        self.last.as_ref().map_or("", |(_, n)| n.as_str())
    }
}

/// `pattern` for the day `day` when its only specifiers are `%Y`, `%m` and `%d` (the usual index patterns), as
/// chrono writes them; `None` for any other pattern, which chrono formats. A payload names its index once, so
/// chrono's parse of the pattern would otherwise run for every payload.
fn date_name(pattern: &str, day: i64) -> Option<String> {
    let (y, m, d) = civil_from_days(day);
    let mut name = String::with_capacity(pattern.len() + 4);
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        name.push_str(&rest[..at]);
        match rest.as_bytes().get(at + 1)? {
            b'Y' => push_num(&mut name, y, 4),
            b'm' => push2(&mut name, m),
            b'd' => push2(&mut name, d),
            _ => return None,
        }
        rest = &rest[at + 2..];
    }
    name.push_str(rest);
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso_millis(millis: i64) -> String {
        String::from_utf8(iso_millis_bytes(millis).to_vec()).unwrap()
    }

    fn chrono_fmt(ms: i64, f: &str) -> String {
        DateTime::from_timestamp_millis(ms).unwrap().format(f).to_string()
    }

    #[test]
    fn valid_formats_agree_with_chrono() {
        let mut ms = 0_i64;
        while ms <= MAX_FAST_MS {
            assert_eq!(utc_date(ms), chrono_fmt(ms, "%Y-%m-%d"), "{ms}");
            assert_eq!(iso_millis(ms), chrono_fmt(ms, "%Y-%m-%dT%H:%M:%S%.3fZ"), "{ms}");
            ms += 7_777_777_777 + ms / 3;
        }
        for ms in [0, 951_782_400_000, 951_868_799_999, 1_795_132_799_999, 1_795_132_800_000, MAX_FAST_MS] {
            assert_eq!(utc_date(ms), chrono_fmt(ms, "%Y-%m-%d"), "{ms}");
            assert_eq!(iso_millis(ms), chrono_fmt(ms, "%Y-%m-%dT%H:%M:%S%.3fZ"), "{ms}");
        }
    }

    #[test]
    fn invalid_times_clamp_to_the_epoch() {
        assert_eq!(utc_date(-1), "1970-01-01");
        assert_eq!(iso_millis(i64::MAX), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn valid_index_names() {
        let mut n = IndexNamer::new("logmeter-metrics-%Y.%m.%d");
        assert_eq!(n.name(1_795_132_799_999), "logmeter-metrics-2026.11.19");
        assert_eq!(n.name(1_795_132_800_000), "logmeter-metrics-2026.11.20");
        assert_eq!(IndexNamer::new("fixed").name(5), "fixed");
    }

    #[test]
    fn valid_index_names_agree_with_chrono() {
        let patterns = ["logmeter-metrics-%Y.%m.%d", "m-%Y-%m", "%d%m%Y", "x-%Y.%j", "%%Y-%m", "plain", "é-%Y"];
        let mut ms = 0_i64;
        while ms <= MAX_FAST_MS {
            for p in patterns {
                let day_start = day_of(ms) * MS_PER_DAY;
                assert_eq!(IndexNamer::new(p).name(ms), chrono_fmt(day_start, p), "{p} {ms}");
            }
            ms += 9_876_543_211 + ms / 5;
        }
    }
}
