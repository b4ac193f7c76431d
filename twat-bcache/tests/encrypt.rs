//! Encryption at rest (feature `encrypt`) against a real LMDB environment in temp folders.
//! `TWAT_CACHE_KEY` is process-global, so the tests that set it re-run this binary as a
//! child (`child_entry`) with the variable set for the child only. The scenarios are
//! written once, for every persistent cache, in `twat_cache_testkit::encrypt`; this file
//! gives them raw access to the LMDB entries.
#![cfg(all(feature = "lmdb", feature = "encrypt"))]

use std::path::Path;

use twat_bcache::heed::types::Bytes;
use twat_bcache::heed::{CommitOrAbort, Database};
use twat_bcache::{Inner, LmdbCache, Namespace};
use twat_cache_common::key::digest;
use twat_cache_testkit::encrypt::{self, EncryptedStore};

/// The cache the shared scenarios run on.
type Tested<V> = twat_bcache::LmdbCache<u64, V>;
twat_cache_testkit::encrypt_tests!(
    Tested<String>,
    twat_bcache::bcache(folder_name = "enc-macro")
);

/// The `entries` database of the cache's environment, for tampering.
fn entries_db(
    c: &LmdbCache<u64, String>,
) -> (twat_bcache::heed::Env, Database<'static, Bytes, Bytes>) {
    let Inner::Store(store) = c.inner() else {
        panic!("not on lmdb")
    };
    let env = store.env().clone();
    let rtxn = env.read_txn().unwrap();
    let db = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| {
            dbo.open_database::<Bytes, Bytes>(rtxn, Some("entries"))
                .map(CommitOrAbort::<_, ()>::Commit)
        })
        .unwrap()
        .unwrap_commit()
        .unwrap();
    (env, db)
}

/// The stored key of `k` in namespace `enc` and its LMDB key (namespace hash ‖ digest).
fn keys_of(k: u64) -> (Vec<u8>, Vec<u8>) {
    let ns = Namespace::named("enc");
    let sk = ns.stored_key(&twat_cache_common::codec::encode("key", &k).unwrap());
    let mut dbk = ns.hash().to_be_bytes().to_vec();
    dbk.extend_from_slice(&digest(&sk));
    (sk, dbk)
}

impl EncryptedStore<EncryptionHooks> for Tested<String> {
    fn raw(&self, k: u64) -> Option<Vec<u8>> {
        let (env, db) = entries_db(self);
        let (_, dbk) = keys_of(k);
        let rtxn = env.read_txn().unwrap();
        db.get(&rtxn, &dbk).unwrap().map(<[u8]>::to_vec)
    }

    fn put_raw(&self, k: u64, bytes: &[u8]) {
        let (env, db) = entries_db(self);
        let (_, dbk) = keys_of(k);
        let mut wtxn = env.write_txn().unwrap();
        db.put(&mut wtxn, &dbk, bytes).unwrap();
        wtxn.commit().unwrap();
    }

    fn stored_key(&self, k: u64) -> Vec<u8> {
        keys_of(k).0
    }

    /// The LMDB data file, where the entries are.
    fn on_disk(folder: &Path) -> Vec<u8> {
        std::fs::read(folder.join("data.mdb")).unwrap()
    }
}

#[test]
fn an_entry_copied_under_another_key_is_a_miss() {
    encrypt::entry_copied_under_another_key_is_a_miss::<Tested<String>, EncryptionHooks>();
}
