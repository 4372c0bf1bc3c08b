//! The search mirror: each invocation report as a metric document ([`ReportEncoder`]), rollup and
//! reconciliation documents and, with `SEARCH_METER_RECORDS`, each meter record as a document, as `create` actions
//! with deterministic ids.
//! The encoder yields each record's actions; the outlet packs a whole batch's into bulk bodies bounded by
//! `BULK_MAX_BYTES` / `BULK_MAX_ACTIONS` ([`crate::plan::pack_bodies`]), so a batch costs one bulk request, not
//! one per record. A re-delivered document answers 409 on `create` and counts as already present, whatever body
//! it came in.
//!
//! Failure policy: documents the engine refuses for good (mapping errors) go to the quarantine store with their
//! error; when the mirror is down after its retries, the body is spooled to the quarantine store
//! (`SEARCH_FAILURE_MODE=spool`, the default) or the record is retried (`retry`).

/// `event.dataset` of invocation documents, the one literal the writer ([`invocation_docs::ReportEncoder`]) and the
/// readers ([`reconcile_docs`]) build their constants from.
macro_rules! report_dataset {
    () => {
        "aws.lambda.report"
    };
}

pub mod client;
mod invocation_docs;
mod local;
mod mapping;
pub mod memory;
mod meter_docs;
pub mod reconcile_docs;
mod rollup_docs;
mod settings;
mod spool;
pub mod template;

pub use client::SearchMirror;
pub use invocation_docs::ReportEncoder;
pub use local::BULK_DIR;
pub use settings::{IdMode, SETTINGS, SearchAuth, SearchConfig, Settings};
pub use spool::{RejectedDocument, search_rejected_object, search_spool_object};

use super::{
    BatchFragments, Boxed, Consignment, Encoder, Landing, Outlet, Packed, Parcel, RecordValues, SEARCH, Shipped,
    keep_in_quarantine, send_packed,
};
use crate::plan::rollup::RollupSettings;
use crate::plan::{BulkEncoder, REPORT_DOCUMENT_BYTES, pack_bodies, utc_date};
use crate::sink::SinkError;
use crate::summary::Summary;
use meter_docs::encode_meter_records;

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

/// Where bulk requests go (Elasticsearch/OpenSearch in production, NDJSON files locally).
pub trait SearchSink: Send + Sync + std::fmt::Debug {
    /// Sends one bulk request (its key is the request's name).
    fn bulk(&self, request: &Parcel) -> impl std::future::Future<Output = Result<BulkDelivery, SinkError>> + Send;
}

/// A shared sink (tests keep a handle to look inside).
impl<T: SearchSink> SearchSink for std::sync::Arc<T> {
    fn bulk(&self, request: &Parcel) -> impl std::future::Future<Output = Result<BulkDelivery, SinkError>> + Send {
        T::bulk(self, request)
    }
}

/// Encodes reports (and meter records) into bulk bodies.
#[derive(Debug, Clone)]
pub struct SearchEncoder {
    index_pattern: String,
    invocation_docs: bool,
    /// The rollup index pattern, when rollup documents are written.
    rollup_pattern: Option<String>,
    meter_index_pattern: Option<String>,
    /// The reconciliation index pattern, when those documents are written.
    reconcile_pattern: Option<String>,
    /// The rollup settings: windows, and the prices (and architectures) every cost is taken at.
    settings: RollupSettings,
}

impl SearchEncoder {
    /// The encoder `settings` describe, pricing and grouping with `rollup`.
    pub fn new(settings: &Settings, rollup: &RollupSettings) -> Self {
        Self {
            index_pattern: settings.index_pattern.clone(),
            invocation_docs: settings.invocation_docs,
            rollup_pattern: settings.rollups.then(|| settings.rollup_index_pattern.clone()),
            meter_index_pattern: settings.meter_records.then(|| settings.meter_index_pattern.clone()),
            reconcile_pattern: settings.reconcile_docs.then(|| settings.reconcile_index_pattern.clone()),
            settings: rollup.clone(),
        }
    }
}

impl Encoder for SearchEncoder {
    fn destination(&self) -> &'static str {
        SEARCH
    }

    fn encode(&self, values: &RecordValues<'_>, out: &mut Vec<Parcel>) {
        // One fragment for the record; the outlet packs the batch's into bodies.
        let mut bulk = BulkEncoder::new(values.shard, values.seq_key);
        if self.invocation_docs && !values.reports.is_empty() {
            let mut encoder = ReportEncoder::new(values.sources, &self.index_pattern);
            bulk.reserve(values.reports.len() * REPORT_DOCUMENT_BYTES);
            let (settings, arch) = (&self.settings, crate::plan::rollup::function_info(values, &self.settings).arch);
            for found in values.reports {
                let region = values.source_of(found.source).region;
                let cost = crate::plan::rollup::invocation_cost(settings, region, arch, &found.report).ok();
                encoder.push(found, cost, &mut bulk);
            }
        }
        if let Some(pattern) = &self.rollup_pattern {
            rollup_docs::encode_rollups(values, &self.settings, pattern, &mut bulk);
        }
        if let Some(pattern) = &self.meter_index_pattern {
            encode_meter_records(values.meters, pattern, &mut bulk);
        }
        if let Some(pattern) = &self.reconcile_pattern {
            reconcile_docs::encode_reconcile(values, &self.settings, pattern, &mut bulk);
        }
        out.extend(bulk.finish());
    }
}

/// Bulk bodies sent at the same time.
pub const BULK_CONCURRENCY: usize = 4;

/// Packs a batch's actions into bulk bodies, sends them to a [`SearchSink`] and applies the mirror's failure
/// policy to each.
#[derive(Debug)]
pub struct SearchOutlet<S> {
    sink: S,
    spool: bool,
    quarantine_prefix: String,
    max_bytes: usize,
    max_actions: usize,
}

impl<S: SearchSink> SearchOutlet<S> {
    /// An outlet over `sink` with `settings`' bounds (`BULK_MAX_BYTES`, `BULK_MAX_ACTIONS`). With `spool`, a body
    /// the mirror cannot take after its retries is kept in the quarantine store under `QUARANTINE_PREFIX` and its
    /// records count as delivered; without, they are retried.
    pub fn new(settings: &super::Settings, sink: S, spool: bool) -> Self {
        Self {
            sink,
            spool,
            quarantine_prefix: settings.quarantine.prefix.clone(),
            max_bytes: settings.search.bulk_max_bytes,
            max_actions: settings.search.bulk_max_actions,
        }
    }

    /// Boxed, for the handler's list.
    pub fn boxed(settings: &super::Settings, sink: S, spool: bool) -> Box<dyn Outlet>
    where
        S: 'static,
    {
        Box::new(Self::new(settings, sink, spool))
    }

    /// Sends one body; `Err` when its records must be retried.
    async fn body(&self, packed: &Packed, arrival_millis: i64, landing: Landing<'_>) -> Result<Summary, SinkError> {
        let parcel = &packed.parcel;
        let mut summary = Summary { bulk_requests: 1, ..Summary::default() };
        if landing.too_late() {
            return Err(SinkError::Transient { target: parcel.key.clone(), reason: "deadline near".into() });
        }
        let date = utc_date(arrival_millis);
        match self.sink.bulk(parcel).await {
            Ok(d) => {
                summary.documents_indexed = d.created;
                summary.documents_already_present = d.already_present;
                if !d.rejected.is_empty() {
                    tracing::warn!(request = %parcel.key, rejected = d.rejected.len(), "documents refused by the search engine: quarantined");
                    summary.documents_rejected = d.rejected.len();
                    let kept = search_rejected_object(&d.rejected, &self.quarantine_prefix, &date, &parcel.key);
                    summary += keep_in_quarantine(kept, landing).await?;
                }
            }
            Err(e) if self.spool => {
                super::delivery_failed(&e, &format!("bulk body {} spooled for replay", parcel.key), &mut summary);
                let kept = search_spool_object(parcel, &self.quarantine_prefix, &date);
                summary += keep_in_quarantine(kept, landing).await?;
                summary.documents_spooled = parcel.items;
            }
            Err(e) => return Err(e),
        }
        Ok(summary)
    }
}

impl<S: SearchSink> Outlet for SearchOutlet<S> {
    fn destination(&self) -> &'static str {
        SEARCH
    }

    fn deliver<'a>(&'a self, batch: &'a [Consignment<'a>], landing: Landing<'a>) -> Boxed<'a, Shipped> {
        Box::pin(async move {
            let named = BatchFragments::new(batch);
            let fragments = named.list();
            let bodies = pack_bodies(named.shard(), &fragments, self.max_bytes, self.max_actions);
            let send = |b: Packed| async move {
                let result = self.body(&b, batch[b.records[0]].arrival_millis, landing).await;
                (b, result)
            };
            send_packed(bodies, batch.len(), BULK_CONCURRENCY, send).await
        })
    }
}

/// The search mirror as the registration list holds it: its encoder, and its outlet over `sink` (spooling bodies
/// through an outage when `spool`).
pub fn register<S: SearchSink + 'static>(settings: &super::Settings, sink: S, spool: bool) -> super::Registered {
    super::Registered {
        encoder: Some(Box::new(SearchEncoder::new(&settings.search, &settings.rollup))),
        outlet: SearchOutlet::boxed(settings, sink, spool),
        quarantine: None,
    }
}
