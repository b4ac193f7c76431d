//! The stand-in for [`LmdbStore`] when the `lmdb` feature is off: it never opens, so every
//! `LmdbCache` serves from memory (the compile-time fallback).

use std::path::Path;
use std::time::Duration;

use twat_cache_common::{Backend, CacheError, Policy};
use twat_cache_store::{Digest, Found, Payload, Store, Stored};

/// LMDB is compiled out (feature `lmdb`): no value of this type exists.
#[derive(Debug)]
pub enum LmdbStore {}

impl LmdbStore {
    pub(crate) fn open(
        _o: &twat_cache_store::Opening<'_>,
        _durable: bool,
        _map_size: Option<usize>,
        _max_map_size: Option<usize>,
    ) -> Result<Self, String> {
        Err(crate::NO_LMDB_FEATURE.to_owned())
    }
}

impl Store for LmdbStore {
    type Builder<K, V> = crate::LmdbCacheBuilder<K, V>;
    const BACKEND: Backend = Backend::Lmdb;
    const POLICIES: &'static [Policy] = &[Policy::Lru, Policy::Fifo];
    const AVAILABLE: bool = false;
    const MIN_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

    fn lookup<T>(&self, _: &[u8], _: bool, _: impl FnOnce(Payload<'_>) -> Option<T>) -> Found<T> {
        match *self {}
    }
    fn put(
        &self,
        _: &[u8],
        _: &[Digest],
        _: impl FnOnce(&mut Vec<u8>) -> Result<(), CacheError>,
    ) -> Result<Stored, CacheError> {
        match *self {}
    }
    fn touch(&self, _: &[Digest]) {
        match *self {}
    }
    fn remove(&self, _: &[u8]) -> bool {
        match *self {}
    }
    fn clear(&self) {
        match *self {}
    }
    fn len(&self) -> usize {
        match *self {}
    }
    fn bytes(&self) -> u64 {
        match *self {}
    }
    fn sweep_expired(&self) -> u64 {
        match *self {}
    }
    fn folder(&self) -> Option<&Path> {
        match *self {}
    }
    fn encrypted(&self) -> bool {
        match *self {}
    }
}
