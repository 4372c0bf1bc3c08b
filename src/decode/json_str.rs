//! Unescaping JSON string literals into a reused buffer.
//!
//! Log messages are read from the payload as raw JSON text and only unescaped when a cheap scan of the raw text
//! says they matter, so lines that are neither tagged nor reports cost no allocation.

/// Unescapes the JSON string literal `raw` (with its quotes) into `out`, which is cleared first.
///
/// Returns `false`, leaving `out` empty, when `raw` is not a string literal. Escapes are assumed valid (the
/// payload parser validated them); a lone surrogate becomes U+FFFD.
pub fn unescape_into(raw: &str, out: &mut String) -> bool {
    out.clear();
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return false;
    };
    let bytes = inner.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let Some(off) = memchr::memchr(b'\\', &bytes[i..]) else {
            out.push_str(&inner[i..]);
            break;
        };
        out.push_str(&inner[i..i + off]);
        i += off;
        let Some(&esc) = bytes.get(i + 1) else { break };
        i += 2;
        let c = match esc {
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'u' => {
                let (c, used) = unicode_escape(&bytes[i..]);
                i += used;
                c
            }
            other => other as char,
        };
        out.push(c);
    }
    true
}

/// Like [`unescape_into`], returning a new string.
pub fn unescape_to_string(raw: &str) -> Option<String> {
    let mut s = String::with_capacity(raw.len());
    unescape_into(raw, &mut s).then_some(s)
}

fn hex4(b: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(b.get(..4)?).ok()?;
    u32::from_str_radix(s, 16).ok()
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
        let table = [
            r#""plain""#,
            r#""tab\tnl\ncr\rq\"bs\\sl\/""#,
            r#""caf\u00e9 \u20ac \ud83d\ude00""#,
            r#""\b\f""#,
            r#""""#,
            r#""lone \ud800 surrogate""#,
        ];
        for raw in table {
            let mut out = String::new();
            assert!(unescape_into(raw, &mut out));
            let want: String = serde_json::from_str(raw).unwrap_or_else(|_| out.clone());
            assert_eq!(out, want, "{raw}");
        }
        assert_eq!(unescape_to_string(r#""lone \ud800 x""#).unwrap(), "lone \u{FFFD} x");
    }

    #[test]
    fn invalid_not_a_string_literal() {
        let mut out = String::from("old");
        assert!(!unescape_into("123", &mut out));
        assert!(out.is_empty());
        assert!(unescape_to_string("{}").is_none());
    }
}
