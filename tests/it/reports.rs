//! `samples/edge/report-lines.json` through the whole pipeline: each line is put in a real gzip'd payload, so the
//! raw-text prefilters, unescaping and classification are exercised together with the parsers.

use crate::support::{pipeline, record_with_messages};
use logmeter::pipeline::Scratch;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Case {
    name: String,
    message: String,
    expect: Option<serde_json::Map<String, Value>>,
    quarantined: Option<String>,
    /// What the report's rollup document says (`aws.lambda.*`; `null` for a field that must be absent).
    #[serde(default)]
    rollup: Option<serde_json::Map<String, Value>>,
    /// An init phase that did not succeed: no invocation, one init failure in the rollup.
    #[serde(default)]
    init_failure: bool,
    /// A Web Functions summary event: counted in `web_function_summaries`, not an invocation.
    #[serde(default)]
    web_summary: bool,
}

/// The rollup documents a plan holds.
fn rollups(plan: &logmeter::pipeline::RecordPlan) -> Vec<Value> {
    plan.parcels(logmeter::output::SEARCH)
        .iter()
        .flat_map(|b| b.body.split(|&c| c == b'\n').filter(|l| !l.is_empty()).skip(1).step_by(2))
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .filter(|d| d["event"]["dataset"] == "aws.lambda.rollup")
        .collect()
}

/// The invocation documents a plan holds (its rollups left out).
fn documents(plan: &logmeter::pipeline::RecordPlan) -> Vec<Value> {
    plan.parcels(logmeter::output::SEARCH)
        .iter()
        .flat_map(|b| b.body.split(|&c| c == b'\n').filter(|l| !l.is_empty()).skip(1).step_by(2))
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .filter(|d| d["event"]["dataset"] == "aws.lambda.report")
        .collect()
}

fn quarantine_reasons(plan: &logmeter::pipeline::RecordPlan) -> Vec<String> {
    plan.parcels(logmeter::output::QUARANTINE)
        .iter()
        .flat_map(|o| serde_json::from_slice::<Vec<Value>>(&o.body).unwrap())
        .map(|e| e["reason"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn table_from_samples_edge_report_lines() {
    let cases: Vec<Case> = serde_json::from_str(
        &std::fs::read_to_string(crate::support::root().join("samples/edge/report-lines.json")).unwrap(),
    )
    .unwrap();
    let p = pipeline();
    for case in cases {
        let rec = record_with_messages("/aws/lambda/checkout", "2026/11/20/[$LATEST]abc", &[&case.message], "7");
        let plan = p.plan_record(&rec, &mut Scratch::default());
        let docs = documents(&plan);
        let reasons = quarantine_reasons(&plan);
        assert_eq!(plan.summary.web_function_summaries, usize::from(case.web_summary), "{}", case.name);
        match (&case.expect, &case.quarantined) {
            (Some(expect), None) => {
                assert_eq!(docs.len(), 1, "{}: {reasons:?}", case.name);
                let d = &docs[0];
                for (k, v) in expect {
                    let got = match k.as_str() {
                        "request_id" => &d["faas"]["invocation_id"],
                        "coldstart" => &d["faas"]["coldstart"],
                        "trace_id" => &d["trace"]["id"],
                        "span_id" => &d["span"]["id"],
                        "error_type" => &d["error"]["type"],
                        other => &d["aws"]["lambda"][other],
                    };
                    assert_eq!(got, v, "{}: {k}", case.name);
                }
                assert_eq!(d["faas"]["name"], "checkout");
                assert!(reasons.is_empty(), "{}", case.name);
                let rolled = rollups(&plan);
                assert_eq!(rolled.len(), 1, "{}: one rollup", case.name);
                for (k, v) in case.rollup.iter().flatten() {
                    let got = &rolled[0]["aws"]["lambda"][k];
                    let same = match (got.as_f64(), v.as_f64()) {
                        (Some(a), Some(b)) => (a - b).abs() <= 1e-12,
                        _ => got == v,
                    };
                    assert!(same, "{}: rollup {k} is {got}, expected {v}", case.name);
                }
            }
            (None, Some(want)) => {
                assert!(docs.is_empty(), "{}", case.name);
                assert_eq!(reasons.len(), 1, "{}", case.name);
                assert!(reasons[0].contains(want.as_str()), "{}: {:?} lacks {want:?}", case.name, reasons[0]);
            }
            _ => {
                assert!(docs.is_empty() && reasons.is_empty(), "{}: not a report, not quarantined", case.name);
                let rolled = rollups(&plan);
                if case.init_failure {
                    assert_eq!(rolled.len(), 1, "{}", case.name);
                    let l = &rolled[0]["aws"]["lambda"];
                    assert_eq!(
                        (l["invocations"].as_u64(), l["init_failures"].as_u64()),
                        (Some(0), Some(1)),
                        "{}",
                        case.name
                    );
                } else {
                    assert!(rolled.is_empty(), "{}: nothing counted", case.name);
                }
            }
        }
    }
}

#[test]
fn valid_old_style_timeout_line_marks_the_report() {
    let id = "2ea49a23-ff39-4bf5-8761-439f99b7c5f6";
    let timeout = format!("2026-11-20T10:00:30.050Z {id} Task timed out after 30.03 seconds\n");
    let report = format!(
        "REPORT RequestId: {id}\tDuration: 30032.12 ms\tBilled Duration: 30000 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\t\n"
    );
    let other = "REPORT RequestId: 11111111-2222-4333-8444-555555555555\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\t\n";
    let rec = record_with_messages("/aws/lambda/slow", "2026/11/20/[3]abc", &[&timeout, &report, other], "9");
    let docs = documents(&pipeline().plan_record(&rec, &mut Scratch::default()));
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["aws"]["lambda"]["status"], "timeout");
    assert_eq!(docs[1]["aws"]["lambda"]["status"], "success");
    assert_eq!(docs[0]["faas"]["version"], "3");
}

#[test]
fn valid_custom_log_group_names_function_from_stream() {
    let report = "REPORT RequestId: r-1\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\t";
    let rec = record_with_messages("/app/shared", "2026/11/20/billing-api[$LATEST]abc", &[report], "9");
    let docs = documents(&pipeline().plan_record(&rec, &mut Scratch::default()));
    assert_eq!(docs[0]["faas"]["name"], "billing-api");
    assert_eq!(docs[0]["faas"]["version"], "$LATEST");
    assert_eq!(docs[0]["aws"]["cloudwatch"]["log_group"], "/app/shared");
}

#[test]
fn valid_system_fields_name_the_source_account_and_region() {
    let report = "REPORT RequestId: r-1\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\t";
    // A centralised log group: the payload's owner is the central account, the stream's region the central one;
    // the subscription's system fields (emitSystemFields) name where the lines came from.
    let payload = |extracted: serde_json::Value| {
        let mut event = serde_json::json!({"id": "1", "timestamp": 1_795_168_800_000_i64, "message": report});
        if !extracted.is_null() {
            event["extractedFields"] = extracted;
        }
        let p = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "999999999999", "logGroup": "/aws/lambda/f",
            "logStream": "2026/11/20/[1]abc", "subscriptionFilters": ["f"], "logEvents": [event]});
        crate::support::record_with_data(&crate::support::gzip(p.to_string().as_bytes()), "9")
    };
    let with = payload(serde_json::json!({"@aws.account": "123456789012", "@aws.region": "ap-southeast-2"}));
    let docs = documents(&pipeline().plan_record(&with, &mut Scratch::default()));
    assert_eq!(docs[0]["cloud"]["account"]["id"], "123456789012");
    assert_eq!(docs[0]["cloud"]["region"], "ap-southeast-2");
    // Without them: the owner, and the region of the Kinesis record.
    let without = payload(serde_json::Value::Null);
    let docs = documents(&pipeline().plan_record(&without, &mut Scratch::default()));
    assert_eq!(docs[0]["cloud"]["account"]["id"], "999999999999");
    assert_eq!(docs[0]["cloud"]["region"], "eu-west-1");
}
