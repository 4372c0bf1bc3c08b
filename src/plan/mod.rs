//! Deterministic planning: from one decoded Kinesis record to the S3 objects and bulk requests that deliver it.
//!
//! Every key and id depends only on the record (shard, sequence number, log event identity, the data's own
//! timestamps), never on the clock or on which other records share the invocation. Lambda retries from any record
//! and bisects failed batches, so a name that spanned several records would change between attempts and duplicate
//! what the first attempt delivered; one record's outputs are therefore named after that record alone.

mod bulk;
mod metrics;
mod objects;

pub use bulk::{BulkRequest, encode_bulk};
pub use metrics::{MetricDocument, ReportContext, metric_document};
pub use objects::{ObjectKind, PlannedObject, quarantine_object, record_objects};

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Utc};

/// The UTC date of epoch milliseconds as `YYYY-MM-DD` (out-of-range values clamp to the epoch).
pub fn utc_date(millis: i64) -> String {
    utc(millis).format("%Y-%m-%d").to_string()
}

fn utc(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// Checks that a strftime pattern formats without errors (chrono panics on bad patterns at format time).
pub fn check_index_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("must not be empty".into());
    }
    if StrftimeItems::new(pattern).any(|i| matches!(i, Item::Error)) {
        return Err("is not a valid strftime pattern".into());
    }
    if pattern
        .chars()
        .any(|c| c.is_ascii_uppercase() && !pattern.contains('%'))
    {
        return Err("index names must be lowercase".into());
    }
    Ok(())
}

/// The index a document at `millis` goes to. The pattern was checked by [`check_index_pattern`].
pub fn index_name(pattern: &str, millis: i64) -> String {
    utc(millis).format(pattern).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_dates_and_indices() {
        assert_eq!(utc_date(1_763_600_000_000), "2025-11-20");
        assert_eq!(utc_date(i64::MAX), "1970-01-01");
        assert_eq!(
            index_name("logmeter-metrics-%Y.%m.%d", 1_763_600_000_000),
            "logmeter-metrics-2025.11.20"
        );
        assert!(check_index_pattern("logmeter-metrics-%Y.%m.%d").is_ok());
        assert!(check_index_pattern("fixed-index").is_ok());
    }

    #[test]
    fn invalid_index_patterns() {
        for p in ["", "x-%Q", "Upper"] {
            assert!(check_index_pattern(p).is_err(), "{p}");
        }
    }
}
