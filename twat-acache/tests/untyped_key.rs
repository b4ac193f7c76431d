//! `#[acache(key = <expr>)]` without the key's type: in memory and with a persistent
//! backend, on methods, with a key that awaits; the futures stay `Send`.

use std::sync::atomic::{AtomicUsize, Ordering};

use twat_acache::{Backend, acache};

static BUCKETS: AtomicUsize = AtomicUsize::new(0);

#[acache(key = id % 10)]
async fn bucket(id: u64) -> u64 {
    BUCKETS.fetch_add(1, Ordering::SeqCst);
    id * 100
}

#[test]
fn ids_with_the_same_key_share_one_entry() {
    futures_executor::block_on(async {
        assert_eq!(bucket(1).await, 100);
        assert_eq!(bucket(11).await, 100, "11 % 10 == 1: 1's entry");
        assert_eq!(bucket(2).await, 200);
        assert_eq!(BUCKETS.load(Ordering::SeqCst), 2);
        let cache = bucket_cache();
        assert_eq!(cache.len(), 2);
        assert!(cache.backend().is_memory());
        let s = cache.stats();
        assert_eq!((s.hits, s.misses), (1, 2));
        assert!(s.name.ends_with("::bucket"), "{}", s.name);
        cache.clear().await;
        assert!(cache.is_empty());
        assert_eq!(bucket(21).await, 2100, "cleared: the body runs again");
    });
}

struct Client {
    region: &'static str,
}

static FETCHES: AtomicUsize = AtomicUsize::new(0);

async fn normalize(path: &str) -> String {
    path.trim_matches('/').to_lowercase()
}

impl Client {
    /// The key names a field of `self` and awaits.
    #[acache(key = (self.region, normalize(&path).await))]
    async fn fetch(&self, path: String) -> String {
        FETCHES.fetch_add(1, Ordering::SeqCst);
        format!("{}:{path}", self.region)
    }
}

#[tokio::test]
async fn methods_and_keys_that_await() {
    let (eu, eu2, us) = (
        Client { region: "eu" },
        Client { region: "eu" },
        Client { region: "us" },
    );
    assert_eq!(eu.fetch("/A/".into()).await, "eu:/A/");
    assert_eq!(
        eu2.fetch("a".into()).await,
        "eu:/A/",
        "same region, same path"
    );
    assert_eq!(us.fetch("a".into()).await, "us:a");
    assert_eq!(FETCHES.load(Ordering::SeqCst), 2);
    assert_eq!(Client::fetch_cache().len(), 2);
    assert_eq!(Client::fetch_cache().stats().hits, 1);
}

static STORED: AtomicUsize = AtomicUsize::new(0);

/// A persistent backend needs a `Serialize` key: inferred here too. (Without the `files`
/// feature the cache serves from memory, and says so.)
#[acache(backend = "files", folder_name = "acache-untyped", key = name.len(), l1 = 16)]
async fn by_length(name: String) -> String {
    STORED.fetch_add(1, Ordering::SeqCst);
    name.to_uppercase()
}

#[test]
fn persistent_backends_take_untyped_keys() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: the only test in this binary that builds a persistent cache; it sets the root
    // before that cache is built.
    unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
    futures_executor::block_on(async {
        assert_eq!(by_length("abc".into()).await, "ABC");
        assert_eq!(
            by_length("xyz".into()).await,
            "ABC",
            "same length, same key"
        );
        assert_eq!(STORED.load(Ordering::SeqCst), 1);
        let cache = by_length_cache();
        assert_eq!(cache.len(), 1);
        if cfg!(feature = "files") {
            assert_eq!(cache.backend(), Backend::Files);
            assert_eq!(cache.stats().l1_hits, 1, "the repeat call came from memory");
            assert!(cache.stats().folder.unwrap().ends_with("acache-untyped"));
        } else {
            assert!(cache.backend().is_memory());
            assert!(cache.stats().fallback_reason.is_some());
        }
    });
}

#[test]
fn decorated_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&bucket(1));
    let client = Client { region: "eu" };
    assert_send(&client.fetch("x".into()));
    assert_send(&by_length(String::new()));
}
