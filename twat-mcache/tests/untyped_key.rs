//! `key = <expr>` without its type (DESIGN: "compiles as written"): the key's type is
//! inferred from the expression, and `f_cache()` returns a handle whose key type is opaque.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use twat_mcache::{Backend, mcache};

static BUCKET_RUNS: AtomicUsize = AtomicUsize::new(0);

#[mcache(key = id % 10)]
fn bucket(id: u64) -> u64 {
    BUCKET_RUNS.fetch_add(1, Ordering::SeqCst);
    id * 100
}

#[test]
fn ids_with_the_same_key_share_one_entry() {
    assert_eq!(bucket(3), 300);
    assert_eq!(
        bucket(13),
        300,
        "13 % 10 == 3: the entry stored for 3 is returned"
    );
    assert_eq!(bucket(23), 300);
    assert_eq!(BUCKET_RUNS.load(Ordering::SeqCst), 1, "the body ran once");
    assert_eq!(bucket(4), 400);
    assert_eq!(BUCKET_RUNS.load(Ordering::SeqCst), 2);

    // The opaque handle: everything that does not need to name a key.
    let cache = bucket_cache();
    assert_eq!(cache.len(), 2);
    assert!(!cache.is_empty());
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (2, 2));
    assert!(stats.name.ends_with("::bucket"), "{}", stats.name);
    assert!(matches!(cache.backend(), Backend::Schnellru | Backend::Std));

    // One cache, registered once, reached by stats_all() and clear_all().
    let named: Vec<_> = twat_mcache::stats_all()
        .into_iter()
        .filter(|s| s.name == stats.name)
        .collect();
    assert_eq!(named.len(), 1, "registered exactly once");
    assert_eq!(named[0].entries, 2);

    cache.clear();
    assert!(cache.is_empty());
    assert_eq!(
        bucket(33),
        3300,
        "after clear the body runs again, for 33 this time"
    );
    assert_eq!(BUCKET_RUNS.load(Ordering::SeqCst), 3);
    assert_eq!(bucket(3), 3300, "and 3 now shares 33's entry");
}

static SCALED_RUNS: AtomicUsize = AtomicUsize::new(0);

struct Item {
    id: u64,
    weight: u64,
}

impl Item {
    #[mcache(key = (self.id, scale))]
    fn scaled(&self, scale: u32) -> u64 {
        SCALED_RUNS.fetch_add(1, Ordering::SeqCst);
        self.weight * u64::from(scale)
    }

    /// `&mut self`, a by-value argument the key only reads, and `self::` paths that must
    /// not be taken for the receiver.
    #[mcache(key = (self.id + self::OFFSET, label.len()))]
    fn tagged(&mut self, label: String) -> String {
        self.weight += 1;
        format!("{}:{label}", self.id)
    }
}

const OFFSET: u64 = 1000;

#[test]
fn methods_key_on_self_fields_and_arguments() {
    let a = Item { id: 1, weight: 5 };
    let twin = Item { id: 1, weight: 99 };
    let b = Item { id: 2, weight: 7 };
    assert_eq!(a.scaled(2), 10);
    assert_eq!(twin.scaled(2), 10, "same id, same scale: a's entry");
    assert_eq!(SCALED_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(a.scaled(3), 15, "scale is part of the key");
    assert_eq!(b.scaled(2), 14, "id is part of the key");
    assert_eq!(SCALED_RUNS.load(Ordering::SeqCst), 3);
    assert_eq!(Item::scaled_cache().len(), 3);
    assert_eq!(Item::scaled_cache().stats().hits, 1);

    let mut c = Item { id: 4, weight: 0 };
    assert_eq!(c.tagged("ab".into()), "4:ab");
    assert_eq!(c.tagged("xy".into()), "4:ab", "same id, same label length");
    assert_eq!(c.weight, 1, "the body ran once");
    assert_eq!(c.tagged("xyz".into()), "4:xyz");
    assert_eq!(Item::tagged_cache().len(), 2);
}

/// Borrowed arguments, named lifetimes and a key that is a plain argument.
#[mcache(key = (text.len(), n))]
fn prefix<'a>(text: &'a str, n: usize) -> String {
    text.chars().take(n).collect()
}

#[test]
fn borrowed_arguments_and_lifetimes() {
    assert_eq!(prefix("hello", 2), "he");
    assert_eq!(prefix("world", 2), "he", "same length, same n");
    assert_eq!(prefix("hi", 2), "hi");
    assert_eq!(prefix_cache().len(), 2);
}

/// A generic `impl` whose key does not depend on its parameter.
struct Wrapper<T> {
    id: u32,
    inner: T,
}

impl<T: std::fmt::Debug> Wrapper<T> {
    #[mcache(key = self.id)]
    fn show(&self) -> String {
        format!("{:?}", self.inner)
    }
}

#[test]
fn generic_impls_share_one_cache_when_the_key_is_concrete() {
    assert_eq!(Wrapper { id: 1, inner: 5_u8 }.show(), "5");
    assert_eq!(
        Wrapper { id: 1, inner: "x" }.show(),
        "5",
        "one cache for every T"
    );
    assert_eq!(Wrapper { id: 2, inner: "x" }.show(), "\"x\"");
    assert_eq!(Wrapper::<u8>::show_cache().len(), 2);
    assert_eq!(Wrapper::<&str>::show_cache().len(), 2, "the same cache");
}

/// A key whose type is the user's own, inferred through a method call.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Cell {
    row: u8,
    col: u8,
}

#[mcache(key = Cell { row, col: col / 2 }, maxsize = 2)]
fn cell_name(row: u8, col: u8) -> String {
    format!("r{row}c{col}")
}

#[test]
fn user_types_as_keys_and_settings_still_apply() {
    assert_eq!(cell_name(1, 4), "r1c4");
    assert_eq!(cell_name(1, 5), "r1c4", "5 / 2 == 4 / 2");
    cell_name(2, 0);
    cell_name(3, 0);
    let stats = cell_name_cache().stats();
    assert_eq!(stats.maxsize, Some(2));
    assert_eq!(cell_name_cache().len(), 2, "maxsize holds");
}

/// Accessor before the first call: builds the cache from the witness's type, and the
/// function then finds that same cache.
#[mcache(key = n.to_string())]
fn spelled(n: u32) -> usize {
    n.to_string().len()
}

#[test]
fn accessor_first_then_calls_reach_the_same_cache() {
    assert!(spelled_cache().is_empty());
    assert_eq!(spelled(12345), 5);
    assert_eq!(spelled_cache().len(), 1);
    let names: HashSet<_> = twat_mcache::stats_all()
        .into_iter()
        .map(|s| s.name)
        .filter(|n| n.ends_with("::spelled"))
        .collect();
    assert_eq!(names.len(), 1);
}

/// Untyped keys with `Result` returns: only `Ok` is stored.
#[mcache(key = s.trim().to_owned())]
fn parse_trimmed(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.trim().parse()
}

#[test]
fn results_with_untyped_keys() {
    assert!(parse_trimmed(" x ").is_err());
    assert_eq!(parse_trimmed(" 7"), Ok(7));
    assert_eq!(parse_trimmed("7 "), Ok(7));
    let s = parse_trimmed_cache().stats();
    assert_eq!(parse_trimmed_cache().len(), 1, "the error was not stored");
    assert_eq!(s.hits, 1);
}

static DISABLED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[mcache(key = x / 2)]
fn halves(x: u32) -> u32 {
    DISABLED_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

/// TWAT_CACHE_DISABLE=1 is read once per process, so it is checked in a child process.
#[test]
fn disable_env_calls_straight_through() {
    if std::env::var_os("TWAT_MCACHE_UNTYPED_DISABLE_CHILD").is_some() {
        assert_eq!(halves(4), 4);
        assert_eq!(halves(5), 5, "not 4: nothing is shared when caching is off");
        assert_eq!(DISABLED_RUNS.load(Ordering::SeqCst), 2);
        assert!(halves_cache().is_empty(), "nothing was stored");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "disable_env_calls_straight_through",
            "--nocapture",
        ])
        .env("TWAT_MCACHE_UNTYPED_DISABLE_CHILD", "1")
        .env("TWAT_CACHE_DISABLE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}
