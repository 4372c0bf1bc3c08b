//! Unescaping JSON string literals into a reused buffer.
//!
//! Log messages are read from the payload as raw JSON text and only unescaped when a cheap scan of the raw text
//! says they matter, so lines that are neither tagged nor reports cost no allocation.

/// Unescapes the JSON string literal `raw` (with its quotes) into `out`, which is cleared first.
///
/// Returns `false`, leaving `out` empty, when `raw` is not a string literal. The payload scanner does not
/// validate escapes, so invalid ones are read leniently: `\x` becomes `x`, and a `\u` without four hex digits or
/// a lone surrogate becomes U+FFFD.
pub fn unescape_into(raw: &str, out: &mut String) -> bool {
    out.clear();
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return false;
    };
    let Some(first) = memchr::memchr(b'\\', inner.as_bytes()) else {
        out.push_str(inner);
        return true;
    };
    // Bytes, not chars: an invalid escape such as `\é` must not split a character.
    let bytes = inner.as_bytes();
    let mut buf = std::mem::take(out).into_bytes();
    buf.clear();
    buf.reserve(bytes.len());
    // `i` is the first byte not yet written: the text before each escape is copied when the escape is reached.
    let mut i = 0;
    let mut next = Some(first);
    while let Some(at) = next {
        buf.extend_from_slice(&bytes[i..at]);
        // A backslash that ends the text escapes nothing and is dropped.
        let Some(&esc) = bytes.get(at + 1) else {
            i = bytes.len();
            break;
        };
        i = at + 2;
        // A table, not a `match`: escapes of every kind alternate in a line, and a branch on the kind mispredicts.
        if esc == b'u' {
            let (c, used) = unicode_escape(&bytes[i..]);
            i += used;
            buf.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        } else {
            buf.push(UNESCAPED[usize::from(esc)]);
        }
        next = memchr::memchr(b'\\', &bytes[i..]).map(|off| i + off);
    }
    buf.extend_from_slice(bytes.get(i..).unwrap_or_default());
    // Bytes were copied whole (a backslash is never part of a multi-byte character) and escapes decode to chars:
    // always UTF-8.
    *out = String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    true
}

/// The byte each one-character escape stands for: `\n` → newline, …; any other byte (`\"`, `\\`, `\/` and
/// invalid escapes) stands for itself.
static UNESCAPED: [u8; 256] = {
    let mut t = [0; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as u8;
        i += 1;
    }
    t[b'n' as usize] = b'\n';
    t[b't' as usize] = b'\t';
    t[b'r' as usize] = b'\r';
    t[b'b' as usize] = 0x08;
    t[b'f' as usize] = 0x0c;
    t
};

/// Like [`unescape_into`], returning a new string.
pub fn unescape_to_string(raw: &str) -> Option<String> {
    // The text can only shrink.
    let mut s = String::with_capacity(raw.len());
    unescape_into(raw, &mut s).then_some(s)
}

fn hex4(b: &[u8]) -> Option<u32> {
    let digits = b.get(..4)?;
    // `from_str_radix` alone would take a sign (`\u+041`).
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// Decodes the four hex digits after `\u` (and a following `\uXXXX` low surrogate); returns the char and the
/// number of bytes consumed after the `\u`.
fn unicode_escape(b: &[u8]) -> (char, usize) {
    let Some(hi) = hex4(b) else {
        return ('\u{FFFD}', 0);
    };
    if (0xD800..0xDC00).contains(&hi) {
        if b.get(4..6) == Some(b"\\u")
            && let Some(lo) = b.get(6..).and_then(hex4)
            && (0xDC00..0xE000).contains(&lo)
        {
            let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
            return (char::from_u32(c).unwrap_or('\u{FFFD}'), 10);
        }
        return ('\u{FFFD}', 4);
    }
    (char::from_u32(hi).unwrap_or('\u{FFFD}'), 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_escapes_match_serde_json() {
        let table =
            [r#""plain""#, r#""tab\tnl\ncr\rq\"bs\\sl\/""#, r#""caf\u00e9 \u20ac \ud83d\ude00""#, r#""\b\f""#, r#""""#];
        for raw in table {
            let mut out = String::new();
            assert!(unescape_into(raw, &mut out));
            let want: String = serde_json::from_str(raw).unwrap();
            assert_eq!(out, want, "{raw}");
        }
        // serde_json refuses a lone surrogate; the lenient unescaper writes U+FFFD for it.
        assert!(serde_json::from_str::<String>(r#""lone \ud800 surrogate""#).is_err());
        assert_eq!(unescape_to_string(r#""lone \ud800 x""#).unwrap(), "lone \u{FFFD} x");
    }

    #[test]
    fn invalid_escapes_are_read_leniently() {
        for (raw, want) in [
            (r#""\u""#, "\u{FFFD}"),
            (r#""\u\u\u""#, "\u{FFFD}\u{FFFD}\u{FFFD}"),
            (r#""\uZZ""#, "\u{FFFD}ZZ"),
            (r#""\u+041""#, "\u{FFFD}+041"),
            (r#""a\x""#, "ax"),
            (r#""\é""#, "é"),
            (r#""end\""#, "end"),
        ] {
            assert_eq!(unescape_to_string(raw).unwrap(), want, "{raw}");
        }
    }

    proptest::proptest! {
        #[test]
        fn valid_any_string_round_trips(s in proptest::prelude::any::<String>()) {
            let raw = serde_json::to_string(&s).unwrap();
            proptest::prop_assert_eq!(unescape_to_string(&raw).unwrap(), s);
        }

        #[test]
        fn invalid_any_escape_soup_never_panics(junk in "[\\\\ud8cDC0-9aAfF\"xé]{0,60}") {
            let raw = format!("\"{junk}\"");
            let mut out = String::new();
            proptest::prop_assert!(unescape_into(&raw, &mut out));
            proptest::prop_assert!(out.len() <= 2 * raw.len());
        }
    }

    /// The lenient reading the docs describe, written independently of the implementation: a char loop over
    /// the text, its own escape table, and std's UTF-16 decoder for `\u` code units (a lone surrogate is a
    /// decoding error, read as U+FFFD).
    fn reference(raw: &str) -> String {
        let inner: Vec<char> = raw[1..raw.len() - 1].chars().collect();
        let mut out = String::new();
        let mut units: Vec<u16> = Vec::new();
        let flush = |units: &mut Vec<u16>, out: &mut String| {
            out.extend(char::decode_utf16(units.drain(..)).map(|c| c.unwrap_or('\u{FFFD}')));
        };
        let mut i = 0;
        while i < inner.len() {
            if inner[i] != '\\' {
                flush(&mut units, &mut out);
                out.push(inner[i]);
                i += 1;
                continue;
            }
            let Some(&esc) = inner.get(i + 1) else { break };
            i += 2;
            if esc == 'u' {
                let hex: String = inner.iter().skip(i).take(4).collect();
                match u16::from_str_radix(&hex, 16) {
                    Ok(unit) if hex.len() == 4 && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
                        units.push(unit);
                        i += 4;
                    }
                    _ => {
                        flush(&mut units, &mut out);
                        out.push('\u{FFFD}');
                    }
                }
                continue;
            }
            flush(&mut units, &mut out);
            out.push(match esc {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'b' => '\u{8}',
                'f' => '\u{c}',
                other => other,
            });
        }
        flush(&mut units, &mut out);
        out
    }

    proptest::proptest! {
        #[test]
        fn valid_blocks_agree_with_an_independent_reading(junk in "([\\\\]{1,3}[\"nu\\\\é/+]|\\\\ud83d\\\\ude00|\\\\udc00|[a-f0-9+ ]{0,70}|é){0,40}") {
            let raw = format!("\"{junk}\"");
            proptest::prop_assert_eq!(unescape_to_string(&raw).unwrap(), reference(&raw));
        }
    }

    #[test]
    fn invalid_not_a_string_literal() {
        let mut out = String::from("old");
        assert!(!unescape_into("123", &mut out));
        assert!(out.is_empty());
        assert!(unescape_to_string("{}").is_none());
    }
}
