//! The store contract every persistent cache keeps, run on LMDB (the scenarios are in
//! `twat_cache_testkit::conformance`).
#![cfg(all(unix, feature = "lmdb"))]

twat_cache_testkit::conformance_tests!(twat_bcache::LmdbCache<u64, Vec<u8>>);
