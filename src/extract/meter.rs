//! Tagged meter records in log messages.
//!
//! Shapes handled: text lines from the Node.js and Python runtimes and `print` (`… meter_record_for_stream {…}`),
//! pretty-printed JSON over several lines (Node writes `\r` for line breaks), several tags in one event, an array
//! after one tag, and the Lambda JSON log format with `message` as a string or as an object holding the tag as a
//! key. After the tag comes exactly one JSON value; text after it on the same line, or a stray closing bracket on
//! the next, means the record is not what the application meant, so it is quarantined.

use super::record::{
    RecordError, ValidRecord, append_unique_id, minify_with_unique_id_into, read_record, validate_record,
};
use super::record_usual::read_usual_record;
use super::{EventRef, Extraction, QuarantineEntry, QuarantineKind};
use crate::decode::{json_elements, json_end, json_object_with, json_value, unescape_into};
use crate::ids::{UUID_LEN, derived_unique_id};
use memchr::memmem::Finder;
use std::borrow::Cow;

/// Finds and validates tagged meter records.
#[derive(Debug, Clone)]
pub struct MeterExtractor {
    tag: String,
    finder: Finder<'static>,
}

impl MeterExtractor {
    /// An extractor for `tag` (default `meter_record_for_stream`).
    pub fn new(tag: &str) -> Self {
        Self { tag: tag.to_owned(), finder: Finder::new(tag.as_bytes()).into_owned() }
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
        let t = msg.trim();
        if t.starts_with('{')
            && let Some(obj) = json_object(t, &self.tag)
        {
            self.extract_object(&obj, msg, ev, &mut position, out, scratch);
            return;
        }
        self.scan_text(msg, ev, &mut position, out);
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
        match out.meters.draft_with(|text| read_usual_record(value, text)) {
            Some((len, valid)) if json_ws(&value[len..]) == "}" => {
                self.keep(valid, ev, position, out);
                true
            }
            Some(_) => {
                out.meters.drop_draft();
                false
            }
            None => false,
        }
    }

    /// Reads every occurrence of the tag in `msg`; `false` when there is none.
    fn scan_text(&self, msg: &str, ev: &EventRef<'_>, position: &mut usize, out: &mut Extraction) -> bool {
        let bytes = msg.as_bytes();
        let find_from = |from: usize| self.finder.find(&bytes[from..]).map(|off| from + off);
        // The next occurrence of the tag is searched for from where reading stopped: after a value that was read,
        // the text between the value and that occurrence is what follows the value, and a tag inside the value
        // (a dimension quoting it) is not searched at all.
        let mut next = find_from(0);
        let mentioned = next.is_some();
        while let Some(start) = next {
            let after = start + self.tag.len();
            if !is_word_boundary(bytes, start, after) {
                next = find_from(after);
                continue;
            }
            let vstart = after + (msg[after..].len() - msg[after..].trim_start().len());
            if !matches!(bytes.get(vstart), Some(b'{' | b'[')) {
                next = find_from(after);
                let raw = msg[start..line_end(msg, after)].trim_end();
                self.quarantine(ev, "the tag is not followed by a JSON object or array".into(), raw, None, out);
                *position += 1;
                continue;
            }
            // A record is read, strictly, in the same pass that finds its end (and, in the usual shape, writes it
            // as a draft record); an array is only delimited here and its records are validated one by one.
            let read = if bytes[vstart] == b'{' {
                match out.meters.draft_with(|text| read_usual_record(&msg[vstart..], text)) {
                    Some((len, valid)) => Ok((len, Read::Drafted(valid))),
                    None => read_record(&msg[vstart..]).map(|(len, verdict)| (len, Read::Record(verdict))),
                }
            } else {
                json_value(&msg[vstart..], false).map(|(_, len)| (len, Read::Array))
            };
            match read {
                Ok((len, read)) => {
                    let vend = vstart + len;
                    let value = &msg[vstart..vend];
                    next = find_from(vend);
                    let tail_end = next.unwrap_or(bytes.len());
                    if let Some(extra) = trailing_text(&msg[vend..tail_end]) {
                        if let Read::Drafted(_) = read {
                            out.meters.drop_draft();
                        }
                        let raw = msg[start..line_end(msg, vend + extra.1)].trim_end();
                        let reason = format!(
                            "unexpected text after the JSON value ({:?}): the record may not be what the application meant",
                            extra.0
                        );
                        self.quarantine(ev, reason, raw, Some(*position), out);
                        *position += 1;
                    } else {
                        match read {
                            Read::Drafted(valid) => self.keep(valid, ev, position, out),
                            Read::Record(verdict) => self.emit_checked(value, verdict, ev, position, out),
                            Read::Array => self.emit_value(value, ev, position, out),
                        }
                    }
                }
                Err(why) => {
                    next = find_from(after);
                    let raw = msg[start..next.unwrap_or(bytes.len())].trim_end();
                    let reason = format!("malformed JSON after the tag: {why}{}", malformed_hint(&msg[vstart..]));
                    self.quarantine(ev, reason, raw, Some(*position), out);
                    *position += 1;
                }
            }
        }
        mentioned
    }

    fn emit_value(&self, text: &str, ev: &EventRef<'_>, position: &mut usize, out: &mut Extraction) {
        if text.starts_with('[') {
            match json_elements(text) {
                Ok(items) if items.is_empty() => {
                    self.quarantine(ev, "the tag is followed by an empty array".into(), text, Some(*position), out);
                    *position += 1;
                }
                Ok(items) => items.iter().for_each(|item| self.emit_record(item, ev, position, out)),
                Err(e) => {
                    self.quarantine(ev, format!("malformed JSON array: {e}"), text, Some(*position), out);
                    *position += 1;
                }
            }
        } else {
            self.emit_record(text, ev, position, out);
        }
    }

    fn emit_record(&self, raw: &str, ev: &EventRef<'_>, position: &mut usize, out: &mut Extraction) {
        match out.meters.draft_with(|text| read_usual_record(raw, text)) {
            Some((len, valid)) if len == raw.len() => self.keep(valid, ev, position, out),
            drafted => {
                if drafted.is_some() {
                    out.meters.drop_draft();
                }
                self.emit_checked(raw, validate_record(raw), ev, position, out);
            }
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
                self.quarantine(ev, e.0, raw, Some(*position), out);
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
        out.quarantine.push(QuarantineEntry::at(QuarantineKind::MeterRecord, ev, reason, raw, pos));
    }
}

/// What reading the value after a tag found.
enum Read {
    /// A record of the usual shape, valid, already written as the draft record.
    Drafted(ValidRecord),
    /// A record read the general way, and its verdict.
    Record(Result<ValidRecord, RecordError>),
    /// An array, only delimited so far.
    Array,
}

/// What extraction needs of a JSON log line's object: the values of the tag and of `message` (the last one of each,
/// when a key repeats).
struct JsonObject<'a> {
    tag: Option<&'a str>,
    message: Option<&'a str>,
}

fn json_object<'a>(text: &'a str, tag: &str) -> Option<JsonObject<'a>> {
    let mut obj = JsonObject { tag: None, message: None };
    let end = json_object_with(text, false, |key, value| {
        if key == tag {
            obj.tag = Some(value);
        } else if key == "message" {
            obj.message = Some(value);
        }
    })
    .ok()?;
    json_end(text, end).ok()?;
    Some(obj)
}

/// `s` after its leading JSON whitespace.
fn json_ws(s: &str) -> &str {
    s.trim_start_matches([' ', '\t', '\n', '\r'])
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_word_boundary(bytes: &[u8], start: usize, end: usize) -> bool {
    let before = start.checked_sub(1).and_then(|i| bytes.get(i));
    !before.is_some_and(|&b| is_word(b)) && !bytes.get(end).is_some_and(|&b| is_word(b))
}

fn line_end(msg: &str, from: usize) -> usize {
    msg[from..].find(['\n', '\r']).map_or(msg.len(), |o| from + o)
}

/// Text after a JSON value that makes the record suspect: anything on the rest of its line, or a closing bracket
/// or comma starting the next non-blank line. Returns the text and its offset.
fn trailing_text(tail: &str) -> Option<(&str, usize)> {
    let eol = tail.find(['\n', '\r']).unwrap_or(tail.len());
    let same_line = tail[..eol].trim();
    if !same_line.is_empty() {
        return Some((same_line, eol));
    }
    let next = tail[eol..].trim_start();
    if next.starts_with(['}', ']', ',']) {
        let off = tail.len() - next.len();
        let line = &next[..next.find(['\n', '\r']).unwrap_or(next.len())];
        return Some((line.trim_end(), off + line.len()));
    }
    None
}

/// A hint for the usual ways a record is logged as something that is not JSON.
fn malformed_hint(rest: &str) -> &'static str {
    let r = rest.trim_start();
    let after_brace = r.strip_prefix('{').map(str::trim_start).unwrap_or("");
    if after_brace.starts_with('\'') {
        " (it looks like a Python dict repr: log json.dumps(record))"
    } else if after_brace.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        " (it looks like console.log(tag, object) or util.inspect output: log JSON.stringify(record))"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Deserialize)]
    struct Case {
        name: String,
        message: String,
        records: Vec<Value>,
        derived_unique_id: Vec<bool>,
        quarantined: Vec<String>,
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
        let cases: Vec<Case> = serde_json::from_str(include_str!("../../samples/edge/meter-lines.json")).unwrap();
        assert!(cases.len() >= 25);
        let x = MeterExtractor::new("meter_record_for_stream");
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
}
