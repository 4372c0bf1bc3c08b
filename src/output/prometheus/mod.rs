//! Prometheus: the rollup figures as samples ([`encode`]), by remote write 1.0 or to a
//! Pushgateway.
//!
//! - **Remote write**: the encoder yields each record's `WriteRequest` entries; the outlet joins a whole batch's
//!   into one request (more only past `PROMETHEUS_MAX_SAMPLES` / `PROMETHEUS_MAX_BYTES`), compresses it with
//!   snappy and posts it. Samples carry the log time, so a retry re-sends identical samples, which Prometheus
//!   drops as duplicates.
//! - **Pushgateway**: one group per Kinesis record (`job/logmeter/logmeter_record/<shard>-<sequence>`), so
//!   concurrent invocations never replace each other's figures and a retry replaces a group with the same figures.
//!
//! Failure policy: metrics never block billing. A request the endpoint refuses for good (a 4xx other than 429, or
//! samples outside its time bounds) is quarantined with the answer and counted. When the endpoint stays down
//! after the retries, the request is spooled to the quarantine store (`PROMETHEUS_FAILURE_MODE=spool`, the
//! default) or its records are retried (`retry`).

mod client;
pub mod encode;
mod local;
mod settings;
mod spool;

pub use client::PrometheusHttp;
pub use encode::PrometheusMode;
pub use local::PROMETHEUS_DIRS;
pub use settings::{PrometheusAuth, PrometheusConfig, SETTINGS};

use super::{
    BatchFragments, Boxed, Consignment, Encoder, Landing, Outlet, Packed, Parcel, RecordValues, Shipped,
    keep_in_quarantine, send_packed,
};
use crate::plan::rollup::RollupSettings;
use crate::plan::{pack_items, utc_date};
use crate::sink::{Delivery, SinkError};
use crate::summary::Summary;
use encode::{JOB, encode_remote_write, encode_text, remote_write_entry, samples};
use spool::{prometheus_rejected_object, prometheus_spool_object};

/// Where Prometheus requests go (a remote write endpoint or a Pushgateway in production, files locally).
pub trait MetricsSink: Send + Sync + std::fmt::Debug {
    /// Sends one request as it goes on the wire: a snappy-compressed `WriteRequest` named by its records
    /// ([`PrometheusMode::RemoteWrite`]), or a group in the text format whose key is its grouping
    /// path, `job/<job>/<label>/<value>…` ([`PrometheusMode::Pushgateway`]). `Permanent` means the
    /// endpoint refused the data for good (a 4xx other than 429), `Transient` that it stayed unavailable.
    fn send(
        &self,
        mode: PrometheusMode,
        request: &Parcel,
    ) -> impl std::future::Future<Output = Result<Delivery, SinkError>> + Send;
}

/// The Prometheus destination.
pub const PROMETHEUS: &str = "prometheus";

/// Requests sent at the same time.
pub const PROMETHEUS_CONCURRENCY: usize = 4;

/// Encodes a record's rollup figures as remote write entries or a Pushgateway group.
#[derive(Debug, Clone)]
pub struct PrometheusEncoder {
    mode: PrometheusMode,
    settings: RollupSettings,
}

impl PrometheusEncoder {
    /// An encoder for `mode` with the rollup settings (window, architectures, prices).
    pub fn new(mode: PrometheusMode, settings: RollupSettings) -> Self {
        Self { mode, settings }
    }
}

impl Encoder for PrometheusEncoder {
    fn destination(&self) -> &'static str {
        PROMETHEUS
    }

    fn encode(&self, values: &RecordValues<'_>, out: &mut Vec<Parcel>) {
        let samples = samples(values, &self.settings);
        if samples.is_empty() {
            return;
        }
        out.push(match self.mode {
            PrometheusMode::RemoteWrite => {
                let mut body = Vec::new();
                encode_remote_write(&samples, &mut body);
                Parcel { key: format!("{}/{}", values.shard, values.seq_key), body, items: samples.len() }
            }
            PrometheusMode::Pushgateway => {
                let body = encode_text(&samples);
                let items = body.split(|b| *b == b'\n').filter(|l| !l.is_empty() && l[0] != b'#').count();
                let key = format!("job/{JOB}/logmeter_record/{}-{}", values.shard, values.seq_key);
                Parcel { key, body, items }
            }
        });
    }
}

/// Delivers a batch's Prometheus requests to a [`MetricsSink`] and applies the failure policy to each.
#[derive(Debug)]
pub struct PrometheusOutlet<S> {
    sink: S,
    mode: PrometheusMode,
    spool: bool,
    quarantine_prefix: String,
    max_bytes: usize,
    max_samples: usize,
}

impl<S: MetricsSink> PrometheusOutlet<S> {
    /// An outlet over `sink`; `config` gives the mode, the request bounds and the failure mode, `quarantine_prefix`
    /// where refused and spooled requests are kept.
    pub fn new(config: &crate::output::prometheus::PrometheusConfig, sink: S, quarantine_prefix: &str) -> Self {
        Self {
            sink,
            mode: config.mode,
            spool: config.failure_mode == crate::config::FailureMode::Spool,
            quarantine_prefix: quarantine_prefix.to_owned(),
            max_bytes: config.max_bytes,
            max_samples: config.max_samples,
        }
    }

    /// Boxed, for the handler's list.
    pub fn boxed(
        config: &crate::output::prometheus::PrometheusConfig,
        sink: S,
        quarantine_prefix: &str,
    ) -> Box<dyn Outlet>
    where
        S: 'static,
    {
        Box::new(Self::new(config, sink, quarantine_prefix))
    }

    /// The requests of a batch: remote write entries joined and compressed, or one Pushgateway group per record.
    fn requests<'f>(
        &self,
        batch: &'f [Consignment<'f>],
        fragments: &'f [(usize, &'f str, &'f Parcel)],
        shard: &'f str,
    ) -> Box<dyn Iterator<Item = Packed> + Send + 'f> {
        match self.mode {
            PrometheusMode::Pushgateway => Box::new(
                batch
                    .iter()
                    .enumerate()
                    .flat_map(|(i, c)| c.parcels.iter().map(move |p| Packed { parcel: p.clone(), records: vec![i] })),
            ),
            PrometheusMode::RemoteWrite => Box::new(
                pack_items(
                    shard,
                    fragments,
                    self.max_bytes,
                    self.max_samples,
                    remote_write_entry,
                    crate::plan::digest16,
                )
                .map(|mut p| {
                    // Compression fails only past 4 GiB, far beyond any bound.
                    p.parcel.body = snap::raw::Encoder::new().compress_vec(&p.parcel.body).unwrap_or_default();
                    p
                }),
            ),
        }
    }

    /// Sends one request; `Err` when its records must be retried.
    async fn request(&self, parcel: &Parcel, arrival_millis: i64, landing: Landing<'_>) -> Result<Summary, SinkError> {
        let mut summary = Summary { prometheus_requests: 1, ..Summary::default() };
        if landing.too_late() {
            return Err(SinkError::Transient { target: parcel.key.clone(), reason: "deadline near".into() });
        }
        let date = utc_date(arrival_millis);
        match self.sink.send(self.mode, parcel).await {
            Ok(_) => summary.prometheus_samples = parcel.items,
            // A refusal of the data for good. Refused credentials (`AccessDenied`) are no verdict on the samples:
            // they are spooled or retried below, like an outage.
            Err(SinkError::Permanent { reason, .. }) => {
                tracing::warn!(request = %parcel.key, samples = parcel.items, %reason, "Prometheus refused the samples: request quarantined");
                let kept = prometheus_rejected_object(parcel, &reason, &self.quarantine_prefix, &date);
                summary += keep_in_quarantine(kept, landing).await?;
                summary.prometheus_samples_rejected = parcel.items;
            }
            Err(e) if self.spool => {
                super::delivery_failed(
                    &e,
                    &format!("Prometheus request {} spooled for replay", parcel.key),
                    &mut summary,
                );
                let kept = prometheus_spool_object(parcel, self.mode, &self.quarantine_prefix, &date);
                summary += keep_in_quarantine(kept, landing).await?;
                summary.prometheus_samples_spooled = parcel.items;
            }
            Err(e) => return Err(e),
        }
        Ok(summary)
    }
}

impl<S: MetricsSink> Outlet for PrometheusOutlet<S> {
    fn destination(&self) -> &'static str {
        PROMETHEUS
    }

    fn deliver<'a>(&'a self, batch: &'a [Consignment<'a>], landing: Landing<'a>) -> Boxed<'a, Shipped> {
        Box::pin(async move {
            let named = BatchFragments::new(batch);
            let fragments = named.list();
            let requests = self.requests(batch, &fragments, named.shard());
            let send = |r: Packed| async move {
                let result = self.request(&r.parcel, batch[r.records[0]].arrival_millis, landing).await;
                (r, result)
            };
            send_packed(requests, batch.len(), PROMETHEUS_CONCURRENCY, send).await
        })
    }
}

/// Prometheus as the registration list holds it: its encoder in `prometheus`' mode, and its outlet over `sink`.
pub fn register<S: MetricsSink + 'static>(
    settings: &super::Settings,
    prometheus: &PrometheusConfig,
    sink: S,
) -> super::Registered {
    super::Registered {
        encoder: Some(Box::new(PrometheusEncoder::new(prometheus.mode, settings.rollup.clone()))),
        outlet: PrometheusOutlet::boxed(prometheus, sink, &settings.quarantine.prefix),
        quarantine: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FailureMode;
    use crate::sink::{Delivery, MemorySink};
    use crate::{Handler, KinesisBatch, PipelineConfig};
    use std::sync::{Arc, Mutex};

    /// An endpoint that answers every request the same way, and keeps what it took.
    #[derive(Debug)]
    struct Endpoint {
        answer: fn(&str) -> Result<Delivery, SinkError>,
        taken: Mutex<Vec<Parcel>>,
    }

    impl MetricsSink for Arc<Endpoint> {
        async fn send(&self, _: PrometheusMode, request: &Parcel) -> Result<Delivery, SinkError> {
            let answer = (self.answer)(&request.key);
            if answer.is_ok() {
                self.taken.lock().unwrap().push(request.clone());
            }
            answer
        }
    }

    fn run(
        answer: fn(&str) -> Result<Delivery, SinkError>,
        failure_mode: FailureMode,
    ) -> (crate::handler::Outcome, Arc<Endpoint>, Arc<MemorySink>) {
        let lookup = |k: &str| (k == "PROMETHEUS_REMOTE_WRITE_URL").then(|| "http://p".to_owned());
        let config = PrometheusConfig { failure_mode, ..PrometheusConfig::from_lookup(&lookup).unwrap().unwrap() };
        let endpoint = Arc::new(Endpoint { answer, taken: Mutex::new(Vec::new()) });
        let store = Arc::new(MemorySink::new());
        let pipeline_config = PipelineConfig { threads: 1, ..PipelineConfig::default() };
        let stores = crate::output::Stores {
            ingest: store.clone(),
            quarantine: store.clone(),
            search: None::<MemorySink>,
            spool: false,
            prometheus: Some((config, endpoint.clone())),
            billing: crate::output::billing::Stores::default(),
        };
        let handler = Handler::assemble(pipeline_config, stores);
        let sample = crate::samplegen::generate(&crate::samplegen::small());
        let batch: KinesisBatch = serde_json::from_str(&sample.event).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        (rt.block_on(handler.handle(&batch, None)), endpoint, store)
    }

    fn kept(store: &MemorySink, folder: &str) -> Vec<Vec<u8>> {
        store.objects.lock().unwrap().iter().filter(|(k, _)| k.contains(folder)).map(|(_, v)| v.clone()).collect()
    }

    #[test]
    fn valid_batch_is_one_snappy_request_that_decodes_to_the_encoded_entries() {
        let (out, endpoint, _) = run(|_| Ok(Delivery::Written), FailureMode::Spool);
        let taken = endpoint.taken.lock().unwrap();
        assert_eq!((taken.len(), out.summary.prometheus_requests), (1, 1));
        let body = snap::raw::Decoder::new().decompress_vec(&taken[0].body).unwrap();
        // Read with a protobuf wire reader of the test's own (not the encoder's entry reader): a `WriteRequest` of
        // `timeseries` (field 1), each with its labels (field 1, `__name__` among them) and one sample (field 2).
        let request = fields(&body);
        assert!(request.iter().all(|(n, _)| *n == 1), "only timeseries");
        for (_, series) in &request {
            let inner = fields(series);
            let labels: Vec<Vec<(u64, &[u8])>> =
                inner.iter().filter(|(n, _)| *n == 1).map(|(_, l)| fields(l)).collect();
            assert!(labels.iter().any(|l| l.first().map(|(_, name)| *name) == Some(&b"__name__"[..])));
            assert_eq!(inner.iter().filter(|(n, _)| *n == 2).count(), 1, "one sample per series");
        }
        assert_eq!((request.len(), out.summary.prometheus_samples), (taken[0].items, taken[0].items));
    }

    /// The length-delimited fields of a protobuf message, by field number (other wire types are skipped).
    fn fields(mut bytes: &[u8]) -> Vec<(u64, &[u8])> {
        fn varint(bytes: &mut &[u8]) -> u64 {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let (b, rest) = bytes.split_first().unwrap();
                *bytes = rest;
                v |= u64::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return v;
                }
                shift += 7;
            }
        }
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let key = varint(&mut bytes);
            match key & 7 {
                0 => drop(varint(&mut bytes)),
                1 => bytes = &bytes[8..],
                5 => bytes = &bytes[4..],
                2 => {
                    let len = usize::try_from(varint(&mut bytes)).unwrap();
                    out.push((key >> 3, &bytes[..len]));
                    bytes = &bytes[len..];
                }
                t => panic!("wire type {t}"),
            }
        }
        out
    }

    #[test]
    fn invalid_requests_are_quarantined_spooled_or_retried_as_the_failure_policy_says() {
        let refused = |k: &str| Err(SinkError::Permanent { target: k.into(), reason: "HTTP 400: out of order".into() });
        let (out, _, store) = run(refused, FailureMode::Retry);
        assert!(out.response.batch_item_failures.is_empty(), "a refusal is never retried");
        let rejected = kept(&store, "/prometheus-rejected/");
        assert_eq!((rejected.len(), out.summary.prometheus_samples_rejected > 0), (1, true));
        let doc: serde_json::Value = serde_json::from_slice(&rejected[0]).unwrap();
        assert_eq!(doc["reason"], "HTTP 400: out of order");

        let down = |k: &str| Err(SinkError::Transient { target: k.into(), reason: "HTTP 503".into() });
        let (out, _, store) = run(down, FailureMode::Spool);
        assert!(out.response.batch_item_failures.is_empty(), "metrics never block billing");
        assert_eq!(kept(&store, "/prometheus-spool/").len(), 1);
        assert!(out.summary.prometheus_samples_spooled > 0 && out.summary.record_objects > 0);

        let (out, _, store) = run(down, FailureMode::Retry);
        assert_eq!(out.response.batch_item_failures.len(), 1, "the records are retried");
        assert!(kept(&store, "/prometheus-").is_empty());

        // Refused credentials are no verdict on the samples: spooled (or retried), counted as an access error,
        // never quarantined as refused.
        let denied = |k: &str| {
            Err(SinkError::AccessDenied { action: "remote write", target: k.into(), detail: "HTTP 403".into() })
        };
        let (out, _, store) = run(denied, FailureMode::Spool);
        assert!(out.response.batch_item_failures.is_empty());
        assert_eq!((kept(&store, "/prometheus-spool/").len(), kept(&store, "/prometheus-rejected/").len()), (1, 0));
        assert_eq!((out.summary.access_denied, out.summary.prometheus_samples_rejected), (1, 0));
        let (out, _, store) = run(denied, FailureMode::Retry);
        assert_eq!((out.response.batch_item_failures.len(), out.summary.access_denied), (1, 1));
        assert!(kept(&store, "/prometheus-").is_empty());
    }
}
