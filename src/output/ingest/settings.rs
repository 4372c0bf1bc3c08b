//! The ingest objects' settings: where meter record objects go in the bucket, how big they grow, and how they are
//! grouped. The bucket itself is the store's ([`crate::config::DeliveryConfig`]).

use crate::config::settings::Setting;
use crate::config::{ConfigError, flag, positive, prefix, read};
use std::str::FromStr;

/// How meter records are grouped into ingest objects.
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

/// The ingest objects' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `INGEST_PREFIX`: key prefix of meter record objects (default `ingest/records`).
    pub prefix: String,
    /// `MAX_OBJECT_BYTES`: upper bound of one meter record object's body (default 4 MiB).
    pub max_object_bytes: usize,
    /// `MAX_OBJECT_RECORDS`: upper bound of records in one object (default 10,000).
    pub max_object_records: usize,
    /// `INGEST_GZIP` (default `false`): meter record objects are gzip'd, named `….json.gz`, wherever they go (the
    /// bucket or `--out DIR`).
    pub gzip: bool,
    /// `INGEST_LAYOUT` (default `batch`): one object per batch (per date and part), or one per Kinesis record.
    pub layout: IngestLayout,
    /// Whether the batch layout's retry rule looks at the whole date, every shard's objects, before writing (set by
    /// `logmeter backfill`, whose records arrive on their own shard and may already be in the bucket from the live
    /// route; not a setting).
    pub across_shards: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            prefix: "ingest/records".into(),
            max_object_bytes: 4 << 20,
            max_object_records: 10_000,
            gzip: false,
            layout: IngestLayout::Batch,
            across_shards: false,
        }
    }
}

impl Settings {
    /// Reads the settings from `lookup`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            prefix: read(lookup, "INGEST_PREFIX", d.prefix, prefix)?,
            max_object_bytes: read(lookup, "MAX_OBJECT_BYTES", d.max_object_bytes, positive)?,
            max_object_records: read(lookup, "MAX_OBJECT_RECORDS", d.max_object_records, positive)?,
            gzip: flag(lookup, "INGEST_GZIP", d.gzip)?,
            layout: read(lookup, "INGEST_LAYOUT", d.layout, |_| Ok(()))?,
            across_shards: d.across_shards,
        })
    }
}

/// The ingest objects' rows of the settings table.
pub const SETTINGS: &[Setting] = &[
    Setting {
        names: r#"`INGEST_PREFIX`"#,
        default: r#"`ingest/records`"#,
        output: "ingest objects",
        meaning: r#"key prefix of meter record objects"#,
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
];
