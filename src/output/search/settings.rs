//! The search mirror's settings: what it writes (documents, indices, bulk bounds), and, when `SEARCH_URL` is set,
//! the endpoint it writes to and how it authenticates.
//!
//! Secrets (a password, an API key) are held here but never printed: `Debug` redacts them, and errors name the
//! variable without its value.

use crate::config::settings::Setting;
use crate::config::{
    ConfigError, FailureMode, attempts, endpoint_url, failure_mode, flag, one_auth, positive, read, text, timeout_ms,
    user_password,
};
use std::fmt;

/// What the search mirror writes: read always, for `--out DIR` writes its bulk bodies too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `SEARCH_INDEX_PATTERN`: strftime pattern of the daily metrics index (default `logmeter-metrics-%Y.%m.%d`).
    pub index_pattern: String,
    /// `SEARCH_INVOCATION_DOCS` (default `true`): one metric document per invocation report.
    pub invocation_docs: bool,
    /// `SEARCH_ROLLUPS` (default `true`): rollup documents per function and window.
    pub rollups: bool,
    /// `SEARCH_ROLLUP_INDEX_PATTERN`: strftime pattern of the rollup index (default `logmeter-rollups-%Y.%m.%d`).
    pub rollup_index_pattern: String,
    /// `SEARCH_RECONCILE_DOCS` (default `true`): reconciliation documents of meter records, for `logmeter
    /// reconcile` and `logmeter report`.
    pub reconcile_docs: bool,
    /// `SEARCH_RECONCILE_INDEX_PATTERN`: strftime pattern of the reconciliation index.
    pub reconcile_index_pattern: String,
    /// `SEARCH_METER_RECORDS` (default `false`): also index every meter record.
    pub meter_records: bool,
    /// `SEARCH_METER_INDEX_PATTERN`: strftime pattern of the meter record index
    /// (default `logmeter-meter-records-%Y.%m.%d`).
    pub meter_index_pattern: String,
    /// `BULK_MAX_BYTES`: upper bound of one bulk request body (default 5 MiB).
    pub bulk_max_bytes: usize,
    /// `BULK_MAX_ACTIONS`: upper bound of actions in one bulk request (default 1,000).
    pub bulk_max_actions: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            index_pattern: "logmeter-metrics-%Y.%m.%d".into(),
            invocation_docs: true,
            rollups: true,
            rollup_index_pattern: "logmeter-rollups-%Y.%m.%d".into(),
            reconcile_docs: true,
            reconcile_index_pattern: "logmeter-reconcile-%Y.%m.%d".into(),
            meter_records: false,
            meter_index_pattern: "logmeter-meter-records-%Y.%m.%d".into(),
            bulk_max_bytes: 5 << 20,
            bulk_max_actions: 1_000,
        }
    }
}

impl Settings {
    /// Reads the settings from `lookup`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let pattern = |name: &'static str, default: String| {
            read(lookup, name, default, |p: &String| crate::plan::check_index_pattern(p))
        };
        let invocation_docs = flag(lookup, "SEARCH_INVOCATION_DOCS", d.invocation_docs)?;
        Ok(Self {
            index_pattern: pattern("SEARCH_INDEX_PATTERN", d.index_pattern)?,
            invocation_docs,
            rollups: flag(lookup, "SEARCH_ROLLUPS", d.rollups)?,
            rollup_index_pattern: pattern("SEARCH_ROLLUP_INDEX_PATTERN", d.rollup_index_pattern)?,
            reconcile_docs: reconcile_docs(lookup, d.reconcile_docs, invocation_docs)?,
            reconcile_index_pattern: pattern("SEARCH_RECONCILE_INDEX_PATTERN", d.reconcile_index_pattern)?,
            meter_records: flag(lookup, "SEARCH_METER_RECORDS", d.meter_records)?,
            meter_index_pattern: pattern("SEARCH_METER_INDEX_PATTERN", d.meter_index_pattern)?,
            bulk_max_bytes: read(lookup, "BULK_MAX_BYTES", d.bulk_max_bytes, positive)?,
            bulk_max_actions: read(lookup, "BULK_MAX_ACTIONS", d.bulk_max_actions, positive)?,
        })
    }
}

/// `SEARCH_RECONCILE_DOCS`: the join reads the invocation documents, so without them (`SEARCH_INVOCATION_DOCS=false`)
/// it is off unless asked for, and asking for it is an error that names both.
fn reconcile_docs(
    lookup: &impl Fn(&str) -> Option<String>,
    default: bool,
    invocations: bool,
) -> Result<bool, ConfigError> {
    // Without invocation documents the default is off, so it is on here only when asked for.
    let on = flag(lookup, "SEARCH_RECONCILE_DOCS", default && invocations)?;
    if on && !invocations {
        return Err(ConfigError {
            name: "SEARCH_RECONCILE_DOCS",
            value: "true".into(),
            reason: "reconciliation joins the invocation documents: it needs SEARCH_INVOCATION_DOCS=true".into(),
        });
    }
    Ok(on)
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
    /// `SEARCH_TEMPLATE` (default `true`): install the index templates on first use when they are missing or an
    /// earlier version's.
    pub install_template: bool,
    /// `SEARCH_DATA_STREAM`: write to this data stream instead of daily indices.
    pub data_stream: Option<String>,
    /// `SEARCH_ID_MODE` (`create`, default, or `auto`).
    pub id_mode: IdMode,
    /// `SEARCH_FAILURE_MODE` (`spool`, default, or `retry`).
    pub failure_mode: FailureMode,
    /// `SEARCH_MAX_ATTEMPTS` (default 5): attempts per bulk request for 429, 5xx and timeouts.
    pub max_attempts: u32,
    /// `SEARCH_TIMEOUT_MS` (default 10,000): timeout of one request.
    pub timeout_ms: u64,
}

impl SearchConfig {
    /// The endpoint `lookup` names; `None` when `SEARCH_URL` is unset.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
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

/// The search mirror's rows of the settings table.
pub const SETTINGS: &[Setting] = &[
    Setting {
        names: r#"`SEARCH_URL`"#,
        default: r#"(mirror disabled)"#,
        output: "search mirror",
        meaning: r#"Elasticsearch or OpenSearch base URL"#,
    },
    Setting {
        names: r#"`SEARCH_USERNAME`, `SEARCH_PASSWORD`"#,
        default: r#"(none)"#,
        output: "search mirror",
        meaning: r#"basic auth"#,
    },
    Setting {
        names: r#"`SEARCH_SECRET_ARN`"#,
        default: r#"(none)"#,
        output: "search mirror",
        meaning: r#"basic auth from a Secrets Manager secret with keys `username` and `password` (read on first use; `AWS_ENDPOINT_URL_SECRETS_MANAGER` overrides the endpoint)"#,
    },
    Setting {
        names: r#"`SEARCH_API_KEY`"#,
        default: r#"(none)"#,
        output: "search mirror",
        meaning: r#"Elastic API key (the encoded form), sent as `Authorization: ApiKey …`"#,
    },
    Setting {
        names: r#"`SEARCH_SIGV4_SERVICE`"#,
        default: r#"(none)"#,
        output: "search mirror",
        meaning: r#"`es` (Amazon OpenSearch Service) or `aoss` (Serverless): SigV4 with the function's credentials"#,
    },
    Setting {
        names: r#"`SEARCH_DATA_STREAM`"#,
        default: r#"(none)"#,
        output: "search mirror",
        meaning: r#"write to this data stream instead of daily indices"#,
    },
    Setting {
        names: r#"`SEARCH_ID_MODE`"#,
        default: r#"`create`"#,
        output: "search mirror",
        meaning: r#"`auto` for OpenSearch Serverless time-series collections, which refuse custom `_id`"#,
    },
    Setting {
        names: r#"`SEARCH_FAILURE_MODE`"#,
        default: r#"`spool`"#,
        output: "search mirror",
        meaning: r#"`spool` or `retry` (see [delivery.md](delivery.md))"#,
    },
    Setting {
        names: r#"`SEARCH_TEMPLATE`"#,
        default: r#"`true`"#,
        output: "search mirror",
        meaning: r#"install logmeter's index templates (`logmeter-metrics`, `logmeter-rollups`, `logmeter-meter-records`, `logmeter-reconcile`, `logmeter-reconcile-results`) when missing, and replace one an earlier version installed (a lower `_meta.schema_version`), so new fields are mapped in the indices created from then on; `false` leaves templates to you"#,
    },
    Setting {
        names: r#"`SEARCH_MAX_ATTEMPTS`, `SEARCH_TIMEOUT_MS`"#,
        default: r#"`5`, `10000`"#,
        output: "search mirror",
        meaning: r#"attempts per bulk request; timeout of one request"#,
    },
    Setting {
        names: r#"`SEARCH_INDEX_PATTERN`"#,
        default: r#"`logmeter-metrics-%Y.%m.%d`"#,
        output: "search mirror",
        meaning: r#"strftime pattern of the metrics index"#,
    },
    Setting {
        names: r#"`SEARCH_INVOCATION_DOCS`"#,
        default: r#"`true`"#,
        output: "search mirror",
        meaning: r#"one metric document per invocation report; `false` keeps rollups only (high volume)"#,
    },
    Setting {
        names: r#"`SEARCH_ROLLUPS`"#,
        default: r#"`true`"#,
        output: "search mirror",
        meaning: r#"rollup documents per function, version, memory size, architecture and window (see [schema.md](schema.md#rollups-and-cost))"#,
    },
    Setting {
        names: r#"`SEARCH_ROLLUP_INDEX_PATTERN`"#,
        default: r#"`logmeter-rollups-%Y.%m.%d`"#,
        output: "search mirror",
        meaning: r#"strftime pattern of the rollup index (by window start)"#,
    },
    Setting {
        names: r#"`SEARCH_RECONCILE_DOCS`"#,
        default: r#"`true`"#,
        output: "search mirror",
        meaning: r#"reconciliation documents (each meter record, with the request id that joins it to its invocation's document) for `logmeter reconcile` and `logmeter report` (see [reconciliation.md](reconciliation.md)); needs `SEARCH_INVOCATION_DOCS`, and is off by default without it"#,
    },
    Setting {
        names: r#"`SEARCH_RECONCILE_INDEX_PATTERN`"#,
        default: r#"`logmeter-reconcile-%Y.%m.%d`"#,
        output: "search mirror",
        meaning: r#"strftime pattern of the reconciliation index"#,
    },
    Setting {
        names: r#"`SEARCH_METER_RECORDS`"#,
        default: r#"`false`"#,
        output: "search mirror",
        meaning: r#"also index every meter record (as written to S3, plus `@timestamp`; `_id` = UUIDv5 of the record)"#,
    },
    Setting {
        names: r#"`SEARCH_METER_INDEX_PATTERN`"#,
        default: r#"`logmeter-meter-records-%Y.%m.%d`"#,
        output: "search mirror",
        meaning: r#"strftime pattern of the meter record index (by `meterTimeInMillis`)"#,
    },
    Setting {
        names: r#"`BULK_MAX_BYTES`"#,
        default: r#"`5242880`"#,
        output: "search mirror",
        meaning: r#"upper bound of one bulk request body"#,
    },
    Setting {
        names: r#"`BULK_MAX_ACTIONS`"#,
        default: r#"`1000`"#,
        output: "search mirror",
        meaning: r#"upper bound of actions in one bulk request"#,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Option<SearchConfig>, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        SearchConfig::from_lookup(&|k: &str| map.get(k).cloned())
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(&|k: &str| map.get(k).cloned())
    }

    #[test]
    fn valid_endpoint_settings() {
        assert_eq!(from(&[]).unwrap(), None);
        let s = from(&[
            ("SEARCH_URL", "https://search:9200/"),
            ("SEARCH_SIGV4_SERVICE", "aoss"),
            ("SEARCH_ID_MODE", "auto"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (s.url.as_str(), s.auth, s.id_mode),
            ("https://search:9200", SearchAuth::SigV4 { service: "aoss".into() }, IdMode::Auto)
        );
    }

    #[test]
    fn invalid_settings_name_the_variable_and_never_show_secrets() {
        let table = [
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
            let e = from(&pairs).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("hunter2"), "secret in {e}");
        }
        let c = from(&[("SEARCH_URL", "https://x"), ("SEARCH_USERNAME", "u"), ("SEARCH_PASSWORD", "hunter2")])
            .unwrap()
            .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let k = SearchAuth::ApiKey("hunter2".into());
        assert!(!format!("{k:?}").contains("hunter2"));
    }

    #[test]
    fn valid_reconciliation_documents_follow_the_invocation_documents_they_join() {
        let docs = |pairs: &[(&str, &str)]| settings(pairs).map(|c| (c.invocation_docs, c.reconcile_docs));
        assert_eq!(docs(&[]).unwrap(), (true, true));
        assert_eq!(docs(&[("SEARCH_INVOCATION_DOCS", "false")]).unwrap(), (false, false), "off by default without");
        assert_eq!(
            docs(&[("SEARCH_INVOCATION_DOCS", "false"), ("SEARCH_RECONCILE_DOCS", "0")]).unwrap(),
            (false, false)
        );
        assert_eq!(docs(&[("SEARCH_RECONCILE_DOCS", "false")]).unwrap(), (true, false));
        let e = docs(&[("SEARCH_INVOCATION_DOCS", "false"), ("SEARCH_RECONCILE_DOCS", "true")]).unwrap_err();
        assert!(
            e.to_string().contains("SEARCH_RECONCILE_DOCS") && e.to_string().contains("SEARCH_INVOCATION_DOCS"),
            "{e}"
        );
        assert!(
            settings(&[("SEARCH_INDEX_PATTERN", "m-%Q")]).unwrap_err().to_string().contains("SEARCH_INDEX_PATTERN")
        );
    }
}
