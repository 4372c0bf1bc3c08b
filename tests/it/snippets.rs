//! The emitting helpers (Rust module, Node.js and Python snippets) produce lines the extractor turns back into
//! exactly the record that was emitted, as a raw stdout line and wrapped by the Lambda JSON log format.

use crate::support::root;
use logmeter::extract::{EventRef, Extraction, MeterExtractor};
use serde_json::{Value, json};

const EV: EventRef<'static> = EventRef {
    log_group: "/aws/lambda/api",
    log_stream: "2026/11/20/[$LATEST]x",
    event_id: "1",
    timestamp: 1,
    unique_ids: None,
};

fn extract(message: &str) -> Extraction {
    let mut out = Extraction::default();
    MeterExtractor::new("meter_record_for_stream").extract(message, &EV, &mut out);
    out
}

fn expected() -> Value {
    json!({"customerId": "c-42", "meterApiName": "api-calls", "meterValue": 3.5, "meterTimeInMillis": 1795132800123_i64,
           "uniqueId": "req-1#0", "dimensions": {"plan": "pro", "city": "Zürich"}})
}

fn check(source: &str, stdout: &str) {
    assert_eq!(stdout.lines().count(), 1, "{source}: one line, one log event: {stdout:?}");
    let json_format = json!({"timestamp": "2026-11-20T00:00:00.123Z", "level": "INFO", "requestId": "req-1", "message": stdout.trim_end()}).to_string();
    for message in [stdout.to_owned(), json_format] {
        let out = extract(&message);
        assert!(out.quarantine.is_empty(), "{source}: {:?}", out.quarantine);
        assert_eq!(out.meters.len(), 1, "{source}");
        let got: Value = serde_json::from_str(out.meters.get(0).unwrap().json).unwrap();
        assert_eq!(got, expected(), "{source}");
    }
}

#[test]
fn rust_helper_lines_extract_to_the_same_record() {
    let m = logmeter::emit::Meter::new("c-42", "api-calls", 3.5, 1_795_132_800_123)
        .unique_id("req-1#0")
        .dimension("plan", "pro")
        .dimension("city", "Zürich");
    check("rust", &m.line(logmeter::emit::TAG));
}

#[test]
fn node_snippet_lines_extract_to_the_same_record() {
    let script = format!(
        "require({:?}).emitMeter({{customerId: 'c-42', meterApiName: 'api-calls', meterValue: 3.5, meterTimeInMillis: 1795132800123.9, uniqueId: 'req-1#0', dimensions: {{plan: 'pro', city: 'Zürich'}}}})",
        root().join("sam/snippets/meter.js")
    );
    let out = std::process::Command::new("node").args(["-e", &script]).output().expect("node is needed for this test");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    check("node", &String::from_utf8(out.stdout).unwrap());
}

#[test]
fn python_snippet_lines_extract_to_the_same_record() {
    let script = "import sys; sys.path.insert(0, sys.argv[1]); from meter import emit_meter; \
        emit_meter('c-42', 'api-calls', 3.5, 1795132800123.9, 'req-1#0', {'plan': 'pro', 'city': 'Zürich'})";
    let dir = root().join("sam/snippets");
    let out = std::process::Command::new("python3").args(["-c", script, dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Z\\u00fcrich"), "json.dumps escapes non-ASCII: {text}");
    check("python", &text);
}

#[test]
fn demo_api_meters_each_call_once_per_customer() {
    let meter = logmeter::emit::api_call(Some(" c-42 "), "GET /orders", "req-abc", 1_795_132_800_123).unwrap();
    let out = extract(&meter.line(logmeter::emit::TAG));
    assert_eq!(out.meters.len(), 1);
    let got: Value = serde_json::from_str(out.meters.get(0).unwrap().json).unwrap();
    assert_eq!(
        got,
        json!({"customerId": "c-42", "meterApiName": "api-calls", "meterValue": 1.0, "meterTimeInMillis": 1795132800123_i64,
               "uniqueId": "req-abc", "dimensions": {"route": "GET /orders"}})
    );
    assert!(logmeter::emit::api_call(None, "GET /", "r", 1).is_none());
    assert!(logmeter::emit::api_call(Some("  "), "GET /", "r", 1).is_none());
}
