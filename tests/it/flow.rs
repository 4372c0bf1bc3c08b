//! The whole flow against local servers (tests/flow/local_flow.py): CloudWatch Logs with a subscription filter
//! delivering into Kinesis (moto), consumed the way the event source mapping does by the real Lambda binary, with
//! a failed first invocation retried from the reported sequence number.

use crate::support::root;

#[test]
fn cloudwatch_logs_to_kinesis_to_logmeter_to_s3_and_search() {
    let _ = crate::servers::s3(); // starts the servers (and their Python) when they are not running
    let python = root().join("target/test-servers/venv/bin/python");
    let out = std::process::Command::new(python)
        .arg(root().join("tests/flow/local_flow.py"))
        .arg(env!("CARGO_BIN_EXE_logmeter-lambda"))
        .envs(crate::servers::vars())
        .output()
        .expect("the servers' venv (tests/servers.sh) has the Python to run the flow");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["meter_records_in_s3"], 5, "{summary}");
    assert_eq!(summary["report_documents"], 5, "{summary}");
    assert!(summary["retries"].as_u64().unwrap() >= 1, "a partial batch failure was retried: {summary}");
    // AWS_LAMBDA_MAX_CONCURRENCY=2 (Lambda Managed Instances): two invocations can be in flight in one process.
    assert_eq!(summary["concurrent_polls"], 2, "{summary}");
}
