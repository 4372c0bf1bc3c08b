//! A JSON scanner specialised for the CloudWatch Logs payload.
//!
//! The payload is one object whose bulk is `logEvents[].message` strings. Skipping a string here takes a few
//! vector compares per 64 bytes (see [`super::mask::escaped`]), several times faster than a general JSON parser that inspects
//! every byte, and messages stay as borrowed raw literals. The grammar is still checked: objects,
//! arrays, strings, numbers and literals must be well formed, unknown values are skipped (nesting is bounded),
//! and nothing may follow the document.

use super::mask::{BLOCK, block_at, eq_mask, escaped, quote_or_backslash16};
use std::borrow::Cow;

/// Deepest nesting accepted inside skipped values.
const MAX_DEPTH: usize = 128;

/// A syntax error with its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    /// What was expected or wrong.
    pub what: Cow<'static, str>,
    /// Byte offset in the payload.
    pub at: usize,
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

pub(super) type Result<T> = std::result::Result<T, ScanError>;

/// Cursor over JSON text.
pub(super) struct Scanner<'a> {
    pub(super) text: &'a str,
    pub(super) pos: usize,
    /// Check escapes and control characters inside strings (meter records go out to the ingest pipeline as they
    /// are, so they must be JSON that any parser accepts; payload messages are read leniently).
    pub(super) strict: bool,
}

impl<'a> Scanner<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, pos: 0, strict: false }
    }

    /// A scanner that refuses strings a strict JSON parser would refuse.
    pub(super) fn strict(text: &'a str) -> Self {
        Self { text, pos: 0, strict: true }
    }

    /// Bytes left after the cursor.
    pub(super) fn remaining(&self) -> usize {
        self.text.len().saturating_sub(self.pos)
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    pub(super) fn error<T>(&self, what: impl Into<Cow<'static, str>>) -> Result<T> {
        Err(ScanError { what: what.into(), at: self.pos })
    }

    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    pub(super) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes().get(self.pos).copied()
    }

    pub(super) fn expect(&mut self, b: u8) -> Result<()> {
        match self.peek() {
            Some(c) if c == b => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => self.error(format!("expected '{}'", b as char)),
            None => self.error(format!("unexpected end of payload, expected '{}'", b as char)),
        }
    }

    /// After a member or element: `true` if another follows (a comma was consumed), `false` at `close`.
    pub(super) fn more(&mut self, close: u8) -> Result<bool> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => self.error(format!("expected ',' or '{}'", close as char)),
        }
    }

    /// Opens an object or array: consumes `open` and reports whether it is empty (then `close` is consumed too).
    pub(super) fn open(&mut self, open: u8, close: u8) -> Result<bool> {
        self.expect(open)?;
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// A string literal, raw (quotes and escapes included).
    ///
    /// A short string (a key) usually ends within one 16-byte look. Otherwise the string is read in 64-byte blocks,
    /// resolving every escape of a block at once (see [`super::mask::escaped`]) rather than searching again after each one: a
    /// log message has escapes from its first bytes (the tabs of a text line, the `\"` of a JSON one). Escape
    /// sequences are not validated here: the unescaper reads invalid ones leniently, so one odd escape in a
    /// message does not cost the whole payload.
    pub(super) fn raw_string(&mut self) -> Result<&'a str> {
        self.raw_string_sized(true)
    }

    /// [`Self::raw_string`] for a string that is likely long (a log message): no 16-byte look first.
    pub(super) fn raw_long_string(&mut self) -> Result<&'a str> {
        self.raw_string_sized(false)
    }

    fn raw_string_sized(&mut self, likely_short: bool) -> Result<&'a str> {
        if self.peek() != Some(b'"') {
            return self.error("expected a string");
        }
        let start = self.pos;
        let bytes = self.bytes();
        let mut i = start + 1;
        // Keys and short values end within a few bytes: look there before setting up the block scan.
        if likely_short {
            match quote_or_backslash16(bytes, i) {
                Some(off) => i += off,
                // Fewer than 16 bytes left: one at a time.
                None => {
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\\' {
                        i += 1;
                    }
                }
            }
        }
        if bytes.get(i) != Some(&b'"') {
            let end = end_of_escaped_string(bytes, i);
            let Some(end) = end else {
                self.pos = bytes.len();
                return self.error("unterminated string");
            };
            i = end;
        }
        if self.strict
            && let Some((at, what)) = invalid_in_string(&bytes[start + 1..i])
        {
            self.pos = start + 1 + at;
            return self.error(what);
        }
        self.pos = i + 1;
        Ok(&self.text[start..self.pos])
    }

    /// The usual CloudWatch Logs event, `{"id":"…","timestamp":<digits>,"message":"…"}` in that order with no
    /// whitespace and an id without escapes, read without the general machinery: the raw id literal, the timestamp
    /// (at most 18 digits) and the raw message literal.
    /// `None`, with the cursor unchanged, for anything else (the caller then reads the event the general way).
    pub(super) fn compact_event(&mut self) -> Option<(&'a str, i64, &'a str)> {
        const ID: &[u8] = b"{\"id\":\"";
        const TIMESTAMP: &[u8] = b",\"timestamp\":";
        const MESSAGE: &[u8] = b",\"message\":\"";
        let (text, bytes, start) = (self.text, self.bytes(), self.pos);
        let id_start = start + ID.len() - 1;
        if !bytes[start..].starts_with(ID) {
            return None;
        }
        // Event ids are digits: the first quote ends the id unless it is escaped (then read it the general way).
        // CloudWatch's are 56 digits: one block mask usually finds the quote.
        let first_quote = match block_at(bytes, id_start + 1).map(|b| eq_mask(b, b'"')) {
            Some(quotes) if quotes != 0 => quotes.trailing_zeros() as usize,
            _ => memchr::memchr(b'"', bytes.get(id_start + 1..id_start + 129)?)?,
        };
        let id_end = id_start + 1 + first_quote;
        if bytes[id_end - 1] == b'\\' || !bytes[id_end + 1..].starts_with(TIMESTAMP) {
            return None;
        }
        let ts_start = id_end + 1 + TIMESTAMP.len();
        let (digits, timestamp) = digit_run(bytes, ts_start);
        let ts_end = ts_start + digits;
        // JSON numbers have no leading zeros; more than 18 digits may not fit (the general path reads those).
        if digits == 0 || digits > 18 || (bytes[ts_start] == b'0' && digits > 1) {
            return None;
        }
        let timestamp = i64::try_from(timestamp).ok()?;
        if !bytes[ts_end..].starts_with(MESSAGE) {
            return None;
        }
        self.pos = ts_end + MESSAGE.len() - 1;
        match self.raw_long_string() {
            Ok(message) if bytes.get(self.pos) == Some(&b'}') => {
                self.pos += 1;
                Some((&text[id_start..=id_end], timestamp, message))
            }
            _ => {
                self.pos = start;
                None
            }
        }
    }

    /// A string's value, borrowed when it has no escapes.
    pub(super) fn string(&mut self) -> Result<Cow<'a, str>> {
        let raw = self.raw_string()?;
        let inner = &raw[1..raw.len() - 1];
        if !inner.contains('\\') {
            return Ok(Cow::Borrowed(inner));
        }
        Ok(Cow::Owned(super::unescape_to_string(raw).unwrap_or_default()))
    }

    /// A number, raw.
    pub(super) fn raw_number(&mut self) -> Result<&'a str> {
        self.ws();
        let bytes = self.bytes();
        let start = self.pos;
        let mut i = start;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let s = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > s
        };
        let int_start = i;
        if !digits(&mut i) {
            return self.error("expected a number");
        }
        if bytes[int_start] == b'0' && i > int_start + 1 {
            self.pos = int_start;
            return self.error("leading zero in a number");
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                self.pos = i;
                return self.error("expected digits after '.'");
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                self.pos = i;
                return self.error("expected exponent digits");
            }
        }
        self.pos = i;
        Ok(&self.text[start..i])
    }

    /// Any value, raw: a string, a number or a literal (objects and arrays are skipped and returned whole).
    pub(super) fn raw_value(&mut self) -> Result<&'a str> {
        let start = {
            self.ws();
            self.pos
        };
        self.skip_value(0)?;
        Ok(&self.text[start..self.pos])
    }

    /// Skips one value of any kind.
    pub(super) fn skip_value(&mut self, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return self.error("nesting too deep");
        }
        match self.peek() {
            Some(b'"') => self.raw_string().map(drop),
            Some(b'{') => {
                if self.open(b'{', b'}')? {
                    return Ok(());
                }
                loop {
                    self.raw_string()?;
                    self.expect(b':')?;
                    self.skip_value(depth + 1)?;
                    if !self.more(b'}')? {
                        return Ok(());
                    }
                }
            }
            Some(b'[') => {
                if self.open(b'[', b']')? {
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    if !self.more(b']')? {
                        return Ok(());
                    }
                }
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.raw_number().map(drop),
            Some(_) => self.error("expected a value"),
            None => self.error("unexpected end of payload"),
        }
    }

    fn literal(&mut self, word: &str) -> Result<()> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.error(format!("expected {word}"))
        }
    }

    /// Checks that only whitespace remains.
    pub(super) fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.error("trailing characters after the payload"),
        }
    }
}

/// The run of ASCII digits at `at` (counted up to 19) and its value, eight digits at a time: a 13-digit epoch
/// millisecond timestamp per event, where a byte loop mispredicted its exit every time.
fn digit_run(bytes: &[u8], at: usize) -> (usize, u64) {
    const POW10: [u64; 9] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];
    let (mut n, mut value) = (0, 0_u64);
    while n < 16 {
        let Some(chunk) = bytes.get(at + n..at + n + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()) else {
            break;
        };
        let word = u64::from_le_bytes(chunk);
        // A byte is a digit when its high nibble is 3 and its low nibble at most 9 (adding 6 does not carry).
        let not_digit = ((word & 0xf0f0_f0f0_f0f0_f0f0) ^ 0x3030_3030_3030_3030)
            | (((word & 0x0f0f_0f0f_0f0f_0f0f) + 0x0606_0606_0606_0606) & 0xf0f0_f0f0_f0f0_f0f0);
        let k = (not_digit.trailing_zeros() / 8) as usize;
        if k > 0 {
            value = value * POW10[k] + eight_digits((word & 0x0f0f_0f0f_0f0f_0f0f) << (8 * (8 - k)));
            n += k;
        }
        if k < 8 {
            return (n, value);
        }
    }
    while n < 19
        && let Some(d) = bytes.get(at + n).filter(|b| b.is_ascii_digit())
    {
        value = value * 10 + u64::from(d - b'0');
        n += 1;
    }
    (n, value)
}

/// The value of eight digit values, one a byte, the first in the lowest byte.
fn eight_digits(d: u64) -> u64 {
    let d = (d.wrapping_mul(10) + (d >> 8)) & 0x00ff_00ff_00ff_00ff;
    let d = (d.wrapping_mul(100) + (d >> 16)) & 0x0000_ffff_0000_ffff;
    d.wrapping_mul(10_000).wrapping_add(d >> 32) & 0xffff_ffff
}

/// The UTF-16 code unit of four hex digits (a `\u` escape's), if they are four hex digits.
pub(crate) fn hex_unit(hex: Option<&[u8]>) -> Option<u16> {
    let hex = hex.filter(|h| h.len() == 4 && h.iter().all(u8::is_ascii_hexdigit))?;
    u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

/// The first control character, invalid escape or lone surrogate escape (`\ud800` not followed by a low
/// surrogate, or a low one alone) in a string's content, with its offset.
fn invalid_in_string(content: &[u8]) -> Option<(usize, &'static str)> {
    // Most strings have neither: one vectorised pass over the whole string says so.
    if !content.iter().fold(false, |any, &b| any | (b < 0x20) | (b == b'\\')) {
        return None;
    }
    let mut i = 0;
    while let Some(&b) = content.get(i) {
        match b {
            0..0x20 => return Some((i, "control character in a string (it must be escaped)")),
            b'\\' => match content.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => match hex_unit(content.get(i + 2..i + 6)) {
                    None => return Some((i, "invalid escape in a string")),
                    Some(0xd800..=0xdbff)
                        if content.get(i + 6..i + 8) == Some(b"\\u")
                            && hex_unit(content.get(i + 8..i + 12))
                                .is_some_and(|low| (0xdc00..=0xdfff).contains(&low)) =>
                    {
                        i += 12;
                    }
                    Some(0xd800..=0xdfff) => {
                        return Some((
                            i,
                            "lone UTF-16 surrogate escape in a string (no character; strict readers refuse it)",
                        ));
                    }
                    Some(_) => i += 6,
                },
                _ => return Some((i, "invalid escape in a string")),
            },
            _ => i += 1,
        }
    }
    None
}

/// Offset of the quote closing a string whose content starts at `from`.
fn end_of_escaped_string(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    let mut carry = 0;
    while let Some(block) = block_at(bytes, at) {
        let quotes = eq_mask(block, b'"') & !escaped(eq_mask(block, b'\\'), &mut carry);
        if quotes != 0 {
            return Some(at + quotes.trailing_zeros() as usize);
        }
        at += BLOCK;
    }
    // The last bytes of the payload, one at a time.
    if carry != 0 {
        at += 1;
    }
    while let Some(&b) = bytes.get(at) {
        match b {
            b'"' => return Some(at),
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::values::{json_elements, json_end, json_object_with, json_value};

    proptest::proptest! {
        #[test]
        fn valid_digit_runs_agree_with_a_byte_loop(text in "[0-9]{0,24}[^0-9]?[0-9]{0,4}") {
            let bytes = text.as_bytes();
            for at in 0..=bytes.len() {
                let n = bytes[at..].iter().take(19).take_while(|b| b.is_ascii_digit()).count();
                let value = bytes[at..at + n].iter().fold(0_u64, |v, d| v * 10 + u64::from(d - b'0'));
                proptest::prop_assert_eq!(digit_run(bytes, at), (n, value), "{:?} at {}", text, at);
            }
        }
    }

    /// The members of the object that is the whole of `text`.
    fn json_members(text: &str, strict: bool) -> Result<Vec<(Cow<'_, str>, &str)>> {
        let mut members = Vec::new();
        let end = json_object_with(text, strict, |key, value| members.push((key, value)))?;
        json_end(text, end)?;
        Ok(members)
    }

    #[test]
    fn valid_values_are_skipped_whole() {
        for v in [
            r#""a\"b\\c\u00e9""#,
            r#""ends in a backslash\\""#,
            r#""\\\"""#,
            r#""odd \x escape""#,
            "-1.5e+3",
            "0",
            "true",
            "false",
            "null",
            r#"{"a":[1,{"b":null}],"c":"}"}"#,
            "[]",
            "{}",
            " [ 1 , 2 ] ",
        ] {
            let mut s = Scanner::new(v);
            assert_eq!(s.raw_value().unwrap(), v.trim(), "{v}");
            s.end().unwrap();
        }
    }

    #[test]
    fn invalid_json_is_refused() {
        for v in [
            r#""abc"#,
            r#""a\""#,
            "01x",
            "01",
            "-00",
            "-",
            "1.",
            "1e",
            "[1,]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "tru",
            "[1 2]",
            "}",
        ] {
            let mut s = Scanner::new(v);
            let r = s.raw_value().and_then(|_| s.end());
            assert!(r.is_err(), "{v} was accepted");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(Scanner::new(&deep).raw_value().unwrap_err().what.contains("too deep"));
    }

    #[test]
    fn valid_string_ends_agree_with_a_byte_by_byte_reader() {
        // Escaped quotes and backslash runs of every length, placed across the 64-byte block boundaries.
        let pieces = [r#"\""#, r"\\", r#"\\\""#, "x", "ab", r"\n", r#"\\\\\""#, "{", "é"];
        let mut seed = 7_u64;
        for _ in 0..3000 {
            let mut body = String::new();
            for _ in 0..(seed % 90) {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                body.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            let text = format!(r#""{body}" tail "x""#);
            let want: String = serde_json::from_str(&format!("\"{body}\"")).unwrap();
            let mut s = Scanner::new(&text);
            let raw = s.raw_string().unwrap();
            assert_eq!(raw.len(), body.len() + 2, "{text}");
            assert_eq!(serde_json::from_str::<String>(raw).unwrap(), want);
        }
    }

    #[test]
    fn strict_strings_agree_with_serde_json() {
        for v in [
            r#""ok \" \\ \/ \b \f \n \r \t \u00e9""#,
            "\"tab\tinside\"",
            r#""bad \x escape""#,
            r#""short \u12""#,
            r#""\u12g4""#,
            r#"{"a":["x\q"]}"#,
            r#"{"a":"fine","b":[1,"\ud83d\ude00"]}"#,
        ] {
            let ours = json_value(v, true).is_ok();
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(v).is_ok();
            assert_eq!(ours, serde, "{v}");
        }
    }

    #[test]
    fn invalid_lone_surrogates_are_refused_where_a_string_is_read_into_text() {
        // serde_json refuses these when it reads them into a String (as Python's and Java's strict readers do).
        for v in [r#""\ud800""#, r#""a\udc00b""#, r#""\ud83d x""#, r#""\ud83d\u0041""#, r#""\ude00\ud83d""#] {
            assert!(serde_json::from_str::<String>(v).is_err(), "{v}");
            assert!(json_value(v, true).is_err(), "{v}");
            assert!(json_value(v, false).is_ok(), "lenient reads only find the end: {v}");
        }
        for v in [r#""\ud83d\ude00""#, r#""\uD83D\uDE00 \u00e9 \uffff""#] {
            assert!(serde_json::from_str::<String>(v).is_ok() && json_value(v, true).is_ok(), "{v}");
        }
    }

    #[test]
    fn valid_members_and_elements() {
        let m = json_members(r#" {"a\u0062":1, "c" : {"d":[2]} } "#, true).unwrap();
        assert_eq!(m, vec![(Cow::Owned("ab".to_owned()), "1"), (Cow::Borrowed("c"), r#"{"d":[2]}"#)]);
        assert!(json_members("{}", true).unwrap().is_empty());
        assert!(json_members(r#"{"a":1} x"#, true).is_err());
        assert_eq!(json_elements(r#"[1, "two", {"3":3}]"#).unwrap(), vec!["1", r#""two""#, r#"{"3":3}"#]);
        assert_eq!(json_value(r#"  {"a":1} tail"#, false).unwrap(), (r#"{"a":1}"#, 9));
        assert!(json_value(r#""\x""#, false).is_ok() && json_value(r#""\x""#, true).is_err());
    }

    #[test]
    fn valid_strings_borrow_unless_escaped() {
        let mut s = Scanner::new(r#""plain" "tab\there""#);
        assert!(matches!(s.string().unwrap(), Cow::Borrowed("plain")));
        assert_eq!(s.string().unwrap(), "tab\there");
    }
}
