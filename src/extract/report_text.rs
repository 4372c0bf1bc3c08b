//! Text `REPORT` lines:
//! `REPORT RequestId: <id>\tDuration: 3003.28 ms\tBilled Duration: 3004 ms\tMemory Size: 128 MB\t…`
//!
//! Fields come in any order, separated by tabs or spaces, with optional `Init Duration`, `Restore Duration`,
//! `Billed Restore Duration`, `Status`, `Error Type` and X-Ray fields on the same or the next line. The line is
//! tokenized into `Key: value [unit]` pairs, so `Duration` never matches inside `Billed Duration`.

use super::report::{InvocationReport, ReportFormat, ReportStatus};

/// Parses a text report; `Err` carries a reason for quarantine. Call only for messages that start with
/// `REPORT ` (not `INIT_REPORT`, `RESTORE_REPORT`).
pub fn parse_text_report(msg: &str) -> Result<InvocationReport<'_>, String> {
    let mut report = InvocationReport::new("", ReportFormat::Text);
    let mut tokens = msg.split_ascii_whitespace().peekable();
    if tokens.next() != Some("REPORT") {
        return Err("not a REPORT line".into());
    }
    // The words before the last of a multi-word key ("Billed", "Max Memory"), joined by single spaces.
    let mut key_words = KeyWords::default();
    let mut seen_duration = false;
    while let Some(tok) = tokens.next() {
        let Some(last) = tok.strip_suffix(':') else {
            // "XRAY" only introduces its fields.
            if tok != "XRAY" {
                key_words.push(tok);
            }
            continue;
        };
        let key = key_words.finish(last);
        let Some(value) = tokens.next() else {
            return Err(format!("REPORT field {key:?} has no value"));
        };
        if matches!(tokens.peek(), Some(&("ms" | "MB"))) {
            tokens.next();
        }
        match key {
            "RequestId" => report.request_id = value.into(),
            "Duration" => {
                report.duration_ms = Some(float(key, value)?);
                seen_duration = true;
            }
            "Billed Duration" => report.billed_duration_ms = Some(int(key, value)?),
            "Memory Size" => report.memory_size_mb = Some(int(key, value)?),
            "Max Memory Used" => report.max_memory_used_mb = Some(int(key, value)?),
            "Init Duration" => report.init_duration_ms = Some(float(key, value)?),
            "Restore Duration" => report.restore_duration_ms = Some(float(key, value)?),
            "Billed Restore Duration" => report.billed_restore_duration_ms = Some(int(key, value)?),
            "Status" => {
                report.status = ReportStatus::parse(value)
                    .ok_or_else(|| format!("REPORT Status {value:?} is not a known status"))?;
            }
            "Error Type" => report.error_type = Some(value.into()),
            "TraceId" => report.trace_id = Some(value.into()),
            "SegmentId" => report.span_id = Some(value.into()),
            "Sampled" => report.sampled = Some(value.eq_ignore_ascii_case("true")),
            // Fields Lambda adds later are ignored rather than refused.
            _ => {}
        }
    }
    if report.request_id.is_empty() {
        return Err("REPORT line has no RequestId".into());
    }
    if !seen_duration {
        return Err("REPORT line has no Duration".into());
    }
    Ok(report)
}

/// The words of a key being read, in a fixed buffer: every key Lambda writes fits, and a longer one is unknown
/// anyway (it is then read as the overflow marker, which matches no field).
#[derive(Default)]
struct KeyWords {
    buf: [u8; 32],
    len: usize,
    overflow: bool,
}

impl KeyWords {
    fn push(&mut self, word: &str) {
        let sep = usize::from(self.len > 0);
        match self.buf.get_mut(self.len..self.len + sep + word.len()) {
            Some(room) => {
                room[..sep].copy_from_slice(&b" "[..sep]);
                room[sep..].copy_from_slice(word.as_bytes());
                self.len += sep + word.len();
            }
            None => self.overflow = true,
        }
    }

    /// The whole key, ending with `last`; the buffer is emptied for the next key.
    fn finish<'a>(&'a mut self, last: &'a str) -> &'a str {
        if self.len == 0 && !self.overflow {
            return last;
        }
        self.push(last);
        let key = if self.overflow { "…" } else { std::str::from_utf8(&self.buf[..self.len]).unwrap_or("…") };
        (self.len, self.overflow) = (0, false);
        key
    }
}

fn float(key: &str, value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("REPORT {key} {value:?} is not a non-negative number"))
}

fn int(key: &str, value: &str) -> Result<u64, String> {
    value.parse::<u64>().map_err(|_| format!("REPORT {key} {value:?} is not a whole non-negative number"))
}

/// For the line older runtimes write on a timeout (`<time> <request id> Task timed out after 30.03 seconds`),
/// the request id; `None` for any other message.
pub fn timed_out_request_id(msg: &str) -> Option<&str> {
    let mut it = msg.split_ascii_whitespace();
    let (_time, id) = (it.next()?, it.next()?);
    let rest = [it.next()?, it.next()?, it.next()?, it.next()?];
    (rest == ["Task", "timed", "out", "after"]).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "2ea49a23-ff39-4bf5-8761-439f99b7c5f6";

    #[test]
    fn valid_report_lines() {
        type Check = fn(&InvocationReport<'_>);
        let table: &[(&str, Check)] = &[
            (
                "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tDuration: 3003.28 ms\tBilled Duration: 3004 ms\tMemory Size: 128 MB\tMax Memory Used: 35 MB\tInit Duration: 151.03 ms\t\n",
                |r| {
                    assert_eq!(r.duration_ms, Some(3003.28));
                    assert_eq!(r.billed_duration_ms, Some(3004));
                    assert_eq!(r.memory_size_mb, Some(128));
                    assert_eq!(r.max_memory_used_mb, Some(35));
                    assert_eq!(r.init_duration_ms, Some(151.03));
                    assert!(r.cold_start());
                    assert_eq!(r.status, ReportStatus::Success);
                },
            ),
            (
                // Spaces instead of tabs, fields reordered, a stray space before a tab.
                "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6 Memory Size: 256 MB  Max Memory Used: 256 MB \tBilled Duration: 12 ms Duration: 11.5 ms Status: error Error Type: Runtime.OutOfMemory",
                |r| {
                    assert_eq!((r.duration_ms, r.billed_duration_ms), (Some(11.5), Some(12)));
                    assert_eq!((r.memory_size_mb, r.max_memory_used_mb), (Some(256), Some(256)));
                    assert_eq!(r.status, ReportStatus::Error);
                    assert_eq!(r.error_type.as_deref(), Some("Runtime.OutOfMemory"));
                    assert!(!r.cold_start());
                },
            ),
            (
                "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tDuration: 30000.00 ms\tBilled Duration: 30000 ms\tMemory Size: 512 MB\tMax Memory Used: 80 MB\tStatus: timeout\t\nXRAY TraceId: 1-5e1b4151-43a0913a12345678901234ab\tSegmentId: 0b1f2c3d4e5f6a7b\tSampled: true\t\n",
                |r| {
                    assert_eq!(r.status, ReportStatus::Timeout);
                    assert_eq!(r.trace_id.as_deref(), Some("1-5e1b4151-43a0913a12345678901234ab"));
                    assert_eq!(r.span_id.as_deref(), Some("0b1f2c3d4e5f6a7b"));
                    assert_eq!(r.sampled, Some(true));
                },
            ),
            (
                "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6\tDuration: 20.10 ms\tBilled Duration: 350 ms\tMemory Size: 1024 MB\tMax Memory Used: 90 MB\tRestore Duration: 320.55 ms\tBilled Restore Duration: 321 ms\tXRAY TraceId: 1-a-b\tSegmentId: s\tSampled: false\t",
                |r| {
                    assert_eq!(r.restore_duration_ms, Some(320.55));
                    assert_eq!(r.billed_restore_duration_ms, Some(321));
                    assert!(r.cold_start());
                    assert_eq!(r.sampled, Some(false));
                },
            ),
            (
                // Keys split by runs of blanks, and a key longer than any Lambda writes: ignored like any unknown.
                "REPORT RequestId: 2ea49a23-ff39-4bf5-8761-439f99b7c5f6 Duration: 2.5 ms  Max \t Memory   Used: 64 MB A Very Long Field Name Lambda Might Add One Day: 7 Memory Size: 128 MB",
                |r| {
                    assert_eq!(r.duration_ms, Some(2.5));
                    assert_eq!((r.memory_size_mb, r.max_memory_used_mb), (Some(128), Some(64)));
                },
            ),
        ];
        for (line, check) in table {
            let r = parse_text_report(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(r.request_id, ID);
            assert_eq!(r.format, ReportFormat::Text);
            check(&r);
        }
    }

    #[test]
    fn invalid_report_lines_have_reasons() {
        let table = [
            ("REPORT Duration: 1 ms", "no RequestId"),
            ("REPORT RequestId: x Billed Duration: 1 ms", "no Duration"),
            ("REPORT RequestId: x Duration: abc ms", "Duration \"abc\""),
            ("REPORT RequestId: x Duration: 1 ms Memory Size: 1.5 MB", "Memory Size \"1.5\""),
            ("REPORT RequestId: x Duration: 1 ms Status: exploded", "not a known status"),
            ("REPORT RequestId: x Duration:", "has no value"),
        ];
        for (line, want) in table {
            let e = parse_text_report(line).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn timeout_lines() {
        assert_eq!(
            timed_out_request_id(
                "2026-11-20T10:00:30.050Z 2ea49a23-ff39-4bf5-8761-439f99b7c5f6 Task timed out after 30.03 seconds\n"
            ),
            Some(ID)
        );
        assert_eq!(timed_out_request_id("2026-11-20T10:00:30.050Z x Task finished"), None);
    }
}
