//! An S3 bucket (the ingest bucket, or the quarantine bucket): create-only `PutObject` (`If-None-Match: *`). An object an earlier attempt wrote answers
//! 412; it counts as delivered only once it is shown to be the same object (same length and CRC32, read back with
//! `HeadObject` in checksum mode, or the same bytes when the stored object has no CRC32). A different object
//! under the key is a permanent failure, never a delivery. CRC32 checksums and the
//! `bucket-owner-full-control` ACL for another account's bucket. Throttling, 5xx and timeouts are retried by the
//! SDK's standard strategy (exponential backoff with jitter); what is left is classified here.

use super::{Delivery, ObjectSink, SinkError};
use crate::config::AclMode;
use crate::destination::Parcel;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ObjectCannedAcl};

/// Writes objects to one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: Client,
    bucket: String,
    acl: AclMode,
}

impl S3Sink {
    /// A sink writing to `bucket` over a client built by [`crate::aws::s3_client`], with the `DELIVERY_ACL`.
    pub fn new(client: Client, bucket: &str, acl: AclMode) -> Self {
        Self { client, bucket: bucket.to_owned(), acl }
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Writes raw bytes create-only (also used for spooled bulk bodies).
    pub async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Delivery, SinkError> {
        let body_crc = Written { crc32: crc32_base64(&body), body: bytes::Bytes::from(body) };
        let mut req = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .if_none_match("*")
            .content_type(content_type)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body_crc.body.clone()));
        if self.acl == AclMode::BucketOwnerFullControl {
            req = req.acl(ObjectCannedAcl::BucketOwnerFullControl);
        }
        match req.send().await {
            Ok(_) => Ok(Delivery::Written),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let target = format!("s3://{bucket}/{key}");
                match classify(status, e.code().unwrap_or(""), bucket, self.acl) {
                    PutFailure::KeyTaken => self.verify_present(bucket, key, &body_crc).await,
                    PutFailure::Permanent(reason) => Err(SinkError::Permanent { target, reason }),
                    PutFailure::Transient => {
                        Err(SinkError::Transient { target, reason: DisplayErrorContext(&e).to_string() })
                    }
                }
            }
        }
    }

    /// After a 412: the object under `key` counts as delivered only if it is the one this call would have written.
    async fn verify_present(&self, bucket: &str, key: &str, ours: &Written) -> Result<Delivery, SinkError> {
        let target = format!("s3://{bucket}/{key}");
        let transient = |what: &str, reason: String| SinkError::Transient {
            target: target.clone(),
            reason: format!("{what}: {reason}"),
        };
        let head = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| transient("reading back the object that answered 412", DisplayErrorContext(&e).to_string()))?;
        let same = match (head.content_length(), head.checksum_crc32()) {
            (Some(len), _) if usize::try_from(len).ok() != Some(ours.body.len()) => false,
            (_, Some(crc)) => crc == ours.crc32,
            // No stored CRC32 (written by another tool, or a server without checksums): compare the bytes.
            _ => {
                let got = self.client.get_object().bucket(bucket).key(key).send().await.map_err(|e| {
                    transient("reading the object that answered 412", DisplayErrorContext(&e).to_string())
                })?;
                let bytes = got
                    .body
                    .collect()
                    .await
                    .map_err(|e| transient("reading the object that answered 412", e.to_string()))?;
                bytes.into_bytes() == ours.body
            }
        };
        if same { Ok(Delivery::AlreadyPresent) } else { Err(SinkError::Taken { target }) }
    }
}

/// What a failed create-only `PutObject` means.
#[derive(Debug, PartialEq, Eq)]
enum PutFailure {
    /// 412: an object is already under the key (the same one, or not: to be checked).
    KeyTaken,
    /// Will not succeed until someone acts; the reason says what to do.
    Permanent(String),
    /// Worth retrying (throttled, unavailable, timed out, anything not known to be permanent).
    Transient,
}

/// Classifies a failed `PutObject` by its HTTP status (none when no response came) and S3 error code.
fn classify(status: Option<u16>, code: &str, bucket: &str, acl: AclMode) -> PutFailure {
    match (status, code) {
        (Some(412), _) | (_, "PreconditionFailed") => PutFailure::KeyTaken,
        (Some(401 | 403), _) | (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied") => {
            PutFailure::Permanent(format!(
                "access denied ({code}): check the function's credentials and the bucket policy{}",
                if acl == AclMode::None { "" } else { " (it must allow s3:PutObjectAcl)" }
            ))
        }
        (Some(404), _) | (_, "NoSuchBucket") => {
            PutFailure::Permanent(format!("bucket {bucket} does not exist ({code})"))
        }
        _ => PutFailure::Transient,
    }
}

/// A body and its CRC32 as S3 reports it (base64 of the big-endian value).
struct Written {
    crc32: String,
    body: bytes::Bytes,
}

fn crc32_base64(body: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(body).to_be_bytes())
}

impl ObjectSink for S3Sink {
    async fn put(&self, object: &Parcel) -> Result<Delivery, SinkError> {
        let content_type = if object.key.ends_with(".gz") { "application/gzip" } else { "application/json" };
        self.put_bytes(&self.bucket, &object.key, object.body.clone(), content_type).await
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<String>, SinkError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_start_after(start_after.map(str::to_owned))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.read_failure(prefix, "listing", &e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(keys),
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, SinkError> {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.read_failure(key, "reading", &e))?;
        let bytes = got.body.collect().await.map_err(|e| SinkError::Transient {
            target: format!("s3://{}/{key}", self.bucket),
            reason: format!("reading: {e}"),
        })?;
        Ok(bytes.into_bytes().to_vec())
    }
}

impl S3Sink {
    /// A failed `ListObjectsV2` or `GetObject`, classified like a failed put (a 412 cannot happen here).
    fn read_failure<E>(
        &self,
        target: &str,
        what: &str,
        e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> SinkError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let target = format!("s3://{}/{target}", self.bucket);
        match classify(status, e.code().unwrap_or(""), &self.bucket, AclMode::None) {
            PutFailure::Permanent(reason) => SinkError::Permanent {
                target,
                reason: format!("{what}: {reason} (the batch layout needs s3:ListBucket and s3:GetObject)"),
            },
            _ => SinkError::Transient { target, reason: format!("{what}: {}", DisplayErrorContext(e)) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_puts_are_classified_by_status_and_code() {
        let permanent = |r: &str| PutFailure::Permanent(r.to_owned());
        let table = [
            (Some(412), "PreconditionFailed", AclMode::None, PutFailure::KeyTaken),
            (None, "PreconditionFailed", AclMode::None, PutFailure::KeyTaken),
            (
                Some(403),
                "AccessDenied",
                AclMode::None,
                permanent("access denied (AccessDenied): check the function's credentials and the bucket policy"),
            ),
            (
                Some(403),
                "AccessDenied",
                AclMode::BucketOwnerFullControl,
                permanent(
                    "access denied (AccessDenied): check the function's credentials and the bucket policy (it must \
                     allow s3:PutObjectAcl)",
                ),
            ),
            (
                Some(400),
                "InvalidAccessKeyId",
                AclMode::None,
                permanent("access denied (InvalidAccessKeyId): check the function's credentials and the bucket policy"),
            ),
            (Some(404), "NoSuchBucket", AclMode::None, permanent("bucket ingest does not exist (NoSuchBucket)")),
            (None, "NoSuchBucket", AclMode::None, permanent("bucket ingest does not exist (NoSuchBucket)")),
            (Some(503), "SlowDown", AclMode::None, PutFailure::Transient),
            (Some(500), "InternalError", AclMode::None, PutFailure::Transient),
            (None, "", AclMode::None, PutFailure::Transient),
            (Some(409), "OperationAborted", AclMode::None, PutFailure::Transient),
        ];
        for (status, code, acl, want) in table {
            assert_eq!(classify(status, code, "ingest", acl), want, "{status:?} {code}");
        }
    }
}
