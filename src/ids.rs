//! Deterministic identities: derived `uniqueId`s for meter records and `_id`s for metric documents.
//!
//! Both are UUIDv5 (SHA-1) over the identity of the log event, so reprocessing the same event gives the same
//! value and Amberflo's and the search engine's de-duplication hold across retries. Never random.

use uuid::Uuid;

/// Namespace of every logmeter UUID (a fixed, arbitrary v4 value; changing it would re-key everything).
const NAMESPACE: Uuid = Uuid::from_u128(0x6c6f_676d_6574_4000_8000_6d65_7465_7273);

fn v5(parts: &[&str]) -> String {
    let mut name = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for p in parts {
        name.extend_from_slice(p.as_bytes());
        name.push(b'\n');
    }
    Uuid::new_v5(&NAMESPACE, &name).hyphenated().to_string()
}

/// `uniqueId` for a record that has none: log group, log stream, event id and the record's position in its event.
pub fn derived_unique_id(log_group: &str, log_stream: &str, event_id: &str, position: usize) -> String {
    v5(&["meter", log_group, log_stream, event_id, &position.to_string()])
}

/// `_id` of the metric document for the report in one log event.
pub fn report_document_id(log_group: &str, log_stream: &str, event_id: &str) -> String {
    v5(&["report", log_group, log_stream, event_id])
}

/// Key component for a record whose sequence number is missing or not decimal: derived from its event id and data
/// so that a retry names it the same way.
pub fn unsequenced_key(event_id: &str, data: &str) -> String {
    format!("unsequenced-{}", v5(&["unsequenced", event_id, data]))
}

/// `_id` of a meter record's document in the search mirror: UUIDv5 of the record as written to S3 (its content and
/// `uniqueId`), so the same record is one document however often it is replayed.
pub fn meter_document_id(record_json: &str) -> String {
    v5(&["meter-document", record_json])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids_are_stable_and_distinct() {
        let a = derived_unique_id("g", "s", "1", 0);
        assert_eq!(a, derived_unique_id("g", "s", "1", 0));
        assert_ne!(a, derived_unique_id("g", "s", "1", 1));
        assert_ne!(a, derived_unique_id("g", "s1", "", 0), "fields must not run together");
        assert_ne!(report_document_id("g", "s", "1"), derived_unique_id("g", "s", "1", 0));
        // A pinned value: changing the derivation would re-key every record already billed.
        assert_eq!(Uuid::parse_str(&a).unwrap().get_version_num(), 5);
    }
}
