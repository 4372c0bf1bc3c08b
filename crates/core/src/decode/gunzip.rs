//! Gzip with a cap: CloudWatch Logs compresses each payload with gzip (sometimes several members).

use flate2::bufread::MultiGzDecoder;
use std::io::Read;

/// Growth step of the output buffer.
const CHUNK: usize = 256 << 10;

/// Why a record's bytes could not be inflated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GunzipError {
    /// Zero bytes of data.
    #[error("record data is empty")]
    Empty,
    /// The data does not start with the gzip magic bytes.
    #[error("record data is not gzip (starts with {0})")]
    NotGzip(String),
    /// The stream is truncated or corrupt.
    #[error("corrupt gzip stream after {inflated} inflated bytes: {reason}")]
    Corrupt {
        /// Bytes inflated before the error.
        inflated: usize,
        /// What flate2 reported.
        reason: String,
    },
    /// The stream inflates past the configured cap.
    #[error("record inflates past the cap of {cap} bytes")]
    TooLarge {
        /// The cap in force.
        cap: usize,
    },
}

/// Shortest complete gzip member: 10-byte header, an empty deflate block, 8-byte trailer.
const MIN_MEMBER: usize = 20;

/// Inflates every gzip member of `input` into `out`, refusing more than `cap` inflated bytes.
///
/// `out` is a reusable buffer: on success its first `n` bytes (the returned length) are the inflated payload. It
/// is kept initialised across calls, so inflating the next record neither zero-fills nor page-faults again.
///
/// A stream whose last member alone declares (gzip ISIZE) more than `cap` is inflated into a small window of
/// `out` that is overwritten again and again: it can only end past the cap or corrupt (flate2 checks every
/// member's ISIZE), and a decompression bomb then costs neither memory nor page faults.
pub fn gunzip_into(input: &[u8], cap: usize, out: &mut Vec<u8>) -> Result<usize, GunzipError> {
    if input.is_empty() {
        return Err(GunzipError::Empty);
    }
    if !input.starts_with(&[0x1f, 0x8b]) {
        return Err(GunzipError::NotGzip(describe_start(input)));
    }
    let declared = input.last_chunk::<4>().filter(|_| input.len() >= MIN_MEMBER).map(|b| u32::from_le_bytes(*b));
    if declared.is_some_and(|d| d as u64 > cap as u64) {
        match inflate(input, cap, out, true) {
            Ok(_) => {} // Not expected (see above); inflated again, kept this time.
            err => return err,
        }
    }
    inflate(input, cap, out, false)
}

fn inflate(input: &[u8], cap: usize, out: &mut Vec<u8>, discard: bool) -> Result<usize, GunzipError> {
    let mut decoder = MultiGzDecoder::new(input);
    let mut len = 0;
    loop {
        let at = if discard { 0 } else { len };
        if at == out.len() {
            if len > cap {
                return Err(GunzipError::TooLarge { cap });
            }
            let grow = CHUNK.max(out.len() / 2).min(cap + 1 - len);
            out.resize(at + grow, 0);
        }
        let end = if discard { CHUNK.min(out.len()) } else { out.len() };
        let window = &mut out[at..end];
        match decoder.read(window) {
            Ok(0) => return Ok(len),
            Ok(n) => {
                len += n;
                if len > cap {
                    return Err(GunzipError::TooLarge { cap });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(GunzipError::Corrupt { inflated: len, reason: e.to_string() });
            }
        }
    }
}

fn describe_start(input: &[u8]) -> String {
    match input[0] {
        b'{' | b'[' => "'{' or '[': uncompressed JSON?".to_owned(),
        b => format!("byte 0x{b:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn valid_single_and_multi_member() {
        let mut out = Vec::new();
        let n = gunzip_into(&gz(b"hello"), 100, &mut out).unwrap();
        assert_eq!(&out[..n], b"hello");
        let mut two = gz(b"hello ");
        two.extend(gz(b"world"));
        let n = gunzip_into(&two, 100, &mut out).unwrap();
        assert_eq!(&out[..n], b"hello world");
    }

    #[test]
    fn valid_exactly_at_cap() {
        let mut out = Vec::new();
        assert_eq!(gunzip_into(&gz(&[b'x'; 64]), 64, &mut out).unwrap(), 64);
        let big = vec![b'y'; 3 * CHUNK + 5];
        let n = gunzip_into(&gz(&big), big.len(), &mut out).unwrap();
        assert_eq!(&out[..n], &big[..], "grows past several chunks");
        let n = gunzip_into(&gz(b"short"), 10, &mut out).unwrap();
        assert_eq!(&out[..n], b"short", "a reused buffer returns only the new payload");
    }

    #[test]
    fn invalid_inputs_have_reasons() {
        let mut out = Vec::new();
        let full = gz(&[b'a'; 1000]);
        type Check = fn(&GunzipError) -> bool;
        let cases: Vec<(&[u8], usize, Check)> = vec![
            (b"", 10, |e| *e == GunzipError::Empty),
            (b"{\"a\":1}", 10, |e| matches!(e, GunzipError::NotGzip(s) if s.contains("uncompressed JSON"))),
            (&full[..full.len() / 2], 10_000, |e| matches!(e, GunzipError::Corrupt { .. })),
            (&full, 999, |e| *e == GunzipError::TooLarge { cap: 999 }),
        ];
        for (input, cap, check) in cases {
            let err = gunzip_into(input, cap, &mut out).unwrap_err();
            assert!(check(&err), "{err:?}");
        }
    }

    #[test]
    fn invalid_over_cap_whatever_the_trailer_says() {
        let mut out = Vec::new();
        // A bomb that declares its size is inflated into a window: the buffer does not grow to the cap.
        let bomb = gz(&vec![b' '; 40 * CHUNK]);
        assert_eq!(gunzip_into(&bomb, 20 * CHUNK, &mut out).unwrap_err(), GunzipError::TooLarge { cap: 20 * CHUNK });
        assert!(out.len() <= CHUNK, "{}", out.len());
        // A stream that only claims to be a bomb is reported for what it is: corrupt.
        let mut claims = gz(&[b'd'; 100]);
        let n = claims.len();
        claims[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(gunzip_into(&claims, 20 * CHUNK, &mut out), Err(GunzipError::Corrupt { inflated: 100, .. })));
        let mut lying = gz(&[b'a'; 1000]);
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&10u32.to_le_bytes());
        assert_eq!(gunzip_into(&lying, 999, &mut out).unwrap_err(), GunzipError::TooLarge { cap: 999 });
        // Two members of 600 bytes: the last declares 600 (under the cap), the total is 1,200.
        let mut two = gz(&[b'b'; 600]);
        two.extend(gz(&[b'c'; 600]));
        assert_eq!(gunzip_into(&two, 999, &mut out).unwrap_err(), GunzipError::TooLarge { cap: 999 });
    }

    #[test]
    fn invalid_trailing_garbage_after_member() {
        let mut data = gz(b"ok");
        data.extend_from_slice(b"garbage");
        let mut out = Vec::new();
        assert!(matches!(gunzip_into(&data, 100, &mut out), Err(GunzipError::Corrupt { .. })));
    }
}
