//! Stripe meter events (v1): `POST /v1/billing/meter_events`, one form-encoded event per call, Bearer auth with the
//! secret key, and **one call at a time per customer and meter** (a lane). Stripe de-duplicates on `identifier`
//! (at most 100 characters) for a rolling period of at least 24 hours and answers a duplicate with 400 ("An event
//! already exists with identifier …"): that answer counts as delivered.
//!
//! Mapping from the Amberflo record: `meterApiName` → `event_name`; `customerId` (through `STRIPE_CUSTOMER_MAP`) →
//! `payload[<STRIPE_CUSTOMER_KEY>]` (the meter's customer mapping key, `stripe_customer_id` by default);
//! `meterValue` → `payload[value]`, a whole number as Stripe requires: a fraction is never rounded, it is
//! quarantined for Stripe (the other platforms still get the record) unless `STRIPE_VALUE_SCALE` names a factor
//! for the meter that makes it whole; each dimension → `payload[<name>]`; `meterTimeInMillis` → `timestamp` (epoch
//! seconds); `uniqueId` → `identifier` (a UUIDv5 of it when longer than 100 characters).

use super::platform::{Body, Common, Entry, Event, Platform, Verdict, common_rows, names, verdict};
use super::usage::{Scales, Usage, whole_number};
use crate::config::settings::Setting;
use crate::config::{ConfigError, text};

/// The name in `BILLING_PLATFORMS`.
pub const NAME: &str = "stripe";

/// Stripe as the platform list holds it.
pub const ENTRY: Entry =
    Entry { name: NAME, read: |l| Ok(std::sync::Arc::new(Stripe::from_lookup(&l)?)), settings: SETTINGS };

/// Stripe's rows of the settings table.
pub const SETTINGS: &[Setting] = &{
    let [a, b, c, d] = common_rows!("STRIPE", "Stripe", "https://api.stripe.com");
    [
        a,
        b,
        c,
        d,
        Setting {
            names: "`STRIPE_CUSTOMER_KEY`",
            default: "`stripe_customer_id`",
            output: "Stripe",
            meaning: "the payload key that names the customer (the meter's `customer_mapping.event_payload_key`)",
        },
        Setting {
            names: "`STRIPE_VALUE_SCALE`",
            default: "(none)",
            output: "Stripe",
            meaning: "`meter=factor,…`: values of the meter are multiplied by the factor before they are sent (Stripe takes whole numbers only; a value still not whole is quarantined for Stripe, never rounded)",
        },
    ]
};

/// The Stripe meter events output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripe {
    common: Common,
    customer_key: String,
    scales: Scales,
}

impl Stripe {
    /// Reads `STRIPE_*`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let scales = match text(lookup, "STRIPE_VALUE_SCALE") {
            None => Scales::default(),
            Some(t) => {
                Scales::parse(&t).map_err(|reason| ConfigError { name: "STRIPE_VALUE_SCALE", value: t, reason })?
            }
        };
        Ok(Self {
            common: Common::from_lookup(lookup, &names!("STRIPE"), "https://api.stripe.com")?,
            customer_key: text(lookup, "STRIPE_CUSTOMER_KEY").unwrap_or_else(|| "stripe_customer_id".into()),
            scales,
        })
    }
}

/// Appends `value` form-encoded (`application/x-www-form-urlencoded`: unreserved bytes as they are, the others as
/// `%XX`).
fn push_form(out: &mut Vec<u8>, value: &str) {
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.push(b'%');
            out.push(b"0123456789ABCDEF"[usize::from(b >> 4)]);
            out.push(b"0123456789ABCDEF"[usize::from(b & 15)]);
        }
    }
}

/// Appends `&name=value` (without the `&` first).
fn push_field(out: &mut Vec<u8>, name: &str, value: &str) {
    if !out.is_empty() {
        out.push(b'&');
    }
    push_form(out, name);
    out.push(b'=');
    push_form(out, value);
}

impl Platform for Stripe {
    fn name(&self) -> &'static str {
        NAME
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn path(&self) -> &'static str {
        "/v1/billing/meter_events"
    }

    fn max_events(&self) -> usize {
        1
    }

    fn max_id_len(&self) -> usize {
        100
    }

    fn lanes(&self) -> bool {
        true
    }

    fn event(&self, usage: &Usage<'_>, id: &str) -> Result<Event, String> {
        let value = whole_number(usage.value_text(), self.scales.of(&usage.meter))?;
        // A bracket in a dimension's name would nest its field inside another (`payload[value]x]`): such a record
        // is not Stripe's to take as it is.
        if let Some(bad) = usage.dimensions.keys().find(|k| k.contains(['[', ']'])) {
            return Err(format!("dimension name {bad:?} has a bracket, which Stripe's form fields cannot carry"));
        }
        let customer = self.common.customers.of(&usage.customer_id);
        let mut out = Vec::with_capacity(192);
        push_field(&mut out, "event_name", &usage.meter);
        push_field(&mut out, "identifier", id);
        push_field(&mut out, "timestamp", itoa::Buffer::new().format(usage.time_millis.div_euclid(1000)));
        push_field(&mut out, &format!("payload[{}]", self.customer_key), customer);
        push_field(&mut out, "payload[value]", &value);
        for (k, v) in usage.dimensions.iter().filter(|(k, _)| **k != *self.customer_key && *k != "value") {
            push_field(&mut out, &format!("payload[{k}]"), v);
        }
        Ok(Event { bytes: out, lane: format!("{customer}\n{}", usage.meter) })
    }

    fn body(&self, events: &[&[u8]]) -> Body {
        Body {
            bytes: events.first().map_or_else(Vec::new, |e| e.to_vec()),
            content_type: "application/x-www-form-urlencoded",
            extension: "form",
        }
    }

    fn answer(&self, status: u16, headers: &http::HeaderMap, body: &[u8]) -> Verdict {
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let should_retry = headers.get("stripe-should-retry").and_then(|v| v.to_str().ok());
        match status {
            400 if message.contains("already exists") => Verdict::Duplicate,
            400..=499 if should_retry == Some("true") && status != 401 && status != 403 => Verdict::Retry(
                format!("HTTP {status} (Stripe-Should-Retry: true)"),
                super::platform::retry_after(headers),
            ),
            _ => verdict(status, headers, body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripe(pairs: &[(&str, &str)]) -> Stripe {
        let map: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Stripe::from_lookup(&|k: &str| map.get(k).cloned()).unwrap()
    }

    fn usage(value: &str) -> String {
        format!(
            r#"{{"customerId":"c 1","meterApiName":"tokens","meterValue":{value},"meterTimeInMillis":1795168800999,"uniqueId":"u-1","dimensions":{{"model":"m&x"}}}}"#
        )
    }

    #[test]
    fn valid_events_are_form_fields_with_whole_values() {
        let s = stripe(&[("STRIPE_CUSTOMER_MAP", "c 1=cus_9")]);
        let e = s.event(&Usage::read(&usage("12")).unwrap(), "u-1").unwrap();
        assert_eq!(
            std::str::from_utf8(&e.bytes).unwrap(),
            "event_name=tokens&identifier=u-1&timestamp=1795168800&payload%5Bstripe_customer_id%5D=cus_9&payload%5Bvalue%5D=12&payload%5Bmodel%5D=m%26x"
        );
        assert_eq!(e.lane, "cus_9\ntokens");
    }

    #[test]
    fn invalid_fractions_are_refused_unless_scaled_whole() {
        let e = stripe(&[]).event(&Usage::read(&usage("0.5")).unwrap(), "u-1").unwrap_err();
        assert!(e.contains("not a whole number"), "{e}");
        let bracket = usage("1").replace("\"model\"", "\"value]x\"");
        let e = stripe(&[]).event(&Usage::read(&bracket).unwrap(), "u-1").unwrap_err();
        assert!(e.contains("bracket"), "{e}");
        let scaled =
            stripe(&[("STRIPE_VALUE_SCALE", "tokens=1000")]).event(&Usage::read(&usage("0.5")).unwrap(), "u-1");
        assert!(std::str::from_utf8(&scaled.unwrap().bytes).unwrap().contains("payload%5Bvalue%5D=500"));
    }

    #[test]
    fn valid_duplicates_count_as_delivered_and_other_answers_keep_their_meaning() {
        let s = stripe(&[]);
        let h = http::HeaderMap::new();
        let dup =
            br#"{"error":{"type":"invalid_request_error","message":"An event already exists with identifier u-1."}}"#;
        assert_eq!(s.answer(400, &h, dup), Verdict::Duplicate);
        assert!(matches!(s.answer(400, &h, br#"{"error":{"message":"No such customer"}}"#), Verdict::Refused(_)));
        assert!(matches!(s.answer(401, &h, b"{}"), Verdict::Denied(_)));
        let mut retry = http::HeaderMap::new();
        retry.insert("retry-after", http::HeaderValue::from_static("2"));
        assert_eq!(
            s.answer(429, &retry, b"{}"),
            Verdict::Retry("HTTP 429: {}".into(), Some(std::time::Duration::from_secs(2)))
        );
        assert_eq!(s.answer(200, &h, b"{}"), Verdict::Accepted);
    }
}
