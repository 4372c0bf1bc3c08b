//! The tokens of a usual record: whitespace, strings (escaped or not), numbers, `dimensions` and scalar extras,
//! each copied to the output as it is read.

use super::{Reader, is_quote};
use crate::decode::{hex_unit, string_stop};
use crate::extract::record::{check_meter_value, parse_millis};

impl<const E: usize> Reader<'_, '_, E> {
    /// Copies the text before the escaped quote at `at` and goes on copying from its quote: its backslashes are
    /// left out.
    #[inline]
    pub(super) fn quote(&mut self, at: usize) {
        self.out.push_str(&self.text[self.run..at]);
        self.run = at + E;
    }

    /// Skips whitespace, copying the text before it. Most token boundaries have none (every one, in a compact
    /// record): that test is inlined, the skip is not.
    #[inline]
    pub(super) fn ws(&mut self) {
        if self.ws_len(self.at) > 0 {
            self.skip_ws();
        }
    }

    /// The length of the whitespace character at `at`, 0 when there is none. In a line's literal (`E` = 1) a line
    /// break or tab is an escape (`\n`, `\r`, `\t`); one level deeper only spaces are taken.
    #[inline]
    pub(super) fn ws_len(&self, at: usize) -> usize {
        match (E, self.bytes.get(at)) {
            (0, Some(b' ' | b'\n' | b'\r' | b'\t')) | (_, Some(b' ')) => 1,
            (1, Some(b'\\')) if matches!(self.bytes.get(at + 1), Some(b'n' | b'r' | b't')) => 2,
            _ => 0,
        }
    }

    #[inline(never)]
    pub(super) fn skip_ws(&mut self) {
        let start = self.at;
        loop {
            match self.ws_len(self.at) {
                0 => break,
                n => self.at += n,
            }
        }
        if self.at > start {
            self.out.push_str(&self.text[self.run..start]);
            self.run = self.at;
        }
    }

    pub(super) fn byte(&mut self, b: u8) -> Option<()> {
        (self.bytes.get(self.at) == Some(&b)).then(|| self.at += 1)
    }

    /// After a value: `true` when a comma follows (consumed), `false` at `close` (consumed).
    pub(super) fn more(&mut self, close: u8) -> Option<bool> {
        self.ws();
        match self.bytes.get(self.at) {
            Some(b',') => {
                self.at += 1;
                Some(true)
            }
            Some(&b) if b == close => {
                self.at += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// A strict string literal at the cursor: the length of its text between the quotes, and whether it holds an
    /// escape.
    pub(super) fn string(&mut self) -> Option<(usize, bool)> {
        if E > 0 {
            return self.escaped_string();
        }
        let (bytes, start) = (self.bytes, self.at);
        if bytes.get(start) != Some(&b'"') {
            return None;
        }
        let (mut i, mut escaped) = (start + 1, false);
        loop {
            i = string_stop(bytes, i)?;
            match bytes[i] {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i += escape_len(&bytes[i..])?;
                }
                // A control character must be escaped.
                _ => return None,
            }
        }
        self.at = i + 1;
        Some((i - start - 1, escaped))
    }

    /// [`Self::string`] in a literal: between two escaped quotes, text with no backslash, quote or control
    /// character (any of those would be an escape one level down, left to the general path), but for `\u`
    /// escapes in a line's literal (`\\uXXXX`, as Python's `json.dumps` writes any non-ASCII character), which
    /// are copied as the record's `\uXXXX`.
    pub(super) fn escaped_string(&mut self) -> Option<(usize, bool)> {
        let (bytes, open) = (self.bytes, self.at);
        if !is_quote::<E>(bytes.get(open..)?) {
            return None;
        }
        self.quote(open);
        let (start, mut escaped, mut high_before) = (open + E + 1, false, false);
        let mut i = start;
        loop {
            i = string_stop(bytes, i)?;
            if is_quote::<E>(&bytes[i..]) {
                break;
            }
            match bytes.get(i..i + 7) {
                Some([b'\\', b'\\', b'u', hex @ ..]) if E == 1 => {
                    // A surrogate must come in a pair, high then low at once; anything else (a lone surrogate) is
                    // left to the general path, which gives the reason.
                    let unit = hex_unit(Some(hex))?;
                    if is_low(unit) != high_before {
                        return None;
                    }
                    high_before = (0xd800..=0xdbff).contains(&unit);
                    // The record's text goes on from the second backslash.
                    self.out.push_str(&self.text[self.run..i]);
                    self.run = i + 1;
                    escaped = true;
                    i += 7;
                    if high_before && bytes.get(i..i + 3) != Some(b"\\\\u") {
                        return None;
                    }
                }
                _ => return None,
            }
        }
        if high_before {
            return None;
        }
        self.quote(i);
        self.at = i + E + 1;
        Some((i - start, escaped))
    }

    /// A number with JSON's grammar.
    pub(super) fn number(&mut self) -> Option<()> {
        self.at += number_len(self.bytes, self.at)?;
        Some(())
    }

    /// `meterValue`: a number that the rule of the general path accepts (the same function); anything else is the
    /// general path's to explain.
    pub(super) fn meter_value(&mut self) -> Option<()> {
        let len = number_len(self.bytes, self.at)?;
        check_meter_value(&self.text[self.at..self.at + len]).ok()?;
        self.at += len;
        Some(())
    }

    /// `meterTimeInMillis`: a whole, plausible number of epoch milliseconds (anything else is the general path's
    /// to explain).
    pub(super) fn millis(&mut self) -> Option<i64> {
        let len = number_len(self.bytes, self.at)?;
        let ms = parse_millis(&self.text[self.at..self.at + len]).ok()?;
        self.at += len;
        Some(ms)
    }

    /// `dimensions`: an object of strings.
    pub(super) fn dimensions(&mut self) -> Option<()> {
        self.byte(b'{')?;
        self.ws();
        if self.byte(b'}').is_some() {
            return Some(());
        }
        // Keys seen so far, as raw text: a repeated key is ambiguous, and an escaped key (which might repeat another
        // once unescaped) or a long list is the general path's to check.
        let mut keys: [(usize, usize); 16] = [(0, 0); 16];
        let mut n = 0;
        loop {
            let start = self.at;
            let (_, escaped) = self.string()?;
            let key = (start, self.at);
            if escaped
                || n == keys.len()
                || keys[..n].iter().any(|&(a, b)| self.bytes[a..b] == self.bytes[key.0..key.1])
            {
                return None;
            }
            keys[n] = key;
            n += 1;
            self.ws();
            self.byte(b':')?;
            self.ws();
            self.string()?;
            if !self.more(b'}')? {
                return Some(());
            }
            self.ws();
        }
    }

    /// The value of a field the rules say nothing about: a string, a number or a literal (objects and arrays go
    /// the general way).
    pub(super) fn scalar(&mut self) -> Option<()> {
        match *self.bytes.get(self.at)? {
            b if b == Self::QUOTE_START => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number(),
            _ => {
                let rest = &self.bytes[self.at..];
                let len = [&b"true"[..], b"false", b"null"].into_iter().find(|w| rest.starts_with(w))?.len();
                self.at += len;
                Some(())
            }
        }
    }
}

/// The length of the number with JSON's grammar at `at`.
pub(in crate::extract) fn number_len(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    let int = digits(bytes, i);
    if int == 0 || (int > 1 && bytes[i] == b'0') {
        return None;
    }
    i += int;
    if bytes.get(i) == Some(&b'.') {
        let frac = digits(bytes, i + 1);
        if frac == 0 {
            return None;
        }
        i += 1 + frac;
    }
    if let Some(b'e' | b'E') = bytes.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = bytes.get(i) {
            i += 1;
        }
        let exp = digits(bytes, i);
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    Some(i - at)
}

/// The number of ASCII digits at `at`.
pub(super) fn digits(bytes: &[u8], at: usize) -> usize {
    bytes.get(at..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_digit()).count())
}

/// A low (trailing) UTF-16 surrogate.
pub(super) fn is_low(unit: u16) -> bool {
    (0xdc00..=0xdfff).contains(&unit)
}

/// The length of the valid escape sequence starting `rest` (at its backslash): a surrogate pair is one.
pub(super) fn escape_len(rest: &[u8]) -> Option<usize> {
    match rest.get(1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(2),
        b'u' => match hex_unit(rest.get(2..6))? {
            0xd800..=0xdbff if rest.get(6..8) == Some(b"\\u") && hex_unit(rest.get(8..12)).is_some_and(is_low) => {
                Some(12)
            }
            // A lone surrogate: the general path gives the reason.
            0xd800..=0xdfff => None,
            _ => Some(6),
        },
        _ => None,
    }
}
