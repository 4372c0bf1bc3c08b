//! The Amberflo ingest API: `POST /ingest` with `X-API-KEY`, a JSON array of the same meter records the S3 drop
//! takes (batches of 100, as Amberflo's SDK sends). Amberflo de-duplicates on `uniqueId` (window not published)
//! and answers a duplicate like any other record.
//!
//! Mapping: the record as the function logged it (with the `uniqueId` logmeter derives when it had none), its
//! `customerId` replaced when `AMBERFLO_CUSTOMER_MAP` names it.

use super::platform::{Body, Common, Entry, Event, Platform, common_rows, names};
use super::usage::Usage;
use crate::config::settings::Setting;
use crate::plan::json_out::push_str;

/// The name in `BILLING_PLATFORMS`.
pub const NAME: &str = "amberflo";

/// Amberflo as the platform list holds it.
pub const ENTRY: Entry =
    Entry { name: NAME, read: |l| Ok(std::sync::Arc::new(Amberflo::from_lookup(&l)?)), settings: SETTINGS };

/// Amberflo's rows of the settings table.
pub const SETTINGS: &[Setting] = &common_rows!("AMBERFLO", "Amberflo API", "https://app.amberflo.io");

/// The Amberflo ingest API output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amberflo {
    common: Common,
}

impl Amberflo {
    /// Reads `AMBERFLO_*`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, crate::config::ConfigError> {
        Ok(Self { common: Common::from_lookup(lookup, &names!("AMBERFLO"), "https://app.amberflo.io")? })
    }
}

impl Platform for Amberflo {
    fn name(&self) -> &'static str {
        NAME
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn path(&self) -> &'static str {
        "/ingest"
    }

    fn max_events(&self) -> usize {
        100
    }

    fn max_id_len(&self) -> usize {
        usize::MAX
    }

    fn event(&self, usage: &Usage<'_>, id: &str) -> Result<Event, String> {
        // The record's own fields, in Amberflo's names.
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"customerId\":");
        push_str(&mut out, self.common.customers.of(&usage.customer_id));
        out.extend_from_slice(b",\"meterApiName\":");
        push_str(&mut out, &usage.meter);
        out.extend_from_slice(b",\"meterValue\":");
        out.extend_from_slice(usage.value_text().as_bytes());
        out.extend_from_slice(b",\"meterTimeInMillis\":");
        out.extend_from_slice(itoa::Buffer::new().format(usage.time_millis).as_bytes());
        // The record's own `uniqueId`, as the S3 drop has it, so Amberflo de-duplicates the two routes against each
        // other (`id`, the ledger's, is derived one-to-one from it).
        let _ = id;
        out.extend_from_slice(b",\"uniqueId\":");
        push_str(&mut out, &usage.unique_id);
        if !usage.dimensions.is_empty() {
            out.extend_from_slice(b",\"dimensions\":{");
            for (i, (k, v)) in usage.dimensions.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_str(&mut out, k);
                out.push(b':');
                push_str(&mut out, v);
            }
            out.push(b'}');
        }
        out.push(b'}');
        Ok(Event { bytes: out, lane: String::new() })
    }

    fn body(&self, events: &[&[u8]]) -> Body {
        Body { bytes: super::json_array(events), content_type: "application/json", extension: "json" }
    }

    fn auth(&self, key: &str) -> (&'static str, String) {
        ("x-api-key", key.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_records_go_as_logged_with_the_customer_mapped() {
        let a = Amberflo::from_lookup(&|k: &str| (k == "AMBERFLO_CUSTOMER_MAP").then(|| "c1=acme".to_owned())).unwrap();
        let json = r#"{"customerId":"c1","meterApiName":"api","meterValue":3,"meterTimeInMillis":1795168800000,"uniqueId":"u-1","dimensions":{"region":"eu"}}"#;
        let e = a.event(&Usage::read(json).unwrap(), "u-1").unwrap();
        assert_eq!(std::str::from_utf8(&e.bytes).unwrap(), json.replace("\"c1\"", "\"acme\""));
        assert_eq!(a.auth("k"), ("x-api-key", "k".to_owned()));
    }
}
