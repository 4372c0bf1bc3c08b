//! The fast line reader: the usual tagged line read straight from its literal in the payload, without unescaping.

use super::text::is_word;
use super::{MeterExtractor, Origin, request_id_in};
use crate::decode::escaped_string;
use crate::extract::record::ValidRecord;
use crate::extract::record_usual::{number_len, read_escaped_record};
use crate::extract::{EventRef, Extraction};

impl MeterExtractor {
    /// Reads the usual tagged line straight from its literal in the payload (`raw`, quotes included), without
    /// unescaping it: a text line `… <tag> {record}` (or `<tag> [{record},…]`, or several tagged records on lines
    /// of their own), or a Lambda JSON log line whose `message` is `<tag> {record}` or `{"<tag>": {record}}`, with
    /// records of the usual shape, read where they stand in the literal. `true` when the line was read and its records
    /// kept; `false`, with `out` unchanged, for any other line, which the caller unescapes and hands to
    /// [`Self::extract_with`]. What this reads, `extract_with` reads to the same records (property-tested below).
    pub fn extract_raw(&self, raw: &str, ev: &EventRef<'_>, out: &mut Extraction) -> bool {
        let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).filter(|_| self.raw) else {
            return false;
        };
        match inner.as_bytes().first() {
            Some(b'{') => match self.raw_json_line(inner, out) {
                Some((valid, origin)) => {
                    let from = out.meters.len();
                    self.keep(valid, ev, &mut 0, out);
                    out.meters.set_origin(from, origin);
                    true
                }
                // A draft not kept undoes itself.
                None => false,
            },
            // A line starting with whitespace or an escape might, unescaped and trimmed, be a JSON line.
            Some(_) if inner.starts_with(|c: char| !c.is_whitespace() && c != '\\') => {
                let kept = out.meters.len();
                let read = self.raw_text_line(inner, ev, out);
                match read {
                    None => out.meters.truncate(kept),
                    Some(value) => {
                        let origin = Origin { request_id: request_id_in(&inner[..value]), tenant_id: None };
                        out.meters.set_origin(kept, origin);
                    }
                }
                read.is_some()
            }
            _ => false,
        }
    }

    /// The records of a text line's literal: each tag is followed by a record or an array of records, and
    /// nothing but whitespace comes between a value and the next tag or the end. `None` leaves records kept
    /// behind (the caller forgets them); else the offset of the first value (the line's prefix ends there).
    pub(super) fn raw_text_line(&self, inner: &str, ev: &EventRef<'_>, out: &mut Extraction) -> Option<usize> {
        let bytes = inner.as_bytes();
        let (mut from, mut position, mut first) = (0, 0, None);
        loop {
            let vstart = self.raw_tag::<1>(&bytes[from..])?;
            first.get_or_insert(from + vstart);
            let mut at = from + vstart;
            if bytes[at] == b'[' {
                // An array of records, each kept in turn.
                at = spaced::<1>(bytes, at + 1);
                loop {
                    let (len, valid) = out.meters.draft_with(|t| read_escaped_record::<1>(&inner[at..], t))?;
                    self.keep(valid, ev, &mut position, out);
                    at = spaced::<1>(bytes, at + len);
                    match bytes.get(at)? {
                        b',' => at = spaced::<1>(bytes, at + 1),
                        b']' => break,
                        _ => return None,
                    }
                }
                at += 1;
            } else {
                let (len, valid) = out.meters.draft_with(|t| read_escaped_record::<1>(&inner[at..], t))?;
                self.keep(valid, ev, &mut position, out);
                at += len;
            }
            from = spaced::<1>(bytes, at);
            if from == bytes.len() {
                return first;
            }
            // Only another tag may follow (the general path looks for text between the two).
            if !bytes[from..].starts_with(self.tag.as_bytes()) {
                return None;
            }
        }
    }

    /// The first tag in `text` (inside a literal whose quotes are escaped `E` deep), when a record or an array
    /// follows it: the offset of the value. The text before the tag may hold no escape but tabs (`\t`, in a
    /// line's own literal), so unescaped it is the same text with the same first tag.
    pub(super) fn raw_tag<const E: usize>(&self, text: &[u8]) -> Option<usize> {
        let start = self.finder.find(text)?;
        let prefix = &text[..start];
        if memchr::memchr_iter(b'\\', prefix).any(|i| E != 1 || prefix.get(i + 1) != Some(&b't')) {
            return None;
        }
        // The byte before the tag, unescaped: the word-boundary test of `scan_text`.
        let before = match prefix {
            [.., b'\\', b't'] => b'\t',
            [.., b] => *b,
            [] => b' ',
        };
        let after = start + self.tag.len();
        let vstart = after + text[after..].iter().take_while(|&&b| b == b' ').count();
        (!is_word(before) && matches!(text.get(vstart), Some(b'{' | b'['))).then_some(vstart)
    }

    /// A Lambda JSON log line inside its literal (`{\"level\":…,\"message\":…}`) whose `message` is the usual
    /// tagged text or `{"<tag>": {record}}`: the record, drafted. The other members must be strings without
    /// escapes, numbers or literals, and no key may be the tag, repeat `message` or hold an escape: anything else
    /// is for [`Self::extract_with`] to read.
    pub(super) fn raw_json_line<'a>(&self, inner: &'a str, out: &mut Extraction) -> Option<(ValidRecord, Origin<'a>)> {
        let b = inner.as_bytes();
        let (mut at, mut record, mut origin) = (1, None, Origin::default());
        loop {
            let (key, end) = escaped_string(inner, spaces(b, at))?;
            at = spaces(b, end);
            if b.get(at) != Some(&b':') || key == self.tag {
                return None;
            }
            at = spaces(b, at + 1);
            if key != "message" {
                let value = at;
                at = escaped_scalar(inner, at)?;
                // Strings here hold no escape: between their escaped quotes is their text.
                let text = || inner[value..at].strip_prefix("\\\"").and_then(|v| v.strip_suffix("\\\""));
                match key {
                    "requestId" => origin.request_id = text(),
                    "tenantId" => origin.tenant_id = text(),
                    _ => {}
                }
            } else if record.is_some() {
                return None;
            } else if b.get(at) == Some(&b'{') {
                let (end, valid) = self.raw_sole_tagged(inner, at, out)?;
                (at, record) = (end, Some(valid));
            } else if inner[at..].starts_with("\\\"") {
                // The message's text, `<tag> {record}`, whose quotes are escaped twice.
                let text = &inner[at + 2..];
                let vstart = self.raw_tag::<3>(text.as_bytes())?;
                let (len, valid) = out.meters.draft_with(|t| read_escaped_record::<3>(&text[vstart..], t))?;
                let close = spaces(text.as_bytes(), vstart + len);
                if !text[close..].starts_with("\\\"") {
                    return None;
                }
                (at, record) = (at + 2 + close + 2, Some(valid));
            } else {
                return None;
            }
            at = spaces(b, at);
            match b.get(at)? {
                b',' => at += 1,
                b'}' => break,
                _ => return None,
            }
        }
        (spaces(b, at + 1) == b.len()).then_some((record?, origin))
    }

    /// `{"<tag>": {record}}` at `at` inside a JSON log line's literal: the offset after it, and the record, drafted.
    pub(super) fn raw_sole_tagged(&self, inner: &str, at: usize, out: &mut Extraction) -> Option<(usize, ValidRecord)> {
        let b = inner.as_bytes();
        let (key, end) = escaped_string(inner, spaces(b, at + 1))?;
        let colon = spaces(b, end);
        let value = spaces(b, colon + 1);
        if key != self.tag || b.get(colon) != Some(&b':') || b.get(value) != Some(&b'{') {
            return None;
        }
        let (len, valid) = out.meters.draft_with(|t| read_escaped_record::<1>(&inner[value..], t))?;
        let close = spaces(b, value + len);
        (b.get(close) == Some(&b'}')).then_some((close + 1, valid))
    }
}

/// The offset of the first byte from `at` that is not a space.
fn spaces(bytes: &[u8], at: usize) -> usize {
    at + bytes.get(at..).map_or(0, |rest| rest.iter().take_while(|&&b| b == b' ').count())
}

/// A string without escapes (see [`escaped_string`]), a number or a literal at `at` in a literal: the offset after
/// it.
fn escaped_scalar(text: &str, at: usize) -> Option<usize> {
    let rest = text.get(at..)?;
    match *rest.as_bytes().first()? {
        b'\\' => escaped_string(text, at).map(|(_, end)| end),
        b'-' | b'0'..=b'9' => number_len(text.as_bytes(), at).map(|n| at + n),
        _ => ["true", "false", "null"].into_iter().find(|w| rest.starts_with(w)).map(|w| at + w.len()),
    }
}

/// The offset of the first byte from `at` that does not unescape to JSON whitespace (in a line's own literal,
/// `E` = 1) or is not a space (deeper).
fn spaced<const E: usize>(bytes: &[u8], at: usize) -> usize {
    let mut i = at;
    loop {
        match bytes.get(i..) {
            Some([b' ', ..]) => i += 1,
            Some([b'\\', b'n' | b'r' | b't', ..]) if E == 1 => i += 2,
            _ => return i,
        }
    }
}
