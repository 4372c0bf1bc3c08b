//! Every setting, defined once: its name (or names), default, the output it belongs to and what it means. The
//! `--help` text and the table of docs/configuration.md are generated from this list (a test keeps the docs' copy
//! equal to it; `LOGMETER_BLESS=1 cargo test --test it settings` rewrites it); the SAM template's environment and
//! the variables the code reads are checked against it.

/// One row of the settings table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The variable, or several read together, as Markdown (each in backticks).
    pub names: &'static str,
    /// The default, as Markdown.
    pub default: &'static str,
    /// The output (or part of logmeter) it configures.
    pub output: &'static str,
    /// What it does, as Markdown.
    pub meaning: &'static str,
}

/// Every setting, in the order of the docs.
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
        names: r#"`INGEST_PREFIX`"#,
        default: r#"`ingest/records`"#,
        output: "ingest objects",
        meaning: r#"key prefix of meter record objects"#,
    },
    Setting {
        names: r#"`QUARANTINE_PREFIX`"#,
        default: r#"`logmeter-quarantine`"#,
        output: "quarantine store",
        meaning: r#"key prefix of quarantine objects"#,
    },
    Setting {
        names: r#"`MAX_OBJECT_BYTES`"#,
        default: r#"`4194304`"#,
        output: "ingest objects",
        meaning: r#"upper bound of one meter record object"#,
    },
    Setting {
        names: r#"`MAX_OBJECT_RECORDS`"#,
        default: r#"`10000`"#,
        output: "ingest objects",
        meaning: r#"upper bound of records in one object"#,
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
    Setting {
        names: r#"`BULK_MAX_BYTES`"#,
        default: r#"`5242880`"#,
        output: "pipeline",
        meaning: r#"upper bound of one bulk request body"#,
    },
    Setting {
        names: r#"`BULK_MAX_ACTIONS`"#,
        default: r#"`1000`"#,
        output: "pipeline",
        meaning: r#"upper bound of actions in one bulk request"#,
    },
    Setting {
        names: r#"`LOGMETER_THREADS`"#,
        default: r#"CPUs available"#,
        output: "pipeline",
        meaning: r#"decoding threads (Lambda gives more vCPUs with more memory)"#,
    },
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
        names: r#"`INGEST_GZIP`"#,
        default: r#"`false`"#,
        output: "ingest objects",
        meaning: r#"write meter record objects gzip'd, as `.json.gz` (in the bucket and under `--out DIR` alike)"#,
    },
    Setting {
        names: r#"`INGEST_LAYOUT`"#,
        default: r#"`batch`"#,
        output: "ingest objects",
        meaning: r#"`batch`: one object per invocation (per date and part), which needs `s3:ListBucket` and `s3:GetObject`; `record`: one object per Kinesis record, with `s3:PutObject` alone (see [delivery.md](delivery.md))"#,
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
        meaning: r#"install the `logmeter-metrics` (and `logmeter-meter-records`) index templates when missing"#,
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
        names: r#"`SEARCH_MAX_ATTEMPTS`, `SEARCH_TIMEOUT_MS`"#,
        default: r#"`5`, `10000`"#,
        output: "search mirror",
        meaning: r#"attempts per bulk request; timeout of one request"#,
    },
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

/// The header of the settings table in docs/configuration.md.
pub const TABLE_HEADER: &str = "| variable | default | output | meaning |";

/// The settings table, as docs/configuration.md holds it.
pub fn markdown_table() -> String {
    let mut out = format!("{TABLE_HEADER}\n|---|---|---|---|\n");
    for s in SETTINGS {
        out.push_str(&format!("| {} | {} | {} | {} |\n", s.names, s.default, s.output, s.meaning));
    }
    out
}

/// The settings as plain text for `--help`.
pub fn help_text() -> String {
    let mut out = String::from("Settings (environment variables, read once at start; docs/configuration.md):\n");
    let plain = |s: &str| s.replace('`', "");
    for s in SETTINGS {
        out.push_str(&format!(
            "\n  {}\n      default {} ({}): {}\n",
            plain(s.names),
            plain(s.default),
            s.output,
            plain(s.meaning)
        ));
    }
    out
}

/// The variable names a row names (`` `A`, `B` `` gives `A` and `B`).
pub fn names(setting: &Setting) -> Vec<&'static str> {
    setting.names.split('`').skip(1).step_by(2).collect()
}
