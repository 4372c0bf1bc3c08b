//! logmeter turns CloudWatch Logs, delivered through Kinesis, into billing data and invocation metrics.
//!
//! The data flow, one module per step:
//! - [`event`]: the Lambda Kinesis event, read leniently;
//! - [`decode`]: base64, gzip (every member, capped) and the CloudWatch Logs payload;
//! - [`extract`]: tagged meter records, text `REPORT` lines and JSON `platform.report` events;
//! - [`destination`]: each output's encoder (values to parcels) and outlet (delivery and failure policy);
//! - [`plan`]: the bodies and keys the encoders write: S3 objects, metric documents, bulk bodies;
//! - [`pipeline`]: the steps above for one record, and for a batch on all cores;
//! - [`sink`]: the stores outlets deliver to (S3, search, a directory); [`handler`]: delivery and the partial
//!   batch response.
//!
//! [`decode`], [`extract`] and [`ids`] live in the `logmeter-core` crate (`crates/core`), whose dependency tree
//! has no async runtime, HTTP stack or AWS SDK: their purity is the compiler's to keep. [`plan`], [`pipeline`] and
//! the encoders are pure by convention (no clock, no randomness, no I/O); only [`sink`] and the entry points do I/O.

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

pub use config::{IngestLayout, PipelineConfig};
pub use event::KinesisBatch;
pub use handler::{Handler, Outcome};
pub use pipeline::Pipeline;
pub use summary::Summary;
