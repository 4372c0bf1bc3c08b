//! Reconciliation documents: the two halves of the join between what ran and what metered, written by the search
//! mirror (`SEARCH_RECONCILE_DOCS`) to `logmeter-reconcile-%Y.%m.%d` and joined later by `logmeter reconcile`
//! ([`crate::reconcile`]).
//!
//! - `invocation`: one per REPORT: function, log stream, request id, tenant, status, cold start, duration, billed
//!   GB-seconds and the estimated cost at the rollup prices.
//! - `meter`: one per meter record: function, log stream, the request id its line named (if any), tenant,
//!   customer, meter and value.
//!
//! Ids come from the log stream and the log event (a REPORT) or the record's bytes and its place among identical
//! ones (a meter record), never from the Kinesis record: a retry, a replay or another route to the same log
//! events writes the same ids, and `create` keeps one copy.

use super::rollup::{FunctionInfo, RollupSettings, TENANT, function_info, invocation_cost};
use super::{BulkEncoder, IndexNamer, iso_millis};
use crate::destination::RecordValues;
use crate::ids::V5Prefix;
use std::borrow::Cow;

/// The dataset's one literal, for the constants built from it.
macro_rules! dataset {
    () => {
        "logmeter.reconcile"
    };
}

/// `event.dataset` of reconciliation documents.
pub const RECONCILE_DATASET: &str = dataset!();

/// What every reconciliation document starts with, as written and as recognised when read back: its dataset.
const HEAD: &str = concat!(r#"{"event":{"dataset":""#, dataset!(), r#""}"#);

/// A reconciliation document, as written and as read back by `logmeter reconcile`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JoinDoc {
    /// Report time, or `meterTimeInMillis` (ISO 8601).
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    /// `invocation` or `meter`.
    pub kind: String,
    /// The document's own id (also its `_id`): the last tie-breaker of sorted reads.
    pub join_id: String,
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
}

/// Appends `doc` as the mirror stores it: the dataset first (so a reader tells reconciliation documents from the
/// others by their first bytes, [`is_join_doc`]), then the document's fields.
pub fn write_join_doc(doc: &JoinDoc, out: &mut Vec<u8>) {
    out.extend_from_slice(HEAD.as_bytes());
    let start = out.len();
    // Strings and finite numbers always serialize; the object's `{` becomes the `,` after the dataset.
    let _ = serde_json::to_writer(&mut *out, doc);
    if let Some(brace) = out.get_mut(start) {
        *brace = b',';
    }
}

/// Whether a stored document is a reconciliation document ([`write_join_doc`]'s).
pub fn is_join_doc(doc: &[u8]) -> bool {
    doc.starts_with(HEAD.as_bytes()) && doc.get(HEAD.len()) == Some(&b',')
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
}

/// Appends the reconciliation documents of one record's reports and meter records to `bulk`.
pub fn encode_reconcile(
    values: &RecordValues<'_>,
    settings: &RollupSettings,
    index_pattern: &str,
    bulk: &mut BulkEncoder<'_>,
) {
    if values.reports.is_empty() && values.meters.is_empty() {
        return;
    }
    let ctx = values.source();
    let FunctionInfo { name, version, arch, .. } = function_info(values, settings);
    let ids = V5Prefix::new(&["reconcile", ctx.log_group, ctx.log_stream]);
    let mut indices = IndexNamer::new(index_pattern);
    let base = |timestamp: i64, kind: &str, join_id: String| JoinDoc {
        timestamp: iso_millis(timestamp),
        kind: kind.into(),
        join_id,
        function: name.into(),
        version: version.into(),
        log_stream: ctx.log_stream.into(),
        ..JoinDoc::default()
    };
    for found in values.reports {
        let r = &found.report;
        let id = ids.string(&[b"invocation", found.event_id.as_bytes()]);
        let doc = JoinDoc {
            request_id: Some(r.request_id.to_string()),
            tenant_id: r.labels[TENANT].as_deref().map(str::to_owned),
            status: Some(r.status.as_str().into()),
            cold_start: Some(r.cold_start()),
            duration_ms: r.duration_ms(),
            billed_gb_seconds: r.billed_gb_seconds(),
            cost_usd: invocation_cost(settings, values.source_of(found.source).region, arch, r).ok(),
            ..base(found.timestamp, "invocation", id.clone())
        };
        push(bulk, indices.name(found.timestamp), &id, &doc);
    }
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for m in values.meters.iter() {
        // Validated records always have these fields; a record that somehow lacks them is left out of the join.
        let Ok(fields) = serde_json::from_str::<MeterFields<'_>>(m.json) else { continue };
        let nth = seen.entry(m.json).or_insert(0);
        let id = ids.string(&[b"meter", m.json.as_bytes(), nth.to_string().as_bytes()]);
        *nth += 1;
        let doc = JoinDoc {
            request_id: m.origin.request_id.map(str::to_owned),
            tenant_id: m.origin.tenant_id.map(str::to_owned),
            customer_id: Some(fields.customer.into_owned()),
            meter_api_name: Some(fields.meter.into_owned()),
            meter_value: Some(fields.value),
            ..base(m.time_millis, "meter", id.clone())
        };
        push(bulk, indices.name(m.time_millis), &id, &doc);
    }
}

fn push(bulk: &mut BulkEncoder<'_>, index: &str, id: &str, doc: &JoinDoc) {
    bulk.push(index, id, |out| write_join_doc(doc, out));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_documents_name_their_dataset_first_and_read_back() {
        let doc = JoinDoc { kind: "meter".into(), join_id: "j".into(), meter_value: Some(2.5), ..JoinDoc::default() };
        let mut out = Vec::new();
        write_join_doc(&doc, &mut out);
        assert!(is_join_doc(&out));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["event"]["dataset"], RECONCILE_DATASET);
        assert_eq!(serde_json::from_value::<JoinDoc>(v).unwrap(), doc);
        assert!(!is_join_doc(br#"{"event":{"dataset":"aws.lambda.report"},"x":1}"#));
    }
}
