//! The Lambda handler, shared by the Lambda entry point and the CLI: plan the batch, deliver record by record in
//! sequence order, and answer with a Kinesis partial batch response.
//!
//! Poison data never reaches `batchItemFailures`: it was quarantined while planning. Only a delivery that did not
//! happen (a sink error, or the deadline) is reported, as the lowest sequence number not yet delivered; Lambda
//! retries from there, and because every key and id is deterministic and writes are create-only, what the first
//! attempt delivered is not delivered twice.

use crate::event::KinesisBatch;
use crate::pipeline::{Pipeline, RecordPlan, retry_point};
use crate::plan::{PlannedObject, search_rejected_object, search_spool_object, utc_date};
use crate::sink::{Delivery, ObjectSink, SearchSink, SinkError};
use crate::summary::Summary;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// The answer to one invocation.
#[derive(Debug)]
pub struct Outcome {
    /// The partial batch response for Lambda.
    pub response: KinesisEventResponse,
    /// Records at the end of the batch left unplanned for the retry (`MAX_BATCH_OUTPUT_BYTES`), when every planned
    /// record was delivered: the caller may hand them in again at once, as Lambda's retry would.
    pub deferred_only: usize,
    /// What happened.
    pub summary: Summary,
}

/// Records delivered at the same time.
pub const DELIVERY_CONCURRENCY: usize = 16;

/// Time kept in hand before the Lambda deadline: delivery stops when less than this is left.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// Plans and delivers batches through an object sink and, optionally, a search sink.
#[derive(Debug)]
pub struct Handler<O, S> {
    pipeline: Pipeline,
    objects: O,
    search: Option<S>,
    spool_search: bool,
}

impl<O: ObjectSink, S: SearchSink> Handler<O, S> {
    /// A handler built once at cold start.
    pub fn new(pipeline: Pipeline, objects: O, search: Option<S>) -> Self {
        Self { pipeline, objects, search, spool_search: false }
    }

    /// When the mirror fails after its retries, spool the bulk body to the quarantine prefix and carry on
    /// (`true`, the Lambda's default) instead of reporting the record for retry.
    pub fn with_search_spool(mut self, spool: bool) -> Self {
        self.spool_search = spool;
        self
    }

    /// The object sink.
    pub fn objects(&self) -> &O {
        &self.objects
    }

    /// The search sink, when the mirror is enabled.
    pub fn search(&self) -> Option<&S> {
        self.search.as_ref()
    }

    /// Handles one invocation.
    ///
    /// Records are delivered up to [`DELIVERY_CONCURRENCY`] at a time. Keys are per record and writes create-only,
    /// so a record delivered after one that failed is simply found again on the retry.
    pub async fn handle(&self, batch: &KinesisBatch, deadline: Option<Instant>) -> Outcome {
        let plans = self.pipeline.plan_batch(&batch.records);
        let mut summary = Summary::default();
        for plan in &plans {
            summary += plan.summary;
        }
        // The futures are made first (they start only when polled): a stream holding a closure over borrowed plans
        // would not prove `Send` for every lifetime, which concurrent invocations need (rust-lang/rust#102211).
        let deliveries: Vec<_> = plans.iter().map(|plan| self.deliver_record(plan, deadline)).collect();
        let results: Vec<(Result<(), ()>, Summary)> =
            futures_util::stream::iter(deliveries).buffered(DELIVERY_CONCURRENCY).collect().await;
        let mut failed = Vec::with_capacity(plans.len());
        for (result, delivered) in results {
            summary += delivered;
            failed.push(result.is_err());
        }
        if plans.len() < batch.records.len() {
            summary.deferred_records = batch.records.len() - plans.len();
            tracing::warn!(
                deferred = summary.deferred_records,
                "the batch's planned output passed MAX_BATCH_OUTPUT_BYTES: the rest is left for the retry"
            );
        }
        let deferred_only = if failed.contains(&true) { 0 } else { batch.records.len() - plans.len() };
        let mut response = KinesisEventResponse::default();
        if let Some(sequence) = retry_point(&batch.records, &failed) {
            let mut item = KinesisBatchItemFailure::default();
            item.item_identifier = Some(sequence);
            response.batch_item_failures.push(item);
            summary.batch_item_failures = 1;
        }
        Outcome { response, deferred_only, summary }
    }

    /// Delivers one record's plan unless the deadline is near; what was delivered is counted either way. (A
    /// method, not a closure, so the future is `Send` for every lifetime, as concurrent invocations need.)
    async fn deliver_record(&self, plan: &RecordPlan, deadline: Option<Instant>) -> (Result<(), ()>, Summary) {
        let mut delivered = Summary::default();
        if deadline.is_some_and(|d| d.saturating_duration_since(Instant::now()) < DEADLINE_MARGIN) {
            tracing::warn!(sequence_number = %plan.sequence_number, "deadline near: not delivered, reported for retry");
            return (Err(()), delivered);
        }
        match self.deliver(plan, &mut delivered).await {
            Ok(()) => (Ok(()), delivered),
            Err(e) => {
                tracing::error!(error = %e, shard = %plan.shard, sequence_number = %plan.sequence_number, "delivery failed: reported for retry");
                (Err(()), delivered)
            }
        }
    }

    async fn deliver(&self, plan: &RecordPlan, summary: &mut Summary) -> Result<(), SinkError> {
        for object in &plan.objects {
            self.put(object, summary).await?;
        }
        let Some(search) = &self.search else {
            return Ok(());
        };
        let prefix = &self.pipeline.config().quarantine_prefix;
        let date = utc_date(plan.arrival_millis);
        for request in &plan.bulk {
            match search.bulk(request).await {
                Ok(d) => {
                    summary.documents_indexed += d.created;
                    summary.documents_already_present += d.already_present;
                    if !d.rejected.is_empty() {
                        tracing::warn!(request = %request.name, rejected = d.rejected.len(), "documents refused by the search engine: quarantined");
                        summary.documents_rejected += d.rejected.len();
                        self.put(&search_rejected_object(&d.rejected, prefix, &date, &request.name), summary).await?;
                    }
                }
                Err(e) if self.spool_search => {
                    tracing::error!(error = %e, request = %request.name, "search mirror failed: bulk body spooled for replay");
                    self.put(&search_spool_object(request, prefix, &date), summary).await?;
                    summary.documents_spooled += request.actions;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn put(&self, object: &PlannedObject, summary: &mut Summary) -> Result<(), SinkError> {
        match self.objects.put(object).await? {
            Delivery::Written => summary.objects_written += 1,
            Delivery::AlreadyPresent => summary.objects_already_present += 1,
        }
        Ok(())
    }
}
