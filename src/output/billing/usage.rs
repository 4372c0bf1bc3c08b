//! A meter record as the billing platforms read it ([`Usage`]): the Amberflo fields, the value kept as the literal
//! the function logged (never through a float), and what every platform derives from it: its customer (through an
//! optional mapping table), its de-duplication id (one-to-one from `uniqueId`, within a length limit) and its value
//! as a whole number where a platform takes only those.

use crate::ids::V5Prefix;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// One meter record, borrowed from its minified JSON.
#[derive(Debug, Deserialize)]
pub struct Usage<'a> {
    /// `customerId`.
    #[serde(rename = "customerId", borrow)]
    pub customer_id: std::borrow::Cow<'a, str>,
    /// `meterApiName`.
    #[serde(rename = "meterApiName", borrow)]
    pub meter: std::borrow::Cow<'a, str>,
    /// `meterValue`, as written (a JSON number).
    #[serde(rename = "meterValue", borrow)]
    pub value: &'a RawValue,
    /// `meterTimeInMillis`.
    #[serde(rename = "meterTimeInMillis")]
    pub time_millis: i64,
    /// `uniqueId` (logmeter adds one when the function did not).
    #[serde(rename = "uniqueId", borrow)]
    pub unique_id: std::borrow::Cow<'a, str>,
    /// `dimensions`, if any.
    #[serde(default, borrow)]
    pub dimensions: BTreeMap<std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>>,
}

impl<'a> Usage<'a> {
    /// Reads a meter record (the extractor has validated it, so an error here is a programming error, reported as
    /// the record's quarantine reason rather than a panic).
    pub fn read(json: &'a str) -> Result<Self, String> {
        serde_json::from_str(json).map_err(|e| format!("meter record not readable for billing: {e}"))
    }

    /// The value's literal (`12`, `0.25`, `1e3`).
    pub fn value_text(&self) -> &'a str {
        self.value.get()
    }
}

/// A mapping from `customerId` to a platform's customer id (`<P>_CUSTOMER_MAP`: `amberflo=platform,…`); a
/// customer not in it keeps its id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerMap(BTreeMap<String, String>);

impl CustomerMap {
    /// Parses `from=to` pairs separated by commas.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (from, to) = pair.split_once('=').ok_or_else(|| format!("`{pair}` is not customer=platform_id"))?;
            let (from, to) = (from.trim(), to.trim());
            if from.is_empty() || to.is_empty() {
                return Err(format!("`{pair}` has an empty side"));
            }
            if map.insert(from.to_owned(), to.to_owned()).is_some() {
                return Err(format!("customer {from} is mapped twice"));
            }
        }
        Ok(Self(map))
    }

    /// The platform's id of `customer`.
    pub fn of<'c>(&'c self, customer: &'c str) -> &'c str {
        self.0.get(customer).map_or(customer, String::as_str)
    }
}

/// The platform's de-duplication id of a record: its `uniqueId` when it fits in `max_len` characters (ASCII
/// printable, as every platform takes), else `u5-` and a UUIDv5 of it (39 characters): one id per `uniqueId`, the
/// same on every run, whatever container or batch delivers it.
pub fn dedup_id(unique_id: &str, max_len: usize) -> String {
    static IDS: std::sync::LazyLock<V5Prefix> = std::sync::LazyLock::new(|| V5Prefix::new(&["billing dedup id"]));
    let plain = unique_id.bytes().all(|b| b.is_ascii_graphic()) && !unique_id.starts_with("u5-");
    if plain && !unique_id.is_empty() && unique_id.len() <= max_len {
        unique_id.to_owned()
    } else {
        format!("u5-{}", IDS.uuid(&[unique_id.as_bytes()]))
    }
}

/// A decimal literal, exactly: `mantissa × 10^exponent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: i128,
    exponent: i32,
}

impl Decimal {
    /// Reads a JSON number literal (`-12.50`, `3e2`); `None` past 38 significant digits.
    fn parse(text: &str) -> Option<Self> {
        let (number, exp) = match text.find(['e', 'E']) {
            Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let negative = int.starts_with('-');
        let digits: String = int.trim_start_matches('-').chars().chain(frac.chars()).collect();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let trimmed = digits.trim_start_matches('0');
        let magnitude: i128 = if trimmed.is_empty() { 0 } else { trimmed.parse().ok()? };
        let exponent = exp.checked_sub(i32::try_from(frac.len()).ok()?)?;
        Some(Self { mantissa: if negative { -magnitude } else { magnitude }, exponent })
    }

    /// The value times `factor`, as a whole number; `None` when it has a fraction (or does not fit).
    fn whole_times(self, factor: u64) -> Option<i128> {
        let mut m = self.mantissa.checked_mul(i128::from(factor))?;
        // Zero is whole whatever its exponent (`0e-2000000000`: no loop over the exponent); any other mantissa
        // leaves the loops below within 39 steps (a remainder, or an overflow).
        if m == 0 {
            return Some(0);
        }
        let mut e = self.exponent;
        while e < 0 {
            if m % 10 != 0 {
                return None;
            }
            m /= 10;
            e += 1;
        }
        while e > 0 {
            m = m.checked_mul(10)?;
            e -= 1;
        }
        Some(m)
    }
}

/// `value` (a JSON number literal) times `factor` as a whole number's decimal digits, or why it is not one: a
/// fraction is never rounded.
pub fn whole_number(value: &str, factor: u64) -> Result<String, String> {
    let decimal =
        Decimal::parse(value).ok_or_else(|| format!("meterValue {value} is not a number this platform can take"))?;
    if decimal.mantissa != 0 && decimal.exponent > 38 {
        return Err(format!("meterValue {value} is too large for this platform"));
    }
    match decimal.whole_times(factor) {
        Some(whole) => Ok(whole.to_string()),
        None if factor == 1 => Err(format!(
            "meterValue {value} is not a whole number, and this platform takes whole numbers only (never rounded: set a scale for the meter, or send whole units)"
        )),
        None => Err(format!("meterValue {value} × {factor} is not a whole number (never rounded)")),
    }
}

/// Appends each dimension as a JSON object member (`,"name":"value"`), but one named `value`, which the event's
/// own value field holds.
pub fn push_dimensions(out: &mut Vec<u8>, usage: &Usage<'_>) {
    for (k, v) in usage.dimensions.iter().filter(|(k, _)| *k != "value") {
        out.push(b',');
        crate::plan::json_out::push_str(out, k);
        out.push(b':');
        crate::plan::json_out::push_str(out, v);
    }
}

/// RFC 3339 UTC with milliseconds, from epoch ms (`1970-01-01T00:00:00.000Z` for a time out of range).
pub fn rfc3339(millis: i64) -> String {
    crate::plan::iso_millis(millis)
}

/// Per-meter scale factors (`STRIPE_VALUE_SCALE`: `meter=factor,…`, factors whole and positive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scales(BTreeMap<String, u64>);

impl Scales {
    /// Parses `meter=factor` pairs separated by commas.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (meter, factor) = pair.split_once('=').ok_or_else(|| format!("`{pair}` is not meter=factor"))?;
            let factor: u64 =
                factor.trim().parse().map_err(|_| format!("`{pair}`: the factor must be a whole number"))?;
            if factor == 0 {
                return Err(format!("`{pair}`: the factor must be at least 1"));
            }
            map.insert(meter.trim().to_owned(), factor);
        }
        Ok(Self(map))
    }

    /// The factor of `meter` (1 when none is set).
    pub fn of(&self, meter: &str) -> u64 {
        self.0.get(meter).copied().unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_whole_numbers_are_exact_and_fractions_never_rounded() {
        let table = [
            ("12", 1, Ok("12")),
            ("12.000", 1, Ok("12")),
            ("-3", 1, Ok("-3")),
            ("1e3", 1, Ok("1000")),
            ("2.5E1", 1, Ok("25")),
            ("0.25", 1000, Ok("250")),
            ("0", 1, Ok("0")),
            ("0e-2000000000", 1, Ok("0")),
            ("0e2000000000", 1, Ok("0")),
            ("1e2000000000", 1, Err("too large")),
            ("1e-2000000000", 1, Err("not a whole number")),
            ("123456789012345678", 1, Ok("123456789012345678")),
            ("0.5", 1, Err("not a whole number")),
            ("0.0001", 1000, Err("is not a whole number")),
            ("1e-1", 1, Err("not a whole number")),
        ];
        for (value, factor, want) in table {
            match (whole_number(value, factor), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{value} × {factor}"),
                (Err(got), Err(w)) => assert!(got.contains(w), "{value}: {got}"),
                (got, w) => panic!("{value} × {factor}: {got:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn valid_dedup_ids_are_the_unique_id_when_it_fits_and_stable_otherwise() {
        assert_eq!(dedup_id("abc-123", 100), "abc-123");
        let long = "x".repeat(101);
        let id = dedup_id(&long, 100);
        assert!(id.starts_with("u5-") && id.len() == 39, "{id}");
        assert_eq!(id, dedup_id(&long, 100), "the same on every run");
        assert_ne!(id, dedup_id(&"x".repeat(102), 100));
        assert!(dedup_id("has space", 100).starts_with("u5-"), "non-printable or spaces are hashed");
        assert_ne!(dedup_id("u5-spoof", 100), "u5-spoof", "an id that looks derived is derived again");
    }

    #[test]
    fn invalid_maps_and_scales_are_named() {
        assert_eq!(CustomerMap::parse("a=cus_1, b = cus_2").unwrap().of("b"), "cus_2");
        assert_eq!(CustomerMap::parse("").unwrap().of("c"), "c");
        for bad in ["a", "a=", "=b", "a=1,a=2"] {
            assert!(CustomerMap::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Scales::parse("tokens=1000").unwrap().of("tokens"), 1000);
        for bad in ["t", "t=0", "t=1.5"] {
            assert!(Scales::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn valid_usage_reads_the_record_and_keeps_the_value_literal() {
        let u = Usage::read(r#"{"customerId":"c1","meterApiName":"api","meterValue":12.50,"meterTimeInMillis":1795168800000,"uniqueId":"u1","dimensions":{"region":"eu"}}"#).unwrap();
        assert_eq!((&*u.customer_id, &*u.meter, u.value_text(), &*u.unique_id), ("c1", "api", "12.50", "u1"));
        assert_eq!(u.dimensions.get("region").map(|v| &**v), Some("eu"));
    }
}
