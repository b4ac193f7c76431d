//! The stand-in for [`LmdbStore`] when the `lmdb` feature is off: every cache over it serves
//! from memory (the compile-time fallback).

use twat_cache_common::Backend;
use twat_cache_store::unavailable::{Missing, Unavailable};

/// The `lmdb` feature is off.
#[derive(Debug)]
pub struct NoLmdb;

impl Missing for NoLmdb {
    type Builder<K, V> = crate::LmdbCacheBuilder<K, V>;
    const BACKEND: Backend = Backend::Lmdb;
    const REASON: &'static str = crate::NO_LMDB_FEATURE;
}

/// No store: compiled out by the `lmdb` feature.
pub type LmdbStore = Unavailable<NoLmdb>;
