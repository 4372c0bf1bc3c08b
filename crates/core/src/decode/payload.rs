//! The CloudWatch Logs subscription payload (`messageType`, `owner`, `logGroup`, `logStream`, `logEvents`).
//!
//! Parsed leniently and without copying: unknown fields are ignored, event ids may be strings or numbers, and
//! each message stays raw JSON text until extraction decides it is worth unescaping.

use super::MAX_TIME_MILLIS;
use super::scan::{ScanError, Scanner};
use std::borrow::Cow;

/// `messageType` of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// Log events to process.
    Data,
    /// A health check from CloudWatch Logs: dropped and counted.
    Control,
}

/// A parsed payload borrowing from the inflated bytes.
#[derive(Debug)]
pub struct Payload<'a> {
    message_type: MessageType,
    /// Account that owns the log group.
    pub owner: Cow<'a, str>,
    /// Log group name.
    pub log_group: Cow<'a, str>,
    /// Log stream name.
    pub log_stream: Cow<'a, str>,
    /// The events, in order.
    pub log_events: Vec<LogEvent<'a>>,
}

/// One log event; `message` is the raw JSON string literal.
#[derive(Debug, Clone, Copy)]
pub struct LogEvent<'a> {
    id: &'a str,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// The raw JSON text of the message: a string literal, quotes and escapes included.
    pub message: &'a str,
    /// The raw JSON of `extractedFields`, when the subscription adds them (`emitSystemFields`: `@aws.account`,
    /// `@aws.region` of the source when logs are centralised).
    pub extracted_fields: Option<&'a str>,
}

impl Payload<'_> {
    /// The payload's message type.
    pub fn message_type(&self) -> MessageType {
        self.message_type
    }
}

impl LogEvent<'_> {
    /// The event id as text: a JSON string's content, or a number's digits (moto writes integers).
    pub fn id(&self) -> &str {
        self.id.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(self.id)
    }

    /// The string value of the extracted field `name` (e.g. `@aws.account`), if the event has it.
    pub fn extracted(&self, name: &str) -> Option<String> {
        let mut found = None;
        let _ = super::json_object_with(self.extracted_fields?, false, |key, value| {
            if key == name && found.is_none() {
                found = super::unescape_to_string(value);
            }
        });
        found.filter(|v| !v.is_empty())
    }
}

/// Why inflated bytes are not a usable payload.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Not UTF-8.
    #[error("payload is not UTF-8 at byte {0}")]
    Utf8(usize),
    /// Not JSON.
    #[error("payload is not a CloudWatch Logs JSON document: {0}")]
    Json(ScanError),
    /// JSON, but a required field is missing or of the wrong type.
    #[error("payload is not a CloudWatch Logs JSON document: {0}")]
    Shape(String),
    /// A `messageType` other than `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    #[error("unknown messageType {0:?}")]
    MessageType(String),
}

impl From<ScanError> for PayloadError {
    fn from(e: ScanError) -> Self {
        Self::Json(e)
    }
}

/// Parses inflated payload bytes.
pub fn parse_payload(bytes: &[u8]) -> Result<Payload<'_>, PayloadError> {
    let text = simdutf8::compat::from_utf8(bytes).map_err(|e| PayloadError::Utf8(e.valid_up_to()))?;
    let mut s = Scanner::new(text);
    let mut message_type = None;
    let (mut owner, mut log_group, mut log_stream) = (Cow::Borrowed(""), Cow::Borrowed(""), Cow::Borrowed(""));
    let mut log_events = None;
    // A key given twice is ambiguous (readers differ on which one counts): the payload is refused, not read.
    let mut seen = 0u8;
    if !s.open(b'{', b'}')? {
        loop {
            let key = s.string()?;
            s.expect(b':')?;
            let bit = match &*key {
                "messageType" => {
                    message_type = Some(s.string()?);
                    1
                }
                "owner" => {
                    owner = s.string()?;
                    2
                }
                "logGroup" => {
                    log_group = s.string()?;
                    4
                }
                "logStream" => {
                    log_stream = s.string()?;
                    8
                }
                "logEvents" => {
                    log_events = Some(events(&mut s)?);
                    16
                }
                _ => {
                    s.skip_value(0)?;
                    0
                }
            };
            if seen & bit != 0 {
                return Err(PayloadError::Shape(format!("the key `{key}` is given twice: the payload is ambiguous")));
            }
            seen |= bit;
            if !s.more(b'}')? {
                break;
            }
        }
    }
    s.end()?;
    let message_type = match message_type.as_deref() {
        Some("DATA_MESSAGE") => MessageType::Data,
        Some("CONTROL_MESSAGE") => MessageType::Control,
        Some(other) => return Err(PayloadError::MessageType(other.chars().take(64).collect())),
        None => return Err(PayloadError::Shape("missing field `messageType`".into())),
    };
    let log_events = match log_events {
        Some(events) => events,
        None if message_type == MessageType::Data => {
            return Err(PayloadError::Shape("a DATA_MESSAGE without `logEvents`".into()));
        }
        None => Vec::new(),
    };
    Ok(Payload { message_type, owner, log_group, log_stream, log_events })
}

fn events<'a>(s: &mut Scanner<'a>) -> Result<Vec<LogEvent<'a>>, PayloadError> {
    // Room for events of about 200 bytes, so a typical payload's list is not copied as it grows.
    let mut out = Vec::with_capacity(s.remaining() / 200);
    if s.open(b'[', b']')? {
        return Ok(out);
    }
    loop {
        s.ws();
        if let Some((id, timestamp, message)) = s.compact_event() {
            if timestamp > MAX_TIME_MILLIS {
                return Err(bad_timestamp(out.len(), &timestamp.to_string()));
            }
            out.push(LogEvent { id, timestamp, message, extracted_fields: None });
            if !s.more(b']')? {
                return Ok(out);
            }
            continue;
        }
        let mut ev = LogEvent { id: "", timestamp: 0, message: "", extracted_fields: None };
        let mut seen = 0u8;
        if !s.open(b'{', b'}')? {
            loop {
                let key = s.string()?;
                s.expect(b':')?;
                let bit = match &*key {
                    "id" => {
                        ev.id = s.raw_value()?;
                        1
                    }
                    "timestamp" => {
                        let n = s.raw_number()?;
                        ev.timestamp = parse_timestamp(n).ok_or_else(|| bad_timestamp(out.len(), n))?;
                        2
                    }
                    "message" => {
                        ev.message = s.raw_long_string()?;
                        4
                    }
                    "extractedFields" => {
                        ev.extracted_fields = Some(s.raw_value()?);
                        8
                    }
                    _ => {
                        s.skip_value(0)?;
                        0
                    }
                };
                if seen & bit != 0 {
                    return Err(PayloadError::Shape(format!(
                        "log event {} has the key `{key}` twice: the event is ambiguous",
                        out.len()
                    )));
                }
                seen |= bit;
                if !s.more(b'}')? {
                    break;
                }
            }
        }
        if seen & 4 == 0 {
            return Err(PayloadError::Shape(format!("log event {} has no message", out.len())));
        }
        out.push(ev);
        if !s.more(b']')? {
            return Ok(out);
        }
    }
}

/// Epoch milliseconds from a JSON number: a whole number from 1970 to 9999 (CloudWatch Logs writes nothing else),
/// or `None`.
fn parse_timestamp(n: &str) -> Option<i64> {
    n.parse::<i64>().ok().filter(|t| (0..=MAX_TIME_MILLIS).contains(t))
}

fn bad_timestamp(event: usize, n: &str) -> PayloadError {
    PayloadError::Shape(format!(
        "log event {event} has timestamp {}: not whole epoch milliseconds between 1970 and 9999",
        &n[..n.len().min(40)]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_payload_with_unknown_fields_and_numeric_ids() {
        let text = r#"{"policyLevel":"ACCOUNT_LEVEL_POLICY","messageType":"DATA_MESSAGE","owner":"123456789012",
            "logGroup":"/aws/lambda/checkout","logStream":"2026/11/20/[$LATEST]abc","subscriptionFilters":["m"],
            "logEvents":[{"id":"345","timestamp":1763600000000,"message":"a\tb","extractedFields":{"x":"1"}},
                         {"id":42,"timestamp":1763600000001,"message":"c"}]}"#;
        let p = parse_payload(text.as_bytes()).unwrap();
        assert_eq!(p.message_type(), MessageType::Data);
        assert_eq!(p.log_group, "/aws/lambda/checkout");
        assert_eq!(p.log_events.len(), 2);
        assert_eq!(p.log_events[0].id(), "345");
        assert_eq!(p.log_events[1].id(), "42");
        assert_eq!(p.log_events[0].message, r#""a\tb""#);
        assert_eq!(p.log_events[1].timestamp, 1_763_600_000_001);
    }

    #[test]
    fn valid_compact_and_general_events_read_alike() {
        let events = [
            r#"{"id":"345","timestamp":1763600000000,"message":"plain"}"#,
            r#"{"id":"345","timestamp":1763600000000,"message":"q\"{\"a\":1}\\"}"#,
            r#"{"id":"345","timestamp":1763600000000,"message":"x","extractedFields":{}}"#,
            r#"{ "id":"345","timestamp":1763600000000,"message":"spaced"}"#,
            r#"{"id":"3a","timestamp":7,"message":"id not digits"}"#,
            r#"{"id":42,"timestamp":0,"message":"numeric id"}"#,
            r#"{"timestamp":1763600000000,"id":"1","message":"other order"}"#,
        ];
        for e in events {
            let text = format!(r#"{{"messageType":"DATA_MESSAGE","logEvents":[{e},{e}]}}"#);
            let p = parse_payload(text.as_bytes()).unwrap_or_else(|err| panic!("{e}: {err}"));
            let v: serde_json::Value = serde_json::from_str(e).unwrap();
            assert_eq!(p.log_events.len(), 2);
            for got in &p.log_events {
                let id = v["id"].as_str().map_or_else(|| v["id"].to_string(), str::to_owned);
                assert_eq!(got.id(), id, "{e}");
                assert_eq!(got.timestamp, v["timestamp"].as_f64().unwrap() as i64, "{e}");
                let m: String = serde_json::from_str(got.message).unwrap();
                assert_eq!(m, v["message"].as_str().unwrap(), "{e}");
            }
        }
    }

    #[test]
    fn valid_timestamps_up_to_9999_read_exactly_on_both_paths() {
        for digits in ["0", "253402300799999"] {
            for event in [
                format!(r#"{{"id":"1","timestamp":{digits},"message":"m"}}"#),
                format!(r#"{{"message":"m","timestamp":{digits}}}"#),
            ] {
                let text = format!(r#"{{"messageType":"DATA_MESSAGE","logEvents":[{event}]}}"#);
                let want: i64 = digits.parse().unwrap();
                assert_eq!(parse_payload(text.as_bytes()).unwrap().log_events[0].timestamp, want, "{event}");
            }
        }
    }

    #[test]
    fn invalid_timestamps_outside_1970_to_9999_or_not_whole_are_refused() {
        for digits in ["253402300800000", "999999999999999999", "99999999999999999999", "-1", "1763600000000.9", "1e3"]
        {
            for event in [
                format!(r#"{{"id":"1","timestamp":{digits},"message":"m"}}"#),
                format!(r#"{{"message":"m","timestamp":{digits}}}"#),
            ] {
                let text = format!(r#"{{"messageType":"DATA_MESSAGE","logEvents":[{event}]}}"#);
                let err = parse_payload(text.as_bytes()).unwrap_err().to_string();
                assert!(err.contains("not whole epoch milliseconds between 1970 and 9999"), "{event}: {err}");
            }
        }
    }

    #[test]
    fn invalid_duplicate_keys_above_the_record_are_refused() {
        let ev = r#"{"id":"1","timestamp":1,"message":"m"}"#;
        for (text, key) in [
            (format!(r#"{{"messageType":"DATA_MESSAGE","logEvents":[{ev}],"logEvents":[]}}"#), "logEvents"),
            (
                format!(r#"{{"messageType":"DATA_MESSAGE","messageType":"CONTROL_MESSAGE","logEvents":[{ev}]}}"#),
                "messageType",
            ),
            (
                format!(r#"{{"messageType":"DATA_MESSAGE","logGroup":"a","logGroup":"b","logEvents":[{ev}]}}"#),
                "logGroup",
            ),
            (
                r#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","message":"a","message":"b"}]}"#.to_owned(),
                "message",
            ),
            (
                r#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"id":"2","message":"b"}]}"#
                    .to_owned(),
                "id",
            ),
        ] {
            let err = parse_payload(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")) && err.contains("twice"), "{text}: {err}");
        }
        let err = parse_payload(br#"{"messageType":"DATA_MESSAGE","owner":"1"}"#).unwrap_err().to_string();
        assert!(err.contains("without `logEvents`"), "{err}");
    }

    #[test]
    fn invalid_compact_looking_events_are_refused() {
        for e in [
            r#"{"id":"1","timestamp":01,"message":"leading zero"}"#,
            r#"{"id":"1","timestamp":1,"message":"unterminated}]}"#,
            r#"{"id":"1","timestamp":1,"message":"a" "b"}"#,
        ] {
            let text = format!(r#"{{"messageType":"DATA_MESSAGE","logEvents":[{e}]}}"#);
            assert!(parse_payload(text.as_bytes()).is_err(), "{e}");
        }
    }

    #[test]
    fn valid_control_message() {
        let text = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"",
            "subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1763600000000,
            "message":"CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}"#;
        assert_eq!(parse_payload(text.as_bytes()).unwrap().message_type(), MessageType::Control);
    }

    #[test]
    fn valid_agrees_with_serde_json_on_the_samples_shape() {
        let text = r#"{ "messageType" : "DATA_MESSAGE", "logGroup": "g\/x", "logEvents": [ { "message": "m\"1", "id": "1" } ] }"#;
        let p = parse_payload(text.as_bytes()).unwrap();
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(p.log_group, v["logGroup"].as_str().unwrap());
        let m: String = serde_json::from_str(p.log_events[0].message).unwrap();
        assert_eq!(m, v["logEvents"][0]["message"].as_str().unwrap());
    }

    #[test]
    fn invalid_payloads_have_reasons() {
        let table: [(&[u8], &str); 8] = [
            (b"\xff\xfe", "not UTF-8"),
            (b"{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[", "unexpected end"),
            (b"{\"logEvents\":[]}", "missing field `messageType`"),
            (b"{\"messageType\":\"OTHER\"}", "unknown messageType"),
            (b"this is not json", "expected '{' at byte 0"),
            (b"{\"messageType\":\"DATA_MESSAGE\"} extra", "trailing characters"),
            (b"{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{\"id\":\"1\"}]}", "has no message"),
            (b"{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{\"message\":5}]}", "expected a string"),
        ];
        for (bytes, want) in table {
            let err = parse_payload(bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }
}
