//! The index template: explicit mappings for the metric document, so nothing depends on dynamic mapping.

use crate::extract::{FIGURES, LABELS};
use serde_json::{Value, json};

/// Index patterns a template must cover for an index name pattern: the literal prefix before the first strftime
/// field, then `*` (`logmeter-metrics-%Y.%m.%d` → `logmeter-metrics-*`); a fixed name covers itself.
pub fn template_patterns(index_pattern: &str) -> Vec<String> {
    match index_pattern.find('%') {
        Some(i) => vec![format!("{}*", &index_pattern[..i])],
        None => vec![index_pattern.to_owned()],
    }
}

/// The composable index template (Elasticsearch 7.8+, OpenSearch 1+).
pub fn index_template(patterns: &[String], data_stream: bool) -> Value {
    let keyword = json!({"type": "keyword"});
    let (long, double, boolean, date) =
        (json!({"type": "long"}), json!({"type": "double"}), json!({"type": "boolean"}), json!({"type": "date"}));
    let obj = |props: Value| json!({ "properties": props });
    // `aws.lambda`: every figure of the report table, by whether it is whole, and what is derived from them.
    let mut lambda = json!({"status": keyword, "report_format": keyword,
        "memory_utilization": double, "billed_gb_seconds": double, "xray_sampled": boolean, "oom_suspected": boolean,
        "estimated_cost_usd": double});
    for f in &FIGURES {
        lambda[f.doc] = if f.whole { long.clone() } else { double.clone() };
    }
    for l in &LABELS {
        lambda[l.doc] = keyword.clone();
    }
    let mut t = composable(
        patterns,
        json!({
            "dynamic": false,
            "properties": {
                "@timestamp": date,
                "event": obj(json!({"dataset": keyword})),
                "cloud": obj(json!({"region": keyword, "account": obj(json!({"id": keyword}))})),
                "faas": obj(json!({"name": keyword, "version": keyword, "invocation_id": keyword, "coldstart": boolean})),
                "aws": obj(json!({
                    "cloudwatch": obj(json!({"log_group": keyword, "log_stream": keyword})),
                    "lambda": obj(lambda),
                })),
                "trace": obj(json!({"id": keyword})),
                "span": obj(json!({"id": keyword})),
                "error": obj(json!({"type": keyword})),
            }
        }),
    );
    if data_stream {
        t["data_stream"] = json!({});
    }
    t
}

/// The template of the rollup index, derived from the rollup document's type (the duration sketch stored but not
/// indexed: it is merged by whoever reads it).
pub fn rollups_template(patterns: &[String]) -> Value {
    composable(patterns, json!({"dynamic": false, "properties": super::rollup_docs::properties()}))
}

/// The template of the reconciliation index ([`crate::output::search::reconcile_docs`], meter records' documents),
/// derived from the document's type: ids and names as keywords (the reader sorts on `join_id`), figures as numbers.
pub fn reconcile_template(patterns: &[String]) -> Value {
    composable(patterns, json!({"dynamic": false, "properties": super::reconcile_docs::JoinDoc::properties()}))
}

/// The template of the reconciliation results (`patterns`: `logmeter-cost-to-serve-*`, `logmeter-unmetered-*`): names as
/// keywords, figures as doubles (a dynamic mapping would make them 32-bit floats, and sums of costs inexact), and
/// usage per meter as doubles whatever the meter.
pub fn reconcile_results_template(patterns: &[&str]) -> Value {
    let keyword = json!({"type": "keyword"});
    let double = json!({"type": "double"});
    let mut properties = json!({
        "@timestamp": {"type": "date"},
        "event": {"properties": {"dataset": keyword}},
        "window": {"properties": {"from": {"type": "date"}, "to": {"type": "date"}}},
        "usage": {"type": "object", "dynamic": true},
    });
    for field in ["customer_id", "function", "day", "request_id", "log_stream", "timestamp", "currency"] {
        properties[field] = keyword.clone();
    }
    for field in ["cost_usd", "invocations", "billed_gb_seconds", "revenue", "cost", "margin"] {
        properties[field] = double.clone();
    }
    composable(
        &patterns.iter().flat_map(|p| template_patterns(p)).collect::<Vec<_>>(),
        json!({"dynamic": false, "properties": properties,
               "dynamic_templates": [{"usage": {"path_match": "usage.*", "mapping": {"type": "double"}}}]}),
    )
}

/// The version of logmeter's index templates: raised when a template gains a field, so that the mirror replaces
/// one an earlier version installed (2: `oom_suspected`, the reconciliation documents' `plan` and `phase`, the
/// results' `revenue`, `cost`, `margin` and `currency`).
pub const SCHEMA_VERSION: u64 = 2;

/// A composable index template of logmeter's over `patterns` with `mappings`.
fn composable(patterns: &[String], mappings: Value) -> Value {
    json!({
        "index_patterns": patterns,
        "priority": 200,
        "_meta": {"managed_by": "logmeter", "schema_version": SCHEMA_VERSION},
        "template": {"mappings": mappings},
    })
}

/// The template of the meter record index: the Amberflo fields, and `dimensions.*` as keywords.
pub fn meter_records_template(patterns: &[String]) -> Value {
    composable(
        patterns,
        json!({
            "dynamic": false,
            "dynamic_templates": [{"dimensions": {"path_match": "dimensions.*", "mapping": {"type": "keyword"}}}],
            "properties": {
                "@timestamp": {"type": "date"},
                "customerId": {"type": "keyword"},
                "meterApiName": {"type": "keyword"},
                "meterValue": {"type": "double"},
                "meterTimeInMillis": {"type": "date", "format": "epoch_millis"},
                "uniqueId": {"type": "keyword"},
                "dimensions": {"type": "object", "dynamic": true},
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_patterns() {
        assert_eq!(template_patterns("logmeter-metrics-%Y.%m.%d"), ["logmeter-metrics-*"]);
        assert_eq!(template_patterns("metrics-aws.lambda-default"), ["metrics-aws.lambda-default"]);
    }

    /// Every leaf of `doc` has an explicit mapping in `template` (with `dynamic: false`, an unmapped field is kept
    /// in `_source` but silently not indexed: no query, sort or aggregation sees it).
    fn assert_every_leaf_mapped(doc: &Value, template: &Value, what: &str) {
        let props = &template["template"]["mappings"]["properties"];
        fn leaves(v: &Value, path: String, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => m
                    .iter()
                    .for_each(|(k, v)| leaves(v, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out)),
                _ => out.push(path),
            }
        }
        let mut fields = Vec::new();
        leaves(doc, String::new(), &mut fields);
        assert!(fields.len() > 5, "{what}: {doc}");
        'fields: for f in fields {
            let mut node = props;
            for part in f.split('.') {
                node = &node[part];
                // An object kept in `_source` alone on purpose (the duration sketch): mapped as such.
                if node["enabled"] == Value::Bool(false) {
                    continue 'fields;
                }
                if node.get("properties").is_some() {
                    node = &node["properties"];
                }
            }
            assert!(node.get("type").is_some(), "{what}: {f} has no mapping");
        }
    }

    #[test]
    fn valid_template_maps_every_document_field() {
        let doc: Value = serde_json::from_str(&crate::output::search::template::tests::sample_document()).unwrap();
        assert_every_leaf_mapped(&doc, &index_template(&["x-*".into()], false), "invocation document");
        assert!(index_template(&["x".into()], true).get("data_stream").is_some());
    }

    /// Rollup and reconciliation documents as the pipeline writes them for the large sample, every optional field
    /// brought out (a looked-up function configuration, tenants, init starts), each leaf mapped by its template.
    #[test]
    fn valid_rollup_and_reconciliation_templates_map_every_field_the_documents_write() {
        use crate::catalog::FunctionConfig;
        let mut config = crate::PipelineConfig { threads: 2, ..Default::default() };
        config.outputs.rollup.by_tenant = true;
        let sample = crate::samplegen::generate(&crate::samplegen::large());
        let config_of = FunctionConfig {
            runtime: Some("python3.13".into()),
            memory_mb: Some(512),
            timeout_seconds: Some(30),
            handler: Some("app.handler".into()),
            architecture: Some(crate::cost::Architecture::Arm64),
        };
        let catalog = crate::catalog::CatalogSnapshot::of(
            sample.truth.reports.iter().map(|r| (r.function_name.clone(), config_of.clone())),
        );
        let pipeline = crate::Pipeline::new(config);
        let mut batch: crate::KinesisBatch = serde_json::from_str(&sample.event).unwrap();
        // The samples hold no tenant-isolated function: one record of one, a report and a meter line.
        let tenant_report = r#"{"time":"2026-11-20T10:00:03.000Z","type":"platform.report","record":{"requestId":"2ea49a23-ff39-4bf5-8761-439f99b7c5f6","tenantId":"BlueTenant","status":"success","metrics":{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":512,"maxMemoryUsedMB":80}}}"#;
        let tenant_meter = r#"{"timestamp":"2026-11-20T10:00:00.000Z","level":"INFO","requestId":"2ea49a23-ff39-4bf5-8761-439f99b7c5f6","tenantId":"BlueTenant","message":"meter_record_for_stream {\"customerId\":\"c-9\",\"meterApiName\":\"api-calls\",\"meterValue\":3,\"meterTimeInMillis\":1795168800000}"}"#;
        let events: Vec<Value> = [tenant_meter, tenant_report]
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"id": format!("{}", 90 + i), "timestamp": 1_795_168_800_000_i64 + i as i64, "message": m}))
            .collect();
        let payload = json!({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/tenants",
            "logStream": "2026/11/20/[$LATEST]0123456789abcdef0123456789abcdef", "subscriptionFilters": ["f"],
            "logEvents": events});
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        std::io::Write::write_all(&mut gz, payload.to_string().as_bytes()).unwrap();
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let record = json!({"Records": [{"eventID": "shardId-000000000003:99", "eventSource": "aws:kinesis",
            "awsRegion": "us-east-1", "kinesis": {"sequenceNumber": "99", "data": data, "partitionKey": "p",
            "approximateArrivalTimestamp": 1_795_168_801.5}}]});
        let extra: crate::KinesisBatch = serde_json::from_value(record).unwrap();
        batch.records.extend(extra.records);
        let (mut rollup, mut reconcile) = (serde_json::Map::new(), serde_json::Map::new());
        // The union of every document's fields, so an optional field any document writes is checked.
        fn merge(into: &mut serde_json::Map<String, Value>, doc: &Value) {
            for (k, v) in doc.as_object().into_iter().flatten() {
                match (into.get_mut(k), v) {
                    (Some(Value::Object(m)), Value::Object(_)) => merge(m, v),
                    _ => {
                        into.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        for plan in pipeline.plan_batch_with(&batch.records, &catalog) {
            for parcel in plan.parcels(crate::output::SEARCH) {
                let body = String::from_utf8(parcel.body.clone()).unwrap();
                for doc in body.lines().skip(1).step_by(2) {
                    let is_join = crate::output::search::reconcile_docs::is_join_doc(doc.as_bytes());
                    let doc: Value = serde_json::from_str(doc).unwrap();
                    if is_join {
                        merge(&mut reconcile, &doc);
                    } else if doc["event"]["dataset"] == "aws.lambda.rollup" {
                        merge(&mut rollup, &doc);
                    }
                }
            }
        }
        for field in ["tenant_id", "function", "runtime_version", "duration_sketch"] {
            assert!(rollup["aws"]["lambda"].get(field).is_some(), "the rollups bring out {field}");
        }
        assert!(reconcile.contains_key("request_id") && reconcile.contains_key("meter_value"));
        let patterns = ["x-*".to_owned()];
        assert_every_leaf_mapped(&Value::Object(rollup), &rollups_template(&patterns), "rollup document");
        assert_every_leaf_mapped(&Value::Object(reconcile), &reconcile_template(&patterns), "reconciliation document");
    }

    /// A document with every optional field present, built by the real encoder.
    pub(super) fn sample_document() -> String {
        use crate::extract::{FoundReport, InvocationReport, ReportFormat, ReportStatus, Value as Figure};
        use crate::output::search::ReportEncoder;
        use crate::plan::{BulkEncoder, ReportContext};
        let mut r = InvocationReport::new("req", ReportFormat::Text);
        for (i, f) in FIGURES.iter().enumerate() {
            r.figures[i] = Some(if f.whole { Figure::Whole(64) } else { Figure::Real(1.5) });
        }
        (r.status, r.error_type, r.trace_id, r.span_id, r.sampled) =
            (ReportStatus::Error, Some("E".into()), Some("t".into()), Some("s".into()), Some(true));
        r.labels = LABELS.map(|_| Some("BlueTenant".into()));
        let found = FoundReport { report: r, event_id: "1", timestamp: 1, source: 0 };
        let ctx = ReportContext {
            account: "1",
            region: Some("r"),
            log_group: "/aws/lambda/f",
            log_stream: "2026/11/20/[1]x",
            shard: "s",
            sequence: "1",
        };
        let mut enc = BulkEncoder::new("s", "1");
        ReportEncoder::new(&[ctx], "i").push(&found, Some(0.5), &mut enc);
        let body = enc.finish().unwrap().body;
        String::from_utf8(body).unwrap().lines().nth(1).unwrap().to_owned()
    }
}
