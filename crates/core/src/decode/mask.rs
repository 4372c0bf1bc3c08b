//! Byte masks of 64-byte blocks, the building block of the string scans: bit `i` of a mask is set where byte `i`
//! of the block is the byte asked for.
//!
//! Vector compares through `wide` (SSE2 `pcmpeqb`/`pmovmskb` on x86-64, NEON on aarch64), so this crate keeps
//! no `unsafe` of its own.

use wide::u8x16;

/// Bytes per block.
pub(crate) const BLOCK: usize = 64;

/// Bit `i` set where `block[i] == byte`.
#[inline]
pub(crate) fn eq_mask(block: &[u8; BLOCK], byte: u8) -> u64 {
    let needle = u8x16::splat(byte);
    let mut mask = 0;
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let v = u8x16::new(lane.try_into().unwrap_or_default());
        mask |= u64::from(v.simd_eq(needle).to_bitmask() as u16) << (16 * k);
    }
    mask
}

/// The offset of the first quote or backslash among the 16 bytes from `at` (16 when there is none); `None` when
/// fewer than 16 bytes are left (the caller looks at those itself).
#[inline]
pub(crate) fn quote_or_backslash16(bytes: &[u8], at: usize) -> Option<usize> {
    let lane = bytes.get(at..at.checked_add(16)?)?;
    let v = u8x16::new(lane.try_into().unwrap_or_default());
    let hits = (v.simd_eq(u8x16::splat(b'"')) | v.simd_eq(u8x16::splat(b'\\'))).to_bitmask();
    Some(if hits == 0 { 16 } else { hits.trailing_zeros() as usize })
}

/// The offset of the first byte among the 16 from `at` that a strict JSON string reader must stop at (a quote, a
/// backslash or a control character), 16 when there is none; `None` when fewer than 16 bytes are left.
#[inline]
pub(crate) fn string_stop16(bytes: &[u8], at: usize) -> Option<usize> {
    let lane = bytes.get(at..at.checked_add(16)?)?;
    let v = u8x16::new(lane.try_into().unwrap_or_default());
    let control = v.min(u8x16::splat(0x1f)).simd_eq(v);
    let hits = (v.simd_eq(u8x16::splat(b'"')) | v.simd_eq(u8x16::splat(b'\\')) | control).to_bitmask();
    Some(if hits == 0 { 16 } else { hits.trailing_zeros() as usize })
}

/// The offset in `bytes` of the first byte from `at` that a strict JSON string reader must stop at (a quote, a
/// backslash or a control character); `None` when there is none.
#[inline]
pub(crate) fn string_stop(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    loop {
        match string_stop16(bytes, i) {
            Some(16) => i += 16,
            Some(off) => return Some(i + off),
            None => return bytes.get(i..)?.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|o| i + o),
        }
    }
}

/// The characters of a block that are escaped, given its backslashes; `carry` says whether the block's first
/// character is escaped by a backslash ending the previous block, and is updated for the next one. A backslash
/// run of odd length escapes the character after it.
#[inline]
pub(crate) fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let backslash = backslash & !*carry;
    let follows_escape = (backslash << 1) | *carry;
    let odd_starts = backslash & !EVEN & !follows_escape;
    let (from_even, overflow) = odd_starts.overflowing_add(backslash);
    *carry = u64::from(overflow);
    (EVEN ^ (from_even << 1)) & follows_escape
}

/// The 64 bytes of `bytes` from `at`, when there are that many.
#[inline]
pub(crate) fn block_at(bytes: &[u8], at: usize) -> Option<&[u8; BLOCK]> {
    bytes.get(at..at.checked_add(BLOCK)?).and_then(|b| b.try_into().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn valid_masks_agree_with_a_byte_loop(block in proptest::array::uniform32(0u8..4), byte in 0u8..4) {
            let mut full = [0u8; BLOCK];
            full[..32].copy_from_slice(&block);
            full[32..].copy_from_slice(&block.map(|b| b ^ 1));
            let want = full.iter().enumerate().fold(0u64, |m, (i, &b)| m | (u64::from(b == byte) << i));
            proptest::prop_assert_eq!(eq_mask(&full, byte), want);
        }

        #[test]
        fn valid_string_stops_agree_with_a_byte_loop(bytes in proptest::collection::vec(proptest::sample::select(vec![0u8, 0x1f, 0x20, b'"', b'\\', b'a', 0x7f, 0xc3, 0xff]), 0..40), at in 0usize..40) {
            let want = bytes.get(at..).filter(|r| r.len() >= 16).map(|r| {
                r[..16].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).unwrap_or(16)
            });
            proptest::prop_assert_eq!(string_stop16(&bytes, at), want);
        }
    }
}
