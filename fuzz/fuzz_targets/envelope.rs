//! Fuzzes the Kinesis event envelope: the fuzzer's bytes as a whole event, as one record's JSON between two good
//! records, and as the value of each field of a record. Nothing may panic, and what the pipeline plans must keep
//! the promises the sinks rely on: every record read is planned or left for the retry in order, a record that is
//! not what Kinesis writes is quarantined whole and never delivered, the good records around it are processed,
//! and every key is a safe relative path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logmeter::event::KinesisBatch;
use logmeter::pipeline::retry_point;
use logmeter::output::QUARANTINE;
use logmeter::{Pipeline, PipelineConfig};

/// A record Kinesis could have delivered: gzip'd CloudWatch Logs payload with one meter line.
const GOOD: &str = r#"{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"p","sequenceNumber":"SEQ","data":"H4sIAAAAAAAC/12PQWuEMBCF/0oZehRibNd1vQm1y0K3F6WXjUjUuAQSI0nsUsT/3tFlKXRu8703M29m0MI5fhXlzygghbeszOpzXhTZMYcAzG0QFjGNXl538T45hDRCrMz1aM00okL4zRHFddNx0t+lwlvBNWpRGMWEUhKF5PL8kZV5UVa8adHlpsa1Vo5emuFdKi+sg/QCPVTbhvxbDH4lM8huPY8jXmJSzzUepfvDjsZJEq4VPD5Anxa4qbaiNbare2Nrt0V5mhm0k/NGC3vqGKTYMgjY3Z+N8pNrsWH9h7+4mlZIH6DEAKfhLJWSjv0LsbABlmr5BX2kbO1OAQAA","approximateArrivalTimestamp":1795168801.5},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000001:SEQ","eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/r","awsRegion":"eu-west-1","eventSourceARN":"arn:aws:kinesis:eu-west-1:123456789012:stream/s"}"#;

/// The fields whose value the fuzzer's text replaces, one at a time (the text is written where the value was).
const FIELDS: [&str; 5] = [
    r#""sequenceNumber":"SEQ""#,
    r#""approximateArrivalTimestamp":1795168801.5"#,
    r#""eventID":"shardId-000000000001:SEQ""#,
    r#""awsRegion":"eu-west-1""#,
    r#""partitionKey":"p""#,
];

fn good(seq: &str) -> String {
    GOOD.replace("SEQ", seq)
}

fuzz_target!(|data: &[u8]| {
    let pipeline = Pipeline::new(PipelineConfig { threads: 1, max_inflated_bytes: 1 << 20, ..PipelineConfig::default() });
    // The bytes as a whole event.
    if let Ok(batch) = serde_json::from_slice::<KinesisBatch>(data) {
        check(&pipeline, &batch, None);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // As one record between two good ones: unless the event as a whole is not JSON, both good records are read.
    let event = format!(r#"{{"Records":[{},{text},{}]}}"#, good("49001"), good("49003"));
    if let Ok(batch) = serde_json::from_str::<KinesisBatch>(&event) {
        check(&pipeline, &batch, Some(["49001", "49003"]));
    }
    // As the value of one field of the middle record.
    for field in FIELDS {
        let (name, _) = field.split_once(':').expect("a field");
        let middle = good("49002").replacen(&field.replace("SEQ", "49002"), &format!("{name}:{text}"), 1);
        let event = format!(r#"{{"Records":[{},{middle},{}]}}"#, good("49001"), good("49003"));
        if let Ok(batch) = serde_json::from_str::<KinesisBatch>(&event) {
            check(&pipeline, &batch, Some(["49001", "49003"]));
        }
    }
});

/// The promises of a planned batch; `good` names the sequence numbers of records known to be good.
fn check(pipeline: &Pipeline, batch: &KinesisBatch, good: Option<[&str; 2]>) {
    let plans = pipeline.plan_batch(&batch.records);
    assert!(plans.len() <= batch.records.len());
    // Small events never reach the output budget: every record is planned.
    if batch.records.len() <= 3 {
        assert_eq!(plans.len(), batch.records.len(), "a record was dropped");
    }
    for (plan, record) in plans.iter().zip(&batch.records) {
        for key in plan.outputs.iter().flat_map(|o| &o.parcels).map(|p| p.key.as_str()) {
            assert!(
                !key.starts_with('/') && key.split('/').all(|part| !part.is_empty() && part != "." && part != ".."),
                "unsafe key {key:?}"
            );
        }
        if record.problem().is_some() {
            assert!(plan.outputs.iter().all(|o| o.destination == QUARANTINE), "a bad record was delivered or mirrored");
            assert!(!plan.parcels(QUARANTINE).is_empty() && plan.summary.quarantined > 0, "a bad record left no trace");
        }
    }
    if let Some(good) = good {
        for seq in good {
            let i = batch.records.iter().position(|r| r.kinesis.sequence_number == seq).expect("good record read");
            assert!(batch.records[i].problem().is_none());
            assert_eq!(plans[i].summary.meter_records, 1, "the good record {seq} is processed");
        }
    }
    // A retry point is a sequence number Kinesis knows, or "" (retry the whole batch) when no record has one.
    let failed = vec![true; plans.len()];
    if let Some(point) = retry_point(&batch.records, &failed) {
        let known = |r: &&logmeter::event::KinesisInput| r.problem().is_none();
        match point.as_str() {
            "" => assert!(!batch.records.iter().take(1).any(|r| known(&r))),
            point => assert!(batch.records.iter().filter(known).any(|r| r.kinesis.sequence_number == point)),
        }
    }
}
