//! The Prometheus endpoint: remote write 1.0 requests (`POST`, snappy protobuf and the protocol's headers) or
//! Pushgateway groups (`PUT`), authenticated, with retries and backoff for 429, 5xx and timeouts.
//!
//! A 4xx other than 429 is never retried. 401 and 403 are access errors (`AccessDenied`: the credentials, not the
//! data); any other is a refusal of the data for good (`Permanent`), and the outlet quarantines the request with
//! the answer. So is a 5xx whose answer says the samples are out of the server's time bounds
//! ("too old sample", "out of bounds"): Prometheus 2.x answers a sample older than its out-of-order window with a
//! 500, which no retry can fix.

use super::MetricsSink;
use super::{PrometheusAuth, PrometheusConfig, PrometheusMode};
use crate::plan::Parcel;
use crate::sink::http::{AwsHttp, HttpError, backoff, jitter, snippet};
use crate::sink::{Delivery, SinkError};
use base64::Engine as _;
use bytes::Bytes;
use std::time::Duration;

/// The Prometheus endpoint's client.
#[derive(Debug)]
pub struct PrometheusHttp {
    http: AwsHttp,
    url: String,
    auth: PrometheusAuth,
    max_attempts: u32,
}

/// Whether a 5xx answer says the samples can never be taken (outside the server's time bounds).
fn out_of_bounds(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains("too old sample") || text.contains("out of bounds")
}

impl PrometheusHttp {
    /// A client for `config` with the SDK's credentials (SigV4 for `aps`).
    pub fn new(config: &PrometheusConfig, sdk: aws_config::SdkConfig) -> Self {
        Self::over(config, AwsHttp::new(sdk, Self::timeout(config)))
    }

    /// A client for `config` over `http` (one within the process: [`AwsHttp::in_process`]).
    pub fn over(config: &PrometheusConfig, http: AwsHttp) -> Self {
        Self { http, url: config.url.clone(), auth: config.auth.clone(), max_attempts: config.max_attempts }
    }

    /// The time one request is given (`PROMETHEUS_TIMEOUT_MS`).
    pub fn timeout(config: &PrometheusConfig) -> Duration {
        Duration::from_millis(config.timeout_ms)
    }
}

impl MetricsSink for PrometheusHttp {
    async fn send(&self, mode: PrometheusMode, request: &Parcel) -> Result<Delivery, SinkError> {
        let (method, url, content_type) = match mode {
            PrometheusMode::RemoteWrite => (http::Method::POST, self.url.clone(), "application/x-protobuf"),
            PrometheusMode::Pushgateway => (
                http::Method::PUT,
                format!("{}/metrics/{}", self.url, request.key),
                "text/plain; version=0.0.4; charset=utf-8",
            ),
        };
        let mut last = String::new();
        for attempt in 1..=self.max_attempts {
            if attempt > 1 {
                tokio::time::sleep(backoff(attempt, jitter())).await;
            }
            let mut headers = Vec::new();
            if mode == PrometheusMode::RemoteWrite {
                headers.push(("content-encoding", "snappy".to_owned()));
                headers.push(("x-prometheus-remote-write-version", "0.1.0".to_owned()));
            }
            let mut sign = None;
            match &self.auth {
                PrometheusAuth::None => {}
                PrometheusAuth::Basic { username, password } => {
                    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                    headers.push(("authorization", format!("Basic {pair}")));
                }
                PrometheusAuth::Bearer(token) => headers.push(("authorization", format!("Bearer {token}"))),
                PrometheusAuth::SigV4 { region } => sign = Some(("aps", Some(region.as_str()))),
            }
            let body = Some((Bytes::from(request.body.clone()), content_type));
            let answer = match self.http.request(method.clone(), &url, headers, body, sign).await {
                Ok(a) => a,
                Err(HttpError::Unavailable(e)) => {
                    last = e;
                    continue;
                }
                Err(HttpError::Setup(reason)) => {
                    return Err(SinkError::Permanent { target: request.key.clone(), reason });
                }
            };
            let reason = || format!("HTTP {}: {}", answer.status, snippet(&answer.body));
            match answer.status {
                200..=299 => return Ok(Delivery::Written),
                500..=599 if out_of_bounds(&answer.body) => {
                    return Err(SinkError::Permanent { target: request.key.clone(), reason: reason() });
                }
                429 | 500..=599 => last = reason(),
                401 | 403 => {
                    return Err(SinkError::AccessDenied {
                        action: "Prometheus remote write / Pushgateway",
                        target: request.key.clone(),
                        detail: format!(
                            "authentication failed (HTTP {}): check PROMETHEUS_USERNAME/PROMETHEUS_PASSWORD, PROMETHEUS_BEARER_TOKEN or the role's aps:RemoteWrite",
                            answer.status
                        ),
                    });
                }
                _ => return Err(SinkError::Permanent { target: request.key.clone(), reason: reason() }),
            }
        }
        Err(SinkError::Transient {
            target: request.key.clone(),
            reason: format!("not taken after {} attempts: {last}", self.max_attempts),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_time_bound_refusals_are_told_from_outages() {
        assert!(out_of_bounds(b"too old sample"));
        assert!(out_of_bounds(b"out of bounds"));
        assert!(!out_of_bounds(b"context deadline exceeded"));
    }
}
