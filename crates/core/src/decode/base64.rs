//! Base64 of Kinesis `data`: `base64-simd` (AVX2 / SSE4.1 / NEON, chosen at run time) for the usual well-formed
//! input, with the `base64` crate as the judge of anything it refuses.
//!
//! Both follow RFC 4648 strictly (padding required, no trailing bits, no whitespace), so valid input gives the
//! same bytes either way; when the vector decoder refuses the input, the `base64` crate decodes it again and its
//! precise error (byte offset, character) is what the quarantine entry says. `base64-simd` is already part of the
//! build: the AWS SDK decodes with it.

use base64::Engine as _;

/// Decodes standard, padded base64 `data` into `out` (cleared first), reusing its allocation.
pub fn base64_into(data: &str, out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
    out.clear();
    if base64_simd::STANDARD.decode_append(data.as_bytes(), out).is_ok() {
        return Ok(());
    }
    out.clear();
    base64::engine::general_purpose::STANDARD.decode_vec(data.as_bytes(), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
        base64::engine::general_purpose::STANDARD.decode(s)
    }

    #[test]
    fn invalid_inputs_get_the_crate_errors() {
        for s in
            ["", "A", "AB", "ABC", "AB=A", "A===", "AB==AB==", "AQ==", "AR==", "ab$d", "abc\n", "YWJj ZGVm", "//8="]
        {
            let mut out = vec![9];
            let got = base64_into(s, &mut out).map(|()| out);
            assert_eq!(got, crate_decode(s), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn valid_any_bytes_decode_like_the_crate(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let s = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let mut out = vec![1, 2, 3];
            proptest::prop_assert!(base64_into(&s, &mut out).is_ok());
            proptest::prop_assert_eq!(out, bytes);
        }

        #[test]
        fn valid_or_not_padded_tails_decode_like_the_crate(s in "([A-Za-z0-9+/]{4}){0,24}[A-Za-z0-9+/]{1,4}={0,3}") {
            // Non-canonical trailing bits ("AR==") and wrong padding counts are where decoders tend to differ.
            let mut out = Vec::new();
            let got = base64_into(&s, &mut out).map(|()| out);
            proptest::prop_assert_eq!(got, crate_decode(&s));
        }

        #[test]
        fn invalid_any_text_decodes_like_the_crate(s in "[A-Za-z0-9+/=$ \n]{0,40}") {
            let mut out = Vec::new();
            let got = base64_into(&s, &mut out).map(|()| out);
            proptest::prop_assert_eq!(got, crate_decode(&s));
        }
    }
}
