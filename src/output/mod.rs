//! Outputs: where the values of a Kinesis record go. **An output is a folder** here, holding its settings
//! (`settings.rs`, with its rows of the settings table), its encoder and keys, its outlet and failure policy, its
//! client and `--out` stand-in, and its templates.
//!
//! Planning ([`crate::pipeline`]) turns a record into values — meter records, invocation reports, quarantine
//! entries ([`RecordValues`]) — and hands them to every configured output's [`Encoder`], which is pure and runs on
//! the planning threads. What an encoder yields is a list of [`Parcel`]s: a key (an object key, or a bulk request's
//! name) and the bytes to deliver. The handler then gives each parcel to the [`Outlet`] of the same output, which
//! delivers it (the only I/O) and applies the output's failure policy.
//!
//! | output | encoder | outlet | on failure |
//! |---|---|---|---|
//! | [`INGEST`] | [`ingest::IngestEncoder`]: meter records as JSON arrays per date and part | [`ingest::BatchObjectOutlet`], or [`objects::ObjectOutlet`] per record, over S3 / a directory | the record is retried |
//! | [`SEARCH`] | [`search::SearchEncoder`]: metric documents (and meter records) as bulk bodies | [`search::SearchOutlet`] | refused documents are quarantined; an outage spools the body, or retries the record |
//! | [`prometheus::PROMETHEUS`] | [`prometheus::PrometheusEncoder`]: rollup figures as remote write entries or Pushgateway groups | [`prometheus::PrometheusOutlet`] | refused requests are quarantined; an outage spools the request, or retries the record |
//! | [`QUARANTINE`] | [`quarantine::QuarantineEncoder`]: what could not be processed, whole records included | [`objects::ObjectOutlet`] over the quarantine bucket, which is also the [`QuarantineStore`] every outlet keeps refused or spooled parcels in | the record is retried |
//!
//! Every output is registered in one place, [`register`]: one line that builds its encoder and outlet from the
//! settings and its store. One builder, [`crate::Handler::assemble`], turns the list into the handler for the
//! Lambda, `process`, `replay` and `backfill` (a backfill changes the settings, [`crate::backfill::configure`],
//! never the list).

pub mod billing;
pub mod ingest;
pub mod objects;
pub mod prometheus;
pub mod quarantine;
pub mod search;
mod settings;

pub use crate::plan::Packed;
pub use crate::plan::{Parcel, RecordValues};
use crate::sink::SinkError;
use crate::summary::Summary;
pub use settings::{Settings, settings_rows};
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// The ingest objects: meter records for the billing platform.
pub const INGEST: &str = "ingest";
/// The search mirror: metric documents (and, optionally, meter records) through the bulk API.
pub const SEARCH: &str = "search";
/// The quarantine store: what could not be processed, kept for replay.
pub const QUARANTINE: &str = "quarantine";

/// The pure half of a destination: values in, parcels out. Deterministic: the same values always give the same
/// parcels, so a retry finds what an earlier attempt delivered.
pub trait Encoder: Send + Sync + Debug {
    /// The destination this encoder feeds ([`INGEST`], [`SEARCH`], …).
    fn destination(&self) -> &'static str;
    /// Appends the parcels of one record's values.
    fn encode(&self, values: &RecordValues<'_>, out: &mut Vec<Parcel>);
}

/// A boxed future (outlets are trait objects, so the handler holds any list of them).
pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One record's parcels for one destination, as its outlet receives them with the rest of the batch.
#[derive(Debug, Clone, Copy)]
pub struct Consignment<'a> {
    /// Shard id.
    pub shard: &'a str,
    /// The sequence number as received.
    pub sequence_number: &'a str,
    /// The record's Kinesis arrival time, epoch ms: dates spooled and refused parcels.
    pub arrival_millis: i64,
    /// What the record's encoder yielded for this destination (empty when nothing).
    pub parcels: &'a [Parcel],
}

/// What an outlet did with a batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Shipped {
    /// Counters of what was delivered or found already delivered.
    pub summary: Summary,
    /// Per consignment, in order: `true` when some of it was not delivered, so the record must be retried.
    pub failed: Vec<bool>,
}

impl Shipped {
    /// Nothing done yet for `records` consignments.
    pub fn new(records: usize) -> Self {
        Self { summary: Summary::default(), failed: vec![false; records] }
    }
}

/// What an outlet may need besides its parcels.
#[derive(Clone, Copy)]
pub struct Landing<'a> {
    /// The quarantine store, for what a destination keeps instead of delivering (refused documents, spooled
    /// bodies).
    pub quarantine: &'a dyn QuarantineStore,
    /// The invocation's deadline: no request starts when less than [`DEADLINE_MARGIN`] is left.
    pub deadline: Option<Instant>,
}

/// Time kept in hand before the Lambda deadline: delivery stops when less than this is left.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

impl Landing<'_> {
    /// Whether it is too late to start another request.
    pub fn too_late(&self) -> bool {
        self.deadline.is_some_and(|d| d.saturating_duration_since(Instant::now()) < DEADLINE_MARGIN)
    }
}

/// The I/O half of a destination: delivers a batch's parcels create-only (what an earlier attempt delivered counts
/// as delivered, never as a second copy), counts what it did, and says which records must be retried.
pub trait Outlet: Send + Sync + Debug {
    /// The destination this outlet delivers ([`INGEST`], [`SEARCH`], …).
    fn destination(&self) -> &'static str;
    /// Delivers a batch: `batch[i]` is record `i`'s consignment, and so is `failed[i]` of the answer.
    fn deliver<'a>(&'a self, batch: &'a [Consignment<'a>], landing: Landing<'a>) -> Boxed<'a, Shipped>;
}

/// An outlet shared with another holder (the quarantine store is both an outlet and the [`QuarantineStore`]).
impl<T: Outlet + ?Sized> Outlet for std::sync::Arc<T> {
    fn destination(&self) -> &'static str {
        (**self).destination()
    }

    fn deliver<'a>(&'a self, batch: &'a [Consignment<'a>], landing: Landing<'a>) -> Boxed<'a, Shipped> {
        (**self).deliver(batch, landing)
    }
}

/// Where the other destinations keep what they do not deliver (refused documents and samples, spooled requests):
/// a type of its own, handed to every outlet in [`Landing`], never an outlet looked up by its name.
pub trait QuarantineStore: Send + Sync + Debug {
    /// Keeps one parcel under its key, create-only; `Err` when it was not kept.
    fn keep<'a>(&'a self, parcel: &'a Parcel) -> Boxed<'a, Result<Summary, SinkError>>;
}

/// The store of a handler built without a quarantine store (never by the registration list): it keeps nothing,
/// so what would be kept is retried with its record.
#[derive(Debug)]
pub struct NoQuarantine;

impl QuarantineStore for NoQuarantine {
    fn keep<'a>(&'a self, parcel: &'a Parcel) -> Boxed<'a, Result<Summary, SinkError>> {
        Box::pin(async move {
            Err(SinkError::Permanent { target: parcel.key.clone(), reason: "no quarantine store to keep it in".into() })
        })
    }
}

/// A batch's fragments for one destination, named for packing: their keys are `<shard>/<sequence>` (one folder
/// per batch: Kinesis batches hold one shard).
pub(crate) struct BatchFragments<'a> {
    named: Vec<Named<'a>>,
}

/// A fragment: its record's position, its key split into folder and sortable sequence number, and itself.
type Named<'a> = (usize, (&'a str, std::borrow::Cow<'a, str>), &'a Parcel);

impl<'a> BatchFragments<'a> {
    /// The fragments of `batch`, in order.
    pub(crate) fn new(batch: &'a [Consignment<'a>]) -> Self {
        let named = batch
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.parcels.iter().map(move |p| (i, crate::plan::fragment_parts(&p.key), p)))
            .collect();
        Self { named }
    }

    /// The shard (the folder of every key; empty when there are no fragments).
    pub(crate) fn shard(&self) -> &str {
        self.named.first().map_or("", |(_, (folder, _), _)| folder.trim_end_matches('/'))
    }

    /// `(record, sortable sequence number, fragment)` of each, as the packers take them.
    pub(crate) fn list(&self) -> Vec<(usize, &str, &Parcel)> {
        self.named.iter().map(|(i, (_, s), p)| (*i, &**s, *p)).collect()
    }
}

/// Logs a delivery that failed (`then` says what follows: the records reported for retry, a body spooled) and
/// counts it in `summary` when it was refused for lack of permission: an access error is named as one, with its
/// action and resource, never as an unnamed transient failure.
pub(crate) fn delivery_failed(e: &SinkError, then: &str, summary: &mut Summary) {
    match e {
        SinkError::AccessDenied { action, target, detail } => {
            summary.access_denied += 1;
            tracing::error!(%action, resource = %target, %detail, "access denied: {then}");
        }
        _ => tracing::error!(error = %e, "delivery failed: {then}"),
    }
}

/// Sends the packed requests as `requests` yields them, `concurrency` at a time (a request is made when a slot is
/// free, and dropped once answered, so only those in flight are held), adds up what they did, and marks the
/// records of each request that failed for retry (`records` consignments in the batch).
pub(crate) async fn send_packed<I, F, Fut>(requests: I, records: usize, concurrency: usize, send: F) -> Shipped
where
    I: Iterator<Item = Packed>,
    F: FnMut(Packed) -> Fut,
    Fut: Future<Output = (Packed, Result<Summary, SinkError>)>,
{
    use futures_util::StreamExt;
    let mut shipped = Shipped::new(records);
    let mut answers = std::pin::pin!(futures_util::stream::iter(requests).map(send).buffered(concurrency));
    while let Some((packed, result)) = answers.next().await {
        match result {
            Ok(summary) => shipped.summary += summary,
            Err(e) => {
                let then = format!("the records of request {} reported for retry", packed.parcel.key);
                delivery_failed(&e, &then, &mut shipped.summary);
                packed.records.iter().for_each(|&r| shipped.failed[r] = true);
            }
        }
    }
    shipped
}

/// Keeps `parcel` in the quarantine store (refused documents or samples, spooled requests).
pub(crate) async fn keep_in_quarantine(parcel: Parcel, landing: Landing<'_>) -> Result<Summary, SinkError> {
    landing.quarantine.keep(&parcel).await
}

/// The parcels one record planned for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The destination.
    pub destination: &'static str,
    /// Its parcels, in order.
    pub parcels: Vec<Parcel>,
}

/// The stores the outputs deliver to, each present or not: what every handler is built from, in the Lambda,
/// `process`, `replay` and `backfill` alike ([`crate::Handler::assemble`]).
#[derive(Debug)]
pub struct Stores<O, Q, S, M> {
    /// The ingest objects' store: the bucket, or a directory.
    pub ingest: O,
    /// The quarantine store: the quarantine bucket (the ingest bucket by default), or a directory.
    pub quarantine: Q,
    /// The search mirror, when there is one.
    pub search: Option<S>,
    /// Whether a mirror outage spools bodies under `QUARANTINE_PREFIX` rather than retrying the records.
    pub spool: bool,
    /// Prometheus, with its settings, when it is configured.
    pub prometheus: Option<(crate::output::prometheus::PrometheusConfig, M)>,
    /// The billing platforms' way out and ledger.
    pub billing: billing::Stores,
}

/// One output as the registration list holds it: its encoder (none for the quarantine store, whose encoder every
/// pipeline has, for it reads entries rather than values) and its outlet.
pub struct Registered {
    /// Values to parcels, on the planning threads.
    pub encoder: Option<Box<dyn Encoder>>,
    /// Parcels to the store, with the output's failure policy.
    pub outlet: Box<dyn Outlet>,
    /// The quarantine store, from the one output that is it.
    pub quarantine: Option<std::sync::Arc<dyn QuarantineStore>>,
}

/// **The registration list**: every output logmeter has, in the order the handler runs them, each built from
/// `settings` and its store when the store is present. A new output is a folder beside these and one line here.
pub fn register<O, Q, S, M>(settings: &Settings, stores: Stores<O, Q, S, M>) -> Vec<Registered>
where
    O: crate::sink::ObjectSink + 'static,
    Q: crate::sink::ObjectSink + 'static,
    S: crate::output::search::SearchSink + 'static,
    M: crate::output::prometheus::MetricsSink + 'static,
{
    let mut outputs = vec![ingest::register(&settings.ingest, stores.ingest), quarantine::register(stores.quarantine)];
    outputs.extend(stores.search.map(|s| search::register(settings, s, stores.spool)));
    outputs.extend(stores.prometheus.map(|(p, m)| prometheus::register(settings, &p, m)));
    outputs.extend(billing::register(&settings.billing, &settings.quarantine.prefix, &stores.billing));
    outputs
}
