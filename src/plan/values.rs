//! What planning hands every encoder (a record's values), what encoders yield (parcels) and what a search engine
//! refused (for quarantine): the pure data that flows between the stages, defined here, below the destinations
//! and the sinks that both use it.

use crate::extract::{FoundReport, MeterRecords};

/// One delivery's worth of bytes: an object under its key, or a bulk body under its request name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    /// The object key (prefix included); a record's fragment (`<folder>/<sequence>`, packed per batch by its
    /// outlet); or a packed request's name (`<shard>/<last>-<first>-<digest>`).
    pub key: String,
    /// The bytes, exactly as delivered.
    pub body: Vec<u8>,
    /// Elements in the body: records, entries or bulk actions.
    pub items: usize,
}

/// The values one Kinesis record planned into, as every encoder sees them. Strings borrow from the record's
/// payload, which is in scope while the encoders run.
#[derive(Debug, Clone, Copy)]
pub struct RecordValues<'a> {
    /// Shard id.
    pub shard: &'a str,
    /// The record's name in keys and ids: its sequence number, or a digest for a record without a usable one.
    pub seq_key: &'a str,
    /// Where the payload's events came from (account, region, log group and stream): the first is the payload's
    /// own (its owner and the Kinesis record's region); events whose system fields (`@aws.account`,
    /// `@aws.region`) name another source have theirs, by index ([`FoundReport::source`]). Never empty.
    pub sources: &'a [ReportContext<'a>],
    /// Valid meter records, in log order.
    pub meters: &'a MeterRecords,
    /// Invocation reports, in log order.
    pub reports: &'a [FoundReport<'a>],
    /// Init phases that did not succeed, in log order.
    pub init_failures: &'a [crate::extract::InitFailure],
    /// What the payload's last init start said (runtime version, initialization type).
    pub init_start: &'a crate::extract::InitStart,
    /// The function configurations the metadata lookup had found when the batch was planned (descriptive fields of
    /// rollup documents; no id, price or series reads it).
    pub catalog: &'a crate::catalog::CatalogSnapshot,
}

impl<'a> RecordValues<'a> {
    /// The payload's own source (its owner and region, log group and stream, shard and sequence).
    pub fn source(&self) -> &'a ReportContext<'a> {
        self.sources.first().unwrap_or(&NO_SOURCE)
    }

    /// The source of an event by its index (the payload's own for an index out of range).
    pub fn source_of(&self, index: u16) -> &'a ReportContext<'a> {
        self.sources.get(usize::from(index)).unwrap_or(self.source())
    }
}

/// What [`RecordValues::source`] answers for values without sources (never planned so).
const NO_SOURCE: ReportContext<'static> =
    ReportContext { account: "", region: None, log_group: "", log_stream: "", shard: "", sequence: "" };

/// Where a report came from: the payload and Kinesis record around it.
#[derive(Debug, Clone, Copy)]
pub struct ReportContext<'a> {
    /// The source account: the event's `@aws.account` system field when the subscription adds it (centralised
    /// log groups), else the account that owns the log group (payload `owner`).
    pub account: &'a str,
    /// The source region: the event's `@aws.region`, else the Kinesis record's region, when either says.
    pub region: Option<&'a str>,
    /// Log group.
    pub log_group: &'a str,
    /// Log stream.
    pub log_stream: &'a str,
    /// Kinesis shard.
    pub shard: &'a str,
    /// Kinesis sequence number.
    pub sequence: &'a str,
}
