//! Delivery of one object per record and part (quarantine objects, and ingest objects in the `record` layout) to
//! an object store: S3, a directory, or memory in tests.

use super::{Boxed, Consignment, Landing, Outlet, Parcel, Shipped};
use crate::sink::{Delivery, ObjectSink, SinkError};
use crate::summary::Summary;
use futures_util::StreamExt;

/// Records whose objects are written at the same time.
pub const RECORD_CONCURRENCY: usize = 16;

/// Puts each record's parcels under their keys, create-only, and counts each as written or already present. A
/// record with a failed put is reported for retry.
#[derive(Debug)]
pub struct ObjectOutlet<S> {
    destination: &'static str,
    store: S,
}

impl<S: ObjectSink> ObjectOutlet<S> {
    /// The outlet of `destination` ([`super::INGEST`] or [`super::QUARANTINE`]) over `store`.
    pub fn new(destination: &'static str, store: S) -> Self {
        Self { destination, store }
    }

    /// Boxed, for the handler's list.
    pub fn boxed(destination: &'static str, store: S) -> Box<dyn Outlet>
    where
        S: 'static,
    {
        Box::new(Self::new(destination, store))
    }

    async fn put(&self, parcel: &Parcel) -> Result<Summary, SinkError> {
        let mut summary = Summary::default();
        // Keys name their bodies: a replay after a fix that quarantines otherwise keeps its version beside the first.
        match self.store.put(parcel).await? {
            Delivery::Written => summary.objects_written = 1,
            Delivery::AlreadyPresent => summary.objects_already_present = 1,
        }
        Ok(summary)
    }

    /// One record's parcels, in order; the first failure stops them.
    async fn record(&self, c: &Consignment<'_>, landing: Landing<'_>) -> (bool, Summary) {
        let mut summary = Summary::default();
        for parcel in c.parcels {
            if landing.too_late() {
                tracing::warn!(sequence_number = %c.sequence_number, "deadline near: not delivered, reported for retry");
                return (true, summary);
            }
            match self.put(parcel).await {
                Ok(s) => {
                    summary += s;
                    if self.destination == super::INGEST {
                        summary.record_objects += 1;
                    } else {
                        summary.quarantine_objects += 1;
                    }
                }
                Err(e) => {
                    super::delivery_failed(
                        &e,
                        &format!("record {} of {} reported for retry", c.sequence_number, c.shard),
                        &mut summary,
                    );
                    return (true, summary);
                }
            }
        }
        (false, summary)
    }
}

impl<S: ObjectSink> Outlet for ObjectOutlet<S> {
    fn destination(&self) -> &'static str {
        self.destination
    }

    fn deliver<'a>(&'a self, batch: &'a [Consignment<'a>], landing: Landing<'a>) -> Boxed<'a, Shipped> {
        Box::pin(async move {
            let records: Vec<_> = batch.iter().map(|c| self.record(c, landing)).collect();
            let results: Vec<(bool, Summary)> =
                futures_util::stream::iter(records).buffered(RECORD_CONCURRENCY).collect().await;
            let mut shipped = Shipped::new(batch.len());
            for (i, (failed, summary)) in results.into_iter().enumerate() {
                shipped.failed[i] = failed;
                shipped.summary += summary;
            }
            shipped
        })
    }
}

/// The quarantine bucket (or directory) keeps other destinations' parcels as it keeps quarantine objects.
impl<S: ObjectSink> super::QuarantineStore for ObjectOutlet<S> {
    fn keep<'a>(&'a self, parcel: &'a Parcel) -> Boxed<'a, Result<Summary, SinkError>> {
        Box::pin(self.put(parcel))
    }
}
