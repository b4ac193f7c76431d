//! `lock = true`: cross-process single-flight, with real processes (this test binary run
//! again in child mode) sharing one LMDB folder. The scenarios are written once, for
//! every persistent cache, in `twat_cache_testkit::lock`.
#![cfg(all(unix, feature = "lmdb"))]
#![allow(missing_docs)]

/// The cache the shared scenarios run on.
type Tested<V> = twat_bcache::LmdbCache<u64, V>;
twat_cache_testkit::lock_tests!(twat_bcache::bcache, Tested<u64>);
