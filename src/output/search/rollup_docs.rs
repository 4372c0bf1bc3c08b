//! Rollup documents (`event.dataset: aws.lambda.rollup`): per function, version, memory size and time window, what
//! the invocation reports of one Kinesis record add up to ([`crate::plan::rollup`] sums them), with an id derived
//! from the record and the group, so a retry or a replay re-creates the same documents and `create` keeps one.

use crate::cost::Unpriced;
use crate::ids::V5Prefix;
use crate::plan::rollup::*;
use crate::plan::{BulkEncoder, IndexNamer, RecordValues, iso_millis_bytes};

/// Appends the rollup documents of one record's reports to `bulk`, in the indices `index_pattern` names.
pub fn encode_rollups(
    values: &RecordValues<'_>,
    settings: &RollupSettings,
    index_pattern: &str,
    bulk: &mut BulkEncoder<'_>,
) {
    if values.reports.is_empty() && values.init_failures.is_empty() {
        return;
    }
    let Rollup { groups, looked_up } = roll_up(values, settings);
    let arch = function_info(values, settings).arch;
    let ids = V5Prefix::new(&["rollup", values.source().shard, values.seq_key]);
    let mut indices = IndexNamer::new(index_pattern);
    for (group, t) in groups {
        let (source, name, version, memory, window, tenant) = group;
        let memory_text = memory.map(|m| m.to_string()).unwrap_or_default();
        let window_text = window.to_string();
        let mut parts = vec![name.as_bytes(), version.as_bytes(), memory_text.as_bytes(), window_text.as_bytes()];
        // Events of another source than the payload's own are summed apart, under ids of their own.
        let other = (source != 0).then(|| values.source_of(source));
        parts.extend(other.iter().flat_map(|c| [c.account.as_bytes(), c.region.unwrap_or("").as_bytes()]));
        // A tenant is a part of the id only when rollups are by tenant, so ids without tenants stay as they were.
        parts.extend(tenant.map(str::as_bytes));
        let doc_id = ids.string(&parts);
        bulk.push(indices.name(window), &doc_id, |out| {
            write_document(values, group, arch.as_str(), &t, settings.window_ms, looked_up.as_ref(), out);
        });
    }
}

/// A rollup document, in the order its fields are written (a typed document: serializing it costs no tree of
/// values).
#[derive(serde::Serialize)]
struct Doc<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: &'a str,
    event: Event,
    cloud: Cloud<'a>,
    faas: Faas<'a>,
    aws: Aws<'a>,
    logmeter: Source<'a>,
}

#[derive(serde::Serialize)]
struct Event {
    dataset: &'static str,
}

#[derive(serde::Serialize)]
struct Cloud<'a> {
    account: Account<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct Account<'a> {
    id: &'a str,
}

#[derive(serde::Serialize)]
struct Faas<'a> {
    name: &'a str,
    version: &'a str,
}

#[derive(serde::Serialize)]
struct Aws<'a> {
    cloudwatch: Cloudwatch<'a>,
    lambda: Lambda<'a>,
}

#[derive(serde::Serialize)]
struct Cloudwatch<'a> {
    log_group: &'a str,
}

#[derive(serde::Serialize)]
struct Source<'a> {
    shard_id: &'a str,
    sequence_number: &'a str,
}

#[derive(serde::Serialize)]
struct Lambda<'a> {
    window_seconds: i64,
    architecture: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_size_mb: Option<u64>,
    invocations: u64,
    invocations_by_status: Statuses,
    cold_starts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<Stats<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_sketch: Option<SketchDoc>,
    billed_duration_ms_sum: u64,
    init_duration_ms_sum: f64,
    restore_duration_ms_sum: f64,
    billed_restore_duration_ms_sum: u64,
    restores: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_memory_used_mb: Option<Stats<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_utilization: Option<Stats<f64>>,
    billed_gb_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_cost_usd: Option<f64>,
    priced_invocations: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_unpriced_reason: Option<&'static str>,
    init_failures: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    initialization_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function: Option<FunctionDoc<'a>>,
}

/// The function's configuration, when the lookup found it.
#[derive(serde::Serialize)]
struct FunctionDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handler: Option<&'a str>,
    /// What the function runs on, as the lookup found it (the price follows `FUNCTION_ARCHITECTURES`).
    #[serde(skip_serializing_if = "Option::is_none")]
    architecture: Option<&'static str>,
}

#[derive(serde::Serialize)]
struct Statuses {
    success: u64,
    error: u64,
    timeout: u64,
    failure: u64,
}

#[derive(serde::Serialize)]
struct Stats<T> {
    sum: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<T>,
    max: T,
    count: u64,
}

fn write_document(
    values: &RecordValues<'_>,
    g: Group<'_>,
    arch: &str,
    t: &Totals,
    window_ms: i64,
    config: Option<&crate::catalog::FunctionConfig>,
    out: &mut Vec<u8>,
) {
    let (source, name, version, memory, window, tenant) = g;
    let ctx = values.source_of(source);
    let timestamp = iso_millis_bytes(window);
    let [success, error, timeout, failure] = t.statuses;
    let doc = Doc {
        timestamp: std::str::from_utf8(&timestamp).unwrap_or_default(),
        event: Event { dataset: "aws.lambda.rollup" },
        cloud: Cloud { account: Account { id: ctx.account }, region: ctx.region },
        faas: Faas { name, version },
        aws: Aws {
            cloudwatch: Cloudwatch { log_group: ctx.log_group },
            lambda: Lambda {
                window_seconds: window_ms / 1000,
                architecture: arch,
                memory_size_mb: memory,
                invocations: t.invocations,
                invocations_by_status: Statuses { success, error, timeout, failure },
                cold_starts: t.cold_starts,
                duration_ms: t.duration.map(|(sum, min, max, count)| Stats { sum, min: Some(min), max, count }),
                duration_sketch: t.duration.map(|_| t.sketch.doc()),
                billed_duration_ms_sum: t.billed_duration_ms,
                init_duration_ms_sum: t.init_duration_ms,
                restore_duration_ms_sum: t.restore_duration_ms,
                billed_restore_duration_ms_sum: t.billed_restore_duration_ms,
                restores: t.restores,
                max_memory_used_mb: t.max_memory.map(|(max, sum, count)| Stats { sum, min: None, max, count }),
                memory_utilization: t.utilization.map(|(max, sum, count)| Stats { sum, min: None, max, count }),
                billed_gb_seconds: t.gb_seconds,
                estimated_cost_usd: (t.priced > 0).then_some(t.cost),
                priced_invocations: t.priced,
                cost_unpriced_reason: t.unpriced.map(Unpriced::as_str),
                init_failures: t.init_failures,
                tenant_id: tenant,
                runtime_version: values.init_start.runtime_version.as_deref(),
                initialization_type: values.init_start.initialization_type.as_deref(),
                function: config.map(|c| FunctionDoc {
                    runtime: c.runtime.as_deref(),
                    memory_mb: c.memory_mb,
                    timeout_seconds: c.timeout_seconds,
                    handler: c.handler.as_deref(),
                    architecture: c.architecture.map(crate::cost::Architecture::as_str),
                }),
            },
        },
        logmeter: Source { shard_id: ctx.shard, sequence_number: ctx.sequence },
    };
    // Strings and finite numbers always serialize.
    let _ = serde_json::to_writer(out, &doc);
}

/// The rollup document's mapping, derived from its type through a fully populated example
/// ([`super::mapping::properties_of`]); the duration sketch is stored, not indexed (readers merge it).
pub(crate) fn properties() -> serde_json::Value {
    let stats_f = || Some(Stats { sum: 1.5, min: Some(0.5), max: 1.0, count: 2 });
    let mut sketch = crate::plan::rollup::Sketch::default();
    sketch.add(1.0);
    let example = Doc {
        timestamp: "2026-12-06T00:00:00.000Z",
        event: Event { dataset: "aws.lambda.rollup" },
        cloud: Cloud { account: Account { id: "123456789012" }, region: Some("eu-west-1") },
        faas: Faas { name: "f", version: "$LATEST" },
        aws: Aws {
            cloudwatch: Cloudwatch { log_group: "/aws/lambda/f" },
            lambda: Lambda {
                window_seconds: 60,
                architecture: "arm64",
                memory_size_mb: Some(128),
                invocations: 1,
                invocations_by_status: Statuses { success: 1, error: 0, timeout: 0, failure: 0 },
                cold_starts: 0,
                duration_ms: stats_f(),
                duration_sketch: Some(sketch.doc()),
                billed_duration_ms_sum: 2,
                init_duration_ms_sum: 0.5,
                restore_duration_ms_sum: 0.5,
                billed_restore_duration_ms_sum: 1,
                restores: 0,
                max_memory_used_mb: Some(Stats { sum: 64, min: Some(64), max: 64, count: 1 }),
                memory_utilization: stats_f(),
                billed_gb_seconds: 0.5,
                estimated_cost_usd: Some(0.5),
                priced_invocations: 1,
                cost_unpriced_reason: Some("unknown_region"),
                init_failures: 0,
                tenant_id: Some("t"),
                runtime_version: Some("python:3.13.v1"),
                initialization_type: Some("on-demand"),
                function: Some(FunctionDoc {
                    runtime: Some("python3.13"),
                    memory_mb: Some(128),
                    timeout_seconds: Some(3),
                    handler: Some("app.handler"),
                    architecture: Some("arm64"),
                }),
            },
        },
        logmeter: Source { shard_id: "shardId-000000000000", sequence_number: "1" },
    };
    let unindexed = serde_json::json!({"type": "object", "enabled": false});
    super::mapping::properties_of(&example, &[("aws.lambda.duration_sketch", unindexed)]).unwrap_or_else(|e| {
        // A test derives it on every run: only a change that skipped the tests can get here.
        tracing::error!(error = %e, "the rollup template could not be derived");
        serde_json::json!({})
    })
}
