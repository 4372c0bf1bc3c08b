//! Runs the single-threaded pipeline over the large sample many times, for `perf record`.
#![allow(clippy::expect_used)]

use logmeter::{KinesisBatch, Pipeline, PipelineConfig};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/events/large.json");
    let batch: KinesisBatch = serde_json::from_slice(&std::fs::read(path).expect("sample")).expect("event");
    let p = Pipeline::new(PipelineConfig { threads: 1, ..PipelineConfig::default() });
    let mut objects = 0;
    for _ in 0..n {
        objects += p.plan_batch(&batch.records).iter().map(|r| r.objects.len()).sum::<usize>();
    }
    println!("{objects}");
}
