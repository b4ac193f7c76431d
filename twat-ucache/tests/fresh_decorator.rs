//! The freshness attributes through `#[ucache]`, on the engine it selects.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use twat_ucache::ucache;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[ucache(ttl = "40ms", stale_if_error = "1h")]
fn lookup(id: u32) -> Option<u32> {
    let call = CALLS.fetch_add(1, SeqCst);
    (call == 0).then_some(id + 1)
}

#[test]
fn stale_if_error_on_the_selected_engine() {
    assert_eq!(lookup(1), Some(2));
    std::thread::sleep(Duration::from_millis(70));
    assert_eq!(lookup(1), Some(2), "None from the body: the expired Some");
    assert_eq!(CALLS.load(SeqCst), 2);
    let s = lookup_cache().stats();
    assert_eq!((s.stale_served, s.refresh_errors), (1, 1));
}
