//! The delivery ledger: what each billing platform accepted, kept by logmeter, so that nothing is billed twice
//! whatever the platform's de-duplication window. A platform forgets an id after its window (Stripe 24 h,
//! OpenMeter 24 h self-hosted, Metronome 34 days); Kinesis keeps records up to 365 days, and replays and backfills
//! reach further still.
//!
//! Entries are create-only objects in the ingest bucket (a directory with `--out`):
//! `<BILLING_LEDGER_PREFIX>/<platform>/<YYYY-MM-DD>/<shard>/<last>-<first>-<digest>.json`, a JSON array of the
//! de-duplication ids a platform accepted (or answered as duplicates), for the records of sortable sequence numbers
//! `first..=last` whose events fall on that date (`meterTimeInMillis`). Before it sends, an outlet lists the
//! entries of its shard and dates from the batch's first sequence number on (`start-after`, so older entries cost
//! nothing) and leaves out every id they hold. A backfill, whose records come on shards of their own, reads every
//! entry of the dates instead; a live lookup also reads the backfill shards' entries of its dates (few), so what a
//! backfill billed is not billed again when the stream delivers it late.
//!
//! Before it sends, an outlet also writes the ids it is about to send and when
//! (`<…>/<platform>/intent/<shard>/<last>-<first>-<digest>.json`, `{"at": <epoch ms>, "ids": […]}`): when the
//! ledger cannot be written, nothing is sent.
//!
//! The split of the work: the platform's window covers the gap between its commit and the ledger entry (a response
//! lost after the platform took the events, an invocation that ends before the entry is written: the retry usually
//! comes within minutes, and the platform drops the duplicates); the ledger covers everything after. When the
//! retry comes later than the platform's window (a ledger that could not be written for a day, a failure
//! destination replayed next week), an id sent then and never recorded may or may not have been billed, and the
//! platform would no longer drop it: such ids are *unsettled* ([`Ledger::unsettled`]) and are not sent again but
//! quarantined, for someone to check against the platform. Found by the simulation (`tests/it/sim.rs`).

use crate::plan::{Parcel, digest16};
use crate::sink::{SharedObjects, SinkError};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// How every backfill shard's name begins (`crate::backfill::shard_of`).
const BACKFILL_SHARDS: &str = "shardId-9";

/// How far the function's clock may be behind Kinesis's arrival times, in ms: an intent is taken to be written no
/// earlier than this before its record arrived.
pub const CLOCK_SKEW: i64 = 3_600_000;

/// Ids per ledger entry at most: a batch's deliveries are written in entries of this many.
pub const IDS_PER_ENTRY: usize = 1000;

/// The ledger of one platform.
#[derive(Debug, Clone)]
pub struct Ledger {
    store: Arc<dyn SharedObjects>,
    /// `<BILLING_LEDGER_PREFIX>/<platform>`.
    root: String,
    /// Whether every shard's entries of a date are read (a backfill).
    across_shards: bool,
    /// The platform's de-duplication window.
    window: std::time::Duration,
    /// Now, for the age of an intent.
    clock: super::Clock,
}

/// The part of a batch an entry or a lookup is about.
#[derive(Debug, Clone, Copy)]
pub struct Span<'a> {
    /// The shard.
    pub shard: &'a str,
    /// The first record's sortable sequence number.
    pub first: &'a str,
    /// The last record's.
    pub last: &'a str,
}

impl Ledger {
    /// The ledger of `platform` in `store`, under `prefix`.
    pub fn new(store: Arc<dyn SharedObjects>, prefix: &str, platform: &str, across_shards: bool) -> Self {
        let (window, clock) = (super::platform::DEFAULT_WINDOW, super::Clock::default());
        Self { store, root: format!("{prefix}/{platform}"), across_shards, window, clock }
    }

    /// The same ledger, judging intents by the platform's `window` and `clock`.
    pub fn judging(mut self, window: std::time::Duration, clock: super::Clock) -> Self {
        self.window = window;
        self.clock = clock;
        self
    }

    /// Of the ids intended for the records of `span` and not `delivered`, those whose first intent is older than the
    /// platform's window: sent then and never recorded, so they may have been billed, and the platform would take
    /// them again now. Intents written before intents had a time (a plain array) count as recent.
    ///
    /// `oldest_arrival` is when the oldest of the records arrived in Kinesis (epoch ms): no intent for them was
    /// written before it, so while it is within the window (less [`CLOCK_SKEW`]) nothing can be unsettled, and the
    /// intents are not even listed. A live batch costs no request here; a late retry, a replay or a backfill does.
    pub async fn unsettled(
        &self,
        span: Span<'_>,
        delivered: &HashSet<String>,
        oldest_arrival: i64,
    ) -> Result<HashSet<String>, SinkError> {
        let mut unsettled = HashSet::new();
        let horizon =
            self.clock.now_millis().saturating_sub(i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX));
        if oldest_arrival.saturating_sub(CLOCK_SKEW) >= horizon {
            return Ok(unsettled);
        }
        let folder = format!("{}/intent/{}/", self.root, span.shard);
        let keys = self.list_all(&folder, Some(&format!("{folder}{}", span.first))).await?;
        for key in keys.into_iter().filter(|k| entry_first(k).is_some_and(|f| f <= span.last)) {
            let body = self.store.get(&key).await?;
            let intent: Intent = serde_json::from_slice(&body).map_err(|e| SinkError::Permanent {
                target: key.clone(),
                reason: format!("not a ledger intent: {e}"),
            })?;
            let (at, ids) = match intent {
                Intent::Timed { at, ids } => (at, ids),
                Intent::Untimed(ids) => (i64::MAX, ids),
            };
            if at < horizon {
                unsettled.extend(ids.into_iter().filter(|id| !delivered.contains(id)));
            }
        }
        Ok(unsettled)
    }

    /// The ids the ledger holds for the records of `span`, on `dates`.
    pub async fn delivered(&self, dates: &[&str], span: Span<'_>) -> Result<HashSet<String>, SinkError> {
        let mut ids = HashSet::new();
        for date in dates {
            let keys = if self.across_shards {
                self.list_all(&format!("{}/{date}/", self.root), None).await?
            } else {
                let folder = format!("{}/{date}/{}/", self.root, span.shard);
                // Keys sort by their last sequence number: from the batch's first on, every entry can overlap it.
                let after = format!("{folder}{}", span.first);
                let keys = self.list_all(&folder, Some(&after)).await?;
                let mut keys: Vec<String> =
                    keys.into_iter().filter(|k| entry_first(k).is_some_and(|f| f <= span.last)).collect();
                // What a backfill delivered (its shards are `shardId-9…`, never a real shard's name): few entries,
                // all read, so records a backfill billed are not billed again when the stream delivers them late.
                keys.extend(self.list_all(&format!("{}/{date}/{BACKFILL_SHARDS}", self.root), None).await?);
                keys
            };
            for key in keys {
                let body = self.store.get(&key).await?;
                let held: Vec<String> = serde_json::from_slice(&body).map_err(|e| SinkError::Permanent {
                    target: key.clone(),
                    reason: format!("not a ledger entry (a JSON array of ids): {e}"),
                })?;
                ids.extend(held);
            }
        }
        Ok(ids)
    }

    async fn list_all(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<String>, SinkError> {
        let mut keys: Vec<String> = Vec::new();
        let mut after = start_after.map(str::to_owned);
        loop {
            let page = self.store.list(prefix, after.as_deref()).await?;
            let Some(last) = page.last().cloned() else { break };
            // A store answers at most a page at a time (S3: 1,000 keys); the next starts after its last key.
            let full = page.len() >= 1000;
            keys.extend(page);
            if !full {
                break;
            }
            after = Some(last);
        }
        Ok(keys)
    }

    /// Writes, before the batch is sent, the ids about to be sent (under `<root>/intent/<shard>/`, which lookups do not
    /// read): a ledger the function cannot write stops the batch before anything is billed, so a lasting failure
    /// (a missing grant, a key policy) never turns into the same events billed again once the platform's window has
    /// passed. One PUT per batch.
    pub async fn intend(&self, span: Span<'_>, ids: &[&str]) -> Result<(), SinkError> {
        let mut sorted: Vec<&str> = ids.to_vec();
        sorted.sort_unstable();
        let body =
            serde_json::to_vec(&serde_json::json!({"at": self.clock.now_millis(), "ids": sorted})).unwrap_or_default();
        self.store.put(&keyed(&format!("{}/intent", self.root), span, body, sorted.len())).await.map(|_| ())
    }

    /// Records that `ids` (events of `date`, from the records of `span`) were accepted.
    pub async fn record(&self, date: &str, span: Span<'_>, ids: &[&str]) -> Result<(), SinkError> {
        let folder = format!("{}/{date}", self.root);
        let entries: Vec<Parcel> = ids.chunks(IDS_PER_ENTRY).map(|chunk| entry(&folder, span, chunk)).collect();
        // The entries at the same time: each is a request to the bucket.
        let written = futures_util::future::join_all(entries.iter().map(|e| self.store.put(e))).await;
        written.into_iter().try_for_each(|w| w.map(|_| ()))
    }
}

/// The entry of `ids` in `folder`: `<folder>/<shard>/<last>-<first>-<digest>.json`, a sorted JSON array (so the same
/// ids are the same entry).
fn entry(folder: &str, span: Span<'_>, ids: &[&str]) -> Parcel {
    let mut sorted: Vec<&str> = ids.to_vec();
    sorted.sort_unstable();
    let body = serde_json::to_vec(&sorted).unwrap_or_default();
    keyed(folder, span, body, sorted.len())
}

/// `body` (of `items` ids) under `<folder>/<shard>/<last>-<first>-<digest>.json`: the key of every entry and intent.
fn keyed(folder: &str, span: Span<'_>, body: Vec<u8>, items: usize) -> Parcel {
    let key = format!("{folder}/{}/{}-{}-{}.json", span.shard, span.last, span.first, digest16(&body));
    Parcel { key, items, body }
}

/// An intent as written: when, and the ids; or, written before intents had a time, the ids alone.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Intent {
    Timed { at: i64, ids: Vec<String> },
    Untimed(Vec<String>),
}

/// The first sequence number an entry's key names (`…/<last>-<first>-<digest>.json`).
fn entry_first(key: &str) -> Option<&str> {
    let name = key.rsplit('/').next()?;
    let mut parts = name.splitn(3, '-');
    let (_, first) = (parts.next()?, parts.next()?);
    Some(first)
}

/// Ids by date, for [`Ledger::record`].
pub type ByDate<'a> = BTreeMap<&'a str, Vec<&'a str>>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::MemorySink;

    #[test]
    fn valid_intents_older_than_the_window_and_never_recorded_are_unsettled() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let memory = Arc::new(MemorySink::new());
        let store: Arc<dyn SharedObjects> = memory.clone();
        let now = Arc::new(std::sync::atomic::AtomicI64::new(1_795_200_000_000));
        let hours = |h: i64| now.fetch_add(h * 3_600_000, std::sync::atomic::Ordering::SeqCst);
        let day = std::time::Duration::from_secs(24 * 3600);
        let ledger =
            Ledger::new(store.clone(), "l", "stripe", false).judging(day, super::super::Clock::set_by(now.clone()));
        let span = |first, last| Span { shard: "s1", first, last };
        rt.block_on(async {
            ledger.intend(span("0005", "0009"), &["a", "b", "c"]).await.unwrap();
            ledger.record("2026-12-06", span("0005", "0009"), &["a", "b"]).await.unwrap();
            // Written before intents had a time: never judged old.
            let legacy =
                Parcel { key: "l/stripe/intent/s1/0009-0005-legacy.json".into(), body: br#"["d"]"#.to_vec(), items: 1 };
            store.put(&legacy).await.unwrap();
            // Another span's intent.
            ledger.intend(span("0020", "0030"), &["e"]).await.unwrap();
            let unsettled = |first, last| {
                let ledger = ledger.clone();
                async move {
                    let held = ledger.delivered(&["2026-12-06"], span(first, last)).await.unwrap();
                    // The records arrived long ago (a replay): the intents are read.
                    let mut v: Vec<String> =
                        ledger.unsettled(span(first, last), &held, 0).await.unwrap().into_iter().collect();
                    v.sort();
                    v
                }
            };
            hours(23);
            assert_eq!(unsettled("0005", "0009").await, Vec::<String>::new(), "within the window: sent again");
            hours(2);
            assert_eq!(unsettled("0005", "0009").await, ["c"], "past the window, never recorded");
            assert_eq!(unsettled("0001", "0004").await, Vec::<String>::new(), "records before the intent");
            assert_eq!(unsettled("0007", "0025").await, ["c", "e"], "overlapping both intents");
            // A retry's new intent does not make the first one younger.
            ledger.intend(span("0005", "0009"), &["c"]).await.unwrap();
            assert_eq!(unsettled("0005", "0009").await, ["c"]);
            // Records that arrived within the window cannot have an intent older than it: nothing is listed.
            let arrived = now.load(std::sync::atomic::Ordering::SeqCst) - 3_600_000;
            let lists = memory.lists.load(std::sync::atomic::Ordering::SeqCst);
            let none = ledger.unsettled(span("0005", "0009"), &HashSet::new(), arrived).await.unwrap();
            assert!(none.is_empty());
            assert_eq!(memory.lists.load(std::sync::atomic::Ordering::SeqCst), lists, "no LIST for a live batch");
        });
    }

    #[test]
    fn valid_entries_are_found_by_overlapping_records_only_and_by_date_across_shards() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let store: Arc<dyn SharedObjects> = Arc::new(MemorySink::new());
        let ledger = Ledger::new(store.clone(), "l", "stripe", false);
        let span = |first, last| Span { shard: "s1", first, last };
        rt.block_on(async {
            ledger.record("2026-12-06", span("0005", "0009"), &["a", "b"]).await.unwrap();
            ledger.record("2026-12-06", span("0010", "0012"), &["c"]).await.unwrap();
            ledger.record("2026-12-07", span("0005", "0009"), &["d"]).await.unwrap();
            let found = |first, last, dates: &'static [&'static str]| {
                let ledger = ledger.clone();
                async move {
                    let mut v: Vec<String> =
                        ledger.delivered(dates, span(first, last)).await.unwrap().into_iter().collect();
                    v.sort();
                    v
                }
            };
            assert_eq!(found("0001", "0004", &["2026-12-06"]).await, Vec::<String>::new(), "before every entry");
            assert_eq!(found("0009", "0010", &["2026-12-06"]).await, ["a", "b", "c"], "overlaps both");
            assert_eq!(found("0011", "0020", &["2026-12-06"]).await, ["c"], "after the first entry");
            assert_eq!(found("0006", "0006", &["2026-12-06", "2026-12-07"]).await, ["a", "b", "d"], "two dates");
            // Recording the same ids again is the same entry, not a second one.
            ledger.record("2026-12-06", span("0010", "0012"), &["c"]).await.unwrap();
            assert_eq!(store.list("l/stripe/2026-12-06/", None).await.unwrap().len(), 2);
            let backfill = Ledger::new(store.clone(), "l", "stripe", true);
            let other_shard = Span { shard: "backfill-x", first: "0100", last: "0200" };
            let mut all: Vec<String> =
                backfill.delivered(&["2026-12-06"], other_shard).await.unwrap().into_iter().collect();
            all.sort();
            assert_eq!(all, ["a", "b", "c"], "a backfill reads every shard of the date");
            // What a backfill wrote, the live route finds.
            let backfilled = Ledger::new(store.clone(), "l", "stripe", true);
            let shard = "shardId-90000000000000000042";
            backfilled.record("2026-12-06", Span { shard, first: "0001", last: "0002" }, &["e"]).await.unwrap();
            assert_eq!(
                found("0100", "0200", &["2026-12-06"]).await,
                ["e"],
                "the live route reads the backfills' entries"
            );
        });
    }
}
