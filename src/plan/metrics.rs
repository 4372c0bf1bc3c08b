//! The metric document of one invocation report, named after Elastic Common Schema and OpenTelemetry FaaS
//! conventions where they have a field (`@timestamp`, `event.*`, `cloud.*`, `faas.*`, `trace.id`, `span.id`,
//! `error.type`), with Lambda's own figures under `aws.lambda.*`.

use super::json_out::{push_bool, push_f64, push_str, push_u64};
use super::{BulkEncoder, IndexNamer, iso_millis_bytes};
use crate::extract::{FoundReport, FunctionId, ReportFormat, ReportStatus, function_of};
use crate::ids::{V5Prefix, report_document_ids};

/// What one report's document and action line take in a bulk body, a little more than the average (1,124 bytes in
/// the large sample): the output bound counts found reports at this size until they are encoded.
pub const REPORT_DOCUMENT_BYTES: usize = 1200;

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

/// The parts of a payload's documents that every report shares, rendered once per payload.
#[derive(Debug)]
struct Shared {
    /// `"cloud":{…},"faas":{"name":…,"version":…,"instance":…,"invocation_id":`
    cloud_faas: Vec<u8>,
    /// `},"aws":{"cloudwatch":{…},"lambda":{"status":`
    aws: Vec<u8>,
    /// `,"logmeter":{"shard_id":…,"sequence_number":…,"event_id":`
    source: Vec<u8>,
}

impl Shared {
    fn new(ctx: &ReportContext<'_>) -> Self {
        let FunctionId { name, version } = function_of(ctx.log_group, ctx.log_stream);
        // Each fragment is a few hundred bytes: room for them up front rather than four or five doublings each.
        let mut cloud_faas = Vec::with_capacity(384);
        cloud_faas
            .extend_from_slice(b"\"cloud\":{\"provider\":\"aws\",\"platform\":\"aws_lambda\",\"account\":{\"id\":");
        push_str(&mut cloud_faas, ctx.account);
        cloud_faas.push(b'}');
        if let Some(region) = ctx.region {
            cloud_faas.extend_from_slice(b",\"region\":");
            push_str(&mut cloud_faas, region);
        }
        cloud_faas.extend_from_slice(b"},\"faas\":{");
        for (key, value) in [(&b"\"name\":"[..], name), (b"\"version\":", version)] {
            if let Some(v) = value {
                cloud_faas.extend_from_slice(key);
                push_str(&mut cloud_faas, v);
                cloud_faas.push(b',');
            }
        }
        cloud_faas.extend_from_slice(b"\"instance\":");
        push_str(&mut cloud_faas, ctx.log_stream);
        cloud_faas.extend_from_slice(b",\"invocation_id\":");

        let mut aws = Vec::with_capacity(256);
        aws.extend_from_slice(b"},\"aws\":{\"cloudwatch\":{\"log_group\":");
        push_str(&mut aws, ctx.log_group);
        aws.extend_from_slice(b",\"log_stream\":");
        push_str(&mut aws, ctx.log_stream);
        aws.extend_from_slice(b"},\"lambda\":{\"status\":");

        let mut source = Vec::with_capacity(192);
        source.extend_from_slice(b",\"logmeter\":{\"shard_id\":");
        push_str(&mut source, ctx.shard);
        source.extend_from_slice(b",\"sequence_number\":");
        push_str(&mut source, ctx.sequence);
        source.extend_from_slice(b",\"event_id\":");
        Self { cloud_faas, aws, source }
    }

    /// Writes the document of one report.
    fn write(&self, found: &FoundReport<'_>, out: &mut Vec<u8>) {
        let r = &found.report;
        out.extend_from_slice(b"{\"@timestamp\":\"");
        out.extend_from_slice(&iso_millis_bytes(found.timestamp));
        out.extend_from_slice(b"\",\"event\":{\"kind\":\"metric\",\"dataset\":\"aws.lambda.report\",\"outcome\":");
        out.extend_from_slice(if r.status == ReportStatus::Success { b"\"success\"" } else { b"\"failure\"" });
        if let Some(ms) = r.duration_ms {
            out.extend_from_slice(b",\"duration\":");
            push_u64(out, (ms * 1_000_000.0).round() as u64);
        }
        out.extend_from_slice(b"},");
        out.extend_from_slice(&self.cloud_faas);
        push_str(out, &r.request_id);
        out.extend_from_slice(b",\"coldstart\":");
        push_bool(out, r.cold_start());
        if let Some(mb) = r.memory_size_mb {
            out.extend_from_slice(b",\"max_memory\":");
            push_u64(out, mb * 1024 * 1024);
        }
        out.extend_from_slice(&self.aws);
        out.extend_from_slice(match r.status {
            ReportStatus::Success => b"\"success\"",
            ReportStatus::Error => b"\"error\"",
            ReportStatus::Failure => b"\"failure\"",
            ReportStatus::Timeout => b"\"timeout\"",
        });
        out.extend_from_slice(match r.format {
            ReportFormat::Text => b",\"report_format\":\"text\"",
            ReportFormat::Json => b",\"report_format\":\"json\"",
        });
        if let Some(tenant) = &r.tenant_id {
            out.extend_from_slice(b",\"tenant_id\":");
            push_str(out, tenant);
        }
        push_field(out, b",\"duration_ms\":", r.duration_ms.map(Number::F));
        push_field(out, b",\"billed_duration_ms\":", r.billed_duration_ms.map(Number::U));
        push_field(out, b",\"memory_size_mb\":", r.memory_size_mb.map(Number::U));
        push_field(out, b",\"max_memory_used_mb\":", r.max_memory_used_mb.map(Number::U));
        push_field(out, b",\"memory_utilization\":", r.memory_utilization().map(Number::F));
        push_field(out, b",\"init_duration_ms\":", r.init_duration_ms.map(Number::F));
        push_field(out, b",\"restore_duration_ms\":", r.restore_duration_ms.map(Number::F));
        push_field(out, b",\"billed_restore_duration_ms\":", r.billed_restore_duration_ms.map(Number::U));
        push_field(out, b",\"billed_gb_seconds\":", r.billed_gb_seconds().map(Number::F));
        push_field(out, b",\"xray_sampled\":", r.sampled.map(Number::B));
        out.extend_from_slice(b"}}");
        for (key, value) in [
            (&b",\"trace\":{\"id\":"[..], &r.trace_id),
            (b",\"span\":{\"id\":", &r.span_id),
            (b",\"error\":{\"type\":", &r.error_type),
        ] {
            if let Some(v) = value {
                out.extend_from_slice(key);
                push_str(out, v);
                out.push(b'}');
            }
        }
        out.extend_from_slice(&self.source);
        push_str(out, found.event_id);
        out.extend_from_slice(b"}}");
    }
}

/// A value of the `aws.lambda` object.
#[derive(Clone, Copy)]
enum Number {
    U(u64),
    F(f64),
    B(bool),
}

/// Appends `key` and the value, when there is one. The key's size is known where it is called, so it is copied
/// with a few moves rather than a `memcpy` call: ten fields per document.
#[inline]
fn push_field<const N: usize>(out: &mut Vec<u8>, key: &[u8; N], value: Option<Number>) {
    let Some(v) = value else { return };
    out.extend_from_slice(key);
    match v {
        Number::U(n) => push_u64(out, n),
        Number::F(f) => push_f64(out, f),
        Number::B(b) => push_bool(out, b),
    }
}

/// Writes the metric document of each report value of a payload into bulk bodies: one `create` action per report,
/// `_id` = UUIDv5 of the log event identity, index from the pattern and the event time. What every document of a
/// payload shares is rendered once, when the encoder is made.
#[derive(Debug)]
pub struct ReportEncoder<'p> {
    shared: Shared,
    ids: V5Prefix,
    indices: IndexNamer<'p>,
}

impl<'p> ReportEncoder<'p> {
    /// An encoder for the reports of the payload `ctx` describes.
    pub fn new(ctx: &ReportContext<'_>, index_pattern: &'p str) -> Self {
        Self {
            shared: Shared::new(ctx),
            ids: report_document_ids(ctx.log_group, ctx.log_stream),
            indices: IndexNamer::new(index_pattern),
        }
    }

    /// Appends the action and document of `found` to `bulk`.
    pub fn push(&mut self, found: &FoundReport<'_>, bulk: &mut BulkEncoder<'_>) {
        let ids = &self.ids;
        let write_id = |out: &mut Vec<u8>| {
            out.push(b'"');
            ids.push(&[found.event_id.as_bytes()], out);
            out.push(b'"');
        };
        bulk.push_with(self.indices.name(found.timestamp), write_id, |out| self.shared.write(found, out));
    }
}
