//! What a billing platform is to logmeter ([`Platform`]): how one meter record becomes one of its events, how
//! events become a request, and what its answers mean. Everything else (the ledger, batching, retries, the
//! deadline, quarantine) is shared ([`super::outlet`]). Each platform is a folder beside this file.

use super::usage::{CustomerMap, Usage};
use crate::config::settings::Setting;
use crate::config::{ConfigError, attempts, endpoint_url, read, text, timeout_ms};
use std::time::Duration;

/// The de-duplication window assumed where a platform documents no longer one: 24 hours, the shortest any
/// platform documents (a window assumed too short quarantines; one assumed too long could bill twice).
pub const DEFAULT_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// One billing platform.
pub trait Platform: Send + Sync + std::fmt::Debug + 'static {
    /// Its name in `BILLING_PLATFORMS` and in counters, keys and logs (`stripe`).
    fn name(&self) -> &'static str;
    /// The settings every platform has.
    fn common(&self) -> &Common;
    /// The ingest path, appended to `<P>_API_URL`.
    fn path(&self) -> &'static str;
    /// Events per request (1 for a platform that takes one per call).
    fn max_events(&self) -> usize;
    /// The longest de-duplication id it takes.
    fn max_id_len(&self) -> usize;
    /// Whether calls of one lane (customer and meter) must not overlap (Stripe v1).
    fn lanes(&self) -> bool {
        false
    }
    /// How long it remembers a de-duplication id: [`DEFAULT_WINDOW`] unless the platform documents longer.
    fn window(&self) -> std::time::Duration {
        DEFAULT_WINDOW
    }
    /// One record as one event, under the de-duplication id `id`, with its lane; `Err` is why this platform cannot
    /// take it (quarantined for this platform only).
    fn event(&self, usage: &Usage<'_>, id: &str) -> Result<Event, String>;
    /// The body of one request holding `events` (each as [`Platform::event`] wrote it), its content type and the
    /// file extension `--out` writes it under.
    fn body(&self, events: &[&[u8]]) -> Body;
    /// The header that carries the API key.
    fn auth(&self, key: &str) -> (&'static str, String) {
        ("authorization", format!("Bearer {key}"))
    }
    /// What an answer means ([`verdict`] by default: the statuses every platform shares).
    fn answer(&self, status: u16, headers: &http::HeaderMap, body: &[u8]) -> Verdict {
        verdict(status, headers, body)
    }
}

/// One event, as its platform's request carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's bytes (a JSON object, or a form-encoded body for Stripe v1).
    pub bytes: Vec<u8>,
    /// The lane it goes in (customer and meter), for platforms whose calls of one lane must not overlap.
    pub lane: String,
}

/// A request's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Its content type.
    pub content_type: &'static str,
    /// The extension of the file `--out` writes it to.
    pub extension: &'static str,
}

/// What an answer means for the events of its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Taken.
    Accepted,
    /// Already taken (the platform's duplicate answer): delivered.
    Duplicate,
    /// Refused for good (a 4xx): with a batch, each event is tried alone; alone, it is quarantined with this.
    Refused(String),
    /// Not now (429, 5xx, 408): retried within the attempts, after the platform's `Retry-After` when it gave one.
    Retry(String, Option<Duration>),
    /// The key is refused (401, 403): an access error, named, counted and alarmed; the records are retried.
    Denied(String),
}

/// The statuses every platform shares: 2xx taken; 401 and 403 an access error; 408, 429 and 5xx retried (429 after
/// `Retry-After`); any other 4xx refused, with the start of the answer.
pub fn verdict(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Verdict {
    let said = || format!("HTTP {status}: {}", crate::sink::http::snippet(body));
    match status {
        200..=299 => Verdict::Accepted,
        401 | 403 => Verdict::Denied(said()),
        408 | 429 | 500..=599 => Verdict::Retry(said(), retry_after(headers)),
        _ => Verdict::Refused(said()),
    }
}

/// `Retry-After` in seconds, when the answer has one.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let seconds: f64 = headers.get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3_600.0)))
}

/// Where the API key comes from (never logged: `Debug` redacts it).
#[derive(Clone, PartialEq, Eq)]
pub enum Key {
    /// `<P>_API_KEY`.
    Value(String),
    /// `<P>_API_KEY_SECRET_ARN`: read from Secrets Manager on first use (the secret string itself, or the
    /// `api_key` field of a JSON secret).
    Secret(String),
    /// Neither is set (a local run that writes request bodies to a directory needs none).
    None,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(_) => f.write_str("Value(<redacted>)"),
            Self::Secret(arn) => write!(f, "Secret({arn:?})"),
            Self::None => f.write_str("None"),
        }
    }
}

/// The variables of the settings every platform has, named after its prefix (the `names!` macro).
#[derive(Debug, Clone, Copy)]
pub struct Names {
    /// `<P>_API_URL`.
    pub url: &'static str,
    /// `<P>_API_KEY`.
    pub key: &'static str,
    /// `<P>_API_KEY_SECRET_ARN`.
    pub secret: &'static str,
    /// `<P>_CUSTOMER_MAP`.
    pub customers: &'static str,
    /// `<P>_MAX_ATTEMPTS`.
    pub attempts: &'static str,
    /// `<P>_TIMEOUT_MS`.
    pub timeout: &'static str,
}

/// The [`Names`] of the platform whose variables start with `$prefix`.
macro_rules! names {
    ($prefix:literal) => {
        $crate::output::billing::platform::Names {
            url: concat!($prefix, "_API_URL"),
            key: concat!($prefix, "_API_KEY"),
            secret: concat!($prefix, "_API_KEY_SECRET_ARN"),
            customers: concat!($prefix, "_CUSTOMER_MAP"),
            attempts: concat!($prefix, "_MAX_ATTEMPTS"),
            timeout: concat!($prefix, "_TIMEOUT_MS"),
        }
    };
}
pub(crate) use names;

/// The settings table's rows of the settings every platform has, for the platform whose variables start with
/// `$prefix`, called `$title`, at `$url` by default.
macro_rules! common_rows {
    ($prefix:literal, $title:literal, $url:literal) => {
        [
            $crate::config::settings::Setting {
                names: concat!("`", $prefix, "_API_URL`"),
                default: concat!("`", $url, "`"),
                output: $title,
                meaning: "base URL of the platform's API (the vendor's path is appended); a local fake in tests",
            },
            $crate::config::settings::Setting {
                names: concat!("`", $prefix, "_API_KEY`, `", $prefix, "_API_KEY_SECRET_ARN`"),
                default: "(none)",
                output: $title,
                meaning: "the API key, or the Secrets Manager secret holding it (the secret string, or its `api_key` field; read in the secret's partition and region); never logged",
            },
            $crate::config::settings::Setting {
                names: concat!("`", $prefix, "_CUSTOMER_MAP`"),
                default: "(none)",
                output: $title,
                meaning: "`customerId=platform_id,…`: the platform's customer id of each Amberflo `customerId` (unmapped customers keep their id)",
            },
            $crate::config::settings::Setting {
                names: concat!("`", $prefix, "_MAX_ATTEMPTS`, `", $prefix, "_TIMEOUT_MS`"),
                default: "`5`, `10000`",
                output: $title,
                meaning: "attempts per request (429 after `Retry-After`, 5xx, timeouts; never 4xx); timeout of one request",
            },
        ]
    };
}
pub(crate) use common_rows;

/// What every platform is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// `<P>_API_URL`, without a trailing `/`.
    pub url: String,
    /// The API key.
    pub key: Key,
    /// `<P>_CUSTOMER_MAP`.
    pub customers: CustomerMap,
    /// `<P>_MAX_ATTEMPTS` (default 5, 1 to 20).
    pub max_attempts: u32,
    /// `<P>_TIMEOUT_MS` (default 10,000).
    pub timeout_ms: u64,
}

impl Common {
    /// Reads a platform's common settings; `default_url` is the vendor's.
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        names: &Names,
        default_url: &str,
    ) -> Result<Self, ConfigError> {
        let url =
            endpoint_url(names.url, &text(lookup, names.url).unwrap_or_else(|| default_url.to_owned()), names.key)?;
        let key = match (text(lookup, names.key), text(lookup, names.secret)) {
            (Some(_), Some(_)) => {
                return Err(ConfigError {
                    name: names.key,
                    value: "<not shown>".into(),
                    reason: format!("set {} or {}, not both", names.key, names.secret),
                });
            }
            (Some(key), None) => Key::Value(key),
            (None, Some(arn)) => Key::Secret(arn),
            (None, None) => Key::None,
        };
        let customers = match text(lookup, names.customers) {
            None => CustomerMap::default(),
            Some(t) => CustomerMap::parse(&t).map_err(|reason| ConfigError {
                name: names.customers,
                value: "<not shown>".into(),
                reason,
            })?,
        };
        Ok(Self {
            url,
            key,
            customers,
            max_attempts: read(lookup, names.attempts, 5, attempts)?,
            timeout_ms: read(lookup, names.timeout, 10_000, timeout_ms)?,
        })
    }
}

/// Reads a platform's settings from a lookup.
pub type ReadPlatform = fn(&dyn Fn(&str) -> Option<String>) -> Result<std::sync::Arc<dyn Platform>, ConfigError>;

/// A platform as the list holds it: its name, how to read it from the settings, and its rows of the table.
pub struct Entry {
    /// The name `BILLING_PLATFORMS` uses.
    pub name: &'static str,
    /// Reads the platform's settings.
    pub read: ReadPlatform,
    /// Its rows of the settings table.
    pub settings: &'static [Setting],
}
