//! Property tests: arbitrary input never panics, codecs round-trip, output is a function of input.

use crate::support::{gzip, pipeline, record_with_data, record_with_messages};
use logmeter::decode::{gunzip_into, unescape_into};
use logmeter::extract::{EventRef, Extraction, MeterExtractor, parse_platform_report, parse_text_report};
use logmeter::pipeline::Scratch;
use proptest::prelude::*;

const EV: EventRef<'static> =
    EventRef { log_group: "g", log_stream: "s", event_id: "1", timestamp: 1, unique_ids: None };

fn message() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "meter_record_for_stream",
        " ",
        "\n",
        "\r",
        "\t",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\",
        "\"customerId\"",
        "\"meterApiName\"",
        "\"meterValue\"",
        "\"meterTimeInMillis\"",
        "\"c\"",
        "1795168800000",
        "1",
        "-2.5",
        "null",
        "REPORT ",
        "RequestId: ",
        "Duration: ",
        "ms",
        "MB",
        "platform.report",
        "\"message\"",
        "é",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

/// Whether the tag occurs with no word character on either side.
fn standalone_tag(msg: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    msg.match_indices("meter_record_for_stream")
        .any(|(i, t)| !word(msg[..i].chars().last()) && !word(msg[i + t.len()..].chars().next()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn extraction_never_panics_and_accounts_for_every_tag(msg in message()) {
        let mut out = Extraction::default();
        MeterExtractor::new("meter_record_for_stream").extract(&msg, &EV, &mut out);
        let _ = parse_text_report(&msg);
        let _ = parse_platform_report(&msg);
        // Every record is valid JSON with a uniqueId; nothing found means nothing claimed.
        for m in out.meters.iter() {
            let v: serde_json::Value = serde_json::from_str(m.json).unwrap();
            prop_assert!(v["uniqueId"].is_string());
        }
        if standalone_tag(&msg) {
            prop_assert!(!out.meters.is_empty() || !out.quarantine.is_empty(), "a standalone tag is never ignored: {msg:?}");
        }
    }

    #[test]
    fn arbitrary_record_data_never_panics(data in prop::collection::vec(any::<u8>(), 0..512), gz in any::<bool>()) {
        let bytes = if gz { gzip(&data) } else { data };
        let plan = pipeline().plan_record(&record_with_data(&bytes, "11"), &mut Scratch::default());
        prop_assert_eq!(plan.summary.kinesis_records, 1);
        // Whatever it was, exactly one holds: kept whole in the quarantine, a health check, or a data payload read.
        let s = plan.summary;
        let data = s.bytes_inflated > 0 && s.quarantined_kinesis_records == 0 && s.control_messages == 0;
        let outcomes = [s.quarantined_kinesis_records == 1, s.control_messages == 1, data];
        prop_assert_eq!(outcomes.iter().filter(|&&o| o).count(), 1, "{:?}", s);
        if s.quarantined_kinesis_records == 1 {
            prop_assert!(!plan.parcels(logmeter::output::QUARANTINE).is_empty());
        }
    }

    #[test]
    fn gzip_round_trip(data in prop::collection::vec(any::<u8>(), 0..4096), split in 0usize..4096) {
        let cut = split.min(data.len());
        let mut two = gzip(&data[..cut]);
        two.extend(gzip(&data[cut..]));
        let mut out = Vec::new();
        let n = gunzip_into(&two, 1 << 20, &mut out).unwrap();
        prop_assert_eq!(&out[..n], &data[..]);
    }

    #[test]
    fn unescape_agrees_with_serde(s in "\\PC{0,64}") {
        let raw = serde_json::to_string(&s).unwrap();
        let mut out = String::new();
        prop_assert!(unescape_into(&raw, &mut out));
        prop_assert_eq!(out, s);
    }

    #[test]
    fn same_input_same_plan(msgs in prop::collection::vec(message(), 1..6), records in 2usize..7, threads in 2usize..5) {
        // Several records, so that the threads really share the batch; each record one message more than the last.
        let batch: Vec<_> = (0..records)
            .map(|r| {
                let refs: Vec<&str> = msgs.iter().cycle().take(r + 1).map(String::as_str).collect();
                record_with_messages("/aws/lambda/f", "2026/11/20/[1]abc", &refs, &(42 + r).to_string())
            })
            .collect();
        let mut scratch = Scratch::default();
        let one_by_one: Vec<_> = batch.iter().map(|r| pipeline().plan_record(r, &mut scratch)).collect();
        let cfg = logmeter::PipelineConfig { threads, ..logmeter::PipelineConfig::default() };
        let threaded = logmeter::Pipeline::new(cfg).plan_batch(&batch);
        prop_assert_eq!(one_by_one, threaded);
    }
}
