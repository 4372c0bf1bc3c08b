//! The lines of one payload: which may hold something (cheap tests of the raw text), and reading those into
//! meter records, invocation reports and quarantine entries.

use super::Pipeline;
use crate::decode::{Payload, unescape_into};
use crate::extract::{
    EventRef, Extraction, FoundReport, InitFailure, InvocationReport, QuarantineEntry, QuarantineKind, ReportStatus,
    parse_platform_init_report, parse_platform_init_start, parse_platform_report, parse_text_init_report,
    parse_text_init_start, parse_text_report, read_raw_platform_report, read_raw_text_report, timed_out_request_id,
};
use crate::plan::REPORT_DOCUMENT_BYTES;

/// Buffers for reading the lines of one payload.
#[derive(Debug, Default)]
pub(super) struct LineBuffers {
    /// The unescaped text of the line being read.
    message: String,
    /// The unescaped `message` of a JSON log line, when it is a string.
    inner: String,
    /// Request ids of the payload's `Task timed out` lines so far.
    timed_out: Vec<String>,
    /// The payload's events that need reading (index, [`Look`]), in log order.
    candidates: Vec<(usize, Look)>,
}

/// What a message may hold, from cheap tests of its raw (still escaped) text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Look(u8);

impl Look {
    pub(super) const NOTHING: Self = Self(0);
    /// Starts with `REPORT `.
    const TEXT_REPORT: Self = Self(1);
    /// A JSON log line mentioning `platform.report`; whether it holds the tag is asked only if it is no report.
    /// (Found by one search for `platform.`, see [`PLATFORM_PREFIX`].)
    const PLATFORM: Self = Self(2);
    /// A text line with `Task timed out after` near its start.
    const TIMEOUT: Self = Self(4);
    /// Mentions the meter tag.
    const TAG: Self = Self(8);
    /// Starts with `INIT_REPORT `, or is a JSON log line mentioning `platform.initReport`.
    const INIT_REPORT: Self = Self(16);
    /// Starts with `INIT_START `, or is a JSON log line mentioning `platform.initStart`.
    const INIT_START: Self = Self(32);
    /// A JSON log line mentioning `platform.invokeSummary` or `platform.invokeReport` (Web Functions).
    const WEB_SUMMARY: Self = Self(64);

    fn has(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for Look {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// Text lines Lambda writes, by how their raw (quoted) message starts.
const TEXT_STARTS: [(&[u8], Look); 3] =
    [(b"\"REPORT ", Look::TEXT_REPORT), (b"\"INIT_REPORT ", Look::INIT_REPORT), (b"\"INIT_START ", Look::INIT_START)];

/// JSON platform events, by the name after `platform.`.
const PLATFORM_EVENTS: [(&[u8], Look); 5] = [
    (b"report", Look::PLATFORM),
    (b"initReport", Look::INIT_REPORT),
    (b"initStart", Look::INIT_START),
    (b"invokeSummary", Look::WEB_SUMMARY),
    (b"invokeReport", Look::WEB_SUMMARY),
];

/// What the one search of a JSON line looks for: the start of a platform event's type.
pub(super) const PLATFORM_PREFIX: &str = "platform.";

/// Only the start of a message is searched for the timeout marker (`<time> <request id> Task timed out …`).
const TIMEOUT_WINDOW: usize = 160;

impl Pipeline {
    /// What the raw text of a message may hold. Untagged lines that are not reports cost only these searches.
    pub(super) fn look(&self, bytes: &[u8]) -> Look {
        if let Some((_, look)) = TEXT_STARTS.iter().find(|(start, _)| bytes.starts_with(start)) {
            return *look;
        }
        if bytes.starts_with(b"\"{") {
            // One search for `platform.`, then which event it names (`platform.start` and the like are none).
            for at in self.platform.find_iter(bytes) {
                let name = &bytes[at + PLATFORM_PREFIX.len()..];
                if let Some((_, look)) = PLATFORM_EVENTS.iter().find(|(event, _)| name.starts_with(event)) {
                    return *look;
                }
            }
            return if self.meter.mentions(bytes) { Look::TAG } else { Look::NOTHING };
        }
        // The timeout line is a text line (`<time> <request id> Task timed out …`), never a JSON one.
        let mut look = Look::NOTHING;
        if self.timeout.find(&bytes[..bytes.len().min(TIMEOUT_WINDOW)]).is_some() {
            look = look | Look::TIMEOUT;
        }
        if self.meter.mentions(bytes) {
            look = look | Look::TAG;
        }
        look
    }

    /// Reads the lines of a payload that hold something: meter records into `ex`, invocation reports into
    /// `reports` (as values: strings borrowed from the payload, or owned when the line had to be unescaped), and
    /// whatever cannot be read into the quarantine. `false` when the output would pass `MAX_RECORD_OUTPUT_BYTES`
    /// (reading stopped there; a report counts as the size of its document).
    pub(super) fn extract_payload<'p>(
        &self,
        p: &'p Payload<'p>,
        bufs: &mut LineBuffers,
        ex: &mut Extraction,
        reports: &mut Vec<FoundReport<'p>>,
        sources: &mut Vec<EventSource>,
    ) -> bool {
        let LineBuffers { message: msg, inner, timed_out, candidates } = bufs;
        timed_out.clear();
        candidates.clear();
        let (mut report_lines, mut tagged_lines) = (0, 0);
        for (i, event) in p.log_events.iter().enumerate() {
            let look = self.look(event.message.as_bytes());
            if look != Look::NOTHING {
                report_lines += usize::from(look.has(Look::TEXT_REPORT | Look::PLATFORM));
                tagged_lines += usize::from(look.has(Look::TAG));
                candidates.push((i, look));
            }
        }
        if candidates.is_empty() {
            return true;
        }
        let max_output = self.config.max_record_output_bytes;
        let output = |ex: &Extraction, reports: &Vec<FoundReport<'_>>| {
            ex.meters.text_len() + reports.len() * REPORT_DOCUMENT_BYTES
        };
        reports.reserve(report_lines);
        // A record and its derived uniqueId are a little over 200 bytes in the large sample.
        ex.meters.reserve(tagged_lines, tagged_lines * 256);
        let unique_ids = crate::ids::derived_unique_ids(&p.log_group, &p.log_stream);
        fn found<'p>(
            reports: &mut Vec<FoundReport<'p>>,
            report: InvocationReport<'p>,
            id: &'p str,
            at: i64,
            source: u16,
        ) {
            reports.push(FoundReport { report, event_id: id, timestamp: at, source });
        }
        for &(i, look) in candidates.iter() {
            if output(ex, reports) > max_output {
                return false;
            }
            let event = &p.log_events[i];
            let source = event_source(event, sources);
            let ev = EventRef {
                log_group: &p.log_group,
                log_stream: &p.log_stream,
                event_id: event.id(),
                timestamp: event.timestamp,
                unique_ids: Some(&unique_ids),
            };
            // Lambda's own report lines are read from the raw literal; anything unusual is left to the readers of
            // the unescaped line below, which decide it.
            let fast = self.config.fast_readers;
            if look.has(Look::PLATFORM)
                && fast.platform_report
                && let Some(report) = read_raw_platform_report(event.message)
            {
                found(reports, report, event.id(), event.timestamp, source);
                continue;
            }
            if look.has(Look::TEXT_REPORT)
                && fast.text_report
                && let Some(report) = read_raw_text_report(event.message)
            {
                found(reports, with_timeout(report, timed_out), event.id(), event.timestamp, source);
                continue;
            }
            // The usual tagged line is read from the raw literal too.
            if look == Look::TAG && self.meter.extract_raw(event.message, &ev, ex) {
                continue;
            }
            // `message` is always a string literal: the payload scanner accepts nothing else as a message.
            unescape_into(event.message, msg);
            let mut tagged = look.has(Look::TAG);
            if look.has(Look::WEB_SUMMARY) {
                if is_web_summary(msg) {
                    ex.web_summaries += 1;
                    continue;
                }
                tagged = self.meter.mentions(event.message.as_bytes());
            }
            if look.has(Look::INIT_START) {
                let start = if msg.starts_with("INIT_START ") {
                    parse_text_init_start(msg)
                } else {
                    parse_platform_init_start(msg)
                };
                if let Some(start) = start {
                    ex.init_start = start;
                    continue;
                }
                tagged = self.meter.mentions(event.message.as_bytes());
            }
            if look.has(Look::INIT_REPORT) {
                let failure = if msg.starts_with("INIT_REPORT ") {
                    parse_text_init_report(msg, event.timestamp)
                } else {
                    parse_platform_init_report(msg, event.timestamp)
                };
                if let Some(failure) = failure {
                    ex.init_failures.push(InitFailure { source, ..failure });
                    continue;
                }
                // Not an init failure (a success, or an application line quoting the name): perhaps tagged.
                tagged = self.meter.mentions(event.message.as_bytes());
            }
            if look.has(Look::TEXT_REPORT) {
                match parse_text_report(msg) {
                    Ok(report) => found(
                        reports,
                        with_timeout(report, timed_out).into_owned(),
                        event.id(),
                        event.timestamp,
                        source,
                    ),
                    Err(reason) => {
                        ex.quarantine.push(QuarantineEntry::at(QuarantineKind::Report, &ev, reason, msg, None))
                    }
                }
                continue;
            }
            if look.has(Look::PLATFORM) {
                match parse_platform_report(msg) {
                    Ok(Some(report)) => {
                        found(reports, report.into_owned(), event.id(), event.timestamp, source);
                        continue;
                    }
                    Ok(None) => tagged = self.meter.mentions(event.message.as_bytes()),
                    Err(reason) => {
                        ex.quarantine.push(QuarantineEntry::at(QuarantineKind::Report, &ev, reason, msg, None));
                        continue;
                    }
                }
            }
            if look.has(Look::TIMEOUT)
                && let Some(id) = timed_out_request_id(msg)
            {
                timed_out.push(id.to_owned());
            }
            if tagged {
                self.meter.extract_with(msg, &ev, ex, inner);
            }
        }
        output(ex, reports) <= max_output
    }
}

/// A source account and region that an event's system fields (`@aws.account`, `@aws.region`) name; `None` for a
/// field not given, which the payload's own (owner, Kinesis region) stands in for.
pub(crate) type EventSource = (Option<String>, Option<String>);

/// The index of `event`'s source among `sources` (0: the payload's own, for an event without system fields),
/// adding it when new. More sources than an index holds share the payload's own (never in practice: a source is
/// an account and region).
fn event_source(event: &crate::decode::LogEvent<'_>, sources: &mut Vec<EventSource>) -> u16 {
    if event.extracted_fields.is_none() {
        return 0;
    }
    let named = (event.extracted("@aws.account"), event.extracted("@aws.region"));
    if named == (None, None) {
        return 0;
    }
    if sources.is_empty() {
        sources.push((None, None));
    }
    let at = sources.iter().position(|s| *s == named).unwrap_or_else(|| {
        sources.push(named);
        sources.len() - 1
    });
    u16::try_from(at).unwrap_or(0)
}

/// Whether a JSON log line is a Web Functions summary event (its `type`), not an application line quoting one.
fn is_web_summary(line: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Event<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_str::<Event<'_>>(line)
        .is_ok_and(|e| matches!(e.kind.as_deref(), Some("platform.invokeSummary" | "platform.invokeReport")))
}

/// A text report, with the status `timeout` when an older runtime said so in a `Task timed out` line before it.
fn with_timeout<'a>(mut report: InvocationReport<'a>, timed_out: &[String]) -> InvocationReport<'a> {
    if report.status == ReportStatus::Success && timed_out.iter().any(|t| *t == report.request_id) {
        report.status = ReportStatus::Timeout;
    }
    report
}
