//! The Lambda handler, shared by the Lambda entry point and the CLI: plan the batch, hand each destination's
//! outlet the whole batch's parcels (the destinations at the same time), and answer with a Kinesis partial batch
//! response.
//!
//! Poison data never reaches `batchItemFailures`: it was quarantined while planning. Only a delivery that did not
//! happen (a sink error, or the deadline) is reported, as the lowest sequence number not fully delivered to every
//! destination; Lambda retries from there, and because every write is create-only and every outlet finds what an
//! earlier attempt delivered, nothing is delivered twice.

use crate::event::KinesisBatch;
use crate::output::{Consignment, Landing, Outlet, Shipped};
use crate::pipeline::{Pipeline, retry_point};
use crate::summary::Summary;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use tokio::time::Instant;

pub use crate::output::DEADLINE_MARGIN;

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

/// Plans batches and delivers each record's parcels through the outlet of their destination.
#[derive(Debug)]
pub struct Handler {
    pipeline: Pipeline,
    outlets: Vec<Box<dyn Outlet>>,
    /// Where outlets keep what they do not deliver.
    quarantine: std::sync::Arc<dyn crate::output::QuarantineStore>,
    lookup: Option<crate::sink::FunctionLookup>,
    /// What the lookup found, for the container's life; planning reads a snapshot of it.
    catalog: crate::catalog::Catalog,
}

impl Handler {
    /// A handler built once at cold start around `pipeline`, delivering through the outlets of `outputs` (the
    /// registration list's, [`crate::output::register`]; their encoders, if any are left in them, are not
    /// used: the pipeline has its own). A destination the pipeline encodes for but no outlet delivers is left out
    /// (the search mirror when no endpoint is configured). The quarantine store is the output that is one.
    pub fn new(pipeline: Pipeline, outputs: Vec<crate::output::Registered>) -> Self {
        let mut quarantine: std::sync::Arc<dyn crate::output::QuarantineStore> =
            std::sync::Arc::new(crate::output::NoQuarantine);
        let mut outlets = Vec::with_capacity(outputs.len());
        for output in outputs {
            if let Some(q) = output.quarantine {
                quarantine = q;
            }
            outlets.push(output.outlet);
        }
        Self { pipeline, outlets, quarantine, lookup: None, catalog: crate::catalog::Catalog::default() }
    }

    /// **The builder**: the handler over `stores`, every output of the registration list
    /// ([`crate::output::register`]) that has a store, its encoder in the pipeline and its outlet here.
    pub fn assemble<O, Q, S, M>(config: crate::PipelineConfig, stores: crate::output::Stores<O, Q, S, M>) -> Self
    where
        O: crate::sink::ObjectSink + 'static,
        Q: crate::sink::ObjectSink + 'static,
        S: crate::output::search::SearchSink + 'static,
        M: crate::output::prometheus::MetricsSink + 'static,
    {
        let mut outputs = crate::output::register(&config.outputs, stores);
        let encoders = outputs.iter_mut().filter_map(|o| o.encoder.take()).collect();
        Self::new(Pipeline::with_encoders(config, encoders), outputs)
    }

    /// The handler, looking up the configuration of each function it meets for the first time
    /// (`FUNCTION_METADATA_LOOKUP`) into its catalog, a snapshot of which each batch's planning reads.
    pub fn with_lookup(mut self, lookup: crate::sink::FunctionLookup) -> Self {
        self.lookup = Some(lookup);
        self
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// What this container has learned of the functions it met (`FUNCTION_METADATA_LOOKUP`); a caller that knows
    /// configurations beforehand may put them in.
    pub fn catalog(&self) -> &crate::catalog::Catalog {
        &self.catalog
    }

    /// Plans the batch (CPU work on all cores, tens of milliseconds for a full batch) off the async workers where
    /// the runtime has several (Lambda's, shared by concurrent invocations on Managed Instances), so no other
    /// invocation's I/O waits behind it; inline on a current-thread runtime (the CLI), which has no other work.
    fn plan(&self, batch: &KinesisBatch) -> Vec<crate::pipeline::RecordPlan> {
        let catalog = self.catalog.snapshot();
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(|| self.pipeline.plan_batch_with(&batch.records, &catalog))
        } else {
            self.pipeline.plan_batch_with(&batch.records, &catalog)
        }
    }

    /// Handles one invocation: every destination's outlet gets the batch at once, and a record is reported when
    /// any destination left some of it undelivered.
    pub async fn handle(&self, batch: &KinesisBatch, deadline: Option<Instant>) -> Outcome {
        let mut plans = self.plan(batch);
        if let Some(lookup) = &self.lookup {
            let rollups = &self.pipeline.config().outputs.rollup;
            let mut names: Vec<String> = plans.iter().filter_map(|p| p.function.clone()).collect();
            names.sort_unstable();
            names.dedup();
            // A function met for the first time: its configuration names its architecture and settings, so the
            // batch is planned again with it (once per function and container).
            let new: Vec<&String> = names.iter().filter(|n| !self.catalog.knows(n)).collect();
            if lookup.fill(&self.catalog, &names).await {
                // Derived figures never read the catalog (every container must write the same ones): a function
                // priced at another architecture than it runs on is named, for FUNCTION_ARCHITECTURES.
                for name in new {
                    let found = self.catalog.get(name).and_then(|c| c.architecture);
                    let priced = rollups.architectures.resolve(name, None);
                    if let Some(found) = found.filter(|f| *f != priced) {
                        tracing::warn!(
                            function = %name,
                            runs_on = found.as_str(),
                            priced_as = priced.as_str(),
                            "function priced at another architecture than it runs on: add {name}={} to FUNCTION_ARCHITECTURES",
                            found.as_str()
                        );
                    }
                }
                plans = self.plan(batch);
            }
        }
        let mut summary = Summary::default();
        for plan in &plans {
            summary += plan.summary;
        }
        let landing = Landing { quarantine: &*self.quarantine, deadline };
        let consignments: Vec<Vec<Consignment<'_>>> = self
            .outlets
            .iter()
            .map(|outlet| {
                plans
                    .iter()
                    .map(|plan| Consignment {
                        shard: &plan.shard,
                        sequence_number: &plan.sequence_number,
                        arrival_millis: plan.arrival_millis,
                        parcels: plan.parcels(outlet.destination()),
                    })
                    .collect()
            })
            .collect();
        let deliveries = self.outlets.iter().zip(&consignments).map(|(outlet, batch)| outlet.deliver(batch, landing));
        let shipped: Vec<Shipped> = futures_util::future::join_all(deliveries).await;
        let mut failed = vec![false; plans.len()];
        for s in shipped {
            summary += s.summary;
            failed.iter_mut().zip(s.failed).for_each(|(f, g)| *f |= g);
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
}
