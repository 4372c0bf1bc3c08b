//! Configuration, read and validated once at cold start from a lookup function (the process environment in
//! production, a map in tests), with errors that name the variable and the bad value.

mod delivery;
pub mod settings;

pub use delivery::{AclMode, DeliveryConfig, IdMode, SearchAuth, SearchConfig, SearchFailureMode};

use std::fmt::Display;
use std::str::FromStr;

/// Every environment variable logmeter reads (besides the AWS SDK's own), for the SAM template, docs/configuration.md and
/// their tests.
pub const VARIABLES: &[&str] = &[
    "METER_TAG",
    "MAX_INFLATED_BYTES",
    "MAX_RECORD_OUTPUT_BYTES",
    "MAX_BATCH_OUTPUT_BYTES",
    "INGEST_PREFIX",
    "QUARANTINE_PREFIX",
    "MAX_OBJECT_BYTES",
    "MAX_OBJECT_RECORDS",
    "SEARCH_INDEX_PATTERN",
    "SEARCH_METER_RECORDS",
    "SEARCH_METER_INDEX_PATTERN",
    "SEARCH_INVOCATION_DOCS",
    "SEARCH_ROLLUPS",
    "SEARCH_ROLLUP_INDEX_PATTERN",
    "SEARCH_RECONCILE_DOCS",
    "SEARCH_RECONCILE_INDEX_PATTERN",
    "ROLLUP_WINDOW_SECONDS",
    "ROLLUP_BY_TENANT",
    "FUNCTION_ARCHITECTURES",
    "LAMBDA_PRICE_REQUEST",
    "LAMBDA_PRICE_GB_SECOND_X86_64",
    "LAMBDA_PRICE_GB_SECOND_ARM64",
    "LAMBDA_PRICE_SNAPSTART_RESTORE_GB",
    "BULK_MAX_BYTES",
    "BULK_MAX_ACTIONS",
    "LOGMETER_THREADS",
    "INGEST_BUCKET_NAME",
    "QUARANTINE_BUCKET_NAME",
    "INGEST_GZIP",
    "INGEST_LAYOUT",
    "INGEST_ACL",
    "INGEST_ROLE_ARN",
    "INGEST_ROLE_EXTERNAL_ID",
    "S3_MAX_ATTEMPTS",
    "FUNCTION_METADATA_LOOKUP",
    "AWS_ENDPOINT_URL_LAMBDA",
    "SEARCH_URL",
    "SEARCH_SIGV4_SERVICE",
    "SEARCH_SECRET_ARN",
    "SEARCH_API_KEY",
    "SEARCH_USERNAME",
    "SEARCH_PASSWORD",
    "SEARCH_ID_MODE",
    "SEARCH_FAILURE_MODE",
    "SEARCH_TEMPLATE",
    "SEARCH_DATA_STREAM",
    "SEARCH_MAX_ATTEMPTS",
    "SEARCH_TIMEOUT_MS",
    "PROMETHEUS_REMOTE_WRITE_URL",
    "PROMETHEUS_PUSHGATEWAY_URL",
    "PROMETHEUS_SIGV4_REGION",
    "PROMETHEUS_BEARER_TOKEN",
    "PROMETHEUS_USERNAME",
    "PROMETHEUS_PASSWORD",
    "PROMETHEUS_FAILURE_MODE",
    "PROMETHEUS_MAX_ATTEMPTS",
    "PROMETHEUS_TIMEOUT_MS",
    "PROMETHEUS_MAX_SAMPLES",
    "PROMETHEUS_MAX_BYTES",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
];

/// Settings of the pure pipeline (decode, extract, plan, encode).
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// `METER_TAG`: the tag before meter records (default `meter_record_for_stream`).
    pub tag: String,
    /// `MAX_INFLATED_BYTES`: a record that inflates past this is quarantined (default 16 MiB).
    pub max_inflated_bytes: usize,
    /// `MAX_RECORD_OUTPUT_BYTES`: a record whose planned output (meter records, documents, quarantine text) grows
    /// past this is quarantined whole, for replay with a larger bound (default 16 MiB).
    pub max_record_output_bytes: usize,
    /// `MAX_BATCH_OUTPUT_BYTES`: once the planned output of an invocation's records passes this, the rest of the
    /// batch is left for the retry that the partial batch response asks for (default 24 MiB). Bounds memory
    /// whatever the input; the first record is always planned.
    pub max_batch_output_bytes: usize,
    /// `INGEST_PREFIX`: key prefix of meter record objects (default `ingest/records`).
    pub records_prefix: String,
    /// `QUARANTINE_PREFIX`: key prefix of quarantine objects (default `logmeter-quarantine`).
    pub quarantine_prefix: String,
    /// `MAX_OBJECT_BYTES`: upper bound of one meter record object's body (default 4 MiB).
    pub max_object_bytes: usize,
    /// `MAX_OBJECT_RECORDS`: upper bound of records in one object (default 10,000).
    pub max_object_records: usize,
    /// `SEARCH_INDEX_PATTERN`: strftime pattern of the daily metrics index (default `logmeter-metrics-%Y.%m.%d`).
    pub index_pattern: String,
    /// `SEARCH_METER_RECORDS` (default `false`): also index every meter record into the search mirror.
    pub mirror_meter_records: bool,
    /// `SEARCH_METER_INDEX_PATTERN`: strftime pattern of the meter record index
    /// (default `logmeter-meter-records-%Y.%m.%d`).
    pub meter_index_pattern: String,
    /// `SEARCH_INVOCATION_DOCS` (default `true`): one metric document per invocation report.
    pub invocation_docs: bool,
    /// `SEARCH_ROLLUPS` (default `true`): rollup documents per function and window in the search mirror.
    pub search_rollups: bool,
    /// `SEARCH_RECONCILE_DOCS` (default `true`): reconciliation documents (each invocation and each meter record,
    /// with the request id that joins them) for `logmeter reconcile` and `logmeter report`.
    pub reconcile_docs: bool,
    /// `SEARCH_RECONCILE_INDEX_PATTERN`: strftime pattern of the reconciliation index.
    pub reconcile_index_pattern: String,
    /// How rollups group and price invocations (`ROLLUP_*`, `FUNCTION_ARCHITECTURES`, `LAMBDA_PRICE_*`), for the
    /// search mirror's rollup documents and the Prometheus metrics alike.
    pub rollup: crate::plan::rollup::RollupSettings,
    /// `BULK_MAX_BYTES`: upper bound of one bulk request body (default 5 MiB).
    pub bulk_max_bytes: usize,
    /// `BULK_MAX_ACTIONS`: upper bound of actions in one bulk request (default 1,000).
    pub bulk_max_actions: usize,
    /// `INGEST_GZIP` (default `false`): meter record objects are gzip'd, named `….json.gz`, wherever they go (the
    /// bucket or `--out DIR`).
    pub ingest_gzip: bool,
    /// `INGEST_LAYOUT` (default `batch`): one object per batch (per date and part), or one per Kinesis record.
    pub ingest_layout: IngestLayout,
    /// Whether the batch layout's retry rule looks at the whole date, every shard's objects, before writing (set by
    /// `logmeter backfill`, whose records arrive on their own shard and may already be in the bucket from the live
    /// route; not a setting).
    pub ingest_across_shards: bool,
    /// `LOGMETER_THREADS`: worker threads for decoding (default: the CPUs available, which Lambda scales with
    /// memory).
    pub threads: usize,
    /// Which fast readers run: all, always, in production. Not a setting: benchmarks turn them off one at a time
    /// to measure what each gains.
    pub fast_readers: FastReaders,
}

/// The fast readers, each on or off. A fast reader reads the usual shape of a line or record in one pass and hands
/// anything else to the general reader, which decides; off, the general reader reads everything, with the same
/// output (property-tested for each reader, and the golden files hold either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastReaders {
    /// `platform.report` events read from their raw literal (`extract::read_raw_platform_report`).
    pub platform_report: bool,
    /// Text `REPORT` lines read from their raw literal (`extract::read_raw_text_report`).
    pub text_report: bool,
    /// The usual tagged line read from its raw literal (`MeterExtractor::extract_raw`; needs `usual_record`).
    pub meter_line: bool,
    /// Records of the usual shape read, validated and minified in one pass (`extract/record_usual.rs`).
    pub usual_record: bool,
}

impl FastReaders {
    /// Every fast reader on (the default).
    pub const ALL: Self = Self { platform_report: true, text_report: true, meter_line: true, usual_record: true };
    /// Every fast reader off: the general readers only.
    pub const NONE: Self = Self { platform_report: false, text_report: false, meter_line: false, usual_record: false };
}

impl Default for FastReaders {
    fn default() -> Self {
        Self::ALL
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            tag: "meter_record_for_stream".into(),
            max_inflated_bytes: 16 << 20,
            max_record_output_bytes: 16 << 20,
            max_batch_output_bytes: 24 << 20,
            records_prefix: "ingest/records".into(),
            quarantine_prefix: "logmeter-quarantine".into(),
            max_object_bytes: 4 << 20,
            max_object_records: 10_000,
            index_pattern: "logmeter-metrics-%Y.%m.%d".into(),
            mirror_meter_records: false,
            meter_index_pattern: "logmeter-meter-records-%Y.%m.%d".into(),
            invocation_docs: true,
            search_rollups: true,
            reconcile_docs: true,
            reconcile_index_pattern: "logmeter-reconcile-%Y.%m.%d".into(),
            rollup: crate::plan::rollup::RollupSettings::default(),
            bulk_max_bytes: 5 << 20,
            bulk_max_actions: 1_000,
            ingest_gzip: false,
            ingest_layout: IngestLayout::Batch,
            ingest_across_shards: false,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            fast_readers: FastReaders::ALL,
        }
    }
}

/// The rollup settings (`SEARCH_ROLLUP_INDEX_PATTERN`, `ROLLUP_WINDOW_SECONDS`, `ROLLUP_BY_TENANT`,
/// `FUNCTION_ARCHITECTURES`, `LAMBDA_PRICE_*`).
fn rollup_settings(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<crate::plan::rollup::RollupSettings, ConfigError> {
    let d = crate::plan::rollup::RollupSettings::default();
    let price = |name: &'static str| -> Result<Option<f64>, ConfigError> {
        if lookup(name).is_none_or(|v| v.trim().is_empty()) {
            return Ok(None);
        }
        read(lookup, name, PriceText(0.0), |_| Ok(())).map(|p| Some(p.0))
    };
    let overrides = crate::cost::RegionPrices {
        request: price("LAMBDA_PRICE_REQUEST")?,
        gb_second_x86_64: price("LAMBDA_PRICE_GB_SECOND_X86_64")?,
        gb_second_arm64: price("LAMBDA_PRICE_GB_SECOND_ARM64")?,
        snapstart_restore_gb: price("LAMBDA_PRICE_SNAPSTART_RESTORE_GB")?,
    };
    let settings = crate::plan::rollup::RollupSettings {
        index_pattern: read(lookup, "SEARCH_ROLLUP_INDEX_PATTERN", d.index_pattern, |p: &String| {
            crate::plan::check_index_pattern(p)
        })?,
        window_ms: read(lookup, "ROLLUP_WINDOW_SECONDS", d.window_ms / 1000, |s: &i64| {
            if (1..=86_400).contains(s) && 86_400 % s == 0 {
                Ok(())
            } else {
                Err("must divide a day: 1 to 86400 seconds, e.g. 60, 300, 3600".into())
            }
        })? * 1000,
        architectures: read(lookup, "FUNCTION_ARCHITECTURES", d.architectures, |_| Ok(()))?,
        prices: d.prices.with_overrides(overrides),
        by_tenant: flag(lookup, "ROLLUP_BY_TENANT", d.by_tenant)?,
    };
    Ok(settings)
}

/// A price setting: a finite, non-negative number of USD.
struct PriceText(f64);

impl FromStr for PriceText {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.parse::<f64>() {
            Ok(p) if p.is_finite() && p >= 0.0 => Ok(Self(p)),
            _ => Err("must be a non-negative number of USD".into()),
        }
    }
}

/// How meter records are grouped into ingest objects ([`crate::output::ingest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestLayout {
    /// One object per invocation's batch, per date and part: about one PUT and one LIST per batch. Needs
    /// `s3:ListBucket` and `s3:GetObject` on the bucket, for the retry rule.
    Batch,
    /// One object per Kinesis record, per date and part: one PUT per record, and only `s3:PutObject` needed.
    Record,
}

impl FromStr for IngestLayout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "batch" => Ok(Self::Batch),
            "record" => Ok(Self::Record),
            _ => Err("must be batch or record".into()),
        }
    }
}

/// A setting that is present but unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// Its value (never a secret: secrets are not read through this type).
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

/// Reads one variable with a parser; absent or empty means the default.
pub(crate) fn read<T, F>(
    lookup: &F,
    name: &'static str,
    default: T,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
    F: Fn(&str) -> Option<String>,
{
    let Some(value) = lookup(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    let parsed =
        value.trim().parse::<T>().map_err(|e| ConfigError { name, value: value.clone(), reason: e.to_string() })?;
    check(&parsed).map_err(|reason| ConfigError { name, value, reason })?;
    Ok(parsed)
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

pub(crate) fn flag(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match lookup(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(ConfigError { name, value: other.into(), reason: "must be true or false".into() }),
    }
}

/// A variable's trimmed value; `None` when unset or empty.
pub(crate) fn text(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// An endpoint URL without a trailing `/`: `http://` or `https://`, and no credentials in it (the value is never
/// echoed, since a URL with credentials would be a secret; `instead` names the variables to use).
pub(crate) fn endpoint_url(name: &'static str, value: &str, instead: &str) -> Result<String, ConfigError> {
    let url = value.trim_end_matches('/').to_owned();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains('@') {
        return Err(ConfigError {
            name,
            value: "<not shown>".into(),
            reason: format!("must be http:// or https:// without credentials in it (use {instead})"),
        });
    }
    Ok(url)
}

/// A destination's failure mode: `spool` (default) or `retry`.
pub(crate) fn failure_mode(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<SearchFailureMode, ConfigError> {
    match text(lookup, name).as_deref() {
        None | Some("spool") => Ok(SearchFailureMode::Spool),
        Some("retry") => Ok(SearchFailureMode::Retry),
        Some(o) => Err(ConfigError { name, value: o.into(), reason: "must be spool or retry".into() }),
    }
}

/// A user name and password that go together (basic auth), or neither.
pub(crate) fn user_password(
    lookup: &impl Fn(&str) -> Option<String>,
    user: &'static str,
    password: &'static str,
) -> Result<Option<(String, String)>, ConfigError> {
    match (text(lookup, user), text(lookup, password)) {
        (Some(u), Some(p)) => Ok(Some((u, p))),
        (None, None) => Ok(None),
        (u, _) => Err(ConfigError {
            name: if u.is_some() { password } else { user },
            value: String::new(),
            reason: format!("{user} and {password} go together"),
        }),
    }
}

/// The one authentication configured (by the variable that chose it), or `None`; more than one is an error named
/// after `name`.
pub(crate) fn one_auth<A>(mut auths: Vec<(&'static str, A)>, name: &'static str) -> Result<Option<A>, ConfigError> {
    if auths.len() > 1 {
        let names: Vec<_> = auths.iter().map(|(n, _)| *n).collect();
        return Err(ConfigError {
            name,
            value: "<not shown>".into(),
            reason: format!("choose one authentication, not {}", names.join(" and ")),
        });
    }
    Ok(auths.pop().map(|(_, a)| a))
}

/// Attempts per request: 1 to 20.
pub(crate) fn attempts(v: &u32) -> Result<(), String> {
    if (1..=20).contains(v) { Ok(()) } else { Err("must be between 1 and 20".into()) }
}

/// A request timeout: at least 100 ms.
pub(crate) fn timeout_ms(v: &u64) -> Result<(), String> {
    if *v >= 100 { Ok(()) } else { Err("must be at least 100".into()) }
}

fn positive(v: &usize) -> Result<(), String> {
    if *v == 0 { Err("must be greater than zero".into()) } else { Ok(()) }
}

#[allow(clippy::ptr_arg)] // `read` passes the parsed value by reference.
fn prefix(v: &String) -> Result<(), String> {
    let v = v.as_str();
    if v.starts_with('/') || v.ends_with('/') || v.contains("//") {
        Err("must not start or end with '/' or contain '//'".into())
    } else {
        Ok(())
    }
}

impl PipelineConfig {
    /// Reads the settings from `lookup` (e.g. `|k| std::env::var(k).ok()`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let tag = read(&lookup, "METER_TAG", d.tag, |t: &String| {
            if t.len() < 4 || t.chars().any(char::is_whitespace) {
                Err("must be at least 4 characters with no whitespace".into())
            } else {
                Ok(())
            }
        })?;
        let invocation_docs = flag(&lookup, "SEARCH_INVOCATION_DOCS", d.invocation_docs)?;
        Ok(Self {
            tag,
            max_inflated_bytes: read(&lookup, "MAX_INFLATED_BYTES", d.max_inflated_bytes, |v| {
                if *v < 1024 { Err("must be at least 1024".into()) } else { Ok(()) }
            })?,
            max_record_output_bytes: read(&lookup, "MAX_RECORD_OUTPUT_BYTES", d.max_record_output_bytes, |v| {
                if *v < 1 << 20 { Err("must be at least 1048576".into()) } else { Ok(()) }
            })?,
            max_batch_output_bytes: read(&lookup, "MAX_BATCH_OUTPUT_BYTES", d.max_batch_output_bytes, positive)?,
            records_prefix: read(&lookup, "INGEST_PREFIX", d.records_prefix, prefix)?,
            quarantine_prefix: read(&lookup, "QUARANTINE_PREFIX", d.quarantine_prefix, prefix)?,
            max_object_bytes: read(&lookup, "MAX_OBJECT_BYTES", d.max_object_bytes, positive)?,
            max_object_records: read(&lookup, "MAX_OBJECT_RECORDS", d.max_object_records, positive)?,
            index_pattern: read(&lookup, "SEARCH_INDEX_PATTERN", d.index_pattern, |p: &String| {
                crate::plan::check_index_pattern(p)
            })?,
            mirror_meter_records: flag(&lookup, "SEARCH_METER_RECORDS", d.mirror_meter_records)?,
            meter_index_pattern: read(&lookup, "SEARCH_METER_INDEX_PATTERN", d.meter_index_pattern, |p: &String| {
                crate::plan::check_index_pattern(p)
            })?,
            invocation_docs,
            search_rollups: flag(&lookup, "SEARCH_ROLLUPS", d.search_rollups)?,
            reconcile_docs: reconcile_docs(&lookup, d.reconcile_docs, invocation_docs)?,
            reconcile_index_pattern: read(
                &lookup,
                "SEARCH_RECONCILE_INDEX_PATTERN",
                d.reconcile_index_pattern,
                |p: &String| crate::plan::check_index_pattern(p),
            )?,
            rollup: rollup_settings(&lookup)?,
            bulk_max_bytes: read(&lookup, "BULK_MAX_BYTES", d.bulk_max_bytes, positive)?,
            bulk_max_actions: read(&lookup, "BULK_MAX_ACTIONS", d.bulk_max_actions, positive)?,
            ingest_gzip: flag(&lookup, "INGEST_GZIP", d.ingest_gzip)?,
            ingest_layout: read(&lookup, "INGEST_LAYOUT", d.ingest_layout, |_| Ok(()))?,
            ingest_across_shards: d.ingest_across_shards,
            threads: read(&lookup, "LOGMETER_THREADS", d.threads, positive)?,
            fast_readers: d.fast_readers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<PipelineConfig, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        PipelineConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn variables_lists_exactly_what_the_code_reads() {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let lookup = |k: &str| {
            asked.borrow_mut().insert(k.to_owned());
            match k {
                "INGEST_BUCKET_NAME" => Some("b".to_owned()),
                "SEARCH_URL" => Some("https://search".to_owned()),
                "PROMETHEUS_REMOTE_WRITE_URL" => Some("https://prometheus".to_owned()),
                _ => None,
            }
        };
        PipelineConfig::from_lookup(lookup).unwrap();
        DeliveryConfig::from_lookup(lookup).unwrap();
        asked.borrow_mut().extend(["AWS_ENDPOINT_URL_S3".to_owned(), "AWS_ENDPOINT_URL_SECRETS_MANAGER".to_owned()]);
        let listed: std::collections::BTreeSet<String> = VARIABLES.iter().map(|v| v.to_string()).collect();
        assert_eq!(*asked.borrow(), listed);
    }

    #[test]
    fn valid_defaults_and_overrides() {
        assert_eq!(from(&[]).unwrap(), PipelineConfig::default());
        let c = from(&[
            ("METER_TAG", "billing_tag"),
            ("MAX_OBJECT_BYTES", "1024"),
            ("INGEST_PREFIX", "a/b"),
            ("LOGMETER_THREADS", " "),
        ])
        .unwrap();
        assert_eq!((c.tag.as_str(), c.max_object_bytes, c.records_prefix.as_str()), ("billing_tag", 1024, "a/b"));
    }

    #[test]
    fn valid_reconciliation_documents_follow_the_invocation_documents_they_join() {
        let docs = |pairs: &[(&str, &str)]| from(pairs).map(|c| (c.invocation_docs, c.reconcile_docs));
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
    }

    #[test]
    fn invalid_settings_name_variable_and_value() {
        let table = [
            ("MAX_OBJECT_BYTES", "lots", "invalid MAX_OBJECT_BYTES=\"lots\""),
            ("MAX_OBJECT_RECORDS", "0", "greater than zero"),
            ("MAX_INFLATED_BYTES", "10", "at least 1024"),
            ("INGEST_PREFIX", "/ingest/", "must not start or end"),
            ("METER_TAG", "a b c d", "no whitespace"),
            ("SEARCH_INDEX_PATTERN", "m-%Q", "SEARCH_INDEX_PATTERN"),
        ];
        for (k, v, want) in table {
            let e = from(&[(k, v)]).unwrap_err().to_string();
            assert!(e.contains(want), "{k}={v}: {e}");
        }
    }
}
