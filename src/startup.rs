//! Cold start: configuration read and validated once, clients built once, no network call before the first
//! event. Shared by the Lambda entry point and `logmeter process` without `--out`.

use crate::Handler;
use crate::PipelineConfig;
use crate::config::{ConfigError, DeliveryConfig, FailureMode};
use crate::output::prometheus::PrometheusConfig;
use crate::output::search::SearchConfig;
use crate::output::search::SearchMirror;
use crate::output::search::client::SearchHttp;
use crate::sink::S3Sink;

/// The production handler: S3 and the search mirror.
pub type AwsHandler = Handler;

/// Why the function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No bucket to deliver to.
    #[error("INGEST_BUCKET_NAME is not set: name the S3 bucket meter records go to")]
    NoBucket,
}

/// Every setting production reads, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The pipeline's, and every output's encoder's.
    pub pipeline: PipelineConfig,
    /// The buckets and the function metadata lookup.
    pub delivery: DeliveryConfig,
    /// The search endpoint, when `SEARCH_URL` is set.
    pub search: Option<SearchConfig>,
    /// Prometheus, when `PROMETHEUS_REMOTE_WRITE_URL` or `PROMETHEUS_PUSHGATEWAY_URL` is set.
    pub prometheus: Option<PrometheusConfig>,
}

/// The settings, read and checked: call before loading the SDK configuration, so a missing or bad setting is
/// reported before anything (a region lookup) is tried.
pub fn settings(lookup: impl Fn(&str) -> Option<String> + Copy) -> Result<Settings, StartupError> {
    let mut pipeline = PipelineConfig::from_lookup(lookup)?;
    let delivery = DeliveryConfig::from_lookup(lookup)?.ok_or(StartupError::NoBucket)?;
    let search = SearchConfig::from_lookup(&lookup)?;
    if let Some(stream) = search.as_ref().and_then(|s| s.data_stream.clone()) {
        pipeline.outputs.search.index_pattern = stream;
    }
    Ok(Settings { pipeline, delivery, search, prometheus: PrometheusConfig::from_lookup(&lookup)? })
}

/// What the production handler is built from: the pipeline's settings and the sinks of each destination.
#[derive(Debug)]
pub struct AwsParts {
    /// The pipeline's settings.
    pub pipeline: PipelineConfig,
    /// The ingest bucket.
    pub ingest: S3Sink,
    /// The quarantine bucket (the ingest bucket unless `QUARANTINE_BUCKET_NAME` is set).
    pub quarantine: S3Sink,
    /// The search mirror, when `SEARCH_URL` is set.
    pub search: Option<SearchMirror>,
    /// Whether a mirror outage spools bodies (`SEARCH_FAILURE_MODE=spool`) rather than retrying the record.
    pub spool: bool,
    /// The function metadata lookup (`FUNCTION_METADATA_LOOKUP`, with rollups to write somewhere).
    pub lookup: Option<crate::sink::FunctionLookup>,
    /// Prometheus, when `PROMETHEUS_REMOTE_WRITE_URL` or `PROMETHEUS_PUSHGATEWAY_URL` is set.
    pub prometheus: Option<(PrometheusConfig, crate::output::prometheus::PrometheusHttp)>,
    /// The billing platforms' way out (their APIs) and ledger (the ingest bucket).
    pub billing: crate::output::billing::Stores,
}

impl AwsParts {
    /// The handler over these parts.
    pub fn into_handler(self) -> AwsHandler {
        let stores = crate::output::Stores {
            ingest: self.ingest,
            quarantine: self.quarantine,
            search: self.search,
            spool: self.spool,
            prometheus: self.prometheus,
            billing: self.billing,
        };
        let handler = Handler::assemble(self.pipeline, stores);
        match self.lookup {
            Some(lookup) => handler.with_lookup(lookup),
            None => handler,
        }
    }
}

/// Reads the settings from `lookup` (the process environment in production) and builds the sinks with the AWS
/// SDK configuration ([`crate::aws::sdk_config`] in production).
pub async fn aws_parts(
    lookup: impl Fn(&str) -> Option<String> + Copy,
    sdk: &aws_config::SdkConfig,
) -> Result<AwsParts, StartupError> {
    let Settings { pipeline, delivery, search, prometheus } = settings(lookup)?;
    let client = crate::aws::s3_client(sdk, &delivery, lookup).await;
    let ingest = S3Sink::new(client.clone(), &delivery.bucket, delivery.acl);
    let secrets = lookup("AWS_ENDPOINT_URL_SECRETS_MANAGER").or_else(|| sdk.endpoint_url().map(str::to_owned));
    let billing = crate::output::billing::Stores {
        reach: crate::output::billing::Reach::Http { sdk: Box::new(sdk.clone()), secrets_endpoint: secrets },
        clock: crate::output::billing::Clock::default(),
        ledger: Some(std::sync::Arc::new(ingest.clone())),
    };
    let quarantine = S3Sink::new(client, &delivery.quarantine_bucket, delivery.acl);
    let written = &pipeline.outputs.search;
    let mirror = search.as_ref().map(|s| {
        let secrets = lookup("AWS_ENDPOINT_URL_SECRETS_MANAGER").or_else(|| sdk.endpoint_url().map(str::to_owned));
        search_mirror(&pipeline, s, SearchHttp::new(s, sdk.clone(), secrets))
    });
    let spool = search.as_ref().is_some_and(|s| s.failure_mode == FailureMode::Spool);
    let metrics =
        prometheus.as_ref().map(|p| (p.clone(), crate::output::prometheus::PrometheusHttp::new(p, sdk.clone())));
    let rollups_written = (mirror.is_some() && written.rollups) || metrics.is_some();
    let lookup = (delivery.function_lookup && rollups_written)
        .then(|| {
            let http = crate::sink::http::AwsHttp::new(sdk.clone(), std::time::Duration::from_secs(3));
            crate::sink::FunctionLookup::new(http, delivery.lambda_endpoint.clone())
        })
        .flatten();
    tracing::info!(
        bucket = %delivery.bucket,
        quarantine_bucket = %delivery.quarantine_bucket,
        search = search.is_some(),
        auth = ?search.as_ref().map(|s| &s.auth),
        prometheus = ?prometheus.as_ref().map(|p| (p.mode, &p.auth)),
        billing = ?pipeline.outputs.billing.platforms.iter().map(|p| p.name()).collect::<Vec<_>>(),
        "configured"
    );
    Ok(AwsParts { pipeline, ingest, quarantine, search: mirror, spool, lookup, prometheus: metrics, billing })
}

/// The search mirror over `http`, installing the templates of every index `pipeline` writes.
pub fn search_mirror(pipeline: &PipelineConfig, search: &SearchConfig, http: SearchHttp) -> SearchMirror {
    let written = &pipeline.outputs.search;
    let meters = written.meter_records.then_some(written.meter_index_pattern.as_str());
    let rollups = written.rollups.then_some(written.rollup_index_pattern.as_str());
    let reconcile = written.reconcile_docs.then_some(written.reconcile_index_pattern.as_str());
    SearchMirror::new(search, http, &written.index_pattern, rollups, meters, reconcile)
}

/// Builds the handler from `lookup` and the AWS SDK configuration (see [`aws_parts`]).
pub async fn aws_handler(
    lookup: impl Fn(&str) -> Option<String> + Copy,
    sdk: &aws_config::SdkConfig,
) -> Result<AwsHandler, StartupError> {
    Ok(aws_parts(lookup, sdk).await?.into_handler())
}
