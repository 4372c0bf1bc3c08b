//! The ingest objects: meter records as JSON arrays for the billing platform, one object per UTC date of
//! `meterTimeInMillis` and part, delivered to the ingest bucket or a directory. A failure retries the record.
//!
//! Two layouts (`INGEST_LAYOUT`):
//!
//! - `batch` (the default): one object per invocation, per date and part, under
//!   `<INGEST_PREFIX>/YYYY-MM-DD/<shard>/<last>-<first>-<digest>.json` ([`batch_objects`]). The
//!   encoder yields each record's meter records by date ([`record_fragments`]); the
//!   [`BatchObjectOutlet`] packs a batch's and writes them.
//! - `record`: one object per Kinesis record, per date and part, under
//!   `<INGEST_PREFIX>/YYYY-MM-DD/<shard>/<sequence>-<part>.json`, written by an [`super::objects::ObjectOutlet`].
//!
//! # Exactly once in the batch layout
//!
//! Kinesis re-delivers records: a retry from the reported sequence number (with other batch boundaries), the
//! halves of `BisectBatchOnFunctionError`, a whole batch after a timeout, a replay. Objects cannot be named by the
//! batch, which changes between deliveries, so the rule is about meter records instead: **before writing a
//! folder's objects, the outlet reads the objects already in the folder that can hold records of this batch, and
//! leaves out each meter record found there.** Why that holds:
//!
//! - A record's meter records for one date all go to one folder (`<date>/<shard>/`), and every delivery of the
//!   record computes the same bytes for each (deterministic `uniqueId`s, minified JSON).
//! - Keys begin with the sortable sequence number of the last record an object holds, so every object holding a
//!   record at or after the batch's first sequence number sorts after `<folder><first>`: one `ListObjectsV2`
//!   with that `start-after` finds them all (objects of older records are not read), and those whose first
//!   record is after the batch's last are skipped.
//! - Puts are create-only and an S3 object appears whole or not at all, so what an earlier attempt wrote is
//!   either found whole or absent. The outlet writes a folder's objects one at a time and stops at the first
//!   failure; every record with a meter record in an object not written is reported, and the retry finds the
//!   objects that were written.
//! - Leaving out is by count: a meter record found `n` times is left out `n` times, so records that are
//!   legitimately identical in one batch are all written once.
//! - Concurrent batches of one shard (`ParallelizationFactor` > 1) hold different records: each may read the
//!   other's objects (one more `GetObject`), and finds none of its own records there.
//!
//! **Across shards** (`logmeter backfill`): a backfill's records come on a shard of their own, and the same log
//! events may already be in the bucket from the live route, under real shards. With
//! [`Settings::across_shards`], the outlet reads every object of the date (all shards) once per
//! process, keeps their meter records by count, and leaves out each one found, the same rule over the whole date.
//!
//! What it costs: one LIST per folder (normally one per batch), one PUT per object (one per batch up to
//! `MAX_OBJECT_BYTES` / `MAX_OBJECT_RECORDS`), and a GET per object found in range, which happens only on a
//! re-delivery or beside a concurrent batch. It needs `s3:ListBucket` and `s3:GetObject` besides `s3:PutObject`;
//! where those cannot be granted (some cross-account buckets), the `record` layout needs neither.

use super::objects::ObjectOutlet;
use super::{Boxed, Consignment, Encoder, INGEST, Landing, Outlet, Parcel, RecordValues, Shipped};
mod objects;
mod settings;

pub use settings::{IngestLayout, SETTINGS, Settings};

use crate::plan::{fragment_parts, gzip_objects, is_sortable};
use crate::sink::{Delivery, ObjectSink, SinkError};
pub use objects::{Piece, batch_objects, object_range, object_records, record_fragments, record_objects};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// Encodes meter records into ingest objects (`record` layout) or per-date fragments (`batch` layout).
#[derive(Debug, Clone)]
pub struct IngestEncoder {
    prefix: String,
    max_bytes: usize,
    max_records: usize,
    gzip: bool,
    layout: IngestLayout,
}

impl IngestEncoder {
    /// The encoder `config` describes (`INGEST_PREFIX`, `MAX_OBJECT_BYTES`, `MAX_OBJECT_RECORDS`, `INGEST_GZIP`,
    /// `INGEST_LAYOUT`).
    pub fn new(settings: &Settings) -> Self {
        Self {
            prefix: settings.prefix.clone(),
            max_bytes: settings.max_object_bytes,
            max_records: settings.max_object_records,
            gzip: settings.gzip,
            layout: settings.layout,
        }
    }
}

impl Encoder for IngestEncoder {
    fn destination(&self) -> &'static str {
        INGEST
    }

    fn encode(&self, values: &RecordValues<'_>, out: &mut Vec<Parcel>) {
        if self.layout == IngestLayout::Batch {
            out.extend(record_fragments(values.meters, &self.prefix, values.shard, values.seq_key));
            return;
        }
        let start = out.len();
        out.extend(record_objects(
            values.meters,
            &self.prefix,
            values.shard,
            values.seq_key,
            self.max_bytes,
            self.max_records,
        ));
        if self.gzip {
            gzip_objects(&mut out[start..]);
        }
    }
}

/// The ingest objects as the registration list holds them: their encoder, and the outlet `settings`' layout needs
/// over `store`.
pub fn register<S: ObjectSink + 'static>(settings: &Settings, store: S) -> super::Registered {
    super::Registered {
        encoder: Some(Box::new(IngestEncoder::new(settings))),
        outlet: ingest_outlet(settings, store),
        quarantine: None,
    }
}

/// The outlet of `settings`' layout over `store`.
pub fn ingest_outlet<S: ObjectSink + 'static>(settings: &Settings, store: S) -> Box<dyn Outlet> {
    match settings.layout {
        IngestLayout::Batch => Box::new(BatchObjectOutlet::new(settings, store)),
        IngestLayout::Record => ObjectOutlet::boxed(INGEST, store),
    }
}

/// Packs a batch's fragments into objects and writes them under the retry rule of the module docs.
#[derive(Debug)]
pub struct BatchObjectOutlet<S> {
    store: S,
    max_bytes: usize,
    max_records: usize,
    gzip: bool,
    /// With `ingest_across_shards`: per date folder, the meter records every shard's objects hold (read once, then
    /// kept up to date with what this outlet writes).
    dates: Option<tokio::sync::Mutex<HashMap<String, Present>>>,
}

/// The date folder of a shard folder: `<prefix>/<date>/<shard>/` → `<prefix>/<date>/`.
fn date_folder(name: &str) -> String {
    let date = name.trim_end_matches('/').rsplit_once('/').map_or(name, |(d, _)| d);
    format!("{date}/")
}

/// Meter records found in objects, by their bytes, with how often.
type Present = HashMap<Vec<u8>, usize>;

/// One folder's pieces, and whether all their sequence numbers are sortable.
struct Folder<'a> {
    pieces: Vec<Piece<'a>>,
    sortable: bool,
}

impl<S: ObjectSink> BatchObjectOutlet<S> {
    /// The outlet over `store`, with `config`'s bounds and compression.
    pub fn new(settings: &Settings, store: S) -> Self {
        Self {
            store,
            max_bytes: settings.max_object_bytes,
            max_records: settings.max_object_records,
            gzip: settings.gzip,
            dates: settings.across_shards.then(Default::default),
        }
    }

    /// Every meter record in the objects of `name`'s date (all shards), by count: read once per date.
    async fn present_in_date(&self, name: &str) -> Result<HashMap<Vec<u8>, usize>, SinkError> {
        let Some(dates) = &self.dates else { return Ok(HashMap::new()) };
        let date = date_folder(name);
        let mut dates = dates.lock().await;
        if let Some(known) = dates.get(&date) {
            return Ok(known.clone());
        }
        let mut present = HashMap::new();
        for key in self.store.list(&date, None).await? {
            let body = self.store.get(&key).await?;
            if let Ok(records) = object_records(&key, &body) {
                records.into_iter().for_each(|r| *present.entry(r).or_insert(0) += 1);
            }
        }
        dates.insert(date, present.clone());
        Ok(present)
    }

    /// Adds what was written to the date's known records.
    async fn remember(&self, name: &str, written: &[crate::plan::Packed]) {
        let Some(dates) = &self.dates else { return };
        if let Some(known) = dates.lock().await.get_mut(&date_folder(name)) {
            for object in written {
                if let Ok(records) = object_records(&object.parcel.key, &object.parcel.body) {
                    records.into_iter().for_each(|r| *known.entry(r).or_insert(0) += 1);
                }
            }
        }
    }

    /// The meter records already in the folder's objects that can hold records of `folder`'s pieces, by count.
    async fn present(&self, name: &str, folder: &Folder<'_>) -> Result<HashMap<Vec<u8>, usize>, SinkError> {
        let first = folder.pieces.iter().map(|p| p.sequence).min().unwrap_or_default();
        let last = folder.pieces.iter().map(|p| p.sequence).max().unwrap_or_default();
        let start_after = folder.sortable.then(|| format!("{name}{first}"));
        let mut present = HashMap::new();
        for key in self.store.list(name, start_after.as_deref()).await? {
            let in_range = match object_range(&key) {
                Some((_, from)) if folder.sortable && is_sortable(from) => from <= last,
                _ => true,
            };
            if !in_range {
                continue;
            }
            let body = self.store.get(&key).await?;
            match object_records(&key, &body) {
                Ok(records) => records.into_iter().for_each(|r| *present.entry(r).or_insert(0) += 1),
                Err(e) => tracing::warn!(key = %key, error = %e, "not an ingest object: ignored by the retry rule"),
            }
        }
        Ok(present)
    }

    /// Delivers one folder; marks the records of what was not delivered in `failed`.
    async fn folder(&self, name: &str, folder: &Folder<'_>, landing: Landing<'_>, shipped: &mut Shipped) {
        let fail_all = |shipped: &mut Shipped| folder.pieces.iter().for_each(|p| shipped.failed[p.record] = true);
        if landing.too_late() {
            tracing::warn!(folder = %name, "deadline near: not delivered, reported for retry");
            return fail_all(shipped);
        }
        let read = match self.dates {
            Some(_) => self.present_in_date(name).await,
            None => self.present(name, folder).await,
        };
        let mut present = match read {
            Ok(present) => present,
            Err(e) => {
                let what = format!("the records of {name} reported for retry (reading what earlier attempts wrote)");
                super::delivery_failed(&e, &what, &mut shipped.summary);
                return fail_all(shipped);
            }
        };
        let (objects, skipped) =
            batch_objects(name, &folder.pieces, &mut present, self.max_bytes, self.max_records, self.gzip);
        shipped.summary.meter_records_already_present += skipped;
        for (i, object) in objects.iter().enumerate() {
            let result = if landing.too_late() {
                Err(SinkError::Transient { target: object.parcel.key.clone(), reason: "deadline near".into() })
            } else {
                self.store.put(&object.parcel).await
            };
            match result {
                Ok(delivery) => {
                    self.remember(name, std::slice::from_ref(object)).await;
                    shipped.summary.record_objects += 1;
                    match delivery {
                        Delivery::Written => shipped.summary.objects_written += 1,
                        Delivery::AlreadyPresent => shipped.summary.objects_already_present += 1,
                    }
                }
                Err(e) => {
                    super::delivery_failed(
                        &e,
                        "its records and the folder's later ones reported for retry",
                        &mut shipped.summary,
                    );
                    objects[i..].iter().flat_map(|o| &o.records).for_each(|&r| shipped.failed[r] = true);
                    return;
                }
            }
        }
    }
}

impl<S: ObjectSink> Outlet for BatchObjectOutlet<S> {
    fn destination(&self) -> &'static str {
        INGEST
    }

    fn deliver<'a>(&'a self, batch: &'a [Consignment<'a>], landing: Landing<'a>) -> Boxed<'a, Shipped> {
        Box::pin(async move {
            let mut shipped = Shipped::new(batch.len());
            let sequences: Vec<Vec<(&str, Cow<'_, str>)>> =
                batch.iter().map(|c| c.parcels.iter().map(|p| fragment_parts(&p.key)).collect()).collect();
            let mut folders: BTreeMap<&str, Folder<'_>> = BTreeMap::new();
            for (record, (c, names)) in batch.iter().zip(&sequences).enumerate() {
                for (parcel, (name, sequence)) in c.parcels.iter().zip(names) {
                    let folder = folders.entry(name).or_insert_with(|| Folder { pieces: Vec::new(), sortable: true });
                    folder.sortable &= is_sortable(sequence);
                    folder.pieces.push(Piece { record, sequence, lines: &parcel.body });
                }
            }
            for (name, folder) in &folders {
                self.folder(name, folder, landing, &mut shipped).await;
            }
            shipped
        })
    }
}
