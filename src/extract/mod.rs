//! Extraction from log messages: tagged meter records, text `REPORT` lines and JSON `platform.report` events.
//!
//! Every function here is pure: it takes message text and the identity of the event it came from and appends
//! values to an [`Extraction`]. Every occurrence of the meter tag ends as either a valid record or a quarantine
//! entry with a reason; nothing that looks like billing data is dropped silently.

mod function;
mod meter;
mod record;
mod report;
mod report_json;
mod report_raw;
mod report_text;

pub use function::{FunctionId, function_of};
pub use meter::MeterExtractor;
pub use record::{RecordError, ValidRecord, minify_with_unique_id, read_record, validate_record};
pub use report::{InvocationReport, ReportFormat, ReportStatus};
pub use report_json::{PLATFORM_REPORT, parse_platform_report};
pub use report_raw::read_raw_platform_report;
pub use report_text::{parse_text_report, timed_out_request_id};

use crate::ids::V5Prefix;
use serde::Serialize;

/// Identity of the log event a value came from.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    /// Log group of the payload.
    pub log_group: &'a str,
    /// Log stream of the payload.
    pub log_stream: &'a str,
    /// CloudWatch Logs event id.
    pub event_id: &'a str,
    /// Event time, epoch milliseconds.
    pub timestamp: i64,
    /// [`crate::ids::derived_unique_ids`] of this log group and stream, hashed once per payload; `None` hashes
    /// them for each derived id (the same ids, more slowly).
    pub unique_ids: Option<&'a V5Prefix>,
}

/// A valid meter record, encoded for the ingest object.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterRecord {
    /// Minified JSON object: the application's fields untouched, `uniqueId` added when it was missing.
    pub json: String,
    /// `meterTimeInMillis`, which decides the ingest date.
    pub time_millis: i64,
    /// Whether `uniqueId` was derived by logmeter.
    pub derived_unique_id: bool,
}

/// What a quarantine entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineKind {
    /// A whole Kinesis record that could not be decoded.
    KinesisRecord,
    /// A tagged meter record that is malformed or breaks the Amberflo rules.
    MeterRecord,
    /// A `REPORT` line or `platform.report` event that could not be read.
    Report,
}

/// Something that could not be processed, kept with its raw text and a reason a human can act on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantineEntry {
    /// What it is.
    pub kind: QuarantineKind,
    /// Why it was quarantined.
    pub reason: String,
    /// Log group, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// Log stream, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream: Option<String>,
    /// Event id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Event time (epoch ms), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_timestamp: Option<i64>,
    /// Index of the record within its log event, for meter records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// The raw text: the tagged line, the record, or the report line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// For undecodable Kinesis records: the record's `data` exactly as received (base64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
}

impl QuarantineEntry {
    /// An entry for a whole Kinesis record that could not be decoded, keeping its `data` as received.
    pub fn record(reason: String, data_base64: &str) -> Self {
        Self {
            kind: QuarantineKind::KinesisRecord,
            reason,
            log_group: None,
            log_stream: None,
            event_id: None,
            event_timestamp: None,
            position: None,
            raw: None,
            data_base64: Some(data_base64.to_owned()),
        }
    }

    /// An entry for a value found in a log event.
    pub fn at(kind: QuarantineKind, ev: &EventRef<'_>, reason: String, raw: &str, position: Option<usize>) -> Self {
        Self {
            kind,
            reason,
            log_group: Some(ev.log_group.to_owned()),
            log_stream: Some(ev.log_stream.to_owned()),
            event_id: Some(ev.event_id.to_owned()),
            event_timestamp: Some(ev.timestamp),
            position,
            raw: Some(raw.to_owned()),
            data_base64: None,
        }
    }
}

/// A report found in an event, with the identity of that event.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundReport<'a> {
    /// The parsed report.
    pub report: InvocationReport<'a>,
    /// Event id of the line.
    pub event_id: &'a str,
    /// Event time, epoch ms.
    pub timestamp: i64,
}

/// What extraction found in one payload.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Extraction {
    /// Valid meter records, in log order.
    pub meters: Vec<MeterRecord>,
    /// Invocation reports found. Their documents are written as they are found, while the line is at hand
    /// (see `plan::ReportEncoder`), so only the count is kept.
    pub reports: usize,
    /// Everything that could not be processed.
    pub quarantine: Vec<QuarantineEntry>,
}
