//! The in-memory index of one namespace's files: sizes, ages and expiry times, so that
//! bounds and ttl sweeps never walk the directory. Built by one scan when the cache opens,
//! kept up to date by this process's writes and removals, and rebuilt by an occasional
//! rescan (to learn about other processes' writes).

use std::collections::{BTreeSet, HashMap};

/// An entry's 128-bit key digest: its file name.
pub(crate) use twat_cache_store::Digest;

/// What the index knows about one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    /// File size in bytes.
    pub size: u64,
    /// When it was written (Unix ms): eviction removes the oldest first.
    pub created_ms: u64,
    /// When it expires (Unix ms), 0 = never.
    pub expires_ms: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    map: HashMap<Digest, Meta>,
    by_age: BTreeSet<(u64, Digest)>,
    by_expiry: BTreeSet<(u64, Digest)>,
    bytes: u64,
}

impl Index {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn get(&self, d: &Digest) -> Option<Meta> {
        self.map.get(d).copied()
    }

    pub fn upsert(&mut self, d: Digest, m: Meta) {
        if let Some(old) = self.map.insert(d, m) {
            self.unlink(&d, &old);
        }
        self.by_age.insert((m.created_ms, d));
        if m.expires_ms != 0 {
            self.by_expiry.insert((m.expires_ms, d));
        }
        self.bytes += m.size;
    }

    pub fn remove(&mut self, d: &Digest) -> Option<Meta> {
        let old = self.map.remove(d)?;
        self.unlink(d, &old);
        Some(old)
    }

    fn unlink(&mut self, d: &Digest, m: &Meta) {
        self.by_age.remove(&(m.created_ms, *d));
        if m.expires_ms != 0 {
            self.by_expiry.remove(&(m.expires_ms, *d));
        }
        self.bytes -= m.size;
    }

    /// Removes and returns the oldest entry other than `keep`.
    pub fn pop_oldest_except(&mut self, keep: &Digest) -> Option<Digest> {
        let d = self.by_age.iter().map(|(_, d)| *d).find(|d| d != keep)?;
        self.remove(&d);
        Some(d)
    }

    /// Entries whose recorded expiry is at or before `now_ms` (still in the index).
    pub fn due(&self, now_ms: u64) -> Vec<Digest> {
        self.by_expiry
            .range(..=(now_ms, [0xff; 16]))
            .map(|(_, d)| *d)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_order_and_expiry() {
        let mut i = Index::default();
        let m = |size, created_ms, expires_ms| Meta {
            size,
            created_ms,
            expires_ms,
        };
        i.upsert([1; 16], m(10, 5, 0));
        i.upsert([2; 16], m(20, 3, 100));
        i.upsert([3; 16], m(30, 4, 50));
        assert_eq!((i.len(), i.bytes()), (3, 60));
        i.upsert([3; 16], m(1, 9, 0)); // rewritten: newer, no expiry
        assert_eq!((i.len(), i.bytes()), (3, 31));
        assert_eq!(i.due(99), Vec::<Digest>::new());
        assert_eq!(i.due(100), vec![[2; 16]]);
        assert_eq!(i.pop_oldest_except(&[2; 16]), Some([1; 16]));
        assert_eq!(i.pop_oldest_except(&[9; 16]), Some([2; 16]));
        assert_eq!((i.len(), i.bytes()), (1, 1));
        assert!(i.due(u64::MAX).is_empty());
    }
}
