//! The stores and transports the outputs share: objects through an [`ObjectSink`] (a bucket, a directory, memory),
//! which must be create-only (writing what an earlier attempt already wrote is success, "already present", never a
//! second copy); the HTTP transport with SigV4, Secrets Manager and bounded backoff ([`http`]); and the function
//! metadata lookup. Each output's own port (the search mirror's bulk API, Prometheus) is in its folder under
//! [`crate::output`].

pub mod http;
mod lambda;
pub(crate) mod local;
pub(crate) mod memory;
mod s3;

pub use lambda::FunctionLookup;
pub use local::LocalDir;
pub use memory::MemorySink;
pub use s3::S3Sink;

use crate::plan::Parcel;
use std::future::Future;
use std::sync::Arc;

/// How a create-only write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// This call wrote it.
    Written,
    /// An earlier attempt had written it.
    AlreadyPresent,
}

/// A delivery that did not happen. The data is not at fault, so the record is reported for retry.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SinkError {
    /// Worth retrying (unavailable, throttled, timed out).
    #[error("{target}: {reason} (transient)")]
    Transient {
        /// Key or request name.
        target: String,
        /// What happened.
        reason: String,
    },
    /// A different object is already under the key (of a key that does not name its content): nothing was
    /// overwritten, and this one is not delivered.
    #[error(
        "{target}: a different object already exists under this key (was the configuration changed between runs, or \
         do two records map to one key?); nothing was overwritten and this record is not counted as delivered"
    )]
    Taken {
        /// Key.
        target: String,
    },
    /// The store refused the call for lack of permission (a missing IAM grant, a bucket or access policy, bad
    /// credentials): nothing changes until someone grants it. Never a statement about the data.
    #[error("access denied: {action} on {target} ({detail})")]
    AccessDenied {
        /// The action refused (`s3:PutObject`, `s3:GetObject (HeadObject)`, `bulk`, …).
        action: &'static str,
        /// The resource: `s3://bucket/key`, a bulk request's name, an endpoint.
        target: String,
        /// The store's error code or status, and what to check.
        detail: String,
    },
    /// Will not succeed until someone acts.
    #[error("{target}: {reason}")]
    Permanent {
        /// Key or request name.
        target: String,
        /// What happened.
        reason: String,
    },
}

/// Where objects go (an S3 bucket in production, a directory locally).
pub trait ObjectSink: Send + Sync + std::fmt::Debug {
    /// Writes `object`'s body under its key unless it is already there.
    fn put(&self, object: &Parcel) -> impl Future<Output = Result<Delivery, SinkError>> + Send;
    /// Keys that begin with `prefix` and sort after `start_after` (all of them without it), in key order, every
    /// page read. The batch layout's retry rule needs it ([`crate::output::ingest`]).
    fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> impl Future<Output = Result<Vec<String>, SinkError>> + Send;
    /// The bytes stored under `key`.
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, SinkError>> + Send;
}

/// A shared sink (tests keep a handle to look inside).
impl<T: ObjectSink> ObjectSink for Arc<T> {
    fn put(&self, object: &Parcel) -> impl Future<Output = Result<Delivery, SinkError>> + Send {
        T::put(self, object)
    }
    fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> impl Future<Output = Result<Vec<String>, SinkError>> + Send {
        T::list(self, prefix, start_after)
    }
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, SinkError>> + Send {
        T::get(self, key)
    }
}

/// An [`ObjectSink`] behind a pointer, for holders that keep one store whatever its type (the billing platforms'
/// delivery ledger): every `ObjectSink` is one.
pub trait SharedObjects: Send + Sync + std::fmt::Debug {
    /// [`ObjectSink::put`].
    fn put<'a>(&'a self, object: &'a Parcel) -> Boxed<'a, Result<Delivery, SinkError>>;
    /// [`ObjectSink::list`].
    fn list<'a>(&'a self, prefix: &'a str, start_after: Option<&'a str>) -> Boxed<'a, Result<Vec<String>, SinkError>>;
    /// [`ObjectSink::get`].
    fn get<'a>(&'a self, key: &'a str) -> Boxed<'a, Result<Vec<u8>, SinkError>>;
}

/// A boxed future.
pub type Boxed<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl<T: ObjectSink + 'static> SharedObjects for T {
    fn put<'a>(&'a self, object: &'a Parcel) -> Boxed<'a, Result<Delivery, SinkError>> {
        Box::pin(ObjectSink::put(self, object))
    }
    fn list<'a>(&'a self, prefix: &'a str, start_after: Option<&'a str>) -> Boxed<'a, Result<Vec<String>, SinkError>> {
        Box::pin(ObjectSink::list(self, prefix, start_after))
    }
    fn get<'a>(&'a self, key: &'a str) -> Boxed<'a, Result<Vec<u8>, SinkError>> {
        Box::pin(ObjectSink::get(self, key))
    }
}
