//! JSON log format `platform.report` events:
//! `{"time":"…","type":"platform.report","record":{"requestId":"…","metrics":{…},"tracing":{…},"status":"success"}}`
//!
//! Every metric is optional (some modes report only `durationMs`); other event types are not reports.

use super::report::{
    FIGURES, InvocationReport, LABELS, ReportFormat, ReportStatus, Value, figure_of_json, label_of_json,
};
use serde::Deserialize;
use std::borrow::Cow;

/// The event type that carries an invocation report.
pub const PLATFORM_REPORT: &str = "platform.report";

/// Serde always copies an `Option<Cow<str>>`; through this, a string without escapes borrows from the line.
fn borrowed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text<'de>>::deserialize(d)?.map(|t| t.0))
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "borrowed")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    record: Option<&'a serde_json::value::RawValue>,
}

/// The same event read in one pass, `record` included: the usual case. When it does not parse, [`Event`] and
/// then [`Record`] tell "not a report" from "a malformed report".
#[derive(Deserialize)]
struct ReportEvent<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "borrowed")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    record: Option<Record<'a>>,
}

/// The `record` of a `platform.report` event (also filled by [`super::report_raw`]). A key given twice is refused
/// (which one counts would be ambiguous); keys the reader does not know are skipped.
#[derive(Default)]
pub(super) struct Record<'a> {
    pub(super) request_id: Option<Cow<'a, str>>,
    pub(super) metrics: Metrics,
    pub(super) tracing: Option<Tracing<'a>>,
    pub(super) status: Option<Cow<'a, str>>,
    pub(super) error_type: Option<Cow<'a, str>>,
    /// By their index in [`LABELS`].
    pub(super) labels: [Option<Cow<'a, str>>; LABELS.len()],
}

/// A key of `record`, classified without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RecordKey {
    RequestId,
    Metrics,
    Tracing,
    Status,
    ErrorType,
    Label(usize),
    Other,
}

impl RecordKey {
    const KNOWN: [(&'static str, Self); 5] = [
        ("requestId", Self::RequestId),
        ("metrics", Self::Metrics),
        ("tracing", Self::Tracing),
        ("status", Self::Status),
        ("errorType", Self::ErrorType),
    ];

    fn of(key: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, field)| *field)
            .or_else(|| label_of_json(key).map(Self::Label))
            .unwrap_or(Self::Other)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Label(i) => LABELS[i].json,
            known => Self::KNOWN.iter().find(|(_, f)| *f == known).map_or("", |(k, _)| k),
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for RecordKey {
    type Value = RecordKey;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<RecordKey, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for RecordKey {
    type Value = RecordKey;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<RecordKey, E> {
        Ok(RecordKey::of(key))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Record<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Fields<'a> {
            type Value = Record<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a platform.report record")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Record<'a>, A::Error> {
                #[derive(Deserialize)]
                struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
                let mut r = Record::default();
                let mut seen = Vec::new();
                while let Some(key) = map.next_key_seed(RecordKey::Other)? {
                    if key != RecordKey::Other {
                        if seen.contains(&key) {
                            let name = key.name();
                            return Err(serde::de::Error::custom(format_args!("duplicate field `{name}`")));
                        }
                        seen.push(key);
                    }
                    let text = |t: Option<Text<'de>>| t.map(|t| t.0);
                    match key {
                        RecordKey::RequestId => r.request_id = text(map.next_value()?),
                        RecordKey::Metrics => r.metrics = map.next_value::<Option<Metrics>>()?.unwrap_or_default(),
                        RecordKey::Tracing => r.tracing = map.next_value()?,
                        RecordKey::Status => r.status = text(map.next_value()?),
                        RecordKey::ErrorType => r.error_type = text(map.next_value()?),
                        RecordKey::Label(i) => r.labels[i] = text(map.next_value()?),
                        RecordKey::Other => map.next_value::<serde::de::IgnoredAny>().map(drop)?,
                    }
                }
                Ok(r)
            }
        }
        d.deserialize_map(Fields(std::marker::PhantomData))
    }
}

/// `record.metrics`, every one optional: the figures of [`FIGURES`] by their JSON key (others are skipped; a
/// figure given twice is refused as ambiguous).
#[derive(Default)]
pub(super) struct Metrics(pub(super) [Option<f64>; FIGURES.len()]);

impl<'de> Deserialize<'de> for Metrics {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Figures;
        impl<'de> serde::de::Visitor<'de> for Figures {
            type Value = Metrics;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of figures")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Metrics, A::Error> {
                let mut m = Metrics::default();
                let mut seen = [false; FIGURES.len()];
                while let Some(figure) = map.next_key_seed(FigureKey)? {
                    match figure {
                        Some(i) if std::mem::replace(&mut seen[i], true) => {
                            let key = FIGURES[i].json;
                            return Err(serde::de::Error::custom(format_args!("duplicate field `{key}`")));
                        }
                        Some(i) => m.0[i] = map.next_value::<Option<f64>>()?,
                        None => map.next_value::<serde::de::IgnoredAny>().map(drop)?,
                    }
                }
                Ok(m)
            }
        }
        d.deserialize_map(Figures)
    }
}

/// A key of `record.metrics`, read as the index of its figure (no allocation, escaped or not).
struct FigureKey;

impl<'de> serde::de::DeserializeSeed<'de> for FigureKey {
    type Value = Option<usize>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for FigureKey {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(figure_of_json(key))
    }
}

/// `record.tracing`: the X-Ray span and the trace header.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Tracing<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub(super) span_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub(super) value: Option<Cow<'a, str>>,
}

/// Parses a JSON log line. `Ok(None)` when it is not a `platform.report` event (another platform event, or an
/// application line that merely mentions the word); `Err` with a reason when it is one but cannot be read.
pub fn parse_platform_report(msg: &str) -> Result<Option<InvocationReport<'_>>, String> {
    let msg = msg.trim();
    let record = match serde_json::from_str::<ReportEvent<'_>>(msg) {
        Ok(event) if event.kind.as_deref() != Some(PLATFORM_REPORT) => return Ok(None),
        Ok(event) => event.record.ok_or("platform.report has no record")?,
        Err(_) => {
            let event = match serde_json::from_str::<Event<'_>>(msg) {
                Ok(event) => event,
                // A key given twice (`type`, `record`) in an event that names itself a report: which one counts
                // is ambiguous, so it is refused, never passed over as "not a report".
                Err(e) if names_a_report(msg) => return Err(format!("platform.report event is malformed: {e}")),
                Err(_) => return Ok(None),
            };
            if event.kind.as_deref() != Some(PLATFORM_REPORT) {
                return Ok(None);
            }
            let raw = event.record.ok_or("platform.report has no record")?;
            serde_json::from_str(raw.get()).map_err(|e| format!("platform.report record is malformed: {e}"))?
        }
    };
    report_of(record).map(Some)
}

/// Whether a JSON object that serde refused still has a `type` member that says `platform.report`.
fn names_a_report(msg: &str) -> bool {
    let mut report = false;
    let _ = crate::decode::json_object_with(msg, false, |key, value| {
        report |= key == "type" && value == "\"platform.report\"";
    });
    report
}

/// The report a `record` describes, or why it breaks the rules.
pub(super) fn report_of(record: Record<'_>) -> Result<InvocationReport<'_>, String> {
    let request_id = record.request_id.filter(|s| !s.is_empty()).ok_or("platform.report has no requestId")?;
    let mut r = InvocationReport::new(request_id, ReportFormat::Json);
    for ((f, slot), value) in FIGURES.iter().zip(&mut r.figures).zip(record.metrics.0) {
        *slot = if f.whole {
            whole(f.json, value)?.map(Value::Whole)
        } else {
            non_negative(f.json, value)?.map(Value::Real)
        };
    }
    if let Some(s) = record.status {
        r.status =
            ReportStatus::parse(&s).ok_or_else(|| format!("platform.report status {s:?} is not a known status"))?;
    }
    r.check()?;
    r.error_type = record.error_type;
    r.labels = record.labels;
    if let Some(t) = record.tracing {
        r.span_id = t.span_id;
        match t.value {
            Some(Cow::Borrowed(v)) => (r.trace_id, r.sampled) = trace_header(v, Cow::Borrowed),
            Some(Cow::Owned(v)) => (r.trace_id, r.sampled) = trace_header(&v, |root| Cow::Owned(root.to_owned())),
            None => {}
        }
    }
    Ok(r)
}

/// The root trace id and the sampling decision of an `X-Amzn-Trace-Id` value (`Root=…;Parent=…;Sampled=1`).
fn trace_header<'v, 'a>(
    value: &'v str,
    keep: impl Fn(&'v str) -> Cow<'a, str>,
) -> (Option<Cow<'a, str>>, Option<bool>) {
    let (mut root, mut sampled) = (None, None);
    for part in value.split(';') {
        match part.split_once('=') {
            Some(("Root", r)) => root = Some(keep(r)),
            Some(("Sampled", s)) => sampled = Some(s == "1"),
            _ => {}
        }
    }
    (root, sampled)
}

fn non_negative(name: &str, v: Option<f64>) -> Result<Option<f64>, String> {
    match v {
        Some(x) if !(x.is_finite() && x >= 0.0) => {
            Err(format!("platform.report {name} {x} is not a non-negative number"))
        }
        other => Ok(other),
    }
}

fn whole(name: &str, v: Option<f64>) -> Result<Option<u64>, String> {
    match non_negative(name, v)? {
        Some(x) if x.fract() == 0.0 && x <= u64::MAX as f64 => Ok(Some(x as u64)),
        Some(x) => Err(format!("platform.report {name} {x} is not a whole number")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_platform_reports() {
        let full = r#"{"time":"2026-11-20T10:00:00.000Z","type":"platform.report","record":{"requestId":"r-1",
            "metrics":{"durationMs":2599.4,"billedDurationMs":2600,"memorySizeMB":128,"maxMemoryUsedMB":94,"initDurationMs":549.04},
            "tracing":{"spanId":"sp","type":"X-Amzn-Trace-Id","value":"Root=1-abc-def;Parent=p;Sampled=1"},"status":"success"}}"#;
        let r = parse_platform_report(full).unwrap().unwrap();
        assert_eq!(r.request_id, "r-1");
        assert_eq!(
            (r.duration_ms(), r.billed_duration_ms(), r.memory_size_mb()),
            (Some(2599.4), Some(2600), Some(128))
        );
        assert_eq!((r.max_memory_used_mb(), r.init_duration_ms()), (Some(94), Some(549.04)));
        assert_eq!(
            (r.trace_id.as_deref(), r.span_id.as_deref(), r.sampled),
            (Some("1-abc-def"), Some("sp"), Some(true))
        );
        assert!(r.cold_start());

        let short = r#"{"time":"t","type":"platform.report","record":{"requestId":"r-2","metrics":{"durationMs":3.5},"spans":[],"status":"timeout","errorType":"Sandbox.Timedout"}}"#;
        let r = parse_platform_report(short).unwrap().unwrap();
        assert_eq!((r.duration_ms(), r.billed_duration_ms()), (Some(3.5), None));
        assert_eq!(r.status, ReportStatus::Timeout);
        assert_eq!(r.error_type.as_deref(), Some("Sandbox.Timedout"));

        // Escaped strings are read as well as plain ones (they are copied rather than borrowed).
        let escaped = r#"{"type":"platform.report","record":{"requestId":"r\u002d3","metrics":{"durationMs":1},
            "tracing":{"spanId":"s\"p","value":"Root=1-abc\u002ddef;Sampled=0"},"errorType":"A\/B"}}"#;
        let r = parse_platform_report(escaped).unwrap().unwrap();
        assert_eq!(r.request_id, "r-3");
        assert_eq!(
            (r.trace_id.as_deref(), r.span_id.as_deref(), r.sampled, r.error_type.as_deref()),
            (Some("1-abc-def"), Some("s\"p"), Some(false), Some("A/B"))
        );
    }

    #[test]
    fn valid_figures_are_read_correctly_rounded() {
        // serde_json's default float parser reads this one unit in the last place low; documents would show it.
        let line =
            r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":130.65331632653061}}}"#;
        let r = parse_platform_report(line).unwrap().unwrap();
        assert_eq!(r.duration_ms(), Some(130.653_316_326_530_61));
        assert_eq!(r.duration_ms().map(|d| d.to_string()).as_deref(), Some("130.65331632653061"));
    }

    #[test]
    fn valid_other_events_are_not_reports() {
        for msg in [
            r#"{"time":"t","type":"platform.initReport","record":{"initializationType":"on-demand"}}"#,
            r#"{"time":"t","type":"platform.start","record":{"requestId":"r"}}"#,
            r#"{"level":"INFO","message":"we parse platform.report events"}"#,
            "plain text about platform.report",
        ] {
            assert_eq!(parse_platform_report(msg).unwrap(), None, "{msg}");
        }
    }

    #[test]
    fn invalid_platform_reports_have_reasons() {
        let table = [
            (r#"{"type":"platform.report"}"#, "no record"),
            (r#"{"type":"platform.report","record":{"metrics":{}}}"#, "no requestId"),
            (
                r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"billedDurationMs":1.5}}}"#,
                "not a whole number",
            ),
            (r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":-1}}}"#, "non-negative"),
            (r#"{"type":"platform.report","record":{"requestId":"r","status":"weird"}}"#, "not a known status"),
            (r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":"abc"}}}"#, "malformed"),
            // A key given twice is ambiguous wherever it is.
            (
                r#"{"type":"platform.report","type":"platform.report","record":{"requestId":"r"}}"#,
                "duplicate field `type`",
            ),
            (r#"{"type":"platform.start","type":"platform.report","record":{"requestId":"r"}}"#, "duplicate field"),
            (
                r#"{"type":"platform.report","record":{"requestId":"r"},"record":{"requestId":"s"}}"#,
                "duplicate field `record`",
            ),
            (
                r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":1,"durationMs":2}}}"#,
                "duplicate field",
            ),
            // Absurd figures (one rule for both formats: InvocationReport::check).
            (
                r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":1,"memorySizeMB":9223372036854775807}}}"#,
                "memorySizeMB 9223372036854775808 MB is more than 1 TiB", // read as a double
            ),
            (
                r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":1,"memorySizeMB":128,"maxMemoryUsedMB":1024}}}"#,
                "maxMemoryUsedMB 1024 MB is more than memorySizeMB 128 MB",
            ),
            (
                r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":1e15}}}"#,
                "more than a day",
            ),
        ];
        for (msg, want) in table {
            let e = parse_platform_report(msg).unwrap_err();
            assert!(e.contains(want), "{msg}: {e}");
            let literal = serde_json::to_string(msg).unwrap();
            assert_eq!(super::super::read_raw_platform_report(&literal), None, "the raw reader leaves {msg} to serde");
        }
    }
}
