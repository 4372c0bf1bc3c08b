//! The Lambda Kinesis event, read leniently.
//!
//! `aws_lambda_events::event::kinesis::KinesisEvent` decodes every record's base64 `data` while the event is
//! deserialized, so one malformed record would fail the whole invocation and block the shard. This model keeps
//! `data` as text and decodes it record by record, so a bad record is quarantined on its own.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::cmp::Ordering;
use std::fmt;

/// A Lambda invocation event from a Kinesis event source mapping (`{"Records":[…]}`).
///
/// Each record is read on its own: a record whose fields are not what Kinesis writes (a missing `kinesis`, a `data`
/// that is not a string, a duplicated key, …) does not make the event unreadable. It is kept with
/// [`KinesisInput::unreadable`] set, and the pipeline quarantines it whole while the others are processed.
///
/// [`KinesisBatch::from_slice`] reads it from text in memory without copying each record's JSON first.
#[derive(Debug, Clone, Default)]
pub struct KinesisBatch {
    /// The records of one shard, in sequence order.
    pub records: Vec<KinesisInput>,
}

impl<'de> Deserialize<'de> for KinesisBatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Records {
            #[serde(rename = "Records", default)]
            records: Vec<Box<RawValue>>,
        }
        let raw = Records::deserialize(d)?;
        Ok(Self::from_raw(raw.records.iter().map(|r| r.get())))
    }
}

impl KinesisBatch {
    /// Reads an event from its JSON text, each record's JSON borrowed from the text while it is read rather than
    /// copied first (as `Deserialize` must, for a reader or a `Value`): one copy of a full event fewer.
    pub fn from_slice(bytes: &[u8]) -> serde_json::Result<Self> {
        #[derive(Deserialize)]
        struct Records<'a> {
            #[serde(rename = "Records", default, borrow)]
            records: Vec<&'a RawValue>,
        }
        let raw: Records<'_> = serde_json::from_slice(bytes)?;
        Ok(Self::from_raw(raw.records.iter().map(|r| r.get())))
    }

    fn from_raw<'a>(records: impl Iterator<Item = &'a str>) -> Self {
        Self { records: records.map(KinesisInput::from_json).collect() }
    }
}

/// What the Lambda function is invoked with: a Kinesis batch, or, from an EventBridge schedule, a task for
/// logmeter (`{"logmeter": {"reconcile": {…}}}`, [`crate::reconcile::scheduled::Task`]).
#[derive(Debug, Default)]
pub struct LambdaInput {
    /// The Kinesis records (none for a task).
    pub batch: KinesisBatch,
    /// The task, as sent.
    pub task: Option<Box<RawValue>>,
}

impl<'de> Deserialize<'de> for LambdaInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "Records", default)]
            records: Vec<Box<RawValue>>,
            #[serde(rename = "logmeter", default)]
            task: Option<Box<RawValue>>,
        }
        let raw = Raw::deserialize(d)?;
        Ok(Self { batch: KinesisBatch::from_raw(raw.records.iter().map(|r| r.get())), task: raw.task })
    }
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
    /// Why the record's JSON could not be read as a Kinesis record, with its text: set by [`KinesisBatch`]'s
    /// reader instead of failing the whole event.
    #[serde(skip)]
    pub unreadable: Option<Unreadable>,
}

/// A record whose JSON is not a Kinesis record: why, and its text exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// What is wrong with it.
    pub reason: String,
    /// The record's JSON text.
    pub raw: String,
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

pub use crate::decode::MAX_TIME_MILLIS;

/// What [`KinesisInput::shard_id`] names a record whose `eventID` holds no Kinesis shard id.
pub const UNKNOWN_SHARD: &str = "unknown-shard";

/// Most digits of a sequence number (Kinesis documents up to 129).
const MAX_SEQUENCE_DIGITS: usize = 129;

impl KinesisInput {
    /// Reads one record of the event from its JSON text; a record that is not what Kinesis writes comes back with
    /// [`Self::unreadable`] set and whatever could be kept of its identity and data.
    pub fn from_json(text: &str) -> Self {
        match serde_json::from_str::<Self>(text) {
            Ok(input) => input,
            Err(e) => {
                // Keep what can be kept: the identity, and the data when it is a string.
                let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
                let str_at = |ptr: &str| v.pointer(ptr).and_then(|x| x.as_str()).unwrap_or_default().to_owned();
                Self {
                    event_id: str_at("/eventID"),
                    kinesis: KinesisData {
                        sequence_number: str_at("/kinesis/sequenceNumber"),
                        data: str_at("/kinesis/data"),
                        ..KinesisData::default()
                    },
                    unreadable: Some(Unreadable {
                        reason: format!("the record is not a Kinesis record as Kinesis writes it: {e}"),
                        raw: text.to_owned(),
                    }),
                    ..Self::default()
                }
            }
        }
    }

    /// Why this record cannot be processed before its data is even decoded: its JSON was unreadable, its shard or
    /// sequence number is not what Kinesis writes (they name its objects), or its arrival time is not a time.
    pub fn problem(&self) -> Option<String> {
        if let Some(u) = &self.unreadable {
            return Some(u.reason.clone());
        }
        let shard = self.event_id.split_once(':').map_or("", |(s, _)| s);
        if !valid_shard(shard) {
            return Some(format!(
                "eventID {:?} does not start with a Kinesis shard id (shardId- and digits, then a colon)",
                clip(&self.event_id)
            ));
        }
        if SequenceNumber::parse(&self.kinesis.sequence_number).is_none() {
            return Some(format!(
                "sequenceNumber {:?} is not a decimal Kinesis sequence number (1 to {MAX_SEQUENCE_DIGITS} digits)",
                clip(&self.kinesis.sequence_number)
            ));
        }
        if self.arrival_millis() == 0 {
            return Some(format!(
                "approximateArrivalTimestamp {} is not a time between 1970 and 9999 (epoch seconds)",
                self.kinesis.approximate_arrival_timestamp
            ));
        }
        None
    }

    /// The shard id, taken from `eventID` (`shardId-000000000006:4959…`) when it is one Kinesis writes, or
    /// `unknown-shard`.
    pub fn shard_id(&self) -> &str {
        match self.event_id.split_once(':') {
            Some((shard, _)) if valid_shard(shard) => shard,
            _ => UNKNOWN_SHARD,
        }
    }

    /// Arrival time in epoch milliseconds (0 when absent, not finite, or outside 1970–9999).
    pub fn arrival_millis(&self) -> i64 {
        let s = self.kinesis.approximate_arrival_timestamp;
        let ms = s * 1000.0;
        if ms.is_finite() && ms >= 1.0 && ms <= MAX_TIME_MILLIS as f64 { ms as i64 } else { 0 }
    }
}

/// `shardId-` and 1 to 20 digits: what Kinesis names shards.
fn valid_shard(shard: &str) -> bool {
    shard.strip_prefix("shardId-").is_some_and(|d| (1..=20).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// At most 100 bytes of a value, for a reason.
fn clip(s: &str) -> &str {
    &s[..crate::extract::floor_char_boundary(s, 100)]
}

/// A Kinesis sequence number: a decimal string compared as a big integer.
///
/// Real sequence numbers have 56 digits (more than `u128` holds), so comparison is by significant length and
/// then by digits, which is exact for any length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    /// Parses a decimal sequence number; `None` when empty, longer than 129 digits or not all ASCII digits.
    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > MAX_SEQUENCE_DIGITS || !s.bytes().all(|b| b.is_ascii_digit()) {
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
    fn valid_and_invalid_events_read_the_same_borrowed_from_text_or_from_a_value() {
        let text = r#"{"Records":[{"eventID":"shardId-000000000001:7","kinesis":{"sequenceNumber":"7","data":"aGk=","partitionKey":"p","approximateArrivalTimestamp":1795168801.5}},{"kinesis":3},{"eventID":"x","kinesis":{"data":7}}]}"#;
        let borrowed = KinesisBatch::from_slice(text.as_bytes()).unwrap();
        let from_str: KinesisBatch = serde_json::from_str(text).unwrap();
        let from_value: KinesisBatch = serde_json::from_value(serde_json::from_str(text).unwrap()).unwrap();
        let fields = |b: &KinesisBatch| {
            b.records
                .iter()
                .map(|r| (r.event_id.clone(), r.kinesis.data.clone(), r.unreadable.is_some()))
                .collect::<Vec<_>>()
        };
        assert_eq!(fields(&borrowed), fields(&from_str));
        assert_eq!(fields(&borrowed), fields(&from_value));
        assert_eq!(fields(&borrowed).iter().map(|f| f.2).collect::<Vec<_>>(), [false, true, true]);
        assert!(KinesisBatch::from_slice(b"{\"Records\":").is_err());
    }

    #[test]
    fn shard_id_comes_from_event_id() {
        let mut r = KinesisInput { event_id: "shardId-000000000006:4959".into(), ..Default::default() };
        assert_eq!(r.shard_id(), "shardId-000000000006");
        r.event_id = String::new();
        assert_eq!(r.shard_id(), "unknown-shard");
    }
}
