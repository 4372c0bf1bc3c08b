//! The search mirror's in-memory stand-in for tests of the handler: documents by `(index, _id)`, create-only like
//! the engine, with the failures and latency the [`MemorySink`] is set to.

use super::{BulkDelivery, SearchSink};
use crate::plan::Parcel;
use crate::sink::SinkError;
use crate::sink::memory::{MemorySink, lock};
use std::collections::BTreeMap;

impl SearchSink for MemorySink {
    async fn bulk(&self, request: &Parcel) -> Result<BulkDelivery, SinkError> {
        self.wait().await;
        self.admit(&request.key)?;
        create_each(&mut lock(&self.documents), request)
    }
}

/// Applies a bulk body's `create` actions to `docs` (by `(index, _id)`) as the engine does: a new id is created, a
/// known one answers 409 and is counted as already present. For the in-memory stand-ins of the engine.
pub fn create_each(docs: &mut BTreeMap<(String, String), String>, request: &Parcel) -> Result<BulkDelivery, SinkError> {
    let mut out = BulkDelivery::default();
    let mut lines = request.body.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    while let (Some(action), Some(source)) = (lines.next(), lines.next()) {
        let a: serde_json::Value = serde_json::from_slice(action)
            .map_err(|e| SinkError::Permanent { target: request.key.clone(), reason: e.to_string() })?;
        let key = (
            a["create"]["_index"].as_str().unwrap_or("").to_owned(),
            a["create"]["_id"].as_str().unwrap_or("").to_owned(),
        );
        if let std::collections::btree_map::Entry::Vacant(e) = docs.entry(key) {
            e.insert(String::from_utf8_lossy(source).into_owned());
            out.created += 1;
        } else {
            out.already_present += 1;
        }
    }
    Ok(out)
}
