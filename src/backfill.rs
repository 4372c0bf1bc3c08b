//! `logmeter backfill`: reads CloudWatch Logs history with `FilterLogEvents` (the subscription's filter pattern)
//! and runs it through the same pipeline and destinations as the Lambda.
//!
//! Each page's events become CloudWatch Logs payloads, one per log stream, exactly as a subscription would deliver
//! them, in Kinesis records of a backfill shard per log group (`shardId-9…`, never a real shard's name) whose
//! sequence number is the payload's first event id. So the log events give the same derived `uniqueId`s, invocation
//! document ids and reconciliation ids as the live route. The ingest objects' keys differ (another shard), so the
//! backfill's ingest outlet reads the date's objects of every shard first and leaves out the meter records already
//! there ([`crate::output::ingest::Settings::across_shards`]): a record delivered live is not written again.
//! (In the `record` layout it would be, byte-identical, for the billing platform to de-duplicate on `uniqueId` and
//! content.) Rollups and Prometheus samples, whose ids depend on how events were cut into records, are not written
//! by a backfill.
//!
//! A checkpoint file keeps each log group's next page: a second run continues where the first stopped (a page is
//! delivered before the checkpoint moves past it, and delivering it again writes nothing twice). Requests are spaced
//! to `--max-rps` (CloudWatch Logs allows a few `FilterLogEvents` per second per account and Region), and the SDK
//! retries throttling with backoff.

use crate::event::{KinesisData, KinesisInput};
use crate::{Handler, KinesisBatch, Summary};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The subscription filter pattern of the SAM template (its `FilterPattern` default): tagged meter lines and
/// invocation reports in both log formats, and old-style timeout lines.
pub const DEFAULT_FILTER_PATTERN: &str =
    r#"?"meter_record_for_stream" ?"REPORT RequestId" ?"platform.report" ?"Task timed out""#;

/// Records handed to the handler at once.
const BATCH: usize = 100;

/// One log event as `FilterLogEvents` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Log stream.
    pub stream: String,
    /// Epoch ms.
    pub timestamp: i64,
    /// The message.
    pub message: String,
    /// Event id (56 digits).
    pub id: String,
}

/// The backfill shard of a log group: `shardId-9` and 19 digits from the group's name.
pub fn shard_of(log_group: &str) -> String {
    format!("shardId-9{:019}", crc32fast::hash(log_group.as_bytes()))
}

/// A page's events as Kinesis records: one CloudWatch Logs payload per log stream (in the order streams first
/// appear), gzip'd as a subscription delivers it, sequence-numbered by its first event id.
pub fn records(log_group: &str, account: &str, region: &str, events: &[Event]) -> Vec<KinesisInput> {
    let mut streams: Vec<(&str, Vec<&Event>)> = Vec::new();
    for e in events {
        match streams.iter_mut().find(|(s, _)| *s == e.stream) {
            Some((_, list)) => list.push(e),
            None => streams.push((&e.stream, vec![e])),
        }
    }
    let shard = shard_of(log_group);
    streams
        .into_iter()
        .map(|(stream, list)| {
            let payload = serde_json::json!({
                "messageType": "DATA_MESSAGE",
                "owner": account,
                "logGroup": log_group,
                "logStream": stream,
                "subscriptionFilters": ["logmeter-backfill"],
                "logEvents": list.iter().map(|e| serde_json::json!({"id": e.id, "timestamp": e.timestamp, "message": e.message})).collect::<Vec<_>>(),
            });
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            // Writing into memory cannot fail.
            let _ = gz.write_all(payload.to_string().as_bytes());
            let data = gz.finish().unwrap_or_default();
            let first = list.first().map_or("0", |e| e.id.as_str());
            let last_ms = list.last().map_or(0, |e| e.timestamp);
            KinesisInput {
                event_id: format!("{shard}:{first}"),
                aws_region: Some(region.to_owned()),
                kinesis: KinesisData {
                    sequence_number: first.to_owned(),
                    data: base64::engine::general_purpose::STANDARD.encode(data),
                    approximate_arrival_timestamp: last_ms as f64 / 1000.0,
                    ..KinesisData::default()
                },
                ..KinesisInput::default()
            }
        })
        .collect()
}

/// Where each log group stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupProgress {
    /// The next page's token (`None`: from the start, or done).
    pub next_token: Option<String>,
    /// Every page read and delivered.
    pub done: bool,
    /// Log events delivered so far.
    pub events: u64,
    /// The last delivered event's time, epoch ms.
    pub last_timestamp: i64,
}

/// The checkpoint file: what was asked and how far each log group got.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Start of the range, epoch ms.
    pub start_ms: i64,
    /// End of the range, epoch ms.
    pub end_ms: i64,
    /// The filter pattern.
    pub filter_pattern: String,
    /// Per log group.
    pub groups: BTreeMap<String, GroupProgress>,
}

impl Checkpoint {
    /// The checkpoint at `path` when it is for the same range and pattern; a fresh one otherwise.
    pub fn load(path: &std::path::Path, start_ms: i64, end_ms: i64, filter: &str) -> Result<Self, String> {
        let fresh = Self { start_ms, end_ms, filter_pattern: filter.to_owned(), groups: BTreeMap::new() };
        match std::fs::read(path) {
            Ok(bytes) => {
                let saved: Self = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{} is not a backfill checkpoint: {e}", path.display()))?;
                if (saved.start_ms, saved.end_ms, saved.filter_pattern.as_str()) != (start_ms, end_ms, filter) {
                    return Err(format!(
                        "{} is the checkpoint of another backfill (other range or filter pattern): remove it or pass --checkpoint",
                        path.display()
                    ));
                }
                Ok(saved)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(fresh),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Writes the checkpoint (to a temporary file, then renamed over it).
    pub fn save(&self, path: &std::path::Path) -> Result<(), String> {
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// What a backfill did: the pipeline's counters and its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Backfilled {
    /// The same counters as `logmeter process`.
    #[serde(flatten)]
    pub summary: Summary,
    /// `FilterLogEvents` pages read.
    pub pages: u64,
    /// Log events read.
    pub events_read: u64,
    /// Log groups finished (in this run or an earlier one).
    pub groups_done: usize,
    /// Whether every log group is finished (`false` after `--max-pages`: run again to continue).
    pub complete: bool,
}

/// The one change a backfill makes to the live route's settings, wherever its handler is built: rollups are not
/// written (a rollup's id names the Kinesis record it sums, and a backfill cuts events into records its own way),
/// ingest objects and the billing platforms' ledger are looked up across shards (its records come from a synthetic
/// shard per log group, and may have been delivered by the live route), and
/// Prometheus, whose samples are per record too, is dropped (`prometheus`: its settings, with or without a client).
pub fn configure<P>(pipeline: &mut crate::PipelineConfig, prometheus: &mut Option<P>) {
    pipeline.outputs.search.rollups = false;
    pipeline.outputs.ingest.across_shards = true;
    pipeline.outputs.billing.across_shards = true;
    *prometheus = None;
}

/// What to backfill.
#[derive(Debug, Clone)]
pub struct Request {
    /// Log groups.
    pub log_groups: Vec<String>,
    /// Range, epoch ms.
    pub start_ms: i64,
    /// End of the range (exclusive), epoch ms.
    pub end_ms: i64,
    /// Filter pattern.
    pub filter_pattern: String,
    /// Events per page (1–10,000).
    pub page_size: i32,
    /// Stop after this many pages (resumable).
    pub max_pages: Option<u64>,
    /// Requests per second at most.
    pub max_rps: f64,
    /// The checkpoint file.
    pub checkpoint: PathBuf,
}

/// The progress line on a terminal: events, records, rate and ETA (from how far through the range the last event
/// is); nothing when stderr is not a terminal.
struct Progress {
    tty: bool,
    started: Instant,
    events: u64,
    records: u64,
}

impl Progress {
    fn draw(&self, req: &Request, last_ms: i64) {
        if !self.tty {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let done = ((last_ms - req.start_ms) as f64 / (req.end_ms - req.start_ms).max(1) as f64).clamp(0.0, 1.0);
        let eta = if done > 0.0 { secs / done * (1.0 - done) } else { 0.0 };
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r\x1b[Kbackfill {:>5.1}%  {} events  {} records  {:.0} events/s  ETA {:.0} s",
            done * 100.0,
            self.events,
            self.records,
            self.events as f64 / secs,
            eta
        );
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// Delivers records through the handler, retrying what it reports (a few times) before giving up.
async fn deliver(handler: &Handler, records: Vec<KinesisInput>, out: &mut Summary) -> Result<(), String> {
    for chunk in records.chunks(BATCH) {
        let mut batch = KinesisBatch { records: chunk.to_vec() };
        for attempt in 1..=5 {
            let outcome = handler.handle(&batch, None).await;
            let failed = outcome.response.batch_item_failures.first().and_then(|f| f.item_identifier.clone());
            let mut summary = outcome.summary;
            summary.batch_item_failures = 0;
            *out += summary;
            let Some(from) = failed else { break };
            if attempt == 5 {
                return Err(format!("records from sequence {from} could not be delivered: see the errors above"));
            }
            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            let at = batch.records.iter().position(|r| r.kinesis.sequence_number == from).unwrap_or(0);
            batch.records.drain(..at);
        }
    }
    Ok(())
}

/// Runs a backfill with `logs` to `handler`, resuming from and updating the checkpoint.
pub async fn run(
    logs: &aws_sdk_cloudwatchlogs::Client,
    region: &str,
    handler: &Handler,
    req: &Request,
) -> Result<Backfilled, String> {
    let mut cp = Checkpoint::load(&req.checkpoint, req.start_ms, req.end_ms, &req.filter_pattern)?;
    let mut out = Backfilled::default();
    let mut progress =
        Progress { tty: std::io::stderr().is_terminal(), started: Instant::now(), events: 0, records: 0 };
    let spacing = Duration::from_secs_f64(1.0 / req.max_rps.max(0.01));
    let mut last_request: Option<Instant> = None;
    'groups: for group in &req.log_groups {
        let mut state = cp.groups.get(group).cloned().unwrap_or_default();
        if state.done {
            continue;
        }
        // The account the log group belongs to, from its ARN (a subscription's payload names it as `owner`).
        let described = logs.describe_log_groups().log_group_name_prefix(group).send().await.map_err(|e| {
            format!("DescribeLogGroups {group}: {}", aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e))
        })?;
        let account = described
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(group.as_str()))
            .and_then(|g| g.arn())
            .and_then(|arn| arn.split(':').nth(4))
            .ok_or_else(|| format!("log group {group} not found"))?
            .to_owned();
        loop {
            if req.max_pages.is_some_and(|m| out.pages >= m) {
                break 'groups;
            }
            if let Some(at) = last_request {
                tokio::time::sleep(spacing.saturating_sub(at.elapsed())).await;
            }
            last_request = Some(Instant::now());
            let page = logs
                .filter_log_events()
                .log_group_name(group)
                .start_time(req.start_ms)
                .end_time(req.end_ms - 1)
                .filter_pattern(&req.filter_pattern)
                .limit(req.page_size)
                .set_next_token(state.next_token.clone())
                .send()
                .await
                .map_err(|e| {
                    format!("FilterLogEvents {group}: {}", aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e))
                })?;
            let events: Vec<Event> = page
                .events()
                .iter()
                .map(|e| Event {
                    stream: e.log_stream_name().unwrap_or_default().to_owned(),
                    timestamp: e.timestamp().unwrap_or(0),
                    message: e.message().unwrap_or_default().to_owned(),
                    id: e.event_id().unwrap_or_default().to_owned(),
                })
                .collect();
            out.pages += 1;
            out.events_read += events.len() as u64;
            let records = records(group, &account, region, &events);
            progress.events += events.len() as u64;
            progress.records += records.len() as u64;
            deliver(handler, records, &mut out.summary).await?;
            state.events += events.len() as u64;
            state.last_timestamp = events.last().map_or(state.last_timestamp, |e| e.timestamp);
            state.next_token = page.next_token().map(str::to_owned);
            state.done = state.next_token.is_none();
            cp.groups.insert(group.clone(), state.clone());
            cp.save(&req.checkpoint)?;
            progress.draw(req, state.last_timestamp);
            if state.done {
                break;
            }
        }
    }
    progress.finish();
    out.groups_done = req.log_groups.iter().filter(|g| cp.groups.get(*g).is_some_and(|s| s.done)).count();
    out.complete = out.groups_done == req.log_groups.len();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(stream: &str, id: &str, message: &str) -> Event {
        Event { stream: stream.into(), timestamp: 1_795_046_400_000, message: message.into(), id: id.into() }
    }

    #[test]
    fn valid_pages_become_one_payload_per_stream_on_the_groups_backfill_shard() {
        let events = [event("a", "1", "x"), event("b", "2", "y"), event("a", "3", "z")];
        let records = records("/aws/lambda/f", "123456789012", "eu-west-1", &events);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].shard_id(), shard_of("/aws/lambda/f"));
        assert!(records[0].shard_id().starts_with("shardId-9") && records[0].shard_id().len() == 28);
        assert_eq!(records[0].kinesis.sequence_number, "1");
        let gz = base64::engine::general_purpose::STANDARD.decode(&records[0].kinesis.data).unwrap();
        let mut decoded = Vec::new();
        let n = crate::decode::gunzip_into(&gz, 1 << 20, &mut decoded).unwrap();
        let payload: serde_json::Value = serde_json::from_slice(&decoded[..n]).unwrap();
        assert_eq!(payload["logStream"], "a");
        assert_eq!(payload["owner"], "123456789012");
        let ids: Vec<&str> =
            payload["logEvents"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["1", "3"], "a stream's events in order");
    }

    #[test]
    fn invalid_checkpoints_of_another_backfill_are_refused() {
        let path = std::env::temp_dir().join(format!("logmeter-cp-{}.json", std::process::id()));
        let mut cp = Checkpoint::load(&path, 1, 2, "p").unwrap();
        cp.groups.insert("g".into(), GroupProgress { next_token: Some("t".into()), ..GroupProgress::default() });
        cp.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path, 1, 2, "p").unwrap(), cp, "resumed");
        assert!(Checkpoint::load(&path, 1, 3, "p").unwrap_err().contains("another backfill"));
        let _ = std::fs::remove_file(path);
    }
}
