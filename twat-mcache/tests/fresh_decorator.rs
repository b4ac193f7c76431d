//! The freshness attributes on `#[mcache]`, observed with call counters. Time is waited
//! for only where it is the subject (a ttl passing).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread::sleep;
use std::time::{Duration, Instant};

use twat_mcache::mcache;

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

static FLAKY_CALLS: AtomicUsize = AtomicUsize::new(0);
static UPSTREAM_DOWN: AtomicBool = AtomicBool::new(false);

#[mcache(ttl = "50ms", stale_if_error = "1h")]
fn flaky(id: &str) -> Result<String, String> {
    FLAKY_CALLS.fetch_add(1, SeqCst);
    if UPSTREAM_DOWN.load(SeqCst) {
        Err(format!("{id}: upstream down"))
    } else {
        Ok(format!("{id}: fresh"))
    }
}

#[test]
fn stale_if_error_on_a_result_fn() {
    assert_eq!(flaky("a").unwrap(), "a: fresh");
    UPSTREAM_DOWN.store(true, SeqCst);
    sleep(Duration::from_millis(80));
    assert_eq!(
        flaky("a").unwrap(),
        "a: fresh",
        "the expired value, not the error"
    );
    assert_eq!(FLAKY_CALLS.load(SeqCst), 2);
    assert_eq!(flaky_cache().stats().stale_served, 1);
    assert!(flaky("never-stored").is_err(), "nothing stale to serve");
}

static MAYBE_CALLS: AtomicUsize = AtomicUsize::new(0);

#[mcache(ttl = 0.05, stale_if_error = 3600)]
fn maybe(n: u32) -> Option<u32> {
    let call = MAYBE_CALLS.fetch_add(1, SeqCst);
    (call == 0).then_some(n * 2)
}

#[test]
fn stale_if_error_on_an_option_fn_serves_the_last_some() {
    assert_eq!(maybe(4), Some(8));
    sleep(Duration::from_millis(80));
    assert_eq!(maybe(4), Some(8), "None from the body: the expired Some");
    assert_eq!(MAYBE_CALLS.load(SeqCst), 2);
}

static DASH_CALLS: AtomicUsize = AtomicUsize::new(0);

#[mcache(ttl = "50ms", stale_while_revalidate = "1h")]
fn dashboard(query: &str, scale: u32) -> Vec<u32> {
    let n = DASH_CALLS.fetch_add(1, SeqCst) as u32;
    sleep(Duration::from_millis(20));
    vec![query.len() as u32 * scale, n]
}

#[test]
fn stale_while_revalidate_with_borrowed_arguments() {
    assert_eq!(dashboard("sales", 2), vec![10, 0]);
    sleep(Duration::from_millis(80));
    assert_eq!(dashboard("sales", 2), vec![10, 0], "stale, at once");
    eventually("refreshed", || dashboard_cache().stats().refreshes == 1);
    assert_eq!(dashboard("sales", 2), vec![10, 1]);
    assert_eq!(DASH_CALLS.load(SeqCst), 2);
}

/// A response that carries its own max-age.
#[derive(Clone, Debug, PartialEq)]
struct Response {
    body: String,
    max_age: Option<Duration>,
}

fn max_age(r: &Response) -> Option<Duration> {
    r.max_age
}

static HTTP_CALLS: AtomicUsize = AtomicUsize::new(0);

#[mcache(ttl = "1h", ttl_of = max_age)]
fn http_get(url: &str) -> Result<Response, String> {
    HTTP_CALLS.fetch_add(1, SeqCst);
    Ok(Response {
        body: url.to_owned(),
        max_age: url.contains("short").then(|| Duration::from_millis(30)),
    })
}

#[test]
fn ttl_of_reads_the_ok_value() {
    http_get("short").unwrap();
    http_get("long").unwrap();
    sleep(Duration::from_millis(60));
    http_get("short").unwrap();
    http_get("long").unwrap();
    assert_eq!(
        HTTP_CALLS.load(SeqCst),
        3,
        "short expired by its own max-age"
    );
}

static FORCE_CALLS: AtomicUsize = AtomicUsize::new(0);

#[mcache(force_refresh = refresh)]
fn price(item: u32, refresh: bool) -> usize {
    let _ = (item, refresh);
    FORCE_CALLS.fetch_add(1, SeqCst)
}

#[test]
fn force_refresh_is_an_expression_over_the_arguments() {
    assert_eq!(price(1, false), 0);
    assert_eq!(price(1, false), 0);
    // `refresh` is part of the key here, so force the same key explicitly:
    assert_eq!(price(1, true), 1);
    assert_eq!(price(1, true), 2, "forced every time it is true");
    assert_eq!(price(1, false), 0, "the other key is untouched");
}

static TOKEN_CALLS: AtomicUsize = AtomicUsize::new(0);

#[mcache(key = user, force_refresh = user == 0)]
fn token(user: u32) -> usize {
    let _ = user;
    TOKEN_CALLS.fetch_add(1, SeqCst)
}

#[test]
fn force_refresh_with_a_custom_key() {
    token(5);
    token(5);
    token(0);
    token(0);
    assert_eq!(TOKEN_CALLS.load(SeqCst), 3);
}

static IDLE_CALLS: AtomicUsize = AtomicUsize::new(0);

#[mcache(tti = "200ms")]
fn session(id: u32) -> usize {
    let _ = id;
    IDLE_CALLS.fetch_add(1, SeqCst)
}

#[test]
fn tti_on_the_decorator() {
    session(1);
    for _ in 0..12 {
        sleep(Duration::from_millis(100));
        session(1);
    }
    assert_eq!(IDLE_CALLS.load(SeqCst), 1);
    sleep(Duration::from_millis(1300));
    session(1);
    assert_eq!(IDLE_CALLS.load(SeqCst), 2);
}

static EARLY_CALLS: AtomicUsize = AtomicUsize::new(0);

#[mcache(ttl = "1h", early = 1000000000.0)]
fn slow_report(day: u32) -> usize {
    let _ = day;
    sleep(Duration::from_millis(30));
    EARLY_CALLS.fetch_add(1, SeqCst)
}

#[test]
fn early_recomputes_in_the_background() {
    assert_eq!(slow_report(1), 0);
    assert_eq!(slow_report(1), 0, "served while it recomputes early");
    eventually("recomputed early", || {
        slow_report_cache().stats().refreshes >= 1
    });
    assert!(EARLY_CALLS.load(SeqCst) >= 2);
}

#[mcache(ttl = 60, early)]
fn calm(x: u32) -> u32 {
    x
}

#[test]
fn bare_early_is_beta_one() {
    assert_eq!(calm(3), 3);
    assert_eq!(calm(3), 3);
}
