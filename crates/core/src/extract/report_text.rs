//! Text `REPORT` lines:
//! `REPORT RequestId: <id>\tDuration: 3003.28 ms\tBilled Duration: 3004 ms\tMemory Size: 128 MB\t…`
//!
//! Fields come in any order, separated by tabs or spaces, with optional `Init Duration`, `Restore Duration`,
//! `Billed Restore Duration`, `Status`, `Error Type` and X-Ray fields on the same or the next line. The line is
//! tokenized into `Key: value [unit]` pairs, so `Duration` never matches inside `Billed Duration`.

use super::report::{FIGURES, InvocationReport, ReportFormat, ReportStatus, Value, figure_of_text};

/// Parses a text report; `Err` carries a reason for quarantine. Call only for messages that start with
/// `REPORT ` (not `INIT_REPORT`, `RESTORE_REPORT`).
pub fn parse_text_report(msg: &str) -> Result<InvocationReport<'_>, String> {
    let mut report = InvocationReport::new("", ReportFormat::Text);
    let mut tokens = msg.split_ascii_whitespace().peekable();
    if tokens.next() != Some("REPORT") {
        return Err("not a REPORT line".into());
    }
    // The words before the last of a multi-word key ("Billed", "Max Memory"), joined by single spaces.
    let mut key_words = KeyWords::default();
    let mut seen = Seen::default();
    while let Some(tok) = tokens.next() {
        let Some(last) = tok.strip_suffix(':') else {
            // "XRAY" only introduces its fields.
            if tok != "XRAY" {
                key_words.push(tok);
            }
            continue;
        };
        let key = key_words.finish(last);
        let Some(value) = tokens.next() else {
            return Err(format!("REPORT field {key:?} has no value"));
        };
        let unit = tokens.next_if(|t| matches!(*t, "ms" | "MB"));
        let field = Field::of(key);
        if let Some(want) = field.unit()
            && unit != Some(want)
        {
            let got = unit.or(tokens.peek().copied()).unwrap_or("nothing");
            return Err(format!("REPORT {key} {value:?} must be in {want}, followed by {got:?}"));
        }
        set(&mut report, &mut seen, field, key, value)?;
    }
    complete(report)
}

/// Reads a text report straight from its raw JSON string literal (quotes included) when it has the form Lambda
/// writes: `Key: value[ unit]` fields whose keys are single-spaced words, separated by spaces and by the tabs and
/// line breaks that are escapes in the literal, with no other escape. The line is then neither unescaped nor
/// split into words. `None` for anything else, or for a line that is no valid report: the caller unescapes it and
/// [`parse_text_report`] decides (and says why, for the quarantine). What this reader accepts,
/// [`parse_text_report`] reads to the same report (property-tested below).
pub fn read_raw_text_report(raw: &str) -> Option<InvocationReport<'_>> {
    let text = raw.strip_prefix("\"REPORT ")?.strip_suffix('"')?;
    let bytes = text.as_bytes();
    let mut report = InvocationReport::new("", ReportFormat::Text);
    let mut seen = Seen::default();
    let mut i = 0;
    loop {
        i += separators(&bytes[i..]);
        if i == bytes.len() {
            return complete(report).ok();
        }
        let (key, after) = word_key(bytes, i)?;
        let field = Field::of(&text[key]);
        i = after;
        let value_len =
            bytes[i..].iter().position(|&b| b.is_ascii_whitespace() || b == b'\\').unwrap_or(bytes.len() - i);
        if value_len == 0 {
            return None;
        }
        let value = &text[i..i + value_len];
        i += value_len;
        // A unit is the next word when it is exactly `ms` or `MB`; a figure must have its own.
        let at = i + separators(&bytes[i..]);
        let unit = bytes
            .get(at..)
            .filter(|r| at > i && (r.starts_with(b"ms") || r.starts_with(b"MB")))
            .filter(|r| r.len() == 2 || separators(&r[2..]) > 0)
            .map(|_| &text[at..at + 2]);
        if unit.is_some() {
            i = at + 2;
        }
        if field.unit().is_some_and(|want| unit != Some(want)) {
            return None;
        }
        // No reason is kept here: a line this reader refuses is read again by the word reader, which gives it.
        set(&mut report, &mut seen, field, "", value).ok()?;
    }
}

/// A key of words of letters joined by single spaces, then `: `, starting at `i`: the key's range, `XRAY ` dropped,
/// and where its value starts. `None` when no such key starts there.
fn word_key(bytes: &[u8], mut i: usize) -> Option<(std::ops::Range<usize>, usize)> {
    let mut start = i;
    loop {
        let word = bytes[i..].iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if word == 0 {
            return None;
        }
        i += word;
        if bytes.get(i) != Some(&b' ') {
            break;
        }
        i += 1;
    }
    if bytes.get(i) != Some(&b':') || bytes.get(i + 1) != Some(&b' ') {
        return None;
    }
    // The word reader drops "XRAY" wherever it stands: here it may only be the first word (no key Lambda writes has
    // another capital X).
    if bytes[start..i].starts_with(b"XRAY ") {
        start += 5;
    }
    if bytes[start..i].contains(&b'X') {
        return None;
    }
    Some((start..i, i + 2))
}

/// The length of the run of separators starting `raw`: spaces, and the `\t`, `\n`, `\r` escapes.
fn separators(raw: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match raw.get(i) {
            Some(b' ') => i += 1,
            Some(b'\\') if matches!(raw.get(i + 1), Some(b't' | b'n' | b'r')) => i += 2,
            _ => return i,
        }
    }
}

/// A field of a text report, by its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// A figure, by its index in [`FIGURES`].
    Figure(usize),
    RequestId,
    Status,
    ErrorType,
    TraceId,
    SegmentId,
    Sampled,
    /// A key Lambda may add later: ignored rather than refused.
    Other,
}

impl Field {
    fn of(key: &str) -> Self {
        match key {
            "RequestId" => Self::RequestId,
            "Status" => Self::Status,
            "Error Type" => Self::ErrorType,
            "TraceId" => Self::TraceId,
            "SegmentId" => Self::SegmentId,
            "Sampled" => Self::Sampled,
            _ => figure_of_text(key).map_or(Self::Other, Self::Figure),
        }
    }

    /// The unit a figure's value must be followed by.
    fn unit(self) -> Option<&'static str> {
        match self {
            Self::Figure(i) => Some(FIGURES[i].measure.unit()),
            _ => None,
        }
    }

    /// This field's bit in [`Seen`].
    fn bit(self) -> u32 {
        let n = match self {
            Self::Figure(i) => i,
            Self::RequestId => FIGURES.len(),
            Self::Status => FIGURES.len() + 1,
            Self::ErrorType => FIGURES.len() + 2,
            Self::TraceId => FIGURES.len() + 3,
            Self::SegmentId => FIGURES.len() + 4,
            Self::Sampled => FIGURES.len() + 5,
            Self::Other => return 0,
        };
        1 << n
    }
}

/// The known fields a line has given so far: each may come once (which of two would count is ambiguous, and
/// the JSON reader refuses the same).
#[derive(Default)]
struct Seen(u32);

/// Sets `field` (written `key`, for the reason when `value` does not fit it) of a text report to `value`.
fn set<'a>(
    report: &mut InvocationReport<'a>,
    seen: &mut Seen,
    field: Field,
    key: &str,
    value: &'a str,
) -> Result<(), String> {
    let bit = field.bit();
    if bit != 0 {
        if seen.0 & bit != 0 {
            return Err(format!("REPORT field {key:?} is given twice"));
        }
        seen.0 |= bit;
    }
    match field {
        Field::RequestId => report.request_id = value.into(),
        Field::Figure(i) if FIGURES[i].whole => report.figures[i] = Some(Value::Whole(int(key, value)?)),
        Field::Figure(i) => report.figures[i] = Some(Value::Real(float(key, value)?)),
        Field::Status => {
            report.status =
                ReportStatus::parse(value).ok_or_else(|| format!("REPORT Status {value:?} is not a known status"))?;
        }
        Field::ErrorType => report.error_type = Some(value.into()),
        Field::TraceId => report.trace_id = Some(value.into()),
        Field::SegmentId => report.span_id = Some(value.into()),
        Field::Sampled => report.sampled = Some(value.eq_ignore_ascii_case("true")),
        Field::Other => {}
    }
    Ok(())
}

/// A report with every field read: refused without a request id or a duration.
fn complete(report: InvocationReport<'_>) -> Result<InvocationReport<'_>, String> {
    if report.request_id.is_empty() {
        return Err("REPORT line has no RequestId".into());
    }
    if report.duration_ms().is_none() {
        return Err("REPORT line has no Duration".into());
    }
    report.check()?;
    Ok(report)
}

/// The words of a key being read, in a fixed buffer: every key Lambda writes fits, and a longer one is unknown
/// anyway (it is then read as the overflow marker, which matches no field).
#[derive(Default)]
struct KeyWords {
    buf: [u8; 32],
    len: usize,
    overflow: bool,
}

impl KeyWords {
    fn push(&mut self, word: &str) {
        let sep = usize::from(self.len > 0);
        match self.buf.get_mut(self.len..self.len + sep + word.len()) {
            Some(room) => {
                room[..sep].copy_from_slice(&b" "[..sep]);
                room[sep..].copy_from_slice(word.as_bytes());
                self.len += sep + word.len();
            }
            None => self.overflow = true,
        }
    }

    /// The whole key, ending with `last`; the buffer is emptied for the next key.
    fn finish<'a>(&'a mut self, last: &'a str) -> &'a str {
        if self.len == 0 && !self.overflow {
            return last;
        }
        self.push(last);
        let key = if self.overflow { "…" } else { std::str::from_utf8(&self.buf[..self.len]).unwrap_or("…") };
        (self.len, self.overflow) = (0, false);
        key
    }
}

fn float(key: &str, value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("REPORT {key} {value:?} is not a non-negative number"))
}

fn int(key: &str, value: &str) -> Result<u64, String> {
    value.parse::<u64>().map_err(|_| format!("REPORT {key} {value:?} is not a whole non-negative number"))
}

/// For the line older runtimes write on a timeout (`<time> <request id> Task timed out after 30.03 seconds`),
/// the request id; `None` for any other message.
pub fn timed_out_request_id(msg: &str) -> Option<&str> {
    let mut it = msg.split_ascii_whitespace();
    let (_time, id) = (it.next()?, it.next()?);
    let rest = [it.next()?, it.next()?, it.next()?, it.next()?];
    (rest == ["Task", "timed", "out", "after"]).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "2ea49a23-ff39-4bf5-8761-439f99b7c5f6";

    #[test]
    fn valid_report_lines() {
        type Check = fn(&InvocationReport<'_>);
        let table: &[(&str, Check)] = &[
            (
                "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tDuration: 3003.28 ms\tBilled Duration: 3004 ms\tMemory Size: 128 MB\tMax Memory Used: 35 MB\tInit Duration: 151.03 ms\t\n",
                |r| {
                    assert_eq!(r.duration_ms(), Some(3003.28));
                    assert_eq!(r.billed_duration_ms(), Some(3004));
                    assert_eq!(r.memory_size_mb(), Some(128));
                    assert_eq!(r.max_memory_used_mb(), Some(35));
                    assert_eq!(r.init_duration_ms(), Some(151.03));
                    assert!(r.cold_start());
                    assert_eq!(r.status, ReportStatus::Success);
                },
            ),
            (
                // Spaces instead of tabs, fields reordered, a stray space before a tab.
                "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6 Memory Size: 256 MB  Max Memory Used: 256 MB \tBilled Duration: 12 ms Duration: 11.5 ms Status: error Error Type: Runtime.OutOfMemory",
                |r| {
                    assert_eq!((r.duration_ms(), r.billed_duration_ms()), (Some(11.5), Some(12)));
                    assert_eq!((r.memory_size_mb(), r.max_memory_used_mb()), (Some(256), Some(256)));
                    assert_eq!(r.status, ReportStatus::Error);
                    assert_eq!(r.error_type.as_deref(), Some("Runtime.OutOfMemory"));
                    assert!(!r.cold_start());
                },
            ),
            (
                "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tDuration: 30000.00 ms\tBilled Duration: 30000 ms\tMemory Size: 512 MB\tMax Memory Used: 80 MB\tStatus: timeout\t\nXRAY TraceId: 1-5e1b4151-43a0913a12345678901234ab\tSegmentId: 0b1f2c3d4e5f6a7b\tSampled: true\t\n",
                |r| {
                    assert_eq!(r.status, ReportStatus::Timeout);
                    assert_eq!(r.trace_id.as_deref(), Some("1-5e1b4151-43a0913a12345678901234ab"));
                    assert_eq!(r.span_id.as_deref(), Some("0b1f2c3d4e5f6a7b"));
                    assert_eq!(r.sampled, Some(true));
                },
            ),
            (
                "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tDuration: 20.10 ms\tBilled Duration: 350 ms\tMemory Size: 1024 MB\tMax Memory Used: 90 MB\tRestore Duration: 320.55 ms\tBilled Restore Duration: 321 ms\tXRAY TraceId: 1-a-b\tSegmentId: s\tSampled: false\t",
                |r| {
                    assert_eq!(r.restore_duration_ms(), Some(320.55));
                    assert_eq!(r.billed_restore_duration_ms(), Some(321));
                    assert!(r.cold_start());
                    assert_eq!(r.sampled, Some(false));
                },
            ),
            (
                // Keys split by runs of blanks, and a key longer than any Lambda writes: ignored like any unknown.
                "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6 Duration: 2.5 ms  Max \t Memory   Used: 64 MB A Very Long Field Name Lambda Might Add One Day: 7 Memory Size: 128 MB",
                |r| {
                    assert_eq!(r.duration_ms(), Some(2.5));
                    assert_eq!((r.memory_size_mb(), r.max_memory_used_mb()), (Some(128), Some(64)));
                },
            ),
        ];
        for (line, check) in table {
            let r = parse_text_report(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(r.request_id, ID);
            assert_eq!(r.format, ReportFormat::Text);
            check(&r);
        }
    }

    #[test]
    fn invalid_report_lines_have_reasons() {
        let table = [
            ("REPORT Duration: 1 ms", "no RequestId"),
            ("REPORT RequestId: x Billed Duration: 1 ms", "no Duration"),
            ("REPORT RequestId: x Duration: abc ms", "Duration \"abc\""),
            ("REPORT RequestId: x Duration: 1 ms Memory Size: 1.5 MB", "Memory Size \"1.5\""),
            ("REPORT RequestId: x Duration: 1 ms Status: exploded", "not a known status"),
            ("REPORT RequestId: x Duration:", "has no value"),
            // Each known field once, as the JSON reader wants it.
            ("REPORT RequestId: x Duration: 1 ms Duration: 2 ms", "\"Duration\" is given twice"),
            ("REPORT RequestId: x Duration: 1 ms RequestId: y", "\"RequestId\" is given twice"),
            ("REPORT RequestId: x Duration: 1 ms Memory Size: 128 MB Memory Size: 256 MB", "given twice"),
            // Figures in their units, or not at all.
            ("REPORT RequestId: x Duration: 12.34 s", "Duration \"12.34\" must be in ms, followed by \"s\""),
            ("REPORT RequestId: x Duration: 1 ms Memory Size: 10 GB", "Memory Size \"10\" must be in MB"),
            ("REPORT RequestId: x Duration: 1 ms Max Memory Used: 10 ms", "must be in MB, followed by \"ms\""),
            ("REPORT RequestId: x Duration: 1", "must be in ms, followed by \"nothing\""),
            // Absurd figures (one rule for both formats: InvocationReport::check).
            ("REPORT RequestId: x Duration: 1 ms Memory Size: 9223372036854775807 MB", "more than 1 TiB"),
            ("REPORT RequestId: x Duration: 1e12 ms", "more than a day"),
            (
                "REPORT RequestId: x Duration: 1 ms Memory Size: 128 MB Max Memory Used: 1024 MB",
                "more than Memory Size",
            ),
        ];
        for (line, want) in table {
            let e = parse_text_report(line).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn valid_raw_literals_read_like_their_unescaped_text() {
        let lines = [
            "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tDuration: 3003.28 ms\tBilled Duration: 3004 ms\tMemory Size: 128 MB\tMax Memory Used: 35 MB\tInit Duration: 151.03 ms\t\n",
            "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6 Memory Size: 256 MB  Max Memory Used: 256 MB \r\tBilled Duration: 12 ms Duration: 11.5 ms Status: error Error Type: Runtime.OutOfMemory",
            "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tDuration: 30000.00 ms\tBilled Duration: 30000 ms\tMemory Size: 512 MB\tMax Memory Used: 80 MB\tStatus: timeout\t\nXRAY TraceId: 1-5e1b4151-43a0913a12345678901234ab\tSegmentId: 0b1f2c3d4e5f6a7b\tSampled: true\t\n",
            // A unit is the next word, whatever blank comes before it (found by the property below).
            "REPORT RequestId: 2ea49a23\tDuration: 2 ms\tError Type: 2ea49a23\tms Status: error",
        ];
        for line in lines {
            let raw = serde_json::to_string(line).unwrap();
            assert_eq!(read_raw_text_report(&raw), Some(parse_text_report(line).unwrap()), "{raw}");
        }
        // Other escapes, other separators, and lines that are no valid report are left to the word reader.
        for line in [
            "REPORT RequestId: \"quoted\" Duration: 1 ms",
            "REPORT RequestId: 2ea49a23 Duration: 1 ms Error Type: a\\b",
            "REPORT RequestId: 2ea49a23 Duration:\t1 ms",
            "REPORT RequestId: 2ea49a23 Billed XRAY Duration: 1 ms Duration: 2 ms",
            "REPORT RequestId: 2ea49a23 Billed Duration: 1 ms",
            "REPORT RequestId: 2ea49a23 Duration: n/a ms",
            "REPORT RequestId: 2ea49a23 Duration: 1 ms Duration: 1 ms",
            "REPORT RequestId: 2ea49a23 Duration: 12.34 s",
            "REPORT RequestId: 2ea49a23 Duration: 1 ms Memory Size: 10 GB",
            "REPORT RequestId: 2ea49a23 Duration: 1",
            "REPORT RequestId: 2ea49a23 Duration: 1 ms Memory Size: 128 MB Max Memory Used: 129 MB",
        ] {
            assert_eq!(read_raw_text_report(&serde_json::to_string(line).unwrap()), None, "{line}");
        }
    }

    /// Report-like lines: fields (mostly) and stray words of every kind, joined by every kind of blank.
    fn report_line() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key = prop::sample::select(vec![
            "RequestId",
            "Duration",
            "Billed Duration",
            "Memory Size",
            "Max Memory Used",
            "Init Duration",
            "Status",
            "Error Type",
            "XRAY TraceId",
            "SegmentId",
            "Sampled",
            "Restore Duration",
            "Some New Field",
            "Billed XRAY Duration",
        ]);
        let value = prop::sample::select(vec![
            "2ea49a23",
            "1.5",
            "128",
            "0",
            "1e3",
            "timeout",
            "error",
            "Runtime.Error",
            "1-a-b",
            "true",
            "n/a",
            "a\"b",
            "c\\d",
            "é",
        ]);
        let unit = prop::sample::select(vec!["", " ms", " MB", " msx", "\tms"]);
        let field = (key, value, unit).prop_map(|(k, v, u)| format!("{k}: {v}{u}"));
        let stray = prop::sample::select(vec!["ms", "XRAY", ":", "Max", "7"]).prop_map(str::to_owned);
        let piece = prop_oneof![6 => field, 1 => stray];
        let blank = prop::sample::select(vec!["\t", "\t", " ", "\t\n", "\n", "  ", "\r\n", "\u{c}", "\u{7}"]);
        let head = prop::sample::select(vec![
            "REPORT RequestId: 2ea49a23\tDuration: 2 ms",
            "REPORT RequestId: 2ea49a23 Duration: 2 ms",
            "REPORT ",
            "REPORT\tRequestId: x",
        ]);
        (head, prop::collection::vec((blank, piece), 0..8)).prop_map(|(head, rest)| {
            rest.into_iter().fold(head.to_owned(), |mut line, (b, p)| {
                line.push_str(b);
                line.push_str(&p);
                line
            })
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]
        #[test]
        fn valid_raw_reader_agrees_with_the_word_reader(line in report_line()) {
            let raw = serde_json::to_string(&line).unwrap();
            if let Some(fast) = read_raw_text_report(&raw) {
                proptest::prop_assert_eq!(Ok(fast), parse_text_report(&line));
            }
        }
    }

    #[test]
    fn valid_usual_report_lines_are_read_raw() {
        // Lambda's own lines must take the raw reader, or it only adds a second read.
        for line in [
            "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tDuration: 102.34 ms\tBilled Duration: 103 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\t\n",
            "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tMemory Size: 128 MB\tMax Memory Used: 70 MB\tStatus: error\tError Type: Runtime.OutOfMemory\tDuration: 1.5 ms\tBilled Duration: 2 ms\t\nXRAY TraceId: 1-5e1b4151-43a0913a\tSegmentId: 0b1f2c3d\tSampled: true\t\n",
            "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6 Duration: 20.10 ms Billed Duration: 350 ms Memory Size: 1024 MB Max Memory Used: 90 MB Restore Duration: 320.55 ms Billed Restore Duration: 321 ms \n",
        ] {
            assert!(read_raw_text_report(&serde_json::to_string(line).unwrap()).is_some(), "{line}");
        }
        let (valid, raw) = super::super::fast_path_share(
            report_line(),
            2_000,
            |line| parse_text_report(line).is_ok(),
            |line| read_raw_text_report(&serde_json::to_string(line).unwrap()).is_some(),
        );
        // Generated lines are often odd (stray words, form feeds, control characters), which the raw reader leaves
        // alone; what matters is that it takes enough valid ones for the agreement property to test real answers.
        assert!(valid > 200 && raw >= 100, "{raw} of {valid} valid lines read raw");
    }

    #[test]
    fn valid_lambda_keys_name_their_field() {
        let others = ["RequestId", "Status", "Error Type", "XRAY TraceId", "SegmentId", "Sampled"];
        for key in FIGURES.iter().map(|f| f.text).chain(others) {
            let line = format!("{key}: 1");
            let (words, after) = word_key(line.as_bytes(), 0).unwrap_or_else(|| panic!("{key} has no words"));
            assert_eq!(after, key.len() + 2, "{key}");
            assert_ne!(Field::of(&line[words]), Field::Other, "{key}");
        }
    }

    #[test]
    fn timeout_lines() {
        assert_eq!(
            timed_out_request_id(
                "2026-11-20T10:00:30.050Z 2ea49a23-ff39-4bf5-8761-439f99b7c5f6 Task timed out after 30.03 seconds\n"
            ),
            Some(ID)
        );
        assert_eq!(timed_out_request_id("2026-11-20T10:00:30.050Z x Task finished"), None);
    }
}
