//! Reconciliation: the two halves of the join between what ran and what metered, read back by `logmeter reconcile`
//! ([`crate::reconcile`]).
//!
//! - `invocation`: read from the invocation documents the mirror writes anyway ([`invocation_from_report`]):
//!   function, log stream, request id, tenant, status, cold start, duration, billed GB-seconds and the estimated
//!   cost. Nothing restates them.
//! - `meter`: one reconciliation document per meter record, written by the search mirror (`SEARCH_RECONCILE_DOCS`)
//!   to `logmeter-reconcile-%Y.%m.%d`: function, log stream, the request id its line named (if any), tenant,
//!   customer, meter and value.
//!
//! Ids come from the log stream and the log event (a REPORT) or the record's bytes and its place among identical
//! ones (a meter record), never from the Kinesis record: a retry, a replay or another route to the same log
//! events writes the same ids, and `create` keeps one copy.

use crate::ids::V5Prefix;
use crate::plan::RecordValues;
use crate::plan::json_out::{push_f64, push_str};
use crate::plan::rollup::{FunctionInfo, RollupSettings, function_info};
use crate::plan::{BulkEncoder, IndexNamer, iso_millis_bytes};
use std::borrow::Cow;

/// What every reconciliation document starts with, as written and as recognised when read back: its own id.
const HEAD: &str = r#"{"join_id":"#;

/// What reconciliation documents written before 2026-12-06 start with (their dataset, then `kind`), still read back.
const LEGACY_HEAD: &str = r#"{"event":{"dataset":"logmeter.reconcile"},"#;

/// A reconciliation document, as written and as read back by `logmeter reconcile` (and as the reconciler spills
/// both halves of the join to disk). Stored meter documents hold no `kind`: the index holds nothing else.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JoinDoc {
    /// The document's own id (also its `_id`): the last tie-breaker of sorted reads.
    pub join_id: String,
    /// Report time, or `meterTimeInMillis` (ISO 8601).
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    /// Which half of the join (stored documents are meter records' and do not say so).
    #[serde(default, skip_serializing_if = "JoinKind::is_meter")]
    pub kind: JoinKind,
    /// Function name.
    pub function: String,
    /// Function version.
    pub version: String,
    /// Log stream (execution environment).
    pub log_stream: String,
    /// Lambda request id (a meter line may name none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Tenant id (tenant isolation mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Invocation: `success`, `error`, `timeout`, `failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Invocation: an init or restore phase ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<bool>,
    /// Invocation: duration, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// Invocation: billed GB-seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billed_gb_seconds: Option<f64>,
    /// Invocation: estimated cost, USD (absent when it cannot be priced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Meter: `customerId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Meter: `meterApiName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_api_name: Option<String>,
    /// Meter: `meterValue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_value: Option<f64>,
    /// Meter: the customer's plan, the record's `plan` dimension (the one dimension the join keeps; priced by
    /// [`crate::reconcile::price_book`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Invocation: its max memory used reached its memory size (it may have run out of memory, whatever its
    /// status says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_suspected: Option<bool>,
    /// Init failure: the phase (`init`, or `invoke` for the suppressed init Lambda runs with the first
    /// invocation); its `status` says `error` or `timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

impl JoinDoc {
    /// The reconciliation document's mapping, derived from its type through a fully populated example
    /// ([`super::mapping::properties_of`]): every field, the invocation half's included.
    pub(crate) fn properties() -> serde_json::Value {
        let example = Self {
            join_id: "id".into(),
            timestamp: "2026-12-06T00:00:00.000Z".into(),
            kind: JoinKind::Invocation,
            function: "f".into(),
            version: "$LATEST".into(),
            log_stream: "s".into(),
            request_id: Some("r".into()),
            tenant_id: Some("t".into()),
            status: Some("success".into()),
            cold_start: Some(true),
            duration_ms: Some(1.5),
            billed_gb_seconds: Some(0.5),
            cost_usd: Some(0.5),
            customer_id: Some("c".into()),
            meter_api_name: Some("m".into()),
            meter_value: Some(1.5),
            plan: Some("p".into()),
            oom_suspected: Some(true),
            phase: Some("init".into()),
        };
        super::mapping::properties_of(&example, &[]).unwrap_or_else(|e| {
            // A test derives it on every run: only a change that skipped the tests can get here.
            tracing::error!(error = %e, "the reconciliation template could not be derived");
            serde_json::json!({})
        })
    }
}

/// Which half of the join a document is. Stored documents are meter records' and do not say so; invocations are
/// read from their own documents (earlier versions also wrote them here, with `"kind":"invocation"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JoinKind {
    /// An invocation.
    Invocation,
    /// An init phase that failed (`INIT_REPORT` with status `error` or `timeout`), counted per function.
    Init,
    /// A meter record (also any kind this version does not know, as before: only `invocation` and `init` are told
    /// apart).
    #[default]
    #[serde(other)]
    Meter,
}

impl JoinKind {
    /// The kind as documents say it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Meter => "meter",
            Self::Invocation => "invocation",
            Self::Init => "init",
        }
    }

    fn is_meter(&self) -> bool {
        *self == Self::Meter
    }
}

/// Whether a stored document is a reconciliation document: it starts with its id (or, written by an earlier
/// version, with the reconciliation dataset).
pub fn is_join_doc(doc: &[u8]) -> bool {
    doc.starts_with(HEAD.as_bytes()) || doc.starts_with(LEGACY_HEAD.as_bytes())
}

/// The fields of a valid meter record that the join needs.
#[derive(serde::Deserialize)]
struct MeterFields<'a> {
    #[serde(rename = "customerId", borrow)]
    customer: Cow<'a, str>,
    #[serde(rename = "meterApiName", borrow)]
    meter: Cow<'a, str>,
    #[serde(rename = "meterValue")]
    value: f64,
    #[serde(default, borrow)]
    dimensions: Option<Dimensions<'a>>,
}

/// The one dimension the join keeps.
#[derive(serde::Deserialize)]
struct Dimensions<'a> {
    #[serde(default, borrow)]
    plan: Option<Cow<'a, str>>,
}

/// Appends the reconciliation documents of one record's meter records to `bulk`: [`JoinDoc`]s of kind `meter`,
/// written directly, byte for byte as serde writes the [`JoinDoc`] (checked in the tests), with what every
/// document of the record shares rendered once.
pub fn encode_reconcile(
    values: &RecordValues<'_>,
    settings: &RollupSettings,
    index_pattern: &str,
    bulk: &mut BulkEncoder<'_>,
) {
    encode_init_failures(values, settings, index_pattern, bulk);
    if values.meters.is_empty() {
        return;
    }
    let ctx = values.source();
    let FunctionInfo { name, version, .. } = function_info(values, settings);
    let ids = V5Prefix::new(&["reconcile", ctx.log_group, ctx.log_stream]);
    let mut indices = IndexNamer::new(index_pattern);
    // `,"function":…,"version":…,"log_stream":…`, the same for every record of the payload.
    let mut shared = Vec::with_capacity(64 + name.len() + version.len() + ctx.log_stream.len());
    for (key, value) in
        [(&b",\"function\":"[..], name), (b",\"version\":", version), (b",\"log_stream\":", ctx.log_stream)]
    {
        shared.extend_from_slice(key);
        push_str(&mut shared, value);
    }
    let mut seen: foldhash::HashMap<&str, usize> = foldhash::HashMap::default();
    let mut id = [0; crate::ids::UUID_LEN];
    bulk.reserve(values.meters.len() * 520);
    for m in values.meters.iter() {
        // Validated records always have these fields; a record that somehow lacks them is left out of the join.
        let Ok(fields) = serde_json::from_str::<MeterFields<'_>>(m.json) else { continue };
        let nth = seen.entry(m.json).or_insert(0);
        let id = ids.encode(&[b"meter", m.json.as_bytes(), itoa::Buffer::new().format(*nth).as_bytes()], &mut id);
        *nth += 1;
        bulk.push(indices.name(m.time_millis), id, |out| {
            out.extend_from_slice(HEAD.as_bytes());
            push_str(out, id);
            out.extend_from_slice(b",\"@timestamp\":\"");
            out.extend_from_slice(&iso_millis_bytes(m.time_millis));
            out.push(b'"');
            out.extend_from_slice(&shared);
            for (key, value) in
                [(&b",\"request_id\":"[..], m.origin.request_id), (b",\"tenant_id\":", m.origin.tenant_id)]
            {
                if let Some(v) = value {
                    out.extend_from_slice(key);
                    push_str(out, v);
                }
            }
            out.extend_from_slice(b",\"customer_id\":");
            push_str(out, &fields.customer);
            out.extend_from_slice(b",\"meter_api_name\":");
            push_str(out, &fields.meter);
            out.extend_from_slice(b",\"meter_value\":");
            push_f64(out, fields.value);
            if let Some(plan) = fields.dimensions.as_ref().and_then(|d| d.plan.as_deref()) {
                out.extend_from_slice(b",\"plan\":");
                push_str(out, plan);
            }
            out.push(b'}');
        });
    }
}

/// Appends a reconciliation document of kind `init` for each init phase of the record that failed (rare: written
/// with serde), under an id made from the log stream and what the failure says.
fn encode_init_failures(
    values: &RecordValues<'_>,
    settings: &RollupSettings,
    index_pattern: &str,
    bulk: &mut BulkEncoder<'_>,
) {
    if values.init_failures.is_empty() {
        return;
    }
    let FunctionInfo { name, version, .. } = function_info(values, settings);
    let mut indices = IndexNamer::new(index_pattern);
    for f in values.init_failures {
        let ctx = values.source_of(f.source);
        let ids = V5Prefix::new(&["reconcile-init", ctx.log_group, ctx.log_stream]);
        let phase = f.phase.as_deref().unwrap_or("init");
        let time = f.timestamp.to_string();
        let id = ids.string(&[time.as_bytes(), phase.as_bytes(), f.status.as_bytes()]);
        let doc = JoinDoc {
            join_id: id.clone(),
            timestamp: crate::plan::iso_millis(f.timestamp),
            kind: JoinKind::Init,
            function: name.to_owned(),
            version: version.to_owned(),
            log_stream: ctx.log_stream.to_owned(),
            status: Some(f.status.clone()),
            phase: Some(phase.to_owned()),
            ..JoinDoc::default()
        };
        // A document of strings and an enum always serialises.
        let bytes = serde_json::to_vec(&doc).unwrap_or_default();
        bulk.push(indices.name(f.timestamp), &id, |out| out.extend_from_slice(&bytes));
    }
}

/// The fields of an invocation document ([`crate::plan::ReportEncoder`]) that the join needs.
#[derive(serde::Deserialize)]
struct ReportDoc<'a> {
    #[serde(rename = "@timestamp", borrow)]
    timestamp: Cow<'a, str>,
    event: ReportEvent<'a>,
    #[serde(borrow)]
    faas: ReportFaas<'a>,
    aws: ReportAws<'a>,
}

#[derive(serde::Deserialize)]
struct ReportEvent<'a> {
    #[serde(borrow)]
    dataset: Cow<'a, str>,
}

#[derive(serde::Deserialize)]
struct ReportFaas<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    invocation_id: Cow<'a, str>,
    coldstart: bool,
}

#[derive(serde::Deserialize)]
struct ReportAws<'a> {
    #[serde(borrow)]
    cloudwatch: ReportCloudwatch<'a>,
    #[serde(borrow)]
    lambda: ReportLambda<'a>,
}

#[derive(serde::Deserialize)]
struct ReportCloudwatch<'a> {
    #[serde(borrow)]
    log_group: Cow<'a, str>,
    #[serde(borrow)]
    log_stream: Cow<'a, str>,
}

#[derive(serde::Deserialize)]
struct ReportLambda<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow)]
    tenant_id: Option<Cow<'a, str>>,
    duration_ms: Option<f64>,
    billed_gb_seconds: Option<f64>,
    estimated_cost_usd: Option<f64>,
    #[serde(default)]
    oom_suspected: bool,
}

/// The invocation half of the join, from an invocation document (`event.dataset` `aws.lambda.report`) and its
/// `_id`; `None` for any other document.
pub fn invocation_from_report(id: &str, doc: &[u8]) -> Option<JoinDoc> {
    let d: ReportDoc<'_> = serde_json::from_slice(doc).ok()?;
    if d.event.dataset != REPORT_DATASET {
        return None;
    }
    // A function named by its log group alone, as the rollups name it.
    let function = match d.faas.name {
        Some(name) => name.into_owned(),
        None => crate::extract::function_of(&d.aws.cloudwatch.log_group, &d.aws.cloudwatch.log_stream)
            .name_or(&d.aws.cloudwatch.log_group)
            .to_owned(),
    };
    Some(JoinDoc {
        timestamp: d.timestamp.into_owned(),
        kind: JoinKind::Invocation,
        join_id: id.to_owned(),
        function,
        version: d.faas.version.map_or_else(|| "$LATEST".to_owned(), Cow::into_owned),
        log_stream: d.aws.cloudwatch.log_stream.into_owned(),
        request_id: Some(d.faas.invocation_id.into_owned()),
        tenant_id: d.aws.lambda.tenant_id.map(Cow::into_owned),
        status: Some(d.aws.lambda.status.into_owned()),
        cold_start: Some(d.faas.coldstart),
        duration_ms: d.aws.lambda.duration_ms,
        billed_gb_seconds: d.aws.lambda.billed_gb_seconds,
        cost_usd: d.aws.lambda.estimated_cost_usd,
        oom_suspected: d.aws.lambda.oom_suspected.then_some(true),
        ..JoinDoc::default()
    })
}

/// Whether a stored document may be an invocation document (a cheap test before [`invocation_from_report`], which
/// decides).
pub fn is_report_doc(doc: &[u8]) -> bool {
    memchr::memmem::find(doc, REPORT_DATASET_FIELD.as_bytes()).is_some()
}

/// `event.dataset` of invocation documents.
pub const REPORT_DATASET: &str = report_dataset!();
const REPORT_DATASET_FIELD: &str = concat!("\"dataset\":\"", report_dataset!(), "\"");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_documents_start_with_their_id_and_read_back() {
        let doc = JoinDoc { join_id: "j".into(), meter_value: Some(2.5), ..JoinDoc::default() };
        let out = serde_json::to_vec(&doc).unwrap();
        assert!(is_join_doc(&out), "{}", String::from_utf8_lossy(&out));
        assert!(!String::from_utf8_lossy(&out).contains("kind"), "a meter document does not say its kind");
        assert_eq!(serde_json::from_slice::<JoinDoc>(&out).unwrap(), doc);
        let invocation = JoinDoc { kind: JoinKind::Invocation, ..doc.clone() };
        let spilled = serde_json::to_vec(&invocation).unwrap();
        assert_eq!(serde_json::from_slice::<JoinDoc>(&spilled).unwrap().kind, JoinKind::Invocation);
        let unknown = br#"{"join_id":"j","@timestamp":"","kind":"other","function":"","version":"","log_stream":""}"#;
        assert_eq!(serde_json::from_slice::<JoinDoc>(unknown).unwrap().kind, JoinKind::Meter, "as before: a meter");
        // Written by an earlier version: dataset first, then the kind.
        let legacy = br#"{"event":{"dataset":"logmeter.reconcile"},"@timestamp":"t","kind":"meter","join_id":"j","function":"","version":"","log_stream":"","meter_value":2.5}"#;
        assert!(is_join_doc(legacy));
        assert_eq!(serde_json::from_slice::<JoinDoc>(legacy).unwrap(), JoinDoc { timestamp: "t".into(), ..doc });
        assert!(!is_join_doc(br#"{"@timestamp":"t","event":{"dataset":"aws.lambda.report"}}"#));
    }

    #[test]
    fn valid_meter_documents_are_what_serde_writes_for_their_join_doc() {
        use crate::extract::{MeterRecords, Origin};
        let mut meters = MeterRecords::default();
        let lines = [
            r#"{"customerId":"acme","meterApiName":"api-calls","meterValue":1,"meterTimeInMillis":1795168800000,"uniqueId":"u1"}"#,
            r#"{"customerId":"caf\u00e9 \"q\"","meterApiName":"gb","meterValue":0.1,"meterTimeInMillis":1795168800001}"#,
            r#"{"customerId":"acme","meterApiName":"api-calls","meterValue":1,"meterTimeInMillis":1795168800000,"uniqueId":"u1"}"#,
            r#"{"customerId":"big","meterApiName":"m","meterValue":9007199254740992,"meterTimeInMillis":1795168800002,"dimensions":{"plan":"pro \"x\"","region":"eu"}}"#,
        ];
        for (i, l) in lines.iter().enumerate() {
            meters.push(l, 1_795_168_800_000 + i as i64, false);
        }
        meters.set_origin(1, Origin { request_id: Some("r-1"), tenant_id: None });
        meters.set_origin(3, Origin { request_id: Some("r-3"), tenant_id: Some("t\tx") });
        let ctx = crate::plan::ReportContext {
            account: "1",
            region: None,
            log_group: "/aws/lambda/checkout",
            log_stream: "2026/11/20/[$LATEST]ab\"c",
            shard: "shardId-1",
            sequence: "7",
        };
        let values = RecordValues {
            shard: "shardId-1",
            seq_key: "7",
            sources: &[ctx],
            meters: &meters,
            reports: &[],
            init_failures: &[],
            init_start: &crate::extract::InitStart::default(),
            catalog: &crate::catalog::CatalogSnapshot::default(),
        };
        let mut bulk = BulkEncoder::new("shardId-1", "7");
        encode_reconcile(&values, &RollupSettings::default(), "r-%Y.%m.%d", &mut bulk);
        let body = String::from_utf8(bulk.finish().unwrap().body).unwrap();
        let docs: Vec<&str> = body.lines().skip(1).step_by(2).collect();
        assert_eq!(docs.len(), 4);
        for (doc, m) in docs.iter().zip(meters.iter()) {
            let fields: serde_json::Value = serde_json::from_str(m.json).unwrap();
            let parsed: JoinDoc = serde_json::from_str(doc).unwrap();
            let want = JoinDoc {
                timestamp: crate::plan::iso_millis(m.time_millis),
                join_id: parsed.join_id.clone(),
                function: "checkout".into(),
                version: "$LATEST".into(),
                log_stream: ctx.log_stream.into(),
                request_id: m.origin.request_id.map(str::to_owned),
                tenant_id: m.origin.tenant_id.map(str::to_owned),
                customer_id: fields["customerId"].as_str().map(str::to_owned),
                meter_api_name: fields["meterApiName"].as_str().map(str::to_owned),
                meter_value: fields["meterValue"].as_f64(),
                plan: fields["dimensions"]["plan"].as_str().map(str::to_owned),
                ..JoinDoc::default()
            };
            assert_eq!(*doc, serde_json::to_string(&want).unwrap());
        }
        let ids: std::collections::BTreeSet<&str> = body.lines().step_by(2).collect();
        assert_eq!(ids.len(), 4, "identical records get ids of their own");
    }
}
