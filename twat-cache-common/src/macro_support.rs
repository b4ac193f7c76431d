//! What the decorators' generated code needs when `key = <expr>` does not write its type.
//! Not a public API: every decorator crate re-exports it under its hidden `__private`.
//!
//! A `static` must name its type, and an untyped key's type is known only to the compiler.
//! So the decorator puts the cache in a [`CacheSlot`] (a `static` that holds it as
//! `dyn Any`) inside a helper function that is generic over the key type, and that type is
//! inferred from the key expression: by the decorated function from the key it computes,
//! and by `f_cache()` from a closure that is never called ([`key_type_of`]). A `static` in
//! a generic function is one item however many times the function is instantiated, so the
//! function keeps one cache.
//!
//! ```
//! use std::marker::PhantomData;
//! use twat_cache_common::macro_support::{CacheSlot, key_type};
//!
//! fn cache_of<K: Send + Sync + 'static>(_: PhantomData<K>) -> &'static Vec<K> {
//!     static SLOT: CacheSlot = CacheSlot::new();
//!     SLOT.get_or_init(Vec::new, "cache_of")
//! }
//! let a: *const Vec<u64> = cache_of(key_type(&7_u64));
//! let b: *const Vec<u64> = cache_of(key_type(&8_u64));
//! assert_eq!(a, b, "one slot, one cache");
//! ```

use std::any::Any;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::OnceLock;

pub use serde::Serialize;

/// What every cache needs of its key; named in the generated code so that a key expression
/// of the wrong type is one error that says so.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a cache key",
    label = "the type of this `key` expression",
    note = "a cache key is an owned value that is `Hash + Eq + Clone + Send + Sync + 'static` \
            (integers, `String`, tuples and `#[derive(Hash, PartialEq, Eq, Clone)]` types are)"
)]
pub trait MemoryKey: Hash + Eq + Clone + Send + Sync + 'static {}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> MemoryKey for K {}

/// [`MemoryKey`], and `Serialize`: the key of a cache that stores on disk or in Redis.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the key of a persistent cache",
    label = "the type of this `key` expression",
    note = "a persistent cache stores its keys: besides `Hash + Eq + Clone + Send + Sync + \
            'static`, the key must be `serde::Serialize`"
)]
pub trait StoredKey: MemoryKey + Serialize {}

impl<K: MemoryKey + Serialize> StoredKey for K {}

/// A `static` home for one decorated function's cache whose key type cannot be written.
pub struct CacheSlot(OnceLock<Box<dyn Any + Send + Sync>>);

impl CacheSlot {
    /// An empty slot, for a `static`.
    pub const fn new() -> Self {
        CacheSlot(OnceLock::new())
    }

    /// The cache in the slot, built by `init` on first use.
    ///
    /// # Panics
    ///
    /// When the slot already holds a cache of another type: the key expression gave two
    /// different types (a generic `impl` whose key depends on its parameter, or a key built
    /// from a closure). `who` names the function; the message says to write the key's type.
    ///
    /// ```should_panic
    /// use twat_cache_common::macro_support::CacheSlot;
    /// static SLOT: CacheSlot = CacheSlot::new();
    /// let _: &u8 = SLOT.get_or_init(|| 1_u8, "f");
    /// let _: &u16 = SLOT.get_or_init(|| 1_u16, "f"); // another type: panics
    /// ```
    pub fn get_or_init<C: Any + Send + Sync>(
        &'static self,
        init: impl FnOnce() -> C,
        who: &'static str,
    ) -> &'static C {
        let cache = self.0.get_or_init(|| Box::new(init()));
        match cache.downcast_ref::<C>() {
            Some(c) => c,
            None => panic!(
                "{who}: the key expression has more than one type (the cache holds another \
                 key type than `{}`); write it out: `key: Type = expr`",
                std::any::type_name::<C>()
            ),
        }
    }
}

impl Default for CacheSlot {
    fn default() -> Self {
        Self::new()
    }
}

/// The type of a key the decorated function computed, for inference.
pub fn key_type<K>(_key: &K) -> PhantomData<K> {
    PhantomData
}

/// The type a closure would return, without calling it: how `f_cache()` learns the key's
/// type from the key expression.
pub fn key_type_of<K>(_witness: impl FnOnce() -> K) -> PhantomData<K> {
    PhantomData
}

/// [`key_type_of`] for `async fn`s, whose key expression may `.await`.
pub fn key_type_of_future<F: Future<Output = K>, K>(
    _witness: impl FnOnce() -> F,
) -> PhantomData<K> {
    PhantomData
}
