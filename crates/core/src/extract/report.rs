//! The invocation report model shared by the text and JSON log formats.

use serde::Serialize;
use std::borrow::Cow;

/// How an invocation ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Ended normally (text lines carry no `Status`).
    #[default]
    Success,
    /// The function returned or threw an error (`Status: error`).
    Error,
    /// The runtime or platform failed (`failure`, JSON format only).
    Failure,
    /// The invocation timed out.
    Timeout,
}

impl ReportStatus {
    /// The status as documents name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Failure => "failure",
            Self::Timeout => "timeout",
        }
    }

    /// Parses a status word, case-insensitively; `None` for words Lambda does not write.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        [("success", Self::Success), ("error", Self::Error), ("failure", Self::Failure), ("timeout", Self::Timeout)]
            .into_iter()
            .find_map(|(w, st)| w.eq_ignore_ascii_case(s).then_some(st))
    }
}

/// Which log format carried the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// A text `REPORT RequestId: …` line.
    Text,
    /// A JSON `platform.report` event.
    Json,
}

impl ReportFormat {
    /// The format as documents name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

/// The longest duration a report may carry, in ms: a day (an invocation runs at most 15 minutes).
pub const MAX_DURATION_MS: u64 = 86_400_000;

/// The largest memory size a report may carry, in MB: 1 TiB (Lambda offers up to 10,240 MB).
pub const MAX_MEMORY_MB: u64 = 1 << 20;

/// What a figure measures: its unit, and the largest value Lambda could write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Milliseconds, at most `MAX_DURATION_MS` (a day).
    Duration,
    /// Megabytes, at most `MAX_MEMORY_MB` (1 TiB).
    Memory,
}

impl Measure {
    /// The unit text lines write after the value.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Duration => "ms",
            Self::Memory => "MB",
        }
    }

    fn max(self) -> u64 {
        match self {
            Self::Duration => MAX_DURATION_MS,
            Self::Memory => MAX_MEMORY_MB,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Duration => "more than a day",
            Self::Memory => "more than 1 TiB",
        }
    }
}

/// One figure of an invocation report: its key in a text `REPORT` line, in `platform.report`'s `record.metrics`,
/// and in the metric document (under `aws.lambda`), what it measures and whether it is whole (a `long` in the
/// index template) or not (a `double`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figure {
    /// The key of a text line (`Billed Duration`).
    pub text: &'static str,
    /// The key in `record.metrics` (`billedDurationMs`).
    pub json: &'static str,
    /// The field under `aws.lambda` in the metric document (`billed_duration_ms`).
    pub doc: &'static str,
    /// What it measures.
    pub measure: Measure,
    /// Whether it is a whole number.
    pub whole: bool,
}

const fn figure(text: &'static str, json: &'static str, doc: &'static str, measure: Measure, whole: bool) -> Figure {
    Figure { text, json, doc, measure, whole }
}

/// The figures of an invocation report: the one table the text reader, both JSON readers, the document writer,
/// the index template and the absurd-value rule follow. A new figure is one row here (and one in docs/schema.md's
/// schema table); code that needs a figure by name uses its index ([`DURATION`], …).
pub const FIGURES: [Figure; 7] = [
    figure("Duration", "durationMs", "duration_ms", Measure::Duration, false),
    figure("Billed Duration", "billedDurationMs", "billed_duration_ms", Measure::Duration, true),
    figure("Memory Size", "memorySizeMB", "memory_size_mb", Measure::Memory, true),
    figure("Max Memory Used", "maxMemoryUsedMB", "max_memory_used_mb", Measure::Memory, true),
    figure("Init Duration", "initDurationMs", "init_duration_ms", Measure::Duration, false),
    figure("Restore Duration", "restoreDurationMs", "restore_duration_ms", Measure::Duration, false),
    figure("Billed Restore Duration", "billedRestoreDurationMs", "billed_restore_duration_ms", Measure::Duration, true),
];

/// Index of `Duration` in [`FIGURES`].
pub const DURATION: usize = 0;
/// Index of `Billed Duration`.
pub const BILLED_DURATION: usize = 1;
/// Index of `Memory Size`.
pub const MEMORY_SIZE: usize = 2;
/// Index of `Max Memory Used`.
pub const MAX_MEMORY_USED: usize = 3;
/// Index of `Init Duration`.
pub const INIT_DURATION: usize = 4;
/// Index of `Restore Duration`.
pub const RESTORE_DURATION: usize = 5;
/// Index of `Billed Restore Duration`.
pub const BILLED_RESTORE_DURATION: usize = 6;

/// The index in [`FIGURES`] of the figure a text line names `key`.
pub fn figure_of_text(key: &str) -> Option<usize> {
    FIGURES.iter().position(|f| f.text == key)
}

/// The index in [`FIGURES`] of the figure `record.metrics` names `key`.
pub fn figure_of_json(key: &str) -> Option<usize> {
    FIGURES.iter().position(|f| f.json == key)
}

/// A text field of `platform.report`'s `record` that documents keep as a keyword under `aws.lambda`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// The key in `record` (`tenantId`).
    pub json: &'static str,
    /// The field under `aws.lambda` in the metric document (`tenant_id`).
    pub doc: &'static str,
}

/// The labels of an invocation report, the other table: read by both JSON readers, written by the document
/// writer, mapped as keywords by the index template. A new label is one row here and one in docs/schema.md.
pub const LABELS: [Label; 1] = [
    // Tenant isolation mode (JSON log format only); neither ECS nor OpenTelemetry has a field for it.
    Label { json: "tenantId", doc: "tenant_id" },
];

/// The index in [`LABELS`] of the label `record` names `key`.
pub fn label_of_json(key: &str) -> Option<usize> {
    LABELS.iter().position(|l| l.json == key)
}

/// A figure's value: whole figures are kept as integers, exactly as written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A whole number (`long`).
    Whole(u64),
    /// A fractional one (`double`).
    Real(f64),
}

impl Value {
    /// As a double.
    pub fn as_f64(self) -> f64 {
        match self {
            Self::Whole(n) => n as f64,
            Self::Real(x) => x,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Whole(n) => write!(f, "{n}"),
            Self::Real(x) => write!(f, "{x}"),
        }
    }
}

/// One invocation's report: every figure the line carries, by [`FIGURES`], and its other fields. Its strings
/// borrow from the line whenever they can.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationReport<'a> {
    /// Lambda request id.
    pub request_id: Cow<'a, str>,
    /// The figures, by their index in [`FIGURES`].
    pub figures: [Option<Value>; FIGURES.len()],
    /// How it ended.
    pub status: ReportStatus,
    /// `Error Type` / `errorType`, e.g. `Runtime.OutOfMemory`.
    pub error_type: Option<Cow<'a, str>>,
    /// X-Ray trace id (`1-…-…`).
    pub trace_id: Option<Cow<'a, str>>,
    /// X-Ray segment or span id.
    pub span_id: Option<Cow<'a, str>>,
    /// Whether the trace was sampled.
    pub sampled: Option<bool>,
    /// The labels, by their index in [`LABELS`] (`record.tenantId`, …).
    pub labels: [Option<Cow<'a, str>>; LABELS.len()],
    /// Which format carried it.
    pub format: ReportFormat,
}

impl<'a> InvocationReport<'a> {
    /// An empty report for `request_id`.
    pub fn new(request_id: impl Into<Cow<'a, str>>, format: ReportFormat) -> Self {
        Self {
            request_id: request_id.into(),
            figures: [None; FIGURES.len()],
            status: ReportStatus::Success,
            error_type: None,
            trace_id: None,
            span_id: None,
            sampled: None,
            labels: [const { None }; LABELS.len()],
            format,
        }
    }

    /// Figure `i` of [`FIGURES`] as a double.
    pub fn figure(&self, i: usize) -> Option<f64> {
        self.figures[i].map(Value::as_f64)
    }

    /// Figure `i` when it is a whole number.
    pub fn whole(&self, i: usize) -> Option<u64> {
        match self.figures[i] {
            Some(Value::Whole(n)) => Some(n),
            _ => None,
        }
    }

    /// `Duration` / `durationMs`.
    pub fn duration_ms(&self) -> Option<f64> {
        self.figure(DURATION)
    }

    /// `Billed Duration` / `billedDurationMs`.
    pub fn billed_duration_ms(&self) -> Option<u64> {
        self.whole(BILLED_DURATION)
    }

    /// `Memory Size` / `memorySizeMB`.
    pub fn memory_size_mb(&self) -> Option<u64> {
        self.whole(MEMORY_SIZE)
    }

    /// `Max Memory Used` / `maxMemoryUsedMB`.
    pub fn max_memory_used_mb(&self) -> Option<u64> {
        self.whole(MAX_MEMORY_USED)
    }

    /// `Init Duration` / `initDurationMs`: present on cold starts.
    pub fn init_duration_ms(&self) -> Option<f64> {
        self.figure(INIT_DURATION)
    }

    /// `Restore Duration` / `restoreDurationMs`: SnapStart restores.
    pub fn restore_duration_ms(&self) -> Option<f64> {
        self.figure(RESTORE_DURATION)
    }

    /// `Billed Restore Duration` / `billedRestoreDurationMs`.
    pub fn billed_restore_duration_ms(&self) -> Option<u64> {
        self.whole(BILLED_RESTORE_DURATION)
    }

    /// Whether every figure is one Lambda could have written; else why not, for the quarantine. The one rule for
    /// absurd values, whichever format carried the report: durations at most `MAX_DURATION_MS` (a day; an
    /// invocation runs at most 15 minutes), memory sizes at most `MAX_MEMORY_MB` (1 TiB; Lambda offers 10 GB),
    /// and max memory used at most the memory size. Every figure then fits the search engine's `long`, and
    /// utilization stays in `0.0..=1.0`. (Readers have already refused negative, non-finite and, for whole
    /// figures, fractional values.)
    pub fn check(&self) -> Result<(), String> {
        let json = self.format == ReportFormat::Json;
        let what = if json { "platform.report" } else { "REPORT" };
        let name = |f: &Figure| if json { f.json } else { f.text };
        for (f, value) in FIGURES.iter().zip(self.figures) {
            if let Some(v) = value.filter(|v| v.as_f64() > f.measure.max() as f64) {
                let (unit, too) = (f.measure.unit(), f.measure.what());
                return Err(format!("{what} {} {v} {unit} is {too}: not a figure Lambda writes", name(f)));
            }
        }
        if let (Some(used), Some(size)) = (self.figures[MAX_MEMORY_USED], self.figures[MEMORY_SIZE])
            && used.as_f64() > size.as_f64()
        {
            let (used_name, size_name) = (name(&FIGURES[MAX_MEMORY_USED]), name(&FIGURES[MEMORY_SIZE]));
            return Err(format!("{what} {used_name} {used} MB is more than {size_name} {size} MB"));
        }
        Ok(())
    }

    /// The same report owning its strings, to outlive the line it was read from.
    pub fn into_owned(self) -> InvocationReport<'static> {
        let own = |s: Cow<'_, str>| -> Cow<'static, str> { Cow::Owned(s.into_owned()) };
        InvocationReport {
            request_id: own(self.request_id),
            figures: self.figures,
            status: self.status,
            error_type: self.error_type.map(own),
            trace_id: self.trace_id.map(own),
            span_id: self.span_id.map(own),
            sampled: self.sampled,
            labels: self.labels.map(|l| l.map(own)),
            format: self.format,
        }
    }

    /// A cold start: the report carries an init or a restore duration.
    pub fn cold_start(&self) -> bool {
        self.figures[INIT_DURATION].is_some() || self.figures[RESTORE_DURATION].is_some()
    }

    /// Max memory used over memory size, in `0.0..=1.0` when both are known.
    pub fn memory_utilization(&self) -> Option<f64> {
        match (self.whole(MAX_MEMORY_USED), self.whole(MEMORY_SIZE)) {
            (Some(used), Some(size)) if size > 0 => Some(used as f64 / size as f64),
            _ => None,
        }
    }

    /// Whether it may have run out of memory: its max memory used reached its memory size, whatever its status
    /// (Lambda can report such an invocation as a timeout or an error of another type).
    pub fn oom_suspected(&self) -> bool {
        matches!((self.whole(MAX_MEMORY_USED), self.whole(MEMORY_SIZE)), (Some(used), Some(size)) if size > 0 && used >= size)
    }

    /// Billed duration × memory size in GB-seconds. Since August 2025 the billed duration of managed runtimes
    /// already includes init, so init is never added again.
    pub fn billed_gb_seconds(&self) -> Option<f64> {
        match (self.whole(BILLED_DURATION), self.whole(MEMORY_SIZE)) {
            (Some(ms), Some(mb)) => Some(ms as f64 / 1000.0 * mb as f64 / 1024.0),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_derived_metrics() {
        let mut r = InvocationReport::new("r", ReportFormat::Text);
        assert!(!r.cold_start());
        assert_eq!(r.billed_gb_seconds(), None);
        r.figures[BILLED_DURATION] = Some(Value::Whole(3004));
        r.figures[MEMORY_SIZE] = Some(Value::Whole(128));
        r.figures[MAX_MEMORY_USED] = Some(Value::Whole(32));
        r.figures[RESTORE_DURATION] = Some(Value::Real(1.0));
        assert!(r.cold_start());
        assert_eq!(r.memory_utilization(), Some(0.25));
        assert_eq!(r.billed_gb_seconds(), Some(3.004 * 0.125));
    }

    #[test]
    fn invalid_figures_are_refused_by_one_rule() {
        let base = || {
            let mut r = InvocationReport::new("r", ReportFormat::Text);
            r.figures[..4].copy_from_slice(&[
                Some(Value::Real(900_000.0)),
                Some(Value::Whole(900_000)),
                Some(Value::Whole(10_240)),
                Some(Value::Whole(10_240)),
            ]);
            r
        };
        assert_eq!(base().check(), Ok(()), "15 minutes at 10 GB, all memory used");
        type Change = fn(&mut InvocationReport<'_>);
        let table: &[(Change, &str)] = &[
            (|r| r.figures[DURATION] = Some(Value::Real(86_400_000.5)), "Duration 86400000.5 ms is more than a day"),
            (|r| r.figures[INIT_DURATION] = Some(Value::Real(1e300)), "Init Duration"),
            (|r| r.figures[RESTORE_DURATION] = Some(Value::Real(9e7)), "Restore Duration"),
            (|r| r.figures[BILLED_DURATION] = Some(Value::Whole(u64::MAX)), "Billed Duration 18446744073709551615 ms"),
            (|r| r.figures[BILLED_RESTORE_DURATION] = Some(Value::Whole(86_400_001)), "Billed Restore Duration"),
            (
                |r| r.figures[MEMORY_SIZE] = Some(Value::Whole(9_223_372_036_854_775_807)),
                "Memory Size 9223372036854775807 MB is more than 1 TiB",
            ),
            (
                |r| r.figures[MAX_MEMORY_USED] = Some(Value::Whole(10_241)),
                "Max Memory Used 10241 MB is more than Memory Size 10240 MB",
            ),
        ];
        for (change, want) in table {
            let mut r = base();
            change(&mut r);
            let e = r.check().unwrap_err();
            assert!(e.contains(want), "{e} lacks {want}");
        }
        // Max memory used is checked against the size only when both are known.
        let mut r = base();
        (r.figures[MEMORY_SIZE], r.figures[MAX_MEMORY_USED]) = (None, Some(Value::Whole(20_000)));
        assert_eq!(r.check(), Ok(()));
    }

    #[test]
    fn valid_names_agree_with_serde() {
        for s in [ReportStatus::Success, ReportStatus::Error, ReportStatus::Failure, ReportStatus::Timeout] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(ReportStatus::parse(s.as_str()), Some(s));
        }
        for f in [ReportFormat::Text, ReportFormat::Json] {
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
    }

    #[test]
    fn valid_status_words() {
        assert_eq!(ReportStatus::parse("timeout"), Some(ReportStatus::Timeout));
        assert_eq!(ReportStatus::parse("Error"), Some(ReportStatus::Error));
        assert_eq!(ReportStatus::parse("crashed"), None);
    }
}
