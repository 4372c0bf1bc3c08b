//! One Amberflo meter record: validation against the ingest rules, and compact encoding.
//!
//! Rules: `customerId` and `meterApiName` non-empty strings; `meterValue` a number; `meterTimeInMillis` positive
//! integer epoch milliseconds; `dimensions` a map of strings; `uniqueId` an optional non-empty string. Other fields
//! pass through untouched.

use crate::decode::{ScanError, json_end, json_object_with};

/// Earliest plausible `meterTimeInMillis` (1973-03-03): anything smaller is almost surely seconds.
const MIN_PLAUSIBLE_MILLIS: i64 = 100_000_000_000;
/// Latest plausible `meterTimeInMillis` (year 5138): anything larger is almost surely microseconds.
const MAX_PLAUSIBLE_MILLIS: i64 = 100_000_000_000_000;

/// The raw values of the fields the rules are about.
#[derive(Default)]
struct Fields<'a> {
    customer_id: Option<&'a str>,
    meter_api_name: Option<&'a str>,
    meter_value: Option<&'a str>,
    meter_time: Option<&'a str>,
    unique_id: Option<&'a str>,
    dimensions: Option<&'a str>,
}

impl<'a> Fields<'a> {
    /// Reads the object at the start of `text` strictly, in one pass: the offset just after it, and its fields
    /// (a field given twice is ambiguous, so refused).
    fn read(text: &'a str) -> Result<(usize, Result<Self, RecordError>), ScanError> {
        let mut f = Self::default();
        let mut duplicate = None;
        let end = json_object_with(text, true, |key, value| {
            let slot = match &*key {
                "customerId" => &mut f.customer_id,
                "meterApiName" => &mut f.meter_api_name,
                "meterValue" => &mut f.meter_value,
                "meterTimeInMillis" => &mut f.meter_time,
                "uniqueId" => &mut f.unique_id,
                "dimensions" => &mut f.dimensions,
                _ => return,
            };
            if slot.replace(value).is_some() && duplicate.is_none() {
                duplicate = Some(key);
            }
        })?;
        match duplicate {
            Some(key) => {
                let field = RecordField::named(&key);
                Ok((end, err(field, Problem::Ambiguous, format!("duplicate field `{key}`: the record is ambiguous"))))
            }
            None => Ok((end, Ok(f))),
        }
    }
}

/// What validation learned about a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidRecord {
    /// `meterTimeInMillis`.
    pub time_millis: i64,
    /// Whether the application supplied `uniqueId`.
    pub has_unique_id: bool,
}

/// The part of a record a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordField {
    /// The record as a whole.
    Record,
    /// `customerId`.
    CustomerId,
    /// `meterApiName`.
    MeterApiName,
    /// `meterValue`.
    MeterValue,
    /// `meterTimeInMillis`.
    MeterTimeInMillis,
    /// `uniqueId`.
    UniqueId,
    /// `dimensions`.
    Dimensions,
}

impl RecordField {
    /// The field of that name, if the rules are about it.
    fn named(name: &str) -> Self {
        match name {
            "customerId" => Self::CustomerId,
            "meterApiName" => Self::MeterApiName,
            "meterValue" => Self::MeterValue,
            "meterTimeInMillis" => Self::MeterTimeInMillis,
            "uniqueId" => Self::UniqueId,
            "dimensions" => Self::Dimensions,
            _ => Self::Record,
        }
    }
}

/// What kind of rule a record breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Not well-formed JSON, or not an object.
    NotJson,
    /// A field given twice (or a dimension): which value counts is ambiguous.
    Ambiguous,
    /// A required field is absent.
    Missing,
    /// A value of the wrong JSON type, or an empty string.
    WrongType,
    /// A customer or meter name that is only whitespace or holds a control character.
    NotAName,
    /// A number that consumers would not read as written (overflow, beyond 2^53, underflow, a fraction).
    Inexact,
    /// A time that is not plausible epoch milliseconds (seconds, microseconds, not positive).
    Implausible,
}

/// Why a record breaks the rules: which field, what kind of rule, and a message that says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RecordError {
    /// The field the rule is about.
    pub field: RecordField,
    /// The kind of rule.
    pub problem: Problem,
    /// The reason, as the quarantine entry gives it.
    pub message: String,
}

fn err<T>(field: RecordField, problem: Problem, message: impl Into<String>) -> Result<T, RecordError> {
    Err(RecordError { field, problem, message: message.into() })
}

fn json_type(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn non_empty_string(field: &str, raw: Option<&str>) -> Result<(), RecordError> {
    let which = RecordField::named(field);
    match raw {
        None => err(which, Problem::Missing, format!("{field} is missing")),
        Some("\"\"") => err(which, Problem::WrongType, format!("{field} is an empty string")),
        Some(r) if r.starts_with('"') => Ok(()),
        Some(r) => err(which, Problem::WrongType, format!("{field} must be a string, got {}", json_type(r))),
    }
}

/// Validates one record (a JSON object's raw text).
pub fn validate_record(raw: &str) -> Result<ValidRecord, RecordError> {
    if !raw.starts_with('{') {
        let got = json_type(raw);
        return err(RecordField::Record, Problem::NotJson, format!("a meter record must be a JSON object, got {got}"));
    }
    let not_json = |e: ScanError| RecordError {
        field: RecordField::Record,
        problem: Problem::NotJson,
        message: format!("record is not valid JSON: {e}"),
    };
    let (end, fields) = Fields::read(raw).map_err(not_json)?;
    json_end(raw, end).map_err(not_json)?;
    check(fields?)
}

/// Reads the record that starts `text` (a JSON object, read strictly) in one pass: the offset just after it, and
/// whether it follows the rules. `Err` when it is not well-formed JSON, so its end is unknown.
pub fn read_record(text: &str) -> Result<(usize, Result<ValidRecord, RecordError>), ScanError> {
    let (end, fields) = Fields::read(text)?;
    Ok((end, fields.and_then(check)))
}

/// `customerId` and `meterApiName` name a customer and a meter in the billing platform, so each must read as a
/// name: at least one character that is not whitespace, and no control character (U+0000–U+001F, U+007F–U+009F,
/// escaped or not). Surrounding spaces are kept as they are (trimming would name another customer). `raw` is the
/// JSON string literal, quotes included.
fn name_string(field: &str, raw: Option<&str>) -> Result<(), RecordError> {
    non_empty_string(field, raw)?;
    let mut text = String::new();
    // `raw` was read strictly, so it unescapes.
    if raw.is_some_and(|r| crate::decode::unescape_into(r, &mut text)) {
        name_problem(field, &text).map_or(Ok(()), |m| err(RecordField::named(field), Problem::NotAName, m))
    } else {
        err(RecordField::named(field), Problem::NotJson, format!("{field} is not a valid JSON string"))
    }
}

/// What makes `text` (unescaped) unfit as a customer or meter name, if anything.
pub(super) fn name_problem(field: &str, text: &str) -> Option<String> {
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Some(format!("{field} holds a control character (U+{:04X}); a name has none", u32::from(c)));
    }
    text.chars().all(char::is_whitespace).then(|| format!("{field} is only whitespace"))
}

fn check(f: Fields<'_>) -> Result<ValidRecord, RecordError> {
    name_string("customerId", f.customer_id)?;
    name_string("meterApiName", f.meter_api_name)?;
    match f.meter_value {
        None => return err(RecordField::MeterValue, Problem::Missing, "meterValue is missing"),
        Some(r) if json_type(r) == "a number" => check_meter_value(r)?,
        Some(r) => {
            let got = json_type(r);
            return err(
                RecordField::MeterValue,
                Problem::WrongType,
                format!("meterValue must be a number, got {got} ({r})"),
            );
        }
    }
    let time_millis = match f.meter_time {
        None => return err(RecordField::MeterTimeInMillis, Problem::Missing, "meterTimeInMillis is missing"),
        Some(r) => parse_millis(r)?,
    };
    if let Some(u) = f.unique_id {
        non_empty_string("uniqueId", Some(u))?;
    }
    if let Some(d) = f.dimensions {
        check_dimensions(d)?;
    }
    Ok(ValidRecord { time_millis, has_unique_id: f.unique_id.is_some() })
}

fn inexact<T>(message: String) -> Result<T, RecordError> {
    err(RecordField::MeterValue, Problem::Inexact, message)
}

fn implausible<T>(message: String) -> Result<T, RecordError> {
    err(RecordField::MeterTimeInMillis, Problem::Implausible, message)
}

/// Largest magnitude up to which a double holds every integer exactly: 2^53.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// `meterValue` must read as the same number in every consumer (JavaScript and Python read JSON numbers as doubles):
/// finite, at most 2^53 in magnitude, and not a non-zero value that underflows to 0.
pub(super) fn check_meter_value(raw: &str) -> Result<(), RecordError> {
    let v = raw.parse::<f64>().unwrap_or(f64::INFINITY);
    // An integer just past 2^53 rounds to it as a double: integers are compared exactly.
    let integer = !raw.contains(['.', 'e', 'E']);
    let too_large = integer && raw.parse::<i128>().map_or(true, |i| i.unsigned_abs() > 1 << 53);
    if !v.is_finite() {
        return inexact(format!("meterValue {raw} overflows a double: JavaScript and Python read it as Infinity"));
    }
    if too_large || v.abs() > MAX_EXACT {
        return inexact(format!(
            "meterValue {raw} is beyond 2^53 (9007199254740992): a double does not hold it exactly, so consumers \
             bill a different number"
        ));
    }
    let mantissa = raw.split(['e', 'E']).next().unwrap_or(raw);
    if v == 0.0 && mantissa.bytes().any(|b| matches!(b, b'1'..=b'9')) {
        return inexact(format!("meterValue {raw} underflows a double to 0"));
    }
    Ok(())
}

/// `meterTimeInMillis` (its raw JSON text) as whole, plausible epoch milliseconds.
pub(super) fn parse_millis(raw: &str) -> Result<i64, RecordError> {
    if json_type(raw) != "a number" {
        return err(
            RecordField::MeterTimeInMillis,
            Problem::WrongType,
            format!("meterTimeInMillis must be epoch milliseconds as a number, got {} ({raw})", json_type(raw)),
        );
    }
    let Ok(ms) = raw.parse::<i64>() else {
        return err(
            RecordField::MeterTimeInMillis,
            Problem::Inexact,
            format!(
                "meterTimeInMillis must be a whole number of epoch milliseconds, got {raw} (round it: Math.floor(x) / int(x))"
            ),
        );
    };
    if ms <= 0 {
        return implausible(format!("meterTimeInMillis must be positive, got {ms}"));
    }
    if ms < MIN_PLAUSIBLE_MILLIS {
        return implausible(format!("meterTimeInMillis {ms} is before 1973: it looks like seconds, not milliseconds"));
    }
    if ms > MAX_PLAUSIBLE_MILLIS {
        return implausible(format!(
            "meterTimeInMillis {ms} is after year 5000: it looks like microseconds, not milliseconds"
        ));
    }
    Ok(ms)
}

fn check_dimensions(raw: &str) -> Result<(), RecordError> {
    if !raw.starts_with('{') {
        let got = json_type(raw);
        return err(
            RecordField::Dimensions,
            Problem::WrongType,
            format!("dimensions must be an object of strings, got {got}"),
        );
    }
    // The record as a whole was already read strictly.
    let (mut first_bad, mut repeated) = (None, None);
    let mut keys = std::collections::HashSet::new();
    json_object_with(raw, false, |key, value| {
        if first_bad.is_none() && !value.starts_with('"') {
            first_bad = Some((key.clone(), value));
        }
        if !keys.insert(key.clone()) && repeated.is_none() {
            repeated = Some(key);
        }
    })
    .map_err(|e| RecordError {
        field: RecordField::Dimensions,
        problem: Problem::NotJson,
        message: format!("dimensions is not a valid object: {e}"),
    })?;
    if let Some(k) = repeated {
        return err(
            RecordField::Dimensions,
            Problem::Ambiguous,
            format!("dimensions.{k} is given twice: which value is priced is ambiguous"),
        );
    }
    match first_bad {
        Some((k, v)) => {
            let got = json_type(v);
            err(
                RecordField::Dimensions,
                Problem::WrongType,
                format!("dimensions.{k} must be a string, got {got} ({v})"),
            )
        }
        None => Ok(()),
    }
}

/// Writes `raw` (valid JSON) without insignificant whitespace and, when `unique_id` is given, with
/// `"uniqueId":"<unique_id>"` appended to the top-level object. Strings, numbers and field order are kept exactly.
pub fn minify_with_unique_id(raw: &str, unique_id: Option<&str>) -> String {
    let mut out = String::with_capacity(raw.len() + unique_id.map_or(0, |u| u.len() + 14));
    minify_with_unique_id_into(raw, unique_id, &mut out);
    out
}

/// [`minify_with_unique_id`], appending to `out` (which may already hold other records).
pub fn minify_with_unique_id_into(raw: &str, unique_id: Option<&str>, out: &mut String) {
    let start = out.len();
    out.reserve(raw.len() + unique_id.map_or(0, |u| u.len() + 14));
    let bytes = raw.as_bytes();
    // Compact records (JSON.stringify's) have no whitespace at all: one vectorised pass says so.
    let spaced = bytes.iter().fold(false, |any, &b| any | (b == b' ') | (b == b'\t') | (b == b'\n') | (b == b'\r'));
    let mut i = if spaced { 0 } else { bytes.len() };
    let mut run = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Skip to the closing quote, honouring escapes.
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.push_str(&raw[run..i]);
                while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
                run = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&raw[run.min(raw.len())..]);
    if let Some(u) = unique_id
        && out.len() > start
    {
        append_unique_id(out, u);
    }
}

/// Adds `"uniqueId":"<unique_id>"` to the JSON object that ends `out`.
pub(super) fn append_unique_id(out: &mut String, unique_id: &str) {
    if !out.ends_with('}') {
        return;
    }
    out.pop();
    if !out.ends_with('{') {
        out.push(',');
    }
    out.push_str("\"uniqueId\":\"");
    out.push_str(unique_id);
    out.push_str("\"}");
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str =
        r#"{"customerId":"c-1","meterApiName":"api-calls","meterValue":1,"meterTimeInMillis":1763600000000}"#;

    #[test]
    fn valid_records() {
        let table = [
            (OK, false),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":-2.5e3,"meterTimeInMillis":1763600000000,"uniqueId":"u-1","dimensions":{"region":"eu","tier":"gold"},"extra":[1,{"x":null}]}"#,
                true,
            ),
            (
                r#"{ "customerId" : "caf\u00e9", "meterApiName": "m", "meterValue": 0, "meterTimeInMillis": 1763600000000, "dimensions": {} }"#,
                false,
            ),
        ];
        for (raw, has_unique) in table {
            let v = validate_record(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(v, ValidRecord { time_millis: 1_763_600_000_000, has_unique_id: has_unique });
        }
    }

    #[test]
    fn invalid_records_name_their_field_and_kind_of_problem() {
        use Problem::*;
        use RecordField::*;
        let table = [
            ("[1]", Record, NotJson),
            (r#"{"customerId":"c","#, Record, NotJson),
            (
                r#"{"customerId":"c","customerId":"d","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                CustomerId,
                Ambiguous,
            ),
            (r#"{"meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#, CustomerId, Missing),
            (
                r#"{"customerId":" ","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                CustomerId,
                NotAName,
            ),
            (
                r#"{"customerId":"c","meterApiName":"a\u0007","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                MeterApiName,
                NotAName,
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":"1","meterTimeInMillis":1763600000000}"#,
                MeterValue,
                WrongType,
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":9007199254740993,"meterTimeInMillis":1763600000000}"#,
                MeterValue,
                Inexact,
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000}"#,
                MeterTimeInMillis,
                Implausible,
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000.5}"#,
                MeterTimeInMillis,
                Inexact,
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,"uniqueId":""}"#,
                UniqueId,
                WrongType,
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,"dimensions":{"a":1}}"#,
                Dimensions,
                WrongType,
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,"dimensions":{"a":"x","a":"y"}}"#,
                Dimensions,
                Ambiguous,
            ),
        ];
        for (raw, field, problem) in table {
            let e = validate_record(raw).unwrap_err();
            assert_eq!((e.field, e.problem), (field, problem), "{raw}: {e}");
        }
    }

    #[test]
    fn invalid_records_say_what_to_fix() {
        let table = [
            ("[1]", "must be a JSON object"),
            (r#"{"meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#, "customerId is missing"),
            (
                r#"{"customerId":"","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                "customerId is an empty string",
            ),
            (
                r#"{"customerId":7,"meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                "customerId must be a string, got a number",
            ),
            (r#"{"customerId":"c","meterValue":1,"meterTimeInMillis":1763600000000}"#, "meterApiName is missing"),
            (r#"{"customerId":"c","meterApiName":"m","meterTimeInMillis":1763600000000}"#, "meterValue is missing"),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":"5","meterTimeInMillis":1763600000000}"#,
                "meterValue must be a number, got a string",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1e400,"meterTimeInMillis":1763600000000}"#,
                "overflows a double",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":123456789012345678901234567890,"meterTimeInMillis":1763600000000}"#,
                "beyond 2^53",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":9007199254740993,"meterTimeInMillis":1763600000000}"#,
                "beyond 2^53",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":-1e-400,"meterTimeInMillis":1763600000000}"#,
                "underflows",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,"dimensions":{"plan":"free","plan":"pro"}}"#,
                "dimensions.plan is given twice",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,"dimensions":{"plan":"free","pl\u0061n":"pro"}}"#,
                "dimensions.plan is given twice",
            ),
            (r#"{"customerId":"c","meterApiName":"m","meterValue":1}"#, "meterTimeInMillis is missing"),
            (
                r#"{"customerId":"c-\ud800","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                "lone UTF-16 surrogate",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,"dimensions":{"plan":"\udc00"}}"#,
                "lone UTF-16 surrogate",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,"note":"\ud83d!"}"#,
                "lone UTF-16 surrogate",
            ),
            (
                r#"{"customerId":"   ","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                "customerId is only whitespace",
            ),
            (
                r#"{"customerId":"c","meterApiName":"\u3000","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                "meterApiName is only whitespace",
            ),
            (
                r#"{"customerId":"acme\n","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                "customerId holds a control character (U+000A)",
            ),
            (
                r#"{"customerId":"a\u0000b","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                "customerId holds a control character (U+0000)",
            ),
            (
                "{\"customerId\":\"del\u{7f}\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1763600000000}",
                "customerId holds a control character (U+007F)",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000}"#,
                "looks like seconds",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000000}"#,
                "looks like microseconds",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000.5}"#,
                "whole number",
            ),
            (r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":-5}"#, "must be positive"),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":"1763600000000"}"#,
                "got a string",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,"uniqueId":""}"#,
                "uniqueId is an empty string",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,"uniqueId":5}"#,
                "uniqueId must be a string",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,"dimensions":{"n":3}}"#,
                "dimensions.n must be a string, got a number",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,"dimensions":["a"]}"#,
                "dimensions must be an object",
            ),
            (
                r#"{"customerId":"c","customerId":"d","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                "duplicate field",
            ),
            (
                r#"{"customerId":"c\x","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000}"#,
                "invalid escape",
            ),
            (
                "{\"customerId\":\"tab\there\",\"meterApiName\":\"m\",\"meterValue\":1,\"meterTimeInMillis\":1763600000000}",
                "control character",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":01,"meterTimeInMillis":1763600000000}"#,
                "not valid JSON",
            ),
            (
                r#"{"customerId":"c","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000,}"#,
                "not valid JSON",
            ),
        ];
        for (raw, want) in table {
            let e = validate_record(raw).unwrap_err().to_string();
            assert!(e.contains(want), "{raw}: {e}");
        }
    }

    #[test]
    fn valid_read_record_finds_the_end_and_the_verdict_in_one_pass() {
        let text = format!("{OK} trailing text");
        let (end, verdict) = read_record(&text).unwrap();
        assert_eq!(&text[..end], OK);
        assert_eq!(verdict.unwrap().time_millis, 1_763_600_000_000);
        let bad = r#"{"customerId":"","meterApiName":"m","meterValue":1,"meterTimeInMillis":1763600000000} x"#;
        let (end, verdict) = read_record(bad).unwrap();
        assert_eq!(&bad[end..], " x");
        assert!(verdict.unwrap_err().message.contains("empty string"));
        assert!(read_record(r#"{"customerId":"c\q"}"#).is_err(), "invalid escape: not JSON, end unknown");
        assert!(read_record(r#"{"customerId":"c""#).is_err());
    }

    #[test]
    fn minify_keeps_values_and_adds_unique_id() {
        let pretty =
            "{\r  \"customerId\": \"a b\\\" c\",\n  \"meterValue\": 1.50,\n  \"dimensions\": { \"k\": \"v \\\\\" }\n}";
        assert_eq!(
            minify_with_unique_id(pretty, None),
            r#"{"customerId":"a b\" c","meterValue":1.50,"dimensions":{"k":"v \\"}}"#
        );
        assert_eq!(minify_with_unique_id(r#"{"a": 1 }"#, Some("u")), r#"{"a":1,"uniqueId":"u"}"#);
        assert_eq!(minify_with_unique_id(r#"{"a":[1,{}]}"#, Some("u")), r#"{"a":[1,{}],"uniqueId":"u"}"#);
        assert_eq!(minify_with_unique_id("{}", Some("u")), r#"{"uniqueId":"u"}"#);
        assert_eq!(minify_with_unique_id(r#"{"a":"x"}"#, None), r#"{"a":"x"}"#);
        // Appending to a buffer that already holds records touches only the new one.
        let mut shared = String::from(r#"{"a":1}"#);
        minify_with_unique_id_into("{ }", Some("u"), &mut shared);
        minify_with_unique_id_into(r#"{"b": 2}"#, Some("v"), &mut shared);
        assert_eq!(shared, r#"{"a":1}{"uniqueId":"u"}{"b":2,"uniqueId":"v"}"#);
        let min = minify_with_unique_id(pretty, Some("id"));
        let v: serde_json::Value = serde_json::from_str(&min).unwrap();
        assert_eq!(v["uniqueId"], "id");
        assert_eq!(v["customerId"], "a b\" c");
    }

    /// The ingest rules written again, independently, over serde_json: the oracle for [`validate_record`]. A false
    /// quarantine is unbilled revenue, a false accept a misbilled record.
    mod reference {
        use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
        use serde_json::value::RawValue;

        /// An object's members in order, duplicates kept, values raw.
        struct Members(Vec<(String, Box<RawValue>)>);

        impl<'de> Deserialize<'de> for Members {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Members;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                        let mut members = Vec::new();
                        while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                            members.push(entry);
                        }
                        Ok(Members(members))
                    }
                }
                d.deserialize_map(V)
            }
        }

        fn members(raw: &str) -> Option<Vec<(String, Box<RawValue>)>> {
            let m: Members = serde_json::from_str(raw).ok()?;
            // Each key once.
            let mut keys: Vec<&str> = m.0.iter().map(|(k, _)| k.as_str()).collect();
            keys.sort_unstable();
            keys.windows(2).all(|w| w[0] != w[1]).then_some(m.0)
        }

        fn name(raw: &str) -> bool {
            serde_json::from_str::<String>(raw).is_ok_and(|s| !s.trim().is_empty() && !s.chars().any(char::is_control))
        }

        fn meter_value(raw: &str) -> bool {
            if !matches!(serde_json::from_str::<serde_json::Value>(raw), Ok(serde_json::Value::Number(_))) {
                return false;
            }
            let (mantissa, exponent) = raw.split_once(['e', 'E']).unwrap_or((raw, "0"));
            let non_zero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
            let v: f64 = raw.parse().unwrap();
            if raw.contains(['.', 'e', 'E']) {
                // A double: finite, within 2^53, and not a non-zero that rounds to 0.
                let _ = exponent;
                v.is_finite() && v.abs() <= 9_007_199_254_740_992.0 && (v != 0.0 || !non_zero)
            } else {
                // An integer: exactly within 2^53 (digits compared as text: no double in between).
                let digits = raw.trim_start_matches('-');
                digits.len() < 16 || (digits.len() == 16 && digits <= "9007199254740992")
            }
        }

        fn millis(raw: &str) -> Option<i64> {
            let ms = raw.parse::<i64>().ok().filter(|_| raw.bytes().all(|b| b.is_ascii_digit() || b == b'-'))?;
            (100_000_000_000..=100_000_000_000_000).contains(&ms).then_some(ms)
        }

        /// Whether `raw` is a record the rules accept.
        pub fn accepts(raw: &str) -> bool {
            // Every string anywhere must be one a strict reader takes (serde_json refuses lone surrogates).
            if serde_json::from_str::<serde_json::Value>(raw).is_err() {
                return false;
            }
            let Some(top) = members(raw) else { return false };
            let get = |k: &str| top.iter().find(|(key, _)| key == k).map(|(_, v)| v.get());
            let (Some(c), Some(m), Some(v), Some(t)) =
                (get("customerId"), get("meterApiName"), get("meterValue"), get("meterTimeInMillis"))
            else {
                return false;
            };
            let unique_ok =
                get("uniqueId").is_none_or(|u| serde_json::from_str::<String>(u).is_ok_and(|u| !u.is_empty()));
            let dimensions_ok = get("dimensions").is_none_or(|d| {
                members(d).is_some_and(|m| m.iter().all(|(_, v)| serde_json::from_str::<String>(v.get()).is_ok()))
            });
            name(c) && name(m) && meter_value(v) && millis(t).is_some() && unique_ok && dimensions_ok
        }
    }

    /// Records of edge cases: each field from a pool of values at and beyond the rules' edges, keys escaped or
    /// given twice, strings with escapes, surrogates, whitespace and control characters.
    fn edge_record() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        // Each field is usually valid (sometimes at the edge of valid), else one of the ways to break it.
        let pick = |valid: Vec<&'static str>, invalid: Vec<&'static str>| prop_oneof![6 => prop::sample::select(valid), 1 => prop::sample::select(invalid)];
        let string = || {
            pick(
                vec![r#""c-1""#, r#"" acme""#, r#""\u00e9t\u00e9""#, r#""\ud83d\ude00""#, r#""a\"b""#, r#""x/y""#],
                vec![
                    r#""""#,
                    r#""   ""#,
                    r#""a\nb""#,
                    r#""\u0007""#,
                    r#""\ud800""#,
                    r#""x\udc00""#,
                    r#""\u3000""#,
                    r#""\u007f""#,
                    "5",
                    "null",
                ],
            )
        };
        let number = pick(
            vec![
                "1",
                "0",
                "-0",
                "0.0",
                "-1.5",
                "293.54",
                "1e3",
                "1E-2",
                "0e-400",
                "9007199254740992",
                "-9007199254740992",
                "9007199254740992.0",
                "1e15",
            ],
            vec![
                "1e400",
                "-1e400",
                "1e-400",
                "9007199254740993",
                "9007199254740993.5",
                "1e16",
                "123456789012345678901234567890",
                "\"1\"",
                "true",
            ],
        );
        let millis = pick(
            vec!["1795168800000", "100000000000", "100000000000000"],
            vec![
                "1795168800000.0",
                "1795168800000.5",
                "1795168800",
                "99999999999",
                "100000000000001",
                "-5",
                "\"1795168800000\"",
                "1.7951688e12",
            ],
        );
        let dimensions = pick(
            vec![r#"{}"#, r#"{"plan":"free"}"#, r#"{"plan":"free","tier":"\u00e9"}"#],
            vec![
                r#"{"plan":"free","plan":"pro"}"#,
                r#"{"plan":"free","pl\u0061n":"pro"}"#,
                r#"{"n":3}"#,
                r#"{"e":"\ud800"}"#,
                r#"["a"]"#,
            ],
        );
        let key = |k: &'static str, escaped: &'static str| prop_oneof![12 => Just(k), 1 => Just(escaped)];
        let extra = pick(
            vec![r#""note":{"a":[1,"b"]}"#],
            vec![r#""customerId":"d""#, r#""meterValue":2"#, r#""x":{"y":"\ud800"}"#],
        );
        (
            (key("customerId", r#"customer\u0049d"#), string()),
            (key("meterApiName", "meterApiName"), string()),
            (key("meterValue", r#"meter\u0056alue"#), number),
            (key("meterTimeInMillis", "meterTimeInMillis"), millis),
            proptest::option::weighted(0.5, string()),
            proptest::option::weighted(0.5, dimensions),
            0usize..40,
            proptest::option::weighted(0.3, extra),
        )
            .prop_map(|((ck, c), (mk, m), (vk, v), (tk, t), unique, dims, skip, extra)| {
                let mut fields = vec![
                    format!(r#""{ck}":{c}"#),
                    format!(r#""{mk}":{m}"#),
                    format!(r#""{vk}":{v}"#),
                    format!(r#""{tk}":{t}"#),
                ];
                if skip < fields.len() {
                    fields.remove(skip);
                }
                fields.extend(unique.map(|u| format!(r#""uniqueId":{u}"#)));
                fields.extend(dims.map(|d| format!(r#""dimensions":{d}"#)));
                fields.extend(extra.map(str::to_owned));
                format!("{{{}}}", fields.join(","))
            })
    }

    #[test]
    fn valid_edge_records_are_often_accepted_and_often_refused() {
        use proptest::strategy::{Strategy, ValueTree};
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = edge_record();
        let accepted =
            (0..2000).filter(|_| reference::accepts(&strategy.new_tree(&mut runner).unwrap().current())).count();
        assert!((100..1900).contains(&accepted), "{accepted} of 2000 accepted: the property would test little");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        #[test]
        fn valid_rules_agree_with_an_independent_reference(text in edge_record()) {
            let ours = validate_record(&text);
            proptest::prop_assert_eq!(ours.is_ok(), reference::accepts(&text), "{} -> {:?}", text, ours);
        }
    }
}
