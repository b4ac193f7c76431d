//! Encryption at rest (feature `encrypt`) against real files in temp folders.
//! `TWAT_CACHE_KEY` is process-global, so the tests that set it re-run this binary as a
//! child (`child_entry`) with the variable set for the child only. The scenarios are
//! written once, for every persistent cache, in `twat_cache_testkit::encrypt`; this file
//! gives them raw access to the entry files, and adds the file store's own.
#![cfg(all(feature = "files", feature = "encrypt"))]

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use twat_cache_common::Entry;
use twat_cache_common::entry::flags;
use twat_cache_testkit::encrypt::{self, EncryptedStore, KEY_A, MARKER, all_bytes, contains};
use twat_fcache::{FileCache, FileStore, Inner};

/// The cache the shared scenarios run on.
type Tested<V> = twat_fcache::FileCache<u64, V>;
twat_cache_testkit::encrypt_tests!(
    Tested<String>,
    twat_fcache::fcache(folder_name = "enc-macro", compress = true)
);

fn store<K, V>(c: &FileCache<K, V>) -> &FileStore
where
    K: std::hash::Hash + Eq + Clone + serde::Serialize + Send + Sync + 'static,
    V: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    match c.inner() {
        Inner::Store(s) => s,
        _ => panic!("files backend expected"),
    }
}

fn path_of(c: &FileCache<u64, String>, k: u64) -> PathBuf {
    store(c).entry_path(&c.stored_key(&k).unwrap())
}

impl EncryptedStore<EncryptionHooks> for Tested<String> {
    fn raw(&self, k: u64) -> Option<Vec<u8>> {
        match fs::read(path_of(self, k)) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => panic!("reading the entry file of {k}: {e}"),
        }
    }

    fn put_raw(&self, k: u64, bytes: &[u8]) {
        fs::write(path_of(self, k), bytes).unwrap();
    }

    fn stored_key(&self, k: u64) -> Vec<u8> {
        self.stored_key(&k).unwrap()
    }

    /// Every file of the folder: entries, index, manifest, salt.
    fn on_disk(folder: &Path) -> Vec<u8> {
        all_bytes(folder)
    }
}

#[test]
fn a_file_copied_to_another_digest_is_a_miss() {
    encrypt::entry_copied_under_another_key_is_a_miss::<Tested<String>, EncryptionHooks>();
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
