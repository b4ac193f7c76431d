//! The `redis-server`s and the Redis Cluster the tests own (from the testkit), and raw
//! connections to them for looking behind the cache's back.

#![allow(dead_code, unused_imports)]

pub use twat_cache_testkit::redis::{RedisCluster, RedisServer, slot_of};

/// A plain connection to a server the test started.
pub fn raw(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

/// A cluster connection to a cluster the test started.
pub fn raw_cluster(cluster: &RedisCluster) -> redis::cluster::ClusterConnection {
    let nodes: Vec<String> = cluster.nodes.iter().map(RedisServer::url).collect();
    redis::cluster::ClusterClient::new(nodes)
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Every key of the namespace `hex` that holds an entry (not its order or sizes).
pub fn entry_keys(conn: &mut dyn redis::ConnectionLike, hex: &str) -> Vec<String> {
    let prefix = format!("twat:{{{hex}}}:");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(conn)
        .unwrap();
    keys.into_iter()
        .filter(|k| k.len() == prefix.len() + 32)
        .collect()
}

/// Every key holding an entry, of any namespace.
pub fn all_entry_keys(conn: &mut dyn redis::ConnectionLike) -> Vec<String> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("twat:*").query(conn).unwrap();
    keys.into_iter()
        .filter(|k| k.len() == "twat:{0123456789abcdef}:".len() + 32)
        .collect()
}
