//! Rollups against the generator's ground truth, function by function, and against real aggregation queries on
//! both search servers, over rollups that arrived in several batches, also after a replay.

use crate::servers::{self, http, rt, unique};
use crate::support::large;
use logmeter::KinesisBatch;
use logmeter::output::SEARCH;
use logmeter::plan::rollup::Sketch;
use serde_json::Value;
use std::collections::BTreeMap;

/// us-east-1's list prices (`data/lambda-prices.json`), given for the samples' region, eu-west-1.
pub(crate) const PRICES: [(&str, &str); 4] = [
    ("LAMBDA_PRICE_REQUEST", "0.0000002"),
    ("LAMBDA_PRICE_GB_SECOND_X86_64", "0.0000166667"),
    ("LAMBDA_PRICE_GB_SECOND_ARM64", "0.0000133334"),
    ("LAMBDA_PRICE_SNAPSTART_RESTORE_GB", "0.0001397998"),
];
pub(crate) const ARCHITECTURES: &str = "image-resizer=arm64,*=x86_64";

/// Per function: invocations, cold starts, billed duration (ms), GB-seconds, estimated cost (USD), and the
/// invocations by status (success, error, timeout, failure).
#[derive(Debug, Default, PartialEq, Clone)]
pub(crate) struct Totals {
    pub(crate) invocations: u64,
    pub(crate) cold_starts: u64,
    pub(crate) billed_ms: u64,
    pub(crate) gb_seconds: f64,
    pub(crate) cost: f64,
    pub(crate) statuses: [u64; 4],
}

pub(crate) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

fn assert_totals(got: &BTreeMap<String, Totals>, want: &BTreeMap<String, Totals>, what: &str) {
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{what}: functions");
    for (f, w) in want {
        let g = &got[f];
        assert_eq!(
            (g.invocations, g.cold_starts, g.billed_ms, g.statuses),
            (w.invocations, w.cold_starts, w.billed_ms, w.statuses),
            "{what}: {f}"
        );
        assert!(close(g.gb_seconds, w.gb_seconds), "{what}: {f} GB-seconds {} against {}", g.gb_seconds, w.gb_seconds);
        assert!(close(g.cost, w.cost), "{what}: {f} cost {} against {}", g.cost, w.cost);
    }
}

/// What the generator says each function's invocations in the large sample add up to.
fn truth() -> BTreeMap<String, Totals> {
    truth_of(large())
}

/// What the generator says each function's invocations in `sample` add up to, priced independently from the list
/// prices.
pub(crate) fn truth_of(sample: &logmeter::samplegen::Sample) -> BTreeMap<String, Totals> {
    let mut out: BTreeMap<String, Totals> = BTreeMap::new();
    for r in &sample.truth.reports {
        let t = out.entry(r.function_name.clone()).or_default();
        t.invocations += 1;
        t.cold_starts += u64::from(r.init_duration_ms.is_some() || r.restore_duration_ms.is_some());
        t.billed_ms += r.billed_duration_ms.unwrap_or(0);
        t.statuses[["success", "error", "timeout", "failure"].iter().position(|s| *s == r.status).unwrap()] += 1;
        if let (Some(ms), Some(mb)) = (r.billed_duration_ms, r.memory_size_mb) {
            let gb = mb as f64 / 1024.0;
            t.gb_seconds += ms as f64 / 1000.0 * gb;
            let per_gb_second = if r.function_name == "image-resizer" { 0.0000133334 } else { 0.0000166667 };
            t.cost += 0.0000002 + ms as f64 / 1000.0 * gb * per_gb_second;
            if let Some(restore) = r.billed_restore_duration_ms {
                t.cost += restore as f64 / 1000.0 * gb * per_gb_second + gb * 0.0001397998;
            }
        }
    }
    out
}

fn add(out: &mut BTreeMap<String, Totals>, doc: &Value) {
    let l = &doc["aws"]["lambda"];
    let t = out.entry(doc["faas"]["name"].as_str().unwrap().to_owned()).or_default();
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    t.invocations += n(&l["invocations"]);
    t.cold_starts += n(&l["cold_starts"]);
    t.billed_ms += n(&l["billed_duration_ms_sum"]);
    t.gb_seconds += l["billed_gb_seconds"].as_f64().unwrap();
    t.cost += l["estimated_cost_usd"].as_f64().unwrap_or(0.0);
    for (i, s) in ["success", "error", "timeout", "failure"].iter().enumerate() {
        t.statuses[i] += n(&l["invocations_by_status"][s]);
    }
}

fn config() -> logmeter::PipelineConfig {
    let vars: BTreeMap<&str, &str> =
        PRICES.into_iter().chain([("FUNCTION_ARCHITECTURES", ARCHITECTURES), ("LOGMETER_THREADS", "2")]).collect();
    logmeter::PipelineConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap()
}

#[test]
fn rollups_summed_per_function_equal_the_ground_truth_with_a_tenth_of_the_documents() {
    let batch: KinesisBatch = serde_json::from_str(&large().event).unwrap();
    let mut config = config();
    config.outputs.search.invocation_docs = false;
    config.outputs.search.reconcile_docs = false;
    let plans = logmeter::Pipeline::new(config).plan_batch(&batch.records);
    let mut got = BTreeMap::new();
    let mut sketches: BTreeMap<String, Sketch> = BTreeMap::new();
    let mut documents = 0;
    for b in plans.iter().flat_map(|p| p.parcels(SEARCH)) {
        for line in b.body.split(|&c| c == b'\n').filter(|l| !l.is_empty()).skip(1).step_by(2) {
            let doc: Value = serde_json::from_slice(line).unwrap();
            assert_eq!(doc["event"]["dataset"], "aws.lambda.rollup", "invocation documents are off");
            add(&mut got, &doc);
            documents += 1;
            let name = doc["faas"]["name"].as_str().unwrap().to_owned();
            if let Some(s) = Sketch::from_json(&doc["aws"]["lambda"]["duration_sketch"]) {
                sketches.entry(name).or_default().merge(&s);
            }
        }
    }
    assert_totals(&got, &truth(), "large sample");
    let reports = large().truth.reports.len();
    assert!(documents * 10 <= reports, "{documents} rollup documents for {reports} reports: at least 10x fewer");
    // Percentiles merged across the partial rollups, against the reports' own durations.
    for (name, sketch) in &sketches {
        let mut durations: Vec<f64> =
            large().truth.reports.iter().filter(|r| &r.function_name == name).filter_map(|r| r.duration_ms).collect();
        durations.sort_by(f64::total_cmp);
        for q in [0.5, 0.9, 0.99] {
            let exact = durations[(q * (durations.len() - 1) as f64).floor() as usize];
            let est = sketch.quantile(q).unwrap();
            assert!((est - exact).abs() <= 0.01 * exact.max(0.001), "{name} p{q}: {est} against {exact}");
        }
    }
}

#[test]
fn aggregation_queries_over_rollups_from_several_batches_match_the_ground_truth_after_a_replay() {
    let rt = rt();
    let batch: KinesisBatch = serde_json::from_str(&large().event).unwrap();
    let thirds: Vec<KinesisBatch> =
        batch.records.chunks(batch.records.len() / 3 + 1).map(|c| KinesisBatch { records: c.to_vec() }).collect();
    for (name, base) in [("opensearch", servers::opensearch()), ("elasticsearch", servers::elasticsearch())] {
        let bucket = rt.block_on(servers::bucket());
        let index = format!("logmeter-rollups-{}", unique(&format!("it-{name}")));
        let mut settings: Vec<(&str, String)> = vec![
            ("INGEST_BUCKET_NAME", bucket),
            ("SEARCH_URL", base.clone()),
            ("SEARCH_INVOCATION_DOCS", "false".into()),
            ("SEARCH_ROLLUP_INDEX_PATTERN", format!("{index}-%Y.%m.%d")),
            ("FUNCTION_ARCHITECTURES", ARCHITECTURES.into()),
        ];
        settings.extend(PRICES.iter().map(|(k, v)| (*k, v.to_string())));
        // The aggregations need the rollup template's keywords on this test's indices: the process-wide template
        // is installed once, by whichever test comes first, for its own indices.
        let mut template = logmeter::output::search::client::rollups_template(&[format!("{index}-*")]);
        template["priority"] = serde_json::json!(900);
        let (status, body) = http("PUT", &format!("{base}/_index_template/{index}"), Some(&template.to_string()));
        assert_eq!(status, 200, "{name}: {body}");
        let h = rt.block_on(servers::handler(&settings));
        for (i, part) in thirds.iter().enumerate() {
            let out = rt.block_on(h.handle(part, None));
            assert!(out.response.batch_item_failures.is_empty(), "{name}: batch {i}");
        }
        let query = r#"{"size":0,"aggs":{"f":{"terms":{"field":"faas.name","size":50},"aggs":{
            "invocations":{"sum":{"field":"aws.lambda.invocations"}},
            "cold_starts":{"sum":{"field":"aws.lambda.cold_starts"}},
            "billed_ms":{"sum":{"field":"aws.lambda.billed_duration_ms_sum"}},
            "gb_seconds":{"sum":{"field":"aws.lambda.billed_gb_seconds"}},
            "cost":{"sum":{"field":"aws.lambda.estimated_cost_usd"}}}}}}"#;
        let totals = || {
            http("POST", &format!("{base}/{index}-*/_refresh"), None);
            let (status, body) = http("POST", &format!("{base}/{index}-*/_search"), Some(query));
            assert_eq!(status, 200, "{name}: {body}");
            let mut out = BTreeMap::new();
            for b in body["aggregations"]["f"]["buckets"].as_array().unwrap() {
                let v = |k: &str| b[k]["value"].as_f64().unwrap();
                let t = Totals {
                    invocations: v("invocations") as u64,
                    cold_starts: v("cold_starts") as u64,
                    billed_ms: v("billed_ms") as u64,
                    gb_seconds: v("gb_seconds"),
                    cost: v("cost"),
                    statuses: [0; 4],
                };
                out.insert(b["key"].as_str().unwrap().to_owned(), t);
            }
            out
        };
        let mut want = truth();
        want.values_mut().for_each(|t| t.statuses = [0; 4]);
        assert_totals(&totals(), &want, name);
        // A replay of the middle batch, and of the whole batch: the same documents, refused as already there.
        rt.block_on(h.handle(&thirds[1], None));
        rt.block_on(h.handle(&batch, None));
        assert_totals(&totals(), &want, &format!("{name} after a replay"));
    }
}

#[test]
fn tenants_runtime_version_and_managed_instances_are_named_on_the_rollups() {
    use crate::support::record_with_messages;
    let report = |tenant: &str, id: &str| {
        format!(
            r#"{{"time":"2026-11-20T10:00:03.000Z","type":"platform.report","record":{{"requestId":"{id}","tenantId":"{tenant}","status":"success","metrics":{{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":512,"maxMemoryUsedMB":80}}}}}}"#
        )
    };
    let start = r#"{"time":"2026-11-20T10:00:02.000Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"python:3.13.v20"}}"#;
    let lines = [start.to_owned(), report("Blue", "a-1"), report("Blue", "a-2"), report("Green", "a-3")];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let rec = record_with_messages("/aws/lambda/checkout", "2026/11/20/[$LATEST]abc", &lines, "11");
    let rollups_of = |by_tenant: &str| -> Vec<Value> {
        let config =
            logmeter::PipelineConfig::from_lookup(|k| (k == "ROLLUP_BY_TENANT").then(|| by_tenant.to_owned())).unwrap();
        let plan = logmeter::Pipeline::new(config).plan_batch(std::slice::from_ref(&rec)).remove(0);
        plan.parcels(SEARCH)
            .iter()
            .flat_map(|b| b.body.split(|&c| c == b'\n').filter(|l| !l.is_empty()).skip(1).step_by(2))
            .map(|l| serde_json::from_slice::<Value>(l).unwrap())
            .filter(|d| d["event"]["dataset"] == "aws.lambda.rollup")
            .collect()
    };
    let one = rollups_of("false");
    assert_eq!(one.len(), 1, "tenants are not a group by default");
    assert_eq!(one[0]["aws"]["lambda"]["invocations"], 3);
    assert_eq!(one[0]["aws"]["lambda"]["tenant_id"], Value::Null);
    assert_eq!(one[0]["aws"]["lambda"]["runtime_version"], "python:3.13.v20");
    assert_eq!(one[0]["aws"]["lambda"]["initialization_type"], "on-demand");
    let by_tenant = rollups_of("true");
    let mut counts: Vec<(String, u64)> = by_tenant
        .iter()
        .map(|d| {
            (
                d["aws"]["lambda"]["tenant_id"].as_str().unwrap().to_owned(),
                d["aws"]["lambda"]["invocations"].as_u64().unwrap(),
            )
        })
        .collect();
    counts.sort();
    assert_eq!(counts, [("Blue".to_owned(), 2), ("Green".to_owned(), 1)]);
}

#[test]
fn function_metadata_lookup_names_architecture_and_configuration_from_the_lambda_api() {
    use crate::support::{record_with_messages, root};
    // A function in moto's Lambda API: arm64, Python, 512 MB, 30 s.
    let name = unique("meta-fn").replace('-', "_");
    let script = format!(
        r#"
import boto3, io, zipfile
kw = dict(endpoint_url="{url}", region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test")
role = boto3.client("iam", **kw).create_role(RoleName="{name}-role", AssumeRolePolicyDocument='{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"lambda.amazonaws.com"}},"Action":"sts:AssumeRole"}}]}}')["Role"]["Arn"]
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("app.py", "def handler(event, context):\n    return 1\n")
boto3.client("lambda", **kw).create_function(FunctionName="{name}", Runtime="python3.13", Role=role, Handler="app.handler",
    Code={{"ZipFile": buf.getvalue()}}, MemorySize=512, Timeout=30, Architectures=["arm64"])
"#,
        url = servers::s3()
    );
    let out = std::process::Command::new(root().join("target/test-servers/venv/bin/python"))
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let rt = rt();
    let index = format!("logmeter-rollups-{}", unique("it-meta"));
    let settings: Vec<(&str, String)> = vec![
        ("INGEST_BUCKET_NAME", rt.block_on(servers::bucket())),
        ("SEARCH_URL", servers::opensearch()),
        ("SEARCH_ROLLUP_INDEX_PATTERN", format!("{index}-%Y.%m.%d")),
        ("FUNCTION_METADATA_LOOKUP", "true".into()),
        ("LAMBDA_PRICE_REQUEST", "0".into()),
        ("LAMBDA_PRICE_GB_SECOND_X86_64", "1".into()),
        ("LAMBDA_PRICE_GB_SECOND_ARM64", "2".into()),
    ];
    let h = rt.block_on(servers::handler(&settings));
    let report = "REPORT RequestId: 6bd1cb1c-8fb0-4b3d-a6c9-2f6a3a4d2f10\tDuration: 12.5 ms\tBilled Duration: 1000 ms\tMemory Size: 512 MB\tMax Memory Used: 40 MB\t\n";
    let unknown = "REPORT RequestId: 6bd1cb1c-8fb0-4b3d-a6c9-2f6a3a4d2f11\tDuration: 12.5 ms\tBilled Duration: 1000 ms\tMemory Size: 512 MB\tMax Memory Used: 40 MB\t\n";
    let batch = KinesisBatch {
        records: vec![
            record_with_messages(&format!("/aws/lambda/{name}"), "2026/11/20/[$LATEST]abc", &[report], "21"),
            record_with_messages("/aws/lambda/not-in-this-account", "2026/11/20/[$LATEST]abc", &[unknown], "22"),
        ],
    };
    let out = rt.block_on(h.handle(&batch, None));
    assert!(out.response.batch_item_failures.is_empty());
    let base = servers::opensearch();
    http("POST", &format!("{base}/{index}-*/_refresh"), None);
    let (status, body) = http("POST", &format!("{base}/{index}-*/_search"), Some(r#"{"size":10}"#));
    assert_eq!(status, 200, "{body}");
    let docs: BTreeMap<String, Value> = body["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["_source"]["faas"]["name"].as_str().unwrap().to_owned(), h["_source"].clone()))
        .collect();
    let found = &docs[&name]["aws"]["lambda"];
    // The lookup describes the function; the price follows the static settings (x86_64 by default), so that every
    // container prices the record alike.
    assert_eq!(found["function"]["architecture"], "arm64", "from the function's configuration");
    assert_eq!(found["architecture"], "x86_64", "priced as FUNCTION_ARCHITECTURES says");
    assert_eq!(found["function"]["runtime"], "python3.13");
    assert_eq!(
        (found["function"]["memory_mb"].as_u64(), found["function"]["timeout_seconds"].as_u64()),
        (Some(512), Some(30))
    );
    assert_eq!(found["function"]["handler"], "app.handler");
    // 1 s at 0.5 GB at the x86_64 price given.
    assert_eq!(found["estimated_cost_usd"].as_f64(), Some(0.5));
    // A function the API does not know keeps FUNCTION_ARCHITECTURES' answer (x86_64) and carries no configuration.
    let other = &docs["not-in-this-account"]["aws"]["lambda"];
    assert_eq!(other["architecture"], "x86_64");
    assert_eq!(other["function"], Value::Null);
}
