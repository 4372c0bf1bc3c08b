//! An S3 bucket (the ingest bucket, or the quarantine bucket): create-only `PutObject` (`If-None-Match: *`), CRC32
//! checksums, and the `bucket-owner-full-control` ACL for another account's bucket when `INGEST_ACL` asks for it.
//!
//! A put that answers 412 found an object under the key. Every key logmeter writes names its body
//! ([`crate::plan::names_content`]), so a 412 is by itself proof that the same bytes are there: it counts as
//! delivered with no further request, which needs no read permission (a bucket that grants `s3:PutObject` alone,
//! such as a billing platform's drop bucket, takes re-deliveries too). A key that does not name its body is read
//! back with `HeadObject` (same length and CRC32) or `GetObject`, and a different object is
//! [`SinkError::Taken`], never a delivery.
//!
//! Throttling, 5xx and timeouts are retried by the SDK's standard strategy (exponential backoff with jitter, at
//! most `S3_MAX_ATTEMPTS`); what is left is classified here. A refusal for lack of permission is
//! [`SinkError::AccessDenied`], naming the action and the key.

use super::{Delivery, ObjectSink, SinkError};
use crate::config::AclMode;
use crate::plan::Parcel;
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
    /// A sink writing to `bucket` over a client built by [`crate::aws::s3_client`], with the ACL `INGEST_ACL` names.
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
        let action = if self.acl == AclMode::None { "s3:PutObject" } else { "s3:PutObject and s3:PutObjectAcl" };
        match req.send().await {
            Ok(_) => Ok(Delivery::Written),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let target = format!("s3://{bucket}/{key}");
                match classify(status, e.code().unwrap_or(""), bucket) {
                    PutFailure::KeyTaken if crate::plan::names_content(key, &body_crc.body) => {
                        Ok(Delivery::AlreadyPresent)
                    }
                    PutFailure::KeyTaken => self.verify_present(bucket, key, &body_crc).await,
                    PutFailure::Denied(detail) => Err(SinkError::AccessDenied { action, target, detail }),
                    PutFailure::Permanent(reason) => Err(SinkError::Permanent { target, reason }),
                    PutFailure::Transient => {
                        Err(SinkError::Transient { target, reason: DisplayErrorContext(&e).to_string() })
                    }
                }
            }
        }
    }

    /// After a 412 on a key that does not name its body: the object under `key` counts as delivered only if it is
    /// the one this call would have written (needs `s3:GetObject` on the key).
    async fn verify_present(&self, bucket: &str, key: &str, ours: &Written) -> Result<Delivery, SinkError> {
        let target = format!("s3://{bucket}/{key}");
        let head = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| read_error(bucket, key, "s3:GetObject (HeadObject after a 412)", &e))?;
        let same = match (head.content_length(), head.checksum_crc32()) {
            (Some(len), _) if usize::try_from(len).ok() != Some(ours.body.len()) => false,
            (_, Some(crc)) => crc == ours.crc32,
            // No stored CRC32 (written by another tool, or a server without checksums): compare the bytes.
            _ => {
                let got = self
                    .client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| read_error(bucket, key, "s3:GetObject (after a 412)", &e))?;
                let bytes = got.body.collect().await.map_err(|e| SinkError::Transient {
                    target: target.clone(),
                    reason: format!("reading the object that answered 412: {e}"),
                })?;
                bytes.into_bytes() == ours.body
            }
        };
        if same { Ok(Delivery::AlreadyPresent) } else { Err(SinkError::Taken { target }) }
    }
}

/// What a failed S3 call means.
#[derive(Debug, PartialEq, Eq)]
enum PutFailure {
    /// 412: an object is already under the key (the same one, or not: to be checked).
    KeyTaken,
    /// Refused for lack of permission; the detail says what to check.
    Denied(String),
    /// Will not succeed until someone acts; the reason says what to do.
    Permanent(String),
    /// Worth retrying (throttled, unavailable, timed out, anything not known to be permanent).
    Transient,
}

/// Classifies a failed S3 call by its HTTP status (none when no response came) and S3 error code.
fn classify(status: Option<u16>, code: &str, bucket: &str) -> PutFailure {
    match (status, code) {
        (Some(412), _) | (_, "PreconditionFailed") => PutFailure::KeyTaken,
        (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidToken") => PutFailure::Denied(
            format!("{code}: the function's credentials are not accepted; check its role or access key"),
        ),
        (Some(401 | 403), _) | (_, "AccessDenied") => PutFailure::Denied(format!(
            "{}: grant it to the function's role (sam/template.yaml does) and check the bucket policy",
            if code.is_empty() { "HTTP 403" } else { code }
        )),
        (Some(404), _) | (_, "NoSuchBucket") => {
            PutFailure::Permanent(format!("bucket {bucket} does not exist ({code})"))
        }
        _ => PutFailure::Transient,
    }
}

/// A failed read (`ListObjectsV2`, `GetObject`, `HeadObject`) of `target` in `bucket`, classified like a failed put
/// (a 412 cannot happen here).
fn read_error<E>(
    bucket: &str,
    target: &str,
    action: &'static str,
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> SinkError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let target = format!("s3://{bucket}/{target}");
    match classify(status, e.code().unwrap_or(""), bucket) {
        PutFailure::Denied(detail) => SinkError::AccessDenied { action, target, detail },
        PutFailure::Permanent(reason) => SinkError::Permanent { target, reason },
        _ => SinkError::Transient { target, reason: format!("{action}: {}", DisplayErrorContext(e)) },
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
                .map_err(|e| read_error(&self.bucket, prefix, "s3:ListBucket (ListObjectsV2)", &e))?;
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
            .map_err(|e| read_error(&self.bucket, key, "s3:GetObject", &e))?;
        let bytes = got.body.collect().await.map_err(|e| SinkError::Transient {
            target: format!("s3://{}/{key}", self.bucket),
            reason: format!("reading: {e}"),
        })?;
        Ok(bytes.into_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_calls_are_classified_by_status_and_code() {
        let denied = |d: &str| PutFailure::Denied(d.to_owned());
        let grant = "grant it to the function's role (sam/template.yaml does) and check the bucket policy";
        let table = [
            (Some(412), "PreconditionFailed", PutFailure::KeyTaken),
            (None, "PreconditionFailed", PutFailure::KeyTaken),
            (Some(403), "AccessDenied", denied(&format!("AccessDenied: {grant}"))),
            (Some(403), "", denied(&format!("HTTP 403: {grant}"))),
            (None, "AccessDenied", denied(&format!("AccessDenied: {grant}"))),
            (
                Some(400),
                "InvalidAccessKeyId",
                denied("InvalidAccessKeyId: the function's credentials are not accepted; check its role or access key"),
            ),
            (
                Some(400),
                "ExpiredToken",
                denied("ExpiredToken: the function's credentials are not accepted; check its role or access key"),
            ),
            (Some(404), "NoSuchBucket", PutFailure::Permanent("bucket ingest does not exist (NoSuchBucket)".into())),
            (None, "NoSuchBucket", PutFailure::Permanent("bucket ingest does not exist (NoSuchBucket)".into())),
            (Some(503), "SlowDown", PutFailure::Transient),
            (Some(500), "InternalError", PutFailure::Transient),
            (None, "", PutFailure::Transient),
            (Some(409), "OperationAborted", PutFailure::Transient),
        ];
        for (status, code, want) in table {
            assert_eq!(classify(status, code, "ingest"), want, "{status:?} {code}");
        }
    }

    #[test]
    fn access_errors_name_the_action_and_the_key() {
        let e = SinkError::AccessDenied {
            action: "s3:GetObject (HeadObject after a 412)",
            target: "s3://b/logmeter-quarantine/k.json".into(),
            detail: "AccessDenied: grant it".into(),
        };
        assert_eq!(
            e.to_string(),
            "access denied: s3:GetObject (HeadObject after a 412) on s3://b/logmeter-quarantine/k.json \
             (AccessDenied: grant it)"
        );
    }
}
