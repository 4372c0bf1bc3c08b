//! The search mirror: each invocation report as a metric document ([`crate::plan::ReportEncoder`]) and, with
//! `SEARCH_MIRROR_METER_RECORDS`, each meter record as a document, in bulk bodies of `create` actions with
//! deterministic ids, bounded by `BULK_MAX_BYTES` / `BULK_MAX_ACTIONS`.
//!
//! Failure policy: documents the engine refuses for good (mapping errors) go to the quarantine store with their
//! error; when the mirror is down after its retries, the body is spooled to the quarantine store
//! (`SEARCH_FAILURE_MODE=spool`, the default) or the record is retried (`retry`).

use super::{Delivering, Encoder, Landing, Outlet, Parcel, RecordValues, SEARCH};
use crate::config::PipelineConfig;
use crate::plan::{
    BulkEncoder, REPORT_DOCUMENT_BYTES, ReportEncoder, encode_meter_records, search_rejected_object,
    search_spool_object, utc_date,
};
use crate::sink::{SearchSink, SinkError};
use crate::summary::Summary;

/// Encodes reports (and meter records) into bulk bodies.
#[derive(Debug, Clone)]
pub struct SearchEncoder {
    index_pattern: String,
    meter_index_pattern: Option<String>,
    max_bytes: usize,
    max_actions: usize,
}

impl SearchEncoder {
    /// The encoder `config` describes (`SEARCH_INDEX`, `SEARCH_MIRROR_METER_RECORDS`, `SEARCH_METER_INDEX`,
    /// `BULK_MAX_BYTES`, `BULK_MAX_ACTIONS`).
    pub fn new(config: &PipelineConfig) -> Self {
        Self {
            index_pattern: config.index_pattern.clone(),
            meter_index_pattern: config.mirror_meter_records.then(|| config.meter_index_pattern.clone()),
            max_bytes: config.bulk_max_bytes,
            max_actions: config.bulk_max_actions,
        }
    }
}

impl Encoder for SearchEncoder {
    fn destination(&self) -> &'static str {
        SEARCH
    }

    fn encode(&self, values: &RecordValues<'_>, out: &mut Vec<Parcel>) {
        let mut bulk = BulkEncoder::new(values.shard, values.seq_key, self.max_bytes, self.max_actions);
        if !values.reports.is_empty() {
            let mut encoder = ReportEncoder::new(values.source, &self.index_pattern);
            bulk.reserve(values.reports.len() * REPORT_DOCUMENT_BYTES);
            values.reports.iter().for_each(|found| encoder.push(found, &mut bulk));
        }
        if let Some(pattern) = &self.meter_index_pattern {
            encode_meter_records(values.meters, pattern, &mut bulk);
        }
        out.extend(bulk.finish());
    }
}

/// Sends bulk bodies to a [`SearchSink`] and applies the mirror's failure policy.
#[derive(Debug)]
pub struct SearchOutlet<S> {
    sink: S,
    spool: bool,
    quarantine_prefix: String,
}

impl<S: SearchSink> SearchOutlet<S> {
    /// An outlet over `sink`. With `spool`, a body the mirror cannot take after its retries is kept in the
    /// quarantine store under `quarantine_prefix` and the record counts as delivered; without, it is retried.
    pub fn new(sink: S, spool: bool, quarantine_prefix: &str) -> Self {
        Self { sink, spool, quarantine_prefix: quarantine_prefix.to_owned() }
    }

    /// Boxed, for the handler's list.
    pub fn boxed(sink: S, spool: bool, quarantine_prefix: &str) -> Box<dyn Outlet>
    where
        S: 'static,
    {
        Box::new(Self::new(sink, spool, quarantine_prefix))
    }

    async fn keep(&self, parcel: Parcel, landing: Landing<'_>) -> Result<Summary, SinkError> {
        let Some(quarantine) = landing.quarantine else {
            return Err(SinkError::Permanent {
                target: parcel.key,
                reason: "no quarantine store to keep it in".into(),
            });
        };
        quarantine.deliver(&parcel, landing).await
    }
}

impl<S: SearchSink> Outlet for SearchOutlet<S> {
    fn destination(&self) -> &'static str {
        SEARCH
    }

    fn deliver<'a>(&'a self, parcel: &'a Parcel, landing: Landing<'a>) -> Delivering<'a> {
        Box::pin(async move {
            let mut summary = Summary::default();
            let date = utc_date(landing.arrival_millis);
            match self.sink.bulk(parcel).await {
                Ok(d) => {
                    summary.documents_indexed = d.created;
                    summary.documents_already_present = d.already_present;
                    if !d.rejected.is_empty() {
                        tracing::warn!(request = %parcel.key, rejected = d.rejected.len(), "documents refused by the search engine: quarantined");
                        summary.documents_rejected = d.rejected.len();
                        let kept = search_rejected_object(&d.rejected, &self.quarantine_prefix, &date, &parcel.key);
                        summary += self.keep(kept, landing).await?;
                    }
                }
                Err(e) if self.spool => {
                    tracing::error!(error = %e, request = %parcel.key, "search mirror failed: bulk body spooled for replay");
                    let kept = search_spool_object(parcel, &self.quarantine_prefix, &date);
                    summary += self.keep(kept, landing).await?;
                    summary.documents_spooled = parcel.items;
                }
                Err(e) => return Err(e),
            }
            Ok(summary)
        })
    }
}
