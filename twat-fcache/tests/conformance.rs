//! The store contract every persistent cache keeps, run on the file store (the scenarios
//! are in `twat_cache_testkit::conformance`).
#![cfg(all(unix, feature = "files"))]

twat_cache_testkit::conformance_tests!(twat_fcache::FileCache<u64, Vec<u8>>);
