//! `platform.report` events read straight from the raw message literal (`"{\"type\":\"platform.report\",…}"`),
//! without unescaping the line first.
//!
//! Lambda writes these events compactly and with no escapes inside their strings, so in the payload's literal
//! every quote of the event is `\"` and nothing else is escaped. This reader takes exactly that form of a valid
//! report and answers `None` for anything else: another event type, any other escape, a value of an unexpected
//! type, a duplicate field, a number out of range, a report that breaks a rule. The caller then unescapes the line
//! and reads it with [`super::parse_platform_report`], which decides every such case and gives the reason. What
//! this reader accepts, the serde reader reads to the same report (property-tested below).

use super::report::{FIGURES, InvocationReport, LABELS, figure_of_json, label_of_json};
use super::report_json::{Metrics, PLATFORM_REPORT, Record, Tracing, report_of};
use crate::decode::escaped_string;
use std::borrow::Cow;

/// Deepest nesting skipped inside unknown values (serde_json's own limit is 128).
const MAX_DEPTH: usize = 64;

/// The report in the raw literal `raw` (quotes included) when it is a valid `platform.report` event in Lambda's
/// usual form; `None` leaves the decision to the serde reader.
pub fn read_raw_platform_report(raw: &str) -> Option<InvocationReport<'_>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let mut c = Cursor { text: inner, pos: 0 };
    let (mut kind, mut record) = (None, None);
    c.object(&TOP_KEYS, |c, key| match key {
        "type" => set(&mut kind, c.string()?),
        "record" => set(&mut record, c.record()?),
        _ => c.skip(1),
    })?;
    c.ws();
    if c.pos != inner.len() || kind? != PLATFORM_REPORT {
        return None;
    }
    report_of(record?).ok()
}

/// Fills `slot`; `None` when it was already filled (serde refuses duplicate fields).
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    slot.replace(value).is_none().then_some(())
}

/// The keys of each object the reader expects, taken whole when written as Lambda writes them.
const TOP_KEYS: [&str; 3] = ["type", "record", "time"];
const RECORD_KEYS: [&str; 5] = ["requestId", "metrics", "tracing", "status", "errorType"];
const METRIC_KEYS: [&str; FIGURES.len()] = {
    let mut keys = [""; FIGURES.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = FIGURES[i].json;
        i += 1;
    }
    keys
};
const TRACING_KEYS: [&str; 3] = ["spanId", "type", "value"];

/// Cursor over the text between the literal's quotes, where JSON quotes are written `\"`.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Spaces only: any other whitespace would be an escape (`\n`, `\t`) in the literal.
    fn ws(&mut self) {
        while self.bytes().get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.pos += 1)
    }

    /// `\"…\"`: a string without escapes or control characters, as the text between its quotes.
    fn string(&mut self) -> Option<&'a str> {
        self.ws();
        let (text, end) = escaped_string(self.text, self.pos)?;
        self.pos = end;
        Some(text)
    }

    /// A non-negative JSON number (negative metrics are refused anyway, and `-0` is left to serde).
    fn number(&mut self) -> Option<f64> {
        self.ws();
        let bytes = self.bytes();
        let start = self.pos;
        let digits = |i: &mut usize| {
            let from = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        let mut i = start;
        if !digits(&mut i) || (bytes[start] == b'0' && i > start + 1) {
            return None;
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        self.pos = i;
        // Correctly rounded, as serde_json's `float_roundtrip` reads it; out of range is serde's to refuse.
        self.text[start..i].parse().ok().filter(|x: &f64| x.is_finite())
    }

    fn word(&mut self, word: &str) -> Option<()> {
        self.text[self.pos..].starts_with(word).then(|| self.pos += word.len())
    }

    /// Opens an object or array: consumes `open`, and says whether it is empty (then `close` is consumed too).
    fn open(&mut self, open: u8, close: u8) -> Option<bool> {
        self.eat(open)?;
        let empty = self.peek()? == close;
        if empty {
            self.pos += 1;
        }
        Some(empty)
    }

    /// After a member or element: whether another follows (its comma consumed), or `close` ends it.
    fn more(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => self.pos += 1,
            b if b == close => {
                self.pos += 1;
                return Some(false);
            }
            _ => return None,
        }
        Some(true)
    }

    /// An object, each member handed to `member`, which must read the value. A key among `keys` written as Lambda
    /// writes it (`\"key\":`) is taken whole, without a search for its end.
    fn object(&mut self, keys: &[&str], mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        if self.open(b'{', b'}')? {
            return Some(());
        }
        loop {
            let key = match self.known_key(keys) {
                Some(key) => key,
                None => {
                    let key = self.string()?;
                    self.eat(b':')?;
                    key
                }
            };
            member(self, key)?;
            if !self.more(b'}')? {
                return Some(());
            }
        }
    }

    /// The key among `keys` that the next member starts with, `\"key\":` whole (what [`Self::string`] and the
    /// colon after it would read, in one compare); `None`, with the cursor unchanged, for any other start.
    fn known_key(&mut self, keys: &[&str]) -> Option<&'a str> {
        self.ws();
        let after = self.bytes().get(self.pos..)?.strip_prefix(b"\\\"")?;
        let key = keys.iter().find(|k| {
            after.starts_with(k.as_bytes()) && after.get(k.len()..).is_some_and(|rest| rest.starts_with(b"\\\":"))
        })?;
        let start = self.pos + 2;
        self.pos = start + key.len() + 3;
        Some(&self.text[start..start + key.len()])
    }

    /// Any value, checked and skipped.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'\\' => self.string().map(drop),
            b'{' => self.object(&[], |c, _| c.skip(depth + 1)),
            b'[' => {
                if self.open(b'[', b']')? {
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if !self.more(b']')? {
                        return Some(());
                    }
                }
            }
            b't' => self.word("true"),
            b'f' => self.word("false"),
            b'n' => self.word("null"),
            b'-' => {
                self.pos += 1;
                if self.bytes().get(self.pos).is_some_and(u8::is_ascii_digit) { self.number().map(drop) } else { None }
            }
            b'0'..=b'9' => self.number().map(drop),
            _ => None,
        }
    }

    fn record(&mut self) -> Option<Record<'a>> {
        let (mut request_id, mut metrics, mut tracing, mut status, mut error_type) = (None, None, None, None, None);
        let mut labels: [Option<&'a str>; LABELS.len()] = [None; LABELS.len()];
        self.object(&RECORD_KEYS, |c, key| match key {
            "requestId" => set(&mut request_id, c.string()?),
            "metrics" => set(&mut metrics, c.metrics()?),
            "tracing" => set(&mut tracing, c.tracing()?),
            "status" => set(&mut status, c.string()?),
            "errorType" => set(&mut error_type, c.string()?),
            _ => match label_of_json(key) {
                Some(i) => set(&mut labels[i], c.string()?),
                None => c.skip(1),
            },
        })?;
        Some(Record {
            request_id: request_id.map(Cow::Borrowed),
            metrics: metrics.unwrap_or_default(),
            tracing,
            status: status.map(Cow::Borrowed),
            error_type: error_type.map(Cow::Borrowed),
            labels: labels.map(|l| l.map(Cow::Borrowed)),
        })
    }

    fn metrics(&mut self) -> Option<Metrics> {
        let mut m = Metrics::default();
        self.object(&METRIC_KEYS, |c, key| match figure_of_json(key) {
            Some(i) => set(&mut m.0[i], c.number()?),
            None => c.skip(1),
        })?;
        Some(m)
    }

    fn tracing(&mut self) -> Option<Tracing<'a>> {
        let (mut span_id, mut value) = (None, None);
        self.object(&TRACING_KEYS, |c, key| match key {
            "spanId" => set(&mut span_id, c.string()?),
            "value" => set(&mut value, c.string()?),
            _ => c.skip(1),
        })?;
        Some(Tracing { span_id: span_id.map(Cow::Borrowed), value: value.map(Cow::Borrowed) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_platform_report;
    use proptest::prelude::*;

    /// The message literal as it stands in the payload.
    fn literal(line: &str) -> String {
        serde_json::to_string(line).unwrap()
    }

    /// What the serde reader makes of the unescaped line.
    fn serde_reads(line: &str) -> Result<Option<InvocationReport<'_>>, String> {
        parse_platform_report(line)
    }

    #[test]
    fn valid_lambda_shapes_are_read_without_unescaping() {
        for line in [
            r#"{"time":"2026-11-20T10:00:00.000Z","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":2599.4,"billedDurationMs":2600,"memorySizeMB":128,"maxMemoryUsedMB":94,"initDurationMs":549.04},"tracing":{"spanId":"sp","type":"X-Amzn-Trace-Id","value":"Root=1-abc-def;Parent=p;Sampled=1"},"status":"success"}}"#,
            r#"{"record":{"metrics":{"billedDurationMs":715,"durationMs":714.91,"maxMemoryUsedMB":152,"memorySizeMB":256},"requestId":"c1065e00","status":"success"},"time":"2026-11-19T23:40:05.046Z","type":"platform.report"}"#,
            r#"{"time":"t","type":"platform.report","record":{"requestId":"r-2","metrics":{"durationMs":3.5e1},"spans":[{"name":"responseLatency","durationMs":1.2},[],null,true,false,-3],"status":"timeout","errorType":"Sandbox.Timedout"}}"#,
            r#" { "type" : "platform.report" , "record" : { "requestId" : "r-3" , "metrics" : { } } } "#,
        ] {
            let raw = literal(line);
            let fast = read_raw_platform_report(&raw);
            assert!(fast.is_some(), "{line}");
            assert_eq!(Ok(fast), serde_reads(line), "{line}");
        }
    }

    #[test]
    fn invalid_or_unusual_lines_are_left_to_serde() {
        for line in [
            r#"{"type":"platform.start","record":{"requestId":"r"}}"#,
            r#"{"type":"platform.report"}"#,
            r#"{"type":"platform.report","record":null}"#,
            r#"{"type":"platform.report","record":{"metrics":{}}}"#,
            r#"{"type":"platform.report","record":{"requestId":""}}"#,
            r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":-1}}}"#,
            r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":-0}}}"#,
            r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":null}}}"#,
            r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":1e999}}}"#,
            r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"billedDurationMs":1.5}}}"#,
            r#"{"type":"platform.report","record":{"requestId":"r","status":"weird"}}"#,
            r#"{"type":"platform.report","record":{"requestId":"r","requestId":"s"}}"#,
            r#"{"type":"platform.report","type":"platform.report","record":{"requestId":"r"}}"#,
            r#"{"type":"platform.report","record":{"requestId":"r\"q"}}"#,
            r#"{"type":"platform.report","record":{"requestId":"r\\q"}}"#,
            "{\"type\":\"platform.report\",\n\"record\":{\"requestId\":\"r\"}}",
            r#"{"type":"platform.report","record":{"requestId":"r"}} x"#,
            r#"{"type":"platform.report","record":{"requestId":"r","x":01}}"#,
            r#"{"type":"platform.report","record":{"requestId":"r","x":[1,]}}"#,
        ] {
            assert_eq!(read_raw_platform_report(&literal(line)), None, "{line}");
        }
    }

    /// A `platform.report` event with a random selection of fields, values and extras.
    fn event() -> impl Strategy<Value = serde_json::Value> {
        let number = prop_oneof![
            (0u64..100_000).prop_map(serde_json::Value::from),
            (0.0f64..1e6).prop_map(serde_json::Value::from),
            Just(serde_json::json!(-1)),
            Just(serde_json::json!(null)),
            Just(serde_json::json!("12")),
        ];
        let text =
            prop_oneof!["[a-z0-9-]{0,12}", "[ -~]{0,8}", Just("é\"\\".to_owned())].prop_map(serde_json::Value::from);
        let metric_names = proptest::sample::subsequence(
            vec![
                "durationMs",
                "billedDurationMs",
                "memorySizeMB",
                "maxMemoryUsedMB",
                "initDurationMs",
                "restoreDurationMs",
                "billedRestoreDurationMs",
                "other",
            ],
            0..8,
        );
        (metric_names, proptest::collection::vec(number, 8), text.clone(), text.clone(), text.clone(), any::<u8>())
            .prop_map(|(names, values, id, value, status, pick)| {
                let metrics: serde_json::Map<_, _> = names.into_iter().map(str::to_owned).zip(values).collect();
                let mut record = serde_json::json!({"requestId": id, "metrics": metrics});
                if pick & 1 != 0 {
                    record["tracing"] = serde_json::json!({"spanId": "s", "type": "X-Amzn-Trace-Id", "value": value});
                }
                if pick & 2 != 0 {
                    record["status"] = if pick & 4 != 0 { serde_json::json!("error") } else { status };
                }
                if pick & 8 != 0 {
                    record["spans"] = serde_json::json!([{"name": "x", "durationMs": 1.5}]);
                }
                let kind = if pick & 16 != 0 { "platform.start" } else { "platform.report" };
                serde_json::json!({"time": "2026-11-20T10:00:00.000Z", "type": kind, "record": record})
            })
    }

    #[test]
    fn valid_generated_events_often_take_the_fast_path() {
        // Keeps the equivalence properties below from holding vacuously.
        let (reports, fast) = super::super::fast_path_share(
            event(),
            2000,
            |event| matches!(serde_reads(&event.to_string()), Ok(Some(_))),
            |event| read_raw_platform_report(&literal(&event.to_string())).is_some(),
        );
        // The strategy favours awkward values (escapes, wrong types), so about half the valid reports it makes are
        // left to serde.
        assert!(reports >= 100 && fast * 3 >= reports, "{fast} read fast of {reports} reports");
    }

    proptest! {
        #[test]
        fn valid_whatever_the_fast_reader_accepts_serde_reads_the_same(event in event()) {
            let line = event.to_string();
            if let Some(fast) = read_raw_platform_report(&literal(&line)) {
                prop_assert_eq!(Ok(Some(fast)), serde_reads(&line));
            }
        }

        #[test]
        fn invalid_damaged_lines_are_never_read_differently(event in event(), at in any::<prop::sample::Index>(), byte in prop::sample::select(b"{}[]:,\" 0-e.\\nx".to_vec())) {
            let mut line = event.to_string().into_bytes();
            let i = at.index(line.len());
            line.insert(i, byte);
            let Ok(line) = String::from_utf8(line) else { return Ok(()) };
            if let Some(fast) = read_raw_platform_report(&literal(&line)) {
                prop_assert_eq!(Ok(Some(fast)), serde_reads(&line));
            }
        }
    }
}
