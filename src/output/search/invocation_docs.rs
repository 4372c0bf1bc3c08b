//! The metric document of one invocation report, named after Elastic Common Schema and OpenTelemetry FaaS
//! conventions where they have a field (`@timestamp`, `event.*`, `cloud.*`, `faas.*`, `trace.id`, `span.id`,
//! `error.type`), with Lambda's own figures under `aws.lambda.*`.

use crate::extract::{FIGURES, FoundReport, FunctionId, LABELS, ReportFormat, ReportStatus, Value, function_of};
use crate::ids::{V5Prefix, report_document_ids};
use crate::plan::json_out::{push_bool, push_f64, push_str, push_u64};
use crate::plan::{BulkEncoder, IndexNamer, ReportContext, iso_millis_bytes};

/// The parts of a payload's documents that every report shares, rendered once per payload.
#[derive(Debug)]
struct Shared {
    /// `"cloud":{…},"faas":{"name":…,"version":…,"invocation_id":`
    cloud_faas: Vec<u8>,
    /// `},"aws":{"cloudwatch":{…},"lambda":{"status":`
    aws: Vec<u8>,
}

impl Shared {
    fn new(ctx: &ReportContext<'_>) -> Self {
        let FunctionId { name, version } = function_of(ctx.log_group, ctx.log_stream);
        // Each fragment is a few hundred bytes: room for them up front rather than four or five doublings each.
        let mut cloud_faas = Vec::with_capacity(256);
        cloud_faas.extend_from_slice(b"\"cloud\":{\"account\":{\"id\":");
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
        cloud_faas.extend_from_slice(b"\"invocation_id\":");

        let mut aws = Vec::with_capacity(256);
        aws.extend_from_slice(b"},\"aws\":{\"cloudwatch\":{\"log_group\":");
        push_str(&mut aws, ctx.log_group);
        aws.extend_from_slice(b",\"log_stream\":");
        push_str(&mut aws, ctx.log_stream);
        aws.extend_from_slice(b"},\"lambda\":{\"status\":");
        Self { cloud_faas, aws }
    }

    /// Writes the document of one report.
    fn write(&self, found: &FoundReport<'_>, cost_usd: Option<f64>, out: &mut Vec<u8>) {
        let r = &found.report;
        out.extend_from_slice(b"{\"@timestamp\":\"");
        out.extend_from_slice(&iso_millis_bytes(found.timestamp));
        out.extend_from_slice(concat!("\",\"event\":{\"dataset\":\"", report_dataset!(), "\"},").as_bytes());
        out.extend_from_slice(&self.cloud_faas);
        push_str(out, &r.request_id);
        out.extend_from_slice(b",\"coldstart\":");
        push_bool(out, r.cold_start());
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
        for (label, value) in LABELS.iter().zip(&r.labels) {
            let Some(v) = value else { continue };
            out.extend_from_slice(b",\"");
            out.extend_from_slice(label.doc.as_bytes());
            out.extend_from_slice(b"\":");
            push_str(out, v);
        }
        // Every figure of the table, in its order, then what is derived from them.
        for (f, value) in FIGURES.iter().zip(r.figures) {
            let Some(v) = value else { continue };
            out.extend_from_slice(b",\"");
            out.extend_from_slice(f.doc.as_bytes());
            out.extend_from_slice(b"\":");
            match v {
                Value::Whole(n) => push_u64(out, n),
                Value::Real(x) => push_f64(out, x),
            }
        }
        push_field(out, b",\"memory_utilization\":", r.memory_utilization().map(Number::F));
        push_field(out, b",\"billed_gb_seconds\":", r.billed_gb_seconds().map(Number::F));
        push_field(out, b",\"xray_sampled\":", r.sampled.map(Number::B));
        // Written only when true: one field more on the invocations that matter.
        push_field(out, b",\"oom_suspected\":", r.oom_suspected().then_some(Number::B(true)));
        push_field(out, b",\"estimated_cost_usd\":", cost_usd.map(Number::F));
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
        out.push(b'}');
    }
}

/// A derived value of the `aws.lambda` object.
#[derive(Clone, Copy)]
enum Number {
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
        Number::F(f) => push_f64(out, f),
        Number::B(b) => push_bool(out, b),
    }
}

/// Writes the metric document of each report value of a payload into bulk bodies: one `create` action per report,
/// `_id` = UUIDv5 of the log event identity, index from the pattern and the event time. What every document of a
/// payload (and source) shares is rendered once, when the encoder is made.
#[derive(Debug)]
pub struct ReportEncoder<'p> {
    /// Per source of the payload's events, in the order of the contexts.
    shared: Vec<Shared>,
    ids: V5Prefix,
    indices: IndexNamer<'p>,
}

impl<'p> ReportEncoder<'p> {
    /// An encoder for the reports of one payload, whose events' sources `contexts` describe (the first is the
    /// payload's own; a report names its own by [`FoundReport::source`]). `contexts` must not be empty.
    pub fn new(contexts: &[ReportContext<'_>], index_pattern: &'p str) -> Self {
        let (log_group, log_stream) = contexts.first().map_or(("", ""), |c| (c.log_group, c.log_stream));
        Self {
            shared: contexts.iter().map(Shared::new).collect(),
            ids: report_document_ids(log_group, log_stream),
            indices: IndexNamer::new(index_pattern),
        }
    }

    /// Appends the action and document of `found` to `bulk`, with the invocation's estimated cost when it has one
    /// (the rollup prices: `FUNCTION_ARCHITECTURES`, the event's region).
    pub fn push(&mut self, found: &FoundReport<'_>, cost_usd: Option<f64>, bulk: &mut BulkEncoder<'_>) {
        let ids = &self.ids;
        let write_id = |out: &mut Vec<u8>| {
            out.push(b'"');
            ids.push(&[found.event_id.as_bytes()], out);
            out.push(b'"');
        };
        let shared = self.shared.get(usize::from(found.source)).or(self.shared.first());
        let Some(shared) = shared else { return };
        bulk.push_with(self.indices.name(found.timestamp), write_id, |out| shared.write(found, cost_usd, out));
    }
}

#[cfg(test)]
mod tests {
    //! The hand-written document writer against a serde-derived type of the document (the independent oracle):
    //! every field is where docs/schema.md says, of its type, with the report's value, and nothing else.

    use super::*;
    use crate::extract::{parse_platform_report, parse_text_report};
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(rename = "@timestamp")]
        timestamp: String,
        event: Event,
        cloud: Cloud,
        faas: Faas,
        aws: Aws,
        trace: Option<Id>,
        span: Option<Id>,
        error: Option<ErrorType>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Event {
        dataset: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cloud {
        account: Id,
        region: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Faas {
        name: Option<String>,
        version: Option<String>,
        invocation_id: String,
        coldstart: bool,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Aws {
        cloudwatch: Cloudwatch,
        lambda: Lambda,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cloudwatch {
        log_group: String,
        log_stream: String,
    }

    #[derive(Deserialize)]
    struct Lambda {
        status: String,
        report_format: String,
        tenant_id: Option<String>,
        memory_utilization: Option<f64>,
        billed_gb_seconds: Option<f64>,
        xray_sampled: Option<bool>,
        oom_suspected: Option<bool>,
        estimated_cost_usd: Option<f64>,
        /// Everything else: must be exactly the report's figures, by the table's document names.
        #[serde(flatten)]
        figures: BTreeMap<String, serde_json::Number>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Id {
        id: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ErrorType {
        #[serde(rename = "type")]
        kind: String,
    }

    const CTX: ReportContext<'static> = ReportContext {
        account: "123456789012",
        region: Some("eu-west-1"),
        log_group: "/aws/lambda/checkout",
        log_stream: "2026/11/20/[42]fe9b6a749a854acb95af7951c44a79e0",
        shard: "shardId-000000000001",
        sequence: "4965",
    };

    fn document(found: &FoundReport<'_>) -> Doc {
        let mut bulk = BulkEncoder::new("s", "1");
        ReportEncoder::new(&[CTX], "metrics-%Y.%m.%d").push(found, Some(0.25), &mut bulk);
        let body = bulk.finish().unwrap().body;
        let line = body.split(|&b| b == b'\n').nth(1).unwrap();
        serde_json::from_slice(line).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(line)))
    }

    #[test]
    fn valid_documents_match_the_serde_oracle_for_every_edge_report() {
        #[derive(Deserialize)]
        struct Case {
            name: String,
            message: String,
            expect: Option<serde_json::Value>,
        }
        let cases: Vec<Case> = serde_json::from_str(include_str!("../../../samples/edge/report-lines.json")).unwrap();
        let mut checked = 0;
        for case in cases.iter().filter(|c| c.expect.is_some()) {
            let report = if case.message.starts_with('{') {
                parse_platform_report(&case.message).unwrap().unwrap()
            } else {
                parse_text_report(&case.message).unwrap()
            };
            let found = FoundReport { report, event_id: "ev-1", timestamp: 1_795_168_800_123, source: 0 };
            let (d, r) = (document(&found), &found.report);
            let name = &case.name;
            assert_eq!(d.timestamp, "2026-11-20T10:00:00.123Z", "{name}");
            assert_eq!(d.event.dataset, "aws.lambda.report", "{name}");
            assert_eq!((d.cloud.account.id.as_str(), d.cloud.region.as_deref()), ("123456789012", Some("eu-west-1")));
            assert_eq!((d.faas.name.as_deref(), d.faas.version.as_deref()), (Some("checkout"), Some("42")), "{name}");
            assert_eq!(d.faas.invocation_id, r.request_id, "{name}");
            assert_eq!(d.faas.coldstart, r.cold_start(), "{name}");
            assert_eq!(
                (d.aws.cloudwatch.log_group.as_str(), d.aws.cloudwatch.log_stream.as_str()),
                (CTX.log_group, CTX.log_stream)
            );
            let l = &d.aws.lambda;
            assert_eq!((l.status.as_str(), l.report_format.as_str()), (r.status.as_str(), r.format.as_str()), "{name}");
            assert_eq!(l.tenant_id.as_deref(), r.labels[0].as_deref(), "{name}");
            assert_eq!(l.memory_utilization, r.memory_utilization(), "{name}");
            assert_eq!(l.billed_gb_seconds, r.billed_gb_seconds(), "{name}");
            assert_eq!(l.xray_sampled, r.sampled, "{name}");
            assert_eq!(l.oom_suspected, r.oom_suspected().then_some(true), "{name}");
            assert_eq!(l.estimated_cost_usd, Some(0.25), "{name}");
            // The figures: exactly those the report carries, under the table's names, whole ones as integers.
            let want: BTreeMap<String, serde_json::Number> = FIGURES
                .iter()
                .zip(r.figures)
                .filter_map(|(f, v)| {
                    let n = match v? {
                        Value::Whole(n) => serde_json::Number::from(n),
                        Value::Real(x) => serde_json::Number::from_f64(x)?,
                    };
                    Some((f.doc.to_owned(), n))
                })
                .collect();
            assert!(!want.is_empty(), "{name}");
            assert_eq!(l.figures, want, "{name}");
            assert_eq!(d.trace.map(|t| t.id), r.trace_id.as_deref().map(str::to_owned), "{name}");
            assert_eq!(d.span.map(|t| t.id), r.span_id.as_deref().map(str::to_owned), "{name}");
            assert_eq!(d.error.map(|e| e.kind), r.error_type.as_deref().map(str::to_owned), "{name}");
            checked += 1;
        }
        assert!(checked >= 8, "{checked} edge reports checked");
    }

    #[test]
    fn valid_every_figure_and_label_is_in_the_schema_doc_with_its_type() {
        let readme = include_str!("../../../docs/schema.md");
        let schema = readme.split("# Metric document schema").nth(1).unwrap().split("\n## ").next().unwrap();
        for f in &FIGURES {
            let row = schema
                .lines()
                .find(|l| l.starts_with('|') && l.contains(&format!("{}`", f.doc)))
                .unwrap_or_else(|| panic!("{} is not in docs/schema.md's table", f.doc));
            let want = if f.whole { "| long" } else { "| double" };
            assert!(row.contains(want), "{}: {row}", f.doc);
        }
        for l in &LABELS {
            let field = format!("`aws.lambda.{}` | keyword", l.doc);
            assert!(schema.contains(&field), "{} is not in docs/schema.md's table as a keyword", l.doc);
        }
    }
}
