//! "No heap allocation per log event for lines that are neither tagged nor reports", checked with a counting
//! global allocator. It has a test binary of its own because a global allocator owns its whole binary.
#![allow(unsafe_code)] // GlobalAlloc is an unsafe trait; this harness only counts and forwards.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use flate2::{Compression, write::GzEncoder};
use logmeter::event::{KinesisData, KinesisInput};
use logmeter::pipeline::Scratch;
use logmeter::{Pipeline, PipelineConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwards the caller's layout unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`; the new size comes from the caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A record of `n` ordinary log lines (text and JSON log format, with escapes), none tagged, none a report.
fn record(n: usize) -> KinesisInput {
    let events: Vec<_> = (0..n)
        .map(|i| {
            let message = if i % 2 == 0 {
                format!("2026-11-20T10:00:00.000Z\t6bd1cb1c-8fb0-4b3d-a6c9-2f6a3a4d2f11\tINFO\tprocessed order {i}: \"ok\"\n")
            } else {
                format!(r#"{{"timestamp":"2026-11-20T10:00:00.000Z","level":"INFO","requestId":"r","message":"synced {i} rows"}}"#)
            };
            serde_json::json!({"id": format!("{i:056}"), "timestamp": 1_795_168_800_000_i64 + i as i64, "message": message})
        })
        .collect();
    let payload = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/f",
        "logStream": "2026/11/20/[$LATEST]abc", "subscriptionFilters": [], "logEvents": events});
    let mut gz = GzEncoder::new(Vec::new(), Compression::new(6));
    gz.write_all(payload.to_string().as_bytes()).unwrap();
    let mut r = KinesisInput { event_id: "shardId-1:5".into(), ..KinesisInput::default() };
    r.kinesis = KinesisData {
        sequence_number: "5".into(),
        data: base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap()),
        approximate_arrival_timestamp: 1_795_168_801.5,
        ..KinesisData::default()
    };
    r
}

fn allocations(pipeline: &Pipeline, input: &KinesisInput, scratch: &mut Scratch) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let plan = pipeline.plan_record(input, scratch);
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(plan.summary.meter_records + plan.summary.reports + plan.summary.quarantined, 0);
    after - before
}

#[test]
fn untagged_lines_cost_no_allocation_each() {
    let pipeline = Pipeline::new(PipelineConfig { threads: 1, ..PipelineConfig::default() });
    let (small, large) = (record(1_000), record(16_000));
    let mut scratch = Scratch::default();
    // Warm the reusable buffers, as a Lambda does after its first record.
    pipeline.plan_record(&large, &mut scratch);
    let a_small = allocations(&pipeline, &small, &mut scratch);
    let a_large = allocations(&pipeline, &large, &mut scratch);
    eprintln!("allocations: {a_small} for 1,000 events, {a_large} for 16,000");
    // 16x the events may add a few Vec doublings of the event list, never one allocation per event.
    assert!(a_large <= a_small + 8, "{a_small} allocations for 1,000 events, {a_large} for 16,000");
    assert!(a_large < 64, "{a_large} allocations for a 16,000-event record");
}
