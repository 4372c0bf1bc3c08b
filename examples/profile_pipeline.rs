//! Runs the single-threaded pipeline over the large sample many times, for `perf record` and `valgrind`, and
//! prints the median time per batch next to the inflate-only baseline of the same records (a quick check while
//! working; the figures of record come from `cargo bench --bench pipeline`).
//!
//! `cargo run --release --example profile_pipeline -- [ITERATIONS] [pipeline | readers | rollups]`
//!
//! `rollups` measures what rollups cost: the pipeline without them, with them (the default) and with them alone.
//!
//! `readers` measures what each fast reader gains: the pipeline with all of them, with each one off and with none,
//! interleaved iteration by iteration, as medians and as the time each one saves.
#![allow(clippy::expect_used)]

use logmeter::decode::{base64_into, gunzip_into};
use logmeter::output::{INGEST, QUARANTINE};
use logmeter::{KinesisBatch, Pipeline, PipelineConfig};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20).max(1);
    // `pipeline` as the second argument skips the baseline, for a profile of the pipeline alone.
    let mode = std::env::args().nth(2);
    let baseline = mode.as_deref() != Some("pipeline");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/events/large.json");
    let batch: KinesisBatch = serde_json::from_slice(&std::fs::read(path).expect("sample")).expect("event");
    let config = PipelineConfig { threads: 1, ..PipelineConfig::default() };
    let cap = config.max_inflated_bytes;
    if mode.as_deref() == Some("readers") {
        return readers(n, &batch, &config);
    }
    if mode.as_deref() == Some("rollups") {
        return rollups(n, &batch, &config);
    }
    let p = Pipeline::new(config);
    let compressed: Vec<Vec<u8>> = batch
        .records
        .iter()
        .filter_map(|r| {
            let mut c = Vec::new();
            base64_into(&r.kinesis.data, &mut c).ok().map(|()| c)
        })
        .collect();
    let (mut pipeline, mut inflate) = (Vec::new(), Vec::new());
    let (mut objects, mut inflated) = (0, 0);
    let mut buf = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        objects += p
            .plan_batch(&batch.records)
            .iter()
            .map(|r| r.parcels(INGEST).len() + r.parcels(QUARANTINE).len())
            .sum::<usize>();
        pipeline.push(t.elapsed());
        if !baseline {
            continue;
        }
        let t = Instant::now();
        inflated = compressed.iter().map(|c| gunzip_into(c, cap, &mut buf).unwrap_or(0)).sum::<usize>();
        inflate.push(t.elapsed());
    }
    if !baseline {
        let fastest = *pipeline.iter().min().expect("n ≥ 1");
        println!("{n} iterations, {objects} objects: pipeline median {:.1?}, fastest {fastest:.1?}", median(pipeline));
        return;
    }
    let (pmin, imin) = (*pipeline.iter().min().expect("n ≥ 1"), *inflate.iter().min().expect("n ≥ 1"));
    let (p, i) = (median(pipeline), median(inflate));
    let rate = |d: Duration| inflated as f64 / d.as_secs_f64() / 1e6;
    println!(
        "{n} iterations, {objects} objects: pipeline median {p:.1?} ({:.0} MB/s), inflate-only {i:.1?} ({:.0} MB/s), \
         ratio {:.3}; fastest {pmin:.1?} and {imin:.1?}, ratio {:.3}",
        rate(p),
        rate(i),
        i.as_secs_f64() / p.as_secs_f64(),
        imin.as_secs_f64() / pmin.as_secs_f64()
    );
}

/// The pipeline with invocation documents only, with rollups too (the default), and with rollups only,
/// interleaved iteration by iteration.
fn rollups(n: usize, batch: &KinesisBatch, config: &PipelineConfig) {
    let mut without = config.clone();
    without.outputs.search.rollups = false;
    let mut rollups_only = config.clone();
    rollups_only.outputs.search.invocation_docs = false;
    let variants = [
        ("invocation documents only", Pipeline::new(without)),
        ("with rollups (default)", Pipeline::new(config.clone())),
        ("rollups only", Pipeline::new(rollups_only)),
    ];
    let mut times = vec![Vec::new(); variants.len()];
    for _ in 0..n {
        for (i, (_, p)) in variants.iter().enumerate() {
            let t = Instant::now();
            std::hint::black_box(p.plan_batch(&batch.records));
            times[i].push(t.elapsed());
        }
    }
    let base = median(times[0].clone());
    for ((name, _), t) in variants.iter().zip(times) {
        let m = median(t);
        println!("{name:<28} median {m:.1?}, {:.3} of invocation documents only", m.as_secs_f64() / base.as_secs_f64());
    }
}

/// The pipeline with every fast reader, with each one off, and with none, interleaved.
fn readers(n: usize, batch: &KinesisBatch, config: &PipelineConfig) {
    use logmeter::pipeline::FastReaders;
    let all = FastReaders::ALL;
    let variants = [
        ("all fast readers", all),
        ("platform.report reader off", FastReaders { platform_report: false, ..all }),
        ("text REPORT reader off", FastReaders { text_report: false, ..all }),
        ("raw meter line reader off", FastReaders { meter_line: false, ..all }),
        ("one-pass record reader off (and the line reader)", FastReaders { usual_record: false, ..all }),
        ("none", FastReaders::NONE),
    ];
    let pipelines: Vec<Pipeline> = variants
        .iter()
        .map(|(_, fast)| Pipeline::new(PipelineConfig { fast_readers: *fast, ..config.clone() }))
        .collect();
    let mut times = vec![Vec::new(); variants.len()];
    for _ in 0..n {
        for (p, t) in pipelines.iter().zip(&mut times) {
            let start = Instant::now();
            std::hint::black_box(p.plan_batch(&batch.records));
            t.push(start.elapsed());
        }
    }
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    for ((name, _), m) in variants.iter().zip(&medians) {
        let gain = m.as_secs_f64() / medians[0].as_secs_f64() - 1.0;
        println!("{name:<50} median {m:>8.1?}   the fast readers on save {:>5.1} %", gain * 100.0);
    }
}
