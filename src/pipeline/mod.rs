//! One Kinesis record from bytes to plan: base64 → gunzip → payload → extract values → each destination's
//! encoder ([`crate::output`]).
//!
//! Pure and deterministic. A record that cannot be decoded becomes a quarantine object; nothing here fails.
//! [`Pipeline::plan_batch`] spreads the records of a batch over worker threads (Lambda gives up to 6 vCPUs),
//! each with its own reusable buffers, and returns the plans in sequence order.

pub mod config;
mod lines;
mod scratch;

pub use config::{FastReaders, PipelineConfig};
pub use scratch::Scratch;

use crate::catalog::CatalogSnapshot;
use crate::decode::{DecodeError, MessageType, base64_into, gunzip_into, parse_payload};
use crate::event::{KinesisInput, SequenceNumber, UNKNOWN_SHARD};
use crate::extract::{Extraction, MeterExtractor, QuarantineEntry};
use crate::output::quarantine::QuarantineEncoder;
use crate::output::{Encoder, Output, Parcel, RecordValues};
use crate::plan::ReportContext;
use crate::summary::Summary;
use lines::Look;
use memchr::memmem::Finder;
use scratch::ScratchPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Everything one Kinesis record turns into.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPlan {
    /// Shard id.
    pub shard: String,
    /// The sequence number as received (what `batchItemFailures` reports).
    pub sequence_number: String,
    /// The parsed sequence number; `None` when the event carried something that is not one.
    pub sequence: Option<SequenceNumber>,
    /// Kinesis arrival time, epoch ms: dates the record's quarantine and spool objects.
    pub arrival_millis: i64,
    /// The function whose reports the record holds, if any (the function metadata lookup asks for it).
    pub function: Option<String>,
    /// What each destination is to deliver, in the order the encoders ran (the quarantine store last); a
    /// destination with nothing to deliver is absent.
    pub outputs: Vec<Output>,
    /// Counters of this record.
    pub summary: Summary,
}

/// The configured pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    config: PipelineConfig,
    meter: MeterExtractor,
    platform: Finder<'static>,
    timeout: Finder<'static>,
    encoders: Arc<[Box<dyn Encoder>]>,
    quarantine: QuarantineEncoder,
    scratch: ScratchPool,
}

/// Inflate buffer kept between records; a larger one is released after its record.
const KEEP_INFLATED: usize = 4 << 20;

impl Pipeline {
    /// A pipeline with `config`, encoding for the ingest objects and the search mirror (their encoders from the
    /// registration list, [`crate::output::register`]): for planning without delivery.
    pub fn new(config: PipelineConfig) -> Self {
        use crate::sink::MemorySink;
        let stores = crate::output::Stores {
            ingest: MemorySink::default(),
            quarantine: MemorySink::default(),
            search: Some(MemorySink::default()),
            spool: false,
            prometheus: None::<(crate::output::prometheus::PrometheusConfig, crate::sink::LocalDir)>,
            billing: crate::output::billing::Stores::default(),
        };
        let encoders = crate::output::register(&config.outputs, stores).into_iter().filter_map(|o| o.encoder).collect();
        Self::with_encoders(config, encoders)
    }

    /// A pipeline with `config` that encodes for `encoders` (and the quarantine store, always), in that order.
    pub fn with_encoders(config: PipelineConfig, encoders: Vec<Box<dyn Encoder>>) -> Self {
        let fast = config.fast_readers;
        let meter = MeterExtractor::with_fast_readers(&config.tag, fast.meter_line, fast.usual_record);
        Self {
            meter,
            platform: Finder::new(lines::PLATFORM_PREFIX).into_owned(),
            timeout: Finder::new("Task timed out after").into_owned(),
            encoders: encoders.into(),
            quarantine: QuarantineEncoder::new(&config.outputs.quarantine),
            scratch: ScratchPool::default(),
            config,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Plans the records of a batch, in parallel, returning plans in input order: every record, or the first ones
    /// when their planned output passes `MAX_BATCH_OUTPUT_BYTES` (the first record is always planned). The caller
    /// leaves the rest for the retry (see [`retry_point`]). An unidentifiable record is never where planning stops:
    /// it is planned (quarantined, at little cost) so the retry can start at a sequence number Lambda knows.
    pub fn plan_batch(&self, records: &[KinesisInput]) -> Vec<RecordPlan> {
        self.plan_batch_with(records, &CatalogSnapshot::default())
    }

    /// [`Self::plan_batch`], with what the function metadata lookup had found (`catalog`) for the rollup documents
    /// to describe.
    pub fn plan_batch_with(&self, records: &[KinesisInput], catalog: &CatalogSnapshot) -> Vec<RecordPlan> {
        let threads = self.config.threads.clamp(1, records.len().max(1));
        let budget = self.config.max_batch_output_bytes;
        let used = AtomicUsize::new(0);
        // Whether record `i` is left for the retry: once the budget is spent, at any identified record.
        let deferred = |i: usize| i > 0 && used.load(Ordering::Relaxed) >= budget && records[i].problem().is_none();
        let plan = |i: usize, scratch: &mut Scratch| {
            let plan = self.plan_record_with(&records[i], scratch, catalog);
            used.fetch_add(plan.output_bytes(), Ordering::Relaxed);
            plan
        };
        if threads == 1 {
            let mut scratch = self.scratch.take();
            let plans = (0..records.len()).take_while(|&i| !deferred(i)).map(|i| plan(i, &mut scratch)).collect();
            self.scratch.put(scratch);
            return plans;
        }
        let next = AtomicUsize::new(0);
        let mut done: Vec<(usize, RecordPlan)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut scratch = self.scratch.take();
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= records.len() || deferred(i) {
                                break;
                            }
                            mine.push((i, plan(i, &mut scratch)));
                        }
                        self.scratch.put(scratch);
                        mine
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });
        done.sort_unstable_by_key(|(i, _)| *i);
        // Only an unbroken run from the first record counts: a record planned after a deferred one is planned
        // again on the retry.
        let kept = done.iter().enumerate().take_while(|(n, (i, _))| n == i).count();
        done.truncate(kept);
        done.into_iter().map(|(_, p)| p).collect()
    }

    /// Plans one record, with an empty catalog.
    pub fn plan_record(&self, input: &KinesisInput, scratch: &mut Scratch) -> RecordPlan {
        self.plan_record_with(input, scratch, &CatalogSnapshot::default())
    }

    /// Plans one record with the function configurations of `catalog`.
    pub fn plan_record_with(
        &self,
        input: &KinesisInput,
        scratch: &mut Scratch,
        catalog: &CatalogSnapshot,
    ) -> RecordPlan {
        let shard = input.shard_id();
        let sequence = SequenceNumber::parse(&input.kinesis.sequence_number);
        // Only a readable record with a Kinesis shard id is named by its sequence number: any other is named after
        // its event id and data, so two bad records that share a sequence number never share a key.
        let seq_key = match &sequence {
            Some(s) if input.unreadable.is_none() && shard != UNKNOWN_SHARD => s.as_str().to_owned(),
            _ => crate::ids::unsequenced_key(
                &input.event_id,
                input.unreadable.as_ref().map_or(&input.kinesis.data, |u| &u.raw),
            ),
        };
        let mut summary = Summary { kinesis_records: 1, ..Summary::default() };
        let mut ex = Extraction::default();
        let mut outputs = Vec::new();
        let c = &self.config;
        if let Some(reason) = input.problem() {
            quarantine_record(input, reason, &mut ex, &mut summary);
        } else {
            match self.decode(input, scratch) {
                Ok(()) => {
                    summary.bytes_compressed = scratch.compressed.len();
                    summary.bytes_inflated = scratch.inflated_len;
                    match parse_payload(&scratch.inflated[..scratch.inflated_len]) {
                        Ok(p) if p.message_type() == MessageType::Control => {
                            if p.log_events.iter().any(|e| self.look(e.message.as_bytes()) != Look::NOTHING) {
                                let reason = "a CONTROL_MESSAGE payload holds tagged lines or reports: only data \
                                              messages are read, so the record is kept whole";
                                quarantine_record(input, reason.into(), &mut ex, &mut summary);
                            } else {
                                summary.control_messages = 1;
                            }
                        }
                        Ok(p) => {
                            summary.log_events = p.log_events.len();
                            let mut reports = Vec::new();
                            let mut named = Vec::new();
                            let read = self.extract_payload(&p, &mut scratch.lines, &mut ex, &mut reports, &mut named);
                            // The source account and region of each event: the subscription's system fields when
                            // it adds them (centralised log groups, where one payload may hold events of several
                            // accounts), else the payload's owner and the stream's region (the first source).
                            let own = ReportContext {
                                account: &p.owner,
                                region: input.aws_region.as_deref(),
                                log_group: &p.log_group,
                                log_stream: &p.log_stream,
                                shard,
                                sequence: &seq_key,
                            };
                            let mut sources = vec![own];
                            sources.extend(named.iter().skip(1).map(|(account, region)| ReportContext {
                                account: account.as_deref().unwrap_or(own.account),
                                region: region.as_deref().or(own.region),
                                ..own
                            }));
                            ex.reports = reports.len();
                            if !reports.is_empty() || !ex.init_failures.is_empty() {
                                let id = crate::extract::function_of(&p.log_group, &p.log_stream);
                                ex.function = Some(id.name_or(&p.log_group).to_owned());
                            }
                            let mut planned = 0;
                            if read {
                                // The values found, encoded by every destination.
                                let values = RecordValues {
                                    shard,
                                    seq_key: &seq_key,
                                    sources: &sources,
                                    meters: &ex.meters,
                                    reports: &reports,
                                    init_failures: &ex.init_failures,
                                    init_start: &ex.init_start,
                                    catalog,
                                };
                                for encoder in self.encoders.iter() {
                                    let mut parcels = Vec::new();
                                    encoder.encode(&values, &mut parcels);
                                    planned += parcels.iter().map(|p| p.body.len()).sum::<usize>();
                                    if !parcels.is_empty() {
                                        outputs.push(Output { destination: encoder.destination(), parcels });
                                    }
                                }
                            }
                            if !read || planned > c.max_record_output_bytes {
                                // Nothing of a record too large to plan is delivered: it is kept whole instead.
                                ex = Extraction::default();
                                outputs.clear();
                                let reason = format!(
                                    "the record's planned output passed MAX_RECORD_OUTPUT_BYTES ({} bytes): it is \
                                     kept whole, for replay with a larger bound",
                                    c.max_record_output_bytes
                                );
                                quarantine_record(input, reason, &mut ex, &mut summary);
                            }
                        }
                        Err(e) => quarantine_record(input, DecodeError::from(e).to_string(), &mut ex, &mut summary),
                    }
                }
                Err(e) => quarantine_record(input, e.to_string(), &mut ex, &mut summary),
            }
        }
        if scratch.inflated.len() > KEEP_INFLATED {
            // A rare huge payload should not pin its memory for the rest of the batch.
            scratch.inflated.truncate(KEEP_INFLATED);
            scratch.inflated.shrink_to_fit();
        }
        self.finish(input, shard, sequence, &seq_key, ex, outputs, summary)
    }

    fn decode(&self, input: &KinesisInput, scratch: &mut Scratch) -> Result<(), DecodeError> {
        base64_into(&input.kinesis.data, &mut scratch.compressed)?;
        scratch.inflated_len = gunzip_into(&scratch.compressed, self.config.max_inflated_bytes, &mut scratch.inflated)?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        input: &KinesisInput,
        shard: &str,
        sequence: Option<SequenceNumber>,
        seq_key: &str,
        mut ex: Extraction,
        mut outputs: Vec<Output>,
        mut summary: Summary,
    ) -> RecordPlan {
        summary.meter_records = ex.meters.len();
        summary.derived_unique_ids = ex.meters.iter().filter(|m| m.derived_unique_id).count();
        summary.reports = ex.reports;
        summary.web_function_summaries = ex.web_summaries;
        if ex.quarantine.needs_whole_record() && !ex.quarantine.keeps_whole_record() {
            let reason = ex.quarantine.incomplete_reason();
            ex.quarantine.push_unbounded(QuarantineEntry::record(reason, &input.kinesis.data));
        }
        summary.quarantined = ex.quarantine.total();
        summary.quarantine_omitted = ex.quarantine.omitted();
        let mut kept = Vec::new();
        self.quarantine.encode(&ex.quarantine, shard, seq_key, input.arrival_millis(), &mut kept);
        if !kept.is_empty() {
            outputs.push(Output { destination: self.quarantine.destination(), parcels: kept });
        }
        RecordPlan {
            function: ex.function.take(),
            shard: shard.to_owned(),
            sequence_number: input.kinesis.sequence_number.clone(),
            sequence,
            arrival_millis: input.arrival_millis(),
            outputs,
            summary,
        }
    }
}

/// Quarantines the whole record: its `data` exactly as received (and, when its JSON was not a Kinesis record, that
/// JSON), so a replay loses nothing.
fn quarantine_record(input: &KinesisInput, reason: String, ex: &mut Extraction, summary: &mut Summary) {
    summary.quarantined_kinesis_records = 1;
    let mut entry = QuarantineEntry::record(reason, &input.kinesis.data);
    if let Some(u) = &input.unreadable {
        entry.raw = Some(u.raw.clone());
        if input.kinesis.data.is_empty() {
            entry.data_base64 = None;
        }
    }
    ex.quarantine.push_unbounded(entry);
}

impl RecordPlan {
    /// Bytes of everything the plan holds for delivery, every destination's.
    pub fn output_bytes(&self) -> usize {
        self.outputs.iter().flat_map(|o| &o.parcels).map(|p| p.body.len()).sum()
    }

    /// The parcels planned for `destination` (none when it has nothing to deliver).
    pub fn parcels(&self, destination: &str) -> &[Parcel] {
        self.outputs.iter().find(|o| o.destination == destination).map_or(&[], |o| &o.parcels)
    }
}

/// Where Lambda should retry from, given the plans delivered in order (`failed[i]` when plan `i` was not
/// delivered) and the batch's records: the sequence number of the first record not delivered, whether its delivery
/// failed or it was left unplanned (`plans < records.len()`). A record whose sequence number Lambda would not know
/// is never named: the retry then starts at the nearest earlier record that has one (delivering again what was
/// delivered is safe), or `Some("")` when there is none, which makes Lambda retry the whole batch. `None` when
/// everything was delivered.
pub fn retry_point(records: &[KinesisInput], failed: &[bool]) -> Option<String> {
    let first = failed.iter().position(|&f| f).or((failed.len() < records.len()).then_some(failed.len()))?;
    let named = records[..=first.min(records.len().saturating_sub(1))]
        .iter()
        .rev()
        .find(|r| r.problem().is_none())
        .map(|r| r.kinesis.sequence_number.clone());
    Some(named.unwrap_or_default())
}
