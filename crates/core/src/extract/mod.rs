//! Extraction from log messages: tagged meter records, text `REPORT` lines and JSON `platform.report` events.
//!
//! Every function here is pure: it takes message text and the identity of the event it came from and appends
//! values to an [`Extraction`]. Every occurrence of the meter tag ends as either a valid record or a quarantine
//! entry with a reason; nothing that looks like billing data is dropped silently.

mod function;
mod init_report;
mod meter;
mod meter_records;
mod quarantine;
mod record;
mod record_usual;
mod report;
mod report_json;
mod report_raw;
mod report_text;

pub use function::{FunctionId, function_of};
pub use init_report::{
    InitFailure, InitStart, PLATFORM_INIT_REPORT, PLATFORM_INIT_START, parse_platform_init_report,
    parse_platform_init_start, parse_text_init_report, parse_text_init_start,
};
pub use meter::MeterExtractor;
pub use meter_records::{MeterRecord, MeterRecords, Origin};
pub use quarantine::{
    MAX_ENTRY_RAW_BYTES, MAX_LISTED_ENTRIES, MAX_RECORD_RAW_BYTES, Quarantine, QuarantineEntry, QuarantineKind,
};
pub use record::{
    Problem, RecordError, RecordField, ValidRecord, minify_with_unique_id, minify_with_unique_id_into, read_record,
    validate_record,
};
pub use report::{
    BILLED_DURATION, DURATION, FIGURES, Figure, INIT_DURATION, InvocationReport, LABELS, Label, MAX_MEMORY_USED,
    MEMORY_SIZE, Measure, RESTORE_DURATION, ReportFormat, ReportStatus, Value, figure_of_json, figure_of_text,
    label_of_json,
};
pub use report_json::{PLATFORM_REPORT, parse_platform_report};
pub use report_raw::read_raw_platform_report;
pub use report_text::{parse_text_report, read_raw_text_report, timed_out_request_id};

use crate::ids::V5Prefix;
pub use quarantine::floor_char_boundary;

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

/// A report found in an event, with the identity of that event.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundReport<'a> {
    /// The parsed report.
    pub report: InvocationReport<'a>,
    /// Event id of the line.
    pub event_id: &'a str,
    /// Event time, epoch ms.
    pub timestamp: i64,
    /// The event's source account and region among its record's (the `sources` of `logmeter::output::RecordValues`;
    /// 0 = the payload's owner and region).
    pub source: u16,
}

/// What extraction found in one payload.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Extraction {
    /// Valid meter records, in log order.
    pub meters: MeterRecords,
    /// How many invocation reports were found. The reports themselves ([`FoundReport`] values) are collected
    /// beside the extraction and handed to every destination's encoder (see `pipeline`), so only the count is kept.
    pub reports: usize,
    /// Everything that could not be processed (bounded: see [`Quarantine`]).
    pub quarantine: Quarantine,
    /// Init phases that did not succeed (rare: kept whole).
    pub init_failures: Vec<InitFailure>,
    /// What the payload's last init start said (runtime version, initialization type).
    pub init_start: InitStart,
    /// The function whose reports or init failures the payload holds (for the function metadata lookup).
    pub function: Option<String>,
    /// Web Functions' `platform.invokeSummary` / `platform.invokeReport` events.
    pub web_summaries: usize,
}

/// For the tests of the fast readers: of `n` values drawn deterministically from `strategy`, how many the general
/// reader accepts, and how many of those the fast reader takes too (a fast reader that takes too few only adds a
/// read, and leaves its agreement property nearly vacuous).
#[cfg(test)]
fn fast_path_share<S: proptest::strategy::Strategy>(
    strategy: S,
    n: usize,
    general: impl Fn(&S::Value) -> bool,
    fast: impl Fn(&S::Value) -> bool,
) -> (usize, usize) {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut accepted, mut taken) = (0, 0);
    for _ in 0..n {
        let value = strategy.new_tree(&mut runner).expect("a value").current();
        if general(&value) {
            accepted += 1;
            taken += usize::from(fast(&value));
        }
    }
    (accepted, taken)
}
