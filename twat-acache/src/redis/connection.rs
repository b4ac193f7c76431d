//! Connections to one Redis server or to a Redis Cluster: a small pool of synchronous
//! connections (the `redis` crate's `Connection` and `cluster::ClusterConnection`), so a
//! plain function's call is one round trip on its own thread, with no runtime and no
//! thread hop.

use std::time::Duration;

use parking_lot::Mutex;
use redis::cluster::{ClusterClient, ClusterConnection};
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, ConnectionLike, RedisError, RedisResult, Value};
use twat_cache_common::ConfigError;

/// How long connecting to a server may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one command may wait for its answer.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections kept for reuse (one per thread that used the cache at once, up to this).
const POOL: usize = 16;

/// Where the cache's server is: one server, or a cluster given by several nodes.
pub(crate) enum Target {
    One(redis::Client),
    Cluster(ClusterClient),
}

impl Target {
    /// Parses a url: `redis://host:port/db` (or `rediss://`, `unix://`), or several
    /// `redis://` urls separated by commas for a Redis Cluster.
    ///
    /// A url that does not parse is a [`ConfigError`] naming `url`.
    pub(crate) fn parse(url: &str) -> Result<Target, ConfigError> {
        let bad = |why: String| {
            ConfigError::invalid(
                "url",
                format!("{url:?} ({why})"),
                "a redis:// or rediss:// URL, or several comma separated for a Redis Cluster",
            )
        };
        let nodes: Vec<&str> = url.split(',').map(str::trim).collect();
        if nodes.len() == 1 {
            return redis::Client::open(url.trim())
                .map(Target::One)
                .map_err(|e| bad(e.to_string()));
        }
        for n in &nodes {
            // Each node on its own, so the error names the one at fault.
            redis::Client::open(*n).map_err(|e| bad(format!("{n:?}: {e}")))?;
        }
        ClusterClient::builder(nodes)
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(IO_TIMEOUT)
            .retries(1)
            .build()
            .map(Target::Cluster)
            .map_err(|e| bad(e.to_string()))
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Target::Cluster(_))
    }

    fn connect(&self) -> RedisResult<Conn> {
        match self {
            Target::One(client) => {
                let c = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
                c.set_read_timeout(Some(IO_TIMEOUT))?;
                c.set_write_timeout(Some(IO_TIMEOUT))?;
                Ok(Conn::One(c))
            }
            Target::Cluster(client) => Ok(Conn::Cluster(Box::new(client.get_connection()?))),
        }
    }
}

/// One connection of either kind.
pub(crate) enum Conn {
    One(redis::Connection),
    Cluster(Box<ClusterConnection>),
}

impl Conn {
    /// The connection as the `redis` crate's commands take it.
    pub(crate) fn like(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::One(c) => c,
            Conn::Cluster(c) => &mut **c,
        }
    }

    /// Runs `cmd` on every primary of the cluster (on the one server otherwise), each
    /// answer handed to `each` with the node's connection: for `SCAN`, whose cursor is
    /// per node.
    pub(crate) fn on_every_node(
        &mut self,
        mut each: impl FnMut(&mut dyn FnMut(&Cmd) -> RedisResult<Value>) -> RedisResult<()>,
    ) -> RedisResult<()> {
        match self {
            Conn::One(c) => each(&mut |cmd| cmd.query(c)),
            Conn::Cluster(c) => {
                for (host, port) in primaries(c)? {
                    each(&mut |cmd| {
                        let at = SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port,
                        };
                        c.route_command(cmd, RoutingInfo::SingleNode(at))
                    })?;
                }
                Ok(())
            }
        }
    }
}

/// The primaries of the cluster, from `CLUSTER SLOTS` (each slot range: start, end, then
/// the primary as `[host, port, id, ..]`).
fn primaries(c: &mut ClusterConnection) -> RedisResult<Vec<(String, u16)>> {
    let slots: Value = c.route_command(
        &redis::cmd("CLUSTER").arg("SLOTS").clone(),
        RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
    )?;
    let mut out: Vec<(String, u16)> = Vec::new();
    if let Value::Array(ranges) = slots {
        for range in ranges {
            let Value::Array(parts) = range else { continue };
            let Some(Value::Array(node)) = parts.get(2) else {
                continue;
            };
            let host: Option<String> = node
                .first()
                .and_then(|v| redis::from_redis_value_ref(v).ok());
            let port: Option<u16> = node
                .get(1)
                .and_then(|v| redis::from_redis_value_ref(v).ok());
            if let (Some(host), Some(port)) = (host, port)
                && !out.iter().any(|(h, p)| *h == host && *p == port)
            {
                out.push((host, port));
            }
        }
    }
    Ok(out)
}

/// A small pool of connections to one [`Target`].
pub(crate) struct Pool {
    target: Target,
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    pub(crate) fn new(target: Target) -> Self {
        Pool {
            target,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        self.target.is_cluster()
    }

    /// Runs `op` on a connection. A connection that failed with a dropped or refused
    /// connection is thrown away with every idle one (the server restarted, or a node
    /// went away), and `op` runs once more on a new connection.
    pub(crate) fn run<T>(&self, mut op: impl FnMut(&mut Conn) -> RedisResult<T>) -> RedisResult<T> {
        let pooled = self.idle.lock().pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.target.connect()?,
        };
        let result = match op(&mut conn) {
            Err(e) if unreachable(&e) => {
                self.idle.lock().clear();
                conn = self.target.connect()?;
                op(&mut conn)
            }
            r => r,
        };
        match &result {
            Err(e) if unreachable(e) => {}
            _ => {
                let mut idle = self.idle.lock();
                if idle.len() < POOL {
                    idle.push(conn);
                }
            }
        }
        result
    }
}

/// Whether `e` says the server (or the cluster node holding the slot) cannot be reached
/// now, as opposed to an answer refusing one command.
pub(crate) fn unreachable(e: &RedisError) -> bool {
    use redis::ErrorKind;
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(e.kind(), ErrorKind::ClusterConnectionNotFound)
        || matches!(
            e.code(),
            Some("CLUSTERDOWN" | "MASTERDOWN" | "TRYAGAIN" | "LOADING")
        )
}
