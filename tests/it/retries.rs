//! Kinesis retries: the same batch again, a retry from a reported sequence number, an outage mid-batch, and the
//! deadline. Every meter record and document must end up delivered exactly once.

use crate::support::{Memory, billed, delivered, from_sequence, logged, memory, pipeline, quarantined, sample};
use std::collections::BTreeMap;
use tokio::time::Instant;

type Store = (BTreeMap<String, Vec<u8>>, BTreeMap<(String, String), String>);

fn handler() -> Memory {
    memory(pipeline(), true)
}

fn store(h: &Memory) -> Store {
    (h.objects.objects.lock().unwrap().clone(), h.search.documents.lock().unwrap().clone())
}

/// What users count: the meter records billed (each as often as it is in the bucket), the quarantine objects, and
/// the documents.
type Outcome = (Vec<String>, BTreeMap<String, Vec<u8>>, BTreeMap<(String, String), String>);

fn outcome(h: &Memory) -> Outcome {
    let (objects, documents) = store(h);
    (billed(&objects), quarantined(&objects), documents)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

#[test]
fn replayed_batch_changes_nothing() {
    let batch = sample("small");
    let h = handler();
    let first = rt().block_on(h.handle(&batch, None));
    let after_first = store(&h);
    let second = rt().block_on(h.handle(&batch, None));
    assert_eq!(store(&h), after_first);
    assert_eq!(second.summary.objects_written, 0);
    assert_eq!(second.summary.objects_already_present, first.summary.quarantine_objects, "quarantine objects found");
    assert_eq!(second.summary.meter_records_already_present, first.summary.meter_records, "meter records found");
    assert_eq!(billed(&after_first.0), logged("small"), "every meter record the functions logged, once");
    assert_eq!(second.summary.documents_indexed, 0);
    assert_eq!(second.summary.documents_already_present, first.summary.documents_indexed);
}

#[test]
fn outage_mid_batch_reports_lowest_undelivered_and_retry_delivers_exactly_once() {
    let batch = sample("small");
    let reference = handler();
    rt().block_on(reference.handle(&batch, None));
    let want = outcome(&reference);
    assert_eq!(want.0, logged("small"));

    for healthy_calls in [0, 1, 2, 3, 5, 7, 12] {
        let h = handler();
        h.objects.fail_after(healthy_calls);
        let out = rt().block_on(h.handle(&batch, None));
        let failures = &out.response.batch_item_failures;
        assert_eq!(failures.len(), 1, "outage after {healthy_calls} calls is reported");
        let seq = failures[0].item_identifier.clone().unwrap();
        // Every record before the reported one is fully delivered; the reported one is not.
        let plans = pipeline().plan_batch(&batch.records);
        let objects = h.objects.objects.lock().unwrap().clone();
        for p in plans.iter().take_while(|p| p.sequence_number != seq) {
            assert!(delivered(p, &objects), "record {} delivered", p.sequence_number);
        }
        let failed = plans.iter().find(|p| p.sequence_number == seq).unwrap();
        assert!(!delivered(failed, &objects), "reported record was not fully delivered");

        // Lambda retries from the reported sequence number once S3 is back.
        h.objects.recover();
        let retry = rt().block_on(h.handle(&from_sequence(&batch, &seq), None));
        assert!(retry.response.batch_item_failures.is_empty());
        assert_eq!(outcome(&h), want, "after recovery: every meter record and document exactly once");
    }
}

#[test]
fn search_outage_is_retried_without_duplicates() {
    let batch = sample("small");
    let reference = handler();
    rt().block_on(reference.handle(&batch, None));
    // Small bodies, so the outage strikes mid-batch: the first two bodies go in, the rest fail.
    let per_body = 16;
    let mut config = logmeter::PipelineConfig { threads: 2, ..Default::default() };
    config.outputs.search.bulk_max_actions = per_body;
    let h = memory(logmeter::Pipeline::new(config), true);
    h.search.fail_after(2);
    let out = rt().block_on(h.handle(&batch, None));
    // Two bodies of at most `per_body` actions each (a record's documents stay together when they fit a body).
    let indexed = out.summary.documents_indexed;
    assert!(indexed > per_body && indexed <= 2 * per_body, "{indexed} documents in the first two bodies");
    let seq = out.response.batch_item_failures[0].item_identifier.clone().unwrap();
    assert_ne!(seq, batch.records[0].kinesis.sequence_number, "the retry starts after what went in");
    h.search.recover();
    let retry = rt().block_on(h.handle(&from_sequence(&batch, &seq), None));
    assert!(retry.response.batch_item_failures.is_empty());
    assert_eq!(outcome(&h), outcome(&reference));
}

#[test]
fn deadline_stops_delivery_and_reports_the_first_record() {
    let batch = sample("small");
    let h = handler();
    let out = rt().block_on(h.handle(&batch, Some(Instant::now())));
    assert_eq!(
        out.response.batch_item_failures[0].item_identifier.as_deref(),
        Some(batch.records[0].kinesis.sequence_number.as_str())
    );
    assert!(store(&h).0.is_empty() && store(&h).1.is_empty());
}

/// 30 records of one meter record each, sequence numbers 49000…49029.
fn thirty_records() -> logmeter::KinesisBatch {
    use crate::support::record_with_messages;
    let line = |i: usize| {
        format!(
            "meter_record_for_stream {{\"customerId\":\"c-{i}\",\"meterApiName\":\"calls\",\"meterValue\":1,\"meterTimeInMillis\":1795168800000}}"
        )
    };
    let lines: Vec<String> = (0..30).map(line).collect();
    logmeter::KinesisBatch {
        records: (0..30)
            .map(|i| record_with_messages("/aws/lambda/f", "s", &[&lines[i]], &(49_000 + i).to_string()))
            .collect(),
    }
}

#[test]
fn deadline_reached_mid_batch_reports_the_first_record_not_written_and_the_retry_completes_it() {
    let batch = thirty_records();
    let mut config = logmeter::PipelineConfig { threads: 2, ..Default::default() };
    config.outputs.ingest.max_object_records = 5;
    let h = memory(logmeter::Pipeline::new(config), false);
    // Each call takes 400 ms; the deadline margin begins 1,000 ms from now. The LIST ends at 400 ms, the first
    // object (records 0-4) at 800 ms, the second (5-9), started before the margin, at 1,200 ms; the third would
    // start inside the margin.
    h.objects.set_latency(std::time::Duration::from_millis(400));
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let deadline = Instant::now() + logmeter::handler::DEADLINE_MARGIN + std::time::Duration::from_millis(1000);
    let out = rt.block_on(h.handle(&batch, Some(deadline)));
    let point = out.response.batch_item_failures[0].item_identifier.clone().unwrap();
    assert_eq!(point, "49010", "the first record not written");
    assert_eq!(billed(&h.objects.objects.lock().unwrap()).len(), 10, "every record before it was written");
    // Lambda retries from there: all 30 records billed, once each.
    h.objects.set_latency(std::time::Duration::ZERO);
    let retry = rt.block_on(h.handle(&from_sequence(&batch, &point), None));
    assert!(retry.response.batch_item_failures.is_empty());
    assert_eq!((retry.summary.objects_written, retry.summary.meter_records_already_present), (4, 0));
    let billed = billed(&h.objects.objects.lock().unwrap());
    assert_eq!(billed.len(), 30);
    assert!(billed.windows(2).all(|w| w[0] != w[1]), "no meter record twice");
}

#[test]
fn record_layout_deadline_reached_mid_batch_reports_the_first_record_not_started() {
    let batch = thirty_records();
    let mut config = logmeter::PipelineConfig { threads: 2, ..Default::default() };
    config.outputs.ingest.layout = logmeter::IngestLayout::Record;
    let h = memory(logmeter::Pipeline::new(config), false);
    // Each put takes 300 ms; the deadline margin runs out 150 ms from now. The first 16 records (the delivery
    // window) start at once and finish; the 17th would start only after the deadline margin began.
    h.objects.set_latency(std::time::Duration::from_millis(300));
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let deadline = Instant::now() + logmeter::handler::DEADLINE_MARGIN + std::time::Duration::from_millis(150);
    let out = rt.block_on(h.handle(&batch, Some(deadline)));
    let point = out.response.batch_item_failures[0].item_identifier.clone().unwrap();
    assert_eq!(point, "49016", "the first record not delivered");
    let delivered = h.objects.objects.lock().unwrap().clone();
    assert_eq!(delivered.len(), 16, "every record before it was delivered");
    // Lambda retries from there: all 30 records delivered, once each.
    h.objects.set_latency(std::time::Duration::ZERO);
    let retry = rt.block_on(h.handle(&from_sequence(&batch, &point), None));
    assert!(retry.response.batch_item_failures.is_empty());
    assert_eq!(retry.summary.objects_written, 14);
    assert_eq!(h.objects.objects.lock().unwrap().len(), 30);
}

#[test]
fn poison_records_are_never_reported() {
    let mut batch = sample("small");
    batch.records[0].kinesis.data = "%%% not base64 %%%".into();
    let h = handler();
    let out = rt().block_on(h.handle(&batch, None));
    assert!(out.response.batch_item_failures.is_empty());
    assert_eq!(out.summary.quarantined_kinesis_records, 6);
    let objects = h.objects.objects.lock().unwrap();
    let q = objects
        .iter()
        .find(|(k, _)| k.contains(&batch.records[0].kinesis.sequence_number) && k.starts_with("logmeter-quarantine/"))
        .unwrap();
    let entries: Vec<serde_json::Value> = serde_json::from_slice(q.1).unwrap();
    assert_eq!(entries[0]["data_base64"], "%%% not base64 %%%");
    assert!(entries[0]["reason"].as_str().unwrap().contains("base64"));
}
