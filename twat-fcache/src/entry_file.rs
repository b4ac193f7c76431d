//! One entry file: written to a temporary name and renamed into place, its header read
//! alone (expiry), or a large byte value read in parts straight into its vector.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use twat_cache_common::entry::{self, flags};
use twat_cache_common::paths::create_private_dir;
use twat_cache_store::Digest;
use twat_cache_store::value::read_varint;

use crate::compress::MAX_PAYLOAD;

/// Temporary files start with this; they are swept when older than [`TMP_MAX_AGE`].
pub const TMP_PREFIX: &str = ".tmp-";
/// Temporary files older than this were left by a killed writer.
pub const TMP_MAX_AGE: Duration = Duration::from_secs(300);
/// Files larger than this are never read (they cannot be entries this crate wrote).
pub(crate) const MAX_FILE: u64 = (MAX_PAYLOAD + (1 << 20)) as u64;

pub(crate) fn hex(d: &Digest) -> String {
    format!("{:032x}", u128::from_be_bytes(*d))
}

pub(crate) fn parse_digest(name: &str) -> Option<Digest> {
    if name.len() != 32 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(name, 16).ok().map(u128::to_be_bytes)
}

pub(crate) fn mtime_ms(md: &fs::Metadata) -> u64 {
    md.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

/// Writes `bytes` to a temporary file in `dir` and renames it to `target`: readers see the
/// old file or the new one, never a part. Creates `dir` (0700) when missing; true if it
/// had to.
pub(crate) fn write_atomic(dir: &Path, target: &Path, bytes: &[u8]) -> io::Result<bool> {
    let mut created = false;
    let make = || {
        tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .suffix(".part")
            .tempfile_in(dir)
    };
    let mut tmp = match make() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_private_dir(dir)?;
            created = true;
            make()?
        }
        other => other?,
    };
    tmp.write_all(bytes)?;
    tmp.persist(target).map_err(|e| e.error)?;
    Ok(created)
}

/// Reads the expiry from an entry file's header (magic, version, flags, created, expires).
pub(crate) fn read_expiry(path: &Path) -> io::Result<u64> {
    let mut head = [0u8; 20];
    File::open(path)?.read_exact(&mut head)?;
    if &head[..2] != b"TW" || head[2] != entry::FORMAT_VERSION {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not an entry"));
    }
    Ok(u64::from_le_bytes(
        head[12..20].try_into().expect("8 bytes"),
    ))
}

/// Byte values at least this large are read in parts, straight into their vector.
pub(crate) const STREAM_MIN: u64 = 32 << 10;

pub(crate) enum Raw {
    /// The whole file, to decode with [`Entry::decode`].
    Whole(Vec<u8>),
    /// A verified byte value read in parts.
    Split { expires_ms: u64, payload: Vec<u8> },
    /// A valid-looking entry for another stored key (a digest collision).
    OtherKey,
}

pub(crate) fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads an uncompressed entry whose payload is a byte sequence (varint length + bytes) in
/// parts: header, key (compared before the payload is read), length, then the bytes
/// straight into the vector that becomes the value; the checksum covers all of it as in
/// [`Entry::decode`]. Compressed entries are read whole instead.
pub(crate) fn read_bytes_entry(f: &mut File, len: u64, stored_key: &[u8]) -> io::Result<Raw> {
    use std::io::{Seek, SeekFrom};
    let mut head = [0u8; entry::HEADER_LEN];
    f.read_exact(&mut head)?;
    let (klen, plen) = (
        u32::from_le_bytes(head[20..24].try_into().expect("4 bytes")) as u64,
        u32::from_le_bytes(head[24..28].try_into().expect("4 bytes")) as u64,
    );
    if &head[..2] != b"TW"
        || head[2] != entry::FORMAT_VERSION
        || head[3] & !flags::KNOWN != 0
        || entry::OVERHEAD as u64 + klen + plen != len
    {
        return Err(invalid("not an entry"));
    }
    if head[3] != 0 {
        f.seek(SeekFrom::Start(0))?;
        let mut buf = Vec::with_capacity(len as usize);
        f.read_to_end(&mut buf)?;
        return Ok(Raw::Whole(buf));
    }
    if klen != stored_key.len() as u64 {
        return Ok(Raw::OtherKey);
    }
    let mut key = vec![0u8; klen as usize];
    f.read_exact(&mut key)?;
    if key != stored_key {
        return Ok(Raw::OtherKey);
    }
    let mut prefix = [0u8; 10];
    let first = (plen as usize).min(10);
    f.read_exact(&mut prefix[..first])?;
    let (n, vlen) = read_varint(&prefix[..first]).ok_or_else(|| invalid("bad length"))?;
    if vlen as u64 + n != plen {
        return Err(invalid("payload is not a byte sequence"));
    }
    let mut payload = Vec::with_capacity(n as usize);
    payload.extend_from_slice(&prefix[vlen..first]);
    let rest = n - payload.len() as u64;
    Read::take(&mut *f, rest).read_to_end(&mut payload)?;
    let mut sum = [0u8; 8];
    f.read_exact(&mut sum)?;
    if payload.len() as u64 != n {
        return Err(invalid("truncated"));
    }
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    h.update(&head);
    h.update(&key);
    h.update(&prefix[..vlen]);
    h.update(&payload);
    if h.digest() != u64::from_le_bytes(sum) {
        return Err(invalid("checksum mismatch"));
    }
    Ok(Raw::Split {
        expires_ms: u64::from_le_bytes(head[12..20].try_into().expect("8 bytes")),
        payload,
    })
}
