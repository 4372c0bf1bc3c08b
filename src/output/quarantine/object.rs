//! The quarantine object of a Kinesis record: everything in it that could not be processed, one JSON line per
//! entry in an array, under `<quarantine prefix>/YYYY-MM-DD/<shard>/<sequence>-<digest>.json` (dated by the
//! record's arrival; the key names its body).

use crate::extract::{QuarantineEntry, QuarantineKind};
use crate::plan::json_out::push_str;
use crate::plan::objects::CLOSE;
use crate::plan::{Parcel, content_key, joined, utc_date};

/// The quarantine object of one Kinesis record, `<prefix>/<date>/<shard>/<sequence>-<digest>.json` (dated by the
/// record's arrival time, `undated` without one), or `None` when nothing was quarantined. A replay that quarantines
/// otherwise (after a fix) writes another version beside it.
pub fn quarantine_object(
    entries: &[QuarantineEntry],
    prefix: &str,
    shard: &str,
    sequence: &str,
    arrival_millis: i64,
) -> Option<Parcel> {
    if entries.is_empty() {
        return None;
    }
    // Each line is its raw text and reason (escaped, so perhaps longer) and about 300 bytes of names and ids.
    let size: usize = entries
        .iter()
        .map(|e| {
            let raw = e.raw.as_ref().map_or(0, |r| r.len() * 9 / 8);
            320 + e.reason.len() + raw + e.data_base64.as_ref().map_or(0, String::len)
        })
        .sum();
    let mut body = Vec::with_capacity(size);
    for (i, e) in entries.iter().enumerate() {
        body.extend_from_slice(if i == 0 { b"[\n" } else { b",\n" });
        push_quarantine_line(&mut body, shard, sequence, e);
    }
    body.extend_from_slice(CLOSE);
    // A record without a valid arrival time (itself quarantined for it) is filed under `undated`.
    let date = if arrival_millis > 0 { utc_date(arrival_millis) } else { "undated".to_owned() };
    let stem = joined(&[prefix, "/", &date, "/", shard, "/", sequence]);
    Some(Parcel { key: content_key(&stem, &body, ".json"), body, items: entries.len() })
}

/// One line of a quarantine object: the entry with its shard and sequence number, byte for byte what
/// `serde_json` writes for it (checked in the tests) without the map serializer that its flattening needs.
fn push_quarantine_line(out: &mut Vec<u8>, shard: &str, sequence: &str, e: &QuarantineEntry) {
    out.extend_from_slice(b"{\"shard\":");
    push_str(out, shard);
    out.extend_from_slice(b",\"sequence_number\":");
    push_str(out, sequence);
    out.extend_from_slice(match e.kind {
        QuarantineKind::KinesisRecord => b",\"kind\":\"kinesis_record\"",
        QuarantineKind::MeterRecord => b",\"kind\":\"meter_record\"",
        QuarantineKind::Report => b",\"kind\":\"report\"",
    });
    out.extend_from_slice(b",\"reason\":");
    push_str(out, &e.reason);
    for (key, value) in [
        (&b",\"log_group\":"[..], &e.log_group),
        (b",\"log_stream\":", &e.log_stream),
        (b",\"event_id\":", &e.event_id),
    ] {
        if let Some(v) = value {
            out.extend_from_slice(key);
            push_str(out, v);
        }
    }
    if let Some(t) = e.event_timestamp {
        out.extend_from_slice(b",\"event_timestamp\":");
        out.extend_from_slice(itoa::Buffer::new().format(t).as_bytes());
    }
    if let Some(p) = e.position {
        out.extend_from_slice(b",\"position\":");
        out.extend_from_slice(itoa::Buffer::new().format(p).as_bytes());
    }
    for (key, value) in [(&b",\"raw\":"[..], &e.raw), (b",\"data_base64\":", &e.data_base64)] {
        if let Some(v) = value {
            out.extend_from_slice(key);
            push_str(out, v);
        }
    }
    if e.raw_cut {
        out.extend_from_slice(b",\"raw_cut\":true");
    }
    out.push(b'}');
}

/// The line as `serde_json` writes it, which [`push_quarantine_line`] must match.
#[cfg(test)]
#[derive(serde::Serialize)]
struct QuarantineLine<'a> {
    shard: &'a str,
    sequence_number: &'a str,
    #[serde(flatten)]
    entry: &'a QuarantineEntry,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::names_content;

    #[test]
    fn valid_quarantine_object() {
        let e = QuarantineEntry::record("bad".into(), "AAAA");
        let o = quarantine_object(&[e], "q", "shardId-1", "7", 1_763_600_000_000).unwrap();
        assert!(o.key.starts_with("q/2025-11-20/shardId-1/7-") && names_content(&o.key, &o.body), "{}", o.key);
        let v: serde_json::Value = serde_json::from_slice(&o.body).unwrap();
        assert_eq!(v[0]["kind"], "kinesis_record");
        assert_eq!(v[0]["sequence_number"], "7");
        assert_eq!(v[0]["data_base64"], "AAAA");
        assert!(quarantine_object(&[], "q", "s", "7", 0).is_none());
    }

    #[test]
    fn valid_quarantine_lines_match_serde_json() {
        let ev = crate::extract::EventRef {
            log_group: "/aws/lambda/f",
            log_stream: "2026/11/20/[$LATEST]a\"b",
            event_id: "00000000000000000000000000000000000000000000000000000007",
            timestamp: -5,
            unique_ids: None,
        };
        let entries = [
            QuarantineEntry::record("record data is not valid base64: x".into(), "AAAA/+=="),
            QuarantineEntry::at(
                QuarantineKind::MeterRecord,
                &ev,
                "why \"q\"\n".into(),
                "{\"a\":\"\\u00e9\t\"}",
                Some(3),
            ),
            QuarantineEntry::at(QuarantineKind::Report, &ev, "no RequestId".into(), "REPORT Duration: 1 ms", None),
        ];
        for e in &entries {
            let mut ours = Vec::new();
            push_quarantine_line(&mut ours, "shardId-1", "49", e);
            let serde =
                serde_json::to_vec(&QuarantineLine { shard: "shardId-1", sequence_number: "49", entry: e }).unwrap();
            assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(serde).unwrap());
        }
    }
}
