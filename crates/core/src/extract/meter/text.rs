//! Tagged text: every occurrence of the tag in a message, each followed by a record or an array of records.

use super::MeterExtractor;
use crate::decode::{json_elements_with, json_value};
use crate::extract::record::{RecordError, ValidRecord, read_record, validate_record};
use crate::extract::{EventRef, Extraction};

impl MeterExtractor {
    /// Reads every occurrence of the tag in `msg`; `false` when there is none.
    pub(super) fn scan_text(&self, msg: &str, ev: &EventRef<'_>, position: &mut usize, out: &mut Extraction) -> bool {
        let bytes = msg.as_bytes();
        let find_from = |from: usize| self.finder.find(&bytes[from..]).map(|off| from + off);
        // The next occurrence of the tag is searched for from where reading stopped: after a value that was read,
        // the text between the value and that occurrence is what follows the value, and a tag inside the value
        // (a dimension quoting it) is not searched at all.
        let mut next = find_from(0);
        let mentioned = next.is_some();
        let (mut wasted, read_budget) = (0, 4 * bytes.len() + (1 << 20));
        while let Some(start) = next {
            let after = start + self.tag.len();
            if !is_word_boundary(bytes, start, after) {
                next = find_from(after);
                continue;
            }
            let vstart = after + (msg[after..].len() - msg[after..].trim_start().len());
            if !matches!(bytes.get(vstart), Some(b'{' | b'[')) {
                next = find_from(after);
                // The line's end is looked for before the next tag only: a line of a million bare tags is read once.
                let raw = msg[start..line_end(&msg[..next.unwrap_or(bytes.len())], after)].trim_end();
                self.quarantine(ev, "the tag is not followed by a JSON object or array".into(), raw, None, out);
                *position += 1;
                continue;
            }
            // A record is read, strictly, in the same pass that finds its end (and, in the usual shape, writes it
            // as a draft record); an array is only delimited here and its records are validated one by one.
            let read = if bytes[vstart] == b'{' {
                match self.read_usual(&msg[vstart..], out) {
                    Some((len, valid)) => Ok((len, Read::Drafted(valid))),
                    None => read_record(&msg[vstart..]).map(|(len, verdict)| (len, Read::Record(verdict))),
                }
            } else {
                json_value(&msg[vstart..], false).map(|(_, len)| (len, Read::Array))
            };
            match read {
                Ok((len, read)) => {
                    let vend = vstart + len;
                    let value = &msg[vstart..vend];
                    next = find_from(vend);
                    let tail_end = next.unwrap_or(bytes.len());
                    if let Some(extra) = trailing_text(&msg[vend..tail_end]) {
                        let raw = msg[start..line_end(msg, vend + extra.1)].trim_end();
                        let reason = format!(
                            "unexpected text after the JSON value ({:?}): the record may not be what the application meant",
                            extra.0
                        );
                        self.quarantine(ev, reason, raw, Some(*position), out);
                        *position += 1;
                    } else {
                        match read {
                            Read::Drafted(valid) => self.keep(valid, ev, position, out),
                            Read::Record(verdict) => self.emit_checked(value, verdict, ev, position, out),
                            Read::Array => self.emit_value(value, ev, position, out),
                        }
                    }
                }
                Err(why) => {
                    // A malformed value may be read to the end of the message before it fails; many of them would
                    // read the message many times over. Past a bound, the rest is not read (the whole record is
                    // then kept for replay).
                    wasted += why.at;
                    if wasted > read_budget {
                        let reason = format!(
                            "the message holds more malformed JSON after tags than is read ({} bytes read in vain): \
                             the rest of it is not read",
                            wasted
                        );
                        out.quarantine.mark_incomplete();
                        self.quarantine(ev, reason, msg[start..].trim_end(), Some(*position), out);
                        *position += 1;
                        return true;
                    }
                    next = find_from(after);
                    let raw = msg[start..next.unwrap_or(bytes.len())].trim_end();
                    let reason = format!("malformed JSON after the tag: {why}{}", malformed_hint(&msg[vstart..]));
                    self.quarantine(ev, reason, raw, Some(*position), out);
                    *position += 1;
                }
            }
        }
        mentioned
    }

    pub(super) fn emit_value(&self, text: &str, ev: &EventRef<'_>, position: &mut usize, out: &mut Extraction) {
        if text.starts_with('[') {
            // Checked whole first (counting, not collecting), then read element by element.
            match json_elements_with(text, drop) {
                Ok(0) => {
                    self.quarantine(ev, "the tag is followed by an empty array".into(), text, Some(*position), out);
                    *position += 1;
                }
                Ok(_) => {
                    let _ = json_elements_with(text, |item| self.emit_record(item, ev, position, out));
                }
                Err(e) => {
                    self.quarantine(ev, format!("malformed JSON array: {e}"), text, Some(*position), out);
                    *position += 1;
                }
            }
        } else {
            self.emit_record(text, ev, position, out);
        }
    }

    pub(super) fn emit_record(&self, raw: &str, ev: &EventRef<'_>, position: &mut usize, out: &mut Extraction) {
        match self.read_usual(raw, out) {
            Some((len, valid)) if len == raw.len() => self.keep(valid, ev, position, out),
            // A draft read only in part undoes itself.
            _ => self.emit_checked(raw, validate_record(raw), ev, position, out),
        }
    }
}

/// What reading the value after a tag found.
enum Read {
    /// A record of the usual shape, valid, already written as the draft record.
    Drafted(ValidRecord),
    /// A record read the general way, and its verdict.
    Record(Result<ValidRecord, RecordError>),
    /// An array, only delimited so far.
    Array,
}

pub(super) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_word_boundary(bytes: &[u8], start: usize, end: usize) -> bool {
    let before = start.checked_sub(1).and_then(|i| bytes.get(i));
    !before.is_some_and(|&b| is_word(b)) && !bytes.get(end).is_some_and(|&b| is_word(b))
}

fn line_end(msg: &str, from: usize) -> usize {
    msg[from..].find(['\n', '\r']).map_or(msg.len(), |o| from + o)
}

/// Text after a JSON value that makes the record suspect: anything on the rest of its line, or a closing bracket
/// or comma starting the next non-blank line. Returns the text and its offset.
fn trailing_text(tail: &str) -> Option<(&str, usize)> {
    let eol = tail.find(['\n', '\r']).unwrap_or(tail.len());
    let same_line = tail[..eol].trim();
    if !same_line.is_empty() {
        return Some((same_line, eol));
    }
    let next = tail[eol..].trim_start();
    if next.starts_with(['}', ']', ',']) {
        let off = tail.len() - next.len();
        let line = &next[..next.find(['\n', '\r']).unwrap_or(next.len())];
        return Some((line.trim_end(), off + line.len()));
    }
    None
}

/// A hint for the usual ways a record is logged as something that is not JSON.
fn malformed_hint(rest: &str) -> &'static str {
    let r = rest.trim_start();
    let after_brace = r.strip_prefix('{').map(str::trim_start).unwrap_or("");
    if after_brace.starts_with('\'') {
        " (it looks like a Python dict repr: log json.dumps(record))"
    } else if after_brace.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        " (it looks like console.log(tag, object) or util.inspect output: log JSON.stringify(record))"
    } else {
        ""
    }
}
