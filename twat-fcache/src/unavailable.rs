//! The stand-in for [`FileStore`] when the `files` feature is off: every cache over it serves
//! from memory (the compile-time fallback).

use twat_cache_common::Backend;
use twat_cache_store::unavailable::{Missing, Unavailable};

/// The `files` feature is off.
#[derive(Debug)]
pub struct NoFiles;

impl Missing for NoFiles {
    type Builder<K, V> = crate::FileCacheBuilder<K, V>;
    const BACKEND: Backend = Backend::Files;
    const REASON: &'static str = crate::NO_FILES_FEATURE;
}

/// No store: compiled out by the `files` feature.
pub type FileStore = Unavailable<NoFiles>;
