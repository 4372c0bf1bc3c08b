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
            /// The counters of each output that keeps its own ([`OutputCounts`]: the billing platforms), by output;
            /// printed as `"outputs": {"<output>": {…}}` and absent when none ran.
            #[serde(skip_serializing_if = "PerOutput::is_empty")]
            pub outputs: PerOutput,
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
                self.outputs += o.outputs;
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

/// Declares [`OutputCounts`], the counters every output with counters of its own keeps, with its sum and the
/// list of its names, from one list.
macro_rules! output_counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// What one output did with a batch (or several).
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
        pub struct OutputCounts {
            $($(#[$doc])* pub $name: usize,)*
        }

        impl OutputCounts {
            /// Every counter's name, in the order of the fields.
            pub const COUNTERS: &[&str] = &[$(stringify!($name)),*];

            /// Every counter with its name, in the order of [`OutputCounts::COUNTERS`].
            pub fn counters(&self) -> Vec<(&'static str, usize)> {
                vec![$((stringify!($name), self.$name)),*]
            }
        }

        impl AddAssign for OutputCounts {
            fn add_assign(&mut self, o: Self) {
                $(self.$name += o.$name;)*
            }
        }
    };
}

output_counters! {
    /// Requests sent (each attempt of a retried request counts once).
    requests,
    /// Events the output took from this run.
    delivered,
    /// Events found delivered already: in the delivery ledger, or answered as duplicates by the output.
    already_delivered,
    /// Events the output refused for good (a 4xx other than a duplicate), quarantined with its answer.
    refused,
    /// Events that could not be sent to this output as they are (a value it cannot take), quarantined with the
    /// reason; the other outputs still got them.
    quarantined,
}

/// How many outputs a [`PerOutput`] holds: more than logmeter has.
const SLOTS: usize = 12;

/// Counters per output, for outputs that keep their own: a fixed table of slots, so a [`Summary`] stays a plain
/// value (`Copy`) that per-record plans and outlets add up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerOutput {
    slots: [Option<(&'static str, OutputCounts)>; SLOTS],
}

impl PerOutput {
    /// The counters of one output.
    pub fn of(output: &'static str, counts: OutputCounts) -> Self {
        let mut p = Self::default();
        p.add(output, counts);
        p
    }

    /// Adds `counts` to `output`'s.
    pub fn add(&mut self, output: &'static str, counts: OutputCounts) {
        for slot in &mut self.slots {
            match slot {
                Some((name, c)) if *name == output => {
                    *c += counts;
                    return;
                }
                None => {
                    *slot = Some((output, counts));
                    return;
                }
                Some(_) => {}
            }
        }
        // More outputs with counters than slots: a programming error the registration test catches; never lose
        // counts silently in a release build.
        debug_assert!(false, "more than {SLOTS} outputs keep counters");
        tracing::error!(output, "no slot left for this output's counters");
    }

    /// `output`'s counters (zero when it did nothing).
    pub fn get(&self, output: &str) -> OutputCounts {
        self.iter().find(|(n, _)| *n == output).map_or_else(OutputCounts::default, |(_, c)| c)
    }

    /// Each output with its counters, in the order they were first added.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, OutputCounts)> + '_ {
        self.slots.iter().flatten().copied()
    }

    /// Whether no output counted anything.
    pub fn is_empty(&self) -> bool {
        self.slots[0].is_none()
    }
}

impl AddAssign for PerOutput {
    fn add_assign(&mut self, o: Self) {
        o.iter().for_each(|(name, c)| self.add(name, c));
    }
}

impl Serialize for PerOutput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_per_output_counters_add_up_by_name() {
        let one = OutputCounts { requests: 1, delivered: 3, ..OutputCounts::default() };
        let mut a = Summary { outputs: PerOutput::of("stripe", one), ..Summary::default() };
        let b = Summary { kinesis_records: 2, outputs: PerOutput::of("metronome", one), ..Summary::default() };
        a += b;
        a += Summary { outputs: PerOutput::of("stripe", one), ..Summary::default() };
        assert_eq!(a.outputs.get("stripe"), OutputCounts { requests: 2, delivered: 6, ..OutputCounts::default() });
        assert_eq!(a.outputs.get("metronome"), one);
        assert_eq!(a.outputs.get("openmeter"), OutputCounts::default());
        let json = serde_json::to_value(a).unwrap();
        assert_eq!(json["outputs"]["stripe"]["delivered"], 6);
        assert_eq!(json["kinesis_records"], 2);
        assert!(serde_json::to_value(Summary::default()).unwrap().get("outputs").is_none(), "absent when none ran");
    }
}
