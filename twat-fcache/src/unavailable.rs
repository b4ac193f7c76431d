//! The stand-in for [`FileStore`] when the `files` feature is off: it never opens, so every
//! `FileCache` serves from memory (the compile-time fallback).

use std::path::Path;
use std::time::Duration;

use twat_cache_common::{Backend, CacheError, Policy};
use twat_cache_store::{Digest, Found, Payload, Store, Stored};

/// The file store is compiled out (feature `files`): no value of this type exists.
#[derive(Debug)]
pub enum FileStore {}

impl FileStore {
    pub(crate) fn open(
        _o: &twat_cache_store::Opening<'_>,
        _compress: bool,
    ) -> Result<Self, String> {
        Err(crate::NO_FILES_FEATURE.to_owned())
    }
}

impl Store for FileStore {
    type Builder<K, V> = crate::FileCacheBuilder<K, V>;
    const BACKEND: Backend = Backend::Files;
    const POLICIES: &'static [Policy] = &[Policy::Lru, Policy::Fifo];
    const AVAILABLE: bool = false;
    const MIN_SWEEP_INTERVAL: Duration = Duration::ZERO;

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
