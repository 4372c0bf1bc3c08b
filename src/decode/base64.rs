//! Base64 of Kinesis `data`: a table-driven decoder for the usual well-formed input, with the `base64` crate as
//! the judge of anything else.
//!
//! Each character is looked up in a table that already holds its six bits shifted into place in the 24-bit group,
//! so a group of four characters is four loads and three ORs; invalid characters carry a bit above the group,
//! checked once for the whole input. Input that is not a whole number of groups, has a bad character, or ends
//! in a group the fast path does not take is decoded again by the `base64` crate, which gives the same bytes for
//! valid input and its precise error otherwise.

use base64::Engine as _;

/// Set in a table entry for a byte outside the standard alphabet.
const INVALID: u32 = 0xff00_0000;

const fn table(shift: u32) -> [u32; 256] {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = (i as u32) << shift;
        i += 1;
    }
    t
}

static FIRST: [u32; 256] = table(18);
static SECOND: [u32; 256] = table(12);
static THIRD: [u32; 256] = table(6);
static FOURTH: [u32; 256] = table(0);

/// Decodes standard, padded base64 `data` into `out` (cleared first), reusing its allocation.
pub fn base64_into(data: &str, out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
    out.clear();
    if fast(data.as_bytes(), out) {
        return Ok(());
    }
    out.clear();
    base64::engine::general_purpose::STANDARD.decode_vec(data.as_bytes(), out)
}

/// The table path: `false` (with `out` in any state) when the input is not plainly valid.
fn fast(input: &[u8], out: &mut Vec<u8>) -> bool {
    if !input.len().is_multiple_of(4) || input.is_empty() {
        return false;
    }
    let (body, last) = input.split_at(input.len() - 4);
    let groups = body.len() / 4;
    // Two spare bytes: pairs of groups are stored as eight bytes, the last two overwritten by the next pair.
    out.resize(groups * 3 + 2, 0);
    let group = |q: &[u8]| {
        FIRST[usize::from(q[0])] | SECOND[usize::from(q[1])] | THIRD[usize::from(q[2])] | FOURTH[usize::from(q[3])]
    };
    let mut bad = 0;
    let pairs = body.chunks_exact(8);
    let odd = pairs.remainder();
    for (i, q) in pairs.enumerate() {
        let (a, b) = (group(&q[..4]), group(&q[4..]));
        bad |= a | b;
        if let Some(o) = out.get_mut(6 * i..6 * i + 8) {
            o.copy_from_slice(&((u64::from(a) << 40) | (u64::from(b) << 16)).to_be_bytes());
        }
    }
    if !odd.is_empty() {
        let a = group(odd);
        bad |= a;
        let at = (groups - 1) * 3;
        if let Some(o) = out.get_mut(at..at + 4) {
            o.copy_from_slice(&(a << 8).to_be_bytes());
        }
    }
    out.truncate(groups * 3);
    if bad & INVALID != 0 {
        return false;
    }
    // The last group may carry padding: the crate's rules (canonical padding, no trailing bits) decide it.
    let mut tail = [0; 3];
    match base64::engine::general_purpose::STANDARD.decode_slice(last, &mut tail) {
        Ok(n) => {
            out.extend_from_slice(&tail[..n]);
            true
        }
        Err(_) => false,
    }
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
        fn invalid_any_text_decodes_like_the_crate(s in "[A-Za-z0-9+/=$ \n]{0,40}") {
            let mut out = Vec::new();
            let got = base64_into(&s, &mut out).map(|()| out);
            proptest::prop_assert_eq!(got, crate_decode(&s));
        }
    }
}
