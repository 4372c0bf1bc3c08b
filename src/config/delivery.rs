//! Delivery settings: the ingest bucket, the search mirror and its authentication.
//!
//! Secrets (a password, an API key) are held here but never printed: `Debug` redacts them, and errors name the
//! variable without its value.

use super::{ConfigError, attempts, endpoint_url, failure_mode, flag, one_auth, read, text, timeout_ms, user_password};
use std::fmt;

/// Canned ACL for ingest objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclMode {
    /// No ACL header (same-account bucket).
    None,
    /// `bucket-owner-full-control`, which cross-account buckets (Amberflo's) expect.
    BucketOwnerFullControl,
}

/// How the search mirror names documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdMode {
    /// `create` with the deterministic `_id`: a replay finds the document there (409) and adds nothing.
    Create,
    /// No `_id` (OpenSearch Serverless time-series collections refuse custom ids): a replay can index a document
    /// twice; a report's document carries `logmeter.event_id` and `aws.cloudwatch.log_stream` to de-duplicate at
    /// query time.
    Auto,
}

/// What happens when the mirror stays unavailable after its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchFailureMode {
    /// Write the bulk body to the quarantine bucket (`…/search-spool/…`) and carry on: billing never waits for the
    /// metrics mirror, nothing is lost, and the spooled body can be replayed as is.
    Spool,
    /// Report the record in `batchItemFailures` so Lambda retries it.
    Retry,
}

/// How to authenticate to the search endpoint.
#[derive(Clone, PartialEq, Eq)]
pub enum SearchAuth {
    /// No authentication.
    None,
    /// HTTP basic auth from `SEARCH_USERNAME` / `SEARCH_PASSWORD`.
    Basic {
        /// User name.
        username: String,
        /// Password (never printed).
        password: String,
    },
    /// Basic auth from a Secrets Manager secret with keys `username` and `password`, read on first use.
    Secret {
        /// The secret's ARN.
        arn: String,
    },
    /// An Elastic API key (`Authorization: ApiKey <key>`), the encoded form Elastic displays.
    ApiKey(String),
    /// AWS SigV4 with the function's credentials: service `es` (managed domains) or `aoss` (Serverless).
    SigV4 {
        /// `es` or `aoss`.
        service: String,
    },
}

impl fmt::Debug for SearchAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Basic { username, .. } => write!(f, "Basic {{ username: {username:?}, password: <redacted> }}"),
            Self::Secret { arn } => write!(f, "Secret {{ arn: {arn:?} }}"),
            Self::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Self::SigV4 { service } => write!(f, "SigV4 {{ service: {service:?} }}"),
        }
    }
}

/// The search mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchConfig {
    /// `SEARCH_URL`: base URL of Elasticsearch or OpenSearch (`https://host:9200`, no trailing path).
    pub url: String,
    /// Authentication.
    pub auth: SearchAuth,
    /// `SEARCH_TEMPLATE` (default `true`): install the index template on first use when it is missing.
    pub install_template: bool,
    /// `SEARCH_DATA_STREAM`: write to this data stream instead of daily indices.
    pub data_stream: Option<String>,
    /// `SEARCH_ID_MODE` (`create`, default, or `auto`).
    pub id_mode: IdMode,
    /// `SEARCH_FAILURE_MODE` (`spool`, default, or `retry`).
    pub failure_mode: SearchFailureMode,
    /// `SEARCH_MAX_ATTEMPTS` (default 5): attempts per bulk request for 429, 5xx and timeouts.
    pub max_attempts: u32,
    /// `SEARCH_TIMEOUT_MS` (default 10,000): timeout of one request.
    pub timeout_ms: u64,
}

/// Where planned outputs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// `INGEST_BUCKET_NAME`: the ingest bucket.
    pub bucket: String,
    /// `QUARANTINE_BUCKET_NAME` (default: the ingest bucket).
    pub quarantine_bucket: String,
    /// `INGEST_ACL` (empty, default, or `bucket-owner-full-control`).
    pub acl: AclMode,
    /// `INGEST_ROLE_ARN`: a role to assume for the bucket (another account's).
    pub role_arn: Option<String>,
    /// `INGEST_ROLE_EXTERNAL_ID`: the external id that role requires, if any.
    pub role_external_id: Option<String>,
    /// `S3_MAX_ATTEMPTS` (default 5): attempts per object for throttling, 5xx and timeouts.
    pub s3_max_attempts: u32,
    /// The search mirror; `None` when `SEARCH_URL` is unset.
    pub search: Option<SearchConfig>,
    /// `FUNCTION_METADATA_LOOKUP` (default `false`): look functions up with `lambda:GetFunctionConfiguration`.
    pub function_lookup: bool,
    /// `AWS_ENDPOINT_URL_LAMBDA`: the Lambda API endpoint for that lookup (local tests).
    pub lambda_endpoint: Option<String>,
    /// Prometheus remote write or Pushgateway; `None` when neither URL is set.
    pub prometheus: Option<crate::output::prometheus::PrometheusConfig>,
}

impl DeliveryConfig {
    /// Reads the delivery settings; `Ok(None)` when `INGEST_BUCKET_NAME` is unset (no real delivery configured).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let Some(bucket) = text(&lookup, "INGEST_BUCKET_NAME") else {
            return Ok(None);
        };
        let acl = match text(&lookup, "INGEST_ACL").as_deref() {
            None => AclMode::None,
            Some("bucket-owner-full-control") => AclMode::BucketOwnerFullControl,
            Some(other) => {
                return Err(ConfigError {
                    name: "INGEST_ACL",
                    value: other.into(),
                    reason: "must be empty or bucket-owner-full-control".into(),
                });
            }
        };
        Ok(Some(Self {
            quarantine_bucket: text(&lookup, "QUARANTINE_BUCKET_NAME").unwrap_or_else(|| bucket.clone()),
            bucket,
            acl,
            role_arn: text(&lookup, "INGEST_ROLE_ARN"),
            role_external_id: text(&lookup, "INGEST_ROLE_EXTERNAL_ID"),
            s3_max_attempts: read(&lookup, "S3_MAX_ATTEMPTS", 5, attempts)?,
            function_lookup: crate::config::flag(&lookup, "FUNCTION_METADATA_LOOKUP", false)?,
            lambda_endpoint: text(&lookup, "AWS_ENDPOINT_URL_LAMBDA"),
            search: SearchConfig::from_lookup(&lookup)?,
            prometheus: crate::output::prometheus::PrometheusConfig::from_lookup(&lookup)?,
        }))
    }
}

impl SearchConfig {
    fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let Some(url) = text(lookup, "SEARCH_URL") else {
            return Ok(None);
        };
        let url = endpoint_url("SEARCH_URL", &url, "SEARCH_USERNAME/SEARCH_PASSWORD")?;
        let mut auths = Vec::new();
        if let Some(service) = text(lookup, "SEARCH_SIGV4_SERVICE") {
            if service != "es" && service != "aoss" {
                return Err(ConfigError {
                    name: "SEARCH_SIGV4_SERVICE",
                    value: service,
                    reason: "must be es or aoss".into(),
                });
            }
            auths.push(("SEARCH_SIGV4_SERVICE", SearchAuth::SigV4 { service }));
        }
        if let Some(arn) = text(lookup, "SEARCH_SECRET_ARN") {
            auths.push(("SEARCH_SECRET_ARN", SearchAuth::Secret { arn }));
        }
        if let Some(key) = text(lookup, "SEARCH_API_KEY") {
            auths.push(("SEARCH_API_KEY", SearchAuth::ApiKey(key)));
        }
        if let Some((username, password)) = user_password(lookup, "SEARCH_USERNAME", "SEARCH_PASSWORD")? {
            auths.push(("SEARCH_USERNAME", SearchAuth::Basic { username, password }));
        }
        let auth = one_auth(auths, "SEARCH_URL")?.unwrap_or(SearchAuth::None);
        let id_mode = match text(lookup, "SEARCH_ID_MODE").as_deref() {
            None | Some("create") => IdMode::Create,
            Some("auto") => IdMode::Auto,
            Some(o) => {
                return Err(ConfigError {
                    name: "SEARCH_ID_MODE",
                    value: o.into(),
                    reason: "must be create or auto".into(),
                });
            }
        };
        let failure_mode = failure_mode(lookup, "SEARCH_FAILURE_MODE")?;
        Ok(Some(Self {
            url,
            auth,
            install_template: flag(lookup, "SEARCH_TEMPLATE", true)?,
            data_stream: text(lookup, "SEARCH_DATA_STREAM"),
            id_mode,
            failure_mode,
            max_attempts: read(lookup, "SEARCH_MAX_ATTEMPTS", 5, attempts)?,
            timeout_ms: read(lookup, "SEARCH_TIMEOUT_MS", 10_000, timeout_ms)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Option<DeliveryConfig>, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        DeliveryConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn valid_delivery_settings() {
        assert_eq!(from(&[]).unwrap(), None);
        let c =
            from(&[("INGEST_BUCKET_NAME", "ingest"), ("INGEST_ACL", "bucket-owner-full-control")]).unwrap().unwrap();
        assert_eq!(
            (c.quarantine_bucket.as_str(), c.acl, c.search.is_none()),
            ("ingest", AclMode::BucketOwnerFullControl, true)
        );
        let c = from(&[
            ("INGEST_BUCKET_NAME", "b"),
            ("SEARCH_URL", "https://search:9200/"),
            ("SEARCH_SIGV4_SERVICE", "aoss"),
            ("SEARCH_ID_MODE", "auto"),
        ])
        .unwrap()
        .unwrap();
        let s = c.search.unwrap();
        assert_eq!(
            (s.url.as_str(), s.auth, s.id_mode),
            ("https://search:9200", SearchAuth::SigV4 { service: "aoss".into() }, IdMode::Auto)
        );
    }

    #[test]
    fn invalid_settings_name_the_variable_and_never_show_secrets() {
        let table = [
            (vec![("INGEST_ACL", "public-read")], "INGEST_ACL"),
            (vec![("S3_MAX_ATTEMPTS", "0")], "S3_MAX_ATTEMPTS"),
            (vec![("SEARCH_URL", "ftp://x")], "SEARCH_URL"),
            (vec![("SEARCH_URL", "https://user:hunter2@x")], "SEARCH_URL"),
            (vec![("SEARCH_URL", "https://x"), ("SEARCH_SIGV4_SERVICE", "s3")], "SEARCH_SIGV4_SERVICE"),
            (vec![("SEARCH_URL", "https://x"), ("SEARCH_USERNAME", "u")], "SEARCH_PASSWORD"),
            (
                vec![("SEARCH_URL", "https://x"), ("SEARCH_API_KEY", "hunter2"), ("SEARCH_SECRET_ARN", "arn:x")],
                "choose one",
            ),
        ];
        for (pairs, want) in table {
            let mut all = vec![("INGEST_BUCKET_NAME", "b")];
            all.extend(pairs);
            let e = from(&all).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("hunter2"), "secret in {e}");
        }
        let c = from(&[
            ("INGEST_BUCKET_NAME", "b"),
            ("SEARCH_URL", "https://x"),
            ("SEARCH_USERNAME", "u"),
            ("SEARCH_PASSWORD", "hunter2"),
        ])
        .unwrap()
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let k = SearchAuth::ApiKey("hunter2".into());
        assert!(!format!("{k:?}").contains("hunter2"));
    }
}
