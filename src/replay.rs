//! `logmeter replay`: puts back what the quarantine store kept, once its cause is fixed.
//!
//! - Whole Kinesis records (`kinesis_record` entries with `data_base64`) go through the handler again, with the
//!   current settings, in shard and sequence order, dated as they first arrived (their quarantine folder's date).
//! - Spooled bulk bodies (`…/search-spool/`) and refused documents (`…/search-rejected/`) go to the search mirror.
//! - Spooled Prometheus requests (`…/prometheus-spool/`) go to the remote write endpoint or the Pushgateway.
//!   Requests Prometheus refused for good (`…/prometheus-rejected/`, samples outside its time bounds) are not sent
//!   again: they would be refused again. A spooled request Prometheus refuses now is counted under `skipped` and
//!   left in the spool; the replay goes on.
//!
//! Every replay is idempotent: records land through the same create-only outlets and the batch layout's retry rule,
//! documents keep their ids (`create` answers 409 for what is there), and Prometheus drops identical samples. The
//! quarantine objects stay where they are, so a replay can be run again.

use crate::event::{KinesisData, KinesisInput};
use crate::output::Parcel;
use crate::output::prometheus::MetricsSink;
use crate::output::prometheus::PrometheusMode;
use crate::output::search::SearchSink;
use crate::sink::{ObjectSink, SinkError};
use crate::{Handler, KinesisBatch, Summary};
use std::collections::BTreeMap;

/// Records handed to the handler at once (Kinesis's default batch size).
const BATCH: usize = 100;

/// What a replay did: the pipeline's counters, and what it found to replay.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Replayed {
    /// The same counters as `logmeter process`.
    #[serde(flatten)]
    pub summary: Summary,
    /// Whole Kinesis records put back through the pipeline.
    pub replayed_records: usize,
    /// Spooled or refused bulk bodies sent to the search mirror.
    pub replayed_search_bodies: usize,
    /// Spooled Prometheus requests sent.
    pub replayed_prometheus_requests: usize,
    /// Objects left alone, with why (a destination not configured, a refusal that would be refused again).
    pub skipped: BTreeMap<String, usize>,
}

/// What one quarantine entry needs to be replayed.
#[derive(serde::Deserialize)]
struct Entry {
    shard: String,
    sequence_number: String,
    kind: String,
    #[serde(default)]
    data_base64: Option<String>,
}

/// The whole Kinesis records a quarantine object keeps, dated `arrival_millis`.
pub fn records_to_replay(body: &[u8], arrival_millis: i64) -> Result<Vec<KinesisInput>, String> {
    let entries: Vec<Entry> = serde_json::from_slice(body).map_err(|e| format!("not a quarantine object: {e}"))?;
    Ok(entries
        .into_iter()
        .filter(|e| e.kind == "kinesis_record")
        .filter_map(|e| {
            let data = e.data_base64?;
            Some(KinesisInput {
                event_id: format!("{}:{}", e.shard, e.sequence_number),
                kinesis: KinesisData {
                    sequence_number: e.sequence_number,
                    data,
                    approximate_arrival_timestamp: arrival_millis as f64 / 1000.0,
                    ..KinesisData::default()
                },
                ..KinesisInput::default()
            })
        })
        .collect())
}

/// A bulk body of the documents a `search-rejected` object keeps (its actions and documents as they were sent).
pub fn rejected_body(body: &[u8]) -> Result<Parcel, String> {
    #[derive(serde::Deserialize)]
    struct Rejected {
        action: String,
        source: String,
    }
    let docs: Vec<Rejected> = serde_json::from_slice(body).map_err(|e| format!("not a search-rejected object: {e}"))?;
    let mut out = Vec::new();
    for d in &docs {
        out.extend_from_slice(d.action.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(d.source.as_bytes());
        out.push(b'\n');
    }
    Ok(Parcel { key: String::new(), body: out, items: docs.len() })
}

/// The epoch ms of a `YYYY-MM-DD` folder name (0 for `undated`).
fn folder_date(name: &str) -> i64 {
    crate::reconcile::scheduled::parse_time(name).unwrap_or(0)
}

/// Where replays go.
pub struct Targets<'a, S, M> {
    /// The handler that delivers records (the same as `process`).
    pub handler: &'a Handler,
    /// The search mirror, when configured.
    pub search: Option<&'a S>,
    /// The Prometheus endpoint and its mode, when configured.
    pub metrics: Option<(&'a M, PrometheusMode)>,
}

/// The request name and mode of a spooled Prometheus request, from its key after `prometheus-spool/`:
/// `<date>/<request name>-<digest>.snappy`, or `<date>/<grouping path>-<digest>.prom`. The digest names the stored
/// body ([`crate::plan::names_content`]); what comes before it is the request's own name, which for the
/// Pushgateway is the group to push to again.
fn spooled_request(tail: &str) -> Option<(&str, PrometheusMode)> {
    let name = tail.split_once('/').map_or(tail, |(_, n)| n);
    let (name, kind) = match name.rsplit_once('.')? {
        (n, "snappy") => (n, PrometheusMode::RemoteWrite),
        (n, "prom") => (n, PrometheusMode::Pushgateway),
        _ => return None,
    };
    Some((crate::plan::split_content_digest(name).map_or(name, |(n, _)| n), kind))
}

fn skip(r: &mut Replayed, why: &str) {
    *r.skipped.entry(why.to_owned()).or_insert(0) += 1;
}

fn sink(e: SinkError) -> String {
    e.to_string()
}

/// Replays everything under `prefix/` in `store` (the quarantine store) to `targets`.
pub async fn replay<Q: ObjectSink, S: SearchSink, M: MetricsSink>(
    store: &Q,
    prefix: &str,
    targets: Targets<'_, S, M>,
) -> Result<Replayed, String> {
    let mut r = Replayed::default();
    let mut records: BTreeMap<String, Vec<(String, KinesisInput)>> = BTreeMap::new();
    for key in store.list(&format!("{prefix}/"), None).await.map_err(sink)? {
        let rest = &key[prefix.len() + 1..];
        let (folder, tail) = rest.split_once('/').unwrap_or((rest, ""));
        match folder {
            "search-spool" | "search-rejected" => {
                let Some(search) = targets.search else {
                    skip(&mut r, "search mirror not configured");
                    continue;
                };
                let body = store.get(&key).await.map_err(sink)?;
                let mut parcel = if folder == "search-spool" {
                    let items = crate::output::search::client::pairs(&body).len();
                    Parcel { key: String::new(), body, items }
                } else {
                    rejected_body(&body).map_err(|e| format!("{key}: {e}"))?
                };
                parcel.key = tail.to_owned();
                let done = search.bulk(&parcel).await.map_err(sink)?;
                r.summary.bulk_requests += 1;
                r.summary.documents_indexed += done.created;
                r.summary.documents_already_present += done.already_present;
                r.summary.documents_rejected += done.rejected.len();
                r.replayed_search_bodies += 1;
            }
            "prometheus-spool" => {
                let Some((metrics, mode)) = targets.metrics else {
                    skip(&mut r, "Prometheus not configured");
                    continue;
                };
                let Some((name, kind)) = spooled_request(tail) else {
                    skip(&mut r, "not a Prometheus request");
                    continue;
                };
                if kind != mode {
                    skip(&mut r, "spooled for the other Prometheus mode");
                    continue;
                }
                let body = store.get(&key).await.map_err(sink)?;
                let parcel = Parcel { key: name.to_owned(), body, items: 0 };
                r.summary.prometheus_requests += 1;
                match metrics.send(kind, &parcel).await {
                    Ok(_) => r.replayed_prometheus_requests += 1,
                    // Samples Prometheus will never take now (older than its out-of-order window allows): the rest
                    // of the replay goes on, and the request stays in the spool.
                    Err(SinkError::Permanent { reason, .. }) => {
                        tracing::warn!(object = %key, %reason, "Prometheus refused a spooled request: left in the spool");
                        skip(&mut r, "refused by Prometheus on replay: left in the spool");
                    }
                    Err(e) => return Err(sink(e)),
                }
            }
            "prometheus-rejected" => skip(&mut r, "refused by Prometheus for good"),
            // A billing platform's refusals (a value it cannot take, an answer of 4xx): fixed at the platform or in
            // the record, then sent again by a backfill or by hand; a replay would meet the same refusal.
            crate::output::billing::outlet::REFUSED_FOLDER => skip(&mut r, "refused by a billing platform"),
            // Sent longer ago than a platform's window with no answer recorded: it may have been billed, so it is
            // checked against the platform and sent by hand, never replayed blindly.
            crate::output::billing::outlet::UNSETTLED_FOLDER => {
                skip(&mut r, "unsettled with a billing platform: check the platform before sending")
            }
            date => {
                let body = store.get(&key).await.map_err(sink)?;
                for record in records_to_replay(&body, folder_date(date)).map_err(|e| format!("{key}: {e}"))? {
                    let shard = record.shard_id().to_owned();
                    let order = crate::plan::sortable_sequence(&record.kinesis.sequence_number).into_owned();
                    records.entry(shard).or_default().push((order, record));
                }
            }
        }
    }
    for (_, mut list) in records {
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list.dedup_by(|a, b| a.0 == b.0);
        let inputs: Vec<KinesisInput> = list.into_iter().map(|(_, r)| r).collect();
        for chunk in inputs.chunks(BATCH) {
            let batch = KinesisBatch { records: chunk.to_vec() };
            let outcome = targets.handler.handle(&batch, None).await;
            r.summary += outcome.summary;
            r.replayed_records += chunk.len();
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_quarantine_objects_give_back_their_whole_records_and_rejected_documents_their_actions() {
        let body = br#"[
{"shard":"shardId-1","sequence_number":"42","kind":"meter_record","reason":"r","raw":"x"},
{"shard":"shardId-1","sequence_number":"42","kind":"kinesis_record","reason":"r","data_base64":"H4sI"}
]"#;
        let records = records_to_replay(body, 1_795_046_400_000).unwrap();
        assert_eq!(records.len(), 1, "only whole records are replayed");
        assert_eq!((records[0].shard_id(), records[0].kinesis.data.as_str()), ("shardId-1", "H4sI"));
        assert_eq!(records[0].arrival_millis(), 1_795_046_400_000, "dated as it first arrived");
        let rejected = br#"[{"action":"{\"create\":{\"_id\":\"a\"}}","source":"{\"x\":1}","status":400,"error":"e"}]"#;
        let parcel = rejected_body(rejected).unwrap();
        assert_eq!((parcel.body.as_slice(), parcel.items), (&b"{\"create\":{\"_id\":\"a\"}}\n{\"x\":1}\n"[..], 1));
        assert!(records_to_replay(b"{}", 0).is_err());
        assert_eq!(folder_date("undated"), 0);
    }

    #[test]
    fn billing_quarantine_objects_are_counted_and_left_alone() {
        use crate::sink::{MemorySink, ObjectSink};
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let store = MemorySink::new();
        let billing = br#"[{"id":"u-1","reason":"r","event":"{}"}]"#.to_vec();
        for folder in ["billing-refused", "billing-unsettled"] {
            let key = format!("q/{folder}/stripe/2026-12-06/shardId-1/0042-0123456789abcdef.json");
            rt.block_on(store.put(&Parcel { key, body: billing.clone(), items: 1 })).unwrap();
        }
        let handler = Handler::new(crate::Pipeline::new(crate::PipelineConfig::default()), Vec::new());
        let targets =
            Targets { handler: &handler, search: None::<&MemorySink>, metrics: None::<(&crate::sink::LocalDir, _)> };
        let replayed = rt.block_on(replay(&store, "q", targets)).unwrap();
        assert_eq!(replayed.replayed_records, 0);
        assert_eq!(replayed.skipped.get("refused by a billing platform"), Some(&1));
        assert_eq!(
            replayed.skipped.get("unsettled with a billing platform: check the platform before sending"),
            Some(&1)
        );
    }

    #[test]
    fn spooled_prometheus_requests_refused_on_replay_are_counted_and_the_replay_goes_on() {
        use crate::output::prometheus::{MetricsSink, PrometheusMode};
        use crate::sink::{Delivery, MemorySink, ObjectSink};
        /// Refuses the requests of shard 1 for good (too old by now), takes the others.
        #[derive(Debug, Default)]
        struct Endpoint(std::sync::Mutex<Vec<String>>);
        impl MetricsSink for Endpoint {
            async fn send(&self, _: PrometheusMode, request: &Parcel) -> Result<Delivery, SinkError> {
                if request.key.starts_with("shardId-1/") {
                    return Err(SinkError::Permanent {
                        target: request.key.clone(),
                        reason: "HTTP 400: too old".into(),
                    });
                }
                self.0.lock().unwrap().push(request.key.clone());
                Ok(Delivery::Written)
            }
        }
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let store = MemorySink::new();
        for shard in ["shardId-1", "shardId-2"] {
            let key = format!("q/prometheus-spool/2026-12-06/{shard}/9-1-aaaabbbbccccdddd-0123456789abcdef.snappy");
            rt.block_on(store.put(&Parcel { key, body: b"x".to_vec(), items: 1 })).unwrap();
        }
        let handler = Handler::new(crate::Pipeline::new(crate::PipelineConfig::default()), Vec::new());
        let endpoint = Endpoint::default();
        let targets = Targets {
            handler: &handler,
            search: None::<&MemorySink>,
            metrics: Some((&endpoint, PrometheusMode::RemoteWrite)),
        };
        let replayed = rt.block_on(replay(&store, "q", targets)).unwrap();
        assert_eq!(*endpoint.0.lock().unwrap(), ["shardId-2/9-1-aaaabbbbccccdddd"], "the refusal did not stop it");
        assert_eq!((replayed.replayed_prometheus_requests, replayed.summary.prometheus_requests), (1, 2));
        assert_eq!(replayed.skipped.get("refused by Prometheus on replay: left in the spool"), Some(&1));
        assert_eq!(store.objects.lock().unwrap().len(), 2, "both stay in the spool");
    }

    #[test]
    fn valid_spooled_prometheus_keys_give_back_their_request_names() {
        use crate::output::prometheus::PrometheusMode::{Pushgateway, RemoteWrite};
        let group = "job/logmeter/logmeter_record/shardId-000000000003-4965";
        let table = [
            (format!("2026-12-06/{group}-0123456789abcdef.prom"), Some((group, Pushgateway))),
            (format!("2026-12-06/{group}.prom"), Some((group, Pushgateway))),
            (
                "2026-12-06/shardId-1/9-1-aaaabbbbccccdddd-0123456789abcdef.snappy".to_owned(),
                Some(("shardId-1/9-1-aaaabbbbccccdddd", RemoteWrite)),
            ),
            ("2026-12-06/notes.txt".to_owned(), None),
        ];
        for (tail, want) in table {
            assert_eq!(spooled_request(&tail), want, "{tail}");
        }
    }
}
