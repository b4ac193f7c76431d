//! Regression tests for what fuzzing `codec::decode` found (see `fuzz/README.md`).
#![allow(missing_docs)]

use std::collections::HashMap;

use twat_cache_common::codec::{self, MAX_DEPTH};
use twat_cache_fuzzing::{CountingAlloc, Kind, measure};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// `Kind::List(vec![Kind::List(vec![... Kind::Empty])])`, `lists` lists deep: each list is
/// two levels (the enum and the Vec), the innermost `Kind::Empty` one more.
fn nested_lists(lists: usize) -> Vec<u8> {
    let mut bytes = [3u8, 1].repeat(lists);
    bytes.push(0);
    bytes
}

/// Decodes on a thread with a 1 MiB stack: half what std threads and tokio workers get.
fn decode_on_small_stack(bytes: Vec<u8>) -> Result<Kind, String> {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || codec::decode::<Kind>(&bytes))
        .unwrap()
        .join()
        .unwrap()
}

/// Found by reasoning about the fuzzer's `Kind` type, confirmed here: 200 KB of nesting
/// overflowed the stack (a process abort, not a miss) before `MAX_DEPTH`.
#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let err = decode_on_small_stack(nested_lists(100_000)).unwrap_err();
    assert!(err.contains("nested deeper than"), "{err}");
}

#[test]
fn nesting_up_to_the_limit_decodes() {
    let lists = (MAX_DEPTH - 1) / 2;
    let mut value = Kind::Empty;
    for _ in 0..lists {
        value = Kind::List(vec![value]);
    }
    let bytes = codec::encode("value", &value).unwrap();
    assert_eq!(bytes, nested_lists(lists));
    assert_eq!(decode_on_small_stack(bytes).unwrap(), value);
    assert!(decode_on_small_stack(nested_lists(lists + 1)).is_err());
}

/// Found by the payload_decode seeds (fuzz/regressions/payload_decode/map-forged-length):
/// postcard hands a map's length to serde unchecked, and serde pre-allocates up to 1 MiB of
/// entries for it, so 12 bytes made `HashMap<String, u64>` reserve 2 MiB.
#[test]
fn a_forged_map_length_does_not_preallocate() {
    let mut bytes = vec![0xff; 9];
    bytes.push(0x01); // u64::MAX as a varint: the map's claimed length
    bytes.extend_from_slice(&[1, b'x']);
    let (r, usage) = measure(|| codec::decode::<HashMap<String, u64>>(&bytes));
    assert!(r.is_err());
    assert!(usage.peak_bytes < 4096, "{usage:?}");

    // Honest maps still decode, and big ones still pre-allocate.
    let map: HashMap<String, u64> = (0..1000).map(|i| (i.to_string(), i)).collect();
    let bytes = codec::encode("value", &map).unwrap();
    let (back, usage) = measure(|| codec::decode::<HashMap<String, u64>>(&bytes).unwrap());
    assert_eq!(back, map);
    assert_eq!(
        usage.allocations, 1001,
        "one per key and one table: {usage:?}"
    );
}
