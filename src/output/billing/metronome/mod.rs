//! Metronome: `POST /v1/ingest`, a JSON array of 1–100 usage events
//! (`{transaction_id, customer_id, event_type, timestamp, properties}`), Bearer auth. Metronome de-duplicates on
//! `transaction_id` for 34 days and answers a duplicate like any other event.
//!
//! Mapping from the Amberflo record: `customerId` (through `METRONOME_CUSTOMER_MAP`) → `customer_id` (a Metronome
//! customer id or ingest alias); `meterApiName` → `event_type`; `meterTimeInMillis` → `timestamp` (RFC 3339);
//! `meterValue` → `properties.value`, as a string of the literal logged (Metronome keeps numeric strings exact);
//! each dimension → a property of its name; `uniqueId` → `transaction_id`.

use super::platform::{Body, Common, Entry, Event, Platform, common_rows, names};
use super::usage::{Usage, push_dimensions, rfc3339};
use crate::config::settings::Setting;
use crate::plan::json_out::push_str;

/// The name in `BILLING_PLATFORMS`.
pub const NAME: &str = "metronome";

/// Metronome as the platform list holds it.
pub const ENTRY: Entry =
    Entry { name: NAME, read: |l| Ok(std::sync::Arc::new(Metronome::from_lookup(&l)?)), settings: SETTINGS };

/// Metronome's rows of the settings table.
pub const SETTINGS: &[Setting] = &common_rows!("METRONOME", "Metronome", "https://api.metronome.com");

/// The Metronome output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metronome {
    common: Common,
}

impl Metronome {
    /// Reads `METRONOME_*`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, crate::config::ConfigError> {
        Ok(Self { common: Common::from_lookup(lookup, &names!("METRONOME"), "https://api.metronome.com")? })
    }
}

impl Platform for Metronome {
    fn name(&self) -> &'static str {
        NAME
    }

    /// 34 days: its `transaction_id` window, which is its backdating window.
    fn window(&self) -> std::time::Duration {
        std::time::Duration::from_secs(34 * 24 * 3600)
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn path(&self) -> &'static str {
        "/v1/ingest"
    }

    fn max_events(&self) -> usize {
        100
    }

    fn max_id_len(&self) -> usize {
        128
    }

    fn event(&self, usage: &Usage<'_>, id: &str) -> Result<Event, String> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"transaction_id\":");
        push_str(&mut out, id);
        out.extend_from_slice(b",\"customer_id\":");
        push_str(&mut out, self.common.customers.of(&usage.customer_id));
        out.extend_from_slice(b",\"event_type\":");
        push_str(&mut out, &usage.meter);
        out.extend_from_slice(b",\"timestamp\":");
        push_str(&mut out, &rfc3339(usage.time_millis));
        out.extend_from_slice(b",\"properties\":{\"value\":");
        push_str(&mut out, usage.value_text());
        push_dimensions(&mut out, usage);
        out.extend_from_slice(b"}}");
        Ok(Event { bytes: out, lane: String::new() })
    }

    fn body(&self, events: &[&[u8]]) -> Body {
        Body { bytes: super::json_array(events), content_type: "application/json", extension: "json" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::billing::usage::dedup_id;

    #[test]
    fn valid_events_map_the_record_and_keep_the_value_exact() {
        let m =
            Metronome::from_lookup(&|k: &str| (k == "METRONOME_CUSTOMER_MAP").then(|| "c1=met_1".to_owned())).unwrap();
        let u = Usage::read(r#"{"customerId":"c1","meterApiName":"api_calls","meterValue":12.50,"meterTimeInMillis":1795168800000,"uniqueId":"u-1","dimensions":{"region":"eu"}}"#).unwrap();
        let e = m.event(&u, &dedup_id(&u.unique_id, m.max_id_len())).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&e.bytes).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"transaction_id":"u-1","customer_id":"met_1","event_type":"api_calls","timestamp":"2026-11-20T10:00:00.000Z","properties":{"value":"12.50","region":"eu"}})
        );
        let body = m.body(&[&e.bytes, &e.bytes]);
        assert_eq!(serde_json::from_slice::<Vec<serde_json::Value>>(&body.bytes).unwrap().len(), 2);
    }
}
