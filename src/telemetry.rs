//! Logging set-up for the two entry points.

use tracing_subscriber::EnvFilter;

/// CLI: human-readable logs on stderr, in colour only on a terminal; level from `RUST_LOG` (default `warn`, but
/// for the SDK's instance-metadata region lookup, whose failure off EC2 is expected and is reported in one line
/// when no region is found at all).
pub fn init_cli() {
    use std::io::IsTerminal as _;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,aws_config::imds=error"));
    let ansi = std::io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// Lambda: JSON logs when `AWS_LAMBDA_LOG_FORMAT=JSON`, level from `AWS_LAMBDA_LOG_LEVEL` (default `info`).
pub fn init_lambda() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_else(|_| "info".into()).to_ascii_lowercase();
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).without_time();
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// One CloudWatch Embedded Metric Format line with the batch's counters (printed to stdout, where Lambda's log
/// agent turns it into metrics in the `logmeter` namespace, dimension `FunctionName`).
pub fn emf_line(summary: &crate::Summary, function: &str, now_millis: i64, ingest_lag_ms: i64) -> String {
    let metrics = [
        ("KinesisRecords", summary.kinesis_records),
        ("LogEvents", summary.log_events),
        ("MeterRecords", summary.meter_records),
        ("Reports", summary.reports),
        ("Quarantined", summary.quarantined),
        ("ObjectsWritten", summary.objects_written),
        ("DocumentsIndexed", summary.documents_indexed),
        ("DocumentsRejected", summary.documents_rejected),
        ("DocumentsSpooled", summary.documents_spooled),
        ("PrometheusSamplesRejected", summary.prometheus_samples_rejected),
        ("PrometheusSamplesSpooled", summary.prometheus_samples_spooled),
        ("BatchItemFailures", summary.batch_item_failures),
        ("AccessDenied", summary.access_denied),
    ];
    let values: Vec<(&str, &str, i64)> = metrics
        .iter()
        .map(|(n, v)| (*n, "Count", i64::try_from(*v).unwrap_or(i64::MAX)))
        .chain([("IngestLag", "Milliseconds", ingest_lag_ms)])
        .collect();
    emf(now_millis, &[("FunctionName", function)], &values)
}

/// One Embedded Metric Format line per output that keeps counters of its own (the billing platforms), under the
/// dimensions `FunctionName` and `Output`: `Requests`, `Delivered`, `AlreadyDelivered`, `Refused`, `Quarantined`.
pub fn output_emf_lines(summary: &crate::Summary, function: &str, now_millis: i64) -> Vec<String> {
    summary
        .outputs
        .iter()
        .map(|(output, counts)| {
            let names: Vec<String> = counts.counters().iter().map(|(name, _)| camel(name)).collect();
            let metrics: Vec<(&str, &str, i64)> = names
                .iter()
                .zip(counts.counters())
                .map(|(n, (_, v))| (n.as_str(), "Count", i64::try_from(v).unwrap_or(i64::MAX)))
                .collect();
            emf(now_millis, &[("FunctionName", function), ("Output", output)], &metrics)
        })
        .collect()
}

/// `already_delivered` as `AlreadyDelivered`.
fn camel(name: &str) -> String {
    name.split('_').map(|w| w[..1].to_ascii_uppercase() + &w[1..]).collect()
}

/// One Embedded Metric Format line in the `logmeter` namespace: `metrics` as (name, unit, value), under one
/// dimension set made of `dimensions` (name, value; none for metrics without dimensions).
pub fn emf(now_millis: i64, dimensions: &[(&str, &str)], metrics: &[(&str, &str, i64)]) -> String {
    let mut doc = serde_json::json!({
        "_aws": {
            "Timestamp": now_millis,
            "CloudWatchMetrics": [{
                "Namespace": "logmeter",
                "Dimensions": [dimensions.iter().map(|(name, _)| *name).collect::<Vec<_>>()],
                "Metrics": metrics.iter().map(|(n, unit, _)| serde_json::json!({"Name": n, "Unit": unit})).collect::<Vec<_>>(),
            }],
        },
    });
    for (name, value) in dimensions {
        doc[*name] = serde_json::json!(value);
    }
    for (name, _, value) in metrics {
        doc[*name] = serde_json::json!(value);
    }
    doc.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn valid_emf_line_declares_every_value() {
        let s = crate::Summary { kinesis_records: 3, quarantined: 1, ..crate::Summary::default() };
        let v: serde_json::Value = serde_json::from_str(&super::emf_line(&s, "fn", 1_795_168_800_000, 250)).unwrap();
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap();
        assert_eq!(v["KinesisRecords"], 3);
        assert_eq!(v["IngestLag"], 250);
        for m in declared {
            assert!(v.get(m["Name"].as_str().unwrap()).is_some(), "{m} has a value");
        }
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "logmeter");
    }

    #[test]
    fn valid_output_emf_lines_carry_each_output_under_its_name() {
        use crate::summary::{OutputCounts, PerOutput};
        let counts = OutputCounts { requests: 2, delivered: 150, already_delivered: 3, ..OutputCounts::default() };
        let s = crate::Summary { outputs: PerOutput::of("metronome", counts), ..crate::Summary::default() };
        let lines = super::output_emf_lines(&s, "fn", 1_795_168_800_000);
        assert_eq!(lines.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(
            (v["Output"].as_str(), v["Delivered"].as_i64(), v["AlreadyDelivered"].as_i64()),
            (Some("metronome"), Some(150), Some(3))
        );
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0], serde_json::json!(["FunctionName", "Output"]));
        assert!(super::output_emf_lines(&crate::Summary::default(), "fn", 0).is_empty());
    }
}
