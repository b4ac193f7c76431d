//! Encryption at rest (feature `encrypt`): the scenarios every persistent cache shares,
//! and the `TWAT_CACHE_KEY` child protocol the Redis tests use too.
//!
//! `TWAT_CACHE_KEY` is process-global, so the tests that set it re-run the test binary as
//! a child ([`run_child`]) that runs only its test `child_entry`, with the variable set
//! for the child only; [`child_role`] tells that test which part to play.
//!
//! The scenarios are run on a cache (namespace and folder `enc`, keys `u64`, values
//! `String`) seen through [`EncryptedStore`], which each test file implements for its
//! cache type with what differs between the stores: where an entry's bytes are and how
//! to rewrite them. [`encrypt_tests!`](crate::encrypt_tests) expands the shared tests.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use twat_cache_common::Entry;
use twat_cache_common::entry::flags;

use crate::cache::{Backend, CacheStats, EncryptingBuilder, PersistentBuilder, PersistentCache};

/// A raw key.
pub const KEY_A: [u8; 32] = [0xa5; 32];
/// Another raw key.
pub const KEY_B: [u8; 32] = [0x5a; 32];
/// A marker that must never be stored when values are encrypted.
pub const MARKER: &str = "PLAINTEXT-MARKER-7f3e";

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Every byte of every file below `dir`.
pub fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.extend(fs::read(&p).unwrap());
            }
        }
    }
    out
}

// ---- the child protocol ----------------------------------------------------------------

/// The variable that names a child's role.
pub const ROLE_VAR: &str = "TWAT_ENCRYPT_CHILD";

/// In a child started by [`run_child`]: its role. `None` in any other process, where
/// `child_entry` does nothing.
pub fn child_role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// Runs this test binary's test `child_entry` in a child process with `role`,
/// `TWAT_CACHE_KEY=key` and the variables in `env`; fails, with the child's output,
/// unless it succeeded.
pub fn run_child(role: &str, key: &str, env: &[(&str, &OsStr)]) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role)
        .env("TWAT_CACHE_KEY", key)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child {role} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- the persistent caches -------------------------------------------------------------

/// The value of key `k`: the [`MARKER`] and some padding that depends on `k`.
pub fn value_of(k: u64) -> String {
    format!("{MARKER} value {k} {}", "x".repeat((k % 50) as usize))
}

/// A persistent cache from `u64` to `String` whose builder takes keys, with raw access to
/// the entries it stores in namespace and folder `enc`.
/// `L` is a type of the implementing test file (`EncryptionHooks`, which
/// [`encrypt_tests!`](crate::encrypt_tests) defines): it lets a test crate implement this
/// trait for a cache type that is not its own.
pub trait EncryptedStore<L>: PersistentCache<String, Builder: EncryptingBuilder> {
    /// The stored bytes of key `k` (an encoded [`Entry`]), `None` when there are none.
    fn raw(&self, k: u64) -> Option<Vec<u8>>;
    /// Replaces the stored bytes of key `k`.
    fn put_raw(&self, k: u64, bytes: &[u8]);
    /// The full stored key of `k` (the one inside its entry).
    fn stored_key(&self, k: u64) -> Vec<u8>;
    /// What the store keeps on disk for the cache folder `folder`, to look for plaintext.
    fn on_disk(folder: &Path) -> Vec<u8>;
}

/// `#[attr(folder_name = "enc-macro")] fn shout(s: &str) -> String` of the test binary,
/// which reads `TWAT_CACHE_KEY` like a builder without a key, and its cache.
pub trait Shout {
    /// Calls it: `MARKER` and `s` in upper case.
    fn shout(s: &str) -> String;
    /// Its cache's backend.
    fn backend() -> Backend;
    /// Whether its cache encrypts.
    fn encrypted() -> bool;
    /// Its cache's statistics.
    fn stats() -> CacheStats;
}

/// A builder on `dir`, folder and namespace `enc`.
pub fn builder<C: EncryptedStore<L>, L>(dir: &Path) -> C::Builder {
    C::builder().cache_dir(dir).folder_name("enc").name("enc")
}

/// A cache with `key`, which must be on its persistent backend.
pub fn keyed<C: EncryptedStore<L>, L>(dir: &Path, key: [u8; 32]) -> C {
    let c = builder::<C, L>(dir).encryption_key(key).build().unwrap();
    assert_eq!(c.backend(), C::BACKEND, "{:?}", c.stats().fallback_reason);
    c
}

/// A cache without a key.
pub fn plain<C: EncryptedStore<L>, L>(dir: &Path) -> C {
    builder::<C, L>(dir).build().unwrap()
}

/// Rewrites the stored bytes of `k` with `f` of them.
pub fn rewrite<C: EncryptedStore<L>, L>(c: &C, k: u64, f: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let old = c.raw(k).expect("entry present");
    c.put_raw(k, &f(old));
}

/// Asserts `get_or_insert_with` recomputes `k` (a miss) and returns the right value.
pub fn assert_recomputed<C: EncryptedStore<L>, L>(c: &C, k: u64) {
    let calls = AtomicUsize::new(0);
    let v = c.get_or_insert_with(k, || {
        calls.fetch_add(1, Ordering::SeqCst);
        value_of(k)
    });
    assert_eq!(v, value_of(k));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "key {k} was not a miss");
}

/// Values round-trip, each entry is sealed (flag, 40 bytes of nonce and tag), and no
/// plaintext reaches the disk, which it does without a key.
pub fn round_trip_and_no_plaintext_on_disk<C: EncryptedStore<L>, L>() {
    let dir = tempfile::tempdir().unwrap();
    let c = keyed::<C, L>(dir.path(), KEY_A);
    assert!(c.encrypted());
    for k in 0..50 {
        c.insert(k, value_of(k));
    }
    for k in 0..50 {
        assert_eq!(c.get(&k), Some(value_of(k)));
    }
    let raw = c.raw(7).unwrap();
    let entry = Entry::decode(&raw).unwrap();
    assert_eq!(entry.flags, flags::ENCRYPTED, "the ENCRYPTED flag");
    assert_eq!(
        entry.payload.len(),
        twat_cache_common::codec::encode("v", &value_of(7))
            .unwrap()
            .len()
            + 40,
        "nonce and tag add 40 bytes"
    );
    // Another cache object with the same key (another process, in real life) reads them.
    let again = keyed::<C, L>(dir.path(), KEY_A);
    assert_eq!(
        again.get(&49),
        Some(value_of(49)),
        "another cache object reads them"
    );
    drop((c, again));
    assert!(
        !contains(&C::on_disk(&dir.path().join("enc")), MARKER),
        "plaintext on disk"
    );

    // The same values without encryption are visible on disk: the check above means
    // something.
    let clear = tempfile::tempdir().unwrap();
    let p = plain::<C, L>(clear.path());
    assert!(!p.encrypted());
    p.insert(1, value_of(1));
    drop(p);
    assert!(contains(&C::on_disk(&clear.path().join("enc")), MARKER));
}

/// Another key misses, deletes the entry it cannot open and stores its own; the first key
/// then misses those.
pub fn wrong_key_is_a_miss_and_the_value_is_recomputed<C: EncryptedStore<L>, L>() {
    let dir = tempfile::tempdir().unwrap();
    let a = keyed::<C, L>(dir.path(), KEY_A);
    for k in 0..10 {
        a.insert(k, value_of(k));
    }
    let b = keyed::<C, L>(dir.path(), KEY_B);
    assert_eq!(b.get(&3), None);
    assert_eq!(b.stats().misses, 1);
    assert_eq!(b.raw(3), None, "the entry it cannot open is deleted");
    for k in 0..10 {
        assert_recomputed(&b, k);
    }
    assert_eq!(b.get(&5), Some(value_of(5)), "stored again under key B");
    // Key A now finds key B's entries: misses, never B's plaintext or garbage.
    assert_eq!(a.get(&5), None, "key A finds key B's entries: misses");
}

/// Any change to a sealed entry, its checksum fixed so only the AEAD can notice, makes a
/// miss that deletes it.
pub fn a_tampered_byte_is_a_miss<C: EncryptedStore<L>, L>() {
    let dir = tempfile::tempdir().unwrap();
    let c = keyed::<C, L>(dir.path(), KEY_A);
    for k in 0..6 {
        c.insert(k, value_of(k));
    }
    // One ciphertext byte flipped.
    rewrite(&c, 1, |old| {
        let e = Entry::decode(&old).unwrap();
        let mut p = e.payload.to_vec();
        p[30] ^= 0x01;
        Entry { payload: &p, ..e }.encode()
    });
    // The expiry extended, or edited to never: the header is authenticated too.
    rewrite(&c, 2, |old| {
        let e = Entry::decode(&old).unwrap();
        Entry {
            expires_ms: e.expires_ms + 1,
            ..e
        }
        .encode()
    });
    rewrite(&c, 3, |old| {
        let e = Entry::decode(&old).unwrap();
        Entry {
            expires_ms: u64::MAX,
            ..e
        }
        .encode()
    });
    // The ENCRYPTED flag dropped: now it claims to be plaintext, and is refused as such.
    rewrite(&c, 4, |old| {
        let e = Entry::decode(&old).unwrap();
        Entry { flags: 0, ..e }.encode()
    });
    // The COMPRESSED flag added: refused, not fed to a decompressor.
    rewrite(&c, 5, |old| {
        let e = Entry::decode(&old).unwrap();
        Entry {
            flags: e.flags | flags::COMPRESSED,
            ..e
        }
        .encode()
    });
    for k in 1..6 {
        assert_eq!(c.get(&k), None, "key {k}");
        assert_eq!(c.raw(k), None, "damaged entry {k} is deleted");
        assert_recomputed(&c, k);
    }
    assert_eq!(c.get(&0), Some(value_of(0)), "untouched entries still hit");
}

/// Key 1's entry stored as key 2's, verbatim or relabelled with key 2's stored key
/// (checksum fixed), is a miss: only the associated data ties the ciphertext to key 1.
pub fn entry_copied_under_another_key_is_a_miss<C: EncryptedStore<L>, L>() {
    let dir = tempfile::tempdir().unwrap();
    let c = keyed::<C, L>(dir.path(), KEY_A);
    c.insert(1, value_of(1));
    c.insert(2, value_of(2));
    let one = c.raw(1).unwrap();
    // Copied verbatim (its own stored key inside): a miss.
    c.put_raw(2, &one);
    assert_eq!(c.get(&2), None);
    assert_recomputed(&c, 2);
    // Relabelled with key 2's stored key: the AEAD refuses it.
    let sk2 = c.stored_key(2);
    let e = Entry::decode(&one).unwrap();
    c.put_raw(2, &Entry { key: &sk2, ..e }.encode());
    assert_eq!(c.get(&2), None);
    assert_eq!(c.raw(2), None, "the entry it cannot open is deleted");
    assert_recomputed(&c, 2);
    assert_eq!(c.get(&1), Some(value_of(1)));
}

/// A plaintext entry is a miss for an encrypting cache, and an encrypted one for a cache
/// without the key.
pub fn plain_and_encrypted_entries_do_not_mix<C: EncryptedStore<L>, L>() {
    let dir = tempfile::tempdir().unwrap();
    let p = plain::<C, L>(dir.path());
    assert!(!p.encrypted());
    p.insert(1, value_of(1));
    let k = keyed::<C, L>(dir.path(), KEY_A);
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

/// A passphrase is stretched with a salt kept in the folder (16 bytes in hex, mode 0600):
/// the same passphrase reads the entries, another does not.
pub fn passphrase_uses_a_private_salt_file_in_the_folder<C: EncryptedStore<L>, L>() {
    let dir = tempfile::tempdir().unwrap();
    let a = builder::<C, L>(dir.path())
        .passphrase("correct horse battery staple")
        .build()
        .unwrap();
    assert!(a.encrypted());
    a.insert(1, value_of(1));
    let salt = dir.path().join("enc/twat-cache.salt");
    let text = fs::read_to_string(&salt).unwrap();
    assert_eq!(text.trim_end().len(), 32, "16 bytes in hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&salt).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let same = builder::<C, L>(dir.path())
        .passphrase("correct horse battery staple")
        .build()
        .unwrap();
    assert_eq!(same.get(&1), Some(value_of(1)));
    let other = builder::<C, L>(dir.path())
        .passphrase("wrong horse")
        .build()
        .unwrap();
    assert_eq!(other.get(&1), None);
    drop((a, same, other));
    assert!(!contains(&C::on_disk(&dir.path().join("enc")), MARKER));
}

/// A salt file that cannot be read makes a passphrase cache serve from memory, saying
/// why; both in a new folder and in one the store has used.
pub fn a_damaged_salt_file_falls_back_to_memory<C: EncryptedStore<L>, L>() {
    for used in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("enc")).unwrap();
        if used {
            plain::<C, L>(dir.path()).insert(1, value_of(1)); // make the folder the store's
        }
        fs::write(dir.path().join("enc/twat-cache.salt"), "garbage\n").unwrap();
        let c = builder::<C, L>(dir.path())
            .passphrase("pw")
            .build()
            .unwrap();
        assert!(c.backend().is_memory(), "used: {used}");
        assert!(!c.encrypted());
        let reason = c.stats().fallback_reason.unwrap();
        assert!(reason.contains("salt"), "{reason}");
        assert_recomputed(&c, 2);
        assert_eq!(c.get(&2), Some(value_of(2)));
    }
}

/// An empty passphrase is refused, naming the setting.
pub fn empty_passphrase_is_a_config_error<C: EncryptedStore<L>, L>() {
    let dir = tempfile::tempdir().unwrap();
    let Err(err) = builder::<C, L>(dir.path()).passphrase("").build() else {
        panic!("an empty passphrase was accepted")
    };
    assert_eq!(err.field(), "passphrase");
}

// ---- TWAT_CACHE_KEY, in child processes -------------------------------------------------

/// Runs `child_entry` with `role` and `TWAT_CACHE_KEY=key`, working in `dir` (also its
/// `TWAT_CACHE_DIR`, for the decorated function).
fn run_in(role: &str, dir: &Path, key: &str) {
    run_child(role, key, &[("TWAT_CACHE_DIR", dir.as_os_str())]);
}

/// The body of the child processes (does nothing when run normally): `write` stores keys
/// 0..5 with the key from `TWAT_CACHE_KEY` and 100 with [`KEY_B`]; `malformed` checks
/// the error and the memory fallback; `macro` calls the decorated function.
pub fn child_entry<C: EncryptedStore<L>, L, S: Shout>() {
    let Some(role) = child_role() else {
        return;
    };
    let dir = std::env::var_os("TWAT_CACHE_DIR").unwrap();
    let dir = Path::new(&dir);
    match role.as_str() {
        "write" => {
            let c = builder::<C, L>(dir).build().unwrap();
            assert!(c.encrypted(), "TWAT_CACHE_KEY turns encryption on");
            for k in 0..5 {
                c.insert(k, value_of(k));
            }
            // An explicit key wins over the variable (checked by the parent).
            let explicit = builder::<C, L>(dir).encryption_key(KEY_B).build().unwrap();
            explicit.insert(100, value_of(100));
        }
        "malformed" => {
            let Err(err) = builder::<C, L>(dir).build() else {
                panic!("a malformed TWAT_CACHE_KEY was accepted")
            };
            assert_eq!(err.field(), "TWAT_CACHE_KEY");
            let msg = err.to_string();
            assert!(msg.contains("TWAT_CACHE_KEY"), "{msg}");
            assert!(!msg.contains("not-a-key"), "the value is not shown: {msg}");
            // With the fallback the macros ask for: memory, and it says why.
            let c = builder::<C, L>(dir).env_key_fallback(true).build().unwrap();
            assert!(c.backend().is_memory());
            let reason = c.stats().fallback_reason.unwrap();
            assert!(reason.contains("TWAT_CACHE_KEY"), "{reason}");
            assert_eq!(c.get_or_insert_with(1, || value_of(1)), value_of(1));
            // An explicit key still works: the variable is not consulted.
            let ok = builder::<C, L>(dir).encryption_key(KEY_A).build().unwrap();
            assert!(ok.encrypted());
            // A decorated function keeps working (from memory), no panic.
            assert_eq!(S::shout("hi"), format!("{MARKER} HI"));
            assert_eq!(S::shout("hi"), format!("{MARKER} HI"));
            assert!(S::backend().is_memory());
        }
        "macro" => {
            assert_eq!(S::shout("hi"), format!("{MARKER} HI"));
            assert_eq!(S::shout("hi"), format!("{MARKER} HI"));
            assert_eq!(S::backend(), C::BACKEND);
            assert!(S::encrypted());
            assert_eq!(S::stats().hits, 1);
        }
        other => panic!("unknown role {other}"),
    }
}

/// `TWAT_CACHE_KEY` as 64 hex digits (either case) is the raw key; an explicit key wins.
pub fn twat_cache_key_in_hex<C: EncryptedStore<L>, L>() {
    for hex in ["a5".repeat(32), "A5".repeat(32)] {
        let dir = tempfile::tempdir().unwrap();
        run_in("write", dir.path(), &hex);
        let a = keyed::<C, L>(dir.path(), KEY_A);
        for k in 0..5 {
            assert_eq!(
                a.get(&k),
                Some(value_of(k)),
                "the child used the hex key {hex}"
            );
        }
        let b = keyed::<C, L>(dir.path(), KEY_B);
        assert_eq!(b.get(&100), Some(value_of(100)), "the explicit key won");
        drop((a, b));
        assert!(!contains(&C::on_disk(&dir.path().join("enc")), MARKER));
    }
}

/// `TWAT_CACHE_KEY` in base64, standard (padded) or URL-safe (unpadded): the same key.
pub fn twat_cache_key_in_base64<C: EncryptedStore<L>, L>() {
    // 32 bytes of 0xa5, padded and unpadded (no character differs between the alphabets).
    for b64 in [
        "paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaU=",
        "paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaU",
    ] {
        let dir = tempfile::tempdir().unwrap();
        run_in("write", dir.path(), b64);
        let a = keyed::<C, L>(dir.path(), KEY_A);
        assert_eq!(
            a.get(&4),
            Some(value_of(4)),
            "the child used the base64 key {b64}"
        );
    }
}

/// `TWAT_CACHE_KEY=passphrase:…` uses the folder's salt like a builder's passphrase.
pub fn twat_cache_key_passphrase<C: EncryptedStore<L>, L>() {
    let dir = tempfile::tempdir().unwrap();
    run_in("write", dir.path(), "passphrase:open sesame");
    assert!(dir.path().join("enc/twat-cache.salt").is_file());
    let c = builder::<C, L>(dir.path())
        .passphrase("open sesame")
        .build()
        .unwrap();
    assert_eq!(
        c.get(&2),
        Some(value_of(2)),
        "same passphrase, same folder salt"
    );
    let wrong = builder::<C, L>(dir.path())
        .passphrase("open sesame!")
        .build()
        .unwrap();
    assert_eq!(wrong.get(&3), None);
}

/// Malformed values of `TWAT_CACHE_KEY`: see the `malformed` role of [`child_entry`].
pub fn malformed_twat_cache_key_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for key in ["not-a-key", "", &"a5".repeat(31), "passphrase:"] {
        run_in("malformed", dir.path(), key);
    }
}

/// The decorated function's entries are encrypted with `TWAT_CACHE_KEY`.
pub fn the_macro_encrypts_with_twat_cache_key<C: EncryptedStore<L>, L>() {
    let dir = tempfile::tempdir().unwrap();
    run_in("macro", dir.path(), &"a5".repeat(32));
    let bytes = C::on_disk(&dir.path().join("enc-macro"));
    assert!(bytes.len() > 100, "the macro wrote an entry");
    assert!(
        !contains(&bytes, MARKER),
        "the macro's entries are encrypted"
    );
}

/// Expands to the shared encryption tests of a test file, under their usual names: the
/// decorated `shout` made with the given attribute (which must name folder `enc-macro`)
/// and one `#[test]` per scenario of this module, run on the given cache type (an
/// [`EncryptedStore`]). The scenarios' assertions are in this module, so a failure
/// points here.
///
/// ```ignore
/// twat_cache_testkit::encrypt_tests!(Tested<String>, twat_bcache::bcache(folder_name = "enc-macro"));
/// ```
#[macro_export]
macro_rules! encrypt_tests {
    ($cache:ty, $attr:meta) => {
        #[$attr]
        fn shout(s: &str) -> String {
            format!("{} {}", $crate::encrypt::MARKER, s.to_uppercase())
        }

        /// `shout` and its cache, for the children.
        struct Shout;

        /// This test file's type for `impl EncryptedStore<EncryptionHooks> for ..`.
        pub struct EncryptionHooks;

        impl $crate::encrypt::Shout for Shout {
            fn shout(s: &str) -> String {
                shout(s)
            }
            fn backend() -> $crate::cache::Backend {
                shout_cache().backend()
            }
            fn encrypted() -> bool {
                shout_cache().encrypted()
            }
            fn stats() -> $crate::cache::CacheStats {
                shout_cache().stats()
            }
        }

        #[test]
        fn round_trip_and_no_plaintext_on_disk() {
            $crate::encrypt::round_trip_and_no_plaintext_on_disk::<$cache, EncryptionHooks>();
        }

        #[test]
        fn wrong_key_is_a_miss_and_the_value_is_recomputed() {
            $crate::encrypt::wrong_key_is_a_miss_and_the_value_is_recomputed::<
                $cache,
                EncryptionHooks,
            >();
        }

        #[test]
        fn a_tampered_byte_is_a_miss() {
            $crate::encrypt::a_tampered_byte_is_a_miss::<$cache, EncryptionHooks>();
        }

        #[test]
        fn plain_and_encrypted_entries_do_not_mix() {
            $crate::encrypt::plain_and_encrypted_entries_do_not_mix::<$cache, EncryptionHooks>();
        }

        #[test]
        fn passphrase_uses_a_private_salt_file_in_the_folder() {
            $crate::encrypt::passphrase_uses_a_private_salt_file_in_the_folder::<
                $cache,
                EncryptionHooks,
            >();
        }

        #[test]
        fn a_damaged_salt_file_falls_back_to_memory() {
            $crate::encrypt::a_damaged_salt_file_falls_back_to_memory::<$cache, EncryptionHooks>();
        }

        #[test]
        fn empty_passphrase_is_a_config_error() {
            $crate::encrypt::empty_passphrase_is_a_config_error::<$cache, EncryptionHooks>();
        }

        /// Not a test of its own: the body of child processes (does nothing when run
        /// normally).
        #[test]
        fn child_entry() {
            $crate::encrypt::child_entry::<$cache, EncryptionHooks, Shout>();
        }

        #[test]
        fn twat_cache_key_in_hex() {
            $crate::encrypt::twat_cache_key_in_hex::<$cache, EncryptionHooks>();
        }

        #[test]
        fn twat_cache_key_in_base64() {
            $crate::encrypt::twat_cache_key_in_base64::<$cache, EncryptionHooks>();
        }

        #[test]
        fn twat_cache_key_passphrase() {
            $crate::encrypt::twat_cache_key_passphrase::<$cache, EncryptionHooks>();
        }

        #[test]
        fn malformed_twat_cache_key_is_a_config_error_naming_it() {
            $crate::encrypt::malformed_twat_cache_key_is_a_config_error_naming_it();
        }

        #[test]
        fn the_macro_encrypts_with_twat_cache_key() {
            $crate::encrypt::the_macro_encrypts_with_twat_cache_key::<$cache, EncryptionHooks>();
        }
    };
}
