//! How a billing platform's requests leave: over HTTP to `<P>_API_URL` + the vendor's path, with the API key, or,
//! with `--out DIR`, as files under `DIR/billing/<platform>/<shard>/` (create-only, byte for byte the body that
//! would be sent).

use super::platform::{Body, Key, Platform, Verdict};
use crate::plan::Parcel;
use crate::sink::http::{AwsHttp, HttpError, InProcessServer};
use crate::sink::{Delivery, LocalDir, ObjectSink};
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Where the billing platforms' requests go, for every platform alike.
#[derive(Debug, Clone, Default)]
pub enum Reach {
    /// Nowhere: a handler that plans without delivering.
    #[default]
    None,
    /// The platforms' APIs, with this SDK configuration for Secrets Manager (and `AWS_ENDPOINT_URL_SECRETS_MANAGER`
    /// when set).
    Http {
        /// The SDK configuration (credentials and region for Secrets Manager).
        sdk: Box<aws_config::SdkConfig>,
        /// The Secrets Manager endpoint, when overridden.
        secrets_endpoint: Option<String>,
    },
    /// Request bodies written under this directory (`--out DIR`).
    Dir(PathBuf),
    /// The platforms' APIs within this process (the simulation's faithful platforms), through the same HTTP
    /// client code.
    InProcess(Arc<dyn InProcessServer>),
}

/// One platform's way out (its `Debug` never shows the API key).
pub enum Transport {
    /// Over HTTP.
    Http {
        /// The client.
        http: Box<AwsHttp>,
        /// The API key, once read.
        key: OnceCell<Option<String>>,
        /// The Secrets Manager endpoint, when overridden.
        secrets_endpoint: Option<String>,
    },
    /// Into a directory.
    Dir(LocalDir),
    /// Nowhere (every request fails, so its records are retried).
    None,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Http { secrets_endpoint, .. } => {
                f.debug_struct("Http").field("key", &"<redacted>").field("secrets_endpoint", secrets_endpoint).finish()
            }
            Self::Dir(dir) => f.debug_tuple("Dir").field(dir).finish(),
            Self::None => f.write_str("None"),
        }
    }
}

/// What one attempt gave.
#[derive(Debug)]
pub enum Sent {
    /// The platform's answer, read.
    Answer(Verdict),
    /// No answer (connection refused, reset, timed out): worth retrying.
    Unavailable(String),
    /// A setup problem (the key's secret cannot be read): not worth retrying now.
    Setup(String),
}

impl Transport {
    /// The transport `reach` gives the platform `platform`.
    pub fn new(reach: &Reach, platform: &dyn Platform) -> Self {
        match reach {
            Reach::None => Self::None,
            Reach::Dir(dir) => Self::Dir(LocalDir::new(dir)),
            Reach::InProcess(server) => Self::Http {
                http: Box::new(AwsHttp::in_process(Arc::clone(server), timeout(platform))),
                key: OnceCell::new(),
                secrets_endpoint: None,
            },
            Reach::Http { sdk, secrets_endpoint } => Self::Http {
                http: Box::new(AwsHttp::new((**sdk).clone(), timeout(platform))),
                key: OnceCell::new(),
                secrets_endpoint: secrets_endpoint.clone(),
            },
        }
    }

    /// Sends one request (`name` names it under `--out`).
    pub async fn send(&self, platform: &Arc<dyn Platform>, body: &Body, name: &str) -> Sent {
        match self {
            Self::None => Sent::Setup("no way out to the billing platform is configured".into()),
            Self::Dir(dir) => {
                let key = format!("billing/{}/{name}.{}", platform.name(), body.extension);
                match dir.put(&Parcel { key, body: body.bytes.clone(), items: 1 }).await {
                    Ok(Delivery::Written | Delivery::AlreadyPresent) => Sent::Answer(Verdict::Accepted),
                    Err(e) => Sent::Unavailable(e.to_string()),
                }
            }
            Self::Http { http, key, secrets_endpoint } => {
                let key = match key.get_or_try_init(|| read_key(http, platform, secrets_endpoint.as_deref())).await {
                    Ok(k) => k,
                    Err(HttpError::Unavailable(e)) => return Sent::Unavailable(e),
                    Err(HttpError::Setup(e)) => return Sent::Setup(e),
                };
                let headers: Vec<(&str, String)> = key.as_deref().map(|k| platform.auth(k)).into_iter().collect();
                let url = format!("{}{}", platform.common().url, platform.path());
                let payload = Some((Bytes::from(body.bytes.clone()), body.content_type));
                match http.request(http::Method::POST, &url, headers, payload, None).await {
                    Ok(a) => Sent::Answer(platform.answer(a.status, &a.headers, &a.body)),
                    Err(HttpError::Unavailable(e)) => Sent::Unavailable(e),
                    Err(HttpError::Setup(e)) => Sent::Setup(e),
                }
            }
        }
    }
}

/// A platform's time for one request.
fn timeout(platform: &dyn Platform) -> Duration {
    Duration::from_millis(platform.common().timeout_ms)
}

/// The platform's API key: the setting, or its secret (the secret string, or the `api_key` field of a JSON secret).
async fn read_key(
    http: &AwsHttp,
    platform: &Arc<dyn Platform>,
    endpoint: Option<&str>,
) -> Result<Option<String>, HttpError> {
    match &platform.common().key {
        Key::None => Ok(None),
        Key::Value(k) => Ok(Some(k.clone())),
        Key::Secret(arn) => {
            let what = format!("{} API key", platform.name());
            let secret = http.secret_string(arn, endpoint, &what).await?;
            let field = serde_json::from_str::<serde_json::Value>(&secret)
                .ok()
                .and_then(|v| v.get("api_key").and_then(|k| k.as_str()).map(str::to_owned));
            Ok(Some(field.unwrap_or(secret)))
        }
    }
}
