//! The freshness rules on this store: the shared scenarios of the testkit, and the
//! builder methods themselves.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

twat_cache_testkit::freshness_tests!(twat_fcache::FileCacheBuilder<u64, u64>);

#[test]
fn builder_methods_set_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let cache = twat_fcache::FileCacheBuilder::<String, u64>::default()
        .cache_dir(dir.path())
        .register(false)
        .ttl(Duration::from_millis(30))
        .stale_if_error(Duration::from_secs(60))
        .stale_while_revalidate(Duration::from_secs(60))
        .early(1.0)
        .ttl_of(|v: &u64| (*v > 100).then(|| Duration::from_secs(60)))
        .force_refresh(|k: &String| k == "always")
        .build()
        .unwrap();
    let calls = AtomicUsize::new(0);
    let body = || {
        calls.fetch_add(1, SeqCst);
        Ok::<u64, ()>(1)
    };
    assert_eq!(cache.try_get_or_insert_with("always".into(), body), Ok(1));
    assert_eq!(cache.try_get_or_insert_with("always".into(), body), Ok(1));
    assert_eq!(calls.load(SeqCst), 2, "force_refresh");
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(
        cache.try_get_or_insert_with("always".into(), || Err::<u64, ()>(())),
        Ok(1),
        "stale_if_error"
    );
    let e = twat_fcache::FileCacheBuilder::<String, u64>::default()
        .cache_dir(dir.path())
        .register(false)
        .stale_if_error(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert_eq!(e.field(), "stale_if_error");
}
