//! The hasher every shard of a memory cache shares.
//!
//! `foldhash` (the default hasher of `hashbrown` and `quick_cache`): a folded 64-bit
//! multiply per word, a few instructions for the integer and short string keys memoized
//! functions usually take, against ~20 ns for std's SipHash-1-3 on the std-only path.
//!
//! HashDoS: every cache gets its own random seed, so an attacker who does not see the
//! process cannot precompute colliding keys; foldhash does not claim the resistance of
//! SipHash against one who can probe timings at length. A memory cache's keys are the
//! arguments of a function the program calls itself; a cache fed with keys chosen by a
//! hostile party, at high volume, should bound `maxsize` (collisions then cost a bounded
//! shard, not the process).
//!
//! One hash serves both the choice of shard (high bits) and the map inside it.

/// The per-cache seeded hasher.
#[derive(Clone, Default)]
pub(crate) struct KeyHasher(foldhash::fast::RandomState);

impl KeyHasher {
    pub(crate) fn new() -> Self {
        KeyHasher::default()
    }
}

impl std::hash::BuildHasher for KeyHasher {
    type Hasher = foldhash::fast::FoldHasher<'static>;

    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}
