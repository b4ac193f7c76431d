//! Encryption at rest (feature `encrypt`) on the Redis backend, against a real
//! `redis-server` started by the test (skipped, loudly, where none is installed).
//! `TWAT_CACHE_KEY` is process-global, so the tests that set it re-run this binary as a
//! child (`child_entry`) with the variable set for the child only.
#![cfg(all(feature = "redis", feature = "encrypt"))]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_executor::block_on;
use support::RedisServer;
use twat_acache::{AsyncCache, AsyncCacheBuilder, Backend, Namespace, acache};
use twat_cache_common::Entry;
use twat_cache_common::entry::flags;
use twat_cache_common::key::digest;
// The testkit's MARKER must never reach Redis when values are encrypted.
use twat_cache_testkit::encrypt::{KEY_A, KEY_B, MARKER, all_bytes, child_role, contains};

fn value_of(k: u64) -> String {
    format!("{MARKER} value {k}")
}

fn builder(url: &str) -> AsyncCacheBuilder<u64, String> {
    AsyncCache::builder().name("enc").backend("redis").url(url)
}

fn keyed(server: &RedisServer, key: [u8; 32]) -> AsyncCache<u64, String> {
    let c = builder(&server.url()).encryption_key(key).build().unwrap();
    assert!(c.encrypted());
    c
}

/// The Redis key of `k` in namespace `enc`.
fn redis_key(k: u64) -> String {
    let ns = Namespace::named("enc");
    let sk = ns.stored_key(&twat_cache_common::codec::encode("key", &k).unwrap());
    let d: String = digest(&sk).iter().map(|b| format!("{b:02x}")).collect();
    format!("twat:{{{}}}:{d}", ns.hex())
}

fn stored_key(k: u64) -> Vec<u8> {
    Namespace::named("enc").stored_key(&twat_cache_common::codec::encode("key", &k).unwrap())
}

fn get_raw(server: &RedisServer, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut support::raw(server))
        .unwrap()
}

fn set_raw(server: &RedisServer, key: &str, value: &[u8]) {
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query(&mut support::raw(server))
        .unwrap();
}

/// Every value in the server under `twat:*`.
fn all_values(server: &RedisServer) -> Vec<Vec<u8>> {
    let mut raw = support::raw(server);
    let keys = support::all_entry_keys(&mut raw);
    keys.iter()
        .map(|k| redis::cmd("GET").arg(k).query(&mut raw).unwrap())
        .collect()
}

/// The cache deletes unusable entries in the background: wait (briefly) for it.
fn wait_gone(server: &RedisServer, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while get_raw(server, key).is_some() {
        assert!(Instant::now() < deadline, "{key} was not deleted");
        std::thread::sleep(Duration::from_millis(10));
    }
}

async fn assert_recomputed(c: &AsyncCache<u64, String>, k: u64) {
    let calls = AtomicUsize::new(0);
    let v = c
        .get_or_insert_with(k, async {
            calls.fetch_add(1, Ordering::SeqCst);
            value_of(k)
        })
        .await;
    assert_eq!(v, value_of(k));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "key {k} was not a miss");
}

#[test]
fn round_trip_and_no_plaintext_in_redis() {
    let Some(server) = RedisServer::start("redis_encrypt::round_trip") else {
        return;
    };
    let c = keyed(&server, KEY_A);
    block_on(async {
        for k in 0..20 {
            c.insert(k, value_of(k)).await;
        }
        for k in 0..20 {
            assert_eq!(c.get(&k).await, Some(value_of(k)));
        }
    });
    assert_eq!(c.backend(), Backend::Redis);
    let raw = get_raw(&server, &redis_key(3)).unwrap();
    let e = Entry::decode(&raw).unwrap();
    assert_eq!(e.flags, flags::ENCRYPTED);
    assert_eq!(
        e.payload.len(),
        twat_cache_common::codec::encode("v", &value_of(3))
            .unwrap()
            .len()
            + 40
    );
    let values = all_values(&server);
    assert_eq!(values.len(), 20);
    assert!(
        values.iter().all(|v| !contains(v, MARKER)),
        "plaintext in Redis"
    );

    // Without a key the value is visible: the check above means something.
    let plain = builder(&server.url()).name("plain").build().unwrap();
    assert!(!plain.encrypted());
    block_on(plain.insert(1, value_of(1)));
    assert!(all_values(&server).iter().any(|v| contains(v, MARKER)));
}

#[test]
fn wrong_key_is_a_miss_and_the_value_is_recomputed() {
    let Some(server) = RedisServer::start("redis_encrypt::wrong_key") else {
        return;
    };
    let a = keyed(&server, KEY_A);
    let b = keyed(&server, KEY_B);
    block_on(async {
        a.insert(1, value_of(1)).await;
        assert_eq!(b.get(&1).await, None);
        wait_gone(&server, &redis_key(1));
        assert_recomputed(&b, 1).await;
        assert_eq!(b.get(&1).await, Some(value_of(1)));
        assert_eq!(a.get(&1).await, None, "key A finds key B's entry: a miss");
    });
}

#[test]
fn tampered_or_moved_entries_are_misses() {
    let Some(server) = RedisServer::start("redis_encrypt::tampered") else {
        return;
    };
    let c = keyed(&server, KEY_A);
    block_on(async {
        for k in 0..4 {
            c.insert(k, value_of(k)).await;
        }
    });
    // A flipped ciphertext byte, checksum fixed: only the AEAD notices.
    let one = get_raw(&server, &redis_key(1)).unwrap();
    let e = Entry::decode(&one).unwrap();
    let mut p = e.payload.to_vec();
    p[30] ^= 1;
    set_raw(&server, &redis_key(1), &Entry { payload: &p, ..e }.encode());
    // Key 3's entry under key 2's Redis key, relabelled with key 2's stored key.
    let three = get_raw(&server, &redis_key(3)).unwrap();
    let e3 = Entry::decode(&three).unwrap();
    let sk2 = stored_key(2);
    set_raw(&server, &redis_key(2), &Entry { key: &sk2, ..e3 }.encode());
    block_on(async {
        for k in 1..3 {
            assert_eq!(c.get(&k).await, None, "key {k}");
            wait_gone(&server, &redis_key(k));
            assert_recomputed(&c, k).await;
        }
        assert_eq!(c.get(&0).await, Some(value_of(0)));
        assert_eq!(c.get(&3).await, Some(value_of(3)));
    });
}

#[test]
fn plain_and_encrypted_entries_do_not_mix() {
    let Some(server) = RedisServer::start("redis_encrypt::mix") else {
        return;
    };
    let plain = builder(&server.url()).build().unwrap();
    let keyed = keyed(&server, KEY_A);
    block_on(async {
        plain.insert(1, value_of(1)).await;
        assert_eq!(
            keyed.get(&1).await,
            None,
            "plaintext refused when a key is set"
        );
        wait_gone(&server, &redis_key(1));
        keyed.insert(2, value_of(2)).await;
        assert_eq!(
            plain.get(&2).await,
            None,
            "encrypted entry is a miss without the key"
        );
        wait_gone(&server, &redis_key(2));
        assert_recomputed(&plain, 2).await;
    });
}

#[test]
fn passphrases_share_a_fixed_salt_on_redis() {
    let Some(server) = RedisServer::start("redis_encrypt::passphrase") else {
        return;
    };
    let a = builder(&server.url())
        .passphrase("open sesame")
        .build()
        .unwrap();
    let same = builder(&server.url())
        .passphrase("open sesame")
        .build()
        .unwrap();
    let other = builder(&server.url())
        .passphrase("open sesame!")
        .build()
        .unwrap();
    assert!(a.encrypted());
    block_on(async {
        a.insert(1, value_of(1)).await;
        assert_eq!(same.get(&1).await, Some(value_of(1)));
        assert_eq!(other.get(&1).await, None);
    });
}

// ---- TWAT_CACHE_KEY, in child processes -------------------------------------------------

/// `#[acache(backend = "redis")]` reads TWAT_CACHE_KEY (and TWAT_CACHE_REDIS_URL) in the
/// child only.
#[acache(backend = "redis")]
async fn shout(s: String) -> String {
    format!("{MARKER} {}", s.to_uppercase())
}

fn run_child(role: &str, server: &RedisServer, key: &str) {
    let url = server.url();
    twat_cache_testkit::encrypt::run_child(
        role,
        key,
        &[(twat_acache::REDIS_URL_VAR, url.as_ref())],
    );
}

/// Not a test of its own: the body of child processes (does nothing when run normally).
#[test]
fn child_entry() {
    let Some(role) = child_role() else {
        return;
    };
    let url = std::env::var(twat_acache::REDIS_URL_VAR).unwrap();
    match role.as_str() {
        "write" => {
            let c = builder(&url).build().unwrap();
            assert!(c.encrypted(), "TWAT_CACHE_KEY turns encryption on");
            block_on(async {
                for k in 0..5 {
                    c.insert(k, value_of(k)).await;
                }
            });
            let explicit = builder(&url)
                .name("explicit")
                .encryption_key(KEY_B)
                .build()
                .unwrap();
            block_on(explicit.insert(100, value_of(100)));
        }
        "malformed" => {
            let err = builder(&url).build().unwrap_err();
            assert_eq!(err.field(), "TWAT_CACHE_KEY");
            assert!(!err.to_string().contains("not-a-key"), "{err}");
            let c = builder(&url).env_key_fallback(true).build().unwrap();
            assert!(c.backend().is_memory());
            let reason = c.stats().fallback_reason.unwrap();
            assert!(reason.contains("TWAT_CACHE_KEY"), "{reason}");
            // The memory backend never reads the variable: nothing to encrypt.
            assert!(AsyncCache::<u8, u8>::builder().build().is_ok());
            // A decorated function keeps working (from memory), no panic.
            block_on(async {
                assert_eq!(shout("hi".into()).await, format!("{MARKER} HI"));
                assert_eq!(shout("hi".into()).await, format!("{MARKER} HI"));
            });
            assert!(shout_cache().backend().is_memory());
        }
        "macro" => {
            block_on(async {
                assert_eq!(shout("hi".into()).await, format!("{MARKER} HI"));
                assert_eq!(shout("hi".into()).await, format!("{MARKER} HI"));
            });
            assert_eq!(shout_cache().backend(), Backend::Redis);
            assert!(shout_cache().encrypted());
            assert_eq!(shout_cache().stats().hits, 1);
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn twat_cache_key_forms_reach_the_redis_backend() {
    let Some(server) = RedisServer::start("redis_encrypt::env") else {
        return;
    };
    let base64 = "paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaU=";
    for form in [&"a5".repeat(32), base64] {
        block_on(keyed(&server, KEY_A).clear());
        run_child("write", &server, form);
        let a = keyed(&server, KEY_A);
        let b = builder(&server.url())
            .name("explicit")
            .encryption_key(KEY_B)
            .build()
            .unwrap();
        block_on(async {
            assert_eq!(
                b.get(&100).await,
                Some(value_of(100)),
                "the explicit key won"
            );
            for k in 0..5 {
                assert_eq!(a.get(&k).await, Some(value_of(k)), "{form}: key {k}");
            }
        });
    }
    block_on(keyed(&server, KEY_A).clear());
    run_child("write", &server, "passphrase:open sesame");
    let p = builder(&server.url())
        .passphrase("open sesame")
        .build()
        .unwrap();
    assert_eq!(
        block_on(p.get(&4)),
        Some(value_of(4)),
        "same passphrase, same key"
    );
    assert!(all_values(&server).iter().all(|v| !contains(v, MARKER)));
}

#[test]
fn malformed_twat_cache_key_is_a_config_error_naming_it() {
    let Some(server) = RedisServer::start("redis_encrypt::malformed") else {
        return;
    };
    run_child("malformed", &server, "not-a-key");
    run_child("malformed", &server, "");
}

#[test]
fn the_macro_encrypts_with_twat_cache_key() {
    let Some(server) = RedisServer::start("redis_encrypt::macro") else {
        return;
    };
    run_child("macro", &server, &"a5".repeat(32));
    let values = all_values(&server);
    assert_eq!(values.len(), 1);
    assert_eq!(Entry::decode(&values[0]).unwrap().flags, flags::ENCRYPTED);
    assert!(!contains(&values[0], MARKER));
}

// ---- lmdb and files backends: the key is handed to twat-bcache / twat-fcache ------------

#[cfg(any(feature = "lmdb", feature = "files"))]
fn persistent_backend_encrypts(backend: &str, dir: &std::path::Path) {
    let build = |key: [u8; 32]| {
        AsyncCache::<u64, String>::builder()
            .name("enc")
            .cache_dir(dir)
            .folder_name("acache-enc")
            .backend(backend)
            .encryption_key(key)
            .build()
            .unwrap()
    };
    let a = build(KEY_A);
    assert!(a.encrypted(), "{backend}");
    block_on(async {
        a.insert(1, value_of(1)).await;
        assert_eq!(a.get(&1).await, Some(value_of(1)));
        let b = build(KEY_B);
        assert_eq!(b.get(&1).await, None, "{backend}: another key misses");
    });
    assert!(
        !contains(&all_bytes(dir), MARKER),
        "{backend}: plaintext on disk"
    );
}

#[cfg(feature = "lmdb")]
#[test]
fn lmdb_backend_gets_the_key() {
    let dir = tempfile::tempdir().unwrap();
    persistent_backend_encrypts("lmdb", dir.path());
}

#[cfg(feature = "files")]
#[test]
fn files_backend_gets_the_key() {
    let dir = tempfile::tempdir().unwrap();
    persistent_backend_encrypts("files", dir.path());
}
