//! The properties the fuzz targets in `fuzz/` check, shared with the corpus replay test
//! (`tests/fuzz_corpus.rs`), so stable CI checks every saved input exactly as the fuzzer
//! did. A workspace member that is never published: fuzzing code does not ship inside
//! `twat-cache-common` (it used to be its doc-hidden `fuzzing` module).
//!
//! Each `check_*` function takes the raw bytes of one fuzz input and panics when a property
//! fails. Allocation limits are measured by [`CountingAlloc`], which the fuzz targets and
//! the replay test install as their global allocator; without it [`measure`] sees nothing,
//! so callers assert [`counting_installed`] first.
//!
//! ```
//! // Without `CountingAlloc` installed (as here), `measure` sees nothing, and says so.
//! assert!(!twat_cache_fuzzing::counting_installed());
//! for target in twat_cache_fuzzing::TARGETS {
//!     for seed in twat_cache_fuzzing::seeds(target) {
//!         twat_cache_fuzzing::check(target, &seed).expect("known target");
//!     }
//! }
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use twat_cache_common::codec;
use twat_cache_common::entry::{Entry, EntryError, OVERHEAD, flags};

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

/// A global allocator over [`System`] that counts, per thread, the bytes live, their peak
/// and the number of allocations, for [`measure`].
pub struct CountingAlloc;

fn grow(by: usize) {
    let live = LIVE.get().saturating_add(by);
    LIVE.set(live);
    if live > PEAK.get() {
        PEAK.set(live);
    }
    COUNT.set(COUNT.get().wrapping_add(1));
}

fn shrink(by: usize) {
    // Memory freed on another thread than the one that allocated it can underflow here.
    LIVE.set(LIVE.get().saturating_sub(by));
}

// SAFETY: every method forwards to `System` with the same arguments; the counters are
// const-initialized thread-locals without destructors, so touching them never allocates
// and is valid at any point of a thread's life.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grow(new_size - layout.size());
        } else {
            shrink(layout.size() - new_size);
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What [`measure`] saw this thread allocate while its closure ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// The most bytes live at once, over what was live before.
    pub peak_bytes: usize,
    /// How many allocations (and growing reallocations) were made.
    pub allocations: usize,
}

/// Runs `f` and reports what it allocated on this thread.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    let base = LIVE.get();
    let count = COUNT.get();
    PEAK.set(base);
    let r = f();
    let usage = Usage {
        peak_bytes: PEAK.get() - base,
        allocations: COUNT.get().wrapping_sub(count),
    };
    (r, usage)
}

/// Whether [`CountingAlloc`] is the global allocator (else [`measure`] reports zeros).
pub fn counting_installed() -> bool {
    let (_, usage) = measure(|| std::hint::black_box(vec![0u8; 64]));
    usage.allocations == 1 && usage.peak_bytes == 64
}

/// `Entry::decode` on arbitrary bytes: never panics, never allocates, agrees with
/// `decode_header`, and anything it accepts re-encodes to exactly the input.
///
/// Arbitrary bytes almost never end in their own checksum, so the input is checked twice:
/// as it is, and with its last 8 bytes replaced by the right checksum, so the fuzzer also
/// explores the headers, lengths and flags of entries that decode accepts.
pub fn check_entry(data: &[u8]) {
    check_entry_bytes(data);
    if let Some(body) = data.len().checked_sub(8) {
        let mut fixed = data.to_vec();
        let sum = xxh3_64(&fixed[..body]);
        fixed[body..].copy_from_slice(&sum.to_le_bytes());
        check_entry_bytes(&fixed);
    }
}

fn check_entry_bytes(data: &[u8]) {
    let (full, usage) = measure(|| Entry::decode(data));
    assert_eq!(usage.allocations, 0, "Entry::decode allocated: {usage:?}");
    let (head, usage) = measure(|| Entry::decode_header(data));
    assert_eq!(
        usage.allocations, 0,
        "Entry::decode_header allocated: {usage:?}"
    );

    match (&full, &head) {
        (Ok(e), Ok(h)) => {
            assert_eq!(e, h, "decode and decode_header disagree");
            assert_eq!(e.encoded_len(), data.len());
            assert_eq!(e.flags & !flags::KNOWN, 0, "unknown flags accepted");
            let again = e.encode();
            assert_eq!(again, data, "an accepted entry must re-encode to its input");
            assert_eq!(Entry::decode(&again).as_ref(), Ok(e));
        }
        (Err(e), Ok(_)) => assert_eq!(*e, EntryError::Checksum, "header fine, so only the sum"),
        (Err(e), Err(h)) => assert_eq!(e, h, "decode must fail the way decode_header does"),
        (Ok(_), Err(h)) => panic!("decode accepted what decode_header refused: {h}"),
    }
    if let Err(e) = &full {
        match *e {
            EntryError::Truncated(n) => assert!(n == data.len() && n < OVERHEAD),
            EntryError::Length { actual, .. } => assert_eq!(actual, data.len()),
            _ => {}
        }
        let _ = e.to_string();
    }
}

/// A representative cached value: a struct holding a (recursive) enum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// An id.
    pub id: u32,
    /// A name.
    pub name: String,
    /// A float.
    pub score: f32,
    /// Tags.
    pub tags: Vec<String>,
    /// The nested enum.
    pub kind: Kind,
}

/// The enum inside [`Record`], with every kind of variant and two ways of nesting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Kind {
    /// A unit variant.
    Empty,
    /// A tuple variant.
    Pair(i64, bool),
    /// A struct variant nesting through `Option<Box<_>>`.
    Named {
        /// A label.
        label: String,
        /// A nested kind.
        inner: Option<Box<Kind>>,
    },
    /// A newtype variant nesting through `Vec`.
    List(Vec<Kind>),
}

/// Heap bytes a decode may hold at once per input byte. Generous (the largest element of
/// the representative types is under 100 bytes, and every element costs at least one input
/// byte), but proportional: a forged length in a short input cannot reach it.
pub const PAYLOAD_BYTES_PER_INPUT_BYTE: usize = 256;
/// Heap bytes a decode may use whatever the input (error messages and the like).
pub const PAYLOAD_SLACK_BYTES: usize = 4096;

/// `codec::decode` of arbitrary bytes into each representative type: never panics, stays
/// within the allocation bound, and whatever it accepts re-encodes (no longer than the
/// input) to bytes that decode to the same value.
pub fn check_payload(data: &[u8]) {
    let same_bytes = |a: &[u8], b: &[u8]| a == b;
    check_payload_as::<String>(data, same_bytes);
    check_payload_as::<Vec<u8>>(data, same_bytes);
    check_payload_as::<(u64, String)>(data, same_bytes);
    check_payload_as::<Vec<f64>>(data, same_bytes);
    check_payload_as::<Option<Vec<String>>>(data, same_bytes);
    check_payload_as::<Record>(data, same_bytes);
    // A HashMap re-encodes in its own iteration order: compare lengths only (the values
    // are compared below).
    check_payload_as::<HashMap<String, u64>>(data, |a, b| a.len() == b.len());
}

fn check_payload_as<T>(data: &[u8], same_encoding: impl Fn(&[u8], &[u8]) -> bool)
where
    T: Serialize + DeserializeOwned + Debug + PartialEq,
{
    let type_name = std::any::type_name::<T>();
    let (decoded, usage) = measure(|| codec::decode::<T>(data));
    let limit = PAYLOAD_BYTES_PER_INPUT_BYTE * data.len() + PAYLOAD_SLACK_BYTES;
    assert!(
        usage.peak_bytes <= limit,
        "decoding {} input bytes as {type_name} held {} heap bytes at once (limit {limit})",
        data.len(),
        usage.peak_bytes,
    );
    let Ok(value) = decoded else { return };
    let bytes = codec::encode("value", &value).expect("a decoded value re-encodes");
    assert!(
        bytes.len() <= data.len(),
        "{type_name}: re-encoding grew from {} to {} bytes",
        data.len(),
        bytes.len()
    );
    let again: T = codec::decode(&bytes).expect("a re-encoded value decodes");
    let bytes_again = codec::encode("value", &again).expect("re-encodes");
    assert!(
        same_encoding(&bytes, &bytes_again),
        "{type_name}: encoding is not stable"
    );
    // NaN != NaN: compare values only when the value equals itself.
    #[allow(clippy::eq_op)]
    if value == value {
        assert_eq!(value, again, "{type_name}: decode(encode(v)) != v");
    }
}

/// Reads `N` bytes from the front of `data`, zero-padded past its end.
fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let n = N.min(data.len());
    out[..n].copy_from_slice(&data[..n]);
    *data = &data[n..];
    out
}

/// Structured: builds a valid entry from the input, checks it round-trips, then damages it
/// and checks that decode refuses the damage (or, when the damage cancelled out, returns
/// the original).
///
/// Input layout (missing bytes read as zero): flags, created (8), expires (8), a damage
/// op, a u16 argument, a count `n` and `n` edits of (u16 position, u8 xor mask), a u16 key
/// length, then key and payload bytes. Ops (mod 4): 0 xor edits in the body (before the
/// checksum), 1 truncate to the argument, 2 append the argument's low byte (+ 1) bytes,
/// 3 xor the checksum with the argument.
pub fn check_entry_damage(data: &[u8]) {
    let mut d = data;
    let [flag_bits] = take::<1>(&mut d);
    let created_ms = u64::from_le_bytes(take(&mut d));
    let expires_ms = u64::from_le_bytes(take(&mut d));
    let [op] = take::<1>(&mut d);
    let arg = u16::from_le_bytes(take(&mut d));
    let [n] = take::<1>(&mut d);
    let mut edits = Vec::new();
    for _ in 0..n % 17 {
        let pos = u16::from_le_bytes(take(&mut d));
        let [mask] = take::<1>(&mut d);
        edits.push((usize::from(pos), mask));
    }
    let key_len = usize::from(u16::from_le_bytes(take(&mut d))) % (d.len() + 1);
    let (key, payload) = d.split_at(key_len);
    let original = Entry {
        flags: flag_bits & flags::KNOWN,
        created_ms,
        expires_ms,
        key,
        payload,
    };

    let good = original.encode();
    assert_eq!(good.len(), original.encoded_len());
    assert_eq!(
        Entry::decode(&good),
        Ok(original),
        "a valid entry must round-trip"
    );
    check_entry_bytes(&good);

    let mut bad = good.clone();
    let body = good.len() - 8;
    match op % 4 {
        0 => {
            for (pos, mask) in edits {
                bad[pos % body] ^= mask;
            }
        }
        1 => bad.truncate(usize::from(arg) % good.len()),
        2 => bad.resize(good.len() + usize::from(arg as u8) + 1, (arg >> 8) as u8),
        _ => {
            let sum = u64::from_le_bytes(bad[body..].try_into().expect("8 bytes"));
            bad[body..].copy_from_slice(&(sum ^ u64::from(arg)).to_le_bytes());
        }
    }
    check_entry(&bad);
    match Entry::decode(&bad) {
        Ok(e) => {
            assert_eq!(bad, good, "damaged bytes were accepted: {e:?}");
            assert_eq!(e, original);
        }
        Err(_) => assert_ne!(bad, good, "undamaged bytes were refused"),
    }
}

/// A few valid inputs per target, to seed a fresh corpus (see `fuzz/README.md`).
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    fn enc<T: Serialize>(value: &T) -> Vec<u8> {
        codec::encode("value", value).expect("seed encodes")
    }
    match target {
        "entry_decode" => vec![
            Entry {
                flags: 0,
                created_ms: 1_700_000_000_000,
                expires_ms: 0,
                key: b"ns|app::f|v1|00000000deadbeef\0\x01\x02",
                payload: b"\x05hello",
            }
            .encode(),
            Entry {
                flags: flags::COMPRESSED,
                created_ms: 1,
                expires_ms: 2,
                key: b"k",
                payload: &[7; 40],
            }
            .encode(),
            Entry {
                flags: flags::KNOWN,
                created_ms: u64::MAX,
                expires_ms: u64::MAX,
                key: b"",
                payload: b"",
            }
            .encode(),
        ],
        "payload_decode" => vec![
            enc(&"hello".to_string()),
            enc(&vec![1u8, 2, 3]),
            enc(&(u64::MAX, "x".to_string())),
            enc(&vec![1.5f64, f64::NAN, -0.0]),
            enc(&Some(vec!["a".to_string(), "bc".to_string()])),
            enc(&Record {
                id: 7,
                name: "r".into(),
                score: 0.5,
                tags: vec!["t".into()],
                kind: Kind::Named {
                    label: "n".into(),
                    inner: Some(Box::new(Kind::List(vec![
                        Kind::Empty,
                        Kind::Pair(-1, true),
                    ]))),
                },
            }),
            enc(&HashMap::from([
                ("a".to_string(), 1u64),
                ("b".to_string(), 2),
            ])),
        ],
        "entry_damage" => {
            let mut one = vec![flags::COMPRESSED];
            one.extend_from_slice(&5u64.to_le_bytes());
            one.extend_from_slice(&9u64.to_le_bytes());
            one.extend_from_slice(&[0, 0, 0, 2, 3, 0, 1, 40, 0, 0x80, 3, 0]);
            one.extend_from_slice(b"keypayload");
            vec![one, vec![0; 30]]
        }
        _ => Vec::new(),
    }
}

/// Runs the check of fuzz target `target` on one input. `None` for an unknown target.
pub fn check(target: &str, data: &[u8]) -> Option<()> {
    match target {
        "entry_decode" => check_entry(data),
        "payload_decode" => check_payload(data),
        "entry_damage" => check_entry_damage(data),
        _ => return None,
    }
    Some(())
}

/// Every fuzz target, by name.
pub const TARGETS: [&str; 3] = ["entry_decode", "payload_decode", "entry_damage"];
