//! OpenMeter: `POST /api/v1/events`, CloudEvents 1.0 in a batch (`application/cloudevents-batch+json`), Bearer
//! auth. OpenMeter de-duplicates on `(source, id)` (24 h by default when self-hosted) and answers a duplicate like
//! any other event.
//!
//! Mapping from the Amberflo record: `customerId` (through `OPENMETER_CUSTOMER_MAP`) → `subject`; `meterApiName`
//! → `type`; `meterTimeInMillis` → `time` (RFC 3339); `meterValue` → `data.value`, the number literal as logged;
//! each dimension → a field of `data`; `uniqueId` → `id`; `OPENMETER_SOURCE` → `source`.

use super::platform::{Body, Common, Entry, Event, Platform, common_rows, names};
use super::usage::{Usage, push_dimensions, rfc3339};
use crate::config::settings::Setting;
use crate::config::text;
use crate::plan::json_out::push_str;

/// The name in `BILLING_PLATFORMS`.
pub const NAME: &str = "openmeter";

/// OpenMeter as the platform list holds it.
pub const ENTRY: Entry =
    Entry { name: NAME, read: |l| Ok(std::sync::Arc::new(OpenMeter::from_lookup(&l)?)), settings: SETTINGS };

/// OpenMeter's rows of the settings table.
pub const SETTINGS: &[Setting] = &{
    let [a, b, c, d] = common_rows!("OPENMETER", "OpenMeter", "https://openmeter.cloud");
    [
        a,
        b,
        c,
        d,
        Setting {
            names: "`OPENMETER_SOURCE`",
            default: "`logmeter`",
            output: "OpenMeter",
            meaning: "the CloudEvents `source` of every event (OpenMeter de-duplicates on source and id)",
        },
    ]
};

/// The OpenMeter output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenMeter {
    common: Common,
    source: String,
}

impl OpenMeter {
    /// Reads `OPENMETER_*`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, crate::config::ConfigError> {
        Ok(Self {
            common: Common::from_lookup(lookup, &names!("OPENMETER"), "https://openmeter.cloud")?,
            source: text(lookup, "OPENMETER_SOURCE").unwrap_or_else(|| "logmeter".into()),
        })
    }
}

impl Platform for OpenMeter {
    fn name(&self) -> &'static str {
        NAME
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn path(&self) -> &'static str {
        "/api/v1/events"
    }

    fn max_events(&self) -> usize {
        100
    }

    fn max_id_len(&self) -> usize {
        256
    }

    fn event(&self, usage: &Usage<'_>, id: &str) -> Result<Event, String> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"specversion\":\"1.0\",\"id\":");
        push_str(&mut out, id);
        out.extend_from_slice(b",\"source\":");
        push_str(&mut out, &self.source);
        out.extend_from_slice(b",\"type\":");
        push_str(&mut out, &usage.meter);
        out.extend_from_slice(b",\"subject\":");
        push_str(&mut out, self.common.customers.of(&usage.customer_id));
        out.extend_from_slice(b",\"time\":");
        push_str(&mut out, &rfc3339(usage.time_millis));
        out.extend_from_slice(b",\"data\":{\"value\":");
        out.extend_from_slice(usage.value_text().as_bytes());
        push_dimensions(&mut out, usage);
        out.extend_from_slice(b"}}");
        Ok(Event { bytes: out, lane: String::new() })
    }

    fn body(&self, events: &[&[u8]]) -> Body {
        Body { bytes: super::json_array(events), content_type: "application/cloudevents-batch+json", extension: "json" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_events_are_cloudevents_with_the_value_as_logged() {
        let o = OpenMeter::from_lookup(&|_: &str| None).unwrap();
        let u = Usage::read(r#"{"customerId":"c1","meterApiName":"tokens","meterValue":1e3,"meterTimeInMillis":1795168800000,"uniqueId":"u-1"}"#).unwrap();
        let e = o.event(&u, "u-1").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&e.bytes).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"specversion":"1.0","id":"u-1","source":"logmeter","type":"tokens","subject":"c1","time":"2026-11-20T10:00:00.000Z","data":{"value":1000.0}})
        );
        assert!(std::str::from_utf8(&e.bytes).unwrap().contains("\"value\":1e3"), "the literal, not a float");
    }
}
