//! AWS clients, built once at cold start. Nothing here calls the network: the SDK resolves credentials on the
//! first request, so a cold start costs no round trip.

use crate::config::DeliveryConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::time::Duration;

/// The shared SDK configuration: region, credentials chain and endpoint overrides from the standard variables.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(20))
                .build(),
        )
        .load()
        .await
}

/// The S3 client for the ingest bucket: path-style addressing when an endpoint is overridden (local servers),
/// the configured retry budget, and an assumed role for another account's bucket.
pub async fn s3_client(
    sdk: &SdkConfig,
    config: &DeliveryConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> aws_sdk_s3::Client {
    let s3_endpoint = lookup("AWS_ENDPOINT_URL_S3").filter(|v| !v.is_empty());
    let overridden = sdk.endpoint_url().is_some() || s3_endpoint.is_some();
    let mut builder = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(overridden)
        .retry_config(RetryConfig::standard().with_max_attempts(config.s3_max_attempts));
    if let Some(url) = s3_endpoint {
        builder = builder.endpoint_url(url);
    }
    if let Some(role) = &config.role_arn {
        let mut provider = aws_config::sts::AssumeRoleProvider::builder(role).session_name("logmeter");
        if let Some(id) = &config.role_external_id {
            provider = provider.external_id(id);
        }
        builder = builder.credentials_provider(provider.configure(sdk).build().await);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}
