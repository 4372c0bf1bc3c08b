//! The Lambda handler, shared by the Lambda entry point and the CLI: plan the batch, deliver record by record in
//! sequence order, and answer with a Kinesis partial batch response.
//!
//! Poison data never reaches `batchItemFailures`: it was quarantined while planning. Only a delivery that did not
//! happen (a sink error, or the deadline) is reported, as the lowest sequence number not yet delivered; Lambda
//! retries from there, and because every key and id is deterministic and writes are create-only, what the first
//! attempt delivered is not delivered twice.

use crate::destination::{Landing, Outlet, QUARANTINE};
use crate::event::KinesisBatch;
use crate::pipeline::{Pipeline, RecordPlan, retry_point};
use crate::sink::SinkError;
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

/// Plans batches and delivers each record's parcels through the outlet of their destination.
#[derive(Debug)]
pub struct Handler {
    pipeline: Pipeline,
    outlets: Vec<Box<dyn Outlet>>,
}

impl Handler {
    /// A handler built once at cold start: `outlets` are the configured destinations' (one per destination). A
    /// destination the pipeline encodes for but no outlet delivers is left out (the search mirror when no
    /// endpoint is configured).
    pub fn new(pipeline: Pipeline, outlets: Vec<Box<dyn Outlet>>) -> Self {
        Self { pipeline, outlets }
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    fn outlet(&self, destination: &str) -> Option<&dyn Outlet> {
        self.outlets.iter().find(|o| o.destination() == destination).map(|o| &**o)
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
        let landing = Landing { arrival_millis: plan.arrival_millis, quarantine: self.outlet(QUARANTINE) };
        for output in &plan.outputs {
            let Some(outlet) = self.outlet(output.destination) else {
                continue;
            };
            for parcel in &output.parcels {
                *summary += outlet.deliver(parcel, landing).await?;
            }
        }
        Ok(())
    }
}
