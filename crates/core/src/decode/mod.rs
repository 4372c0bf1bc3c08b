//! Decoding a Kinesis record into a CloudWatch Logs payload: base64, gzip (every member), then the payload JSON.

mod base64;
mod gunzip;
mod json_str;
mod mask;
mod payload;
mod scan;
mod values;

pub use gunzip::{GunzipError, gunzip_into};
pub use json_str::{unescape_into, unescape_to_string};
pub(crate) use mask::string_stop;
pub use payload::{LogEvent, MessageType, Payload, PayloadError, parse_payload};
pub use scan::ScanError;
pub(crate) use scan::hex_unit;
pub use values::{json_elements, json_elements_with, json_end, json_object_with, json_value};

/// Latest time an arrival or event timestamp may name: 9999-12-31T23:59:59.999Z, in epoch milliseconds.
pub const MAX_TIME_MILLIS: i64 = 253_402_300_799_999;

/// `Some(N)` when `bytes` starts with the literal `lit`: a compare of known size, which compiles to a few loads
/// where a slice compare of unknown length calls `memcmp`. For the readers' fixed keys.
#[inline]
pub(crate) fn literal<const N: usize>(bytes: &[u8], lit: &[u8; N]) -> Option<usize> {
    (bytes.first_chunk::<N>() == Some(lit)).then_some(N)
}

/// `\"…\"` at `at` in the text of a string literal (a JSON string inside a message literal), with no escape or
/// control character between the escaped quotes: the text between them and the offset after the closing one.
pub(crate) fn escaped_string(text: &str, at: usize) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    if !bytes.get(at..)?.starts_with(b"\\\"") {
        return None;
    }
    // Keys and values are short: 16-byte looks find the first backslash, quote or control character, which must be
    // the closing `\"`.
    let end = string_stop(bytes, at + 2)?;
    (bytes.get(end..end + 2) == Some(b"\\\"")).then(|| (&text[at + 2..end], end + 2))
}

/// Why a Kinesis record could not be decoded. Each variant is a poison record: it is quarantined, never retried.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// `data` is not valid base64.
    #[error("record data is not valid base64: {0}")]
    Base64(#[from] ::base64::DecodeError),
    /// The bytes are not a complete gzip stream, or inflate past the cap.
    #[error(transparent)]
    Gunzip(#[from] GunzipError),
    /// The inflated bytes are not a CloudWatch Logs payload.
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// Decodes base64 `data` into `out` (cleared first), reusing its allocation.
pub fn base64_into(data: &str, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    Ok(self::base64::base64_into(data, out)?)
}
