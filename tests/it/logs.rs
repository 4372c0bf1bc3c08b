//! The function's own log group may be subscribed by mistake: its logs must never carry the meter tag or record
//! contents (they would be billed again), nor any secret.
//!
//! The binary runs in its own process with every log level on, so what is checked is what the program writes, whole,
//! with its own subscriber (a subscriber scoped to one test thread misses events while other tests run: tracing
//! caches a call site's interest process-wide).

use crate::support::root;

#[test]
fn logs_never_carry_the_tag_record_contents_or_secrets() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
        .args(["process", "samples/events/small.json"])
        .current_dir(root())
        .env_clear()
        .envs([
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("RUST_LOG", "trace".to_owned()),
            ("AWS_REGION", "eu-west-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "AKIATESTKEY".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "secret-for-tests".to_owned()),
            // S3 and the search mirror on a closed port: every delivery fails and is logged with its reason.
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("INGEST_BUCKET_NAME", "logs-test".to_owned()),
            ("S3_MAX_ATTEMPTS", "1".to_owned()),
            ("SEARCH_URL", "http://127.0.0.1:9".to_owned()),
            ("SEARCH_USERNAME", "metrics".to_owned()),
            ("SEARCH_PASSWORD", "hunter2-do-not-log".to_owned()),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("\"batch_item_failures\":1"), "the one record is reported for retry: {summary}");
    assert!(text.contains("delivery failed"), "the failure is logged: {text}");
    assert!(text.contains("configured"), "start-up is logged");
    for forbidden in ["meter_record_for_stream", "customerId", "meterApiName", "hunter2-do-not-log", "secret-for-tests"]
    {
        assert!(!text.contains(forbidden), "logs contain {forbidden:?}");
    }
}
