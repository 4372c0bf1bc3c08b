//! Prometheus settings: remote write or a Pushgateway, authentication, retries and the failure policy.
//!
//! A password or token is held here but never printed: `Debug` redacts it, and errors name the variable without
//! its value.

use crate::config::settings::Setting;
use crate::config::{
    ConfigError, FailureMode, attempts, endpoint_url, failure_mode, one_auth, read, text, timeout_ms, user_password,
};
use std::fmt;

use super::PrometheusMode;

/// How to authenticate to the Prometheus endpoint.
#[derive(Clone, PartialEq, Eq)]
pub enum PrometheusAuth {
    /// No authentication.
    None,
    /// HTTP basic auth (`PROMETHEUS_USERNAME` / `PROMETHEUS_PASSWORD`).
    Basic {
        /// User name.
        username: String,
        /// Password (never printed).
        password: String,
    },
    /// `Authorization: Bearer <token>` (`PROMETHEUS_BEARER_TOKEN`).
    Bearer(String),
    /// AWS SigV4 for Amazon Managed Service for Prometheus (service `aps`), signed for this region
    /// (`PROMETHEUS_SIGV4_REGION`).
    SigV4 {
        /// The workspace's region.
        region: String,
    },
}

impl fmt::Debug for PrometheusAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Basic { username, .. } => write!(f, "Basic {{ username: {username:?}, password: <redacted> }}"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Self::SigV4 { region } => write!(f, "SigV4 {{ service: \"aps\", region: {region:?} }}"),
        }
    }
}

/// The Prometheus destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusConfig {
    /// Remote write or Pushgateway.
    pub mode: PrometheusMode,
    /// The remote write endpoint (`…/api/v1/write`) or the Pushgateway's base URL.
    pub url: String,
    /// Authentication.
    pub auth: PrometheusAuth,
    /// `PROMETHEUS_FAILURE_MODE` (`spool`, default, or `retry`): what an outage that outlasts the retries does.
    pub failure_mode: FailureMode,
    /// `PROMETHEUS_MAX_ATTEMPTS` (default 5): attempts per request for 429, 5xx and timeouts.
    pub max_attempts: u32,
    /// `PROMETHEUS_TIMEOUT_MS` (default 10,000): timeout of one request.
    pub timeout_ms: u64,
    /// `PROMETHEUS_MAX_SAMPLES` (default 50,000): samples in one remote write request.
    pub max_samples: usize,
    /// `PROMETHEUS_MAX_BYTES` (default 4 MiB): protobuf bytes of one remote write request, before compression.
    pub max_bytes: usize,
}

const BASIC: &str = "PROMETHEUS_USERNAME/PROMETHEUS_PASSWORD";

impl PrometheusConfig {
    /// Reads the Prometheus settings; `Ok(None)` when neither URL is set.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let (mode, url) =
            match (text(lookup, "PROMETHEUS_REMOTE_WRITE_URL"), text(lookup, "PROMETHEUS_PUSHGATEWAY_URL")) {
                (None, None) => return Ok(None),
                (Some(u), None) => {
                    (PrometheusMode::RemoteWrite, endpoint_url("PROMETHEUS_REMOTE_WRITE_URL", &u, BASIC)?)
                }
                (None, Some(u)) => {
                    (PrometheusMode::Pushgateway, endpoint_url("PROMETHEUS_PUSHGATEWAY_URL", &u, BASIC)?)
                }
                (Some(_), Some(_)) => {
                    return Err(ConfigError {
                        name: "PROMETHEUS_PUSHGATEWAY_URL",
                        value: "<not shown>".into(),
                        reason: "choose remote write or a Pushgateway, not both".into(),
                    });
                }
            };
        let mut auths = Vec::new();
        if let Some(region) = text(lookup, "PROMETHEUS_SIGV4_REGION") {
            auths.push(("PROMETHEUS_SIGV4_REGION", PrometheusAuth::SigV4 { region }));
        }
        if let Some(token) = text(lookup, "PROMETHEUS_BEARER_TOKEN") {
            auths.push(("PROMETHEUS_BEARER_TOKEN", PrometheusAuth::Bearer(token)));
        }
        if let Some((username, password)) = user_password(lookup, "PROMETHEUS_USERNAME", "PROMETHEUS_PASSWORD")? {
            auths.push(("PROMETHEUS_USERNAME", PrometheusAuth::Basic { username, password }));
        }
        let auth = one_auth(auths, "PROMETHEUS_REMOTE_WRITE_URL")?.unwrap_or(PrometheusAuth::None);
        let failure_mode = failure_mode(lookup, "PROMETHEUS_FAILURE_MODE")?;
        let positive = |v: &usize| if *v == 0 { Err("must be greater than zero".to_owned()) } else { Ok(()) };
        Ok(Some(Self {
            mode,
            url,
            auth,
            failure_mode,
            max_attempts: read(lookup, "PROMETHEUS_MAX_ATTEMPTS", 5, attempts)?,
            timeout_ms: read(lookup, "PROMETHEUS_TIMEOUT_MS", 10_000, timeout_ms)?,
            max_samples: read(lookup, "PROMETHEUS_MAX_SAMPLES", 50_000, positive)?,
            max_bytes: read(lookup, "PROMETHEUS_MAX_BYTES", 4 << 20, positive)?,
        }))
    }
}

/// Prometheus's rows of the settings table.
pub const SETTINGS: &[Setting] = &[
    Setting {
        names: r#"`PROMETHEUS_REMOTE_WRITE_URL`"#,
        default: r#"(off)"#,
        output: "Prometheus",
        meaning: r#"Prometheus remote write endpoint (`…/api/v1/write`, AMP's `…/api/v1/remote_write`): rollup figures as samples (see [prometheus.md](prometheus.md))"#,
    },
    Setting {
        names: r#"`PROMETHEUS_PUSHGATEWAY_URL`"#,
        default: r#"(off)"#,
        output: "Prometheus",
        meaning: r#"a Pushgateway's base URL instead: one group per Kinesis record, no timestamps"#,
    },
    Setting {
        names: r#"`PROMETHEUS_USERNAME`, `PROMETHEUS_PASSWORD`"#,
        default: r#"(none)"#,
        output: "Prometheus",
        meaning: r#"basic auth to Prometheus"#,
    },
    Setting {
        names: r#"`PROMETHEUS_BEARER_TOKEN`"#,
        default: r#"(none)"#,
        output: "Prometheus",
        meaning: r#"`Authorization: Bearer …` to Prometheus"#,
    },
    Setting {
        names: r#"`PROMETHEUS_SIGV4_REGION`"#,
        default: r#"(none)"#,
        output: "Prometheus",
        meaning: r#"SigV4 (`aps`) with the function's credentials, for Amazon Managed Service for Prometheus in this region"#,
    },
    Setting {
        names: r#"`PROMETHEUS_FAILURE_MODE`"#,
        default: r#"`spool`"#,
        output: "Prometheus",
        meaning: r#"`spool`: a request Prometheus cannot take after its retries goes to `QUARANTINE_PREFIX/prometheus-spool/` and billing carries on; `retry`: the records are retried"#,
    },
    Setting {
        names: r#"`PROMETHEUS_MAX_ATTEMPTS`, `PROMETHEUS_TIMEOUT_MS`"#,
        default: r#"`5`, `10000`"#,
        output: "Prometheus",
        meaning: r#"attempts per request (429, 5xx, timeouts); timeout of one request"#,
    },
    Setting {
        names: r#"`PROMETHEUS_MAX_SAMPLES`, `PROMETHEUS_MAX_BYTES`"#,
        default: r#"`50000`, `4194304`"#,
        output: "Prometheus",
        meaning: r#"upper bounds of one remote write request (samples; protobuf bytes before snappy): a batch is one request until it passes them"#,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Option<PrometheusConfig>, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        PrometheusConfig::from_lookup(&|k: &str| map.get(k).cloned())
    }

    #[test]
    fn valid_prometheus_settings() {
        assert_eq!(from(&[]).unwrap(), None);
        let c = from(&[("PROMETHEUS_REMOTE_WRITE_URL", "https://aps/api/v1/remote_write/")]).unwrap().unwrap();
        assert_eq!(
            (c.mode, c.url.as_str(), c.auth, c.failure_mode, c.max_samples),
            (
                PrometheusMode::RemoteWrite,
                "https://aps/api/v1/remote_write",
                PrometheusAuth::None,
                FailureMode::Spool,
                50_000
            )
        );
        let c = from(&[
            ("PROMETHEUS_PUSHGATEWAY_URL", "http://pgw:9091"),
            ("PROMETHEUS_SIGV4_REGION", "eu-west-1"),
            ("PROMETHEUS_FAILURE_MODE", "retry"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (c.mode, c.auth, c.failure_mode),
            (PrometheusMode::Pushgateway, PrometheusAuth::SigV4 { region: "eu-west-1".into() }, FailureMode::Retry)
        );
    }

    #[test]
    fn invalid_prometheus_settings_name_the_variable_and_never_show_secrets() {
        let rw = ("PROMETHEUS_REMOTE_WRITE_URL", "https://p");
        let table = [
            (vec![("PROMETHEUS_REMOTE_WRITE_URL", "https://u:hunter2@p")], "PROMETHEUS_REMOTE_WRITE_URL"),
            (vec![rw, ("PROMETHEUS_PUSHGATEWAY_URL", "http://g")], "not both"),
            (vec![rw, ("PROMETHEUS_USERNAME", "u")], "PROMETHEUS_PASSWORD"),
            (vec![rw, ("PROMETHEUS_BEARER_TOKEN", "hunter2"), ("PROMETHEUS_SIGV4_REGION", "r")], "choose one"),
            (vec![rw, ("PROMETHEUS_FAILURE_MODE", "drop")], "PROMETHEUS_FAILURE_MODE"),
            (vec![rw, ("PROMETHEUS_MAX_SAMPLES", "0")], "PROMETHEUS_MAX_SAMPLES"),
        ];
        for (pairs, want) in table {
            let e = from(&pairs).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("hunter2"), "secret in {e}");
        }
        let c = from(&[rw, ("PROMETHEUS_BEARER_TOKEN", "hunter2")]).unwrap().unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = from(&[rw, ("PROMETHEUS_USERNAME", "u"), ("PROMETHEUS_PASSWORD", "hunter2")]).unwrap().unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
