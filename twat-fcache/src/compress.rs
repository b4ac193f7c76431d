//! Payload compression: lz4 block format with a 4-byte little-endian uncompressed length in
//! front (the format [`flags::COMPRESSED`](twat_cache_common::entry::flags::COMPRESSED)
//! names). Decompression never trusts that length: it is checked against the compressed
//! size times the largest ratio lz4 can reach, and against [`MAX_PAYLOAD`], before anything
//! is allocated.

/// The largest payload (serialized value, before or after compression) a file entry holds.
/// Larger values are returned to the caller but not stored. The entry format's length field
/// is 32 bits; we stay well below.
pub const MAX_PAYLOAD: usize = 1 << 31;

/// lz4 cannot expand data more than 255× (one literal-length byte encodes at most 255 more
/// bytes); a prefix claiming more is a lie.
const MAX_RATIO: usize = 255;

/// Below this ratio compression is not worth the decompression cost on every hit: the
/// payload is stored raw. Measured: random and f64 data come out at 1.00×.
const MIN_GAIN: f64 = 1.05;

/// Appends `raw` to `out`, compressed, when that saves at least 5%: then returns true.
/// Otherwise appends `raw` as is and returns false.
pub(crate) fn compress_into(raw: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    if raw.len() >= 64 && raw.len() <= u32::MAX as usize {
        let bound = lz4_flex::block::get_maximum_output_size(raw.len());
        out.resize(start + 4 + bound, 0);
        out[start..start + 4].copy_from_slice(&(raw.len() as u32).to_le_bytes());
        if let Ok(n) = lz4_flex::block::compress_into(raw, &mut out[start + 4..]) {
            let stored = 4 + n;
            if (raw.len() as f64) / (stored as f64) >= MIN_GAIN {
                out.truncate(start + stored);
                return true;
            }
        }
        out.truncate(start);
    }
    out.extend_from_slice(raw);
    false
}

/// Why a compressed payload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecompressError {
    /// Shorter than the length prefix.
    Short,
    /// The prefix claims more than the input could expand to, or more than the maximum.
    Bomb(u64),
    /// lz4 refused the block, or it expanded to a different length than claimed.
    Corrupt,
}

impl std::fmt::Display for DecompressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecompressError::Short => f.write_str("compressed payload shorter than its prefix"),
            DecompressError::Bomb(n) => write!(f, "claims {n} uncompressed bytes: refused"),
            DecompressError::Corrupt => f.write_str("lz4 block does not decode"),
        }
    }
}

/// Decompresses a payload written by [`compress_into`]. Allocates at most
/// `min(255 × input, MAX_PAYLOAD)` bytes, whatever the prefix says.
pub(crate) fn decompress(input: &[u8]) -> Result<Vec<u8>, DecompressError> {
    let (prefix, block) = input
        .split_first_chunk::<4>()
        .ok_or(DecompressError::Short)?;
    let claimed = u32::from_le_bytes(*prefix) as usize;
    let limit = block.len().saturating_mul(MAX_RATIO).min(MAX_PAYLOAD);
    if claimed > limit {
        return Err(DecompressError::Bomb(claimed as u64));
    }
    let mut out = vec![0u8; claimed];
    match lz4_flex::block::decompress_into(block, &mut out) {
        Ok(n) if n == claimed => Ok(out),
        _ => Err(DecompressError::Corrupt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_raw_when_useless() {
        let text = b"{\"name\":\"a\",\"value\":1}".repeat(100);
        let mut out = Vec::new();
        assert!(compress_into(&text, &mut out));
        assert!(out.len() < text.len() / 3);
        assert_eq!(decompress(&out).unwrap(), text);

        let mut x = 1u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut out = vec![9];
        assert!(!compress_into(&noise, &mut out));
        assert_eq!(&out[1..], &noise[..]);
    }

    #[test]
    fn lying_prefixes_are_refused_before_allocating() {
        let mut bomb = u32::MAX.to_le_bytes().to_vec();
        bomb.extend_from_slice(&[0x1f, 0, 1, 0]);
        assert!(matches!(decompress(&bomb), Err(DecompressError::Bomb(_))));
        assert_eq!(decompress(&[1, 2]), Err(DecompressError::Short));
        let mut text = Vec::new();
        assert!(compress_into(&b"abcabcabc".repeat(50), &mut text));
        // Claim one byte more than the truth: refused, not padded.
        let n = u32::from_le_bytes(text[..4].try_into().unwrap()) + 1;
        text[..4].copy_from_slice(&n.to_le_bytes());
        assert_eq!(decompress(&text), Err(DecompressError::Corrupt));
    }
}
