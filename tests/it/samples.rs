//! The generated samples: committed files match the generator, and the pipeline recovers every value the
//! generator wrote.

use crate::support::{Memory, billed, large, logged, memory, pipeline, root};
use logmeter::KinesisBatch;
use logmeter::output::{INGEST, QUARANTINE, SEARCH};
use logmeter::samplegen::{self, Counts};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn committed_samples_match_the_generator() {
    for (rel, bytes) in samplegen::sample_files() {
        let committed = std::fs::read(root().join("samples").join(&rel)).unwrap();
        assert!(committed == bytes, "samples/{rel} differs from the generator: run `cargo run -- generate-samples`");
    }
}

#[test]
fn samples_parse_with_aws_lambda_events() {
    for name in ["small", "large"] {
        let bytes = std::fs::read(root().join(format!("samples/events/{name}.json"))).unwrap();
        let event: aws_lambda_events::event::kinesis::KinesisEvent = serde_json::from_slice(&bytes).unwrap();
        assert!(!event.records.is_empty());
        let size = bytes.len();
        if name == "large" {
            assert!((5_000_000..6_291_456).contains(&size), "large sample is near the 6 MB limit: {size}");
        }
    }
}

fn run(event: &str) -> (logmeter::Summary, Memory) {
    let batch: KinesisBatch = serde_json::from_str(event).unwrap();
    let mem = memory(pipeline(), true);
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let outcome = rt.block_on(mem.handler.handle(&batch, None));
    assert!(outcome.response.batch_item_failures.is_empty());
    (outcome.summary, mem)
}

fn counts(s: &logmeter::Summary) -> Counts {
    Counts {
        kinesis_records: s.kinesis_records,
        control_messages: s.control_messages,
        log_events: s.log_events,
        meter_records: s.meter_records,
        derived_unique_ids: s.derived_unique_ids,
        reports: s.reports,
        quarantined: s.quarantined,
        quarantined_kinesis_records: s.quarantined_kinesis_records,
    }
}

#[test]
fn large_sample_summary_matches_ground_truth() {
    let sample = large();
    let (summary, _) = run(&sample.event);
    assert_eq!(counts(&summary), sample.truth.counts);
    let committed: Counts =
        serde_json::from_slice(&std::fs::read(root().join("samples/events/large.truth.json")).unwrap()).unwrap();
    assert_eq!(committed, sample.truth.counts);
    assert_eq!(summary.objects_written, summary.record_objects + summary.quarantine_objects);
}

#[test]
fn sparse_sample_bills_every_record_once_with_a_twentieth_of_the_s3_requests() {
    let sample = logmeter::samplegen::generate(&logmeter::samplegen::sparse());
    let committed: Counts =
        serde_json::from_slice(&std::fs::read(root().join("samples/events/sparse.truth.json")).unwrap()).unwrap();
    assert_eq!(committed, sample.truth.counts);
    let (batch, mem) = run(&sample.event);
    assert_eq!(counts(&batch), sample.truth.counts);
    assert_eq!(billed(&mem.objects.objects.lock().unwrap()), logged("sparse"), "every meter record once");
    let lists = mem.objects.lists.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!((batch.objects_written, lists), (1, 1), "one LIST and one PUT for the batch");

    // The per-record layout: one PUT for each record that carries a meter record.
    let mut config = logmeter::PipelineConfig::default();
    config.outputs.ingest.layout = logmeter::IngestLayout::Record;
    let record = memory(logmeter::Pipeline::new(config), true);
    let batch_event: KinesisBatch = serde_json::from_str(&sample.event).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let per_record = rt.block_on(record.handle(&batch_event, None)).summary;
    assert_eq!(billed(&record.objects.objects.lock().unwrap()), logged("sparse"));
    assert!(
        per_record.objects_written >= 20 * (batch.objects_written + lists),
        "{} requests per record against {} per batch",
        per_record.objects_written,
        batch.objects_written + lists
    );
}

fn canonical(v: &Value) -> String {
    v.to_string()
}

#[test]
fn large_sample_every_meter_record_with_its_values() {
    let sample = large();
    let (_, handler) = run(&sample.event);
    let store = &handler.objects;
    let mut got = Vec::new();
    let mut derived_ids = std::collections::HashSet::new();
    for (key, body) in store.objects.lock().unwrap().iter() {
        if !key.starts_with("ingest/records/") {
            continue;
        }
        let date = &key["ingest/records/".len()..][..10];
        let records: Vec<Value> = serde_json::from_slice(body).unwrap();
        for mut r in records {
            let ms = r["meterTimeInMillis"].as_i64().unwrap();
            assert_eq!(logmeter::plan::utc_date(ms), date, "record filed under the date of its meterTimeInMillis");
            let id = r["uniqueId"].as_str().unwrap().to_owned();
            got.push((r.clone(), id.clone()));
            if uuid::Uuid::parse_str(&id).is_ok_and(|u| u.get_version_num() == 5) {
                assert!(derived_ids.insert(id), "derived uniqueIds are distinct");
                r.as_object_mut().unwrap().remove("uniqueId");
                got.last_mut().unwrap().0 = r;
            }
        }
    }
    let mut want: Vec<String> = sample.truth.meters.iter().map(canonical).collect();
    let mut have: Vec<String> = got.iter().map(|(v, _)| canonical(v)).collect();
    want.sort();
    have.sort();
    assert_eq!(have.len(), want.len());
    assert!(have == want, "extracted meter records differ from what the functions logged");
    assert_eq!(derived_ids.len(), sample.truth.counts.derived_unique_ids);
}

#[test]
fn large_sample_quarantine_has_every_bad_line_with_its_reason() {
    let sample = large();
    let (_, handler) = run(&sample.event);
    let store = &handler.objects;
    let mut reasons = Vec::new();
    for (key, body) in store.objects.lock().unwrap().iter() {
        if key.starts_with("logmeter-quarantine/") {
            let entries: Vec<Value> = serde_json::from_slice(body).unwrap();
            for e in entries {
                assert!(e.get("raw").is_some() || e.get("data_base64").is_some(), "raw data kept: {e}");
                reasons.push(e["reason"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(reasons.len(), sample.truth.counts.quarantined);
    let expected_reason = |label: &str| match label {
        "inspect" => "JSON.stringify",
        "python-repr" => "json.dumps",
        "missing-customer" => "customerId is missing",
        "seconds" => "looks like seconds",
        "trailing-brace" => "unexpected text after the JSON value",
        "string-value" => "meterValue must be a number",
        "bad-dimension" => "dimensions.units must be a string",
        "array-one-bad" => "meterApiName is missing",
        "no-json" => "not followed by a JSON object or array",
        "bad-report" => "n/a",
        "not-gzip" => "not gzip",
        "truncated-gzip" => "corrupt gzip",
        "gzip-not-json" => "not a CloudWatch Logs JSON document: expected '{' at byte 0",
        "gzip-wrong-json" => "missing field `messageType`",
        "over-inflate-cap" => "inflates past the cap",
        other => panic!("unknown label {other}"),
    };
    let mut by_label: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &sample.truth.bad {
        *by_label.entry(l).or_default() += 1;
    }
    for (label, n) in by_label {
        let want = expected_reason(label);
        let matching = reasons.iter().filter(|r| r.contains(want)).count();
        assert_eq!(matching, n, "{label}: {n} bad lines, {matching} quarantine reasons containing {want:?}");
    }
}

#[test]
fn large_sample_every_report_with_its_values() {
    let sample = large();
    let plans = pipeline().plan_batch(&serde_json::from_str::<KinesisBatch>(&sample.event).unwrap().records);
    let mut docs: BTreeMap<String, Value> = BTreeMap::new();
    for p in &plans {
        for b in p.parcels(SEARCH) {
            for (i, line) in b.body.split(|&c| c == b'\n').filter(|l| !l.is_empty()).enumerate() {
                if i % 2 == 1 {
                    let d: Value = serde_json::from_slice(line).unwrap();
                    if d["event"]["dataset"] != "aws.lambda.report" {
                        continue;
                    }
                    let id = d["faas"]["invocation_id"].as_str().unwrap().to_owned();
                    assert!(docs.insert(id, d).is_none(), "one document per invocation");
                }
            }
        }
        assert!(p.parcels(INGEST).iter().all(|o| o.key.starts_with("ingest/records/")));
        assert!(p.parcels(QUARANTINE).iter().all(|o| o.key.starts_with("logmeter-quarantine/")));
    }
    assert_eq!(docs.len(), sample.truth.reports.len());
    for want in &sample.truth.reports {
        let d = &docs[&want.request_id];
        let l = &d["aws"]["lambda"];
        let id = &want.request_id;
        assert_eq!(d["faas"]["name"], want.function_name.as_str(), "{id}");
        assert_eq!(d["faas"]["version"], want.function_version.as_str(), "{id}");
        assert_eq!(l["duration_ms"].as_f64(), want.duration_ms, "{id}");
        assert_eq!(l["billed_duration_ms"].as_u64(), want.billed_duration_ms, "{id}");
        assert_eq!(l["memory_size_mb"].as_u64(), want.memory_size_mb, "{id}");
        assert_eq!(l["max_memory_used_mb"].as_u64(), want.max_memory_used_mb, "{id}");
        assert_eq!(l["init_duration_ms"].as_f64(), want.init_duration_ms, "{id}");
        assert_eq!(l["restore_duration_ms"].as_f64(), want.restore_duration_ms, "{id}");
        assert_eq!(l["billed_restore_duration_ms"].as_u64(), want.billed_restore_duration_ms, "{id}");
        assert_eq!(l["status"], want.status.as_str(), "{id}");
        assert_eq!(d["error"]["type"].as_str(), want.error_type.as_deref(), "{id}");
        assert_eq!(d["trace"]["id"].as_str(), want.trace_id.as_deref(), "{id}");
        let cold = want.init_duration_ms.is_some() || want.restore_duration_ms.is_some();
        assert_eq!(d["faas"]["coldstart"], cold, "{id}");
        if let (Some(b), Some(m)) = (want.billed_duration_ms, want.memory_size_mb) {
            let gbs = l["billed_gb_seconds"].as_f64().unwrap();
            assert!((gbs - b as f64 / 1000.0 * m as f64 / 1024.0).abs() < 1e-9, "{id}");
        }
        assert_eq!(d["cloud"]["account"]["id"], "123456789012");
        assert_eq!(d["cloud"]["region"], "eu-west-1");
    }
}

#[test]
fn samples_readme_states_the_ground_truth() {
    let readme = std::fs::read_to_string(root().join("samples/README.md")).unwrap();
    for name in ["small", "large", "sparse"] {
        let truth: Counts =
            serde_json::from_slice(&std::fs::read(root().join(format!("samples/events/{name}.truth.json"))).unwrap())
                .unwrap();
        let size = std::fs::metadata(root().join(format!("samples/events/{name}.json"))).unwrap().len();
        let group = |n: u64| {
            let s = n.to_string();
            let mut out = String::new();
            for (i, c) in s.chars().enumerate() {
                if i > 0 && (s.len() - i).is_multiple_of(3) {
                    out.push(',');
                }
                out.push(c);
            }
            out
        };
        let t = truth;
        let row = format!(
            "| `{name}.json` | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            group(size),
            group(t.kinesis_records as u64),
            group(t.control_messages as u64),
            group(t.log_events as u64),
            group(t.meter_records as u64),
            group(t.derived_unique_ids as u64),
            group(t.reports as u64),
            group(t.quarantined as u64),
            group(t.quarantined_kinesis_records as u64)
        );
        assert!(readme.contains(&row), "samples/README.md lacks the row {row}");
    }
}

#[test]
fn large_sample_plans_alike_on_a_warm_pipeline() {
    // A warm pipeline reuses its workers' buffers from batch to batch: nothing of one batch may leak into the next,
    // whether one worker or several take the records.
    let records = serde_json::from_str::<KinesisBatch>(&large().event).unwrap().records;
    let small = crate::support::sample("small").records;
    for threads in [1, 2] {
        let warm = logmeter::Pipeline::new(logmeter::PipelineConfig { threads, ..logmeter::PipelineConfig::default() });
        let cold = logmeter::Pipeline::new(logmeter::PipelineConfig { threads, ..logmeter::PipelineConfig::default() });
        let first = warm.plan_batch(&records);
        assert_eq!(warm.plan_batch(&small), cold.plan_batch(&small), "{threads} threads");
        assert_eq!(warm.plan_batch(&records), first, "{threads} threads");
    }
}

#[test]
fn valid_output_is_the_same_with_any_fast_reader_off() {
    use logmeter::pipeline::FastReaders;
    let plan = |fast: FastReaders, event: &str| {
        let config = logmeter::PipelineConfig { threads: 2, fast_readers: fast, ..Default::default() };
        logmeter::Pipeline::new(config).plan_batch(&serde_json::from_str::<KinesisBatch>(event).unwrap().records)
    };
    let all = FastReaders::ALL;
    let each_off = [
        FastReaders { platform_report: false, ..all },
        FastReaders { text_report: false, ..all },
        FastReaders { meter_line: false, ..all },
        FastReaders { usual_record: false, ..all },
        FastReaders::NONE,
    ];
    let small = std::fs::read_to_string(root().join("samples/events/small.json")).unwrap();
    for event in [small.as_str(), large().event.as_str()] {
        let want = plan(all, event);
        assert!(want.iter().any(|p| !p.outputs.is_empty()));
        for fast in each_off {
            assert!(plan(fast, event) == want, "{fast:?}: every parcel and count the same as with all fast readers");
        }
    }
}

/// What the search cluster ingests, and bills per byte: every document the default outputs write (invocations,
/// rollups, meter records' reconciliation documents), action lines included, per invocation report of the large
/// sample (issue 33's target: 1,300; 2,226 before the documents stopped restating each other).
#[test]
fn large_sample_search_bytes_per_invocation_stay_under_1300() {
    let sample = large();
    let batch: KinesisBatch = serde_json::from_str(&sample.event).unwrap();
    let plans = pipeline().plan_batch(&batch.records);
    let bodies: Vec<String> =
        plans.iter().flat_map(|p| p.parcels(SEARCH)).map(|p| String::from_utf8(p.body.clone()).unwrap()).collect();
    let bytes: usize = bodies.iter().map(String::len).sum();
    let indices: BTreeSet<&str> = bodies
        .iter()
        .flat_map(|b| b.lines().step_by(2))
        .filter_map(|a| a.split("\"_index\":\"").nth(1)?.split('-').nth(1))
        .collect();
    assert_eq!(indices, BTreeSet::from(["metrics", "reconcile", "rollups"]), "every default document is written");
    let reports = sample.truth.counts.reports;
    let per_invocation = bytes / reports;
    assert!(per_invocation <= 1_300, "{bytes} bytes for {reports} invocations: {per_invocation} each");
}
