//! `backend = "lmdb"` and `"files"`: twat-bcache and twat-fcache under the async layer.

use twat_acache::AsyncCache;
#[cfg(any(feature = "lmdb", feature = "files"))]
use twat_acache::Backend;

#[cfg(feature = "lmdb")]
#[test]
fn lmdb_backend_round_trip_and_shared_across_caches() {
    let dir = tempfile::tempdir().unwrap();
    let build = || {
        AsyncCache::<String, u64>::builder()
            .name("geo")
            .cache_dir(dir.path())
            .folder_name("acache-lmdb")
            .backend("lmdb")
            .build()
            .unwrap()
    };
    let a = build();
    assert_eq!(a.backend(), Backend::Lmdb);
    futures_executor::block_on(async {
        assert_eq!(a.get_or_insert_with("x".into(), async { 7 }).await, 7);
        let b = build();
        assert_eq!(b.get(&"x".to_string()).await, Some(7), "stored in LMDB");
        assert!(b.remove(&"x".to_string()).await);
    });
}

/// `l1` on a persistent backend: repeat hits come from memory, store hits are promoted.
#[cfg(feature = "lmdb")]
#[test]
fn lmdb_backend_with_a_memory_tier() {
    let dir = tempfile::tempdir().unwrap();
    let build = || {
        AsyncCache::<u32, u64>::builder()
            .name("tiered")
            .cache_dir(dir.path())
            .folder_name("acache-l1")
            .backend("lmdb")
            .l1(64)
            .build()
            .unwrap()
    };
    let a = build();
    futures_executor::block_on(async {
        assert_eq!(a.get_or_insert_with(1, async { 7 }).await, 7);
        assert_eq!(a.get_or_insert_with(1, async { 8 }).await, 7);
        assert_eq!(a.stats().l1_hits, 1, "{:?}", a.stats());
        let b = build(); // another object: its first read comes from LMDB, then memory
        assert_eq!(b.get(&1).await, Some(7));
        assert_eq!(b.get(&1).await, Some(7));
        assert_eq!(b.stats().l1_hits, 1, "{:?}", b.stats());
    });
}

#[cfg(feature = "files")]
#[test]
fn files_backend_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let c = AsyncCache::<u32, Vec<u8>>::builder()
        .name("tiles")
        .cache_dir(dir.path())
        .folder_name("acache-files")
        .backend("files")
        .build()
        .unwrap();
    assert_eq!(c.backend(), Backend::Files);
    futures_executor::block_on(async {
        assert_eq!(
            c.get_or_insert_with(1, async { vec![1, 2] }).await,
            vec![1, 2]
        );
        assert_eq!(c.get(&1).await, Some(vec![1, 2]));
        c.clear().await;
        assert!(c.is_empty());
    });
}

#[test]
fn memory_backend_by_name() {
    let c = AsyncCache::<u32, u32>::builder()
        .backend("memory")
        .build()
        .unwrap();
    assert!(c.backend().is_memory());
}
