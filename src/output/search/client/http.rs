//! The search endpoint's HTTP client: every authentication the config names (none, basic, API key, a basic pair
//! from Secrets Manager, SigV4) over the shared transport ([`crate::sink::http::AwsHttp`]).

use super::super::{SearchAuth, SearchConfig};
use crate::sink::http::{Answer, AwsHttp, HttpError};
use aws_config::SdkConfig;
use base64::Engine as _;
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::OnceCell;

/// The search endpoint's client.
#[derive(Debug)]
pub struct SearchHttp {
    http: AwsHttp,
    base: String,
    auth: SearchAuth,
    basic_from_secret: OnceCell<String>,
    secrets_endpoint: Option<String>,
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

impl SearchHttp {
    /// A client for `config.url`. `secrets_endpoint` overrides the Secrets Manager endpoint (local tests; in
    /// production it comes from `AWS_ENDPOINT_URL_SECRETS_MANAGER` or the region).
    pub fn new(config: &SearchConfig, sdk: SdkConfig, secrets_endpoint: Option<String>) -> Self {
        Self::over(config, AwsHttp::new(sdk, Self::timeout(config)), secrets_endpoint)
    }

    /// A client for `config.url` over `http` (one within the process: [`AwsHttp::in_process`]).
    pub fn over(config: &SearchConfig, http: AwsHttp, secrets_endpoint: Option<String>) -> Self {
        Self {
            http,
            base: config.url.clone(),
            auth: config.auth.clone(),
            basic_from_secret: OnceCell::new(),
            secrets_endpoint,
        }
    }

    /// The time one request is given (`SEARCH_TIMEOUT_MS`).
    pub fn timeout(config: &SearchConfig) -> Duration {
        Duration::from_millis(config.timeout_ms)
    }

    /// Sends `method path` with an optional body to the search endpoint, authenticated.
    pub async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: Option<(Bytes, &str)>,
    ) -> Result<Answer, HttpError> {
        let url = format!("{}{path}", self.base);
        let mut headers = Vec::new();
        match &self.auth {
            SearchAuth::None | SearchAuth::SigV4 { .. } => {}
            SearchAuth::Basic { username, password } => headers.push(("authorization", basic(username, password))),
            SearchAuth::ApiKey(key) => headers.push(("authorization", format!("ApiKey {key}"))),
            SearchAuth::Secret { arn } => {
                let value = self.basic_from_secret.get_or_try_init(|| self.read_secret(arn)).await?;
                headers.push(("authorization", value.clone()));
            }
        }
        let service = match &self.auth {
            SearchAuth::SigV4 { service } => Some((service.as_str(), None)),
            _ => None,
        };
        self.http.request(method, &url, headers, body, service).await
    }
}

impl SearchHttp {
    /// Reads `{"username","password"}` from Secrets Manager and returns the basic-auth header value.
    async fn read_secret(&self, arn: &str) -> Result<String, HttpError> {
        let secret = self.http.secret_string(arn, self.secrets_endpoint.as_deref(), "search credentials").await?;
        #[derive(serde::Deserialize)]
        struct Pair {
            username: String,
            password: String,
        }
        let pair = serde_json::from_str::<Pair>(&secret).map_err(|_| {
            HttpError::Setup(format!("secret {arn} must be a JSON object with string keys username and password"))
        })?;
        Ok(basic(&pair.username, &pair.password))
    }
}
