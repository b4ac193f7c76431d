//! Encryption at rest (feature `encrypt`) against a real LMDB environment in temp folders.
//! `TWAT_CACHE_KEY` is process-global, so the tests that set it re-run this binary as a
//! child (`child_entry`) with the variable set for the child only.
#![cfg(all(feature = "lmdb", feature = "encrypt"))]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use twat_bcache::heed::types::Bytes;
use twat_bcache::heed::{CommitOrAbort, Database};
use twat_bcache::{Backend, Inner, LmdbCache, Namespace, bcache};
use twat_cache_common::Entry;
use twat_cache_common::key::digest;

const ROLE: &str = "TWAT_BCACHE_ENCRYPT_CHILD";
const DIR: &str = "TWAT_BCACHE_ENCRYPT_DIR";
const KEY_A: [u8; 32] = [0xa5; 32];
const KEY_B: [u8; 32] = [0x5a; 32];
/// A marker that must never appear on disk when values are encrypted.
const MARKER: &str = "PLAINTEXT-MARKER-7f3e";

fn value_of(k: u64) -> String {
    format!("{MARKER} value {k} {}", "x".repeat((k % 50) as usize))
}

fn builder(dir: &Path) -> twat_bcache::LmdbCacheBuilder<u64, String> {
    LmdbCache::builder()
        .cache_dir(dir)
        .folder_name("enc")
        .name("enc")
}

fn keyed(dir: &Path, key: [u8; 32]) -> LmdbCache<u64, String> {
    builder(dir).encryption_key(key).build().unwrap()
}

fn plain(dir: &Path) -> LmdbCache<u64, String> {
    builder(dir).build().unwrap()
}

fn data_file(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("enc/data.mdb")).unwrap()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The `entries` database of the cache's environment, for tampering.
fn entries_db<K, V>(
    c: &LmdbCache<K, V>,
) -> (twat_bcache::heed::Env, Database<'static, Bytes, Bytes>)
where
    K: std::hash::Hash + Eq + Clone + serde::Serialize + Send + Sync + 'static,
    V: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let Inner::Lmdb(store) = c.inner() else {
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

/// Rewrites the raw LMDB value under `k` with `f`.
fn rewrite(c: &LmdbCache<u64, String>, k: u64, f: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let (env, db) = entries_db(c);
    let (_, dbk) = keys_of(k);
    let mut wtxn = env.write_txn().unwrap();
    let old = db
        .get(&wtxn, &dbk)
        .unwrap()
        .expect("entry present")
        .to_vec();
    db.put(&mut wtxn, &dbk, &f(old)).unwrap();
    wtxn.commit().unwrap();
}

fn raw(c: &LmdbCache<u64, String>, k: u64) -> Option<Vec<u8>> {
    let (env, db) = entries_db(c);
    let (_, dbk) = keys_of(k);
    let rtxn = env.read_txn().unwrap();
    db.get(&rtxn, &dbk).unwrap().map(<[u8]>::to_vec)
}

/// Asserts `get_or_insert_with` recomputes `k` (a miss) and returns the right value.
fn assert_recomputed(c: &LmdbCache<u64, String>, k: u64) {
    let calls = AtomicUsize::new(0);
    let v = c.get_or_insert_with(k, || {
        calls.fetch_add(1, Ordering::SeqCst);
        value_of(k)
    });
    assert_eq!(v, value_of(k));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "key {k} was not a miss");
}

#[test]
fn round_trip_and_no_plaintext_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let c = keyed(dir.path(), KEY_A);
    assert_eq!(c.backend(), Backend::Lmdb);
    assert!(c.encrypted());
    for k in 0..50 {
        c.insert(k, value_of(k));
    }
    for k in 0..50 {
        assert_eq!(c.get(&k), Some(value_of(k)));
    }
    let e = raw(&c, 7).unwrap();
    let entry = Entry::decode(&e).unwrap();
    assert_eq!(entry.flags, 2, "the ENCRYPTED flag");
    assert_eq!(
        entry.payload.len(),
        twat_cache_common::codec::encode("v", &value_of(7))
            .unwrap()
            .len()
            + 40,
        "nonce and tag add 40 bytes"
    );
    // Another cache object with the same key (another process, in real life) reads them.
    let again = keyed(dir.path(), KEY_A);
    assert_eq!(again.get(&49), Some(value_of(49)));
    drop((c, again));
    assert!(
        !contains(&data_file(dir.path()), MARKER),
        "plaintext on disk"
    );

    // The same values without encryption are visible in the file: the check above means
    // something.
    let clear_dir = tempfile::tempdir().unwrap();
    let p = plain(clear_dir.path());
    assert!(!p.encrypted());
    p.insert(1, value_of(1));
    drop(p);
    assert!(contains(&data_file(clear_dir.path()), MARKER));
}

#[test]
fn wrong_key_is_a_miss_and_the_value_is_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let a = keyed(dir.path(), KEY_A);
    for k in 0..10 {
        a.insert(k, value_of(k));
    }
    let b = keyed(dir.path(), KEY_B);
    assert_eq!(b.get(&3), None);
    assert_eq!(b.stats().misses, 1);
    assert_eq!(raw(&b, 3), None, "the entry it cannot open is deleted");
    for k in 0..10 {
        assert_recomputed(&b, k);
    }
    assert_eq!(b.get(&5), Some(value_of(5)), "stored again under key B");
    // Key A now finds key B's entries: misses, never B's plaintext or garbage.
    assert_eq!(a.get(&5), None);
}

#[test]
fn a_tampered_byte_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let c = keyed(dir.path(), KEY_A);
    for k in 0..4 {
        c.insert(k, value_of(k));
    }
    // Flip one ciphertext byte and fix the checksum, so only the AEAD can notice.
    rewrite(&c, 1, |old| {
        let e = Entry::decode(&old).unwrap();
        let mut p = e.payload.to_vec();
        p[30] ^= 0x01;
        Entry { payload: &p, ..e }.encode()
    });
    // Extend the expiry in the header (checksum fixed): the header is authenticated too.
    rewrite(&c, 2, |old| {
        let e = Entry::decode(&old).unwrap();
        Entry {
            expires_ms: e.expires_ms + 1,
            ..e
        }
        .encode()
    });
    // Drop the ENCRYPTED flag: now it claims to be plaintext, and is refused as such.
    rewrite(&c, 3, |old| {
        let e = Entry::decode(&old).unwrap();
        Entry { flags: 0, ..e }.encode()
    });
    for k in 1..4 {
        assert_eq!(c.get(&k), None, "key {k}");
        assert_eq!(raw(&c, k), None, "damaged entry {k} is deleted");
        assert_recomputed(&c, k);
    }
    assert_eq!(c.get(&0), Some(value_of(0)), "untouched entries still hit");
}

#[test]
fn an_entry_copied_under_another_key_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let c = keyed(dir.path(), KEY_A);
    c.insert(1, value_of(1));
    c.insert(2, value_of(2));
    let (sk2, _) = keys_of(2);
    // Key 1's entry, relabelled with key 2's stored key (checksum fixed): only the
    // associated data ties the ciphertext to key 1.
    let one = raw(&c, 1).unwrap();
    rewrite(&c, 2, |_| {
        let e = Entry::decode(&one).unwrap();
        Entry { key: &sk2, ..e }.encode()
    });
    assert_eq!(c.get(&2), None);
    assert_recomputed(&c, 2);
    // Copied verbatim (its own stored key inside): a miss too.
    rewrite(&c, 2, |_| one.clone());
    assert_eq!(c.get(&2), None);
    assert_recomputed(&c, 2);
    assert_eq!(c.get(&1), Some(value_of(1)));
}

#[test]
fn plain_and_encrypted_entries_do_not_mix() {
    let dir = tempfile::tempdir().unwrap();
    let p = plain(dir.path());
    p.insert(1, value_of(1));
    let k = keyed(dir.path(), KEY_A);
    assert_eq!(
        k.get(&1),
        None,
        "plaintext is not accepted by an encrypting cache"
    );
    assert_recomputed(&k, 1);
    assert_eq!(
        p.get(&1),
        None,
        "an encrypted entry is a miss without the key"
    );
    assert_recomputed(&p, 1);
    assert_eq!(p.get(&1), Some(value_of(1)));
}

#[test]
fn passphrase_uses_a_private_salt_file_in_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let a = builder(dir.path())
        .passphrase("correct horse battery staple")
        .build()
        .unwrap();
    assert!(a.encrypted());
    a.insert(1, value_of(1));
    let salt = dir.path().join("enc/twat-cache.salt");
    let text = std::fs::read_to_string(&salt).unwrap();
    assert_eq!(text.trim_end().len(), 32, "16 bytes in hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&salt).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let same = builder(dir.path())
        .passphrase("correct horse battery staple")
        .build()
        .unwrap();
    assert_eq!(same.get(&1), Some(value_of(1)));
    let other = builder(dir.path()).passphrase("wrong").build().unwrap();
    assert_eq!(other.get(&1), None);
    drop((a, same, other));
    assert!(!contains(&data_file(dir.path()), MARKER));
}

#[test]
fn a_damaged_salt_file_falls_back_to_memory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("enc")).unwrap();
    plain(dir.path()).insert(1, value_of(1)); // make the folder a bcache folder
    std::fs::write(dir.path().join("enc/twat-cache.salt"), "garbage\n").unwrap();
    let c = builder(dir.path()).passphrase("pw").build().unwrap();
    assert!(c.backend().is_memory());
    assert!(!c.encrypted());
    let reason = c.stats().fallback_reason.unwrap();
    assert!(reason.contains("salt"), "{reason}");
    assert_recomputed(&c, 2);
    assert_eq!(c.get(&2), Some(value_of(2)));
}

#[test]
fn empty_passphrase_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = builder(dir.path()).passphrase("").build().unwrap_err();
    assert_eq!(err.field(), "passphrase");
}

// ---- TWAT_CACHE_KEY, in child processes -------------------------------------------------

/// `#[bcache]` reads TWAT_CACHE_KEY like a builder without a key (in the child only).
#[bcache(folder_name = "enc-macro")]
fn shout(s: &str) -> String {
    format!("{MARKER} {}", s.to_uppercase())
}

fn run_child(role: &str, dir: &Path, key: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(DIR, dir)
        .env("TWAT_CACHE_KEY", key)
        .env("TWAT_CACHE_DIR", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child {role} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Not a test of its own: the body of child processes (does nothing when run normally).
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    match role.as_str() {
        "write" => {
            let c = builder(&dir).build().unwrap();
            assert!(c.encrypted(), "TWAT_CACHE_KEY turns encryption on");
            for k in 0..5 {
                c.insert(k, value_of(k));
            }
            // An explicit key wins over the variable (checked by the parent).
            let explicit = builder(&dir).encryption_key(KEY_B).build().unwrap();
            explicit.insert(100, value_of(100));
        }
        "malformed" => {
            let err = builder(&dir).build().unwrap_err();
            assert_eq!(err.field(), "TWAT_CACHE_KEY");
            let msg = err.to_string();
            assert!(msg.contains("TWAT_CACHE_KEY"), "{msg}");
            assert!(!msg.contains("not-a-key"), "the value is not shown: {msg}");
            // With the fallback the macros ask for: memory, and it says why.
            let c = builder(&dir).env_key_fallback(true).build().unwrap();
            assert!(c.backend().is_memory());
            let reason = c.stats().fallback_reason.unwrap();
            assert!(reason.contains("TWAT_CACHE_KEY"), "{reason}");
            assert_eq!(c.get_or_insert_with(1, || value_of(1)), value_of(1));
            // An explicit key still works: the variable is not consulted.
            let ok = builder(&dir).encryption_key(KEY_A).build().unwrap();
            assert!(ok.encrypted());
            // A decorated function keeps working (from memory), no panic.
            assert_eq!(shout("hi"), format!("{MARKER} HI"));
            assert_eq!(shout("hi"), format!("{MARKER} HI"));
            assert!(shout_cache().backend().is_memory());
        }
        "macro" => {
            assert_eq!(shout("hi"), format!("{MARKER} HI"));
            assert_eq!(shout("hi"), format!("{MARKER} HI"));
            assert_eq!(shout_cache().backend(), Backend::Lmdb);
            assert!(shout_cache().encrypted());
            assert_eq!(shout_cache().stats().hits, 1);
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn twat_cache_key_in_hex() {
    let dir = tempfile::tempdir().unwrap();
    run_child("write", dir.path(), &"a5".repeat(32));
    let c = keyed(dir.path(), KEY_A);
    for k in 0..5 {
        assert_eq!(c.get(&k), Some(value_of(k)), "the child used the hex key");
    }
    let b = keyed(dir.path(), KEY_B);
    assert_eq!(b.get(&100), Some(value_of(100)), "the explicit key won");
    drop((c, b));
    assert!(!contains(&data_file(dir.path()), MARKER));
}

#[test]
fn twat_cache_key_in_base64() {
    let dir = tempfile::tempdir().unwrap();
    // base64 of 32 bytes of 0xa5 (padded, standard alphabet).
    let b64 = "paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaU=";
    run_child("write", dir.path(), b64);
    let c = keyed(dir.path(), KEY_A);
    assert_eq!(
        c.get(&4),
        Some(value_of(4)),
        "the child used the base64 key"
    );
}

#[test]
fn twat_cache_key_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    run_child("write", dir.path(), "passphrase:open sesame");
    assert!(dir.path().join("enc/twat-cache.salt").is_file());
    let c = builder(dir.path())
        .passphrase("open sesame")
        .build()
        .unwrap();
    assert_eq!(
        c.get(&2),
        Some(value_of(2)),
        "same passphrase, same folder salt"
    );
    let wrong = builder(dir.path())
        .passphrase("open sesame!")
        .build()
        .unwrap();
    assert_eq!(wrong.get(&3), None);
}

#[test]
fn malformed_twat_cache_key_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    run_child("malformed", dir.path(), "not-a-key");
    run_child("malformed", dir.path(), "");
    run_child("malformed", dir.path(), &"a5".repeat(31));
}

#[test]
fn the_macro_encrypts_with_twat_cache_key() {
    let dir = tempfile::tempdir().unwrap();
    run_child("macro", dir.path(), &"a5".repeat(32));
    let folder = dir.path().join("enc-macro");
    let data = std::fs::read(folder.join("data.mdb")).unwrap();
    assert!(
        !contains(&data, MARKER),
        "the macro's entries are encrypted"
    );
}
