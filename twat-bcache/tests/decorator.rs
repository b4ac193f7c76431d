//! `#[bcache]` on plain, `Result` and `Option` functions; works with and without the
//! `lmdb` feature (then it serves from memory and says why).

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use twat_bcache::{Backend, bcache};

/// Every cache in this binary lives under one temp root.
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        // SAFETY: runs once, before any cache in this binary reads the variable.
        unsafe { std::env::set_var("TWAT_CACHE_DIR", dir) };
    });
}

fn expected_backend() -> bool {
    cfg!(feature = "lmdb")
}

static SQUARES: AtomicUsize = AtomicUsize::new(0);

#[bcache(folder_name = "decorator", maxsize = 1000, ttl = "1h")]
fn square(n: u64) -> u64 {
    SQUARES.fetch_add(1, Ordering::SeqCst);
    n * n
}

#[test]
fn memoizes_a_plain_function() {
    setup();
    for _ in 0..3 {
        for n in 0..20 {
            assert_eq!(square(n), n * n);
        }
    }
    assert_eq!(SQUARES.load(Ordering::SeqCst), 20);
    let cache = square_cache();
    let s = cache.stats();
    assert_eq!(cache.get(&7), Some(49));
    assert_eq!(cache.len(), 20);
    assert_eq!(s.kind, "lmdb");
    assert_eq!(s.hits, 40);
    if expected_backend() {
        assert_eq!(cache.backend(), Backend::Lmdb);
        assert_eq!(s.fallback_reason, None);
        assert!(s.folder.unwrap().ends_with("decorator"));
    } else {
        assert!(cache.backend().is_memory());
        assert_eq!(
            s.fallback_reason.as_deref(),
            Some(twat_bcache::NO_LMDB_FEATURE)
        );
    }
    assert!(cache.remove(&7));
    assert_eq!(square(7), 49);
    assert_eq!(SQUARES.load(Ordering::SeqCst), 21);
}

#[derive(Debug, PartialEq)]
struct Refused(String);

static PARSES: AtomicUsize = AtomicUsize::new(0);

#[bcache(folder_name = "decorator")]
fn parse(text: &str) -> Result<u32, Refused> {
    PARSES.fetch_add(1, Ordering::SeqCst);
    text.parse().map_err(|_| Refused(text.to_owned()))
}

#[test]
fn result_functions_store_only_ok() {
    setup();
    assert_eq!(parse("12"), Ok(12));
    assert_eq!(parse("12"), Ok(12));
    assert_eq!(parse("x"), Err(Refused("x".into())));
    assert_eq!(parse("x"), Err(Refused("x".into())));
    assert_eq!(
        PARSES.load(Ordering::SeqCst),
        3,
        "Err is computed every time"
    );
    assert_eq!(parse_cache().len(), 1);
    assert_eq!(parse_cache().get("12"), Some(12));
}

static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

#[bcache(folder_name = "decorator", name = "lookup")]
fn lookup(a: u32, b: u32) -> Option<String> {
    LOOKUPS.fetch_add(1, Ordering::SeqCst);
    (a < b).then(|| format!("{a}<{b}"))
}

#[test]
fn option_functions_store_only_some_and_two_args_make_a_tuple_key() {
    setup();
    assert_eq!(lookup(1, 2).as_deref(), Some("1<2"));
    assert_eq!(lookup(1, 2).as_deref(), Some("1<2"));
    assert_eq!(lookup(2, 1), None);
    assert_eq!(lookup(2, 1), None);
    assert_eq!(LOOKUPS.load(Ordering::SeqCst), 3);
    assert_eq!(lookup_cache().get(&(1, 2)).as_deref(), Some("1<2"));
    assert_eq!(lookup_cache().stats().name, "lookup");
}

#[bcache(folder_name = "decorator")]
fn cube(n: i64) -> i64 {
    n * n * n
}

#[bcache(folder_name = "decorator", version = 2)]
fn negate(n: i64) -> i64 {
    -n
}

#[test]
fn functions_on_one_folder_keep_their_own_entries() {
    setup();
    assert_eq!(cube(3), 27);
    assert_eq!(negate(3), -3);
    assert_eq!(cube_cache().get(&3), Some(27));
    assert_eq!(negate_cache().get(&3), Some(-3));
    negate_cache().clear();
    assert!(negate_cache().is_empty());
    assert_eq!(
        cube_cache().get(&3),
        Some(27),
        "clearing one function leaves the others"
    );
}

static WRITES: AtomicUsize = AtomicUsize::new(0);

#[bcache(folder_name = "decorator-fifo", maxsize = 2, policy = "fifo")]
fn fifo(n: u64) -> u64 {
    WRITES.fetch_add(1, Ordering::SeqCst);
    n + 1
}

#[test]
fn policy_reaches_the_disk_cache() {
    setup();
    assert_eq!(fifo_cache().policy(), twat_bcache::Policy::Fifo);
    assert_eq!(fifo(1), 2);
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(fifo(2), 3);
    assert_eq!(fifo(1), 2, "a hit: under FIFO it does not save 1");
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(fifo(3), 4); // evicts the oldest written: 1
    assert_eq!(fifo_cache().len(), 2);
    let before = WRITES.load(Ordering::SeqCst);
    assert_eq!(fifo(2), 3);
    assert_eq!(WRITES.load(Ordering::SeqCst), before, "2 kept");
    if expected_backend() {
        assert_eq!(fifo(1), 2);
        assert_eq!(
            WRITES.load(Ordering::SeqCst),
            before + 1,
            "1 was evicted first"
        );
    }
}

static TIERED: AtomicUsize = AtomicUsize::new(0);

#[bcache(folder_name = "decorator", l1 = 100)]
fn tiered(n: u64) -> u64 {
    TIERED.fetch_add(1, Ordering::SeqCst);
    n + 1
}

#[test]
fn l1_serves_repeat_calls_from_memory() {
    setup();
    for _ in 0..3 {
        assert_eq!(tiered(1), 2);
    }
    assert_eq!(TIERED.load(Ordering::SeqCst), 1);
    let s = tiered_cache().stats();
    if expected_backend() {
        assert_eq!((s.hits, s.l1_hits), (2, 2), "{s:?}");
    } else {
        assert_eq!((s.hits, s.l1_hits), (2, 0), "memory needs no tier: {s:?}");
    }
}
