//! Built without the `files` feature, every FileCache serves from memory (the compile-time
//! fallback) and says why.
#![cfg(not(feature = "files"))]

use twat_fcache::{FileCache, Inner, fcache};

#[test]
fn serves_from_memory_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let c: FileCache<u32, String> = FileCache::builder()
        .cache_dir(dir.path())
        .name("nofiles")
        .build()
        .unwrap();
    assert!(c.backend().is_memory());
    assert!(matches!(c.inner(), Inner::Memory(_)));
    assert!(c.fallback_reason().unwrap().contains("files"));
    assert_eq!(c.get_or_insert_with(1, || "one".into()), "one");
    assert_eq!(c.get(&1).as_deref(), Some("one"));
    assert_eq!(c.stats().kind, "files");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[fcache(compress = true)]
fn double(x: u32) -> u32 {
    x * 2
}

#[test]
fn the_macro_still_memoizes() {
    assert_eq!(double(4), 8);
    assert_eq!(double(4), 8);
    assert_eq!(double_cache().stats().hits, 1);
    assert!(double_cache().backend().is_memory());
}
