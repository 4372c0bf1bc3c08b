//! The ingest objects' bodies and keys: meter records as JSON arrays, per batch
//! (`<prefix>/YYYY-MM-DD/<shard>/<last>-<first>-<digest>.json`) or per record
//! (`…/<sequence>-<part>-<digest>.json`). Every key names its body ([`crate::plan::names_content`]).

use crate::extract::{MeterRecord, MeterRecords};
use crate::plan::objects::CLOSE;
use crate::plan::{Packed, Parcel, SEQUENCE_WIDTH, day_of, digest16, gzip_objects, joined, pad4, push_date};
use std::collections::BTreeMap;

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
            let digest = digest16(&body);
            let pad = pad4(digits);
            joined(&[prefix, "/", date, "/", shard, "/", seq, "-", pad, digits, "-", &digest, ".json"])
        },
        body,
        items,
    }
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
            let key = joined(&[prefix, "/", &date, "/", shard, "/", sequence]);
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
    /// The record's sequence number in sortable form ([`crate::plan::sortable_sequence`]).
    pub sequence: &'a str,
    /// Its meter records, one per line ([`record_fragments`]).
    pub lines: &'a [u8],
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
        let key = joined(&[folder, self.last, "-", self.first, "-", &digest16(&self.body), ".json"]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{content_key, is_sortable, names_content, sortable_sequence};
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
}
