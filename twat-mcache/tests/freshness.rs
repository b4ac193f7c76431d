//! Freshness rules on `MemoryCache`, through the builder, observed with call counters.
//! Time is only waited for where time is the subject (a ttl passing).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use twat_mcache::MemoryCache;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Waits (up to 10 s) until `cond` holds.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never happened: {what}"
        );
        sleep(ms(5));
    }
}

#[test]
fn stale_if_error_serves_the_expired_value_when_recomputing_fails() {
    let cache = MemoryCache::<u32, String>::builder()
        .ttl(ms(50))
        .stale_if_error(Duration::from_secs(3600))
        .build()
        .unwrap();
    let calls = AtomicUsize::new(0);
    let ok = || {
        calls.fetch_add(1, SeqCst);
        Ok::<_, String>("good".to_string())
    };
    assert_eq!(cache.try_get_or_insert_with(1, ok).unwrap(), "good");
    sleep(ms(80)); // expired
    let failing = || {
        calls.fetch_add(1, SeqCst);
        Err::<String, _>("upstream down".to_string())
    };
    assert_eq!(cache.try_get_or_insert_with(1, failing).unwrap(), "good");
    assert_eq!(calls.load(SeqCst), 2, "the body ran, and failed");
    let s = cache.stats();
    assert_eq!((s.stale_served, s.refresh_errors), (1, 1));
    // A later success replaces it.
    assert_eq!(
        cache
            .try_get_or_insert_with(1, || Ok::<_, String>("new".into()))
            .unwrap(),
        "new"
    );
    assert_eq!(cache.get(&1).as_deref(), Some("new"));
    assert_eq!(cache.stats().refreshes, 1);
}

#[test]
fn stale_if_error_does_not_outlive_its_window_or_catch_panics() {
    let cache = MemoryCache::<u32, u32>::builder()
        .ttl(ms(30))
        .stale_if_error(ms(30))
        .build()
        .unwrap();
    cache.insert(1, 10);
    sleep(ms(100)); // past ttl + window
    let r = cache.try_get_or_insert_with(1, || Err::<u32, _>("down"));
    assert_eq!(r, Err("down"));

    cache.insert(2, 20);
    sleep(ms(40)); // within the window
    let c = cache.clone();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        c.try_get_or_insert_with(2, || -> Result<u32, ()> { panic!("body panics") })
    }));
    assert!(panicked.is_err(), "a panic still propagates");
}

#[test]
fn without_stale_if_error_an_error_is_returned() {
    let cache = MemoryCache::<u32, u32>::builder()
        .ttl(ms(20))
        .stale_while_revalidate(Duration::from_secs(60))
        .build()
        .unwrap();
    cache.insert(1, 10);
    sleep(ms(40));
    // get_or_insert_with cannot run its body later: a stale value is recomputed now.
    assert_eq!(
        cache.try_get_or_insert_with(1, || Err::<u32, _>(())),
        Err(())
    );
}

#[test]
fn stale_while_revalidate_serves_at_once_and_refreshes_once_behind() {
    let cache = MemoryCache::<u32, u32>::builder()
        .ttl(ms(50))
        .stale_while_revalidate(Duration::from_secs(3600))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    assert_eq!(
        cache.get_or_refresh_with(1, move || {
            c.fetch_add(1, SeqCst);
            1
        }),
        1
    );
    sleep(ms(80)); // expired, within the window

    // The refresh blocks until we let it go: meanwhile every call gets the stale value,
    // and no second refresh starts.
    let (release, gate) = mpsc::channel::<()>();
    let gate = Arc::new(std::sync::Mutex::new(gate));
    for _ in 0..20 {
        let (c, g) = (calls.clone(), gate.clone());
        let v = cache.get_or_refresh_with(1, move || {
            c.fetch_add(1, SeqCst);
            g.lock().unwrap().recv().unwrap();
            2
        });
        assert_eq!(v, 1, "the stale value, at once");
    }
    eventually("the refresh started", || calls.load(SeqCst) == 2);
    release.send(()).unwrap();
    eventually("the refresh stored", || cache.stats().refreshes == 1);
    assert_eq!(
        cache.get_or_refresh_with(1, || unreachable!("fresh again")),
        2
    );
    assert_eq!(
        calls.load(SeqCst),
        2,
        "one background run for 20 stale calls"
    );
    let s = cache.stats();
    assert_eq!(s.stale_served, 20);
    assert_eq!(s.refresh_errors, 0);
}

#[test]
fn a_failed_background_refresh_keeps_the_stale_value() {
    let cache = MemoryCache::<u32, u32>::builder()
        .ttl(ms(30))
        .stale_while_revalidate(Duration::from_secs(3600))
        .build()
        .unwrap();
    cache.insert(1, 1);
    sleep(ms(50));
    let r = cache.try_get_or_refresh_with(1, || Err::<u32, _>("down"));
    assert_eq!(r, Ok(1));
    eventually("the failure is counted", || {
        cache.stats().refresh_errors == 1
    });
    assert_eq!(cache.try_get_or_refresh_with(1, || Ok::<_, &str>(2)), Ok(1));
    eventually("the retry stored", || cache.stats().refreshes == 1);
    assert_eq!(cache.get(&1), Some(2));
}

#[test]
fn a_panicking_background_refresh_does_not_wedge_the_key() {
    let cache = MemoryCache::<u32, u32>::builder()
        .ttl(ms(30))
        .stale_while_revalidate(Duration::from_secs(3600))
        .build()
        .unwrap();
    cache.insert(1, 1);
    sleep(ms(50));
    assert_eq!(cache.get_or_refresh_with(1, || panic!("refresh panics")), 1);
    // The ticket is released when the job unwinds: a later refresh runs.
    eventually("a refresh after the panic stores", || {
        cache.get_or_refresh_with(1, || 2);
        cache.stats().refreshes == 1
    });
    assert_eq!(cache.get(&1), Some(2));
}

#[test]
fn ttl_of_gives_each_entry_its_own_ttl() {
    // The value is (payload, max-age in ms); 0 means "use the cache's ttl".
    let cache = MemoryCache::<u32, (u32, u64)>::builder()
        .ttl(Duration::from_secs(3600))
        .ttl_of(|(_, max_age): &(u32, u64)| (*max_age > 0).then(|| ms(*max_age)))
        .build()
        .unwrap();
    let calls = AtomicUsize::new(0);
    let body = |v: (u32, u64)| {
        calls.fetch_add(1, SeqCst);
        v
    };
    cache.get_or_insert_with(1, || body((1, 30)));
    cache.get_or_insert_with(2, || body((2, 0)));
    sleep(ms(60));
    cache.get_or_insert_with(1, || body((1, 30))); // expired: recomputed
    cache.get_or_insert_with(2, || body((2, 0))); // the default hour: a hit
    assert_eq!(calls.load(SeqCst), 3);
}

#[test]
fn force_refresh_recomputes_and_replaces() {
    let cache = MemoryCache::<u32, u32>::builder()
        .force_refresh(|k| *k >= 100)
        .build()
        .unwrap();
    let calls = AtomicUsize::new(0);
    for _ in 0..3 {
        cache.get_or_insert_with(1, || calls.fetch_add(1, SeqCst) as u32);
        cache.get_or_insert_with(100, || calls.fetch_add(1, SeqCst) as u32);
    }
    assert_eq!(calls.load(SeqCst), 4, "key 1 once, key 100 every time");
    assert_eq!(cache.get(&100), Some(3));

    // Per call, without a predicate.
    let plain = MemoryCache::<u32, u32>::builder().build().unwrap();
    plain.insert(1, 1);
    assert_eq!(plain.refresh_with(1, || 2), 2);
    assert_eq!(plain.get(&1), Some(2));
    assert_eq!(plain.try_refresh_with(1, || Err::<u32, _>(())), Err(()));
    assert_eq!(plain.get(&1), Some(2), "an error keeps the stored value");
}

#[test]
fn tti_expires_idle_entries_and_keeps_read_ones() {
    let cache = MemoryCache::<u32, u32>::builder()
        .tti(ms(300))
        .build()
        .unwrap();
    let calls = AtomicUsize::new(0);
    let body = || calls.fetch_add(1, SeqCst) as u32;
    cache.get_or_insert_with(1, body);
    // Read every 100 ms for 2 s (well past tti + 1 s): never idles out.
    for _ in 0..20 {
        sleep(ms(100));
        assert_eq!(cache.get_or_insert_with(1, body), 0);
    }
    assert_eq!(calls.load(SeqCst), 1);
    // Unread for tti + 1 s: gone.
    sleep(ms(1400));
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.get_or_insert_with(1, body), 1);
    assert_eq!(calls.load(SeqCst), 2);
}

#[test]
fn early_recomputes_before_expiry_when_the_body_is_slow() {
    // The body takes ~50 ms; with β = 10⁹ the XFetch draw recomputes on (almost
    // surely) the first lookup before the hour-long ttl is up.
    let cache = MemoryCache::<u32, u32>::builder()
        .ttl(Duration::from_secs(3600))
        .early(1e9)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let slow = |c: Arc<AtomicUsize>| {
        move || {
            sleep(ms(50));
            c.fetch_add(1, SeqCst) as u32
        }
    };
    assert_eq!(cache.get_or_insert_with(1, slow(calls.clone())), 0);
    assert_eq!(
        cache.get_or_insert_with(1, slow(calls.clone())),
        1,
        "recomputed early"
    );
    assert_eq!(cache.stats().refreshes, 1);
    // In the background when the body can run later: the old value is served at once.
    assert_eq!(cache.get_or_refresh_with(1, slow(calls.clone())), 1);
    eventually("the early refresh stored", || cache.stats().refreshes == 2);
    assert_eq!(cache.get(&1), Some(2));

    // β = 1 with a fast body and an hour left: never early.
    let calm = MemoryCache::<u32, u32>::builder()
        .ttl(Duration::from_secs(3600))
        .early(1.0)
        .build()
        .unwrap();
    let n = AtomicUsize::new(0);
    for _ in 0..100 {
        calm.get_or_insert_with(1, || n.fetch_add(1, SeqCst) as u32);
    }
    assert_eq!(n.load(SeqCst), 1);
}

#[test]
fn bad_settings_are_config_errors_naming_the_field() {
    let b = || MemoryCache::<u32, u32>::builder().ttl(Duration::from_secs(1));
    assert_eq!(b().early(0.0).build().unwrap_err().field(), "early");
    assert_eq!(b().early(f64::NAN).build().unwrap_err().field(), "early");
    assert_eq!(
        b().stale_if_error(Duration::ZERO)
            .build()
            .unwrap_err()
            .field(),
        "stale_if_error"
    );
    assert_eq!(b().tti(Duration::ZERO).build().unwrap_err().field(), "tti");
    let no_ttl = MemoryCache::<u32, u32>::builder();
    assert_eq!(
        no_ttl
            .stale_while_revalidate(Duration::from_secs(1))
            .build()
            .unwrap_err()
            .field(),
        "stale_while_revalidate"
    );
}

#[test]
fn a_cache_without_rules_reports_zero_freshness_counters() {
    let cache = MemoryCache::<u32, u32>::builder().build().unwrap();
    cache.get_or_insert_with(1, || 1);
    let s = cache.stats();
    assert_eq!((s.stale_served, s.refreshes, s.refresh_errors), (0, 0, 0));
}
