//! The end of one invocation: its `REPORT` line or `platform.report` event in every shape Lambda writes, with the
//! values the pipeline must recover (and, now and then, a report it must quarantine).

use super::{Invocation, Style, iso};
use crate::samplegen::ExpectedReport;
use serde_json::json;

impl Invocation<'_> {
    pub(super) fn finish(&mut self, id: &str, init: Option<(String, f64)>, restore: Option<(String, f64)>) {
        let p = *self.profile;
        let roll = self.rng.range(0, 100);
        let (status, error_type) = match roll {
            0..=1 => ("timeout", None),
            2..=3 => ("error", Some("Runtime.OutOfMemory".to_owned())),
            4..=5 => ("error", Some("Runtime.UnhandledPromiseRejection".to_owned())),
            _ => ("success", None),
        };
        let duration = if status == "timeout" {
            hundredths(p.timeout_s * 100_000 + self.rng.range(0, 3_000))
        } else {
            hundredths(self.rng.range(150, 250_000))
        };
        let init_ms = init.as_ref().map_or(0.0, |i| i.1);
        let billed = (duration.1 + init_ms).ceil() as u64;
        let max_used = if error_type.as_deref() == Some("Runtime.OutOfMemory") {
            p.memory
        } else {
            self.rng.range(30, p.memory / 2 + 40).min(p.memory)
        };
        // Half the timeouts ran out of memory first: Lambda reports them as timeouts, at full memory.
        let max_used = if status == "timeout" && roll == 0 { p.memory } else { max_used };
        let billed_restore = restore.as_ref().map(|r| r.1.ceil() as u64);
        let trace =
            self.rng.chance(40).then(|| (format!("1-{}-{}", self.rng.hex(8), self.rng.hex(24)), self.rng.hex(16)));
        let mut expected = ExpectedReport {
            request_id: id.to_owned(),
            function_name: p.name.to_owned(),
            function_version: p.version.to_owned(),
            duration_ms: Some(duration.1),
            billed_duration_ms: Some(billed),
            memory_size_mb: Some(p.memory),
            max_memory_used_mb: Some(max_used),
            init_duration_ms: init.as_ref().map(|i| i.1),
            restore_duration_ms: restore.as_ref().map(|r| r.1),
            billed_restore_duration_ms: billed_restore,
            status: status.to_owned(),
            error_type: error_type.clone(),
            trace_id: trace.as_ref().map(|t| t.0.clone()),
            customers: Vec::new(),
        };
        if p.style == Style::Json {
            let end = self.platform(
                "platform.runtimeDone",
                json!({"requestId": id, "status": status, "metrics": {"durationMs": duration.1, "producedBytes": 0}}),
            );
            self.push(end);
            let bad = self.rng.chance(self.bad_percent / 2);
            let mut metrics = json!({"durationMs": if bad { json!("n/a") } else { json!(duration.1) }});
            if self.rng.chance(90) {
                metrics["billedDurationMs"] = json!(billed);
                metrics["memorySizeMB"] = json!(p.memory);
                metrics["maxMemoryUsedMB"] = json!(max_used);
                if let Some(i) = &init {
                    metrics["initDurationMs"] = json!(i.1);
                }
            } else {
                expected.billed_duration_ms = None;
                expected.memory_size_mb = None;
                expected.max_memory_used_mb = None;
                expected.init_duration_ms = None;
            }
            let mut record = json!({"requestId": id, "metrics": metrics, "status": status});
            if let Some(e) = &error_type {
                record["errorType"] = json!(e);
            }
            if let Some((root, span)) = &trace {
                record["tracing"] = json!({"spanId": span, "type": "X-Amzn-Trace-Id", "value": format!("Root={root};Parent={span};Sampled=1")});
            }
            let msg = self.platform("platform.report", record);
            self.push(msg);
            self.report_done(expected, bad);
            return;
        }
        // Older runtimes only say "Task timed out" on a line of its own.
        let old_timeout = status == "timeout" && self.rng.chance(50);
        if old_timeout {
            let line = format!(
                "{} {id} Task timed out after {}.{:02} seconds\n",
                iso(*self.now),
                p.timeout_s,
                self.rng.range(0, 99)
            );
            self.push(line);
        }
        self.push(format!("END RequestId: {id}\n"));
        let bad = self.rng.chance(self.bad_percent / 2);
        let mut fields = vec![
            format!("Duration: {} ms", if bad { "n/a" } else { &duration.0 }),
            format!("Billed Duration: {billed} ms"),
            format!("Memory Size: {} MB", p.memory),
            format!("Max Memory Used: {max_used} MB"),
        ];
        if let Some(i) = &init {
            fields.push(format!("Init Duration: {} ms", i.0));
        }
        if let Some(r) = &restore {
            fields.push(format!("Restore Duration: {} ms", r.0));
            fields.push(format!("Billed Restore Duration: {} ms", billed_restore.unwrap_or(0)));
        }
        if status != "success" && !old_timeout {
            fields.push(format!("Status: {status}"));
        }
        if let Some(e) = &error_type {
            fields.push(format!("Error Type: {e}"));
        }
        if self.rng.chance(10) {
            fields.rotate_left(2);
        }
        let sep = if self.rng.chance(5) { " " } else { "\t" };
        let mut line = format!("REPORT RequestId: {id}{sep}{}{sep}", fields.join(sep));
        if let Some((root, seg)) = &trace {
            let xray = format!("XRAY TraceId: {root}{sep}SegmentId: {seg}{sep}Sampled: true{sep}");
            if self.rng.chance(50) {
                line.push_str(&xray);
            } else {
                line.push('\n');
                line.push_str(&xray);
            }
        }
        line.push('\n');
        self.push(line);
        self.report_done(expected, bad);
    }

    pub(super) fn report_done(&mut self, expected: ExpectedReport, bad: bool) {
        if bad {
            self.truth.counts.quarantined += 1;
            self.truth.bad.push("bad-report");
        } else {
            self.truth.counts.reports += 1;
            self.truth.reports.push(expected);
        }
    }
}

/// A duration in hundredths of a millisecond as Lambda prints it (`"3003.28"`) and as the parsed value.
pub(super) fn hundredths(h: u64) -> (String, f64) {
    let text = format!("{}.{:02}", h / 100, h % 100);
    let value = text.parse().unwrap_or(0.0);
    (text, value)
}
