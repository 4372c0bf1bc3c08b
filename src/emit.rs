//! Emitting meter records from a Rust Lambda function: one line on stdout,
//! `meter_record_for_stream {"customerId":…}`, which CloudWatch Logs stores as one event and logmeter extracts.
//!
//! The line goes straight to stdout, not through a logger: Lambda's log-level filtering (`ApplicationLogLevel`
//! above INFO with the JSON log format) silently drops logger calls below the level, and a dropped meter line is
//! an unbilled request.

use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

/// The default tag (logmeter's `METER_TAG`).
pub const TAG: &str = "meter_record_for_stream";

/// One Amberflo meter record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meter<'a> {
    /// The customer billed.
    pub customer_id: &'a str,
    /// The meter.
    pub meter_api_name: &'a str,
    /// The amount.
    pub meter_value: f64,
    /// When it happened, epoch milliseconds.
    pub meter_time_in_millis: i64,
    /// A stable id for de-duplication (e.g. the request id and a counter); logmeter derives one when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<&'a str>,
    /// String dimensions.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<&'a str, &'a str>,
}

impl<'a> Meter<'a> {
    /// A record of `meter_value` for `customer_id` on `meter_api_name` at `meter_time_in_millis`.
    pub fn new(customer_id: &'a str, meter_api_name: &'a str, meter_value: f64, meter_time_in_millis: i64) -> Self {
        Self {
            customer_id,
            meter_api_name,
            meter_value,
            meter_time_in_millis,
            unique_id: None,
            dimensions: BTreeMap::new(),
        }
    }

    /// Sets `uniqueId`.
    pub fn unique_id(mut self, id: &'a str) -> Self {
        self.unique_id = Some(id);
        self
    }

    /// Adds a dimension.
    pub fn dimension(mut self, key: &'a str, value: &'a str) -> Self {
        self.dimensions.insert(key, value);
        self
    }

    /// The log line, with a trailing newline.
    pub fn line(&self, tag: &str) -> String {
        // A struct of strings, finite numbers and a string map always serializes; a non-finite value becomes null
        // and is quarantined by logmeter rather than billed.
        format!("{tag} {}\n", serde_json::to_string(self).unwrap_or_default())
    }

    /// Writes the line to stdout in one write, so it stays one log event.
    pub fn emit(&self) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(self.line(TAG).as_bytes())?;
        out.flush()
    }
}

/// What the demo API (`src/bin/demo-api.rs`) meters for one call: one `api-calls` unit for the customer named in
/// the `x-customer-id` header, with the request id as `uniqueId` (API Gateway retries keep it, so a replayed call
/// is not billed twice) and the route as a dimension. `None` (and a 400) without a customer.
pub fn api_call<'a>(customer: Option<&'a str>, route: &'a str, request_id: &'a str, time_ms: i64) -> Option<Meter<'a>> {
    let customer = customer.map(str::trim).filter(|c| !c.is_empty())?;
    Some(Meter::new(customer, "api-calls", 1.0, time_ms).unique_id(request_id).dimension("route", route))
}
