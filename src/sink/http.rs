//! One HTTP client for the search endpoint and Secrets Manager: hyper over rustls (the stack the AWS SDK already
//! brings), with basic auth, Elastic API keys, or SigV4 (`es`, `aoss`, `secretsmanager`) using the function's
//! credentials. Credentials and secrets are resolved on first use, never at cold start.

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, SystemTime};

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers (`Retry-After`, a platform's own retry advice).
    pub headers: http::HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Connection refused, reset, DNS, TLS, or timed out: worth retrying.
    #[error("{0}")]
    Unavailable(String),
    /// Configuration or credentials problem: retrying will not help.
    #[error("{0}")]
    Setup(String),
}

/// A server within the process: the simulation's search engine, Prometheus and billing platforms, reached through
/// the same client code as over the network ([`AwsHttp::in_process`]).
pub trait InProcessServer: Send + Sync + std::fmt::Debug {
    /// The answer to `request`, or `None` when no answer comes (the connection dropped; the request may have been
    /// taken). An answer slower than the client's timeout is cut by the client, as over the network.
    fn answer(&self, request: http::Request<Bytes>) -> super::Boxed<'_, Option<Answer>>;
}

/// Where an [`AwsHttp`] sends its requests.
#[derive(Debug)]
enum Route {
    /// Over the network.
    Network(Box<Client<Https, Full<Bytes>>>),
    /// To a server within the process.
    InProcess(std::sync::Arc<dyn InProcessServer>),
}

/// An HTTP client for AWS APIs and the outputs' endpoints: requests with a timeout, signed with SigV4 when asked.
#[derive(Debug)]
pub struct AwsHttp {
    route: Route,
    sdk: SdkConfig,
    timeout: Duration,
}

fn connector() -> Https {
    hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build()
}

impl AwsHttp {
    /// A client with the SDK's credentials and region, and `timeout` per request.
    pub fn new(sdk: SdkConfig, timeout: Duration) -> Self {
        Self { route: Route::Network(Box::new(Client::builder(TokioExecutor::new()).build(connector()))), sdk, timeout }
    }

    /// A client whose requests go to `server` within the process, with `timeout` per request (no credentials, so
    /// no SigV4 or Secrets Manager).
    pub fn in_process(server: std::sync::Arc<dyn InProcessServer>, timeout: Duration) -> Self {
        let sdk = SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
        Self { route: Route::InProcess(server), sdk, timeout }
    }

    /// The SDK configuration (credentials, region, endpoints).
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// Sends `method url` with `headers` and an optional body; signs it for `sign_for` (service, and a region
    /// other than the SDK's) when given.
    pub async fn request(
        &self,
        method: http::Method,
        url: &str,
        headers: Vec<(&str, String)>,
        body: Option<(Bytes, &str)>,
        sign_for: Option<(&str, Option<&str>)>,
    ) -> Result<Answer, HttpError> {
        let (bytes, content_type) = body.unwrap_or((Bytes::new(), ""));
        let mut builder = http::Request::builder().method(method).uri(url);
        if !content_type.is_empty() {
            builder = builder.header("content-type", content_type);
        }
        for (k, v) in headers {
            builder = builder.header(k, v);
        }
        let mut req = builder
            .body(bytes.clone())
            .map_err(|e| HttpError::Setup(format!("cannot build a request for {url}: {e}")))?;
        if let Some((service, region)) = sign_for {
            self.sign(&mut req, &bytes, service, region).await?;
        }
        let late = || HttpError::Unavailable(format!("{url}: no answer within {} ms", self.timeout.as_millis()));
        let client = match &self.route {
            Route::Network(client) => client,
            Route::InProcess(server) => {
                return match tokio::time::timeout(self.timeout, server.answer(req)).await {
                    Err(_) => Err(late()),
                    Ok(None) => Err(HttpError::Unavailable(format!("{url}: connection closed without an answer"))),
                    Ok(Some(answer)) => Ok(answer),
                };
            }
        };
        let resp = match tokio::time::timeout(self.timeout, client.request(req.map(Full::new))).await {
            Err(_) => return Err(late()),
            Ok(Err(e)) => return Err(HttpError::Unavailable(format!("{url}: {e}"))),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = tokio::time::timeout(self.timeout, resp.into_body().collect())
            .await
            .map_err(|_| {
                HttpError::Unavailable(format!("{url}: body not read within {} ms", self.timeout.as_millis()))
            })?
            .map_err(|e| HttpError::Unavailable(format!("{url}: {e}")))?
            .to_bytes();
        Ok(Answer { status, headers, body })
    }

    /// The `SecretString` of the secret `arn`, read from Secrets Manager in the secret's own partition and region
    /// (`endpoint` overrides the endpoint: local tests, `AWS_ENDPOINT_URL_SECRETS_MANAGER`). `what` names the
    /// secret's use in errors; the value itself is never logged or put in an error.
    pub async fn secret_string(&self, arn: &str, endpoint: Option<&str>, what: &str) -> Result<String, HttpError> {
        let own_region = self.sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let fips = self.sdk.use_fips().unwrap_or(false);
        let (default_endpoint, region) = secrets_manager_endpoint(arn, &own_region, fips);
        let endpoint = endpoint.map_or(default_endpoint, str::to_owned);
        let body = Bytes::from(serde_json::json!({ "SecretId": arn }).to_string());
        let headers = vec![("x-amz-target", "secretsmanager.GetSecretValue".to_owned())];
        let answer = self
            .request(
                http::Method::POST,
                &format!("{endpoint}/"),
                headers,
                Some((body, "application/x-amz-json-1.1")),
                Some(("secretsmanager", Some(region.as_str()))),
            )
            .await?;
        if answer.status != 200 {
            // AWS JSON errors name their type (`ResourceNotFoundException`, `AccessDeniedException`, …).
            let kind = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v["__type"].as_str().map(|t| t.rsplit('#').next().unwrap_or(t).to_owned()))
                .map_or_else(String::new, |t| format!(" ({t})"));
            let what =
                if answer.status >= 500 { "" } else { ": check the ARN and the role's secretsmanager:GetSecretValue" };
            let e = format!(
                "cannot read the {what} secret {arn}: Secrets Manager answered HTTP {}{kind}{what}",
                answer.status
            );
            return Err(if answer.status >= 500 || answer.status == 429 {
                HttpError::Unavailable(e)
            } else {
                HttpError::Setup(e)
            });
        }
        #[derive(serde::Deserialize)]
        struct Value {
            #[serde(rename = "SecretString")]
            secret: Option<String>,
        }
        serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|v| v.secret)
            .ok_or_else(|| HttpError::Setup(format!("the {what} secret {arn} holds no SecretString")))
    }

    async fn sign(
        &self,
        req: &mut http::Request<Bytes>,
        body: &[u8],
        service: &str,
        region: Option<&str>,
    ) -> Result<(), HttpError> {
        let provider = self
            .sdk
            .credentials_provider()
            .ok_or_else(|| HttpError::Setup("SigV4 needs AWS credentials, and none are configured".into()))?;
        let creds = provider
            .provide_credentials()
            .await
            .map_err(|e| HttpError::Setup(format!("cannot load AWS credentials for SigV4: {e}")))?;
        let region = region
            .map(str::to_owned)
            .or_else(|| self.sdk.region().map(|r| r.to_string()))
            .ok_or_else(|| HttpError::Setup("SigV4 needs AWS_REGION".into()))?;
        let identity = creds.into();
        let mut settings = SigningSettings::default();
        // OpenSearch Serverless requires the payload hash header; managed domains accept it.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name(service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| HttpError::Setup(format!("cannot sign: {e}")))?
            .into();
        let headers: Vec<(&str, &str)> =
            req.headers().iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))).collect();
        let uri = req.uri().to_string();
        let signable = SignableRequest::new(req.method().as_str(), uri, headers.into_iter(), SignableBody::Bytes(body))
            .map_err(|e| HttpError::Setup(format!("cannot sign: {e}")))?;
        let (instructions, _) =
            sign(signable, &params).map_err(|e| HttpError::Setup(format!("cannot sign: {e}")))?.into_parts();
        instructions.apply_to_request_http1x(req);
        Ok(())
    }
}

/// The Secrets Manager endpoint for the secret `arn` and the region to sign for: the secret's own partition and
/// region (read from the ARN, so a secret in another region or partition is found), else the function's region in
/// the commercial partition; the FIPS endpoint when `AWS_USE_FIPS_ENDPOINT` asks for it.
fn secrets_manager_endpoint(arn: &str, own_region: &str, fips: bool) -> (String, String) {
    // arn:<partition>:secretsmanager:<region>:<account>:secret:<name>
    let mut parts = arn.split(':');
    let partition = parts.nth(1).filter(|p| !p.is_empty()).unwrap_or("aws");
    let region = parts.nth(1).filter(|r| !r.is_empty()).unwrap_or(own_region).to_owned();
    (service_endpoint("secretsmanager", partition, &region, fips), region)
}

/// The partition a region belongs to, from its name (AWS's partitions.json: `cn-` China, `us-gov-` GovCloud,
/// the ISO prefixes, `eusc-` the European Sovereign Cloud; the commercial partition otherwise).
pub fn partition_of(region: &str) -> &'static str {
    let prefixes = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
        ("eusc-", "aws-eusc"),
    ];
    prefixes.iter().find(|(p, _)| region.starts_with(p)).map_or("aws", |(_, partition)| partition)
}

/// The endpoint of `service` in `region` of `partition`, `<service>-fips` when `fips` asks for it.
pub fn service_endpoint(service: &str, partition: &str, region: &str, fips: bool) -> String {
    // The DNS suffix of each partition (AWS's partitions.json).
    let suffix = match partition {
        "aws-cn" => "amazonaws.com.cn",
        "aws-iso" => "c2s.ic.gov",
        "aws-iso-b" => "sc2s.sgov.gov",
        "aws-iso-e" => "cloud.adc-e.uk",
        "aws-iso-f" => "csp.hci.ic.gov",
        "aws-eusc" => "amazonaws.eu",
        _ => "amazonaws.com",
    };
    let fips = if fips { "-fips" } else { "" };
    format!("https://{service}{fips}.{region}.{suffix}")
}

thread_local! {
    /// This thread's seeded jitter, when a simulation asked for one ([`seed_jitter`]).
    static SEEDED: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Makes this thread's jitter a sequence drawn from `seed` (`None`: the clock again), so that a simulation on a paused
/// clock waits the same on every run.
pub fn seed_jitter(seed: Option<u64>) {
    SEEDED.with(|s| s.set(seed));
}

/// A jitter factor in [0, 1) for backoff.
pub fn jitter() -> f64 {
    if let Some(state) = SEEDED.with(std::cell::Cell::get) {
        let next = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        SEEDED.with(|s| s.set(Some(next)));
        return f64::from((next >> 33) as u32 % 1_000) / 1_000.0;
    }
    // I/O layer: the clock is a fine source of jitter between concurrent functions.
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    f64::from(n.wrapping_mul(2_654_435_761) % 1_000) / 1_000.0
}

/// The start of an answer's body, on one line, for an error message.
pub fn snippet(body: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    s.retain(|c| c != '\n');
    s
}

/// Delay before attempt `attempt` (2, 3, …): a step that doubles from 100 ms, capped at 5 s, of which `jitter`
/// in `0.0..1.0` picks between half and all ("equal jitter": never less than half the step).
pub fn backoff(attempt: u32, jitter: f64) -> std::time::Duration {
    let cap = 100u64.saturating_mul(1 << attempt.saturating_sub(2).min(6)).min(5_000);
    std::time::Duration::from_millis((cap as f64 * (0.5 + jitter / 2.0)) as u64)
}

#[cfg(test)]
mod tests {
    use super::{backoff, partition_of, secrets_manager_endpoint, service_endpoint};

    #[test]
    fn lambda_endpoints_follow_the_region_partition() {
        let table = [
            ("eu-west-1", false, "https://lambda.eu-west-1.amazonaws.com"),
            ("cn-north-1", false, "https://lambda.cn-north-1.amazonaws.com.cn"),
            ("us-gov-west-1", false, "https://lambda.us-gov-west-1.amazonaws.com"),
            ("us-gov-west-1", true, "https://lambda-fips.us-gov-west-1.amazonaws.com"),
            ("us-isob-east-1", false, "https://lambda.us-isob-east-1.sc2s.sgov.gov"),
            ("us-iso-east-1", false, "https://lambda.us-iso-east-1.c2s.ic.gov"),
        ];
        for (region, fips, want) in table {
            assert_eq!(service_endpoint("lambda", partition_of(region), region, fips), want, "{region} {fips}");
        }
    }

    #[test]
    fn secrets_manager_endpoints_follow_the_secret_partition_and_region() {
        let table = [
            (
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf",
                "us-east-1",
                false,
                "https://secretsmanager.eu-west-1.amazonaws.com",
                "eu-west-1",
            ),
            (
                "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:s",
                "cn-north-1",
                false,
                "https://secretsmanager.cn-north-1.amazonaws.com.cn",
                "cn-north-1",
            ),
            (
                "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:s",
                "us-gov-west-1",
                true,
                "https://secretsmanager-fips.us-gov-west-1.amazonaws.com",
                "us-gov-west-1",
            ),
            (
                "arn:aws:secretsmanager:us-east-2:123456789012:secret:s",
                "us-east-2",
                true,
                "https://secretsmanager-fips.us-east-2.amazonaws.com",
                "us-east-2",
            ),
            (
                "arn:aws-iso-b:secretsmanager:us-isob-east-1:123456789012:secret:s",
                "us-isob-east-1",
                false,
                "https://secretsmanager.us-isob-east-1.sc2s.sgov.gov",
                "us-isob-east-1",
            ),
            // A bare secret name: the function's region.
            (
                "search-credentials",
                "ap-southeast-2",
                false,
                "https://secretsmanager.ap-southeast-2.amazonaws.com",
                "ap-southeast-2",
            ),
        ];
        for (arn, own, fips, endpoint, region) in table {
            assert_eq!(secrets_manager_endpoint(arn, own, fips), (endpoint.to_owned(), region.to_owned()), "{arn}");
        }
    }

    #[test]
    fn valid_backoff_grows_and_is_capped() {
        let table = [(2, 0.0, 50), (2, 1.0, 100), (3, 1.0, 200), (5, 1.0, 800), (20, 1.0, 5_000), (20, 0.0, 2_500)];
        for (attempt, jitter, ms) in table {
            assert_eq!(backoff(attempt, jitter).as_millis(), ms, "{attempt} {jitter}");
        }
    }
}
