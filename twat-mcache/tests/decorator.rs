//! `#[mcache]` from a user's side: keys, hygiene, Result/Option, methods, custom keys.

use std::sync::atomic::{AtomicUsize, Ordering};

use twat_mcache::mcache;

#[mcache(maxsize = 1024, ttl = 60, policy = "lru")]
fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

#[test]
fn memoized_recursion_computes_each_value_once() {
    assert_eq!(fib(90), 2_880_067_194_370_816_120);
    let s = fib_cache().stats();
    assert_eq!(s.misses, 91, "each n in 0..=90 computed once");
    assert_eq!(fib_cache().len(), 91);
    assert_eq!(s.maxsize, Some(1024));
    assert_eq!(s.ttl_secs, Some(60.0));
    assert!(s.name.ends_with("::fib"), "{}", s.name);
}

static CALLS: AtomicUsize = AtomicUsize::new(0);

// Arguments named like the expansion's own variables must still work.
#[mcache]
fn hygiene(key: u32, cache: u32, value: u32, result: u32) -> u32 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    key + cache + value + result
}

#[test]
fn arguments_named_key_cache_value_result_work() {
    assert_eq!(hygiene(1, 2, 3, 4), 10);
    assert_eq!(hygiene(1, 2, 3, 4), 10);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(hygiene_cache().get(&(1, 2, 3, 4)), Some(10));
}

#[mcache]
fn word_count(text: &str, extra: &[u32], opt: Option<&str>) -> usize {
    text.split_whitespace().count() + extra.len() + opt.map_or(0, str::len)
}

#[test]
fn borrowed_arguments_become_owned_key_parts() {
    assert_eq!(word_count("a b c", &[1, 2], Some("xy")), 7);
    let key: (String, Vec<u32>, Option<String>) = ("a b c".into(), vec![1, 2], Some("xy".into()));
    assert_eq!(word_count_cache().get(&key), Some(7));
}

static PARSES: AtomicUsize = AtomicUsize::new(0);

#[mcache]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    PARSES.fetch_add(1, Ordering::SeqCst);
    s.parse()
}

#[test]
fn only_ok_is_stored() {
    assert!(parse("x").is_err());
    assert!(parse("x").is_err());
    assert_eq!(PARSES.load(Ordering::SeqCst), 2, "errors are recomputed");
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(PARSES.load(Ordering::SeqCst), 3);
    assert_eq!(parse_cache().get("7"), Some(7));
}

#[mcache]
fn read_number(s: &str) -> std::io::Result<u32> {
    s.parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[test]
fn result_aliases_count_as_result() {
    assert!(read_number("no").is_err());
    assert_eq!(read_number("5").unwrap(), 5);
    assert_eq!(read_number_cache().len(), 1);
}

static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

#[mcache]
fn find(n: u32) -> Option<u32> {
    LOOKUPS.fetch_add(1, Ordering::SeqCst);
    n.is_multiple_of(2).then_some(n / 2)
}

#[mcache(cache_none)]
fn find_all(n: u32) -> Option<u32> {
    n.is_multiple_of(2).then_some(n / 2)
}

#[test]
fn only_some_is_stored_unless_asked() {
    assert_eq!(find(3), None);
    assert_eq!(find(3), None);
    assert_eq!(LOOKUPS.load(Ordering::SeqCst), 2);
    assert_eq!(find(4), Some(2));
    assert_eq!(find_cache().len(), 1);
    assert_eq!(find_all(3), None);
    assert_eq!(
        find_all_cache().get(&3),
        Some(None),
        "cache_none stores None"
    );
}

#[mcache(cache_errors)]
fn always_fails(n: u32) -> Result<u32, String> {
    Err(format!("no {n}"))
}

#[test]
fn cache_errors_stores_err() {
    assert!(always_fails(1).is_err());
    assert_eq!(always_fails_cache().get(&1), Some(Err("no 1".into())));
}

struct Shape {
    id: u64,
    side: f64,
}

impl Shape {
    #[mcache(key: u64 = self.id)]
    fn area(&self) -> f64 {
        self.side * self.side
    }

    #[mcache(ignore = [self, scale])]
    fn scaled(&self, by: u32, scale: f64) -> f64 {
        f64::from(by) * scale
    }
}

#[test]
fn methods_key_on_what_identifies_the_instance() {
    let a = Shape { id: 1, side: 2.0 };
    let b = Shape { id: 2, side: 3.0 };
    assert_eq!(a.area(), 4.0);
    assert_eq!(b.area(), 9.0);
    assert_eq!(Shape::area_cache().len(), 2);
    assert_eq!(a.scaled(2, 1.5), 3.0);
    assert_eq!(b.scaled(2, 99.0), 3.0, "self and scale are not in the key");
}

#[mcache(key = format!("{a}:{b}"), name = "joined")]
fn join(a: u32, b: u32) -> String {
    format!("{a}-{b}")
}

#[mcache(key: u32 = n / 10, ignore = [n])]
fn decade(n: u32) -> u32 {
    n / 10 * 10
}

#[test]
fn custom_keys_and_names() {
    assert_eq!(join(1, 2), "1-2");
    assert_eq!(join_cache().get("1:2"), Some("1-2".to_string()));
    assert_eq!(join_cache().stats().name, "joined");
    assert_eq!(decade(42), 40);
    assert_eq!(decade(47), 40);
    assert_eq!(decade_cache().len(), 1);
}

#[mcache(key: String = format!("{}", std::any::type_name::<T>()))]
fn type_label<T>() -> String {
    std::any::type_name::<T>().to_string()
}

#[test]
fn generic_functions_work_with_a_concrete_key() {
    assert_eq!(type_label::<u8>(), "u8");
    assert_eq!(type_label::<u16>(), "u16");
    assert_eq!(type_label_cache().len(), 2);
}

/// Public, to check the accessor keeps the visibility.
#[mcache(maxsize = 2, policy = "fifo", ttl = "1h30m", version = 3)]
pub fn public_one(x: u8) -> u8 {
    x
}

#[test]
fn attributes_reach_the_cache() {
    public_one(1);
    public_one(2);
    public_one(3);
    let s = public_one_cache().stats();
    assert_eq!(s.entries, 2);
    assert_eq!(s.ttl_secs, Some(5400.0));
    assert_eq!(public_one_cache().policy(), twat_mcache::Policy::Fifo);
}

/// TWAT_CACHE_DISABLE=1 is read once per process, so it is checked in a child process.
#[test]
fn disable_env_calls_straight_through() {
    if std::env::var_os("TWAT_MCACHE_DISABLE_CHILD").is_some() {
        assert_eq!(hygiene(9, 9, 9, 9), 36);
        assert_eq!(hygiene(9, 9, 9, 9), 36);
        assert_eq!(CALLS.load(Ordering::SeqCst), 2, "both calls ran the body");
        assert!(hygiene_cache().is_empty(), "nothing was stored");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "disable_env_calls_straight_through",
            "--nocapture",
        ])
        .env("TWAT_MCACHE_DISABLE_CHILD", "1")
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
