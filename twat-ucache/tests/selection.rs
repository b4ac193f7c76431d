//! The `#[ucache]` selection matrix: each preference, with the engines' features on and off
//! (`cargo xtask ci` runs this file with default features, with none, and with all).
//! Each case checks which cache kind was built, why (`stats().selection`), which backend
//! serves, and that the value is right.
#![allow(missing_docs)]
// With an engine's feature off, naming it is a deprecation warning by design.
#![cfg_attr(
    not(all(feature = "lmdb", feature = "files", feature = "redis")),
    allow(deprecated)
)]

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use twat_ucache::{Backend, CacheStats, ucache};

/// Every test starts here: persistent caches go to one temporary root for the whole run
/// (set before any cache reads it, and kept until the process exits).
fn temp_root() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        // SAFETY: set once, before any test thread reads the environment (every test
        // calls this first, and `Once` blocks them until it is done).
        unsafe { std::env::set_var("TWAT_CACHE_DIR", &dir) };
    });
}

/// A memory backend: schnellru, or the std map (twat-bcache and twat-fcache compile
/// schnellru in for their fallback, so it is there whatever this crate's features say).
fn is_memory(b: Backend) -> bool {
    matches!(b, Backend::Schnellru | Backend::Std)
}

/// Served by `backend` when its feature is on, else by memory with a reason.
fn assert_served(s: &CacheStats, feature_on: bool, backend: Backend) {
    if feature_on {
        assert_eq!(s.backend, backend, "{s:?}");
        assert_eq!(s.fallback_reason, None, "{s:?}");
    } else {
        assert!(is_memory(s.backend), "{s:?}");
        assert!(
            s.fallback_reason
                .as_deref()
                .unwrap_or("")
                .contains("feature"),
            "the reason names the missing feature: {s:?}"
        );
    }
}

static PLAIN_CALLS: AtomicUsize = AtomicUsize::new(0);

#[ucache]
fn plain(x: u32) -> u32 {
    PLAIN_CALLS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[test]
fn no_hint_is_memory() {
    temp_root();
    assert_eq!(plain(1), 2);
    assert_eq!(plain(1), 2);
    assert_eq!(PLAIN_CALLS.load(Ordering::SeqCst), 1);
    let s = plain_cache().stats();
    assert_eq!(s.kind, "memory");
    assert!(is_memory(s.backend), "{s:?}");
    assert_eq!(
        s.selection.as_deref(),
        Some("no persistence asked for → memory")
    );
    assert_eq!((s.hits, s.misses), (1, 1));
}

#[ucache(maxsize = 10, ttl = "1h", policy = "lfu")]
fn bounded(x: u32) -> u32 {
    x * 2
}

#[test]
fn memory_settings_stay_memory() {
    temp_root();
    for i in 0..20 {
        assert_eq!(bounded(i), i * 2);
    }
    let s = bounded_cache().stats();
    assert_eq!(s.kind, "memory");
    assert_eq!(s.maxsize, Some(10));
    assert!(s.entries <= 10);
    assert_eq!(s.ttl_secs, Some(3600.0));
    // LFU is served by the std map whatever the features.
    assert_eq!(s.backend, Backend::Std);
}

#[ucache(folder_name = "sel-folder")]
fn with_folder(x: u32) -> String {
    format!("folder {x}")
}

#[test]
fn folder_name_is_lmdb() {
    temp_root();
    assert_eq!(with_folder(3), "folder 3");
    assert_eq!(with_folder(3), "folder 3");
    let s = with_folder_cache().stats();
    assert_eq!(s.kind, "lmdb");
    assert_eq!(
        s.selection.as_deref(),
        Some("persistence asked for (folder_name/persist) → lmdb")
    );
    assert_served(&s, cfg!(feature = "lmdb"), Backend::Lmdb);
    assert_eq!(s.hits, 1);
}

#[ucache(persist = true)]
fn persisted(x: u32) -> u32 {
    x * 3
}

#[test]
fn persist_is_lmdb() {
    temp_root();
    assert_eq!(persisted(5), 15);
    let s = persisted_cache().stats();
    assert_eq!(s.kind, "lmdb");
    assert_served(&s, cfg!(feature = "lmdb"), Backend::Lmdb);
    // No folder_name: the folder is named after the calling crate.
    if cfg!(feature = "lmdb") {
        let folder = s.folder.expect("an LMDB cache reports its folder");
        assert!(folder.ends_with("twat-ucache"), "{}", folder.display());
    }
}

#[ucache(compress = true, folder_name = "sel-compress")]
fn compressed(x: u32) -> Vec<u8> {
    vec![x as u8; 4096]
}

#[test]
fn compress_is_files() {
    temp_root();
    assert_eq!(compressed(7), vec![7u8; 4096]);
    assert_eq!(compressed(7), vec![7u8; 4096]);
    let s = compressed_cache().stats();
    assert_eq!(s.kind, "files");
    assert_eq!(s.selection.as_deref(), Some("compress = true → files"));
    assert_served(&s, cfg!(feature = "files"), Backend::Files);
    if cfg!(feature = "files") {
        assert!(s.bytes < 4096, "compressed on disk: {s:?}");
    }
}

#[ucache(preferred_engine = "memory", folder_name = "sel-ignored")]
fn prefers_memory(x: u32) -> u32 {
    x
}

#[test]
fn preferred_memory_beats_persistence_hints() {
    temp_root();
    assert_eq!(prefers_memory(4), 4);
    let s = prefers_memory_cache().stats();
    assert_eq!(s.kind, "memory");
    assert_eq!(
        s.selection.as_deref(),
        Some("preferred_engine = \"memory\"")
    );
}

#[ucache(preferred_engine = "lmdb")]
fn prefers_lmdb(x: u32) -> u32 {
    x + 10
}

#[test]
fn preferred_lmdb() {
    temp_root();
    assert_eq!(prefers_lmdb(1), 11);
    let s = prefers_lmdb_cache().stats();
    assert_eq!(s.kind, "lmdb");
    assert_eq!(s.selection.as_deref(), Some("preferred_engine = \"lmdb\""));
    assert_served(&s, cfg!(feature = "lmdb"), Backend::Lmdb);
}

#[ucache(preferred_engine = "files", compress = false)]
fn prefers_files(x: u32) -> u32 {
    x + 20
}

#[test]
fn preferred_files() {
    temp_root();
    assert_eq!(prefers_files(1), 21);
    let s = prefers_files_cache().stats();
    assert_eq!(s.kind, "files");
    assert_served(&s, cfg!(feature = "files"), Backend::Files);
}

#[ucache(preferred_engine = "files", compress = true, folder_name = "sel-both")]
fn preference_over_compress(x: u32) -> u32 {
    x
}

#[test]
fn preference_is_reported_over_other_hints() {
    temp_root();
    assert_eq!(preference_over_compress(2), 2);
    let s = preference_over_compress_cache().stats();
    assert_eq!(s.selection.as_deref(), Some("preferred_engine = \"files\""));
}

#[ucache(use_async = true)]
fn sync_with_use_async(x: u32) -> u32 {
    x
}

#[test]
fn use_async_on_a_plain_fn_changes_nothing_and_says_so() {
    temp_root();
    assert_eq!(sync_with_use_async(8), 8);
    let s = sync_with_use_async_cache().stats();
    assert_eq!(s.kind, "memory");
    assert_eq!(
        s.selection.as_deref(),
        Some("no persistence asked for → memory (use_async applies to async fns only)")
    );
}

#[cfg(feature = "async")]
mod async_fns {
    use super::*;

    #[ucache(ttl = 30)]
    async fn fetch(x: u32) -> u32 {
        x * 100
    }

    #[test]
    fn async_fn_is_acache() {
        temp_root();
        futures_executor::block_on(async {
            assert_eq!(fetch(2).await, 200);
            assert_eq!(fetch(2).await, 200);
        });
        let s = fetch_cache().stats();
        assert_eq!(s.kind, "memory");
        assert_eq!(s.selection.as_deref(), Some("async fn → acache"));
        assert!(is_memory(s.backend), "{s:?}");
        assert_eq!((s.hits, s.misses), (1, 1));
    }

    #[ucache(use_async = true, folder_name = "sel-async")]
    async fn fetch_async_hint(x: u32) -> u32 {
        x
    }

    #[test]
    fn async_fn_with_use_async_is_acache() {
        temp_root();
        assert_eq!(futures_executor::block_on(fetch_async_hint(1)), 1);
        assert_eq!(fetch_async_hint_cache().stats().kind, "memory");
    }

    #[ucache(preferred_engine = "lmdb", folder_name = "sel-async-lmdb")]
    async fn fetch_lmdb(x: u32) -> String {
        format!("lmdb {x}")
    }

    #[test]
    fn async_fn_preferring_lmdb() {
        temp_root();
        assert_eq!(futures_executor::block_on(fetch_lmdb(1)), "lmdb 1");
        let s = fetch_lmdb_cache().stats();
        assert_eq!(
            s.kind,
            if cfg!(feature = "lmdb") {
                "lmdb"
            } else {
                "memory"
            }
        );
        assert_served(&s, cfg!(feature = "lmdb"), Backend::Lmdb);
    }

    #[ucache(preferred_engine = "files", folder_name = "sel-async-files")]
    async fn fetch_files(x: u32) -> String {
        format!("files {x}")
    }

    #[test]
    fn async_fn_preferring_files() {
        temp_root();
        assert_eq!(futures_executor::block_on(fetch_files(1)), "files 1");
        let s = fetch_files_cache().stats();
        assert_eq!(
            s.kind,
            if cfg!(feature = "files") {
                "files"
            } else {
                "memory"
            }
        );
        assert_served(&s, cfg!(feature = "files"), Backend::Files);
    }

    // A plain fn preferring Redis gets the synchronous RedisCache. Nothing listens on
    // port 1: with the feature on Redis is unreachable, without it Redis is compiled out;
    // both serve from memory and say why.
    static REDIS_CALLS: AtomicUsize = AtomicUsize::new(0);

    #[ucache(preferred_engine = "redis", url = "redis://127.0.0.1:1", maxsize = 10)]
    fn plain_redis(x: u32) -> u32 {
        REDIS_CALLS.fetch_add(1, Ordering::SeqCst);
        x + 2
    }

    #[test]
    fn plain_fn_preferring_redis_gets_redis_cache() {
        temp_root();
        assert_eq!(plain_redis(1), 3);
        assert_eq!(plain_redis(1), 3);
        let s = plain_redis_cache().stats();
        assert_eq!(s.selection.as_deref(), Some("preferred_engine = \"redis\""));
        assert_eq!(s.kind, "redis");
        assert_eq!(s.maxsize, Some(10));
        assert!(is_memory(s.backend), "{s:?}");
        assert_eq!((s.hits, s.misses), (1, 1), "{s:?}");
        let why = s.fallback_reason.unwrap_or_default();
        if cfg!(feature = "redis") {
            assert!(why.contains("127.0.0.1:1"), "{why}");
        } else {
            assert!(why.contains("feature"), "{why}");
        }
        let _: &twat_ucache::RedisCache<u32, u32> = plain_redis_cache();
        assert_eq!(REDIS_CALLS.load(Ordering::SeqCst), 1, "cached (in memory)");
    }

    // Nothing listens on port 1: with the feature on Redis is unreachable, without it
    // Redis is compiled out; both serve from memory and say why.
    #[ucache(preferred_engine = "redis", url = "redis://127.0.0.1:1")]
    async fn fetch_redis(x: u32) -> u32 {
        x + 1
    }

    #[test]
    fn async_fn_preferring_redis_falls_back_when_unreachable() {
        temp_root();
        futures_executor::block_on(async {
            assert_eq!(fetch_redis(1).await, 2);
            assert_eq!(fetch_redis(1).await, 2);
        });
        let s = fetch_redis_cache().stats();
        assert_eq!(
            s.kind,
            if cfg!(feature = "redis") {
                "redis"
            } else {
                "memory"
            }
        );
        assert_eq!(s.selection.as_deref(), Some("async fn → acache"));
        assert!(is_memory(s.backend), "{s:?}");
        let why = s.fallback_reason.unwrap_or_default();
        if cfg!(feature = "redis") {
            assert!(why.contains("127.0.0.1:1"), "{why}");
        } else {
            assert!(why.contains("feature"), "{why}");
        }
    }
}

/// `TWAT_CACHE_DISABLE=1` is read once per process, so it is checked in a child process:
/// every engine calls straight through and stores nothing.
#[test]
fn disable_env_calls_straight_through() {
    temp_root();
    if std::env::var_os("TWAT_UCACHE_DISABLE_CHILD").is_some() {
        let before = PLAIN_CALLS.load(Ordering::SeqCst);
        assert_eq!(plain(40), 41);
        assert_eq!(plain(40), 41);
        assert_eq!(PLAIN_CALLS.load(Ordering::SeqCst) - before, 2);
        assert!(plain_cache().is_empty());
        assert_eq!(with_folder(9), "folder 9");
        assert!(with_folder_cache().is_empty());
        assert_eq!(compressed(9), vec![9u8; 4096]);
        assert!(compressed_cache().is_empty());
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "disable_env_calls_straight_through",
            "--nocapture",
        ])
        .env("TWAT_UCACHE_DISABLE_CHILD", "1")
        .env("TWAT_CACHE_DISABLE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}
