//! The pipeline's settings ([`PipelineConfig`]): extraction, bounds and threads, and every output's settings that
//! planning needs ([`crate::output::Settings`]); and the whole settings table ([`every_setting`]), from which
//! `--help` and docs/configuration.md are generated.

use crate::config::settings::Setting;
use crate::config::{ConfigError, positive, read};

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
    /// `LOGMETER_THREADS`: worker threads for decoding (default: the CPUs available, which Lambda scales with
    /// memory).
    pub threads: usize,
    /// Which fast readers run: all, always, in production. Not a setting: benchmarks turn them off one at a time
    /// to measure what each gains.
    pub fast_readers: FastReaders,
    /// What each output's encoder needs, and the rollups they share.
    pub outputs: crate::output::Settings,
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
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            fast_readers: FastReaders::ALL,
            outputs: crate::output::Settings::default(),
        }
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
        Ok(Self {
            tag,
            max_inflated_bytes: read(&lookup, "MAX_INFLATED_BYTES", d.max_inflated_bytes, |v| {
                if *v < 1024 { Err("must be at least 1024".into()) } else { Ok(()) }
            })?,
            max_record_output_bytes: read(&lookup, "MAX_RECORD_OUTPUT_BYTES", d.max_record_output_bytes, |v| {
                if *v < 1 << 20 { Err("must be at least 1048576".into()) } else { Ok(()) }
            })?,
            max_batch_output_bytes: read(&lookup, "MAX_BATCH_OUTPUT_BYTES", d.max_batch_output_bytes, positive)?,
            threads: read(&lookup, "LOGMETER_THREADS", d.threads, positive)?,
            fast_readers: d.fast_readers,
            outputs: crate::output::Settings::from_lookup(&lookup)?,
        })
    }
}

/// The pipeline's rows of the settings table: extraction, bounds, threads, and the rollups and costs the derived outputs share.
pub const SETTINGS: &[Setting] = &[
    Setting {
        names: r#"`METER_TAG`"#,
        default: r#"`meter_record_for_stream`"#,
        output: "pipeline",
        meaning: r#"tag before meter records"#,
    },
    Setting {
        names: r#"`MAX_INFLATED_BYTES`"#,
        default: r#"`16777216`"#,
        output: "pipeline",
        meaning: r#"a record that inflates past this is quarantined"#,
    },
    Setting {
        names: r#"`MAX_RECORD_OUTPUT_BYTES`"#,
        default: r#"`16777216`"#,
        output: "pipeline",
        meaning: r#"a record whose planned output (meter records, documents) grows past this is quarantined whole (`data_base64`), for replay with a larger bound"#,
    },
    Setting {
        names: r#"`MAX_BATCH_OUTPUT_BYTES`"#,
        default: r#"`25165824`"#,
        output: "pipeline",
        meaning: r#"once an invocation's planned output passes this, the rest of the batch is left for the retry (partial batch response); bounds memory whatever the input"#,
    },
    Setting {
        names: r#"`LOGMETER_THREADS`"#,
        default: r#"CPUs available"#,
        output: "pipeline",
        meaning: r#"decoding threads (Lambda gives more vCPUs with more memory)"#,
    },
    Setting {
        names: r#"`ROLLUP_WINDOW_SECONDS`"#,
        default: r#"`60`"#,
        output: "rollups and cost",
        meaning: r#"rollup window; must divide a day"#,
    },
    Setting {
        names: r#"`ROLLUP_BY_TENANT`"#,
        default: r#"`false`"#,
        output: "rollups and cost",
        meaning: r#"rollups per tenant too (Lambda tenant isolation's `record.tenantId`); tenant ids can be many, so it is your choice"#,
    },
    Setting {
        names: r#"`FUNCTION_ARCHITECTURES`"#,
        default: r#"(all `x86_64`)"#,
        output: "rollups and cost",
        meaning: r#"`name=arm64,other=x86_64,*=arm64`: each function's architecture, which sets its GB-second price"#,
    },
    Setting {
        names: r#"`LAMBDA_PRICE_REQUEST`, `LAMBDA_PRICE_GB_SECOND_X86_64`, `LAMBDA_PRICE_GB_SECOND_ARM64`, `LAMBDA_PRICE_SNAPSTART_RESTORE_GB`"#,
        default: r#"`data/lambda-prices.json`"#,
        output: "rollups and cost",
        meaning: r#"USD prices that replace the table's in every region (a region the table lacks is priced only with them)"#,
    },
];

/// Variables in the settings table that the configuration does not read itself: the log setup's, and the AWS
/// SDK's.
pub const READ_ELSEWHERE: &[&str] =
    &["AWS_REGION", "AWS_ENDPOINT_URL", "RUST_LOG", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_LOG_FORMAT"];

/// **The settings table**, in the order of the docs: the pipeline's rows, the stores', each output's in the order
/// of the registration list, the logs'.
pub fn every_setting() -> Vec<&'static Setting> {
    SETTINGS
        .iter()
        .chain(crate::config::DELIVERY)
        .chain(crate::output::settings_rows())
        .chain(crate::reconcile::SETTINGS)
        .chain(crate::config::LOGS)
        .collect()
}

/// Every variable logmeter's configuration reads (the table's, without [`READ_ELSEWHERE`]): what the SAM template
/// may set.
pub fn variables() -> Vec<&'static str> {
    every_setting()
        .into_iter()
        .flat_map(crate::config::settings::names)
        .filter(|n| !READ_ELSEWHERE.contains(n))
        .collect()
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
                "BILLING_PLATFORMS" => {
                    Some(crate::output::billing::PLATFORMS.iter().map(|p| p.name).collect::<Vec<_>>().join(","))
                }
                _ => None,
            }
        };
        PipelineConfig::from_lookup(lookup).unwrap();
        crate::config::DeliveryConfig::from_lookup(lookup).unwrap();
        crate::output::search::SearchConfig::from_lookup(&lookup).unwrap();
        crate::output::prometheus::PrometheusConfig::from_lookup(&lookup).unwrap();
        // Read beside the configuration: the SDK's endpoints, and the price book (by the reconciliation).
        asked
            .borrow_mut()
            .extend(["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "PRICE_BOOK"].map(str::to_owned));
        let listed: std::collections::BTreeSet<String> = variables().iter().map(|v| v.to_string()).collect();
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
        let ingest = &c.outputs.ingest;
        assert_eq!((c.tag.as_str(), ingest.max_object_bytes, ingest.prefix.as_str()), ("billing_tag", 1024, "a/b"));
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
            ("ROLLUP_WINDOW_SECONDS", "7", "must divide a day"),
        ];
        for (k, v, want) in table {
            let e = from(&[(k, v)]).unwrap_err().to_string();
            assert!(e.contains(want), "{k}={v}: {e}");
        }
    }
}
