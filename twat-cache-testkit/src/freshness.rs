//! The freshness rules (DESIGN, "Freshness") on every store, written once: each
//! scenario runs on any `PersistentCache<S, u64, u64>` built by its store's builder, in a
//! temp folder, and observes the body with a call counter. Time is waited for only where
//! it is the subject (a ttl passing). A store joins with one line:
//! [`freshness_tests!`](crate::freshness_tests).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread::sleep;
use std::time::{Duration, Instant};

use twat_cache_store::StoreBuilder;
use twat_cache_store::options::BuiltBy;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Waits (up to 10 s) until `cond` holds.
pub fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never happened: {what}"
        );
        sleep(ms(5));
    }
}

/// A builder on `dir/fresh`, namespace `name`, outside the registry, with `ttl`.
pub fn builder<B: StoreBuilder<Key = u64, Value = u64>>(
    dir: &Path,
    name: &str,
    ttl: Option<Duration>,
) -> B {
    let mut b = B::default();
    let o = b.options_mut();
    o.cache_dir = Some(dir.to_path_buf());
    o.folder = Some("fresh".into());
    o.name = Some(name.into());
    o.register = false;
    o.ttl = ttl;
    b
}

fn served<B: StoreBuilder<Key = u64, Value = u64>>(c: &BuiltBy<B>) {
    assert_eq!(
        c.backend(),
        <B::Store as twat_cache_store::Store>::BACKEND,
        "{:?}",
        c.fallback_reason()
    );
}

/// `stale_if_error`: an `Err` within the window serves the expired value (counted);
/// past the window, the error is returned.
pub fn stale_if_error<B: StoreBuilder<Key = u64, Value = u64>>() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = builder::<B>(dir.path(), "sie", Some(ms(50)));
    b.options_mut().freshness.stale_if_error = Some(ms(400));
    let c = b.build_cache().unwrap();
    served::<B>(&c);
    let calls = AtomicUsize::new(0);
    assert_eq!(c.try_get_or_insert_with(1, || Ok::<_, ()>(10)), Ok(10));
    sleep(ms(100));
    let failing = || {
        calls.fetch_add(1, SeqCst);
        Err::<u64, _>("down")
    };
    assert_eq!(c.try_get_or_insert_with(1, failing), Ok(10));
    assert_eq!(calls.load(SeqCst), 1, "the body ran and failed");
    let s = c.stats();
    assert_eq!((s.stale_served, s.refresh_errors), (1, 1), "{s:?}");
    assert_eq!(c.get(&1), None, "`get` serves fresh values only");
    sleep(ms(450)); // past ttl + window
    assert_eq!(c.try_get_or_insert_with(1, failing), Err("down"));
    assert_eq!(c.try_get_or_insert_with(1, || Ok::<_, ()>(11)), Ok(11));
    assert_eq!(c.get(&1), Some(11));
}

/// `stale_while_revalidate`: stale calls return at once; one background refresh per
/// key replaces the value; a later call sees it without running the body.
pub fn stale_while_revalidate<B: StoreBuilder<Key = u64, Value = u64>>() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = builder::<B>(dir.path(), "swr", Some(ms(50)));
    b.options_mut().freshness.stale_while_revalidate = Some(Duration::from_secs(3600));
    let c = b.build_cache().unwrap();
    served::<B>(&c);
    let calls = Arc::new(AtomicUsize::new(0));
    let body = |v: u64| {
        let calls = calls.clone();
        move || {
            calls.fetch_add(1, SeqCst);
            sleep(ms(50)); // slow enough for the stale calls below to overlap it
            v
        }
    };
    assert_eq!(c.get_or_refresh_with(1, body(1)), 1);
    sleep(ms(80));
    for _ in 0..10 {
        assert_eq!(c.get_or_refresh_with(1, body(2)), 1, "stale, at once");
    }
    eventually("the refresh stored", || c.stats().refreshes == 1);
    assert_eq!(c.get_or_refresh_with(1, body(3)), 2);
    assert_eq!(calls.load(SeqCst), 2, "one background run");
    assert!(c.stats().stale_served >= 1);
    // Another cache object on the same store sees the refreshed value.
    let again = builder::<B>(dir.path(), "swr", Some(ms(50)));
    let mut again = again;
    again.options_mut().freshness.stale_while_revalidate = Some(Duration::from_secs(3600));
    let again = again.build_cache().unwrap();
    assert_eq!(again.get(&1), Some(2));
}

/// `stale_while_revalidate` with `lock = true`: two cache objects on one store (as two
/// processes would be) each see the stale entry; the first refresh holds the key's lock,
/// and the second, once it gets the lock, finds the entry refreshed and skips its body.
pub fn stale_while_revalidate_once_across_caches_with_lock<B>()
where
    B: StoreBuilder<Key = u64, Value = u64>,
{
    let dir = tempfile::tempdir().unwrap();
    let make = || {
        // The first value lives 50 ms, the refreshed ones an hour.
        let mut b = builder::<B>(dir.path(), "swr_lock", Some(Duration::from_secs(3600)));
        b.options_mut().freshness.stale_while_revalidate = Some(Duration::from_secs(3600));
        b.options_mut().freshness.ttl_of = true;
        b.options_mut().rules_mut::<u64, u64>().ttl_of =
            Some(twat_cache_common::freshness::Hook(Arc::new(|v: &u64| {
                (*v == 1).then(|| ms(50))
            })));
        b.options_mut().lock = true;
        b.build_cache().unwrap()
    };
    let (a, b) = (make(), make());
    served::<B>(&a);
    a.insert(1, 1);
    sleep(ms(80));
    let calls = Arc::new(AtomicUsize::new(0));
    let body = |v: u64| {
        let calls = calls.clone();
        move || {
            calls.fetch_add(1, SeqCst);
            sleep(ms(200)); // holds the lock while the other cache asks
            v
        }
    };
    assert_eq!(a.get_or_refresh_with(1, body(2)), 1, "stale, at once");
    eventually("the first refresh started", || calls.load(SeqCst) == 1);
    assert_eq!(b.get_or_refresh_with(1, body(3)), 1, "stale, at once");
    eventually("the first refresh stored", || a.stats().refreshes == 1);
    sleep(ms(100)); // the second job, now past the lock, has looked and skipped
    assert_eq!(b.get(&1), Some(2));
    assert_eq!(calls.load(SeqCst), 1, "one body ran for the two caches");
    assert_eq!(b.stats().refreshes, 0);
}

/// `ttl_of`: each entry's own ttl; `None` uses `ttl`.
pub fn ttl_of<B: StoreBuilder<Key = u64, Value = u64>>() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = builder::<B>(dir.path(), "ttl_of", Some(Duration::from_secs(3600)));
    b.options_mut().freshness.ttl_of = true;
    // Odd values live 30 ms, even ones the cache's hour.
    b.options_mut().rules_mut::<u64, u64>().ttl_of =
        Some(twat_cache_common::freshness::Hook(Arc::new(|v: &u64| {
            (v % 2 == 1).then(|| ms(30))
        })));
    let c = b.build_cache().unwrap();
    served::<B>(&c);
    let calls = AtomicUsize::new(0);
    let body = |v: u64| {
        calls.fetch_add(1, SeqCst);
        v
    };
    c.get_or_insert_with(1, || body(1));
    c.get_or_insert_with(2, || body(2));
    sleep(ms(60));
    c.get_or_insert_with(1, || body(1));
    c.get_or_insert_with(2, || body(2));
    assert_eq!(calls.load(SeqCst), 3, "key 1 expired, key 2 did not");
}

/// `force_refresh` (a predicate on the builder) and `refresh_with` (per call).
pub fn force_refresh<B: StoreBuilder<Key = u64, Value = u64>>() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = builder::<B>(dir.path(), "force", None);
    b.options_mut().rules_mut::<u64, u64>().force_refresh =
        Some(twat_cache_common::freshness::Hook(Arc::new(|k: &u64| {
            *k >= 100
        })));
    let c = b.build_cache().unwrap();
    served::<B>(&c);
    let calls = AtomicUsize::new(0);
    for _ in 0..3 {
        c.get_or_insert_with(1, || calls.fetch_add(1, SeqCst) as u64);
        c.get_or_insert_with(100, || calls.fetch_add(1, SeqCst) as u64);
    }
    assert_eq!(calls.load(SeqCst), 4, "key 1 once, key 100 every time");
    assert_eq!(c.get(&100), Some(3));
    assert_eq!(c.refresh_with(1, || 42), 42);
    assert_eq!(c.get(&1), Some(42));
    assert_eq!(c.try_refresh_with(1, || Err::<u64, _>(())), Err(()));
    assert_eq!(c.get(&1), Some(42), "an error keeps the stored value");
}

/// `tti`: read within tti, never idles out; unread for tti + 1 s, gone.
pub fn tti<B: StoreBuilder<Key = u64, Value = u64>>() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = builder::<B>(dir.path(), "tti", None);
    b.options_mut().freshness.tti = Some(ms(300));
    let c = b.build_cache().unwrap();
    served::<B>(&c);
    let calls = AtomicUsize::new(0);
    let body = || calls.fetch_add(1, SeqCst) as u64;
    c.get_or_insert_with(1, body);
    for _ in 0..20 {
        sleep(ms(100));
        assert_eq!(c.get_or_insert_with(1, body), 0);
    }
    assert_eq!(
        calls.load(SeqCst),
        1,
        "read every 100 ms for 2 s: never idled out"
    );
    sleep(ms(1400));
    assert_eq!(c.get(&1), None, "unread for tti + 1 s: gone");
    assert_eq!(c.get_or_insert_with(1, body), 1);
}

/// `early`: a slow body's entry is recomputed before its ttl (β large), and the run
/// time it is judged by is stored with the entry (a second cache object sees it).
pub fn early<B: StoreBuilder<Key = u64, Value = u64>>() {
    let dir = tempfile::tempdir().unwrap();
    let make = || {
        let mut b = builder::<B>(dir.path(), "early", Some(Duration::from_secs(3600)));
        b.options_mut().freshness.early = Some(1e9);
        b.build_cache().unwrap()
    };
    let c = make();
    served::<B>(&c);
    let calls = AtomicUsize::new(0);
    let slow = || {
        sleep(ms(50));
        calls.fetch_add(1, SeqCst) as u64
    };
    assert_eq!(c.get_or_insert_with(1, slow), 0);
    let other = make(); // knows the run time only from the entry
    assert_eq!(other.get_or_insert_with(1, slow), 1, "recomputed early");
    assert_eq!(other.stats().refreshes, 1);
}

/// Entries written with rules and without them never read as each other's.
pub fn stamped_and_plain_entries_do_not_mix<B: StoreBuilder<Key = u64, Value = u64>>() {
    let dir = tempfile::tempdir().unwrap();
    let plain = builder::<B>(dir.path(), "mix", Some(Duration::from_secs(60)))
        .build_cache()
        .unwrap();
    let mut b = builder::<B>(dir.path(), "mix", Some(Duration::from_secs(60)));
    b.options_mut().freshness.stale_if_error = Some(Duration::from_secs(60));
    let stamped = b.build_cache().unwrap();
    plain.insert(1, 7);
    stamped.insert(2, 8);
    assert_eq!(stamped.get(&1), None);
    assert_eq!(plain.get(&2), None);
    assert_eq!((plain.get(&1), stamped.get(&2)), (Some(7), Some(8)));
}

/// Bad settings are `ConfigError`s naming the field.
pub fn bad_settings_name_the_field<B: StoreBuilder<Key = u64, Value = u64>>() {
    let dir = tempfile::tempdir().unwrap();
    let field = |f: &dyn Fn(&mut twat_cache_store::Options)| {
        let mut b = builder::<B>(dir.path(), "bad", Some(Duration::from_secs(1)));
        f(b.options_mut());
        b.build_cache().unwrap_err().field()
    };
    assert_eq!(field(&|o| o.freshness.early = Some(0.0)), "early");
    assert_eq!(field(&|o| o.freshness.tti = Some(Duration::ZERO)), "tti");
    assert_eq!(
        field(&|o| {
            o.ttl = None;
            o.freshness.stale_while_revalidate = Some(ms(1));
        }),
        "stale_while_revalidate"
    );
}

/// Every freshness scenario as a `#[test]` for `$cache` (a `PersistentCache<S, u64,
/// u64>`).
#[macro_export]
macro_rules! freshness_tests {
    ($builder:ty) => {
        #[test]
        fn fresh_stale_if_error() {
            $crate::freshness::stale_if_error::<$builder>();
        }
        #[test]
        fn fresh_stale_while_revalidate() {
            $crate::freshness::stale_while_revalidate::<$builder>();
        }
        #[test]
        fn fresh_stale_while_revalidate_once_across_caches_with_lock() {
            $crate::freshness::stale_while_revalidate_once_across_caches_with_lock::<$builder>();
        }
        #[test]
        fn fresh_ttl_of() {
            $crate::freshness::ttl_of::<$builder>();
        }
        #[test]
        fn fresh_force_refresh() {
            $crate::freshness::force_refresh::<$builder>();
        }
        #[test]
        fn fresh_tti() {
            $crate::freshness::tti::<$builder>();
        }
        #[test]
        fn fresh_early() {
            $crate::freshness::early::<$builder>();
        }
        #[test]
        fn fresh_stamped_and_plain_entries_do_not_mix() {
            $crate::freshness::stamped_and_plain_entries_do_not_mix::<$builder>();
        }
        #[test]
        fn fresh_bad_settings_name_the_field() {
            $crate::freshness::bad_settings_name_the_field::<$builder>();
        }
    };
}
