//! Deterministic encoding: the bodies and keys of S3 objects and bulk requests, from a record's values. The
//! encoders of [`crate::output`] call these.
//!
//! Nothing depends on the clock. Document ids, per-record fragments and quarantine objects are named after their
//! record (shard, sequence number, log event identity, the data's own timestamps), as are ingest objects in the
//! `record` layout (`<sequence>-<part>`, `output::ingest::record_objects`). What is packed per batch — ingest objects in the
//! default `batch` layout (`output::ingest::batch_objects`), bulk and Prometheus bodies ([`pack_bodies`], [`pack_items`]) — is
//! named `<last>-<first>-<digest>`: the sortable sequence numbers of the last and first record it holds and a
//! digest of its body, so a name is a function of the content. Batches change between Lambda's retries, so those
//! names do too; a retry avoids duplicates in other ways (see [`crate::output`]).

mod bulk;
pub(crate) mod json_out;
pub(crate) mod objects;
pub mod rollup;
mod time;
mod values;

pub use bulk::{BulkEncoder, pack_bodies, pack_items};
pub(crate) use objects::content_key;
pub use objects::{
    Packed, SEQUENCE_WIDTH, fragment_parts, gzip_objects, is_sortable, names_content, sortable_sequence,
    split_content_digest,
};
pub use time::{ISO_LEN, IndexNamer, day_of, iso_millis, iso_millis_bytes, push_date, utc_date};
pub use values::{Parcel, RecordValues, ReportContext};

/// What one report's document and action line take in a bulk body, a little more than the average (740 bytes in
/// the large sample): the output bound counts found reports at this size until they are encoded.
pub const REPORT_DOCUMENT_BYTES: usize = 800;

use chrono::format::{Item, StrftimeItems};

/// `parts` joined into a name, in one allocation of its size (`format!` guesses a capacity and grows it, which
/// for names of a hundred bytes means several reallocations per object).
pub(crate) fn joined(parts: &[&str]) -> String {
    let mut name = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| name.push_str(p));
    name
}

/// 16 hex digits of the SHA-1 of `body`: the part of a batch-level name that makes it a function of the content.
pub(crate) fn digest16(body: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    hex16(&Sha1::digest(body))
}

/// The first 8 bytes of `digest` as 16 lowercase hex digits.
pub(crate) fn hex16(digest: &[u8]) -> String {
    let mut hex = String::with_capacity(16);
    for b in &digest[..8] {
        hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    hex
}

/// The zeros that pad `digits` to four (none when it has four or more).
pub(crate) fn pad4(digits: &str) -> &'static str {
    &"0000"[digits.len().min(4)..]
}

/// Checks that a strftime pattern formats without errors (chrono panics on bad patterns at format time).
pub fn check_index_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("must not be empty".into());
    }
    if StrftimeItems::new(pattern).any(|i| matches!(i, Item::Error)) {
        return Err("is not a valid strftime pattern".into());
    }
    if pattern.chars().any(|c| c.is_ascii_uppercase() && !pattern.contains('%')) {
        return Err("index names must be lowercase".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_dates_and_index_patterns() {
        assert_eq!(utc_date(1_763_600_000_000), "2025-11-20");
        assert_eq!(utc_date(i64::MAX), "1970-01-01");
        assert!(check_index_pattern("logmeter-metrics-%Y.%m.%d").is_ok());
        assert!(check_index_pattern("fixed-index").is_ok());
    }

    #[test]
    fn valid_names_are_joined_and_padded_as_format_writes_them() {
        for n in [0_usize, 7, 42, 999, 1000, 12_345] {
            let mut digits = itoa::Buffer::new();
            let digits = digits.format(n);
            assert_eq!(joined(&["a/", "b-", pad4(digits), digits]), format!("a/b-{n:04}"));
        }
    }

    #[test]
    fn invalid_index_patterns() {
        for p in ["", "x-%Q", "Upper"] {
            assert!(check_index_pattern(p).is_err(), "{p}");
        }
    }
}
