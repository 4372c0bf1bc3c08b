//! Ports to the outside world and their local adapters.
//!
//! The handler delivers planned objects through an [`ObjectSink`] and bulk requests through a [`SearchSink`].
//! Both must be create-only: writing what an earlier attempt already wrote is success ("already present"), never
//! a second copy.

mod local;
mod memory;
mod s3;
pub mod search;

pub use local::LocalDir;
pub use memory::MemorySink;
pub use s3::S3Sink;
pub use search::SearchMirror;

use crate::plan::{BulkRequest, PlannedObject};
use std::future::Future;

/// How a create-only write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// This call wrote it.
    Written,
    /// An earlier attempt had written it.
    AlreadyPresent,
}

/// How a bulk request ended: every action was created now, was already there, or was rejected for good.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkDelivery {
    /// Documents this call created.
    pub created: usize,
    /// Documents that already existed (409 on `create`).
    pub already_present: usize,
    /// Documents the engine will never accept (a 4xx other than 409, e.g. a mapping error), for quarantine.
    pub rejected: Vec<RejectedDocument>,
}

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

/// A delivery that did not happen. The data is not at fault, so the record is reported for retry.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Worth retrying (unavailable, throttled, timed out).
    #[error("{target}: {reason} (transient)")]
    Transient {
        /// Key or request name.
        target: String,
        /// What happened.
        reason: String,
    },
    /// Will not succeed until someone acts (permissions, a different object under the same key).
    #[error("{target}: {reason}")]
    Permanent {
        /// Key or request name.
        target: String,
        /// What happened.
        reason: String,
    },
}

/// Where planned objects go (S3 in production, a directory locally).
pub trait ObjectSink: Send + Sync {
    /// Writes `object` under its key unless it is already there.
    fn put(&self, object: &PlannedObject) -> impl Future<Output = Result<Delivery, SinkError>> + Send;
}

/// Where bulk requests go (Elasticsearch/OpenSearch in production, NDJSON files locally).
pub trait SearchSink: Send + Sync {
    /// Sends one bulk request.
    fn bulk(&self, request: &BulkRequest) -> impl Future<Output = Result<BulkDelivery, SinkError>> + Send;
}
