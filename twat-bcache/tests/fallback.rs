//! Compile-time fallback: without the `lmdb` feature, `LmdbCache` serves from memory and
//! says why; with it, the same code serves from LMDB.

use twat_bcache::{Backend, LmdbCache, NO_LMDB_FEATURE};

#[test]
fn builder_cache_reports_its_backend() {
    let dir = tempfile::tempdir().unwrap();
    let c = LmdbCache::<String, u32>::builder()
        .cache_dir(dir.path())
        .name("fallback")
        .maxsize(2)
        .build()
        .unwrap();
    assert_eq!(c.get_or_insert_with("a".into(), || 1), 1);
    assert_eq!(c.get_or_insert_with("a".into(), || 2), 1);
    c.insert("b".into(), 2);
    c.insert("c".into(), 3);
    assert_eq!(c.len(), 2, "maxsize holds on either backend");
    let s = c.stats();
    assert_eq!(s.kind, "lmdb");
    assert_eq!(s.maxsize, Some(2));
    if cfg!(feature = "lmdb") {
        assert_eq!(c.backend(), Backend::Lmdb);
        assert_eq!(s.fallback_reason, None);
    } else {
        assert!(c.backend().is_memory());
        assert_eq!(s.backend, c.backend());
        assert_eq!(s.fallback_reason.as_deref(), Some(NO_LMDB_FEATURE));
        assert!(!dir.path().join("default").exists(), "nothing on disk");
    }
}
