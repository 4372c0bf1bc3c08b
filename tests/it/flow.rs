//! The whole flow against local servers (tests/flow/local_flow.py): CloudWatch Logs with a subscription filter
//! delivering into Kinesis (moto), consumed the way the event source mapping does by the real Lambda binary: a
//! failed first invocation retried from the reported sequence number, then every other way Lambda re-delivers,
//! each with a fault placed inside an invocation by the fault proxy in front of S3.

use crate::proxy::{Fault, Kind, Proxy};
use crate::support::root;
use std::sync::atomic::Ordering;

/// Where the function sends its documents in a flow run.
#[derive(Clone, Copy)]
enum Search<'a> {
    /// OpenSearch, directly.
    OpenSearch,
    /// Elasticsearch, through this proxy.
    Elasticsearch(&'a str),
}

/// Runs the flow script's `scenario`, the function reaching S3 through `s3` when given; answers its summary.
fn flow(scenario: &str, s3: Option<&str>, search: Search<'_>) -> serde_json::Value {
    let _ = crate::servers::s3(); // starts the servers (and their Python) when they are not running
    let python = root().join("target/test-servers/venv/bin/python");
    let mut command = std::process::Command::new(python);
    command.arg(root().join("tests/flow/local_flow.py")).arg(env!("CARGO_BIN_EXE_logmeter-lambda")).arg(scenario);
    command.envs(crate::servers::vars()).env("LOGMETER_CLI", env!("CARGO_BIN_EXE_logmeter"));
    if let Some(url) = s3 {
        command.env("LOGMETER_FLOW_S3", url);
    }
    if let Search::Elasticsearch(url) = search {
        command.env("LOGMETER_FLOW_SEARCH_SERVER", "LOGMETER_TEST_ELASTICSEARCH_URL").env("LOGMETER_FLOW_SEARCH", url);
    }
    let out = command.output().expect("the servers' venv (tests/servers.sh) has the Python to run the flow");
    assert!(
        out.status.success(),
        "{scenario}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn cloudwatch_logs_to_kinesis_to_logmeter_to_s3_and_search() {
    let summary = flow("basic", None, Search::OpenSearch);
    assert_eq!(summary["meter_records_in_s3"], 5, "{summary}");
    assert_eq!(summary["report_documents"], 5, "{summary}");
    assert!(summary["retries"].as_u64().unwrap() >= 1, "a partial batch failure was retried: {summary}");
    // AWS_LAMBDA_MAX_CONCURRENCY=2 (Lambda Managed Instances): two invocations can be in flight in one process.
    assert_eq!(summary["concurrent_polls"], 2, "{summary}");
}

#[test]
fn backfill_of_events_delivered_live_gives_the_same_records_and_documents() {
    // The script checks: each report document once in the index (the same ids by either route), and each meter
    // record once in the bucket (the backfill found every one the live route wrote, derived uniqueIds included).
    let summary = flow("backfill", None, Search::OpenSearch);
    assert_eq!(summary["meter_records_in_s3"], 12, "{summary}");
    assert_eq!(summary["report_documents"], 12, "{summary}");
}

#[test]
fn every_way_lambda_redelivers_bills_each_meter_record_once() {
    // The proxy runs on its own thread while the flow script runs in this one.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let proxy = rt.block_on(Proxy::start(&crate::servers::s3()));
    let es = rt.block_on(Proxy::start(&crate::servers::elasticsearch()));
    let scenarios = [
        // Objects hold two meter records each, so each fault strikes after part of its batch landed.
        ("new-boundaries", Fault::NthFails { kind: Kind::Put, n: 5, status: 503 }),
        ("new-boundaries", Fault::NthAnswerLost { kind: Kind::Put, n: 4 }),
        ("bisect", Fault::NthAnswerLost { kind: Kind::Put, n: 5 }),
        ("timeout", Fault::NthAnswerLost { kind: Kind::Put, n: 4 }),
        ("concurrent", Fault::NthFails { kind: Kind::Put, n: 3, status: 503 }),
        ("replay", Fault::NthFails { kind: Kind::Put, n: 2, status: 503 }),
    ];
    for (i, (scenario, fault)) in scenarios.into_iter().enumerate() {
        let faults = proxy.faults.load(Ordering::SeqCst);
        proxy.set(fault);
        // Every other scenario indexes into Elasticsearch, whose first bulk answer is lost after the documents went
        // in: the body is sent again and each document answers 409.
        let search = if i % 2 == 1 { Search::Elasticsearch(&es.url) } else { Search::OpenSearch };
        let es_faults = es.faults.load(Ordering::SeqCst);
        es.set(Fault::NthAnswerLost { kind: Kind::Bulk, n: 1 });
        let summary = flow(scenario, Some(&proxy.url), search);
        assert_eq!(proxy.faults.load(Ordering::SeqCst), faults + 1, "{scenario}: the fault was placed");
        if let Search::Elasticsearch(_) = search {
            assert_eq!(es.faults.load(Ordering::SeqCst), es_faults + 1, "{scenario}: the bulk answer was lost");
        }
        // The script itself checks the bucket holds exactly the logged records and the index one document each.
        assert_eq!(summary["meter_records_in_s3"], summary["kinesis_records"], "{scenario}: {summary}");
        assert_eq!(summary["meter_records_in_s3"], 12, "{scenario}: {summary}");
        assert_eq!(summary["report_documents"], 12, "{scenario}: {summary}");
        assert!(summary["retries"].as_u64().unwrap() >= 1, "{scenario}: the failure was re-delivered: {summary}");
        if scenario == "concurrent" {
            assert_eq!(summary["most_invocations_in_flight"], 2, "{scenario}: two batches at once: {summary}");
        }
    }
}
