//! What could not be processed: entries with their raw text and reason, bounded per Kinesis record.

use super::EventRef;
use serde::Serialize;

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
pub fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}
