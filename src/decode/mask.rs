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

/// The 64 bytes of `bytes` from `at`, when there are that many.
#[inline]
pub(crate) fn block_at(bytes: &[u8], at: usize) -> Option<&[u8; BLOCK]> {
    bytes.get(at..at.checked_add(BLOCK)?).and_then(|b| b.try_into().ok())
}

/// Successive positions of one byte, a block mask at a time: for searches that stop often (the backslashes of a
/// heavily escaped string), where a `memchr` call per hit costs more than the hit.
#[derive(Debug)]
pub(crate) struct ByteFinder {
    byte: u8,
    /// Start of the block `mask` describes (`usize::MAX` before the first).
    base: usize,
    mask: u64,
}

impl ByteFinder {
    /// A finder of `byte`.
    pub(crate) fn new(byte: u8) -> Self {
        Self { byte, base: usize::MAX, mask: 0 }
    }

    /// The first position `>= from` of the byte in `bytes`. Successive calls must not go backwards in `from`
    /// and must pass the same `bytes`.
    #[inline]
    pub(crate) fn next(&mut self, bytes: &[u8], from: usize) -> Option<usize> {
        if self.base != usize::MAX && from >= self.base && from - self.base < BLOCK {
            let rest = self.mask >> (from - self.base);
            if rest != 0 {
                return Some(from + rest.trailing_zeros() as usize);
            }
            return self.scan(bytes, self.base + BLOCK);
        }
        self.scan(bytes, from)
    }

    fn scan(&mut self, bytes: &[u8], mut at: usize) -> Option<usize> {
        while let Some(block) = block_at(bytes, at) {
            let mask = eq_mask(block, self.byte);
            if mask != 0 {
                (self.base, self.mask) = (at, mask);
                return Some(at + mask.trailing_zeros() as usize);
            }
            at += BLOCK;
        }
        // The last partial block: a padded copy, so the string's tail is found a mask at a time as well.
        let tail = bytes.get(at..).filter(|t| !t.is_empty())?;
        let mut block = [0; BLOCK];
        block[..tail.len()].copy_from_slice(tail);
        let mask = eq_mask(&block, self.byte) & (u64::MAX >> (BLOCK - tail.len()));
        if mask == 0 {
            self.base = usize::MAX;
            return None;
        }
        (self.base, self.mask) = (at, mask);
        Some(at + mask.trailing_zeros() as usize)
    }
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

        #[test]
        fn valid_finder_visits_every_hit_in_order(bytes in proptest::collection::vec(0u8..3, 0..300), step in 1usize..5) {
            let mut finder = ByteFinder::new(1);
            let want: Vec<usize> = memchr::memchr_iter(1, &bytes).collect();
            let mut got = Vec::new();
            let mut from = 0;
            while let Some(at) = finder.next(&bytes, from) {
                got.push(at);
                from = at + step;
                // Skipping ahead by `step` may pass over hits: keep only what a plain search would find too.
            }
            let mut expect = Vec::new();
            let mut from = 0;
            while let Some(off) = bytes.get(from..).and_then(|r| memchr::memchr(1, r)) {
                expect.push(from + off);
                from += off + step;
            }
            proptest::prop_assert_eq!(&got, &expect);
            proptest::prop_assert!(step > 1 || got == want);
        }
    }
}
