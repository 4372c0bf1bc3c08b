//! The quarantine store: one object per Kinesis record with everything that could not be processed (bad meter
//! records, unreadable reports, whole records that could not be read, with their data for replay), under
//! `<QUARANTINE_PREFIX>/YYYY-MM-DD/<shard>/<sequence>.json`; and, for the search mirror, refused documents and
//! spooled bulk bodies ([`crate::output::search::search_rejected_object`], [`crate::output::search::search_spool_object`]).
//! Delivered by an [`super::objects::ObjectOutlet`] to the quarantine bucket or a directory; a failure retries the
//! record, so nothing refused is lost.

mod object;
mod settings;

pub use settings::{SETTINGS, Settings};

use super::{Parcel, QUARANTINE};
use crate::extract::QuarantineEntry;
pub use object::quarantine_object;

/// Encodes a record's quarantine entries. Unlike the other encoders it reads entries, not values: a record that
/// could not be read at all has nothing else.
#[derive(Debug, Clone)]
pub struct QuarantineEncoder {
    prefix: String,
}

impl QuarantineEncoder {
    /// The encoder `settings` describe (`QUARANTINE_PREFIX`).
    pub fn new(settings: &Settings) -> Self {
        Self { prefix: settings.prefix.clone() }
    }

    /// The destination it feeds.
    pub fn destination(&self) -> &'static str {
        QUARANTINE
    }

    /// Appends the quarantine object of one record, if anything was quarantined; dated by the record's arrival.
    pub fn encode(
        &self,
        entries: &[QuarantineEntry],
        shard: &str,
        seq_key: &str,
        arrival_millis: i64,
        out: &mut Vec<Parcel>,
    ) {
        out.extend(quarantine_object(entries, &self.prefix, shard, seq_key, arrival_millis));
    }
}

/// The quarantine store as the registration list holds it: its outlet over `store`, which is also the
/// [`super::QuarantineStore`] the other outlets keep parcels in (its encoder is every pipeline's own,
/// [`QuarantineEncoder`]).
pub fn register<S: crate::sink::ObjectSink + 'static>(store: S) -> super::Registered {
    let outlet = std::sync::Arc::new(super::objects::ObjectOutlet::new(QUARANTINE, store));
    super::Registered { encoder: None, outlet: Box::new(outlet.clone()), quarantine: Some(outlet) }
}
