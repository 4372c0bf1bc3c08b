//! The S3 ingest bucket: create-only `PutObject` (`If-None-Match: *`), so an object an earlier attempt wrote
//! answers 412 and counts as delivered. CRC32 checksums, optional gzip (`.json.gz`) and the
//! `bucket-owner-full-control` ACL for another account's bucket. Throttling, 5xx and timeouts are retried by the
//! SDK's standard strategy (exponential backoff with jitter); what is left is classified here.

use super::{Delivery, ObjectSink, SinkError};
use crate::config::{AclMode, DeliveryConfig};
use crate::plan::{ObjectKind, PlannedObject};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ObjectCannedAcl};
use flate2::{Compression, write::GzEncoder};
use std::io::Write;

/// Writes planned objects to S3.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: Client,
    bucket: String,
    quarantine_bucket: String,
    gzip: bool,
    acl: AclMode,
}

impl S3Sink {
    /// A sink over a client built by [`crate::aws::s3_client`].
    pub fn new(client: Client, config: &DeliveryConfig) -> Self {
        Self {
            client,
            bucket: config.bucket.clone(),
            quarantine_bucket: config.quarantine_bucket.clone(),
            gzip: config.gzip,
            acl: config.acl,
        }
    }

    /// The bucket and key an object is written to.
    pub fn location<'a>(&'a self, object: &PlannedObject) -> (&'a str, String) {
        let bucket = if object.kind == ObjectKind::Quarantine { &self.quarantine_bucket } else { &self.bucket };
        let key = if self.gzip && object.kind == ObjectKind::Records {
            format!("{}.gz", object.key)
        } else {
            object.key.clone()
        };
        (bucket, key)
    }

    /// Writes raw bytes create-only (also used for spooled bulk bodies).
    pub async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Delivery, SinkError> {
        let mut req = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .if_none_match("*")
            .content_type(content_type)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body));
        if self.acl == AclMode::BucketOwnerFullControl {
            req = req.acl(ObjectCannedAcl::BucketOwnerFullControl);
        }
        match req.send().await {
            Ok(_) => Ok(Delivery::Written),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let code = e.code().unwrap_or("").to_owned();
                let target = format!("s3://{bucket}/{key}");
                match (status, code.as_str()) {
                    (Some(412), _) | (_, "PreconditionFailed") => Ok(Delivery::AlreadyPresent),
                    (Some(401 | 403), _) | (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied") => {
                        Err(SinkError::Permanent {
                            target,
                            reason: format!(
                                "access denied ({code}): check the function's credentials and the bucket policy{}",
                                if self.acl == AclMode::None { "" } else { " (it must allow s3:PutObjectAcl)" }
                            ),
                        })
                    }
                    (Some(404), _) | (_, "NoSuchBucket") => {
                        Err(SinkError::Permanent { target, reason: format!("bucket {bucket} does not exist ({code})") })
                    }
                    _ => Err(SinkError::Transient { target, reason: DisplayErrorContext(&e).to_string() }),
                }
            }
        }
    }
}

/// Gzip with a zero mtime, so the same records always give the same bytes.
fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = e.write_all(body);
    e.finish().unwrap_or_default()
}

impl ObjectSink for S3Sink {
    async fn put(&self, object: &PlannedObject) -> Result<Delivery, SinkError> {
        let (bucket, key) = self.location(object);
        if self.gzip && object.kind == ObjectKind::Records {
            self.put_bytes(bucket, &key, gzip(&object.body), "application/gzip").await
        } else {
            self.put_bytes(bucket, &key, object.body.clone(), "application/json").await
        }
    }
}
