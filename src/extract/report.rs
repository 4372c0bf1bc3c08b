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

/// One invocation's report: every duration and size the line carries. Its strings borrow from the line
/// whenever they can: a report is written out as a document while its line is at hand.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationReport<'a> {
    /// Lambda request id.
    pub request_id: Cow<'a, str>,
    /// `Duration` / `durationMs`.
    pub duration_ms: Option<f64>,
    /// `Billed Duration` / `billedDurationMs`.
    pub billed_duration_ms: Option<u64>,
    /// `Memory Size` / `memorySizeMB`.
    pub memory_size_mb: Option<u64>,
    /// `Max Memory Used` / `maxMemoryUsedMB`.
    pub max_memory_used_mb: Option<u64>,
    /// `Init Duration` / `initDurationMs`: present on cold starts.
    pub init_duration_ms: Option<f64>,
    /// `Restore Duration` / `restoreDurationMs`: SnapStart restores.
    pub restore_duration_ms: Option<f64>,
    /// `Billed Restore Duration` / `billedRestoreDurationMs`.
    pub billed_restore_duration_ms: Option<u64>,
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
    /// `record.tenantId` of a function in tenant isolation mode (JSON log format only).
    pub tenant_id: Option<Cow<'a, str>>,
    /// Which format carried it.
    pub format: ReportFormat,
}

impl<'a> InvocationReport<'a> {
    /// An empty report for `request_id`.
    pub fn new(request_id: impl Into<Cow<'a, str>>, format: ReportFormat) -> Self {
        Self {
            request_id: request_id.into(),
            duration_ms: None,
            billed_duration_ms: None,
            memory_size_mb: None,
            max_memory_used_mb: None,
            init_duration_ms: None,
            restore_duration_ms: None,
            billed_restore_duration_ms: None,
            status: ReportStatus::Success,
            error_type: None,
            trace_id: None,
            span_id: None,
            sampled: None,
            tenant_id: None,
            format,
        }
    }

    /// Whether every figure is one Lambda could have written; else why not, for the quarantine. The one rule for
    /// absurd values, whichever format carried the report: durations at most `MAX_DURATION_MS` (a day; an
    /// invocation runs at most 15 minutes), memory sizes at most `MAX_MEMORY_MB` (1 TiB; Lambda offers 10 GB),
    /// and max memory used at most the memory size. Every figure then fits the search engine's `long`, and
    /// utilization stays in `0.0..=1.0`. (Readers have already refused negative, non-finite and, for whole
    /// figures, fractional values.)
    pub fn check(&self) -> Result<(), String> {
        // Each figure by the name its format gives it.
        let json = self.format == ReportFormat::Json;
        let (what, name) = if json { ("platform.report", 1) } else { ("REPORT", 0) };
        let durations = [
            (["Duration", "durationMs"], self.duration_ms),
            (["Init Duration", "initDurationMs"], self.init_duration_ms),
            (["Restore Duration", "restoreDurationMs"], self.restore_duration_ms),
            (["Billed Duration", "billedDurationMs"], self.billed_duration_ms.map(|v| v as f64)),
            (["Billed Restore Duration", "billedRestoreDurationMs"], self.billed_restore_duration_ms.map(|v| v as f64)),
        ];
        for (names, value) in durations {
            if let Some(v) = value.filter(|v| *v > MAX_DURATION_MS as f64) {
                return Err(format!("{what} {} {v} ms is more than a day: not a figure Lambda writes", names[name]));
            }
        }
        let sizes = [
            (["Memory Size", "memorySizeMB"], self.memory_size_mb),
            (["Max Memory Used", "maxMemoryUsedMB"], self.max_memory_used_mb),
        ];
        for (names, value) in sizes {
            if let Some(v) = value.filter(|v| *v > MAX_MEMORY_MB) {
                return Err(format!("{what} {} {v} MB is more than 1 TiB: not a figure Lambda writes", names[name]));
            }
        }
        if let (Some(used), Some(size)) = (self.max_memory_used_mb, self.memory_size_mb)
            && used > size
        {
            let [used_name, size_name] = [sizes[1].0[name], sizes[0].0[name]];
            return Err(format!("{what} {used_name} {used} MB is more than {size_name} {size} MB"));
        }
        Ok(())
    }

    /// The same report owning its strings, to outlive the line it was read from.
    pub fn into_owned(self) -> InvocationReport<'static> {
        let own = |s: Cow<'_, str>| -> Cow<'static, str> { Cow::Owned(s.into_owned()) };
        InvocationReport {
            request_id: own(self.request_id),
            duration_ms: self.duration_ms,
            billed_duration_ms: self.billed_duration_ms,
            memory_size_mb: self.memory_size_mb,
            max_memory_used_mb: self.max_memory_used_mb,
            init_duration_ms: self.init_duration_ms,
            restore_duration_ms: self.restore_duration_ms,
            billed_restore_duration_ms: self.billed_restore_duration_ms,
            status: self.status,
            error_type: self.error_type.map(own),
            trace_id: self.trace_id.map(own),
            span_id: self.span_id.map(own),
            sampled: self.sampled,
            tenant_id: self.tenant_id.map(own),
            format: self.format,
        }
    }

    /// A cold start: the report carries an init or a restore duration.
    pub fn cold_start(&self) -> bool {
        self.init_duration_ms.is_some() || self.restore_duration_ms.is_some()
    }

    /// Max memory used over memory size, in `0.0..=1.0` when both are known.
    pub fn memory_utilization(&self) -> Option<f64> {
        match (self.max_memory_used_mb, self.memory_size_mb) {
            (Some(used), Some(size)) if size > 0 => Some(used as f64 / size as f64),
            _ => None,
        }
    }

    /// Billed duration × memory size in GB-seconds. Since August 2025 the billed duration of managed runtimes
    /// already includes init, so init is never added again.
    pub fn billed_gb_seconds(&self) -> Option<f64> {
        match (self.billed_duration_ms, self.memory_size_mb) {
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
        r.billed_duration_ms = Some(3004);
        r.memory_size_mb = Some(128);
        r.max_memory_used_mb = Some(32);
        r.restore_duration_ms = Some(1.0);
        assert!(r.cold_start());
        assert_eq!(r.memory_utilization(), Some(0.25));
        assert_eq!(r.billed_gb_seconds(), Some(3.004 * 0.125));
    }

    #[test]
    fn invalid_figures_are_refused_by_one_rule() {
        let base = || {
            let mut r = InvocationReport::new("r", ReportFormat::Text);
            (r.duration_ms, r.billed_duration_ms, r.memory_size_mb, r.max_memory_used_mb) =
                (Some(900_000.0), Some(900_000), Some(10_240), Some(10_240));
            r
        };
        assert_eq!(base().check(), Ok(()), "15 minutes at 10 GB, all memory used");
        type Change = fn(&mut InvocationReport<'_>);
        let table: &[(Change, &str)] = &[
            (|r| r.duration_ms = Some(86_400_000.5), "Duration 86400000.5 ms is more than a day"),
            (|r| r.init_duration_ms = Some(1e300), "Init Duration"),
            (|r| r.restore_duration_ms = Some(9e7), "Restore Duration"),
            (|r| r.billed_duration_ms = Some(u64::MAX), "Billed Duration 18446744073709552000 ms"),
            (|r| r.billed_restore_duration_ms = Some(86_400_001), "Billed Restore Duration"),
            (
                |r| r.memory_size_mb = Some(9_223_372_036_854_775_807),
                "Memory Size 9223372036854775807 MB is more than 1 TiB",
            ),
            (|r| r.max_memory_used_mb = Some(10_241), "Max Memory Used 10241 MB is more than Memory Size 10240 MB"),
        ];
        for (change, want) in table {
            let mut r = base();
            change(&mut r);
            let e = r.check().unwrap_err();
            assert!(e.contains(want), "{e} lacks {want}");
        }
        // Max memory used is checked against the size only when both are known.
        let mut r = base();
        (r.memory_size_mb, r.max_memory_used_mb) = (None, Some(20_000));
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
