//! `RedisCache` on a real three-node Redis Cluster on 127.0.0.1, started by the test
//! (`redis-server --cluster-enabled yes` three times, then `redis-cli --cluster create`;
//! skipped, loudly, where either binary is missing).
#![cfg(all(unix, feature = "redis"))]

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::{RedisCluster, raw_cluster, slot_of};
use twat_acache::{AsyncCache, Backend, Namespace, Policy, RedisCache};

fn cache(cluster: &RedisCluster, name: &str) -> RedisCache<u32, String> {
    RedisCache::builder()
        .url(cluster.url())
        .name(name)
        .build()
        .unwrap()
}

/// The slot every key of the cache named `name` hashes to (its hash tag).
fn slot_of_cache(name: &str) -> u16 {
    slot_of(&format!("twat:{{{}}}:", Namespace::named(name).hex()))
}

/// Names whose namespaces live on every node of the cluster (one per node at least).
fn names_on_every_node(cluster: &RedisCluster) -> Vec<String> {
    let mut nodes = BTreeSet::new();
    let mut names = Vec::new();
    for i in 0.. {
        let name = format!("spread-{i}");
        if nodes.insert(cluster.node_of_slot(slot_of_cache(&name))) || names.len() < 6 {
            names.push(name);
        }
        if nodes.len() == cluster.nodes.len() && names.len() >= 6 {
            return names;
        }
    }
    unreachable!()
}

#[test]
fn a_url_listing_nodes_is_a_cluster_and_each_cache_keeps_one_slot() {
    let Some(cluster) = RedisCluster::start("redis_cluster::round_trip") else {
        return;
    };
    let names = names_on_every_node(&cluster);
    let caches: Vec<_> = names.iter().map(|n| cache(&cluster, n)).collect();
    for (i, c) in caches.iter().enumerate() {
        assert!(matches!(c.inner(), twat_cache_store::Inner::Store(s) if s.is_cluster()));
        for k in 0..20u32 {
            c.insert(k, format!("{i}:{k}"));
        }
    }
    for (i, c) in caches.iter().enumerate() {
        assert_eq!(c.backend(), Backend::Redis, "{:?}", c.fallback_reason());
        for k in 0..20u32 {
            assert_eq!(c.get(&k), Some(format!("{i}:{k}")));
        }
        assert_eq!(c.len(), 20);
    }
    // Every key of one cache sits in its namespace's slot: the hash tag.
    let mut conn = raw_cluster(&cluster);
    for name in &names {
        let slot = slot_of_cache(name);
        let n: u64 = redis::cmd("CLUSTER")
            .arg("COUNTKEYSINSLOT")
            .arg(slot)
            .query(&mut conn)
            .unwrap();
        assert!(
            n >= 20 + 2,
            "{name}: entries, order and sizes in slot {slot}: {n}"
        );
    }
    // clear reaches the node holding its slot and leaves the other nodes' caches alone.
    caches[0].clear();
    assert_eq!(caches[0].len(), 0);
    assert_eq!(caches[0].get(&1), None);
    for (i, c) in caches.iter().enumerate().skip(1) {
        assert_eq!(c.get(&1), Some(format!("{i}:1")));
    }
    // clear_all reaches every cache on every node.
    twat_acache::clear_all();
    for c in &caches {
        assert_eq!(c.len(), 0);
    }
    let left: Vec<u64> = cluster
        .nodes
        .iter()
        .map(|n| {
            let mut one = redis::Client::open(n.url())
                .unwrap()
                .get_connection()
                .unwrap();
            let keys: Vec<String> = redis::cmd("KEYS").arg("twat:*").query(&mut one).unwrap();
            keys.len() as u64
        })
        .collect();
    assert_eq!(
        left,
        vec![0; cluster.nodes.len()],
        "no key left on any node"
    );
}

#[test]
fn bounds_and_policies_hold_on_a_cluster() {
    let Some(cluster) = RedisCluster::start("redis_cluster::bounds") else {
        return;
    };
    for (policy, survivor, victim) in [(Policy::Lru, 1, 2), (Policy::Fifo, 2, 1)] {
        let c = RedisCache::<u32, String>::builder()
            .url(cluster.url())
            .name(format!("bounded-{policy}"))
            .maxsize(3)
            .policy(policy)
            .register(false)
            .build()
            .unwrap();
        for k in 1..=3 {
            c.insert(k, k.to_string());
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(c.get(&1).as_deref(), Some("1"));
        std::thread::sleep(Duration::from_millis(5));
        c.insert(4, "4".into());
        assert_eq!(c.len(), 3, "{policy}");
        assert!(c.get(&survivor).is_some(), "{policy} keeps {survivor}");
        assert_eq!(c.get(&victim), None, "{policy} evicts {victim}");
        assert_eq!(c.stats().evictions, 1);
    }
    // The async face reaches the same cluster.
    let a = AsyncCache::<u32, String>::builder()
        .backend("redis")
        .url(cluster.url())
        .name("async-on-cluster")
        .register(false)
        .build()
        .unwrap();
    futures_executor::block_on(async {
        a.insert(1, "one".into()).await;
        assert_eq!(a.get(&1).await.as_deref(), Some("one"));
    });
    assert_eq!(a.backend(), Backend::Redis);
}

#[test]
fn a_node_killed_mid_run_values_stay_right_then_reconnects() {
    let Some(mut cluster) = RedisCluster::start("redis_cluster::node_killed") else {
        return;
    };
    // Outside the registry: another test's clear_all() must not empty its memory.
    let c = RedisCache::<u32, String>::builder()
        .url(cluster.url())
        .name("killed-node")
        .register(false)
        .build()
        .unwrap();
    for k in 0..10u32 {
        assert_eq!(c.get_or_insert_with(k, || format!("v{k}")), format!("v{k}"));
    }
    assert_eq!(c.backend(), Backend::Redis);
    let holder = cluster.node_of_slot(slot_of_cache("killed-node"));
    cluster.nodes[holder].kill();

    let mut runs = 0;
    for k in 0..30u32 {
        let v = c.get_or_insert_with(k, || {
            runs += 1;
            format!("v{k}")
        });
        assert_eq!(v, format!("v{k}"), "values stay right");
    }
    assert!(runs > 0, "the node's entries are out of reach");
    assert!(c.backend().is_memory());
    let why = c.fallback_reason().expect("fallback reported");
    assert!(why.contains("unreachable"), "{why}");
    assert_eq!(
        c.get_or_insert_with(3, || unreachable!("memory serves meanwhile")),
        "v3"
    );

    cluster.nodes[holder].restart();
    cluster.wait_ok();
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.backend() != Backend::Redis {
        assert!(
            Instant::now() < deadline,
            "did not reconnect: {:?}",
            c.fallback_reason()
        );
        let _ = c.get(&0);
        std::thread::sleep(Duration::from_millis(100));
    }
    c.insert(100, "back".into());
    assert_eq!(c.get(&100).as_deref(), Some("back"));
    assert_eq!(c.stats().fallback_reason, None);
}

#[test]
fn a_slot_moving_to_another_node_keeps_values_right() {
    let Some(cluster) = RedisCluster::start("redis_cluster::slot_moves") else {
        return;
    };
    let c = RedisCache::<u32, String>::builder()
        .url(cluster.url())
        .name("moving")
        .maxsize(1000)
        .register(false)
        .build()
        .unwrap();
    for k in 0..20u32 {
        c.insert(k, format!("v{k}"));
    }
    let slot = slot_of_cache("moving");
    let from = cluster.node_of_slot(slot);
    let to = (from + 1) % cluster.nodes.len();
    cluster.move_slot(slot, to);
    assert_eq!(cluster.node_of_slot(slot), to);

    let mut recomputed = 0;
    for k in 0..20u32 {
        let v = c.get_or_insert_with(k, || {
            recomputed += 1;
            format!("v{k}")
        });
        assert_eq!(v, format!("v{k}"), "values stay right");
    }
    assert_eq!(
        recomputed, 0,
        "the entries moved with their slot (MOVED is followed)"
    );
    c.insert(100, "after".into());
    assert_eq!(c.get(&100).as_deref(), Some("after"));
    assert_eq!(c.len(), 21);
    assert_eq!(c.backend(), Backend::Redis, "{:?}", c.fallback_reason());
    let mut on_target = redis::Client::open(cluster.nodes[to].url())
        .unwrap()
        .get_connection()
        .unwrap();
    let n: u64 = redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(slot)
        .query(&mut on_target)
        .unwrap();
    assert!(n >= 21 + 2, "entries, order and sizes on the new node: {n}");
}
