//! `clear_all()` reaches every registered cache of the process, so it runs in a test binary
//! of its own: beside the other tests it would empty their caches mid-assertion (the ttl
//! sweep test saw its entries vanish without expiring).

use twat_mcache::MemoryCache;

#[test]
fn clear_all_and_stats_all_reach_registered_caches() {
    let c = MemoryCache::<u32, u32>::builder()
        .name("registry-test")
        .build()
        .unwrap();
    c.insert(1, 1);
    let all = twat_mcache::stats_all();
    let mine = all.iter().find(|s| s.name == "registry-test").unwrap();
    assert_eq!(mine.entries, 1);
    assert_eq!(mine.kind, "memory");
    twat_mcache::clear_all();
    assert!(c.is_empty());
}
