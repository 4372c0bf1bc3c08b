//! What the search mirror keeps in the quarantine store instead of delivering: the documents the engine refused,
//! with their errors, and whole bulk bodies spooled through an outage, each under a key that names its content.

use crate::plan::Parcel;
use crate::plan::content_key;

/// A document the search engine refused, with its error.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedDocument {
    /// The action line.
    pub action: String,
    /// The document.
    pub source: String,
    /// The item's HTTP status.
    pub status: u16,
    /// The engine's error type and reason.
    pub error: String,
}

/// The quarantine object of documents a bulk request had refused:
/// `<prefix>/search-rejected/<date>/<request name>-<digest>.json`.
pub fn search_rejected_object(rejected: &[RejectedDocument], prefix: &str, date: &str, name: &str) -> Parcel {
    let mut body = Vec::new();
    for (i, r) in rejected.iter().enumerate() {
        body.extend_from_slice(if i == 0 { b"[\n" } else { b",\n" });
        // Plain strings and a number always serialize.
        let _ = serde_json::to_writer(&mut body, r);
    }
    body.extend_from_slice(b"\n]\n");
    let key = content_key(&format!("{prefix}/search-rejected/{date}/{name}"), &body, ".json");
    Parcel { key, body, items: rejected.len() }
}

/// A bulk body the search mirror could not take, kept byte for byte for replay:
/// `<prefix>/search-spool/<date>/<request name>-<digest>.ndjson`.
pub fn search_spool_object(request: &Parcel, prefix: &str, date: &str) -> Parcel {
    Parcel {
        key: content_key(&format!("{prefix}/search-spool/{date}/{}", request.key), &request.body, ".ndjson"),
        body: request.body.clone(),
        items: request.items,
    }
}
