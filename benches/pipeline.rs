//! Throughput of the pure pipeline on the large sample (near the 6 MB Lambda payload limit), against the
//! inflate-only, inflate+parse and decode (base64+inflate+parse) baselines measured in the same run. Throughput is counted in inflated payload
//! bytes. Run: `cargo bench --bench pipeline`.

#![allow(clippy::expect_used)] // A bench without its sample cannot run.

use divan::counter::BytesCount;
use logmeter::decode::{GunzipError, base64_into, gunzip_into, parse_payload};
use logmeter::{KinesisBatch, Pipeline, PipelineConfig};
use std::sync::OnceLock;

fn main() {
    divan::main();
}

struct Input {
    batch: KinesisBatch,
    compressed: Vec<Vec<u8>>,
    inflated_bytes: usize,
}

const CAP: usize = 16 << 20;

fn input() -> &'static Input {
    static INPUT: OnceLock<Input> = OnceLock::new();
    INPUT.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/events/large.json");
        let batch: KinesisBatch =
            serde_json::from_slice(&std::fs::read(path).expect("samples/events/large.json")).expect("event");
        let mut compressed = Vec::new();
        let mut inflated_bytes = 0;
        let mut buf = Vec::new();
        for r in &batch.records {
            let mut c = Vec::new();
            if base64_into(&r.kinesis.data, &mut c).is_err() {
                continue;
            }
            // Every record the pipeline inflates is inflated here too (a declared bomb included, into a window up
            // to the cap); only decodable payload bytes are counted, as for the pipeline.
            match gunzip_into(&c, CAP, &mut buf) {
                Ok(n) => inflated_bytes += n,
                Err(GunzipError::NotGzip(_) | GunzipError::Empty) => continue,
                Err(_) => {}
            }
            compressed.push(c);
        }
        Input { batch, compressed, inflated_bytes }
    })
}

/// Baseline: gunzip every decodable record (zlib-rs), nothing else.
#[divan::bench(sample_count = 60)]
fn inflate_only(b: divan::Bencher) {
    let i = input();
    let mut buf = Vec::new();
    b.counter(BytesCount::new(i.inflated_bytes)).bench_local(|| {
        let mut total = 0;
        for c in &i.compressed {
            total += gunzip_into(c, CAP, &mut buf).unwrap_or(0);
        }
        total
    });
}

/// Baseline: gunzip and parse the CloudWatch Logs JSON.
#[divan::bench(sample_count = 60)]
fn inflate_and_parse(b: divan::Bencher) {
    let i = input();
    let mut buf = Vec::new();
    b.counter(BytesCount::new(i.inflated_bytes)).bench_local(|| {
        let mut events = 0;
        for c in &i.compressed {
            if let Ok(n) = gunzip_into(c, CAP, &mut buf) {
                events += parse_payload(&buf[..n]).map_or(0, |p| p.log_events.len());
            }
        }
        events
    });
}

/// The floor of any consumer: base64, gunzip and parse every record (no extraction, planning or encoding).
#[divan::bench(sample_count = 60)]
fn decode_only(b: divan::Bencher) {
    let i = input();
    let (mut compressed, mut buf) = (Vec::new(), Vec::new());
    b.counter(BytesCount::new(i.inflated_bytes)).bench_local(|| {
        let mut events = 0;
        for r in &i.batch.records {
            if base64_into(&r.kinesis.data, &mut compressed).is_ok()
                && let Ok(n) = gunzip_into(&compressed, CAP, &mut buf)
            {
                events += parse_payload(&buf[..n]).map_or(0, |p| p.log_events.len());
            }
        }
        events
    });
}

fn plan(b: divan::Bencher, threads: usize) {
    let i = input();
    let pipeline = Pipeline::new(PipelineConfig { threads, ..PipelineConfig::default() });
    b.counter(BytesCount::new(i.inflated_bytes)).bench_local(|| pipeline.plan_batch(&i.batch.records));
}

/// Decode + extract + plan + encode (base64 included), one thread.
#[divan::bench(sample_count = 60)]
fn pipeline_1_thread(b: divan::Bencher) {
    plan(b, 1);
}

/// The same on every available core.
#[divan::bench(sample_count = 60)]
fn pipeline_all_threads(b: divan::Bencher) {
    plan(b, std::thread::available_parallelism().map_or(1, |n| n.get()));
}
