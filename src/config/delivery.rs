//! The stores' settings: the ingest and quarantine buckets, how they are reached, and the function metadata lookup.

use super::settings::Setting;
use super::{ConfigError, attempts, read, text};

/// Canned ACL for ingest objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclMode {
    /// No ACL header (same-account bucket).
    None,
    /// `bucket-owner-full-control`, which cross-account buckets (Amberflo's) expect.
    BucketOwnerFullControl,
}

/// What an output does when its endpoint stays unavailable after its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Keep the request in the quarantine store (`…/search-spool/…`, `…/prometheus-spool/…`) and carry on: billing
    /// never waits for a metrics output, nothing is lost, and the spooled request can be replayed as is.
    Spool,
    /// Report the record in `batchItemFailures` so Lambda retries it.
    Retry,
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
    /// `FUNCTION_METADATA_LOOKUP` (default `false`): look functions up with `lambda:GetFunctionConfiguration`.
    pub function_lookup: bool,
    /// `AWS_ENDPOINT_URL_LAMBDA`: the Lambda API endpoint for that lookup (local tests).
    pub lambda_endpoint: Option<String>,
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
        }))
    }
}

/// The stores' rows of the settings table: the buckets, their access, and the function metadata lookup.
pub const DELIVERY: &[Setting] = &[
    Setting {
        names: r#"`INGEST_BUCKET_NAME`"#,
        default: r#"(required for delivery)"#,
        output: "ingest objects",
        meaning: r#"the S3 bucket meter records go to"#,
    },
    Setting {
        names: r#"`QUARANTINE_BUCKET_NAME`"#,
        default: r#"the ingest bucket"#,
        output: "quarantine store",
        meaning: r#"where quarantine and spool objects go"#,
    },
    Setting {
        names: r#"`INGEST_ACL`"#,
        default: r#"(none)"#,
        output: "ingest objects",
        meaning: r#"`bucket-owner-full-control` for another account's bucket"#,
    },
    Setting {
        names: r#"`INGEST_ROLE_ARN`, `INGEST_ROLE_EXTERNAL_ID`"#,
        default: r#"(none)"#,
        output: "ingest objects",
        meaning: r#"a role to assume for the bucket, and its external id"#,
    },
    Setting {
        names: r#"`S3_MAX_ATTEMPTS`"#,
        default: r#"`5`"#,
        output: "ingest objects",
        meaning: r#"attempts per object (throttling, 5xx, timeouts)"#,
    },
    Setting {
        names: r#"`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`, credentials"#,
        default: r#"the AWS SDK's"#,
        output: "ingest objects",
        meaning: r#"standard SDK variables; an overridden endpoint switches S3 to path-style addressing; the Secrets Manager endpoint of `SEARCH_SECRET_ARN` (else the secret's own region and partition)"#,
    },
    Setting {
        names: r#"`FUNCTION_METADATA_LOOKUP`"#,
        default: r#"`false`"#,
        output: "rollups and cost",
        meaning: r#"look each function up once per container with `lambda:GetFunctionConfiguration`: rollups then describe its runtime, memory, timeout, handler and architecture (prices and ids never read it)"#,
    },
    Setting {
        names: r#"`AWS_ENDPOINT_URL_LAMBDA`"#,
        default: r#"(the SDK's)"#,
        output: "rollups and cost",
        meaning: r#"the Lambda API endpoint of that lookup (local tests)"#,
    },
];

/// The logs' rows of the settings table (read by the log setup, not the configuration).
pub const LOGS: &[Setting] = &[
    Setting {
        names: r#"`RUST_LOG`"#,
        default: r#"`warn`"#,
        output: "logs",
        meaning: r#"CLI log level (logs go to stderr)"#,
    },
    Setting {
        names: r#"`AWS_LAMBDA_LOG_LEVEL`, `AWS_LAMBDA_LOG_FORMAT`"#,
        default: r#"`info`, text"#,
        output: "logs",
        meaning: r#"Lambda log level and format (`JSON`)"#,
    },
];

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
        assert_eq!((c.quarantine_bucket.as_str(), c.acl), ("ingest", AclMode::BucketOwnerFullControl));
    }

    #[test]
    fn invalid_delivery_settings_name_the_variable() {
        for (k, v) in [("INGEST_ACL", "public-read"), ("S3_MAX_ATTEMPTS", "0")] {
            let e = from(&[("INGEST_BUCKET_NAME", "b"), (k, v)]).unwrap_err().to_string();
            assert!(e.contains(k), "{e}");
        }
    }
}
