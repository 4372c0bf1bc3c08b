//! Hostile input: a record built to amplify, or an event whose records are not what Kinesis writes, is bounded and
//! isolated; nothing is lost (what is refused is kept whole) and the other records are processed.

use crate::support::{gzip, memory, pipeline, record_with_data, record_with_messages};
use logmeter::KinesisBatch;
use logmeter::output::{QUARANTINE, SEARCH};
use logmeter::pipeline::{Scratch, retry_point};
use serde_json::Value;

fn entries(plan: &logmeter::pipeline::RecordPlan) -> Vec<Value> {
    plan.parcels(QUARANTINE).iter().flat_map(|o| serde_json::from_slice::<Vec<Value>>(&o.body).unwrap()).collect()
}

#[test]
fn invalid_array_of_many_bad_records_is_listed_within_bounds_and_kept_whole() {
    let n = 300_000;
    let msg = format!("meter_record_for_stream [{}]", vec!["{}"; n].join(","));
    let rec = record_with_messages("/aws/lambda/f", "s", &[&msg], "7");
    let plan = pipeline().plan_record(&rec, &mut Scratch::default());
    let listed = entries(&plan);
    assert_eq!(plan.summary.quarantined, n + 1, "every bad record is counted, plus the whole-record entry");
    assert_eq!(plan.summary.quarantine_omitted, n - logmeter::extract::MAX_LISTED_ENTRIES);
    assert_eq!(listed.len(), logmeter::extract::MAX_LISTED_ENTRIES + 1);
    let whole = listed.last().unwrap();
    assert_eq!(whole["kind"], "kinesis_record");
    assert_eq!(whole["data_base64"], rec.kinesis.data.as_str(), "the exact bytes are kept for replay");
    assert!(whole["reason"].as_str().unwrap().contains("customerId is missing"), "{}", whole["reason"]);
}

#[test]
fn invalid_line_of_bare_tags_is_read_once() {
    let msg = "meter_record_for_stream ".repeat(200_000);
    let rec = record_with_messages("/aws/lambda/f", "s", &[&msg], "7");
    let plan = pipeline().plan_record(&rec, &mut Scratch::default());
    assert_eq!(plan.summary.quarantined, 200_001);
    let listed = entries(&plan);
    let raw: usize = listed.iter().map(|e| e["raw"].as_str().map_or(0, str::len)).sum();
    assert!(raw <= logmeter::extract::MAX_RECORD_RAW_BYTES, "{raw} bytes of raw text");
    assert_eq!(listed.last().unwrap()["data_base64"], rec.kinesis.data.as_str());
}

#[test]
fn invalid_record_whose_output_is_too_large_is_kept_whole() {
    let line = "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t";
    let lines = vec![line; 40_000];
    let rec = record_with_messages("/aws/lambda/f", "s", &lines, "7");
    let plan = pipeline().plan_record(&rec, &mut Scratch::default());
    assert!(plan.parcels(SEARCH).is_empty(), "nothing of it is delivered");
    let listed = entries(&plan);
    assert_eq!(listed.len(), 1);
    assert!(listed[0]["reason"].as_str().unwrap().contains("MAX_RECORD_OUTPUT_BYTES"));
    assert_eq!(listed[0]["data_base64"], rec.kinesis.data.as_str());
}

#[tokio::test]
async fn invalid_batch_output_beyond_the_budget_is_left_for_the_retry() {
    let line = "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t";
    let lines = vec![line; 9_000];
    let records: Vec<_> =
        (0..8).map(|i| record_with_messages("/aws/lambda/f", "s", &lines, &(10 + i).to_string())).collect();
    let batch = KinesisBatch { records };
    let handler = memory(pipeline(), true).handler;
    let out = handler.handle(&batch, None).await;
    let planned = batch.records.len() - out.deferred_only;
    assert!((1..8).contains(&planned), "planned {planned}");
    assert_eq!(out.summary.deferred_records, out.deferred_only);
    let item = out.response.batch_item_failures[0].item_identifier.clone().unwrap();
    assert_eq!(item, batch.records[planned].kinesis.sequence_number, "the retry starts at the first record left");
}

#[tokio::test]
async fn invalid_envelope_fields_fail_one_record_not_the_event() {
    let good = record_with_messages("/aws/lambda/f", "s", &["hello"], "100");
    let good = serde_json::json!({"eventID": good.event_id, "awsRegion": "eu-west-1", "kinesis": {
        "sequenceNumber": good.kinesis.sequence_number, "data": good.kinesis.data,
        "approximateArrivalTimestamp": 1_795_168_801.5}});
    let data = good["kinesis"]["data"].clone();
    let bad = [
        serde_json::json!({"eventID": "shardId-000000000001:101"}),
        serde_json::json!({"eventID": "shardId-000000000001:102", "kinesis": null}),
        serde_json::json!({"eventID": "shardId-000000000001:103", "kinesis": {"sequenceNumber": "103", "data": null}}),
        serde_json::json!({"eventID": "shardId-000000000001:104", "kinesis": {"sequenceNumber": "104", "data": 5}}),
        serde_json::json!({"eventID": "shardId-000000000001:105", "kinesis": {"sequenceNumber": 105, "data": data}}),
        serde_json::json!({"eventID": "shardId-000000000001:106", "kinesis": {"sequenceNumber": "106", "data": data, "approximateArrivalTimestamp": "x"}}),
        serde_json::json!({"eventID": null, "kinesis": {"sequenceNumber": "107", "data": data, "approximateArrivalTimestamp": 1.0}}),
        serde_json::json!({"eventID": "shardId-000000000001:108", "awsRegion": 5, "kinesis": {"sequenceNumber": "108", "data": data, "approximateArrivalTimestamp": 1.0}}),
        serde_json::json!({"eventID": "../../x:109", "kinesis": {"sequenceNumber": "109", "data": data, "approximateArrivalTimestamp": 1.0}}),
        serde_json::json!({"eventID": "a/b:109", "kinesis": {"sequenceNumber": "109", "data": "AAAB", "approximateArrivalTimestamp": 1.0}}),
        serde_json::json!({"eventID": "shardId-000000000001:110", "kinesis": {"sequenceNumber": "1".repeat(200), "data": data, "approximateArrivalTimestamp": 1.0}}),
        serde_json::json!({"eventID": "shardId-000000000001:111", "kinesis": {"sequenceNumber": "111", "data": data, "approximateArrivalTimestamp": 1e15}}),
    ];
    let mut text = String::from("{\"Records\":[");
    text.push_str(&good.to_string());
    for b in &bad {
        text.push(',');
        text.push_str(&b.to_string());
    }
    // A duplicated `data` key, which serde_json::json! cannot write.
    text.push_str(r#",{"eventID":"shardId-000000000001:112","kinesis":{"sequenceNumber":"112","data":"AAAA","data":"BBBB","approximateArrivalTimestamp":1.0}}"#);
    text.push_str("]}");
    let batch: KinesisBatch = serde_json::from_str(&text).expect("one record's fields never make the event unreadable");
    assert_eq!(batch.records.len(), 14);
    let mem = memory(pipeline(), false);
    let out = mem.handler.handle(&batch, None).await;
    assert_eq!(out.summary.log_events, 1, "the good record is processed");
    assert_eq!(out.summary.quarantined_kinesis_records, 13, "each bad record is quarantined on its own");
    assert!(out.response.batch_item_failures.is_empty());
    let objects = mem.objects.objects.lock().unwrap().clone();
    for (key, body) in &objects {
        assert!(!key.contains(".."), "{key}");
        let v: Vec<Value> = serde_json::from_slice(body).unwrap();
        for e in v {
            assert!(e["raw"].is_string() || e["data_base64"].is_string(), "what could be kept is kept: {e}");
        }
    }
    assert_eq!(objects.len(), 13, "each bad record has a quarantine object of its own");
    let all: String = objects.values().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
    assert!(all.contains("AAAA") && all.contains("BBBB"), "both values of a duplicated data key are kept");
}

#[test]
fn invalid_control_message_with_tagged_lines_is_kept() {
    let payload = serde_json::json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
        "logStream": "", "subscriptionFilters": [], "logEvents": [{"id": "1", "timestamp": 1_795_168_800_000_i64,
        "message": "meter_record_for_stream {\"customerId\":\"c\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1795168800000}"}]});
    let rec = record_with_data(&gzip(payload.to_string().as_bytes()), "9");
    let plan = pipeline().plan_record(&rec, &mut Scratch::default());
    assert_eq!(plan.summary.control_messages, 0);
    assert_eq!(plan.summary.quarantined_kinesis_records, 1);
    assert!(entries(&plan)[0]["reason"].as_str().unwrap().contains("CONTROL_MESSAGE"));
}

#[test]
fn valid_retry_point_names_a_known_sequence_number() {
    let ok = |seq: &str| record_with_messages("/aws/lambda/f", "s", &["x"], seq);
    let mut unknown = ok("3");
    unknown.event_id = "bogus".into();
    let records = vec![ok("1"), ok("2"), unknown, ok("4")];
    let table: [(&[bool], Option<&str>); 6] = [
        (&[false, false, false, false], None),
        (&[false, true, false, false], Some("2")),
        (&[false, false, true, false], Some("2")),
        (&[false, false], Some("2")),
        (&[false, false, false], Some("4")),
        (&[true, false, false, false], Some("1")),
    ];
    for (failed, want) in table {
        assert_eq!(retry_point(&records, failed).as_deref(), want, "{failed:?}");
    }
    let mut first = ok("1");
    first.event_id = "bogus".into();
    assert_eq!(retry_point(&[first], &[true]).as_deref(), Some(""), "no known number: the whole batch is retried");
}
