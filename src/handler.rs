//! The Lambda handler, shared by the Lambda entry point and the CLI: plan the batch, deliver record by record in
//! sequence order, and answer with a Kinesis partial batch response.
//!
//! Poison data never reaches `batchItemFailures`: it was quarantined while planning. Only a delivery that did not
//! happen (a sink error, or the deadline) is reported, as the lowest sequence number not yet delivered; Lambda
//! retries from there, and because every key and id is deterministic and writes are create-only, what the first
//! attempt delivered is not delivered twice.

use crate::event::KinesisBatch;
use crate::pipeline::{Pipeline, RecordPlan};
use crate::sink::{Delivery, ObjectSink, SearchSink, SinkError};
use crate::summary::Summary;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use std::time::{Duration, Instant};

/// The answer to one invocation.
#[derive(Debug)]
pub struct Outcome {
    /// The partial batch response for Lambda.
    pub response: KinesisEventResponse,
    /// What happened.
    pub summary: Summary,
}

/// Time kept in hand before the Lambda deadline: delivery stops when less than this is left.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// Plans and delivers batches through an object sink and, optionally, a search sink.
#[derive(Debug)]
pub struct Handler<O, S> {
    pipeline: Pipeline,
    objects: O,
    search: Option<S>,
}

impl<O: ObjectSink, S: SearchSink> Handler<O, S> {
    /// A handler built once at cold start.
    pub fn new(pipeline: Pipeline, objects: O, search: Option<S>) -> Self {
        Self {
            pipeline,
            objects,
            search,
        }
    }

    /// The object sink.
    pub fn objects(&self) -> &O {
        &self.objects
    }

    /// The search sink, when the mirror is enabled.
    pub fn search(&self) -> Option<&S> {
        self.search.as_ref()
    }

    /// Handles one invocation. `deadline` is the Lambda deadline, if any.
    pub async fn handle(&self, batch: &KinesisBatch, deadline: Option<Instant>) -> Outcome {
        let plans = self.pipeline.plan_batch(&batch.records);
        let mut summary = Summary::default();
        let mut failed: Option<&RecordPlan> = None;
        for plan in &plans {
            summary += plan.summary;
            if failed.is_some() {
                continue;
            }
            if deadline
                .is_some_and(|d| d.saturating_duration_since(Instant::now()) < DEADLINE_MARGIN)
            {
                tracing::warn!(sequence_number = %plan.sequence_number, "deadline near: stopping, the rest is reported for retry");
                failed = Some(plan);
                continue;
            }
            if let Err(e) = self.deliver(plan, &mut summary).await {
                tracing::error!(error = %e, shard = %plan.shard, sequence_number = %plan.sequence_number, "delivery failed: reported for retry");
                failed = Some(plan);
            }
        }
        let mut response = KinesisEventResponse::default();
        if let Some(plan) = failed {
            let mut item = KinesisBatchItemFailure::default();
            item.item_identifier = Some(plan.sequence_number.clone());
            response.batch_item_failures.push(item);
            summary.batch_item_failures = 1;
        }
        Outcome { response, summary }
    }

    async fn deliver(&self, plan: &RecordPlan, summary: &mut Summary) -> Result<(), SinkError> {
        for object in &plan.objects {
            match self.objects.put(object).await? {
                Delivery::Written => summary.objects_written += 1,
                Delivery::AlreadyPresent => summary.objects_already_present += 1,
            }
        }
        if let Some(search) = &self.search {
            for request in &plan.bulk {
                let d = search.bulk(request).await?;
                summary.documents_indexed += d.created;
                summary.documents_already_present += d.already_present;
            }
        }
        Ok(())
    }
}
