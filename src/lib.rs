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
//! Everything before [`sink`] is pure: no clock, no randomness, no I/O.

#![forbid(unsafe_code)]

pub mod aws;
pub mod backfill;
pub mod catalog;
pub mod config;
pub mod cost;
pub mod decode;
pub mod destination;
pub mod emit;
pub mod event;
pub mod extract;
pub mod handler;
pub mod ids;
pub mod pipeline;
pub mod plan;
pub mod reconcile;
pub mod replay;
pub mod samplegen;
pub mod sink;
pub mod startup;
pub mod summary;
pub mod telemetry;

pub use config::{IngestLayout, PipelineConfig};
pub use event::KinesisBatch;
pub use handler::{Handler, Outcome};
pub use pipeline::Pipeline;
pub use summary::Summary;
