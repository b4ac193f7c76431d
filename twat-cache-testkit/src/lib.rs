//! Test support shared by the twat-cache test suites (not published).
//!
//! The persistent caches (twat-bcache on LMDB, twat-fcache on files) promise the same
//! behaviour under the same faults, so their tests are the same scenarios: written here
//! once, generic over the cache, and run by each crate's test files against the real
//! thing (real folders in temp dirs, real child processes).
//!
//! - [`child`]: the test binary run again as a child for one test; `OBSERVED`/`SKIPPED`
//!   reporting.
//! - [`inject`] (Unix): faults from the environment: a small tmpfs, a file-size rlimit,
//!   an unprivileged child, permission bits.
//! - [`cache`]: the traits a scenario sees a cache through, implemented once for every
//!   `PersistentCache<S, u64, V>` and every builder.
//! - [`conformance`]: the contract every store keeps (round trip, bounds and policies,
//!   ttl, damage, many processes, fallback); [`conformance_tests!`] runs it on a store.
//! - [`lock`] (Unix): cross-process single-flight; [`lock_tests!`] expands them all.
//! - [`faults`] (Unix): full disk, read-only and refused folders.
//! - [`encrypt`]: encryption at rest, and the `TWAT_CACHE_KEY` child protocol.
//! - [`redis`] (Unix): real `redis-server`s and a real three-node Redis Cluster on
//!   loopback, started and killed by the tests.
//!
//! A scenario's assertions live here, so a failing test names a line of this crate;
//! the test file names the scenario and the cache it runs on.

pub mod cache;
pub mod child;
#[cfg(unix)]
pub mod conformance;
pub mod encrypt;
#[cfg(unix)]
pub mod faults;
pub mod freshness;
#[cfg(unix)]
pub mod inject;
#[cfg(unix)]
pub mod lock;
#[cfg(unix)]
pub mod redis;
