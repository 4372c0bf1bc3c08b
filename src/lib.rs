//! logmeter turns CloudWatch Logs, delivered through Kinesis, into billing data and invocation metrics.
//!
//! The data flow, one module per step:
//! - [`event`]: the Lambda Kinesis event, read leniently;
//! - [`decode`]: base64, gzip (every member, capped) and the CloudWatch Logs payload;
//! - [`extract`]: tagged meter records, text `REPORT` lines and JSON `platform.report` events;
//! - [`plan`]: what every output builds on: a record's values, object keys, bulk packing, rollups;
//! - [`output`]: one folder per output (ingest objects, quarantine, search mirror, Prometheus), each with its
//!   settings, encoder (values to parcels), outlet (delivery and failure policy) and client;
//! - [`pipeline`]: the steps above for one record, and for a batch on all cores;
//! - [`sink`]: the stores and transports outputs share (S3, a directory, HTTP); [`handler`]: delivery and the
//!   partial batch response.
//!
//! [`decode`], [`extract`] and [`ids`] live in the `logmeter-core` crate (`crates/core`), whose dependency tree
//! has no async runtime, HTTP stack or AWS SDK: their purity is the compiler's to keep. [`plan`], [`pipeline`] and
//! the encoders are pure by convention (no clock, no randomness, no I/O); only outlets, clients, [`sink`] and the
//! entry points do I/O.

#![forbid(unsafe_code)]

pub mod aws;
pub mod backfill;
pub mod catalog;
pub mod config;
pub mod cost;
pub mod emit;
pub mod event;
pub mod handler;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod reconcile;
pub mod replay;
pub mod samplegen;
pub mod sink;
pub mod startup;
pub mod summary;
pub mod telemetry;

pub use logmeter_core::{decode, extract, ids};

pub use event::KinesisBatch;
pub use handler::{Handler, Outcome};
pub use output::ingest::IngestLayout;
pub use pipeline::Pipeline;
pub use pipeline::PipelineConfig;
pub use summary::Summary;
