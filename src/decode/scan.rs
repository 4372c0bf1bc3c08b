//! A JSON scanner specialised for the CloudWatch Logs payload.
//!
//! The payload is one object whose bulk is `logEvents[].message` strings. Skipping a string here is a SIMD
//! search for the next quote or backslash (`memchr2`), several times faster than a general JSON parser that
//! inspects every byte, and messages stay as borrowed raw literals. The grammar is still checked: objects,
//! arrays, strings, numbers and literals must be well formed, unknown values are skipped (nesting is bounded),
//! and nothing may follow the document.

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

/// Cursor over the payload text.
pub(super) struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
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
    /// The closing quote is found with one SIMD search for `"`, and a quote preceded by an odd number of
    /// backslashes is escaped. Escape sequences are not validated here: the unescaper reads invalid ones
    /// leniently, so one odd escape in a message does not cost the whole payload.
    pub(super) fn raw_string(&mut self) -> Result<&'a str> {
        if self.peek() != Some(b'"') {
            return self.error("expected a string");
        }
        let start = self.pos;
        let bytes = self.bytes();
        let mut i = start + 1;
        // Keys and short values end within a few bytes: look there before paying for a SIMD search.
        let short = bytes.len().min(i + 16);
        while i < short && bytes[i] != b'"' && bytes[i] != b'\\' {
            i += 1;
        }
        if bytes.get(i) == Some(&b'"') {
            self.pos = i + 1;
            return Ok(&self.text[start..self.pos]);
        }
        loop {
            let Some(off) = memchr::memchr(b'"', &bytes[i..]) else {
                self.pos = bytes.len();
                return self.error("unterminated string");
            };
            let quote = i + off;
            let backslashes = bytes[start + 1..quote].iter().rev().take_while(|&&b| b == b'\\').count();
            if backslashes % 2 == 0 {
                self.pos = quote + 1;
                return Ok(&self.text[start..self.pos]);
            }
            i = quote + 1;
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
        if !digits(&mut i) {
            return self.error("expected a number");
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

#[cfg(test)]
mod tests {
    use super::*;

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
        for v in [r#""abc"#, r#""a\""#, "01x", "-", "1.", "1e", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "tru", "[1 2]", "}"]
        {
            let mut s = Scanner::new(v);
            let r = s.raw_value().and_then(|_| s.end());
            assert!(r.is_err(), "{v} was accepted");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(Scanner::new(&deep).raw_value().unwrap_err().what.contains("too deep"));
    }

    #[test]
    fn valid_strings_borrow_unless_escaped() {
        let mut s = Scanner::new(r#""plain" "tab\there""#);
        assert!(matches!(s.string().unwrap(), Cow::Borrowed("plain")));
        assert_eq!(s.string().unwrap(), "tab\there");
    }
}
