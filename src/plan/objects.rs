//! What every object key is built from: sortable sequence numbers, keys that name their body's digest
//! ([`names_content`]), gzip'd objects, and what packed requests carry. The outputs build their own keys from these
//! (the ingest objects in `crate::output::ingest`, the quarantine objects in `crate::output::quarantine`).

use super::Parcel;

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

/// A fragment's key (`<folder>/<sequence>`: an ingest fragment of `output::ingest::record_fragments`, or a bulk fragment named
/// `<shard>/<sequence>`) split into its folder, `/` included, and its sequence in sortable form.
pub fn fragment_parts(key: &str) -> (&str, std::borrow::Cow<'_, str>) {
    let cut = key.rfind('/').map_or(0, |i| i + 1);
    (&key[..cut], sortable_sequence(&key[cut..]))
}

/// Whether `sequence` is in the sortable form of [`sortable_sequence`] (a padded number).
pub fn is_sortable(sequence: &str) -> bool {
    sequence.len() == SEQUENCE_WIDTH && sequence.bytes().all(|b| b.is_ascii_digit())
}

/// An object of the batch layout, with the records whose meter records it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The object.
    pub parcel: Parcel,
    /// Positions in the batch of the records it holds meter records of.
    pub records: Vec<usize>,
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

/// What ends every object's JSON array.
pub(crate) const CLOSE: &[u8] = b"\n]\n";
