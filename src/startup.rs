//! Cold start: configuration read and validated once, clients built once, no network call before the first
//! event. Shared by the Lambda entry point and `logmeter process` without `--out`.

use crate::config::{ConfigError, DeliveryConfig, PipelineConfig, SearchFailureMode};
use crate::sink::search::SearchHttp;
use crate::sink::{S3Sink, SearchMirror};
use crate::{Handler, Pipeline};

/// The production handler: S3 and the search mirror.
pub type AwsHandler = Handler<S3Sink, SearchMirror>;

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

/// The settings, read and checked: call before loading the SDK configuration, so a missing or bad setting is
/// reported before anything (a region lookup) is tried.
pub fn settings(
    lookup: impl Fn(&str) -> Option<String> + Copy,
) -> Result<(PipelineConfig, DeliveryConfig), StartupError> {
    let mut pipeline = PipelineConfig::from_lookup(lookup)?;
    let delivery = DeliveryConfig::from_lookup(lookup)?.ok_or(StartupError::NoBucket)?;
    if let Some(stream) = delivery.search.as_ref().and_then(|s| s.data_stream.clone()) {
        pipeline.index_pattern = stream;
    }
    Ok((pipeline, delivery))
}

/// Builds the handler from `lookup` (the process environment in production) and the AWS SDK configuration
/// ([`crate::aws::sdk_config`] in production).
pub async fn aws_handler(
    lookup: impl Fn(&str) -> Option<String> + Copy,
    sdk: &aws_config::SdkConfig,
) -> Result<AwsHandler, StartupError> {
    let (pipeline, delivery) = settings(lookup)?;
    let s3 = S3Sink::new(crate::aws::s3_client(sdk, &delivery, lookup).await, &delivery);
    let search = delivery.search.as_ref().map(|s| {
        let secrets = lookup("AWS_ENDPOINT_URL_SECRETS_MANAGER").or_else(|| sdk.endpoint_url().map(str::to_owned));
        let meters = pipeline.mirror_meter_records.then_some(pipeline.meter_index_pattern.as_str());
        SearchMirror::new(s, SearchHttp::new(s, sdk.clone(), secrets), &pipeline.index_pattern, meters)
    });
    let spool = delivery.search.as_ref().is_some_and(|s| s.failure_mode == SearchFailureMode::Spool);
    tracing::info!(
        bucket = %delivery.bucket,
        quarantine_bucket = %delivery.quarantine_bucket,
        search = delivery.search.is_some(),
        auth = ?delivery.search.as_ref().map(|s| &s.auth),
        "configured"
    );
    Ok(Handler::new(Pipeline::new(pipeline), s3, search).with_search_spool(spool))
}
