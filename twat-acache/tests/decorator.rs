//! `#[acache]` on async fns: plain, `Result` and `Option` returns, borrowed arguments.

use std::sync::atomic::{AtomicUsize, Ordering};

use twat_acache::acache;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[acache(maxsize = 100, ttl = 60)]
async fn double(x: u64) -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    x * 2
}

#[acache]
async fn shout(word: &str, times: usize) -> String {
    word.to_uppercase().repeat(times)
}

static FALLIBLE: AtomicUsize = AtomicUsize::new(0);

#[acache(name = "parse")]
async fn parse(s: String) -> Result<u32, std::num::ParseIntError> {
    FALLIBLE.fetch_add(1, Ordering::SeqCst);
    s.parse()
}

#[acache(policy = "fifo")]
async fn find(n: u32) -> Option<u32> {
    n.is_multiple_of(2).then_some(n / 2)
}

#[tokio::test]
async fn memoizes_under_tokio() {
    assert_eq!(double(21).await, 42);
    assert_eq!(double(21).await, 42);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(double_cache().get(&21).await, Some(42));
    assert_eq!(double_cache().stats().hits, 2);
    assert_eq!(shout("ab", 2).await, "ABAB");
    assert_eq!(
        shout_cache().get(&("ab".to_string(), 2)).await.as_deref(),
        Some("ABAB")
    );
}

#[test]
fn results_and_options_store_only_successes() {
    futures_executor::block_on(async {
        assert!(parse("x".into()).await.is_err());
        assert!(parse("x".into()).await.is_err());
        assert_eq!(FALLIBLE.load(Ordering::SeqCst), 2, "Err is not stored");
        assert_eq!(parse("12".into()).await, Ok(12));
        assert_eq!(parse("12".into()).await, Ok(12));
        assert_eq!(FALLIBLE.load(Ordering::SeqCst), 3);
        assert_eq!(parse_cache().stats().name, "parse");
        assert_eq!(find(3).await, None);
        assert_eq!(find(4).await, Some(2));
        assert_eq!(find_cache().len(), 1, "None is not stored");
    });
}

#[test]
fn decorated_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let f = double(1);
    assert_send(&f);
    let s = shout("x", 1);
    assert_send(&s);
}
