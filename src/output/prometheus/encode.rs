//! Prometheus samples of the rollup model, and their two wire forms: remote write 1.0 (`prometheus.WriteRequest`
//! protobuf, before snappy) and the text exposition format a Pushgateway takes.
//!
//! Each Kinesis record yields, per rollup group ([`crate::plan::rollup`]), one sample per metric: what the record's
//! invocations add up to (a delta), at the log time of the group's last report. The series carries the execution
//! environment (`faas_instance`, the log stream), and a Kinesis record holds one log stream, so no two records
//! write the same series at the same time unless one environment logged two REPORT lines in one millisecond and
//! CloudWatch Logs cut its delivery between them. A retry writes the same samples again, which Prometheus drops
//! as duplicates. Queries add the deltas up with `sum_over_time` (docs/prometheus.md).

use crate::plan::RecordValues;
use crate::plan::rollup::{DURATION_BUCKETS, Group, Rollup, RollupSettings, STATUSES, Totals, roll_up};
use std::collections::BTreeMap;

/// Where Prometheus metrics go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrometheusMode {
    /// Remote write 1.0 (`PROMETHEUS_REMOTE_WRITE_URL`): one request per batch, samples at the log time.
    RemoteWrite,
    /// A Pushgateway (`PROMETHEUS_PUSHGATEWAY_URL`): one group per Kinesis record, no timestamps.
    Pushgateway,
}

/// The `job` label of every series.
pub const JOB: &str = "logmeter";

/// Every metric, with its meaning (the table of docs/prometheus.md is checked against this list).
pub const METRICS: &[(&str, &str)] = &[
    ("faas_invocations_total", "invocations, by `status` (success, error, timeout, failure)"),
    ("faas_coldstarts_total", "invocations with an init or restore phase"),
    ("faas_invoke_duration_seconds_bucket", "invocations by duration, cumulative per `le` bucket"),
    ("faas_invoke_duration_seconds_sum", "duration of the invocations, seconds"),
    ("faas_invoke_duration_seconds_count", "invocations with a duration"),
    ("aws_lambda_billed_gb_seconds_total", "billed duration times memory size, GB-seconds"),
    ("aws_lambda_estimated_cost_usd_total", "estimated cost at the configured prices, USD"),
    ("aws_lambda_unpriced_invocations_total", "invocations without a price (unknown region or memory size)"),
    ("aws_lambda_init_failures_total", "init phases that did not succeed"),
];

/// One sample: a metric, its labels sorted by name (`__name__` not among them), the log time and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name.
    pub name: &'static str,
    /// Labels, sorted by name.
    pub labels: Vec<(&'static str, String)>,
    /// Epoch ms.
    pub timestamp_ms: i64,
    /// The delta.
    pub value: f64,
}

/// The samples of one record's reports and init failures, group by group.
pub fn samples(values: &RecordValues<'_>, settings: &RollupSettings) -> Vec<Sample> {
    if values.reports.is_empty() && values.init_failures.is_empty() {
        return Vec::new();
    }
    let Rollup { groups, .. } = roll_up(values, settings);
    let mut out = Vec::new();
    for (group, t) in &groups {
        group_samples(values, *group, t, &mut out);
    }
    out
}

fn group_samples(values: &RecordValues<'_>, g: Group<'_>, t: &Totals, out: &mut Vec<Sample>) {
    let (source, name, version, memory, _, tenant) = g;
    let ctx = values.source_of(source);
    // Labels come from the record alone (no architecture, which a lookup may know in one container and not in
    // another): a re-delivery into any container writes the same series.
    let mut labels: Vec<(&'static str, String)> = vec![
        ("cloud_account_id", ctx.account.to_owned()),
        ("faas_instance", ctx.log_stream.to_owned()),
        ("faas_name", name.to_owned()),
        ("faas_version", version.to_owned()),
        ("job", JOB.to_owned()),
    ];
    labels.extend(tenant.map(|t| ("aws_lambda_tenant_id", t.to_owned())));
    labels.extend(ctx.region.map(|r| ("cloud_region", r.to_owned())));
    // OpenTelemetry's `faas.max_memory` is in bytes.
    labels.extend(memory.map(|mb| ("faas_max_memory", (mb << 20).to_string())));
    labels.sort_unstable();
    let mut push = |name: &'static str, extra: Option<(&'static str, &str)>, value: f64| {
        let mut l = labels.clone();
        if let Some((k, v)) = extra {
            let at = l.partition_point(|(n, _)| *n < k);
            l.insert(at, (k, v.to_owned()));
        }
        out.push(Sample { name, labels: l, timestamp_ms: t.last_ms, value });
    };
    for (status, n) in STATUSES.into_iter().zip(t.statuses) {
        if n > 0 {
            push("faas_invocations_total", Some(("status", status.as_str())), n as f64);
        }
    }
    if t.cold_starts > 0 {
        push("faas_coldstarts_total", None, t.cold_starts as f64);
    }
    if let Some((sum_ms, _, _, count)) = t.duration {
        let mut cumulative = 0;
        for (i, n) in t.buckets.iter().enumerate() {
            cumulative += n;
            let le = DURATION_BUCKETS.get(i).map_or("+Inf", |(_, le)| le);
            push("faas_invoke_duration_seconds_bucket", Some(("le", le)), cumulative as f64);
        }
        push("faas_invoke_duration_seconds_sum", None, sum_ms / 1000.0);
        push("faas_invoke_duration_seconds_count", None, count as f64);
    }
    if t.invocations > 0 {
        push("aws_lambda_billed_gb_seconds_total", None, t.gb_seconds);
    }
    if t.priced > 0 {
        push("aws_lambda_estimated_cost_usd_total", None, t.cost);
    }
    if t.invocations > t.priced {
        push("aws_lambda_unpriced_invocations_total", None, (t.invocations - t.priced) as f64);
    }
    if t.init_failures > 0 {
        push("aws_lambda_init_failures_total", None, t.init_failures as f64);
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Appends each sample as a `WriteRequest.timeseries` entry (field 1): its labels (`__name__` first, then sorted)
/// and one sample. Entries concatenate, so a batch's fragments joined are one `WriteRequest`.
pub fn encode_remote_write(samples: &[Sample], out: &mut Vec<u8>) {
    let mut series = Vec::new();
    let mut label = Vec::new();
    for s in samples {
        series.clear();
        for (k, v) in std::iter::once(("__name__", s.name)).chain(s.labels.iter().map(|(k, v)| (*k, v.as_str()))) {
            label.clear();
            field(0x0a, k.as_bytes(), &mut label);
            field(0x12, v.as_bytes(), &mut label);
            field(0x0a, &label, &mut series);
        }
        // Sample { double value = 1; int64 timestamp = 2; }
        let mut sample = vec![0x09];
        sample.extend_from_slice(&s.value.to_le_bytes());
        sample.push(0x10);
        varint(s.timestamp_ms as u64, &mut sample);
        field(0x12, &sample, &mut series);
        field(0x0a, &series, out);
    }
}

/// The length of the `WriteRequest` entry `rest` starts with (tag, length and bytes), or all of `rest` when it is
/// not one.
pub fn remote_write_entry(rest: &[u8]) -> usize {
    let mut len: u64 = 0;
    for (i, b) in rest.iter().enumerate().skip(1).take(10) {
        len |= u64::from(b & 0x7f) << (7 * (i - 1));
        if b & 0x80 == 0 {
            return usize::try_from(len).map_or(rest.len(), |l| (i + 1).saturating_add(l).min(rest.len()));
        }
    }
    rest.len()
}

fn escape(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The samples in the text exposition format, without timestamps (a Pushgateway refuses them): samples of the
/// same series (several windows of one record) are added up, and each metric's lines are together, as the
/// format requires.
pub fn encode_text(samples: &[Sample]) -> Vec<u8> {
    type Series<'a> = (&'a str, &'a [(&'static str, String)]);
    let mut series: BTreeMap<Series<'_>, f64> = BTreeMap::new();
    for s in samples {
        *series.entry((s.name, &s.labels)).or_insert(0.0) += s.value;
    }
    let mut out = String::new();
    let mut last = "";
    for ((name, labels), value) in series {
        if name != last {
            out.push_str(&format!("# TYPE {name} untyped\n"));
            last = name;
        }
        out.push_str(name);
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            escape(v, &mut out);
            out.push('"');
        }
        out.push_str(&format!("}} {value}\n"));
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &'static str, labels: &[(&'static str, &str)], t: i64, v: f64) -> Sample {
        Sample { name, labels: labels.iter().map(|(k, v)| (*k, v.to_string())).collect(), timestamp_ms: t, value: v }
    }

    /// A minimal protobuf reader, independent of the writer: (field, wire type, payload or number).
    fn fields(mut b: &[u8]) -> Vec<(u64, u64, Vec<u8>)> {
        fn varint(b: &mut &[u8]) -> u64 {
            let mut v = 0;
            for i in 0.. {
                let byte = b[0];
                *b = &b[1..];
                v |= u64::from(byte & 0x7f) << (7 * i);
                if byte & 0x80 == 0 {
                    break;
                }
            }
            v
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let key = varint(&mut b);
            let (num, wire) = (key >> 3, key & 7);
            let payload = match wire {
                0 => varint(&mut b).to_le_bytes().to_vec(),
                1 => {
                    let (x, rest) = b.split_at(8);
                    b = rest;
                    x.to_vec()
                }
                2 => {
                    let n = varint(&mut b) as usize;
                    let (x, rest) = b.split_at(n);
                    b = rest;
                    x.to_vec()
                }
                w => panic!("wire type {w}"),
            };
            out.push((num, wire, payload));
        }
        out
    }

    #[test]
    fn valid_remote_write_entries_decode_to_the_samples_and_split_one_by_one() {
        let long = "x".repeat(300);
        let samples = [
            sample("faas_invocations_total", &[("faas_name", "api"), ("status", "success")], 1_764_900_000_123, 3.0),
            sample("faas_coldstarts_total", &[("faas_instance", &long)], 1_764_900_000_456, 0.25),
        ];
        let mut body = Vec::new();
        encode_remote_write(&samples, &mut body);
        let entries = fields(&body);
        assert_eq!(entries.len(), 2);
        let mut rest = &body[..];
        for (s, (num, wire, series)) in samples.iter().zip(entries) {
            assert_eq!((num, wire), (1, 2));
            let n = remote_write_entry(rest);
            assert_eq!(fields(&rest[..n]).len(), 1);
            rest = &rest[n..];
            let parts = fields(&series);
            let labels: Vec<(String, String)> = parts
                .iter()
                .filter(|p| p.0 == 1)
                .map(|p| {
                    let kv = fields(&p.2);
                    (String::from_utf8(kv[0].2.clone()).unwrap(), String::from_utf8(kv[1].2.clone()).unwrap())
                })
                .collect();
            let mut want = vec![("__name__".to_owned(), s.name.to_owned())];
            want.extend(s.labels.iter().map(|(k, v)| (k.to_string(), v.clone())));
            assert_eq!(labels, want);
            let sample = fields(&parts.iter().find(|p| p.0 == 2).unwrap().2);
            assert_eq!(f64::from_le_bytes(sample[0].2.clone().try_into().unwrap()), s.value);
            assert_eq!(u64::from_le_bytes(sample[1].2.clone().try_into().unwrap()) as i64, s.timestamp_ms);
        }
        assert!(rest.is_empty());
        assert_eq!(remote_write_entry(&[0x0a, 0xff]), 2, "a cut entry is the rest");
    }

    #[test]
    fn valid_text_adds_up_a_series_keeps_families_together_and_escapes_values() {
        let samples = [
            sample("b_total", &[("faas_name", "a\"b\\c\nd")], 1, 1.5),
            sample("a_total", &[("faas_name", "x")], 1, 2.0),
            sample("b_total", &[("faas_name", "a\"b\\c\nd")], 2, 1.0),
        ];
        let text = String::from_utf8(encode_text(&samples)).unwrap();
        assert_eq!(
            text,
            "# TYPE a_total untyped\na_total{faas_name=\"x\"} 2\n\
             # TYPE b_total untyped\nb_total{faas_name=\"a\\\"b\\\\c\\nd\"} 2.5\n"
        );
    }
}
