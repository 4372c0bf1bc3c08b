//! Deterministic generator of realistic Lambda Kinesis events, with their ground truth.
//!
//! The committed samples (`samples/events/*.json`) are this generator's output, and a test checks they still
//! are. Every meter record, report and bad line the generator writes is also recorded in a [`Truth`], so tests can
//! check extraction value by value, not only by count. Regenerate with `logmeter generate-samples`.

mod invocation;
mod json_style;
mod margins;
mod records;
mod rng;

pub use margins::{ExpectedMargin, PRICE_BOOK};
pub use rng::Rng;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// File stem under `samples/events/`.
    pub name: &'static str,
    /// Seed of the generator.
    pub seed: u64,
    /// Stop adding data records once the event JSON reaches this many bytes.
    pub max_event_bytes: usize,
    /// Upper bound on data records.
    pub max_data_records: usize,
    /// Log events per data record (a range).
    pub events_per_record: (u64, u64),
    /// Whether an invocation's events are spread over records of `events_per_record` each (a sparse stream), or
    /// records hold whole invocations until they have at least that many.
    pub split_invocations: bool,
    /// Control messages to include.
    pub control_messages: usize,
    /// Whether to include undecodable records (not gzip, truncated, bad JSON, over the inflate cap).
    pub corrupt_records: bool,
    /// Percent of invocations that log a bad meter line.
    pub bad_line_percent: u64,
    /// Whether Python functions also `print` meter lines (no request id on the line); without, they log every
    /// meter line through `logging`, which prefixes the request id.
    pub print_lines: bool,
    /// Days the records spread over: the clock moves a day on after each share of the records (1: no jump).
    pub days: u32,
    /// Percent of cold starts whose init phase fails first (0: none, and no randomness drawn for it).
    pub init_failure_percent: u64,
    /// When the log starts, epoch ms (the samples' 2026-11-19 23:40 UTC by default).
    pub start_ms: Option<i64>,
}

/// The small sample: a handful of records to read by eye.
pub fn small() -> Spec {
    Spec {
        name: "small",
        seed: 7,
        max_event_bytes: 64 << 10,
        max_data_records: 8,
        events_per_record: (12, 30),
        split_invocations: false,
        control_messages: 1,
        corrupt_records: true,
        bad_line_percent: 25,
        print_lines: true,
        days: 1,
        init_failure_percent: 0,
        start_ms: None,
    }
}

/// The large sample: near the 6 MB Lambda payload limit.
pub fn large() -> Spec {
    Spec {
        name: "large",
        seed: 20_261_120,
        max_event_bytes: 5_900_000,
        max_data_records: 10_000,
        events_per_record: (150, 450),
        split_invocations: false,
        control_messages: 3,
        corrupt_records: true,
        bad_line_percent: 2,
        print_lines: true,
        days: 1,
        init_failure_percent: 0,
        start_ms: None,
    }
}

/// The sparse sample: a busy-but-sparse second, about 500 records of 1–3 log events each, as CloudWatch Logs
/// delivers them when every log stream flushes a few lines at a time.
pub fn sparse() -> Spec {
    Spec {
        name: "sparse",
        seed: 20_261_206,
        max_event_bytes: 5_900_000,
        max_data_records: 500,
        events_per_record: (1, 3),
        split_invocations: true,
        control_messages: 0,
        corrupt_records: false,
        bad_line_percent: 0,
        print_lines: true,
        days: 1,
        init_failure_percent: 0,
        start_ms: None,
    }
}

/// The reconciliation sample: about a third of the invocations log no meter line, every meter line names its
/// request id, and invocations are spread over records of one to a few events, so a meter line and its REPORT
/// often arrive in different records (and, cut into batches, in different batches).
pub fn reconcile() -> Spec {
    Spec {
        name: "reconcile",
        seed: 20_261_207,
        max_event_bytes: 5_900_000,
        max_data_records: 1_500,
        events_per_record: (2, 6),
        split_invocations: true,
        control_messages: 0,
        corrupt_records: false,
        bad_line_percent: 0,
        print_lines: false,
        days: 1,
        init_failure_percent: 0,
        start_ms: None,
    }
}

/// The margin sample: the reconciliation sample's shape over six days of October 2026 (from the 5th, 12:00 UTC), so
/// each customer's usage, cost and margin run over several days, the monthly allowances and tiers are crossed on
/// some day, and its days are none of the other samples'.
pub fn margins() -> Spec {
    Spec {
        name: "margins",
        seed: 20_261_208,
        max_data_records: 1_200,
        days: 6,
        init_failure_percent: 15,
        start_ms: Some(1_791_201_600_000),
        ..reconcile()
    }
}

/// Counters the pipeline must reproduce (same names as [`crate::Summary`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Kinesis records.
    pub kinesis_records: usize,
    /// Control messages.
    pub control_messages: usize,
    /// Log events in data messages.
    pub log_events: usize,
    /// Valid meter records.
    pub meter_records: usize,
    /// Valid meter records logged without `uniqueId`.
    pub derived_unique_ids: usize,
    /// Invocation reports.
    pub reports: usize,
    /// Quarantine entries.
    pub quarantined: usize,
    /// Undecodable Kinesis records.
    pub quarantined_kinesis_records: usize,
}

/// An invocation report as the generator wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectedReport {
    /// Request id.
    pub request_id: String,
    /// Function name.
    pub function_name: String,
    /// Function version.
    pub function_version: String,
    /// Duration.
    pub duration_ms: Option<f64>,
    /// Billed duration.
    pub billed_duration_ms: Option<u64>,
    /// Memory size.
    pub memory_size_mb: Option<u64>,
    /// Max memory used.
    pub max_memory_used_mb: Option<u64>,
    /// Init duration (cold starts).
    pub init_duration_ms: Option<f64>,
    /// Restore duration (SnapStart).
    pub restore_duration_ms: Option<f64>,
    /// Billed restore duration (SnapStart).
    pub billed_restore_duration_ms: Option<u64>,
    /// `success`, `error`, `failure` or `timeout`.
    pub status: String,
    /// Error type.
    pub error_type: Option<String>,
    /// X-Ray trace id.
    pub trace_id: Option<String>,
    /// The `customerId` of each valid meter record the invocation logged (none: it did not meter).
    #[serde(default)]
    pub customers: Vec<String>,
}

/// Everything the generator put in a sample.
#[derive(Debug, Clone, Default)]
pub struct Truth {
    /// Counters.
    pub counts: Counts,
    /// Valid meter records as the application meant them, in log order.
    pub meters: Vec<Value>,
    /// Reports, in log order.
    pub reports: Vec<ExpectedReport>,
    /// What each quarantine entry is (a short label per bad line or record).
    pub bad: Vec<&'static str>,
    /// Init phases that failed: function, phase (`init`, `invoke`) and status (`error`, `timeout`).
    pub init_failures: Vec<(String, String, String)>,
}

/// A generated event and its truth.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The Lambda Kinesis event JSON.
    pub event: String,
    /// What it contains.
    pub truth: Truth,
}

/// Generates a sample.
pub fn generate(spec: &Spec) -> Sample {
    records::build(spec)
}

/// The files `write_samples` produces: `(relative path, contents)`.
pub fn sample_files() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for spec in [small(), large(), sparse()] {
        let s = generate(&spec);
        let mut truth = serde_json::to_vec_pretty(&s.truth.counts).unwrap_or_default();
        truth.push(b'\n');
        files.push((format!("events/{}.json", spec.name), s.event.into_bytes()));
        files.push((format!("events/{}.truth.json", spec.name), truth));
    }
    files.push(("price-book.json".to_owned(), PRICE_BOOK.as_bytes().to_vec()));
    files
}

/// Writes the generated samples under `dir` (`dir/events/…`).
pub fn write_samples(dir: &Path) -> std::io::Result<()> {
    for (rel, bytes) in sample_files() {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
