//! Payloads, gzip, and the Kinesis event around them.

use super::invocation::{Invocation, PROFILES, Profile};
use super::{Rng, Sample, Spec, Truth};
use base64::Engine as _;
use flate2::{Compression, write::GzEncoder};
use serde::Serialize;
use serde_json::json;
use std::io::Write;

/// 2026-11-19T23:40:00Z: the samples straddle midnight, so records land under two dates.
const START_MS: i64 = 1_795_131_600_000;
const ACCOUNT: &str = "123456789012";
const SHARD: &str = "shardId-000000000003";

/// A CloudWatch Logs subscription payload, its fields in the order CloudWatch Logs writes them (a struct keeps
/// field order; `json!` would sort the keys).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CwlPayload<'a> {
    message_type: &'a str,
    owner: &'a str,
    log_group: &'a str,
    log_stream: &'a str,
    subscription_filters: &'a [&'a str],
    log_events: Vec<CwlEvent>,
}

#[derive(Serialize)]
struct CwlEvent {
    id: String,
    timestamp: i64,
    message: String,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

struct Builder<'a> {
    spec: &'a Spec,
    rng: Rng,
    truth: Truth,
    records: Vec<String>,
    bytes: usize,
    now: i64,
    seq: u64,
    event_counter: u64,
}

impl Builder<'_> {
    fn next_seq(&mut self) -> String {
        self.seq += self.rng.range(1_000_000, 1_000_000_000);
        format!("49656{:051}", self.seq)
    }

    fn push_record(&mut self, data: &[u8], partition_key: &str) {
        let seq = self.next_seq();
        let arrival = (self.now + 200) as f64 / 1000.0;
        let record = json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": partition_key,
                "sequenceNumber": seq,
                "data": base64::engine::general_purpose::STANDARD.encode(data),
                "approximateArrivalTimestamp": arrival,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": format!("{SHARD}:{seq}"),
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": format!("arn:aws:iam::{ACCOUNT}:role/logmeter-function"),
            "awsRegion": "eu-west-1",
            "eventSourceARN": format!("arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/logmeter-logs"),
        })
        .to_string();
        self.bytes += record.len() + 1;
        self.records.push(record);
        self.truth.counts.kinesis_records += 1;
    }

    fn data_record(&mut self) {
        let profile: Profile = *self.rng.pick(&PROFILES);
        let day = super::invocation::iso(self.now)[..10].replace('-', "/");
        let env = self.rng.hex(32);
        let stream = if profile.custom_group {
            format!("{day}/{}[{}]{env}", profile.name, profile.version)
        } else {
            format!("{day}/[{}]{env}", profile.version)
        };
        let target = self.rng.range(self.spec.events_per_record.0, self.spec.events_per_record.1) as usize;
        let mut events = Vec::new();
        let mut cold = self.rng.chance(30);
        while events.len() < target {
            Invocation {
                rng: &mut self.rng,
                truth: &mut self.truth,
                profile: &profile,
                events: &mut events,
                now: &mut self.now,
                bad_percent: self.spec.bad_line_percent,
                print_lines: self.spec.print_lines,
                init_failure_percent: self.spec.init_failure_percent,
            }
            .run(cold);
            cold = false;
        }
        self.truth.counts.log_events += events.len();
        if !self.spec.split_invocations {
            return self.push_data(profile.group, &stream, events);
        }
        // Each log stream flushes a few lines at a time: an invocation's events spread over several records.
        let mut rest = events.into_iter().peekable();
        while rest.peek().is_some() {
            let n = self.rng.range(self.spec.events_per_record.0, self.spec.events_per_record.1) as usize;
            let chunk: Vec<(i64, String)> = rest.by_ref().take(n).collect();
            self.push_data(profile.group, &stream, chunk);
        }
    }

    /// Pushes one data record holding `events` of `stream`.
    fn push_data(&mut self, group: &str, stream: &str, events: Vec<(i64, String)>) {
        let log_events = events
            .into_iter()
            .map(|(timestamp, message)| {
                self.event_counter += 1;
                CwlEvent { id: format!("{timestamp:020}{:036}", self.event_counter), timestamp, message }
            })
            .collect();
        let payload = CwlPayload {
            message_type: "DATA_MESSAGE",
            owner: ACCOUNT,
            log_group: group,
            log_stream: stream,
            subscription_filters: &["logmeter"],
            log_events,
        };
        let payload = serde_json::to_string(&payload).unwrap_or_default();
        // CloudWatch Logs sometimes concatenates gzip members; a few records do too.
        let data = if self.rng.chance(5) {
            let mid = payload.len() / 2;
            let mut d = gzip(&payload.as_bytes()[..mid]);
            d.extend(gzip(&payload.as_bytes()[mid..]));
            d
        } else {
            gzip(payload.as_bytes())
        };
        let key = self.rng.hex(32);
        self.push_record(&data, &key);
    }

    fn control_record(&mut self) {
        let payload = CwlPayload {
            message_type: "CONTROL_MESSAGE",
            owner: "CloudwatchLogs",
            log_group: "",
            log_stream: "",
            subscription_filters: &[],
            log_events: vec![CwlEvent {
                id: String::new(),
                timestamp: self.now,
                message: "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.".into(),
            }],
        };
        self.truth.counts.control_messages += 1;
        self.push_record(&gzip(serde_json::to_string(&payload).unwrap_or_default().as_bytes()), "control");
    }

    fn corrupt_records(&mut self) {
        let valid =
            gzip(br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[]}"#);
        let bomb = gzip(&vec![b' '; (16 << 20) + 1]);
        let cases: [(&'static str, Vec<u8>); 5] = [
            ("not-gzip", br#"{"messageType":"DATA_MESSAGE"}"#.to_vec()),
            ("truncated-gzip", valid[..valid.len() / 2].to_vec()),
            ("gzip-not-json", gzip(b"this is not a CloudWatch Logs payload")),
            ("gzip-wrong-json", gzip(br#"{"Records":[]}"#)),
            ("over-inflate-cap", bomb),
        ];
        for (label, data) in cases {
            self.truth.counts.quarantined += 1;
            self.truth.counts.quarantined_kinesis_records += 1;
            self.truth.bad.push(label);
            self.push_record(&data, label);
        }
    }
}

/// Builds the event for `spec`.
pub fn build(spec: &Spec) -> Sample {
    let mut b = Builder {
        spec,
        rng: Rng::new(spec.seed),
        truth: Truth::default(),
        records: Vec::new(),
        bytes: 14,
        now: spec.start_ms.unwrap_or(START_MS),
        seq: 0,
        event_counter: 0,
    };
    let mut data_records = 0;
    // A sparse stream counts every record; otherwise each call adds one data record.
    let records = |b: &Builder<'_>, data_records: usize| {
        if spec.split_invocations { b.truth.counts.kinesis_records } else { data_records }
    };
    while records(&b, data_records) < spec.max_data_records && b.bytes < spec.max_event_bytes {
        if data_records == 2 && spec.corrupt_records {
            b.corrupt_records();
        }
        if spec.control_messages > b.truth.counts.control_messages && data_records % 37 == 1 {
            b.control_record();
        }
        b.data_record();
        data_records += 1;
        // The next day, once this day's share of the records is written.
        let share = spec.max_data_records / spec.days.max(1) as usize;
        let day = records(&b, data_records) / share.max(1);
        let start = spec.start_ms.unwrap_or(START_MS);
        if spec.days > 1 && (b.now - start) / 86_400_000 < day as i64 && day < spec.days as usize {
            b.now += 86_400_000;
        }
    }
    let event = format!("{{\"Records\":[{}]}}", b.records.join(","));
    Sample { event, truth: b.truth }
}
