//! Writing JSON straight into a byte buffer, byte for byte as `serde_json` writes it (compact, same escapes, same
//! number formatting), without a serializer per value: documents are written once per report and most of their
//! strings once per payload.

/// Whether `b` must be escaped inside a JSON string.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Appends `s` as a JSON string literal, quotes included.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    // No early exit: the whole-slice OR vectorises, and the strings here are short.
    if s.bytes().fold(false, |any, b| any | needs_escape(b)) {
        push_escaped(out, s);
    } else {
        out.extend_from_slice(s.as_bytes());
    }
    out.push(b'"');
}

fn push_escaped(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[from..i]);
        from = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]),
        }
    }
    out.extend_from_slice(&bytes[from..]);
}

/// Appends an unsigned integer.
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a float, shortest round-trip form; `null` for NaN and infinities (as `serde_json` does).
pub fn push_f64(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends `true` or `false`.
pub fn push_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn serde<T: serde::Serialize>(v: T) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn valid_edge_values_match_serde_json() {
        for s in ["", "plain", "q\"b\\s/", "\u{0}\u{1f}\u{7f}\n\r\t\u{8}\u{c}", "café €😀", "\u{2028}"] {
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(out, serde(s), "{s:?}");
        }
        for f in [0.0, -0.0, 1.5, 1e21, 1e-7, 123456.789, f64::MAX, f64::MIN_POSITIVE, f64::NAN, f64::INFINITY] {
            let mut out = Vec::new();
            push_f64(&mut out, f);
            assert_eq!(out, serde(f), "{f}");
        }
        for n in [0, 9, 10, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, serde(n));
        }
    }

    proptest! {
        #[test]
        fn valid_any_string_or_number_matches_serde_json(s in any::<String>(), f in any::<f64>(), n in any::<u64>()) {
            let mut out = Vec::new();
            push_str(&mut out, &s);
            prop_assert_eq!(&out, &serde(&s));
            out.clear();
            push_f64(&mut out, f);
            prop_assert_eq!(&out, &serde(f));
            out.clear();
            push_u64(&mut out, n);
            prop_assert_eq!(out, serde(n));
        }
    }
}
