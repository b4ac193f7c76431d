//! The freshness attributes on `#[fcache]`, observed with call counters.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread::sleep;
use std::time::{Duration, Instant};

use twat_fcache::fcache;

/// Every cache in this binary lives under one temp root.
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        // SAFETY: runs once, before any cache in this binary reads the variable.
        unsafe { std::env::set_var("TWAT_CACHE_DIR", dir) };
    });
}

fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never happened: {what}"
        );
        sleep(Duration::from_millis(5));
    }
}

static DOWN: AtomicBool = AtomicBool::new(false);
static GEO_CALLS: AtomicUsize = AtomicUsize::new(0);

#[fcache(folder_name = "fresh", ttl = "50ms", stale_if_error = "1h")]
fn geocode(addr: &str) -> Result<(i64, i64), String> {
    GEO_CALLS.fetch_add(1, SeqCst);
    if DOWN.load(SeqCst) {
        Err("geocoder down".into())
    } else {
        Ok((addr.len() as i64, 1))
    }
}

#[test]
fn stale_if_error() {
    setup();
    assert_eq!(geocode("main st"), Ok((7, 1)));
    DOWN.store(true, SeqCst);
    sleep(Duration::from_millis(80));
    assert_eq!(geocode("main st"), Ok((7, 1)));
    assert_eq!(GEO_CALLS.load(SeqCst), 2);
    assert_eq!(geocode_cache().stats().stale_served, 1);
    assert_eq!(
        geocode_cache().backend().is_memory(),
        !cfg!(feature = "files")
    );
}

static SWR_CALLS: AtomicUsize = AtomicUsize::new(0);

#[fcache(
    folder_name = "fresh",
    ttl = "50ms",
    stale_while_revalidate = "1h",
    lock = true
)]
fn report(name: &str) -> Vec<u8> {
    let n = SWR_CALLS.fetch_add(1, SeqCst) as u8;
    vec![name.len() as u8, n]
}

#[test]
fn stale_while_revalidate() {
    setup();
    assert_eq!(report("q"), vec![1, 0]);
    sleep(Duration::from_millis(80));
    assert_eq!(report("q"), vec![1, 0], "stale, at once");
    eventually("refreshed", || report_cache().stats().refreshes == 1);
    assert_eq!(report("q"), vec![1, 1]);
    assert_eq!(SWR_CALLS.load(SeqCst), 2);
}

fn ttl_from(v: &(u64, u64)) -> Option<Duration> {
    (v.1 > 0).then(|| Duration::from_millis(v.1))
}

static TTL_OF_CALLS: AtomicUsize = AtomicUsize::new(0);

#[fcache(folder_name = "fresh", ttl = "1h", ttl_of = ttl_from, force_refresh = id == 99)]
fn page(id: u64) -> (u64, u64) {
    TTL_OF_CALLS.fetch_add(1, SeqCst);
    (id, if id == 1 { 30 } else { 0 })
}

#[test]
fn ttl_of_and_force_refresh() {
    setup();
    page(1);
    page(2);
    sleep(Duration::from_millis(60));
    page(1);
    page(2);
    assert_eq!(TTL_OF_CALLS.load(SeqCst), 3, "page 1 had its own 30 ms");
    page(99);
    page(99);
    assert_eq!(TTL_OF_CALLS.load(SeqCst), 5, "page 99 is always forced");
}
