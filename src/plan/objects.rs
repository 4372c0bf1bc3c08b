//! S3 objects and their keys: meter records as JSON arrays, per batch (`<prefix>/YYYY-MM-DD/<shard>/<last>-<first>-
//! <digest>.json`) or per record (`…/<sequence>-<part>-<digest>.json`); one quarantine object per Kinesis record
//! (`<quarantine prefix>/YYYY-MM-DD/<shard>/<sequence>-<digest>.json`); spooled and refused requests. Every key
//! names its body ([`names_content`]).

use super::Parcel;
use super::json_out::push_str;
use super::{day_of, push_date, utc_date};
use crate::extract::{MeterRecord, MeterRecords, QuarantineEntry, QuarantineKind};
use std::collections::BTreeMap;

/// What ends every object's JSON array.
const CLOSE: &[u8] = b"\n]\n";

/// Groups the record's meter records by UTC date of `meterTimeInMillis` and packs each group, in log order, into
/// parts bounded by `max_bytes` and `max_records` (a single record larger than `max_bytes` gets a part alone).
pub fn record_objects(
    records: &MeterRecords,
    prefix: &str,
    shard: &str,
    sequence: &str,
    max_bytes: usize,
    max_records: usize,
) -> Vec<Parcel> {
    let mut by_day: BTreeMap<i64, Vec<MeterRecord<'_>>> = BTreeMap::new();
    for r in records.iter() {
        // Nearly always one day: its list is sized for all the records at once.
        by_day.entry(day_of(r.time_millis)).or_insert_with(|| Vec::with_capacity(records.len())).push(r);
    }
    let mut objects = Vec::new();
    for (day, group) in by_day {
        let mut date = String::with_capacity(10);
        push_date(&mut date, day, '-');
        let mut part = 0;
        // Bytes of the day's records not yet written, each with the separator before it: each body is sized from
        // it once, with room for the closing `\n]\n` (a body one byte short is copied whole to grow).
        let mut rest: usize = group.iter().map(|r| r.json.len() + 2).sum();
        let mut body = Vec::with_capacity(rest.min(max_bytes) + CLOSE.len());
        let mut items = 0;
        for r in group {
            let grown = body.len() + 2 + r.json.len() + 3;
            if items > 0 && (items == max_records || grown > max_bytes) {
                objects.push(finish(prefix, &date, shard, sequence, part, body, items));
                part += 1;
                body = Vec::with_capacity(rest.min(max_bytes) + CLOSE.len());
                items = 0;
            }
            rest -= r.json.len() + 2;
            body.extend_from_slice(if items == 0 { b"[\n" } else { b",\n" });
            body.extend_from_slice(r.json.as_bytes());
            items += 1;
        }
        if items > 0 {
            objects.push(finish(prefix, &date, shard, sequence, part, body, items));
        }
    }
    objects
}

fn finish(prefix: &str, date: &str, shard: &str, seq: &str, part: usize, mut body: Vec<u8>, items: usize) -> Parcel {
    body.extend_from_slice(CLOSE);
    Parcel {
        key: {
            let mut digits = itoa::Buffer::new();
            let digits = digits.format(part);
            let digest = super::digest16(&body);
            let pad = super::pad4(digits);
            super::joined(&[prefix, "/", date, "/", shard, "/", seq, "-", pad, digits, "-", &digest, ".json"])
        },
        body,
        items,
    }
}

/// Whether `key` names `body`: its file name ends in `-<digest>` before its extension (`.json`, `.ndjson`,
/// `.snappy`, `.prom`, each perhaps followed by `.gz`), where `<digest>` is 16 hex digits of the SHA-1 of the body
/// (of the gunzipped body under a `.gz` key). Every object logmeter writes is named so, which is what makes a
/// create-only write that finds its key taken (S3's 412) proof that the same bytes are there: the content check
/// costs no request and no read permission. Two different bodies under one key would need a 64-bit SHA-1
/// collision between two objects of one folder and one sequence range.
pub fn names_content(key: &str, body: &[u8]) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    let (name, gz) = match name.strip_suffix(".gz") {
        Some(n) => (n, true),
        None => (name, false),
    };
    let Some((stem, _ext)) = name.rsplit_once('.') else { return false };
    let Some((_, digest)) = split_content_digest(stem) else { return false };
    if !gz {
        return super::digest16(body) == digest;
    }
    let mut inflated = Vec::new();
    match crate::decode::gunzip_into(body, 1 << 30, &mut inflated) {
        Ok(len) => super::digest16(&inflated[..len]) == digest,
        Err(_) => false,
    }
}

/// A stem of a key that names its body, split into what comes before its digest and the 16 hex digits; `None`
/// for a stem without one.
pub fn split_content_digest(stem: &str) -> Option<(&str, &str)> {
    stem.rsplit_once('-').filter(|(_, d)| d.len() == 16 && d.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `<stem>-<digest of body><ext>`: a key that names its body ([`names_content`]).
pub(crate) fn content_key(stem: &str, body: &[u8], ext: &str) -> String {
    super::joined(&[stem, "-", &super::digest16(body), ext])
}

/// Width of a sequence number in the batch layout's keys: Kinesis's. Shorter numbers are zero-padded so that keys
/// sort as the numbers do.
pub const SEQUENCE_WIDTH: usize = 56;

/// `sequence` zero-padded to [`SEQUENCE_WIDTH`] when it is a decimal number no wider; otherwise unchanged (a key
/// name from [`crate::pipeline`], which never holds a `/`).
pub fn sortable_sequence(sequence: &str) -> std::borrow::Cow<'_, str> {
    let numeric = !sequence.is_empty() && sequence.bytes().all(|b| b.is_ascii_digit());
    if numeric && sequence.len() < SEQUENCE_WIDTH {
        let mut padded = "0".repeat(SEQUENCE_WIDTH - sequence.len());
        padded.push_str(sequence);
        padded.into()
    } else {
        sequence.into()
    }
}

/// A fragment's key (`<folder>/<sequence>`: an ingest fragment of [`record_fragments`], or a bulk fragment named
/// `<shard>/<sequence>`) split into its folder, `/` included, and its sequence in sortable form.
pub fn fragment_parts(key: &str) -> (&str, std::borrow::Cow<'_, str>) {
    let cut = key.rfind('/').map_or(0, |i| i + 1);
    (&key[..cut], sortable_sequence(&key[cut..]))
}

/// Whether `sequence` is in the sortable form of [`sortable_sequence`] (a padded number).
pub fn is_sortable(sequence: &str) -> bool {
    sequence.len() == SEQUENCE_WIDTH && sequence.bytes().all(|b| b.is_ascii_digit())
}

/// The batch layout's fragments of one record: its meter records grouped by UTC date of `meterTimeInMillis`, one
/// parcel per date, keyed `<prefix>/YYYY-MM-DD/<shard>/<sequence>`, whose body is the records in log order, each
/// followed by a newline (minified JSON holds no newline). The ingest outlet packs a batch's fragments into
/// objects ([`batch_objects`]).
pub fn record_fragments(records: &MeterRecords, prefix: &str, shard: &str, sequence: &str) -> Vec<Parcel> {
    let mut by_day: BTreeMap<i64, Parcel> = BTreeMap::new();
    for r in records.iter() {
        let fragment = by_day.entry(day_of(r.time_millis)).or_insert_with(|| {
            let mut date = String::with_capacity(10);
            push_date(&mut date, day_of(r.time_millis), '-');
            let key = super::joined(&[prefix, "/", &date, "/", shard, "/", sequence]);
            Parcel { key, body: Vec::with_capacity(records.text_len() + records.len()), items: 0 }
        });
        fragment.body.extend_from_slice(r.json.as_bytes());
        fragment.body.push(b'\n');
        fragment.items += 1;
    }
    by_day.into_values().collect()
}

/// One record's meter records for one folder (`<prefix>/<date>/<shard>/`), as the ingest outlet packs them.
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    /// The record's position in the batch.
    pub record: usize,
    /// The record's sequence number in sortable form ([`sortable_sequence`]).
    pub sequence: &'a str,
    /// Its meter records, one per line ([`record_fragments`]).
    pub lines: &'a [u8],
}

/// An object of the batch layout, with the records whose meter records it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The object.
    pub parcel: Parcel,
    /// Positions in the batch of the records it holds meter records of.
    pub records: Vec<usize>,
}

/// Packs the pieces of one folder, in order, into objects bounded by `max_bytes` and `max_records` (a single
/// larger record gets an object alone), leaving out each meter record that `present` still counts (it decrements
/// the count), and answers the objects and how many meter records were left out.
///
/// An object's key is `<folder><last>-<first>-<digest>.json` (`.json.gz` with `gzip`): the sortable sequence
/// numbers of the last and the first record it holds, then 16 hex digits of the SHA-1 of its uncompressed body.
/// Keys sort by their last record, which lets a retry list only the objects that can hold its records; the digest
/// makes the key a function of the content, so an identical object lands on the same key and a different one
/// never collides with it.
pub fn batch_objects(
    folder: &str,
    pieces: &[Piece<'_>],
    present: &mut std::collections::HashMap<Vec<u8>, usize>,
    max_bytes: usize,
    max_records: usize,
    gzip: bool,
) -> (Vec<Packed>, usize) {
    let mut objects = Vec::new();
    let mut skipped = 0;
    let mut open = Open::default();
    for piece in pieces {
        for line in piece.lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if let Some(n) = present.get_mut(line).filter(|n| **n > 0) {
                *n -= 1;
                skipped += 1;
                continue;
            }
            let grown = open.body.len() + 2 + line.len() + CLOSE.len();
            if open.items > 0 && (open.items == max_records || grown > max_bytes) {
                objects.push(std::mem::take(&mut open).finish(folder));
            }
            open.push(piece, line);
        }
    }
    if open.items > 0 {
        objects.push(open.finish(folder));
    }
    if gzip {
        for o in &mut objects {
            gzip_objects(std::slice::from_mut(&mut o.parcel));
        }
    }
    (objects, skipped)
}

/// The object being filled by [`batch_objects`].
#[derive(Default)]
struct Open<'a> {
    body: Vec<u8>,
    items: usize,
    first: &'a str,
    last: &'a str,
    records: Vec<usize>,
}

impl<'a> Open<'a> {
    fn push(&mut self, piece: &Piece<'a>, line: &[u8]) {
        self.body.extend_from_slice(if self.items == 0 { b"[\n" } else { b",\n" });
        self.body.extend_from_slice(line);
        self.items += 1;
        if self.records.last() != Some(&piece.record) {
            self.records.push(piece.record);
        }
        if self.first.is_empty() || piece.sequence < self.first {
            self.first = piece.sequence;
        }
        if piece.sequence > self.last {
            self.last = piece.sequence;
        }
    }

    fn finish(mut self, folder: &str) -> Packed {
        self.body.extend_from_slice(CLOSE);
        let key = super::joined(&[folder, self.last, "-", self.first, "-", &super::digest16(&self.body), ".json"]);
        Packed { parcel: Parcel { key, body: self.body, items: self.items }, records: self.records }
    }
}

/// The sequence range `(last, first)` an object's key names, when its file name has one: a batch object's
/// (`<last>-<first>-<digest>`), or a `record` layout object's (`<sequence>-<part>-<digest>`, which holds one
/// record: its range is that record; a part number is shorter than a sortable sequence number).
pub fn object_range(key: &str) -> Option<(&str, &str)> {
    let name = key.rsplit('/').next()?;
    let name = name.split('.').next()?;
    let digits = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut parts = name.split('-');
    let last = parts.next().filter(digits)?;
    let second = parts.next().filter(digits)?;
    let first = if second.len() < SEQUENCE_WIDTH && last.len() != second.len() { last } else { second };
    Some((last, first))
}

/// The meter records of an ingest object (either layout, gzip'd when its key ends in `.gz`), as their JSON bytes.
pub fn object_records(key: &str, body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut inflated = Vec::new();
    let body = if key.ends_with(".gz") {
        let len = crate::decode::gunzip_into(body, 1 << 30, &mut inflated).map_err(|e| e.to_string())?;
        &inflated[..len]
    } else {
        body
    };
    let records: Vec<&serde_json::value::RawValue> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(records.into_iter().map(|r| r.get().as_bytes().to_vec()).collect())
}

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
    let stem = super::joined(&[prefix, "/", &date, "/", shard, "/", sequence]);
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

/// The objects as `….json.gz`: each body gzip'd with a zero mtime, so the same records always give the same
/// bytes (and a retry finds the same object).
pub fn gzip_objects(objects: &mut [Parcel]) {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write as _;
    for o in objects.iter_mut() {
        let mut e = GzEncoder::new(Vec::with_capacity(o.body.len() / 4), Compression::new(6));
        // Writing into a Vec cannot fail.
        let _ = e.write_all(&o.body);
        o.body = e.finish().unwrap_or_default();
        o.key.push_str(".gz");
    }
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
    use std::collections::HashMap;

    fn rec(ms: i64, n: usize) -> (String, i64, bool) {
        (format!("{{\"n\":{n}}}"), ms, false)
    }

    #[test]
    fn valid_grouping_by_date_and_parts() {
        let day1 = 1_763_600_000_000;
        let day0 = day1 - 86_400_000;
        let records: MeterRecords = [rec(day1, 0), rec(day0, 1), rec(day1, 2), rec(day1, 3)].into_iter().collect();
        let objs = record_objects(&records, "ingest/records", "shardId-1", "42", 1 << 20, 2);
        // Each key ends in the digest of its body; the rest of it names the date, shard, record and part.
        let stems: Vec<_> = objs.iter().map(|o| o.key.rsplit_once('-').unwrap().0).collect();
        assert_eq!(
            stems,
            [
                "ingest/records/2025-11-19/shardId-1/42-0000",
                "ingest/records/2025-11-20/shardId-1/42-0000",
                "ingest/records/2025-11-20/shardId-1/42-0001"
            ]
        );
        assert!(objs.iter().all(|o| names_content(&o.key, &o.body)), "every key names its body");
        assert_eq!(objs[1].body, b"[\n{\"n\":0},\n{\"n\":2}\n]\n");
        for o in &objs {
            let v: Vec<serde_json::Value> = serde_json::from_slice(&o.body).unwrap();
            assert_eq!(v.len(), o.items);
        }
    }

    #[test]
    fn valid_byte_bound() {
        let records: MeterRecords = (0..10).map(|n| rec(1_763_600_000_000, n)).collect();
        for max in [1, 20, 30, 64, 1000] {
            let objs = record_objects(&records, "p", "s", "1", max, 1000);
            assert_eq!(objs.iter().map(|o| o.items).sum::<usize>(), 10);
            for o in &objs {
                assert!(o.body.len() <= max || o.items == 1, "{max}: {} bytes", o.body.len());
            }
        }
        assert!(record_objects(&MeterRecords::default(), "p", "s", "1", 10, 10).is_empty());
    }

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

    /// Pieces of records `0..n` with sequence numbers `100 + i`, each with `per` one-line records `{"r":i,"k":k}`.
    fn pieces(lines: &[String], seqs: &[String]) -> Vec<Piece<'static>> {
        let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
        lines
            .iter()
            .zip(seqs)
            .enumerate()
            .map(|(record, (l, s))| Piece { record, sequence: leak(s), lines: leak(l).as_bytes() })
            .collect()
    }

    fn batch(n: usize, per: usize) -> (Vec<String>, Vec<String>) {
        let lines = (0..n).map(|i| (0..per).map(|k| format!("{{\"r\":{i},\"k\":{k}}}\n")).collect()).collect();
        let seqs = (0..n).map(|i| sortable_sequence(&(100 + i).to_string()).into_owned()).collect();
        (lines, seqs)
    }

    fn records_of(objects: &[Packed]) -> Vec<String> {
        let mut all: Vec<String> = objects
            .iter()
            .flat_map(|o| object_records(&o.parcel.key, &o.parcel.body).unwrap())
            .map(|r| String::from_utf8(r).unwrap())
            .collect();
        all.sort();
        all
    }

    #[test]
    fn valid_batch_objects_are_bounded_named_by_range_and_content_and_hold_every_record_once() {
        let (lines, seqs) = batch(7, 3);
        let pieces = pieces(&lines, &seqs);
        let mut want: Vec<String> = lines.iter().flat_map(|l| l.lines().map(str::to_owned)).collect();
        want.sort();
        for (max_bytes, max_records, gzip) in [(1 << 20, 10_000, false), (1 << 20, 4, false), (40, 100, true)] {
            let (objects, skipped) =
                batch_objects("p/2026-12-06/s/", &pieces, &mut HashMap::new(), max_bytes, max_records, gzip);
            assert_eq!(skipped, 0);
            assert_eq!(records_of(&objects), want, "every record once ({max_bytes}, {max_records})");
            for o in &objects {
                assert!(
                    o.parcel.items <= max_records && (o.parcel.items == 1 || gzip || o.parcel.body.len() <= max_bytes)
                );
                let (last, first) = object_range(&o.parcel.key).unwrap();
                let held: Vec<&str> = o.records.iter().map(|&r| seqs[r].as_str()).collect();
                assert_eq!((first, last), (held[0], held[held.len() - 1]), "{}", o.parcel.key);
                assert!(
                    o.parcel.key.starts_with("p/2026-12-06/s/")
                        && o.parcel.key.ends_with(if gzip { ".json.gz" } else { ".json" })
                );
            }
            let mut keys: Vec<&str> = objects.iter().map(|o| o.parcel.key.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), objects.len(), "distinct keys");
        }
        // Same content, same key; other content, another key.
        let again = batch_objects("f/", &pieces, &mut HashMap::new(), 1 << 20, 10_000, false).0;
        assert_eq!(again, batch_objects("f/", &pieces, &mut HashMap::new(), 1 << 20, 10_000, false).0);
        let fewer = batch_objects("f/", &pieces[..6], &mut HashMap::new(), 1 << 20, 10_000, false).0;
        assert_ne!(again[0].parcel.key, fewer[0].parcel.key);
    }

    #[test]
    fn valid_batch_objects_leave_out_what_is_present_by_count() {
        let (lines, seqs) = batch(4, 2);
        let pieces = pieces(&lines, &seqs);
        // Record 1's first line was delivered once; record 2's second line twice (a duplicate in the stream).
        let mut present = HashMap::from([
            (b"{\"r\":1,\"k\":0}".to_vec(), 1),
            (b"{\"r\":2,\"k\":1}".to_vec(), 2),
            (b"{\"r\":9,\"k\":9}".to_vec(), 1),
        ]);
        let (objects, skipped) = batch_objects("f/", &pieces, &mut present, 1 << 20, 10_000, false);
        assert_eq!(skipped, 2);
        let got = records_of(&objects);
        assert_eq!(got.len(), 6);
        assert!(!got.contains(&"{\"r\":1,\"k\":0}".to_owned()) && !got.contains(&"{\"r\":2,\"k\":1}".to_owned()));
        assert_eq!(present[&b"{\"r\":2,\"k\":1}".to_vec()], 1, "one copy left to find");
        // Everything present: no object.
        let mut all: HashMap<Vec<u8>, usize> = HashMap::new();
        lines.iter().flat_map(|l| l.lines()).for_each(|l| *all.entry(l.as_bytes().to_vec()).or_default() += 1);
        assert_eq!(batch_objects("f/", &pieces, &mut all, 1 << 20, 10_000, false), (vec![], 8));
    }

    #[test]
    fn valid_sequence_keys_sort_as_numbers_and_ranges_parse() {
        let (a, b) = (sortable_sequence("99"), sortable_sequence("100"));
        assert!(a < b && a.len() == SEQUENCE_WIDTH && is_sortable(&a));
        let kinesis = "49656000000000000000000000000000000000000000005759926698";
        assert_eq!(sortable_sequence(kinesis), kinesis, "Kinesis's own width is unchanged");
        assert_eq!(sortable_sequence("abc"), "abc");
        assert!(!is_sortable("abc") && !is_sortable("12"));
        let batch_key = format!("p/d/s/{b}-{a}-0123456789abcdef.json");
        assert_eq!(object_range(&batch_key), Some((&*b, &*a)));
        let record_key = format!("p/d/s/{kinesis}-0003-0123456789abcdef.json");
        assert_eq!(object_range(&record_key), Some((kinesis, kinesis)), "record layout");
        assert_eq!(object_range(&format!("p/d/s/{kinesis}-0003-0123456789abcdef.json.gz")), Some((kinesis, kinesis)));
        assert_eq!(object_range("p/d/s/42-0000-0123456789abcdef.json"), Some(("42", "42")), "a short sequence");
        assert_eq!(object_range("p/d/s/notes.txt"), None);
        assert_eq!(object_range("p/d/s/12-ab-cd.json"), None);
    }

    #[test]
    fn valid_keys_name_their_bodies_and_others_do_not() {
        let body = b"[\n{\"a\":1}\n]\n".to_vec();
        let key = content_key("p/d/s/7", &body, ".json");
        assert!(names_content(&key, &body));
        assert!(!names_content(&key, b"[\n{\"a\":2}\n]\n"), "another body under the key");
        let mut gz = [Parcel { key: key.clone(), body: body.clone(), items: 1 }];
        gzip_objects(&mut gz);
        assert!(names_content(&gz[0].key, &gz[0].body), "a .gz key names the gunzipped body");
        for key in ["p/d/s/7.json", "p/d/s/7-0123.json", "p/d/s/7-0123456789abcdeg.json", "noext"] {
            assert!(!names_content(key, &body), "{key}");
        }
        let (packed, _) = batch_objects(
            "f/",
            &[Piece { record: 0, sequence: "1", lines: b"{\"a\":1}\n" }],
            &mut std::collections::HashMap::new(),
            1 << 20,
            10,
            false,
        );
        assert!(names_content(&packed[0].parcel.key, &packed[0].parcel.body), "batch objects");
    }

    #[test]
    fn invalid_object_bodies_are_errors_not_records() {
        assert!(object_records("k.json", b"not json").is_err());
        assert!(object_records("k.json.gz", b"[]").is_err());
        let gz = {
            let mut o = [Parcel { key: "k.json".into(), body: b"[\n{\"a\":1}\n]\n".to_vec(), items: 1 }];
            gzip_objects(&mut o);
            o[0].body.clone()
        };
        assert_eq!(object_records("k.json.gz", &gz).unwrap(), vec![b"{\"a\":1}".to_vec()]);
    }
}
