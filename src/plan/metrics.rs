//! The metric document of one invocation report, named after Elastic Common Schema and OpenTelemetry FaaS
//! conventions where they have a field (`@timestamp`, `event.*`, `cloud.*`, `faas.*`, `trace.id`, `span.id`,
//! `error.type`), with Lambda's own figures under `aws.lambda.*`.

use super::{BulkEncoder, IndexNamer, iso_millis};
use crate::extract::{FoundReport, FunctionId, ReportFormat, ReportStatus, function_of};
use crate::ids::report_document_id;
use serde::Serialize;

/// Where a report came from: the payload and Kinesis record around it.
#[derive(Debug, Clone, Copy)]
pub struct ReportContext<'a> {
    /// Account that owns the log group (payload `owner`).
    pub account: &'a str,
    /// Region of the stream, when the event says.
    pub region: Option<&'a str>,
    /// Log group.
    pub log_group: &'a str,
    /// Log stream.
    pub log_stream: &'a str,
    /// Kinesis shard.
    pub shard: &'a str,
    /// Kinesis sequence number.
    pub sequence: &'a str,
}

#[derive(Serialize)]
struct Doc<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    event: EventFields,
    cloud: Cloud<'a>,
    faas: Faas<'a>,
    aws: Aws<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<Id<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    span: Option<Id<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorFields<'a>>,
    logmeter: Source<'a>,
}

#[derive(Serialize)]
struct EventFields {
    kind: &'static str,
    dataset: &'static str,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<u64>,
}

#[derive(Serialize)]
struct Cloud<'a> {
    provider: &'static str,
    platform: &'static str,
    account: Id<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
}

#[derive(Serialize)]
struct Id<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct Faas<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    instance: &'a str,
    invocation_id: &'a str,
    coldstart: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_memory: Option<u64>,
}

#[derive(Serialize)]
struct Aws<'a> {
    cloudwatch: CloudWatch<'a>,
    lambda: Lambda,
}

#[derive(Serialize)]
struct CloudWatch<'a> {
    log_group: &'a str,
    log_stream: &'a str,
}

#[derive(Serialize)]
struct Lambda {
    status: ReportStatus,
    report_format: ReportFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billed_duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_size_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_memory_used_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_utilization: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    init_duration_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restore_duration_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billed_restore_duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billed_gb_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xray_sampled: Option<bool>,
}

#[derive(Serialize)]
struct ErrorFields<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct Source<'a> {
    shard_id: &'a str,
    sequence_number: &'a str,
    event_id: &'a str,
}

/// Appends one `create` action per report to `bulk`: `_id` = UUIDv5 of the log event identity, index from
/// `index_pattern` and the event time, and the metric document written straight into the body.
pub fn encode_reports(reports: &[FoundReport], ctx: &ReportContext<'_>, index_pattern: &str, bulk: &mut BulkEncoder) {
    let FunctionId { name, version } = function_of(ctx.log_group, ctx.log_stream);
    let mut indices = IndexNamer::new(index_pattern);
    for found in reports {
        let r = &found.report;
        let doc = Doc {
            timestamp: iso_millis(found.timestamp),
            event: EventFields {
                kind: "metric",
                dataset: "aws.lambda.report",
                outcome: if r.status == ReportStatus::Success { "success" } else { "failure" },
                duration: r.duration_ms.map(|ms| (ms * 1_000_000.0).round() as u64),
            },
            cloud: Cloud {
                provider: "aws",
                platform: "aws_lambda",
                account: Id { id: ctx.account },
                region: ctx.region,
            },
            faas: Faas {
                name,
                version,
                instance: ctx.log_stream,
                invocation_id: &r.request_id,
                coldstart: r.cold_start(),
                max_memory: r.memory_size_mb.map(|mb| mb * 1024 * 1024),
            },
            aws: Aws {
                cloudwatch: CloudWatch { log_group: ctx.log_group, log_stream: ctx.log_stream },
                lambda: Lambda {
                    status: r.status,
                    report_format: r.format,
                    duration_ms: r.duration_ms,
                    billed_duration_ms: r.billed_duration_ms,
                    memory_size_mb: r.memory_size_mb,
                    max_memory_used_mb: r.max_memory_used_mb,
                    memory_utilization: r.memory_utilization(),
                    init_duration_ms: r.init_duration_ms,
                    restore_duration_ms: r.restore_duration_ms,
                    billed_restore_duration_ms: r.billed_restore_duration_ms,
                    billed_gb_seconds: r.billed_gb_seconds(),
                    xray_sampled: r.sampled,
                },
            },
            trace: r.trace_id.as_deref().map(|id| Id { id }),
            span: r.span_id.as_deref().map(|id| Id { id }),
            error: r.error_type.as_deref().map(|kind| ErrorFields { kind }),
            logmeter: Source { shard_id: ctx.shard, sequence_number: ctx.sequence, event_id: &found.event_id },
        };
        let id = report_document_id(ctx.log_group, ctx.log_stream, &found.event_id);
        // Plain structs of strings and finite numbers always serialize into a Vec.
        bulk.push(indices.name(found.timestamp), &id, |out| {
            let _ = serde_json::to_writer(out, &doc);
        });
    }
}
