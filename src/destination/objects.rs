//! Delivery of objects (ingest and quarantine) to an object store: S3, a directory, or memory in tests.

use super::{Delivering, Landing, Outlet, Parcel};
use crate::sink::{Delivery, ObjectSink};
use crate::summary::Summary;

/// Puts each parcel under its key, create-only, and counts it as written or already present. A failure is
/// returned, so the record is retried.
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
}

impl<S: ObjectSink> Outlet for ObjectOutlet<S> {
    fn destination(&self) -> &'static str {
        self.destination
    }

    fn deliver<'a>(&'a self, parcel: &'a Parcel, _landing: Landing<'a>) -> Delivering<'a> {
        Box::pin(async move {
            let mut summary = Summary::default();
            match self.store.put(parcel).await? {
                Delivery::Written => summary.objects_written = 1,
                Delivery::AlreadyPresent => summary.objects_already_present = 1,
            }
            Ok(summary)
        })
    }
}
