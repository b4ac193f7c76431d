//! `lock = true`: cross-process single-flight, with real processes (this test binary run
//! again in child mode) sharing one file-cache folder. The scenarios are written once,
//! for every persistent cache, in `twat_cache_testkit::lock`.
#![cfg(all(unix, feature = "files"))]
#![allow(missing_docs)]

/// The cache the shared scenarios run on.
type Tested<V> = twat_fcache::FileCache<u64, V>;
twat_cache_testkit::lock_tests!(twat_fcache::fcache, Tested<u64>);
