//! Counters of one run: what the CLI prints and the Lambda logs.

use serde::Serialize;
use std::ops::AddAssign;

/// Declares [`Summary`] with one `usize` counter per field, and derives from the same list its sum
/// ([`AddAssign`]) and the list of its counters' names ([`Summary::COUNTERS`]): a counter cannot be forgotten in
/// either.
macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// What happened to a batch (or several). Every Kinesis record, log event and tag occurrence lands in exactly
        /// one of these counters' outcomes.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
        pub struct Summary {
            $($(#[$doc])* pub $name: usize,)*
        }

        impl Summary {
            /// Every counter's name, in the order of the fields (and of the printed summary).
            pub const COUNTERS: &[&str] = &[$(stringify!($name)),*];

            /// Every counter with its name, in the order of [`Summary::COUNTERS`].
            pub fn counters(&self) -> Vec<(&'static str, usize)> {
                vec![$((stringify!($name), self.$name)),*]
            }
        }

        impl AddAssign for Summary {
            fn add_assign(&mut self, o: Self) {
                $(self.$name += o.$name;)*
            }
        }
    };
}

counters! {
    /// Kinesis records received.
    kinesis_records,
    /// Payloads that were CloudWatch Logs health checks, dropped.
    control_messages,
    /// Log events in data payloads.
    log_events,
    /// Valid meter records extracted.
    meter_records,
    /// Of those, records whose `uniqueId` logmeter derived.
    derived_unique_ids,
    /// Invocation reports extracted.
    reports,
    /// Web Functions' `platform.invokeSummary` and `platform.invokeReport` events: counted, never taken for
    /// invocations.
    web_function_summaries,
    /// Quarantine entries (bad records, bad report lines, undecodable Kinesis records).
    quarantined,
    /// Kinesis records that could not be decoded at all (also counted in `quarantined`).
    quarantined_kinesis_records,
    /// Quarantine entries counted in `quarantined` but not listed one by one (past a record's bound; the whole
    /// record is kept for replay instead).
    quarantine_omitted,
    /// Records left for the retry because the invocation's planned output passed `MAX_BATCH_OUTPUT_BYTES`.
    deferred_records,
    /// Meter record objects delivered: written by this run or found already written.
    record_objects,
    /// Quarantine objects delivered: written by this run or found already written.
    quarantine_objects,
    /// Bulk requests sent (or spooled).
    bulk_requests,
    /// Objects written by this run.
    objects_written,
    /// Objects that an earlier attempt had already written (counted as delivered).
    objects_already_present,
    /// Meter records an earlier attempt had already written into an object (batch layout), left out of this run's
    /// objects (counted as delivered).
    meter_records_already_present,
    /// Metric documents indexed by this run.
    documents_indexed,
    /// Metric documents that were already indexed (counted as delivered).
    documents_already_present,
    /// Metric documents the search engine refused for good (mapping errors), quarantined with their error.
    documents_rejected,
    /// Metric documents whose bulk body was spooled to the quarantine bucket because the mirror was down.
    documents_spooled,
    /// Prometheus requests sent: remote write bodies or Pushgateway groups (spooled and refused ones included).
    prometheus_requests,
    /// Prometheus samples the endpoint took.
    prometheus_samples,
    /// Prometheus samples the endpoint refused for good (a 4xx, or outside its time bounds), quarantined with the
    /// answer.
    prometheus_samples_rejected,
    /// Prometheus samples whose request was spooled to the quarantine bucket because the endpoint was down.
    prometheus_samples_spooled,
    /// Entries in `batchItemFailures` (0 or 1: the lowest undelivered sequence number).
    batch_item_failures,
    /// Deliveries refused by an access error (a missing IAM grant, a bucket policy, bad credentials): each is
    /// logged with the action and resource, and its record is reported for retry.
    access_denied,
    /// Compressed payload bytes.
    bytes_compressed,
    /// Inflated payload bytes.
    bytes_inflated,
}
