//! The CloudWatch Logs subscription payload (`messageType`, `owner`, `logGroup`, `logStream`, `logEvents`).
//!
//! Parsed leniently and without copying: unknown fields are ignored, event ids may be strings or numbers, and
//! each message stays raw JSON text until extraction decides it is worth unescaping.

use serde::Deserialize;
use serde_json::value::RawValue;
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
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload<'a> {
    #[serde(borrow)]
    message_type: Cow<'a, str>,
    /// Account that owns the log group.
    #[serde(borrow, default)]
    pub owner: Cow<'a, str>,
    /// Log group name.
    #[serde(borrow, default)]
    pub log_group: Cow<'a, str>,
    /// Log stream name.
    #[serde(borrow, default)]
    pub log_stream: Cow<'a, str>,
    /// The events, in order.
    #[serde(borrow, default)]
    pub log_events: Vec<LogEvent<'a>>,
}

/// One log event; `message` is the raw JSON string literal.
#[derive(Debug, Deserialize)]
pub struct LogEvent<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub timestamp: i64,
    /// The raw JSON text of the message (a string literal in every payload CloudWatch Logs writes).
    #[serde(borrow)]
    pub message: &'a RawValue,
}

impl Payload<'_> {
    /// The payload's message type.
    pub fn message_type(&self) -> Result<MessageType, PayloadError> {
        match &*self.message_type {
            "DATA_MESSAGE" => Ok(MessageType::Data),
            "CONTROL_MESSAGE" => Ok(MessageType::Control),
            other => Err(PayloadError::MessageType(other.chars().take(64).collect())),
        }
    }
}

impl LogEvent<'_> {
    /// The event id as text: a JSON string's content, or a number's digits (moto writes integers).
    pub fn id(&self) -> &str {
        match self.id.map(RawValue::get) {
            Some(raw) => raw
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or(raw),
            None => "",
        }
    }
}

/// Why inflated bytes are not a usable payload.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Not UTF-8.
    #[error("payload is not UTF-8 at byte {0}")]
    Utf8(usize),
    /// Not JSON of the expected shape.
    #[error("payload is not a CloudWatch Logs JSON document: {0}")]
    Json(#[from] serde_json::Error),
    /// A `messageType` other than `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    #[error("unknown messageType {0:?}")]
    MessageType(String),
}

/// Parses inflated payload bytes.
pub fn parse_payload(bytes: &[u8]) -> Result<Payload<'_>, PayloadError> {
    let text = std::str::from_utf8(bytes).map_err(|e| PayloadError::Utf8(e.valid_up_to()))?;
    let payload: Payload<'_> = serde_json::from_str(text)?;
    payload.message_type()?;
    Ok(payload)
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
        assert_eq!(p.message_type().unwrap(), MessageType::Data);
        assert_eq!(p.log_group, "/aws/lambda/checkout");
        assert_eq!(p.log_events.len(), 2);
        assert_eq!(p.log_events[0].id(), "345");
        assert_eq!(p.log_events[1].id(), "42");
        assert_eq!(p.log_events[0].message.get(), r#""a\tb""#);
    }

    #[test]
    fn valid_control_message() {
        let text = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"",
            "subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1763600000000,
            "message":"CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}"#;
        assert_eq!(
            parse_payload(text.as_bytes())
                .unwrap()
                .message_type()
                .unwrap(),
            MessageType::Control
        );
    }

    #[test]
    fn invalid_payloads_have_reasons() {
        let table: [(&[u8], &str); 4] = [
            (b"\xff\xfe", "not UTF-8"),
            (
                b"{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[",
                "not a CloudWatch Logs JSON",
            ),
            (b"{\"logEvents\":[]}", "messageType"),
            (b"{\"messageType\":\"OTHER\"}", "unknown messageType"),
        ];
        for (bytes, want) in table {
            let err = parse_payload(bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }
}
