//! `#[fcache]` on real functions, with the cache root in a temporary directory.
#![cfg(feature = "files")]

use std::sync::atomic::{AtomicUsize, Ordering};

use twat_cache_common::Entry;
use twat_cache_common::entry::flags;
use twat_fcache::{Backend, Inner, fcache};

/// Points `TWAT_CACHE_DIR` at a fresh directory before any cache opens (once per process).
fn init() {
    static ROOT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        // SAFETY: set inside the OnceLock, before any test thread reads the environment
        // through a cache (every test calls `init` first).
        unsafe { std::env::set_var("TWAT_CACHE_DIR", &dir) };
        dir
    });
}

static SQUARES: AtomicUsize = AtomicUsize::new(0);

#[fcache(folder_name = "macro-tests")]
fn square(x: u64) -> u64 {
    SQUARES.fetch_add(1, Ordering::SeqCst);
    x * x
}

#[test]
fn memoizes_a_plain_function() {
    init();
    assert_eq!(square(12), 144);
    assert_eq!(square(12), 144);
    assert_eq!(SQUARES.load(Ordering::SeqCst), 1);
    let c = square_cache();
    assert_eq!(c.backend(), Backend::Files);
    assert_eq!(c.get(&12), Some(144));
    let s = c.stats();
    assert_eq!(
        (s.hits, s.misses, s.entries),
        (2, 1, 1),
        "the get above is a hit too"
    );
    assert!(s.name.ends_with("::square"), "{}", s.name);
    assert!(s.folder.unwrap().ends_with("macro-tests"));
    assert_eq!(c.namespace().function_name(), "square");
}

static PARSES: AtomicUsize = AtomicUsize::new(0);

#[fcache(folder_name = "macro-tests", ttl = "1h")]
fn parse(text: &str) -> Result<i64, String> {
    if text.contains("42") || text.contains("forty") {
        PARSES.fetch_add(1, Ordering::SeqCst);
    }
    text.trim().parse::<i64>().map_err(|e| e.to_string())
}

#[test]
fn stores_only_ok_results() {
    init();
    assert_eq!(parse(" 42 "), Ok(42));
    assert_eq!(parse(" 42 "), Ok(42));
    assert!(parse("forty-two").is_err());
    assert!(parse("forty-two").is_err());
    assert_eq!(PARSES.load(Ordering::SeqCst), 3, "Ok once, the Err twice");
    assert_eq!(parse_cache().get(" 42 "), Some(42));
    assert_eq!(
        parse_cache().get("forty-two"),
        None,
        "errors are not stored"
    );
    assert_eq!(parse_cache().get(" 42 "), Some(42));
}

#[fcache(folder_name = "macro-tests", compress = true, max_bytes = 10_000_000)]
fn report(lines: u32) -> Vec<String> {
    (0..lines)
        .map(|i| format!("{{\"line\":{i},\"status\":\"ok\",\"message\":\"all good\"}}"))
        .collect()
}

#[test]
fn compress_true_writes_compressed_entries() {
    init();
    let first = report(500);
    assert_eq!(report(500), first);
    let c = report_cache();
    assert_eq!(c.stats().hits, 1);
    let Inner::Store(store) = c.inner() else {
        panic!("files backend expected")
    };
    let path = store.entry_path(&c.stored_key(&500).unwrap());
    let bytes = std::fs::read(path).unwrap();
    let entry = Entry::decode(&bytes).unwrap();
    assert_eq!(entry.flags & flags::COMPRESSED, flags::COMPRESSED);
    let raw_len: usize = first.iter().map(|l| l.len() + 1).sum();
    assert!(entry.payload.len() * 3 < raw_len, "compressed well");
}

#[test]
fn decorated_functions_on_one_folder_do_not_collide() {
    init();
    // (not `square`: its test counts its calls)
    assert_eq!(parse("3"), Ok(3));
    assert_eq!(report(3).len(), 3);
    assert_ne!(parse_cache().namespace(), report_cache().namespace());
    assert_ne!(
        parse_cache().stored_key("3").unwrap(),
        report_cache().stored_key(&3u32).unwrap()
    );
}

static TIERED: AtomicUsize = AtomicUsize::new(0);

#[fcache(folder_name = "macro-tests", l1 = 100)]
fn tiered(x: u64) -> u64 {
    TIERED.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[test]
fn l1_serves_repeat_calls_from_memory() {
    init();
    for _ in 0..3 {
        assert_eq!(tiered(1), 2);
    }
    assert_eq!(TIERED.load(Ordering::SeqCst), 1);
    let s = tiered_cache().stats();
    assert_eq!(
        (s.hits, s.l1_hits, s.backend),
        (2, 2, Backend::Files),
        "{s:?}"
    );
}
