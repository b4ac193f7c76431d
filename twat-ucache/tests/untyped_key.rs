//! `#[ucache(key = <expr>)]` without the key's type, on every engine it can pick, and
//! `clear_all()`/`stats_all()` reaching those caches.
#![allow(missing_docs)]
// With an engine's feature off, naming it is a deprecation warning by design.
#![cfg_attr(not(all(feature = "lmdb", feature = "files")), allow(deprecated))]

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use twat_ucache::ucache;

fn temp_root() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        // SAFETY: set once, before any test thread reads the environment (every test
        // calls this first, and `Once` blocks them until it is done).
        unsafe { std::env::set_var("TWAT_CACHE_DIR", &dir) };
    });
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[ucache(key = n / 100)]
fn in_memory(n: u32) -> u32 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    n / 100 * 100
}

#[ucache(folder_name = "ucache-untyped", key = n / 100)]
fn in_lmdb(n: u32) -> u32 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    n / 100 * 100
}

#[ucache(folder_name = "ucache-untyped", compress = true, key = n / 100)]
fn in_files(n: u32) -> u32 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    n / 100 * 100
}

struct Account {
    id: u32,
}

impl Account {
    #[ucache(persist = true, key = (self.id, month))]
    fn balance(&self, month: u8) -> i64 {
        RUNS.fetch_add(1, Ordering::SeqCst);
        i64::from(self.id) * i64::from(month)
    }
}

#[test]
fn every_plain_engine_takes_an_untyped_key() {
    temp_root();
    let before = RUNS.load(Ordering::SeqCst);
    for f in [in_memory, in_lmdb, in_files] {
        assert_eq!(f(120), 100);
        assert_eq!(f(199), 100, "199 / 100 == 120 / 100: one entry");
    }
    assert_eq!(Account { id: 3 }.balance(2), 6);
    assert_eq!(Account { id: 3 }.balance(2), 6);
    assert_eq!(
        RUNS.load(Ordering::SeqCst) - before,
        4,
        "each body ran once"
    );

    let kinds = [
        in_memory_cache().stats(),
        in_lmdb_cache().stats(),
        in_files_cache().stats(),
        Account::balance_cache().stats(),
    ];
    let kinds: Vec<_> = kinds.iter().map(|s| (s.kind.as_str(), s.hits)).collect();
    assert_eq!(
        kinds,
        [("memory", 1), ("lmdb", 1), ("files", 1), ("lmdb", 1)]
    );

    // The registry sees each cache once, and clear_all() reaches them.
    let all = twat_ucache::stats_all();
    for name in ["::in_memory", "::in_lmdb", "::in_files", "::balance"] {
        assert_eq!(
            all.iter().filter(|s| s.name.ends_with(name)).count(),
            1,
            "{name} registered once"
        );
    }
    twat_ucache::clear_all();
    assert!(in_memory_cache().is_empty());
    assert!(in_lmdb_cache().is_empty());
    assert!(in_files_cache().is_empty());
    assert!(Account::balance_cache().is_empty());
}

#[cfg(feature = "async")]
static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cfg(feature = "async")]
#[ucache(key = word.len())]
async fn by_length(word: &str) -> String {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    word.to_uppercase()
}

#[cfg(feature = "async")]
#[test]
fn async_fns_take_an_untyped_key() {
    futures_executor::block_on(async {
        assert_eq!(by_length("ab").await, "AB");
        assert_eq!(by_length("cd").await, "AB", "same length: one entry");
        assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), 1);
        let s = by_length_cache().stats();
        assert_eq!((s.kind.as_str(), s.hits, s.misses), ("memory", 1, 1));
    });
}
