//! Kinesis retries: the same batch again, a retry from a reported sequence number, an outage mid-batch, and the
//! deadline. Every meter record and document must end up delivered exactly once.

use crate::support::{Memory, from_sequence, memory, pipeline, sample};
use logmeter::destination::{INGEST, QUARANTINE};
use std::collections::BTreeMap;
use std::time::Instant;

type Store = (BTreeMap<String, Vec<u8>>, BTreeMap<(String, String), String>);

fn handler() -> Memory {
    memory(pipeline(), true)
}

fn store(h: &Memory) -> Store {
    (h.objects.objects.lock().unwrap().clone(), h.search.documents.lock().unwrap().clone())
}

/// Keys of the objects a plan writes (ingest and quarantine).
fn keys(p: &logmeter::pipeline::RecordPlan) -> Vec<&str> {
    [INGEST, QUARANTINE].iter().flat_map(|d| p.parcels(d)).map(|o| o.key.as_str()).collect()
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
    assert_eq!(second.summary.objects_already_present, first.summary.objects_written);
    assert_eq!(second.summary.documents_indexed, 0);
    assert_eq!(second.summary.documents_already_present, first.summary.documents_indexed);
}

#[test]
fn outage_mid_batch_reports_lowest_undelivered_and_retry_delivers_exactly_once() {
    let batch = sample("small");
    let reference = handler();
    rt().block_on(reference.handle(&batch, None));
    let want = store(&reference);

    for healthy_calls in [0, 1, 3, 7, 12] {
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
            assert!(keys(p).iter().all(|k| objects.contains_key(*k)), "record {} delivered", p.sequence_number);
        }
        let failed = plans.iter().find(|p| p.sequence_number == seq).unwrap();
        assert!(!keys(failed).iter().all(|k| objects.contains_key(*k)), "reported record was not fully delivered");

        // Lambda retries from the reported sequence number once S3 is back.
        h.objects.recover();
        let retry = rt().block_on(h.handle(&from_sequence(&batch, &seq), None));
        assert!(retry.response.batch_item_failures.is_empty());
        assert_eq!(store(&h), want, "after recovery: every object and document exactly once");
    }
}

#[test]
fn search_outage_is_retried_without_duplicates() {
    let batch = sample("small");
    let reference = handler();
    rt().block_on(reference.handle(&batch, None));
    let h = handler();
    h.search.fail_after(2);
    let out = rt().block_on(h.handle(&batch, None));
    let seq = out.response.batch_item_failures[0].item_identifier.clone().unwrap();
    h.search.recover();
    rt().block_on(h.handle(&from_sequence(&batch, &seq), None));
    assert_eq!(store(&h), store(&reference));
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

#[test]
fn deadline_reached_mid_batch_reports_the_first_record_not_started_and_the_retry_completes_it() {
    use crate::support::record_with_messages;
    let line = |i: usize| {
        format!(
            "meter_record_for_stream {{\"customerId\":\"c-{i}\",\"meterApiName\":\"calls\",\"meterValue\":1,\"meterTimeInMillis\":1795168800000}}"
        )
    };
    let lines: Vec<String> = (0..30).map(line).collect();
    let batch = logmeter::KinesisBatch {
        records: (0..30)
            .map(|i| record_with_messages("/aws/lambda/f", "s", &[&lines[i]], &(49_000 + i).to_string()))
            .collect(),
    };
    let h = memory(pipeline(), false);
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
