//! Fuzzes the whole pure pipeline: arbitrary bytes as a record's data (raw and gzip'd, so the payload parser sees
//! the fuzzer's bytes), and arbitrary text as a log message for the meter and report extractors. Nothing may panic.
#![no_main]

use base64::Engine as _;
use flate2::{Compression, write::GzEncoder};
use libfuzzer_sys::fuzz_target;
use logmeter::event::{KinesisData, KinesisInput};
use logmeter::extract::{
    EventRef, Extraction, MeterExtractor, parse_platform_report, parse_text_report, read_raw_platform_report,
    read_raw_text_report,
};
use logmeter::pipeline::Scratch;
use logmeter::{Pipeline, PipelineConfig};
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let pipeline = Pipeline::new(PipelineConfig { threads: 1, max_inflated_bytes: 1 << 20, ..PipelineConfig::default() });
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    let _ = gz.write_all(data);
    let gz = gz.finish().unwrap_or_default();
    for bytes in [data, gz.as_slice()] {
        let mut input = KinesisInput { event_id: "shardId-0:1".into(), ..KinesisInput::default() };
        input.kinesis = KinesisData {
            sequence_number: "1".into(),
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
            approximate_arrival_timestamp: 1_795_168_801.5,
            ..KinesisData::default()
        };
        let _ = pipeline.plan_record(&input, &mut Scratch::default());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let ev = EventRef { log_group: "g", log_stream: "s", event_id: "1", timestamp: 1, unique_ids: None };
        MeterExtractor::new("meter_record_for_stream").extract(text, &ev, &mut Extraction::default());
        let _ = parse_text_report(text);
        let _ = parse_platform_report(text);
        // The raw reader sees the fuzzer's text as the inside of a message literal; when it reads a report, the
        // serde reader of the unescaped text must read the same one.
        let raw = format!("\"{text}\"");
        if let Some(fast) = read_raw_platform_report(&raw) {
            let unescaped: String = serde_json::from_str(&raw).expect("a literal the raw reader accepts is valid JSON");
            assert_eq!(parse_platform_report(&unescaped), Ok(Some(fast)));
        }
        // Likewise for text `REPORT` lines, where the literal is valid JSON (the payload scanner gives no other).
        if let Some(fast) = read_raw_text_report(&raw)
            && let Ok(unescaped) = serde_json::from_str::<String>(&raw)
        {
            assert_eq!(parse_text_report(&unescaped), Ok(fast));
        }
        // And for tagged lines: what the raw meter reader takes, the general one reads to the same records.
        let meter = MeterExtractor::new("meter_record_for_stream");
        let mut fast = Extraction::default();
        if let Ok(unescaped) = serde_json::from_str::<String>(&raw) {
            if meter.extract_raw(&raw, &ev, &mut fast) {
                let mut general = Extraction::default();
                meter.extract(&unescaped, &ev, &mut general);
                assert_eq!(fast, general);
            } else {
                assert_eq!(fast, Extraction::default());
            }
        }
    }
});
