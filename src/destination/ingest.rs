//! The ingest objects: a record's meter records as JSON arrays, one object per UTC date of `meterTimeInMillis`
//! and part, under `<INGEST_PREFIX>/YYYY-MM-DD/<shard>/<sequence>-<part>.json` (`.json.gz` with `INGEST_GZIP`).
//! Delivered by an [`super::objects::ObjectOutlet`] to the ingest bucket or a directory; a failure retries the
//! record.

use super::{Encoder, INGEST, Parcel, RecordValues};
use crate::config::PipelineConfig;
use crate::plan::{gzip_objects, record_objects};

/// Encodes meter records into ingest objects.
#[derive(Debug, Clone)]
pub struct IngestEncoder {
    prefix: String,
    max_bytes: usize,
    max_records: usize,
    gzip: bool,
}

impl IngestEncoder {
    /// The encoder `config` describes (`INGEST_PREFIX`, `MAX_OBJECT_BYTES`, `MAX_OBJECT_RECORDS`, `INGEST_GZIP`).
    pub fn new(config: &PipelineConfig) -> Self {
        Self {
            prefix: config.records_prefix.clone(),
            max_bytes: config.max_object_bytes,
            max_records: config.max_object_records,
            gzip: config.ingest_gzip,
        }
    }
}

impl Encoder for IngestEncoder {
    fn destination(&self) -> &'static str {
        INGEST
    }

    fn encode(&self, values: &RecordValues<'_>, out: &mut Vec<Parcel>) {
        let start = out.len();
        out.extend(record_objects(
            values.meters,
            &self.prefix,
            values.shard,
            values.seq_key,
            self.max_bytes,
            self.max_records,
        ));
        if self.gzip {
            gzip_objects(&mut out[start..]);
        }
    }
}
