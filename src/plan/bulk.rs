//! Bulk API bodies: NDJSON `create` action lines with deterministic `_id`s, each followed by its document, ending
//! with a newline. A record's actions are written into one fragment ([`BulkEncoder`]); a batch's fragments are
//! packed into bodies bounded in bytes and in actions ([`pack_bodies`]).

use super::Parcel;
use super::json_out::push_str;

/// Writes the `create` actions of one Kinesis record, in order, into one fragment named `<shard>/<sequence>`.
#[derive(Debug)]
pub struct BulkEncoder<'a> {
    shard: &'a str,
    sequence: &'a str,
    body: Vec<u8>,
    actions: usize,
    /// The index of the last action, and that action's line up to the id.
    index: String,
    action: Vec<u8>,
}

impl<'a> BulkEncoder<'a> {
    /// An encoder for the documents of one Kinesis record.
    pub fn new(shard: &'a str, sequence: &'a str) -> Self {
        Self { shard, sequence, body: Vec::new(), actions: 0, index: String::new(), action: Vec::new() }
    }

    /// Appends the action for `(index, id)` and the document that `write_doc` writes (one line of JSON).
    pub fn push(&mut self, index: &str, id: &str, write_doc: impl FnOnce(&mut Vec<u8>)) {
        self.push_with(index, |out| push_str(out, id), write_doc);
    }

    /// Like [`BulkEncoder::push`], with the id written by `write_id` as a JSON string literal.
    pub fn push_with(
        &mut self,
        index: &str,
        write_id: impl FnOnce(&mut Vec<u8>),
        write_doc: impl FnOnce(&mut Vec<u8>),
    ) {
        if self.action.is_empty() || self.index != index {
            self.index.clear();
            self.index.push_str(index);
            self.action.clear();
            self.action.extend_from_slice(b"{\"create\":{\"_index\":");
            push_str(&mut self.action, index);
            self.action.extend_from_slice(b",\"_id\":");
        }
        self.body.extend_from_slice(&self.action);
        write_id(&mut self.body);
        self.body.extend_from_slice(b"}}\n");
        write_doc(&mut self.body);
        self.body.push(b'\n');
        self.actions += 1;
    }

    /// Reserves room for about `bytes` more bytes.
    pub fn reserve(&mut self, bytes: usize) {
        self.body.reserve(bytes);
    }

    /// The fragment, or `None` when no action was written.
    pub fn finish(self) -> Option<Parcel> {
        (self.actions > 0).then(|| Parcel {
            key: super::joined(&[self.shard, "/", self.sequence]),
            body: self.body,
            items: self.actions,
        })
    }
}

/// Packs the bulk fragments of a batch (each record's actions, [`BulkEncoder`] without bounds), in order, into
/// bodies of at most `max_bytes` (a single larger action gets a body alone) and `max_actions` actions. Each
/// fragment is `(record, sortable sequence number, fragment)`; a body's name is
/// `<shard>/<last>-<first>-<digest>`, from the records it holds and the digest of its action lines: under
/// `create` the `(index, _id)` pairs decide which documents a body holds (an id is always the same document), so
/// the name is a function of the content at a tenth of the bytes to hash. Bodies are made as they are taken, so
/// a caller that sends them as it goes holds only those in flight.
pub fn pack_bodies<'f>(
    shard: &'f str,
    fragments: &'f [(usize, &'f str, &'f Parcel)],
    max_bytes: usize,
    max_actions: usize,
) -> Packer<'f> {
    pack_items(shard, fragments, max_bytes, max_actions, bulk_action, action_digest)
}

/// The length of the bulk action `rest` starts with: two lines, the action and the document.
fn bulk_action(rest: &[u8]) -> usize {
    memchr::memchr(b'\n', rest)
        .and_then(|a| memchr::memchr(b'\n', &rest[a + 1..]).map(|d| a + d + 2))
        .unwrap_or(rest.len())
}

/// 16 hex digits of the SHA-1 of a bulk body's action lines (every other line, from the first).
fn action_digest(body: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let mut hash = Sha1::new();
    let mut rest = body;
    while let Some(a) = memchr::memchr(b'\n', rest) {
        hash.update(&rest[..=a]);
        rest = &rest[a + 1..];
        rest = memchr::memchr(b'\n', rest).map_or(&[][..], |d| &rest[d + 1..]);
    }
    super::hex16(&hash.finalize())
}

/// Packs a batch's fragments, in order, into bodies of at most `max_bytes` (a single larger item gets a body
/// alone) and `max_items` items; `item(rest)` is the length of the item `rest` starts with. Bodies are named
/// `<shard>/<last>-<first>-<digest(body)>` and made one at a time, as the iterator is advanced.
pub fn pack_items<'f>(
    shard: &'f str,
    fragments: &'f [(usize, &'f str, &'f Parcel)],
    max_bytes: usize,
    max_items: usize,
    item: fn(&[u8]) -> usize,
    digest: fn(&[u8]) -> String,
) -> Packer<'f> {
    let left = fragments.iter().map(|(_, _, f)| f.body.len()).sum();
    Packer { shard, fragments, max_bytes, max_items, item, digest, at: 0, offset: 0, left }
}

/// The bodies of [`pack_items`], one per [`Iterator::next`]. A fragment that fits whole is copied whole (its
/// `items` say how many items it holds); one that crosses a bound is cut item by item.
pub struct Packer<'f> {
    shard: &'f str,
    fragments: &'f [(usize, &'f str, &'f Parcel)],
    max_bytes: usize,
    max_items: usize,
    item: fn(&[u8]) -> usize,
    digest: fn(&[u8]) -> String,
    /// The next fragment, and how much of it was packed already.
    at: usize,
    offset: usize,
    /// Bytes not yet packed, to size each body once.
    left: usize,
}

impl Iterator for Packer<'_> {
    type Item = super::Packed;

    fn next(&mut self) -> Option<super::Packed> {
        let mut body = Vec::with_capacity(self.left.min(self.max_bytes));
        let (mut items, mut first, mut last, mut records) = (0, "", "", Vec::new());
        while let Some(&(record, sequence, fragment)) = self.fragments.get(self.at) {
            let rest = &fragment.body[self.offset.min(fragment.body.len())..];
            if rest.is_empty() {
                (self.at, self.offset) = (self.at + 1, 0);
                continue;
            }
            let whole = self.offset == 0 && fragment.items > 0;
            let fits = items + fragment.items <= self.max_items && body.len() + rest.len() <= self.max_bytes;
            // A fragment that would fit in a body of its own starts one, rather than being cut.
            let alone = fragment.items <= self.max_items && rest.len() <= self.max_bytes;
            let take = if whole && fits {
                rest.len()
            } else if whole && alone && items > 0 {
                break;
            } else {
                let len = (self.item)(rest).clamp(1, rest.len().max(1));
                if items > 0 && (items == self.max_items || body.len() + len > self.max_bytes) {
                    break;
                }
                len
            };
            if items == 0 {
                (first, last) = (sequence, sequence);
            }
            first = first.min(sequence);
            last = last.max(sequence);
            if records.last() != Some(&record) {
                records.push(record);
            }
            body.extend_from_slice(&rest[..take]);
            items += if whole && take == rest.len() { fragment.items } else { 1 };
            self.left -= take;
            self.offset += take;
            if self.offset >= fragment.body.len() {
                (self.at, self.offset) = (self.at + 1, 0);
            }
        }
        if items == 0 {
            return None;
        }
        let key = super::joined(&[self.shard, "/", last, "-", first, "-", &(self.digest)(&body)]);
        Some(super::Packed { parcel: Parcel { key, body, items }, records })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 25 actions of one record (sequence `9`), packed into bodies within the bounds.
    fn encode(n: usize, max_bytes: usize, max_actions: usize) -> Vec<Parcel> {
        let mut enc = BulkEncoder::new("s", "9");
        for i in 0..n {
            enc.push("idx", &format!("id-{i}"), |out| out.extend_from_slice(format!("{{\"n\":{i}}}").as_bytes()));
        }
        let Some(fragment) = enc.finish() else { return Vec::new() };
        assert_eq!((fragment.key.as_str(), fragment.items), ("s/9", n), "one fragment for the record");
        pack_bodies("s", &[(0, "9", &fragment)], max_bytes, max_actions).map(|p| p.parcel).collect()
    }

    #[test]
    fn valid_bodies_are_ndjson_pairs_within_bounds() {
        for (max_bytes, max_actions) in [(1 << 20, 10), (100, 1000), (1, 1000)] {
            let reqs = encode(25, max_bytes, max_actions);
            assert_eq!(reqs.iter().map(|r| r.items).sum::<usize>(), 25);
            let mut seen = Vec::new();
            for r in &reqs {
                assert!(r.key.starts_with("s/9-9-"), "{}", r.key);
                assert!(r.items <= max_actions);
                assert!(r.body.len() <= max_bytes || r.items == 1);
                assert!(r.body.ends_with(b"\n"));
                let lines: Vec<&[u8]> = r.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
                assert_eq!(lines.len(), 2 * r.items);
                for pair in lines.chunks(2) {
                    let action: serde_json::Value = serde_json::from_slice(pair[0]).unwrap();
                    let source: serde_json::Value = serde_json::from_slice(pair[1]).unwrap();
                    assert_eq!(action["create"]["_id"], format!("id-{}", source["n"]));
                    seen.push(source["n"].as_u64().unwrap());
                }
            }
            assert_eq!(seen, (0..25).collect::<Vec<_>>());
        }
        assert!(encode(0, 10, 10).is_empty());
    }

    #[test]
    fn valid_packed_bodies_keep_every_action_once_within_bounds_and_name_their_records() {
        // Three records' fragments of 3, 0 and 5 actions.
        let fragment = |r: usize, n: usize| {
            let mut enc = BulkEncoder::new("s", "x");
            for i in 0..n {
                enc.push("idx", &format!("id-{r}-{i}"), |out| {
                    out.extend_from_slice(format!("{{\"r\":{r},\"i\":{i}}}").as_bytes())
                });
            }
            enc.finish().unwrap_or(Parcel { key: String::new(), body: Vec::new(), items: 0 })
        };
        let parcels = [fragment(0, 3), fragment(1, 0), fragment(2, 5)];
        let seqs = ["100", "101", "102"];
        let fragments: Vec<(usize, &str, &Parcel)> = parcels.iter().enumerate().map(|(i, p)| (i, seqs[i], p)).collect();
        for (max_bytes, max_actions) in [(1 << 20, 1000), (1 << 20, 2), (60, 1000)] {
            let bodies: Vec<_> = pack_bodies("s", &fragments, max_bytes, max_actions).collect();
            let mut ids = Vec::new();
            for b in &bodies {
                assert!(b.parcel.items <= max_actions && (b.parcel.items == 1 || b.parcel.body.len() <= max_bytes));
                let lines: Vec<&[u8]> = b.parcel.body.split(|&c| c == b'\n').filter(|l| !l.is_empty()).collect();
                assert_eq!(lines.len(), 2 * b.parcel.items);
                let mut held = Vec::new();
                for pair in lines.chunks(2) {
                    let action: serde_json::Value = serde_json::from_slice(pair[0]).unwrap();
                    let doc: serde_json::Value = serde_json::from_slice(pair[1]).unwrap();
                    assert_eq!(action["create"]["_id"], format!("id-{}-{}", doc["r"], doc["i"]));
                    ids.push(action["create"]["_id"].as_str().unwrap().to_owned());
                    held.push(doc["r"].as_u64().unwrap() as usize);
                }
                held.dedup();
                assert_eq!(b.records, held, "a body names the records it holds");
                let first = seqs[held[0]];
                let last = seqs[held[held.len() - 1]];
                assert!(b.parcel.key.starts_with(&format!("s/{last}-{first}-")), "{}", b.parcel.key);
            }
            assert_eq!(ids.len(), 8, "every action once ({max_bytes}, {max_actions})");
        }
        assert_eq!(pack_bodies("s", &fragments, 1 << 20, 1000).count(), 1, "one body for the batch");
    }
}
