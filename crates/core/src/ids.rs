//! Deterministic identities: derived `uniqueId`s for meter records and `_id`s for metric documents.
//!
//! Both are UUIDv5 (SHA-1) over the identity of the log event, so reprocessing the same event gives the same
//! value and Amberflo's and the search engine's de-duplication hold across retries. Never random.
//!
//! The name hashed is the parts each followed by a newline. The parts shared by every event of a payload (kind, log
//! group, log stream) are hashed once per payload into a [`V5Prefix`]; each id then only hashes its event's parts.

use sha1::{Digest, Sha1};
use uuid::{Builder, Uuid};

/// Namespace of every logmeter UUID (a fixed, arbitrary v4 value; changing it would re-key everything).
const NAMESPACE: Uuid = Uuid::from_u128(0x6c6f_676d_6574_4000_8000_6d65_7465_7273);

/// Length of a hyphenated UUID.
pub const UUID_LEN: usize = 36;

/// A UUIDv5 name whose first parts are already hashed.
#[derive(Debug, Clone)]
pub struct V5Prefix {
    hasher: Sha1,
}

impl V5Prefix {
    /// Hashes the namespace and `parts`.
    pub fn new(parts: &[&str]) -> Self {
        let mut hasher = Sha1::new();
        hasher.update(NAMESPACE.as_bytes());
        for p in parts {
            hasher.update(p.as_bytes());
            hasher.update(b"\n");
        }
        Self { hasher }
    }

    /// The UUID of the prefix followed by `parts`.
    pub fn uuid(&self, parts: &[&[u8]]) -> Uuid {
        let mut h = self.hasher.clone();
        for p in parts {
            h.update(p);
            h.update(b"\n");
        }
        let digest = h.finalize();
        let mut bytes = [0; 16];
        bytes.copy_from_slice(&digest[..16]);
        Builder::from_sha1_bytes(bytes).into_uuid()
    }

    /// The hyphenated UUID of the prefix followed by `parts`.
    pub fn string(&self, parts: &[&[u8]]) -> String {
        self.uuid(parts).hyphenated().to_string()
    }

    /// Appends the hyphenated UUID of the prefix followed by `parts` to `out`.
    pub fn push(&self, parts: &[&[u8]], out: &mut Vec<u8>) {
        let mut buf = [0; UUID_LEN];
        out.extend_from_slice(self.encode(parts, &mut buf).as_bytes());
    }

    /// The hyphenated UUID of the prefix followed by `parts`, written into `buf` (no allocation).
    pub fn encode<'b>(&self, parts: &[&[u8]], buf: &'b mut [u8; UUID_LEN]) -> &'b str {
        self.uuid(parts).hyphenated().encode_lower(buf)
    }
}

fn v5(parts: &[&str]) -> String {
    V5Prefix::new(parts).string(&[])
}

/// The ids of one payload's derived `uniqueId`s: log group, log stream, event id and the record's position in its
/// event.
pub fn derived_unique_ids(log_group: &str, log_stream: &str) -> V5Prefix {
    V5Prefix::new(&["meter", log_group, log_stream])
}

/// `uniqueId` for a record that has none (see [`derived_unique_ids`]).
pub fn derived_unique_id(log_group: &str, log_stream: &str, event_id: &str, position: usize) -> String {
    v5(&["meter", log_group, log_stream, event_id, &position.to_string()])
}

/// The `_id`s of the metric documents of one payload's reports: one per log event.
pub fn report_document_ids(log_group: &str, log_stream: &str) -> V5Prefix {
    V5Prefix::new(&["report", log_group, log_stream])
}

/// `_id` of the metric document for the report in one log event (see [`report_document_ids`]).
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
        assert_eq!(Uuid::parse_str(&a).unwrap().get_version_num(), 5);
    }

    #[test]
    fn valid_ids_are_pinned() {
        // Changing the derivation would re-key every record already billed and every document already indexed.
        // Expected values computed independently with Python's uuid.uuid5(namespace, name).
        assert_eq!(derived_unique_id("g", "s", "1", 0), "a995fe8a-18a9-54fd-8391-9a1e906c45cd");
        let (group, stream, event) = ("/aws/lambda/checkout", "2026/11/20/[$LATEST]abc", "345");
        assert_eq!(report_document_id(group, stream, event), "812295a6-6f6d-57b3-a884-c499ff636433");
    }

    #[test]
    fn valid_prefixed_ids_equal_whole_ones() {
        let (group, stream) = ("/aws/lambda/checkout", "2026/11/20/[$LATEST]0123456789abcdef0123456789abcdef");
        let reports = report_document_ids(group, stream);
        let meters = derived_unique_ids(group, stream);
        for event in ["", "3454241571763225290068746682784361489366087843422319411", &"9".repeat(200)] {
            let mut out = Vec::new();
            reports.push(&[event.as_bytes()], &mut out);
            assert_eq!(out, report_document_id(group, stream, event).as_bytes());
            // uuid's own v5 over the whole name agrees.
            let name = format!("report\n{group}\n{stream}\n{event}\n");
            assert_eq!(out, Uuid::new_v5(&NAMESPACE, name.as_bytes()).hyphenated().to_string().as_bytes());
            for pos in [0_usize, 7, 12345] {
                let mut out = Vec::new();
                meters.push(&[event.as_bytes(), pos.to_string().as_bytes()], &mut out);
                assert_eq!(out, derived_unique_id(group, stream, event, pos).as_bytes());
                assert_eq!(meters.string(&[event.as_bytes(), pos.to_string().as_bytes()]).as_bytes(), out);
            }
        }
    }
}
