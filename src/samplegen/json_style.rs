//! How runtimes print a JSON value: Node's `JSON.stringify` (compact, UTF-8), Python's `json.dumps` (`", "` and
//! `": "` separators, non-ASCII escaped as `\uXXXX`), and pretty-printed with Node's `\r` line breaks.

use serde_json::Value;

/// `JSON.stringify(value)`.
pub fn node(v: &Value) -> String {
    v.to_string()
}

/// `JSON.stringify(value, null, 2)` as Node's text log format writes it: line breaks become `\r`.
pub fn node_pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default().replace('\n', "\r")
}

/// Python's `json.dumps(value)`.
pub fn python(v: &Value) -> String {
    let mut s = String::new();
    py(v, &mut s);
    s
}

fn py(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_str(k, out);
                out.push_str(": ");
                py(v, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py(v, out);
            }
            out.push(']');
        }
        Value::String(s) => py_str(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn py_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_styles_round_trip() {
        let v = serde_json::json!({"customerId": "café ☕", "n": [1, 2.5], "d": {"k": "v\n"}});
        for s in [node(&v), node_pretty(&v), python(&v)] {
            let back: Value = serde_json::from_str(&s).unwrap();
            assert_eq!(back, v, "{s}");
        }
        assert!(python(&v).contains("\\u00e9"));
        assert!(python(&v).contains("\"n\": [1, 2.5]"));
        assert!(node_pretty(&v).contains('\r') && !node_pretty(&v).contains('\n'));
    }
}
