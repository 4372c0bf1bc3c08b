//! The Elasticsearch / OpenSearch mirror's client: bulk requests with per-item handling, bounded retries with
//! backoff and jitter, the index template installed on first use, and every authentication the config names.
//!
//! One client path serves Elasticsearch 8/9 and OpenSearch 1–3, managed or Serverless: plain HTTP over the
//! rustls stack the AWS SDK already brings, with `aws-sigv4` for IAM auth (see docs/architecture.md).

mod bulk;
mod http;

pub use super::template::{
    index_template, meter_records_template, reconcile_results_template, reconcile_template, rollups_template,
    template_patterns,
};
pub use crate::sink::http::{Answer, AwsHttp, HttpError};
use crate::sink::http::{backoff, jitter, snippet};
pub use bulk::{ItemOutcome, action_target, classify, join, pairs, without_id};
pub use http::SearchHttp;

use super::template::SCHEMA_VERSION;
use super::{BulkDelivery, RejectedDocument, SearchSink};
use super::{IdMode, SearchConfig};
use crate::plan::Parcel;
use crate::sink::SinkError;
use ::http::Method;
use bytes::Bytes;
use tokio::sync::OnceCell;

/// Name of the metric documents' index template.
pub const TEMPLATE_NAME: &str = "logmeter-metrics";
/// Name of the rollups' index template.
pub const ROLLUP_TEMPLATE_NAME: &str = "logmeter-rollups";
/// Name of the meter records' index template.
pub const METER_TEMPLATE_NAME: &str = "logmeter-meter-records";
/// Name of the reconciliation documents' index template.
pub const RECONCILE_TEMPLATE_NAME: &str = "logmeter-reconcile";

/// The search mirror.
#[derive(Debug)]
pub struct SearchMirror {
    http: SearchHttp,
    id_mode: IdMode,
    max_attempts: u32,
    templates: Vec<(&'static str, serde_json::Value)>,
    template_ready: OnceCell<()>,
    template_refused: std::sync::atomic::AtomicBool,
}

impl SearchMirror {
    /// A mirror for `config`; `index_pattern` is the pipeline's (the data stream name when one is configured),
    /// `rollup_pattern` the rollup index pattern when rollups are on, `meter_pattern` the meter record index
    /// pattern when meter records are mirrored too, `reconcile_pattern` the reconciliation index pattern when
    /// those documents are written.
    pub fn new(
        config: &SearchConfig,
        http: SearchHttp,
        index_pattern: &str,
        rollup_pattern: Option<&str>,
        meter_pattern: Option<&str>,
        reconcile_pattern: Option<&str>,
    ) -> Self {
        let mut templates = Vec::new();
        if config.install_template {
            let metrics = index_template(&template_patterns(index_pattern), config.data_stream.is_some());
            templates.push((TEMPLATE_NAME, metrics));
            if let Some(p) = rollup_pattern {
                templates.push((ROLLUP_TEMPLATE_NAME, rollups_template(&template_patterns(p))));
            }
            if let Some(p) = meter_pattern {
                templates.push((METER_TEMPLATE_NAME, meter_records_template(&template_patterns(p))));
            }
            if let Some(p) = reconcile_pattern {
                templates.push((RECONCILE_TEMPLATE_NAME, reconcile_template(&template_patterns(p))));
            }
        }
        Self {
            http,
            id_mode: config.id_mode,
            max_attempts: config.max_attempts,
            templates,
            template_ready: OnceCell::new(),
            template_refused: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The mirror's HTTP client (authenticated), for reads beside the bulk writes.
    pub fn http(&self) -> &SearchHttp {
        &self.http
    }

    /// The same mirror, installing `template` under `name` too (when templates are installed at all).
    pub fn with_template(mut self, name: &'static str, template: serde_json::Value) -> Self {
        if !self.templates.is_empty() {
            self.templates.push((name, template));
        }
        self
    }

    /// Installs the index templates that are missing (idempotent; once per process).
    pub async fn ensure_template(&self) -> Result<(), SinkError> {
        self.template_ready
            .get_or_try_init(|| async {
                for (name, template) in &self.templates {
                    let path = format!("/_index_template/{name}");
                    let target = || format!("index template {name}");
                    let got = self.http.send(Method::GET, &path, None).await.map_err(|e| http_error(target(), e))?;
                    match got.status {
                        // Installed, by this version or a later one: left as it is.
                        200 if installed_version(&got.body) >= SCHEMA_VERSION => continue,
                        // Installed by an earlier version: replaced, so new fields are mapped (indices created
                        // from now on take it; existing ones keep their mappings).
                        200 => tracing::info!(template = %name, "index template of an earlier version: replaced"),
                        404 => {}
                        s => return Err(status_error(target(), s, &got.body)),
                    }
                    let body = Bytes::from(template.to_string());
                    let put = self
                        .http
                        .send(Method::PUT, &path, Some((body, "application/json")))
                        .await
                        .map_err(|e| http_error(target(), e))?;
                    if !matches!(put.status, 200 | 201) {
                        return Err(status_error(target(), put.status, &put.body));
                    }
                    tracing::info!(template = %name, "index template installed");
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }
}

/// The `_meta.schema_version` of the template a `GET /_index_template/<name>` answer holds (0: none, or another
/// tool's).
fn installed_version(body: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["index_templates"][0]["index_template"]["_meta"]["schema_version"].as_u64())
        .unwrap_or(0)
}

fn http_error(target: String, e: HttpError) -> SinkError {
    match e {
        HttpError::Unavailable(reason) => SinkError::Transient { target, reason },
        HttpError::Setup(reason) => SinkError::Permanent { target, reason },
    }
}

fn status_error(target: String, status: u16, body: &[u8]) -> SinkError {
    match status {
        401 | 403 => SinkError::AccessDenied {
            action: "the search mirror's bulk API",
            target,
            detail: format!(
                "authentication failed (HTTP {status}): check SEARCH_USERNAME/SEARCH_PASSWORD, SEARCH_API_KEY, SEARCH_SECRET_ARN or the role's access policy"
            ),
        },
        429 | 500..=599 => SinkError::Transient { target, reason: format!("HTTP {status}: {}", snippet(body)) },
        _ => SinkError::Permanent { target, reason: format!("HTTP {status}: {}", snippet(body)) },
    }
}

impl SearchSink for SearchMirror {
    async fn bulk(&self, request: &Parcel) -> Result<BulkDelivery, SinkError> {
        // A template problem must not stop indexing (an ingest role often may write documents but not manage
        // templates): it is logged; a refusal is not asked again, a transient failure is retried next time.
        if !self.template_refused.load(std::sync::atomic::Ordering::Relaxed)
            && let Err(e) = self.ensure_template().await
        {
            if matches!(e, SinkError::Permanent { .. } | SinkError::AccessDenied { .. }) {
                self.template_refused.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            tracing::error!(error = %e, "index template not installed: documents are indexed without it (set SEARCH_TEMPLATE=false to stop trying)");
        }
        let all = pairs(&request.body);
        let actions: Vec<Vec<u8>> =
            all.iter().map(|(a, _)| if self.id_mode == IdMode::Auto { without_id(a) } else { a.to_vec() }).collect();
        let mut pending: Vec<usize> = (0..all.len()).collect();
        let mut out = BulkDelivery::default();
        let mut last = String::new();
        for attempt in 1..=self.max_attempts {
            if attempt > 1 {
                tokio::time::sleep(backoff(attempt, jitter())).await;
            }
            let body = join(&pending.iter().map(|&i| (actions[i].as_slice(), all[i].1)).collect::<Vec<_>>());
            let answer =
                match self.http.send(Method::POST, "/_bulk", Some((Bytes::from(body), "application/x-ndjson"))).await {
                    Ok(a) => a,
                    Err(HttpError::Unavailable(e)) => {
                        last = e;
                        continue;
                    }
                    Err(e) => return Err(http_error(request.key.clone(), e)),
                };
            match answer.status {
                200 => {}
                429 | 500..=599 => {
                    last = format!("HTTP {}", answer.status);
                    continue;
                }
                s => return Err(status_error(request.key.clone(), s, &answer.body)),
            }
            let outcomes = match classify(&answer.body, pending.len()) {
                Ok(o) => o,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let mut next = Vec::new();
            for (outcome, i) in outcomes.into_iter().zip(pending) {
                match outcome {
                    ItemOutcome::Created => out.created += 1,
                    ItemOutcome::AlreadyPresent => out.already_present += 1,
                    ItemOutcome::Retry(reason) => {
                        last = reason;
                        next.push(i);
                    }
                    ItemOutcome::Reject(status, error) => out.rejected.push(RejectedDocument {
                        action: String::from_utf8_lossy(all[i].0).into_owned(),
                        source: String::from_utf8_lossy(all[i].1).into_owned(),
                        status,
                        error,
                    }),
                }
            }
            pending = next;
            if pending.is_empty() {
                return Ok(out);
            }
        }
        Err(SinkError::Transient {
            target: request.key.clone(),
            reason: format!(
                "{} of {} documents not indexed after {} attempts: {last}",
                pending.len(),
                all.len(),
                self.max_attempts
            ),
        })
    }
}
