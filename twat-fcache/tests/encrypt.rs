//! Encryption at rest (feature `encrypt`) against real files in temp folders.
//! `TWAT_CACHE_KEY` is process-global, so the tests that set it re-run this binary as a
//! child (`child_entry`) with the variable set for the child only.
#![cfg(all(feature = "files", feature = "encrypt"))]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use twat_cache_common::Entry;
use twat_cache_common::entry::flags;
use twat_fcache::{Backend, FileCache, FileCacheBuilder, FileStore, Inner, fcache};

const ROLE: &str = "TWAT_FCACHE_ENCRYPT_CHILD";
const DIR: &str = "TWAT_FCACHE_ENCRYPT_DIR";
const KEY_A: [u8; 32] = [0xa5; 32];
const KEY_B: [u8; 32] = [0x5a; 32];
/// A marker that must never appear on disk when values are encrypted.
const MARKER: &str = "PLAINTEXT-MARKER-7f3e";

fn value_of(k: u64) -> String {
    format!("{MARKER} value {k} {}", "x".repeat((k % 50) as usize))
}

fn builder(dir: &Path) -> FileCacheBuilder<u64, String> {
    FileCache::builder()
        .cache_dir(dir)
        .folder_name("enc")
        .name("enc")
}

fn keyed(dir: &Path, key: [u8; 32]) -> FileCache<u64, String> {
    let c = builder(dir).encryption_key(key).build().unwrap();
    assert_eq!(c.backend(), Backend::Files, "{:?}", c.fallback_reason());
    c
}

fn plain(dir: &Path) -> FileCache<u64, String> {
    builder(dir).build().unwrap()
}

fn store<K, V>(c: &FileCache<K, V>) -> &FileStore
where
    K: std::hash::Hash + Eq + Clone + serde::Serialize + Send + Sync + 'static,
    V: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    match c.inner() {
        Inner::Files(s) => s,
        _ => panic!("files backend expected"),
    }
}

fn path_of(c: &FileCache<u64, String>, k: u64) -> PathBuf {
    store(c).entry_path(&c.stored_key(&k).unwrap())
}

/// Every byte of every file below `dir`.
fn all_bytes(dir: &Path) -> Vec<u8> {
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

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Rewrites the entry file of `k` with `f` of its bytes.
fn rewrite(c: &FileCache<u64, String>, k: u64, f: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let p = path_of(c, k);
    let old = fs::read(&p).unwrap();
    fs::write(&p, f(old)).unwrap();
}

/// Asserts `get_or_insert_with` recomputes `k` (a miss) and returns the right value.
fn assert_recomputed(c: &FileCache<u64, String>, k: u64) {
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
    assert!(c.encrypted());
    for k in 0..50 {
        c.insert(k, value_of(k));
    }
    for k in 0..50 {
        assert_eq!(c.get(&k), Some(value_of(k)));
    }
    let bytes = fs::read(path_of(&c, 7)).unwrap();
    let e = Entry::decode(&bytes).unwrap();
    assert_eq!(e.flags, flags::ENCRYPTED);
    assert_eq!(
        e.payload.len(),
        postcard::to_allocvec(&value_of(7)).unwrap().len() + 40,
        "nonce and tag add 40 bytes"
    );
    let again = keyed(dir.path(), KEY_A);
    assert_eq!(
        again.get(&49),
        Some(value_of(49)),
        "another cache object reads them"
    );
    assert!(
        !contains(&all_bytes(dir.path()), MARKER),
        "plaintext on disk"
    );

    // The same values without encryption are visible: the check above means something.
    let clear = tempfile::tempdir().unwrap();
    plain(clear.path()).insert(1, value_of(1));
    assert!(contains(&all_bytes(clear.path()), MARKER));
}

#[test]
fn compressed_and_large_byte_values_are_encrypted_too() {
    let dir = tempfile::tempdir().unwrap();
    let c = FileCache::<u32, Vec<u8>>::builder()
        .cache_dir(dir.path())
        .name("big")
        .compress(true)
        .encryption_key(KEY_A)
        .build()
        .unwrap();
    // Compressible: stored compressed, then sealed (flags 3).
    let text = MARKER.repeat(2000).into_bytes();
    c.insert(1, text.clone());
    // Incompressible and large (the uncompressed fast path for byte values is bypassed:
    // the tag covers the whole payload).
    let mut x = 7u64;
    let mut noise: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    noise.extend_from_slice(MARKER.as_bytes());
    c.insert(2, noise.clone());
    assert_eq!(c.get(&1), Some(text));
    assert_eq!(c.get(&2), Some(noise));
    let f1 = fs::read(store(&c).entry_path(&c.stored_key(&1).unwrap())).unwrap();
    assert_eq!(
        Entry::decode(&f1).unwrap().flags,
        flags::COMPRESSED | flags::ENCRYPTED
    );
    assert!(
        f1.len() < 20_000,
        "compressed before sealing: {} bytes",
        f1.len()
    );
    assert!(!contains(&all_bytes(dir.path()), MARKER));

    // Raw keys and payloads through the store are sealed as well.
    let s = store(&c);
    s.insert_bytes(b"raw key", MARKER.as_bytes()).unwrap();
    assert_eq!(s.get_bytes(b"raw key").as_deref(), Some(MARKER.as_bytes()));
    assert!(!contains(
        &fs::read(s.entry_path(b"raw key")).unwrap(),
        MARKER
    ));
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
    assert!(
        !path_of(&b, 3).exists(),
        "the file it cannot open is removed"
    );
    for k in 0..10 {
        assert_recomputed(&b, k);
    }
    assert_eq!(b.get(&5), Some(value_of(5)));
    assert_eq!(a.get(&5), None, "key A finds key B's entries: misses");
}

#[test]
fn a_tampered_byte_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let c = keyed(dir.path(), KEY_A);
    for k in 0..4 {
        c.insert(k, value_of(k));
    }
    // One ciphertext byte flipped, checksum fixed: only the AEAD can notice.
    rewrite(&c, 1, |old| {
        let e = Entry::decode(&old).unwrap();
        let mut p = e.payload.to_vec();
        p[30] ^= 0x01;
        Entry { payload: &p, ..e }.encode()
    });
    // The expiry edited (checksum fixed): the header is authenticated too.
    rewrite(&c, 2, |old| {
        let e = Entry::decode(&old).unwrap();
        Entry {
            expires_ms: u64::MAX,
            ..e
        }
        .encode()
    });
    // The COMPRESSED flag added: refused, not fed to the decompressor.
    rewrite(&c, 3, |old| {
        let e = Entry::decode(&old).unwrap();
        Entry {
            flags: e.flags | flags::COMPRESSED,
            ..e
        }
        .encode()
    });
    for k in 1..4 {
        assert_eq!(c.get(&k), None, "key {k}");
        assert!(!path_of(&c, k).exists(), "damaged file {k} is removed");
        assert_recomputed(&c, k);
    }
    assert_eq!(c.get(&0), Some(value_of(0)), "untouched entries still hit");
}

#[test]
fn a_file_copied_to_another_digest_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let c = keyed(dir.path(), KEY_A);
    c.insert(1, value_of(1));
    c.insert(2, value_of(2));
    let one = fs::read(path_of(&c, 1)).unwrap();
    // Copied verbatim to key 2's file name: its stored key differs, a miss.
    fs::write(path_of(&c, 2), &one).unwrap();
    assert_eq!(c.get(&2), None);
    assert_recomputed(&c, 2);
    // Relabelled with key 2's stored key (checksum fixed): the AEAD refuses it.
    let sk2 = c.stored_key(&2).unwrap();
    let e = Entry::decode(&one).unwrap();
    fs::write(path_of(&c, 2), Entry { key: &sk2, ..e }.encode()).unwrap();
    assert_eq!(c.get(&2), None);
    assert!(!path_of(&c, 2).exists());
    assert_recomputed(&c, 2);
    assert_eq!(c.get(&1), Some(value_of(1)));
}

#[test]
fn plain_and_encrypted_entries_do_not_mix() {
    let dir = tempfile::tempdir().unwrap();
    let p = plain(dir.path());
    assert!(!p.encrypted());
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
        .passphrase("correct horse")
        .build()
        .unwrap();
    assert!(a.encrypted());
    a.insert(1, value_of(1));
    let salt = dir.path().join("enc/twat-cache.salt");
    assert_eq!(fs::read_to_string(&salt).unwrap().trim_end().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&salt).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let same = builder(dir.path())
        .passphrase("correct horse")
        .build()
        .unwrap();
    assert_eq!(same.get(&1), Some(value_of(1)));
    let other = builder(dir.path())
        .passphrase("wrong horse")
        .build()
        .unwrap();
    assert_eq!(other.get(&1), None);
    assert!(!contains(&all_bytes(dir.path()), MARKER));
}

#[test]
fn a_damaged_salt_file_falls_back_to_memory() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("enc")).unwrap();
    fs::write(dir.path().join("enc/twat-cache.salt"), "garbage\n").unwrap();
    let c = builder(dir.path()).passphrase("pw").build().unwrap();
    assert!(c.backend().is_memory());
    assert!(!c.encrypted());
    assert!(
        c.fallback_reason().unwrap().contains("salt"),
        "{:?}",
        c.fallback_reason()
    );
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

/// `#[fcache]` reads TWAT_CACHE_KEY like a builder without a key (in the child only).
#[fcache(folder_name = "enc-macro", compress = true)]
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
            let c = builder(&dir).env_key_fallback(true).build().unwrap();
            assert!(c.backend().is_memory());
            assert!(c.fallback_reason().unwrap().contains("TWAT_CACHE_KEY"));
            assert_eq!(c.get_or_insert_with(1, || value_of(1)), value_of(1));
            assert!(
                builder(&dir)
                    .encryption_key(KEY_A)
                    .build()
                    .unwrap()
                    .encrypted()
            );
            // A decorated function keeps working (from memory), no panic.
            assert_eq!(shout("hi"), format!("{MARKER} HI"));
            assert!(shout_cache().backend().is_memory());
        }
        "macro" => {
            assert_eq!(shout("hi"), format!("{MARKER} HI"));
            assert_eq!(shout("hi"), format!("{MARKER} HI"));
            assert_eq!(shout_cache().backend(), Backend::Files);
            assert!(shout_cache().encrypted());
            assert_eq!(shout_cache().stats().hits, 1);
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn twat_cache_key_in_hex() {
    let dir = tempfile::tempdir().unwrap();
    run_child("write", dir.path(), &"A5".repeat(32));
    let b = keyed(dir.path(), KEY_B);
    assert_eq!(b.get(&100), Some(value_of(100)), "the explicit key won");
    let a = keyed(dir.path(), KEY_A);
    for k in 0..5 {
        assert_eq!(a.get(&k), Some(value_of(k)), "the child used the hex key");
    }
    assert!(!contains(&all_bytes(dir.path()), MARKER));
}

#[test]
fn twat_cache_key_in_base64() {
    let dir = tempfile::tempdir().unwrap();
    // base64 of 32 bytes of 0xa5, URL-safe alphabet, unpadded.
    run_child(
        "write",
        dir.path(),
        "paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaU",
    );
    let a = keyed(dir.path(), KEY_A);
    assert_eq!(
        a.get(&4),
        Some(value_of(4)),
        "the child used the base64 key"
    );
}

#[test]
fn twat_cache_key_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    run_child("write", dir.path(), "passphrase:open sesame");
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
    run_child("malformed", dir.path(), "passphrase:");
}

#[test]
fn the_macro_encrypts_with_twat_cache_key() {
    let dir = tempfile::tempdir().unwrap();
    run_child("macro", dir.path(), &"a5".repeat(32));
    let bytes = all_bytes(&dir.path().join("enc-macro"));
    assert!(bytes.len() > 100, "the macro wrote an entry");
    assert!(
        !contains(&bytes, MARKER),
        "the macro's entries are encrypted"
    );
}
