//! Extraction from log messages: tagged meter records, text `REPORT` lines and JSON `platform.report` events.
//!
//! Every function here is pure: it takes message text and the identity of the event it came from and appends
//! values to an [`Extraction`]. Every occurrence of the meter tag ends as either a valid record or a quarantine
//! entry with a reason; nothing that looks like billing data is dropped silently.

mod function;
mod meter;
mod record;
mod record_usual;
mod report;
mod report_json;
mod report_raw;
mod report_text;

pub use function::{FunctionId, function_of};
pub use meter::MeterExtractor;
pub use record::{
    RecordError, ValidRecord, minify_with_unique_id, minify_with_unique_id_into, read_record, validate_record,
};
pub use report::{InvocationReport, ReportFormat, ReportStatus};
pub use report_json::{PLATFORM_REPORT, parse_platform_report};
pub use report_raw::read_raw_platform_report;
pub use report_text::{parse_text_report, read_raw_text_report, timed_out_request_id};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterRecord<'a> {
    /// Minified JSON object: the application's fields untouched, `uniqueId` added when it was missing.
    pub json: &'a str,
    /// `meterTimeInMillis`, which decides the ingest date.
    pub time_millis: i64,
    /// Whether `uniqueId` was derived by logmeter.
    pub derived_unique_id: bool,
}

/// The valid meter records of a payload, in log order. Their JSON lies back to back in one buffer: a payload's
/// records cost one growing allocation, not one each, and are copied once more, into their object body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MeterRecords {
    text: String,
    records: Vec<Placed>,
}

/// Where a record lies in [`MeterRecords::text`], with what the plan needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Placed {
    start: usize,
    end: usize,
    time_millis: i64,
    derived_unique_id: bool,
}

impl MeterRecords {
    /// Appends a record whose JSON `write` appends to the buffer it is given.
    pub fn push_with(&mut self, time_millis: i64, derived_unique_id: bool, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        self.records.push(Placed { start, end: self.text.len(), time_millis, derived_unique_id });
    }

    /// Writes a draft record at the end of the buffer with `write`, which leaves the buffer as it was when it
    /// returns `None`. The draft becomes a record with [`Self::keep_draft`] or is forgotten with
    /// [`Self::drop_draft`]; nothing else may be pushed before either.
    pub(super) fn draft_with<T>(&mut self, write: impl FnOnce(&mut String) -> Option<T>) -> Option<T> {
        debug_assert_eq!(self.text.len(), self.draft_start(), "one draft at a time");
        write(&mut self.text)
    }

    /// Makes the draft a record, after `finish` has appended to it (a derived `uniqueId`).
    pub(super) fn keep_draft(&mut self, time_millis: i64, derived_unique_id: bool, finish: impl FnOnce(&mut String)) {
        let start = self.draft_start();
        finish(&mut self.text);
        self.records.push(Placed { start, end: self.text.len(), time_millis, derived_unique_id });
    }

    /// Forgets the draft.
    pub(super) fn drop_draft(&mut self) {
        self.text.truncate(self.draft_start());
    }

    /// Forgets the draft and every record after the first `len`.
    pub(super) fn truncate(&mut self, len: usize) {
        self.records.truncate(len);
        self.text.truncate(self.draft_start());
    }

    fn draft_start(&self) -> usize {
        self.records.last().map_or(0, |p| p.end)
    }

    /// Appends a record whose JSON is already minified.
    pub fn push(&mut self, json: &str, time_millis: i64, derived_unique_id: bool) {
        self.push_with(time_millis, derived_unique_id, |text| text.push_str(json));
    }

    /// Makes room for `records` more records of about `bytes` in all.
    pub fn reserve(&mut self, records: usize, bytes: usize) {
        self.records.reserve(records);
        self.text.reserve(bytes);
    }

    /// Bytes of the records' JSON.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The `i`th record.
    pub fn get(&self, i: usize) -> Option<MeterRecord<'_>> {
        self.records.get(i).map(|p| self.record(p))
    }

    /// The records, in log order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = MeterRecord<'_>> + '_ {
        self.records.iter().map(|p| self.record(p))
    }

    fn record(&self, p: &Placed) -> MeterRecord<'_> {
        MeterRecord {
            json: self.text.get(p.start..p.end).unwrap_or_default(),
            time_millis: p.time_millis,
            derived_unique_id: p.derived_unique_id,
        }
    }
}

impl FromIterator<(String, i64, bool)> for MeterRecords {
    /// Records from `(json, time_millis, derived_unique_id)`, in order.
    fn from_iter<I: IntoIterator<Item = (String, i64, bool)>>(iter: I) -> Self {
        let mut records = Self::default();
        for (json, time, derived) in iter {
            records.push(&json, time, derived);
        }
        records
    }
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
    /// Whether `raw` was cut to [`MAX_ENTRY_RAW_BYTES`] (the whole record is then kept by another entry).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raw_cut: bool,
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
            raw_cut: false,
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
            raw: Some(raw[..floor_char_boundary(raw, MAX_ENTRY_RAW_BYTES + 1)].to_owned()),
            data_base64: None,
            raw_cut: false,
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
    pub meters: MeterRecords,
    /// Invocation reports found. Their documents are written as they are found, while the line is at hand
    /// (see `plan::ReportEncoder`), so only the count is kept.
    pub reports: usize,
    /// Everything that could not be processed (bounded: see [`Quarantine`]).
    pub quarantine: Quarantine,
}

/// Most quarantine entries one Kinesis record lists one by one; later ones are counted by reason (the whole
/// record is then kept for replay, so nothing is lost).
pub const MAX_LISTED_ENTRIES: usize = 1000;
/// Most bytes of raw text one entry keeps; a longer text is cut (and the whole record is kept for replay).
pub const MAX_ENTRY_RAW_BYTES: usize = 64 << 10;
/// Most bytes of raw text the listed entries of one Kinesis record keep together.
pub const MAX_RECORD_RAW_BYTES: usize = 1 << 20;
/// Most distinct reasons counted for the entries that are not listed; the others count as one more reason.
const MAX_FOLDED_REASONS: usize = 16;

/// The quarantine entries of one Kinesis record, bounded whatever the input: at most [`MAX_LISTED_ENTRIES`]
/// entries are listed, each with at most [`MAX_ENTRY_RAW_BYTES`] of raw text and [`MAX_RECORD_RAW_BYTES`] in all.
/// What does not fit is counted (by reason) instead of listed, and [`Quarantine::needs_whole_record`] then says so:
/// the pipeline adds one entry holding the record's exact `data` so a replay loses nothing.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Quarantine {
    entries: Vec<QuarantineEntry>,
    raw_bytes: usize,
    /// Entries counted but not listed, by reason (at most [`MAX_FOLDED_REASONS`] reasons, then `None`).
    folded: Vec<(Option<String>, usize)>,
    omitted: usize,
    cut: usize,
    incomplete: bool,
}

impl Quarantine {
    /// Whether an entry with `raw_len` bytes of raw text would be listed (otherwise it is only counted): callers
    /// with much to copy ask first, so a record with millions of bad values costs no copy of each.
    pub fn lists(&self, raw_len: usize) -> bool {
        self.entries.len() < MAX_LISTED_ENTRIES
            && self.raw_bytes + raw_len.min(MAX_ENTRY_RAW_BYTES) <= MAX_RECORD_RAW_BYTES
    }

    /// Counts an entry that is not listed, by its reason.
    pub fn omit(&mut self, reason: String) {
        self.omitted += 1;
        let reason = Some(reason);
        let slot = match self.folded.iter().position(|(r, _)| *r == reason) {
            Some(i) => i,
            None if self.folded.len() < MAX_FOLDED_REASONS => {
                self.folded.push((reason, 0));
                self.folded.len() - 1
            }
            None => match self.folded.iter().position(|(r, _)| r.is_none()) {
                Some(i) => i,
                None => {
                    self.folded.push((None, 0));
                    self.folded.len() - 1
                }
            },
        };
        self.folded[slot].1 += 1;
    }

    /// Adds an entry, or counts it when the record's listing is full. Its raw text is cut to the bound.
    pub fn push(&mut self, mut entry: QuarantineEntry) {
        if !self.lists(entry.raw.as_ref().map_or(0, String::len)) {
            return self.omit(entry.reason);
        }
        if let Some(raw) = entry.raw.as_mut()
            && raw.len() > MAX_ENTRY_RAW_BYTES
        {
            raw.truncate(floor_char_boundary(raw, MAX_ENTRY_RAW_BYTES));
            entry.raw_cut = true;
            self.cut += 1;
        }
        self.raw_bytes += entry.raw.as_ref().map_or(0, String::len);
        self.entries.push(entry);
    }

    /// Adds an entry whatever the bounds (the one entry that keeps a whole record).
    pub fn push_unbounded(&mut self, entry: QuarantineEntry) {
        self.entries.push(entry);
    }

    /// Every entry, listed or not.
    pub fn total(&self) -> usize {
        self.entries.len() + self.omitted
    }

    /// Entries counted but not listed.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// Whether something was left out of the listing (entries, or raw text), so the whole record must be kept.
    pub fn needs_whole_record(&self) -> bool {
        self.omitted > 0 || self.cut > 0 || self.incomplete
    }

    /// Says that part of the record was not read, so the whole record must be kept.
    pub fn mark_incomplete(&mut self) {
        self.incomplete = true;
    }

    /// Whether an entry already keeps the whole record's data.
    pub fn keeps_whole_record(&self) -> bool {
        self.entries.iter().any(|e| e.data_base64.is_some())
    }

    /// The reason of the entry that keeps the whole record when the listing is incomplete.
    pub fn incomplete_reason(&self) -> String {
        let mut reason = String::from("the quarantine listing of this Kinesis record is incomplete");
        if self.omitted > 0 {
            reason.push_str(&format!(" ({} more entries not listed:", self.omitted));
            for (i, (r, n)) in self.folded.iter().enumerate() {
                reason.push_str(if i == 0 { " " } else { "; " });
                match r {
                    Some(r) => reason.push_str(&format!("{n} × {}", cut_reason(r))),
                    None => reason.push_str(&format!("{n} × other reasons")),
                }
            }
            reason.push(')');
        }
        if self.cut > 0 {
            reason.push_str(&format!(" ({} entries' raw text cut to {MAX_ENTRY_RAW_BYTES} bytes)", self.cut));
        }
        if self.incomplete {
            reason.push_str(" (part of it was not read)");
        }
        reason.push_str(": the whole record is kept in data_base64 for replay");
        reason
    }
}

impl std::ops::Deref for Quarantine {
    type Target = [QuarantineEntry];
    fn deref(&self) -> &[QuarantineEntry] {
        &self.entries
    }
}

impl<'a> IntoIterator for &'a Quarantine {
    type Item = &'a QuarantineEntry;
    type IntoIter = std::slice::Iter<'a, QuarantineEntry>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

/// A reason as a folded count shows it: at most 200 bytes.
fn cut_reason(r: &str) -> &str {
    &r[..floor_char_boundary(r, 200)]
}

/// The largest char boundary of `s` at or below `at`.
pub(crate) fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
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
