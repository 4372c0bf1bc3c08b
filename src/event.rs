//! The Lambda Kinesis event, read leniently.
//!
//! `aws_lambda_events::event::kinesis::KinesisEvent` decodes every record's base64 `data` while the event is
//! deserialized, so one malformed record would fail the whole invocation and block the shard. This model keeps
//! `data` as text and decodes it record by record, so a bad record is quarantined on its own.

use serde::Deserialize;
use std::cmp::Ordering;
use std::fmt;

/// A Lambda invocation event from a Kinesis event source mapping (`{"Records":[…]}`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KinesisBatch {
    /// The records of one shard, in sequence order.
    #[serde(rename = "Records", default)]
    pub records: Vec<KinesisInput>,
}

/// One record of the batch: the Kinesis fields logmeter needs, nothing else.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisInput {
    /// `shardId-…:<sequence number>`.
    #[serde(rename = "eventID", default)]
    pub event_id: String,
    /// Region of the stream, which is also the region of the subscribed log groups.
    #[serde(default)]
    pub aws_region: Option<String>,
    /// ARN of the stream.
    #[serde(rename = "eventSourceARN", default)]
    pub event_source_arn: Option<String>,
    /// The Kinesis part of the record.
    pub kinesis: KinesisData,
}

/// The `kinesis` object of a record.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisData {
    /// Decimal sequence number, up to 56 digits.
    #[serde(default)]
    pub sequence_number: String,
    /// Partition key chosen by CloudWatch Logs.
    #[serde(default)]
    pub partition_key: String,
    /// Base64 of the gzip of the CloudWatch Logs payload.
    #[serde(default)]
    pub data: String,
    /// Seconds since the epoch (fractional) at which Kinesis accepted the record.
    #[serde(default)]
    pub approximate_arrival_timestamp: f64,
}

impl KinesisInput {
    /// The shard id, taken from `eventID` (`shardId-000000000006:4959…`), or from nothing: `unknown-shard`.
    pub fn shard_id(&self) -> &str {
        match self.event_id.split_once(':') {
            Some((shard, _)) if !shard.is_empty() => shard,
            _ => "unknown-shard",
        }
    }

    /// Arrival time in epoch milliseconds (0 when absent or not finite).
    pub fn arrival_millis(&self) -> i64 {
        let s = self.kinesis.approximate_arrival_timestamp;
        if s.is_finite() && s > 0.0 { (s * 1000.0) as i64 } else { 0 }
    }
}

/// A Kinesis sequence number: a decimal string compared as a big integer.
///
/// Real sequence numbers have 56 digits (more than `u128` holds), so comparison is by significant length and
/// then by digits, which is exact for any length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    /// Parses a decimal sequence number; `None` when empty or not all ASCII digits.
    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self(s.to_owned()))
    }

    /// The sequence number exactly as Kinesis wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn significant(&self) -> &str {
        let t = self.0.trim_start_matches('0');
        if t.is_empty() { "0" } else { t }
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.significant(), other.significant());
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_sequence_numbers_compare_as_integers() {
        let table = [
            ("9", "10", Ordering::Less),
            ("0010", "9", Ordering::Greater),
            ("000", "0", Ordering::Equal),
            (
                "49590338271490256608559692538361571095921575989136588898",
                "49590338271490256608559692540925702759324208523137515618",
                Ordering::Less,
            ),
            (
                "49590338271490256608559692538361571095921575989136588898",
                "4959033827149025660855969253836157109592157598913658889",
                Ordering::Greater,
            ),
        ];
        for (a, b, want) in table {
            let (a, b) = (SequenceNumber::parse(a).unwrap(), SequenceNumber::parse(b).unwrap());
            assert_eq!(a.cmp(&b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn invalid_sequence_numbers_are_refused() {
        for s in ["", "12a", "-1", "1.5", " 1"] {
            assert!(SequenceNumber::parse(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn shard_id_comes_from_event_id() {
        let mut r = KinesisInput { event_id: "shardId-000000000006:4959".into(), ..Default::default() };
        assert_eq!(r.shard_id(), "shardId-000000000006");
        r.event_id = String::new();
        assert_eq!(r.shard_id(), "unknown-shard");
    }
}
