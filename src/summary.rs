//! Counters of one run: what the CLI prints and the Lambda logs.

use serde::Serialize;
use std::ops::AddAssign;

/// What happened to a batch (or several). Every Kinesis record, log event and tag occurrence lands in exactly
/// one of these counters' outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Kinesis records received.
    pub kinesis_records: usize,
    /// Payloads that were CloudWatch Logs health checks, dropped.
    pub control_messages: usize,
    /// Log events in data payloads.
    pub log_events: usize,
    /// Valid meter records extracted.
    pub meter_records: usize,
    /// Of those, records whose `uniqueId` logmeter derived.
    pub derived_unique_ids: usize,
    /// Invocation reports extracted.
    pub reports: usize,
    /// Web Functions' `platform.invokeSummary` and `platform.invokeReport` events: counted, never taken for
    /// invocations.
    pub web_function_summaries: usize,
    /// Quarantine entries (bad records, bad report lines, undecodable Kinesis records).
    pub quarantined: usize,
    /// Kinesis records that could not be decoded at all (also counted in `quarantined`).
    pub quarantined_kinesis_records: usize,
    /// Quarantine entries counted in `quarantined` but not listed one by one (past a record's bound; the whole
    /// record is kept for replay instead).
    pub quarantine_omitted: usize,
    /// Records left for the retry because the invocation's planned output passed `MAX_BATCH_OUTPUT_BYTES`.
    pub deferred_records: usize,
    /// Meter record objects delivered: written by this run or found already written.
    pub record_objects: usize,
    /// Quarantine objects delivered: written by this run or found already written.
    pub quarantine_objects: usize,
    /// Bulk requests sent (or spooled).
    pub bulk_requests: usize,
    /// Objects written by this run.
    pub objects_written: usize,
    /// Objects that an earlier attempt had already written (counted as delivered).
    pub objects_already_present: usize,
    /// Meter records an earlier attempt had already written into an object (batch layout), left out of this run's
    /// objects (counted as delivered).
    pub meter_records_already_present: usize,
    /// Metric documents indexed by this run.
    pub documents_indexed: usize,
    /// Metric documents that were already indexed (counted as delivered).
    pub documents_already_present: usize,
    /// Metric documents the search engine refused for good (mapping errors), quarantined with their error.
    pub documents_rejected: usize,
    /// Metric documents whose bulk body was spooled to the quarantine bucket because the mirror was down.
    pub documents_spooled: usize,
    /// Prometheus requests sent: remote write bodies or Pushgateway groups (spooled and refused ones included).
    pub prometheus_requests: usize,
    /// Prometheus samples the endpoint took.
    pub prometheus_samples: usize,
    /// Prometheus samples the endpoint refused for good (a 4xx, or outside its time bounds), quarantined with the
    /// answer.
    pub prometheus_samples_rejected: usize,
    /// Prometheus samples whose request was spooled to the quarantine bucket because the endpoint was down.
    pub prometheus_samples_spooled: usize,
    /// Entries in `batchItemFailures` (0 or 1: the lowest undelivered sequence number).
    pub batch_item_failures: usize,
    /// Compressed payload bytes.
    pub bytes_compressed: usize,
    /// Inflated payload bytes.
    pub bytes_inflated: usize,
}

impl AddAssign for Summary {
    fn add_assign(&mut self, o: Self) {
        self.kinesis_records += o.kinesis_records;
        self.control_messages += o.control_messages;
        self.log_events += o.log_events;
        self.meter_records += o.meter_records;
        self.derived_unique_ids += o.derived_unique_ids;
        self.reports += o.reports;
        self.web_function_summaries += o.web_function_summaries;
        self.quarantined += o.quarantined;
        self.quarantined_kinesis_records += o.quarantined_kinesis_records;
        self.quarantine_omitted += o.quarantine_omitted;
        self.deferred_records += o.deferred_records;
        self.record_objects += o.record_objects;
        self.quarantine_objects += o.quarantine_objects;
        self.bulk_requests += o.bulk_requests;
        self.objects_written += o.objects_written;
        self.objects_already_present += o.objects_already_present;
        self.meter_records_already_present += o.meter_records_already_present;
        self.documents_indexed += o.documents_indexed;
        self.documents_already_present += o.documents_already_present;
        self.documents_rejected += o.documents_rejected;
        self.documents_spooled += o.documents_spooled;
        self.prometheus_requests += o.prometheus_requests;
        self.prometheus_samples += o.prometheus_samples;
        self.prometheus_samples_rejected += o.prometheus_samples_rejected;
        self.prometheus_samples_spooled += o.prometheus_samples_spooled;
        self.batch_item_failures += o.batch_item_failures;
        self.bytes_compressed += o.bytes_compressed;
        self.bytes_inflated += o.bytes_inflated;
    }
}
