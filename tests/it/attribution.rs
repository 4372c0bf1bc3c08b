//! Which document or series a figure lands in depends on the log event alone: never on what one container's
//! function lookup happened to learn (Lambda re-delivers a record into any container, warm or cold), and each event
//! is attributed to its own source account and region, which a centralised subscription may mix in one payload.

use crate::support::{gzip, large, record_with_data};
use logmeter::catalog::FunctionConfig;
use logmeter::cost::Architecture;
use logmeter::output::SEARCH;
use logmeter::output::prometheus::PROMETHEUS;
use logmeter::output::prometheus::PrometheusMode;
use logmeter::{KinesisBatch, Pipeline, PipelineConfig};
use serde_json::Value;
use std::collections::BTreeMap;

/// A pipeline writing every derived figure (rollups, reconciliation documents, Prometheus in `mode`), and the
/// function catalog a container's lookups would have filled (`learn`), as its planning would see it.
fn pipeline(
    mode: PrometheusMode,
    learn: impl Fn(&logmeter::catalog::Catalog, &str),
) -> (Pipeline, logmeter::catalog::CatalogSnapshot) {
    let config = PipelineConfig { threads: 2, ..PipelineConfig::default() };
    let catalog = logmeter::catalog::Catalog::default();
    for f in large().truth.reports.iter().map(|r| r.function_name.as_str()) {
        learn(&catalog, f);
    }
    // Prometheus's encoder from the registration list, with a URL for the mode (nothing is sent: plans only).
    let url = match mode {
        PrometheusMode::RemoteWrite => "PROMETHEUS_REMOTE_WRITE_URL",
        PrometheusMode::Pushgateway => "PROMETHEUS_PUSHGATEWAY_URL",
    };
    let prometheus = logmeter::output::prometheus::PrometheusConfig::from_lookup(&|k: &str| {
        (k == url).then(|| "http://p".to_owned())
    })
    .unwrap()
    .unwrap();
    let store = logmeter::sink::MemorySink::new;
    let stores = logmeter::output::Stores {
        ingest: store(),
        quarantine: store(),
        search: Some(store()),
        spool: false,
        prometheus: Some((prometheus, logmeter::sink::LocalDir::new(std::env::temp_dir()))),
        billing: logmeter::output::billing::Stores::default(),
    };
    let encoders = logmeter::output::register(&config.outputs, stores).into_iter().filter_map(|o| o.encoder).collect();
    (Pipeline::with_encoders(config, encoders), catalog.snapshot())
}

/// Prometheus parcels: name and bytes.
type Parcels = Vec<(String, Vec<u8>)>;

/// The bulk actions and documents a batch plans for the search mirror, by `_id`, and every Prometheus parcel.
fn planned(
    (p, catalog): &(Pipeline, logmeter::catalog::CatalogSnapshot),
    batch: &KinesisBatch,
) -> (BTreeMap<String, Value>, Parcels) {
    let plans = p.plan_batch_with(&batch.records, catalog);
    let mut docs = BTreeMap::new();
    for parcel in plans.iter().flat_map(|plan| plan.parcels(SEARCH)) {
        let text = String::from_utf8(parcel.body.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.chunks(2) {
            let action: Value = serde_json::from_str(pair[0]).unwrap();
            let id = action["create"]["_id"].as_str().unwrap().to_owned();
            let doc: Value = serde_json::from_str(pair[1]).unwrap();
            assert!(docs.insert(id.clone(), doc).is_none(), "{id} planned twice");
        }
    }
    let prometheus = plans.iter().flat_map(|plan| plan.parcels(PROMETHEUS)).map(|p| (p.key.clone(), p.body.clone()));
    (docs, prometheus.collect())
}

#[test]
fn rollup_ids_and_series_do_not_depend_on_what_a_container_looked_up() {
    let batch: &KinesisBatch = &serde_json::from_str(&large().event).unwrap();
    let arm = FunctionConfig {
        runtime: Some("nodejs22.x".into()),
        memory_mb: Some(512),
        handler: Some("index.handler".into()),
        architecture: Some(Architecture::Arm64),
        ..FunctionConfig::default()
    };
    for mode in [PrometheusMode::RemoteWrite, PrometheusMode::Pushgateway] {
        let (cold, cold_prom) = planned(&pipeline(mode, |_, _| {}), batch);
        let (failed, failed_prom) = planned(&pipeline(mode, |c, f| c.insert(f, None)), batch);
        let (known, known_prom) = planned(&pipeline(mode, |c, f| c.insert(f, Some(arm.clone()))), batch);
        let rollups = cold.values().filter(|d| d["event"]["dataset"] == "aws.lambda.rollup").count();
        assert!(rollups > 100, "the large sample has rollups ({rollups})");
        // The same documents under the same ids; the lookup only adds its description to rollups.
        assert_eq!(cold, failed, "{mode:?}: a failed lookup changes nothing");
        assert_eq!(cold.keys().collect::<Vec<_>>(), known.keys().collect::<Vec<_>>(), "{mode:?}: the same ids");
        let mut described = 0;
        for (id, doc) in &known {
            let mut doc = doc.clone();
            if let Some(lambda) = doc.pointer_mut("/aws/lambda").and_then(Value::as_object_mut) {
                described += usize::from(lambda.remove("function").is_some());
            }
            assert_eq!(&doc, &cold[id], "{mode:?}: {id} says the same but for the lookup's description");
        }
        assert_eq!(described, rollups, "{mode:?}: every rollup carries what the lookup found");
        // The same series, timestamps and values, byte for byte.
        assert!(!cold_prom.is_empty());
        assert_eq!(cold_prom, failed_prom, "{mode:?}: Prometheus after a failed lookup");
        assert_eq!(cold_prom, known_prom, "{mode:?}: Prometheus after a lookup that found arm64");
    }
}

/// One Kinesis record whose payload (owner 999999999999) holds REPORT events from two source accounts and regions,
/// as a centralised subscription with system fields delivers them, and one event without system fields.
fn mixed_accounts() -> KinesisBatch {
    let report = |id: &str| {
        format!(
            "REPORT RequestId: {id}\tDuration: 10.00 ms\tBilled Duration: 100 ms\tMemory Size: 1024 MB\tMax Memory Used: 64 MB\t"
        )
    };
    let event = |n: usize, fields: Value| {
        let mut e = serde_json::json!({"id": format!("{}", 3000 + n), "timestamp": 1_795_168_800_000_i64 + n as i64,
            "message": report(&format!("00000000-0000-4000-8000-00000000000{n}"))});
        if !fields.is_null() {
            e["extractedFields"] = fields;
        }
        e
    };
    let events = vec![
        event(1, serde_json::json!({"@aws.account": "111111111111", "@aws.region": "us-east-1"})),
        event(2, serde_json::json!({"@aws.account": "222222222222", "@aws.region": "eu-west-1"})),
        event(3, serde_json::json!({"@aws.account": "111111111111", "@aws.region": "us-east-1"})),
        event(4, Value::Null),
    ];
    let payload = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "999999999999",
        "logGroup": "/aws/lambda/central", "logStream": "2026/11/20/[$LATEST]0123456789abcdef0123456789abcdef",
        "subscriptionFilters": ["f"], "logEvents": events});
    let mut record = record_with_data(
        &gzip(payload.to_string().as_bytes()),
        "49000000000000000000000000000000000000000000000000000001",
    );
    record.aws_region = Some("ap-southeast-2".into());
    KinesisBatch { records: vec![record] }
}

#[test]
fn each_event_lands_under_its_own_source_account_and_region() {
    let batch = mixed_accounts();
    let (docs, prometheus) = planned(&pipeline(PrometheusMode::Pushgateway, |_, _| {}), &batch);
    let of = |dataset: &str| -> Vec<&Value> { docs.values().filter(|d| d["event"]["dataset"] == dataset).collect() };
    let where_ = |d: &Value| {
        (d["cloud"]["account"]["id"].as_str().unwrap().to_owned(), d["cloud"]["region"].as_str().unwrap().to_owned())
    };
    // Invocation documents: each under its event's account and region; the event without system fields under
    // the payload's owner and the record's region.
    let mut invocations: Vec<(String, (String, String))> = of("aws.lambda.report")
        .iter()
        .map(|d| (d["faas"]["invocation_id"].as_str().unwrap().to_owned(), where_(d)))
        .collect();
    invocations.sort();
    let at = |a: &str, r: &str| (a.to_owned(), r.to_owned());
    assert_eq!(
        invocations,
        vec![
            ("00000000-0000-4000-8000-000000000001".to_owned(), at("111111111111", "us-east-1")),
            ("00000000-0000-4000-8000-000000000002".to_owned(), at("222222222222", "eu-west-1")),
            ("00000000-0000-4000-8000-000000000003".to_owned(), at("111111111111", "us-east-1")),
            ("00000000-0000-4000-8000-000000000004".to_owned(), at("999999999999", "ap-southeast-2")),
        ]
    );
    // Rollups: one per source, each summing only its own invocations.
    let mut rollups: Vec<((String, String), u64)> = of("aws.lambda.rollup")
        .iter()
        .map(|d| (where_(d), d["aws"]["lambda"]["invocations"].as_u64().unwrap()))
        .collect();
    rollups.sort();
    assert_eq!(
        rollups,
        vec![
            (at("111111111111", "us-east-1"), 2),
            (at("222222222222", "eu-west-1"), 1),
            (at("999999999999", "ap-southeast-2"), 1)
        ]
    );
    // Prometheus: the same split, in the series' labels.
    let mut series: BTreeMap<(String, String), f64> = BTreeMap::new();
    for (_, body) in &prometheus {
        for line in String::from_utf8_lossy(body).lines().filter(|l| l.starts_with("faas_invocations_total{")) {
            let label = |name: &str| {
                line.split(&format!("{name}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap().to_owned()
            };
            let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            *series.entry((label("cloud_account_id"), label("cloud_region"))).or_default() += value;
        }
    }
    assert_eq!(
        series.into_iter().collect::<Vec<_>>(),
        vec![
            (at("111111111111", "us-east-1"), 2.0),
            (at("222222222222", "eu-west-1"), 1.0),
            (at("999999999999", "ap-southeast-2"), 1.0)
        ]
    );
    // Cost, which the join reads from the invocation documents: each invocation priced in its own region (the
    // committed table prices us-east-1 alone), never in the payload's.
    let mut priced: Vec<(String, bool)> = of("aws.lambda.report")
        .iter()
        .map(|d| (where_(d).1, d["aws"]["lambda"].get("estimated_cost_usd").is_some()))
        .collect();
    priced.sort();
    let region = |r: &str, p: bool| (r.to_owned(), p);
    assert_eq!(
        priced,
        vec![
            region("ap-southeast-2", false),
            region("eu-west-1", false),
            region("us-east-1", true),
            region("us-east-1", true)
        ]
    );
}
