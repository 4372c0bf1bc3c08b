//! logmeter's integration tests: one binary, one module per concern.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is the failure report.

mod attribution;
mod backfill;
mod billing;
mod billing_fake;
mod cli;
mod delivery;
mod flow;
mod golden;
mod hostile;
mod iam;
mod layering;
mod logs;
mod prometheus;
mod props;
mod proxy;
mod reconcile;
mod replay;
mod reports;
mod retries;
mod rollups;
mod samples;
mod servers;
mod settings;
mod sim;
mod snippets;
mod support;
mod template;
