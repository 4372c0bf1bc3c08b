//! Tagged meter records in log messages.
//!
//! Shapes handled: text lines from the Node.js and Python runtimes and `print` (`… meter_record_for_stream {…}`),
//! pretty-printed JSON over several lines (Node writes `\r` for line breaks), several tags in one event, an array
//! after one tag, and the Lambda JSON log format with `message` as a string or as an object holding the tag as a
//! key. After the tag comes exactly one JSON value; text after it on the same line, or a stray closing bracket on
//! the next, means the record is not what the application meant, so it is quarantined.

mod raw;
mod text;

use super::record::{RecordError, ValidRecord, append_unique_id, minify_with_unique_id_into};
use super::record_usual::read_usual_record;
use super::{EventRef, Extraction, Origin, QuarantineEntry, QuarantineKind};
use crate::decode::{json_end, json_object_with, unescape_into};
use crate::ids::{UUID_LEN, derived_unique_id};
use memchr::memmem::Finder;
use std::borrow::Cow;

/// Finds and validates tagged meter records.
#[derive(Debug, Clone)]
pub struct MeterExtractor {
    tag: String,
    finder: Finder<'static>,
    /// The tag is written the same in a literal (no quote, backslash or control character) and the fast line
    /// reader is on: lines can be read raw.
    raw: bool,
    /// Records of the usual shape are read by the one-pass reader (`record_usual`) before the general one.
    usual: bool,
}

impl MeterExtractor {
    /// An extractor for `tag` (default `meter_record_for_stream`).
    pub fn new(tag: &str) -> Self {
        Self::with_fast_readers(tag, true, true)
    }

    /// An extractor for `tag` whose fast readers are on or off: `lines`, the reader of the usual line from its
    /// raw literal; `records`, the one-pass reader of records of the usual shape. Off, every line and record goes
    /// to the general reader, with the same output (to measure what the fast readers gain).
    pub fn with_fast_readers(tag: &str, lines: bool, records: bool) -> Self {
        let raw = lines && records && !tag.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20);
        Self { tag: tag.to_owned(), finder: Finder::new(tag.as_bytes()).into_owned(), raw, usual: records }
    }

    /// A record of the usual shape at the start of `text`, read in one pass and drafted; `None` (nothing drafted)
    /// for anything else, or when the one-pass reader is off.
    fn read_usual(&self, text: &str, out: &mut Extraction) -> Option<(usize, ValidRecord)> {
        if !self.usual {
            return None;
        }
        out.meters.draft_with(|t| read_usual_record(text, t))
    }

    /// The tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Whether `text` (raw or unescaped) mentions the tag at all: the cheap test run on every message.
    pub fn mentions(&self, text: &[u8]) -> bool {
        self.finder.find(text).is_some()
    }

    /// Extracts every record from one unescaped message.
    pub fn extract(&self, msg: &str, ev: &EventRef<'_>, out: &mut Extraction) {
        self.extract_with(msg, ev, out, &mut String::new());
    }

    /// [`Self::extract`], with `scratch` to unescape the message of a JSON log line into: a buffer the caller
    /// reuses from line to line.
    pub fn extract_with(&self, msg: &str, ev: &EventRef<'_>, out: &mut Extraction, scratch: &mut String) {
        let mut position = 0;
        let from = out.meters.len();
        let t = msg.trim();
        if t.starts_with('{')
            && let Some(obj) = json_object(t, &self.tag)
        {
            self.extract_object(&obj, msg, ev, &mut position, out, scratch);
            if out.meters.len() > from {
                let (request, tenant) = (json_text(obj.request_id), json_text(obj.tenant_id));
                let origin = Origin { request_id: request.as_deref(), tenant_id: tenant.as_deref() };
                out.meters.set_origin(from, origin);
            }
            return;
        }
        self.scan_text(msg, ev, &mut position, out);
        if out.meters.len() > from {
            let origin = Origin { request_id: self.request_id_before_tag(msg), tenant_id: None };
            out.meters.set_origin(from, origin);
        }
    }

    /// The request id a text line names before its first tag (see [`request_id_in`]).
    fn request_id_before_tag<'a>(&self, text: &'a str) -> Option<&'a str> {
        request_id_in(&text[..self.finder.find(text.as_bytes()).unwrap_or(text.len())])
    }

    /// A JSON log line: `{"meter_record_for_stream": …}`, or the Lambda envelope whose `message` is a string or
    /// an object holding the tag as a key.
    fn extract_object(
        &self,
        obj: &JsonObject<'_>,
        msg: &str,
        ev: &EventRef<'_>,
        position: &mut usize,
        out: &mut Extraction,
        scratch: &mut String,
    ) {
        if let Some(key) = obj.repeated {
            let reason = format!("the JSON log line has the key {key} twice: which one holds the record is ambiguous");
            self.quarantine(ev, reason, msg.trim(), None, out);
            *position += 1;
            return;
        }
        if let Some(v) = obj.tag {
            return self.emit_value(v, ev, position, out);
        }
        if let Some(m) = obj.message {
            if m.starts_with('"') {
                if unescape_into(m, scratch) && self.scan_text(scratch, ev, position, out) {
                    return;
                }
            } else if m.starts_with('{') {
                if self.sole_tagged_record(m, ev, position, out) {
                    return;
                }
                if let Some(inner) = json_object(m, &self.tag)
                    && let Some(v) = inner.tag
                {
                    return self.emit_value(v, ev, position, out);
                }
            }
        }
        self.quarantine(
            ev,
            format!(
                "the tag appears in a JSON log line, but neither in its message text nor as a key holding the record \
                 (log `{} <record JSON>` or an object {{\"{}\": <record>}})",
                self.tag, self.tag
            ),
            msg.trim(),
            None,
            out,
        );
        *position += 1;
    }

    /// The usual message object, `{"<tag>": <record>}` with a valid record of the usual shape: the record is kept,
    /// read once. `false`, with nothing kept, for anything else (the object is then read the general way).
    fn sole_tagged_record(&self, m: &str, ev: &EventRef<'_>, position: &mut usize, out: &mut Extraction) -> bool {
        let Some(value) = json_ws(&m[1..])
            .strip_prefix('"')
            .and_then(|s| s.strip_prefix(self.tag.as_str()))
            .and_then(|s| s.strip_prefix('"'))
            .and_then(|s| json_ws(s).strip_prefix(':'))
            .map(json_ws)
            .filter(|v| v.starts_with('{'))
        else {
            return false;
        };
        match self.read_usual(value, out) {
            Some((len, valid)) if json_ws(&value[len..]) == "}" => {
                self.keep(valid, ev, position, out);
                true
            }
            // A draft not kept undoes itself.
            _ => false,
        }
    }

    /// Emits a record whose verdict is known: the record, or its quarantine entry.
    fn emit_checked(
        &self,
        raw: &str,
        verdict: Result<ValidRecord, RecordError>,
        ev: &EventRef<'_>,
        position: &mut usize,
        out: &mut Extraction,
    ) {
        match verdict {
            Ok(valid) => {
                out.meters.draft_with(|text| {
                    minify_with_unique_id_into(raw, None, text);
                    Some(())
                });
                self.keep(valid, ev, position, out);
            }
            Err(e) => {
                self.quarantine(ev, e.message, raw, Some(*position), out);
                *position += 1;
            }
        }
    }

    /// Keeps the draft record (a valid record, minified) with a derived `uniqueId` when it has none.
    fn keep(&self, valid: ValidRecord, ev: &EventRef<'_>, position: &mut usize, out: &mut Extraction) {
        let pos = *position;
        *position += 1;
        let mut buf = [0; UUID_LEN];
        let derived: Option<Cow<'_, str>> = match (valid.has_unique_id, ev.unique_ids) {
            (true, _) => None,
            (false, Some(ids)) => Some(Cow::Borrowed(
                ids.encode(&[ev.event_id.as_bytes(), itoa::Buffer::new().format(pos).as_bytes()], &mut buf),
            )),
            (false, None) => Some(Cow::Owned(derived_unique_id(ev.log_group, ev.log_stream, ev.event_id, pos))),
        };
        out.meters.keep_draft(valid.time_millis, derived.is_some(), |text| {
            if let Some(id) = &derived {
                append_unique_id(text, id);
            }
        });
    }

    fn quarantine(&self, ev: &EventRef<'_>, reason: String, raw: &str, pos: Option<usize>, out: &mut Extraction) {
        if !out.quarantine.lists(raw.len()) {
            return out.quarantine.omit(reason);
        }
        out.quarantine.push(QuarantineEntry::at(QuarantineKind::MeterRecord, ev, reason, raw, pos));
    }
}

/// What extraction needs of a JSON log line's object: the values of the tag and of `message`, and whether either
/// key repeats (then the line is ambiguous: readers differ on which one counts).
struct JsonObject<'a> {
    tag: Option<&'a str>,
    message: Option<&'a str>,
    repeated: Option<&'static str>,
    /// The JSON text of `requestId` and `tenantId`, when present.
    request_id: Option<&'a str>,
    tenant_id: Option<&'a str>,
}

fn json_object<'a>(text: &'a str, tag: &str) -> Option<JsonObject<'a>> {
    let mut obj = JsonObject { tag: None, message: None, repeated: None, request_id: None, tenant_id: None };
    let end = json_object_with(text, false, |key, value| {
        match &*key {
            "requestId" => obj.request_id = Some(value),
            "tenantId" => obj.tenant_id = Some(value),
            _ => {}
        }
        let (slot, name) = if key == tag {
            (&mut obj.tag, "the tag")
        } else if key == "message" {
            (&mut obj.message, "message")
        } else {
            return;
        };
        if slot.replace(value).is_some() {
            obj.repeated.get_or_insert(name);
        }
    })
    .ok()?;
    json_end(text, end).ok()?;
    Some(obj)
}

/// The text of a JSON string value (`None` for any other value).
fn json_text(value: Option<&str>) -> Option<Cow<'_, str>> {
    let v = value?;
    let inner = v.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    let mut text = String::new();
    unescape_into(v, &mut text).then_some(Cow::Owned(text))
}

/// The first request id in `prefix` (the text of a line before its tag), as the Node.js (`<time>␉<id>␉INFO␉…`)
/// and Python (`[INFO]␉<time>␉<id>␉…`) runtimes write it: 36 characters shaped like a UUID, not inside a longer
/// run of hex digits and dashes. Tabs may still be escapes (`\t`) in a raw literal: its `t` is no hex digit.
fn request_id_in(prefix: &str) -> Option<&str> {
    let b = prefix.as_bytes();
    let part = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_hexdigit() || *c == b'-');
    let at = |start: usize| {
        let id = prefix.get(start..start + 36)?;
        let alone = (start == 0 || !part(start - 1)) && !part(start + 36);
        (alone && is_request_id(id)).then_some(id)
    };
    // Where the runtimes put it, after a 24-character timestamp and a tab (escaped or not): Node.js, then Python.
    const USUAL: [usize; 4] = [25, 26, 32, 34];
    USUAL
        .into_iter()
        .find_map(at)
        .or_else(|| memchr::memchr_iter(b'-', b).filter(|&dash| dash >= 8).find_map(|dash| at(dash - 8)))
}

/// Whether `word` has the shape of a Lambda request id: a UUID, 8-4-4-4-12 hexadecimal digits.
fn is_request_id(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() == 36
        && b.iter()
            .enumerate()
            .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() })
}

/// `s` after its leading JSON whitespace.
fn json_ws(s: &str) -> &str {
    s.trim_start_matches([' ', '\t', '\n', '\r'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Deserialize)]
    struct Case {
        name: String,
        message: String,
        records: Vec<Value>,
        derived_unique_id: Vec<bool>,
        quarantined: Vec<String>,
        /// The request and tenant ids the line names, kept with each of its records.
        #[serde(default)]
        request_id: Option<String>,
        #[serde(default)]
        tenant_id: Option<String>,
    }

    const EV: EventRef<'static> = EventRef {
        log_group: "/aws/lambda/checkout",
        log_stream: "2026/11/20/[$LATEST]fe9b6a749a854acb95af7951c44a79e0",
        event_id: "3454241571763225290068746682784361489366087843422319411",
        timestamp: 1_795_168_800_000,
        unique_ids: None,
    };

    #[test]
    fn table_from_samples_edge_meter_lines() {
        let cases: Vec<Case> =
            serde_json::from_str(include_str!("../../../../../samples/edge/meter-lines.json")).unwrap();
        assert!(cases.len() >= 25);
        let x = MeterExtractor::new("meter_record_for_stream");
        let mut raw_with_origin = 0;
        for case in cases {
            let mut out = Extraction::default();
            assert!(x.mentions(case.message.as_bytes()), "{}", case.name);
            x.extract(&case.message, &EV, &mut out);
            let got: Vec<Value> = out.meters.iter().map(|m| serde_json::from_str(m.json).unwrap()).collect();
            assert_eq!(got.len(), case.records.len(), "{}: {got:?} {:?}", case.name, out.quarantine);
            for ((mut g, want), derived) in got.into_iter().zip(&case.records).zip(&case.derived_unique_id) {
                if *derived {
                    let id = g.as_object_mut().unwrap().remove("uniqueId").unwrap();
                    assert!(uuid::Uuid::parse_str(id.as_str().unwrap()).is_ok(), "{}", case.name);
                }
                assert_eq!(&g, want, "{}", case.name);
            }
            // The same line read from its literal in the payload, when the raw reader takes it, names the same.
            let mut raw = Extraction::default();
            let read_raw = x.extract_raw(&serde_json::to_string(&case.message).unwrap(), &EV, &mut raw);
            for (i, m) in out.meters.iter().enumerate() {
                let want = (case.request_id.as_deref(), case.tenant_id.as_deref());
                assert_eq!((m.origin.request_id, m.origin.tenant_id), want, "{}", case.name);
                assert!(
                    !m.json.contains("tenantId") && !m.json.contains("requestId"),
                    "{}: never in the record",
                    case.name
                );
                if read_raw {
                    assert_eq!(raw.meters.get(i).map(|r| r.origin), Some(m.origin), "{}: raw reader", case.name);
                    raw_with_origin += usize::from(m.origin.request_id.is_some());
                }
            }
            let reasons: Vec<&str> = out.quarantine.iter().map(|q| q.reason.as_str()).collect();
            assert_eq!(reasons.len(), case.quarantined.len(), "{}: {reasons:?}", case.name);
            for (got, want) in reasons.iter().zip(&case.quarantined) {
                assert!(got.contains(want.as_str()), "{}: {got:?} lacks {want:?}", case.name);
            }
            for q in &out.quarantine {
                assert!(q.raw.as_deref().is_some_and(|r| !r.trim().is_empty()), "{}: raw text kept", case.name);
                assert_eq!(q.event_id.as_deref(), Some(EV.event_id));
            }
        }
        assert!(raw_with_origin >= 4, "the raw readers' origins are compared on {raw_with_origin} records");
    }

    #[test]
    fn request_ids_are_whole_uuids_before_the_tag() {
        let id = "6bd1cb1c-8fb0-4b3d-a6c9-2f6a3a4d2f11";
        let table = [
            (format!("2026-11-20T10:00:00.000Z\t{id}\tINFO\t"), Some(id)),
            (format!("2026-11-20T10:00:00.000Z\\t{id}\\tINFO\\t"), Some(id)),
            (format!("[INFO] 2026-11-20T10:00:00.000Z {id} "), Some(id)),
            (id.to_owned(), Some(id)),
            (format!("x{id}"), Some(id)),
            (format!("0{id}"), None),
            (format!("{id}-7"), None),
            ("2026-11-20T10:00:00.000Z INFO ".to_owned(), None),
            ("6bd1cb1c-8fb0-4b3d-a6c9-2f6a3a4d2f1".to_owned(), None),
            ("6bd1cb1c-8fb0-4b3d-a6c9_2f6a3a4d2f11".to_owned(), None),
        ];
        for (prefix, want) in table {
            assert_eq!(request_id_in(&prefix), want, "{prefix:?}");
        }
        // A UUID after the tag (a record's uniqueId) names no request.
        let x = MeterExtractor::new("meter_record_for_stream");
        let line = format!(
            "meter_record_for_stream {{\"customerId\":\"c\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1795168800000,\"uniqueId\":\"{id}\"}}"
        );
        let mut out = Extraction::default();
        x.extract(&line, &EV, &mut out);
        assert_eq!(out.meters.get(0).map(|m| m.origin.request_id), Some(None));
    }

    #[test]
    fn valid_derived_unique_ids_follow_position() {
        let x = MeterExtractor::new("meter_record_for_stream");
        let r = r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795168800000}"#;
        let msg = format!("meter_record_for_stream [{r},{r}]");
        let mut a = Extraction::default();
        x.extract(&msg, &EV, &mut a);
        let mut b = Extraction::default();
        x.extract(&msg, &EV, &mut b);
        assert_eq!(a, b, "same event, same output");
        let (first, second) = (a.meters.get(0).unwrap().json, a.meters.get(1).unwrap().json);
        assert_ne!(first, second, "identical records in one event get distinct ids");
        let want = derived_unique_id(EV.log_group, EV.log_stream, EV.event_id, 1);
        assert!(second.contains(&want));
        // The per-payload prefix the pipeline passes gives the same ids.
        let ids = crate::ids::derived_unique_ids(EV.log_group, EV.log_stream);
        let mut c = Extraction::default();
        x.extract(&msg, &EventRef { unique_ids: Some(&ids), ..EV }, &mut c);
        assert_eq!(a, c);
    }

    #[test]
    fn valid_custom_tag() {
        let x = MeterExtractor::new("billing_v2");
        let mut out = Extraction::default();
        let r =
            r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795168800000,"uniqueId":"u"}"#;
        x.extract(&format!("billing_v2 {r}\nmeter_record_for_stream {r}"), &EV, &mut out);
        assert_eq!(out.meters.len(), 1);
        assert!(out.quarantine.is_empty());
    }

    const TAG: &str = "meter_record_for_stream";

    /// Lambda runtimes' usual tagged lines, as unescaped messages: every one is read from its raw literal.
    const USUAL_LINES: [&str; 8] = [
        "meter_record_for_stream {\"customerId\": \"c-0025\", \"meterApiName\": \"api-calls\", \"meterTimeInMillis\": 1795131634131, \"meterValue\": 12}\nmeter_record_for_stream {\"customerId\": \"c-0026\", \"meterApiName\": \"api-calls\", \"meterTimeInMillis\": 1795131634131, \"meterValue\": 12}\n",
        "2026-11-19T23:42:14.278Z\t6b935fcb-784e-410c-e8c3-96c4ca6b3bf0\tINFO\tmeter_record_for_stream [{\"customerId\":\"c-0140\",\"meterApiName\":\"api-calls\",\"meterTimeInMillis\":1795131733792,\"meterValue\":2}, {\"customerId\":\"c-0141\",\"meterApiName\":\"api-calls\",\"meterTimeInMillis\":1795131733792,\"meterValue\":2}]\n",
        "2026-11-19T23:40:23.662Z\t67fcbf96-dd0e-4e75-8f95-fee451f173b2\tINFO\tmeter_record_for_stream {\"customerId\":\"c-0265\",\"dimensions\":{\"plan\":\"pro\",\"region\":\"ap-southeast-2\"},\"meterApiName\":\"storage-gb-hours\",\"meterTimeInMillis\":1795131623654,\"meterValue\":11,\"uniqueId\":\"7e00791c-4c2b-4467-5384-e142dfa7db06\"}\n",
        "[INFO]\t2026-11-19T23:40:10.570Z\tff54c7ec-0e65-49df-2aff-c0d26259eb8b\tmeter_record_for_stream {\"customerId\": \"c-0273\", \"dimensions\": {\"plan\": \"free\", \"region\": \"ap-southeast-2\"}, \"meterApiName\": \"search-queries\", \"meterTimeInMillis\": 1795131610232, \"meterValue\": 31}\n",
        "meter_record_for_stream {\"customerId\": \"c-0003\", \"dimensions\": {\"plan\": \"free\", \"region\": \"eu-west-1\"}, \"meterApiName\": \"storage-gb-hours\", \"meterTimeInMillis\": 1795131611811, \"meterValue\": 22, \"uniqueId\": \"29d7c105-9740-4274-e6e9-3f357fb914d5\"}\n",
        "{\"level\":\"INFO\",\"message\":\"meter_record_for_stream {\\\"customerId\\\":\\\"c-0103\\\",\\\"dimensions\\\":{\\\"plan\\\":\\\"free\\\",\\\"region\\\":\\\"eu-west-1\\\"},\\\"meterApiName\\\":\\\"api-calls\\\",\\\"meterTimeInMillis\\\":1795131600147,\\\"meterValue\\\":293.54}\",\"requestId\":\"fa28f75b-3adc-46ba-473c-0bf390b40210\",\"timestamp\":\"2026-11-19T23:41:58.699Z\"}",
        "{\"level\":\"INFO\",\"message\":{\"meter_record_for_stream\":{\"customerId\":\"c-0273\",\"dimensions\":{\"plan\":\"free\",\"region\":\"us-east-1\"},\"meterApiName\":\"search-queries\",\"meterTimeInMillis\":1795131599861,\"meterValue\":532.45,\"uniqueId\":\"2e4f9911-7ac4-4aef-9b55-3ce5e66ac6c8\"}},\"requestId\":\"fa28f75b\",\"timestamp\":\"2026-11-19T23:41:58.699Z\"}",
        "{\"timestamp\": \"2026-11-19T23:41:58.699Z\", \"level\": \"INFO\", \"message\": \"meter_record_for_stream {\\\"customerId\\\": \\\"c\\\", \\\"meterApiName\\\": \\\"m\\\", \\\"meterValue\\\": 1, \\\"meterTimeInMillis\\\": 1795131600147}\", \"n\": -1.5e3, \"ok\": true, \"x\": null}",
    ];

    fn general_reads(x: &MeterExtractor, line: &str) -> Extraction {
        let mut out = Extraction::default();
        x.extract(line, &EV, &mut out);
        out
    }

    #[test]
    fn valid_usual_lines_are_read_from_the_raw_literal() {
        let x = MeterExtractor::new(TAG);
        for line in USUAL_LINES {
            let mut fast = Extraction::default();
            assert!(x.extract_raw(&serde_json::to_string(line).unwrap(), &EV, &mut fast), "{line}");
            assert!(!fast.meters.is_empty(), "{line}");
            assert_eq!(fast, general_reads(&x, line), "{line}");
        }
        // A tag that a literal writes otherwise is only looked for in unescaped text: the literal of a line with a
        // tab, `"x\ty {…}"`, holds the tag `x\ty` but the line does not.
        let odd = MeterExtractor::new(r"x\ty");
        let raw = serde_json::to_string(&format!(
            "x\ty {}",
            r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1795131600147}"#
        ))
        .unwrap();
        assert!(raw.contains(r"x\ty") && !odd.mentions(crate::decode::unescape_to_string(&raw).unwrap().as_bytes()));
        let mut out = Extraction::default();
        assert!(!odd.extract_raw(&raw, &EV, &mut out));
        assert_eq!(out, Extraction::default());
    }

    /// Tagged lines from pieces: text lines with and without the runtimes' prefixes and JSON log lines with
    /// `message` as text or as `{"<tag>": …}`, with the records of the one-pass reader's generator and what the raw
    /// reader must leave alone (escapes before the tag, the tag inside a word, arrays, a second record, trailing
    /// text, the tag as a key, a repeated or escaped `message` key, nested members, text after the object).
    fn tagged_line() -> impl Strategy<Value = String> {
        use super::super::record_usual::tests::{plainer, record_text};
        let record = || {
            (record_text(), 0..4).prop_map(|(text, plain)| {
                let text = text.strip_suffix(" tail").map_or_else(|| text.clone(), str::to_owned);
                if plain > 0 { plainer(&text) } else { text }
            })
        };
        // The usual pieces come up more often than the others.
        let prefix = prop::sample::select(vec![
            "",
            "",
            "",
            "2026-11-19T23:40:23.662Z\t67fcbf96-dd0e-4e75-8f95-fee451f173b2\tINFO\t",
            "2026-11-19T23:40:23.662Z\t67fcbf96-dd0e-4e75-8f95-fee451f173b2\tINFO\t",
            "[INFO]\t2026-11-19T23:40:10.570Z\tff54c7ec\t",
            "[INFO]\t2026-11-19T23:40:10.570Z\tff54c7ec\t",
            "note: ",
            "x",
            "at\t",
            " ",
            "\n",
            "{",
            "a\\b ",
            "é ",
        ]);
        let tag = prop::sample::select(vec![TAG, TAG, TAG, TAG, "meter_record_for_streams"]);
        let sep = prop::sample::select(vec![" ", " ", " ", " ", "", "  ", "\t", "\n ", " ["]);
        let suffix = prop::sample::select(vec![
            "",
            "",
            "",
            "\n",
            "\n",
            "\n",
            " \r\n",
            " tail",
            "\n}",
            "]",
            "\nmeter_record_for_stream {\"customerId\":\"c\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1795131600147}",
            " meter_record_for_stream",
            " and meter_record_for_stream {\"customerId\":\"c\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1795131600147}",
            "\nnext: meter_record_for_stream {\"customerId\":\"c\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1795131600147}",
        ]);
        let text = move || {
            (prefix.clone(), tag.clone(), sep.clone(), record(), suffix.clone())
                .prop_map(|(p, t, s, r, x)| format!("{p}{t}{s}{r}{x}"))
        };
        let ws = prop::sample::select(vec!["", "", " ", "\n"]);
        let message = prop_oneof![
            3 => text().prop_map(|t| serde_json::to_string(&t).unwrap()),
            2 => (ws.clone(), record(), ws.clone()).prop_map(|(a, r, b)| format!("{{{a}\"meter_record_for_stream\"{b}:{a}{r}{b}}}")),
            1 => record().prop_map(|r| format!("{{\"meter_record_for_stream\":{r},\"x\":1}}")),
            1 => prop::sample::select(vec!["\"no tag here\"", "42", "[\"meter_record_for_stream {}\"]"]).prop_map(str::to_owned),
        ];
        let member = prop::sample::select(vec![
            "\"level\":\"INFO\"",
            "\"level\":\"INFO\"",
            "\"timestamp\": \"2026-11-19T23:40:23.662Z\"",
            "\"timestamp\": \"2026-11-19T23:40:23.662Z\"",
            "\"requestId\":\"67fcbf96\"",
            "\"requestId\":\"67fcbf96\"",
            "\"n\":-1.5e3",
            "\"ok\":true",
            "\"x\":null",
            "\"bad\":01",
            "\"nested\":{\"a\":1}",
            "\"list\":[1]",
            "\"meter_record_for_stream\":{\"customerId\":\"c\"}",
            "\"mess\\u0061ge\":\"hi\"",
            "\"message\":\"again\"",
            "\"quoted\":\"a\\\"b\"",
        ]);
        let json = (
            prop::collection::vec(member, 0..4),
            message,
            any::<prop::sample::Index>(),
            ws,
            prop::sample::select(vec!["", "", " ", " x"]),
        )
            .prop_map(|(mut members, message, at, ws, after)| {
                members.insert(at.index(members.len() + 1), "");
                let members: Vec<String> = members
                    .iter()
                    .map(|m| if m.is_empty() { format!("\"message\":{ws}{message}") } else { (*m).to_owned() })
                    .collect();
                format!("{{{ws}{}{ws}}}{after}", members.join(","))
            });
        prop_oneof![text(), json]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]
        #[test]
        fn valid_what_the_raw_reader_takes_reads_alike_unescaped(line in tagged_line()) {
            let x = MeterExtractor::new(TAG);
            let mut fast = Extraction::default();
            if x.extract_raw(&serde_json::to_string(&line).unwrap(), &EV, &mut fast) {
                prop_assert_eq!(fast, general_reads(&x, &line));
            } else {
                prop_assert_eq!(fast, Extraction::default(), "a line left alone leaves nothing behind");
            }
        }
    }

    #[test]
    fn valid_many_generated_lines_of_valid_records_are_read_raw_alike() {
        let x = MeterExtractor::new("meter_record_for_stream");
        let (valid, taken) = super::super::fast_path_share(
            tagged_line(),
            10_000,
            |line| {
                let out = general_reads(&x, line);
                !out.meters.is_empty() && out.quarantine.is_empty()
            },
            |line| {
                let mut fast = Extraction::default();
                let taken = x.extract_raw(&serde_json::to_string(line).unwrap(), &EV, &mut fast);
                assert_eq!(fast, if taken { general_reads(&x, line) } else { Extraction::default() }, "{line}");
                taken
            },
        );
        // The generator's many variations are mostly for the general path; enough lines must be read raw for the
        // agreement (asserted on each) to mean something.
        assert!(valid > 300, "the generator makes lines of valid records ({valid})");
        assert!(taken >= 100, "{taken} of {valid} lines of valid records read raw");
    }
}
